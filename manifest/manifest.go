// Package manifest loads the desired user groups from CSV and YAML files,
// Excel workbooks and standard input, as spreadsheets, databases and
// people write them, into [reconcile.Group] values that carry their file
// and line. It validates everything before returning, and
// reports every problem at once as a [ParseError], so that a bad row is
// explained before any call is made.
package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/text/unicode/norm"

	"groupsync/internal/textsafe"
	"groupsync/reconcile"
)

// ParseError is one problem in a manifest, at a line of a file.
type ParseError struct {
	File string
	// Line is the line of a CSV or YAML file, the row of a workbook's
	// sheet (File is then FILE#SHEET).
	Line int
	// Cell is the workbook's cell at fault, like B7, when one is.
	Cell string
	// Field is the column or key at fault, when there is one.
	Field string
	Err   error
}

// Error reads FILE:LINE: field: message, or FILE#SHEET!CELL: field:
// message for a cell of a workbook.
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(textsafe.Cut(e.File))
	switch {
	case e.Cell != "":
		b.WriteString("!" + e.Cell)
	case e.Line > 0:
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(textsafe.Cut(e.Field) + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Errors is every problem found in a load, in file and line order.
type Errors []*ParseError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Options tunes loading.
type Options struct {
	// Delimiter forces the CSV delimiter; 0 detects it from the header
	// (.tsv files are always tab-delimited).
	Delimiter rune
	// Customer allows the Customer API's fields (emails, group_tags,
	// hierarchy_level_name, parent_provided_id).
	Customer bool

	// aliases is the run's budget for YAML aliases, shared by the files
	// of one Load; without one a file gets the whole allowance.
	aliases *aliasBudget
	// Stdin is what -f - reads, in StdinFormat (FormatCSV when empty).
	Stdin       io.Reader
	StdinFormat string
}

// The formats of a manifest on standard input.
const (
	FormatCSV  = "csv"
	FormatYAML = "yaml"
)

// StdinName names standard input in messages.
const StdinName = "<stdin>"

// Manifest is what a load found.
type Manifest struct {
	Groups []reconcile.Group
	Files  []string
	// Warnings are not errors: an empty file is valid but probably not
	// what the user meant.
	Warnings []string
}

// Managed is every optional field any group manages.
func (m *Manifest) Managed() reconcile.Fields {
	var f reconcile.Fields
	for i := range m.Groups {
		f |= m.Groups[i].Managed
	}
	return f
}

// Load reads every file named by paths (a directory stands for its .csv,
// .tsv, .yaml, .yml and .xlsx files, sorted by name, skipping groupsync
// reports; FILE.xlsx#SHEET names a sheet; "-" is opts.Stdin, once).
// It returns [Errors] listing every problem in every file; the manifest is
// only usable when the error is nil.
func Load(paths []string, opts Options) (*Manifest, error) {
	files, err := expand(paths)
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	var errs Errors
	d := dedup{seen: map[string]int{}}
	opts.aliases = newAliasBudget()
	for _, file := range files {
		name, groups, ferrs := loadSource(file, opts)
		if file.inDir && len(ferrs) == 1 && errors.Is(ferrs[0].Err, errReport) {
			m.Warnings = append(m.Warnings, fmt.Sprintf("%s: a groupsync report, not a manifest: skipped", textsafe.Cut(name)))
			continue
		}
		m.Files = append(m.Files, name)
		errs = append(errs, ferrs...)
		if len(groups) == 0 && len(ferrs) == 0 {
			m.Warnings = append(m.Warnings, fmt.Sprintf("%s: no groups in this file", textsafe.Cut(name)))
		}
		groups, derrs := d.drop(m.Groups, groups)
		errs = append(errs, derrs...)
		if m.Groups == nil {
			m.Groups = groups
		} else {
			m.Groups = append(m.Groups, groups...)
		}
	}
	for i := range m.Groups {
		m.Groups[i].ID = reconcile.NormalID(m.Groups[i].ID)
	}
	errs = append(errs, across(m.Groups, opts)...)
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// dedup finds ids given twice, also when they differ only in their
// Unicode form (a precomposed é and an e with a combining accent), which
// the service would likely take for the same customer.
type dedup struct {
	// seen maps an id, normalised, to its index in the groups kept.
	seen map[string]int
}

// drop drops, in place, the groups of groups whose id came earlier, and
// reports each with both places. kept are the groups of earlier files.
func (d *dedup) drop(kept, groups []reconcile.Group) ([]reconcile.Group, Errors) {
	var errs Errors
	out := groups[:0]
	for i := range groups {
		g := &groups[i]
		key := g.ID
		if !ascii(key) && !norm.NFC.IsNormalString(key) {
			key = norm.NFC.String(key)
		}
		if first, dup := d.seen[key]; dup {
			var prev *reconcile.Group
			if first < len(kept) {
				prev = &kept[first]
			} else {
				prev = &out[first-len(kept)]
			}
			msg := fmt.Errorf("duplicate id %s (first at %s)", textsafe.Quote(g.ID), prev.Source)
			if prev.ID != g.ID {
				// %+q shows the two forms apart, which on screen look the same.
				msg = fmt.Errorf("duplicate id %s (first at %s as %s: the two are the same once Unicode-normalised)", textsafe.QuoteASCII(g.ID), prev.Source, textsafe.QuoteASCII(prev.ID))
			}
			errs = append(errs, &ParseError{File: g.Source.File, Line: g.Source.Line, Field: "user_group_id", Err: msg})
			continue
		}
		d.seen[key] = len(kept) + len(out)
		// Copying a group onto itself costs write barriers; only move
		// groups once a duplicate has opened a gap.
		if len(out) == i {
			out = out[:i+1]
		} else {
			out = append(out, *g)
		}
	}
	return out, errs
}

func levelName(l string) string {
	if l == "" {
		return "the group"
	}
	return "level " + textsafe.Quote(l)
}

// ascii reports whether s is plain ASCII, which is always in NFC.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// loadSource reads one source, and names it, in its errors and groups and
// as it returns: FILE, FILE#SHEET for a workbook, or <stdin>.
func loadSource(src source, opts Options) (string, []reconcile.Group, Errors) {
	var r io.Reader = opts.Stdin
	if !src.stdin {
		f, err := os.Open(src.path)
		if err != nil {
			return src.name(), nil, Errors{{File: src.name(), Err: err}}
		}
		defer f.Close()
		r = f
	}
	name := src.name()
	var groups []reconcile.Group
	var errs Errors
	switch {
	case src.stdin && opts.StdinFormat == FormatYAML:
		groups, errs = ParseYAML(r, opts)
	case src.stdin:
		groups, errs = ParseCSV(r, opts)
	case src.kind() == ".xlsx":
		var sheet string
		sheet, groups, errs = ParseXLSX(r, src.sheet, opts)
		if sheet != "" {
			name = src.path + "#" + sheet
		}
	case src.kind() == ".csv":
		groups, errs = ParseCSV(r, opts)
	case src.kind() == ".tsv":
		opts.Delimiter = '\t'
		groups, errs = ParseCSV(r, opts)
	default:
		groups, errs = ParseYAML(r, opts)
	}
	for _, e := range errs {
		e.File = name
	}
	for i := range groups {
		groups[i].Source.File = name
	}
	return name, groups, errs
}

func isManifest(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".tsv", ".yaml", ".yml", ".xlsx":
		return true
	}
	return false
}

// workbook reports whether name is a spreadsheet's own format that
// groupsync does not read.
func workbook(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".xls", ".xlsm", ".xlsb", ".ods", ".numbers":
		return true
	}
	return false
}

// source is one file to load, and whether a directory named it.
type source struct {
	path  string
	inDir bool
	// sheet is the sheet of a workbook that FILE.xlsx#SHEET names.
	sheet string
	stdin bool
}

func (s source) name() string {
	if s.stdin {
		return StdinName
	}
	return s.path
}

func (s source) kind() string { return strings.ToLower(filepath.Ext(s.path)) }

// splitSheet splits FILE.xlsx#SHEET. A path that exists as it is, #
// included, is a file.
func splitSheet(p string) (path, sheet string) {
	i := strings.Index(strings.ToLower(p), ".xlsx#")
	if i < 0 {
		return p, ""
	}
	if _, err := os.Stat(p); err == nil {
		return p, ""
	}
	return p[:i+len(".xlsx")], p[i+len(".xlsx#"):]
}

// expand turns the -f arguments into a list of files.
func expand(paths []string) ([]source, error) {
	if len(paths) == 0 {
		return nil, errors.New("no manifest given: use -f FILE or -f DIR")
	}
	var files []source
	stdin := false
	for _, p := range paths {
		if p == "-" {
			if stdin {
				return nil, errors.New("-f - is given twice: standard input can be read only once")
			}
			stdin = true
			files = append(files, source{path: "-", stdin: true})
			continue
		}
		path, sheet := splitSheet(p)
		info, err := os.Stat(path)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, fmt.Errorf("-f %s: %w", textsafe.Cut(path), err)
		}
		if !info.IsDir() {
			switch {
			case workbook(path):
				return nil, fmt.Errorf("%s: %v", textsafe.Cut(path), errOtherWorkbook)
			case !isManifest(path):
				return nil, fmt.Errorf("%s: not a manifest: the name must end in .csv, .tsv, .yaml, .yml or .xlsx", textsafe.Cut(path))
			case sheet != "" && strings.ToLower(filepath.Ext(path)) != ".xlsx":
				return nil, fmt.Errorf("-f %s: only a workbook (.xlsx) has sheets", textsafe.Cut(p))
			}
			files = append(files, source{path: path, sheet: sheet})
			continue
		}
		if sheet != "" {
			return nil, fmt.Errorf("-f %s: %s is a directory, not a workbook", p, path)
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		n := len(files)
		for _, e := range entries {
			// Excel keeps a lock file, ~$NAME.xlsx, next to an open
			// workbook: it is not a workbook.
			if !e.IsDir() && isManifest(e.Name()) && !strings.HasPrefix(e.Name(), "~$") {
				files = append(files, source{path: filepath.Join(path, e.Name()), inDir: true})
			}
		}
		if len(files) == n {
			return nil, fmt.Errorf("%s: no .csv, .tsv, .yaml, .yml or .xlsx file in this directory", textsafe.Cut(path))
		}
	}
	// The same file named twice (or by its directory and by name) is read
	// once, rather than reported as duplicating every id of its own.
	seen := map[string]bool{}
	return slices.DeleteFunc(files, func(f source) bool {
		key := filepath.Clean(f.path) + "#" + strings.ToLower(f.sheet)
		dup := seen[key]
		seen[key] = true
		return dup
	}), nil
}
