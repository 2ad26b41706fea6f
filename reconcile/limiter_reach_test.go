package reconcile_test

import (
	"testing"
	"time"

	"groupsync/internal/fakeclock"
	"groupsync/reconcile"
)

// shared returns a limiter of 10 a second whose quota 429s lowered to
// share, past its episode, with a full log of calls answered at +1s: the
// run's last call within the quota went then.
func shared(t *testing.T, share int) (*fakeclock.Clock, *reconcile.Limiter) {
	t.Helper()
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(10, time.Second, c)
	tickets := burst(t, c, l, 10)
	accept(l, tickets[:share])
	for _, tk := range tickets[share:] {
		l.Throttled(tk, 0, false)
	}
	if q, _ := l.Quota(); q != share {
		t.Fatalf("quota %d after the 429s, want %d", q, share)
	}
	for range share {
		tk, at := wait(t, c, l)
		if at != t0.Add(time.Second) {
			t.Fatalf("sent at +%v, want +1s", at.Sub(t0))
		}
		l.Accepted(tk)
	}
	return c, l
}

// pending is the one instant n waiters wait for.
func pending(t *testing.T, c *fakeclock.Clock, n int) time.Time {
	t.Helper()
	c.BlockUntil(n, nil)
	p := c.Pending()
	for _, at := range p {
		if len(p) != n || at != p[0] {
			t.Fatalf("pending %v, want %d waits for one instant", p, n)
		}
	}
	return p[0]
}

// A share of the quota that another job left: once the log has been full
// for an eighth of a window, a call goes beyond it; taken, the quota
// grows by one and the next goes at once, one at a time, up to a quarter
// of the share (two at the least) in a window: a token bucket's burst
// takes many at once, and is no share.
func TestLimiter_ReachesBeyondAShareTheOtherJobLeft(t *testing.T) {
	c, l := shared(t, 6)
	got, stop := waiters(l, 4)
	defer stop()
	idle := t0.Add(time.Second + time.Second/8)
	if at := pending(t, c, 4); at != idle {
		t.Fatalf("waiting until +%v, want +%v: an eighth of a window after the last send", at.Sub(t0), idle.Sub(t0))
	}
	c.Advance(idle.Sub(c.Now()))
	tk := <-got
	if tk.Sent() != idle {
		t.Fatalf("sent at +%v, want +%v", tk.Sent().Sub(t0), idle.Sub(t0))
	}
	noneWent(t, got, "beyond the quota while one was out")
	c.Advance(10 * time.Millisecond)
	l.Accepted(tk)
	if q, _ := l.Quota(); q != 7 {
		t.Fatalf("quota %d after a call beyond it was taken, want 7", q)
	}
	tk = atOnce(t, c, got, 1)[0]
	noneWent(t, got, "beyond the quota while one was out")
	stop()
	c.Advance(10 * time.Millisecond)
	l.Accepted(tk)
	if q, _ := l.Quota(); q != 8 {
		t.Fatalf("quota %d after two calls beyond it were taken, want 8", q)
	}
	// The next goes when the slots of +1s free, not beyond the quota a
	// third time within the window.
	if _, at := wait(t, c, l); at != t0.Add(2*time.Second) {
		t.Fatalf("the next call at +%v, want +2s", at.Sub(t0))
	}
}

// A call goes beyond the quota only while the run's log stays full for
// an eighth of a window more: just before the run's own slots free, the
// service's window is at its fullest, and the call would be refused for
// nothing, and hold the next back a window. Five of the share go at +1s,
// the sixth at +1.8s; the next waits for the slots of +1s, at +2s.
func TestLimiter_NoReachJustBeforeTheRunsSlotsFree(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(10, time.Second, c)
	tickets := burst(t, c, l, 10)
	accept(l, tickets[:6])
	for _, tk := range tickets[6:] {
		l.Throttled(tk, 0, false)
	}
	for range 5 {
		tk, _ := wait(t, c, l)
		l.Accepted(tk)
	}
	c.Advance(t0.Add(1800 * time.Millisecond).Sub(c.Now()))
	tk, at := wait(t, c, l)
	if at != c.Now() {
		t.Fatalf("the sixth sent at +%v, want it at once (+%v)", at.Sub(t0), c.Now().Sub(t0))
	}
	l.Accepted(tk)
	if _, at := wait(t, c, l); at != t0.Add(2*time.Second) {
		t.Fatalf("the next call at +%v, want +2s, when the slots of +1s free", at.Sub(t0))
	}
	if q, _ := l.Quota(); q != 6 {
		t.Fatalf("quota %d, want the share, 6: no call went beyond it", q)
	}
}

// grown returns a share of 6 that two calls beyond it, both taken,
// grew to 8: as many as one window may add.
func grown(t *testing.T) (*fakeclock.Clock, *reconcile.Limiter) {
	t.Helper()
	c, l := shared(t, 6)
	for range 2 {
		tk, _ := wait(t, c, l)
		l.Accepted(tk)
	}
	if q, _ := l.Quota(); q != 8 {
		t.Fatalf("quota %d after two calls beyond it were taken, want 8", q)
	}
	return c, l
}

// A quota that calls beyond it grew, refused at once with calls within
// it, was more than the share: the room was there for a moment only (a
// token bucket's burst that the pause after a 429 refilled, a slot the
// other job's jitter left). The quota goes back to the share, and the
// next call beyond it waits as long as after four refusals in a row.
func TestLimiter_AQuotaGrownBeyondAShareThatIsRefusedGoesBack(t *testing.T) {
	c, l := grown(t)
	// The next window's calls fill the grown quota; the last is refused,
	// with seven of the run's in the service's window.
	var window []reconcile.Ticket
	for range 8 {
		tk, _ := wait(t, c, l)
		window = append(window, tk)
	}
	acceptAll(l, window[:7])
	refusedAt := c.Now()
	l.Throttled(window[7], 0, false)
	if q, _ := l.Quota(); q != 6 {
		t.Fatalf("quota %d after the grown quota was refused, want the share, 6", q)
	}
	for {
		tk, at := wait(t, c, l)
		l.Accepted(tk)
		if q, _ := l.Quota(); q > 6 {
			if want := refusedAt.Add(16 * time.Second); at.Before(want) {
				t.Fatalf("a call beyond the quota went at +%v, want none before +%v", at.Sub(t0), want.Sub(t0))
			}
			return
		}
		if at.After(refusedAt.Add(20 * time.Second)) {
			t.Fatalf("no call beyond the quota by +%v", at.Sub(t0))
		}
	}
}

// Refused, a call beyond the share starts no 429 episode: the quota stays,
// nobody else waits for its Retry-After, and the next goes a window later
// at the soonest, or later still so that at least 20 calls within the
// quota go between two refused ones, and twice as late after each refusal
// in a row.
func TestLimiter_ARefusedReachWaitsLongerEachTime(t *testing.T) {
	c, l := shared(t, 6)
	tk, at := wait(t, c, l)
	if want := t0.Add(time.Second + time.Second/8); at != want {
		t.Fatalf("sent at +%v, want +%v", at.Sub(t0), want.Sub(t0))
	}
	l.Throttled(tk, 2*time.Second, true)
	if q, w := l.Quota(); q != 6 || w != time.Second {
		t.Fatalf("quota %d per %v after a refused reach, want 6 per 1s", q, w)
	}
	// The slots of +1s free at +2s, the Retry-After notwithstanding; then
	// ceil(20/6) = 4 windows pass before the next call beyond the quota,
	// and 8 after that one is refused too.
	fill(t, c, l, t0.Add(2*time.Second), t0.Add(5*time.Second))
	tk, at = wait(t, c, l)
	if want := t0.Add(5*time.Second + time.Second/8); at != want {
		t.Fatalf("the next call beyond the quota at +%v, want +%v", at.Sub(t0), want.Sub(t0))
	}
	l.Throttled(tk, 0, false)
	fill(t, c, l, t0.Add(6*time.Second), t0.Add(13*time.Second))
	tk, at = wait(t, c, l)
	if want := t0.Add(13*time.Second + time.Second/8); at != want {
		t.Fatalf("the call beyond the quota after two refusals at +%v, want +%v", at.Sub(t0), want.Sub(t0))
	}
	l.Accepted(tk)
}

// fill sends the quota of 6 once a second from from to to, each window
// at once when its slots free (no call beyond the quota comes first), and
// has them accepted.
func fill(t *testing.T, c *fakeclock.Clock, l *reconcile.Limiter, from, to time.Time) {
	t.Helper()
	for want := from; !want.After(to); want = want.Add(time.Second) {
		_, stop := waiters(l, 1)
		if at := pending(t, c, 1); at != want {
			t.Fatalf("waiting until +%v, want +%v: the slot that frees, no call beyond the quota", at.Sub(t0), want.Sub(t0))
		}
		stop()
		var window []reconcile.Ticket
		for range 6 {
			c.Advance(want.Sub(c.Now()))
			tk, _ := wait(t, c, l)
			window = append(window, tk)
		}
		acceptAll(l, window)
	}
}

// A quota 429s lowered below a third of the configured one, or a window
// they taught, is the service's limit, not a share: nothing goes beyond it.
func TestLimiter_NoReachBeyondACorrectedRate(t *testing.T) {
	c, l := shared(t, 3)
	got, stop := waiters(l, 1)
	defer stop()
	if at := pending(t, c, 1); at != t0.Add(2*time.Second) {
		t.Fatalf("waiting until +%v, want +2s, when the log frees", at.Sub(t0))
	}
	c.Advance(2 * time.Second)
	<-got
}

// A refused probe whose Retry-After is rounded up to a whole second comes
// back when the run's own refused calls leave the window, if that is
// within the second: a service that logs refused calls holds them for a
// window too.
func TestLimiter_AProbeComesBackWhenTheRefusedCallsLeave(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(10, time.Second, c)
	tickets := burst(t, c, l, 10)
	accept(l, tickets[:8])
	c.Advance(200 * time.Millisecond)
	l.Throttled(tickets[8], 0, false)
	l.Throttled(tickets[9], 0, false)
	probe, at := wait(t, c, l)
	if at != t0.Add(time.Second) {
		t.Fatalf("probe at +%v, want +1s", at.Sub(t0))
	}
	l.Throttled(probe, time.Second, true)
	_, stop := waiters(l, 1)
	defer stop()
	if at := pending(t, c, 1); at != t0.Add(1200*time.Millisecond) {
		t.Fatalf("the next probe waits until +%v, want +1.2s, when the refused calls leave (not +2s)", at.Sub(t0))
	}
}

// A quota grown beyond a share and kept for two windows without a 429 is
// the run's share: a 429 later (another job starting) measures it as any
// other, and does not take it back to what it was before the growth.
func TestLimiter_AGrownQuotaKeptTwoWindowsStays(t *testing.T) {
	c, l := grown(t)
	// The service takes 8 a second for three windows (calls beyond that
	// are refused), then 7.
	svc := &slidingLog{quota: 8}
	for end := c.Now().Add(3 * time.Second); c.Now().Before(end); {
		tk, _ := wait(t, c, l)
		svc.answer(c.Now(), l, tk)
	}
	if q, _ := l.Quota(); q != 8 {
		t.Fatalf("quota %d after three windows at 8, want 8", q)
	}
	svc.quota = 7
	for {
		tk, _ := wait(t, c, l)
		if !svc.answer(c.Now(), l, tk) {
			break
		}
	}
	if q, _ := l.Quota(); q != 7 {
		t.Fatalf("quota %d after a 429 with 7 of the run's in the window, want 7", q)
	}
}

// slidingLog answers calls at once as a service's sliding log of quota
// a second would, and reports whether it took the call.
type slidingLog struct {
	quota int
	taken []time.Time
}

func (s *slidingLog) answer(now time.Time, l *reconcile.Limiter, tk reconcile.Ticket) bool {
	for len(s.taken) > 0 && !s.taken[0].After(now.Add(-time.Second)) {
		s.taken = s.taken[1:]
	}
	if len(s.taken) >= s.quota {
		l.Throttled(tk, 0, false)
		return false
	}
	s.taken = append(s.taken, now)
	l.Accepted(tk)
	return true
}
