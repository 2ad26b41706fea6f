package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"groupsync/explo"
	"groupsync/reconcile"
	"groupsync/sandbox"
)

// fastApplier is the production applier with the real client, but with
// backoff in milliseconds so that tests stay fast.
func fastApplier(url string, perSecond float64, timeout time.Duration) *reconcile.Applier {
	p := reconcile.DefaultRetryPolicy()
	p.Base, p.Cap = 5*time.Millisecond, 100*time.Millisecond
	p.MaxAttempts = 10
	return &reconcile.Applier{
		API:         explo.New(url, testToken, newHTTPClient(timeout, 8)),
		Limiter:     reconcile.NewLimiter(perSecond),
		Concurrency: 8,
		Retry:       p,
		Grace:       time.Second,
	}
}

func desired(n int) []reconcile.Group {
	gs := make([]reconcile.Group, n)
	for i := range gs {
		gs[i] = reconcile.Group{ID: fmt.Sprintf("g%03d", i), Name: fmt.Sprintf("Group %d", i),
			Mapping: reconcile.Pairs{{Key: "40", Value: fmt.Sprint(i)}}, Managed: reconcile.FieldMapping}
	}
	return gs
}

// checkConverged asserts that every group is ok, the sandbox holds what was
// asked, and every token in the results and the state is the sandbox's.
func checkConverged(t *testing.T, sb *sandbox.Server, gs []reconcile.Group, res []reconcile.Result, st *reconcile.State) {
	t.Helper()
	remote := sb.Groups()
	for _, r := range res {
		if r.Status != reconcile.StatusOK {
			t.Errorf("%s: %s %s: %v", r.ID, r.Action, r.Status, r.Err)
			continue
		}
		if r.Token != remote[r.ID].Token {
			t.Errorf("%s: result token differs from the service's", r.ID)
		}
	}
	for _, g := range gs {
		rg, a := remote[g.ID], st.Groups[g.ID]
		if rg.Name != g.Name || rg.Mapping["40"] != g.Mapping[0].Value {
			t.Errorf("%s on the service: %+v", g.ID, rg)
		}
		if a == nil || a.Token != rg.Token || a.Name != g.Name {
			t.Errorf("%s in state: %+v", g.ID, a)
		}
	}
}

func TestApply_ConvergesThroughFaults(t *testing.T) {
	sb := sandbox.New(sandbox.Config{Token: testToken, Rate: -1, FailRate: 0.2, SlowDelay: 300 * time.Millisecond, Seed: 7})
	ts := newEnvWith(t, sb)
	gs := desired(120)
	st := reconcile.NewState()
	res, err := fastApplier(ts, 1e4, 100*time.Millisecond).Apply(context.Background(), reconcile.Diff(gs, st), st)
	if err != nil {
		t.Fatal(err)
	}
	checkConverged(t, sb, gs, res, st)
	stats := sb.Stats()
	adopted := 0
	for _, r := range res {
		if r.Action == reconcile.ActionAdopt {
			adopted++
		}
	}
	// Lost answers (reset after processing, slow answers) make the repeat
	// find the group: those must have taken the adopt path.
	if stats.Faults < 10 || adopted == 0 {
		t.Errorf("%d faults injected, %d adopted: the test did not exercise lost answers", stats.Faults, adopted)
	}
	t.Logf("%d requests, %d faults, %d adopted", stats.Requests, stats.Faults, adopted)
}

func TestApply_OverEagerClientConverges(t *testing.T) {
	for _, mode := range []sandbox.RetryAfterMode{sandbox.RetryAfterNone, sandbox.RetryAfterSeconds} {
		t.Run(string(mode), func(t *testing.T) {
			// The service allows 100/s; the client is told 500/s.
			sb := sandbox.New(sandbox.Config{Token: testToken, Rate: 100, Burst: 5, RetryAfter: mode})
			ts := newEnvWith(t, sb)
			gs := desired(80)
			st := reconcile.NewState()
			res, err := fastApplier(ts, 500, time.Second).Apply(context.Background(), reconcile.Diff(gs, st), st)
			if err != nil {
				t.Fatal(err)
			}
			checkConverged(t, sb, gs, res, st)
			stats := sb.Stats()
			if stats.Throttled == 0 {
				t.Error("no 429 at all: the test did not exceed the limit")
			}
			t.Logf("%d requests, %d throttled", stats.Requests, stats.Throttled)
		})
	}
}

func TestApply_UnauthorizedStopsAfterAHandfulOfCalls(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(60, nil, nil))
	e.write("token", "wrong-token")
	_, stderr, code := e.run("apply", "-f", m)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	if n := e.sb.Stats().Requests; n > 8 {
		t.Errorf("%d calls with a refused token, want a handful", n)
	}
	if got := strings.Count(stderr, "refused the API token"); got != 1 {
		t.Errorf("the refusal is said %d times, want once:\n%s", got, stderr)
	}
	if strings.Contains(stderr, "wrong-token") {
		t.Error("stderr shows the API token")
	}
}
