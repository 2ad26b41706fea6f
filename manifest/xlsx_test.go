package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"groupsync/reconcile"
)

// book builds a workbook in the test: per sheet, cells by reference.
// A value is set with excelize's own type mapping (string: text, float
// and int: number, bool, time.Time: a date); a formula is "=…"; a custom
// number format is given as format{code, value}.
type format struct {
	code  string
	value any
}

func book(t testing.TB, sheets ...sheetCells) []byte {
	t.Helper()
	data, err := buildBook(sheets...)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// tryBook is book for a fuzzer, whose cells excelize may refuse.
func tryBook(sheets ...sheetCells) ([]byte, bool) {
	data, err := buildBook(sheets...)
	return data, err == nil
}

func buildBook(sheets ...sheetCells) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	for i, sh := range sheets {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", sh.name); err != nil {
				return nil, err
			}
		} else if _, err := f.NewSheet(sh.name); err != nil {
			return nil, err
		}
		for ref, v := range sh.cells {
			var err error
			switch v := v.(type) {
			case string:
				if strings.HasPrefix(v, "=") {
					err = f.SetCellFormula(sh.name, ref, v[1:])
				} else {
					err = f.SetCellStr(sh.name, ref, v)
				}
			case format:
				code := v.code
				var style int
				if style, err = f.NewStyle(&excelize.Style{CustomNumFmt: &code}); err == nil {
					if err = f.SetCellValue(sh.name, ref, v.value); err == nil {
						err = f.SetCellStyle(sh.name, ref, ref, style)
					}
				}
			default:
				err = f.SetCellValue(sh.name, ref, v)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	var b bytes.Buffer
	if _, err := f.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type sheetCells struct {
	name  string
	cells map[string]any
}

func loadBook(t *testing.T, data []byte, arg string, opts Options) (*Manifest, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "customers.xlsx")
	writeFile(t, path, data)
	return Load([]string{path + arg}, opts)
}

func TestParseXLSX_TextNumbersAndBooleans(t *testing.T) {
	data := book(t, sheetCells{"Customers", map[string]any{
		"A1": "user_group_id", "B1": "Name", "C1": "mapping.40", "D1": "is_demo_group", "E1": "properties.zip",
		"A2": "00042", "B2": "Zero-padded text", "C2": 213, "D2": true, "E2": "02134",
		"A3": 123456789012, "B3": "A long number", "C3": 4.2, "D3": false, "E3": 1e20,
		// Row 4 is blank, as sheets often have: skipped.
		"A5": "c", "B5": "  Spaces kept  ", "C5": 0.1,
	}})
	m, err := loadBook(t, data, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ id, name, mapping, zip, line string }
	var got []row
	for _, g := range m.Groups {
		mv, _ := g.Mapping.Get("40")
		zip, _ := g.Properties.Get("zip")
		got = append(got, row{g.ID, g.Name + " demo=" + map[bool]string{true: "y", false: "n"}[g.IsDemo], mv, zip, g.Source.String()})
	}
	file := m.Files[0]
	want := []row{
		{"00042", "Zero-padded text demo=y", "213", `"02134"`, file + ":2"},
		{"123456789012", "A long number demo=n", "4.2", `"100000000000000000000"`, file + ":3"},
		{"c", "  Spaces kept   demo=n", "0.1", "", file + ":5"},
	}
	if !strings.HasSuffix(file, "customers.xlsx#Customers") {
		t.Errorf("file %q, want FILE#SHEET", file)
	}
	if len(got) != len(want) {
		t.Fatalf("groups = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("group %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if managed := m.Managed(); managed&reconcile.FieldMapping == 0 || managed&reconcile.FieldIsDemo == 0 || managed&reconcile.FieldProperties == 0 {
		t.Errorf("managed fields %v", managed)
	}
}

func TestParseXLSX_ErrorsNameTheCell(t *testing.T) {
	data := book(t, sheetCells{"Sheet1", map[string]any{
		"A1": "id", "B1": "name", "C1": "mapping.40",
		"A2": "a", "B2": time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC),
		"A3": "b", "B3": "=A3&\"x\"",
		"A4": "c", "B4": "C", "C4": format{"00000", 42},
		"A5": "d", "B5": "D", "C5": format{"yyyy-mm-dd", 46000},
		"A6": "e", "B6": "",
		"A7": "a", "B7": "Again",
		"A8": "f", "B8": "F", "D8": "stray",
		"A9": "g", "B9": "G", "C9": format{"[h]:mm", 1.5},
		"A10": "h", "B10": "H", "C10": format{`0.0 "kg"`, 2},
	}})
	_, err := loadBook(t, data, "", Options{})
	errs, ok := err.(Errors)
	if !ok {
		t.Fatalf("Load() = %v, want Errors", err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, strings.TrimPrefix(e.Error(), e.File))
		if !strings.HasSuffix(e.File, "customers.xlsx#Sheet1") {
			t.Errorf("error names %q, want FILE#SHEET", e.File)
		}
	}
	want := []string{
		`!B2: name: a date or time (2026-01-15): a manifest holds text and numbers; format the column as text and type the values again`,
		`!B3: name: a formula (=A3&"x"): groupsync reads values, not formulas: copy the column and paste it as values (Paste Special > Values)`,
		`!C4: mapping.40: shows "00042" but holds the number 42: Excel keeps no leading zeros in a number; format the column as text and type the values again`,
		`!C5: mapping.40: a date or time (2025-12-09): a manifest holds text and numbers; format the column as text and type the values again`,
		`!B6: name: missing: every group needs a name`,
		`!D8: holds "stray" but the column has no header name`,
		`!C9: mapping.40: a date or time (1900-01-01 12:00:00): a manifest holds text and numbers; format the column as text and type the values again`,
		// Duplicates are found across files, by row, as the first
		// place is named.
		`:7: user_group_id: duplicate id "a" (first at ` + errs[0].File + `:2)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseXLSX_Sheets(t *testing.T) {
	data := book(t,
		sheetCells{"Notes", map[string]any{"A1": "not a manifest"}},
		sheetCells{"Second", map[string]any{"A1": "id", "B1": "name", "A2": "x", "B2": "X"}})
	m, err := loadBook(t, data, "#second", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Groups) != 1 || m.Groups[0].ID != "x" || !strings.HasSuffix(m.Files[0], "#Second") {
		t.Errorf("groups %+v, files %v", m.Groups, m.Files)
	}
	_, err = loadBook(t, data, "#Third", Options{})
	if err == nil || !strings.HasSuffix(err.Error(), `customers.xlsx: no sheet "Third" in this workbook (sheets: Notes, Second)`) {
		t.Errorf("Load(#Third) = %v", err)
	}
	// The first sheet by default: its header is wrong, and said so at
	// its row.
	_, err = loadBook(t, data, "", Options{})
	if err == nil || !strings.Contains(err.Error(), `customers.xlsx#Notes:1: unknown column "not a manifest"`) {
		t.Errorf("Load() = %v", err)
	}
}

// The rules of the CSV path hold for a workbook: a Customer API column
// without --api customer, scientific notation typed as text, a report
// saved as a workbook in a manifests' folder.
func TestParseXLSX_SameRulesAsCSV(t *testing.T) {
	data := book(t, sheetCells{"Sheet1", map[string]any{"A1": "id", "B1": "name", "C1": "emails", "A2": "1.23457E+11", "B2": "A", "C2": "a@x.com"}})
	_, err := loadBook(t, data, "", Options{})
	if err == nil || !strings.Contains(err.Error(), "#Sheet1:1: emails: column emails is a field of the Customer API") {
		t.Errorf("Load() = %v", err)
	}
	_, err = loadBook(t, data, "", Options{Customer: true})
	if err == nil || !strings.Contains(err.Error(), `#Sheet1!A2: user_group_id: "1.23457E+11" is a number in scientific notation`) {
		t.Errorf("Load() = %v", err)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "m.csv"), []byte("id,name\na,A\n"))
	writeFile(t, filepath.Join(dir, "tokens.xlsx"), book(t, sheetCells{"Sheet1", map[string]any{
		"A1": "user_group_id", "B1": "name", "C1": "action", "D1": "status", "E1": "token", "A2": "a", "B2": "A", "C2": "noop", "D2": "ok", "E2": "t"}}))
	m, err := Load([]string{dir}, Options{})
	if err != nil || len(m.Groups) != 1 || len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "tokens.xlsx#Sheet1: a groupsync report, not a manifest: skipped") {
		t.Errorf("Load(dir) = %+v, %v", m, err)
	}
}

func TestPlainNumber(t *testing.T) {
	for raw, want := range map[string]string{
		"42": "42", "4.2000000000000002": "4.2", "1.23456789012E+11": "123456789012", "1E+20": "100000000000000000000",
		"0.1": "0.1", "-3.5": "-3.5", "1.0000000000000001E-3": "0.001", "123456789012345678": "123456789012346000",
	} {
		if got, err := plainNumber(raw); err != nil || got != want {
			t.Errorf("plainNumber(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	if _, err := plainNumber("x"); err == nil {
		t.Error("plainNumber(x) did not fail")
	}
}

func TestClassifyFormat(t *testing.T) {
	tests := []struct {
		id   int
		code string
		want numberFormat
	}{
		{0, "", formatNumber}, {1, "", formatNumber}, {14, "", formatDate}, {22, "", formatDate}, {49, "", formatNumber}, {57, "", formatDate},
		{0, "yyyy-mm-dd", formatDate}, {0, "[$-409]mmmm d, yyyy", formatDate}, {0, "h:mm AM/PM", formatDate}, {0, "[h]:mm", formatDate},
		{0, "00000", formatPadded}, {0, "#,##000", formatPadded}, {0, "#,##0", formatNumber}, {0, "000-00-0000", formatPadded}, {0, `0.0 "days"`, formatNumber},
		{0, `0\d`, formatNumber}, {0, "[Red]0.00", formatNumber}, {0, "General", formatNumber}, {0, "0.00E+00", formatNumber},
	}
	for _, tt := range tests {
		if got := classifyFormat(tt.id, tt.code); got != tt.want {
			t.Errorf("classifyFormat(%d, %q) = %d, want %d", tt.id, tt.code, got, tt.want)
		}
	}
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
