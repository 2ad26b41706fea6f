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
	"syscall"
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
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss * 1024
	}
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

const benchLimit = 50 // the sandbox's allowed requests per second

// BenchmarkCreates: 1,000 creates against a sandbox limited to 50/s.
func BenchmarkCreates(b *testing.B) {
	cases := []struct {
		name     string
		rate     string
		failRate float64
	}{
		{"client-50/s", "50/s", 0},
		{"client-250/s", "250/s", 0},
		{"client-50/s-faults-20%", "50/s", 0.2},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				const n = 1000
				e := newBenchEnv(b, sandbox.Config{Quota: benchLimit, Window: time.Second, FailRate: c.failRate, SlowDelay: 1500 * time.Millisecond})
				m := e.apply(b, smallManifest(b, e.dir, n), "--rate", c.rate, "--concurrency", "8", "--timeout", "1s")
				failed := e.failed(b)
				reportRates(b, e.sb.Stats(), n-failed, m.wall, int(benchLimit))
				b.ReportMetric(float64(failed), "failed-groups")
			}
		})
	}
}

// BenchmarkSequentialBaseline is Explo's documented loop: one call at a
// time, and a one-minute sleep on every 429. Time is scaled with the limit:
// the sandbox allows 50/s instead of 3/s, so the minute becomes
// 60s × 3/50 = 3.6s. How a limit admits bursts decides how much that sleep
// wastes, so it runs against both a smooth limiter (one second's burst)
// and one that admits a minute's worth at once (180 calls).
func BenchmarkSequentialBaseline(b *testing.B) {
	const n = 500
	sleep := time.Duration(float64(time.Minute) * 3 / float64(benchLimit))
	for _, burst := range []int{50, 180} {
		b.Run(fmt.Sprintf("burst-%d", burst), func(b *testing.B) {
			for b.Loop() {
				e := newBenchEnv(b, sandbox.Config{Quota: benchLimit, Window: time.Second, Limiter: sandbox.LimiterBucket, Burst: burst})
				start := time.Now()
				for i := range n {
					id, name := benchdata.Row(i)
					for {
						code := postCreate(b, e.url, id, name)
						if code != http.StatusTooManyRequests {
							break
						}
						time.Sleep(sleep)
					}
				}
				reportRates(b, e.sb.Stats(), n, time.Since(start), burst)
			}
		})
	}
}

// reportRates reports, as ratios to the sandbox's limit: the requests it
// accepted per second, the groups converged per second, and the accepted
// requests over all the limit allowed in the run, its initial burst
// included (a short run against a large burst can exceed the rate).
func reportRates(b *testing.B, st sandbox.Stats, groups int, wall time.Duration, burst int) {
	accepted := float64(st.Requests - st.Throttled)
	b.ReportMetric(accepted/wall.Seconds()/float64(benchLimit), "accepted/allowed")
	b.ReportMetric(float64(groups)/wall.Seconds()/float64(benchLimit), "groups/allowed")
	b.ReportMetric(accepted/(float64(burst)+float64(benchLimit)*wall.Seconds()), "burst-adjusted")
	b.ReportMetric(float64(st.Throttled), "429s")
	b.ReportMetric(float64(st.Faults), "faults")
	b.ReportMetric(wall.Seconds(), "wall-s")
}

func postCreate(b *testing.B, url, id, name string) int {
	body := fmt.Sprintf(`{"user_group_id": %q, "name": %q}`, id, name)
	req, _ := http.NewRequestWithContext(context.Background(), "POST", url+"/api/create_user_group/", strings.NewReader(body))
	req.Header.Set("Explo-Authorization", "Token "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
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
