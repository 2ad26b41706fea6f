package reconcile

// A discrete-event simulation of runs against models of the service's
// limiter, in virtual time: workers wait on the limiter exactly as Wait
// does (the earliest instant, re-checked whenever the log changes), calls
// arrive after a one-way delay, and the server answers as its model says.
// It shows what the limiter does over many windows and 429s without
// sleeping through them.

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

type simClock struct{ now time.Time }

func (c *simClock) Now() time.Time { return c.now }
func (c *simClock) NewTimer(time.Duration) Timer {
	panic("the simulation drives the limiter without timers")
}

type simEvent struct {
	at  time.Time
	seq int
	fn  func()
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	if !q[i].at.Equal(q[j].at) {
		return q[i].at.Before(q[j].at)
	}
	return q[i].seq < q[j].seq
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type sim struct {
	clock *simClock
	q     simQueue
	seq   int
	rng   *rand.Rand
	start time.Time
}

func newSim(seed uint64) *sim {
	start := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	return &sim{clock: &simClock{now: start}, rng: rand.New(rand.NewPCG(seed, seed+1)), start: start}
}

func (s *sim) at(t time.Time, fn func()) {
	s.seq++
	heap.Push(&s.q, simEvent{at: t, seq: s.seq, fn: fn})
}

func (s *sim) after(d time.Duration, fn func()) { s.at(s.clock.now.Add(d), fn) }

// run plays events until none is left or until passes.
func (s *sim) run(until time.Duration) {
	end := s.start.Add(until)
	for s.q.Len() > 0 && !s.q[0].at.After(end) {
		e := heap.Pop(&s.q).(simEvent)
		s.clock.now = e.at
		e.fn()
	}
}

func (s *sim) elapsed() time.Duration { return s.clock.now.Sub(s.start) }

// simServer is a model of the service's limit, one request at a time.
type simServer interface {
	admit(now time.Time) (ok bool, wait time.Duration, known bool)
}

// simDRF is Django REST Framework's SimpleRateThrottle: a log of the
// accepted requests (and, with logRefused, of refused ones too), refused
// when it holds the quota, with wait() as DRF computes it.
type simDRF struct {
	quota      int
	window     time.Duration
	logRefused bool
	history    []time.Time // oldest first
}

func (d *simDRF) admit(now time.Time) (bool, time.Duration, bool) {
	i := 0
	for i < len(d.history) && !d.history[i].After(now.Add(-d.window)) {
		i++
	}
	d.history = d.history[i:]
	if len(d.history) < d.quota {
		d.history = append(d.history, now)
		return true, 0, false
	}
	remaining := d.window - now.Sub(d.history[0])
	available := d.quota - len(d.history) + 1
	if d.logRefused {
		d.history = append(d.history, now)
	}
	if available <= 0 {
		return false, 0, false
	}
	return false, remaining / time.Duration(available), true
}

type simFixed struct {
	quota  int
	window time.Duration
	start  time.Time
	count  int
}

func (f *simFixed) admit(now time.Time) (bool, time.Duration, bool) {
	if f.start.IsZero() {
		f.start = now
	}
	for now.Sub(f.start) >= f.window {
		f.start, f.count = f.start.Add(f.window), 0
	}
	if f.count >= f.quota {
		return false, f.start.Add(f.window).Sub(now), true
	}
	f.count++
	return true, 0, false
}

type simBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *simBucket) admit(now time.Time) (bool, time.Duration, bool) {
	if !b.last.IsZero() {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second)), true
	}
	b.tokens--
	return true, 0, false
}

// retryAfterMode says how the simulated server writes Retry-After:
// "seconds" (rounded up, as DRF does), "none", or "mixed" (none,
// seconds, seconds in turn).
type simLink struct {
	server   simServer
	mode     string
	answers  int
	delay    time.Duration // one way
	service  time.Duration // an accepted call's time at the server
	jitter   time.Duration
	requests int
	refused  int
}

// send delivers one request after the one-way delay and calls back with
// the answer when it has come back.
func (s *sim) send(k *simLink, answer func(ok bool, ra time.Duration, has bool)) {
	d := k.delay
	if k.jitter > 0 {
		d += time.Duration(s.rng.Int64N(int64(k.jitter)))
	}
	s.after(d, func() {
		k.requests++
		ok, wait, known := k.server.admit(s.clock.now)
		back := k.delay + k.service
		if !ok {
			k.refused++
			back = k.delay + time.Millisecond
		}
		k.answers++
		mode := k.mode
		if mode == "mixed" && k.answers%3 == 0 {
			mode = "none"
		}
		has := known && mode != "none" && wait > 0
		ra := time.Duration(math.Ceil(wait.Seconds())) * time.Second
		s.after(back, func() { answer(ok, ra, has) })
	})
}

// simRun is one groupsync run: its limiter, workers and calls.
type simRun struct {
	s        *sim
	l        *Limiter
	link     *simLink
	left     int
	waiting  []*simWorker
	refused  int
	done     int
	finished time.Duration
}

type simWorker struct {
	wake time.Time
}

func (s *sim) newRun(link *simLink, calls, concurrency, quota int, window time.Duration) *simRun {
	r := &simRun{s: s, l: NewLimiter(quota, window, s.clock), link: link, left: calls}
	for range min(concurrency, calls) {
		r.left--
		r.waiting = append(r.waiting, &simWorker{})
	}
	s.after(0, r.poll)
	return r
}

// poll lets every waiting worker that may start do so, and sets a wake-up
// for the others at the instant the limiter names.
func (r *simRun) poll() {
	now := r.s.clock.now
	keep := r.waiting[:0]
	for _, w := range r.waiting {
		r.l.mu.Lock()
		at := r.l.earliest(now)
		var t Ticket
		if !at.After(now) {
			t = r.l.take(now)
		}
		r.l.mu.Unlock()
		if !at.After(now) {
			r.call(w, t)
			continue
		}
		keep = append(keep, w)
		if at != forever && !w.wake.Equal(at) {
			w.wake = at
			r.s.at(at, r.poll)
		}
	}
	r.waiting = keep
}

func (r *simRun) call(w *simWorker, t Ticket) {
	r.s.send(r.link, func(ok bool, ra time.Duration, has bool) {
		if ok {
			r.l.Accepted(t)
			r.done++
			r.finished = r.s.elapsed()
			if r.left == 0 {
				r.s.after(0, r.poll)
				return
			}
			r.left--
		} else {
			r.refused++
			r.l.Throttled(t, ra, has)
		}
		w.wake = time.Time{}
		r.waiting = append(r.waiting, w)
		r.s.after(0, r.poll)
	})
}

// competitor is another job on the same IP sending at an even pace for
// as long as until, refused calls lost.
func (s *sim) competitor(link *simLink, every time.Duration, until func() bool) {
	var tick func()
	tick = func() {
		if until() {
			return
		}
		s.send(link, func(bool, time.Duration, bool) {})
		s.after(every, tick)
	}
	s.after(every/2, tick)
}

// optimum is the least time for calls calls from an idle window, alone,
// against a sliding log of quota per window.
func optimum(calls, quota int, window time.Duration) time.Duration {
	return time.Duration(max(0, calls-quota)) * window / time.Duration(quota)
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
