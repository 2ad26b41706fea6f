package reconcile

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Limiter is the one client-side rate limit shared by every worker of a
// run. It models the service's limiter, a sliding log of accepted requests
// (Django REST Framework's throttle, see docs/explo-api.md): a quota of calls per window, of which
// no window of time may hold more. It is a sliding log itself: a call may
// start whenever fewer than the quota of the run's unrefused calls fall
// within the last window. An answered call is logged when its answer came,
// which is after the service logged it, whatever the jitter on the way: a
// call that takes its slot a window later cannot arrive inside the
// service's window, and no margin is needed. A call in flight holds its
// slot until it is answered. Nothing is spaced out: a run that starts with
// an idle window sends a whole quota at once, as the service allows.
//
// It learns from 429s. A 429 says the service's window is full: the quota
// drops to what the service took from this run in its window (another job
// on the same IP takes the rest; a call that overtook the refused one on
// the way counts, limiter_learn.go), every worker waits for one shared
// instant (the Retry-After), and until a call gets through again only one
// call at a time probes, further apart after each refusal, so that a
// service that stays full (or counts refused calls against the quota)
// gets a handful of calls per window. A Retry-After longer than the
// window, or the first refusals of a run lasting longer, teach a longer
// window. A quota that collapsed comes back within a few calm windows;
// beyond what the service took, it grows by one after ten windows without
// a 429, after forty once 429s showed that another job shares the quota.
// A share that the other job may leave whole is reached beyond now and
// then (limiter_reach.go). Waits are checked against the log whenever it
// changes, never fixed in advance, so a call that asked during a slump
// does not sleep past the recovery.
type Limiter struct {
	clock Clock
	// maxQuota per maxWindow is the configured rate, never exceeded.
	maxQuota  int
	maxWindow time.Duration

	mu     sync.Mutex
	quota  int
	window time.Duration
	// sends are the run's answered, unrefused calls, oldest first, as far
	// back as the longest window a 429 could teach, each at its answer;
	// flight are those sent and not yet answered, each at its send.
	// first is the run's first send.
	sends  []send
	flight []send
	nextID uint64
	// refusals are when the run's refused calls of the last window were
	// answered.
	refusals []time.Time
	first    time.Time
	// notBefore is the instant every worker waits for after a 429.
	notBefore time.Time

	// An episode runs from a 429 (at episodeAt) until a call sent after
	// it is accepted. Meanwhile one call at a time probes (probing counts
	// those in flight), and each refused probe (strikes, the last sent at
	// lastStrike) doubles the gap before the next. episodes counts them.
	episode    bool
	episodeAt  time.Time
	episodes   int
	probing    int
	strikes    int
	lastStrike time.Time
	// until is the latest refused send of the episode that was not a
	// probe: the quota is measured in the window before it (measured,
	// from before, the quota when the episode began).
	until            time.Time
	measured, before int

	// top is the most the service took from the run in a window; a
	// measure below it shows the quota is shared. peak is what a collapse
	// fell from, to climb back to (recovering meanwhile).
	top, peak  int
	recovering bool
	// collapsed is set once a quota collapsed: no call goes beyond it
	// again.
	collapsed bool
	shared    bool
	// calm is when the last 429 came; calmWindows counts the windows
	// since.
	calm        time.Time
	calmWindows int

	// Calls beyond a full log (limiter_reach.go): reaching are in
	// flight; none goes before reachAt, nor, unless chain says the last
	// was taken, before the log has been full a while after lastSend,
	// the run's last call within its quota; reachMisses counts those
	// refused in a row. gained is how much they grew the quota from base
	// (and top from baseTop) since gainAt, the first of them, with no 429
	// that was not a reach's since.
	reaching      int
	chain         bool
	reachAt       time.Time
	lastSend      time.Time
	reachMisses   int
	gained        int
	base, baseTop int
	gainAt        time.Time

	// changed is closed and replaced whenever waiters should look again.
	changed chan struct{}
}

type send struct {
	// at is when the call was answered, or sent while in flight.
	at, sent time.Time
	id       uint64
	// probe marks a call the others wait for: those sent
	// during a 429 episode.
	probe bool
	// reach marks a call sent beyond a full log: see limiter_reach.go.
	reach bool
}

// Ticket is what [Limiter.Wait] hands a call, to be given back to
// [Limiter.Throttled] if the call is refused, or [Limiter.Accepted] once
// it is not.
type Ticket struct {
	id uint64
	at time.Time
}

// Sent is when the limiter let the call go.
func (t Ticket) Sent() time.Time { return t.at }

// maxLearnedWindow bounds the window a 429 can teach.
const maxLearnedWindow = time.Hour

// probeWindows is how many windows without a 429 pass before the quota
// grows by one; sharedProbeWindows, once another job is known to share
// it.
const (
	probeWindows       = 10
	sharedProbeWindows = 40
)

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

// Interval is the configured window over the configured quota: how long
// one call's share of a window is.
func (l *Limiter) Interval() time.Duration {
	return l.maxWindow / time.Duration(l.maxQuota)
}

// forever stands for "until the log changes".
var forever = time.Unix(1<<62, 0)

// Wait blocks until a call may start, and records it as sent.
func (l *Limiter) Wait(ctx context.Context) (Ticket, error) {
	for {
		if err := ctx.Err(); err != nil {
			return Ticket{}, err
		}
		l.mu.Lock()
		now := l.clock.Now()
		at := l.earliest(now)
		if !at.After(now) {
			t := l.take(now)
			l.mu.Unlock()
			return t, nil
		}
		changed := l.changed
		l.mu.Unlock()
		var fired <-chan time.Time
		var timer Timer
		if at != forever {
			timer = l.clock.NewTimer(at.Sub(now))
			fired = timer.C()
		}
		select {
		case <-fired:
		case <-changed:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// earliest is when the next call may start: not before the shared
// instant, not while a probe is out, and once a full window's oldest send
// has left it. Callers hold l.mu.
func (l *Limiter) earliest(now time.Time) time.Time {
	l.climb(now)
	l.prune(now)
	if l.probing > 0 {
		return forever
	}
	at := later(l.notBefore, l.free(now))
	if at.After(now) {
		if r, ok := l.reachTime(); ok && !r.After(at.Add(-l.window/reachIdle)) {
			at = r
		}
	}
	return at
}

// free is when the window next has room: the instant the oldest of the
// answered calls that fill it with those in flight leaves it. While calls
// in flight alone fill it, that is when one is answered.
func (l *Limiter) free(now time.Time) time.Time {
	k := l.quota - len(l.flight)
	if k <= 0 {
		return forever
	}
	if n := len(l.sends); n >= k {
		if oldest := l.sends[n-k].at; oldest.After(now.Add(-l.window)) {
			return oldest.Add(l.window)
		}
	}
	return time.Time{}
}

// maxHistory bounds the sends kept to learn a window from.
const maxHistory = 1 << 16

// prune drops the sends that no longer matter.
func (l *Limiter) prune(now time.Time) {
	cut := now.Add(-max(maxLearnedWindow, l.window))
	i := sort.Search(len(l.sends), func(i int) bool { return l.sends[i].at.After(cut) })
	if n := len(l.sends) - i; n > maxHistory {
		i += n - maxHistory
	}
	if i > len(l.sends)/2 || (i > 0 && len(l.sends) == cap(l.sends)) {
		l.sends = append(l.sends[:0], l.sends[i:]...)
	} else if i > 0 {
		l.sends = l.sends[i:]
	}
}

func (l *Limiter) take(now time.Time) Ticket {
	l.nextID++
	if l.first.IsZero() {
		l.first, l.calm = now, now
	}
	// After a 429, one call at a time probes. (The run's first call goes
	// alone too, but that is the run's Gate, which waits for an answer
	// showing the URL and the token are right, not only for one that was
	// not refused.)
	s := send{at: now, sent: now, id: l.nextID, probe: l.episode}
	switch {
	case s.probe:
		l.probing++
	case l.free(now).After(now):
		s.reach = true
		l.reaching++
	default:
		l.lastSend = now
	}
	l.flight = append(l.flight, s)
	return Ticket{id: l.nextID, at: now}
}

// limit is the configured quota, scaled to a learnt window.
func (l *Limiter) limit() int {
	return max(l.maxQuota*int(l.window/l.maxWindow), l.maxQuota)
}

// land takes the call of t out of flight, and reports what it was.
func (l *Limiter) land(t Ticket) (send, bool) {
	for i, s := range l.flight {
		if s.id == t.id {
			l.flight = append(l.flight[:i], l.flight[i+1:]...)
			if s.probe {
				l.probing--
			}
			return s, true
		}
	}
	return send{}, false
}

func (l *Limiter) signal() {
	close(l.changed)
	l.changed = make(chan struct{})
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
