package reconcile

import (
	"context"
	"fmt"
	"strings"
)

// LearnLevels completes a refresh with what listing children told: the
// customers listed below a parent have that parent (the list alone shows
// none), and their levels are not the root. The root level is the one the
// state learnt from a create, or else the one level that the listed
// customers hold and no child does; a customer at the root has no parent.
func LearnLevels(st *State, snap *Snapshot, children map[string][]*Applied) Levels {
	l := Levels{Root: st.RootLevel, NotRoot: map[string]bool{}}
	level, parent := rootField(), FieldOf(FieldParent)
	for p, list := range children {
		for _, c := range list {
			if level != nil && c.Managed.Has(level.Bit) {
				l.NotRoot[level.Text(&c.Group)] = true
			}
			if g := snap.Groups[c.ID]; g != nil && parent != nil {
				parent.SetText(&g.Group, p)
			}
		}
	}
	if level == nil {
		return l
	}
	if l.Root == "" {
		candidates := map[string]bool{}
		for _, g := range snap.Groups {
			if g.Managed.Has(level.Bit) && !l.NotRoot[level.Text(&g.Group)] {
				candidates[level.Text(&g.Group)] = true
			}
		}
		if len(candidates) == 1 {
			for name := range candidates {
				l.Root = name
			}
		}
	}
	if l.Root != "" && parent != nil {
		for _, g := range snap.Groups {
			if !g.Managed.Has(parent.Bit) && level.Text(&g.Group) == l.Root {
				parent.SetText(&g.Group, "")
			}
		}
	}
	return l
}

// Tags lists the group tags that exist, under the run's limiter and
// retries.
func (a *Applier) Tags(ctx context.Context) ([]string, error) {
	tl, ok := a.API.(TagLister)
	if !ok {
		return nil, fmt.Errorf("this API cannot list group tags")
	}
	r, finish := a.start(ctx, nil)
	defer finish()
	var tags []string
	var res Result
	_, err := r.call(&res, nil, func(ctx context.Context) (Remote, error) {
		var err error
		tags, err = tl.ListTags(ctx)
		return Remote{}, err
	}, func(Remote) error { return nil }, nil)
	if err != nil {
		return nil, r.listError(ctx, err)
	}
	return tags, nil
}

// Lines describes every change of p, one line each with its fields, in
// plan order: two plans with the same lines make the same calls. Tokens
// are never part of it.
func (p *Plan) Lines() []string {
	var out []string
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action == ActionNoop {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %q", c.Action, c.ID)
		if c.Action == ActionRename && c.Current != nil {
			fmt.Fprintf(&b, " from %q", c.Current.ID)
		}
		for _, f := range c.Fields() {
			fmt.Fprintf(&b, "; %s: %s -> %s", f.Path, f.Before.text(), f.After.text())
		}
		if len(c.Below) > 0 {
			fmt.Fprintf(&b, "; below: %s", strings.Join(c.Below, ","))
		}
		out = append(out, b.String())
	}
	return out
}

func (v Value) text() string {
	switch {
	case !v.Known:
		return "(none)"
	case v.Kind == KindList:
		return fmt.Sprintf("%q", v.List)
	}
	return fmt.Sprintf("%q", v.Text)
}
