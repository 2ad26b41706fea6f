package explo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"groupsync/reconcile"
)

// Error is a failed call: an answer that is not a success (its status and
// the service's message), or a transport failure (Status 0, Err set).
type Error struct {
	// Status is the HTTP status; 0 when no answer arrived.
	Status int
	// Message is the service's explanation, built by [describe]: never a
	// token, never a control character.
	Message string
	GroupID string
	// Kind is one of reconcile's error kinds, or nil for a plain failure
	// of the group (another 4xx, a success: 0).
	Kind error
	// Rejected is set for a 2xx answer with success: 0.
	Rejected bool
	// Err is the transport failure, when there was no answer.
	Err error
	// API is set when the answer's body was a JSON object, as the API's
	// are (a proxy's error page is not).
	API bool

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

// Is maps the error onto reconcile's kinds.
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// APIAnswer reports whether the answer came from the API.
func (e *Error) APIAnswer() bool { return e.API }

// Code returns the status of the answer, or 0.
func (e *Error) Code() int { return e.Status }

// RetryAfter returns the wait the service asked for, if it did.
func (e *Error) RetryAfter() (time.Duration, bool) { return e.retryAfter, e.hasRetryAfter }

// kindOf is the one table from an answer's status to reconcile's kinds.
// json says whether the body was a JSON object, which is how the API
// answers; a 404 or 405 page that is not JSON comes from something else
// at that URL.
func kindOf(status int, json bool) error {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return reconcile.ErrUnauthorized
	case status == http.StatusTooManyRequests:
		return reconcile.ErrRateLimited
	case (status == http.StatusNotFound || status == http.StatusMethodNotAllowed) && !json:
		return reconcile.ErrNotAPI
	case status == http.StatusNotFound:
		return reconcile.ErrNotFound
	case status == http.StatusRequestTimeout || status >= 500:
		return reconcile.ErrRetryable
	}
	return nil
}

// transportError classifies a failure to get an answer: no connection at
// all is ErrUnreachable (the run stops when nothing answered yet), the
// rest is retryable.
func (c *Client) transportError(id string, err error) *Error {
	e := &Error{GroupID: id, Err: err, Kind: reconcile.ErrRetryable}
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var header tls.RecordHeaderError
	switch {
	case errors.Is(err, context.Canceled):
		e.Kind, e.Message = nil, "abandoned: the run stopped"
		return e
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		e.Message = "timed out waiting for the service"
		return e
	case errors.As(err, &dns):
		e.Kind, e.Message = reconcile.ErrUnreachable, "cannot resolve the host name "+quote(c.secrets.Scrub(dns.Name))
	case refused(err):
		e.Kind, e.Message = reconcile.ErrUnreachable, "connection refused"
	case errors.As(err, &cert), errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &header):
		e.Kind, e.Message = reconcile.ErrUnreachable, "TLS failed: "+clean(err.Error(), c.secrets, c.baseURL)
	case reset(err):
		e.Message = "the connection was reset"
	default:
		e.Message = clean(err.Error(), c.secrets, c.baseURL)
	}
	return e
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
