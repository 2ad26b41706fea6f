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

// Journal persists a run's progress as it happens, so that a run killed at
// any instant loses at most its calls in flight. Calls are serialised. An
// error stops the run: what cannot be recorded must not be done.
type Journal interface {
	// Record keeps a group as the service answered for it.
	Record(a *Applied) error
	// Move keeps a under its new id, the group at from being gone, as one
	// entry: a kill cannot leave both.
	Move(from string, a *Applied) error
	// Forget drops a group the service deleted.
	Forget(id string) error
	// Intend persists a call that is not idempotent before it is made;
	// with sync, it is on disk when Intend returns.
	Intend(in *Intent, sync bool) error
	// Settle ends an intent whose call did nothing.
	Settle(key string) error
}

// Gate holds a run to one call in flight until an answer shows that the
// URL is the API's and the token is accepted, so that a wrong URL, a
// redirect or a refused token costs exactly one call. One Gate may be
// shared by the runs of one command (a refresh, then an apply).
type Gate struct {
	once      sync.Once
	confirmed chan struct{}
	probe     chan struct{}
}

// NewGate returns a closed gate.
func NewGate() *Gate { return &Gate{confirmed: make(chan struct{}), probe: make(chan struct{}, 1)} }

// OpenGate returns a gate already open, as one an earlier run confirmed:
// every call goes at once.
func OpenGate() *Gate {
	g := NewGate()
	g.confirm()
	return g
}

func (g *Gate) confirm() { g.once.Do(func() { close(g.confirmed) }) }

// Confirmed reports whether an answer has confirmed the URL and token.
func (g *Gate) Confirmed() bool {
	select {
	case <-g.confirmed:
		return true
	default:
		return false
	}
}

// run is the machinery one Apply, or one read of the service, shares: call
// slots, the gate, the limiter, retries, the stall watchdog and the stop.
//
// A run is in one of four phases, each entered once, in order:
//
//   - running: calls may start (acquire succeeds) and answers are kept;
//   - stopping: stop is done (ctx is done, or abort gave a cause: a 401, a
//     redirect, an unreachable service, a stall, the retry budget, a
//     failed journal write): nothing new starts, calls in flight go on;
//   - abandoned: Grace after the stop, calls is done: calls in flight are
//     cancelled, and their groups fail;
//   - finished: finish was called; the watchdog and the grace timer end.
//
// Invariants: an answer is kept (its journal entry written) while its call
// still holds its slot, so a kill loses at most the answers of the slots;
// a call never starts once stop is done; no goroutine outlives finish.
type run struct {
	*Applier
	clock  Clock
	st     *State
	budget *budget
	gate   *Gate
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

	mu     sync.Mutex // guards st, tokens and Journal
	tokens map[string]string
	doneMu sync.Mutex // serialises Done
}

// start begins a run; finish must be called when it ends.
func (a *Applier) start(ctx context.Context, st *State) (*run, func()) {
	clock := a.Clock
	if clock == nil {
		clock = SystemClock()
	}
	gate := a.Gate
	if gate == nil {
		gate = NewGate()
	}
	if st == nil {
		st = NewState()
	}
	stop, abort := context.WithCancelCause(ctx)
	calls, cancelCalls := context.WithCancel(context.WithoutCancel(ctx))
	r := &run{Applier: a, clock: clock, st: st, budget: newBudget(a.Retry), gate: gate, stop: stop, abort: abort, calls: calls,
		slots: make(chan struct{}, max(a.Concurrency, 1)), finished: make(chan struct{})}
	r.lastSuccess.Store(clock.Now().UnixNano())
	// Calls in flight outlive a stop by Grace, so that an answer the
	// service already acted on is not thrown away.
	hookDone := make(chan struct{})
	unhook := context.AfterFunc(stop, func() {
		defer close(hookDone)
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
	// The run is over when its stop hook is: OnStop writes to what the
	// caller owns, which it may reuse as soon as Apply returns.
	return r, func() {
		close(r.finished)
		started := !unhook()
		abort(nil)
		cancelCalls()
		if started {
			<-hookDone
		}
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
	stall := r.stallTimeout()
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

// stallTimeout is the stall timeout, widened for a rate so slow that two
// of its intervals take longer.
func (r *run) stallTimeout() time.Duration {
	if r.Limiter == nil {
		return r.StallTimeout
	}
	return max(r.StallTimeout, 2*r.Limiter.Interval())
}

// cause returns why the run stopped, when something inside it stopped it.
func (r *run) cause(ctx context.Context) error {
	if cause := context.Cause(r.stop); cause != nil && cause != context.Cause(ctx) {
		return cause
	}
	return nil
}

// attempt is what one call learnt over its attempts.
type attempt struct {
	failures int
	// uncertain is set once an attempt failed in a way that the service
	// may have acted on (a timeout, a reset, a 5xx, an unreadable answer),
	// or its answer could not be kept.
	uncertain bool
}

// resolver learns the outcome of a call whose last attempt may have been
// acted on, instead of repeating it blindly. It returns the answer to keep
// when the call did act (done), nothing to repeat the call, or an error to
// fail it.
type resolver func() (rem Remote, done bool, err error)

// call makes one request until it succeeds or fails for good, counting its
// attempts in res. keep runs on the answer while the call still holds its
// slot, so that an answer is recorded before another call may start: a run
// killed at any instant has lost at most the answers of its slots. After an
// attempt that may have acted, resolve (when set) decides instead of a
// blind repeat.
func (r *run) call(res *Result, at *attempt, fn func(context.Context) (Remote, error), keep func(Remote) error, resolve resolver) (Remote, error) {
	if at == nil {
		at = &attempt{}
	}
	for {
		ticket, probe, err := r.acquire()
		if err != nil {
			if res.Attempts == 0 {
				return Remote{}, errStopped
			}
			return Remote{}, fmt.Errorf("interrupted before retrying: %w", errStopped)
		}
		res.Attempts++
		rem, err := fn(r.calls)
		if err == nil {
			r.accepted(ticket)
			r.succeeded()
			res.Code = rem.Code
			if err = keep(rem); err != nil {
				// The service acted, and what it answered is not kept.
				at.uncertain = true
			}
			r.release(probe)
			return rem, err
		}
		if confirms(err) {
			r.gate.confirm()
		}
		r.release(false)
		res.Code = codeOf(err)
		// A call abandoned in flight may have been acted on too.
		maybe := mayHaveActed(err) || r.calls.Err() != nil
		at.uncertain = at.uncertain || maybe
		limited := errors.Is(err, ErrRateLimited)
		wait, err := r.retryWait(&at.failures, ticket, err)
		// After retryWait, which may stop the run: a first call that
		// found no API (a redirect, a refused token, no answer) must
		// not let another go, through the gate or the limiter.
		r.releaseProbe(probe)
		if !limited {
			r.accepted(ticket)
		}
		if err != nil {
			return Remote{}, err
		}
		if maybe && resolve != nil {
			rem, done, rerr := resolve()
			switch {
			case rerr != nil:
				return Remote{}, rerr
			case done:
				if err := keep(rem); err != nil {
					at.uncertain = true
					return rem, err
				}
				return rem, nil
			}
		}
		if !sleep(r.clock, r.stop.Done(), wait) {
			return Remote{}, fmt.Errorf("interrupted before retrying: %w", errStopped)
		}
	}
}

func (r *run) succeeded() {
	r.reached.Store(true)
	r.gate.confirm()
	r.lastSuccess.Store(r.clock.Now().UnixNano())
	r.budget.earn()
}

// confirms reports whether a failed call's answer still shows that the URL
// is the API's and the token accepted: a refusal of the group itself.
func confirms(err error) bool {
	if !fromAPI(err) {
		return false
	}
	for _, kind := range []error{ErrUnauthorized, ErrRedirect, ErrRateLimited, ErrRetryable, ErrNotAPI, ErrUnreadable} {
		if errors.Is(err, kind) {
			return false
		}
	}
	return true
}

// mayHaveActed reports whether a failed call may have been acted on.
func mayHaveActed(err error) bool {
	return errors.Is(err, ErrRetryable) || errors.Is(err, ErrUnreadable)
}

// acquire takes the gate's probe while the gate is closed, a call slot,
// and then the limiter's permission, so that neither more than one call
// before the gate opens, nor more than Concurrency calls, nor more than
// the rate are in flight.
func (r *run) acquire() (Ticket, bool, error) {
	probe := false
	select {
	case <-r.gate.confirmed:
	case r.gate.probe <- struct{}{}:
		probe = true
	case <-r.stop.Done():
		return Ticket{}, false, r.stop.Err()
	}
	select {
	case r.slots <- struct{}{}:
	case <-r.stop.Done():
		r.releaseProbe(probe)
		return Ticket{}, false, r.stop.Err()
	}
	var t Ticket
	if r.Limiter != nil {
		var err error
		if t, err = r.Limiter.Wait(r.stop); err != nil {
			<-r.slots
			r.releaseProbe(probe)
			return t, false, err
		}
	}
	// A select with both cases ready picks either: a stop that came
	// meanwhile must still win.
	if err := r.stop.Err(); err != nil {
		r.accepted(t) // never sent: it must hold no probe
		<-r.slots
		r.releaseProbe(probe)
		return t, false, err
	}
	r.inFlight.Add(1)
	return t, probe, nil
}

// accepted tells the limiter that the call of t was not refused.
func (r *run) accepted(t Ticket) {
	if r.Limiter != nil {
		r.Limiter.Accepted(t)
	}
}

func (r *run) releaseProbe(probe bool) {
	if probe {
		<-r.gate.probe
	}
}

func (r *run) release(probe bool) {
	r.inFlight.Add(-1)
	<-r.slots
	r.releaseProbe(probe)
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
	case !r.reached.Load() && (errors.Is(err, ErrUnreachable) || errors.Is(err, ErrNotAPI) || errors.Is(err, ErrUnreadable)):
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
	case errors.Is(err, ErrRetryable), errors.Is(err, ErrUnreachable), errors.Is(err, ErrUnreadable):
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
