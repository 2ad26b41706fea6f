package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"groupsync/reconcile"
)

// fakeAPI is a function-field fake for unit tests; the end-to-end tests use
// the real client against the sandbox.
type fakeAPI struct {
	create func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error)
	update func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error)
}

var _ reconcile.API = (*fakeAPI)(nil)

func (f *fakeAPI) CreateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return f.create(ctx, g)
}

func (f *fakeAPI) UpdateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return f.update(ctx, g)
}

// apiErr is an error of a given kind, status and Retry-After.
type apiErr struct {
	kind       error
	status     int
	retryAfter time.Duration
}

func (e *apiErr) Error() string        { return fmt.Sprintf("HTTP %d", e.status) }
func (e *apiErr) Is(target error) bool { return target == e.kind }
func (e *apiErr) HTTPStatus() int      { return e.status }
func (e *apiErr) RetryAfter() (time.Duration, bool) {
	return e.retryAfter, e.retryAfter > 0
}

func groups(n int) []reconcile.Group {
	gs := make([]reconcile.Group, n)
	for i := range gs {
		gs[i] = reconcile.Group{ID: fmt.Sprintf("g%03d", i), Name: fmt.Sprintf("G %d", i)}
	}
	return gs
}

func applier(api reconcile.API) *reconcile.Applier {
	p := reconcile.DefaultRetryPolicy()
	p.Base, p.Cap = time.Millisecond, 5*time.Millisecond
	return &reconcile.Applier{API: api, Limiter: reconcile.NewLimiter(1e6), Concurrency: 4, Retry: p, Grace: time.Second}
}

func ok(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return reconcile.Remote{New: true, Token: "tok-" + g.ID}, nil
}

func apply(t *testing.T, a *reconcile.Applier, gs []reconcile.Group, st *reconcile.State) ([]reconcile.Result, error) {
	t.Helper()
	return a.Apply(context.Background(), reconcile.Diff(gs, st), st)
}

func TestApply_RetriesTransientFailures(t *testing.T) {
	var calls atomic.Int32
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		if calls.Add(1) <= 2 {
			return reconcile.Remote{}, &apiErr{kind: reconcile.ErrRetryable, status: 503}
		}
		return ok(ctx, g)
	}}
	st := reconcile.NewState()
	res, err := apply(t, applier(api), groups(1), st)
	if err != nil || res[0].Status != reconcile.StatusOK || res[0].Attempts != 3 || res[0].HTTPStatus != 200 {
		t.Fatalf("Apply() = %+v, %v", res, err)
	}
	if st.Groups["g000"].Token != "tok-g000" {
		t.Errorf("state = %+v", st.Groups["g000"])
	}
}

func TestApply_RejectionIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		calls.Add(1)
		if g.ID == "g001" {
			return reconcile.Remote{}, &apiErr{status: 400}
		}
		return ok(ctx, g)
	}}
	res, err := apply(t, applier(api), groups(3), reconcile.NewState())
	if err != nil || calls.Load() != 3 {
		t.Fatalf("err %v, %d calls", err, calls.Load())
	}
	if res[1].Status != reconcile.StatusFailed || res[1].Attempts != 1 || res[1].HTTPStatus != 400 || res[0].Status != reconcile.StatusOK {
		t.Errorf("results = %+v", res)
	}
}

func TestApply_UnauthorizedStopsTheRun(t *testing.T) {
	var calls atomic.Int32
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		calls.Add(1)
		return reconcile.Remote{}, &apiErr{kind: reconcile.ErrUnauthorized, status: 401}
	}}
	res, err := apply(t, applier(api), groups(100), reconcile.NewState())
	if !errors.Is(err, reconcile.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if n := calls.Load(); n > 8 {
		t.Errorf("%d calls after a 401, want a handful", n)
	}
	skipped := 0
	for _, r := range res {
		if r.Status == reconcile.StatusSkipped {
			skipped++
		}
	}
	if skipped < 90 {
		t.Errorf("%d skipped, want the unstarted groups skipped", skipped)
	}
}

func TestApply_RetryBudgetStopsAFailingService(t *testing.T) {
	var calls atomic.Int32
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		calls.Add(1)
		return reconcile.Remote{}, &apiErr{kind: reconcile.ErrRetryable, status: 500}
	}}
	a := applier(api)
	a.Retry.BudgetFloor = 10
	_, err := apply(t, a, groups(200), reconcile.NewState())
	if !errors.Is(err, reconcile.ErrRetryBudget) {
		t.Fatalf("err = %v, want ErrRetryBudget", err)
	}
	// 10 retries, plus first attempts of the groups in flight.
	if n := calls.Load(); n > 10+2*int32(a.Concurrency) {
		t.Errorf("%d calls to a dead service, want about the budget", n)
	}
}

func TestApply_LongRetryAfterFailsTheGroup(t *testing.T) {
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		return reconcile.Remote{}, &apiErr{kind: reconcile.ErrRateLimited, status: 429, retryAfter: time.Hour}
	}}
	res, err := apply(t, applier(api), groups(1), reconcile.NewState())
	if err != nil || res[0].Status != reconcile.StatusFailed || res[0].Attempts != 1 {
		t.Fatalf("Apply() = %+v, %v", res, err)
	}
	if want := "the service asked to retry after 1h0m0s, longer than the 2m0s groupsync waits: HTTP 429"; res[0].Err.Error() != want {
		t.Errorf("error %q, want %q", res[0].Err, want)
	}
}

func TestApply_ConcurrencyIsBounded(t *testing.T) {
	var inFlight, high atomic.Int32
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		n := inFlight.Add(1)
		for {
			h := high.Load()
			if n <= h || high.CompareAndSwap(h, n) {
				break
			}
		}
		time.Sleep(time.Millisecond) // hold the slot so that others pile up
		inFlight.Add(-1)
		return ok(ctx, g)
	}}
	a := applier(api)
	a.Concurrency = 3
	if _, err := apply(t, a, groups(60), reconcile.NewState()); err != nil {
		t.Fatal(err)
	}
	if h := high.Load(); h != 3 {
		t.Errorf("high-water mark %d, want 3", h)
	}
}

func TestApply_AdoptKeepsTokenWhenUpdateFails(t *testing.T) {
	var recorded []*reconcile.Applied
	api := &fakeAPI{
		create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
			return reconcile.Remote{New: false, Token: "old-token", EnvTag: "Customer"}, nil
		},
		update: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
			return reconcile.Remote{}, &apiErr{status: 400}
		},
	}
	a := applier(api)
	a.Record = func(x *reconcile.Applied) error { recorded = append(recorded, x); return nil }
	st := reconcile.NewState()
	res, _ := apply(t, a, groups(1), st)
	if res[0].Action != reconcile.ActionAdopt || res[0].Status != reconcile.StatusFailed || res[0].Attempts != 2 {
		t.Fatalf("result = %+v", res[0])
	}
	if len(recorded) != 1 || recorded[0].Token != "old-token" || st.Groups["g000"].Token != "old-token" {
		t.Fatalf("token not recorded: %+v", recorded)
	}
	// The next plan must correct the group.
	if p := reconcile.Diff(groups(1), st); len(p.Changes) != 1 || p.Changes[0].Action != reconcile.ActionUpdate {
		t.Errorf("next plan = %+v, want an update", p.Changes)
	}
}

func TestApply_InterruptFinishesInFlightAndSkipsTheRest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	var started atomic.Int32
	api := &fakeAPI{create: func(c context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		if started.Add(1) == 2 {
			cancel() // the signal arrives while two calls are in flight
		}
		<-release
		if c.Err() != nil {
			return reconcile.Remote{}, c.Err()
		}
		return ok(c, g)
	}}
	a := applier(api)
	a.Concurrency = 2
	var once sync.Once
	go func() {
		<-ctx.Done()
		once.Do(func() { close(release) })
	}()
	st := reconcile.NewState()
	res, err := a.Apply(ctx, reconcile.Diff(groups(10), st), st)
	if err != nil {
		t.Fatal(err)
	}
	var okN, skipped int
	for _, r := range res {
		switch r.Status {
		case reconcile.StatusOK:
			okN++
		case reconcile.StatusSkipped:
			skipped++
		}
	}
	if okN != 2 || skipped != 8 || len(st.Groups) != 2 {
		t.Errorf("ok %d, skipped %d, state %d; want 2, 8, 2", okN, skipped, len(st.Groups))
	}
}

func TestLimiter_HalvesOnThrottleAndRecoversAdditively(t *testing.T) {
	l := reconcile.NewLimiter(100)
	ctx := context.Background()
	early, _ := l.Wait(ctx)
	inFlight, _ := l.Wait(ctx)
	l.Throttled(early)
	if r := l.Rate(); r != 50 {
		t.Fatalf("after a 429 the rate is %v, want 50", r)
	}
	l.Throttled(inFlight) // sent before the cut: the same congestion
	if r := l.Rate(); r != 50 {
		t.Fatalf("a 429 of a call sent before the cut cut the rate to %v", r)
	}
	later, _ := l.Wait(ctx)
	l.Throttled(later)
	if r := l.Rate(); r != 25 {
		t.Fatalf("a 429 at the new rate left it at %v, want 25", r)
	}
	for range 12 {
		l.Succeeded()
	}
	if r := l.Rate(); r != 49 {
		t.Fatalf("after 12 successes the rate is %v, want 49", r)
	}
	for range 100 {
		l.Succeeded()
	}
	if r := l.Rate(); r != 100 {
		t.Fatalf("the rate recovered to %v, want the configured 100", r)
	}
}
