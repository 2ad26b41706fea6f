package reconcile

import "time"

// Reaching beyond a learnt share. A quota that 429s lowered because
// another job shares the service's is a share, and the other job may end
// (a second groupsync finishing first) and leave its slots unused; the
// run would never know, for its log alone keeps it from sending more.
// So, while the log is full and the run has sent nothing for an eighth
// of a window (long enough for a live co-runner to have refilled the
// slots that freed with the run's), not in the window after a 429 wait
// (which a token bucket refills), and not in the last eighth of a window
// before the run's own slots free (the service's window is at its
// fullest then, and a refusal would hold the next a window back), one
// call goes beyond the quota.
// Taken, the service had room: the quota grows by one and the next goes
// at once, up to a quarter of the share (two at the least) in a window,
// the rest a window later, so that a share left whole comes back within
// a few windows, and a token bucket's burst (which takes many at once for
// a moment) does not pass for a share left. Refused, it says only that
// the service is full: it starts no 429 episode and holds nobody else,
// and the next waits a window (or as many as it takes for the quota to
// send reachCalls), twice as many after each refusal in a row, up to
// maxReachWindows. A quota so grown that the service then refuses had
// room for a moment only (a token bucket's burst, which refills whenever
// the run pauses): it goes back, and the next call beyond it waits the
// longest. A live co-runner costs a handful of refused calls per run, never a
// storm, and one that ends is found within a window at first. After a
// collapse (a service that counts refused calls) nothing goes beyond the
// quota: each refusal there would cost more than one call.

// reachIdle is how long, as a share of the window, the log must have
// been full without a send before a call reaches beyond it.
const reachIdle = 8

// reachCalls is the fewest calls within the quota between two refused
// calls beyond it.
const reachCalls = 20

// maxReachWindows bounds the windows between two refused calls beyond
// the quota.
const maxReachWindows = 16

// reachTime is when a call may go beyond the full log, if one may.
// Callers hold l.mu.
func (l *Limiter) reachTime() (time.Time, bool) {
	if l.reaching > 0 || l.episode || !l.sharing() {
		return time.Time{}, false
	}
	at := later(l.notBefore.Add(l.window), l.reachAt)
	if !l.chain {
		at = later(at, l.lastSend.Add(l.window/reachIdle))
	}
	return at, true
}

// sharing reports whether the quota looks like a share of the configured
// rate rather than a correction of it: 429s lowered it, to no less than a
// third, never collapsed it, and taught no longer window. A quota far
// below the configured one, or a longer window, says the configured rate
// is wrong (too fast, or a token bucket's burst that does not last), and
// a call beyond it would only be refused; a collapse, that refused calls
// cost more than themselves.
func (l *Limiter) sharing() bool {
	return l.episodes > 0 && !l.collapsed && l.window == l.maxWindow && l.quota < l.maxQuota && 3*l.quota >= l.maxQuota
}

// reached ends a call that went beyond the quota. Callers hold l.mu.
func (l *Limiter) reached(now time.Time, taken bool) {
	l.reaching--
	switch {
	case !taken:
		l.missed(now)
	case !l.episode:
		// An episode since measured the quota, this call included.
		if l.gained > 0 && now.Sub(l.gainAt) >= l.window {
			l.gained = 0 // a window at the grown quota passed without a 429
		}
		if l.gained == 0 {
			l.base, l.baseTop, l.gainAt = l.quota, l.top, now
		}
		l.quota = min(l.quota+1, l.limit())
		l.top = max(l.top, l.quota)
		l.gained++
		l.chain, l.reachAt = true, now
		if l.gained >= max(2, l.base/4) {
			// Enough for one window: the rest once it has passed.
			l.chain, l.reachAt = false, l.gainAt.Add(l.window)
		}
		if l.quota == l.limit() {
			l.reachMisses = 0
		}
	}
}

// missed backs off after a call beyond the quota was refused, or the
// quota it grew was: the next waits a window, or as many as it takes for
// the quota to send reachCalls, twice as many after each miss in a row.
func (l *Limiter) missed(now time.Time) {
	windows := max(1, (reachCalls+l.quota-1)/l.quota) << min(l.reachMisses, 4)
	l.reachMisses++
	l.chain, l.reachAt = false, now.Add(time.Duration(min(windows, maxReachWindows))*l.window)
}

// holdReach keeps calls from reaching after a 429 that was not a
// reach's: for a window, the quota having just been measured; for longer
// when calls beyond the quota had grown it within the two windows before,
// for then the service had room only for a moment (a token bucket's
// burst, a slot the other job's jitter left), and the quota they grew,
// more than the share, goes back to what it was (and so does the most
// the service took, which a collapse would climb back to). Kept longer, the grown
// quota was the share, and the 429 measures it as any other.
func (l *Limiter) holdReach(now time.Time) {
	if l.gained > 0 && now.Sub(l.gainAt) < 2*l.window {
		l.quota, l.top = min(l.quota, l.base), l.baseTop
		l.gained, l.reachMisses = 0, max(l.reachMisses, 4)
		l.missed(now)
		return
	}
	l.chain = false
	l.reachAt = later(l.reachAt, now.Add(l.window))
}
