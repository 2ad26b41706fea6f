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
	// Cascade lists the groups the service deletes along with a deleted
	// one: every group below it in the hierarchy.
	Cascade []string
	// Gone is set for a delete of a group the service no longer holds: it
	// is only forgotten, without a call.
	Gone bool
	// index is the group's position in the manifests, -1 for a group of
	// the state only.
	index int
}

// Calls is the number of calls the change makes when every call succeeds
// first time (and a create does not find the group already there).
func (c *Change) Calls() int {
	switch c.Action {
	case ActionCreate, ActionUpdate, ActionRotate:
		return 1
	case ActionAdopt:
		if c.Update {
			return 1
		}
	case ActionDelete:
		if !c.Gone {
			return 1
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
}

// Summary counts a plan's changes by action.
type Summary struct {
	Create, Adopt, Update, Noop, Orphan, Delete, Rotate int
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
		}
	}
	return s
}

// Mutations is the number of calls that change something on the service,
// which is what --max-changes bounds.
func (p *Plan) Mutations() int {
	return p.Summary().Calls - p.ListCalls
}

// Duration is how long n calls take at quota calls per window, in whole
// seconds rounded up: one call is not "0s".
func Duration(n int, quota int, window time.Duration) time.Duration {
	if quota <= 0 || n == 0 {
		return 0
	}
	d := time.Duration(n) * window / time.Duration(quota)
	if r := d.Truncate(time.Second); r != d {
		return r + time.Second
	}
	return d
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
	// Prune deletes orphans instead of keeping them.
	Prune bool
}

// Diff compares the desired groups with the state, and with the service
// when opts.Remote is set. It keeps no per-group record for a noop, so a
// no-change plan over a large manifest costs nothing beyond the manifest.
func Diff(desired []Group, st *State, opts Options) *Plan {
	p := &Plan{Desired: desired}
	if opts.Remote != nil {
		p.ListCalls = opts.Remote.Calls
	}
	seen := make(map[string]struct{}, len(desired))
	for i := range desired {
		g := &desired[i]
		seen[g.ID] = struct{}{}
		cur := st.Groups[g.ID]
		if opts.Remote != nil {
			p.diffRemote(i, g, cur, opts.Remote.Groups[g.ID])
			continue
		}
		switch {
		case cur == nil:
			p.add(Change{Action: ActionCreate, ID: g.ID, Desired: g, index: i})
		case Differs(g, cur):
			p.add(Change{Action: ActionUpdate, ID: g.ID, Desired: g, Current: cur, index: i})
		default:
			p.Noop++
		}
	}
	for id, cur := range st.Groups {
		if _, ok := seen[id]; ok {
			continue
		}
		c := Change{Action: ActionOrphan, ID: id, Current: cur, index: -1}
		if opts.Prune {
			c.Action = ActionDelete
			c.Gone = opts.Remote != nil && opts.Remote.Groups[id] == nil
		}
		p.add(c)
	}
	slices.SortFunc(p.Changes, func(a, b Change) int { return strings.Compare(a.ID, b.ID) })
	return p
}

func (p *Plan) add(c Change) { p.Changes = append(p.Changes, c) }

// diffRemote plans one group against the state and the service.
func (p *Plan) diffRemote(i int, g *Group, cur, svc *Applied) {
	switch {
	case svc == nil:
		// Never created, or deleted in Explo's UI since.
		p.add(Change{Action: ActionCreate, ID: g.ID, Desired: g, index: i})
	case cur == nil:
		p.add(Change{Action: ActionAdopt, ID: g.ID, Desired: g, Current: svc, Update: Differs(g, svc), index: i})
	default:
		view := seenOnService(cur, svc)
		switch {
		case Differs(g, view):
			p.add(Change{Action: ActionUpdate, ID: g.ID, Desired: g, Current: view, index: i})
		case view.Token != cur.Token || view.EnvTag != cur.EnvTag:
			p.Noop++
			fixed := *cur
			fixed.Token, fixed.EnvTag = view.Token, view.EnvTag
			p.Corrected = append(p.Corrected, &fixed)
		default:
			p.Noop++
		}
	}
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
	if g.Name != cur.Name || !cur.Managed.Has(g.Managed) {
		return true
	}
	for _, f := range Table {
		if g.Managed.Has(f.Bit) && !f.Same(g, &cur.Group) {
			return true
		}
	}
	return false
}
