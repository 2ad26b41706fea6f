//go:build windows

package explo

import (
	"errors"

	"golang.org/x/sys/windows"
)

// refused reports whether a dial found nothing listening. Winsock's
// errors are not the syscall package's ECONNREFUSED, which on Windows is
// a stand-in that no call returns.
func refused(err error) bool { return errors.Is(err, windows.WSAECONNREFUSED) }

// reset reports whether the peer dropped an open connection.
func reset(err error) bool {
	return errors.Is(err, windows.WSAECONNRESET) || errors.Is(err, windows.WSAECONNABORTED) ||
		errors.Is(err, windows.ERROR_BROKEN_PIPE) || errors.Is(err, windows.ERROR_NO_DATA)
}
