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
	// Unknown is set when the group failed after a call the service may
	// have acted on: its outcome is learnt by the next run.
	Unknown bool
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
	// Journal persists every answer as it arrives, so that a token is
	// never held only in memory; nil persists nothing.
	Journal Journal
	// Gate, when set, is shared with the other runs of one command, so
	// that only the first call of the first run goes alone.
	Gate *Gate
	// ListLimits bound each listing; zero is [DefaultListLimits] of 0.
	ListLimits ListLimits
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
// Parents are created before their children; deletes come after every
// other change, children first, and a delete whose guards did not succeed
// is not attempted. Independent groups go concurrently.
//
// When ctx is done, Apply starts nothing new, lets calls in flight finish
// for Grace, and marks the groups it never started as skipped. It returns a
// non-nil error only when the whole run had to stop: ErrUnauthorized,
// ErrRedirect, an [UnreachableError], ErrStalled, ErrRetryBudget, or a
// failure to record state.
func (a *Applier) Apply(ctx context.Context, p *Plan, st *State) ([]Result, error) {
	r, finish := a.start(ctx, st)
	defer finish()
	for _, m := range p.Moved {
		if err := r.move(nil, m.From, m.To); err != nil {
			return nil, err
		}
	}
	for _, fixed := range p.Corrected {
		if err := r.record(nil, fixed); err != nil {
			return nil, err
		}
	}
	for _, m := range p.Marks {
		if cur := r.current(m.ID); cur != nil && cur.Orphan != m.Orphan {
			marked := *cur
			marked.Orphan = m.Orphan
			if err := r.record(nil, &marked); err != nil {
				return nil, err
			}
		}
	}
	work := p.Work()
	results := make([]Result, len(work))
	var changes, deletes []int
	for i, c := range work {
		if c.Action == ActionDelete {
			deletes = append(deletes, i)
		} else {
			changes = append(changes, i)
		}
	}
	r.phase(work, changes, results)
	r.phase(work, deletes, results)
	return results, r.cause(ctx)
}

// phase runs the changes idx of work, each after those it depends on, and
// writes their results.
func (r *run) phase(work []*Change, idx []int, results []Result) {
	if len(idx) == 0 {
		return
	}
	deps := schedule(work, idx)
	var done []chan struct{}
	if deps != nil {
		done = make([]chan struct{}, len(work))
		for _, i := range idx {
			done[i] = make(chan struct{})
		}
	}
	var byID map[string]int
	for _, i := range idx {
		if len(work[i].Guards) > 0 && byID == nil {
			byID = make(map[string]int, len(work))
			for j, c := range work {
				byID[c.ID] = j
			}
		}
	}
	var g errgroup.Group
	// More groups than slots are in progress, so that the slot of a group
	// in backoff goes to another group's call.
	g.SetLimit(groupsPerSlot * max(r.Concurrency, 1))
	for _, i := range order(idx, deps) {
		g.Go(func() error {
			if done != nil {
				defer close(done[i])
			}
			results[i] = r.after(work[i], deps[i], done, results, byID)
			if r.Done != nil {
				r.doneMu.Lock()
				r.Done(&results[i])
				r.doneMu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
}

// groupsPerSlot is how many groups may be in progress per call slot.
const groupsPerSlot = 4

// schedule lists, per change of idx, the changes of idx it waits for: a
// group its parent's create, update or rename; a delete the deletes of the
// groups below it. It returns nil when nothing waits for anything (no
// hierarchy), which keeps the first run of a million groups from paying
// for an order it does not need.
func schedule(work []*Change, idx []int) map[int][]int {
	hierarchy := false
	for _, i := range idx {
		if c := work[i]; (c.Desired != nil && c.Desired.ParentID() != "") || c.Parent != "" {
			hierarchy = true
			break
		}
	}
	if !hierarchy {
		return nil
	}
	byID := make(map[string]int, len(idx))
	for _, i := range idx {
		byID[work[i].ID] = i
	}
	deps := map[int][]int{}
	for _, i := range idx {
		c := work[i]
		if c.Action == ActionDelete {
			if p, ok := byID[c.Parent]; ok {
				deps[p] = append(deps[p], i)
			}
			continue
		}
		if c.Desired != nil {
			if p, ok := byID[c.Desired.ParentID()]; ok {
				deps[i] = append(deps[i], p)
			}
		}
	}
	return deps
}

// order returns idx sorted so that every change comes after those it
// depends on; a cycle (which validation refuses) stops counting.
func order(idx []int, deps map[int][]int) []int {
	if deps == nil {
		return idx
	}
	depth := map[int]int{}
	var depthOf func(i, seen int) int
	depthOf = func(i, seen int) int {
		if d := depth[i]; d > 0 || seen > len(idx) {
			return d
		}
		d := 1
		for _, j := range deps[i] {
			d = max(d, 1+depthOf(j, seen+1))
		}
		depth[i] = d
		return d
	}
	out := slices.Clone(idx)
	for _, i := range out {
		depthOf(i, 0)
	}
	slices.SortStableFunc(out, func(a, b int) int { return depth[a] - depth[b] })
	return out
}

// after runs c once the changes it depends on are done, and its guards
// succeeded.
func (r *run) after(c *Change, deps []int, done []chan struct{}, results []Result, byID map[string]int) Result {
	for _, j := range deps {
		select {
		case <-done[j]:
		case <-r.stop.Done():
			return r.skipped(c)
		}
		if dep := &results[j]; dep.Status != StatusOK {
			return r.notAttempted(c, fmt.Errorf("not attempted: %s of %q did not succeed", dep.Action, dep.ID))
		}
	}
	for _, id := range c.Guards {
		if j, ok := byID[id]; ok && results[j].Status != StatusOK {
			return r.notAttempted(c, fmt.Errorf("not attempted: %q, below it now, did not move away (its %s did not succeed)", id, results[j].Action))
		}
	}
	return r.one(c)
}

func (r *run) notAttempted(c *Change, err error) Result {
	res := r.newResult(c)
	res.Status, res.Err = StatusFailed, err
	return res
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
	case ActionRename:
		err = r.rename(&res, c)
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
