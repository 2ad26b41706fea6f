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
	"groupsync/reconcile"
)

type colKind uint8

const (
	colUnknown colKind = iota
	colID
	colName
	colDemo
	colMapping
	colProperties
	colMappingKey
	colPropertyKey
	colCustomer // emails, group_tags, hierarchy_level_name, parent_provided_id
	colBlank    // an unnamed column, as spreadsheets leave after the last one
)

type column struct {
	kind colKind
	// name is the column's canonical name, used in messages.
	name string
	// key is the mapping or property key of a flattened column.
	key string
	// field is the Customer API field of a colCustomer column.
	field reconcile.Fields
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
	// nMapping and nProps count flattened columns, to size each row's
	// slices once.
	nMapping, nProps int
	line             int
	errs             Errors
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
			headerErr("", "unknown column %q (columns are %s)", h, knownColumns(opts))
			continue
		case colBlank:
			p.cols[i].name = fmt.Sprintf("column %d", i+1)
			continue
		case colCustomer:
			if !opts.Customer {
				headerErr(c.name, "%v", customerOnly("column "+c.name))
				continue
			}
		}
		if prev, dup := seen[c.name]; dup {
			headerErr(c.name, "given twice, by columns %q and %q", prev, h)
		}
		seen[c.name] = h
		p.managed |= c.fields()
		switch c.kind {
		case colMappingKey:
			p.nMapping++
		case colPropertyKey:
			p.nProps++
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

func knownColumns(opts Options) string {
	cols := "user_group_id, name, is_demo_group, mapping, properties, mapping.<schema id>, properties.<key>"
	if opts.Customer {
		cols += ", emails, group_tags, hierarchy_level_name, parent_provided_id"
	}
	return cols
}

func classify(h string) column {
	lower := strings.ToLower(h)
	if f, ok := customerFields[lower]; ok {
		return column{kind: colCustomer, name: f.name, field: f.field}
	}
	switch {
	case h == "":
		return column{kind: colBlank}
	case idAliases[lower]:
		return column{kind: colID, name: "user_group_id"}
	case lower == "name":
		return column{kind: colName, name: "name"}
	case lower == "is_demo_group":
		return column{kind: colDemo, name: "is_demo_group"}
	case lower == "mapping":
		return column{kind: colMapping, name: "mapping"}
	case lower == "properties":
		return column{kind: colProperties, name: "properties"}
	case strings.HasPrefix(lower, "mapping.") && len(h) > len("mapping."):
		key := h[len("mapping."):]
		return column{kind: colMappingKey, name: "mapping." + key, key: key}
	case strings.HasPrefix(lower, "properties.") && len(h) > len("properties."):
		key := h[len("properties."):]
		return column{kind: colPropertyKey, name: "properties." + key, key: key}
	}
	return column{kind: colUnknown}
}

func (c column) fields() reconcile.Fields {
	switch c.kind {
	case colDemo:
		return reconcile.FieldIsDemo
	case colMapping, colMappingKey:
		return reconcile.FieldMapping
	case colProperties, colPropertyKey:
		return reconcile.FieldProperties
	case colCustomer:
		return c.field
	}
	return 0
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
	g.Managed, g.Source.Line = p.managed&^reconcile.CustomerFields, line
	var flatMapping, flatProps reconcile.Pairs
	if p.nMapping > 0 {
		flatMapping = make(reconcile.Pairs, 0, p.nMapping)
	}
	if p.nProps > 0 {
		flatProps = make(reconcile.Pairs, 0, p.nProps)
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
		if err := p.cell(g, c, cell, &flatMapping, &flatProps); err != nil {
			p.fail(c.name, err)
		}
	}
	if err := checkID(g.ID); err != nil {
		p.fail("user_group_id", err)
	}
	if err := checkName(g.Name); err != nil {
		p.fail("name", err)
	}
	var err error
	if g.Mapping, err = mergeFlat(g.Mapping, flatMapping, "mapping"); err != nil {
		p.fail("mapping", err)
	}
	if g.Properties, err = mergeFlat(g.Properties, flatProps, "properties"); err != nil {
		p.fail("properties", err)
	}
	return len(p.errs) == n0
}

func (p *rowParser) cell(g *reconcile.Group, c column, cell string, flatMapping, flatProps *reconcile.Pairs) error {
	var err error
	switch c.kind {
	case colID:
		g.ID = cell
	case colName:
		g.Name = cell
	case colDemo:
		g.IsDemo, err = parseBool(cell)
	case colMapping:
		g.Mapping, err = objectCell(cell, mappingValue)
	case colProperties:
		g.Properties, err = objectCell(cell, propertyValue)
	case colMappingKey:
		if v := strings.TrimSpace(cell); v != "" {
			if err = checkScientific(v); err == nil {
				*flatMapping = append(*flatMapping, reconcile.Pair{Key: c.key, Value: v})
			}
		}
	case colPropertyKey:
		if v := strings.TrimSpace(cell); v != "" {
			*flatProps = append(*flatProps, reconcile.Pair{Key: c.key, Value: canonjson.Quote(v)})
		}
	case colCustomer:
		err = customerCell(g, c.field, cell)
	case colBlank:
		if strings.TrimSpace(cell) != "" {
			err = fmt.Errorf("holds %q but the column has no header name", cell)
		}
	}
	return err
}

// customerCell reads one Customer API cell into g. An empty level means
// the root level, an empty parent no parent.
func customerCell(g *reconcile.Group, f reconcile.Fields, cell string) error {
	switch f {
	case reconcile.FieldEmails, reconcile.FieldTags:
		list, err := listCell(cell)
		if err != nil {
			return err
		}
		setCustomer(g, f, list, "")
		return nil
	}
	v := strings.TrimSpace(cell)
	if err := checkText(v); err != nil {
		return err
	}
	if f == reconcile.FieldParent && v != "" {
		if err := checkScientific(v); err != nil {
			return err
		}
	}
	setCustomer(g, f, nil, v)
	return nil
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
			return nil, fmt.Errorf("key %q is given both in the %s cell and in column %s.%s", kv.Key, what, what, kv.Key)
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
