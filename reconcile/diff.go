package reconcile

import (
	"slices"
	"strings"
	"time"
)

// Action is what a plan does for one group.
type Action string

const (
	ActionCreate Action = "create"
	// ActionAdopt takes over a group that exists on the service but not in
	// the state: a create that found it (and an update to correct it), or,
	// with a refresh, a group found in the service's list (recorded without
	// a call, and updated only when it differs).
	ActionAdopt  Action = "adopt"
	ActionUpdate Action = "update"
	ActionNoop   Action = "noop"
	// ActionOrphan is a group in the state that no manifest lists any
	// more: it is kept, and reported with its token.
	ActionOrphan Action = "orphan"
	// ActionDelete is an orphan that --prune deletes.
	ActionDelete Action = "delete"
	// ActionRotate gives a group a new token.
	ActionRotate Action = "rotate"
	// ActionRename gives a group the id its manifest row names, from the
	// previous_provided_id it had: one call, and the token is kept.
	ActionRename Action = "rename"
)

// Change is one group the plan acts on or reports.
type Change struct {
	Action Action
	ID     string
	// Desired is the manifest's group; nil for orphans and deletes.
	Desired *Group
	// Current is what is known of the group before the change: the state,
	// or what the service holds when the plan was refreshed. Nil for
	// creates.
	Current *Applied
	// Update is set for an adopt from the service's list whose fields
	// differ from the manifest's: an update call follows.
	Update bool
	// Gone is set for a delete of a group the service no longer holds: it
	// is only forgotten, without a call.
	Gone bool
	// Taken is set for a rename when the service's list holds a customer
	// under the new id already: the service would refuse it.
	Taken bool
	// The rest is for deletes, filled in by [Plan.CheckPrune]. Below lists
	// the groups below the deleted one, every one of them deleted first;
	// Parent is the group's parent now, whose delete waits for this one;
	// Guards are the changes that move groups out from below it, which
	// must succeed before it is deleted.
	Below  []string
	Parent string
	Guards []string
	// PruneAdopted is set for a delete when adopted groups may be deleted
	// too (a token found changed makes a group adopted).
	PruneAdopted bool
	// index is the group's position in the manifests, -1 for a group of
	// the state only.
	index int
}

// Calls is the number of calls the change makes when every call succeeds
// first time (and a create does not find the group already there).
func (c *Change) Calls() int {
	switch c.Action {
	case ActionCreate, ActionUpdate, ActionRename:
		return 1
	case ActionRotate:
		// Reading the customer, and the rotation.
		return 2
	case ActionAdopt:
		if c.Update {
			return 1
		}
	case ActionDelete:
		// Reading the customer, the look for children, and the delete.
		if !c.Gone {
			return 3
		}
	}
	return 0
}

// Plan is the result of [Diff]: the groups that need a call or are worth
// reporting, sorted by id so that a rerun prints and applies in the same
// order.
type Plan struct {
	// Desired is every group of the manifests, in manifest order.
	Desired []Group
	Changes []Change
	Noop    int
	// Corrected are records of unchanged groups that a refresh found out
	// of date in the state (a token rotated in Explo's UI): apply records
	// them without a call.
	Corrected []*Applied
	// ListCalls is the number of list calls a refresh makes.
	ListCalls int
	// NewOrphans counts the orphans and deletes that the last run saw in
	// the manifests: an export that lost rows makes them.
	NewOrphans int
	// Moved are renames the service already made: apply moves the state's
	// records without a call.
	Moved []Move
	// Marks are the Orphan marks apply records, after Corrected.
	Marks []Mark
}

// Summary counts a plan's changes by action.
type Summary struct {
	Create, Adopt, Update, Noop, Orphan, Delete, Rotate, Rename int
	// Calls is the number of calls applying the plan makes when every call
	// succeeds first time, list calls included.
	Calls int
}

// Summary counts the plan's actions.
func (p *Plan) Summary() Summary {
	s := Summary{Noop: p.Noop, Calls: p.ListCalls}
	for i := range p.Changes {
		c := &p.Changes[i]
		s.Calls += c.Calls()
		switch c.Action {
		case ActionCreate:
			s.Create++
		case ActionAdopt:
			s.Adopt++
		case ActionUpdate:
			s.Update++
		case ActionOrphan:
			s.Orphan++
		case ActionDelete:
			s.Delete++
		case ActionRotate:
			s.Rotate++
		case ActionRename:
			s.Rename++
		}
	}
	return s
}

// Changes counts what --max-changes bounds: the creates, updates, renames,
// rotations and deletes (each group a delete may take is a delete of its
// own), and the newly orphaned groups.
func (s Summary) Changes(newOrphans int) int {
	return s.Create + s.Adopt + s.Update + s.Rename + s.Rotate + s.Delete + newOrphans
}

// Duration is how long n calls take at quota calls per window, starting
// with an idle window: the first quota go at once, each further quota
// takes a window. It is in whole seconds rounded up, and at least one for
// any call: one call is not "0s".
func Duration(n int, quota int, window time.Duration) time.Duration {
	if quota <= 0 || n <= 0 {
		return 0
	}
	d := time.Duration(max(0, n-quota)) * window / time.Duration(quota)
	if r := d.Truncate(time.Second); r != d {
		d = r + time.Second
	}
	return max(d, time.Second)
}

// Snapshot is what the service holds, read by a refresh: every group the
// API token can see, by id, with its token.
type Snapshot struct {
	Groups map[string]*Applied
	// Calls is the number of list calls the read took.
	Calls int
}

// Options change what [Diff] compares.
type Options struct {
	// Remote, when set, is what the service holds: the diff is then
	// against the service as well as the state.
	Remote *Snapshot
	// Prune deletes orphans instead of keeping them: the state's own
	// (created by it), and with PruneAdopted those it adopted too.
	Prune, PruneAdopted bool
	// Levels says what an empty hierarchy level is: the root level.
	Levels Levels
}

// Levels is what is known of the service's hierarchy levels: the name of
// the root level, when known, and the levels known not to be the root (a
// customer at them has a parent).
type Levels struct {
	Root    string
	NotRoot map[string]bool
}

// resolve returns g with an empty level replaced by the level it stands
// for: the root level's name when known; otherwise, when cur's level may
// be the root, cur's own (the service reports the root by name, and an
// empty cell must not look like a change against it). g itself is never
// changed.
func (l Levels) resolve(g *Group, cur *Applied) *Group {
	f := rootField()
	if f == nil || !g.Managed.Has(f.Bit) || f.Text(g) != "" {
		return g
	}
	name := l.Root
	if name == "" && cur != nil && cur.Managed.Has(f.Bit) && !l.NotRoot[f.Text(&cur.Group)] {
		name = f.Text(&cur.Group)
	}
	if name == "" {
		return g
	}
	resolved := *g
	resolved.overlay(&Group{Customer: &Customer{Level: name}}, f.Bit)
	return &resolved
}

// Diff compares the desired groups, each id once (as the loaders ensure),
// with the state, and with the service when opts.Remote is set. It keeps
// no per-group record for a noop, so a no-change plan over a large
// manifest costs nothing beyond the manifest.
func Diff(desired []Group, st *State, opts Options) *Plan {
	p := &Plan{Desired: desired}
	var svc map[string]*Applied
	if opts.Remote != nil {
		p.ListCalls = opts.Remote.Calls
		svc = opts.Remote.Groups
	}
	renames := renamesOf(desired, st, svc)
	// inState counts the groups of the state the manifests name: when it
	// is all of them, there is no orphan to look for.
	inState := 0
	for i := range desired {
		g := &desired[i]
		cur := followRenames(st.Groups[g.ID], renames)
		if cur != nil {
			inState++
		}
		if from, done := renameOf(g, st, svc); from != "" {
			if st.Groups[from] != nil {
				inState++
			}
			if !done {
				p.rename(i, g, from, st, svc, opts.Levels)
				continue
			}
			// Renamed on the service already (in Explo's UI): the state
			// follows without a call.
			moved := *st.Groups[from]
			moved.ID = g.ID
			p.Moved = append(p.Moved, Move{From: from, To: &moved})
			cur = followRenames(&moved, renames)
		}
		if opts.Remote != nil {
			p.diffRemote(i, g, cur, svc[g.ID], opts.Levels)
			continue
		}
		switch {
		case cur == nil:
			p.add(Change{Action: ActionCreate, ID: g.ID, Desired: opts.Levels.resolve(g, nil), index: i})
		case Differs(opts.Levels.resolve(g, cur), cur):
			p.add(Change{Action: ActionUpdate, ID: g.ID, Desired: opts.Levels.resolve(g, cur), Current: cur, index: i})
		default:
			p.Noop++
		}
	}
	p.orphans(desired, st, svc, renames, opts, inState)
	slices.SortFunc(p.Changes, func(a, b Change) int { return strings.Compare(a.ID, b.ID) })
	return p
}

// orphans adds the groups of the state that no desired group names. When
// every group of the state was desired there are none, and the set of
// desired ids a million groups would take is never built.
func (p *Plan) orphans(desired []Group, st *State, svc map[string]*Applied, renames map[string]string, opts Options, inState int) {
	if inState == len(st.Groups) {
		return
	}
	seen := make(map[string]struct{}, len(desired)+len(renames))
	for i := range desired {
		seen[desired[i].ID] = struct{}{}
	}
	for from := range renames {
		seen[from] = struct{}{}
	}
	for id, cur := range st.Groups {
		if _, ok := seen[id]; ok {
			continue
		}
		c := Change{Action: ActionOrphan, ID: id, Current: cur, index: -1}
		if s := svc[id]; s != nil && s.Token != cur.Token {
			// A token changed outside groupsync: the state learns it
			// before anything uses it, and the group, which may have been
			// made again by someone else, counts as adopted.
			fixed := changedOutside(cur, s)
			p.Corrected = append(p.Corrected, fixed)
			c.Current = fixed
		}
		if opts.Prune && c.Current.Owned(opts.PruneAdopted) {
			c.Action = ActionDelete
			c.PruneAdopted = opts.PruneAdopted
			c.Gone = svc != nil && svc[id] == nil
		} else if !cur.Orphan && st.OrphansKnown {
			// A delete is a change of its own; a kept orphan that the last
			// run saw in the manifests is one too.
			p.NewOrphans++
		}
		p.add(c)
	}
}

// renamesOf maps every id the desired groups are renamed from to its new
// id.
func renamesOf(desired []Group, st *State, svc map[string]*Applied) map[string]string {
	var out map[string]string
	for i := range desired {
		g := &desired[i]
		if g.Previous == "" {
			continue
		}
		if from, _ := renameOf(g, st, svc); from != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[from] = g.ID
		}
	}
	return out
}

// followRenames returns cur as it will be once the plan's renames are
// made: the service moves a renamed customer's children along, so a child
// whose parent is renamed has the parent's new id, without a call.
func followRenames(cur *Applied, renames map[string]string) *Applied {
	if cur == nil || renames == nil {
		return cur
	}
	to, ok := renames[cur.ParentID()]
	if !ok {
		return cur
	}
	moved := *cur
	moved.overlay(&Group{Customer: &Customer{Parent: to}}, FieldParent)
	return &moved
}

// renameOf returns the id g is renamed from, its previous_provided_id,
// when the state (or, refreshed, the service) holds that id; done is set
// when the service already holds the group under g's id, with the token
// the state knows under the old one.
func renameOf(g *Group, st *State, svc map[string]*Applied) (from string, done bool) {
	from = g.Previous
	if from == "" || from == g.ID {
		return "", false
	}
	old := st.Groups[from]
	switch {
	case svc == nil && old != nil, svc != nil && svc[from] != nil:
		return from, false
	case svc != nil && old != nil && svc[g.ID] != nil && svc[g.ID].Token == old.Token && st.Groups[g.ID] == nil:
		return from, true
	}
	return "", false
}

// Mark sets or clears a group's Orphan mark.
type Mark struct {
	ID     string
	Orphan bool
}

// OrphanMarks returns the Orphan marks the plan changes: groups no manifest
// lists are marked, groups the manifests list again unmarked. A plan
// restricted by --only knows too little to mark anything, so marks come
// from the whole plan.
func (p *Plan) OrphanMarks(st *State) []Mark {
	var out []Mark
	for i := range p.Changes {
		c := &p.Changes[i]
		if cur := st.Groups[c.ID]; cur != nil && (c.Action == ActionOrphan || c.Action == ActionDelete) && !cur.Orphan {
			out = append(out, Mark{ID: c.ID, Orphan: true})
		}
	}
	for i := range p.Desired {
		if cur := st.Groups[p.Desired[i].ID]; cur != nil && cur.Orphan {
			out = append(out, Mark{ID: cur.ID, Orphan: false})
		}
	}
	return out
}

// Move is a rename the service already made, which the state follows.
type Move struct {
	From string
	To   *Applied
}

// rename plans g's move from its previous id. A group under g's id too is
// a conflict [Plan.RenameConflicts] reports.
func (p *Plan) rename(i int, g *Group, from string, st *State, svc map[string]*Applied, levels Levels) {
	cur := st.Groups[from]
	if s := svc[from]; s != nil {
		if cur == nil {
			cur = s
		} else {
			cur = seenOnService(cur, s)
		}
	}
	p.add(Change{Action: ActionRename, ID: g.ID, Desired: levels.resolve(g, cur), Current: cur, Taken: svc[g.ID] != nil, index: i})
}

func (p *Plan) add(c Change) { p.Changes = append(p.Changes, c) }

// diffRemote plans one group against the state and the service.
func (p *Plan) diffRemote(i int, g *Group, cur, svc *Applied, levels Levels) {
	switch {
	case svc == nil:
		// Never created, or deleted in Explo's UI since.
		p.add(Change{Action: ActionCreate, ID: g.ID, Desired: levels.resolve(g, nil), index: i})
	case cur == nil:
		g = levels.resolve(g, svc)
		p.add(Change{Action: ActionAdopt, ID: g.ID, Desired: g, Current: svc, Update: Differs(g, svc), index: i})
	default:
		view := seenOnService(cur, svc)
		g = levels.resolve(g, view)
		switch {
		case Differs(g, view):
			if view.Token != cur.Token {
				p.Corrected = append(p.Corrected, changedOutside(cur, view))
			}
			p.add(Change{Action: ActionUpdate, ID: g.ID, Desired: g, Current: view, index: i})
		case view.Token != cur.Token:
			p.Noop++
			p.Corrected = append(p.Corrected, changedOutside(cur, view))
		case view.EnvTag != cur.EnvTag:
			p.Noop++
			fixed := *cur
			fixed.EnvTag = view.EnvTag
			p.Corrected = append(p.Corrected, &fixed)
		default:
			p.Noop++
		}
	}
}

// changedOutside is cur with the token the service shows, which changed
// outside groupsync (rotated in Explo's UI, or the customer made again by
// someone else): the group counts as adopted from now on.
func changedOutside(cur, svc *Applied) *Applied {
	fixed := *cur
	fixed.Token, fixed.EnvTag, fixed.Origin = svc.Token, keep(svc.EnvTag, cur.EnvTag), OriginAdopted
	return &fixed
}

// seenOnService is the state's record of a group with what the service
// reports laid over it: the service is the truth for every field it
// reports, and the state for the rest (a customer's parent, which the list
// does not show).
func seenOnService(cur, svc *Applied) *Applied {
	view := *cur
	view.Name = svc.Name
	view.Token, view.EnvTag = keep(svc.Token, cur.Token), keep(svc.EnvTag, cur.EnvTag)
	view.Group.overlay(&svc.Group, svc.Managed)
	return &view
}

// Differs reports whether applying g over cur would change anything.
// A field cur never recorded counts as different, since its value on the
// service is unknown.
func Differs(g *Group, cur *Applied) bool {
	if g.Name != cur.Name {
		return true
	}
	for _, f := range Table {
		// An empty name (no parent, the root level) is what the
		// service has when told nothing, so it is no change against a
		// value never seen.
		if g.Managed.Has(f.Bit) && !cur.Managed.Has(f.Bit) && (f.Type != TypeName || f.Text(g) != "") {
			return true
		}
	}
	for _, f := range Table {
		if g.Managed.Has(f.Bit) && cur.Managed.Has(f.Bit) && !f.Same(g, &cur.Group) {
			return true
		}
	}
	return false
}
