package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X main.Version=…".
var Version string

const usage = `Usage:
    groupsync validate -f PATH...                check manifests; no network
    groupsync plan     -f PATH... [flags]        show what apply would do; no mutating call
    groupsync apply    -f PATH... [flags]        make Explo's user groups match the manifests
    groupsync sandbox  [--addr 127.0.0.1:8089]   serve a local Explo API for demos and tests
    groupsync version

Run 'groupsync COMMAND -h' for the flags of a command.

Exit codes: 0 done, 1 could not run (nothing changed remotely),
2 plan --detailed-exitcode found changes, 3 some groups did not converge.
`

// Exit codes.
const (
	exitOK      = 0
	exitFatal   = 1
	exitChanges = 2
	exitPartial = 3
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

func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitFatal
}

// run is the whole program, minus the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{code: exitFatal}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "validate":
		return runValidate(rest, stdout, stderr)
	case "plan":
		return runPlan(rest, stdout, stderr)
	case "apply":
		return runApply(ctx, rest, stdout, stderr)
	case "sandbox":
		return runSandbox(ctx, rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "groupsync "+version())
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// newFlagSet returns a flag set that reports to stderr and does not exit.
func newFlagSet(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("groupsync "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, treating -h as success and any leftover argument
// as a mistake (flags and -f values must come as flags).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{code: exitOK}
		}
		return &exitError{code: exitFatal}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q\ngroupsync: hint: name manifests with -f PATH", fs.Arg(0))
	}
	return nil
}
