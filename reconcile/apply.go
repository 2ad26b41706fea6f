package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// Result is the outcome of one change.
type Result struct {
	ID       string
	Action   Action
	Status   Status
	New      bool
	Token    string
	EnvTag   string
	Attempts int
	// HTTPStatus is the status of the last answer; 0 when none came.
	HTTPStatus int
	Err        error
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
	// Grace is how long calls in flight may finish after ctx is done.
	Grace time.Duration
	// Record persists one group as soon as its answer arrives, so that a
	// token is never held only in memory. It is called from one goroutine
	// at a time. An error stops the run: what cannot be recorded must not
	// be created.
	Record func(*Applied) error
	// Done, when set, is told of each group as it finishes, with the count
	// finished so far. Calls are serialised.
	Done func(done int, r *Result)
	Now  func() time.Time
}

// run is one Apply in progress.
type run struct {
	*Applier
	st     *State
	budget *budget
	stop   context.Context // done: start nothing new
	abort  context.CancelCauseFunc
	calls  context.Context // done: abandon calls in flight
	slots  chan struct{}   // one per call in flight
	mu     sync.Mutex      // guards st and Record
	doneMu sync.Mutex      // serialises Done
	done   int
}

// Apply makes the changes of p (creates and updates; orphans are only
// reported) and records each success in st. It returns one result per
// create or update, in plan order.
//
// When ctx is done, Apply starts nothing new, lets calls in flight finish
// for Grace, and marks the groups it never started as skipped. It returns a
// non-nil error only when the whole run had to stop: ErrUnauthorized,
// ErrRetryBudget, or a failure to record state.
func (a *Applier) Apply(ctx context.Context, p *Plan, st *State) ([]Result, error) {
	stop, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	calls, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelCalls()
	// In-flight calls outlive a stop by Grace, so that an answer the
	// service already acted on is not thrown away.
	unhook := context.AfterFunc(stop, func() { time.AfterFunc(a.Grace, cancelCalls) })
	defer unhook()

	conc := max(a.Concurrency, 1)
	r := &run{Applier: a, st: st, budget: newBudget(a.Retry), stop: stop, abort: abort, calls: calls, slots: make(chan struct{}, conc)}
	work := Work(p)
	results := make([]Result, len(work))
	var g errgroup.Group
	// More groups than slots are in progress, so that the slot of a group
	// in backoff goes to another group's call.
	g.SetLimit(groupsPerSlot * conc)
	for i, c := range work {
		g.Go(func() error {
			results[i] = r.one(c)
			if a.Done != nil {
				r.doneMu.Lock()
				r.done++
				a.Done(r.done, &results[i])
				r.doneMu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	// A cause other than ctx's own is an abort from inside the run.
	if cause := context.Cause(stop); cause != nil && cause != context.Cause(ctx) {
		return results, cause
	}
	return results, nil
}

// groupsPerSlot is how many groups may be in progress per call slot.
const groupsPerSlot = 4

// Work returns the changes of p that need calls, in plan order.
func Work(p *Plan) []Change {
	var w []Change
	for _, c := range p.Changes {
		if c.Action == ActionCreate || c.Action == ActionUpdate {
			w = append(w, c)
		}
	}
	return w
}

func (r *run) one(c Change) Result {
	res := Result{ID: c.ID, Action: c.Action, Status: StatusOK}
	if r.stop.Err() != nil {
		res.Status, res.Err = StatusSkipped, errStopped
		return res
	}
	var remote Remote
	var err error
	if c.Action == ActionCreate {
		remote, err = r.call(&res, r.API.CreateGroup, c.Desired)
		if err == nil && !remote.New {
			// The group existed and create changed nothing: keep its
			// token now, then correct it.
			res.Action = ActionAdopt
			err = r.record(&Applied{Group: Group{ID: c.ID}, Token: remote.Token, EnvTag: remote.EnvTag, AppliedAt: r.now()})
			if err == nil {
				remote, err = r.update(&res, c.Desired, remote)
			}
		}
	} else {
		remote, err = r.update(&res, c.Desired, Remote{})
	}
	if err == nil {
		r.mu.Lock()
		prev := r.st.Groups[c.ID]
		r.mu.Unlock()
		err = r.record(Merge(prev, c.Desired, remote, r.now()))
	}
	res.New, res.Token, res.EnvTag = remote.New, remote.Token, remote.EnvTag
	res.Err = err
	switch {
	case errors.Is(err, errStopped):
		res.Status = StatusSkipped
	case err != nil:
		res.Status = StatusFailed
	}
	return res
}

// update calls UpdateGroup and keeps the token of an earlier answer when
// the update's answer has none.
func (r *run) update(res *Result, g *Group, earlier Remote) (Remote, error) {
	remote, err := r.call(res, r.API.UpdateGroup, g)
	if remote.Token == "" {
		remote.Token = earlier.Token
	}
	if remote.EnvTag == "" {
		remote.EnvTag = earlier.EnvTag
	}
	remote.New = earlier.New
	return remote, err
}

func (r *run) record(a *Applied) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.st.Groups[a.ID] = a
	if r.Record == nil {
		return nil
	}
	if err := r.Record(a); err != nil {
		err = fmt.Errorf("record state: %w", err)
		r.abort(err)
		return err
	}
	return nil
}

func (r *run) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// call makes one request with retries. It counts attempts in res.
func (r *run) call(res *Result, fn func(context.Context, *Group) (Remote, error), g *Group) (Remote, error) {
	for attempt := 1; ; attempt++ {
		ticket, err := r.acquire()
		if err != nil {
			if attempt == 1 && res.Attempts == 0 {
				return Remote{}, errStopped
			}
			return Remote{}, fmt.Errorf("interrupted before retrying: %w", errStopped)
		}
		res.Attempts++
		remote, err := fn(r.calls, g)
		<-r.slots
		res.HTTPStatus = httpStatus(err)
		if err == nil {
			res.HTTPStatus = 200
			r.Limiter.Succeeded()
			r.budget.earn()
			return remote, nil
		}
		wait, err := r.retryWait(attempt, ticket, err)
		if err != nil {
			return Remote{}, err
		}
		if !sleep(r.stop, wait) {
			return Remote{}, fmt.Errorf("interrupted before retrying: %w", errStopped)
		}
	}
}

// acquire takes a call slot and then the rate limiter's permission, so that
// neither more than Concurrency calls nor more than the rate are in flight.
func (r *run) acquire() (Ticket, error) {
	select {
	case r.slots <- struct{}{}:
	case <-r.stop.Done():
		return Ticket{}, r.stop.Err()
	}
	t, err := r.Limiter.Wait(r.stop)
	if err != nil {
		<-r.slots
	}
	return t, err
}

// retryWait decides whether a failed attempt is retried and after how long;
// a non-nil error means the call has failed for good.
func (r *run) retryWait(attempt int, ticket Ticket, err error) (time.Duration, error) {
	switch {
	case r.calls.Err() != nil:
		return 0, fmt.Errorf("abandoned after the grace period: %w", err)
	case errors.Is(err, ErrUnauthorized):
		r.abort(err)
		return 0, err
	case errors.Is(err, ErrRateLimited):
		r.Limiter.Throttled(ticket)
	case errors.Is(err, ErrRetryable):
		if !r.budget.spend() {
			r.abort(ErrRetryBudget)
			return 0, fmt.Errorf("%w (last error: %w)", ErrRetryBudget, err)
		}
	default:
		return 0, err
	}
	if attempt >= r.Retry.MaxAttempts {
		return 0, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
	}
	wait := r.Retry.backoff(attempt)
	if ra, ok := retryAfter(err); ok {
		if ra > r.Retry.MaxRetryAfter {
			return 0, fmt.Errorf("the service asked to retry after %s, longer than the %s groupsync waits: %w", ra, r.Retry.MaxRetryAfter, err)
		}
		wait = max(wait, ra)
	}
	return wait, nil
}
