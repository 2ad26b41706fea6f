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
	"strconv"
	"strings"
	"time"

	"groupsync/internal/textsafe"
	"groupsync/sandbox"
)

const sandboxHelp = `Usage: groupsync sandbox [--addr 127.0.0.1:8089] [flags]

Serves a local Explo API on a loopback address, for demos and tests: the
End User Group API and the Customer API over one store, the auth header,
get-or-create, success: 0 errors, a rate limit answered with 429, optional
latency and faults, and hostile modes. The revisions of Explo's docs that
disagree are modes (--list-style, --delete-children). --seed starts it with
customers of a file. Stops on interrupt.
`

// sandboxFlags are the sandbox's flags, as given.
type sandboxFlags struct {
	addr, token, rate, limiter, retryAfter, faults, hostile, data, levels, tags, listStyle, deleteChildren, seed string
	burst                                                                                                        int
	latency, slow                                                                                                time.Duration
	failRate                                                                                                     float64
	faultSeed                                                                                                    uint64
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
	fs.StringVar(&f.rate, "rate", "180/m", "allowed requests per window across all endpoints, like 180/m, 50/s or 180/3s; 'off' for none")
	fs.StringVar(&f.limiter, "limiter", string(sandbox.LimiterDRF), "limiter `MODEL`: drf (a sliding log of accepted requests), fixed, bucket or drf-logs-refused (refused requests logged too)")
	fs.IntVar(&f.burst, "burst", 0, "requests the bucket limiter allows at once (default: one window's worth)")
	fs.StringVar(&f.retryAfter, "retry-after", string(sandbox.RetryAfterSeconds), "Retry-After on 429: none, seconds, date or mixed")
	fs.DurationVar(&f.latency, "latency", 0, "delay every answer by `D`")
	fs.Float64Var(&f.failRate, "fail-rate", 0, "probability `P` of injecting a fault into a call")
	fs.StringVar(&f.faults, "faults", "", "fault `KINDS` to draw from, comma-separated: 500,502,503,reset-before,reset-after,slow (default: all)")
	fs.DurationVar(&f.slow, "slow", 35*time.Second, "how long a 'slow' fault holds its answer")
	fs.StringVar(&f.hostile, "hostile", "", "hostile `MODES`, comma-separated: "+joinHostile())
	fs.StringVar(&f.levels, "levels", "Organization,Department,Team", "hierarchy `LEVELS`, highest first")
	fs.StringVar(&f.tags, "tags", "gold,silver,eu,us", "group `TAGS` that exist")
	fs.StringVar(&f.listStyle, "list-style", sandbox.ListTotalCount, "list answers with total_count, count (count, next, previous) or camel (totalCount, providedId, …)")
	fs.StringVar(&f.deleteChildren, "delete-children", string(sandbox.DeleteCascade), "delete of a customer with children: cascade (deletes them too) or refuse")
	fs.StringVar(&f.data, "data", "", "keep the groups in `PATH` between runs")
	fs.StringVar(&f.seed, "seed", "", "customers to start with, from a .json or .csv `FILE` (with --data: only into an empty store)")
	fs.Uint64Var(&f.faultSeed, "fault-seed", 0, "`SEED` for fault injection (0: random)")
}

func joinHostile() string {
	var names []string
	for _, h := range sandbox.AllHostile {
		names = append(names, string(h))
	}
	return strings.Join(names, ",")
}

func (f *sandboxFlags) config() (sandbox.Config, error) {
	cfg := sandbox.Config{Token: f.token, Burst: f.burst, Latency: f.latency, FailRate: f.failRate, SlowDelay: f.slow, FaultSeed: f.faultSeed,
		Levels: split(f.levels), Tags: split(f.tags), ListStyle: f.listStyle, DeleteChildren: sandbox.DeleteMode(f.deleteChildren)}
	if !slices.Contains(sandbox.ListStyles, cfg.ListStyle) {
		return cfg, fmt.Errorf("--list-style %q: want total_count, count or camel", f.listStyle)
	}
	if !slices.Contains(sandbox.DeleteModes, cfg.DeleteChildren) {
		return cfg, fmt.Errorf("--delete-children %q: want cascade or refuse", f.deleteChildren)
	}
	if f.rate == "off" {
		cfg.Quota = -1
	} else {
		r, err := parseRate(f.rate)
		if err != nil {
			return cfg, fmt.Errorf("--rate %s: %v", textsafe.Quote(f.rate), err)
		}
		cfg.Quota, cfg.Window = r.Quota, r.Window
	}
	cfg.Limiter = sandbox.LimiterModel(f.limiter)
	if !slices.Contains(sandbox.LimiterModels, cfg.Limiter) {
		return cfg, fmt.Errorf("--limiter %s: want drf, fixed, bucket or drf-logs-refused", textsafe.Quote(f.limiter))
	}
	switch m := sandbox.RetryAfterMode(f.retryAfter); m {
	case sandbox.RetryAfterNone, sandbox.RetryAfterSeconds, sandbox.RetryAfterDate, sandbox.RetryAfterMixed:
		cfg.RetryAfter = m
	default:
		return cfg, fmt.Errorf("--retry-after %s: want none, seconds, date or mixed", textsafe.Quote(f.retryAfter))
	}
	if f.failRate < 0 || f.failRate > 1 {
		return cfg, fmt.Errorf("--fail-rate %v: want a probability between 0 and 1", f.failRate)
	}
	for _, k := range split(f.faults) {
		if !slices.Contains(sandbox.AllFaults, sandbox.Fault(k)) {
			return cfg, fmt.Errorf("--faults: unknown kind %s", textsafe.Quote(k))
		}
		cfg.Faults = append(cfg.Faults, sandbox.Fault(k))
	}
	for _, h := range split(f.hostile) {
		if !slices.Contains(sandbox.AllHostile, sandbox.Hostile(h)) {
			return cfg, fmt.Errorf("--hostile: unknown mode %s (modes: %s)", textsafe.Quote(h), joinHostile())
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
		return fmt.Errorf("--addr %s: the sandbox listens on loopback addresses only, like 127.0.0.1:8089", textsafe.Quote(f.addr))
	}
	srv := sandbox.New(cfg)
	stopPersist := func() error { return nil }
	if f.data != "" {
		if stopPersist, err = srv.Persist(f.data); err != nil {
			return err
		}
	}
	note, err := seed(srv, f.seed, f.data)
	if err != nil {
		return errors.Join(err, stopPersist())
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return errors.Join(err, stopPersist())
	}
	err = serve(ctx, srv, ln, cfg.Token, o.Stdout, note)
	if perr := stopPersist(); perr != nil {
		err = errors.Join(err, fmt.Errorf("--data %s: %w", f.data, perr))
	}
	return err
}

// seed loads the --seed file into the store, and says what it did. A
// store that --data filled on an earlier run is kept as it is: the seed is
// what a new sandbox starts with, and the data file what it became.
func seed(srv *sandbox.Server, path, data string) (string, error) {
	if path == "" {
		return "", nil
	}
	if n := len(srv.Groups()); n > 0 {
		return fmt.Sprintf("sandbox: --seed %s not loaded: --data %s already holds %d customers", path, data, n), nil
	}
	n, err := srv.LoadSeed(path)
	if _, isNumber := strconv.ParseUint(path, 10, 64); err != nil && isNumber == nil {
		return "", fmt.Errorf("--seed %q: --seed takes a file of customers; the seed of fault injection is --fault-seed", path)
	}
	if err != nil {
		return "", fmt.Errorf("--seed: %w", err)
	}
	return fmt.Sprintf("sandbox: %d customers from %s", n, path), nil
}

// serve answers until ctx is done. The note, if any, follows the address
// and the token.
func serve(ctx context.Context, h http.Handler, ln net.Listener, token string, stdout io.Writer, note string) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	// The sandbox's token is a throwaway for local use, so printing it is
	// how a demo learns it; no real API token ever passes through here.
	fmt.Fprintf(stdout, "sandbox: serving the Explo API on http://%s\nsandbox: token %s\n", ln.Addr(), token)
	if note != "" {
		fmt.Fprintln(stdout, note)
	}
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
