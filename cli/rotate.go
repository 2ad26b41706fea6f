package cli

import (
	"context"
	"errors"

	"groupsync/reconcile"
)

const rotateHelp = `Usage: groupsync rotate --only ID,... [flags]

Gives these customers new tokens (Customer API, refresh_customer_token),
and records them in the state and the report. The old tokens stop
working at once: the embedding application needs the new ones.
`

func runRotate(ctx context.Context, args []string, o IO) error {
	cfg := DefaultConfig(o.Getenv)
	cfg.API = APICustomer
	fs := newFlagSet("rotate", rotateHelp, o.Stderr)
	cfg.connectionFlags(fs)
	cfg.callFlags(fs)
	fs.Var(&flagValue{set: cfg.setOnly}, "only", "the customer `IDS` to rotate (comma-separated; required)")
	fs.BoolVar(&cfg.AutoApprove, "auto-approve", false, "do not ask before rotating, even in a terminal")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
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
