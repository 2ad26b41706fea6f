package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"groupsync/explo"
	"groupsync/reconcile"
	"groupsync/state"
)

// applyRun is one apply that calls the service.
type applyRun struct {
	*applyFlags
	store     *state.Store
	st        *reconcile.State
	apiURL    string
	token     string
	perSecond float64
	stdout    io.Writer
	stderr    io.Writer
	calls     atomic.Int64
}

// countingAPI counts calls for the summary.
type countingAPI struct {
	reconcile.API
	n *atomic.Int64
}

func (c countingAPI) CreateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	c.n.Add(1)
	return c.API.CreateGroup(ctx, g)
}

func (c countingAPI) UpdateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	c.n.Add(1)
	return c.API.UpdateGroup(ctx, g)
}

func (a *applyRun) run(ctx context.Context, groups []reconcile.Group, saved *state.SavedPlan) error {
	groups, p, rebound, err := a.prepare(a.st, groups, saved, a.apiURL, a.token)
	if err != nil {
		return err
	}
	bind := rebound || a.st.APIURL == ""
	if bind {
		a.st.APIURL, a.st.TokenFingerprint = a.apiURL, state.Fingerprint(a.token)
	}
	work := reconcile.Work(p)
	start := time.Now()
	var results []reconcile.Result
	var runErr error
	if len(work) > 0 {
		results, runErr = a.apply(ctx, p, len(work))
	}
	took := time.Since(start)
	// Nothing changed, nothing written: a no-op run leaves no trace but
	// its report.
	if len(work) > 0 || bind {
		if err := a.store.Save(); err != nil {
			return err
		}
	}
	if err := a.writeReport(groups, results, a.st); err != nil {
		return err
	}
	s := p.Summary()
	if a.json {
		if err := a.printSummary(a.stdout, s, results, int(a.calls.Load()), took); err != nil {
			return err
		}
	} else {
		a.printOutcome(s, results, took)
	}
	return a.outcome(ctx, results, runErr)
}

func (a *applyRun) apply(ctx context.Context, p *reconcile.Plan, n int) ([]reconcile.Result, error) {
	policy := reconcile.DefaultRetryPolicy()
	policy.MaxAttempts = a.maxAttempts
	progress := newProgress(a.stderr, n)
	defer progress.finish()
	applier := &reconcile.Applier{
		API:         countingAPI{API: explo.New(a.apiURL, a.token, newHTTPClient(a.timeout, a.concurrency)), n: &a.calls},
		Limiter:     reconcile.NewLimiter(a.perSecond),
		Concurrency: a.concurrency,
		Retry:       policy,
		Grace:       graceOnInterrupt,
		Record:      a.store.Record,
		Done: func(done int, r *reconcile.Result) {
			progress.add(r)
			if a.verbose {
				a.logResult(r)
			}
		},
	}
	return applier.Apply(ctx, p, a.st)
}

func (a *applyRun) logResult(r *reconcile.Result) {
	msg := fmt.Sprintf("groupsync: %s: %s %s (%d attempt%s)", r.ID, r.Action, r.Status, r.Attempts, plural(r.Attempts))
	if r.Err != nil {
		msg += ": " + r.Err.Error()
	}
	fmt.Fprintln(a.stderr, msg)
}

// printOutcome tells what happened in one line, plus one line per failed
// group (the report has them all). A run with nothing to do prints nothing,
// so cron mails only when something happened.
func (a *applyRun) printOutcome(s reconcile.Summary, results []reconcile.Result, took time.Duration) {
	if len(results) == 0 && !a.verbose {
		return
	}
	var created, adopted, updated, failed, skipped int
	const maxListed = 20
	for i := range results {
		r := &results[i]
		switch r.Status {
		case reconcile.StatusFailed:
			failed++
			if failed <= maxListed && !a.verbose {
				fmt.Fprintf(a.stderr, "groupsync: %s: %s failed: %v\n", r.ID, r.Action, r.Err)
			}
			continue
		case reconcile.StatusSkipped:
			skipped++
			continue
		}
		switch r.Action {
		case reconcile.ActionCreate:
			created++
		case reconcile.ActionAdopt:
			adopted++
		case reconcile.ActionUpdate:
			updated++
		}
	}
	if failed > maxListed && !a.verbose {
		fmt.Fprintf(a.stderr, "groupsync: … and %d more failed groups (see the report)\n", failed-maxListed)
	}
	calls := int(a.calls.Load())
	fmt.Fprintf(a.stderr, "groupsync: %d created, %d adopted, %d updated, %s unchanged, %d failed, %d skipped; %s call%s in %s; report %s\n",
		created, adopted, updated, thousands(s.Noop), failed, skipped, thousands(calls), plural(calls), took.Round(time.Millisecond), a.report)
}

// outcome turns the run's end into an exit code and message.
func (a *applyRun) outcome(ctx context.Context, results []reconcile.Result, runErr error) error {
	var failed, skipped int
	for _, r := range results {
		switch r.Status {
		case reconcile.StatusFailed:
			failed++
		case reconcile.StatusSkipped:
			skipped++
		}
	}
	switch {
	case errors.Is(runErr, reconcile.ErrUnauthorized):
		return fmt.Errorf("the service refused the API token (%v); stopped after %d call%s\ngroupsync: hint: check $EXPLO_API_TOKEN or --token-file, and --api-url",
			runErr, a.calls.Load(), plural(int(a.calls.Load())))
	case runErr != nil:
		return &exitError{code: exitPartial, err: runErr}
	case ctx.Err() != nil && skipped+failed > 0:
		return &exitError{code: exitPartial, err: fmt.Errorf("interrupted: %d group%s not applied; rerun to finish", skipped+failed, plural(skipped+failed))}
	case failed+skipped > 0:
		return &exitError{code: exitPartial, err: fmt.Errorf("%d group%s did not converge; see %s", failed+skipped, plural(failed+skipped), a.report)}
	}
	return nil
}

// progress shows a bar when stderr is a terminal, and otherwise a line
// every ten seconds, which is what a log file wants.
type progress struct {
	bar    *progressbar.ProgressBar
	w      io.Writer
	total  int
	done   atomic.Int64
	failed atomic.Int64
	stop   chan struct{}
	ended  chan struct{}
}

const progressEvery = 10 * time.Second

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, stop: make(chan struct{}), ended: make(chan struct{})}
	if isTerminal(w) {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("applying"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
		close(p.ended)
		return p
	}
	go p.lines()
	return p
}

func (p *progress) add(r *reconcile.Result) {
	p.done.Add(1)
	if r.Status == reconcile.StatusFailed {
		p.failed.Add(1)
	}
	if p.bar != nil {
		p.bar.Add(1)
	}
}

func (p *progress) lines() {
	defer close(p.ended)
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			fmt.Fprintf(p.w, "groupsync: progress: %s/%s groups done, %s failed\n",
				thousands(int(p.done.Load())), thousands(p.total), thousands(int(p.failed.Load())))
		case <-p.stop:
			return
		}
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		return
	}
	close(p.stop)
	<-p.ended
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
