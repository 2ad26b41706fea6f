package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"groupsync/sandbox"
)

const sandboxHelp = `Usage: groupsync sandbox [--addr 127.0.0.1:8089] [flags]

Serves a local Explo End User Group API on a loopback address, for demos and
tests: the auth header, get-or-create, success: 0 errors, a rate limit
answered with 429, and optional latency and faults. Stops on interrupt.
`

type sandboxFlags struct {
	addr, token, rate, retryAfter, faults, data string
	burst                                       int
	latency, slow                               time.Duration
	failRate                                    float64
	seed                                        uint64
}

func (f *sandboxFlags) parse(args []string, stderr io.Writer) (sandbox.Config, error) {
	fs := newFlagSet("sandbox", sandboxHelp, stderr)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8089", "loopback `ADDRESS` to listen on (port 0 picks one)")
	fs.StringVar(&f.token, "token", "", "API `TOKEN` to accept (default: a random one, printed at start)")
	fs.StringVar(&f.rate, "rate", "180/m", "allowed request `RATE` across all endpoints, like 180/m; 'off' for none")
	fs.IntVar(&f.burst, "burst", 0, "requests allowed at once (default: one second's worth of --rate)")
	fs.StringVar(&f.retryAfter, "retry-after", "none", "Retry-After on 429: none, seconds or date")
	fs.DurationVar(&f.latency, "latency", 0, "delay every answer by `D`")
	fs.Float64Var(&f.failRate, "fail-rate", 0, "probability `P` of injecting a fault into a call")
	fs.StringVar(&f.faults, "faults", "", "fault `KINDS` to draw from, comma-separated: 500,502,503,reset-before,reset-after,slow (default: all)")
	fs.DurationVar(&f.slow, "slow", 35*time.Second, "how long a 'slow' fault holds its answer")
	fs.StringVar(&f.data, "data", "", "keep the groups in `PATH` between runs")
	fs.Uint64Var(&f.seed, "seed", 0, "seed for fault injection (0: random)")
	if err := parseFlags(fs, args); err != nil {
		return sandbox.Config{}, err
	}
	return f.config()
}

func (f *sandboxFlags) config() (sandbox.Config, error) {
	cfg := sandbox.Config{Token: f.token, Burst: f.burst, Latency: f.latency, FailRate: f.failRate, SlowDelay: f.slow, Seed: f.seed}
	if f.rate == "off" {
		cfg.Rate = -1
	} else {
		r, err := parseRate(f.rate)
		if err != nil {
			return cfg, err
		}
		cfg.Rate = r
	}
	switch m := sandbox.RetryAfterMode(f.retryAfter); m {
	case sandbox.RetryAfterNone, sandbox.RetryAfterSeconds, sandbox.RetryAfterDate:
		cfg.RetryAfter = m
	default:
		return cfg, fmt.Errorf("--retry-after %q: want none, seconds or date", f.retryAfter)
	}
	if f.failRate < 0 || f.failRate > 1 {
		return cfg, fmt.Errorf("--fail-rate %v: want a probability between 0 and 1", f.failRate)
	}
	if f.faults != "" {
		for _, k := range strings.Split(f.faults, ",") {
			kind := sandbox.Fault(strings.TrimSpace(k))
			if !validFault(kind) {
				return cfg, fmt.Errorf("--faults: unknown kind %q", k)
			}
			cfg.Faults = append(cfg.Faults, kind)
		}
	}
	if cfg.Token == "" {
		b := make([]byte, 16)
		rand.Read(b)
		cfg.Token = "sandbox-" + hex.EncodeToString(b)
	}
	return cfg, nil
}

func validFault(k sandbox.Fault) bool {
	for _, f := range sandbox.AllFaults {
		if f == k {
			return true
		}
	}
	return false
}

func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f sandboxFlags
	cfg, err := f.parse(args, stderr)
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil || !isLoopback(host) {
		return fmt.Errorf("--addr %q: the sandbox listens on loopback addresses only, like 127.0.0.1:8089", f.addr)
	}
	srv := sandbox.New(cfg)
	if f.data != "" {
		stopPersist, err := srv.Persist(f.data)
		if err != nil {
			return err
		}
		defer stopPersist()
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	// The sandbox's token is a throwaway for local use, so printing it is
	// how a demo learns it; no real API token ever passes through here.
	fmt.Fprintf(stdout, "sandbox: serving the Explo API on http://%s\nsandbox: token %s\n", ln.Addr(), cfg.Token)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
