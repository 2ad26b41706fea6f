// Package fieldjson writes and reads the managed fields of a group as JSON,
// by their [reconcile.Type]: the one codec that the state file and the
// API's request bodies and answers share, so that a field added to
// [reconcile.Table] is written and read everywhere without further code.
package fieldjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"groupsync/internal/canonjson"
	"groupsync/internal/flatjson"
	"groupsync/reconcile"
)

// Value returns the JSON text of field f of g: canonical, so that the same
// value always has the same text.
func Value(f *reconcile.Field, g *reconcile.Group) string {
	switch f.Type {
	case reconcile.TypeBool:
		if f.Bool(g) {
			return "true"
		}
		return "false"
	case reconcile.TypeIDs:
		p := f.Pairs(g)
		return canonjson.Object(len(p), func(i int) (string, string) { return p[i].Key, canonjson.Quote(p[i].Value) })
	case reconcile.TypeJSON:
		p := f.Pairs(g)
		return canonjson.Object(len(p), func(i int) (string, string) { return p[i].Key, p[i].Value })
	case reconcile.TypeSet:
		return List(f.List(g))
	}
	return canonjson.Quote(f.Text(g))
}

// List writes a list of strings as JSON.
func List(l []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(canonjson.Quote(s))
	}
	b.WriteByte(']')
	return b.String()
}

// Member is one key of a JSON object with the raw text of its value.
type Member struct{ Key, Raw string }

// Members returns the members for the fields of g that are in fields, in
// [reconcile.Table]'s order, each under its Name. With omitEmptyNames, a
// TypeName field that is empty is left out, which a request body wants:
// the service then keeps its default (the root level, no parent).
func Members(g *reconcile.Group, fields reconcile.Fields, omitEmptyNames bool) []Member {
	var out []Member
	for _, f := range reconcile.Table {
		if !fields.Has(f.Bit) || !g.Managed.Has(f.Bit) {
			continue
		}
		if omitEmptyNames && f.Type == reconcile.TypeName && f.Text(g) == "" {
			continue
		}
		out = append(out, Member{Key: f.Name, Raw: Value(f, g)})
	}
	return out
}

// Object writes members as one JSON object, in their order.
func Object(members []Member) string {
	return canonjson.Object(len(members), func(i int) (string, string) { return members[i].Key, members[i].Raw })
}

// Interner shares strings that repeat across groups; nil shares nothing.
type Interner map[string]string

// Get returns the shared copy of s.
func (in Interner) Get(s string) string {
	if in == nil {
		return s
	}
	if v, ok := in[s]; ok {
		return v
	}
	if len(in) < 4096 {
		in[s] = s
	}
	return s
}

// Set reads raw, one JSON value, as field f of g and marks f managed. A
// null is the field's empty value. Map keys and names are shared through in.
func Set(f *reconcile.Field, g *reconcile.Group, raw string, in Interner) error {
	if raw == "null" {
		setEmpty(f, g)
		return nil
	}
	switch f.Type {
	case reconcile.TypeBool:
		switch raw {
		case "true", "false":
			f.SetBool(g, raw == "true")
			return nil
		}
		return errors.New("want true or false")
	case reconcile.TypeIDs:
		p, err := walk(raw, in, id)
		if err != nil {
			return err
		}
		f.SetPairs(g, p)
	case reconcile.TypeJSON:
		p, err := walk(raw, in, canonjson.Canonical)
		if err != nil {
			return err
		}
		f.SetPairs(g, p)
	case reconcile.TypeSet:
		var l []string
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			return errors.New("want a list of strings")
		}
		if l == nil {
			l = []string{}
		}
		f.SetList(g, reconcile.SortSet(l))
	default:
		s, err := flatjson.String(raw)
		if err != nil {
			return errors.New("want a string")
		}
		f.SetText(g, in.Get(s))
	}
	return nil
}

func setEmpty(f *reconcile.Field, g *reconcile.Group) {
	switch f.Type {
	case reconcile.TypeBool:
		f.SetBool(g, false)
	case reconcile.TypeIDs, reconcile.TypeJSON:
		f.SetPairs(g, reconcile.Pairs{})
	case reconcile.TypeSet:
		f.SetList(g, []string{})
	default:
		f.SetText(g, "")
	}
}

// id reads an id kept as text: a string, or a number as written.
func id(raw string) (string, error) {
	switch {
	case raw != "" && raw[0] == '"':
		return flatjson.String(raw)
	case raw != "" && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')):
		return raw, nil
	}
	return "", fmt.Errorf("%s is not a string or a number", raw)
}

// walk reads a JSON object into sorted pairs, converting each value.
func walk(raw string, in Interner, conv func(string) (string, error)) (reconcile.Pairs, error) {
	out := reconcile.Pairs{}
	err := flatjson.Object(raw, func(k, v string) error {
		c, err := conv(v)
		out = append(out, reconcile.Pair{Key: in.Get(k), Value: c})
		return err
	})
	if err != nil {
		return nil, err
	}
	return reconcile.SortPairs(out), nil
}
