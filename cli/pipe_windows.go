//go:build windows

package cli

import (
	"errors"

	"golang.org/x/sys/windows"
)

// closedPipe reports whether a write failed because its reader went away
// (groupsync state list | more), which ends a listing, not a failure.
// Windows says so with ERROR_NO_DATA ("the pipe is being closed") or
// ERROR_BROKEN_PIPE.
func closedPipe(err error) bool {
	return errors.Is(err, windows.ERROR_NO_DATA) || errors.Is(err, windows.ERROR_BROKEN_PIPE)
}
