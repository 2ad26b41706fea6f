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

func TestLimiter_PacesEvenlyWithinTheQuota(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(10, time.Second, c)
	var sent []time.Time
	for range 40 {
		_, at := wait(t, c, l)
		sent = append(sent, at)
	}
	gap := 102 * time.Millisecond // a window with 2% margin, over the quota
	for i := 1; i < len(sent); i++ {
		if d := sent[i].Sub(sent[i-1]); d != gap {
			t.Fatalf("send %d came %v after the one before, want %v", i, d, gap)
		}
	}
	for i := 10; i < len(sent); i++ {
		if d := sent[i].Sub(sent[i-10]); d < time.Second {
			t.Fatalf("sends %d..%d fall within %v: more than the quota in a window", i-10, i, d)
		}
	}
}

func TestLimiter_ThrottledLearnsTheQuotaAndSharesTheWait(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(10, time.Second, c)
	var tickets []reconcile.Ticket
	var first time.Time
	for i := range 6 {
		tk, at := wait(t, c, l)
		if i == 0 {
			first = at
		}
		tickets = append(tickets, tk)
	}
	// The sixth is refused: the service took 5 in its window (another job
	// on the IP has the rest), and asks to come back in 1.5s.
	l.Throttled(tickets[5], 1500*time.Millisecond, true)
	if q, w := l.Quota(); q != 5 || w != time.Second {
		t.Fatalf("quota %d per %v after a 429, want 5 per 1s", q, w)
	}
	throttledAt := c.Now()
	// A 429 of a call sent before the adjustment says nothing new.
	c.Advance(time.Millisecond)
	l.Throttled(tickets[4], 0, false)
	if q, _ := l.Quota(); q != 5 {
		t.Fatalf("a stale 429 changed the quota to %d", q)
	}
	// Every caller waits for one and the same instant. Retry-After is
	// whole seconds rounded up; the own log says the oldest send leaves
	// the window within that second, and is trusted.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Wait(ctx)
		}()
	}
	c.BlockUntil(3, nil)
	want := first.Add(1020 * time.Millisecond)
	for _, at := range c.Pending() {
		if at != want || at.After(throttledAt.Add(1500*time.Millisecond)) {
			t.Errorf("a caller waits until +%v, want when the oldest send left the window (+%v)", at.Sub(throttledAt), want.Sub(throttledAt))
		}
	}
	cancel()
	wg.Wait()
	// Then sends are paced at the learned quota.
	_, a := wait(t, c, l)
	_, b := wait(t, c, l)
	if a != want || b.Sub(a) != 204*time.Millisecond {
		t.Errorf("sends at +%v and +%v, want +%v and 204ms later", a.Sub(throttledAt), b.Sub(throttledAt), want.Sub(throttledAt))
	}
}

func TestLimiter_TrustsALongerRetryAfter(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(10, time.Second, c)
	var tk reconcile.Ticket
	for range 3 {
		tk, _ = wait(t, c, l)
	}
	throttledAt := c.Now()
	l.Throttled(tk, 1900*time.Millisecond, true)
	if _, at := wait(t, c, l); at != throttledAt.Add(1900*time.Millisecond) {
		t.Fatalf("sent at +%v, want +1.9s", at.Sub(throttledAt))
	}
}

func TestLimiter_WithoutRetryAfterWaitsForTheOldestToLeave(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(4, time.Second, c)
	var tickets []reconcile.Ticket
	var first time.Time
	for i := range 4 {
		tk, at := wait(t, c, l)
		if i == 0 {
			first = at
		}
		tickets = append(tickets, tk)
	}
	l.Throttled(tickets[3], 0, false)
	if q, _ := l.Quota(); q != 3 {
		t.Fatalf("quota %d, want 3", q)
	}
	_, at := wait(t, c, l)
	if want := first.Add(1020 * time.Millisecond); at.Before(want) {
		t.Fatalf("sent at +%v, before the oldest send left the window (+%v)", at.Sub(first), want.Sub(first))
	}
}

func TestLimiter_ClimbsBackAfterACalmWindow(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(10, time.Second, c)
	var tickets []reconcile.Ticket
	for range 3 {
		tk, _ := wait(t, c, l)
		tickets = append(tickets, tk)
	}
	l.Throttled(tickets[2], 0, false)
	if q, _ := l.Quota(); q != 2 {
		t.Fatalf("quota %d, want 2", q)
	}
	c.Advance(3500 * time.Millisecond)
	wait(t, c, l)
	if q, _ := l.Quota(); q != 5 {
		t.Fatalf("quota %d after three calm windows, want 5", q)
	}
	c.Advance(time.Minute)
	wait(t, c, l)
	if q, _ := l.Quota(); q != 10 {
		t.Fatalf("quota %d, want it back to the configured 10 and no more", q)
	}
}

// --rate 5/s against a service that allows 60 a minute: the first 429
// says the oldest request leaves in 48s, which teaches a 60s window.
func TestLimiter_LearnsALongerWindow(t *testing.T) {
	c := fakeclock.New(t0)
	l := reconcile.NewLimiter(5, time.Second, c)
	var tk reconcile.Ticket
	var first time.Time
	for i := range 61 {
		var at time.Time
		tk, at = wait(t, c, l)
		if i == 0 {
			first = at
		}
	}
	ra := first.Add(time.Minute).Sub(c.Now())
	l.Throttled(tk, ra, true)
	if q, w := l.Quota(); w != time.Minute || q != 60 {
		t.Fatalf("quota %d per %v, want 60 per 1m0s", q, w)
	}
	_, at := wait(t, c, l)
	_, next := wait(t, c, l)
	if gap := next.Sub(at); gap < time.Second {
		t.Fatalf("sends %v apart, want a minute's quota paced over the minute", gap)
	}
}
