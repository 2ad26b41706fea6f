package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"groupsync/reconcile"
)

const rotateHelp = `Usage: groupsync rotate --only ID,... [flags]

Gives these customers new tokens (Customer API, refresh_customer_token),
and records them in the state and the report, which lists every customer
of the state with its current token. The old tokens stop working at once:
the embedding application needs the new ones.
`

// rotateFlagSet is rotate's flags, writing into cfg.
func rotateFlagSet(cfg *Config, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("rotate", rotateHelp, stderr)
	cfg.connectionFlags(fs)
	cfg.callFlags(fs)
	fs.Var(&flagValue{text: cfg.API, set: cfg.setAPI}, "api", "the Explo `API`: rotation needs customer, the default here")
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
	if err := cfg.checkRotate(); err != nil {
		return err
	}
	p := &pipeline{cfg: cfg, o: o}
	steps := []func() error{
		func() error { return p.readToken(ctx, true) },
		func() error { return p.openState(true) },
		p.checkBinding,
		p.checkState,
		p.connect,
		func() error { return p.resolve(ctx, true) },
	}
	for _, step := range steps {
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
	run := &applyRun{p: p, cfg: cfg, o: o,
		warn: "The old tokens stop working at once: the application that embeds these customers' dashboards needs the new ones (in the report and the state)."}
	return run.run(ctx)
}

// checkRotate checks rotate's flags, before any I/O.
func (c *Config) checkRotate() error {
	switch {
	case c.API != APICustomer:
		return errors.New("rotate needs --api customer: the End User Group API groupsync drives cannot rotate tokens")
	case len(c.Only) == 0:
		return errors.New("rotate needs --only ID,...: name the customers whose tokens to rotate")
	case samePath(c.Report, c.State):
		return fmt.Errorf("--report and --state are the same file (%s): the report would overwrite the state", c.Report)
	}
	if err := checkDir(c.Report, "--report"); err != nil {
		return err
	}
	return c.checkConnection()
}
