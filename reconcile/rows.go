package reconcile

import (
	"fmt"
	"iter"
)

// Rows yields the report of a plan, one result per group (valid until the
// next one is yielded): the manifests'
// groups in manifest order, then the groups only the state holds (orphans,
// deletes, rotations) in id order. ran holds Apply's results, one per
// change of p.Work(); nil means nothing ran (a dry run), and every change
// is then planned. Tokens follow the token rule: the result's, else the
// state's, so that a group that failed or was not reached keeps the token
// it has.
func (p *Plan) Rows(st *State, ran []Result) iter.Seq[*Result] {
	return func(yield func(*Result) bool) {
		byIndex := map[int]*Result{}
		var others []*Result
		w := 0
		for i := range p.Changes {
			c := &p.Changes[i]
			r := &Result{ID: c.ID, Desired: c.Desired, Action: c.Action, Status: StatusOK}
			switch c.Action {
			case ActionOrphan, ActionNoop:
			default:
				if ran != nil {
					r = &ran[w]
				} else {
					r.Status = StatusPlanned
				}
				w++
			}
			if c.Action == ActionRename && c.Current != nil {
				r = renamedRow(r, c.Current)
			}
			if c.index < 0 {
				if c.Current != nil && r.Name == "" {
					r.Name = c.Current.Name
				}
				others = append(others, r)
			} else {
				byIndex[c.index] = r
			}
		}
		// Unchanged groups, the most of a large run, share one result,
		// so that the report of a million costs no garbage.
		var noop Result
		for i := range p.Desired {
			g := &p.Desired[i]
			r := byIndex[i]
			if r == nil {
				noop = Result{ID: g.ID, Desired: g, Action: ActionNoop, Status: StatusOK}
				r = &noop
			}
			r.Name = g.Name
			if !yield(withState(r, st)) {
				return
			}
		}
		for _, r := range others {
			if !yield(withState(r, st)) {
				return
			}
		}
	}
}

func withState(r *Result, st *State) *Result {
	if r.Unknown && r.Action == ActionRotate {
		// The state's token may be dead already, and the new one is not
		// known until the next run learns it.
		return r
	}
	if in := st.pendingFor(r.ID); in != nil {
		// A call of an earlier run may have rotated the token or moved
		// the customer: the state's token is not known to be its own.
		row := *r
		row.Token = ""
		if row.Status == StatusOK {
			row.Status = StatusSkipped
		}
		if row.Err == nil {
			row.Err = fmt.Errorf("the outcome of the %s by an earlier run is not known yet, nor the token: apply --api customer learns it", in.Op)
		}
		return &row
	}
	if a := st.Groups[r.ID]; a != nil {
		r.Token, r.EnvTag = keep(r.Token, a.Token), keep(r.EnvTag, a.EnvTag)
	}
	return r
}

// renamedRow is the row of a rename. A rename keeps the token, so the
// customer's token is the one recorded under its old id until the state
// moves it. One that failed or was not attempted left the customer at its
// old id (the new one may be another customer's): the row names the old.
func renamedRow(r *Result, old *Applied) *Result {
	row := *r
	if (r.Status == StatusFailed || r.Status == StatusSkipped) && !r.Unknown {
		row.ID = old.ID
	}
	row.Token = keep(row.Token, old.Token)
	row.EnvTag = keep(row.EnvTag, old.EnvTag)
	return &row
}
