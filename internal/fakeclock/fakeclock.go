// Package fakeclock is a clock that only moves when a test says so, for the
// limiter, backoff and watchdog tests: they advance time and wait for the
// goroutines under test to block, instead of sleeping and hoping.
package fakeclock

import (
	"sort"
	"sync"
	"time"

	"groupsync/reconcile"
)

var _ reconcile.Clock = (*Clock)(nil)

// Clock is a fake clock. Its zero value is not usable; call [New].
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*Timer
	blocked chan struct{} // closed and replaced when a timer is added
}

// New returns a clock standing at start.
func New(start time.Time) *Clock {
	return &Clock{now: start, blocked: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the clock reaches now+d. A
// timer of d <= 0 fires at once.
func (c *Clock) NewTimer(d time.Duration) reconcile.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &Timer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		t.fired = true
		return t
	}
	c.timers = append(c.timers, t)
	close(c.blocked)
	c.blocked = make(chan struct{})
	return t
}

// Advance moves the clock forward by d, firing every timer due on the way
// in order.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	end := c.now.Add(d)
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	keep := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(end) {
			keep = append(keep, t)
			continue
		}
		if t.at.After(c.now) {
			c.now = t.at
		}
		t.fired = true
		t.ch <- c.now
	}
	c.timers = keep
	c.now = end
}

// Pending returns when the pending timers fire, earliest first.
func (c *Clock) Pending() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Time, len(c.timers))
	for i, t := range c.timers {
		out[i] = t.at
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// BlockUntil returns true once at least n timers are pending (the
// goroutines under test have reached their waits), or false when done is
// closed first.
func (c *Clock) BlockUntil(n int, done <-chan struct{}) bool {
	for {
		c.mu.Lock()
		if len(c.timers) >= n {
			c.mu.Unlock()
			return true
		}
		ch := c.blocked
		c.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return false
		}
	}
}

// Drive advances the clock to the next timer whenever n timers are
// pending, until done is closed: for code under test whose goroutines all
// wait on the clock when idle.
func (c *Clock) Drive(n int, done <-chan struct{}) {
	for c.BlockUntil(n, done) {
		c.mu.Lock()
		// Look again under the lock: a timer may have been stopped since.
		var next time.Time
		if len(c.timers) >= n {
			next = c.timers[0].at
			for _, t := range c.timers[1:] {
				if t.at.Before(next) {
					next = t.at
				}
			}
		}
		c.mu.Unlock()
		if !next.IsZero() {
			c.Advance(next.Sub(c.Now()))
		}
	}
}

// Next returns the time of the earliest pending timer, and false when none
// is pending.
func (c *Clock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	next := c.timers[0].at
	for _, t := range c.timers[1:] {
		if t.at.Before(next) {
			next = t.at
		}
	}
	return next, true
}

// Timer is a timer of a fake [Clock].
type Timer struct {
	c     *Clock
	at    time.Time
	ch    chan time.Time
	fired bool
}

// C returns the channel the timer fires on.
func (t *Timer) C() <-chan time.Time { return t.ch }

// Stop removes the timer; it reports whether the timer was still pending.
func (t *Timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.fired {
		return false
	}
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			break
		}
	}
	t.fired = true
	return true
}
