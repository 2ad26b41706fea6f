package reconcile_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

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
	return &reconcile.Applied{Group: g, Token: "tok-" + g.ID, Origin: reconcile.OriginCreated}
}

func s(v string) reconcile.Value {
	return reconcile.Value{Known: true, Kind: reconcile.KindString, Text: v}
}
func js(v string) reconcile.Value {
	return reconcile.Value{Known: true, Kind: reconcile.KindJSON, Text: v}
}
func b(v string) reconcile.Value {
	return reconcile.Value{Known: true, Kind: reconcile.KindBool, Text: v}
}
func l(v ...string) reconcile.Value {
	return reconcile.Value{Known: true, Kind: reconcile.KindList, List: v}
}

var none reconcile.Value

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
			{Path: "name", After: s("A")}, {Path: "is_demo_group", After: b("false")},
			{Path: "mapping.40", After: s("1")}, {Path: "properties.tier", After: js("2")}}},
		{"Noop", base, applied(base), "", nil},
		{"Rename", with(base, func(g *reconcile.Group) { g.Name = "B" }), applied(base), reconcile.ActionUpdate,
			[]reconcile.FieldChange{{Path: "name", Before: s("A"), After: s("B")}}},
		{"MappingKeyChangedAddedRemoved", with(base, func(g *reconcile.Group) { g.Mapping = pairs("40", "9", "50", "3") }),
			applied(with(base, func(g *reconcile.Group) { g.Mapping = pairs("40", "1", "30", "7") })), reconcile.ActionUpdate,
			[]reconcile.FieldChange{{Path: "mapping.30", Before: s("7")}, {Path: "mapping.40", Before: s("1"), After: s("9")}, {Path: "mapping.50", After: s("3")}}},
		{"UnmanagedFieldIsNotCompared", with(base, func(g *reconcile.Group) { g.Managed = 0; g.Mapping = nil }),
			applied(base), "", nil},
		{"NewlyManagedFieldIsAChange", base,
			applied(with(base, func(g *reconcile.Group) { g.Managed = reconcile.FieldMapping | reconcile.FieldProperties })), reconcile.ActionUpdate,
			[]reconcile.FieldChange{{Path: "is_demo_group", After: b("false")}}},
		{"PendingAdoptIsAnUpdate", base, &reconcile.Applied{Group: reconcile.Group{ID: "a"}, Token: "t"}, reconcile.ActionUpdate,
			[]reconcile.FieldChange{{Path: "name", After: s("A")}, {Path: "is_demo_group", After: b("false")},
				{Path: "mapping.40", After: s("1")}, {Path: "properties.tier", After: js("2")}}},
		{"CustomerFields", with(base, func(g *reconcile.Group) {
			g.Managed |= reconcile.CustomerFields
			g.Customer = &reconcile.Customer{Emails: []string{"a@x"}, Tags: []string{"gold"}, Level: "Team", Parent: "p"}
		}), applied(with(base, func(g *reconcile.Group) {
			g.Managed |= reconcile.FieldEmails | reconcile.FieldTags
			g.Customer = &reconcile.Customer{Emails: []string{"a@x"}, Tags: []string{"eu"}}
		})), reconcile.ActionUpdate, []reconcile.FieldChange{
			{Path: "group_tags", Before: l("eu"), After: l("gold")}, {Path: "hierarchy_level_name", Before: none, After: s("Team")},
			{Path: "parent_provided_id", Before: none, After: s("p")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := reconcile.NewState()
			if tt.current != nil {
				st.Groups["a"] = tt.current
			}
			p := reconcile.Diff([]reconcile.Group{tt.desired}, st, reconcile.Options{})
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
	p := reconcile.Diff([]reconcile.Group{{ID: "q", Name: "Q"}, {ID: "m", Name: "M"}, {ID: "b", Name: "B"}}, st, reconcile.Options{})
	var got []string
	for _, c := range p.Changes {
		got = append(got, string(c.Action)+":"+c.ID)
	}
	if want := []string{"create:b", "create:q", "orphan:z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}
	if s := p.Summary(); s != (reconcile.Summary{Create: 2, Noop: 1, Orphan: 1, Calls: 2}) {
		t.Errorf("Summary() = %+v", s)
	}
	pruned := reconcile.Diff([]reconcile.Group{{ID: "m", Name: "M"}}, st, reconcile.Options{Prune: true})
	if len(pruned.Changes) != 1 || pruned.Changes[0].Action != reconcile.ActionDelete || pruned.Summary().Changes(pruned.NewOrphans) != 1 {
		t.Errorf("pruned = %+v", pruned.Changes)
	}
}

// With a refresh, the service is the truth: drift made in Explo's UI is an
// update from the service's value, a customer deleted there is created
// again, one the state does not know is adopted from the list, and a
// token rotated there is recorded without a call.
func TestDiff_Refresh(t *testing.T) {
	st := reconcile.NewState()
	st.Groups["renamed"] = applied(reconcile.Group{ID: "renamed", Name: "Old"})
	st.Groups["deleted"] = applied(reconcile.Group{ID: "deleted", Name: "D"})
	st.Groups["rotated"] = applied(reconcile.Group{ID: "rotated", Name: "R"})
	st.Groups["gone"] = applied(reconcile.Group{ID: "gone", Name: "G"})
	svc := &reconcile.Snapshot{Calls: 2, Groups: map[string]*reconcile.Applied{
		"renamed":  {Group: reconcile.Group{ID: "renamed", Name: "Changed in the UI"}, Token: "tok-renamed"},
		"rotated":  {Group: reconcile.Group{ID: "rotated", Name: "R"}, Token: "new-token"},
		"existing": {Group: reconcile.Group{ID: "existing", Name: "E"}, Token: "tok-e"},
		"differs":  {Group: reconcile.Group{ID: "differs", Name: "Other"}, Token: "tok-d"},
		"foreign":  {Group: reconcile.Group{ID: "foreign", Name: "F"}, Token: "tok-f"},
	}}
	desired := []reconcile.Group{{ID: "renamed", Name: "Old"}, {ID: "deleted", Name: "D"}, {ID: "rotated", Name: "R"},
		{ID: "existing", Name: "E"}, {ID: "differs", Name: "D2"}}
	p := reconcile.Diff(desired, st, reconcile.Options{Remote: svc, Prune: true})
	got := map[string]string{}
	for _, c := range p.Changes {
		got[c.ID] = fmt.Sprintf("%s update=%v gone=%v", c.Action, c.Update, c.Gone)
	}
	want := map[string]string{
		"renamed": "update update=false gone=false", "deleted": "create update=false gone=false",
		"existing": "adopt update=false gone=false", "differs": "adopt update=true gone=false", "gone": "delete update=false gone=true",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %v\nwant %v", got, want)
	}
	for _, c := range p.Changes {
		if c.ID == "renamed" {
			if f := c.Fields(); len(f) != 1 || !reflect.DeepEqual(f[0].Before, s("Changed in the UI")) {
				t.Errorf("renamed shows %+v, want the service's name as before", f)
			}
		}
	}
	if len(p.Corrected) != 1 || p.Corrected[0].Token != "new-token" {
		t.Errorf("corrected = %+v", p.Corrected)
	}
	// 2 list calls, an update, a create, and an adopt's update.
	if s := p.Summary(); s.Calls != 5 || s.Adopt != 2 || s.Delete != 1 {
		t.Errorf("Summary() = %+v", s)
	}
}

func TestPlan_ZeroConflicts(t *testing.T) {
	st := reconcile.NewState()
	for _, id := range []string{"00042", "00043", "0abc", "7"} {
		st.Groups[id] = applied(reconcile.Group{ID: id, Name: id})
	}
	p := reconcile.Diff([]reconcile.Group{{ID: "42", Name: "x"}, {ID: "43", Name: "y"}, {ID: "abc", Name: "z"}, {ID: "0007", Name: "w"}, {ID: "00043", Name: "y"}}, st, reconcile.Options{})
	got := p.ZeroConflicts()
	want := []reconcile.ZeroConflict{{Create: "0007", Orphan: "7"}, {Create: "42", Orphan: "00042"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ZeroConflicts() = %+v, want %+v", got, want)
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
	p := reconcile.Diff(desired, st, reconcile.Options{})
	for _, c := range p.Changes {
		fmt.Println(c.Action, c.ID)
		for _, f := range c.Fields() {
			fmt.Printf("  %s: %q -> %q\n", f.Path, f.Before.Text, f.After.Text)
		}
	}
	fmt.Printf("%+v\n", p.Summary())
	// Output:
	// update acme
	//   name: "Acme" -> "Acme Corp"
	//   mapping.40: "213" -> "214"
	// create globex
	//   name: "" -> "Globex"
	// {Create:1 Adopt:0 Update:1 Noop:0 Orphan:0 Delete:0 Rotate:0 Rename:0 Calls:2}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		n, quota int
		window   time.Duration
		want     time.Duration
	}{
		{0, 180, time.Minute, 0},
		{1, 180, time.Minute, time.Second},
		{60, 180, time.Minute, time.Second},
		{180, 180, time.Minute, time.Second},
		{181, 180, time.Minute, time.Second},
		{360, 180, time.Minute, time.Minute},
		{1241, 180, time.Minute, 5*time.Minute + 54*time.Second},
		{540, 180, 3 * time.Second, 6 * time.Second},
		{250, 100, 10 * time.Second, 15 * time.Second},
		{5, 0, time.Minute, 0},
	}
	for _, tt := range tests {
		if got := reconcile.Duration(tt.n, tt.quota, tt.window); got != tt.want {
			t.Errorf("Duration(%d, %d, %v) = %v, want %v", tt.n, tt.quota, tt.window, got, tt.want)
		}
	}
}
