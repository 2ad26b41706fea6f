package main

// BenchmarkDRF: the real binary against Django REST Framework's own
// SimpleRateThrottle (testdata/drf/explo_drf.py, served by gunicorn), and
// Explo's documented loop beside it. It needs Debian's
// python3-djangorestframework and gunicorn, and skips without them.

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const drfInstall = "apt-get install -y python3-djangorestframework gunicorn"

// drfServer is gunicorn serving the End User Group API behind DRF's
// throttle, with the rate in a file the throttle reads on every request.
type drfServer struct {
	url      string
	rateFile string
	cmd      *exec.Cmd
}

func startDRF(b *testing.B, workers int, rate string) *drfServer {
	b.Helper()
	gunicorn, err := exec.LookPath("gunicorn")
	if err != nil {
		b.Skipf("gunicorn is not installed (%s)", drfInstall)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &drfServer{url: "http://" + addr, rateFile: filepath.Join(b.TempDir(), "rate")}
	s.setRate(b, rate)
	s.cmd = exec.Command(gunicorn, "--chdir", "testdata/drf", "--workers", strconv.Itoa(workers), "--threads", "16",
		"--bind", addr, "--log-level", "warning", "explo_drf:application")
	s.cmd.Env = append(os.Environ(), "EXPLO_DRF_TOKEN="+testToken, "EXPLO_DRF_RATE_FILE="+s.rateFile)
	var out strings.Builder
	s.cmd.Stdout, s.cmd.Stderr = &out, &out
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { s.cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		<-exited
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		select {
		case <-exited:
			if strings.Contains(out.String(), "No module named") {
				b.Skipf("python3-djangorestframework is not installed (%s)", drfInstall)
			}
			b.Fatalf("gunicorn exited:\n%s", out.String())
		default:
		}
		if s.ready(workers) {
			return s
		}
		if time.Now().After(deadline) {
			b.Fatalf("gunicorn did not answer:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a process starting up, not synchronising a test
	}
}

// ready reports whether every worker answers: each new connection goes
// to whichever worker takes it first.
func (s *drfServer) ready(workers int) bool {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	pids := map[string]bool{}
	for range 16 * workers {
		resp, err := client.Get(s.url + "/health/")
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
		pids[string(body)] = true
		if len(pids) == workers {
			return true
		}
	}
	return false
}

// setRate changes the throttle's rate, atomically for the server.
func (s *drfServer) setRate(b *testing.B, rate string) {
	tmp := s.rateFile + ".tmp"
	if err := os.WriteFile(tmp, []byte(rate), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, s.rateFile); err != nil {
		b.Fatal(err)
	}
}

// drfCase is one way of running N creates against the throttle.
type drfCase struct {
	name    string
	rate    string // the server's
	workers int
	calls   int
	args    []string // groupsync's flags; nil runs Explo's loop instead
	// competitor, when set, is another job on the IP sending one call
	// that often, from a window before the run.
	competitor time.Duration
	// second runs two groupsyncs of calls/2 creates each.
	second bool
	// halveAt halves the server's quota that long after the start.
	halveAt time.Duration
	opt     time.Duration
	// floor, when set, also reports the wall time over the least a client
	// with the run's calls in flight can take: the optimum plus one
	// window's quota of creates at that concurrency, timed from an idle
	// window on a fresh server, for the last window's calls cannot
	// start before their slots free.
	floor bool
}

type drfTrial struct {
	wall    time.Duration
	refused int // groupsync's, or the loop's, 429s
	failed  int
}

// BenchmarkDRF: 540 creates against DRF's throttle at 180 per 3 s (Explo's
// 180 a minute, time scaled), 5 ms a call, in the cases of the README's
// table; and 60 creates at Explo's real 180 a minute with default flags.
// Each case runs three times; reported are the medians: wall time over
// the optimum from an idle window, max(0, N−q)·W/q, and 429s.
func BenchmarkDRF(b *testing.B) {
	const W = 3 * time.Second
	optimum := func(n, q int) time.Duration { return time.Duration(max(0, n-q)) * W / time.Duration(q) }
	matched := []string{"--rate", "180/3s"}
	fast := []string{"--rate", "300/s", "--concurrency", "8"}
	cases := []drfCase{
		{name: "real-scale-180-per-minute/60-creates", rate: "180/m", workers: 1, calls: 60, args: []string{}},
		{name: "matched", rate: "180/3s", workers: 1, calls: 540, args: matched, opt: optimum(540, 180), floor: true},
		{name: "matched/concurrency-8", rate: "180/3s", workers: 1, calls: 540, args: append(matched, "--concurrency", "8"), opt: optimum(540, 180), floor: true},
		// The calls in flight when the window first fills are the 429s a
		// run too fast cannot avoid: one per slot.
		{name: "5x-too-fast", rate: "180/3s", workers: 1, calls: 540, args: []string{"--rate", "300/s"}, opt: optimum(540, 180), floor: true},
		{name: "5x-too-fast/concurrency-8", rate: "180/3s", workers: 1, calls: 540, args: fast, opt: optimum(540, 180), floor: true},
		{name: "explo-loop", rate: "180/3s", workers: 1, calls: 540, opt: optimum(540, 180)},
		{name: "competitor-third", rate: "180/3s", workers: 1, calls: 480, args: matched, competitor: 50 * time.Millisecond, opt: optimum(480, 120)},
		{name: "competitor-third/5x-too-fast", rate: "180/3s", workers: 1, calls: 480, args: fast, competitor: 50 * time.Millisecond, opt: optimum(480, 120)},
		{name: "competitor-third/explo-loop", rate: "180/3s", workers: 1, calls: 480, competitor: 50 * time.Millisecond, opt: optimum(480, 120)},
		// 180 at once, 180 when they leave; halved at 4.5 s while the
		// window holds 180, so 90 when those leave at 6 s, and 90 at 9 s.
		{name: "quota-halved", rate: "180/3s", workers: 1, calls: 540, args: matched, halveAt: 4500 * time.Millisecond, opt: 9 * time.Second},
		{name: "second-groupsync", rate: "180/3s", workers: 1, calls: 540, args: matched, second: true, opt: optimum(540, 180)},
		{name: "two-workers/matched", rate: "180/3s", workers: 2, calls: 540, args: matched, opt: optimum(540, 180)},
		{name: "two-workers/5x-too-fast", rate: "180/3s", workers: 2, calls: 540, args: fast, opt: optimum(540, 180)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				var trials []drfTrial
				for range 3 {
					trials = append(trials, c.trial(b, W))
				}
				var burst time.Duration
				if c.floor {
					burst = c.burst(b, 180)
				}
				reportDRF(b, c, trials, burst)
			}
		})
	}
}

func (c drfCase) trial(b *testing.B, window time.Duration) drfTrial {
	s := startDRF(b, c.workers, c.rate)
	other := &competitor{done: make(chan competitor, 1), quit: make(chan struct{})}
	other.done <- competitor{}
	if c.competitor > 0 {
		other = startPacedCompetitor(s.url, c.competitor)
		time.Sleep(window) // the other job is under way: a window of its calls
	}
	if c.halveAt > 0 {
		t := time.AfterFunc(c.halveAt, func() { s.setRate(b, "90/3s") })
		defer t.Stop()
	}
	var t drfTrial
	switch {
	case c.args == nil:
		t = exploLoop(b, s.url, c.calls, window)
	case c.second:
		var wg sync.WaitGroup
		parts := make([]drfTrial, 2)
		for i := range parts {
			wg.Go(func() { parts[i] = runGroupsync(b, s.url, fmt.Sprintf("run%d-", i), c.calls/2, c.args) })
		}
		wg.Wait()
		t = drfTrial{wall: max(parts[0].wall, parts[1].wall), refused: parts[0].refused + parts[1].refused, failed: parts[0].failed + parts[1].failed}
	default:
		t = runGroupsync(b, s.url, "", c.calls, c.args)
	}
	other.stop()
	return t
}

// burst times q creates from an idle window on a fresh server, with the
// case's flags: what a window's quota costs in round trips alone.
func (c drfCase) burst(b *testing.B, q int) time.Duration {
	s := startDRF(b, c.workers, c.rate)
	t := runGroupsync(b, s.url, "burst-", q, c.args)
	if t.refused > 0 {
		b.Fatalf("a burst of %d from an idle window was refused %d times", q, t.refused)
	}
	return t.wall
}

// runGroupsync creates n groups with the binary, and counts its 429s from
// the report: every attempt after a group's first was one.
func runGroupsync(b *testing.B, url, prefix string, n int, args []string) drfTrial {
	dir := b.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte(testToken), 0o600); err != nil {
		b.Fatal(err)
	}
	var m strings.Builder
	m.WriteString("user_group_id,name\n")
	for i := range n {
		fmt.Fprintf(&m, "%sg%04d,Group %d\n", prefix, i, i)
	}
	manifest := filepath.Join(dir, "m.csv")
	if err := os.WriteFile(manifest, []byte(m.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	report := filepath.Join(dir, "report.csv")
	r := runBinary(b, nil, append([]string{"apply", "-f", manifest, "--api-url", url, "--token-file", token,
		"--state", filepath.Join(dir, "state.json"), "--report", report, "--auto-approve"}, args...)...)
	if r.code != 0 {
		b.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	t := drfTrial{wall: r.wall}
	for _, row := range readReport(b, report) {
		if row["status"] != "ok" {
			t.failed++
		}
		attempts, _ := strconv.Atoi(row["attempts"])
		t.refused += max(attempts-1, 0)
	}
	return t
}

// exploLoop is Explo's documented handler: one call at a time, and a whole
// window of sleep on each 429.
func exploLoop(b *testing.B, url string, n int, window time.Duration) drfTrial {
	var t drfTrial
	start := time.Now()
	for i := range n {
		for postCreate(b, url, fmt.Sprintf("loop-g%04d", i), "Group") == http.StatusTooManyRequests {
			t.refused++
			time.Sleep(window)
		}
	}
	t.wall = time.Since(start)
	return t
}

func reportDRF(b *testing.B, c drfCase, trials []drfTrial, burst time.Duration) {
	med := func(f func(drfTrial) float64) float64 {
		var xs []float64
		for _, t := range trials {
			xs = append(xs, f(t))
		}
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	if c.opt > 0 {
		b.ReportMetric(med(func(t drfTrial) float64 { return t.wall.Seconds() / c.opt.Seconds() }), "x-optimum")
	}
	if burst > 0 {
		b.ReportMetric(med(func(t drfTrial) float64 { return t.wall.Seconds() / (c.opt + burst).Seconds() }), "x-floor")
		b.ReportMetric(burst.Seconds(), "burst-s")
	}
	b.ReportMetric(med(func(t drfTrial) float64 { return t.wall.Seconds() }), "wall-s")
	b.ReportMetric(med(func(t drfTrial) float64 { return float64(t.refused) }), "429s")
	b.ReportMetric(med(func(t drfTrial) float64 { return float64(t.refused) * 300 / float64(c.calls) }), "429s/300-calls")
	b.ReportMetric(med(func(t drfTrial) float64 { return float64(t.failed) }), "failed-groups")
}
