package manifest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"groupsync/internal/canonjson"
	"groupsync/internal/textsafe"
	"groupsync/reconcile"
)

type colKind uint8

const (
	colUnknown colKind = iota
	colID
	colName
	// colField holds a managed field in one cell.
	colField
	// colFieldKey holds one key of a map field (mapping.<schema id>,
	// properties.<key>).
	colFieldKey
	colBlank // an unnamed column, as spreadsheets leave after the last one
	// colPrevious is previous_provided_id: the id a group had before.
	colPrevious
)

type column struct {
	kind colKind
	// name is the column's canonical name, used in messages.
	name string
	// field is the managed field of a colField or colFieldKey column.
	field *reconcile.Field
	// key is the map key of a colFieldKey column.
	key string
	// flat is the index of a colFieldKey column's field in the row's
	// flattened keys.
	flat int
}

// ParseCSV reads one CSV manifest. Delimiter 0 detects ',', ';' or tab from
// the header line. Errors carry lines but no file name; [Load] adds it.
// When there are errors, the groups also hold the rows whose id is valid
// despite other problems, so that duplicates of them are found too; such
// groups are for reporting problems only.
func ParseCSV(r io.Reader, opts Options) ([]reconcile.Group, Errors) {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	if err := sniff(br); err != nil {
		return nil, Errors{{Line: 1, Err: err}}
	}
	delimiter := opts.Delimiter
	if delimiter == 0 {
		delimiter = detectDelimiter(br)
	}
	cr := csv.NewReader(br)
	cr.Comma = delimiter
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, Errors{csvError(err)}
	}
	if opts.Delimiter != 0 {
		if err := checkSplit(header, delimiter); err != nil {
			return nil, Errors{{Line: 1, Err: err}}
		}
	}
	p, errs := newRowParser(header, opts)
	if p == nil {
		return nil, errs
	}
	p.errs = errs
	groups := make([]reconcile.Group, 0, estimateRows(r, br))
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// encoding/csv cannot resynchronise after a broken quote,
			// so the rest of this file is unreadable.
			return groups, append(p.errs, csvError(err))
		}
		line, _ := cr.FieldPos(0)
		groups = append(groups, reconcile.Group{})
		if !p.row(rec, line, &groups[len(groups)-1]) && !p.keepBroken(&groups[len(groups)-1]) {
			groups = groups[:len(groups)-1]
		}
	}
	return slices.Clip(groups), p.errs
}

// sniff refuses, in one sentence, files that are not CSV text at all but
// would otherwise fail on every row: UTF-16 (Excel's "Unicode Text"), old
// Mac line ends, an Excel workbook renamed .csv.
func sniff(br *bufio.Reader) error {
	b, _ := br.Peek(br.Size())
	switch {
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return errWorkbook
	case bytes.HasPrefix(b, []byte("\xff\xfe")) || bytes.HasPrefix(b, []byte("\xfe\xff")) || bytes.Count(b, []byte{0}) > len(b)/8:
		return errUTF16
	case crOnly(b):
		return errors.New("the lines end with CR only, as old Mac spreadsheets save them: save the file as \"CSV UTF-8\", or with Windows or Unix line ends")
	}
	return nil
}

// crOnly reports whether lines end with a bare CR: CRs that do not start
// a CRLF, and no bare LF.
func crOnly(b []byte) bool {
	crlf := bytes.Count(b, []byte("\r\n"))
	return bytes.Count(b, []byte("\r"))-crlf > 1 && bytes.Count(b, []byte("\n"))-crlf == 0
}

var (
	errUTF16    = errors.New("the file is UTF-16, as Excel saves \"Unicode Text\": save it as \"CSV UTF-8 (Comma delimited)\" instead")
	errWorkbook = errors.New("this is an Excel workbook, not a CSV file: name it .xlsx to read it as one")
	// errOtherWorkbook is a spreadsheet's own format that groupsync does
	// not read.
	errOtherWorkbook = errors.New("groupsync cannot read this spreadsheet format: save it as an Excel workbook (.xlsx), or in Excel use File > Save As > \"CSV UTF-8 (Comma delimited)\"")
)

// checkSplit refuses a forced delimiter that leaves the header in one
// piece while another delimiter would split it.
func checkSplit(header []string, delimiter rune) error {
	if len(header) != 1 {
		return nil
	}
	for _, d := range []rune{',', ';', '\t'} {
		if d != delimiter && strings.ContainsRune(header[0], d) {
			return fmt.Errorf("--delimiter %s does not split the header, but %s does: drop --delimiter to detect it, or give %s", delimName(delimiter), delimName(d), delimName(d))
		}
	}
	return nil
}

func delimName(d rune) string {
	if d == '\t' {
		return "tab"
	}
	return fmt.Sprintf("'%c'", d)
}

// estimateRows guesses a file's row count from its size and the lines in
// the buffer, so that the groups slice is allocated once: growing a slice
// of a million groups copies them again and again, under GC write
// barriers, and cost more than parsing them.
func estimateRows(r io.Reader, br *bufio.Reader) int {
	f, ok := r.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return 0
	}
	info, err := f.Stat()
	if err != nil {
		return 0
	}
	sample, _ := br.Peek(br.Size())
	lines := bytes.Count(sample, []byte("\n"))
	if lines == 0 {
		return 0
	}
	rows := int(info.Size()) / max(len(sample)/lines, 1)
	return min(rows+rows/8+16, 1<<26)
}

func csvError(err error) *ParseError {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		hint := ""
		if errors.Is(pe.Err, csv.ErrBareQuote) {
			hint = ` (a cell that holds quotes, like a JSON cell, must be quoted with its quotes doubled: "{""40"": ""213""}")`
		}
		return &ParseError{Line: pe.StartLine, Err: fmt.Errorf("malformed CSV: %v%s; the rest of the file was not read", pe.Err, hint)}
	}
	return &ParseError{Err: err}
}

// detectDelimiter picks whichever of ',', ';' and tab the header line uses
// most outside quotes; Excel in many European locales writes ';'.
func detectDelimiter(br *bufio.Reader) rune {
	b, _ := br.Peek(br.Size())
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	counts := map[byte]int{}
	quoted := false
	for _, c := range b {
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == ',' || c == ';' || c == '\t'):
			counts[c]++
		}
	}
	best := byte(',')
	for _, c := range []byte{';', '\t'} {
		if counts[c] > counts[best] {
			best = c
		}
	}
	return rune(best)
}

// rowParser turns records into groups according to the header.
type rowParser struct {
	opts    Options
	cols    []column
	managed reconcile.Fields
	// flat are the map fields that have flattened columns, and nFlat how
	// many each has, to size each row's slices once.
	flat  []*reconcile.Field
	nFlat []int
	line  int
	errs  Errors
}

func (p *rowParser) fail(field string, err error) {
	p.errs = append(p.errs, &ParseError{Line: p.line, Field: field, Err: err})
}

var idAliases = map[string]bool{"user_group_id": true, "id": true, "provided_id": true, "customer_id": true}

// errReport marks a file that is a groupsync report, not a manifest.
var errReport = errors.New("this is a groupsync report (it has action, status and token columns), not a manifest")

func isReport(header []string) bool {
	n := 0
	for _, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "action", "status", "token":
			n++
		}
	}
	return n == 3
}

func newRowParser(header []string, opts Options) (*rowParser, Errors) {
	if isReport(header) {
		return nil, Errors{{Line: 1, Err: errReport}}
	}
	p := &rowParser{opts: opts, cols: make([]column, len(header))}
	var errs Errors
	headerErr := func(field, format string, args ...any) {
		errs = append(errs, &ParseError{Line: 1, Field: field, Err: fmt.Errorf(format, args...)})
	}
	seen := map[string]string{}
	for i, h := range header {
		if !utf8.ValidString(h) {
			headerErr("", "column %d: the header is not valid UTF-8", i+1)
			continue
		}
		c := classify(strings.TrimSpace(h))
		p.cols[i] = c
		switch c.kind {
		case colUnknown:
			headerErr("", "unknown column %s (columns are %s)", textsafe.Quote(h), knownColumns(opts))
			continue
		case colBlank:
			p.cols[i].name = fmt.Sprintf("column %d", i+1)
			continue
		}
		if c.kind == colPrevious && !opts.Customer {
			headerErr(c.name, "%v", customerOnly("column "+c.name))
			continue
		}
		if c.field != nil && c.field.Customer && !opts.Customer {
			headerErr(c.name, "%v", customerOnly("column "+c.name))
			continue
		}
		if prev, dup := seen[c.name]; dup {
			headerErr(c.name, "given twice, by columns %s and %s", textsafe.Quote(prev), textsafe.Quote(h))
		}
		seen[c.name] = h
		if c.field != nil {
			p.managed |= c.field.Bit
		}
		if c.kind == colFieldKey {
			p.cols[i].flat = p.flatIndex(c.field)
			p.nFlat[p.cols[i].flat]++
		}
	}
	_, hasID := seen["user_group_id"]
	_, hasName := seen["name"]
	if !hasID {
		headerErr("", "no user_group_id column (or id, provided_id, customer_id)")
	}
	if !hasName {
		headerErr("", "no name column")
	}
	if !hasID || !hasName {
		// Every row would repeat the same complaint.
		return nil, errs
	}
	return p, errs
}

// flatIndex returns the index of f among the fields with flattened
// columns, adding it when it is new.
func (p *rowParser) flatIndex(f *reconcile.Field) int {
	for i, g := range p.flat {
		if g == f {
			return i
		}
	}
	p.flat, p.nFlat = append(p.flat, f), append(p.nFlat, 0)
	return len(p.flat) - 1
}

func knownColumns(opts Options) string {
	// Flattened columns come after the plain common ones, and the
	// Customer API's fields last, as the README lists them.
	common, flat, customer := []string{"user_group_id", "name"}, []string{}, []string{}
	for _, f := range reconcile.Table {
		switch {
		case f.Customer && !opts.Customer:
		case f.Customer:
			customer = append(customer, f.Name)
		default:
			common = append(common, f.Name)
		}
		if f.Key != "" {
			flat = append(flat, f.Name+".<"+f.Key+">")
		}
	}
	if opts.Customer {
		customer = append(customer, previousKey)
	}
	out := append(append(common, flat...), customer...)
	return strings.Join(out, ", ")
}

func classify(h string) column {
	lower := strings.ToLower(h)
	switch {
	case h == "":
		return column{kind: colBlank}
	case idAliases[lower]:
		return column{kind: colID, name: "user_group_id"}
	case lower == "name":
		return column{kind: colName, name: "name"}
	case lower == previousKey:
		return column{kind: colPrevious, name: previousKey}
	}
	if f := reconcile.FieldNamed(lower); f != nil {
		return column{kind: colField, name: f.Name, field: f}
	}
	for _, f := range reconcile.Table {
		if f.Type != reconcile.TypeIDs && f.Type != reconcile.TypeJSON {
			continue
		}
		if prefix := f.Name + "."; strings.HasPrefix(lower, prefix) && len(h) > len(prefix) {
			key := h[len(prefix):]
			return column{kind: colFieldKey, name: prefix + key, field: f, key: key}
		}
	}
	return column{kind: colUnknown}
}

// keepBroken reports whether a row with errors still names a valid id, to
// be checked for duplicates.
func (p *rowParser) keepBroken(g *reconcile.Group) bool {
	return g.Source.Line > 0 && checkID(g.ID) == nil
}

// row parses one record into g and reports whether it holds a group: a
// blank row or a row with errors does not.
func (p *rowParser) row(rec []string, line int, g *reconcile.Group) bool {
	p.line = line
	if blank(rec) {
		return false
	}
	n0 := len(p.errs)
	if len(rec) != len(p.cols) {
		p.fail("", fmt.Errorf("the row has %d cells but the header has %d", len(rec), len(p.cols)))
		return false
	}
	g.Managed, g.Source.Line = p.managed, line
	var flat []reconcile.Pairs
	if len(p.flat) > 0 {
		flat = make([]reconcile.Pairs, len(p.flat))
		for i, n := range p.nFlat {
			flat[i] = make(reconcile.Pairs, 0, n)
		}
	}
	for i, c := range p.cols {
		cell := rec[i]
		if !utf8.ValidString(cell) {
			p.fail(c.name, errors.New("not valid UTF-8 (save the file as UTF-8)"))
			// Keep a placeholder so the id and name checks do not
			// also call the cell missing.
			if c.kind != colID && c.kind != colName {
				continue
			}
			cell = strings.ToValidUTF8(cell, "\uFFFD")
		}
		if err := p.cell(g, c, cell, flat); err != nil {
			p.fail(c.name, err)
		}
	}
	if err := checkID(g.ID); err != nil {
		p.fail("user_group_id", err)
	}
	if err := checkName(g.Name); err != nil {
		p.fail("name", err)
	}
	for i, f := range p.flat {
		merged, err := mergeFlat(f.Pairs(g), flat[i], f.Name)
		if err != nil {
			p.fail(f.Name, err)
		}
		f.SetPairs(g, merged)
	}
	return len(p.errs) == n0
}

func (p *rowParser) cell(g *reconcile.Group, c column, cell string, flat []reconcile.Pairs) error {
	switch c.kind {
	case colID:
		g.ID = cell
	case colName:
		g.Name = cell
	case colField:
		return fieldCell(g, c.field, cell)
	case colPrevious:
		return previousCell(g, strings.TrimSpace(cell))
	case colFieldKey:
		v := strings.TrimSpace(cell)
		if v == "" {
			return nil
		}
		if c.field.Type == reconcile.TypeJSON {
			v = canonjson.Quote(v)
		} else if err := checkScientific(v); err != nil {
			return err
		}
		flat[c.flat] = append(flat[c.flat], reconcile.Pair{Key: c.key, Value: v})
	case colBlank:
		if strings.TrimSpace(cell) != "" {
			return fmt.Errorf("holds %s but the column has no header name", textsafe.Quote(cell))
		}
	}
	return nil
}

// fieldCell reads one cell holding field f into g. An empty cell is the
// field's empty value: false, {}, [], the root level, no parent.
func fieldCell(g *reconcile.Group, f *reconcile.Field, cell string) error {
	switch f.Type {
	case reconcile.TypeBool:
		b, err := parseBool(cell)
		f.SetBool(g, b)
		return err
	case reconcile.TypeIDs, reconcile.TypeJSON:
		conv := propertyValue
		if f.Type == reconcile.TypeIDs {
			conv = mappingValue
		}
		p, err := objectCell(cell, conv)
		f.SetPairs(g, p)
		return err
	case reconcile.TypeSet:
		l, err := listCell(cell)
		f.SetList(g, l)
		return err
	}
	v, err := nameValue(f, strings.TrimSpace(cell))
	f.SetText(g, v)
	return err
}

// mergeFlat adds the keys of flattened columns to those of the JSON cell.
// Flattened columns are few and already in header order, so a linear scan
// beats building a map per row.
func mergeFlat(cell, flat reconcile.Pairs, what string) (reconcile.Pairs, error) {
	switch {
	case len(flat) == 0 && cell == nil:
		return reconcile.Pairs{}, nil
	case len(flat) == 0:
		return cell, nil
	case len(cell) == 0:
		return reconcile.SortPairs(flat), nil
	}
	for _, kv := range flat {
		if _, dup := cell.Get(kv.Key); dup {
			return nil, fmt.Errorf("key %s is given both in the %s cell and in column %s.%s", textsafe.Quote(kv.Key), what, what, textsafe.Cut(kv.Key))
		}
	}
	return reconcile.SortPairs(append(cell, flat...)), nil
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}
