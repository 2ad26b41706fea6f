package explo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"groupsync/reconcile"
)

// Error is a failed call: an HTTP status with the service's message, a
// success: 0 answer, or a transport failure (Status 0, Err set).
type Error struct {
	// Status is the HTTP status; 0 when no answer arrived.
	Status  int
	Message string
	GroupID string
	// Rejected is set for a 2xx answer with success: 0.
	Rejected bool
	// Err is the transport failure, when there was no answer.
	Err error

	retryAfter    time.Duration
	hasRetryAfter bool
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Status != 0 {
		fmt.Fprintf(&b, "HTTP %d", e.Status)
	}
	if e.Rejected {
		b.WriteString(" success: 0")
	}
	if e.Message != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(e.Message)
	}
	return strings.TrimSpace(b.String())
}

func (e *Error) Unwrap() error { return e.Err }

// Is maps the error onto reconcile's kinds; this is the one table that
// decides what is retried.
func (e *Error) Is(target error) bool {
	switch target {
	case reconcile.ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case reconcile.ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case reconcile.ErrRetryable:
		switch e.Status {
		case 0:
			return e.Err != nil && !errors.Is(e.Err, context.Canceled)
		case http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

// HTTPStatus returns the status of the answer, or 0.
func (e *Error) HTTPStatus() int { return e.Status }

// RetryAfter returns the wait the service asked for, if it did.
func (e *Error) RetryAfter() (time.Duration, bool) { return e.retryAfter, e.hasRetryAfter }

func (c *Client) transportError(id string, err error) *Error {
	msg := err.Error()
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		msg = "timed out waiting for the service: " + msg
	}
	return &Error{GroupID: id, Err: err, Message: c.redact(msg)}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// parseRetryAfter reads both forms of Retry-After: delta-seconds and an
// HTTP date. A date in the past means "now".
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, 1<<31)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
