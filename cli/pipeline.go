package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"groupsync/explo"
	"groupsync/internal/textsafe"
	"groupsync/manifest"
	"groupsync/reconcile"
	"groupsync/state"
)

// pipeline is the one path from flags to a plan that validate, plan, apply
// (and its dry run) share: load the manifests (or a saved plan), open the
// state, check that it belongs to this URL and token, learn what earlier
// runs left unfinished, read the service when refreshing or pruning, diff,
// decide the prune on the whole tree, restrict to --only, and check the
// plan. Its configuration is built and checked before, and never changed.
type pipeline struct {
	cfg   Config
	o     IO
	token string
	// groups are every manifest group; the plan may restrict them.
	groups []reconcile.Group
	saved  *state.SavedPlan
	// store is set when the state is locked for a run that writes it.
	store   *state.Store
	st      *reconcile.State
	rebound bool
	// The service, shared by every read and the apply: one client (which
	// counts the calls), one limiter, one gate.
	client  *explo.Client
	api     reconcile.API
	limiter *reconcile.Limiter
	gate    *reconcile.Gate
	// full is the plan of every group, plan the one that runs (--only).
	full, plan *reconcile.Plan
	// conflicts are the deletes the prune refuses.
	conflicts []reconcile.PruneConflict
	// learnt is what the service told of intents an earlier run left.
	learnt []reconcile.Learnt
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
func prepare(ctx context.Context, cfg Config, o IO, s stage) (*pipeline, error) {
	p := &pipeline{cfg: cfg, o: o}
	steps := []func() error{
		p.loadGroups,
		func() error { return p.readToken(ctx, s.needToken || cfg.Refresh || cfg.Prune) },
		func() error { return p.openState(s.lock) },
		p.checkBinding,
		p.checkState,
		p.connect,
		func() error { return p.resolve(ctx, s.lock) },
		p.checkOnly,
		func() error { return p.diff(ctx) },
		func() error { return p.checkTags(ctx) },
		p.checkPlan,
		p.checkSaved,
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
func load(cfg Config, o IO) (*manifest.Manifest, error) {
	m, err := manifest.Load(cfg.Files, manifest.Options{Delimiter: cfg.Delimiter, Customer: cfg.API == APICustomer, Stdin: o.Stdin, StdinFormat: cfg.StdinFormat})
	if err != nil {
		return nil, problems(o, err, "")
	}
	for _, w := range m.Warnings {
		printf(o.Stderr, "groupsync: warning: %s\n", w)
	}
	return m, nil
}

// problems prints every problem of a manifest (or of a saved plan, whose
// path prefixes each) and returns the error that ends the command.
func problems(o IO, err error, prefix string) error {
	var perrs manifest.Errors
	if !errors.As(err, &perrs) {
		return err
	}
	for _, e := range perrs {
		if prefix != "" {
			shown := *e
			shown.File = prefix + e.File
			e = &shown
		}
		logProblem(o, e)
	}
	return fmt.Errorf("%d problem%s in the manifests; nothing was sent", len(perrs), plural(len(perrs)))
}

// loadGroups reads the desired groups: from the manifests, or from a plan
// saved by plan --out, which is checked as a manifest is.
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
	if errs := manifest.Check(saved.Groups, manifest.Options{Customer: p.cfg.API == APICustomer}); len(errs) > 0 {
		return problems(p.o, errs, p.cfg.Plan+": ")
	}
	p.saved, p.groups = saved, saved.Groups
	return nil
}

// readToken reads the API token. Without need, a missing token is fine
// (plan calls nothing), but a --token-file that cannot be read is not.
func (p *pipeline) readToken(ctx context.Context, need bool) error {
	token, err := p.cfg.apiToken(ctx, p.o.Getenv)
	switch {
	case err == nil:
		p.token = token
		p.o.keepSecret(token)
	case need || p.cfg.TokenFile != "":
		return err
	}
	return nil
}

func (p *pipeline) openState(lock bool) error {
	if !lock {
		st, err := state.Read(p.cfg.State)
		p.st = st
		p.o.keepTokens(st)
		return err
	}
	store, err := state.Open(p.cfg.State, state.Options{})
	if err != nil {
		return err
	}
	p.store, p.st = store, store.State()
	p.o.keepTokens(p.st)
	return nil
}

// checkBinding refuses a state applied elsewhere, unless --rebind. Without
// a token the token is not checked.
func (p *pipeline) checkBinding() error {
	st := p.st
	var diffs []string
	if st.APIURL != "" && st.APIURL != p.cfg.APIURL {
		diffs = append(diffs, fmt.Sprintf("it was applied to %s, not %s", textsafe.Cut(st.APIURL), textsafe.Cut(p.cfg.APIURL)))
	}
	if p.token != "" && st.TokenFingerprint != "" && st.TokenFingerprint != state.Fingerprint(p.token) {
		diffs = append(diffs, "it was applied with another API token")
	}
	if p.saved != nil && p.saved.Serial != st.Serial {
		return fmt.Errorf("the state changed since plan %s was made (serial %d, now %d): run plan again", textsafe.Cut(p.cfg.Plan), p.saved.Serial, st.Serial)
	}
	if len(diffs) == 0 {
		return nil
	}
	if !p.cfg.Rebind {
		return fmt.Errorf("state %s belongs elsewhere: %s\ngroupsync: hint: use another --state, or --rebind after rotating the token or moving the API",
			textsafe.Cut(p.cfg.State), strings.Join(diffs, ", and "))
	}
	p.rebound = true
	return nil
}

// checkState refuses a state in which two groups hold one token: one of
// them is wrong, and a delete with that token could take the other.
func (p *pipeline) checkState() error {
	if a, b, ok := p.st.Twins(); ok {
		return fmt.Errorf("state %s is inconsistent: %s and %s hold the same token, and one of them is wrong; nothing was sent\ngroupsync: hint: forget the wrong one with groupsync state rm ID, then plan --refresh (Customer API) to learn the right tokens",
			textsafe.Cut(p.cfg.State), textsafe.Quote(a), textsafe.Quote(b))
	}
	return nil
}

// connect makes the client, limiter and gate every call of the command
// shares.
func (p *pipeline) connect() error {
	p.client = explo.New(p.cfg.APIURL, p.token, p.cfg.Timeout, p.cfg.Concurrency)
	p.o.shareSecrets(p.client)
	p.api = p.client.UserGroups()
	if p.cfg.API == APICustomer {
		p.api = p.client.Customers()
	}
	p.limiter = reconcile.NewLimiter(p.cfg.Rate.Quota, p.cfg.Rate.Window, p.o.clock())
	p.gate = reconcile.NewGate()
	return nil
}

// applier returns an applier of this command's service, persisting to j
// (nil: nothing). Each use gets its own value; the limiter, the gate and
// the client are shared.
func (p *pipeline) applier(j reconcile.Journal) *reconcile.Applier {
	policy := reconcile.DefaultRetryPolicy()
	policy.MaxAttempts = p.cfg.MaxAttempts
	if p.o.Backoff > 0 {
		policy.Base, policy.Cap = p.o.Backoff, 10*p.o.Backoff
	}
	return &reconcile.Applier{
		API:          p.api,
		Limiter:      p.limiter,
		Gate:         p.gate,
		Concurrency:  p.cfg.Concurrency,
		Retry:        policy,
		Grace:        graceOnInterrupt,
		StallTimeout: p.cfg.StallTimeout,
		Journal:      j,
		ListLimits:   p.listLimits(),
		Clock:        p.o.clock(),
	}
}

// journal is where a run that writes the state persists its progress.
func (p *pipeline) journal() reconcile.Journal {
	if p.store == nil {
		return nil
	}
	return p.store
}

// resolve learns the outcome of the calls an earlier run left unfinished
// (a rotation or a create whose answer was lost), before anything is
// planned. A command that only reads the state says what is unknown.
func (p *pipeline) resolve(ctx context.Context, lock bool) error {
	if len(p.st.Pending) == 0 {
		return nil
	}
	if !lock || p.token == "" {
		warnPending(p.o, p.st)
		return nil
	}
	if p.cfg.API != APICustomer {
		// Only get_customer tells the outcome. Applying without it would
		// report a token that a rotation may have killed as fine.
		in := pendingList(p.st)
		more := ""
		if len(in) > 1 {
			more = fmt.Sprintf(" (and %d other call%s)", len(in)-1, plural(len(in)-1))
		}
		return fmt.Errorf("the %s of %s by an earlier run did not finish%s, and only the Customer API can learn its outcome; nothing was sent\n"+
			"groupsync: hint: run this once with --api customer (it reads the customer first), or forget the group with 'groupsync state rm'",
			in[0].Op, textsafe.Quote(in[0].Key()), more)
	}
	learnt, err := p.applier(p.store).Resolve(ctx, p.st)
	p.learnt = learnt
	for _, l := range learnt {
		printf(p.o.Stderr, "groupsync: the %s of %s by an earlier run did not finish: %s", l.Intent.Op, textsafe.Quote(l.Intent.Key()), l.Outcome)
	}
	if err != nil {
		return p.readError(err)
	}
	return nil
}

// warnPending says which calls of an earlier run have an outcome not known
// yet, for a command that cannot ask the service.
func warnPending(o IO, st *reconcile.State) {
	for _, in := range pendingList(st) {
		printf(o.Stderr, "groupsync: warning: the %s of %s by an earlier run did not finish, and its outcome is not known yet; apply or rotate (--api customer) learns it first", in.Op, textsafe.Quote(in.Key()))
	}
}

func pendingList(st *reconcile.State) []*reconcile.Intent {
	var out []*reconcile.Intent
	for _, in := range st.Pending {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b *reconcile.Intent) int { return strings.Compare(a.Key(), b.Key()) })
	return out
}

// checkTags refuses, before any write, a group tag the service does not
// have. It lists the tags once, only when the plan sends any (a run with
// nothing to change calls nothing), and only with a token (a plan without
// one cannot ask).
func (p *pipeline) checkTags(ctx context.Context) error {
	if p.cfg.API != APICustomer || p.token == "" {
		return nil
	}
	tags := reconcile.FieldOf(reconcile.FieldTags)
	var sent []*reconcile.Group
	for _, c := range p.plan.Work() {
		if g := c.Desired; g != nil && g.Managed.Has(tags.Bit) && len(tags.List(g)) > 0 {
			sent = append(sent, g)
		}
	}
	if len(sent) == 0 {
		return nil
	}
	known, err := p.applier(nil).Tags(ctx)
	if err != nil {
		return p.readError(err)
	}
	p.plan.ListCalls++
	var errs manifest.Errors
	for _, g := range sent {
		for _, t := range tags.List(g) {
			if !slices.Contains(known, t) {
				errs = append(errs, &manifest.ParseError{File: g.Source.File, Line: g.Source.Line, Field: tags.Name,
					Err: fmt.Errorf("group tag %s does not exist (known: %s)", textsafe.Quote(t), textsafe.Cut(strings.Join(sorted(known), ", ")))})
			}
		}
	}
	if len(errs) > 0 {
		return problems(p.o, errs, "")
	}
	return nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s) == 0 {
		return []string{"none"}
	}
	return s
}

// diff plans: it reads the service first with --refresh, plans every
// group, decides the prune on the whole tree (the service's children of
// every delete, listed), and only then restricts to --only, which never
// narrows what a delete is checked against.
func (p *pipeline) diff(ctx context.Context) error {
	opts := reconcile.Options{Prune: p.cfg.Prune, PruneAdopted: p.cfg.PruneAdopted, Levels: reconcile.Levels{Root: p.st.RootLevel}}
	if p.cfg.Refresh {
		snap, levels, err := p.refresh(ctx)
		if err != nil {
			return err
		}
		opts.Remote, opts.Levels = snap, levels
	}
	p.full = reconcile.Diff(p.groups, p.st, opts)
	if p.cfg.Prune {
		tree, calls, err := p.tree(ctx, p.full.Deletes())
		p.full.ListCalls += calls
		if err != nil {
			return err
		}
		p.conflicts = p.full.CheckPrune(p.st, tree, p.only())
	}
	p.plan = p.full
	if keep := p.only(); keep != nil {
		p.plan = p.full.Restrict(keep)
	}
	return nil
}

// readError explains a failure to read the service, before any change.
func (p *pipeline) readError(err error) error {
	var ue *reconcile.UnreachableError
	var le *reconcile.ListError
	switch {
	case errors.As(err, &ue):
		return fmt.Errorf("cannot reach the Explo API at %s: %v", p.cfg.APIURL, ue.Err)
	case errors.Is(err, reconcile.ErrUnauthorized):
		return fmt.Errorf("the service refused the API token (%v)\ngroupsync: hint: check $EXPLO_API_TOKEN or --token-file, and --api-url", err)
	case errors.As(err, &le):
		return fmt.Errorf("%v; nothing was sent", le)
	}
	return fmt.Errorf("read the service: %w", err)
}

// graceOnInterrupt is how long calls in flight may finish after a signal.
const graceOnInterrupt = 10 * time.Second

// estimate is how long n calls take at --rate.
func (p *pipeline) estimate(n int) time.Duration {
	return reconcile.Duration(n, p.cfg.Rate.Quota, p.cfg.Rate.Window)
}
