package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"groupsync/internal/atomicfile"
	"groupsync/reconcile"
	"groupsync/report"
	"groupsync/state"
)

const applyHelp = `Usage: groupsync apply -f PATH... [flags]
       groupsync apply --plan PLAN.json [flags]

Makes Explo's user groups match the manifests: creates and updates only what
differs from the state, at --rate, and writes a report of every group.
`

// applyFlags are apply's own flags, beyond the common ones.
type applyFlags struct {
	common
	report       string
	concurrency  int
	maxAttempts  int
	timeout      time.Duration
	dryRun       bool
	maxChanges   int
	plan         string
	redactTokens bool
	verbose      bool
}

// graceOnInterrupt is how long calls in flight may finish after a signal.
const graceOnInterrupt = 10 * time.Second

func (f *applyFlags) parse(args []string, stderr io.Writer) error {
	fs := newFlagSet("apply", applyHelp, stderr)
	f.register(fs)
	fs.StringVar(&f.report, "report", "groupsync-report.csv", "report `PATH` (CSV, mode 0600: it holds tokens)")
	fs.IntVar(&f.concurrency, "concurrency", 4, "calls in flight at once")
	fs.IntVar(&f.maxAttempts, "max-attempts", 6, "attempts per call, first try included")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout of one request")
	fs.BoolVar(&f.dryRun, "dry-run", false, "plan and write the report with status planned; call nothing")
	fs.IntVar(&f.maxChanges, "max-changes", 0, "refuse to start when the plan has more than `N` creates and updates (0: no limit)")
	fs.StringVar(&f.plan, "plan", "", "apply exactly the plan saved by plan --out `PLAN.json`")
	fs.BoolVar(&f.redactTokens, "redact-tokens", false, "leave the report's token column empty")
	fs.BoolVar(&f.verbose, "v", false, "print every group's outcome on stderr (never a token)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case f.plan != "" && len(f.files) > 0:
		return errors.New("--plan and -f can't be combined: a saved plan already names its groups")
	case f.plan == "" && len(f.files) == 0:
		return errors.New("no manifest given\ngroupsync: hint: use -f FILE or -f DIR, or --plan PLAN.json")
	case f.concurrency < 1:
		return fmt.Errorf("--concurrency %d: want at least 1", f.concurrency)
	case f.maxAttempts < 1:
		return fmt.Errorf("--max-attempts %d: want at least 1", f.maxAttempts)
	case f.timeout <= 0:
		return fmt.Errorf("--timeout %s: want a positive duration", f.timeout)
	case f.maxChanges < 0:
		return fmt.Errorf("--max-changes %d: want 0 (no limit) or more", f.maxChanges)
	case samePath(f.report, f.state):
		return fmt.Errorf("--report and --state are the same file (%s): the report would overwrite the state", f.report)
	}
	return checkDir(f.report, "--report")
}

// checkDir makes sure the folder of path exists before any call, so that a
// run does not apply everything and then fail to say what it did.
func checkDir(path, flag string) error {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return fmt.Errorf("%s %s: the folder %s does not exist", flag, path, dir)
	}
	return nil
}

func samePath(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}

func runApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f applyFlags
	if err := f.parse(args, stderr); err != nil {
		return err
	}
	perSecond, err := parseRate(f.rate)
	if err != nil {
		return err
	}
	apiURL, err := checkURL(f.apiURL)
	if err != nil {
		return err
	}
	var token string
	if !f.dryRun {
		if token, err = f.apiToken(); err != nil {
			return err
		}
	}
	groups, saved, err := f.desired(apiURL, stderr)
	if err != nil {
		return err
	}
	if f.dryRun {
		return f.dryRunApply(groups, saved, apiURL, token, perSecond, stdout, stderr)
	}
	store, err := state.Open(f.state)
	if err != nil {
		return err
	}
	defer store.Close()
	a := &applyRun{applyFlags: &f, store: store, st: store.State(), apiURL: apiURL, token: token, perSecond: perSecond, stdout: stdout, stderr: stderr}
	return a.run(ctx, groups, saved)
}

// desired returns the groups to apply: from the manifests, or from a plan
// saved by plan --out.
func (f *applyFlags) desired(apiURL string, stderr io.Writer) ([]reconcile.Group, *state.SavedPlan, error) {
	if f.plan == "" {
		m, err := f.load(stderr)
		if err != nil {
			return nil, nil, err
		}
		return m.Groups, nil, nil
	}
	saved, err := state.ReadPlan(f.plan)
	if err != nil {
		return nil, nil, err
	}
	if saved.APIURL != apiURL {
		return nil, nil, fmt.Errorf("plan %s was made for %s, not %s", f.plan, saved.APIURL, apiURL)
	}
	return saved.Groups, saved, nil
}

// prepare checks the state against the run and plans it.
func (f *applyFlags) prepare(st *reconcile.State, groups []reconcile.Group, saved *state.SavedPlan, apiURL, token string) ([]reconcile.Group, *reconcile.Plan, bool, error) {
	rebound, err := f.checkBinding(st, apiURL, token)
	if err != nil {
		return nil, nil, false, err
	}
	if saved != nil && saved.Serial != st.Serial {
		return nil, nil, false, fmt.Errorf("the state changed since plan %s was made (serial %d, now %d): run plan again", f.plan, saved.Serial, st.Serial)
	}
	groups, view := restrict(f.onlySet(), groups, st)
	p := reconcile.Diff(groups, view)
	if n := p.Summary().Calls(); f.maxChanges > 0 && n > f.maxChanges {
		return nil, nil, false, fmt.Errorf("the plan has %s creates and updates, more than --max-changes %d; nothing was sent\ngroupsync: hint: check the manifest (did an export lose rows or a column?), then raise --max-changes",
			thousands(n), f.maxChanges)
	}
	return groups, p, rebound, nil
}

func (f *applyFlags) dryRunApply(groups []reconcile.Group, saved *state.SavedPlan, apiURL, token string, perSecond float64, stdout, stderr io.Writer) error {
	st, err := state.Read(f.state)
	if err != nil {
		return err
	}
	groups, p, _, err := f.prepare(st, groups, saved, apiURL, token)
	if err != nil {
		return err
	}
	var results []reconcile.Result
	for _, c := range reconcile.Work(p) {
		results = append(results, reconcile.Result{ID: c.ID, Action: c.Action, Status: reconcile.StatusPlanned})
	}
	if err := f.writeReport(groups, results, st); err != nil {
		return err
	}
	s := p.Summary()
	if f.json {
		return f.printSummary(stdout, s, results, 0, 0)
	}
	fmt.Fprintf(stderr, "groupsync: dry run: %s to create, %s to update, %s unchanged; %s calls ≈ %s at %s; nothing was sent; report %s\n",
		thousands(s.Create), thousands(s.Update), thousands(s.Noop), thousands(s.Calls()),
		reconcile.Duration(s.Calls(), perSecond), f.rate, f.report)
	return nil
}

// writeReport writes one row per manifest group, in manifest order. Groups
// without a result are unchanged, and their token comes from the state.
func (f *applyFlags) writeReport(groups []reconcile.Group, results []reconcile.Result, st *reconcile.State) error {
	byID := make(map[string]*reconcile.Result, len(results))
	for i := range results {
		byID[results[i].ID] = &results[i]
	}
	err := atomicfile.Write(f.report, atomicfile.Options{}, func(w io.Writer) error {
		rw, err := report.NewWriter(w, f.redactTokens)
		if err != nil {
			return err
		}
		for i := range groups {
			if err := rw.Write(row(&groups[i], byID[groups[i].ID], st)); err != nil {
				return err
			}
		}
		return rw.Close()
	})
	if err != nil {
		return fmt.Errorf("write report %s: %w", f.report, err)
	}
	return nil
}

func row(g *reconcile.Group, r *reconcile.Result, st *reconcile.State) report.Row {
	prev := st.Groups[g.ID]
	if r == nil {
		row := report.Row{ID: g.ID, Name: g.Name, Action: string(reconcile.ActionNoop), Status: string(reconcile.StatusOK)}
		if prev != nil {
			row.Token, row.EnvTag = prev.Token, prev.EnvTag
		}
		return row
	}
	row := report.Row{ID: g.ID, Name: g.Name, Action: string(r.Action), Status: string(r.Status),
		Token: r.Token, EnvTag: r.EnvTag, Attempts: r.Attempts, HTTPStatus: r.HTTPStatus}
	if r.Action == reconcile.ActionCreate || r.Action == reconcile.ActionAdopt {
		if r.Status == reconcile.StatusOK {
			row.New = &r.New
		}
	}
	// A group that failed or was not reached keeps the token it had; a
	// planned update has it too.
	if row.Token == "" && prev != nil {
		row.Token, row.EnvTag = prev.Token, prev.EnvTag
	}
	if r.Err != nil {
		row.Error = r.Err.Error()
	}
	return row
}

type jsonSummary struct {
	FormatVersion   int     `json:"format_version"`
	Create          int     `json:"create"`
	Adopt           int     `json:"adopt"`
	Update          int     `json:"update"`
	Noop            int     `json:"noop"`
	Orphan          int     `json:"orphan"`
	OK              int     `json:"ok"`
	Failed          int     `json:"failed"`
	Skipped         int     `json:"skipped"`
	Planned         int     `json:"planned"`
	Calls           int     `json:"calls"`
	DurationSeconds float64 `json:"duration_seconds"`
	Report          string  `json:"report"`
}

func (f *applyFlags) printSummary(w io.Writer, s reconcile.Summary, results []reconcile.Result, calls int, took time.Duration) error {
	out := jsonSummary{FormatVersion: 1, Noop: s.Noop, Orphan: s.Orphan, Calls: calls, DurationSeconds: took.Seconds(), Report: f.report}
	for _, r := range results {
		switch r.Action {
		case reconcile.ActionCreate:
			out.Create++
		case reconcile.ActionAdopt:
			out.Adopt++
		case reconcile.ActionUpdate:
			out.Update++
		}
		switch r.Status {
		case reconcile.StatusOK:
			out.OK++
		case reconcile.StatusFailed:
			out.Failed++
		case reconcile.StatusSkipped:
			out.Skipped++
		case reconcile.StatusPlanned:
			out.Planned++
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// newHTTPClient returns a client whose connection pool fits the run's
// concurrency, so that each worker keeps its connection alive.
func newHTTPClient(timeout time.Duration, concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = concurrency
	return &http.Client{Timeout: timeout, Transport: t}
}
