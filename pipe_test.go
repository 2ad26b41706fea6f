package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"groupsync/cli"
	"groupsync/internal/atomicfile"
	"groupsync/sandbox"
)

// A reader that goes away (groupsync state list | head -1) ends the
// listing as a success, without a "broken pipe" error, as plan does.
func TestStateList_ClosedStdoutEndsQuietly(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(5, nil, nil))
	if _, stderr, code := e.run("apply", "-f", m); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, stderr)
	}
	for _, args := range [][]string{{"state", "list"}, {"state", "list", "--json"}, {"state", "show", "cust-001"}, {"plan", "-f", m, "--json"}} {
		args = append(args, "--state", e.path("state.json"))
		if args[0] == "plan" {
			args = append(args, "--api-url", e.url)
		}
		cmd := exec.Command("groupsync", args...)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader is gone before the first write
		cmd.Stdout = w
		var stderr syncBuffer
		cmd.Stderr = &stderr
		err = cmd.Run()
		w.Close()
		var ee *exec.ExitError
		if errors.As(err, &ee) || err != nil {
			t.Errorf("%v: %v, want exit 0\n%s", args, err, stderr.String())
		}
		if out := stderr.String(); out != "" && args[1] != "list" {
			t.Errorf("%v: stderr %q", args, out)
		}
	}
}

// A JSON report is written as the CSV one is: atomically, private.
func TestReport_JSONIsPrivate(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	m := e.write("customers.csv", customers(3, nil, nil))
	var stderr bytes.Buffer
	code := cli.Main(context.Background(), []string{"apply", "-f", m, "--api-url", e.url, "--token-file", e.token, "--state", e.path("state.json"), "--report", e.path("tokens.json")},
		cli.IO{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }})
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, stderr.String())
	}
	if err := atomicfile.CheckPrivate(e.path("tokens.json")); err != nil {
		t.Error(err)
	}
	rows := readReport(t, e.path("tokens.json"))
	if len(rows) != 3 {
		t.Fatalf("report rows %v", rows)
	}
	groups := e.sb.Groups()
	for _, r := range rows {
		if r["token"] == "" || r["token"] != groups[r["user_group_id"]].Token {
			t.Errorf("row %v does not hold the service's token", r)
		}
	}
}
