//go:build windows

package main

import (
	"os"
	"syscall"
)

// stopSignals stop a run. Go delivers Ctrl-C and Ctrl-Break as
// os.Interrupt, and closing the console, logging off and shutting down as
// SIGTERM; Windows has no SIGHUP.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// exitBySignal ends the process at once. Windows cannot end a process by
// a signal, so the exit code says it as Unix shells do: 128+signal (130
// for Ctrl-C or Ctrl-Break).
func exitBySignal(sig os.Signal) {
	os.Exit(128 + int(sig.(syscall.Signal)))
}

// ignoreBrokenPipe has nothing to do: Windows has no SIGPIPE, and a write
// to a closed pipe fails with an error.
func ignoreBrokenPipe() {}
