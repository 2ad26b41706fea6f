package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Errors that stop a whole run, or fail one group, beyond those an [API]
// returns.
var (
	// ErrStalled stops a run in which no call succeeded for the stall
	// timeout: a 429 storm, an outage.
	ErrStalled = errors.New("no call succeeded")
	// ErrWrongGroup fails a group whose answer is about another group.
	ErrWrongGroup = errors.New("the service answered about another group")
	// ErrTokenReused fails a group whose answer carries a token that
	// another group holds.
	ErrTokenReused = errors.New("the service answered with a token another group holds")
	// errStopped marks a call that never started because the run stopped.
	errStopped = errors.New("not started: the run was stopped")
)

// UnreachableError stops a run whose first calls found no API at all.
type UnreachableError struct{ Err error }

func (e *UnreachableError) Error() string { return e.Err.Error() }
func (e *UnreachableError) Unwrap() error { return e.Err }

// run is the machinery one Apply or one read of the service shares: call
// slots, the limiter, retries, the stall watchdog and the stop.
type run struct {
	*Applier
	clock  Clock
	st     *State
	budget *budget
	// stop is done when nothing new may start: ctx is done, or the run
	// was aborted (its cause says why).
	stop  context.Context
	abort context.CancelCauseFunc
	// calls is done when calls in flight are abandoned, Grace after stop.
	calls    context.Context
	slots    chan struct{}
	inFlight atomic.Int32
	// reached is set once anything answered like the API.
	reached     atomic.Bool
	lastSuccess atomic.Int64
	finished    chan struct{}

	mu     sync.Mutex // guards st, tokens, Record and Forget
	tokens map[string]string
	doneMu sync.Mutex // serialises Done
}

// start begins a run; finish must be called when it ends.
func (a *Applier) start(ctx context.Context, st *State) (*run, func()) {
	clock := a.Clock
	if clock == nil {
		clock = SystemClock()
	}
	stop, abort := context.WithCancelCause(ctx)
	calls, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	r := &run{Applier: a, clock: clock, st: st, budget: newBudget(a.Retry), stop: stop, abort: abort, calls: calls,
		slots: make(chan struct{}, max(a.Concurrency, 1)), finished: make(chan struct{})}
	r.lastSuccess.Store(clock.Now().UnixNano())
	// Calls in flight outlive a stop by Grace, so that an answer the
	// service already acted on is not thrown away.
	unhook := context.AfterFunc(stop, func() {
		if a.OnStop != nil && r.running() {
			a.OnStop(context.Cause(stop), int(r.inFlight.Load()))
		}
		if sleep(clock, calls.Done(), a.Grace) {
			cancelCalls()
		}
	})
	if a.StallTimeout > 0 {
		go r.watch()
	}
	return r, func() {
		close(r.finished)
		unhook()
		abort(nil)
		cancelCalls()
	}
}

func (r *run) running() bool {
	select {
	case <-r.finished:
		return false
	default:
		return true
	}
}

// watch stops the run when no call has succeeded for the stall timeout.
// The timeout is at least two intervals of the limiter, so that a slow
// configured rate is not taken for a stall.
func (r *run) watch() {
	stall := r.StallTimeout
	if r.Limiter != nil {
		stall = max(stall, 2*r.Limiter.Interval())
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-r.stop.Done():
		case <-r.finished:
		}
		close(done)
	}()
	for {
		last := r.lastSuccess.Load()
		left := time.Unix(0, last).Add(stall).Sub(r.clock.Now())
		if left <= 0 {
			r.abort(fmt.Errorf("%w for %s", ErrStalled, stall))
			return
		}
		if !sleep(r.clock, done, left) {
			return
		}
	}
}

// cause returns why the run stopped, when something inside it stopped it.
func (r *run) cause(ctx context.Context) error {
	if cause := context.Cause(r.stop); cause != nil && cause != context.Cause(ctx) {
		return cause
	}
	return nil
}

// call makes one request until it succeeds or fails for good, counting its
// attempts in res. keep runs on the answer while the call still holds its
// slot, so that an answer is recorded before another call may start: a run
// killed at any instant has lost at most the answers of its slots.
func (r *run) call(res *Result, fn func(context.Context) (Remote, error), keep func(Remote) error) (Remote, error) {
	failures := 0
	for {
		ticket, err := r.acquire()
		if err != nil {
			if res.Attempts == 0 {
				return Remote{}, errStopped
			}
			return Remote{}, fmt.Errorf("interrupted before retrying: %w", errStopped)
		}
		res.Attempts++
		rem, err := fn(r.calls)
		if err == nil {
			r.reached.Store(true)
			r.lastSuccess.Store(r.clock.Now().UnixNano())
			r.budget.earn()
			res.Code = rem.Code
			err = keep(rem)
			r.release()
			return rem, err
		}
		r.release()
		res.Code = codeOf(err)
		wait, err := r.retryWait(&failures, ticket, err)
		if err != nil {
			return Remote{}, err
		}
		if !sleep(r.clock, r.stop.Done(), wait) {
			return Remote{}, fmt.Errorf("interrupted before retrying: %w", errStopped)
		}
	}
}

// acquire takes a call slot and then the limiter's permission, so that
// neither more than Concurrency calls nor more than the rate are in flight.
func (r *run) acquire() (Ticket, error) {
	select {
	case r.slots <- struct{}{}:
	case <-r.stop.Done():
		return Ticket{}, r.stop.Err()
	}
	var t Ticket
	if r.Limiter != nil {
		var err error
		if t, err = r.Limiter.Wait(r.stop); err != nil {
			<-r.slots
			return t, err
		}
	}
	// A select with both cases ready picks either: a stop that came
	// meanwhile must still win.
	if err := r.stop.Err(); err != nil {
		<-r.slots
		return t, err
	}
	r.inFlight.Add(1)
	return t, nil
}

func (r *run) release() {
	r.inFlight.Add(-1)
	<-r.slots
}

// retryWait decides whether a failed attempt is retried and after how long;
// a non-nil error means the call has failed for good.
func (r *run) retryWait(failures *int, ticket Ticket, err error) (time.Duration, error) {
	if fromAPI(err) {
		r.reached.Store(true)
	}
	switch {
	case r.calls.Err() != nil:
		return 0, fmt.Errorf("abandoned after the grace period: %w", err)
	case errors.Is(err, ErrRedirect), errors.Is(err, ErrUnauthorized):
		r.abort(err)
		return 0, err
	case !r.reached.Load() && (errors.Is(err, ErrUnreachable) || errors.Is(err, ErrNotAPI)):
		err = &UnreachableError{Err: err}
		r.abort(err)
		return 0, err
	case errors.Is(err, ErrRateLimited):
		// Not a failure: the limiter decides when to come back, for
		// every worker at once, and no backoff stacks on its wait.
		if r.Limiter != nil {
			ra, ok := retryAfter(err)
			r.Limiter.Throttled(ticket, ra, ok)
		}
		return 0, nil
	case errors.Is(err, ErrRetryable), errors.Is(err, ErrUnreachable):
		return r.backoff(failures, err)
	}
	return 0, err
}

func (r *run) backoff(failures *int, err error) (time.Duration, error) {
	*failures++
	if *failures >= r.Retry.MaxAttempts {
		return 0, fmt.Errorf("gave up after %d failed attempt%s: %w", *failures, map[bool]string{true: "s"}[*failures != 1], err)
	}
	if !r.budget.spend() {
		r.abort(ErrRetryBudget)
		return 0, fmt.Errorf("%w (last error: %w)", ErrRetryBudget, err)
	}
	wait := r.Retry.backoff(*failures)
	if ra, ok := retryAfter(err); ok {
		if ra > r.Retry.MaxRetryAfter {
			return 0, fmt.Errorf("the service asked to retry after %s, longer than the %s groupsync waits: %w", ra, r.Retry.MaxRetryAfter, err)
		}
		wait = max(wait, ra)
	}
	return wait, nil
}

// check refuses an answer about another group than id, or with a token
// that another group holds: recording it would give one customer another's
// dashboards.
func (r *run) check(id string, rem Remote) error {
	if rem.ID != id {
		return fmt.Errorf("%w (%q): nothing of it was recorded", ErrWrongGroup, rem.ID)
	}
	if rem.Token == "" {
		return errors.New("the answer has no token: nothing of it was recorded")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if holder := r.holder(rem.Token); holder != "" && holder != id {
		return fmt.Errorf("%w (%q): nothing of it was recorded", ErrTokenReused, holder)
	}
	return nil
}

// holder returns the group that holds token. Callers hold r.mu.
func (r *run) holder(token string) string {
	if r.tokens == nil {
		r.tokens = make(map[string]string, len(r.st.Groups))
		for id, a := range r.st.Groups {
			r.tokens[a.Token] = id
		}
	}
	return r.tokens[token]
}

// record keeps a in the state, in the token index and through Record.
func (r *run) record(res *Result, a *Applied) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holder("") // build the index before the state changes
	if prev := r.st.Groups[a.ID]; prev != nil && r.tokens[prev.Token] == a.ID {
		delete(r.tokens, prev.Token)
	}
	r.st.Groups[a.ID] = a
	r.tokens[a.Token] = a.ID
	if res != nil {
		res.Token, res.EnvTag = a.Token, a.EnvTag
	}
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

// forget drops id from the state, after the service deleted it.
func (r *run) forget(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holder("")
	if prev := r.st.Groups[id]; prev != nil {
		delete(r.tokens, prev.Token)
	}
	delete(r.st.Groups, id)
	if r.Forget == nil {
		return nil
	}
	if err := r.Forget(id); err != nil {
		err = fmt.Errorf("record state: %w", err)
		r.abort(err)
		return err
	}
	return nil
}

func (r *run) current(id string) *Applied {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Groups[id]
}
