package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
)

// Status is how a group's change ended.
type Status string

const (
	StatusOK      Status = "ok"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
	StatusPlanned Status = "planned"
)

// Result is the outcome for one group: what was done, how it ended, and
// the group's token under the token rule (the last answer's, else the
// state's).
type Result struct {
	ID string
	// Desired is the manifest's group; nil for a group of the state only.
	Desired *Group
	Name    string
	Action  Action
	Status  Status
	// New is the create answer's new_user_group; nil when no create
	// answered.
	New    *bool
	Token  string
	EnvTag string
	// Attempts counts the calls made for the group.
	Attempts int
	// Code is the service's status code of the last answer; 0 when none.
	Code int
	Err  error
}

// Applier drives an [API] through a plan. Its fields are set once before
// Apply and not changed after.
type Applier struct {
	API     API
	Limiter *Limiter
	// Concurrency bounds the calls in flight. Groups waiting out a backoff
	// do not hold a slot, so a few failing calls do not idle the run.
	Concurrency int
	Retry       RetryPolicy
	// Grace is how long calls in flight may finish after the run stops.
	Grace time.Duration
	// StallTimeout stops the run when no call succeeded for that long; 0
	// never does.
	StallTimeout time.Duration
	// Record persists one group as soon as its answer arrives, so that a
	// token is never held only in memory; Forget persists a deletion.
	// Calls are serialised. An error stops the run: what cannot be
	// recorded must not be created.
	Record func(*Applied) error
	Forget func(id string) error
	// Done, when set, is told of each group as it finishes. Calls are
	// serialised.
	Done func(*Result)
	// OnStop, when set, is told once when the run stops before its end
	// (ctx done, or an abort whose cause it gets), with the calls still in
	// flight.
	OnStop func(cause error, inFlight int)
	Clock  Clock
}

// Work returns the changes of p that Apply acts on, in plan order.
func (p *Plan) Work() []*Change {
	var w []*Change
	for i := range p.Changes {
		switch p.Changes[i].Action {
		case ActionOrphan, ActionNoop:
		default:
			w = append(w, &p.Changes[i])
		}
	}
	return w
}

// Apply makes the changes of p and records each in st as its answer
// arrives. It returns one result per change of p.Work(), in that order.
// Parents are created before their children and deleted after them;
// independent groups go concurrently.
//
// When ctx is done, Apply starts nothing new, lets calls in flight finish
// for Grace, and marks the groups it never started as skipped. It returns a
// non-nil error only when the whole run had to stop: ErrUnauthorized,
// ErrRedirect, an [UnreachableError], ErrStalled, ErrRetryBudget, or a
// failure to record state.
func (a *Applier) Apply(ctx context.Context, p *Plan, st *State) ([]Result, error) {
	r, finish := a.start(ctx, st)
	defer finish()
	for _, fixed := range p.Corrected {
		if err := r.record(nil, fixed); err != nil {
			return nil, err
		}
	}
	work := p.Work()
	results := make([]Result, len(work))
	order, deps := schedule(work)
	var done []chan struct{}
	if deps != nil {
		done = make([]chan struct{}, len(work))
		for i := range done {
			done[i] = make(chan struct{})
		}
	}
	var g errgroup.Group
	// More groups than slots are in progress, so that the slot of a group
	// in backoff goes to another group's call.
	g.SetLimit(groupsPerSlot * max(a.Concurrency, 1))
	for k := range len(work) {
		i := k
		if order != nil {
			i = order[k]
		}
		g.Go(func() error {
			if done == nil {
				results[i] = r.one(work[i])
			} else {
				defer close(done[i])
				results[i] = r.after(work[i], deps[i], done, results)
			}
			if a.Done != nil {
				r.doneMu.Lock()
				a.Done(&results[i])
				r.doneMu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	return results, r.cause(ctx)
}

// groupsPerSlot is how many groups may be in progress per call slot.
const groupsPerSlot = 4

// schedule orders the work so that every change comes after those it
// depends on: a group after its parent's create or update, a parent's
// delete after its children's. deps lists, per change, the changes it
// waits for. Both are nil when nothing depends on anything (no hierarchy),
// which keeps the first run of a million groups from paying for an order
// it does not need.
func schedule(work []*Change) (order []int, deps [][]int) {
	hierarchy := false
	for _, c := range work {
		if (c.Desired != nil && c.Desired.ParentID() != "") || (c.Action == ActionDelete && c.Current.ParentID() != "") {
			hierarchy = true
			break
		}
	}
	if !hierarchy {
		return nil, nil
	}
	byID := make(map[string]int, len(work))
	for i, c := range work {
		byID[c.ID] = i
	}
	deps = make([][]int, len(work))
	for i, c := range work {
		if c.Action == ActionDelete {
			if p, ok := byID[c.Current.ParentID()]; ok && work[p].Action == ActionDelete {
				deps[p] = append(deps[p], i)
			}
			continue
		}
		if c.Desired != nil {
			if p, ok := byID[c.Desired.ParentID()]; ok && work[p].Action != ActionDelete {
				deps[i] = append(deps[i], p)
			}
		}
	}
	depth := make([]int, len(work))
	for i := range work {
		depthOf(i, deps, depth, 0)
	}
	order = make([]int, len(work))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return depth[a] - depth[b] })
	return order, deps
}

// depthOf is 1 + the depth of the deepest dependency; a cycle (which
// validation refuses) stops counting.
func depthOf(i int, deps [][]int, depth []int, seen int) int {
	if depth[i] > 0 || seen > len(deps) {
		return depth[i]
	}
	d := 1
	for _, j := range deps[i] {
		d = max(d, 1+depthOf(j, deps, depth, seen+1))
	}
	depth[i] = d
	return d
}

// after runs c once the changes it depends on are done.
func (r *run) after(c *Change, deps []int, done []chan struct{}, results []Result) Result {
	for _, j := range deps {
		select {
		case <-done[j]:
		case <-r.stop.Done():
			return r.skipped(c)
		}
		if dep := &results[j]; dep.Status != StatusOK {
			res := r.newResult(c)
			res.Status = StatusFailed
			res.Err = fmt.Errorf("not attempted: %s of %q did not succeed", dep.Action, dep.ID)
			return res
		}
	}
	return r.one(c)
}

func (r *run) newResult(c *Change) Result {
	res := Result{ID: c.ID, Desired: c.Desired, Action: c.Action, Status: StatusOK}
	switch {
	case c.Desired != nil:
		res.Name = c.Desired.Name
	case c.Current != nil:
		res.Name = c.Current.Name
	}
	return res
}

func (r *run) skipped(c *Change) Result {
	res := r.newResult(c)
	res.Status, res.Err = StatusSkipped, errStopped
	return res
}

func (r *run) one(c *Change) Result {
	if r.stop.Err() != nil {
		return r.skipped(c)
	}
	res := r.newResult(c)
	var err error
	switch c.Action {
	case ActionCreate:
		err = r.create(&res, c.Desired)
	case ActionAdopt:
		err = r.adopt(&res, c)
	case ActionUpdate:
		err = r.update(&res, c.Desired)
	case ActionDelete:
		err = r.delete(&res, c)
	case ActionRotate:
		err = r.rotate(&res, c)
	}
	res.Err = err
	switch {
	case errors.Is(err, errStopped):
		res.Status = StatusSkipped
	case err != nil:
		res.Status = StatusFailed
	}
	return res
}

// create gets or creates g. When the group already existed, create changed
// nothing: its token is recorded at once, then an update corrects it.
func (r *run) create(res *Result, g *Group) error {
	rem, err := r.call(res, func(ctx context.Context) (Remote, error) { return r.API.CreateGroup(ctx, g) }, func(rem Remote) error {
		if err := r.check(g.ID, rem); err != nil {
			return err
		}
		res.New = &rem.New
		now := r.clock.Now()
		if rem.New {
			return r.record(res, Merge(nil, g, rem, now))
		}
		res.Action = ActionAdopt
		return r.record(res, &Applied{Group: Group{ID: g.ID}, Token: rem.Token, EnvTag: rem.EnvTag, AppliedAt: now})
	})
	if err != nil || rem.New {
		return err
	}
	return r.update(res, g)
}

// update sends g's managed fields. A group deleted on the service since it
// was recorded (in Explo's UI, say) is created again, once.
func (r *run) update(res *Result, g *Group) error {
	_, err := r.call(res, func(ctx context.Context) (Remote, error) { return r.API.UpdateGroup(ctx, g) }, func(rem Remote) error {
		if err := r.check(g.ID, rem); err != nil {
			return err
		}
		return r.record(res, Merge(r.current(g.ID), g, rem, r.clock.Now()))
	})
	if errors.Is(err, ErrNotFound) && res.Action == ActionUpdate {
		res.Action = ActionCreate
		return r.create(res, g)
	}
	return err
}

// adopt takes over a group found in the service's list: its token is
// recorded without a call, and an update follows only when it differs.
func (r *run) adopt(res *Result, c *Change) error {
	r.mu.Lock()
	holder := r.holder(c.Current.Token)
	r.mu.Unlock()
	if holder != "" && holder != c.ID {
		return fmt.Errorf("%w (%q): nothing of it was recorded", ErrTokenReused, holder)
	}
	found := *c.Current
	found.AppliedAt = r.clock.Now()
	if err := r.record(res, &found); err != nil || !c.Update {
		return err
	}
	return r.update(res, c.Desired)
}

// delete deletes an owned group that no manifest lists.
func (r *run) delete(res *Result, c *Change) error {
	if c.Gone {
		return r.forget(c.ID)
	}
	d, ok := r.API.(Deleter)
	if !ok {
		return errors.New("this API cannot delete")
	}
	_, err := r.call(res, func(ctx context.Context) (Remote, error) { return d.DeleteGroup(ctx, c.ID, c.Current.Token) },
		func(Remote) error { return r.forget(c.ID) })
	if errors.Is(err, ErrNotFound) {
		return r.forget(c.ID)
	}
	return err
}

// rotate gives a group a new token.
func (r *run) rotate(res *Result, c *Change) error {
	rot, ok := r.API.(Rotator)
	if !ok {
		return errors.New("this API cannot rotate tokens")
	}
	_, err := r.call(res, func(ctx context.Context) (Remote, error) { return rot.RotateToken(ctx, c.ID, c.Current.Token) }, func(rem Remote) error {
		if err := r.check(c.ID, rem); err != nil {
			return err
		}
		cur := r.current(c.ID)
		return r.record(res, Merge(cur, &cur.Group, rem, r.clock.Now()))
	})
	return err
}
