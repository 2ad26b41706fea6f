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
	// Origin is how the group became the state's.
	Origin Origin
	// Orphan is set once a run found the group in no manifest, so that a
	// later run counts only newly orphaned groups as changes.
	Orphan bool
}

// Origin is how a group came into the state: groupsync created it, or it
// existed and groupsync adopted it. Only created groups are pruned unless
// the user says otherwise.
type Origin string

const (
	// OriginUnknown is a group recorded before groupsync kept its origin;
	// it is treated as adopted.
	OriginUnknown Origin = ""
	OriginCreated Origin = "created"
	// OriginAdopted is a group found on the service: by a create that
	// found it existing, or in the service's list.
	OriginAdopted Origin = "adopted"
)

// Owned reports whether a is the state's own: created by it, or adopted
// when adopted groups count (--prune-adopted).
func (a *Applied) Owned(adopted bool) bool {
	return a.Origin == OriginCreated || adopted
}

// Op is a call that is not idempotent: repeating it blindly after its
// answer was lost does harm or fails.
type Op string

const (
	// OpCreate may have created the group: a repeat finds it, but cannot
	// tell whether this state made it.
	OpCreate Op = "create"
	// OpRotate kills the token it sends: a repeat sends a dead token.
	OpRotate Op = "rotate"
	// OpRename moves the group to a new id: a repeat finds no group.
	OpRename Op = "rename"
	// OpDelete may have deleted the group: the state must not keep
	// claiming it exists.
	OpDelete Op = "delete"
)

// Intent is a non-idempotent call that was under way: it is persisted
// before the call is made and settled once its outcome is recorded, so
// that an answer lost to a timeout, a reset, a kill or a failed write is
// learnt from the service afterwards instead of being lost.
type Intent struct {
	Op Op
	// ID is the group the call is about; for a rename, its old id.
	ID string
	// To is a rename's new id.
	To string
	// Token is the token the group had when the call was made.
	Token string
	At    time.Time
}

// Key is the id an intent is filed under: the group's id, or a rename's
// new id.
func (in *Intent) Key() string {
	if in.Op == OpRename {
		return in.To
	}
	return in.ID
}

// pendingFor returns an intent whose outcome is not known that is about
// the group id (under its old id or, for a rename, its new one), or nil.
func (st *State) pendingFor(id string) *Intent {
	if len(st.Pending) == 0 {
		return nil
	}
	for _, in := range st.Pending {
		if in.ID == id || in.Key() == id {
			return in
		}
	}
	return nil
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
	// RootLevel is the name the service gives its root hierarchy level,
	// learnt from its answers: a customer created without a level is put
	// at the root.
	RootLevel string
	// Pending are the intents whose outcome is not known yet, by
	// [Intent.Key].
	Pending map[string]*Intent
	// OrphansKnown is set once the groups' Orphan marks are kept: a state
	// written before has none, and its orphans are not new.
	OrphansKnown bool
}

// NewState returns an empty state.
func NewState() *State { return &State{Groups: map[string]*Applied{}, Pending: map[string]*Intent{}} }

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
		a.Origin, a.Orphan = prev.Origin, prev.Orphan
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

// Twins returns a pair of groups of st that hold the same token, if any:
// a hand-edited state, most likely, in which one of the two is wrong, and
// a delete made with that token could take the other customer.
func (st *State) Twins() (a, b string, ok bool) {
	holder := make(map[string]string, len(st.Groups))
	for id, g := range st.Groups {
		if other, dup := holder[g.Token]; dup {
			a, b = min(id, other), max(id, other)
			return a, b, true
		}
		holder[g.Token] = id
	}
	return "", "", false
}
