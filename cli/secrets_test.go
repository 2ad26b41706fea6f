package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"groupsync/sandbox"
)

// Every line on stderr passes through the run's secrets, also those that
// no answer built: a state's token typed where an id goes (in capitals,
// split by a space) is not echoed back.
func TestStderr_NeverCarriesTheStatesTokens(t *testing.T) {
	const letters = "qwertyuiopasdfghjklzxcvbnmqwertyuiop"
	sb, url := sandboxURL(t)
	sb.Put(sandbox.Group{ID: "a", Name: "A", Token: letters})
	dir := t.TempDir()
	m := filepath.Join(dir, "m.csv")
	os.WriteFile(m, []byte("id,name\na,A\n"), 0o600)
	statePath := filepath.Join(dir, "s.json")
	run := func(args ...string) (string, int) {
		var stderr bytes.Buffer
		code := Main(context.Background(), args, IO{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr,
			Getenv: func(k string) string { return map[string]string{"EXPLO_API_TOKEN": token, "EXPLO_API_URL": url}[k] }})
		return stderr.String(), code
	}
	if out, code := run("apply", "-f", m, "--state", statePath, "--report", filepath.Join(dir, "r.csv")); code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"plan", "-f", m, "--state", statePath, "--only", strings.ToUpper(letters)},
		{"state", "show", letters, "--state", statePath},
		{"state", "rm", letters[:10] + " " + letters[10:], "--state", statePath},
	} {
		out, code := run(args...)
		if code != 1 || strings.Contains(strings.ToLower(strings.ReplaceAll(out, " ", "")), letters) || !strings.Contains(out, "[redacted]") {
			t.Errorf("%s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
}

// The scrubbing writer reports what it was given as written, whatever it
// wrote instead.
func TestScrubWriter_Write(t *testing.T) {
	var buf bytes.Buffer
	o, _ := IO{Stderr: &buf}.withSecrets()
	o.keepSecret("lettersonlysecret")
	if n, err := io.WriteString(o.Stderr, "groupsync: lettersonly secret\n"); n != 30 || err != nil {
		t.Errorf("Write = %d, %v", n, err)
	}
	if got, want := buf.String(), "groupsync: [redacted]\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	if again, _ := o.withSecrets(); again.Stderr != o.Stderr {
		t.Error("withSecrets wrapped stderr twice")
	}
}
