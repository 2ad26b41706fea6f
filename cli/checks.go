package cli

import (
	"fmt"
	"slices"
	"strings"

	"groupsync/internal/textsafe"
	"groupsync/reconcile"
)

// checkOnly refuses an --only id that no manifest and not the state
// holds: a typo.
func (p *pipeline) checkOnly() error {
	keep := p.only()
	if keep == nil {
		return nil
	}
	found := map[string]bool{}
	for i := range p.groups {
		found[p.groups[i].ID] = true
	}
	var missing []string
	for _, id := range p.cfg.Only {
		if n := reconcile.NormalID(id); !found[n] && p.st.Groups[n] == nil {
			missing = append(missing, textsafe.Quote(id))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("--only: no manifest and not the state holds %s", strings.Join(slices.Compact(missing), ", "))
	}
	return nil
}

// checkPlan refuses plans that would do what cannot be undone: a second
// customer for an id a spreadsheet mangled, a rename onto a customer that
// exists, a delete that takes (or is refused for) a customer that must
// stay.
func (p *pipeline) checkPlan() error {
	var problems, hints []string
	source := map[string]reconcile.Source{}
	for i := range p.groups {
		source[p.groups[i].ID] = p.groups[i].Source
	}
	for _, c := range p.plan.ZeroConflicts() {
		problems = append(problems, fmt.Sprintf("%s: user_group_id: create %s would make a second customer: the state holds %s, which is the same id once its leading zeros are stripped (did a spreadsheet strip leading zeros?)",
			source[c.Create], textsafe.Quote(c.Create), textsafe.Quote(c.Orphan)))
		hints = appendOnce(hints, "format the id column as text and export again; if the old id is gone on purpose, forget it first: groupsync state rm ID")
	}
	for _, c := range p.plan.Changes {
		if c.Action != reconcile.ActionRename {
			continue
		}
		switch {
		case p.st.Groups[c.ID] != nil:
			problems = append(problems, fmt.Sprintf("%s: previous_provided_id: renaming %s to %s would replace a customer the state holds under that id", source[c.ID], textsafe.Quote(c.Current.ID), textsafe.Quote(c.ID)))
			hints = appendOnce(hints, "a rename's new id must be free; forget the other one with groupsync state rm ID if it is gone on purpose")
		case c.Taken:
			problems = append(problems, fmt.Sprintf("%s: previous_provided_id: cannot rename %s to %s: the service holds a customer %s already, which this state does not own", source[c.ID], textsafe.Quote(c.Current.ID), textsafe.Quote(c.ID), textsafe.Quote(c.ID)))
			hints = appendOnce(hints, "a rename's new id must be free: rename or delete the other customer in Explo first, or drop previous_provided_id to adopt it")
		}
	}
	for _, c := range p.conflicts {
		problems = append(problems, c.Error())
		hints = appendOnce(hints, "give the customers below another parent, list what must stay in the manifests, or leave --prune off")
	}
	if len(problems) == 0 {
		return nil
	}
	for _, msg := range problems {
		printf(p.o.Stderr, "groupsync: %s\n", msg)
	}
	return fmt.Errorf("the plan was refused; nothing was sent\ngroupsync: hint: %s", strings.Join(hints, "\ngroupsync: hint: "))
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// checkSaved refuses to apply a saved plan when planning again, against
// the state and the service as they are now, gives other changes: a saved
// plan is applied exactly, or not at all.
func (p *pipeline) checkSaved() error {
	if p.saved == nil || p.saved.Lines == nil {
		return nil
	}
	now := p.plan.Lines()
	if slices.Equal(now, p.saved.Lines) {
		return nil
	}
	msg := fmt.Sprintf("the service or the state changed since plan %s was made, and applying it now would make other changes than it shows", textsafe.Cut(p.cfg.Plan))
	for _, l := range now {
		if !slices.Contains(p.saved.Lines, l) {
			printf(p.o.Stderr, "groupsync: now, not in the plan: %s", l)
		}
	}
	for _, l := range p.saved.Lines {
		if !slices.Contains(now, l) {
			printf(p.o.Stderr, "groupsync: in the plan, not now: %s", l)
		}
	}
	return fmt.Errorf("%s; nothing was sent\ngroupsync: hint: run plan again", msg)
}
