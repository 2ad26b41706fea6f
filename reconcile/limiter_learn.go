package reconcile

import (
	"sort"
	"time"
)

// What the limiter learns from the answers to its calls.

// climb gives the quota back after calm windows: doubling each window
// up to the peak a collapse fell from, then by one every few windows
// (probeWindows), and rarer still once 429s showed that another job
// shares the quota. The wait a 429 imposed does not count as calm.
func (l *Limiter) climb(now time.Time) {
	if l.calm.IsZero() || l.episode {
		return
	}
	l.calm = later(l.calm, l.notBefore)
	for now.Sub(l.calm) >= l.window {
		l.calm = l.calm.Add(l.window)
		l.calmWindows++
		every := probeWindows
		if l.shared {
			every = sharedProbeWindows
		}
		switch {
		case l.quota < l.peak:
			l.quota, l.recovering = min(l.peak, 2*l.quota), true
		case l.calmWindows%every == 0:
			l.quota, l.recovering = l.quota+1, false
		default:
			l.recovering = false
		}
		l.quota = min(l.quota, l.limit())
	}
}

// Accepted tells the limiter that the call of t was not refused: it is
// logged now, its answer being later than its arrival. The first call
// accepted after a 429 ends the probing.
func (l *Limiter) Accepted(t Ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.land(t)
	if !ok {
		return
	}
	now := l.clock.Now()
	l.sends = append(l.sends, send{at: now, sent: s.sent, id: s.id})
	defer l.signal()
	if s.reach {
		l.reached(now, true)
	}
	if l.overtook(s, now) {
		l.recount(l.quota + 1)
	}
	if s.probe && l.episode && !t.at.Before(l.episodeAt) {
		l.episode, l.strikes = false, 0
		l.learnFromSpacing(t.at)
		l.calm = now
	}
}

// Throttled tells the limiter that the call of t was refused with a 429,
// and what Retry-After it carried.
func (l *Limiter) Throttled(t Ticket, retryAfter time.Duration, has bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	s, _ := l.land(t)
	probe := s.probe
	l.refused(now)
	defer l.signal()
	if s.reach {
		l.reached(now, false)
		return
	}
	l.holdReach(now)
	l.calm, l.calmWindows = now, 0
	if !l.episode {
		l.episode, l.episodeAt, l.strikes, l.until = true, now, 0, time.Time{}
		l.before, l.measured = l.quota, 0
		l.episodes++
	}
	if has {
		l.learnWindow(now, retryAfter)
	}
	if probe {
		// A refused probe says the service's window is still full, not
		// how much of it is the run's.
		l.strikes, l.lastStrike = l.strikes+1, t.at
		l.notBefore = later(l.notBefore, now.Add(l.gap(now, has)))
	} else {
		l.measure(t)
	}
	if has {
		l.notBefore = later(l.notBefore, l.resume(now, retryAfter, probe))
	}
}

// refused logs a refusal answered at now, for as long as a window.
func (l *Limiter) refused(now time.Time) {
	cut := now.Add(-l.window)
	i := sort.Search(len(l.refusals), func(i int) bool { return l.refusals[i].After(cut) })
	l.refusals = append(l.refusals[:copy(l.refusals, l.refusals[i:])], now)
}

// measure lowers the quota to what the service took from this run in
// the window before t was refused, calls in flight included. A drop
// below half the most it ever took is taken for a collapse (a burst of
// another job, a server that counts refused calls) and the quota climbs
// back to where it was within a few calm windows; when the same happens
// again on the way back, it was the run's share after all.
func (l *Limiter) measure(t Ticket) {
	// Calls overtake each other on the way: the window is the one before
	// the latest refused send of the episode, so that a call sent before
	// it but refused after it does not hide those that passed.
	l.until = later(l.until, t.at)
	n := l.taken()
	if n > 0 && n < l.top/2 && !l.recovering && l.widenToFit() {
		n = l.taken()
	}
	if n > l.quota && l.quota == l.measured {
		// A later refusal of the episode counts a call that overtook the
		// one measured first.
		l.recount(n)
		return
	}
	if n == 0 || n >= l.quota {
		return
	}
	if n < l.top/2 && !l.recovering {
		l.peak, l.collapsed = l.top, true
	} else {
		l.peak = n
	}
	if n < l.top {
		l.shared = true
	}
	l.top = max(l.top, n)
	l.quota, l.recovering, l.measured = n, false, n
}

// Calls overtake each other on the way, and one that passed the refused
// call it was sent after is one the service took as well, uncounted by
// measure: one slot short of the service's quota costs a run of an exact
// number of windows a whole window more. A later refusal of the episode
// counts it (measure); an accepted call sent after the last refused one,
// before the 429 was heard of, while the run's first call is less than a
// window old (so that none of the run's can have left the service's
// window to make room for it), is counted when its answer comes
// (overtook).
func (l *Limiter) overtook(s send, now time.Time) bool {
	return l.episode && !s.probe && !s.reach && l.quota == l.measured &&
		s.sent.After(l.until) && s.sent.Before(l.episodeAt) && now.Before(l.first.Add(l.window))
}

// recount raises a quota measured in this episode to n of the run's
// calls the service took, no higher than before the episode.
func (l *Limiter) recount(n int) {
	l.quota = max(l.quota, min(n, l.before))
	l.measured, l.top = l.quota, max(l.top, l.quota)
	if !l.collapsed {
		l.peak = max(l.peak, l.quota)
	}
}

// widenToFit is for a window refused, early in a run, while it held less
// than half of what the service took before: either another job took the
// rest, or the service's window is longer than the run's (a Retry-After
// only says when the service's oldest call leaves, which may be another
// job's). When a window of a few more seconds holds what the service took
// before, that is taken for the service's. Later in a run a pause of the
// run's own would look the same, and nothing is learnt.
func (l *Limiter) widenToFit() bool {
	if l.until.Sub(l.first) > 4*l.window {
		return false
	}
	longest := min(4*l.window, l.until.Sub(l.first)+time.Second, maxLearnedWindow)
	for w := l.window.Truncate(time.Second) + time.Second; w <= longest; w += time.Second {
		if l.takenIn(w) >= l.top {
			l.widen(w)
			return true
		}
	}
	return false
}

// taken counts what the log held when the call at until was sent: the
// calls answered within the window before it, and those in flight then,
// since answered or not. The service refused that call with fewer of the
// run's in its window (the log is later than the service: answers come
// after arrivals), so another job took the rest, or the service takes
// fewer than the quota.
func (l *Limiter) taken() int { return l.takenIn(l.window) }

func (l *Limiter) takenIn(window time.Duration) int {
	if l.until.IsZero() {
		return 0
	}
	from := l.until.Add(-window)
	i := sort.Search(len(l.sends), func(i int) bool { return l.sends[i].at.After(from) })
	n := 0
	for j := len(l.sends) - 1; j >= i; j-- {
		if s := l.sends[j]; !s.sent.After(l.until) {
			n++
		} else if !s.at.After(l.until) {
			break
		}
	}
	for _, s := range l.flight {
		if !s.sent.After(l.until) {
			n++
		}
	}
	return n
}

// gap is how long after a refused probe the next may go: one call's
// share of the window, doubled for each refusal in a row, up to a quarter
// of the window. A handful of refusals per window, then, however long the
// service stays full. Without a Retry-After, up to a quarter of the
// episode so far once that is longer than a window: the service's window
// may be longer than the run knows.
func (l *Limiter) gap(now time.Time, told bool) time.Duration {
	limit := l.window / 4
	if !told {
		limit = max(l.window, now.Sub(l.episodeAt)) / 4
	}
	g := l.window / time.Duration(l.quota)
	for i := 1; i < l.strikes && g < limit; i++ {
		g *= 2
	}
	return min(g, limit)
}

// resume is when to come back after a 429 with a Retry-After. The
// service rounds it up to a whole second (DRF writes whole seconds, an
// HTTP date has no fraction), which against a one-second window can be a
// whole window lost; when the own log says a call of the run leaves the
// window within that second, the earliest is trusted instead: the slot
// the log says frees next, or a refused call of the run's, which a
// service that logs refused calls holds for a window too. A log that is
// wrong (another job holds part of the quota) costs one more 429, not a
// wait.
func (l *Limiter) resume(now time.Time, retryAfter time.Duration, probe bool) time.Time {
	told := now.Add(retryAfter)
	best := told
	consider := func(at time.Time) {
		if at.After(now) && at.Before(best) && told.Sub(at) < time.Second {
			best = at
		}
	}
	if own := l.free(now); own != forever {
		consider(own)
	}
	if probe {
		for _, at := range l.refusals {
			consider(at.Add(l.window))
		}
	}
	return best
}

// learnWindow learns the service's window from a Retry-After longer than
// a window of ours (plus the second it may be rounded up by): the
// service's window is then longer than configured (`--rate 5/s` against
// 180 a minute), and, the run having begun with an idle window, began
// with its first send.
func (l *Limiter) learnWindow(now time.Time, retryAfter time.Duration) {
	if retryAfter <= l.window+time.Second {
		return
	}
	l.widen(now.Add(retryAfter).Sub(l.first))
}

// learnFromSpacing learns the window when the first 429s of a run lasted
// longer than a window of ours (whatever their Retry-After said: another
// job may take each slot that frees): the run's first calls left the
// service's window between the last refused probe and the probe at, taken
// halfway.
func (l *Limiter) learnFromSpacing(at time.Time) {
	if l.episodes > 1 || at.Sub(l.episodeAt) <= l.window+time.Second {
		return
	}
	mid := l.lastStrike.Add(at.Sub(l.lastStrike) / 2)
	l.widen(mid.Sub(l.first).Round(time.Second))
}

func (l *Limiter) widen(w time.Duration) {
	w = w.Truncate(time.Second)
	if w <= l.window || w > maxLearnedWindow {
		return
	}
	scale := float64(w) / float64(l.window)
	l.window = w
	l.quota = min(int(float64(l.quota)*scale), l.limit())
	if n := l.taken(); n > 0 {
		l.quota = min(l.quota, n)
	}
}
