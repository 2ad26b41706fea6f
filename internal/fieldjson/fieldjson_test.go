package fieldjson

import (
	"testing"

	"groupsync/reconcile"
)

// sample returns a group with a non-empty value of every field of Table.
func sample() *reconcile.Group {
	g := &reconcile.Group{ID: "a", Name: "A"}
	for _, f := range reconcile.Table {
		switch f.Type {
		case reconcile.TypeBool:
			f.SetBool(g, true)
		case reconcile.TypeIDs:
			f.SetPairs(g, reconcile.Pairs{{Key: "40", Value: "213"}, {Key: "9", Value: "x\"y"}})
		case reconcile.TypeJSON:
			f.SetPairs(g, reconcile.Pairs{{Key: "n", Value: "1e3"}, {Key: "s", Value: `{"a":[1,"b"]}`}})
		case reconcile.TypeSet:
			f.SetList(g, []string{"a@x", "é"})
		default:
			f.SetText(g, "Team \u2028")
		}
	}
	return g
}

func TestValue_RoundTripsEveryField(t *testing.T) {
	g := sample()
	for _, f := range reconcile.Table {
		t.Run(f.Name, func(t *testing.T) {
			raw := Value(f, g)
			var back reconcile.Group
			if err := Set(f, &back, raw, Interner{}); err != nil {
				t.Fatalf("Set(%s) = %v", raw, err)
			}
			if !back.Managed.Has(f.Bit) || !f.Same(g, &back) {
				t.Errorf("%s did not round-trip: %s", f.Name, raw)
			}
			if again := Value(f, &back); again != raw {
				t.Errorf("Value = %s, then %s: not canonical", raw, again)
			}
		})
	}
}

func TestSet_NullIsEmpty(t *testing.T) {
	for _, f := range reconcile.Table {
		g := sample()
		if err := Set(f, g, "null", nil); err != nil || !f.IsEmpty(g) || !g.Managed.Has(f.Bit) {
			t.Errorf("%s: null gave %v, empty %v", f.Name, err, f.IsEmpty(g))
		}
	}
}

func TestSet_RefusesWrongShapes(t *testing.T) {
	bad := map[reconcile.Type][]string{
		reconcile.TypeBool: {`1`, `"true"`, `{}`},
		reconcile.TypeIDs:  {`[]`, `{"a":true}`, `{"a":{}}`, `{`},
		reconcile.TypeJSON: {`[]`, `{"a":tru}`, `"x"`},
		reconcile.TypeSet:  {`{}`, `[1]`, `"a"`},
		reconcile.TypeName: {`1`, `[]`, `{}`},
	}
	for _, f := range reconcile.Table {
		for _, raw := range bad[f.Type] {
			if err := Set(f, &reconcile.Group{}, raw, nil); err == nil {
				t.Errorf("%s: Set(%s) accepted", f.Name, raw)
			}
		}
	}
}

func TestMembers_OnlyManagedFieldsInTableOrder(t *testing.T) {
	g := sample()
	g.Managed &^= reconcile.FieldProperties
	var keys []string
	for _, m := range Members(g, ^reconcile.CustomerFields, false) {
		keys = append(keys, m.Key)
	}
	if got, want := keys, []string{"is_demo_group", "mapping"}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Members() keys = %v, want %v", got, want)
	}
	empty := &reconcile.Group{}
	for _, f := range reconcile.Table {
		if f.Type == reconcile.TypeName {
			f.SetText(empty, "")
		}
	}
	if m := Members(empty, ^reconcile.Fields(0), true); len(m) != 0 {
		t.Errorf("empty names sent: %v", m)
	}
}

// FuzzSet holds the decoder of state files and answers to: no panic, and
// what it accepts writes back as text it reads the same.
func FuzzSet(f *testing.F) {
	for _, s := range []string{`true`, `null`, `{"40":"213","7":8}`, `{"n":1e3,"s":[1,{"a":null}]}`, `["b","a","a"]`, `"Team"`, `"\u00e9\u2028"`, `{"a":"\ud800"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, fd := range reconcile.Table {
			var g reconcile.Group
			if Set(fd, &g, raw, nil) != nil {
				continue
			}
			text := Value(fd, &g)
			var back reconcile.Group
			if err := Set(fd, &back, text, nil); err != nil || !fd.Same(&g, &back) {
				t.Fatalf("%s: %q wrote %q, which reads back as %v", fd.Name, raw, text, err)
			}
		}
	})
}
