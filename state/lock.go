package state

import (
	"fmt"
	"os"
	"strings"
	"time"

	"groupsync/internal/atomicfile"
)

// Lock is an OS lock on PATH.lock (flock on Unix, LockFileEx on Windows:
// lock_unix.go, lock_windows.go). The OS releases it when the process
// dies, however it dies, so a lock file left behind never blocks.
type Lock struct {
	f *os.File
}

// LockedError is returned when another process holds the lock.
type LockedError struct {
	Path string
	// Holder is what the holder wrote in the lock file: its pid and start.
	Holder string
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("state is locked by another groupsync run (%s; lock file %s): wait for it to finish", e.Holder, e.Path)
}

// Acquire takes the lock at path without waiting.
func Acquire(path string) (*Lock, error) {
	f, err := atomicfile.Create(path, os.O_RDWR)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	held, err := tryLock(f)
	if err != nil || held {
		holder, _ := os.ReadFile(path)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		h := strings.TrimSpace(string(holder))
		if h == "" {
			h = "holder unknown"
		}
		return nil, &LockedError{Path: path, Holder: h}
	}
	// Tell a second run who holds the lock.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid %d, started %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))
	}
	return &Lock{f: f}, nil
}

// Release gives the lock up. The file stays: removing it would race with a
// run that has just opened it.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
