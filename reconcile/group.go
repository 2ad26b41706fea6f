// Package reconcile owns groupsync's vocabulary — desired groups, the state
// of what was applied, plans and results — and the operations on them:
// [Diff], which compares the manifests with the state (and, with a
// refresh, with what the service holds), and [Applier.Apply], which drives
// an [API] until the service matches.
//
// It knows nothing of files, HTTP, JSON or terminals: manifest/, state/,
// explo/, report/ and cli/ adapt those to the types here.
package reconcile

import (
	"fmt"
	"slices"
	"strings"
)

// Fields is a set of the optional attributes a manifest manages for a group.
// An attribute that a manifest never mentions is left alone: it is neither
// sent nor compared, so a CSV without a mapping column cannot wipe mappings.
// Each attribute is described once, in [Table].
type Fields uint8

const (
	FieldIsDemo Fields = 1 << iota
	FieldMapping
	FieldProperties
	// The Customer API's own fields.
	FieldEmails
	FieldTags
	FieldLevel
	FieldParent
)

// CustomerFields are the fields only the Customer API knows.
var CustomerFields = customerFields()

// Has reports whether every field of f2 is in f.
func (f Fields) Has(f2 Fields) bool { return f&f2 == f2 }

// String lists the fields by their names, after the always-managed name.
func (f Fields) String() string {
	names := []string{"name"}
	for _, d := range Table {
		if f.Has(d.Bit) {
			names = append(names, d.Name)
		}
	}
	return strings.Join(names, ",")
}

// Pair is one key of a mapping or of properties.
//
// Mappings and properties are kept as slices sorted by key rather than maps:
// a plan over a million groups must stay under a kilobyte per group, and a
// small Go map costs several hundred bytes on its own.
type Pair struct {
	Key string
	// Value is the data source id for a mapping, and the canonical JSON
	// text of the value for properties, so that comparing two property
	// values never depends on how YAML or JSON typed a number.
	Value string
}

// Pairs is a set of keys sorted by Key, without duplicates.
type Pairs []Pair

// Get returns the value of key and whether it is present.
func (p Pairs) Get(key string) (string, bool) {
	i, ok := slices.BinarySearchFunc(p, key, func(a Pair, k string) int { return strings.Compare(a.Key, k) })
	if !ok {
		return "", false
	}
	return p[i].Value, true
}

// Equal reports whether p and q hold the same keys and values.
func (p Pairs) Equal(q Pairs) bool { return slices.Equal(p, q) }

// SortPairs sorts p by key in place and returns it; a later duplicate key
// replaces an earlier one, which is how YAML defaults are overridden.
func SortPairs(p Pairs) Pairs {
	slices.SortStableFunc(p, func(a, b Pair) int { return strings.Compare(a.Key, b.Key) })
	out := p[:0]
	for _, kv := range p {
		if n := len(out); n > 0 && out[n-1].Key == kv.Key {
			out[n-1] = kv
			continue
		}
		out = append(out, kv)
	}
	return slices.Clip(out)
}

// SortSet sorts s and drops duplicates: emails and group tags are sets, so
// their order in a manifest or an answer never makes a change.
func SortSet(s []string) []string {
	slices.Sort(s)
	return slices.Clip(slices.Compact(s))
}

// Source is where a group was declared, for error messages and report order.
type Source struct {
	File string
	Line int
}

func (s Source) String() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// Group is one user group (a customer, in the Customer API) as a manifest
// wants it.
type Group struct {
	ID         string
	Name       string
	IsDemo     bool
	Mapping    Pairs
	Properties Pairs
	// Customer holds the Customer API's fields. It is nil unless one of
	// them is managed, which keeps a group of the End User Group API small.
	Customer *Customer
	// Managed says which optional fields the manifest mentions. Name is
	// always managed.
	Managed Fields
	// Previous is the id the group had before (previous_provided_id): a
	// rename that keeps its token.
	Previous string
	Source   Source
}

// Customer is what the Customer API adds to a group.
type Customer struct {
	// Emails and Tags are sorted sets (see [SortSet]).
	Emails []string
	Tags   []string
	// Level is the hierarchy level's name; Parent the parent's id.
	Level  string
	Parent string
}

// Cust returns g's Customer API fields, zero when it has none.
func (g *Group) Cust() Customer {
	if g.Customer == nil {
		return Customer{}
	}
	return *g.Customer
}

// ParentID returns the id of g's parent when g manages one.
func (g *Group) ParentID() string {
	if !g.Managed.Has(FieldParent) {
		return ""
	}
	return g.Cust().Parent
}
