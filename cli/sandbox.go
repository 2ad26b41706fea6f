package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"groupsync/sandbox"
)

const sandboxHelp = `Usage: groupsync sandbox [--addr 127.0.0.1:8089] [flags]

Serves a local Explo API on a loopback address, for demos and tests: the
End User Group API and the Customer API over one store, the auth header,
get-or-create, success: 0 errors, a rate limit answered with 429, optional
latency and faults, and hostile modes. Stops on interrupt.
`

// sandboxFlags are the sandbox's flags, as given.
type sandboxFlags struct {
	addr, token, rate, limiter, retryAfter, faults, hostile, data, levels, tags, listStyle string
	burst                                                                                  int
	latency, slow                                                                          time.Duration
	failRate                                                                               float64
	seed                                                                                   uint64
}

func (f *sandboxFlags) register(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	DurationVar(*time.Duration, string, time.Duration, string)
	Float64Var(*float64, string, float64, string)
	Uint64Var(*uint64, string, uint64, string)
}) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8089", "loopback `ADDRESS` to listen on (port 0 picks one)")
	fs.StringVar(&f.token, "token", "", "API `TOKEN` to accept (default: a random one, printed at start)")
	fs.StringVar(&f.rate, "rate", "180/m", "allowed requests per window across all endpoints, like 180/m or 50/s; 'off' for none")
	fs.StringVar(&f.limiter, "limiter", string(sandbox.LimiterDRF), "limiter `MODEL`: drf (a sliding log, as API.md says), fixed or bucket")
	fs.IntVar(&f.burst, "burst", 0, "requests the bucket limiter allows at once (default: one window's worth)")
	fs.StringVar(&f.retryAfter, "retry-after", string(sandbox.RetryAfterSeconds), "Retry-After on 429: none, seconds, date or mixed")
	fs.DurationVar(&f.latency, "latency", 0, "delay every answer by `D`")
	fs.Float64Var(&f.failRate, "fail-rate", 0, "probability `P` of injecting a fault into a call")
	fs.StringVar(&f.faults, "faults", "", "fault `KINDS` to draw from, comma-separated: 500,502,503,reset-before,reset-after,slow (default: all)")
	fs.DurationVar(&f.slow, "slow", 35*time.Second, "how long a 'slow' fault holds its answer")
	fs.StringVar(&f.hostile, "hostile", "", "hostile `MODES`, comma-separated: "+joinHostile())
	fs.StringVar(&f.levels, "levels", "Organization,Department,Team", "hierarchy `LEVELS`, highest first")
	fs.StringVar(&f.tags, "tags", "gold,silver,eu,us", "group `TAGS` that exist")
	fs.StringVar(&f.listStyle, "list-style", "total_count", "list answers with total_count, or count (count, next, previous)")
	fs.StringVar(&f.data, "data", "", "keep the groups in `PATH` between runs")
	fs.Uint64Var(&f.seed, "seed", 0, "seed for fault injection (0: random)")
}

func joinHostile() string {
	var names []string
	for _, h := range sandbox.AllHostile {
		names = append(names, string(h))
	}
	return strings.Join(names, ",")
}

func (f *sandboxFlags) config() (sandbox.Config, error) {
	cfg := sandbox.Config{Token: f.token, Burst: f.burst, Latency: f.latency, FailRate: f.failRate, SlowDelay: f.slow, Seed: f.seed,
		Levels: split(f.levels), Tags: split(f.tags), ListStyle: f.listStyle}
	if f.rate == "off" {
		cfg.Quota = -1
	} else {
		r, err := parseRate(f.rate)
		if err != nil {
			return cfg, fmt.Errorf("--rate %q: %v", f.rate, err)
		}
		cfg.Quota, cfg.Window = r.Quota, r.Window
	}
	cfg.Limiter = sandbox.LimiterModel(f.limiter)
	if !slices.Contains(sandbox.LimiterModels, cfg.Limiter) {
		return cfg, fmt.Errorf("--limiter %q: want drf, fixed or bucket", f.limiter)
	}
	switch m := sandbox.RetryAfterMode(f.retryAfter); m {
	case sandbox.RetryAfterNone, sandbox.RetryAfterSeconds, sandbox.RetryAfterDate, sandbox.RetryAfterMixed:
		cfg.RetryAfter = m
	default:
		return cfg, fmt.Errorf("--retry-after %q: want none, seconds, date or mixed", f.retryAfter)
	}
	if f.failRate < 0 || f.failRate > 1 {
		return cfg, fmt.Errorf("--fail-rate %v: want a probability between 0 and 1", f.failRate)
	}
	for _, k := range split(f.faults) {
		if !slices.Contains(sandbox.AllFaults, sandbox.Fault(k)) {
			return cfg, fmt.Errorf("--faults: unknown kind %q", k)
		}
		cfg.Faults = append(cfg.Faults, sandbox.Fault(k))
	}
	for _, h := range split(f.hostile) {
		if !slices.Contains(sandbox.AllHostile, sandbox.Hostile(h)) {
			return cfg, fmt.Errorf("--hostile: unknown mode %q (modes: %s)", h, joinHostile())
		}
		cfg.Hostile = append(cfg.Hostile, sandbox.Hostile(h))
	}
	if len(cfg.Levels) == 0 {
		return cfg, errors.New("--levels: name at least one level")
	}
	if cfg.Token == "" {
		b := make([]byte, 16)
		rand.Read(b)
		cfg.Token = "sandbox-" + hex.EncodeToString(b)
	}
	return cfg, nil
}

func split(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// sandboxFlagSet is the sandbox's flags, writing into f.
func sandboxFlagSet(f *sandboxFlags, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("sandbox", sandboxHelp, stderr)
	f.register(fs)
	return fs
}

func runSandbox(ctx context.Context, args []string, o IO) error {
	var f sandboxFlags
	fs := sandboxFlagSet(&f, o.Stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(f.addr)
	if err != nil || !isLoopback(host) {
		return fmt.Errorf("--addr %q: the sandbox listens on loopback addresses only, like 127.0.0.1:8089", f.addr)
	}
	srv := sandbox.New(cfg)
	stopPersist := func() error { return nil }
	if f.data != "" {
		if stopPersist, err = srv.Persist(f.data); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return errors.Join(err, stopPersist())
	}
	err = serve(ctx, srv, ln, cfg.Token, o.Stdout)
	if perr := stopPersist(); perr != nil {
		err = errors.Join(err, fmt.Errorf("--data %s: %w", f.data, perr))
	}
	return err
}

// serve answers until ctx is done.
func serve(ctx context.Context, h http.Handler, ln net.Listener, token string, stdout io.Writer) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	// The sandbox's token is a throwaway for local use, so printing it is
	// how a demo learns it; no real API token ever passes through here.
	fmt.Fprintf(stdout, "sandbox: serving the Explo API on http://%s\nsandbox: token %s\n", ln.Addr(), token)
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
