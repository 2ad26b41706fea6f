//go:build unix

package cli

import (
	"errors"
	"syscall"
)

// closedPipe reports whether a write failed because its reader went away
// (groupsync state list | head -1), which ends a listing, not a failure.
func closedPipe(err error) bool { return errors.Is(err, syscall.EPIPE) }
