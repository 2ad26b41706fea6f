package reconcile

import (
	"fmt"
	"slices"
)

// PruneConflict is a delete refused before any call: under the revision of
// delete that takes the descendants along it would take Below, which must
// stay; under the one that refuses a customer with children it would fail.
type PruneConflict struct {
	Delete, Below string
	// Why says why Below must stay.
	Why string
}

func (c PruneConflict) Error() string {
	return fmt.Sprintf("deleting %q would also delete %q, %s", c.Delete, c.Below, c.Why)
}

// Tree is what the service holds below the plan's deletes: per group, the
// children it lists.
type Tree map[string][]*Applied

// CheckPrune decides the deletes of p on the tree as it will be after the
// run: the manifests' parents (creates and moves included), the state's,
// and the service's children of every group below a delete. Every group
// below a delete must itself be deleted by the same run, which keep says
// of the groups --only keeps (nil keeps all); groups that move out from
// below it are its guards. It fills in each delete's Below, Parent and
// Guards, and returns every conflict. p must be the plan of every manifest
// group and the whole state, before any --only.
func (p *Plan) CheckPrune(st *State, tree Tree, keep func(id string) bool) []PruneConflict {
	t := newTreeView(p, st, tree)
	var out []PruneConflict
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action != ActionDelete || c.Gone {
			continue
		}
		c.Parent = t.current[c.ID]
		c.Below, c.Guards = nil, nil
		out = append(out, t.walk(c, keep)...)
	}
	return out
}

// treeView is the hierarchy as it is now and as it will be.
type treeView struct {
	st      *State
	desired map[string]*Group
	changed map[string]bool
	deletes map[string]bool
	current map[string]string // a group's parent now
	final   map[string]string // its parent after the run
	below   map[string][]string
}

func newTreeView(p *Plan, st *State, tree Tree) *treeView {
	t := &treeView{st: st, desired: map[string]*Group{}, changed: map[string]bool{}, deletes: map[string]bool{},
		current: map[string]string{}, final: map[string]string{}, below: map[string][]string{}}
	renamed := map[string]string{}
	for i := range p.Desired {
		t.desired[p.Desired[i].ID] = &p.Desired[i]
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		switch c.Action {
		case ActionDelete:
			t.deletes[c.ID] = true
		case ActionCreate, ActionUpdate, ActionRename:
			t.changed[c.ID] = true
		case ActionAdopt:
			t.changed[c.ID] = c.Update
		}
		if c.Action == ActionRename {
			renamed[c.Current.ID] = c.ID
		}
	}
	after := func(id string) string {
		if to, ok := renamed[id]; ok {
			return to
		}
		return id
	}
	for id, a := range st.Groups {
		if parent := a.ParentID(); parent != "" {
			t.current[after(id)] = after(parent)
		}
	}
	for parent, children := range tree {
		for _, c := range children {
			t.current[after(c.ID)] = after(parent)
		}
	}
	for id, parent := range t.current {
		t.final[id] = parent
	}
	for id, g := range t.desired {
		if t.changed[id] && g.Managed.Has(FieldParent) {
			if parent := g.ParentID(); parent != "" {
				t.final[id] = parent
			} else {
				delete(t.final, id)
			}
		}
	}
	for _, m := range []map[string]string{t.current, t.final} {
		for id, parent := range m {
			if !slices.Contains(t.below[parent], id) {
				t.below[parent] = append(t.below[parent], id)
			}
		}
	}
	return t
}

// reaches reports whether id's parents after the run lead up to top.
func (t *treeView) reaches(id, top string) bool {
	for n := 0; id != "" && n <= len(t.final); n++ {
		if id = t.final[id]; id == top {
			return true
		}
	}
	return false
}

// walk visits every group below the delete c, now or after the run.
func (t *treeView) walk(c *Change, keep func(string) bool) []PruneConflict {
	var out []PruneConflict
	seen := map[string]bool{c.ID: true}
	queue := slices.Clone(t.below[c.ID])
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		if seen[id] {
			continue
		}
		seen[id] = true
		why := ""
		switch a := t.st.Groups[id]; {
		case t.desired[id] != nil && !t.reaches(id, c.ID) && (keep == nil || keep(id)):
			// It moves out from below, and what is below it moves with
			// it: the delete waits for the move.
			c.Guards = append(c.Guards, id)
			continue
		case t.desired[id] != nil && !t.reaches(id, c.ID):
			why = "which the manifests move out from below it, but --only leaves that move out"
		case t.desired[id] != nil:
			why = "which the manifests want"
		case a == nil:
			why = "which this state does not own (it was made elsewhere)"
		case !t.deletes[id]:
			why = "which this state adopted (found existing); --prune-adopted deletes adopted customers too"
		case keep != nil && !keep(id):
			why = "which --only leaves out"
		}
		if why != "" {
			out = append(out, PruneConflict{Delete: c.ID, Below: id, Why: why})
		} else {
			c.Below = append(c.Below, id)
		}
		queue = append(queue, t.below[id]...)
	}
	slices.Sort(c.Below)
	slices.Sort(c.Guards)
	return out
}

// Deletes lists the groups the plan deletes with a call: those whose
// children a prune must read, and below them, level by level, what the
// service lists.
func (p *Plan) Deletes() []string {
	var ids []string
	for i := range p.Changes {
		if c := &p.Changes[i]; c.Action == ActionDelete && !c.Gone {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// Restrict returns the plan of the groups keep says, for --only: their
// changes, in the same order, and the manifests' groups among them. The
// Orphan marks and the prune checks are decided on the whole plan first.
func (p *Plan) Restrict(only func(id string) bool) *Plan {
	// A rename is one change of two ids, and either names it.
	renamed := map[string]bool{}
	for _, c := range p.Changes {
		if c.Action == ActionRename && c.Current != nil && only(c.Current.ID) {
			renamed[c.ID] = true
		}
	}
	for _, m := range p.Moved {
		if only(m.From) {
			renamed[m.To.ID] = true
		}
	}
	keep := func(id string) bool { return only(id) || renamed[id] }
	out := &Plan{ListCalls: p.ListCalls}
	index := make(map[int]int)
	for i := range p.Desired {
		if keep(p.Desired[i].ID) {
			index[i] = len(out.Desired)
			out.Desired = append(out.Desired, p.Desired[i])
		}
	}
	changed := 0
	for _, c := range p.Changes {
		if !keep(c.ID) {
			continue
		}
		if c.index >= 0 {
			c.index = index[c.index]
			changed++
		}
		if cur := c.Current; cur != nil && c.Action == ActionOrphan && !cur.Orphan && p.NewOrphans > 0 {
			out.NewOrphans++
		}
		out.Changes = append(out.Changes, c)
	}
	out.Noop = len(out.Desired) - changed
	for _, a := range p.Corrected {
		if keep(a.ID) {
			out.Corrected = append(out.Corrected, a)
		}
	}
	for _, m := range p.Moved {
		if keep(m.To.ID) {
			out.Moved = append(out.Moved, m)
		}
	}
	return out
}
