package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Input echoed on stderr is cut: a 1 MB column name, id or argument is
// named by its beginning and its size, on a line of sane length.
func TestStderr_EchoedInputIsCut(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	dir := t.TempDir()
	m := filepath.Join(dir, "m.csv")
	os.WriteFile(m, []byte("id,name\nx,X\n"), 0o600)
	big := filepath.Join(dir, "big.csv")
	os.WriteFile(big, []byte("id,name,"+long+"\nx,X,1\n"), 0o600)
	statePath := filepath.Join(dir, "s.json")
	for _, args := range [][]string{
		{"validate", "-f", big},
		{"plan", "-f", m, "--state", statePath, "--only", long},
		{"state", "show", long, "--state", statePath},
		{long},
		{"plan", "-f", m, long},
		{"plan", "-f", m, "--api-url", "ftp://" + long},
		{"plan", "-f", m, "--" + long},
		{"apply", "-f", m, "--rate", long},
	} {
		var stderr bytes.Buffer
		code := Main(context.Background(), args, IO{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &stderr, Getenv: func(string) string { return "" }})
		out := stderr.String()
		longest := 0
		for _, l := range strings.Split(out, "\n") {
			longest = max(longest, len(l))
		}
		if code != 1 || longest > 1000 || !strings.Contains(out, "(1,048,") {
			t.Errorf("%.40s: exit %d, a line of %d bytes on stderr:\n%.600s", strings.Join(args, " "), code, longest, out)
		}
	}
}
