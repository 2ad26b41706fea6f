//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// stopSignals stop a run. SIGHUP (the terminal went away) stops it as
// SIGINT does.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// exitBySignal ends the process by sig itself, so that a shell or a
// supervisor sees how it ended (exit 128+signal).
func exitBySignal(sig os.Signal) {
	s := sig.(syscall.Signal)
	signal.Reset(s)
	syscall.Kill(os.Getpid(), s)
	// Not reached unless the signal could not be sent.
	os.Exit(128 + int(s))
}

// ignoreBrokenPipe makes a write to a closed stdout fail with EPIPE
// instead of killing the process, which Go's runtime does by default.
func ignoreBrokenPipe() {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
}
