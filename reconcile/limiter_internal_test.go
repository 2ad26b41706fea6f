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
