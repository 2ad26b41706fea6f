package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"groupsync/internal/atomicfile"
	"groupsync/internal/textsafe"
	"groupsync/reconcile"
	"groupsync/report"
	"groupsync/state"
)

const applyHelp = `Usage: groupsync apply -f PATH... [flags]
       groupsync apply --plan PLAN.json [flags]

Makes Explo match the manifests: creates, updates (and with --prune,
deletes) only what differs, at --rate, and writes a report of every group.
In a terminal it shows the plan and asks first, unless --auto-approve.
`

// applyFlagSet is apply's flags, writing into cfg.
func applyFlagSet(cfg *Config, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("apply", applyHelp, stderr)
	cfg.planFlags(fs)
	cfg.callFlags(fs)
	fs.BoolVar(&cfg.DryRun, "dry-run", false, "plan and call nothing; writes the report (status planned) only when --report is given")
	fs.IntVar(&cfg.MaxChanges, "max-changes", 0, "refuse to start when the plan has more than `N` creates, updates and deletes (0: no limit)")
	fs.StringVar(&cfg.Plan, "plan", "", "apply exactly the plan saved by plan --out `PLAN.json`")
	fs.BoolVar(&cfg.AutoApprove, "auto-approve", false, "do not ask before applying, even in a terminal")
	cfg.formatFlag(fs, false)
	cfg.logFlag(fs)
	cfg.bomFlag(fs)
	return fs
}

func runApply(ctx context.Context, args []string, o IO) (err error) {
	cfg := DefaultConfig(o.Getenv)
	fs := applyFlagSet(&cfg, o.Stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o, done := cfg.logTo(o)
	defer done(&err)
	cfg, err = cfg.forApply(fs)
	if err != nil {
		return err
	}
	if err := cfg.checkStdin(o, !cfg.DryRun); err != nil {
		return err
	}
	if cfg.DryRun {
		return dryRun(ctx, cfg, o)
	}
	p, err := prepare(ctx, cfg, o, stage{lock: true, needToken: true})
	if err != nil {
		return err
	}
	defer p.close()
	s := p.plan.Summary()
	if n := s.Changes(p.plan.NewOrphans); cfg.MaxChanges > 0 && n > cfg.MaxChanges {
		what := "creates, updates and deletes"
		if p.plan.NewOrphans > 0 {
			what = fmt.Sprintf("creates, updates and deletes, and %s groups the last run saw in the manifests and no manifest lists now", thousands(p.plan.NewOrphans))
		}
		return fmt.Errorf("the plan has %s changes (%s), more than --max-changes %d; nothing was sent\ngroupsync: hint: check the manifest (did an export lose rows, a file or a column?), then raise --max-changes",
			thousands(n), what, cfg.MaxChanges)
	}
	return (&applyRun{p: p, cfg: cfg, o: o}).run(ctx)
}

// forApply finishes apply's configuration: with --plan, the flags the plan
// was made with, read from it, which flags given now may not contradict.
// The result is checked and then never changed.
func (c Config) forApply(fs *flag.FlagSet) (Config, error) {
	if c.Plan != "" && len(c.Files) == 0 {
		saved, err := state.ReadPlan(c.Plan)
		if err != nil {
			return c, err
		}
		if c, err = c.withPlan(saved, fs); err != nil {
			return c, err
		}
	}
	return c, c.checkApply()
}

// checkApply checks apply's flags, before any I/O.
func (c *Config) checkApply() error {
	switch {
	case c.Plan != "" && len(c.Files) > 0:
		return errors.New("--plan and -f can't be combined: a saved plan already names its groups")
	case c.Plan == "" && len(c.Files) == 0:
		return errors.New("no manifest given\ngroupsync: hint: use -f FILE or -f DIR, or --plan PLAN.json")
	case c.MaxChanges < 0:
		return fmt.Errorf("--max-changes %d: want 0 (no limit) or more", c.MaxChanges)
	case samePath(c.Report, c.State):
		return fmt.Errorf("--report and --state are the same file (%s): the report would overwrite the state", c.Report)
	}
	if !c.DryRun || c.ReportGiven {
		if err := checkDir(c.Report, "--report"); err != nil {
			return err
		}
	}
	return c.checkConnection()
}

// dryRun plans and reports what apply would do, calling nothing. It writes
// the report only when --report names one, so that it never overwrites
// the last real report.
func dryRun(ctx context.Context, cfg Config, o IO) error {
	p, err := prepare(ctx, cfg, o, stage{})
	if err != nil {
		return err
	}
	defer p.close()
	var t tally
	rows := t.count(p.plan.Rows(p.st, nil))
	if cfg.ReportGiven {
		if err := writeReport(cfg.Report, cfg.reportOptions(), rows); err != nil {
			return err
		}
	} else {
		for range rows {
		}
	}
	if cfg.JSON {
		return t.print(o.Stdout, 0, 0, reportName(cfg))
	}
	s := p.plan.Summary()
	where := "; no report written (give --report to write one)"
	if cfg.ReportGiven {
		where = "; report " + cfg.Report
	}
	printf(o.Stderr, "groupsync: dry run: %s to create, %s to update, %s to delete, %s unchanged; %s call%s ≈ %s at %s; nothing was sent%s",
		thousands(s.Create+s.Adopt), thousands(s.Update), thousands(s.Delete), thousands(s.Noop), thousands(s.Calls), plural(s.Calls),
		p.estimate(s.Calls), cfg.Rate.Text, where)
	return nil
}

func reportName(cfg Config) string {
	if cfg.DryRun && !cfg.ReportGiven {
		return ""
	}
	return cfg.Report
}

// applyRun is one apply that calls the service.
type applyRun struct {
	p   *pipeline
	cfg Config
	o   IO
	// warn says, in the confirmation, what the changes cannot undo.
	warn string
}

func (a *applyRun) run(ctx context.Context) error {
	p := a.p
	st := p.st
	work := p.plan.Work()
	if len(work) > 0 && a.o.Interactive && !a.cfg.AutoApprove {
		if err := a.confirm(); err != nil {
			return err
		}
	}
	bind := p.rebound || st.APIURL == ""
	if len(a.cfg.Only) == 0 && p.full != nil {
		p.plan.Marks = p.full.OrphanMarks(st)
	}
	start := a.o.clock().Now()
	var results []reconcile.Result
	var runErr error
	if len(work) > 0 || len(p.plan.Corrected) > 0 || len(p.plan.Moved) > 0 || len(p.plan.Marks) > 0 {
		results, runErr = a.apply(ctx, len(work))
	}
	took := a.o.clock().Now().Sub(start)
	var problems []string
	saved := true
	// Nothing changed, nothing written: a no-op run leaves no trace but
	// its report, and a run that never reached the service does not bind
	// the state to a URL that may be a typo.
	bind = bind && (p.gate.Confirmed() || len(work) == 0 && runErr == nil && ctx.Err() == nil)
	if bind {
		st.APIURL, st.TokenFingerprint = a.cfg.APIURL, state.Fingerprint(p.token)
	}
	switch {
	case p.store.Changed() || len(p.learnt) > 0 || len(st.Pending) > 0 || bind:
		if err := p.store.Save(); err != nil {
			saved = false
			problems = append(problems, fmt.Sprintf("the state could not be written (%v); every answer this run recorded is in %s, which the next run folds in", err, p.store.JournalPath()))
		}
	case runErr == nil:
		// The journal holds nothing but intents settled again.
		if err := p.store.Discard(); err != nil {
			problems = append(problems, fmt.Sprintf("the journal %s could not be removed (%v); it holds nothing the next run needs", p.store.JournalPath(), err))
		}
	}
	var t tally
	if err := writeReport(a.cfg.Report, a.cfg.reportOptions(), t.count(p.plan.Rows(st, results))); err != nil {
		where := "the state holds the tokens recorded"
		if !saved {
			where = "the journal holds the tokens recorded"
		}
		problems = append(problems, fmt.Sprintf("the report could not be written (%v); %s", err, where))
	}
	if n := unknown(results); n > 0 {
		problems = append(problems, fmt.Sprintf("the outcome of %d call%s is not known (the answer was lost or could not be read): the next run learns it from the service (or sends an update again), and records what it finds", n, plural(n)))
	}
	if a.cfg.JSON {
		if err := t.print(a.o.Stdout, a.calls(), took, a.cfg.Report); err != nil {
			problems = append(problems, fmt.Sprintf("the summary could not be written to stdout (%v)", err))
		}
	} else {
		a.printOutcome(&t, took, len(results) > 0)
	}
	return a.outcome(ctx, &t, results, runErr, problems)
}

func (a *applyRun) calls() int { return a.p.client.Calls() }

// changed counts the groups the run changed on the service.
func changed(results []reconcile.Result) int {
	n := 0
	for i := range results {
		r := &results[i]
		if (r.Status == reconcile.StatusOK && r.Attempts > 0) || (r.New != nil && *r.New) {
			n++
		}
	}
	return n
}

// unknown counts the groups whose last call's outcome is not known.
func unknown(results []reconcile.Result) int {
	n := 0
	for i := range results {
		if results[i].Unknown {
			n++
		}
	}
	return n
}

// confirm shows the plan and asks for "yes", as terraform does.
func (a *applyRun) confirm() error {
	w := a.o.promptOut()
	printPlan(w, a.p.plan, a.cfg.Rate.Text, func(n int) string { return a.p.estimate(n).String() }, a.p.rebound)
	if a.warn != "" {
		fmt.Fprintln(w, "\n"+a.warn)
	}
	fmt.Fprint(w, "\nApply these changes? Only 'yes' will be accepted: ")
	line, err := bufio.NewReader(a.o.Stdin).ReadString('\n')
	if !strings.HasSuffix(line, "\n") {
		// End of input (Ctrl-D) leaves the cursor on the prompt line.
		fmt.Fprintln(a.o.Stderr)
	}
	if strings.TrimSpace(line) != "yes" {
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("apply cancelled (%v); nothing was sent", err)
		}
		return errors.New("apply cancelled; nothing was sent")
	}
	return nil
}

func (a *applyRun) apply(ctx context.Context, n int) ([]reconcile.Result, error) {
	p := a.p
	applier := p.applier(p.journal())
	progress := newProgress(a.o, n)
	defer progress.finish()
	applier.Done = func(r *reconcile.Result) {
		progress.add(r)
		if a.cfg.Verbose {
			logResult(a.o, progress, r)
		}
	}
	applier.OnStop = func(cause error, inFlight int) {
		if errors.Is(cause, context.Canceled) && ctx.Err() != nil {
			progress.log(fmt.Sprintf("groupsync: interrupted: starting nothing new; waiting up to %s for %d call%s in flight; interrupt again to stop at once (the state stays consistent)",
				graceOnInterrupt, inFlight, plural(inFlight)))
		}
	}
	return applier.Apply(ctx, p.plan, p.st)
}

func resultLine(r *reconcile.Result) string {
	msg := fmt.Sprintf("groupsync: %s: %s %s (%d attempt%s)", textsafe.Cut(r.ID), r.Action, r.Status, r.Attempts, plural(r.Attempts))
	if r.Err != nil {
		msg += ": " + r.Err.Error()
	}
	return msg
}

// printOutcome tells what happened in one line, plus one line per failed
// group (the report has them all). A run with nothing to do prints nothing,
// so cron mails only when something happened.
func (a *applyRun) printOutcome(t *tally, took time.Duration, ran bool) {
	if !ran && !a.cfg.Verbose {
		return
	}
	const maxListed = 20
	if !a.cfg.Verbose {
		listed := 0
		for _, f := range t.failures {
			if f.Status != string(reconcile.StatusFailed) {
				continue
			}
			if listed++; listed > maxListed {
				printf(a.o.Stderr, "groupsync: … and %d more failed groups (see the report)", t.status[reconcile.StatusFailed]-maxListed)
				break
			}
			if a.o.log != nil {
				logFailure(a.o, f)
				continue
			}
			printf(a.o.Stderr, "groupsync: %s: %s failed: %s", textsafe.Cut(f.ID), f.Action, f.Error)
		}
	}
	calls := a.calls()
	done := func(act reconcile.Action) int { return t.done[act] }
	if a.o.log != nil {
		a.logSummary(t, calls, took)
		return
	}
	line := fmt.Sprintf("groupsync: %d created, %d adopted, %d updated, %s unchanged, %s orphaned", done(reconcile.ActionCreate), done(reconcile.ActionAdopt),
		done(reconcile.ActionUpdate), thousands(t.actions[reconcile.ActionNoop]), thousands(t.actions[reconcile.ActionOrphan]))
	if n := t.actions[reconcile.ActionDelete]; n > 0 {
		line += fmt.Sprintf(", %d deleted", done(reconcile.ActionDelete))
	}
	if n := t.actions[reconcile.ActionRotate]; n > 0 {
		line += fmt.Sprintf(", %d rotated", done(reconcile.ActionRotate))
	}
	if n := t.actions[reconcile.ActionRename]; n > 0 {
		line += fmt.Sprintf(", %d renamed", done(reconcile.ActionRename))
	}
	printf(a.o.Stderr, "%s, %d failed, %d skipped; %s call%s in %s; report %s", line, t.status[reconcile.StatusFailed], t.status[reconcile.StatusSkipped],
		thousands(calls), plural(calls), took.Round(time.Millisecond), a.cfg.Report)
}

// logSummary is printOutcome's line as a record of --log-format json.
func (a *applyRun) logSummary(t *tally, calls int, took time.Duration) {
	done := func(act reconcile.Action) int { return t.done[act] }
	a.o.log.Info("summary", "created", done(reconcile.ActionCreate), "adopted", done(reconcile.ActionAdopt), "updated", done(reconcile.ActionUpdate),
		"unchanged", t.actions[reconcile.ActionNoop], "orphaned", t.actions[reconcile.ActionOrphan], "deleted", done(reconcile.ActionDelete),
		"rotated", done(reconcile.ActionRotate), "renamed", done(reconcile.ActionRename), "failed", t.status[reconcile.StatusFailed], "skipped", t.status[reconcile.StatusSkipped],
		"calls", calls, "duration_seconds", took.Round(time.Millisecond).Seconds(), "report", a.cfg.Report)
}

// outcome turns the run's end into an exit code and a message. Exit 1
// promises that nothing changed on the service; once something did, a
// stop is exit 3.
func (a *applyRun) outcome(ctx context.Context, t *tally, results []reconcile.Result, runErr error, problems []string) error {
	changed, maybe := changed(results), unknown(results)
	code := ExitFatal
	if changed+maybe > 0 {
		code = ExitPartial
	}
	var msgs []string
	var ue *reconcile.UnreachableError
	switch {
	case errors.As(runErr, &ue) && errors.Is(ue, reconcile.ErrUnreadable):
		msgs = append(msgs, fmt.Sprintf("cannot read the answers at %s: %v", a.cfg.APIURL, ue.Err))
	case errors.As(runErr, &ue):
		msgs = append(msgs, fmt.Sprintf("cannot reach the Explo API at %s: %v", a.cfg.APIURL, ue.Err))
	case errors.Is(runErr, reconcile.ErrUnauthorized):
		msgs = append(msgs, fmt.Sprintf("the service refused the API token (%v); stopped after %d call%s\ngroupsync: hint: check $EXPLO_API_TOKEN or --token-file, and --api-url",
			runErr, a.calls(), plural(a.calls())))
	case errors.Is(runErr, reconcile.ErrRedirect):
		msgs = append(msgs, runErr.Error())
	case errors.Is(runErr, reconcile.ErrStalled):
		code = ExitPartial
		msgs = append(msgs, fmt.Sprintf("stopped: %v, so the service is refusing or failing every call; %d group%s not applied; rerun to finish",
			runErr, t.unfinished(), plural(t.unfinished())))
	case runErr != nil:
		code = ExitPartial
		msgs = append(msgs, fmt.Sprintf("stopped: %v", runErr))
	case ctx.Err() != nil && t.unfinished() > 0:
		code = ExitPartial
		msgs = append(msgs, fmt.Sprintf("interrupted: %d group%s not applied; rerun to finish", t.unfinished(), plural(t.unfinished())))
	case t.unfinished() > 0:
		code = ExitPartial
		msgs = append(msgs, fmt.Sprintf("%d group%s did not converge; see %s", t.unfinished(), plural(t.unfinished()), a.cfg.Report))
	}
	switch {
	case len(problems) > 0 && changed > 0:
		code = ExitPartial
		problems[0] = fmt.Sprintf("%d group%s changed on the service, but %s", changed, plural(changed), problems[0])
	case len(problems) > 0 && maybe > 0:
		code = ExitPartial
		problems[0] = fmt.Sprintf("%d group%s may have changed on the service, but %s", maybe, plural(maybe), problems[0])
	}
	msgs = append(msgs, problems...)
	if len(msgs) == 0 {
		return nil
	}
	return &exitError{code: code, err: errors.New(strings.Join(msgs, "\ngroupsync: error: "))}
}

func (c *Config) reportOptions() report.Options {
	return report.Options{Redact: c.RedactTokens, BOM: c.ReportBOM}
}

// writeReport writes the report atomically, mode 0600: JSON when path ends
// in .json, else CSV. It reads every row even when the write fails, so that
// a summary counting them still says what the run did.
func writeReport(path string, opts report.Options, rows iter.Seq[*reconcile.Result]) error {
	read := false
	err := atomicfile.Sweep(path)
	if err == nil {
		err = atomicfile.Write(path, atomicfile.Options{}, func(w io.Writer) error {
			read = true
			return encodeReport(w, path, opts, rows)
		})
	}
	if !read {
		for range rows {
		}
	}
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// encodeReport writes every row, and reads them all after a failed write.
func encodeReport(w io.Writer, path string, opts report.Options, rows iter.Seq[*reconcile.Result]) error {
	rw, err := report.New(w, path, opts)
	for r := range rows {
		if err == nil {
			err = rw.Write(r)
		}
	}
	if err != nil {
		return err
	}
	return rw.Close()
}
