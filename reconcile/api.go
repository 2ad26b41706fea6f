package reconcile

import (
	"context"
	"errors"
	"time"
)

// API is what apply needs from the service. Implementations must be safe
// for concurrent use.
type API interface {
	// CreateGroup gets or creates g. When the group exists the service
	// changes nothing and returns it with New false.
	CreateGroup(ctx context.Context, g *Group) (Remote, error)
	// UpdateGroup sends every managed field of g to an existing group.
	UpdateGroup(ctx context.Context, g *Group) (Remote, error)
}

// Remote is what the service answered about a group.
type Remote struct {
	New    bool
	Token  string
	EnvTag string
}

// Errors an [API] wraps (by errors.Is) so that apply can decide what to do
// without knowing HTTP.
var (
	// ErrRetryable marks a failure that may pass: 5xx, a timeout, a broken
	// connection. Repeating any call is safe because create is
	// get-or-create and update sets absolute values.
	ErrRetryable = errors.New("retryable")
	// ErrRateLimited marks a 429. It is retryable, and also slows the
	// shared limiter down.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnauthorized marks a 401 or 403: the API token is wrong for every
	// group, so the run stops.
	ErrUnauthorized = errors.New("unauthorized")
)

// RetryAfterer is implemented by errors that carry the server's Retry-After.
type RetryAfterer interface {
	RetryAfter() (time.Duration, bool)
}

// HTTPStatuser is implemented by errors that carry an HTTP status.
type HTTPStatuser interface {
	HTTPStatus() int
}

func httpStatus(err error) int {
	var s HTTPStatuser
	if errors.As(err, &s) {
		return s.HTTPStatus()
	}
	return 0
}

func retryAfter(err error) (time.Duration, bool) {
	var r RetryAfterer
	if errors.As(err, &r) {
		return r.RetryAfter()
	}
	return 0, false
}
