package reconcile

import (
	"cmp"
	"slices"
	"testing"
	"time"
)

// simCase is one run (or two) against a model of the service.
type simCase struct {
	name           string
	server         func() simServer
	mode           string // Retry-After: seconds, none or mixed
	calls, conc    int
	quota          int
	window         time.Duration
	delay, service time.Duration
	// competitor, when set, is another job sending one call that often,
	// started early before the run.
	competitor, early time.Duration
	// second runs two groupsyncs of calls/2 each on the same quota.
	second bool
	setup  func(s *sim, srv simServer)
	opt    time.Duration
	// The bounds: the median time over the optimum, the worst run's (so
	// that a run which now and then takes a window more than it needs
	// shows), and 429s.
	maxRatio, maxWorst float64
	max429             int
}

func (c simCase) play(seed uint64) (time.Duration, int) {
	s := newSim(seed)
	srv := c.server()
	link := &simLink{server: srv, mode: c.mode, delay: c.delay, service: c.service, jitter: c.delay}
	calls := c.calls
	if c.second {
		calls /= 2
	}
	var r, r2 *simRun
	if c.competitor > 0 {
		// Its calls arrive with a few milliseconds of jitter, as a real
		// job's do: now and then a slot it frees is free for a moment.
		s.competitor(&simLink{server: srv, delay: c.delay, jitter: 5 * time.Millisecond}, c.competitor, func() bool { return r != nil && r.done == calls })
	}
	s.run(c.early)
	s.start = s.clock.now
	r = s.newRun(link, calls, c.conc, c.quota, c.window)
	if c.second {
		r2 = s.newRun(link, calls, c.conc, c.quota, c.window)
	}
	if c.setup != nil {
		c.setup(s, srv)
	}
	s.run(10 * time.Minute)
	fin, refused := r.finished, r.refused
	if r.done != calls {
		fin = 10 * time.Minute
	}
	if r2 != nil {
		fin, refused = max(fin, r2.finished), refused+r2.refused
		if r2.done != calls {
			fin = 10 * time.Minute
		}
	}
	return fin, refused
}

// The limiter against models of the service's limit, in virtual time:
// Django REST Framework's sliding log (also one that logs refused calls),
// a fixed window and a token bucket; the client matched, too fast, or
// sharing the quota; 180 per 3s with 5ms calls, or 50 per second with an
// 18ms round trip. The optimum from an idle window is max(0, N−q)·W/q.
func TestLimiter_AgainstServiceModels(t *testing.T) {
	drf := func(q int, w time.Duration, logRefused bool) func() simServer {
		return func() simServer { return &simDRF{quota: q, window: w, logRefused: logRefused} }
	}
	fixed := func() simServer { return &simFixed{quota: 50, window: time.Second} }
	bucket := func() simServer { return &simBucket{rate: 50, burst: 50, tokens: 50} }
	ms, W, sec := time.Millisecond, 3*time.Second, time.Second
	drfCase := func(name string, server func() simServer, mode string, calls, conc, quota int, window time.Duration) simCase {
		return simCase{name: name, server: server, mode: mode, calls: calls, conc: conc, quota: quota, window: window,
			delay: ms / 4, service: 5 * ms, opt: optimum(calls, 180, W)}
	}
	sbCase := func(name string, server func() simServer, calls, conc, quota int) simCase {
		return simCase{name: name, server: server, mode: "mixed", calls: calls, conc: conc, quota: quota, window: sec,
			delay: 9 * ms, opt: optimum(calls, 50, sec)}
	}
	with := func(c simCase, f func(*simCase)) simCase { f(&c); return c }
	cases := []simCase{
		with(drfCase("drf/matched", drf(180, W, false), "seconds", 540, 4, 180, W), func(c *simCase) { c.maxRatio, c.max429 = 1.07, 0 }),
		with(drfCase("drf/matched-c8", drf(180, W, false), "seconds", 540, 8, 180, W), func(c *simCase) { c.maxRatio, c.max429 = 1.05, 0 }),
		with(drfCase("drf/5x", drf(180, W, false), "seconds", 540, 8, 300, sec), func(c *simCase) { c.maxRatio, c.max429 = 1.10, 5 }),
		with(drfCase("drf/5x-no-retry-after", drf(180, W, false), "none", 540, 8, 300, sec), func(c *simCase) { c.maxRatio, c.max429 = 1.15, 15 }),
		with(drfCase("drf/5x-mixed", drf(180, W, false), "mixed", 540, 8, 300, sec), func(c *simCase) { c.maxRatio, c.max429 = 1.10, 5 }),
		// 470 calls, not 480: four windows of the 120 left would leave no
		// slack at all, and one slot lost to the other job's jitter would
		// cost a whole window.
		with(drfCase("drf/competitor-third", drf(180, W, false), "seconds", 470, 4, 180, W), func(c *simCase) {
			c.competitor, c.early, c.opt, c.maxRatio, c.max429 = 50*ms, W, optimum(470, 120, W), 1.10, 8
		}),
		// Too fast beside another job, the window is learnt late: every
		// Retry-After is short (the other job's oldest call leaves soon).
		// A guard against getting worse, not a goal met.
		with(drfCase("drf/competitor-third-5x", drf(180, W, false), "seconds", 470, 8, 300, sec), func(c *simCase) {
			c.competitor, c.early, c.opt, c.maxRatio, c.max429 = 50*ms, W, optimum(470, 120, W), 1.30, 55
		}),
		with(drfCase("drf/halved", drf(180, W, false), "seconds", 540, 4, 180, W), func(c *simCase) {
			c.setup = func(s *sim, srv simServer) { s.after(4500*ms, func() { srv.(*simDRF).quota = 90 }) }
			c.opt, c.maxRatio, c.max429 = 9*sec, 1.10, 15
		}),
		// 540 calls are three windows exactly: the run whose share came out
		// smaller finishes in the slots the other leaves, by calls beyond
		// its share.
		with(drfCase("drf/second-groupsync", drf(180, W, false), "seconds", 540, 4, 180, W), func(c *simCase) { c.second, c.maxRatio, c.max429 = true, 1.15, 15 }),
		with(drfCase("drf-logs-refused/5x", drf(180, W, true), "seconds", 540, 8, 300, sec), func(c *simCase) { c.maxRatio, c.max429 = 1.10, 5 }),
		with(drfCase("drf-logs-refused/competitor-third", drf(180, W, true), "seconds", 470, 4, 180, W), func(c *simCase) {
			c.competitor, c.early, c.opt, c.maxRatio, c.max429 = 50*ms, W, optimum(470, 120, W), 1.10, 15
		}),
		{name: "drf-10s/20-per-s", server: drf(100, 10*sec, false), mode: "mixed", calls: 600, conc: 4, quota: 20, window: sec,
			delay: 9 * ms, opt: optimum(600, 100, 10*sec), maxRatio: 1.15, max429: 8},
		{name: "drf-10s/20-per-s-no-retry-after", server: drf(100, 10*sec, false), mode: "none", calls: 600, conc: 4, quota: 20, window: sec,
			delay: 9 * ms, opt: optimum(600, 100, 10*sec), maxRatio: 1.15, max429: 20},
		with(sbCase("drf/5x-sandbox", drf(50, sec, false), 1000, 8, 250), func(c *simCase) { c.maxRatio, c.max429 = 1.10, 15 }),
		// Two runs of 500 at the sandbox's scale: each keeps its share; the
		// calls beyond it, refused, come further apart each time, and in
		// 20 windows none comes soon enough after the first run ends to
		// help the second much.
		with(sbCase("drf/second-groupsync-sandbox", drf(50, sec, false), 1000, 4, 50), func(c *simCase) { c.second, c.maxRatio, c.max429 = true, 1.10, 25 }),
		// The sandbox's cases beside another job: against a bucket, or a
		// sliding log that counts refused calls, a call beyond the share
		// costs more than against DRF's, and comes rarely.
		with(sbCase("bucket/competitor-third-sandbox", bucket, 1000, 4, 50), func(c *simCase) {
			c.competitor, c.early, c.opt, c.maxRatio, c.max429 = 60*ms, sec, optimum(1000, 33, sec), 1.05, 26
		}),
		with(sbCase("bucket/second-groupsync-sandbox", bucket, 1000, 4, 50), func(c *simCase) { c.second, c.maxRatio, c.max429 = true, 1.10, 30 }),
		with(sbCase("drf-logs-refused/competitor-third-sandbox", drf(50, sec, true), 1000, 4, 50), func(c *simCase) {
			c.competitor, c.early, c.opt, c.maxRatio, c.max429 = 60*ms, sec, optimum(1000, 33, sec), 1.12, 20
		}),
		with(sbCase("drf-logs-refused/halved-sandbox", drf(50, sec, true), 1000, 4, 50), func(c *simCase) {
			c.setup = func(s *sim, srv simServer) { s.after(4500*ms, func() { srv.(*simDRF).quota = 25 }) }
			c.opt, c.maxRatio, c.max429 = 34*sec, 1.10, 25
		}),
		// Each refused call of one run is logged against the other's too.
		with(sbCase("drf-logs-refused/second-groupsync-sandbox", drf(50, sec, true), 1000, 4, 50), func(c *simCase) {
			c.second, c.maxRatio, c.maxWorst, c.max429 = true, 1.15, 1.30, 30
		}),
		with(sbCase("fixed/matched", fixed, 1000, 4, 50), func(c *simCase) { c.maxRatio, c.max429 = 1.05, 0 }),
		with(sbCase("fixed/5x", fixed, 1000, 8, 250), func(c *simCase) { c.maxRatio, c.max429 = 1.05, 15 }),
		with(sbCase("bucket/matched", bucket, 1000, 4, 50), func(c *simCase) { c.maxRatio, c.max429 = 1.05, 0 }),
		with(sbCase("bucket/5x", bucket, 1000, 8, 250), func(c *simCase) { c.maxRatio, c.max429 = 1.05, 20 }),
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ratios []float64
			most := 0
			for seed := uint64(1); seed <= 15; seed++ {
				fin, refused := c.play(seed)
				ratios = append(ratios, fin.Seconds()/c.opt.Seconds())
				most = max(most, refused)
			}
			worst := slices.Max(ratios)
			t.Logf("%.2f× the optimum (median of %v), the worst %.2f×, at most %d 429s", median(ratios), ratios, worst, most)
			if m := median(ratios); m > c.maxRatio {
				t.Errorf("%.2f× the optimum, want at most %.2f×", m, c.maxRatio)
			}
			if bound := cmp.Or(c.maxWorst, c.maxRatio+0.10); worst > bound {
				t.Errorf("the worst run %.2f× the optimum, want at most %.2f×", worst, bound)
			}
			if most > c.max429 {
				t.Errorf("%d 429s, want at most %d", most, c.max429)
			}
		})
	}
}
