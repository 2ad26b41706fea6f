package reconcile

import (
	"context"
	"sync"

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
	// gen counts cuts. A call carries the generation it started in, and
	// only a 429 from a call sent at the current rate cuts it again: the
	// 429s of calls already in flight at the old rate say nothing new.
	gen uint64
}

// Ticket is what [Limiter.Wait] hands a call, to be given back to
// [Limiter.Throttled] if the call is refused.
type Ticket struct{ gen uint64 }

// NewLimiter returns a limiter of perSecond calls with no burst, so that
// concurrency never sends more than one call at a time above the rate.
func NewLimiter(perSecond float64) *Limiter {
	return &Limiter{lim: rate.NewLimiter(rate.Limit(perSecond), 1), max: rate.Limit(perSecond)}
}

// Wait blocks until a call may start.
func (l *Limiter) Wait(ctx context.Context) (Ticket, error) {
	if err := l.lim.Wait(ctx); err != nil {
		return Ticket{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return Ticket{gen: l.gen}, nil
}

// Rate returns the current rate in calls per second.
func (l *Limiter) Rate() float64 { return float64(l.lim.Limit()) }

// minRate keeps the limiter from stalling: one call per ten seconds still
// probes whether the service has recovered.
const minRate = 0.1

// Throttled halves the rate after a 429 of a call sent at the current rate.
func (l *Limiter) Throttled(t Ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.gen != l.gen {
		return
	}
	l.gen++
	l.lim.SetLimit(max(l.lim.Limit()/2, minRate))
}

// Succeeded raises the rate by a fiftieth of the configured rate, up to it.
func (l *Limiter) Succeeded() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.lim.Limit(); r < l.max {
		l.lim.SetLimit(min(r+l.max/50, l.max))
	}
}
