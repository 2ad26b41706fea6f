package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"groupsync/internal/textsafe"
	"groupsync/manifest"
)

// The values of --format: those of a manifest on standard input, and
// those of plan's output. No value is in both, so `--format yaml` and
// `--format markdown` say which they mean, and plan takes one of each.
var (
	stdinFormats = []string{manifest.FormatCSV, manifest.FormatYAML}
	planFormats  = []string{formatText, formatMarkdown}
)

const (
	formatText     = "text"
	formatMarkdown = "markdown"
	logJSON        = "json"
)

// formatFlag registers --format: with plan, output formats too.
func (c *Config) formatFlag(fs *flag.FlagSet, plan bool) {
	usage, choices := "the `FORMAT` of -f - (standard input): csv or yaml (default csv)", stdinFormats
	if plan {
		usage = "the `FORMAT` of -f - (csv or yaml, default csv) and of the plan (text or markdown, default text); give one of each to set both"
		choices = append(slices.Clip(stdinFormats), planFormats...)
	}
	fs.Var(&flagValue{choices: choices, set: func(s string) error { return c.setFormat(s, plan) }}, "format", usage)
}

func (c *Config) setFormat(s string, plan bool) error {
	switch {
	case slices.Contains(stdinFormats, s):
		if c.StdinFormat != "" && c.StdinFormat != s {
			return fmt.Errorf("-f - is already %s", c.StdinFormat)
		}
		c.StdinFormat = s
	case plan && slices.Contains(planFormats, s):
		if c.PlanFormat != "" && c.PlanFormat != s {
			return fmt.Errorf("the plan is already %s", c.PlanFormat)
		}
		c.PlanFormat = s
	case plan:
		return errors.New("want csv or yaml (the format of -f -), or text or markdown (the plan's)")
	case slices.Contains(planFormats, s):
		return fmt.Errorf("%s is a format of plan's output; here --format names the format of -f -: csv or yaml", s)
	default:
		return errors.New("want csv or yaml (the format of -f -)")
	}
	return nil
}

// logFlag registers --log-format.
func (c *Config) logFlag(fs *flag.FlagSet) {
	fs.Var(&flagValue{choices: []string{formatText, logJSON}, set: func(s string) error {
		if s != formatText && s != logJSON {
			return errors.New("want text or json")
		}
		c.LogFormat = s
		return nil
	}}, "log-format", "how stderr says what happens: text, or json (one JSON object per line, for a log pipeline) (default text)")
}

// bomFlag registers --report-bom.
func (c *Config) bomFlag(fs *flag.FlagSet) {
	fs.BoolVar(&c.ReportBOM, "report-bom", false, "start a CSV report with a UTF-8 byte order mark, so that Excel shows names beyond ASCII intact")
}

// checkStdin checks the flags that -f - depends on, before any I/O. The
// prompt of apply would read standard input too, which the manifest has
// used up.
func (c *Config) checkStdin(o IO, asks bool) error {
	stdin := slices.Contains(c.Files, "-")
	switch {
	case c.StdinFormat != "" && !stdin:
		return fmt.Errorf("--format %s names the format of -f -, and no -f - is given; files are read by their extension", c.StdinFormat)
	case stdin && asks && o.Interactive && !c.AutoApprove:
		return errors.New("-f - reads the manifest from standard input, so apply cannot ask there for a yes\ngroupsync: hint: add --auto-approve, or save the manifest to a file")
	}
	return nil
}

// flagName is how a flag is written: -f and -v with one dash, the others
// with two, as the README writes them (the flag package takes either).
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// printFlags prints a flag set's flags as -h shows them, from the same
// definitions the completion scripts are made from.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		line := "  " + flagName(f.Name)
		if arg != "" {
			line += " " + arg
		}
		if !hasDefault(usage) && !zeroDefault(f.DefValue) {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

func hasDefault(usage string) bool { return strings.Contains(usage, "(default") }

func zeroDefault(v string) bool {
	switch v {
	case "", "0", "false", "0s":
		return true
	}
	return false
}

// flagSyntax finds the flag a parse error names, which the flag package
// writes with one dash whatever the user typed.
var flagSyntax = regexp.MustCompile(`(for flag |for |not defined: |argument: )-([A-Za-z0-9][A-Za-z0-9-]*)`)

// flagError is a parse error of command's flags: the flag package's
// message, with the flag written as the README writes it, and a pointer
// to -h instead of the whole help.
func flagError(command string, err error) error {
	msg := flagSyntax.ReplaceAllStringFunc(err.Error(), func(m string) string {
		sub := flagSyntax.FindStringSubmatch(m)
		return sub[1] + flagName(sub[2])
	})
	// The flag package repeats the flag and its value whole: input echoed,
	// and cut as any is.
	return fmt.Errorf("%s\ngroupsync: hint: run 'groupsync %s -h' for the flags", textsafe.Cut(msg), command)
}
