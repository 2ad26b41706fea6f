//go:build unix

package explo

import (
	"errors"
	"syscall"
)

// refused reports whether a dial found nothing listening.
func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// reset reports whether the peer dropped an open connection.
func reset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
