package explo

import (
	"errors"
	"regexp"

	"groupsync/reconcile"
)

// The service's words for a customer that is not there, and for a delete
// refused because of children. The docs give the second word for word;
// the first varies by call, so both are matched loosely.
var (
	notFoundWords    = regexp.MustCompile(`(?i)does ?n[o']t exist|not found|no customer`)
	hasChildrenWords = regexp.MustCompile(`(?i)has children|child customers`)
)

// notFound makes a refusal that says the customer does not exist an error
// wrapping [reconcile.ErrNotFound], whatever its status: a 404 already is,
// but the docs do not promise a 404 (a 200 or a 400 with success: 0 may
// say it too).
func notFound(err error) error {
	return kindByWords(err, notFoundWords, reconcile.ErrNotFound)
}

// hasChildren makes a delete refused because the customer has children an
// error wrapping [reconcile.ErrHasChildren].
func hasChildren(err error) error {
	return kindByWords(err, hasChildrenWords, reconcile.ErrHasChildren)
}

// kindByWords gives err the kind when it is an answer of the API (a JSON
// body) of no other kind whose message matches words.
func kindByWords(err error, words *regexp.Regexp, kind error) error {
	var e *Error
	if errors.As(err, &e) && e.Kind == nil && e.API && e.Err == nil && words.MatchString(e.Message) {
		e.Kind = kind
	}
	return err
}
