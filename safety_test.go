package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"groupsync/reconcile"
	"groupsync/sandbox"
	"groupsync/state"
)

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

func TestCrash_KillAtRandomPoints(t *testing.T) {
	const n, concurrency = 150, 4
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			e := newEnv(t, sandbox.Config{Latency: 4 * time.Millisecond})
			m := e.write("customers.csv", customers(n, nil, nil))
			cmd := e.command("apply", "-f", m, "--rate", "5000/s", "--concurrency", fmt.Sprint(concurrency))
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// A whole run takes about n × 4ms / 4 = 150ms.
			r := rand.New(rand.NewPCG(seed, seed))
			time.Sleep(time.Duration(10+r.IntN(140)) * time.Millisecond)
			cmd.Process.Kill()
			cmd.Wait()

			st, err := state.Read(e.path("state.json"))
			if err != nil {
				t.Fatalf("state after kill: %v", err)
			}
			groups := customersGroups(t, e, m)
			left := reconcile.Diff(groups, st).Summary().Calls()
			before := e.sb.Stats().Requests
			if _, stderr, code := e.run("apply", "-f", m); code != 0 {
				t.Fatalf("rerun exit %d\n%s", code, stderr)
			}
			rerunCalls := e.sb.Stats().Requests - before
			if rerunCalls > left+concurrency {
				t.Errorf("rerun made %d calls for %d groups left and %d in flight", rerunCalls, left, concurrency)
			}
			checkReportMatchesSandbox(t, e, n)
			t.Logf("killed with %d groups left; rerun made %d calls", left, rerunCalls)
		})
	}
}

func customersGroups(t *testing.T, e *env, path string) []reconcile.Group {
	t.Helper()
	var c common
	c.files = paths{path}
	var stderr bytes.Buffer
	m, err := c.load(&stderr)
	if err != nil {
		t.Fatal(err)
	}
	return m.Groups
}

func TestInterrupt_FinishesInFlightAndSkipsTheRest(t *testing.T) {
	const n = 200
	e := newEnv(t, sandbox.Config{Latency: 10 * time.Millisecond})
	m := e.write("customers.csv", customers(n, nil, nil))
	cmd := e.command("apply", "-f", m, "--rate", "5000/s", "--concurrency", "2")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for e.sb.Stats().Creates < 10 {
		time.Sleep(time.Millisecond)
	}
	signalled := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, want 3\n%s", err, stderr.String())
	}
	if took := time.Since(signalled); took > graceOnInterrupt {
		t.Errorf("took %v after the signal, more than the grace period", took)
	}
	rows := e.report()
	counts := map[string]int{}
	for _, r := range rows {
		counts[r["status"]]++
	}
	if len(rows) != n || counts["skipped"] == 0 || counts["ok"] == 0 || counts["ok"]+counts["skipped"] != n {
		t.Fatalf("report after interrupt: %d rows, %v", len(rows), counts)
	}
	if counts["ok"] != len(e.sb.Groups()) {
		t.Errorf("%d ok rows but %d groups on the service: an answered call was lost", counts["ok"], len(e.sb.Groups()))
	}
	if !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("stderr does not say it was interrupted:\n%s", stderr.String())
	}
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatalf("rerun exit %d\n%s", code, stderr)
	}
	checkReportMatchesSandbox(t, e, n)
}

func TestLock_SecondRunExitsNamingTheHolder(t *testing.T) {
	e := newEnv(t, sandbox.Config{Latency: 20 * time.Millisecond})
	m := e.write("customers.csv", customers(100, nil, nil))
	first := e.command("apply", "-f", m, "--rate", "5000/s", "--concurrency", "1")
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Wait()
	for e.sb.Stats().Requests == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	_, stderr, code := e.run("apply", "-f", m)
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("pid %d", first.Process.Pid)) || !strings.Contains(stderr, "started ") {
		t.Errorf("second run: exit %d\n%s", code, stderr)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("second run took %v to give up", took)
	}
	first.Process.Kill()
	first.Wait()
	// The dead holder's lock file stays behind and must not block.
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatalf("run after the holder died: exit %d\n%s", code, stderr)
	}
}

func TestState_BoundToURLAndToken(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(3, nil, nil))
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatal(stderr)
	}
	e.write("token", "a-rotated-token")
	e.sb.ResetStats()
	_, stderr, code := e.run("plan", "-f", m)
	if code != 1 || !strings.Contains(stderr, "applied with another API token") || strings.Contains(stderr, "a-rotated-token") {
		t.Errorf("plan with another token: exit %d\n%s", code, stderr)
	}
	stdout, stderr, code := e.run("plan", "-f", m, "--rebind")
	if code != 0 || !strings.Contains(stdout, "rebound") {
		t.Errorf("plan --rebind: exit %d\n%s%s", code, stdout, stderr)
	}
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"plan", "-f", m, "--api-url", "http://127.0.0.2:1", "--token-file", e.token, "--state", e.path("state.json")}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "it was applied to "+e.url) {
		t.Errorf("plan against another URL: %v", err)
	}
	if e.sb.Stats().Requests != 0 {
		t.Error("a refused state made calls")
	}
}

func TestAPIURL_PlainHTTPOnlyForLoopback(t *testing.T) {
	for _, u := range []string{"http://api.explo.co", "http://10.0.0.1:8080", "ftp://api.explo.co"} {
		var out, errb bytes.Buffer
		err := run(t.Context(), []string{"plan", "-f", "samples", "--api-url", u}, &out, &errb)
		if err == nil || exitCode(err) != 1 {
			t.Errorf("--api-url %s accepted", u)
		}
	}
	if _, err := checkURL("http://[::1]:8089/"); err != nil {
		t.Errorf("loopback refused: %v", err)
	}
}

func TestApply_MaxChangesRefusesBeforeAnyCall(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(10, nil, nil))
	_, stderr, code := e.run("apply", "-f", m, "--max-changes", "9")
	if code != 1 || !strings.Contains(stderr, "more than --max-changes 9") || e.sb.Stats().Requests != 0 {
		t.Fatalf("exit %d, %d calls\n%s", code, e.sb.Stats().Requests, stderr)
	}
	if _, err := os.Stat(e.path("state.json")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a refused run wrote the state")
	}
	if _, _, code := e.run("apply", "-f", m, "--max-changes", "10"); code != 0 {
		t.Fatalf("exit %d at the limit", code)
	}
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

func TestManifest_OneBadRowMeansNoCall(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	good := customers(20, nil, nil)
	m := e.write("customers.csv", good+"bad-row,Bad,maybe,{},x,{}\n")
	_, stderr, code := e.run("apply", "-f", m)
	if code != 1 || e.sb.Stats().Requests != 0 {
		t.Fatalf("exit %d, %d calls", code, e.sb.Stats().Requests)
	}
	if want := m + `:22: is_demo_group: "maybe" is not a boolean`; !strings.Contains(stderr, want) {
		t.Errorf("stderr does not name the file, line and field:\n%s", stderr)
	}
	if _, err := os.Stat(e.path("report.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Error("an invalid manifest wrote a report")
	}
}

// No output of any command carries a token: neither the API token nor a
// customer's, whatever the mode, even when the service echoes them.
func TestSecrets_NeverInOutput(t *testing.T) {
	e := newEnv(t, sandbox.Config{Reject: map[string]string{"cust-004": "rejected; your token was " + testToken}})
	m := e.write("customers.csv", customers(8, map[string]string{"cust-001": "Renamed"}, nil))
	var outputs []string
	collect := func(args ...string) {
		stdout, stderr, _ := e.run(args...)
		outputs = append(outputs, stdout, stderr)
	}
	collect("validate", "-f", m)
	collect("plan", "-f", m)
	collect("apply", "-f", m, "-v")
	collect("apply", "-f", m, "-v", "--json")
	e.write("customers.csv", customers(8, map[string]string{"cust-002": "Renamed"}, nil))
	collect("plan", "-f", m, "--json")
	collect("apply", "-f", m, "--dry-run", "-v")
	collect("apply", "-f", m, "-v")
	secrets := []string{testToken}
	for _, g := range e.sb.Groups() {
		secrets = append(secrets, g.Token)
	}
	for _, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("output carries a token:\n%s", out)
			}
		}
	}
	if !strings.Contains(strings.Join(outputs, ""), "[redacted]") {
		t.Error("the echoed API token was not visibly redacted")
	}
}

func TestInterrupt_SecondSignalExitsAtOnce(t *testing.T) {
	e := newEnv(t, sandbox.Config{Latency: 5 * time.Second})
	m := e.write("customers.csv", customers(20, nil, nil))
	cmd := e.command("apply", "-f", m, "--rate", "5000/s", "--concurrency", "2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for e.sb.Stats().Requests < 2 {
		time.Sleep(time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT) // calls in flight hold the run in its grace period
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if took := time.Since(start); took > 2*time.Second || err == nil {
		t.Fatalf("after a second signal: %v after %v, want an exit at once", err, took)
	}
	if _, err := state.Read(e.path("state.json")); err != nil {
		t.Errorf("state after a second signal: %v", err)
	}
}

func TestApply_MissingReportFolderFailsBeforeAnyCall(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(2, nil, nil))
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"apply", "-f", m, "--api-url", e.url, "--token-file", e.token,
		"--state", e.path("state.json"), "--report", e.path("no/such/dir/report.csv")}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "does not exist") || e.sb.Stats().Requests != 0 {
		t.Fatalf("err = %v, %d calls", err, e.sb.Stats().Requests)
	}
}
