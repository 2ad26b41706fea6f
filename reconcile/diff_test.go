package reconcile_test

import (
	"fmt"
	"reflect"
	"testing"

	"groupsync/reconcile"
)

func pairs(kv ...string) reconcile.Pairs {
	var p reconcile.Pairs
	for i := 0; i+1 < len(kv); i += 2 {
		p = append(p, reconcile.Pair{Key: kv[i], Value: kv[i+1]})
	}
	return reconcile.SortPairs(p)
}

func applied(g reconcile.Group) *reconcile.Applied {
	return &reconcile.Applied{Group: g, Token: "tok-" + g.ID}
}

func TestDiff(t *testing.T) {
	all := reconcile.FieldIsDemo | reconcile.FieldMapping | reconcile.FieldProperties
	base := reconcile.Group{ID: "a", Name: "A", Mapping: pairs("40", "1"), Properties: pairs("tier", "2"), Managed: all}
	tests := []struct {
		name    string
		desired reconcile.Group
		current *reconcile.Applied
		want    reconcile.Action
		fields  []reconcile.FieldChange
	}{
		{"Create", base, nil, reconcile.ActionCreate, []reconcile.FieldChange{
			{Path: "name", After: `"A"`}, {Path: "is_demo_group", After: "false"},
			{Path: "mapping.40", After: `"1"`}, {Path: "properties.tier", After: "2"}}},
		{"Noop", base, applied(base), "", nil},
		{"Rename", with(base, func(g *reconcile.Group) { g.Name = "B" }), applied(base), reconcile.ActionUpdate,
			[]reconcile.FieldChange{{Path: "name", Before: `"A"`, After: `"B"`}}},
		{"MappingKeyChangedAddedRemoved", with(base, func(g *reconcile.Group) { g.Mapping = pairs("40", "9", "50", "3") }),
			applied(with(base, func(g *reconcile.Group) { g.Mapping = pairs("40", "1", "30", "7") })), reconcile.ActionUpdate,
			[]reconcile.FieldChange{{Path: "mapping.30", Before: `"7"`}, {Path: "mapping.40", Before: `"1"`, After: `"9"`}, {Path: "mapping.50", After: `"3"`}}},
		{"UnmanagedFieldIsNotCompared", with(base, func(g *reconcile.Group) { g.Managed = 0; g.Mapping = nil }),
			applied(base), "", nil},
		{"NewlyManagedFieldIsAChange", base,
			applied(with(base, func(g *reconcile.Group) { g.Managed = reconcile.FieldMapping | reconcile.FieldProperties })), reconcile.ActionUpdate,
			[]reconcile.FieldChange{{Path: "is_demo_group", After: "false"}}},
		{"PendingAdoptIsAnUpdate", base, &reconcile.Applied{Group: reconcile.Group{ID: "a"}, Token: "t"}, reconcile.ActionUpdate,
			[]reconcile.FieldChange{{Path: "name", After: `"A"`}, {Path: "is_demo_group", After: "false"},
				{Path: "mapping.40", After: `"1"`}, {Path: "properties.tier", After: "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := reconcile.NewState()
			if tt.current != nil {
				st.Groups["a"] = tt.current
			}
			p := reconcile.Diff([]reconcile.Group{tt.desired}, st)
			if tt.want == "" {
				if len(p.Changes) != 0 || p.Noop != 1 {
					t.Fatalf("Diff() = %+v, want one noop", p)
				}
				return
			}
			if len(p.Changes) != 1 || p.Changes[0].Action != tt.want {
				t.Fatalf("Diff() = %+v, want %s", p.Changes, tt.want)
			}
			if got := p.Changes[0].Fields(); !reflect.DeepEqual(got, tt.fields) {
				t.Errorf("Fields() = %+v, want %+v", got, tt.fields)
			}
		})
	}
}

func with(g reconcile.Group, f func(*reconcile.Group)) reconcile.Group {
	f(&g)
	return g
}

func TestDiff_OrphansAndOrder(t *testing.T) {
	st := reconcile.NewState()
	st.Groups["z"] = applied(reconcile.Group{ID: "z", Name: "Z"})
	st.Groups["m"] = applied(reconcile.Group{ID: "m", Name: "M"})
	p := reconcile.Diff([]reconcile.Group{{ID: "q", Name: "Q"}, {ID: "m", Name: "M"}, {ID: "b", Name: "B"}}, st)
	var got []string
	for _, c := range p.Changes {
		got = append(got, string(c.Action)+":"+c.ID)
	}
	if want := []string{"create:b", "create:q", "orphan:z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
	if s := p.Summary(); s != (reconcile.Summary{Create: 2, Noop: 1, Orphan: 1}) || s.Calls() != 2 {
		t.Errorf("Summary() = %+v", s)
	}
}

func TestMerge_KeepsFieldsNoLongerManaged(t *testing.T) {
	prev := applied(reconcile.Group{ID: "a", Name: "A", Mapping: pairs("1", "2"), Managed: reconcile.FieldMapping})
	g := &reconcile.Group{ID: "a", Name: "B", IsDemo: true, Managed: reconcile.FieldIsDemo}
	a := reconcile.Merge(prev, g, reconcile.Remote{}, prev.AppliedAt)
	if a.Name != "B" || !a.IsDemo || !a.Mapping.Equal(pairs("1", "2")) || a.Managed != reconcile.FieldIsDemo|reconcile.FieldMapping || a.Token != "tok-a" {
		t.Errorf("Merge() = %+v", a)
	}
}

func ExampleDiff() {
	st := reconcile.NewState()
	st.Groups["acme"] = &reconcile.Applied{Group: reconcile.Group{ID: "acme", Name: "Acme", Mapping: pairs("40", "213"), Managed: reconcile.FieldMapping}}
	desired := []reconcile.Group{
		{ID: "acme", Name: "Acme Corp", Mapping: pairs("40", "214"), Managed: reconcile.FieldMapping},
		{ID: "globex", Name: "Globex"},
	}
	p := reconcile.Diff(desired, st)
	for _, c := range p.Changes {
		fmt.Println(c.Action, c.ID)
		for _, f := range c.Fields() {
			fmt.Printf("  %s: %s -> %s\n", f.Path, f.Before, f.After)
		}
	}
	fmt.Printf("%+v\n", p.Summary())
	// Output:
	// update acme
	//   name: "Acme" -> "Acme Corp"
	//   mapping.40: "213" -> "214"
	// create globex
	//   name:  -> "Globex"
	// {Create:1 Update:1 Noop:0 Orphan:0}
}
