package reconcile

import (
	"fmt"
	"slices"
	"strings"
)

// ZeroConflict is a create whose id equals an orphan's once leading zeros
// are stripped: most likely a spreadsheet turned "00042" into "42", and
// applying would make a second customer.
type ZeroConflict struct{ Create, Orphan string }

// ZeroConflicts lists the plan's creates that look like an orphan's id
// with its leading zeros stripped.
func (p *Plan) ZeroConflicts() []ZeroConflict {
	orphans := map[string]string{}
	for i := range p.Changes {
		c := &p.Changes[i]
		if (c.Action == ActionOrphan || c.Action == ActionDelete) && digits(c.ID) {
			orphans[stripZeros(c.ID)] = c.ID
		}
	}
	if len(orphans) == 0 {
		return nil
	}
	var out []ZeroConflict
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action != ActionCreate || !digits(c.ID) {
			continue
		}
		if o, ok := orphans[stripZeros(c.ID)]; ok && o != c.ID {
			out = append(out, ZeroConflict{Create: c.ID, Orphan: o})
		}
	}
	return out
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func stripZeros(s string) string {
	if t := strings.TrimLeft(s, "0"); t != "" {
		return t
	}
	return "0"
}

// RotatePlan plans new tokens for the groups ids of the state. The other
// groups of the state are in the plan unchanged, so that the report after
// a rotation still lists every group with its token.
func RotatePlan(st *State, ids []string) (*Plan, error) {
	p := &Plan{}
	rotate := map[string]bool{}
	for _, id := range ids {
		id = NormalID(id)
		cur := st.Groups[id]
		if cur == nil {
			return nil, fmt.Errorf("%q is not in the state: groupsync can only rotate the tokens of groups it applied", id)
		}
		if !rotate[id] {
			p.add(Change{Action: ActionRotate, ID: id, Current: cur, index: -1})
		}
		rotate[id] = true
	}
	for id, cur := range st.Groups {
		if !rotate[id] {
			p.add(Change{Action: ActionNoop, ID: id, Current: cur, index: -1})
			p.Noop++
		}
	}
	slices.SortFunc(p.Changes, func(a, b Change) int { return strings.Compare(a.ID, b.ID) })
	return p, nil
}
