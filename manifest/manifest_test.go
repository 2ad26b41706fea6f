package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"groupsync/reconcile"
)

// write puts files in a temporary directory and returns their paths.
func write(t testing.TB, files map[string]string) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return dir, paths
}

func pairs(kv ...string) reconcile.Pairs {
	p := reconcile.Pairs{}
	for i := 0; i+1 < len(kv); i += 2 {
		p = append(p, reconcile.Pair{Key: kv[i], Value: kv[i+1]})
	}
	return reconcile.SortPairs(p)
}

// group is a compact expected group: id, name, managed fields and values.
type group struct {
	ID, Name string
	IsDemo   bool
	Mapping  reconcile.Pairs
	Props    reconcile.Pairs
	Managed  reconcile.Fields
	Line     int
}

func simplify(gs []reconcile.Group) []group {
	var out []group
	for _, g := range gs {
		out = append(out, group{g.ID, g.Name, g.IsDemo, nilIfEmpty(g.Mapping, g.Managed.Has(reconcile.FieldMapping)),
			nilIfEmpty(g.Properties, g.Managed.Has(reconcile.FieldProperties)), g.Managed, g.Source.Line})
	}
	return out
}

func nilIfEmpty(p reconcile.Pairs, managed bool) reconcile.Pairs {
	if !managed {
		return nil
	}
	if p == nil {
		return reconcile.Pairs{}
	}
	return p
}

const (
	demo  = reconcile.FieldIsDemo
	mapF  = reconcile.FieldMapping
	propF = reconcile.FieldProperties
)

func TestLoad_Good(t *testing.T) {
	tests := []struct {
		name string
		file string
		in   string
		want []group
	}{
		{"MinimalCSV", "m.csv", "user_group_id,name\na,Alpha\n", []group{{ID: "a", Name: "Alpha", Line: 2}}},
		{"BOMAndCRLF", "m.csv", "\ufeffid,name\r\na,Alpha\r\nb,Beta\r\n",
			[]group{{ID: "a", Name: "Alpha", Line: 2}, {ID: "b", Name: "Beta", Line: 3}}},
		{"QuotedCellsWithCommasQuotesNewlines", "m.csv", "id,name,properties.address\na,\"Acme, \"\"Inc\"\"\",\"1 Main St\nWest\"\nb,Beta,\n",
			[]group{{ID: "a", Name: "Acme, \"Inc\"", Props: pairs("address", `"1 Main St\nWest"`), Managed: propF, Line: 2}, {ID: "b", Name: "Beta", Props: pairs(), Managed: propF, Line: 4}}},
		{"TSV", "m.tsv", "id\tname\na\tAcme, Inc; West\n", []group{{ID: "a", Name: "Acme, Inc; West", Line: 2}}},
		{"YAMLNumbersKeepTheirLiteral", "m.yaml", "- {id: a, name: A, properties: {zip: 02134, big: 12345678901234567890, e: 1e3, neg: -0.5, hex: 0x1F}}\n",
			[]group{{ID: "a", Name: "A", Props: pairs("zip", `"02134"`, "big", "12345678901234567890", "e", "1e3", "neg", "-0.5", "hex", "31"), Managed: propF, Line: 1}}},
		{"YAMLAliases", "m.yaml", "- {id: a, name: A, properties: {tags: &t [x, y]}}\n- &b {id: b, name: B, properties: {tags: *t}}\n",
			[]group{{ID: "a", Name: "A", Props: pairs("tags", `["x","y"]`), Managed: propF, Line: 1}, {ID: "b", Name: "B", Props: pairs("tags", `["x","y"]`), Managed: propF, Line: 2}}},
		{"SemicolonDelimiter", "m.csv", "id;name;mapping.40\na;Alpha, Inc;213\n",
			[]group{{ID: "a", Name: "Alpha, Inc", Mapping: pairs("40", "213"), Managed: mapF, Line: 2}}},
		{"TabDelimiter", "m.csv", "id\tname\tis_demo_group\na\tAlpha\tYes\n",
			[]group{{ID: "a", Name: "Alpha", IsDemo: true, Managed: demo, Line: 2}}},
		{"HeaderCaseAndSpaces", "m.csv", " Customer_ID , NAME ,Is_Demo_Group\na,Alpha,N\n",
			[]group{{ID: "a", Name: "Alpha", Managed: demo, Line: 2}}},
		{"ProvidedIDAlias", "m.csv", "provided_id,name\na,Alpha\n", []group{{ID: "a", Name: "Alpha", Line: 2}}},
		{"Booleans", "m.csv", "id,name,is_demo_group\na,A,TRUE\nb,B,no\nc,C,1\nd,D,0\ne,E,\nf,F,y\n", []group{
			{ID: "a", Name: "A", IsDemo: true, Managed: demo, Line: 2}, {ID: "b", Name: "B", Managed: demo, Line: 3},
			{ID: "c", Name: "C", IsDemo: true, Managed: demo, Line: 4}, {ID: "d", Name: "D", Managed: demo, Line: 5},
			{ID: "e", Name: "E", Managed: demo, Line: 6}, {ID: "f", Name: "F", IsDemo: true, Managed: demo, Line: 7}}},
		{"JSONCellsAndFlattenedColumns", "m.csv",
			"id,name,mapping,mapping.134,properties,properties.Region\na,A,\"{\"\"40\"\": 213}\",386,\"{\"\"tier\"\": 2, \"\"f\"\": [1, \"\"x\"\"]}\",us\nb,B,,,,\n",
			[]group{
				{ID: "a", Name: "A", Mapping: pairs("40", "213", "134", "386"), Props: pairs("Region", `"us"`, "f", `[1,"x"]`, "tier", "2"), Managed: mapF | propF, Line: 2},
				{ID: "b", Name: "B", Mapping: pairs(), Props: pairs(), Managed: mapF | propF, Line: 3}}},
		{"BlankRowsAndTrailingEmptyColumn", "m.csv", "id,name,\na,A,\n,,\n\nb,B,\n",
			[]group{{ID: "a", Name: "A", Line: 2}, {ID: "b", Name: "B", Line: 5}}},
		{"EmptyCSV", "m.csv", "", nil},
		{"HeaderOnly", "m.csv", "id,name\n", nil},
		{"YAMLWithDefaults", "m.yaml", `
defaults:
  mapping: {"40": "213"}
  is_demo_group: false
  properties: {channel: direct, tier: 1}
groups:
  - user_group_id: acme
    name: Acme Corp
    mapping: {"134": 386}
    properties: {region: us, tier: 2, ratio: 0.5, on: true, list: [a, 1], nested: {k: v}, none: null}
  - id: 42
    name: Answer
    is_demo_group: yes
    mapping: {"40": "999"}
`, []group{
			{ID: "acme", Name: "Acme Corp", Mapping: pairs("40", "213", "134", "386"),
				Props:   pairs("channel", `"direct"`, "tier", "2", "region", `"us"`, "ratio", "0.5", "on", "true", "list", `["a",1]`, "nested", `{"k":"v"}`, "none", "null"),
				Managed: demo | mapF | propF, Line: 7},
			{ID: "42", Name: "Answer", IsDemo: true, Mapping: pairs("40", "999"), Props: pairs("channel", `"direct"`, "tier", "1"), Managed: demo | mapF | propF, Line: 11}}},
		{"YAMLBareList", "m.yml", "- {user_group_id: a, name: A}\n- user_group_id: b\n  name: B\n  properties: {}\n",
			[]group{{ID: "a", Name: "A", Line: 1}, {ID: "b", Name: "B", Props: pairs(), Managed: propF, Line: 2}}},
		{"YAMLDateStaysAsWritten", "m.yaml", "- {id: a, name: A, properties: {since: 2026-01-15}}\n",
			[]group{{ID: "a", Name: "A", Props: pairs("since", `"2026-01-15"`), Managed: propF, Line: 1}}},
		{"EmptyYAML", "m.yaml", "# nothing yet\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, paths := write(t, map[string]string{tt.file: tt.in})
			m, err := Load(paths, Options{})
			if err != nil {
				t.Fatalf("Load() error:\n%v", err)
			}
			if got := simplify(m.Groups); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load() =\n%+v\nwant\n%+v", got, tt.want)
			}
			if len(tt.want) == 0 && len(m.Warnings) != 1 {
				t.Errorf("warnings = %v, want one for an empty file", m.Warnings)
			}
		})
	}
}

func TestLoad_Bad(t *testing.T) {
	tests := []struct {
		name string
		file string
		in   string
		want []string // messages after "FILE:"
	}{
		{"MissingIDAndName", "m.csv", "id,name\n,Alpha\nb,\n", []string{
			"2: user_group_id: missing: every group needs an id",
			"3: name: missing: every group needs a name"}},
		{"IDWithSpaces", "m.csv", "id,name\n acme,A\nb ,B\n", []string{
			`2: user_group_id: " acme" has leading or trailing spaces`,
			`3: user_group_id: "b " has leading or trailing spaces`}},
		{"DuplicateInFile", "m.csv", "id,name\na,A\nb,B\na,A2\n", []string{
			`4: user_group_id: duplicate id "a" (first at FILE:2)`}},
		{"BadJSON", "m.csv", "id,name,mapping,properties\na,A,\"{\"\"40\"\": ,\",[1]\n", []string{
			"2: mapping: invalid JSON: invalid character ',' looking for beginning of value (at byte 8 of the cell)",
			`2: properties: must be a JSON object like {"key": "value"}, not a list`}},
		{"MappingValueNotString", "m.csv", "id,name,mapping\na,A,\"{\"\"40\"\": true}\"\n", []string{
			`2: mapping: the value of "40" must be a string or a number, not a boolean`}},
		{"BadBoolean", "m.csv", "id,name,is_demo_group\na,A,maybe\n", []string{
			`2: is_demo_group: "maybe" is not a boolean (want true/false, yes/no, y/n or 1/0)`}},
		{"ScientificID", "m.csv", "id,name\n1.23457E+11,A\n1.0E+5,B\n", []string{
			`2: user_group_id: "1.23457E+11" is a number in scientific notation, as Excel writes long numbers after rounding them: format the column as text in the spreadsheet and export again`,
			`3: user_group_id: "1.0E+5" is a number in scientific notation, as Excel writes long numbers after rounding them: format the column as text in the spreadsheet and export again`}},
		{"ScientificMapping", "m.csv", "id,name,mapping.40,mapping\na,A,\"2,13E+2\",\"{\"\"50\"\": \"\"1E+3\"\"}\"\n", []string{
			`2: mapping.40: "2,13E+2" is a number in scientific notation, as Excel writes long numbers after rounding them: format the column as text in the spreadsheet and export again`,
			`2: mapping: the value of "50": "1E+3" is a number in scientific notation, as Excel writes long numbers after rounding them: format the column as text in the spreadsheet and export again`}},
		{"ControlCharacters", "m.csv", "id,name\n\"a\x1b[31m\",A\nb,\"B\x00\"\nc,\"C\u202egnp\"\n", []string{
			`2: user_group_id: "a\x1b[31m" holds the control character U+001B`,
			`3: name: "B\x00" holds the control character U+0000`,
			`4: name: "C\u202egnp" holds the control character U+202E`}},
		{"UnicodeNormalisedDuplicate", "m.csv", "id,name\ncaf\u00e9,A\ncafe\u0301,B\n", []string{
			`3: user_group_id: duplicate id "cafe\u0301" (first at FILE:2 as "caf\u00e9": the two are the same once Unicode-normalised)`}},
		{"UTF16", "m.csv", "\xff\xfei\x00d\x00,\x00n\x00a\x00m\x00e\x00\n\x00", []string{
			`1: the file is UTF-16, as Excel saves "Unicode Text": save it as "CSV UTF-8 (Comma delimited)" instead`}},
		{"CROnly", "m.csv", "id,name\ra,A\rb,B\r", []string{
			`1: the lines end with CR only, as old Mac spreadsheets save them: save the file as "CSV UTF-8", or with Windows or Unix line ends`}},
		{"WorkbookRenamed", "m.csv", "PK\x03\x04\x14\x00\x06\x00", []string{
			`1: this is an Excel workbook, not a CSV file: name it .xlsx to read it as one`}},
		{"GroupsyncReport", "m.csv", "user_group_id,name,action,status,new_user_group,token,api_environment_tag,attempts,http_status,error\na,A,noop,ok,,t,,,,\n", []string{
			"1: this is a groupsync report (it has action, status and token columns), not a manifest"}},
		{"CustomerColumnWithoutCustomerAPI", "m.csv", "id,name,emails\na,A,x@example.com\n", []string{
			"1: emails: column emails is a field of the Customer API; the End User Group API has none: use --api customer"}},
		{"YAMLCustomerKeyWithoutCustomerAPI", "m.yaml", "- {id: a, name: A, group_tags: [x]}\n", []string{
			"1: group_tags: group_tags is a field of the Customer API; the End User Group API has none: use --api customer"}},
		{"YAMLAliasBomb", "m.yaml", billionLaughs, []string{
			"8: properties.l4: aliases expand to more than 100,416 values, the budget left for this file: refused (name what every group shares under defaults instead)"}},
		{"YAMLAliasCycle", "m.yaml", "- {id: a, name: A, properties: {x: &a [1, *a]}}\n", []string{
			"1: properties.x: alias *a is used inside its own anchor, a cycle"}},
		{"YAMLScientificID", "m.yaml", "- {id: 1.5E+10, name: A, mapping: {\"40\": 2E3}}\n", []string{
			`1: mapping.40: "2E3" is a number in scientific notation, as Excel writes long numbers after rounding them: format the column as text in the spreadsheet and export again`,
			`1: user_group_id: "1.5E+10" is a number in scientific notation, as Excel writes long numbers after rounding them: format the column as text in the spreadsheet and export again`}},
		{"UnknownColumn", "m.csv", "id,name,mapings\na,A,x\n", []string{
			`1: unknown column "mapings" (columns are user_group_id, name, is_demo_group, mapping, properties, mapping.<schema id>, properties.<key>)`}},
		{"KeyBothWays", "m.csv", "id,name,mapping,mapping.40\na,A,\"{\"\"40\"\": \"\"1\"\"}\",2\n", []string{
			`2: mapping: key "40" is given both in the mapping cell and in column mapping.40`}},
		{"InvalidUTF8", "m.csv", "id,name\na,A\nb,B\xff\n", []string{
			"3: name: not valid UTF-8 (save the file as UTF-8)"}},
		{"WrongCellCount", "m.csv", "id,name\na,A,extra\n", []string{"2: the row has 3 cells but the header has 2"}},
		{"NoIDColumn", "m.csv", "name\nA\n", []string{"1: no user_group_id column (or id, provided_id, customer_id)"}},
		{"DuplicateColumn", "m.csv", "id,customer_id,name\na,b,A\n", []string{
			`1: user_group_id: given twice, by columns "id" and "customer_id"`}},
		{"BrokenQuote", "m.csv", "id,name\na,\"A\nb,B\n", []string{`2: malformed CSV: extraneous or missing " in quoted-field; the rest of the file was not read`}},
		{"BareQuote", "m.csv", "id,name,mapping\na,A,{\"40\": \"1\"}\n", []string{
			`2: malformed CSV: bare " in non-quoted-field (a cell that holds quotes, like a JSON cell, must be quoted with its quotes doubled: "{""40"": ""213""}"); the rest of the file was not read`}},
		{"YAMLSyntax", "m.yaml", "groups:\n  - id: a\n    name: A\n      x: y\n", []string{"4: invalid YAML: mapping values are not allowed in this context"}},
		{"YAMLBadValues", "m.yaml", `groups:
  - id: a
    name: A
    mapping: {"40": [1]}
    is_demo_group: perhaps
  - name: B
  - id: " c"
    name: C
    colour: red
`, []string{
			`4: mapping.40: must be a string or a number (a data source id)`,
			`5: is_demo_group: "perhaps" is not a boolean (want true/false, yes/no, y/n or 1/0)`,
			`6: user_group_id: missing: every group needs user_group_id`,
			`9: unknown key "colour" in group (keys are user_group_id, name, is_demo_group, mapping, properties)`,
			`7: user_group_id: " c" has leading or trailing spaces`}},
		{"DuplicateOfABrokenRow", "m.csv", "id,name,is_demo_group\na,A,maybe\na,B,no\n", []string{
			`2: is_demo_group: "maybe" is not a boolean (want true/false, yes/no, y/n or 1/0)`,
			`3: user_group_id: duplicate id "a" (first at FILE:2)`}},
		{"YAMLDuplicateOfABrokenGroup", "m.yaml", "- {id: a, mapping: [1]}\n- {id: a, name: A}\n", []string{
			`1: mapping: must be a mapping of schema id to data source id`,
			`1: name: missing: every group needs name`,
			`2: user_group_id: duplicate id "a" (first at FILE:1)`}},
		{"YAMLDuplicateKey", "m.yaml", "- id: a\n  name: A\n  name: B\n", []string{`3: key "name" is given twice in this group`}},
		{"YAMLInvalidUTF8", "m.yaml", "- id: a\n  name: \xfe\n", []string{"2: not valid UTF-8 (save the file as UTF-8)"}},
		{"InvisibleInIDs", "m.csv", "id,name\n\u200beu-0004,A\nb\ufeffx,B\nc\u2060,C\nd\u00ad,D\ne\u200df,E\ng\u00a0h,G\n", []string{
			`2: user_group_id: "\u200beu-0004" holds the invisible character U+200B, which would make it another id that looks the same`,
			`3: user_group_id: "b\ufeffx" holds the invisible character U+FEFF, which would make it another id that looks the same`,
			`4: user_group_id: "c\u2060" holds the invisible character U+2060, which would make it another id that looks the same`,
			`5: user_group_id: "d\u00ad" holds the invisible character U+00AD, which would make it another id that looks the same`,
			`6: user_group_id: "e\u200df" holds the invisible character U+200D, which would make it another id that looks the same`,
			`7: user_group_id: "g\u00a0h" holds the invisible character U+00A0, which would make it another id that looks the same`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, paths := write(t, map[string]string{tt.file: tt.in})
			_, err := Load(paths, Options{})
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load() error = %v, want Errors", err)
			}
			var got []string
			for _, e := range errs {
				msg := strings.TrimPrefix(e.Error(), paths[0]+":")
				got = append(got, strings.ReplaceAll(msg, paths[0], "FILE"))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Load() errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLoad_DuplicateAcrossFilesNamesBoth(t *testing.T) {
	dir, _ := write(t, map[string]string{"a.csv": "id,name\nx,X\n", "b.yaml": "- id: y\n  name: Y\n- id: x\n  name: X again\n"})
	_, err := Load([]string{dir}, Options{})
	want := filepath.Join(dir, "b.yaml") + `:3: user_group_id: duplicate id "x" (first at ` + filepath.Join(dir, "a.csv") + ":2)"
	if err == nil || err.Error() != want {
		t.Fatalf("Load() error = %v, want %s", err, want)
	}
}

func TestLoad_DirectoryInNameOrder(t *testing.T) {
	dir, _ := write(t, map[string]string{"2.yml": "- {id: b, name: B}\n", "1.csv": "id,name\na,A\n", "notes.txt": "ignored", "3.YAML": "- {id: c, name: C}\n"})
	m, err := Load([]string{dir, filepath.Join(dir, "1.csv")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range m.Groups {
		ids = append(ids, g.ID)
	}
	if got, want := strings.Join(ids, ","), "a,b,c"; got != want {
		t.Errorf("ids = %s, want %s", got, want)
	}
}

func TestLoad_ForcedDelimiter(t *testing.T) {
	// The header has more commas than semicolons, but the user knows better.
	_, paths := write(t, map[string]string{"m.csv": "id;name,with,commas\na;A,B\n"})
	m, err := Load(paths, Options{Delimiter: ';'})
	if err == nil {
		t.Fatalf("want an unknown column error, got %+v", m.Groups)
	}
	if !strings.Contains(err.Error(), `unknown column "name,with,commas"`) {
		t.Errorf("error = %v", err)
	}
}

// billionLaughs is 400-odd bytes that expand to 10⁹ values.
const billionLaughs = `- id: a
  name: A
  properties:
    l0: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]
    l1: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
    l2: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
    l3: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
    l4: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
    l5: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
    l6: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
    lol: [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
`

func TestLoad_ForcedDelimiterThatDoesNotSplit(t *testing.T) {
	_, paths := write(t, map[string]string{"m.csv": "id,name\na,A\n"})
	_, err := Load(paths, Options{Delimiter: ';'})
	want := paths[0] + ":1: --delimiter ';' does not split the header, but ',' does: drop --delimiter to detect it, or give ','"
	if err == nil || err.Error() != want {
		t.Fatalf("Load() = %v, want %s", err, want)
	}
}

func TestLoad_WorkbookAndReportInDirectory(t *testing.T) {
	dir, _ := write(t, map[string]string{
		"customers.csv":        "id,name\na,A\n",
		"groupsync-report.csv": "user_group_id,name,action,status,new_user_group,token,api_environment_tag,attempts,http_status,error\na,A,noop,ok,,t,,,,\n",
		"export.xls":           "\xd0\xcf\x11\xe0",
		"~$open.xlsx":          "Excel's lock file of an open workbook",
	})
	m, err := Load([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Groups) != 1 || len(m.Files) != 1 || len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "a groupsync report, not a manifest: skipped") {
		t.Errorf("groups %d, files %v, warnings %v", len(m.Groups), m.Files, m.Warnings)
	}
	_, err = Load([]string{filepath.Join(dir, "export.xls")}, Options{})
	if err == nil || !strings.Contains(err.Error(), `export.xls: groupsync cannot read this spreadsheet format: save it as an Excel workbook (.xlsx), or in Excel use File > Save As > "CSV UTF-8 (Comma delimited)"`) {
		t.Errorf("Load(xls) = %v", err)
	}
}

func TestLoad_CustomerFields(t *testing.T) {
	_, paths := write(t, map[string]string{"m.csv": "id,name,emails,group_tags,hierarchy_level_name,parent_provided_id\n" +
		"org,Org,\"[\"\"b@x.com\"\", \"\"a@x.com\"\"]\",\"gold, eu\",Organization,\n" +
		"team,Team,,,Department,org\n",
		"m.yaml": "defaults: {group_tags: [std]}\ngroups:\n  - {id: sub, name: Sub, emails: [c@x.com], hierarchy_level_name: Team, parent_provided_id: team}\n"})
	m, err := Load(paths, Options{Customer: true})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]reconcile.Group{}
	for _, g := range m.Groups {
		byID[g.ID] = g
	}
	all := reconcile.FieldEmails | reconcile.FieldTags | reconcile.FieldLevel | reconcile.FieldParent
	want := map[string]reconcile.Customer{
		"org":  {Emails: []string{"a@x.com", "b@x.com"}, Tags: []string{"eu", "gold"}, Level: "Organization"},
		"team": {Emails: []string{}, Tags: []string{}, Level: "Department", Parent: "org"},
		"sub":  {Emails: []string{"c@x.com"}, Tags: []string{"std"}, Level: "Team", Parent: "team"},
	}
	for id, w := range want {
		g := byID[id]
		if !reflect.DeepEqual(g.Cust(), w) || !g.Managed.Has(all) {
			t.Errorf("%s: %+v managed %s, want %+v", id, g.Cust(), g.Managed, w)
		}
	}
}

func TestLoad_Hierarchy(t *testing.T) {
	_, paths := write(t, map[string]string{"m.yaml": "- {id: a, name: A, parent_provided_id: b, hierarchy_level_name: Team}\n- {id: b, name: B, parent_provided_id: a}\n- {id: c, name: C, parent_provided_id: c}\n" +
		"- {id: org, name: O}\n- {id: same, name: S, parent_provided_id: org}\n- {id: ok, name: K, parent_provided_id: org, hierarchy_level_name: Team}\n"})
	_, err := Load(paths, Options{Customer: true})
	for _, want := range []string{":1: parent_provided_id: the parents form a cycle: a → b → a", ":3: parent_provided_id: the parents form a cycle: c → c",
		`:5: hierarchy_level_name: the group is at the level of its parent "org" (` + paths[0] + `:4): a parent must be at a higher level`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load() = %v, want %s", err, want)
		}
	}
}

// Every sample must load, so the samples cannot rot.
func TestLoad_Samples(t *testing.T) {
	m, err := Load([]string{"../samples"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Groups) < 15 || len(m.Warnings) > 0 {
		t.Errorf("samples: %d groups, warnings %v", len(m.Groups), m.Warnings)
	}
}

// Customer API fields: a YAML list may be one string of values separated by
// commas, as a CSV cell is; a previous id names a rename, and may be
// neither a wanted id nor claimed twice.
func TestLoad_CustomerListsAndRenames(t *testing.T) {
	_, paths := write(t, map[string]string{"m.yaml": "- {id: a, name: A, emails: \"x@a, y@a\", group_tags: [gold]}\n- {id: b, name: B, previous_provided_id: old-b}\n"})
	m, err := Load(paths, Options{Customer: true})
	if err != nil {
		t.Fatal(err)
	}
	emails := reconcile.FieldOf(reconcile.FieldEmails)
	if got := emails.List(&m.Groups[0]); !reflect.DeepEqual(got, []string{"x@a", "y@a"}) || m.Groups[1].Previous != "old-b" {
		t.Errorf("emails %v, previous %q", got, m.Groups[1].Previous)
	}
	_, paths = write(t, map[string]string{"m.csv": "id,name,previous_provided_id\na,A,b\nb,B,\nc,C,x\nd,D,x\n"})
	_, err = Load(paths, Options{Customer: true})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 || !strings.Contains(errs[0].Error(), `"b" is also a group of the manifests`) || !strings.Contains(errs[1].Error(), `"x" is renamed by`) {
		t.Errorf("Load() = %v", err)
	}
	_, paths = write(t, map[string]string{"m.csv": "id,name,previous_provided_id\na,A,b\n"})
	if _, err := Load(paths, Options{}); err == nil || !strings.Contains(err.Error(), "previous_provided_id is a field of the Customer API") {
		t.Errorf("previous_provided_id without --api customer: %v", err)
	}
}
