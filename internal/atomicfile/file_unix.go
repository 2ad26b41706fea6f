//go:build unix

package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// create opens path with O_NOFOLLOW, so that the open itself refuses a
// symlink (there is no moment between a check and the open), and fixes
// the mode of a file that existed with another one.
func create(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, symlinkError(path, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, symlinkError(path, err)
	}
	return f, nil
}

// symlinkError names the refusal of O_NOFOLLOW, which the OS reports as
// ELOOP ("too many levels of symbolic links").
func symlinkError(path string, err error) error {
	if errors.Is(err, syscall.ELOOP) {
		return &fs.PathError{Op: "open", Path: path, Err: errSymlink}
	}
	return err
}

// replace renames from over to: rename(2) replaces to in one step.
func replace(from, to string) error {
	return os.Rename(from, to)
}

// syncDir makes a rename in dir durable.
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

// CheckPrivate returns an error unless path is a regular file that only
// its owner may read and write: mode 0600.
func CheckPrivate(path string) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%v)", path, info.Mode().Type())
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		return fmt.Errorf("%s has mode %#o, not 0600", path, perm)
	}
	return nil
}
