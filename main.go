// Command groupsync keeps Explo's user groups in line with a manifest: it
// plans what differs from what it last applied, applies it at the API's rate
// limit, and reports every group with its token.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// main cannot return an error, so it hands everything to run and turns the
// error into a message and an exit code.
func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal the default behaviour comes back, so a
		// second one ends the process at once; the state stays
		// consistent because every write to it is atomic.
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "groupsync: error: "+msg)
		}
		os.Exit(exitCode(err))
	}
}
