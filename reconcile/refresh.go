package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrCannotList is returned by [Applier.Snapshot] when the API has no list.
var ErrCannotList = errors.New("this API cannot list what the service holds")

// ListError is a list that cannot be true: nothing of it is recorded, and
// the run stops before any change.
type ListError struct{ Reason string }

func (e *ListError) Error() string {
	return "the service's list cannot be trusted: " + e.Reason + "; nothing of it was recorded"
}

// ListLimits bound what one listing may read: a service that keeps
// answering full pages must not keep a run going or fill its memory.
type ListLimits struct {
	Customers int
	Bytes     int
}

// DefaultListLimits returns limits for a run that knows n groups (the
// state's and the manifests'): 100,000 customers, or four times what the
// run knows when that is more, and 8 KiB of answer a customer.
func DefaultListLimits(n int) ListLimits {
	c := max(100_000, 4*n)
	return ListLimits{Customers: c, Bytes: 8 << 10 * c}
}

// Snapshot reads every group the API token can see, a page at a time under
// the run's limiter and retries, and checks it before anything of it is
// used: every listed group in one data visibility group, each id once,
// each token held by one group only, and no token the state records for
// another group (renames, from an old id to a new one, excepted).
func (a *Applier) Snapshot(ctx context.Context, st *State, renames map[string]string) (*Snapshot, error) {
	l, ok := a.API.(Lister)
	if !ok {
		return nil, ErrCannotList
	}
	r, finish := a.start(ctx, nil)
	defer finish()
	snap := &Snapshot{Groups: map[string]*Applied{}}
	check := newListCheck(st, renames)
	var res Result
	err := r.list(l, ListQuery{}, &snap.Calls, &res, func(g *Applied) error {
		if err := check.add(g); err != nil {
			return err
		}
		snap.Groups[g.ID] = g
		return nil
	})
	if err != nil {
		return nil, r.listError(ctx, err)
	}
	return snap, nil
}

// Confirm reads, one by one, the customers the list shows with another
// token than the state records, before anything of the list is used: a
// list that gives a customer another's token would otherwise have it
// recorded, and a later delete by that token would take the other
// customer. A customer whose token reading does not confirm makes the list
// a lie. It returns the calls it made.
func (a *Applier) Confirm(ctx context.Context, snap *Snapshot, st *State) (int, error) {
	var ids []string
	for id, g := range snap.Groups {
		if cur := st.Groups[id]; cur != nil && cur.Token != g.Token {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	slices.Sort(ids)
	r, finish := a.start(ctx, st)
	defer finish()
	calls := 0
	for _, id := range ids {
		var res Result
		got, err := r.get(&res, id)
		calls += res.Attempts
		switch {
		case errors.Is(err, ErrNotFound):
			return calls, &ListError{Reason: fmt.Sprintf("it lists %q, which reading the customer shows does not exist", id)}
		case err != nil:
			return calls, r.listError(ctx, fmt.Errorf("reading %q to confirm the list: %w", id, err))
		case got.Token != snap.Groups[id].Token:
			return calls, &ListError{Reason: fmt.Sprintf("it gives %q a token that reading the customer does not show", id)}
		}
	}
	return calls, nil
}

// listError says why a listing failed: the run's own stop, or the list.
func (r *run) listError(ctx context.Context, err error) error {
	if cause := r.cause(ctx); cause != nil {
		return cause
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// listCheck holds a list to what a true one is.
type listCheck struct {
	st      *State
	renames map[string]string
	ids     map[string]bool
	tokens  map[string]string
	access  string
	byToken map[string]string
}

func newListCheck(st *State, renames map[string]string) *listCheck {
	c := &listCheck{st: st, renames: renames, ids: map[string]bool{}, tokens: map[string]string{}}
	if st != nil {
		c.byToken = make(map[string]string, len(st.Groups))
		for id, a := range st.Groups {
			c.byToken[a.Token] = id
		}
	}
	return c
}

func (c *listCheck) add(g *Applied) error {
	id := NormalID(g.ID)
	switch {
	case id == "":
		return &ListError{Reason: "a listed customer has no provided_id"}
	case g.Token == "":
		return &ListError{Reason: fmt.Sprintf("the listed customer %q has no token", id)}
	case c.ids[id]:
		return &ListError{Reason: fmt.Sprintf("it lists %q twice", id)}
	}
	if c.access == "" {
		c.access = g.EnvTag
	}
	if g.EnvTag != c.access {
		return &ListError{Reason: fmt.Sprintf("it lists customers of two data visibility groups (%q and %q), though an API token sees only its own", c.access, g.EnvTag)}
	}
	if other, dup := c.tokens[g.Token]; dup {
		return &ListError{Reason: fmt.Sprintf("it gives %q and %q the same token", other, id)}
	}
	if holder, ok := c.byToken[g.Token]; ok && holder != id && c.renames[holder] != id {
		return &ListError{Reason: fmt.Sprintf("it gives %q the token the state records for %q", id, holder)}
	}
	g.ID = id
	c.ids[id] = true
	c.tokens[g.Token] = id
	return nil
}

// list reads every page of q, calling visit for each group, within the
// run's [ListLimits]. It never trusts a total beyond what pages deliver:
// the list ends at a page that is not full, or that says no more follow.
func (r *run) list(l Lister, q ListQuery, calls *int, res *Result, visit func(*Applied) error) error {
	limits := r.ListLimits
	if limits.Customers == 0 {
		limits = DefaultListLimits(0)
	}
	seen, bytes := 0, 0
	for page := 1; ; page++ {
		q.Page = page
		var got ListPage
		_, err := r.call(res, nil, func(ctx context.Context) (Remote, error) {
			var err error
			got, err = l.ListGroups(ctx, q)
			return Remote{Code: got.Code}, err
		}, func(Remote) error { return nil }, nil)
		*calls++
		if err != nil {
			return fmt.Errorf("list page %d: %w", page, err)
		}
		seen, bytes = seen+len(got.Groups), bytes+got.Bytes
		if seen > limits.Customers || bytes > limits.Bytes {
			return &ListError{Reason: fmt.Sprintf("it did not end after %d customers in %d pages (%d MB), more than --list-limit %d", seen, page, bytes>>20, limits.Customers)}
		}
		for i := range got.Groups {
			if err := visit(&got.Groups[i]); err != nil {
				return err
			}
		}
		if !got.More || len(got.Groups) == 0 {
			return nil
		}
	}
}

// Children lists the groups directly below id on the service, checked as a
// list is: each once.
func (a *Applier) Children(ctx context.Context, ids []string) (map[string][]*Applied, int, error) {
	l, ok := a.API.(Lister)
	if !ok {
		return nil, 0, ErrCannotList
	}
	r, finish := a.start(ctx, nil)
	defer finish()
	out := map[string][]*Applied{}
	calls := 0
	for _, id := range ids {
		seen := map[string]bool{}
		var res Result
		err := r.list(l, ListQuery{Parent: id}, &calls, &res, func(g *Applied) error {
			g.ID = NormalID(g.ID)
			if seen[g.ID] || g.ID == "" {
				return &ListError{Reason: fmt.Sprintf("it lists %q twice below %q", g.ID, id)}
			}
			seen[g.ID] = true
			out[id] = append(out[id], g)
			return nil
		})
		if err != nil {
			return nil, calls, r.listError(ctx, err)
		}
	}
	return out, calls, nil
}

func quoteList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = fmt.Sprintf("%q", id)
	}
	slices.Sort(q)
	return strings.Join(q, ", ")
}
