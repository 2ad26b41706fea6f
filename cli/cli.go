// Package cli is groupsync's command layer: it parses each command's flags
// into a [Config], runs the one pipeline that every command shares (load
// the manifests, open the state, check its binding, restrict, diff), and
// turns outcomes into output and exit codes. main only wires it to the
// process; the packages below it never print.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"groupsync/explo"
	"groupsync/internal/textsafe"
	"groupsync/reconcile"
)

// Version is set at build time with -ldflags "-X groupsync/cli.Version=…".
var Version string

// IO is the process as a command sees it.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Interactive is set when stdin and stderr are both terminals: apply
	// then shows the plan and asks before it changes anything.
	Interactive bool
	// StderrTerminal is set when stderr is a terminal: progress is then a
	// bar rather than a line every ten seconds.
	StderrTerminal bool
	Getenv         func(string) string
	// Clock is the time of progress lines and of the run; nil is the
	// system's.
	Clock reconcile.Clock
	// Backoff, when set, is the first wait of the retry backoff instead
	// of the default, for tests that lose answers on purpose.
	Backoff time.Duration

	// secrets are the run's, which stderr never carries.
	secrets *explo.Secrets
	// log is set with --log-format json: per-group lines, progress and
	// the summary are then records of it.
	log *slog.Logger
	// prompt is where apply asks, when Stderr is not text.
	prompt io.Writer
}

// promptOut is where a question to a person goes: stderr, as text.
func (o *IO) promptOut() io.Writer {
	if o.prompt != nil {
		return o.prompt
	}
	return o.Stderr
}

func (o *IO) clock() reconcile.Clock {
	if o.Clock == nil {
		return reconcile.SystemClock()
	}
	return o.Clock
}

// Exit codes.
const (
	ExitOK      = 0
	ExitFatal   = 1
	ExitChanges = 2
	ExitPartial = 3
)

// exitError carries an exit code other than 1. An empty message prints
// nothing, for outcomes already reported.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// ExitCode returns the exit code of an error returned by [Run].
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return ExitFatal
}

// Main runs one command and returns its exit code, having printed any
// error as "groupsync: error: …".
func Main(ctx context.Context, args []string, o IO) int {
	o, flush := o.withSecrets()
	defer flush()
	err := Run(ctx, args, o)
	if err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(o.Stderr, "groupsync: error: "+textsafe.Lines(msg))
		}
	}
	return ExitCode(err)
}

// Run runs one command: args are the process's, without the program name.
func Run(ctx context.Context, args []string, o IO) error {
	o, flush := o.withSecrets()
	defer flush()
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if len(args) == 0 {
		fmt.Fprint(o.Stderr, Usage)
		return &exitError{code: ExitFatal}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "validate":
		return runValidate(rest, o)
	case "plan":
		return runPlan(ctx, rest, o)
	case "apply":
		return runApply(ctx, rest, o)
	case "state":
		return runState(rest, o)
	case "rotate":
		return runRotate(ctx, rest, o)
	case "sandbox":
		return runSandbox(ctx, rest, o)
	case "completion":
		return runCompletion(rest, o)
	case "version", "-version", "--version":
		fmt.Fprintln(o.Stdout, "groupsync "+version())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(o.Stdout, Usage)
		return nil
	}
	fmt.Fprint(o.Stderr, Usage)
	return fmt.Errorf("unknown command %s", textsafe.Quote(cmd))
}

func version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionOf(Version, bi)
}

// versionOf is the version a binary reports: the one stamped with
// -ldflags (make build, make dist), else the module version go install
// records, else the commit go build records from git, else "(devel)". Go
// records no commit for a build outside a repository (or in a git
// worktree), nor with -buildvcs=false.
func versionOf(stamped string, bi *debug.BuildInfo) string {
	if stamped != "" {
		return stamped
	}
	if bi == nil {
		return "(devel)"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "(devel)"
	}
	v := "devel " + rev[:min(len(rev), 12)]
	if at != "" {
		v += " " + at
	}
	if modified {
		v += " (modified)"
	}
	return v
}

// newFlagSet returns a flag set that reports to stderr and does not exit.
// Its help (-h) is the command's help text and its flags, written as the
// README writes them.
func newFlagSet(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("groupsync "+name, flag.ContinueOnError)
	fs.SetOutput(flagOutput{stderr})
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fmt.Fprintln(stderr, "\nFlags:")
		printFlags(stderr, fs)
	}
	return fs
}

// flagOutput is where a flag set reports a bad flag. The flag package
// repeats the flag and its value whole, so a write longer than any line
// of help is input echoed, and is cut.
type flagOutput struct{ w io.Writer }

func (f flagOutput) Write(p []byte) (int, error) {
	const longest = 1024
	if len(p) <= longest {
		return f.w.Write(p)
	}
	if _, err := io.WriteString(f.w, textsafe.Cut(strings.TrimSuffix(string(p), "\n"))+"\n"); err != nil {
		return 0, err
	}
	return len(p), nil
}

// parseFlags parses args, treating -h as success and any leftover argument
// as a mistake (flags and -f values must come as flags).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %s\ngroupsync: hint: name manifests with -f PATH", textsafe.Quote(fs.Arg(0)))
	}
	return nil
}

// parse parses args: -h prints the help, and a bad flag its error with a
// pointer to -h, not the whole help, which would bury the error.
func parse(fs *flag.FlagSet, args []string) error {
	help, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = help
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		help()
		return &exitError{code: ExitOK}
	case err != nil:
		return flagError(strings.TrimPrefix(fs.Name(), "groupsync "), err)
	}
	return nil
}
