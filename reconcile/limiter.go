package reconcile

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is the one client-side rate limit shared by every worker of a run.
// It adapts: a 429 means the real limit is lower than configured (another
// job on the same IP, say), so the rate is halved, then it climbs back
// additively with each success, like TCP's congestion window. That keeps a
// misconfigured or crowded run to a few 429s instead of a storm.
type Limiter struct {
	lim *rate.Limiter
	max rate.Limit

	mu sync.Mutex
	// cutUntil spaces decreases: the 429s of calls already in flight when
	// the rate was cut say nothing new and must not cut it again.
	cutUntil time.Time
	now      func() time.Time
}

// NewLimiter returns a limiter of perSecond calls with no burst, so that
// concurrency never sends more than one call at a time above the rate.
func NewLimiter(perSecond float64) *Limiter {
	return &Limiter{lim: rate.NewLimiter(rate.Limit(perSecond), 1), max: rate.Limit(perSecond), now: time.Now}
}

// Wait blocks until a call may start.
func (l *Limiter) Wait(ctx context.Context) error { return l.lim.Wait(ctx) }

// Rate returns the current rate in calls per second.
func (l *Limiter) Rate() float64 { return float64(l.lim.Limit()) }

// minRate keeps the limiter from stalling: one call per ten seconds still
// probes whether the service has recovered.
const minRate = 0.1

// Throttled halves the rate after a 429.
func (l *Limiter) Throttled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Before(l.cutUntil) {
		return
	}
	r := max(l.lim.Limit()/2, minRate)
	l.lim.SetLimitAt(now, r)
	// Calls sent in the next second were paced at the old rate already.
	l.cutUntil = now.Add(time.Second)
}

// Succeeded raises the rate by a fiftieth of the configured rate, up to it.
func (l *Limiter) Succeeded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.lim.Limit()
	if r >= l.max {
		return
	}
	l.lim.SetLimitAt(l.now(), min(r+l.max/50, l.max))
}
