package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"groupsync/state"
)

const planHelp = `Usage: groupsync plan -f PATH... [flags]

Shows what apply would do, group by group and field by field. Makes no
call that changes anything; with --refresh it reads the service.
`

// planFlagSet is plan's flags, writing into cfg.
func planFlagSet(cfg *Config, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("plan", planHelp, stderr)
	cfg.planFlags(fs)
	fs.BoolVar(&cfg.DetailedExitcode, "detailed-exitcode", false, "exit 2 when the plan has changes, 0 when it has none")
	fs.StringVar(&cfg.Out, "out", "", "save the plan to `PLAN.json` for apply --plan")
	// A refreshed plan calls the service too, and may stall as apply may.
	fs.DurationVar(&cfg.StallTimeout, "stall-timeout", cfg.StallTimeout, "with --refresh or --prune: stop when no call has succeeded for this long")
	cfg.formatFlag(fs, true)
	cfg.logFlag(fs)
	return fs
}

func runPlan(ctx context.Context, args []string, o IO) (err error) {
	cfg := DefaultConfig(o.Getenv)
	fs := planFlagSet(&cfg, o.Stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o, done := cfg.logTo(o)
	defer done(&err)
	if len(cfg.Files) == 0 {
		return errors.New("no manifest given\ngroupsync: hint: use -f FILE or -f DIR")
	}
	if err := cfg.checkConnection(); err != nil {
		return err
	}
	if err := cfg.checkStdin(o, false); err != nil {
		return err
	}
	if cfg.JSON && cfg.PlanFormat == formatMarkdown {
		return errors.New("--json and --format markdown can't be combined: each is a form of the plan")
	}
	p, err := prepare(ctx, cfg, o, stage{})
	if err != nil {
		return err
	}
	defer p.close()
	if cfg.Out != "" {
		saved := &state.SavedPlan{APIURL: cfg.APIURL, Serial: p.st.Serial, Groups: p.groups, API: cfg.API, Refresh: cfg.Refresh, Prune: cfg.Prune,
			PruneAdopted: cfg.PruneAdopted, Only: cfg.Only, Lines: p.plan.Lines()}
		if err := state.WritePlan(cfg.Out, saved); err != nil {
			return fmt.Errorf("save the plan: %w", err)
		}
	}
	s := p.plan.Summary()
	switch {
	case cfg.JSON:
		err = printPlanJSON(o.Stdout, p.plan, p.estimate(s.Calls).Seconds())
	case cfg.PlanFormat == formatMarkdown:
		printPlanMarkdown(o.Stdout, p.plan, cfg.Rate.Text, func(n int) string { return p.estimate(n).String() }, p.rebound)
	default:
		printPlan(o.Stdout, p.plan, cfg.Rate.Text, func(n int) string { return p.estimate(n).String() }, p.rebound)
	}
	if err != nil {
		return quietPipe(err)
	}
	// A call of an earlier run whose outcome is not known is a change
	// too: the next apply learns it and records what it finds.
	if cfg.DetailedExitcode && (len(p.plan.Work()) > 0 || len(p.plan.Corrected) > 0 || len(p.st.Pending) > 0) {
		return &exitError{code: ExitChanges}
	}
	return nil
}
