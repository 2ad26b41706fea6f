package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"groupsync/explo"
	"groupsync/manifest"
	"groupsync/reconcile"
	"groupsync/state"
)

// pipeline is the one path from flags to a plan that validate, plan, apply
// (and its dry run) share: load the manifests (or a saved plan), open the
// state, check that it belongs to this URL and token, restrict it to
// --only, read the service when refreshing, and diff.
type pipeline struct {
	cfg   *Config
	o     IO
	token string
	// groups are the desired groups after --only.
	groups []reconcile.Group
	saved  *state.SavedPlan
	// store is set when the state is locked for a run that writes it.
	store   *state.Store
	st      *reconcile.State
	view    *reconcile.State
	rebound bool
	plan    *reconcile.Plan
	applier *reconcile.Applier
}

// stage says how far a command takes the pipeline.
type stage struct {
	// lock opens the state for writing; otherwise it is only read.
	lock bool
	// needToken requires an API token (it is then checked against the
	// state even when not required).
	needToken bool
}

// prepare runs the pipeline up to the plan.
func prepare(ctx context.Context, cfg *Config, o IO, s stage) (*pipeline, error) {
	p := &pipeline{cfg: cfg, o: o}
	steps := []func() error{
		p.loadGroups,
		func() error { return p.readToken(s.needToken || cfg.Refresh || cfg.Prune) },
		func() error { return p.openState(s.lock) },
		p.checkBinding,
		p.restrict,
		func() error { return p.diff(ctx) },
		p.checkPlan,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			p.close()
			return nil, err
		}
	}
	return p, nil
}

func (p *pipeline) close() {
	if p.store != nil {
		p.store.Close()
		p.store = nil
	}
}

// load reads and validates the manifests, printing warnings; an invalid
// manifest is an error after every problem is listed.
func load(cfg *Config, o IO) (*manifest.Manifest, error) {
	m, err := manifest.Load(cfg.Files, manifest.Options{Delimiter: cfg.Delimiter, Customer: cfg.API == APICustomer, Stdin: o.Stdin, StdinFormat: cfg.StdinFormat})
	var perrs manifest.Errors
	if errors.As(err, &perrs) {
		for _, e := range perrs {
			logProblem(o, e)
		}
		return nil, fmt.Errorf("%d problem%s in the manifests; nothing was sent", len(perrs), plural(len(perrs)))
	}
	if err != nil {
		return nil, err
	}
	for _, w := range m.Warnings {
		printf(o.Stderr, "groupsync: warning: %s\n", w)
	}
	return m, nil
}

// loadGroups reads the desired groups: from the manifests, or from a plan
// saved by plan --out.
func (p *pipeline) loadGroups() error {
	if p.cfg.Plan == "" {
		m, err := load(p.cfg, p.o)
		if err != nil {
			return err
		}
		p.groups = m.Groups
		return nil
	}
	saved, err := state.ReadPlan(p.cfg.Plan)
	if err != nil {
		return err
	}
	if saved.APIURL != p.cfg.APIURL {
		return fmt.Errorf("plan %s was made for %s, not %s", p.cfg.Plan, saved.APIURL, p.cfg.APIURL)
	}
	if saved.API != "" {
		p.cfg.API = saved.API
	}
	p.cfg.Refresh, p.cfg.Prune, p.cfg.Only = saved.Refresh, saved.Prune, saved.Only
	p.saved, p.groups = saved, saved.Groups
	return nil
}

// readToken reads the API token. Without need, a missing token is fine
// (plan calls nothing), but a --token-file that cannot be read is not.
func (p *pipeline) readToken(need bool) error {
	token, err := p.cfg.apiToken(p.o.Getenv)
	switch {
	case err == nil:
		p.token = token
	case need || p.cfg.TokenFile != "":
		return err
	}
	return nil
}

func (p *pipeline) openState(lock bool) error {
	if !lock {
		st, err := state.Read(p.cfg.State)
		p.st = st
		return err
	}
	store, err := state.Open(p.cfg.State, state.Options{})
	if err != nil {
		return err
	}
	p.store, p.st = store, store.State()
	return nil
}

// checkBinding refuses a state applied elsewhere, unless --rebind. Without
// a token the token is not checked.
func (p *pipeline) checkBinding() error {
	st := p.st
	var diffs []string
	if st.APIURL != "" && st.APIURL != p.cfg.APIURL {
		diffs = append(diffs, fmt.Sprintf("it was applied to %s, not %s", st.APIURL, p.cfg.APIURL))
	}
	if p.token != "" && st.TokenFingerprint != "" && st.TokenFingerprint != state.Fingerprint(p.token) {
		diffs = append(diffs, "it was applied with another API token")
	}
	if p.saved != nil && p.saved.Serial != st.Serial {
		return fmt.Errorf("the state changed since plan %s was made (serial %d, now %d): run plan again", p.cfg.Plan, p.saved.Serial, st.Serial)
	}
	if len(diffs) == 0 {
		return nil
	}
	if !p.cfg.Rebind {
		return fmt.Errorf("state %s belongs elsewhere: %s\ngroupsync: hint: use another --state, or --rebind after rotating the token or moving the API",
			p.cfg.State, strings.Join(diffs, ", and "))
	}
	p.rebound = true
	return nil
}

// restrict applies --only to the desired groups and to the state, so that
// other groups are neither planned nor reported as orphans. An id that
// nothing holds is a typo, and an error.
func (p *pipeline) restrict() error {
	p.view = p.st
	if len(p.cfg.Only) == 0 {
		return nil
	}
	only := map[string]bool{}
	for _, id := range p.cfg.Only {
		only[id] = true
	}
	var groups []reconcile.Group
	found := map[string]bool{}
	for _, g := range p.groups {
		if only[g.ID] {
			groups = append(groups, g)
			found[g.ID] = true
		}
	}
	view := *p.st
	view.Groups = map[string]*reconcile.Applied{}
	for id, a := range p.st.Groups {
		if only[id] {
			view.Groups[id] = a
			found[id] = true
		}
	}
	var missing []string
	for _, id := range p.cfg.Only {
		if !found[id] {
			missing = append(missing, fmt.Sprintf("%q", id))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("--only: no manifest and not the state holds %s", strings.Join(slices.Compact(missing), ", "))
	}
	p.groups, p.view = groups, &view
	return nil
}

// diff plans, reading the service first with --refresh, and the
// descendants of every delete with --prune.
func (p *pipeline) diff(ctx context.Context) error {
	opts := reconcile.Options{Prune: p.cfg.Prune}
	if p.cfg.Refresh {
		snap, err := p.newApplier(nil).Snapshot(ctx)
		if err != nil {
			return p.readError(err)
		}
		opts.Remote = snap
	}
	p.plan = reconcile.Diff(p.groups, p.view, opts)
	if p.cfg.Prune {
		if err := p.newApplier(nil).Cascades(ctx, p.plan, p.st); err != nil {
			return p.readError(err)
		}
	}
	return nil
}

// readError explains a failure to read the service, before any change.
func (p *pipeline) readError(err error) error {
	var ue *reconcile.UnreachableError
	switch {
	case errors.As(err, &ue):
		return fmt.Errorf("cannot reach the Explo API at %s: %v", p.cfg.APIURL, ue.Err)
	case errors.Is(err, reconcile.ErrUnauthorized):
		return fmt.Errorf("the service refused the API token (%v)\ngroupsync: hint: check $EXPLO_API_TOKEN or --token-file, and --api-url", err)
	}
	return fmt.Errorf("read the service: %w", err)
}

// checkPlan refuses plans that would do what cannot be undone: a second
// customer for an id a spreadsheet mangled, a delete that takes a wanted
// customer with it.
func (p *pipeline) checkPlan() error {
	var problems []string
	for _, c := range p.plan.ZeroConflicts() {
		problems = append(problems, fmt.Sprintf("create %q would make a second customer: the state holds %q, which is the same id once its leading zeros are stripped (did a spreadsheet strip leading zeros?)", c.Create, c.Orphan))
	}
	var hint string
	if len(problems) > 0 {
		hint = "format the id column as text and export again; if the old id is gone on purpose, forget it first: groupsync state rm ID"
	}
	for _, c := range p.plan.CascadeConflicts() {
		problems = append(problems, fmt.Sprintf("deleting %q would also delete %q, which the manifests want", c.Delete, c.Wanted))
		hint = "give the wanted customer another parent, or list its parent in the manifests"
	}
	if len(problems) == 0 {
		return nil
	}
	for _, msg := range problems {
		printf(p.o.Stderr, "groupsync: %s\n", msg)
	}
	return fmt.Errorf("the plan was refused; nothing was sent\ngroupsync: hint: %s", hint)
}

// newApplier returns the applier of this run: the client of --api, the
// limiter of --rate, the retry policy and the stall timeout.
func (p *pipeline) newApplier(record func(*reconcile.Applied) error) *reconcile.Applier {
	if p.applier != nil {
		p.applier.Record = record
		return p.applier
	}
	c := explo.New(p.cfg.APIURL, p.token, p.cfg.Timeout, p.cfg.Concurrency)
	var api reconcile.API = c.UserGroups()
	if p.cfg.API == APICustomer {
		api = c.Customers()
	}
	policy := reconcile.DefaultRetryPolicy()
	policy.MaxAttempts = p.cfg.MaxAttempts
	clock := p.o.clock()
	p.applier = &reconcile.Applier{
		API:          &countingAPI{API: api},
		Limiter:      reconcile.NewLimiter(p.cfg.Rate.Quota, p.cfg.Rate.Window, clock),
		Concurrency:  p.cfg.Concurrency,
		Retry:        policy,
		Grace:        graceOnInterrupt,
		StallTimeout: p.cfg.StallTimeout,
		Record:       record,
		Clock:        clock,
	}
	return p.applier
}

// graceOnInterrupt is how long calls in flight may finish after a signal.
const graceOnInterrupt = 10 * time.Second

// estimate is how long n calls take at --rate.
func (p *pipeline) estimate(n int) time.Duration {
	return reconcile.Duration(n, p.cfg.Rate.Quota, p.cfg.Rate.Window)
}
