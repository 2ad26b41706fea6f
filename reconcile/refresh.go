package reconcile

import (
	"context"
	"errors"
	"fmt"
)

// ErrCannotList is returned by [Applier.Snapshot] when the API has no list.
var ErrCannotList = errors.New("this API cannot list what the service holds")

// Snapshot reads every group the API token can see, a page at a time
// under the run's limiter and retries.
func (a *Applier) Snapshot(ctx context.Context) (*Snapshot, error) {
	l, ok := a.API.(Lister)
	if !ok {
		return nil, ErrCannotList
	}
	r, finish := a.start(ctx, nil)
	defer finish()
	snap := &Snapshot{Groups: map[string]*Applied{}}
	err := r.list(ctx, l, ListQuery{}, &snap.Calls, func(g *Applied) bool {
		_, seen := snap.Groups[g.ID]
		snap.Groups[g.ID] = g
		return !seen
	})
	return snap, err
}

// Cascades fills in the Cascade of every delete of p: the groups below it,
// from the state and from the service's list of each one's children. The
// list calls count in p.ListCalls.
func (a *Applier) Cascades(ctx context.Context, p *Plan, st *State) error {
	var deletes []*Change
	for i := range p.Changes {
		if c := &p.Changes[i]; c.Action == ActionDelete && !c.Gone {
			deletes = append(deletes, c)
		}
	}
	if len(deletes) == 0 {
		return nil
	}
	l, ok := a.API.(Lister)
	if !ok {
		return ErrCannotList
	}
	children := map[string][]string{}
	for id, g := range st.Groups {
		if parent := g.ParentID(); parent != "" {
			children[parent] = append(children[parent], id)
		}
	}
	r, finish := a.start(ctx, nil)
	defer finish()
	for _, c := range deletes {
		seen := map[string]bool{c.ID: true}
		queue := []string{c.ID}
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			add := func(child string) bool {
				if seen[child] {
					return false
				}
				seen[child] = true
				c.Cascade = append(c.Cascade, child)
				queue = append(queue, child)
				return true
			}
			for _, child := range children[id] {
				add(child)
			}
			err := r.list(ctx, l, ListQuery{Parent: id}, &p.ListCalls, func(g *Applied) bool { add(g.ID); return true })
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// list reads every page of q. visit returns false for a group already
// seen; a page of nothing new ends the list, so that a service that keeps
// answering full pages cannot keep a run going.
func (r *run) list(ctx context.Context, l Lister, q ListQuery, calls *int, visit func(*Applied) bool) error {
	for page := 1; ; page++ {
		q.Page = page
		var got ListPage
		var res Result
		_, err := r.call(&res, func(ctx context.Context) (Remote, error) {
			var err error
			got, err = l.ListGroups(ctx, q)
			return Remote{Code: got.Code}, err
		}, func(Remote) error { return nil })
		*calls++
		if err != nil {
			if cause := r.cause(ctx); cause != nil {
				return cause
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("list page %d: %w", page, err)
		}
		fresh := false
		for i := range got.Groups {
			if visit(&got.Groups[i]) {
				fresh = true
			}
		}
		if !got.More || !fresh {
			return nil
		}
	}
}
