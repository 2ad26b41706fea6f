package reconcile

import "time"

// Applied is what groupsync last sent for one group and what came back.
// Group.Managed records which fields were ever sent: a field the manifest
// stopped managing keeps the value last applied, because the service keeps
// it too.
type Applied struct {
	Group
	Token     string
	EnvTag    string
	AppliedAt time.Time
}

// State is the record of everything applied against one API URL with one
// API token. Only the state package reads and writes it to disk.
type State struct {
	// Serial grows with every write, so that a saved plan can tell whether
	// the state moved under it.
	Serial int64
	APIURL string
	// TokenFingerprint is a short hash of the API token, never the token.
	TokenFingerprint string
	Groups           map[string]*Applied
}

// NewState returns an empty state.
func NewState() *State { return &State{Groups: map[string]*Applied{}} }

// keep is the one token rule: a group's token is the one the service last
// answered with; an answer without one (an update, a failure) leaves the
// token it had. The same goes for the environment tag.
func keep(answer, earlier string) string {
	if answer != "" {
		return answer
	}
	return earlier
}

// Merge returns the record of g after the service answered r: g's managed
// fields over prev's (prev may be nil), with the token and environment of
// the answer under the token rule.
func Merge(prev *Applied, g *Group, r Remote, now time.Time) *Applied {
	a := &Applied{AppliedAt: now}
	if prev != nil {
		a.Group = prev.Group
		a.Token, a.EnvTag = prev.Token, prev.EnvTag
	}
	a.Token, a.EnvTag = keep(r.Token, a.Token), keep(r.EnvTag, a.EnvTag)
	a.ID, a.Name, a.Source = g.ID, g.Name, Source{}
	a.Group.overlay(g, g.Managed)
	return a
}

// overlay copies the fields of src that are in f onto g, and marks them
// managed.
func (g *Group) overlay(src *Group, f Fields) {
	// g may share its Customer with the record it was copied from, which
	// must not change under it.
	if f&CustomerFields != 0 && g.Customer != nil {
		c := *g.Customer
		g.Customer = &c
	}
	for _, d := range Table {
		if f.Has(d.Bit) {
			d.Copy(g, src)
		}
	}
}
