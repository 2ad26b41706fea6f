package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"groupsync/manifest"
	"groupsync/reconcile"
	"groupsync/sandbox"
	"groupsync/state"
)

// syncBuffer is a buffer a process writes to while the test reads it; each
// write wakes whoever waits for what it holds.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor blocks until out holds want: the process writes it when it has
// reached that point.
func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	// A watchdog, not synchronisation: a process that never gets there
	// fails the test instead of hanging it.
	deadline := time.After(30 * time.Second)
	for {
		out.mu.Lock()
		if strings.Contains(out.b.String(), want) {
			out.mu.Unlock()
			return
		}
		if out.changed == nil {
			out.changed = make(chan struct{})
		}
		changed := out.changed
		out.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %q in:\n%s", want, out.String())
		}
	}
}

// startHeld starts groupsync apply as a process against a sandbox that
// holds every request after the first after (before acting on it), and
// returns once held requests fill the run's slots.
func startHeld(t *testing.T, e *env, manifestPath string, after, concurrency int) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	e.sb.PauseAfter(after, sandbox.PauseBefore)
	cmd := e.command("apply", "-f", manifestPath, "--rate", "5000/s", "--concurrency", fmt.Sprint(concurrency))
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.sb.WaitHeld(concurrency)
	return cmd, stderr
}

// checkReportMatchesSandbox asserts that every row is ok and carries the
// sandbox's token for its group.
func checkReportMatchesSandbox(t *testing.T, e *env, n int) {
	t.Helper()
	remote := e.sb.Groups()
	rows := e.report()
	if len(rows) != n || len(remote) != n {
		t.Fatalf("%d report rows, %d groups on the service; want %d", len(rows), len(remote), n)
	}
	for _, r := range rows {
		if r["status"] != "ok" || r["token"] == "" || r["token"] != remote[r["user_group_id"]].Token {
			t.Errorf("row %v does not match the service", r)
		}
	}
}

func loadGroups(t *testing.T, path string) []reconcile.Group {
	t.Helper()
	m, err := manifest.Load([]string{path}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m.Groups
}

// exitCode waits for cmd and returns its exit code.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		// A process ended by a signal has no exit code; a shell reports
		// it as 128+signal, as the README's exit codes do.
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// skipWithoutSignals skips a test that interrupts a process where Go
// cannot: on Windows os.Process.Signal sends only Kill.
func skipWithoutSignals(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("os.Process.Signal cannot send Ctrl-C on Windows")
	}
}

// Killed with -9 while 4 calls are in flight, at a point the sandbox
// holds them, the rerun makes exactly the calls left: one per group not in
// the state, plus one adopt update for each held create the service had
// already acted on (its answer was lost). Before the fix, an answer could
// be received and its slot reused before it was journaled, so a kill lost
// more than the calls in flight, and the old test's bound failed about one
// run in eight.
func TestCrash_KillWhileCallsAreInFlight(t *testing.T) {
	const n, concurrency = 60, 4
	for _, tt := range []struct {
		name  string
		when  sandbox.PauseWhen
		after int
	}{
		{"HeldBeforeActing-10", sandbox.PauseBefore, 10},
		{"HeldBeforeActing-37", sandbox.PauseBefore, 37},
		{"HeldAfterActing-10", sandbox.PauseAfter, 10},
		{"HeldAfterActing-37", sandbox.PauseAfter, 37},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			m := e.write("customers.csv", customers(n, nil, nil))
			e.sb.PauseAfter(tt.after, tt.when)
			cmd := e.command("apply", "-f", m, "--rate", "5000/s", "--concurrency", fmt.Sprint(concurrency))
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			e.sb.WaitHeld(concurrency)
			cmd.Process.Kill()
			cmd.Wait()
			e.sb.Resume(true)

			st, err := state.Read(e.path("state.json"))
			if err != nil {
				t.Fatalf("state after kill: %v", err)
			}
			left := reconcile.Diff(loadGroups(t, m), st, reconcile.Options{}).Summary().Calls
			if want := n - tt.after; left != want {
				t.Errorf("%d groups left after the kill, want %d: answers were lost", left, want)
			}
			lost := 0
			if tt.when == sandbox.PauseAfter {
				lost = concurrency
			}
			before := e.sb.Stats().Requests
			if _, stderr, code := e.run("apply", "-f", m); code != 0 {
				t.Fatalf("rerun exit %d\n%s", code, stderr)
			}
			if got, want := e.sb.Stats().Requests-before, left+lost; got != want {
				t.Errorf("rerun made %d calls, want %d (%d left, %d acted on but unanswered)", got, want, left, lost)
			}
			checkReportMatchesSandbox(t, e, n)
		})
	}
}

func TestInterrupt_FinishesInFlightAndSkipsTheRest(t *testing.T) {
	skipWithoutSignals(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			const n = 40
			e := newEnv(t, sandbox.Config{})
			m := e.write("customers.csv", customers(n, nil, nil))
			cmd, stderr := startHeld(t, e, m, 10, 2)
			cmd.Process.Signal(sig)
			// The run waits for the calls in flight; they finish.
			waitFor(t, stderr, "waiting up to")
			e.sb.Resume(false)
			if code := exitCode(t, cmd); code != 3 {
				t.Fatalf("exit %d, want 3\n%s", code, stderr.String())
			}
			out := stderr.String()
			for _, want := range []string{"interrupted: starting nothing new; waiting up to 10s for 2 calls in flight; interrupt again to stop at once",
				"interrupted: 28 groups not applied; rerun to finish"} {
				if !strings.Contains(out, want) {
					t.Errorf("stderr lacks %q:\n%s", want, out)
				}
			}
			counts := map[string]int{}
			for _, r := range e.report() {
				counts[r["status"]]++
			}
			if counts["ok"] != 12 || counts["skipped"] != 28 || len(e.sb.Groups()) != 12 {
				t.Errorf("report after the signal: %v, %d groups on the service; want 12 ok and 28 skipped", counts, len(e.sb.Groups()))
			}
			if _, stderr, code := e.run("apply", "-f", m); code != 0 {
				t.Fatalf("rerun exit %d\n%s", code, stderr)
			}
			checkReportMatchesSandbox(t, e, n)
		})
	}
}

func TestInterrupt_SecondSignalExitsAtOnce(t *testing.T) {
	skipWithoutSignals(t)
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(20, nil, nil))
	cmd, stderr := startHeld(t, e, m, 0, 2)
	cmd.Process.Signal(syscall.SIGINT) // the calls held keep the run in its grace period
	waitFor(t, stderr, "interrupt again to stop at once")
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	if code := exitCode(t, cmd); code != 128+int(syscall.SIGINT) || time.Since(start) > 5*time.Second {
		t.Fatalf("after a second signal: exit %d after %v, want 130 (by SIGINT) at once", code, time.Since(start))
	}
	if want := "groupsync: stopped at once by a second signal, without waiting for the calls in flight; the state is consistent: rerun to finish\n"; !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("stderr does not end with %q:\n%s", want, stderr.String())
	}
	if _, err := state.Read(e.path("state.json")); err != nil {
		t.Errorf("state after a second signal: %v", err)
	}
}

func TestLock_SecondRunExitsNamingTheHolder(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(10, nil, nil))
	first, _ := startHeld(t, e, m, 1, 1)
	_, stderr, code := e.run("apply", "-f", m)
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("pid %d", first.Process.Pid)) || !strings.Contains(stderr, "started ") {
		t.Errorf("second run: exit %d\n%s", code, stderr)
	}
	first.Process.Kill()
	first.Wait()
	e.sb.Resume(true)
	// The dead holder's lock file stays behind and must not block.
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatalf("run after the holder died: exit %d\n%s", code, stderr)
	}
}

// Many short real applies, as cron makes them: each one exits, and the
// next one is never locked out. Before the fix, about one in sixteen hung
// at the end holding the lock.
func TestApply_ShortRunsAlwaysEnd(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	for i := range 30 {
		m := e.write("customers.csv", customers(3+i%4, map[string]string{"cust-000": fmt.Sprint("Run ", i)}, nil))
		cmd := e.command("apply", "-f", m, "--rate", "5000/s")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan int, 1)
		go func() { done <- exitCode(t, cmd) }()
		select {
		case code := <-done:
			if code != 0 {
				t.Fatalf("run %d: exit %d", i, code)
			}
		case <-time.After(30 * time.Second):
			// A watchdog, not synchronisation: a hang fails the test.
			cmd.Process.Kill()
			t.Fatalf("run %d did not end", i)
		}
	}
}

func TestApply_ConvergesThroughFaults(t *testing.T) {
	e := newEnv(t, sandbox.Config{FailRate: 0.2, SlowDelay: 300 * time.Millisecond, FaultSeed: 7})
	m := e.write("customers.csv", customers(120, nil, nil))
	_, stderr, code := e.run("apply", "-f", m, "--timeout", "100ms", "--concurrency", "8", "--max-attempts", "10")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	checkReportMatchesSandbox(t, e, 120)
	adopted := 0
	for _, r := range e.report() {
		if r["action"] == "adopt" {
			adopted++
		}
	}
	// Lost answers (reset after processing, slow answers) make the repeat
	// find the group: those must have taken the adopt path.
	if st := e.sb.Stats(); st.Faults < 10 || adopted == 0 {
		t.Errorf("%d faults injected, %d adopted: the test did not exercise lost answers", st.Faults, adopted)
	}
}

func TestApply_OverEagerClientConverges(t *testing.T) {
	for _, mode := range []sandbox.RetryAfterMode{sandbox.RetryAfterNone, sandbox.RetryAfterSeconds, sandbox.RetryAfterDate, sandbox.RetryAfterMixed} {
		t.Run(string(mode), func(t *testing.T) {
			// The service allows 40 a second; the client is told 200.
			e := newEnv(t, sandbox.Config{Quota: 40, Window: time.Second, RetryAfter: mode})
			m := e.write("customers.csv", customers(50, nil, nil))
			var stdout, stderr bytes.Buffer
			cmd := exec.Command("groupsync", "apply", "-f", m, "--api-url", e.url, "--token-file", e.token, "--state", e.path("state.json"),
				"--report", e.path("report.csv"), "--rate", "200/s", "--concurrency", "8", "--max-attempts", "1")
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			checkReportMatchesSandbox(t, e, 50)
			if e.sb.Stats().Throttled == 0 {
				t.Error("no 429 at all: the test did not exceed the limit")
			}
		})
	}
}

// A refused token costs exactly one call: until an answer shows the token
// is accepted, only one call is in flight, whatever --concurrency says.
func TestApply_UnauthorizedStopsAfterOneCall(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(60, nil, nil))
	e.write("token", "wrong-token")
	_, stderr, code := e.run("apply", "-f", m, "--concurrency", "16")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	if n := e.sb.Stats().Requests; n != 1 {
		t.Errorf("%d calls with a refused token, want 1", n)
	}
	if got := strings.Count(stderr, "refused the API token"); got != 1 {
		t.Errorf("the refusal is said %d times, want once:\n%s", got, stderr)
	}
	if strings.Contains(stderr, "wrong-token") {
		t.Error("stderr shows the API token")
	}
}

// When changes were made and the state or the report cannot be written,
// the run says what changed and where its tokens are, and exits 3: exit 1
// would promise that nothing changed.
func TestApply_WriteFailuresAfterChangesAreExit3(t *testing.T) {
	t.Run("State", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{})
		m := e.write("customers.csv", customers(3, nil, nil))
		// A directory where the backup goes makes the state's write fail.
		if err := os.MkdirAll(filepath.Join(e.path("state.json.backup"), "x"), 0o700); err != nil {
			t.Fatal(err)
		}
		e.write("state.json", `{"format_version": 1, "serial": 1, "groups": {}}`)
		_, stderr, code := e.run("apply", "-f", m)
		if code != 3 || !strings.Contains(stderr, "3 groups changed on the service, but the state could not be written") ||
			!strings.Contains(stderr, "every answer this run recorded is in "+e.path("state.json.journal")+", which the next run folds in") {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
		os.RemoveAll(e.path("state.json.backup"))
		e.sb.ResetStats()
		if _, stderr, code := e.run("apply", "-f", m); code != 0 || e.sb.Stats().Requests != 0 {
			t.Fatalf("rerun: exit %d, %d calls\n%s", code, e.sb.Stats().Requests, stderr)
		}
		checkReportMatchesSandbox(t, e, 3)
	})
	t.Run("Report", func(t *testing.T) {
		e := newEnv(t, sandbox.Config{})
		m := e.write("customers.csv", customers(3, nil, nil))
		// The report's path becomes a folder while the run is under way:
		// the write fails at the end, after the check before the calls.
		e.sb.PauseAfter(1, sandbox.PauseBefore)
		var stderr string
		var code int
		ran := make(chan struct{})
		go func() { defer close(ran); _, stderr, code = e.run("apply", "-f", m, "--concurrency", "1") }()
		e.sb.WaitHeld(1)
		os.MkdirAll(filepath.Join(e.path("report.csv"), "x"), 0o700)
		e.sb.Resume(false)
		<-ran
		if code != 3 || !strings.Contains(stderr, "3 groups changed on the service, but the report could not be written") ||
			!strings.Contains(stderr, "the state holds the tokens recorded") {
			t.Fatalf("exit %d\n%s", code, stderr)
		}
	})
}

// A report that cannot be written is found before the first call: exit
// 1, nothing sent. Root writes into a read-only folder, so a name too long
// for the temporary file stands in for it there.
func TestApply_UnwritableReportIsRefusedBeforeAnyCall(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(3, nil, nil))
	readOnly := e.path("read-only")
	os.Mkdir(readOnly, 0o500)
	t.Cleanup(func() { os.Chmod(readOnly, 0o700) })
	cases := map[string]string{"NameTooLong": e.path(strings.Repeat("r", 240) + ".csv")}
	if f, err := os.CreateTemp(readOnly, "probe"); err == nil {
		f.Close()
		os.Remove(f.Name())
		t.Log("this user writes into read-only folders: only the long name is tried")
	} else {
		cases["ReadOnly"] = filepath.Join(readOnly, "report.csv")
	}
	for name, report := range cases {
		t.Run(name, func(t *testing.T) {
			for _, args := range [][]string{
				{"apply", "-f", m, "--report", report},
				{"apply", "-f", m, "--dry-run", "--report", report},
			} {
				cmd := e.command(args...)
				// e.command appends its own --report; this one comes last.
				cmd.Args = append(cmd.Args, "--report", report)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if code := runExit(t, cmd); code != 1 || !strings.Contains(stderr.String(), "--report "+report+": cannot write in the folder ") ||
					!strings.Contains(stderr.String(), "; nothing was sent") {
					t.Errorf("%s: exit %d\n%s", strings.Join(args, " "), code, stderr.String())
				}
			}
			if n := e.sb.Stats().Requests; n != 0 {
				t.Errorf("%d calls, want none", n)
			}
			entries, _ := os.ReadDir(filepath.Dir(report))
			for _, f := range entries {
				if strings.HasPrefix(f.Name(), ".groupsync-tmp-") {
					t.Errorf("the probe left %s behind", f.Name())
				}
			}
		})
	}
}

// When the report cannot be written after changes (its folder is gone by
// the end), the summary still counts what was done, in both forms.
func TestApply_ReportLostAfterChangesStillCounted(t *testing.T) {
	for _, form := range []string{"text", "json"} {
		t.Run(form, func(t *testing.T) {
			e := newEnv(t, sandbox.Config{})
			m := e.write("customers.csv", customers(4, nil, nil))
			reports := e.path("reports")
			os.Mkdir(reports, 0o700)
			e.sb.PauseAfter(2, sandbox.PauseBefore)
			cmd := e.command("apply", "-f", m, "--rate", "5000/s", "--concurrency", "1")
			cmd.Args = append(cmd.Args, "--report", filepath.Join(reports, "r.csv"))
			if form == "json" {
				cmd.Args = append(cmd.Args, "--json")
			}
			var stdout bytes.Buffer
			stderr := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = &stdout, stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			e.sb.WaitHeld(1)
			if err := os.RemoveAll(reports); err != nil {
				t.Fatal(err)
			}
			e.sb.Resume(false)
			if code := exitCode(t, cmd); code != 3 || !strings.Contains(stderr.String(), "4 groups changed on the service, but the report could not be written") {
				t.Fatalf("exit %d\n%s", code, stderr.String())
			}
			switch form {
			case "text":
				if !strings.Contains(stderr.String(), "groupsync: 4 created, 0 adopted, 0 updated, 0 unchanged, 0 orphaned, 0 failed, 0 skipped;") {
					t.Errorf("the summary does not count the changes:\n%s", stderr.String())
				}
			case "json":
				var sum struct{ Create, OK int }
				if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil || sum.Create != 4 || sum.OK != 4 {
					t.Errorf("summary %+v (%v):\n%s", sum, err, stdout.String())
				}
			}
		})
	}
}

// runExit runs cmd and returns its exit code.
func runExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return exitCode(t, cmd)
}

func TestState_CorruptIsRefusedNamingTheBackup(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(3, nil, nil))
	e.write("state.json", `{"format_version": 1, "serial": 4, "groups": {"a": {"tok`)
	_, stderr, code := e.run("apply", "-f", m)
	if code != 1 || !strings.Contains(stderr, "state.json.backup") || e.sb.Stats().Requests != 0 {
		t.Fatalf("exit %d, %d calls\n%s", code, e.sb.Stats().Requests, stderr)
	}
}

// Whatever the service answers, in any mode, no output (nor the report's
// error column) carries a token, in any case or split by white space, or
// a terminal control character taken from an answer. The API token has
// no digit, and the state holds tokens of every shape, some of which no
// heuristic could tell from words: only knowing them keeps them out.
func TestSecrets_NeverInOutput(t *testing.T) {
	const apiToken = "explo-api-token-letters-only"
	shapes := map[string]string{
		"cust-000": "5a4e70ce5a4e70ce5a4e70ce5a4e70ce5a4e70ce5a4e70ce",         // hex
		"cust-001": "3f:9c:a1:07:be:ef:00:12:34:56:78:9a:bc:de:f0:11",          // colon-separated hex
		"cust-002": "qwertyuiopasdfghjklzxcvbnmqwertyuiop",                     // letters only
		"cust-003": "dGhpcyBpcyBh_c2VjcmV0-dG9rZW4gZm9yIGEgY3VzdG9tZXI",        // base64url
		"cust-005": "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZABCD", // capitals only
	}
	for _, mode := range sandbox.AllHostile {
		t.Run(string(mode), func(t *testing.T) {
			e := newEnv(t, sandbox.Config{Token: apiToken, Reject: map[string]string{"cust-004": "rejected \x1b[2J; your token was " + apiToken}})
			e.backoff = time.Millisecond
			for id, tok := range shapes {
				e.sb.Put(sandbox.Group{ID: id, Name: "Before", Token: tok})
			}
			m := e.write("customers.csv", customers(6, map[string]string{"cust-001": "Renamed"}, nil))
			var outputs []string
			collect := func(args ...string) {
				stdout, stderr, _ := e.run(args...)
				outputs = append(outputs, stdout, stderr)
				if _, err := os.Stat(e.path("report.csv")); err == nil {
					for _, r := range e.report() {
						outputs = append(outputs, r["error"])
					}
				}
			}
			collect("apply", "-f", m, "-v", "--stall-timeout", "1s", "--max-attempts", "2")
			st, err := state.Read(e.path("state.json"))
			if err != nil {
				t.Fatal(err)
			}
			for id, tok := range shapes {
				if st.Groups[id] == nil || st.Groups[id].Token != tok {
					t.Fatalf("the state does not hold %s's token %q", id, tok)
				}
			}
			e.sb.SetHostile(mode)
			e.write("customers.csv", customers(8, map[string]string{"cust-002": "Renamed"}, nil))
			collect("plan", "-f", m, "--json")
			collect("apply", "-f", m, "-v", "--stall-timeout", "1s", "--max-attempts", "2")
			collect("apply", "-f", m, "--json", "--stall-timeout", "1s", "--max-attempts", "2")
			collect("state", "list", "--state", e.path("state.json"))
			// The Customer API, refreshed: every hostile list too.
			e.api = "customer"
			collect("plan", "-f", m, "--refresh", "--format", "markdown", "--list-limit", "2000", "--stall-timeout", "1s")
			collect("apply", "-f", m, "-v", "--refresh", "--prune", "--stall-timeout", "1s", "--max-attempts", "2", "--list-limit", "2000")
			collect("rotate", "--only", "cust-000", "--stall-timeout", "1s", "--max-attempts", "2")
			secrets := []string{apiToken}
			for _, g := range e.sb.Groups() {
				secrets = append(secrets, g.Token)
			}
			for _, out := range outputs {
				flat := strings.ToLower(strings.Join(strings.Fields(out), ""))
				for _, s := range secrets {
					if strings.Contains(flat, strings.ToLower(s)) {
						t.Fatalf("output carries the token %q:\n%s", s, out)
					}
				}
				if strings.ContainsAny(out, "\x1b\x07\x00") {
					t.Fatalf("output carries a control character:\n%q", out)
				}
			}
		})
	}
}

// A closed stdout (groupsync apply --json | head -c0) makes writes fail;
// it must not kill the run before it writes its state and report (Go's
// runtime kills a process on a broken stdout pipe unless SIGPIPE is
// handled).
func TestSignal_ClosedStdoutStillWritesStateAndReport(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(5, nil, nil))
	cmd := e.command("apply", "-f", m, "--rate", "5000/s", "--json")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close() // nobody reads
	cmd.Stdout = w
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, want 3 (changes made, summary not written)\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "the summary could not be written to stdout") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	checkReportMatchesSandbox(t, e, 5)
	if st, err := state.Read(e.path("state.json")); err != nil || len(st.Groups) != 5 {
		t.Errorf("state: %v, %v", st, err)
	}
}
