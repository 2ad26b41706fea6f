// Package atomicfile writes files so that a reader, or a run killed at any
// instant, sees either the old content or the new, never a mix: temporary
// file in the same folder, fsync, rename, fsync of the folder. Every file
// it creates is private to its owner (0600; on Windows an ACL that grants
// the owner alone) and created without following a symlink, since the
// files groupsync writes hold tokens.
//
// The calls that differ by OS live in file_unix.go and file_windows.go,
// with one contract: create without following a symlink and make the file
// private, open without following one, replace a file by another in one
// step, make a rename durable, and check that a file is private.
package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	tmp, err := createTemp(dir, base)
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
	if err := replace(tmp.Name(), path); err != nil {
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
	tmp, err := createTemp(dir, base)
	if err != nil {
		return err
	}
	return errors.Join(tmp.Close(), os.Remove(tmp.Name()))
}

// createTemp creates a new temporary file of base in dir, private, named
// so that [Sweep] knows it. It is opened exclusively, so it never follows
// a symlink planted under its name.
func createTemp(dir, base string) (*os.File, error) {
	for range 10000 {
		name := filepath.Join(dir, tmpPrefix+base+"."+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err := Create(name, os.O_RDWR|os.O_EXCL)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, tmpPrefix+base+".*"), Err: fs.ErrExist}
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
// following a symlink, and makes it private even when it existed with
// another mode.
func Create(path string, flag int) (*os.File, error) {
	return create(path, flag|os.O_CREATE)
}

// Open opens path for reading without following a symlink.
func Open(path string) (*os.File, error) {
	return open(path)
}

// errSymlink is what opening a symlink gives, on every OS.
var errSymlink = errors.New("is a symlink, which groupsync does not follow")

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
