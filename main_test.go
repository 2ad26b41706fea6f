package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"groupsync/cli"
	"groupsync/sandbox"
)

const testToken = "test-api-token-0123456789abcdef"

// TestMain lets the test binary stand in for groupsync: testscript runs
// it as the groupsync command, and the crash and signal tests as a real
// process, without building it.
func TestMain(m *testing.M) {
	if spec := os.Getenv("GROUPSYNC_BENCH_WRITE_STATE"); spec != "" {
		os.Exit(writeStateProcess(spec))
	}
	// The race detector sleeps a second at every exit by default; the
	// tests start a few hundred processes.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	testscript.Main(m, map[string]func(){"groupsync": main})
}

// command returns groupsync, as a process, with the env's flags.
func (e *env) command(args ...string) *exec.Cmd {
	args = append(args, "--api-url", e.url, "--token-file", e.token, "--state", e.path("state.json"), "--report", e.path("report.csv"))
	// TestMain put the test binary on $PATH as groupsync.
	return exec.Command("groupsync", args...)
}

// env is a sandbox on loopback plus a work directory, for running the CLI
// end to end.
type env struct {
	t     testing.TB
	sb    *sandbox.Server
	url   string
	dir   string
	token string // path of the token file
	api   string // --api of plan and apply
	// apiToken is the API token the sandbox accepts, which no output may
	// carry.
	apiToken string
	// backoff, when set, shortens the retry backoff of the runs.
	backoff time.Duration
}

// newEnv starts a sandbox and a work directory. The API token is
// testToken unless cfg sets one.
func newEnv(t testing.TB, cfg sandbox.Config) *env {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	if cfg.Quota == 0 {
		cfg.Quota = -1
	}
	cfg.RecordRequests = true
	sb := sandbox.New(cfg)
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { sb.Resume(true) })
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(tok, []byte(cfg.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, sb: sb, url: ts.URL, dir: dir, token: tok, api: cli.APIUserGroup, apiToken: cfg.Token}
}

func (e *env) path(name string) string { return filepath.Join(e.dir, name) }

func (e *env) write(name, content string) string {
	e.t.Helper()
	p := e.path(name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// run runs groupsync as main does (cli.Main, with its error printing),
// with the sandbox's URL, token and the env's state and report, and
// returns stdout, stderr and the exit code. No output may carry the API
// token.
func (e *env) run(args ...string) (string, string, int) {
	e.t.Helper()
	return e.runCtx(context.Background(), args...)
}

func (e *env) runCtx(ctx context.Context, args ...string) (string, string, int) {
	e.t.Helper()
	if len(args) > 0 && (args[0] == "plan" || args[0] == "apply" || args[0] == "rotate") {
		args = append(args, "--api-url", e.url, "--token-file", e.token, "--state", e.path("state.json"))
		if args[0] != "rotate" {
			args = append(args, "--api", e.api)
		}
		if args[0] != "plan" {
			args = append(args, "--report", e.path("report.csv"), "--rate", "1000/s")
		}
	}
	var stdout, stderr bytes.Buffer
	code := cli.Main(ctx, args, cli.IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }, Backoff: e.backoff})
	for _, out := range []string{stdout.String(), stderr.String()} {
		if strings.Contains(out, e.apiToken) {
			e.t.Fatalf("output carries the API token:\n%s", out)
		}
	}
	return stdout.String(), stderr.String(), code
}

// report reads the report as rows keyed by column.
func (e *env) report() []map[string]string {
	e.t.Helper()
	return readReport(e.t, e.path("report.csv"))
}

// fatal is what readReport needs of a test or a script.
type fatal interface {
	Helper()
	Fatal(args ...any)
}

// readReport reads a CSV report, or a JSON one (its values as the CSV
// would show them: null is empty).
func readReport(t fatal, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if strings.HasSuffix(path, ".json") {
		var objs []map[string]any
		if err := json.NewDecoder(f).Decode(&objs); err != nil {
			t.Fatal(err)
		}
		var rows []map[string]string
		for _, o := range objs {
			row := map[string]string{}
			for k, v := range o {
				if v != nil {
					row[k] = fmt.Sprint(v)
				}
			}
			rows = append(rows, row)
		}
		return rows
	}
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows
}

// customers returns a CSV of n groups with every field managed; names may
// be overridden by id.
func customers(n int, names map[string]string, mappings map[string]string) string {
	var b strings.Builder
	b.WriteString("user_group_id,name,is_demo_group,mapping,properties.region,properties\n")
	for i := range n {
		id := fmt.Sprintf("cust-%03d", i)
		name := fmt.Sprintf("Customer %d", i)
		if v, ok := names[id]; ok {
			name = v
		}
		ds := fmt.Sprint(200 + i)
		if v, ok := mappings[id]; ok {
			ds = v
		}
		fmt.Fprintf(&b, "%s,%s,%t,\"{\"\"40\"\": \"\"%s\"\"}\",r%d,\"{\"\"tier\"\": %d}\"\n", id, name, i%7 == 0, ds, i%3, i%4)
	}
	return b.String()
}
