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

// Merge returns the record of g after it was sent: g's managed fields over
// prev's (prev may be nil), with the token and environment from the answer.
func Merge(prev *Applied, g *Group, r Remote, now time.Time) *Applied {
	a := &Applied{Token: r.Token, EnvTag: r.EnvTag, AppliedAt: now}
	if prev != nil {
		a.Group = prev.Group
		if a.Token == "" {
			a.Token = prev.Token
		}
		if a.EnvTag == "" {
			a.EnvTag = prev.EnvTag
		}
	}
	a.ID, a.Name = g.ID, g.Name
	a.Source = Source{}
	if g.Managed.Has(FieldIsDemo) {
		a.IsDemo = g.IsDemo
	}
	if g.Managed.Has(FieldMapping) {
		a.Mapping = g.Mapping
	}
	if g.Managed.Has(FieldProperties) {
		a.Properties = g.Properties
	}
	a.Managed |= g.Managed
	return a
}
