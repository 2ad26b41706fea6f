package reconcile

import (
	"testing"
	"time"
)

// While a probe is out (the first call after a 429), no other call may
// start, and not for a time either: until its answer. The run's first call
// goes alone by the run's Gate, not by the limiter.
func TestLimiter_AProbeHoldsTheOthersUntilItsAnswer(t *testing.T) {
	c := &simClock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	l := NewLimiter(10, time.Second, c)
	hold := func(what string, want bool) {
		t.Helper()
		l.mu.Lock()
		at := l.earliest(c.now)
		l.mu.Unlock()
		if got := at == forever; got != want {
			t.Fatalf("%s: earliest %v, want held %v", what, at, want)
		}
	}
	take := func() Ticket {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.take(c.now)
	}
	first := take()
	hold("the first call out", false)
	l.Accepted(first)
	var sent []Ticket
	for range 9 {
		sent = append(sent, take())
	}
	c.now = c.now.Add(10 * time.Millisecond)
	l.Throttled(sent[8], time.Second, true)
	c.now = c.now.Add(time.Second)
	hold("after the wait, no probe yet", false)
	probe := take()
	hold("the probe out", true)
	c.now = c.now.Add(5 * time.Millisecond)
	l.Throttled(probe, 0, false)
	hold("the probe refused", false)
	c.now = c.now.Add(time.Second)
	probe = take()
	hold("the next probe out", true)
	l.Accepted(sent[0]) // not a probe: changes nothing
	hold("another call answered", true)
	l.Accepted(probe)
	hold("the probe accepted", false)
}

// shareOfSix returns a limiter of 10 a second with a share of 6 learnt a
// minute into the run, the episode over, and a function that takes a
// ticket now.
func shareOfSix() (*simClock, *Limiter, func() Ticket) {
	c := &simClock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	l := NewLimiter(10, time.Second, c)
	l.first, l.calm = c.now.Add(-time.Minute), c.now
	l.episodes, l.quota, l.top, l.peak = 1, 6, 6, 6
	take := func() Ticket {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.take(c.now)
	}
	return c, l, take
}

// collapse refuses a call with two of the run's in the window, a
// collapse of a share of six, and lets the probe through a window later.
func collapse(t *testing.T, c *simClock, l *Limiter, take func() Ticket) {
	t.Helper()
	l.Accepted(take())
	l.Accepted(take())
	l.Throttled(take(), 0, false)
	if q, _ := l.Quota(); q != 2 {
		t.Fatalf("quota %d after the collapse, want 2", q)
	}
	c.now = c.now.Add(time.Second)
	l.Accepted(take()) // the probe
}

// A quota that collapsed (a 429 with less than half of what the service
// took before in the window) says the service counts refused calls, or
// another job takes bursts: a call beyond the quota would cost more than
// one refusal. Climbed back to its share, the quota is not reached beyond
// for the rest of the run.
func TestLimiter_NoReachAfterACollapse(t *testing.T) {
	c, l, take := shareOfSix()
	sharing := func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.earliest(c.now)
		return l.sharing()
	}
	if !sharing() {
		t.Fatal("a share of 6 of 10 is not reached beyond")
	}
	collapse(t, c, l, take)
	c.now = c.now.Add(3 * time.Second)
	if sharing() {
		t.Fatal("reaching beyond the share after a collapse")
	}
	if q, _ := l.Quota(); q != 6 {
		t.Fatalf("quota %d three windows after the collapse, want 6 again", q)
	}
}

// A quota that calls beyond it grew and the service then refused goes
// back to the share, and so does the most the service ever took: a later
// collapse climbs back to the share, not to room that lasted a moment.
func TestLimiter_ACollapseAfterARefusedGainClimbsBackToTheShare(t *testing.T) {
	c, l, take := shareOfSix()
	// Two calls beyond the share, taken.
	l.mu.Lock()
	l.reaching = 2
	l.reached(c.now, true)
	l.reached(c.now, true)
	l.mu.Unlock()
	if q, _ := l.Quota(); q != 8 {
		t.Fatalf("quota %d after two calls beyond it were taken, want 8", q)
	}
	collapse(t, c, l, take)
	c.now = c.now.Add(4 * time.Second)
	l.mu.Lock()
	l.earliest(c.now) // the climb is counted when a call asks
	l.mu.Unlock()
	if q, _ := l.Quota(); q != 6 {
		t.Fatalf("quota %d four windows after the collapse, want the share, 6", q)
	}
}
