package reconcile

import (
	"context"
	"sync"
	"time"
)

// Limiter is the one client-side rate limit shared by every worker of a
// run. It models the service's limiter, a sliding log of accepted requests
// (Django REST Framework's throttle, see docs/explo-api.md): a quota of calls per
// window, of which no window of time may hold more, sent evenly rather
// than in a burst.
//
// It learns from 429s. A 429 says the service's window is full: the quota
// drops to what the service accepted in the last window (another job on
// the same IP takes the rest), every worker waits for one shared instant
// (the Retry-After, or when the oldest send leaves the window), and the
// quota climbs back by one for each window without a 429. Waits are
// checked against the log whenever it changes, never fixed in advance, so
// a call that asked during a slump does not sleep past the recovery.
type Limiter struct {
	clock Clock
	// maxQuota per window is the configured rate, never exceeded.
	maxQuota  int
	maxWindow time.Duration

	mu     sync.Mutex
	quota  int
	window time.Duration
	// sends are the sends not refused, oldest first, within the window;
	// last is the latest send, refused or not, which pacing counts from.
	sends     []send
	last      time.Time
	nextID    uint64
	first     time.Time
	notBefore time.Time
	// lastAdjust is when the quota last dropped: a 429 of a call sent
	// before it says nothing new.
	lastAdjust time.Time
	// calm is when the last 429 arrived or the quota last climbed.
	calm      time.Time
	throttled bool
	// changed is closed and replaced whenever waiters should look again.
	changed chan struct{}
}

type send struct {
	at time.Time
	id uint64
}

// Ticket is what [Limiter.Wait] hands a call, to be given back to
// [Limiter.Throttled] if the call is refused.
type Ticket struct {
	id uint64
	at time.Time
}

// Sent is when the limiter let the call go.
func (t Ticket) Sent() time.Time { return t.at }

// margin widens the window by 2%, so that the jitter between sending a
// call and its arrival never lands call i+quota inside the service's
// window of call i.
const margin = 1.02

// maxLearnedWindow bounds the window a Retry-After can teach.
const maxLearnedWindow = time.Hour

// NewLimiter returns a limiter of quota calls per window on clock c.
func NewLimiter(quota int, window time.Duration, c Clock) *Limiter {
	quota = max(quota, 1)
	return &Limiter{clock: c, maxQuota: quota, maxWindow: window, quota: quota, window: window, changed: make(chan struct{})}
}

// Quota returns the current quota and window.
func (l *Limiter) Quota() (int, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.quota, l.window
}

// Interval is the time between two sends at the configured rate.
func (l *Limiter) Interval() time.Duration {
	return time.Duration(float64(l.maxWindow) * margin / float64(l.maxQuota))
}

// Wait blocks until a call may start, and records it as sent.
func (l *Limiter) Wait(ctx context.Context) (Ticket, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Ticket{}, err
		}
		l.mu.Lock()
		now := l.clock.Now()
		l.climb(now)
		at := l.earliest(now)
		if !at.After(now) {
			t := l.take(now)
			l.mu.Unlock()
			return t, nil
		}
		changed := l.changed
		l.mu.Unlock()
		timer := l.clock.NewTimer(at.Sub(now))
		select {
		case <-timer.C():
		case <-changed:
		case <-ctx.Done():
			timer.Stop()
			return Ticket{}, ctx.Err()
		}
		timer.Stop()
	}
}

func (l *Limiter) span() time.Duration { return time.Duration(float64(l.window) * margin) }

// earliest is when the next call may start: not before the shared
// instant, one interval after the last send, and once the oldest send of a
// full window has left it.
func (l *Limiter) earliest(now time.Time) time.Time {
	span := l.span()
	l.prune(now)
	at := l.notBefore
	if !l.last.IsZero() {
		at = later(at, l.last.Add(span/time.Duration(l.quota)))
	}
	if n := len(l.sends); n >= l.quota {
		if oldest := l.sends[n-l.quota].at; oldest.After(now.Add(-span)) {
			at = later(at, oldest.Add(span))
		}
	}
	return at
}

// maxHistory bounds the sends kept to learn a window from.
const maxHistory = 1 << 16

// prune drops the sends that no longer matter: those older than the
// window, and, until the first 429 teaches a window, those older than the
// longest window it could teach.
func (l *Limiter) prune(now time.Time) {
	horizon := l.span()
	if !l.throttled {
		horizon = maxLearnedWindow
	}
	cut := now.Add(-horizon)
	i := 0
	for i < len(l.sends) && !l.sends[i].at.After(cut) {
		i++
	}
	if n := len(l.sends) - i; n > maxHistory {
		i += n - maxHistory
	}
	if i > 0 {
		l.sends = append(l.sends[:0], l.sends[i:]...)
	}
}

func (l *Limiter) take(now time.Time) Ticket {
	l.nextID++
	if l.first.IsZero() {
		l.first, l.calm = now, now
	}
	l.sends = append(l.sends, send{at: now, id: l.nextID})
	l.last = now
	return Ticket{id: l.nextID, at: now}
}

// climb raises the quota by one for each window of sending without a
// 429; the wait a 429 imposed does not count.
func (l *Limiter) climb(now time.Time) {
	limit := max(l.maxQuota*int(l.window/l.maxWindow), l.maxQuota)
	if l.calm.IsZero() {
		return
	}
	l.calm = later(l.calm, l.notBefore)
	for l.quota < limit && now.Sub(l.calm) >= l.window {
		l.quota++
		l.calm = l.calm.Add(l.window)
	}
}

// Throttled tells the limiter that the call of t was refused with a 429,
// and what Retry-After it carried.
func (l *Limiter) Throttled(t Ticket, retryAfter time.Duration, has bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	for i := len(l.sends) - 1; i >= 0; i-- {
		if l.sends[i].id == t.id {
			l.sends = append(l.sends[:i], l.sends[i+1:]...)
			break
		}
	}
	l.calm = now
	if t.at.Before(l.lastAdjust) {
		return
	}
	if !l.throttled {
		l.throttled = true
		l.learnWindow(now, retryAfter, has)
	}
	// What the service accepted in its last window, calls in flight
	// included; when every send was refused there is nothing to learn.
	n := 0
	for _, s := range l.sends {
		if s.at.After(now.Add(-l.window)) {
			n++
		}
	}
	if n > 0 {
		l.quota = n
	}
	if has {
		l.notBefore = later(l.notBefore, l.resume(now, retryAfter))
	}
	l.lastAdjust = now
	close(l.changed)
	l.changed = make(chan struct{})
}

// resume is when to come back after a 429 with a Retry-After. The
// service rounds it up to a whole second (DRF writes whole seconds, an
// HTTP date has no fraction), which against a one-second window can be a
// whole window lost; when the own log says the oldest send leaves within
// that second, it is trusted instead. A log that is wrong (another job
// holds part of the quota) costs one more 429, not a wait.
func (l *Limiter) resume(now time.Time, retryAfter time.Duration) time.Time {
	told := now.Add(retryAfter)
	n := len(l.sends)
	if n < l.quota {
		return told
	}
	own := l.sends[n-l.quota].at.Add(l.span())
	if own.After(now) && own.Before(told) && told.Sub(own) < time.Second {
		return own
	}
	return told
}

// learnWindow learns the service's window from the first 429 of a run.
// The service says when its oldest request leaves its window; when that
// is well past a window of ours, its window is longer than configured
// (`--rate 5/s` against 180 a minute) and began with our first send. A
// Retry-After just past one window is the rounding of an HTTP date, and
// teaches nothing.
func (l *Limiter) learnWindow(now time.Time, retryAfter time.Duration, has bool) {
	if !has || retryAfter < 2*l.window {
		return
	}
	w := now.Add(retryAfter).Sub(l.first).Truncate(time.Second)
	if w > l.window && w <= maxLearnedWindow {
		l.window = w
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
