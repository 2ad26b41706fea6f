package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"groupsync/internal/fakeclock"
	"groupsync/reconcile"
	"groupsync/sandbox"
)

const token = "cli-test-token-0123456789"

// The help text and the README's Usage block are the same text.
func TestUsage_IsTheREADMEs(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n## Usage\n\n```\n(.*?)```\n").FindSubmatch(data)
	if m == nil {
		t.Fatal("README.md has no ## Usage section with a code block")
	}
	if got := string(m[1]); got != Usage {
		t.Errorf("README's Usage block differs from the help text:\n%s\nwant\n%s", got, Usage)
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in     string
		quota  int
		window time.Duration
		bad    bool
	}{
		{"180/m", 180, time.Minute, false},
		{"3/s", 3, time.Second, false},
		{"10800/h", 10800, time.Hour, false},
		{"0.5/s", 1, 2 * time.Second, false},
		{"2.5/s", 3, 1200 * time.Millisecond, false},
		{"100/10s", 100, 10 * time.Second, false},
		{"180/3s", 180, 3 * time.Second, false},
		{"5/1.5s", 5, 1500 * time.Millisecond, false},
		{"1000/2h", 1000, 2 * time.Hour, false},
		{"180/1m", 180, time.Minute, false},
		{"180/0s", 0, 0, true},
		{"180/-3s", 0, 0, true},
		{"180/NaNs", 0, 0, true},
		{"180/3", 0, 0, true},
		{"180/", 0, 0, true},
		{"180/3x", 0, 0, true},
		{"180/ 3s", 0, 0, true},
		{"NaN/s", 0, 0, true},
		{"NaN", 0, 0, true},
		{"+Inf/m", 0, 0, true},
		{"0/s", 0, 0, true},
		{"-3/s", 0, 0, true},
		{"3/d", 0, 0, true},
	}
	for _, tt := range tests {
		r, err := parseRate(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && (r.Quota != tt.quota || r.Window != tt.window)) {
			t.Errorf("parseRate(%q) = %+v, %v", tt.in, r, err)
		}
	}
}

func sandboxURL(t *testing.T) (*sandbox.Server, string) {
	sb := sandbox.New(sandbox.Config{Token: token, Quota: -1})
	ts := httptest.NewServer(sb)
	t.Cleanup(ts.Close)
	return sb, ts.URL
}

// In a terminal apply shows the plan and asks; only "yes" goes on. It
// never asks when stdin or stderr is not a terminal, or with
// --auto-approve.
func TestApply_AsksInATerminal(t *testing.T) {
	sb, url := sandboxURL(t)
	dir := t.TempDir()
	m := filepath.Join(dir, "m.csv")
	os.WriteFile(m, []byte("id,name\na,A\n"), 0o600)
	run := func(interactive bool, stdin string, extra ...string) (string, int) {
		var stderr bytes.Buffer
		args := append([]string{"apply", "-f", m, "--api-url", url, "--state", filepath.Join(dir, "s.json"),
			"--report", filepath.Join(dir, "r.csv"), "--rate", "100/s"}, extra...)
		code := Main(context.Background(), args, IO{Stdin: strings.NewReader(stdin), Stdout: io.Discard, Stderr: &stderr, Interactive: interactive,
			Getenv: func(k string) string { return map[string]string{"EXPLO_API_TOKEN": token}[k] }})
		return stderr.String(), code
	}
	out, code := run(true, "no\n")
	if code != 1 || !strings.Contains(out, "  + create a\n") || !strings.Contains(out, "Apply these changes? Only 'yes' will be accepted: ") ||
		!strings.Contains(out, "apply cancelled; nothing was sent") || sb.Stats().Requests != 0 {
		t.Fatalf("answer no: exit %d, %d calls\n%s", code, sb.Stats().Requests, out)
	}
	// End of input (Ctrl-D) ends the prompt's line before the error.
	if out, code := run(true, ""); code != 1 || sb.Stats().Requests != 0 ||
		!strings.Contains(out, "Only 'yes' will be accepted: \ngroupsync: error: apply cancelled") {
		t.Fatalf("no answer: exit %d\n%s", code, out)
	}
	if out, code := run(false, ""); code != 0 || strings.Contains(out, "Apply these changes?") || sb.Stats().Requests != 1 {
		t.Fatalf("not a terminal: exit %d\n%s", code, out)
	}
	os.WriteFile(m, []byte("id,name\na,A2\n"), 0o600)
	if out, code := run(true, "", "--auto-approve"); code != 0 || strings.Contains(out, "Apply these changes?") || sb.Stats().Requests != 2 {
		t.Fatalf("--auto-approve: exit %d\n%s", code, out)
	}
	os.WriteFile(m, []byte("id,name\na,A3\n"), 0o600)
	if out, code := run(true, "yes\n"); code != 0 || sb.Stats().Requests != 3 {
		t.Fatalf("yes: exit %d\n%s", code, out)
	}
}

// Without a terminal, progress is a line every ten seconds, with a
// timestamp and the time left at the pace so far.
func TestProgress_Lines(t *testing.T) {
	c := fakeclock.New(time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC))
	var out bytes.Buffer
	p := newProgress(IO{Stderr: &out, Clock: c}, 10)
	c.BlockUntil(1, nil)
	for range 4 {
		p.add(&reconcile.Result{Status: reconcile.StatusOK})
	}
	p.add(&reconcile.Result{Status: reconcile.StatusFailed})
	c.Advance(10 * time.Second)
	c.BlockUntil(1, nil) // the next line's timer: the first line is out
	p.finish()
	if got, want := out.String(), "groupsync: 2026-11-24T03:00:10Z progress: 5/10 groups done, 1 failed, about 10s left\n"; got != want {
		t.Errorf("progress line %q, want %q", got, want)
	}
}

// With a bar, -v lines go above it: the bar's line is cleared first, and
// each log line ends its own line.
func TestProgress_LogGoesAboveTheBar(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(IO{Stderr: &out, StderrTerminal: true}, 3)
	p.add(&reconcile.Result{Status: reconcile.StatusOK})
	p.log("groupsync: a: create ok (1 attempt)")
	p.add(&reconcile.Result{Status: reconcile.StatusOK})
	p.log("groupsync: b: create ok (1 attempt)")
	p.finish()
	s := out.String()
	for _, line := range []string{"groupsync: a: create ok (1 attempt)", "groupsync: b: create ok (1 attempt)"} {
		i := strings.Index(s, line)
		if i < 1 || s[i-1] != '\r' || !strings.HasPrefix(s[i+len(line):], "\n") {
			t.Errorf("%q is not on a line of its own, above the bar:\n%q", line, s)
		}
	}
}

// groupsync sandbox serves both APIs until interrupted, and keeps its
// store in --data.
// runSandbox starts `groupsync sandbox` with args and returns its URL,
// the lines it printed after the first, a function that calls it with
// the token t0k, and one that stops it and returns its error.
func runSandboxCommand(t *testing.T, args ...string) (url string, lines *bufio.Reader, call func(method, path, body string) (int, string), stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"sandbox", "--addr", "127.0.0.1:0", "--token", "t0k"}, args...), IO{Stdout: w, Stderr: io.Discard})
		w.Close()
	}()
	lines = bufio.NewReader(r)
	line, err := lines.ReadString('\n')
	if err != nil {
		t.Fatal(err, <-done)
	}
	url = strings.TrimSpace(strings.TrimPrefix(line, "sandbox: serving the Explo API on "))
	call = func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Explo-Authorization", "Token t0k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After") + string(data)
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		go io.Copy(io.Discard, lines)
		return <-done
	}
	t.Cleanup(func() { stop() })
	return url, lines, call, stop
}

func TestSandboxCommand(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data.json")
	_, _, call, stop := runSandboxCommand(t, "--rate", "5/s", "--limiter", "bucket", "--burst", "5",
		"--retry-after", "date", "--latency", "1ms", "--fail-rate", "0", "--faults", "500", "--slow", "1s", "--fault-seed", "3",
		"--levels", "Top,Bottom", "--tags", "x,y", "--list-style", "count", "--data", data)
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/api/create_user_group/", `{"user_group_id": "a", "name": "A"}`, `"new_user_group":true`},
		{"POST", "/api/create_customer/", `{"provided_id": "b", "name": "B", "group_tags": ["x"]}`, `"hierarchy_level":"Top"`},
		{"POST", "/api/create_customer/", `{"provided_id": "c", "name": "C", "hierarchy_level_name": "Bottom", "parent_provided_id": "b"}`, `"new_customer":true`},
		{"POST", "/api/create_customer/", `{"provided_id": "d", "name": "D", "group_tags": ["gold"]}`, `group tag \"gold\" does not exist`},
		{"GET", "/v2/api/customers/?page=1&page_size=10", ``, `"count":3`},
	} {
		if _, got := call(c.method, c.path, c.body); !strings.Contains(got, c.want) {
			t.Errorf("%s %s: %s, want %s", c.method, c.path, got, c.want)
		}
	}
	// The bucket of 5 is spent: a 429 with a date.
	if code, got := call("GET", "/v2/api/customers/", ``); code != 429 || !strings.Contains(got, "GMT") {
		t.Errorf("over the limit: %d %s", code, got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(data)
	if !strings.Contains(string(saved), `"provided_id": "a"`) || !strings.Contains(string(saved), `"provided_id": "c"`) {
		t.Errorf("--data holds %s", saved)
	}
	for _, bad := range [][]string{{"--addr", "0.0.0.0:8089"}, {"--hostile", "nice"}, {"--limiter", "leaky"}, {"--rate", "NaN"}, {"--retry-after", "soon"}, {"--fail-rate", "2"},
		{"--list-style", "snake"}, {"--delete-children", "orphan"}, {"--seed", filepath.Join(t.TempDir(), "missing.csv")}} {
		if err := Run(context.Background(), append([]string{"sandbox"}, bad...), IO{Stdout: io.Discard, Stderr: io.Discard}); err == nil {
			t.Errorf("sandbox %v was accepted", bad)
		}
	}
}

// The revisions of the docs, the seed file and the list's hostile modes,
// as the flags set them.
func TestSandboxCommand_RevisionsAndSeed(t *testing.T) {
	dir := t.TempDir()
	seed, data := filepath.Join(dir, "seed.csv"), filepath.Join(dir, "data.json")
	os.WriteFile(seed, []byte("provided_id,name,level,parent,tags\norg,Org,,,gold\nteam,Team,Team,org,\n"), 0o600)
	args := []string{"--rate", "off", "--list-style", "camel", "--delete-children", "refuse", "--seed", seed, "--data", data}
	_, lines, call, stop := runSandboxCommand(t, append(args, "--hostile", "list-duplicates")...)
	lines.ReadString('\n') // the token
	if note, _ := lines.ReadString('\n'); note != "sandbox: 2 customers from "+seed+"\n" {
		t.Errorf("note %q", note)
	}
	if _, got := call("GET", "/v2/api/customers/?page_size=10", ``); !strings.Contains(got, `"totalCount":4`) || !strings.Contains(got, `"providedId":"team"`) ||
		!strings.Contains(got, `"accessGroup":"Development"`) {
		t.Errorf("camel list with duplicates: %s", got)
	}
	if _, got := call("GET", "/api/group_tags/", ``); !strings.Contains(got, `{"name":"gold"}`) {
		t.Errorf("group tags: %s", got)
	}
	_, got := call("POST", "/api/get_customer/", `{"provided_id": "org"}`)
	tok := regexp.MustCompile(`"token":"([0-9a-f]+)"`).FindStringSubmatch(got)
	if tok == nil {
		t.Fatalf("get_customer: %s", got)
	}
	if code, got := call("DELETE", "/api/delete_customer/", `{"current_token": "`+tok[1]+`"}`); code != 200 || !strings.Contains(got, `"success":0`) || !strings.Contains(got, "has children") {
		t.Errorf("delete of a parent under refuse: %d %s", code, got)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// Restarted on the same data, it keeps what the data file holds.
	_, lines, call, _ = runSandboxCommand(t, args...)
	lines.ReadString('\n')
	if note, _ := lines.ReadString('\n'); !strings.Contains(note, "not loaded: --data "+data+" already holds 2 customers") {
		t.Errorf("note %q", note)
	}
	if _, got := call("GET", "/v2/api/customers/?page_size=10", ``); !strings.Contains(got, `"totalCount":2`) {
		t.Errorf("list after the restart: %s", got)
	}
	os.WriteFile(seed, []byte("provided_id,name,tags\norg,Org,platinum\n"), 0o600)
	err := Run(context.Background(), []string{"sandbox", "--addr", "127.0.0.1:0", "--seed", seed}, IO{Stdout: io.Discard, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), seed+`:2: tags: group tag "platinum" does not exist`) {
		t.Errorf("a bad seed: %v", err)
	}
	// The fault seed was once --seed N.
	err = Run(context.Background(), []string{"sandbox", "--addr", "127.0.0.1:0", "--seed", "3"}, IO{Stdout: io.Discard, Stderr: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "--fault-seed") {
		t.Errorf("--seed 3: %v, want a pointer to --fault-seed", err)
	}
}
