package reconcile

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Action is what a plan does for one group.
type Action string

const (
	ActionCreate Action = "create"
	// ActionAdopt is a create that found the group already on the service,
	// followed by an update to correct it.
	ActionAdopt  Action = "adopt"
	ActionUpdate Action = "update"
	ActionNoop   Action = "noop"
	// ActionOrphan is a group in state that no manifest lists any more. The
	// End User Group API cannot delete, so orphans are reported and kept.
	ActionOrphan Action = "orphan"
)

// Change is one group the plan acts on or reports.
type Change struct {
	Action Action
	ID     string
	// Desired is the manifest's group; nil for orphans.
	Desired *Group
	// Current is what state says was applied; nil for creates.
	Current *Applied
}

// Plan is the result of [Diff]: the groups that need a call, sorted by id so
// that a rerun prints and applies in the same order, and the orphans.
type Plan struct {
	Changes []Change
	Noop    int
}

// Summary counts a plan's changes by action.
type Summary struct {
	Create int `json:"create"`
	Update int `json:"update"`
	Noop   int `json:"noop"`
	Orphan int `json:"orphan"`
}

// Summary counts the plan's actions.
func (p *Plan) Summary() Summary {
	s := Summary{Noop: p.Noop}
	for _, c := range p.Changes {
		switch c.Action {
		case ActionCreate:
			s.Create++
		case ActionUpdate:
			s.Update++
		case ActionOrphan:
			s.Orphan++
		}
	}
	return s
}

// Calls is the number of API calls applying the plan makes when every call
// succeeds first time and no create finds an existing group.
func (s Summary) Calls() int { return s.Create + s.Update }

// Duration is how long n calls take at rate calls per second.
func Duration(n int, perSecond float64) time.Duration {
	if perSecond <= 0 || n == 0 {
		return 0
	}
	return time.Duration(float64(n) / perSecond * float64(time.Second)).Round(time.Second)
}

// Diff compares the desired groups with the state. It does not keep any
// per-group record for a noop, so a no-change plan over a large manifest
// costs nothing beyond the manifest itself.
func Diff(desired []Group, st *State) *Plan {
	p := &Plan{}
	seen := make(map[string]struct{}, len(desired))
	for i := range desired {
		g := &desired[i]
		seen[g.ID] = struct{}{}
		cur := st.Groups[g.ID]
		switch {
		case cur == nil:
			p.Changes = append(p.Changes, Change{Action: ActionCreate, ID: g.ID, Desired: g})
		case Differs(g, cur):
			p.Changes = append(p.Changes, Change{Action: ActionUpdate, ID: g.ID, Desired: g, Current: cur})
		default:
			p.Noop++
		}
	}
	for id, cur := range st.Groups {
		if _, ok := seen[id]; !ok {
			p.Changes = append(p.Changes, Change{Action: ActionOrphan, ID: id, Current: cur})
		}
	}
	slices.SortFunc(p.Changes, func(a, b Change) int { return strings.Compare(a.ID, b.ID) })
	return p
}

// Differs reports whether applying g over cur would change anything.
// A field cur never recorded counts as different, since its value on the
// service is unknown.
func Differs(g *Group, cur *Applied) bool {
	if g.Name != cur.Name || !cur.Managed.Has(g.Managed) {
		return true
	}
	if g.Managed.Has(FieldIsDemo) && g.IsDemo != cur.IsDemo {
		return true
	}
	if g.Managed.Has(FieldMapping) && !g.Mapping.Equal(cur.Mapping) {
		return true
	}
	return g.Managed.Has(FieldProperties) && !g.Properties.Equal(cur.Properties)
}

// FieldChange is one attribute a change sets. Before and After are JSON
// text; "" means absent (not set, or not known).
type FieldChange struct {
	Path   string
	Before string
	After  string
}

// Fields lists what c changes, attribute by attribute. It is computed on
// demand so that a plan of a million creates does not hold a million lists.
func (c *Change) Fields() []FieldChange {
	if c.Desired == nil {
		return nil
	}
	g, cur := c.Desired, c.Current
	if cur == nil {
		cur = &Applied{}
	}
	var out []FieldChange
	add := func(path, before, after string) {
		if before != after {
			out = append(out, FieldChange{Path: path, Before: before, After: after})
		}
	}
	// An empty name in state is a group adopted but not yet corrected.
	add("name", quoteIf(cur.Name, cur.Name != ""), strconv.Quote(g.Name))
	if g.Managed.Has(FieldIsDemo) {
		add("is_demo_group", boolIf(cur.IsDemo, cur.Managed.Has(FieldIsDemo)), strconv.FormatBool(g.IsDemo))
	}
	if g.Managed.Has(FieldMapping) {
		diffPairs("mapping.", cur.Mapping, g.Mapping, strconv.Quote, add)
	}
	if g.Managed.Has(FieldProperties) {
		diffPairs("properties.", cur.Properties, g.Properties, func(s string) string { return s }, add)
	}
	return out
}

func quoteIf(s string, known bool) string {
	if !known {
		return ""
	}
	return strconv.Quote(s)
}

func boolIf(b, known bool) string {
	if !known {
		return ""
	}
	return strconv.FormatBool(b)
}

// diffPairs walks two sorted key lists together and reports every key whose
// value differs, with enc turning a stored value into JSON text.
func diffPairs(prefix string, before, after Pairs, enc func(string) string, add func(path, before, after string)) {
	i, j := 0, 0
	for i < len(before) || j < len(after) {
		switch {
		case j == len(after) || (i < len(before) && before[i].Key < after[j].Key):
			add(prefix+before[i].Key, enc(before[i].Value), "")
			i++
		case i == len(before) || after[j].Key < before[i].Key:
			add(prefix+after[j].Key, "", enc(after[j].Value))
			j++
		default:
			add(prefix+after[j].Key, enc(before[i].Value), enc(after[j].Value))
			i++
			j++
		}
	}
}
