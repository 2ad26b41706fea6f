package manifest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"groupsync/internal/canonjson"
	"groupsync/reconcile"
)

func addSamples(f *testing.F, ext string) {
	entries, err := os.ReadDir("../samples")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ext) {
			data, err := os.ReadFile("../samples/" + e.Name())
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(data))
		}
	}
}

// checkGroups holds for every successful parse, whatever the input.
func checkGroups(t *testing.T, groups []reconcile.Group, errs Errors) {
	for _, e := range errs {
		if e == nil || e.Err == nil {
			t.Fatalf("error list holds %#v", e)
		}
	}
	if len(errs) > 0 {
		return
	}
	for _, g := range groups {
		if checkID(g.ID) != nil || g.Name == "" || !utf8.ValidString(g.ID) || g.Source.Line < 1 {
			t.Fatalf("accepted a bad group %+v", g)
		}
		for _, p := range g.Properties {
			if !json.Valid([]byte(p.Value)) {
				t.Fatalf("property %q holds invalid JSON %q", p.Key, p.Value)
			}
		}
	}
}

func FuzzParseCSV(f *testing.F) {
	addSamples(f, ".csv")
	f.Add("id,name\na,A\n")
	f.Add("\ufeffid;name;mapping.40\r\na;\"A;\"\"x\"\"\";1\r\n")
	f.Add("id\tname\tis_demo_group\na\tA\tyes\n")
	f.Fuzz(func(t *testing.T, in string) {
		groups, errs := ParseCSV(strings.NewReader(in), Options{Customer: true})
		checkGroups(t, groups, errs)
		if len(errs) > 0 {
			return
		}
		// What was accepted survives a write and a read with JSON cells.
		again, errs := ParseCSV(bytes.NewReader(encodeCSV(t, groups)), Options{Delimiter: ','})
		if len(errs) > 0 {
			t.Fatalf("re-reading accepted groups failed: %v", errs)
		}
		if len(again) != len(groups) {
			t.Fatalf("round trip: %d groups, want %d", len(again), len(groups))
		}
		for i := range groups {
			a, b := groups[i], again[i]
			if strings.ContainsRune(a.ID+a.Name, '\r') {
				continue // CSV turns a quoted CRLF into LF, by design
			}
			if a.ID != b.ID || a.Name != b.Name || a.IsDemo != b.IsDemo || !a.Properties.Equal(b.Properties) ||
				(a.Managed.Has(reconcile.FieldMapping) && !a.Mapping.Equal(b.Mapping)) {
				t.Fatalf("round trip:\n%+v\n%+v", a, b)
			}
		}
	})
}

func encodeCSV(t *testing.T, groups []reconcile.Group) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"id", "name", "is_demo_group", "mapping", "properties"})
	for _, g := range groups {
		m := canonjson.Object(len(g.Mapping), func(i int) (string, string) { return g.Mapping[i].Key, canonjson.Quote(g.Mapping[i].Value) })
		p := canonjson.Object(len(g.Properties), func(i int) (string, string) { return g.Properties[i].Key, g.Properties[i].Value })
		demo := "false"
		if g.IsDemo {
			demo = "true"
		}
		w.Write([]string{g.ID, g.Name, demo, m, p})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func FuzzParseYAML(f *testing.F) {
	addSamples(f, ".yaml")
	f.Add("- {id: a, name: A}\n")
	f.Add("defaults: {mapping: {'1': 2}}\ngroups:\n  - {id: 1, name: x, properties: {a: [1, {b: null}]}}\n")
	f.Add("- &x {id: a, name: A}\n- *x\n")
	f.Add(billionLaughs)
	f.Add("- {id: a, name: A, properties: {x: &a [1, *a]}}\n")
	f.Add("- {id: 1.5E+10, name: A, parent_provided_id: b, group_tags: [x], mapping: {'1': 02134}}\n")
	f.Fuzz(func(t *testing.T, in string) {
		groups, errs := ParseYAML(strings.NewReader(in), Options{Customer: true})
		checkGroups(t, groups, errs)
	})
}
