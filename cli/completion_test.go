package cli

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"groupsync/reconcile"
)

// Every flag that -h shows is in every completion script, written as -h
// writes it: the two are made from the same definitions.
func TestCompletion_HasEveryFlagOfHelp(t *testing.T) {
	scripts := map[string]string{"bash": bashCompletion(commands()), "zsh": zshCompletion(commands()), "fish": fishCompletion(commands())}
	flagLine := regexp.MustCompile(`(?m)^  (--?[a-z][a-z0-9-]*)`)
	for _, c := range commands() {
		var help bytes.Buffer
		fs := c.flags()
		fs.SetOutput(&help)
		printFlags(&help, fs)
		flags := flagLine.FindAllStringSubmatch(help.String(), -1)
		if c.name == "plan" && len(flags) < 10 {
			t.Fatalf("plan -h shows %d flags:\n%s", len(flags), help.String())
		}
		for _, m := range flags {
			name := m[1]
			for shell, script := range scripts {
				want := name
				switch {
				case shell == "fish" && strings.HasPrefix(name, "--"):
					want = "-l " + name[2:]
				case shell == "fish":
					want = "-s " + name[1:]
				}
				if !strings.Contains(script, want) {
					t.Errorf("%s completion lacks %s %s", shell, c.name, want)
				}
			}
		}
	}
}

// -f - cannot be combined with apply's question in a terminal: the
// manifest has used standard input up.
func TestApply_StdinManifestCannotAsk(t *testing.T) {
	var stderr bytes.Buffer
	code := Main(context.Background(), []string{"apply", "-f", "-", "--api-url", "http://127.0.0.1:1"},
		IO{Stdin: strings.NewReader("id,name\na,A\n"), Stdout: &bytes.Buffer{}, Stderr: &stderr, Interactive: true})
	if code != ExitFatal || !strings.Contains(stderr.String(), "-f - reads the manifest from standard input, so apply cannot ask there for a yes") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
	}
}

func TestPrintPlanMarkdown_LongPlansAreCut(t *testing.T) {
	var groups []reconcile.Group
	for i := range maxMarkdownChanges + 5 {
		groups = append(groups, reconcile.Group{ID: fmt.Sprintf("g%04d", i), Name: "G\nwith a line break\r"})
	}
	plan := reconcile.Diff(groups, reconcile.NewState(), reconcile.Options{})
	var b bytes.Buffer
	printPlanMarkdown(&b, plan, "180/m", func(int) string { return "1m7s" }, false)
	out := b.String()
	if got := strings.Count(out, "\n| + | create |"); got != maxMarkdownChanges {
		t.Errorf("%d rows, want %d", got, maxMarkdownChanges)
	}
	if !strings.Contains(out, "\n… and 5 more changes: run `groupsync plan` to see them all.\n") {
		t.Errorf("no line for the changes left out:\n%s", out[len(out)-200:])
	}
	if strings.Contains(out, "line break\r") || !strings.Contains(out, `name: "G\\nwith a line break\\r"`) {
		t.Errorf("a line break reached the table:\n%s", out[:400])
	}
}

func TestMarkdownCell(t *testing.T) {
	for in, want := range map[string]string{
		"a|b":              `a\|b`,
		"@team":            `\@team`,
		"<img src=x>":      `\<img src=x\>`,
		"[x](http://evil)": `\[x\](http://evil)`,
		"a\nb":             `a\\x0ab`,
		"**b** _i_ `c`":    `\*\*b\*\* \_i\_ \` + "`" + `c\` + "`",
		"\x1b[31mred":      `\\x1b\[31mred`,
	} {
		if got := markdownCell(in); got != want {
			t.Errorf("markdownCell(%q) = %q, want %q", in, got, want)
		}
	}
}
