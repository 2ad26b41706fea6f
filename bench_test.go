package main

// End-to-end benchmarks (make bench): the real binary, as a subprocess,
// against the sandbox on loopback. Each reports ratios to the limit, 429s,
// failed groups, wall time and peak memory (the child's max RSS).

import (
	"bytes"
	"context"
	"encoding/csv"
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
	maxRSS int64 // bytes
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
	args := append([]string{"apply", "-f", manifestPath, "--api-url", e.url, "--token-file", filepath.Join(e.dir, "token"),
		"--state", filepath.Join(e.dir, "state.json"), "--report", filepath.Join(e.dir, "report.csv")}, extra...)
	return runBinary(b, nil, args...)
}

func (e *benchEnv) failed(b *testing.B) int {
	f, err := os.Open(filepath.Join(e.dir, "report.csv"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, r := range recs[1:] {
		if r[3] != "ok" {
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
// the client matched, 5× too fast, at 0.9×, and sharing the quota with a
// second process that takes a third of it, as another job on the same IP
// would. Side by side, Explo's documented loop: one call at a time, and a
// whole window of sleep on each 429.
//
// It reports accepted requests over what the limit allowed in the run
// (the second process's included), wall time over the ideal (1,000 calls
// at the rate left to groupsync, or at its --rate when lower), 429s
// (groupsync's), and failed groups.
func BenchmarkRate(b *testing.B) {
	const n = 1000
	cases := []struct {
		name        string
		rate        float64 // groupsync's --rate, per second
		concurrency string
		share       float64 // of the quota a second process takes
	}{
		{"matched", 50, "4", 0},
		{"5x-too-fast", 250, "8", 0},
		{"0.9x", 45, "4", 0},
		{"shared-third", 50, "4", 1.0 / 3},
	}
	for _, model := range sandbox.LimiterModels {
		for _, c := range cases {
			b.Run(string(model)+"/"+c.name, func(b *testing.B) {
				for b.Loop() {
					e := newBenchEnv(b, sandbox.Config{Quota: benchLimit, Window: time.Second, Limiter: model, Latency: benchLatency, RetryAfter: sandbox.RetryAfterMixed})
					manifestPath := smallManifest(b, e.dir, n)
					other := startCompetitor(e.url, c.share)
					m := e.apply(b, manifestPath, "--rate", fmt.Sprintf("%g/s", c.rate), "--concurrency", c.concurrency, "--auto-approve")
					theirs := other.stop()
					if m.code != 0 {
						b.Fatalf("exit %d: %s", m.code, m.stderr)
					}
					reportRun(b, e.sb.Stats(), theirs, m.wall, n, min(c.rate, benchLimit*(1-c.share)), e.failed(b))
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
				reportRun(b, e.sb.Stats(), competitor{}, time.Since(start), n, benchLimit, 0)
			}
		})
	}
}

// competitor is another process on the same IP, taking a share of the
// quota at an even pace.
type competitor struct {
	accepted, throttled int
	done                chan competitor
	quit                chan struct{}
}

func startCompetitor(url string, share float64) *competitor {
	c := &competitor{done: make(chan competitor, 1), quit: make(chan struct{})}
	if share == 0 {
		c.done <- competitor{}
		return c
	}
	go func() {
		var got competitor
		t := time.NewTicker(time.Duration(float64(time.Second) / (share * benchLimit)))
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
func reportRun(b *testing.B, st sandbox.Stats, other competitor, wall time.Duration, groups int, rate float64, failed int) {
	accepted := st.Requests - st.Throttled
	allowed := benchLimit * wall.Seconds()
	ideal := float64(groups) / rate
	b.ReportMetric(float64(accepted)/allowed, "accepted/allowed")
	b.ReportMetric(wall.Seconds()/ideal, "wall/ideal")
	b.ReportMetric(float64(st.Throttled-other.throttled), "429s")
	b.ReportMetric(float64(failed), "failed-groups")
	b.ReportMetric(wall.Seconds(), "wall-s")
}

// BenchmarkAdopt: 10,000 customers already on the service, an empty
// state. Without --refresh each is a create that finds it and an update;
// with it, the list (1,000 a call) and an update only where a field
// differs. Reported: the calls, and the time they take at Explo's 180/m.
func BenchmarkAdopt(b *testing.B) {
	const n = 10_000
	for _, refresh := range []bool{false, true} {
		name := "without-refresh"
		if refresh {
			name = "with-refresh"
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
				b.ReportMetric(float64(st.Creates), "creates")
				b.ReportMetric(float64(st.Requests)/3, "s-at-180/m")
				b.ReportMetric(r.wall.Seconds(), "wall-s")
			}
		})
	}
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

// BenchmarkNoop: 100,000 groups, all up to date: no call at all.
func BenchmarkNoop(b *testing.B) {
	const n = 100_000
	path, err := benchdata.CSV(n, false)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		e := newBenchEnv(b, sandbox.Config{Quota: -1})
		writeState(b, path, filepath.Join(e.dir, "state.json"), e.url)
		m := e.apply(b, path)
		if m.code != 0 {
			b.Fatalf("exit %d: %s", m.code, m.stderr)
		}
		b.ReportMetric(float64(e.sb.Stats().Requests), "api-calls")
		b.ReportMetric(m.wall.Seconds(), "wall-s")
		b.ReportMetric(float64(m.maxRSS)/n, "peak-B/group")
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
