package main

// End-to-end benchmarks (make bench): the real binary, as a subprocess,
// against the sandbox on loopback. Each reports ratios to the limit, 429s,
// failed groups, wall time and peak memory (the child's max RSS).

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"groupsync/internal/benchdata"
	"groupsync/manifest"
	"groupsync/reconcile"
	"groupsync/sandbox"
	"groupsync/state"
)

var buildOnce struct {
	sync.Once
	path string
	err  error
}

func binary(b *testing.B) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "groupsync-bench-bin")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "groupsync")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("%v: %s", err, out)
		}
	})
	if buildOnce.err != nil {
		b.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

type measured struct {
	wall   time.Duration
	cpu    time.Duration // user and system
	maxRSS int64         // bytes
	code   int
	stderr string
}

func runBinary(b *testing.B, env []string, args ...string) measured {
	cmd := exec.Command(binary(b), args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	m := measured{wall: time.Since(start), stderr: stderr.String()}
	if cmd.ProcessState == nil {
		b.Fatal(err)
	}
	m.code = cmd.ProcessState.ExitCode()
	m.maxRSS = peakRSS(cmd.ProcessState)
	m.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return m
}

// benchEnv is a sandbox, a token file and a work directory.
type benchEnv struct {
	sb  *sandbox.Server
	url string
	dir string
}

func newBenchEnv(b *testing.B, cfg sandbox.Config) *benchEnv {
	cfg.Token = testToken
	sb := sandbox.New(cfg)
	ts := httptest.NewServer(sb)
	b.Cleanup(ts.Close)
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(testToken), 0o600); err != nil {
		b.Fatal(err)
	}
	return &benchEnv{sb: sb, url: ts.URL, dir: dir}
}

func (e *benchEnv) apply(b *testing.B, manifestPath string, extra ...string) measured {
	return e.applyEnv(b, nil, manifestPath, extra...)
}

func (e *benchEnv) applyEnv(b *testing.B, env []string, manifestPath string, extra ...string) measured {
	args := append([]string{"apply", "-f", manifestPath, "--api-url", e.url, "--token-file", filepath.Join(e.dir, "token"),
		"--state", filepath.Join(e.dir, "state.json"), "--report", filepath.Join(e.dir, "report.csv")}, extra...)
	return runBinary(b, env, args...)
}

func (e *benchEnv) failed(b *testing.B) int {
	n := 0
	for _, r := range readReport(b, filepath.Join(e.dir, "report.csv")) {
		if r["status"] != "ok" {
			n++
		}
	}
	return n
}

func smallManifest(b *testing.B, dir string, n int) string {
	var sb strings.Builder
	sb.WriteString("user_group_id,name,mapping.40\n")
	for i := range n {
		id, name := benchdata.Row(i)
		fmt.Fprintf(&sb, "%s,%s,%d\n", id, name, i)
	}
	p := filepath.Join(dir, "m.csv")
	if err := os.WriteFile(p, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

const benchLimit = 50 // the sandbox's quota per 1s window: 180/m scaled

// benchLatency is a round trip to a real service, as RATE.md measured it.
const benchLatency = 18 * time.Millisecond

// BenchmarkRate: 1,000 creates against the sandbox limited to 50 requests
// per 1 s window (180 a minute, time scaled), for each limiter model, with
// the client matched, 5× too fast, at 0.9×, sharing the quota with a
// second process that takes a third of it (as another job on the same IP
// would), with the quota halved after 4.5 s, and as two groupsyncs of 500
// creates each. Side by side, Explo's documented loop: one call at a
// time, and a whole window of sleep on each 429.
//
// It reports accepted requests over what the limit allowed in the run
// (the second process's included); wall time over the paced ideal (1,000
// calls at the rate left to groupsync, or at its --rate when lower), as
// earlier versions were measured; wall time over the optimum from an idle
// window, max(0, N−q)·W/q for the quota q left to groupsync (for the
// halved quota: 250 calls by 4 s, then 25 a window, 34 s); 429s
// (groupsync's); and failed groups.
func BenchmarkRate(b *testing.B) {
	const n = 1000
	cases := []struct {
		name        string
		rate        float64 // groupsync's --rate, per second
		concurrency string
		share       float64 // of the quota a second process takes
		halve       bool
		second      bool
	}{
		{name: "matched", rate: 50, concurrency: "4"},
		{name: "5x-too-fast", rate: 250, concurrency: "8"},
		{name: "0.9x", rate: 45, concurrency: "4"},
		{name: "shared-third", rate: 50, concurrency: "4", share: 1.0 / 3},
		{name: "quota-halved", rate: 50, concurrency: "4", halve: true},
		{name: "second-groupsync", rate: 50, concurrency: "4", second: true},
	}
	for _, model := range sandbox.LimiterModels {
		for _, c := range cases {
			b.Run(string(model)+"/"+c.name, func(b *testing.B) {
				for b.Loop() {
					e := newBenchEnv(b, sandbox.Config{Quota: benchLimit, Window: time.Second, Limiter: model, Latency: benchLatency, RetryAfter: sandbox.RetryAfterMixed})
					other := startCompetitor(e.url, c.share)
					if c.halve {
						t := time.AfterFunc(4500*time.Millisecond, func() { e.sb.SetQuota(benchLimit / 2) })
						defer t.Stop()
					}
					args := []string{"--rate", fmt.Sprintf("%g/s", c.rate), "--concurrency", c.concurrency, "--auto-approve"}
					var wall time.Duration
					failed := 0
					if c.second {
						wall, failed = e.applyTwice(b, n, args)
					} else {
						m := e.apply(b, smallManifest(b, e.dir, n), args...)
						if m.code != 0 {
							b.Fatalf("exit %d: %s", m.code, m.stderr)
						}
						wall, failed = m.wall, e.failed(b)
					}
					theirs := other.stop()
					rate := min(c.rate, benchLimit*(1-c.share))
					opt := float64(n)/rate - 1 // the first quota at once
					if c.halve {
						opt = 34
					}
					reportRun(b, e.sb.Stats(), theirs, wall, n, rate, failed, opt)
				}
			})
		}
		b.Run(string(model)+"/explo-loop", func(b *testing.B) {
			for b.Loop() {
				e := newBenchEnv(b, sandbox.Config{Quota: benchLimit, Window: time.Second, Limiter: model, Latency: benchLatency, RetryAfter: sandbox.RetryAfterMixed})
				start := time.Now()
				for i := range n {
					id, name := benchdata.Row(i)
					for postCreate(b, e.url, id, name) == http.StatusTooManyRequests {
						time.Sleep(time.Second) // Explo's example sleeps the whole window
					}
				}
				reportRun(b, e.sb.Stats(), competitor{}, time.Since(start), n, benchLimit, 0, float64(n)/benchLimit-1)
			}
		})
	}
}

// applyTwice runs two groupsyncs of n/2 creates each at once, with their
// own states, and returns when both are done and their failed groups.
func (e *benchEnv) applyTwice(b *testing.B, n int, args []string) (time.Duration, int) {
	var wg sync.WaitGroup
	runs := make([]measured, 2)
	envs := []*benchEnv{e, {sb: e.sb, url: e.url, dir: b.TempDir()}}
	for i, x := range envs {
		if err := os.WriteFile(filepath.Join(x.dir, "token"), []byte(testToken), 0o600); err != nil {
			b.Fatal(err)
		}
		var m strings.Builder
		m.WriteString("user_group_id,name\n")
		for j := range n / 2 {
			fmt.Fprintf(&m, "run%d-%d,Group %d\n", i, j, j)
		}
		path := filepath.Join(x.dir, "m.csv")
		if err := os.WriteFile(path, []byte(m.String()), 0o600); err != nil {
			b.Fatal(err)
		}
		wg.Go(func() { runs[i] = x.apply(b, path, args...) })
	}
	wg.Wait()
	failed := 0
	for i, m := range runs {
		if m.code != 0 {
			b.Fatalf("exit %d: %s", m.code, m.stderr)
		}
		failed += envs[i].failed(b)
	}
	return max(runs[0].wall, runs[1].wall), failed
}

// competitor is another process on the same IP, taking a share of the
// quota at an even pace.
type competitor struct {
	accepted, throttled int
	done                chan competitor
	quit                chan struct{}
}

func startCompetitor(url string, share float64) *competitor {
	if share == 0 {
		c := &competitor{done: make(chan competitor, 1), quit: make(chan struct{})}
		c.done <- competitor{}
		return c
	}
	return startPacedCompetitor(url, time.Duration(float64(time.Second)/(share*benchLimit)))
}

// startPacedCompetitor sends one call every so often, until stopped.
func startPacedCompetitor(url string, every time.Duration) *competitor {
	c := &competitor{done: make(chan competitor, 1), quit: make(chan struct{})}
	go func() {
		var got competitor
		t := time.NewTicker(every)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-c.quit:
				c.done <- got
				return
			case <-t.C:
			}
			if postCreate(nil, url, fmt.Sprintf("other-%d", i), "Other") == http.StatusTooManyRequests {
				got.throttled++
			} else {
				got.accepted++
			}
		}
	}()
	return c
}

func (c *competitor) stop() competitor {
	close(c.quit)
	return <-c.done
}

// reportRun reports a run as ratios to the limit. The ideal is every call
// at rate: the limit, the share of it left to groupsync, or the --rate it
// was given when that is lower.
func reportRun(b *testing.B, st sandbox.Stats, other competitor, wall time.Duration, groups int, rate float64, failed int, optimum float64) {
	accepted := st.Requests - st.Throttled
	allowed := benchLimit * wall.Seconds()
	ideal := float64(groups) / rate
	b.ReportMetric(float64(accepted)/allowed, "accepted/allowed")
	b.ReportMetric(wall.Seconds()/ideal, "wall/ideal")
	b.ReportMetric(wall.Seconds()/optimum, "x-optimum")
	b.ReportMetric(float64(st.Throttled-other.throttled), "429s")
	b.ReportMetric(float64(failed), "failed-groups")
	b.ReportMetric(wall.Seconds(), "wall-s")
}

// BenchmarkAdopt: 1,000 and 10,000 customers already on the service, as
// the manifest has them, and an empty state. Without --refresh each is a
// create that finds it, whose answer shows it already matches: no update;
// with it, the list (1,000 a call) and no create at all. Reported: the
// calls, and the time they take at Explo's 180/m from an idle window.
func BenchmarkAdopt(b *testing.B) {
	for _, n := range []int{1000, 10_000} {
		for _, refresh := range []bool{false, true} {
			adopt(b, n, refresh)
		}
	}
}

func adopt(b *testing.B, n int, refresh bool) {
	name := fmt.Sprintf("%d/without-refresh", n)
	if refresh {
		name = fmt.Sprintf("%d/with-refresh", n)
	}
	b.Run(name, func(b *testing.B) {
		for b.Loop() {
			e := newBenchEnv(b, sandbox.Config{Quota: -1})
			var m strings.Builder
			m.WriteString("user_group_id,name\n")
			for i := range n {
				id, name := benchdata.Row(i)
				e.sb.Put(sandbox.Group{ID: id, Name: name})
				fmt.Fprintf(&m, "%s,%s\n", id, name)
			}
			path := filepath.Join(e.dir, "m.csv")
			if err := os.WriteFile(path, []byte(m.String()), 0o600); err != nil {
				b.Fatal(err)
			}
			args := []string{"--api", "customer", "--rate", "100000/s", "--concurrency", "16", "--auto-approve"}
			if refresh {
				args = append(args, "--refresh")
			}
			r := e.apply(b, path, args...)
			if r.code != 0 {
				b.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			st := e.sb.Stats()
			b.ReportMetric(float64(st.Requests), "calls")
			b.ReportMetric(float64(st.Paths["/api/update_customer/"]), "updates")
			b.ReportMetric(float64(st.Creates), "creates")
			b.ReportMetric(reconcile.Duration(st.Requests, 180, time.Minute).Seconds(), "s-at-180/m")
			b.ReportMetric(r.wall.Seconds(), "wall-s")
		}
	})
}

// postCreate is one create_user_group, as Explo's example makes it.
func postCreate(b *testing.B, url, id, name string) int {
	body := fmt.Sprintf(`{"user_group_id": %q, "name": %q}`, id, name)
	req, _ := http.NewRequestWithContext(context.Background(), "POST", url+"/api/create_user_group/", strings.NewReader(body))
	req.Header.Set("Explo-Authorization", "Token "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if b == nil {
			return 0
		}
		b.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// writeState saves a state in which every group of the manifest is applied.
// A helper process writes it: a child's max RSS includes its parent's at
// the time it starts (os/exec forks with vfork, and Linux carries the old
// address space's high-water mark across exec), so the benchmark process
// must never hold a million groups itself.
func writeState(b *testing.B, manifestPath, statePath, url string) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GROUPSYNC_BENCH_WRITE_STATE="+strings.Join([]string{manifestPath, statePath, url}, "\n"))
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("write state: %v\n%s", err, out)
	}
}

// writeStateProcess is the helper process of writeState.
func writeStateProcess(spec string) int {
	parts := strings.Split(spec, "\n")
	m, err := manifest.Load([]string{parts[0]}, manifest.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := state.Open(parts[1], state.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	st := s.State()
	st.APIURL, st.TokenFingerprint = parts[2], state.Fingerprint(testToken)
	now := time.Now()
	for i := range m.Groups {
		g := m.Groups[i]
		g.Source = reconcile.Source{}
		st.Groups[g.ID] = &reconcile.Applied{Group: g, Token: fmt.Sprintf("%048d", i), EnvTag: "Customer", AppliedAt: now}
	}
	if err := s.Save(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// BenchmarkNoop: 100,000 and 1,000,000 groups, all up to date: no call at
// all. Reported: wall and CPU time per group (so that growth with N
// shows), peak memory per group, and the wall time over a bare
// encoding/csv read of the same manifest. BENCH_GOGC runs the child with
// that GOGC (for instance "25,100" compares two), else as it is.
func BenchmarkNoop(b *testing.B) {
	gogcs := []string{""}
	if v := os.Getenv("BENCH_GOGC"); v != "" {
		gogcs = strings.Split(v, ",")
	}
	for _, n := range []int{100_000, 1_000_000} {
		path, err := benchdata.CSV(n, false)
		if err != nil {
			b.Fatal(err)
		}
		for _, gogc := range gogcs {
			name := fmt.Sprintf("%dk", n/1000)
			if gogc != "" {
				name += "/GOGC=" + gogc
			}
			b.Run(name, func(b *testing.B) {
				var env []string
				if gogc != "" {
					env = []string{"GOGC=" + gogc}
				}
				for b.Loop() {
					e := newBenchEnv(b, sandbox.Config{Quota: -1})
					writeState(b, path, filepath.Join(e.dir, "state.json"), e.url)
					bare, err := benchdata.BareCSVRead(path)
					if err != nil {
						b.Fatal(err)
					}
					m := e.applyEnv(b, env, path)
					if m.code != 0 {
						b.Fatalf("exit %d: %s", m.code, m.stderr)
					}
					b.ReportMetric(float64(e.sb.Stats().Requests), "api-calls")
					b.ReportMetric(m.wall.Seconds(), "wall-s")
					b.ReportMetric(float64(m.cpu.Microseconds())/float64(n), "cpu-µs/group")
					b.ReportMetric(float64(m.maxRSS)/float64(n), "peak-B/group")
					b.ReportMetric(m.wall.Seconds()/bare.Seconds(), "x-bare-csv")
				}
			})
		}
	}
}

// BenchmarkPlan: plan of 1,000,000 groups against an empty and a full state.
func BenchmarkPlan(b *testing.B) {
	const n = 1_000_000
	path, err := benchdata.CSV(n, false)
	if err != nil {
		b.Fatal(err)
	}
	for _, full := range []bool{false, true} {
		name := "empty-state"
		if full {
			name = "full-state"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				dir := b.TempDir()
				statePath := filepath.Join(dir, "state.json")
				if full {
					writeState(b, path, statePath, "https://api.explo.co")
				}
				m := runBinary(b, []string{"EXPLO_API_TOKEN=" + testToken}, "plan", "-f", path, "--state", statePath, "--json")
				if m.code != 0 {
					b.Fatalf("exit %d: %s", m.code, m.stderr)
				}
				b.ReportMetric(m.wall.Seconds(), "wall-s")
				b.ReportMetric(float64(m.maxRSS)/n, "peak-B/group")
			}
		})
	}
}
