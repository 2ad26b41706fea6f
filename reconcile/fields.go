package reconcile

import (
	"slices"
	"strconv"
)

// Kind says how to show a [Value].
type Kind uint8

const (
	KindString Kind = iota
	KindBool
	// KindJSON is a property value, as canonical JSON text.
	KindJSON
	// KindList is a set of strings.
	KindList
)

// Value is one side of a [FieldChange].
type Value struct {
	// Known is false when there is no value: the field is not set, or
	// its value on the service is not known.
	Known bool
	Kind  Kind
	// Text is the string, "true" or "false", or the JSON text.
	Text string
	List []string
}

func str(s string) Value      { return Value{Known: true, Kind: KindString, Text: s} }
func list(s []string) Value   { return Value{Known: true, Kind: KindList, List: s} }
func jsonText(s string) Value { return Value{Known: true, Kind: KindJSON, Text: s} }
func boolean(b bool) Value    { return Value{Known: true, Kind: KindBool, Text: strconv.FormatBool(b)} }
func (v Value) equal(w Value) bool {
	return v.Known == w.Known && v.Kind == w.Kind && v.Text == w.Text && slices.Equal(v.List, w.List)
}

// FieldChange is one attribute a change sets, from Before to After.
type FieldChange struct {
	Path   string
	Before Value
	After  Value
}

// Fields lists what c changes, attribute by attribute: for a create every
// managed field, for an update those that differ. It is computed on demand
// so that a plan of a million creates does not hold a million lists.
func (c *Change) Fields() []FieldChange {
	if c.Desired == nil {
		return nil
	}
	g, cur := c.Desired, c.Current
	if cur == nil {
		cur = &Applied{}
	}
	var out []FieldChange
	add := func(path string, before, after Value) {
		if !before.equal(after) {
			out = append(out, FieldChange{Path: path, Before: before, After: after})
		}
	}
	// An empty name in the state is a group adopted but not yet corrected.
	add("name", ifKnown(str(cur.Name), cur.Name != ""), str(g.Name))
	for _, f := range Table {
		if g.Managed.Has(f.Bit) {
			f.changes(&cur.Group, g, cur.Managed.Has(f.Bit), add)
		}
	}
	return out
}

// changes reports, through add, how field f goes from before to after;
// known says whether before's value is known at all.
func (f *Field) changes(before, after *Group, known bool, add func(path string, before, after Value)) {
	switch f.Type {
	case TypeBool:
		add(f.Name, ifKnown(boolean(f.Bool(before)), known), boolean(f.Bool(after)))
	case TypeIDs:
		diffPairs(f.Name+".", f.Pairs(before), f.Pairs(after), str, add)
	case TypeJSON:
		diffPairs(f.Name+".", f.Pairs(before), f.Pairs(after), jsonText, add)
	case TypeSet:
		add(f.Name, ifKnown(list(f.List(before)), known), list(f.List(after)))
	default:
		add(f.Name, ifKnown(optional(f.Text(before)), known), optional(f.Text(after)))
	}
}

// optional is a string field where empty means none.
func optional(s string) Value {
	if s == "" {
		return Value{}
	}
	return str(s)
}

func ifKnown(v Value, known bool) Value {
	if !known {
		return Value{}
	}
	return v
}

// diffPairs walks two sorted key lists together and reports every key whose
// value differs, with val turning a stored value into a [Value].
func diffPairs(prefix string, before, after Pairs, val func(string) Value, add func(path string, before, after Value)) {
	i, j := 0, 0
	for i < len(before) || j < len(after) {
		switch {
		case j == len(after) || (i < len(before) && before[i].Key < after[j].Key):
			add(prefix+before[i].Key, val(before[i].Value), Value{})
			i++
		case i == len(before) || after[j].Key < before[i].Key:
			add(prefix+after[j].Key, Value{}, val(after[j].Value))
			j++
		default:
			add(prefix+after[j].Key, val(before[i].Value), val(after[j].Value))
			i++
			j++
		}
	}
}
