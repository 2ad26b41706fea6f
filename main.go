// Command groupsync keeps Explo's customers (user groups) in line with a
// manifest: it plans what differs from what it last applied, applies it at
// the API's rate limit, and reports every group with its token.
//
// This file only wires the process to package cli: signals, terminals,
// the environment and the exit code.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/term"

	"groupsync/cli"
)

// main cannot return an error, so it hands everything to cli.Main and
// exits with the code it returns.
func main() {
	// The signals that stop a run (stopSignals: signal_unix.go,
	// signal_windows.go) let it still write its state and report. The
	// first one stops the run; a second one, whenever it comes, ends the
	// process at once, by that signal (exit 128+signal): the state stays
	// consistent because every write to it is atomic. Signals are taken
	// from the start, so a second Ctrl-C right after the first is never
	// lost.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, stopSignals...)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sigs
		cancel()
		sig := <-sigs
		fmt.Fprintln(os.Stderr, "groupsync: stopped at once by a second signal, without waiting for the calls in flight; the state is consistent: rerun to finish")
		exitBySignal(sig)
	}()
	// A closed stdout (groupsync plan | head) must fail a write, not kill
	// the process before it writes its state and report.
	ignoreBrokenPipe()
	stdinTTY, stderrTTY := term.IsTerminal(int(os.Stdin.Fd())), term.IsTerminal(int(os.Stderr.Fd()))
	os.Exit(cli.Main(ctx, os.Args[1:], cli.IO{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Interactive:    stdinTTY && stderrTTY,
		StderrTerminal: stderrTTY,
		Getenv:         os.Getenv,
	}))
}
