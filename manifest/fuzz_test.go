package manifest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"strconv"
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

// FuzzParseXLSX builds a workbook around fuzzed cells (a text cell, and a
// number under a fuzzed number format) and reads it: no panic, only
// *ParseError, and a number is never read in scientific notation.
func FuzzParseXLSX(f *testing.F) {
	f.Add("acme", 123456789012.0, "General")
	f.Add("00042", 42.0, "00000")
	f.Add("=SUM(1)", 46000.0, "yyyy-mm-dd")
	f.Add("1.23457E+11", 1e21, `0.0 "kg";[Red]-0.0`)
	f.Add("", -0.5, "[h]:mm")
	f.Fuzz(func(t *testing.T, text string, num float64, code string) {
		if !utf8.ValidString(text) || !utf8.ValidString(code) || len(code) > 255 || math.IsNaN(num) || math.IsInf(num, 0) {
			t.Skip()
		}
		cells := map[string]any{"A1": "id", "B1": "name", "C1": "mapping.40", "D1": "properties.p", "A2": "id-1", "B2": "N", "D2": text}
		if code != "" {
			cells["C2"] = format{code, num}
		} else {
			cells["C2"] = num
		}
		data, ok := tryBook(sheetCells{"Sheet1", cells})
		if !ok {
			t.Skip() // excelize refused to write it
		}
		_, groups, errs := ParseXLSX(bytes.NewReader(data), "", Options{})
		checkGroups(t, groups, errs)
		if len(errs) > 0 {
			return
		}
		v, _ := groups[0].Mapping.Get("40")
		if strings.ContainsAny(v, "eE") {
			t.Fatalf("number %v read as %q", num, v)
		}
	})
}

func FuzzPlainNumber(f *testing.F) {
	for _, s := range []string{"42", "4.2000000000000002", "1.23456789012E+11", "1E+308", "-0", "5e-324", " 7 ", "0x1p-2", "Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := plainNumber(raw)
		if err != nil {
			return
		}
		if strings.ContainsAny(got, "eEnN") {
			t.Fatalf("plainNumber(%q) = %q, not plain decimal", raw, got)
		}
		want, _ := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		back, err := strconv.ParseFloat(got, 64)
		if err != nil || math.Abs(back-want) > math.Abs(want)*1e-14 {
			t.Fatalf("plainNumber(%q) = %q, which is %v, not %v", raw, got, back, want)
		}
	})
}
