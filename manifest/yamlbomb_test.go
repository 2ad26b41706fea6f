package manifest

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// aliasBombs are manifests whose aliases, each small, expand to far more
// than the file: one long string named thousands of times, a mapping or
// a list of thousands of keys named by every group, whole groups named
// again, and the nested "billion laughs".
func aliasBombs() map[string]string {
	var b strings.Builder
	group := func(i int, rest string) string { return fmt.Sprintf("- {id: g%d, name: G%d%s}\n", i, i, rest) }
	keys := func(n int, f string) string {
		var k []string
		for i := range n {
			k = append(k, fmt.Sprintf(f, i, i))
		}
		return strings.Join(k, ", ")
	}
	bombs := map[string]string{}

	b.WriteString("- {id: s, name: S, properties: {x: &s " + strings.Repeat("x", 20_000) + "}}\n")
	for i := range 10_000 {
		b.WriteString(group(i, ", properties: {x: *s}"))
	}
	bombs["LongString"] = b.String()

	b.Reset()
	b.WriteString("- {id: m, name: M, mapping: &m {" + keys(2000, `"%d": "%d"`) + "}}\n")
	for i := range 5_000 {
		b.WriteString(group(i, ", mapping: *m"))
	}
	bombs["Mapping"] = b.String()

	b.Reset()
	b.WriteString("- {id: p, name: P, properties: &p {" + keys(2000, `k%d: %d`) + "}}\n")
	for i := range 5_000 {
		b.WriteString(group(i, ", properties: *p"))
	}
	bombs["Properties"] = b.String()

	b.Reset()
	b.WriteString("- &g {id: g, name: G, properties: {" + keys(2000, `k%d: %d`) + "}}\n")
	for range 5_000 {
		b.WriteString("- *g\n")
	}
	bombs["Groups"] = b.String()

	b.Reset()
	b.WriteString("- {id: e, name: E, emails: &e [" + keys(2000, `u%d@x%d.com`) + "]}\n")
	for i := range 5_000 {
		b.WriteString(group(i, ", emails: *e"))
	}
	bombs["Emails"] = b.String()

	b.Reset()
	b.WriteString("- id: a\n  name: A\n  properties:\n    l0: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i, c := range "abcdefgh" {
		fmt.Fprintf(&b, "    l%d: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", i+1, c+1, c, c, c, c, c, c, c, c, c, c)
	}
	bombs["Laughs"] = b.String()
	return bombs
}

// The aliases of a file are bounded in values and bytes together, so
// every bomb is a FILE:LINE error, and the memory a parse takes stays
// within a small multiple of the file (before, each took from 200 MB to
// gigabytes).
func TestParseYAML_AliasBombsAreBounded(t *testing.T) {
	for name, data := range aliasBombs() {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, errs := ParseYAML(strings.NewReader(data), Options{Customer: true})
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			if limit := uint64(40*len(data) + 16<<20); allocated > limit {
				t.Errorf("the parse of %d bytes allocated %d MB, more than %d MB", len(data), allocated>>20, limit>>20)
			}
			t.Logf("%d bytes: %d MB allocated", len(data), allocated>>20)
			var found bool
			for _, e := range errs {
				if e.Line > 0 && strings.Contains(e.Err.Error(), "aliases expand to more than") {
					found = true
				}
			}
			if !found {
				t.Errorf("no alias error: %v", errs)
			}
		})
	}
}

// Aliases within the budget work, and cost memory in proportion to the
// file: ten thousand groups naming one mapping.
func TestParseYAML_AliasesWithinTheBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("- {id: m, name: M, mapping: &m {\"1\": \"2\", \"3\": \"4\", \"5\": \"6\", \"7\": \"8\", \"9\": \"10\"}}\n")
	for i := range 10_000 {
		fmt.Fprintf(&b, "- {id: g%d, name: G%d, mapping: *m, properties: {region: eu}}\n", i, i)
	}
	data := b.String()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	groups, errs := ParseYAML(strings.NewReader(data), Options{})
	runtime.ReadMemStats(&after)
	if len(errs) > 0 || len(groups) != 10_001 || len(groups[10_000].Mapping) != 5 {
		t.Fatalf("%d groups, %v", len(groups), errs)
	}
	if allocated, limit := after.TotalAlloc-before.TotalAlloc, uint64(40*len(data)+16<<20); allocated > limit {
		t.Errorf("the parse of %d bytes allocated %d MB, more than %d MB", len(data), allocated>>20, limit>>20)
	}
}

// The allowance beyond each file's own share is for the whole run: files
// that each stay within it can together exceed it, and the file that does
// is named.
func TestLoad_AliasBudgetIsPerRun(t *testing.T) {
	var b strings.Builder
	b.WriteString("- id: ID\n  name: N\n  properties:\n    l0: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i, c := range "abc" {
		fmt.Fprintf(&b, "    l%d: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", i+1, c+1, c, c, c, c, c, c, c, c, c, c)
	}
	b.WriteString("    l4: [*d, *d, *d, *d, *d]\n")
	one := b.String() // about 68,000 values
	if _, errs := ParseYAML(strings.NewReader(one), Options{}); len(errs) > 0 {
		t.Fatalf("one file alone: %v", errs)
	}
	dir, _ := write(t, map[string]string{"1.yaml": strings.Replace(one, "ID", "a", 1), "2.yaml": strings.Replace(one, "ID", "b", 1)})
	_, err := Load([]string{dir}, Options{})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.HasSuffix(errs[0].File, "2.yaml") || errs[0].Line != 8 ||
		!strings.Contains(errs[0].Error(), "aliases expand to more than") {
		t.Fatalf("Load() = %v", err)
	}
}

// BenchmarkCheckAliases is the cost of the alias budget next to the parse
// it guards, on 100,000 groups that share an anchored mapping.
func BenchmarkCheckAliases(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("- {id: m, name: M, mapping: &m {\"1\": \"2\", \"3\": \"4\"}}\n")
	for i := range 100_000 {
		fmt.Fprintf(&sb, "- {id: g%d, name: G%d, mapping: *m, properties: {region: eu, tier: %d}}\n", i, i, i%4)
	}
	data := sb.String()
	b.Run("ParseYAML", func(b *testing.B) {
		for b.Loop() {
			if _, errs := ParseYAML(strings.NewReader(data), Options{}); len(errs) > 0 {
				b.Fatal(errs)
			}
		}
	})
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(data), &doc); err != nil {
		b.Fatal(err)
	}
	b.Run("checkAliases", func(b *testing.B) {
		for b.Loop() {
			if perr := checkAliases(doc.Content[0], nil); perr != nil {
				b.Fatal(perr)
			}
		}
	})
}
