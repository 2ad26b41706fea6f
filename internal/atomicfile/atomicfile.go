// Package atomicfile writes files so that a reader, or a run killed at any
// instant, sees either the old content or the new, never a mix: temporary
// file in the same folder, fsync, rename, fsync of the folder.
package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// tmpPrefix marks temporary files so that [Sweep] can find those a killed
// run left behind.
const tmpPrefix = ".groupsync-tmp-"

// Options tune [Write].
type Options struct {
	// Backup keeps the previous content as PATH.backup.
	Backup bool
}

// Write replaces path with what write produces, with mode 0600: the files
// groupsync writes hold tokens.
func Write(path string, opts Options, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+base+"-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
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

// backup makes PATH.backup a hard link to the current PATH, so that PATH
// itself exists at every instant; a copy stands in where links fail.
func backup(path string) error {
	b := path + ".backup"
	if err := os.Remove(b); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	err := os.Link(path, b)
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return os.WriteFile(b, data, 0o600)
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

// Sweep removes the temporary files a killed run left next to path.
func Sweep(path string) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix+base+"-") {
			errs = append(errs, os.Remove(filepath.Join(dir, e.Name())))
		}
	}
	return errors.Join(errs...)
}
