// Package atomicfile writes files so that a reader, or a run killed at any
// instant, sees either the old content or the new, never a mix: temporary
// file in the same folder, fsync, rename, fsync of the folder. Every file
// it creates is 0600 and created without following a symlink, since the
// files groupsync writes hold tokens.
package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// tmpPrefix marks temporary files so that [Sweep] can find those a killed
// run left behind: .groupsync-tmp-BASE.DIGITS.
const tmpPrefix = ".groupsync-tmp-"

// Options tune [Write].
type Options struct {
	// Backup keeps the previous content as PATH.backup.
	Backup bool
}

// Write replaces path with what write produces, with mode 0600.
func Write(path string, opts Options, write func(io.Writer) error) (err error) {
	dir, base := split(path)
	// CreateTemp opens with O_EXCL, so it never follows a symlink, and
	// with mode 0600.
	tmp, err := os.CreateTemp(dir, tmpPrefix+base+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if opts.Backup {
		if err := backup(path); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// Probe reports whether [Write] could create its temporary file next to
// path, by creating one and removing it: a run checks it before it
// changes anything it would then fail to report. A run killed in between
// leaves a file that [Sweep] removes.
func Probe(path string) error {
	dir, base := split(path)
	tmp, err := os.CreateTemp(dir, tmpPrefix+base+".*")
	if err != nil {
		return err
	}
	return errors.Join(tmp.Close(), os.Remove(tmp.Name()))
}

func split(path string) (dir, base string) {
	dir, base = filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	return dir, base
}

// backup makes PATH.backup a hard link to the current PATH, so that PATH
// itself exists at every instant; a copy stands in where links fail.
func backup(path string) error {
	b := path + ".backup"
	// Remove removes a symlink itself, never its target.
	if err := os.Remove(b); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	err := os.Link(path, b)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	f, err := Create(b, os.O_WRONLY|os.O_EXCL)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Sync(), f.Close())
}

// Create opens path for writing with flag (plus O_CREATE), without
// following a symlink, and makes it 0600 even when it existed with
// another mode.
func Create(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, &fs.PathError{Op: "open", Path: path, Err: errors.New("is a symlink, which groupsync does not follow")}
		}
		return nil, err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Open opens path for reading without following a symlink.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &fs.PathError{Op: "open", Path: path, Err: errors.New("is a symlink, which groupsync does not follow")}
	}
	return f, err
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some filesystems cannot fsync a directory; the rename is still
	// atomic there, only its durability across power loss is weaker.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// Sweep removes the temporary files a killed run left next to path: those
// of path itself and of no other file, whatever its name shares.
func Sweep(path string) error {
	dir, base := split(path)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if isTemp(e.Name(), base) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// isTemp reports whether name is a temporary file of base: the prefix, the
// base, a dot and only digits.
func isTemp(name, base string) bool {
	rest, ok := strings.CutPrefix(name, tmpPrefix+base+".")
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
