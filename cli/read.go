package cli

import (
	"context"
	"slices"

	"groupsync/reconcile"
)

// refresh reads every customer the token can see, and the children of the
// parents of customers it adopts (the list shows no parent).
func (p *pipeline) refresh(ctx context.Context) (*reconcile.Snapshot, reconcile.Levels, error) {
	renames := map[string]string{}
	for i := range p.groups {
		if g := &p.groups[i]; g.Previous != "" {
			renames[g.Previous] = g.ID
		}
	}
	a := p.applier(nil)
	snap, err := a.Snapshot(ctx, p.st, renames)
	if err != nil {
		return nil, reconcile.Levels{}, p.readError(err)
	}
	calls, err := a.Confirm(ctx, snap, p.st)
	snap.Calls += calls
	if err != nil {
		return nil, reconcile.Levels{}, p.readError(err)
	}
	var parents []string
	for i := range p.groups {
		g := &p.groups[i]
		if parent := g.ParentID(); parent != "" && p.st.Groups[g.ID] == nil && snap.Groups[g.ID] != nil && !slices.Contains(parents, parent) {
			parents = append(parents, parent)
		}
	}
	slices.Sort(parents)
	children, calls, err := a.Children(ctx, parents)
	snap.Calls += calls
	if err != nil {
		return nil, reconcile.Levels{}, p.readError(err)
	}
	return snap, reconcile.LearnLevels(p.st, snap, children), nil
}

// tree lists what the service holds below each delete, level by level.
func (p *pipeline) tree(ctx context.Context, ids []string) (reconcile.Tree, int, error) {
	tree := reconcile.Tree{}
	a := p.applier(nil)
	calls := 0
	for len(ids) > 0 {
		children, n, err := a.Children(ctx, ids)
		calls += n
		if err != nil {
			return nil, calls, p.readError(err)
		}
		var next []string
		for _, id := range ids {
			tree[id] = children[id]
			for _, c := range children[id] {
				if _, seen := tree[c.ID]; !seen && !slices.Contains(next, c.ID) {
					next = append(next, c.ID)
				}
			}
		}
		slices.Sort(next)
		ids = next
	}
	return tree, calls, nil
}

// only returns whether --only keeps an id; nil when there is no --only.
func (p *pipeline) only() func(string) bool {
	if len(p.cfg.Only) == 0 {
		return nil
	}
	set := map[string]bool{}
	for _, id := range p.cfg.Only {
		set[reconcile.NormalID(id)] = true
	}
	return func(id string) bool { return set[id] }
}

// listLimits bounds each listing: --list-limit, or what the state and the
// manifests make likely.
func (p *pipeline) listLimits() reconcile.ListLimits {
	if p.cfg.ListLimit > 0 {
		return reconcile.ListLimits{Customers: p.cfg.ListLimit, Bytes: max(64<<20, 8<<10*p.cfg.ListLimit)}
	}
	return reconcile.DefaultListLimits(len(p.groups) + len(p.st.Groups))
}
