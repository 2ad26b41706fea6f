package cli

import (
	"context"
	"errors"
	"flag"
	"io"

	"groupsync/reconcile"
)

const rotateHelp = `Usage: groupsync rotate --only ID,... [flags]

Gives these customers new tokens (Customer API, refresh_customer_token),
and records them in the state and the report. The old tokens stop
working at once: the embedding application needs the new ones.
`

// rotateFlagSet is rotate's flags, writing into cfg.
func rotateFlagSet(cfg *Config, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("rotate", rotateHelp, stderr)
	cfg.connectionFlags(fs)
	cfg.callFlags(fs)
	fs.Var(&flagValue{set: cfg.setOnly}, "only", "the customer `IDS` to rotate (comma-separated; required)")
	fs.BoolVar(&cfg.AutoApprove, "auto-approve", false, "do not ask before rotating, even in a terminal")
	cfg.logFlag(fs)
	cfg.bomFlag(fs)
	return fs
}

func runRotate(ctx context.Context, args []string, o IO) (err error) {
	cfg := DefaultConfig(o.Getenv)
	cfg.API = APICustomer
	fs := rotateFlagSet(&cfg, o.Stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o, done := cfg.logTo(o)
	defer done(&err)
	if len(cfg.Only) == 0 {
		return errors.New("rotate needs --only ID,...: name the customers whose tokens to rotate")
	}
	if samePath(cfg.Report, cfg.State) {
		return errors.New("--report and --state are the same file: the report would overwrite the state")
	}
	if err := checkDir(cfg.Report, "--report"); err != nil {
		return err
	}
	if err := cfg.checkConnection(); err != nil {
		return err
	}
	p := &pipeline{cfg: &cfg, o: o}
	for _, step := range []func() error{func() error { return p.readToken(true) }, func() error { return p.openState(true) }, p.checkBinding} {
		if err := step(); err != nil {
			p.close()
			return err
		}
	}
	defer p.close()
	plan, err := reconcile.RotatePlan(p.st, cfg.Only)
	if err != nil {
		return err
	}
	p.plan = plan
	return (&applyRun{p: p, cfg: &cfg, o: o}).run(ctx)
}
