package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"groupsync/internal/fakeclock"
	"groupsync/reconcile"
)

// fakeAPI is a function-field fake for unit tests; the end-to-end tests use
// the real client against the sandbox.
type fakeAPI struct {
	create func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error)
	update func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error)
	del    func(ctx context.Context, id, token string) (reconcile.Remote, error)
}

var (
	_ reconcile.API     = (*fakeAPI)(nil)
	_ reconcile.Deleter = (*fakeAPI)(nil)
)

func (f *fakeAPI) CreateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return f.create(ctx, g)
}

func (f *fakeAPI) UpdateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return f.update(ctx, g)
}

func (f *fakeAPI) DeleteGroup(ctx context.Context, id, token string) (reconcile.Remote, error) {
	return f.del(ctx, id, token)
}

// recorder is a function-field fake of reconcile.Journal; nil fields
// accept everything.
type recorder struct {
	record func(*reconcile.Applied) error
	forget func(id string) error
	intend func(*reconcile.Intent) error
}

var _ reconcile.Journal = (*recorder)(nil)

func (r *recorder) Record(a *reconcile.Applied) error {
	if r.record == nil {
		return nil
	}
	return r.record(a)
}

func (r *recorder) Move(from string, a *reconcile.Applied) error { return r.Record(a) }

func (r *recorder) Forget(id string) error {
	if r.forget == nil {
		return nil
	}
	return r.forget(id)
}

func (r *recorder) Intend(in *reconcile.Intent, sync bool) error {
	if r.intend == nil {
		return nil
	}
	return r.intend(in)
}

func (r *recorder) Settle(string) error { return nil }

// apiErr is an error of a given kind, status and Retry-After.
type apiErr struct {
	kind       error
	status     int
	retryAfter time.Duration
}

func (e *apiErr) Error() string        { return fmt.Sprintf("HTTP %d", e.status) }
func (e *apiErr) Is(target error) bool { return target == e.kind }
func (e *apiErr) Code() int            { return e.status }
func (e *apiErr) APIAnswer() bool      { return e.status != 0 && e.kind != reconcile.ErrNotAPI }
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
	return &reconcile.Applier{API: api, Limiter: reconcile.NewLimiter(1_000_000, time.Second, reconcile.SystemClock()), Concurrency: 4, Retry: p, Grace: time.Second}
}

func ok(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return reconcile.Remote{ID: g.ID, New: true, Token: "tok-" + g.ID, Code: 200}, nil
}

func apply(t *testing.T, a *reconcile.Applier, gs []reconcile.Group, st *reconcile.State) ([]reconcile.Result, error) {
	t.Helper()
	return a.Apply(context.Background(), reconcile.Diff(gs, st, reconcile.Options{}), st)
}

func count(res []reconcile.Result, status reconcile.Status) int {
	n := 0
	for _, r := range res {
		if r.Status == status {
			n++
		}
	}
	return n
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
	if err != nil || res[0].Status != reconcile.StatusOK || res[0].Attempts != 3 || res[0].Code != 200 || res[0].Token != "tok-g000" {
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
	if res[1].Status != reconcile.StatusFailed || res[1].Attempts != 1 || res[1].Code != 400 || res[0].Status != reconcile.StatusOK {
		t.Errorf("results = %+v", res)
	}
}

func TestApply_StopsTheRun(t *testing.T) {
	for _, tt := range []struct {
		name   string
		kind   error
		status int
		want   func(error) bool
	}{
		{"Unauthorized", reconcile.ErrUnauthorized, 401, func(err error) bool { return errors.Is(err, reconcile.ErrUnauthorized) }},
		{"Redirect", reconcile.ErrRedirect, 301, func(err error) bool { return errors.Is(err, reconcile.ErrRedirect) }},
		{"Unreachable", reconcile.ErrUnreachable, 0, func(err error) bool { var ue *reconcile.UnreachableError; return errors.As(err, &ue) }},
		{"NotAPI", reconcile.ErrNotAPI, 404, func(err error) bool { var ue *reconcile.UnreachableError; return errors.As(err, &ue) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
				calls.Add(1)
				return reconcile.Remote{}, &apiErr{kind: tt.kind, status: tt.status}
			}}
			a := applier(api)
			res, err := apply(t, a, groups(100), reconcile.NewState())
			if !tt.want(err) {
				t.Fatalf("err = %v", err)
			}
			if n := calls.Load(); n > int32(a.Concurrency) {
				t.Errorf("%d calls, want at most one per slot", n)
			}
			if n := count(res, reconcile.StatusSkipped); n < 96 {
				t.Errorf("%d skipped, want the unstarted groups skipped", n)
			}
		})
	}
}

// Once the service has answered like the API, a refused connection is a
// passing failure, retried, and a page that is not the API fails only its
// group.
func TestApply_UnreachableAfterAnAnswerIsRetried(t *testing.T) {
	answered := make(chan struct{})
	var g001 atomic.Int32
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		if g.ID == "g000" {
			return ok(ctx, g)
		}
		<-answered
		switch {
		case g.ID == "g001" && g001.Add(1) == 1:
			return reconcile.Remote{}, &apiErr{kind: reconcile.ErrUnreachable}
		case g.ID == "g002":
			return reconcile.Remote{}, &apiErr{kind: reconcile.ErrNotAPI, status: 404}
		}
		return ok(ctx, g)
	}}
	a := applier(api)
	a.Concurrency = 3
	// The gate an earlier run opened: the three go at once, and the
	// others wait for g000's answer, recorded, so seen.
	a.Gate = reconcile.OpenGate()
	a.Journal = &recorder{record: func(x *reconcile.Applied) error {
		if x.ID == "g000" {
			close(answered)
		}
		return nil
	}}
	res, err := apply(t, a, groups(3), reconcile.NewState())
	if err != nil || res[0].Status != reconcile.StatusOK || res[1].Status != reconcile.StatusOK || res[1].Attempts != 2 || res[2].Status != reconcile.StatusFailed {
		t.Fatalf("Apply() = %+v, %v", res, err)
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

func TestApply_LongRetryAfterOfAFailureFailsTheGroup(t *testing.T) {
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		return reconcile.Remote{}, &apiErr{kind: reconcile.ErrRetryable, status: 503, retryAfter: time.Hour}
	}}
	res, _ := apply(t, applier(api), groups(1), reconcile.NewState())
	if res[0].Status != reconcile.StatusFailed || res[0].Attempts != 1 {
		t.Fatalf("Apply() = %+v", res)
	}
	if want := "the service asked to retry after 1h0m0s, longer than the 2m0s groupsync waits: HTTP 503"; res[0].Err.Error() != want {
		t.Errorf("error %q, want %q", res[0].Err, want)
	}
}

// 429s are not failures: they do not use up the attempts, and the call
// comes back when the limiter says, without backoff on top.
func TestApply_RateLimitedIsNotAnAttemptAndNotBackedOff(t *testing.T) {
	c := fakeclock.New(t0)
	var sent []time.Time
	var mu sync.Mutex
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, c.Now())
		if len(sent) <= 4 {
			return reconcile.Remote{}, &apiErr{kind: reconcile.ErrRateLimited, status: 429, retryAfter: 3 * time.Second}
		}
		return ok(ctx, g)
	}}
	a := applier(api)
	a.Clock, a.Limiter, a.Concurrency = c, reconcile.NewLimiter(100, time.Second, c), 1
	a.Retry.MaxAttempts, a.Retry.Base, a.Retry.Cap = 2, time.Hour, time.Hour
	done := make(chan struct{})
	go c.Drive(1, done)
	res, err := apply(t, a, groups(1), reconcile.NewState())
	close(done)
	if err != nil || res[0].Status != reconcile.StatusOK || res[0].Attempts != 5 {
		t.Fatalf("Apply() = %+v, %v", res, err)
	}
	for i := 1; i < len(sent); i++ {
		if d := sent[i].Sub(sent[i-1]); d != 3*time.Second {
			t.Errorf("call %d came %v after the one before, want the 3s Retry-After exactly", i, d)
		}
	}
}

// A service that answers only 429 stops the run after the stall timeout,
// with the unstarted groups skipped.
func TestApply_StallTimeoutStopsA429Storm(t *testing.T) {
	c := fakeclock.New(t0)
	var calls atomic.Int32
	var sent []time.Duration
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		calls.Add(1)
		sent = append(sent, c.Now().Sub(t0))
		return reconcile.Remote{}, &apiErr{kind: reconcile.ErrRateLimited, status: 429, retryAfter: time.Second}
	}}
	a := applier(api)
	a.Clock, a.Limiter, a.Concurrency, a.StallTimeout = c, reconcile.NewLimiter(3, time.Second, c), 1, 5*time.Minute
	done := make(chan struct{})
	go c.Drive(2, done)
	// One group: a second one would take the slot between retries, and
	// a timer stopped and started again could be taken for a wait.
	res, err := apply(t, a, groups(1), reconcile.NewState())
	close(done)
	if !errors.Is(err, reconcile.ErrStalled) {
		t.Fatalf("err = %v, want ErrStalled", err)
	}
	if took := c.Now().Sub(t0); took < 5*time.Minute || took > 5*time.Minute+2*time.Second {
		t.Errorf("stopped after %v, want 5m", took)
	}
	if n := calls.Load(); n < 250 || n > 301 {
		t.Errorf("%d calls in 5 minutes of 429s with Retry-After 1s: %v", n, sent[:10])
	}
	if count(res, reconcile.StatusSkipped) != 1 {
		t.Errorf("results %+v, want it skipped", res)
	}
}

func TestApply_ConcurrencyIsBounded(t *testing.T) {
	var inFlight, high, calls atomic.Int32
	release := make(chan struct{})
	var once sync.Once
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		if calls.Add(1) == 1 {
			return ok(ctx, g) // the first answer opens the gate to the others
		}
		n := inFlight.Add(1)
		for {
			h := high.Load()
			if n <= h || high.CompareAndSwap(h, n) {
				break
			}
		}
		if n == 3 {
			once.Do(func() { close(release) }) // the third in flight lets everyone go on
		}
		<-release
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

// An answer is recorded before its slot is free: a run killed at any
// instant has lost at most the answers of its slots.
func TestApply_AnswerRecordedBeforeTheSlotIsFree(t *testing.T) {
	recording := make(chan struct{})
	var inRecord atomic.Bool
	var overlap atomic.Bool
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		if inRecord.Load() {
			overlap.Store(true)
		}
		return ok(ctx, g)
	}}
	a := applier(api)
	a.Concurrency = 1
	a.Journal = &recorder{record: func(*reconcile.Applied) error {
		inRecord.Store(true)
		select {
		case recording <- struct{}{}:
		default:
		}
		time.Sleep(time.Millisecond) // widen the window a late record would leave
		inRecord.Store(false)
		return nil
	}}
	if _, err := apply(t, a, groups(20), reconcile.NewState()); err != nil {
		t.Fatal(err)
	}
	if overlap.Load() {
		t.Error("a call started while the previous answer was still being recorded")
	}
}

func TestApply_AdoptKeepsTokenWhenUpdateFails(t *testing.T) {
	var recorded []*reconcile.Applied
	api := &fakeAPI{
		create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
			return reconcile.Remote{ID: g.ID, New: false, Token: "old-token", EnvTag: "Customer"}, nil
		},
		update: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
			return reconcile.Remote{}, &apiErr{status: 400}
		},
	}
	a := applier(api)
	a.Journal = &recorder{record: func(x *reconcile.Applied) error { recorded = append(recorded, x); return nil }}
	st := reconcile.NewState()
	res, _ := apply(t, a, groups(1), st)
	if res[0].Action != reconcile.ActionAdopt || res[0].Status != reconcile.StatusFailed || res[0].Attempts != 2 || res[0].Token != "old-token" {
		t.Fatalf("result = %+v", res[0])
	}
	if len(recorded) != 1 || recorded[0].Token != "old-token" || st.Groups["g000"].Token != "old-token" {
		t.Fatalf("token not recorded: %+v", recorded)
	}
	// The next plan must correct the group.
	if p := reconcile.Diff(groups(1), st, reconcile.Options{}); len(p.Changes) != 1 || p.Changes[0].Action != reconcile.ActionUpdate {
		t.Errorf("next plan = %+v, want an update", p.Changes)
	}
}

// An answer about another group, or with a token another group holds, is
// a failure of the group, and nothing of it is recorded.
func TestApply_WrongAnswersRecordNothing(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer func(g *reconcile.Group) reconcile.Remote
		want   error
	}{
		{"AnotherGroup", func(g *reconcile.Group) reconcile.Remote {
			return reconcile.Remote{ID: "someone-else", New: true, Token: "forged-" + g.ID}
		}, reconcile.ErrWrongGroup},
		{"TokenOfTheState", func(g *reconcile.Group) reconcile.Remote {
			return reconcile.Remote{ID: g.ID, New: true, Token: "tok-held"}
		}, reconcile.ErrTokenReused},
		{"SameTokenForEveryone", func(g *reconcile.Group) reconcile.Remote {
			return reconcile.Remote{ID: g.ID, New: true, Token: "one-for-all"}
		}, reconcile.ErrTokenReused},
		{"NoToken", func(g *reconcile.Group) reconcile.Remote { return reconcile.Remote{ID: g.ID, New: true} }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
				return tt.answer(g), nil
			}}
			var recorded []string
			a := applier(api)
			a.Concurrency = 1
			a.Journal = &recorder{record: func(x *reconcile.Applied) error { recorded = append(recorded, x.ID+"="+x.Token); return nil }}
			st := reconcile.NewState()
			st.Groups["held"] = &reconcile.Applied{Group: reconcile.Group{ID: "held", Name: "H"}, Token: "tok-held"}
			res, err := a.Apply(context.Background(), reconcile.Diff(append(groups(3), reconcile.Group{ID: "held", Name: "H"}), st, reconcile.Options{}), st)
			if err != nil {
				t.Fatal(err)
			}
			failed := count(res, reconcile.StatusFailed)
			if tt.name == "SameTokenForEveryone" {
				// The first to get it holds it; every later one fails.
				if failed != 2 || len(recorded) != 1 {
					t.Fatalf("%d failed, recorded %v; want the 2 later groups failed", failed, recorded)
				}
				return
			}
			if failed != 3 || len(recorded) != 0 || len(st.Groups) != 1 {
				t.Fatalf("%d failed, recorded %v, state %d groups", failed, recorded, len(st.Groups))
			}
			if tt.want != nil && !errors.Is(res[0].Err, tt.want) {
				t.Errorf("err = %v, want %v", res[0].Err, tt.want)
			}
		})
	}
}

// An update of a group deleted on the service since (in Explo's UI) is
// followed by one create, reported as a create.
func TestApply_UpdateOfADeletedGroupCreatesIt(t *testing.T) {
	var updates, creates atomic.Int32
	api := &fakeAPI{
		create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
			creates.Add(1)
			return ok(ctx, g)
		},
		update: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
			updates.Add(1)
			return reconcile.Remote{}, &apiErr{kind: reconcile.ErrNotFound, status: 404}
		},
	}
	st := reconcile.NewState()
	st.Groups["g000"] = &reconcile.Applied{Group: reconcile.Group{ID: "g000", Name: "Old"}, Token: "old"}
	res, err := apply(t, applier(api), groups(1), st)
	if err != nil || res[0].Action != reconcile.ActionCreate || res[0].Status != reconcile.StatusOK || updates.Load() != 1 || creates.Load() != 1 {
		t.Fatalf("Apply() = %+v, %v; %d updates, %d creates", res, err, updates.Load(), creates.Load())
	}
	if st.Groups["g000"].Token != "tok-g000" {
		t.Errorf("token %q, want the new group's", st.Groups["g000"].Token)
	}
}

func TestApply_InterruptFinishesInFlightAndSkipsTheRest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	var started atomic.Int32
	api := &fakeAPI{create: func(c context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		switch started.Add(1) {
		case 1:
			return ok(c, g) // the first answer opens the gate to the others
		case 3:
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
	var stopped atomic.Int32
	a.OnStop = func(cause error, inFlight int) {
		stopped.Store(int32(inFlight))
		close(release)
	}
	st := reconcile.NewState()
	res, err := a.Apply(ctx, reconcile.Diff(groups(10), st, reconcile.Options{}), st)
	if err != nil {
		t.Fatal(err)
	}
	if okN, skipped := count(res, reconcile.StatusOK), count(res, reconcile.StatusSkipped); okN != 3 || skipped != 7 || len(st.Groups) != 3 {
		t.Errorf("ok %d, skipped %d, state %d; want 3, 7, 3", okN, skipped, len(st.Groups))
	}
	if stopped.Load() != 2 {
		t.Errorf("OnStop saw %d calls in flight, want 2", stopped.Load())
	}
}

// OnStop writes to what its caller owns (the CLI's stderr), so Apply
// returns only after it has: here it writes once the calls in flight were
// let go, and the race detector sees any Apply that returned first.
func TestApply_ReturnsAfterOnStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	var started atomic.Int32
	api := &fakeAPI{create: func(c context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		if started.Add(1) == 2 {
			cancel()
		}
		if started.Load() > 1 {
			<-release
		}
		return ok(c, g)
	}}
	a := applier(api)
	a.Concurrency = 1
	var told []string // unguarded on purpose
	a.OnStop = func(cause error, inFlight int) {
		close(release)
		told = append(told, fmt.Sprintf("stopped with %d in flight", inFlight))
	}
	st := reconcile.NewState()
	if _, err := a.Apply(ctx, reconcile.Diff(groups(5), st, reconcile.Options{}), st); err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || told[0] != "stopped with 1 in flight" {
		t.Errorf("OnStop told %q, want one stop with 1 in flight", told)
	}
}

// A three-level hierarchy is created parents first, even with more slots
// than groups, and a child of a failed parent is not attempted.
func TestApply_ParentsBeforeChildren(t *testing.T) {
	var mu sync.Mutex
	created := map[string]bool{}
	var order []string
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		mu.Lock()
		defer mu.Unlock()
		if p := g.ParentID(); p != "" && !created[p] {
			return reconcile.Remote{}, fmt.Errorf("parent %s does not exist yet", p)
		}
		if g.ID == "bad" {
			return reconcile.Remote{}, &apiErr{status: 400}
		}
		created[g.ID] = true
		order = append(order, g.ID)
		return ok(ctx, g)
	}}
	child := func(id, parent string) reconcile.Group {
		return reconcile.Group{ID: id, Name: id, Managed: reconcile.FieldParent, Customer: &reconcile.Customer{Parent: parent}}
	}
	// Listed children first, so that only the dependency order helps.
	desired := []reconcile.Group{child("a-team", "b-dept"), child("b-dept", "c-org"), {ID: "c-org", Name: "Org"},
		child("d-team", "b-dept"), {ID: "bad", Name: "Bad"}, child("e-orphaned", "bad")}
	a := applier(&fakeAPI{create: api.create})
	a.Concurrency = 16
	st := reconcile.NewState()
	res, err := apply(t, a, desired, st)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]reconcile.Result{}
	for _, r := range res {
		byID[r.ID] = r
	}
	for _, id := range []string{"a-team", "b-dept", "c-org", "d-team"} {
		if byID[id].Status != reconcile.StatusOK {
			t.Errorf("%s: %+v", id, byID[id])
		}
	}
	if r := byID["e-orphaned"]; r.Status != reconcile.StatusFailed || r.Attempts != 0 {
		t.Errorf("child of a failed parent: %+v, want failed without a call", r)
	}
	if slices.Index(order, "c-org") > slices.Index(order, "b-dept") || slices.Index(order, "b-dept") > slices.Index(order, "a-team") {
		t.Errorf("order %v", order)
	}
}

// Deletes go children first.
func TestApply_DeletesChildrenFirst(t *testing.T) {
	var mu sync.Mutex
	var order []string
	api := &fakeAPI{del: func(ctx context.Context, id, token string) (reconcile.Remote, error) {
		mu.Lock()
		order = append(order, id)
		mu.Unlock()
		return reconcile.Remote{}, nil
	}}
	st := reconcile.NewState()
	add := func(id, parent string) {
		g := reconcile.Group{ID: id, Name: id}
		if parent != "" {
			g.Managed, g.Customer = reconcile.FieldParent, &reconcile.Customer{Parent: parent}
		}
		st.Groups[id] = &reconcile.Applied{Group: g, Token: "tok-" + id, Origin: reconcile.OriginCreated}
	}
	add("a-org", "")
	add("b-dept", "a-org")
	add("c-team", "b-dept")
	var forgot []string
	a := applier(api)
	a.Concurrency = 8
	a.Journal = &recorder{forget: func(id string) error { forgot = append(forgot, id); return nil }}
	p := reconcile.Diff(nil, st, reconcile.Options{Prune: true})
	if conflicts := p.CheckPrune(st, nil, nil); len(conflicts) > 0 {
		t.Fatalf("CheckPrune() = %v", conflicts)
	}
	res, err := a.Apply(context.Background(), p, st)
	if err != nil || count(res, reconcile.StatusOK) != 3 {
		t.Fatalf("Apply() = %+v, %v", res, err)
	}
	if want := []string{"c-team", "b-dept", "a-org"}; !slices.Equal(order, want) || len(st.Groups) != 0 || len(forgot) != 3 {
		t.Errorf("deleted %v (want %v), state %v, forgot %v", order, want, st.Groups, forgot)
	}
}

// The report holds every group: manifest groups in manifest order, then
// orphans; a failed group keeps the token it had.
func TestPlan_RowsFollowTheTokenRule(t *testing.T) {
	st := reconcile.NewState()
	st.Groups["b"] = &reconcile.Applied{Group: reconcile.Group{ID: "b", Name: "B"}, Token: "tok-b-old"}
	st.Groups["c"] = &reconcile.Applied{Group: reconcile.Group{ID: "c", Name: "C"}, Token: "tok-c"}
	st.Groups["z"] = &reconcile.Applied{Group: reconcile.Group{ID: "z", Name: "Zed"}, Token: "tok-z"}
	api := &fakeAPI{create: ok, update: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		return reconcile.Remote{}, &apiErr{status: 400}
	}}
	desired := []reconcile.Group{{ID: "c", Name: "C"}, {ID: "b", Name: "B2"}, {ID: "a", Name: "A"}}
	p := reconcile.Diff(desired, st, reconcile.Options{})
	res, err := applier(api).Apply(context.Background(), p, st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for r := range p.Rows(st, res) {
		got = append(got, fmt.Sprintf("%s %s %s %s %s", r.ID, r.Name, r.Action, r.Status, r.Token))
	}
	want := []string{"c C noop ok tok-c", "b B2 update failed tok-b-old", "a A create ok tok-a", "z Zed orphan ok tok-z"}
	if !slices.Equal(got, want) {
		t.Errorf("rows\n%v\nwant\n%v", got, want)
	}
	got = nil
	for r := range p.Rows(st, nil) {
		got = append(got, fmt.Sprintf("%s %s %s", r.ID, r.Action, r.Status))
	}
	if want := []string{"c noop ok", "b update planned", "a create planned", "z orphan ok"}; !slices.Equal(got, want) {
		t.Errorf("planned rows %v, want %v", got, want)
	}
}

// A slow configured rate is not taken for a stall: two calls at one a
// minute, under a stall timeout of 10 s, both succeed, because the
// timeout is widened to two of the limiter's intervals.
func TestApply_StallTimeoutWidensForSlowRates(t *testing.T) {
	c := fakeclock.New(t0)
	api := &fakeAPI{create: ok}
	a := applier(api)
	a.Clock, a.Limiter, a.Concurrency, a.StallTimeout = c, reconcile.NewLimiter(1, time.Minute, c), 1, 10*time.Second
	done := make(chan struct{})
	go c.Drive(2, done) // the watchdog's timer and the limiter's
	res, err := apply(t, a, groups(3), reconcile.NewState())
	close(done)
	if err != nil || count(res, reconcile.StatusOK) != 3 {
		t.Fatalf("Apply() = %+v, %v; a slow rate was taken for a stall", res, err)
	}
}

// A journal that cannot be written stops the run: what cannot be recorded
// must not be done, and the groups not started are skipped.
func TestApply_FailedJournalWriteStopsTheRun(t *testing.T) {
	var calls atomic.Int32
	api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
		calls.Add(1)
		return ok(ctx, g)
	}}
	a := applier(api)
	a.Concurrency = 1
	a.Journal = &recorder{record: func(*reconcile.Applied) error { return errors.New("no space left on device") }}
	res, err := apply(t, a, groups(10), reconcile.NewState())
	if err == nil || !strings.Contains(err.Error(), "record state: no space left on device") {
		t.Fatalf("err = %v, want the journal's failure", err)
	}
	if n := calls.Load(); n != 1 || count(res, reconcile.StatusSkipped) != 9 {
		t.Errorf("%d calls, %d skipped; want 1 and 9", n, count(res, reconcile.StatusSkipped))
	}
	for _, r := range res {
		if r.Attempts == 1 && !r.Unknown {
			t.Error("the group whose answer was not recorded does not say its outcome is unknown")
		}
	}
}

// Deletes are journaled: each delete the service makes is persisted before
// another call may start.
func TestApply_DeletesAreJournaled(t *testing.T) {
	st := reconcile.NewState()
	for _, id := range []string{"a", "b"} {
		st.Groups[id] = &reconcile.Applied{Group: reconcile.Group{ID: id, Name: id}, Token: "tok-" + id, Origin: reconcile.OriginCreated}
	}
	var journaled []string
	deletes := 0
	api := &fakeAPI{del: func(ctx context.Context, id, token string) (reconcile.Remote, error) {
		if len(journaled) != deletes {
			return reconcile.Remote{}, fmt.Errorf("delete of %q before the last one was journaled: %v", id, journaled)
		}
		deletes++
		return reconcile.Remote{Code: 200}, nil
	}}
	a := applier(api)
	a.Concurrency = 1
	a.Journal = &recorder{forget: func(id string) error { journaled = append(journaled, "forget "+id); return nil }}
	p := reconcile.Diff(nil, st, reconcile.Options{Prune: true})
	res, err := a.Apply(context.Background(), p, st)
	slices.Sort(journaled)
	if err != nil || count(res, reconcile.StatusOK) != 2 || !slices.Equal(journaled, []string{"forget a", "forget b"}) {
		t.Fatalf("Apply() = %+v, %v; journal %v", res, err, journaled)
	}
}

// rotator is a fake of the Customer API's rotation and reading.
type rotator struct {
	fakeAPI
	mu     sync.Mutex
	tokens map[string]string
}

func (f *rotator) RotateToken(ctx context.Context, id, token string) (reconcile.Remote, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokens[id] != token {
		return reconcile.Remote{}, &apiErr{kind: reconcile.ErrNotFound, status: 404}
	}
	f.tokens[id] = token + "-rotated"
	return reconcile.Remote{ID: id, Token: f.tokens[id], Code: 200}, nil
}

func (f *rotator) GetGroup(ctx context.Context, id string) (*reconcile.Applied, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &reconcile.Applied{Group: reconcile.Group{ID: id}, Token: f.tokens[id]}, nil
}

// A rotation whose answer the journal cannot keep (a full disk) changes
// nothing in memory: the state saved after claims no token it did not
// record, and the intent stays for the next run to learn.
func TestApply_RotationTheJournalCannotKeepStaysAnIntent(t *testing.T) {
	api := &rotator{tokens: map[string]string{"a": "old"}}
	st := reconcile.NewState()
	st.Groups["a"] = &reconcile.Applied{Group: reconcile.Group{ID: "a", Name: "A"}, Token: "old", Origin: reconcile.OriginCreated}
	a := applier(api)
	a.Journal = &recorder{record: func(*reconcile.Applied) error { return errors.New("no space left on device") }}
	p, err := reconcile.RotatePlan(st, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.Apply(context.Background(), p, st)
	if err == nil || !res[0].Unknown || res[0].Status != reconcile.StatusFailed {
		t.Fatalf("Apply() = %+v, %v", res, err)
	}
	if st.Groups["a"].Token != "old" || st.Pending["a"] == nil || st.Pending["a"].Op != reconcile.OpRotate {
		t.Errorf("state %+v, pending %+v: the answer not kept changed the state, or the intent went", st.Groups["a"], st.Pending)
	}
	// The next run learns the new token from the service.
	a.Journal = nil
	learnt, err := a.Resolve(context.Background(), st)
	if err != nil || len(learnt) != 1 || st.Groups["a"].Token != "old-rotated" || len(st.Pending) != 0 {
		t.Errorf("Resolve() = %+v, %v; token %q", learnt, err, st.Groups["a"].Token)
	}
}

// A create that finds the group existing needs no update when its answer
// shows the group already matches; it does when a field differs, when the
// answer shows nothing, or when the manifest manages a field the answer
// cannot show (the parent).
func TestApply_AdoptingCreateUpdatesOnlyWhatDiffers(t *testing.T) {
	want := reconcile.Group{ID: "g000", Name: "G 0", Managed: reconcile.FieldIsDemo}
	found := func(name string, managed reconcile.Fields) *reconcile.Applied {
		return &reconcile.Applied{Group: reconcile.Group{ID: "g000", Name: name, Managed: managed}, Token: "tok-g000"}
	}
	withParent := want
	withParent.Managed |= reconcile.FieldParent
	withParent.Customer = &reconcile.Customer{Parent: "org"}
	tests := []struct {
		name    string
		group   reconcile.Group
		found   *reconcile.Applied
		updates int32
	}{
		{"Matches", want, found("G 0", reconcile.FieldIsDemo|reconcile.FieldMapping), 0},
		{"NameDiffers", want, found("Old name", reconcile.FieldIsDemo), 1},
		{"FieldNotShown", want, found("G 0", reconcile.FieldMapping), 1},
		{"NothingShown", want, nil, 1},
		{"ParentManaged", withParent, found("G 0", reconcile.FieldIsDemo|reconcile.FieldMapping), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var updates atomic.Int32
			api := &fakeAPI{
				create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
					return reconcile.Remote{ID: g.ID, Token: "tok-g000", Code: 200, Found: tt.found}, nil
				},
				update: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
					updates.Add(1)
					return reconcile.Remote{ID: g.ID, Token: "tok-g000", Code: 200}, nil
				},
			}
			st := reconcile.NewState()
			res, err := apply(t, applier(api), []reconcile.Group{tt.group}, st)
			if err != nil || res[0].Status != reconcile.StatusOK || res[0].Action != reconcile.ActionAdopt || updates.Load() != tt.updates {
				t.Fatalf("Apply() = %+v, %v; %d updates, want %d", res, err, updates.Load(), tt.updates)
			}
			// Either way the state records what the manifest manages, so
			// the next plan has nothing to do.
			if p := reconcile.Diff([]reconcile.Group{tt.group}, st, reconcile.Options{}); len(p.Work()) != 0 {
				t.Errorf("the next plan has %d changes", len(p.Work()))
			}
		})
	}
}

// An update whose answer could not be read may have been carried out: its
// outcome is unknown (exit 3, "may have changed"), not a failure that
// changed nothing, and the state keeps what it had.
func TestApply_UnreadableUpdateAnswerIsUnknown(t *testing.T) {
	for _, first := range []bool{true, false} {
		api := &fakeAPI{create: ok, update: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
			return reconcile.Remote{}, fmt.Errorf("HTTP 200: %w", reconcile.ErrUnreadable)
		}}
		st := reconcile.NewState()
		if _, err := apply(t, applier(api), groups(1), st); err != nil {
			t.Fatal(err)
		}
		gs := groups(2)
		gs[0].Name = "Renamed"
		if first {
			gs = gs[:1] // the update is the run's first call
		}
		res, _ := apply(t, applier(api), gs, st)
		for _, r := range res {
			if r.ID == "g000" && (!r.Unknown || r.Status != reconcile.StatusFailed) {
				t.Errorf("first call %v: %s %s, unknown %v; want failed with its outcome unknown", first, r.Action, r.Status, r.Unknown)
			}
		}
		if st.Groups["g000"].Name != "G 0" {
			t.Errorf("the state took %q before the service's answer was read", st.Groups["g000"].Name)
		}
	}
}

// Until an answer shows the URL is the API's, one call is in flight: a
// redirect (or a refused token) stops the run before the gate lets a
// second call go, so it costs exactly one call. The window this guards
// is between the first answer and the stop; many runs are tried, as the
// scheduler is what would open it.
func TestApply_AFirstAnswerThatStopsTheRunCostsOneCall(t *testing.T) {
	for _, kind := range []error{reconcile.ErrRedirect, reconcile.ErrUnauthorized} {
		for i := range 300 {
			var calls atomic.Int32
			api := &fakeAPI{create: func(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
				calls.Add(1)
				return reconcile.Remote{}, fmt.Errorf("HTTP 307: %w", kind)
			}}
			a := applier(api)
			a.Concurrency = 8
			st := reconcile.NewState()
			apply(t, a, groups(16), st)
			if n := calls.Load(); n != 1 {
				t.Fatalf("%v, run %d: %d calls, want 1", kind, i, n)
			}
		}
	}
}
