package manifest

import (
	"fmt"
	"slices"
	"strings"

	"groupsync/internal/textsafe"
	"groupsync/reconcile"
)

// across checks what only all the groups together show: a cycle of
// parents, a parent at its child's level, and renames from an id that is
// wanted too or that two groups claim.
func across(groups []reconcile.Group, opts Options) Errors {
	if !opts.Customer {
		return nil
	}
	errs := hierarchy(groups)
	ids := make(map[string]*reconcile.Group, len(groups))
	for i := range groups {
		ids[reconcile.NormalID(groups[i].ID)] = &groups[i]
	}
	from := map[string]*reconcile.Group{}
	for i := range groups {
		g := &groups[i]
		p := g.Previous
		if p == "" || p == reconcile.NormalID(g.ID) {
			continue
		}
		fail := func(format string, args ...any) {
			errs = append(errs, &ParseError{File: g.Source.File, Line: g.Source.Line, Field: previousKey, Err: fmt.Errorf(format, args...)})
		}
		switch {
		case ids[p] != nil:
			fail("%q is also a group of the manifests (%s): a rename must come from an id no manifest lists", p, ids[p].Source)
		case from[p] != nil:
			fail("%q is renamed by %s too: one id can become only one customer", p, from[p].Source)
		default:
			from[p] = g
		}
	}
	return errs
}

// Check validates groups that did not come from a manifest file (a saved
// plan) with the same rules a load applies, each problem at the group's
// Source. Normalised ids are the form compared.
func Check(groups []reconcile.Group, opts Options) Errors {
	var errs Errors
	for i := range groups {
		errs = append(errs, checkGroup(&groups[i], opts)...)
	}
	d := dedup{seen: map[string]int{}}
	kept, derrs := d.drop(nil, slices.Clone(groups))
	errs = append(errs, derrs...)
	errs = append(errs, across(kept, opts)...)
	return errs
}

// checkGroup applies the cell checks of a load to one group.
func checkGroup(g *reconcile.Group, opts Options) Errors {
	var errs Errors
	fail := func(field string, err error) {
		errs = append(errs, &ParseError{File: g.Source.File, Line: g.Source.Line, Field: field, Err: err})
	}
	if err := checkID(g.ID); err != nil {
		fail("user_group_id", err)
	}
	if err := checkName(g.Name); err != nil {
		fail("name", err)
	}
	if g.Previous != "" {
		if err := checkID(g.Previous); err != nil {
			fail(previousKey, err)
		}
	}
	for _, f := range reconcile.Table {
		if !g.Managed.Has(f.Bit) {
			continue
		}
		if f.Customer && !opts.Customer {
			fail(f.Name, customerOnly(f.Name))
			continue
		}
		switch f.Type {
		case reconcile.TypeIDs:
			for _, kv := range f.Pairs(g) {
				if err := mappingText(kv.Key, kv.Value); err != nil {
					fail(f.Name, err)
				}
			}
		case reconcile.TypeSet:
			for _, v := range f.List(g) {
				if err := checkText(v); err != nil {
					fail(f.Name, err)
				}
			}
		case reconcile.TypeName:
			if _, err := nameValue(f, f.Text(g)); err != nil {
				fail(f.Name, err)
			}
		}
	}
	return errs
}

// hierarchy reports every group whose chain of parents comes back to
// itself, and every group at the same level as its parent (a parent must
// be strictly higher): the service could create none of them. Whether a
// level exists only the service knows; the API has no call to list them.
func hierarchy(groups []reconcile.Group) Errors {
	parent := map[string]string{}
	byID := map[string]*reconcile.Group{}
	for i := range groups {
		byID[groups[i].ID] = &groups[i]
		if p := groups[i].ParentID(); p != "" {
			parent[groups[i].ID] = p
		}
	}
	var errs Errors
	for i := range groups {
		g := &groups[i]
		p := byID[g.ParentID()]
		if p == nil || p == g {
			continue
		}
		if level, plevel := g.Cust().Level, p.Cust().Level; level == plevel {
			errs = append(errs, &ParseError{File: g.Source.File, Line: g.Source.Line, Field: "hierarchy_level_name",
				Err: fmt.Errorf("%s is at the level of its parent %s (%s): a parent must be at a higher level", levelName(level), textsafe.Quote(p.ID), p.Source)})
		}
	}
	for i := range groups {
		g := &groups[i]
		chain := []string{textsafe.Cut(g.ID)}
		for id := parent[g.ID]; id != "" && len(chain) <= len(parent); id = parent[id] {
			chain = append(chain, textsafe.Cut(id))
			if id == g.ID {
				errs = append(errs, &ParseError{File: g.Source.File, Line: g.Source.Line, Field: "parent_provided_id",
					Err: fmt.Errorf("the parents form a cycle: %s", strings.Join(chain, " → "))})
				break
			}
		}
	}
	return errs
}
