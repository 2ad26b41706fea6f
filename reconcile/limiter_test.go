package reconcile_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"groupsync/internal/fakeclock"
	"groupsync/reconcile"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// wait takes one send from l, driving the fake clock through the wait, and
// returns the ticket and when it was sent.
func wait(t *testing.T, c *fakeclock.Clock, l *reconcile.Limiter) (reconcile.Ticket, time.Time) {
	t.Helper()
	type got struct {
		tk  reconcile.Ticket
		err error
	}
	ch := make(chan got, 1)
	go func() {
		tk, err := l.Wait(context.Background())
		ch <- got{tk, err}
	}()
	for {
		select {
		case g := <-ch:
			if g.err != nil {
				t.Fatal(g.err)
			}
			return g.tk, g.tk.Sent()
		default:
		}
		if next, ok := c.Next(); ok {
			c.Advance(next.Sub(c.Now()))
			continue
		}
		done := make(chan struct{})
		go func() {
			g := <-ch
			ch <- g
			close(done)
		}()
		if !c.BlockUntil(1, done) {
			continue
		}
	}
}

// waiters starts n callers of l.Wait and returns a channel of their
// tickets, and a function that stops those still waiting.
func waiters(l *reconcile.Limiter, n int) (<-chan reconcile.Ticket, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan reconcile.Ticket, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tk, err := l.Wait(ctx); err == nil {
				out <- tk
			}
		}()
	}
	return out, func() { cancel(); wg.Wait() }
}

// burst takes n sends that must all go at once, at the clock's time. The
// first is accepted at once: the run's first call goes alone. The others
// are left in flight, holding their slots until answered.
func burst(t *testing.T, c *fakeclock.Clock, l *reconcile.Limiter, n int) []reconcile.Ticket {
	t.Helper()
	var tickets []reconcile.Ticket
	for i := range n {
		now := c.Now()
		tk, at := wait(t, c, l)
		if at != now {
			t.Fatalf("send %d at +%v, want it at once (+%v)", i, at.Sub(t0), now.Sub(t0))
		}
		if i == 0 {
			l.Accepted(tk)
		}
		tickets = append(tickets, tk)
	}
	return tickets
}

// accept answers every ticket but the first (which burst answered) as
// accepted, now.
func accept(l *reconcile.Limiter, tickets []reconcile.Ticket) {
	acceptAll(l, tickets[1:])
}

func acceptAll(l *reconcile.Limiter, tickets []reconcile.Ticket) {
	for _, tk := range tickets {
		l.Accepted(tk)
	}
}

// noneWent fails if a waiter has been given a slot; why says what should hold
// every call back.
func noneWent(t *testing.T, got <-chan reconcile.Ticket, why string) {
	t.Helper()
	select {
	case tk := <-got:
		t.Fatalf("a call went at +%v %s", tk.Sent().Sub(t0), why)
	default:
	}
}

// atOnce takes n calls from the waiters and fails unless each was sent at
// the fake clock's present instant.
func atOnce(t *testing.T, c *fakeclock.Clock, got <-chan reconcile.Ticket, n int) []reconcile.Ticket {
	t.Helper()
	tickets := make([]reconcile.Ticket, n)
	for i := range tickets {
		tickets[i] = <-got
		if tickets[i].Sent() != c.Now() {
			t.Fatalf("sent at +%v, want at once (+%v)", tickets[i].Sent().Sub(t0), c.Now().Sub(t0))
		}
	}
	return tickets
}

// A run that starts with an idle window sends a whole quota at once, and
// the next quota a window after those were answered, again all at once:
// nothing is paced, and no margin is needed.
func TestLimiter_BurstsIntoAnIdleWindow(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(10, time.Second, c)
	tickets := burst(t, c, l, 10)
	for _, tk := range tickets {
		if tk.Sent() != t0 {
			t.Fatalf("sent at +%v, want the whole quota at once", tk.Sent().Sub(t0))
		}
	}
	c.Advance(20 * time.Millisecond)
	accept(l, tickets)
	for i := range 10 {
		_, at := wait(t, c, l)
		// The first was answered at once, the others 20ms later.
		want := t0.Add(1020 * time.Millisecond)
		if i == 0 {
			want = t0.Add(time.Second)
		}
		if at != want {
			t.Fatalf("send %d of the second window at +%v, want +%v (a window after the answers, no spacing)", i, at.Sub(t0), want.Sub(t0))
		}
	}
}

// A call holds its slot while in flight, and leaves the window one
// window after its answer, which comes after the service logged it: call
// i+quota can never arrive inside the service's window of call i,
// whatever the delays on the way, and the quota's calls are never spaced.
func TestLimiter_CallsLeaveAWindowAfterTheirAnswer(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(4, time.Second, c)
	var tickets []reconcile.Ticket
	for range 4 {
		tk, _ := wait(t, c, l)
		if len(tickets) == 0 {
			l.Accepted(tk)
		}
		tickets = append(tickets, tk)
	}
	// Answered 100ms, 300ms and 600ms after they were sent; the last
	// one is still out.
	var answered []time.Time
	for _, tk := range tickets[1:3] {
		c.Advance(100 * time.Millisecond)
		l.Accepted(tk)
		answered = append(answered, c.Now())
	}
	got, stop := waiters(l, 4)
	defer stop()
	c.BlockUntil(4, nil)
	// The first frees at +1s; the answered ones a window after their
	// answers; the one in flight holds its slot, so the fourth waits for
	// the log to change, not for a time.
	want := []time.Time{t0.Add(time.Second), answered[0].Add(time.Second), answered[1].Add(time.Second)}
	for i, w := range want {
		// The waiters left wait again before the clock moves.
		c.BlockUntil(4-i, nil)
		c.Advance(w.Sub(c.Now()))
		if tk := <-got; tk.Sent() != w {
			t.Fatalf("send %d at +%v, want +%v", i+4, tk.Sent().Sub(t0), w.Sub(t0))
		}
	}
	c.Advance(5 * time.Second)
	noneWent(t, got, "while the quota's oldest call was in flight")
	l.Accepted(tickets[3])
	c.BlockUntil(1, nil)
	c.Advance(time.Second)
	if tk := <-got; tk.Sent() != c.Now() {
		t.Fatalf("sent at +%v, want a window after the late answer (+%v)", tk.Sent().Sub(t0), c.Now().Sub(t0))
	}
	if got, want := l.Interval(), 250*time.Millisecond; got != want {
		t.Errorf("Interval() = %v, want %v (a window over the quota)", got, want)
	}
}

// A 429 lowers the quota to what the service took, and every worker waits
// for one instant; then a single probe goes, and once it is accepted the
// freed slots go at once rather than paced.
func TestLimiter_ThrottledWaitsOnceThenFreesTheSlotsAtOnce(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(10, time.Second, c)
	tickets := burst(t, c, l, 6)
	accept(l, tickets[:5])
	c.Advance(200 * time.Millisecond)
	// The sixth is refused: the service took 5 in its window (another job
	// on the IP has the rest) and asks to come back in 1.5s. Retry-After
	// is whole seconds rounded up; the own log says the oldest send
	// leaves the window sooner, and is trusted.
	l.Throttled(tickets[5], 1500*time.Millisecond, true)
	if q, w := l.Quota(); q != 5 || w != time.Second {
		t.Fatalf("quota %d per %v after a 429, want 5 per 1s", q, w)
	}
	got, stop := waiters(l, 5)
	defer stop()
	c.BlockUntil(5, nil)
	want := t0.Add(time.Second)
	for _, at := range c.Pending() {
		if at != want {
			t.Fatalf("a caller waits until +%v, want the one instant the oldest send leaves the window (+%v)", at.Sub(t0), want.Sub(t0))
		}
	}
	c.Advance(want.Sub(c.Now()))
	probe := <-got
	if probe.Sent() != want {
		t.Fatalf("probe sent at +%v, want +%v", probe.Sent().Sub(t0), want.Sub(t0))
	}
	noneWent(t, got, "while the probe was out")
	c.Advance(5 * time.Millisecond)
	l.Accepted(probe)
	atOnce(t, c, got, 4)
}

// Waits are checked again when the log changes: a caller waiting for a
// slot that a 429 then pushes back waits for the new instant, and callers
// held behind a probe go as soon as it is answered, with no timer.
func TestLimiter_WaitsAreRecheckedWhenTheLogChanges(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(2, time.Second, c)
	tickets := burst(t, c, l, 2)
	got, stop := waiters(l, 1)
	defer stop()
	c.BlockUntil(1, nil)
	if p := c.Pending(); len(p) != 1 || p[0] != t0.Add(time.Second) {
		t.Fatalf("pending %v, want one wait until +1s", p)
	}
	c.Advance(500 * time.Millisecond)
	l.Throttled(tickets[1], 2*time.Second, true)
	// Whether or not its timer fired first, the waiter looks again and
	// waits for the shared instant, +2.5s.
	sent := make(chan time.Time, 1)
	go func() { sent <- (<-got).Sent() }()
	done := make(chan struct{})
	go func() {
		at := <-sent
		sent <- at
		close(done)
	}()
	// Drive looks at the timers again under the clock's lock: the
	// waiter may stop its timer between a look and an advance.
	c.Drive(1, done)
	if at := <-sent; at != t0.Add(2500*time.Millisecond) {
		t.Fatalf("sent at +%v, want +2.5s", at.Sub(t0))
	}
}

// overtaken sends n calls a millisecond apart, answers the first nine
// as accepted and refuses the tenth: the quota is the nine sent before
// it, with the rest still out.
func overtaken(t *testing.T, n int) (*fakeclock.Clock, *reconcile.Limiter, []reconcile.Ticket) {
	t.Helper()
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(20, time.Second, c)
	var tickets []reconcile.Ticket
	for range n {
		tk, _ := wait(t, c, l)
		tickets = append(tickets, tk)
		c.Advance(time.Millisecond)
	}
	acceptAll(l, tickets[:9])
	l.Throttled(tickets[9], 0, false)
	if q, _ := l.Quota(); q != 9 {
		t.Fatalf("quota %d after the first refusal, want the 9 sent before it", q)
	}
	return c, l, tickets
}

// Calls overtake each other on the way, and one that passed the refused
// call it was sent after was taken by the service too: one slot short of
// the quota would cost a run of exactly three windows a fourth. Here the
// eleventh of twelve arrived before the tenth, and the twelfth is
// refused: that refusal counts the eleventh, still out, and the quota is
// the ten the service took.
func TestLimiter_ALaterRefusalCountsACallThatOvertook(t *testing.T) {
	_, l, tickets := overtaken(t, 12)
	l.Throttled(tickets[11], 0, false)
	if q, _ := l.Quota(); q != 10 {
		t.Fatalf("quota %d after the second refusal, want the 10 the service took", q)
	}
	l.Accepted(tickets[10])
	if q, _ := l.Quota(); q != 10 {
		t.Fatalf("quota %d once the call counted was answered, want 10 still", q)
	}
}

// With no later refusal, the call that overtook is counted when it is
// accepted: sent after the refused one, before the 429 was heard of, and
// answered while none of the run's calls can have left the service's
// window to make room for it. Answered later, it may have taken a slot
// one of the run's left, and counts for nothing.
func TestLimiter_AnAcceptedCallThatOvertookCounts(t *testing.T) {
	_, l, tickets := overtaken(t, 11)
	l.Accepted(tickets[10])
	if q, _ := l.Quota(); q != 10 {
		t.Fatalf("quota %d once the eleventh was accepted, want the 10 the service took", q)
	}
	c, l, tickets := overtaken(t, 11)
	c.Advance(time.Second)
	l.Accepted(tickets[10])
	if q, _ := l.Quota(); q != 9 {
		t.Fatalf("quota %d once the eleventh was accepted a window after the first call, want 9 still", q)
	}
}

func TestLimiter_RefusedProbesBackOff(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(10, time.Second, c)
	tickets := burst(t, c, l, 10)
	accept(l, tickets[:9])
	l.Throttled(tickets[9], 0, false)
	var probes []time.Time
	for {
		tk, at := wait(t, c, l)
		if at.After(t0.Add(4 * time.Second)) {
			break
		}
		probes = append(probes, at)
		c.Advance(time.Millisecond)
		l.Throttled(tk, 0, false)
	}
	if probes[0] != t0.Add(time.Second) {
		t.Fatalf("first probe at +%v, want when the oldest send left the window", probes[0].Sub(t0))
	}
	share := time.Second / 9
	for i := 1; i < len(probes); i++ {
		gap := probes[i].Sub(probes[i-1]) - time.Millisecond
		episode := probes[i-1].Add(time.Millisecond).Sub(t0)
		want := min(share<<(i-1), max(time.Second, episode)/4)
		if gap != want {
			t.Fatalf("probe %d came %v after the one before, want %v", i, gap, want)
		}
	}
	// Three windows of a full service cost at most a handful each.
	if n := len(probes); n > 15 {
		t.Errorf("%d refused probes in three windows", n)
	}
}

// --rate 5/s against a service that allows 60 a minute: the first 429
// has no Retry-After, a later one says the oldest request leaves in 47s,
// which teaches a 60s window.
func TestLimiter_LearnsTheWindowFromALaterRetryAfter(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(5, time.Second, c)
	for range 60 {
		tk, _ := wait(t, c, l)
		l.Accepted(tk)
	}
	tk, _ := wait(t, c, l)
	l.Throttled(tk, 0, false)
	if _, w := l.Quota(); w != time.Second {
		t.Fatalf("window %v learnt without a Retry-After", w)
	}
	tk, _ = wait(t, c, l)
	// Whole seconds, rounded up, as DRF writes it.
	l.Throttled(tk, (t0.Add(time.Minute).Sub(c.Now()) + time.Second - 1).Truncate(time.Second), true)
	if q, w := l.Quota(); w != time.Minute || q != 60 {
		t.Fatalf("quota %d per %v, want 60 per 1m0s", q, w)
	}
}

// Without any Retry-After, refusals that last longer than the run's
// window teach the service's: the first call through came when the
// service's first send left its window.
func TestLimiter_LearnsTheWindowFromTheSpacingOfRefusals(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(30, time.Second, c)
	tickets := burst(t, c, l, 30)
	for _, tk := range tickets[:20] {
		l.Accepted(tk)
	}
	for _, tk := range tickets[20:] {
		l.Throttled(tk, 0, false) // 20 per 10s, against 30 per second
	}
	for {
		tk, at := wait(t, c, l)
		if at.Before(t0.Add(10 * time.Second)) {
			l.Throttled(tk, 0, false)
			continue
		}
		l.Accepted(tk)
		break
	}
	// The probes that find the window are a quarter of the episode apart
	// by then: the window is known to that precision.
	if q, w := l.Quota(); w < 9*time.Second || w > 11*time.Second || q != 20 {
		t.Fatalf("quota %d per %v, want 20 per 10s, give or take a second", q, w)
	}
}

// A quota that collapsed (a burst of another job, a server that counts
// refused calls) comes back within a few windows: doubling each calm
// window up to what the service took before.
func TestLimiter_RecoversACollapsedQuota(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(100, time.Second, c)
	tickets := burst(t, c, l, 21)
	accept(l, tickets[:20])
	l.Throttled(tickets[20], 0, false) // the service takes 20
	endEpisode(t, c, l)
	c.Advance(5 * time.Second)
	tickets = burst(t, c, l, 3)
	accept(l, tickets[:2])
	l.Throttled(tickets[2], 0, false) // now only 2: a collapse
	if q, _ := l.Quota(); q != 2 {
		t.Fatalf("quota %d, want 2", q)
	}
	endEpisode(t, c, l)
	var quotas []int
	for range 4 {
		c.Advance(time.Second)
		tk, _ := wait(t, c, l)
		l.Accepted(tk)
		q, _ := l.Quota()
		quotas = append(quotas, q)
	}
	if want := []int{4, 8, 16, 20}; !equal(quotas, want) {
		t.Fatalf("quota after each calm window %v, want %v", quotas, want)
	}
}

// Alone, the quota grows by one after ten calm windows, to find out
// whether the service takes more; once 429s showed that another job
// shares the quota, only after forty.
func TestLimiter_StopsProbingIntoASharedQuota(t *testing.T) {
	for _, shared := range []bool{false, true} {
		c := fakeclock.New(t0)
		l := reconcile.NewLimiter(100, time.Second, c)
		tickets := burst(t, c, l, 21)
		accept(l, tickets[:20])
		l.Throttled(tickets[20], 0, false)
		endEpisode(t, c, l)
		if shared {
			// The same window later holds 15 when refused: someone else
			// took the rest.
			c.Advance(2 * time.Second)
			tickets = burst(t, c, l, 16)
			accept(l, tickets[:15])
			l.Throttled(tickets[15], 0, false)
			endEpisode(t, c, l)
		}
		q0, _ := l.Quota()
		var windows int
		for windows = 1; windows <= 50; windows++ {
			c.Advance(time.Second)
			tk, _ := wait(t, c, l)
			l.Accepted(tk)
			if q, _ := l.Quota(); q > q0 {
				break
			}
		}
		want := 10
		if shared {
			want = 40
		}
		if windows < want-1 || windows > want+1 {
			t.Errorf("shared %v: the quota grew after %d calm windows, want %d", shared, windows, want)
		}
	}
}

// endEpisode sends the probe that follows a 429 and has it accepted.
func endEpisode(t *testing.T, c *fakeclock.Clock, l *reconcile.Limiter) {
	t.Helper()
	tk, _ := wait(t, c, l)
	l.Accepted(tk)
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
