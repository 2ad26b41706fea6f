package sandbox

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A seed file holds the customers a sandbox starts with, for demos: a
// JSON array of objects or a CSV file with a header row, one customer
// each. The keys (or columns) are below; only provided_id and name are
// required. In CSV, tags and emails are a JSON array or values separated
// by commas, properties and mapping a JSON object, and an empty cell is
// the same as no column.
var seedKeys = map[string]string{
	"provided_id": "provided_id", "id": "provided_id",
	"name":   "name",
	"parent": "parent", "parent_provided_id": "parent",
	"level": "level", "hierarchy_level_name": "level", "hierarchy_level": "level",
	"tags": "tags", "group_tags": "tags",
	"emails":        "emails",
	"properties":    "properties",
	"mapping":       "mapping",
	"is_demo_group": "is_demo_group",
	"token":         "token",
}

const seedKeyList = "provided_id, name, parent, level, tags, emails, properties, mapping, is_demo_group, token"

// seedEntry is one customer of a seed file and where it is.
type seedEntry struct {
	line int
	g    Group
}

// LoadSeed adds the customers of the seed file at path (.json or .csv)
// to the store, as if they had been created in that order before the
// sandbox started, and returns how many. Each must be valid as
// create_customer would take it (levels, tags and parents that exist, a
// parent strictly higher); a missing token is generated. The file is
// loaded whole or not at all: every problem is reported, each as
// PATH:LINE: FIELD: message.
func (s *Server) LoadSeed(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	entries, problems, err := parseSeed(path, data)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	problems = append(problems, s.checkSeed(entries)...)
	if len(problems) > 0 {
		return 0, problems.err(path)
	}
	for i := range entries {
		g := entries[i].g
		s.put(&g)
	}
	return len(entries), nil
}

// seedProblems are what is wrong with a seed file, by line.
type seedProblems []seedProblem

type seedProblem struct {
	line int
	msg  string
}

func (p *seedProblems) add(line int, format string, a ...any) {
	*p = append(*p, seedProblem{line, fmt.Sprintf(format, a...)})
}

// err is every problem, one a line, in the order of the file.
func (p seedProblems) err(path string) error {
	slices.SortStableFunc(p, func(a, b seedProblem) int { return a.line - b.line })
	errs := make([]error, len(p))
	for i, q := range p {
		errs[i] = fmt.Errorf("%s:%d: %s", path, q.line, q.msg)
	}
	return errors.Join(errs...)
}

// parseSeed reads a seed file by its extension: the customers it could
// read, and what is wrong with the others. An error is a file that
// cannot be read at all; it names the file.
func parseSeed(path string, data []byte) ([]seedEntry, seedProblems, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var entries []seedEntry
	var problems seedProblems
	add := func(line int, fields []seedField) {
		var g Group
		ok := true
		for _, f := range fields {
			if err := f.set(&g); err != nil {
				problems.add(f.line, "%s: %v", f.key, err)
				ok = false
			}
		}
		for _, key := range []string{"provided_id", "name"} {
			if !slices.ContainsFunc(fields, func(f seedField) bool { return seedKeys[f.key] == key }) {
				problems.add(line, "%s: required", key)
				ok = false
			}
		}
		if ok {
			entries = append(entries, seedEntry{line: line, g: g})
		}
	}
	var err error
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".json":
		err = readSeedJSON(data, add)
	case ".csv":
		err = readSeedCSV(data, add)
	default:
		return nil, nil, fmt.Errorf("%s: a seed file is .json or .csv, not %q", path, ext)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s:%w", path, err)
	}
	return entries, problems, nil
}

// seedField is one key of one customer, its value as written: JSON in a
// JSON file, the cell's text in CSV.
type seedField struct {
	key  string
	line int
	raw  []byte
	csv  bool
}

func readSeedJSON(data []byte, add func(int, []seedField)) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	lineAt := func() int { return 1 + bytes.Count(data[:dec.InputOffset()], []byte("\n")) }
	short := func(err error) error {
		if err == nil {
			return fmt.Errorf("%d: not a JSON object key", lineAt())
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%d: the file ends inside the array", lineAt())
		}
		return fmt.Errorf("%d: %v", lineAt(), err)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return fmt.Errorf("%d: a JSON seed file is an array of customers", lineAt())
	}
	for dec.More() {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return fmt.Errorf("%d: each customer is a JSON object", lineAt())
		}
		line := lineAt()
		var fields []seedField
		for dec.More() {
			tok, err := dec.Token()
			key, ok := tok.(string)
			if err != nil || !ok {
				return short(err)
			}
			f := seedField{key: key, line: lineAt()}
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return short(err)
			}
			if string(v) == "null" {
				continue // the same as no key
			}
			if slices.ContainsFunc(fields, func(o seedField) bool { return seedKeys[o.key] != "" && seedKeys[o.key] == seedKeys[f.key] }) {
				return fmt.Errorf("%d: %s: the field is given twice", f.line, f.key)
			}
			f.raw = v
			fields = append(fields, f)
		}
		if _, err := dec.Token(); err != nil {
			return short(err)
		}
		add(line, fields)
	}
	if _, err := dec.Token(); err != nil {
		return short(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%d: data after the array", lineAt())
	}
	return nil
}

func readSeedCSV(data []byte, add func(int, []seedField)) error {
	r := csv.NewReader(bytes.NewReader(data))
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("1: a CSV seed file starts with a header row: %v", err)
	}
	seen := map[string]string{}
	for i, h := range header {
		header[i] = strings.ToLower(strings.TrimSpace(h))
		key := seedKeys[header[i]]
		if key == "" {
			return fmt.Errorf("1: unknown column %q (columns: %s)", h, seedKeyList)
		}
		if prev, twice := seen[key]; twice {
			return fmt.Errorf("1: columns %q and %q are the same field", prev, h)
		}
		seen[key] = h
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return fmt.Errorf("%d: %v", pe.Line, pe.Err)
		}
		if err != nil {
			return fmt.Errorf("%v", err)
		}
		line, _ := r.FieldPos(0)
		var fields []seedField
		for i, cell := range rec {
			if cell != "" {
				l, _ := r.FieldPos(i)
				fields = append(fields, seedField{key: header[i], line: l, raw: []byte(cell), csv: true})
			}
		}
		add(line, fields)
	}
}

// set stores the field in g.
func (f seedField) set(g *Group) error {
	switch seedKeys[f.key] {
	case "provided_id":
		return f.text(&g.ID)
	case "name":
		return f.text(&g.Name)
	case "parent":
		return f.text(&g.Parent)
	case "level":
		return f.text(&g.Level)
	case "token":
		return f.text(&g.Token)
	case "tags":
		return f.list(&g.Tags)
	case "emails":
		return f.list(&g.Emails)
	case "is_demo_group":
		return f.boolean(&g.IsDemo)
	case "mapping":
		if err := json.Unmarshal(f.raw, &g.Mapping); err != nil {
			return errors.New("must be a JSON object of schema id to data source id strings")
		}
	case "properties":
		var m map[string]any
		if json.Unmarshal(f.raw, &m) != nil || m == nil {
			return errors.New("must be a JSON object")
		}
		g.Properties = json.RawMessage(f.raw)
	default:
		return errors.New("unknown key (keys: " + seedKeyList + ")")
	}
	return nil
}

func (f seedField) text(dst *string) error {
	if f.csv {
		*dst = string(f.raw)
	} else if json.Unmarshal(f.raw, dst) != nil {
		return errors.New("must be a string")
	}
	if strings.TrimSpace(*dst) != *dst || *dst == "" {
		return fmt.Errorf("%q: must be non-empty, without leading or trailing spaces", *dst)
	}
	return nil
}

func (f seedField) list(dst *[]string) error {
	if !f.csv || bytes.HasPrefix(bytes.TrimSpace(f.raw), []byte("[")) {
		if json.Unmarshal(f.raw, dst) != nil {
			return errors.New("must be a list of strings")
		}
		return nil
	}
	for _, v := range strings.Split(string(f.raw), ",") {
		if v = strings.TrimSpace(v); v != "" {
			*dst = append(*dst, v)
		}
	}
	return nil
}

func (f seedField) boolean(dst *bool) error {
	if !f.csv {
		if json.Unmarshal(f.raw, dst) != nil {
			return errors.New("must be true or false")
		}
		return nil
	}
	switch strings.ToLower(string(f.raw)) {
	case "true", "yes", "1":
		*dst = true
	case "false", "no", "0":
		*dst = false
	default:
		return fmt.Errorf("%q: must be true or false", f.raw)
	}
	return nil
}

// checkSeed refuses what create_customer would: unknown levels and tags,
// missing parents and parents that are not higher, and also ids and
// tokens that are taken. Callers hold s.mu.
func (s *Server) checkSeed(entries []seedEntry) seedProblems {
	byID := map[string]*seedEntry{}
	tokens := map[string]string{}
	for _, g := range s.groups {
		tokens[g.Token] = g.ID
	}
	var problems seedProblems
	bad := func(e *seedEntry, format string, a ...any) { problems.add(e.line, format, a...) }
	for i := range entries {
		e := &entries[i]
		switch prev := byID[e.g.ID]; {
		case prev != nil:
			bad(e, "provided_id: %q is also on line %d", e.g.ID, prev.line)
		case s.groups[e.g.ID] != nil:
			bad(e, "provided_id: %q already exists", e.g.ID)
		}
		byID[e.g.ID] = e
		if e.g.Level == "" {
			e.g.Level = s.cfg.Levels[0]
		}
		if s.levelIndex(e.g.Level) < 0 {
			bad(e, "level: hierarchy level %q does not exist (levels: %s)", e.g.Level, strings.Join(s.cfg.Levels, ", "))
		}
		for _, t := range e.g.Tags {
			if !slices.Contains(s.cfg.Tags, t) {
				bad(e, "tags: group tag %q does not exist (tags: %s)", t, strings.Join(s.cfg.Tags, ", "))
			}
		}
		if len(e.g.Name) > maxNameLen {
			bad(e, "name: longer than %d characters", maxNameLen)
		}
		if e.g.Token != "" {
			if holder, taken := tokens[e.g.Token]; taken {
				bad(e, "token: %q has the same token", holder)
			}
			tokens[e.g.Token] = e.g.ID
		}
	}
	for i := range entries {
		e := &entries[i]
		if e.g.Parent == "" {
			continue
		}
		level := ""
		if p := byID[e.g.Parent]; p != nil {
			level = p.g.Level
		} else if p := s.groups[e.g.Parent]; p != nil {
			level = p.Level
		} else {
			bad(e, "parent: customer %q does not exist", e.g.Parent)
			continue
		}
		if s.levelIndex(level) >= s.levelIndex(e.g.Level) {
			bad(e, "parent: %q is at level %q, which is not higher than %q", e.g.Parent, level, e.g.Level)
		}
	}
	return problems
}
