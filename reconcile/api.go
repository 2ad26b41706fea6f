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
	// UpdateGroup sends every managed field of g to an existing group. It
	// returns an error wrapping ErrNotFound when the group does not exist.
	UpdateGroup(ctx context.Context, g *Group) (Remote, error)
}

// Deleter is an [API] that can delete a group. Depending on the service's
// revision, a delete takes every group below it along, or is refused
// ([ErrHasChildren]) while the group has children: groupsync relies on
// neither.
type Deleter interface {
	DeleteGroup(ctx context.Context, id, token string) (Remote, error)
}

// Rotator is an [API] that can give a group a new token. The call kills
// the token it sends, so it is never repeated blindly.
type Rotator interface {
	RotateToken(ctx context.Context, id, token string) (Remote, error)
}

// Getter is an [API] that can read one group by its id, with its current
// token: how groupsync learns the outcome of a call whose answer it lost.
// It returns an error wrapping ErrNotFound when there is no such group.
type Getter interface {
	GetGroup(ctx context.Context, id string) (*Applied, error)
}

// Renamer is an [API] that can give a group a new id, keeping its token;
// its children follow it. It sends g's managed fields too.
type Renamer interface {
	RenameGroup(ctx context.Context, from string, g *Group) (Remote, error)
}

// TagLister is an [API] that can list the group tags that exist.
type TagLister interface {
	ListTags(ctx context.Context) ([]string, error)
}

// Lister is an [API] that can read what the service holds, a page at a
// time.
type Lister interface {
	ListGroups(ctx context.Context, q ListQuery) (ListPage, error)
}

// ListQuery asks for one page of groups, from 1; Parent restricts it to
// the children of that group.
type ListQuery struct {
	Page   int
	Parent string
}

// ListPage is one page of a list. A group's Managed names the fields the
// service reports; its Token is set, and its EnvTag is the service's data
// visibility group.
type ListPage struct {
	Groups []Applied
	// More is set when another page follows.
	More bool
	Code int
	// Bytes is the size of the answer, which a listing's budget bounds.
	Bytes int
}

// Remote is what the service answered about a group.
type Remote struct {
	// ID is the id the answer is about; Apply refuses an answer about
	// another group than the one asked. Empty when the answer names none
	// (a delete).
	ID     string
	New    bool
	Token  string
	EnvTag string
	// Code is the service's status code of the answer, for the report.
	// reconcile passes it on without reading it.
	Code int
	// Found, when the answer shows it, is the group as the service holds
	// it, with the fields it reports: a create that found the group
	// existing needs no update when it already matches.
	Found *Applied
}

// Errors an [API] wraps (by errors.Is) so that apply can decide what to do
// without knowing HTTP.
var (
	// ErrRetryable marks a failure that may pass: 5xx, a timeout, a broken
	// connection. Repeating any call is safe because create is
	// get-or-create and update sets absolute values.
	ErrRetryable = errors.New("retryable")
	// ErrRateLimited marks a 429: the service's window is full. It is
	// retried once the shared limiter allows, without backoff and without
	// counting as an attempt.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnauthorized marks a 401 or 403: the API token is wrong for every
	// group, so the run stops.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound marks a call about a group that does not exist (or, for
	// a delete or a rotation, a token the service does not know).
	ErrNotFound = errors.New("not found")
	// ErrHasChildren marks a delete the service refused because the group
	// has children.
	ErrHasChildren = errors.New("the customer has children")
	// ErrUnreadable marks a success answer whose body could not be read:
	// the service may have acted on the call, and the outcome is unknown
	// until the group is read back.
	ErrUnreadable = errors.New("unreadable answer")
	// ErrUnreachable marks a failure to connect at all: a refused
	// connection, an unknown host, a TLS failure.
	ErrUnreachable = errors.New("unreachable")
	// ErrNotAPI marks an answer that is not the API's: a 404 or 405 page, a
	// body that is not JSON.
	ErrNotAPI = errors.New("not the API")
	// ErrRedirect marks a redirect, which is never followed: it would take
	// the API token to another host.
	ErrRedirect = errors.New("redirect")
)

// RetryAfterer is implemented by errors that carry the service's
// Retry-After.
type RetryAfterer interface {
	RetryAfter() (time.Duration, bool)
}

// Answerer is implemented by errors of an answer. APIAnswer reports
// whether the answer looked like the API's (a JSON body), rather than a
// proxy's error page: only such an answer shows that the URL is right.
type Answerer interface {
	APIAnswer() bool
}

func fromAPI(err error) bool {
	var a Answerer
	return errors.As(err, &a) && a.APIAnswer()
}

// Coder is implemented by errors that carry the status code of an answer.
type Coder interface {
	Code() int
}

func codeOf(err error) int {
	var c Coder
	if errors.As(err, &c) {
		return c.Code()
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
