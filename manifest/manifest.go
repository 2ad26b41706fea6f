// Package manifest loads the desired user groups from CSV and YAML files,
// as spreadsheets and people write them, into [reconcile.Group] values that
// carry their file and line. It validates everything before returning, and
// reports every problem at once as a [ParseError], so that a bad row is
// explained before any call is made.
package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"groupsync/reconcile"
)

// ParseError is one problem in a manifest, at a line of a file.
type ParseError struct {
	File string
	Line int
	// Field is the column or key at fault, when there is one.
	Field string
	Err   error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
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
	// Delimiter forces the CSV delimiter; 0 detects it from the header.
	Delimiter rune
}

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
// .yaml and .yml files, sorted by name). It returns [Errors] listing every
// problem in every file; the manifest is only usable when the error is nil.
func Load(paths []string, opts Options) (*Manifest, error) {
	files, err := expand(paths)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Files: files}
	var errs Errors
	var seen map[string]int
	for _, file := range files {
		groups, ferrs := loadFile(file, opts)
		errs = append(errs, ferrs...)
		if len(groups) == 0 && len(ferrs) == 0 {
			m.Warnings = append(m.Warnings, fmt.Sprintf("%s: no groups in this file", file))
		}
		if seen == nil {
			seen = make(map[string]int, len(groups))
		}
		groups, derrs := m.dedup(groups, seen)
		errs = append(errs, derrs...)
		if m.Groups == nil {
			m.Groups = groups
		} else {
			m.Groups = append(m.Groups, groups...)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// dedup drops, in place, the groups whose id came earlier, and reports each
// with both places. seen maps ids to their index in m.Groups.
func (m *Manifest) dedup(groups []reconcile.Group, seen map[string]int) ([]reconcile.Group, Errors) {
	var errs Errors
	out := groups[:0]
	for i := range groups {
		g := &groups[i]
		if first, dup := seen[g.ID]; dup {
			var where reconcile.Source
			if first < len(m.Groups) {
				where = m.Groups[first].Source
			} else {
				where = out[first-len(m.Groups)].Source
			}
			errs = append(errs, &ParseError{File: g.Source.File, Line: g.Source.Line, Field: "user_group_id",
				Err: fmt.Errorf("duplicate id %q (first at %s)", g.ID, where)})
			continue
		}
		seen[g.ID] = len(m.Groups) + len(out)
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

func loadFile(file string, opts Options) ([]reconcile.Group, Errors) {
	f, err := os.Open(file)
	if err != nil {
		return nil, Errors{{File: file, Err: err}}
	}
	defer f.Close()
	var groups []reconcile.Group
	var errs Errors
	if isCSV(file) {
		groups, errs = ParseCSV(f, opts.Delimiter)
	} else {
		groups, errs = ParseYAML(f)
	}
	for _, e := range errs {
		e.File = file
	}
	for i := range groups {
		groups[i].Source.File = file
	}
	return groups, errs
}

func isCSV(name string) bool { return strings.EqualFold(filepath.Ext(name), ".csv") }

func isManifest(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".yaml", ".yml":
		return true
	}
	return false
}

// expand turns the -f arguments into a list of files.
func expand(paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no manifest given: use -f FILE or -f DIR")
	}
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			if !isManifest(p) {
				return nil, fmt.Errorf("%s: not a manifest: the name must end in .csv, .yaml or .yml", p)
			}
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		n := len(files)
		for _, e := range entries {
			if !e.IsDir() && isManifest(e.Name()) {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
		if len(files) == n {
			return nil, fmt.Errorf("%s: no .csv, .yaml or .yml file in this directory", p)
		}
	}
	// The same file named twice (or by its directory and by name) is read
	// once, rather than reported as duplicating every id of its own.
	seen := map[string]bool{}
	return slices.DeleteFunc(files, func(f string) bool {
		dup := seen[filepath.Clean(f)]
		seen[filepath.Clean(f)] = true
		return dup
	}), nil
}
