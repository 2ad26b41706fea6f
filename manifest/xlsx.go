package manifest

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"

	"groupsync/reconcile"
)

// Workbooks are read as what their cells hold, not as Excel shows them: a
// text cell keeps its leading zeros, a number is read from its stored
// value (never as the 1.23457E+11 a narrow column shows), and what has no
// faithful text form (a date, a formula, an error value, a number whose
// format shows zeros it does not hold) is an error naming its cell. The
// records then take the CSV path: the same header, columns and checks.

// xlsxLimit bounds what a workbook may unzip to, against zip bombs: far
// more than Excel's million rows of customers take.
const xlsxLimit = 1 << 30

// ParseXLSX reads one sheet of an Excel workbook: sheet, or the first one
// when sheet is empty. It returns the sheet's name ("" when it found
// none). Errors carry the row
// as Line and, where one cell is at fault, its reference as Cell; [Load]
// adds the file.
func ParseXLSX(r io.Reader, sheet string, opts Options) (string, []reconcile.Group, Errors) {
	f, err := excelize.OpenReader(r, excelize.Options{UnzipSizeLimit: xlsxLimit, RawCellValue: true})
	if err != nil {
		return "", nil, Errors{{Err: fmt.Errorf("cannot read this Excel workbook: %v", err)}}
	}
	defer f.Close()
	name, err := pickSheet(f.GetSheetList(), sheet)
	if err != nil {
		return "", nil, Errors{{Err: err}}
	}
	x := &sheetReader{f: f, sheet: name, formats: map[int]numberFormat{}}
	groups, errs := x.parse(opts)
	return name, groups, errs
}

// pickSheet finds the sheet a -f FILE#SHEET names, as Excel does: case
// does not matter.
func pickSheet(sheets []string, want string) (string, error) {
	if len(sheets) == 0 {
		return "", errors.New("the workbook has no sheet")
	}
	if want == "" {
		return sheets[0], nil
	}
	for _, s := range sheets {
		if strings.EqualFold(s, want) {
			return s, nil
		}
	}
	return "", fmt.Errorf("no sheet %q in this workbook (sheets: %s)", want, strings.Join(sheets, ", "))
}

// sheetReader turns the rows of one sheet into records.
type sheetReader struct {
	f     *excelize.File
	sheet string
	// formats caches what each cell style's number format is.
	formats map[int]numberFormat
}

func (x *sheetReader) parse(opts Options) ([]reconcile.Group, Errors) {
	rows, err := x.f.Rows(x.sheet)
	if err != nil {
		return nil, Errors{{Err: err}}
	}
	defer rows.Close()
	var p *rowParser
	var errs Errors
	var groups []reconcile.Group
	for row := 1; rows.Next(); row++ {
		raw, err := rows.Columns()
		if err != nil {
			return groups, append(errs, &ParseError{Line: row, Err: fmt.Errorf("cannot read the row: %v", err)})
		}
		width := len(raw)
		if p != nil {
			width = len(p.cols)
		}
		rec, cellErrs := x.record(raw, row, width, p)
		errs = append(errs, cellErrs...)
		if p == nil {
			// The header is the first row that holds anything.
			if blank(rec) {
				continue
			}
			var herrs Errors
			if p, herrs = newRowParser(rec, opts); p == nil {
				return nil, append(errs, atRow(herrs, row)...)
			}
			errs = append(errs, atRow(herrs, row)...)
			continue
		}
		groups = append(groups, reconcile.Group{})
		g := &groups[len(groups)-1]
		n0 := len(p.errs)
		ok := p.row(rec, row, g) && len(cellErrs) == 0
		for _, e := range p.errs[n0:] {
			// A cell already refused (a formula, a date) is not also
			// called missing or malformed.
			if e.Cell = x.cellOf(p, e.Field, row); e.Cell == "" || !refused(cellErrs, e.Cell) {
				errs = append(errs, e)
			}
		}
		p.errs = p.errs[:n0]
		if !ok && !(g.Source.Line > 0 && checkID(g.ID) == nil) {
			groups = groups[:len(groups)-1]
		}
	}
	if err := rows.Error(); err != nil {
		errs = append(errs, &ParseError{Err: fmt.Errorf("cannot read the sheet: %v", err)})
	}
	return groups, errs
}

func refused(errs Errors, cell string) bool {
	for _, e := range errs {
		if e.Cell == cell {
			return true
		}
	}
	return false
}

// atRow moves header errors, which the CSV path puts on line 1, to the
// header's row.
func atRow(errs Errors, row int) Errors {
	for _, e := range errs {
		e.Line = row
	}
	return errs
}

// cellOf is the reference of the cell of field in row, or "" when the
// field is not one column's (a problem of the whole row).
func (x *sheetReader) cellOf(p *rowParser, field string, row int) string {
	if field == "" {
		return ""
	}
	for i, c := range p.cols {
		if c.name == field {
			ref, _ := excelize.CoordinatesToCellName(i+1, row)
			return ref
		}
	}
	return ""
}

// record is the text of width cells of a row. A cell past width that
// holds something is an error: its column has no header. p, once the
// header is read, names the cells' columns in errors.
func (x *sheetReader) record(raw []string, row, width int, p *rowParser) ([]string, Errors) {
	rec := make([]string, width)
	var errs Errors
	for col := range max(len(raw), width) {
		var v string
		if col < len(raw) {
			v = raw[col]
		}
		ref, _ := excelize.CoordinatesToCellName(col+1, row)
		text, err := x.cell(ref, v)
		switch {
		case err != nil:
			e := &ParseError{Line: row, Cell: ref, Err: err}
			if p != nil && col < len(p.cols) {
				e.Field = p.cols[col].name
			}
			errs = append(errs, e)
		case col >= width && text != "":
			errs = append(errs, &ParseError{Line: row, Cell: ref, Err: fmt.Errorf("holds %q but the column has no header name", text)})
		}
		if col < width {
			rec[col] = text
		}
	}
	return rec, errs
}

// cell is the text of the cell ref, whose stored value is raw.
func (x *sheetReader) cell(ref, raw string) (string, error) {
	formula, err := x.f.GetCellFormula(x.sheet, ref)
	if err != nil {
		return "", err
	}
	if formula != "" {
		return raw, fmt.Errorf("a formula (=%s): groupsync reads values, not formulas: copy the column and paste it as values (Paste Special > Values)", clip(formula))
	}
	if raw == "" {
		return "", nil
	}
	typ, err := x.f.GetCellType(x.sheet, ref)
	if err != nil {
		return "", err
	}
	switch typ {
	case excelize.CellTypeSharedString, excelize.CellTypeInlineString, excelize.CellTypeFormula:
		return raw, nil
	case excelize.CellTypeBool:
		if raw == "1" {
			return "TRUE", nil
		}
		return "FALSE", nil
	case excelize.CellTypeError:
		return raw, fmt.Errorf("holds the error value %s", raw)
	case excelize.CellTypeDate:
		return raw, errDate(fmt.Sprintf("%q", raw))
	}
	return x.number(ref, raw)
}

// number is the text of a number cell: its stored value, in plain
// decimal, unless its format makes it a date or shows zeros it lacks.
func (x *sheetReader) number(ref, raw string) (string, error) {
	style, err := x.f.GetCellStyle(x.sheet, ref)
	if err != nil {
		return "", err
	}
	format := x.format(style)
	if format == formatDate {
		return raw, errDate(dateText(raw))
	}
	v, err := plainNumber(raw)
	if err != nil {
		return raw, err
	}
	if format == formatPadded {
		if shown, _ := x.shown(ref); shown != v && strings.HasPrefix(shown, "0") {
			return v, fmt.Errorf("shows %q but holds the number %s: Excel keeps no leading zeros in a number; format the column as text and type the values again", shown, v)
		}
	}
	return v, nil
}

// shown is the cell as Excel shows it, with its number format applied.
func (x *sheetReader) shown(ref string) (string, error) {
	return x.f.GetCellValue(x.sheet, ref, excelize.Options{RawCellValue: false})
}

func errDate(value string) error {
	return fmt.Errorf("a date or time (%s): a manifest holds text and numbers; format the column as text and type the values again", value)
}

// dateText writes a date cell's serial number as the date and time it
// stands for, unambiguously, whatever the sheet's locale shows.
func dateText(raw string) string {
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return fmt.Sprintf("%q", raw)
	}
	t, err := excelize.ExcelDateToTime(v, false)
	switch {
	case err != nil:
		return fmt.Sprintf("%q", raw)
	case v < 1:
		return t.Format("15:04:05")
	case t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0:
		return t.Format("2006-01-02")
	}
	return t.Format("2006-01-02 15:04:05")
}

// clip shortens a formula for a message.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:40]) + "…"
}

// plainNumber writes a cell's stored number in plain decimal. Excel keeps
// 15 significant digits and stores the double nearest to what was typed,
// so rounding to 15 digits gives back exactly the number typed:
// 4.2000000000000002 is 4.2, and 1.23456789012E+11 is 123456789012.
func plainNumber(raw string) (string, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", fmt.Errorf("holds %q, which is not a number", raw)
	}
	f, _ = strconv.ParseFloat(strconv.FormatFloat(f, 'g', 15, 64), 64)
	return strconv.FormatFloat(f, 'f', -1, 64), nil
}

// numberFormat is what a cell's number format does to a number.
type numberFormat uint8

const (
	formatNumber numberFormat = iota
	// formatDate shows the number as a date or a time.
	formatDate
	// formatPadded pads the number with leading zeros (00000).
	formatPadded
)

func (x *sheetReader) format(style int) numberFormat {
	if f, ok := x.formats[style]; ok {
		return f
	}
	f := formatNumber
	if st, err := x.f.GetStyle(style); err == nil {
		code := ""
		if st.CustomNumFmt != nil {
			code = *st.CustomNumFmt
		}
		f = classifyFormat(st.NumFmt, code)
	}
	x.formats[style] = f
	return f
}

// classifyFormat tells dates from numbers by the built-in format id
// (ECMA-376 18.8.30: 14-22 and 45-47, and the East Asian and Thai date
// formats) or by the letters of a custom format code (d, m, y, h, s
// outside quotes, escapes and brackets, or an elapsed [h]).
func classifyFormat(id int, code string) numberFormat {
	if code == "" {
		switch {
		case id >= 14 && id <= 22, id >= 27 && id <= 36, id >= 45 && id <= 47, id >= 50 && id <= 58, id >= 71 && id <= 81:
			return formatDate
		}
		return formatNumber
	}
	section, _, _ := strings.Cut(code, ";")
	var b strings.Builder
	for i := 0; i < len(section); i++ {
		switch c := section[i]; c {
		case '"':
			if j := strings.IndexByte(section[i+1:], '"'); j >= 0 {
				i += j + 1
			}
		case '\\', '_', '*':
			i++ // the next character is literal, or padding
		case '[':
			j := strings.IndexByte(section[i:], ']')
			if j < 0 {
				return formatNumber
			}
			switch strings.ToLower(section[i+1 : i+j]) {
			case "h", "hh", "m", "mm", "s", "ss":
				return formatDate
			}
			i += j
		default:
			b.WriteByte(c)
		}
	}
	plain := strings.ToLower(b.String())
	if plain == "general" {
		return formatNumber
	}
	if strings.ContainsAny(plain, "dmyhs") {
		return formatDate
	}
	if strings.HasPrefix(strings.TrimLeft(plain, "#,"), "00") {
		return formatPadded
	}
	return formatNumber
}
