package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"groupsync/internal/canonjson"
	"groupsync/internal/textsafe"
	"groupsync/reconcile"
)

// ParseYAML reads one YAML manifest: a mapping with optional defaults and a
// list of groups, or a bare list of groups. Errors carry the line of the
// node at fault but no file name; [Load] adds it. As with [ParseCSV], when
// there are errors the groups are for finding duplicates only.
func ParseYAML(r io.Reader, opts Options) ([]reconcile.Group, Errors) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, Errors{{Err: err}}
	}
	if bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")) || bytes.IndexByte(data, 0) >= 0 {
		return nil, Errors{{Line: 1, Err: errors.New("the file is UTF-16 or binary: save it as UTF-8")}}
	}
	if !utf8.Valid(data) {
		return nil, Errors{{Line: invalidUTF8Line(data), Err: errors.New("not valid UTF-8 (save the file as UTF-8)")}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{yamlSyntaxError(err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	if perr := checkAliases(doc.Content[0], opts.aliases); perr != nil {
		return nil, Errors{perr}
	}
	y := &yamlParser{opts: opts}
	root, perr := y.resolve(doc.Content[0])
	if perr != nil {
		return nil, Errors{perr}
	}
	switch root.Kind {
	case yaml.SequenceNode:
		return y.groups(root, nil)
	case yaml.MappingNode:
		return y.document(root)
	case yaml.ScalarNode:
		if root.Tag == "!!null" {
			return nil, nil
		}
	}
	return nil, Errors{y.errorf(root, "", "the file must be a list of groups, or a mapping with defaults and groups")}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlSyntaxError(err error) *ParseError {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ParseError{Line: line, Err: fmt.Errorf("invalid YAML: %s", m[2])}
	}
	return &ParseError{Err: fmt.Errorf("invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))}
}

func invalidUTF8Line(data []byte) int {
	line := 1
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		if r == utf8.RuneError && size <= 1 {
			return line
		}
		if r == '\n' {
			line++
		}
		data = data[size:]
	}
	return line
}

type yamlParser struct {
	opts Options
	errs Errors
	// expanding holds the anchors being expanded, to catch an alias
	// inside its own anchor. What aliases expand to was bounded before
	// (checkAliases).
	expanding []*yaml.Node
}

func (y *yamlParser) errorf(n *yaml.Node, field, format string, args ...any) *ParseError {
	return &ParseError{Line: n.Line, Field: field, Err: fmt.Errorf(format, args...)}
}

func (y *yamlParser) fail(n *yaml.Node, field, format string, args ...any) {
	y.errs = append(y.errs, y.errorf(n, field, format, args...))
}

// resolve follows an alias to the node it names.
func (y *yamlParser) resolve(n *yaml.Node) (*yaml.Node, *ParseError) {
	for i := 0; n.Kind == yaml.AliasNode; i++ {
		if n.Alias == nil || i > 100 {
			return nil, y.errorf(n, "", "alias *%s names nothing", textsafe.Cut(n.Value))
		}
		for _, e := range y.expanding {
			if e == n.Alias {
				return nil, y.errorf(n, "", "alias *%s is used inside its own anchor, a cycle", textsafe.Cut(n.Value))
			}
		}
		n = n.Alias
	}
	return n, nil
}

// document handles the {defaults, groups} form.
func (y *yamlParser) document(root *yaml.Node) ([]reconcile.Group, Errors) {
	var defaults *reconcile.Group
	var groups *yaml.Node
	y.eachKey(root, "", func(key string, k, v *yaml.Node) {
		switch key {
		case "defaults":
			defaults = y.group(v, true)
		case "groups":
			groups = v
		default:
			y.fail(k, "", "unknown key %s (the top level has defaults and groups)", textsafe.Quote(key))
		}
	})
	if groups == nil {
		y.fail(root, "", "no groups key: list the groups under groups:")
		return nil, y.errs
	}
	return y.groups(groups, defaults)
}

func (y *yamlParser) groups(seq *yaml.Node, defaults *reconcile.Group) ([]reconcile.Group, Errors) {
	seq, perr := y.resolve(seq)
	if perr != nil {
		return nil, append(y.errs, perr)
	}
	if seq.Kind != yaml.SequenceNode {
		if seq.Tag != "!!null" {
			y.fail(seq, "groups", "must be a list of groups")
		}
		return nil, y.errs
	}
	out := make([]reconcile.Group, 0, len(seq.Content))
	for _, n := range seq.Content {
		n0 := len(y.errs)
		g := y.group(n, false)
		// A group with errors is kept when its id is valid, so that its
		// duplicates are reported too; Load uses no group of a file
		// with errors.
		if g == nil || (len(y.errs) > n0 && checkID(g.ID) != nil) {
			continue
		}
		if defaults != nil {
			withDefaults(g, defaults)
		}
		out = append(out, *g)
	}
	return out, y.errs
}

// withDefaults merges d under g: g wins, maps merge key by key, and lists
// and single values are replaced.
func withDefaults(g, d *reconcile.Group) {
	for _, f := range reconcile.Table {
		if !d.Managed.Has(f.Bit) {
			continue
		}
		switch {
		case f.Type == reconcile.TypeIDs || f.Type == reconcile.TypeJSON:
			f.SetPairs(g, reconcile.SortPairs(append(append(reconcile.Pairs{}, f.Pairs(d)...), f.Pairs(g)...)))
		case !g.Managed.Has(f.Bit):
			f.Copy(g, d)
		}
	}
}

func (y *yamlParser) knownKeys() string {
	keys := "user_group_id, name, " + fieldNames(y.opts)
	if y.opts.Customer {
		keys += ", " + previousKey
	}
	return keys
}

// group reads one group (or the defaults, which have no id or name).
func (y *yamlParser) group(n *yaml.Node, isDefaults bool) *reconcile.Group {
	where := "group"
	if isDefaults {
		where = "defaults"
	}
	n, perr := y.resolve(n)
	if perr != nil {
		y.errs = append(y.errs, perr)
		return nil
	}
	if n.Kind != yaml.MappingNode {
		y.fail(n, "", "each %s must be a mapping of keys like user_group_id and name", where)
		return nil
	}
	g := &reconcile.Group{Source: reconcile.Source{Line: n.Line}}
	var idNode, nameNode *yaml.Node
	y.eachKey(n, where, func(key string, k, v *yaml.Node) {
		f := reconcile.FieldNamed(key)
		switch {
		case idAliases[key] && !isDefaults:
			idNode = v
		case key == "name" && !isDefaults:
			nameNode = v
		case key == previousKey && !isDefaults && !y.opts.Customer:
			y.fail(k, key, "%v", customerOnly(key))
		case key == previousKey && !isDefaults:
			if err := previousCell(g, y.name(&reconcile.Field{Name: previousKey}, v)); err != nil {
				y.fail(v, key, "%v", err)
			}
		case f != nil && f.Customer && !y.opts.Customer:
			y.fail(k, key, "%v", customerOnly(key))
		case f != nil:
			y.field(g, f, v)
		default:
			y.fail(k, "", "unknown key %s in %s (keys are %s)", textsafe.Quote(key), where, y.knownKeys())
		}
	})
	if !isDefaults {
		g.ID = y.scalar(n, idNode, "user_group_id", checkID)
		g.Name = y.scalar(n, nameNode, "name", checkName)
	}
	return g
}

// eachKey calls f for each key of a mapping, refusing duplicates (yaml
// keeps the last one silently when decoding into nodes). Values are given
// with their aliases resolved.
func (y *yamlParser) eachKey(n *yaml.Node, where string, f func(key string, k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			y.fail(k, "", "keys must be plain names")
			continue
		}
		name := k.Value
		if idAliases[name] {
			name = "user_group_id"
		}
		if seen[name] {
			y.fail(k, "", "key %s is given twice in this %s", textsafe.Quote(k.Value), where)
			continue
		}
		seen[name] = true
		rv, perr := y.resolve(v)
		if perr != nil {
			y.errs = append(y.errs, perr)
			continue
		}
		f(k.Value, k, rv)
	}
}

func isNumber(n *yaml.Node) bool { return n.Tag == "!!int" || n.Tag == "!!float" }

// scalar reads a required string field of a group; numbers are accepted
// as written, since ids are often numeric.
func (y *yamlParser) scalar(group, n *yaml.Node, field string, check func(string) error) string {
	if n == nil || n.Tag == "!!null" {
		y.fail(group, field, "missing: every group needs %s", field)
		return ""
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && !isNumber(n)) {
		y.fail(n, field, "must be a string")
		return ""
	}
	if err := check(n.Value); err != nil {
		y.fail(n, field, "%v", err)
	}
	return n.Value
}

// field reads the value of one managed field into g, by its type.
func (y *yamlParser) field(g *reconcile.Group, f *reconcile.Field, v *yaml.Node) {
	switch f.Type {
	case reconcile.TypeBool:
		f.SetBool(g, y.boolean(f, v))
	case reconcile.TypeIDs:
		f.SetPairs(g, y.mapping(f, v))
	case reconcile.TypeJSON:
		f.SetPairs(g, y.properties(f, v))
	case reconcile.TypeSet:
		f.SetList(g, y.list(f, v))
	default:
		f.SetText(g, y.name(f, v))
	}
}

func (y *yamlParser) boolean(f *reconcile.Field, v *yaml.Node) bool {
	if v.Kind != yaml.ScalarNode {
		y.fail(v, f.Name, "must be true or false")
		return false
	}
	if v.Tag == "!!null" {
		return false
	}
	b, err := parseBool(v.Value)
	if err != nil {
		y.fail(v, f.Name, "%v", err)
	}
	return b
}

// mapping reads schema id → data source id, both strings; numbers are
// converted as written, anything else is refused.
func (y *yamlParser) mapping(f *reconcile.Field, v *yaml.Node) reconcile.Pairs {
	out := reconcile.Pairs{}
	if v.Tag == "!!null" {
		return out
	}
	if v.Kind != yaml.MappingNode {
		y.fail(v, f.Name, "must be a mapping of schema id to data source id")
		return out
	}
	y.eachKey(v, f.Name, func(key string, k, val *yaml.Node) {
		if val.Kind != yaml.ScalarNode || (val.Tag != "!!str" && !isNumber(val)) {
			y.fail(val, f.Name+"."+key, "must be a string or a number (a data source id)")
			return
		}
		if err := checkScientific(val.Value); err != nil {
			y.fail(val, f.Name+"."+key, "%v", err)
			return
		}
		out = append(out, reconcile.Pair{Key: key, Value: val.Value})
	})
	return reconcile.SortPairs(out)
}

// properties reads free-form values, keeping their YAML types.
func (y *yamlParser) properties(f *reconcile.Field, v *yaml.Node) reconcile.Pairs {
	out := reconcile.Pairs{}
	if v.Tag == "!!null" {
		return out
	}
	if v.Kind != yaml.MappingNode {
		y.fail(v, f.Name, "must be a mapping of keys to values")
		return out
	}
	y.eachKey(v, f.Name, func(key string, k, val *yaml.Node) {
		x, err := y.value(val)
		if err != nil {
			y.fail(val, f.Name+"."+key, "%v", err)
			return
		}
		s, err := canonjson.Marshal(x)
		if err != nil {
			y.fail(val, f.Name+"."+key, "cannot be sent as JSON: %v", err)
			return
		}
		out = append(out, reconcile.Pair{Key: key, Value: s})
	})
	return reconcile.SortPairs(out)
}

// list reads a set of strings: a YAML list, or, as in a CSV cell, one
// string of values separated by commas.
func (y *yamlParser) list(f *reconcile.Field, v *yaml.Node) []string {
	switch {
	case v.Tag == "!!null":
		return []string{}
	case v.Kind == yaml.ScalarNode && v.Tag == "!!str":
		l, err := listCell(v.Value)
		if err != nil {
			y.fail(v, f.Name, "%v", err)
		}
		return l
	case v.Kind != yaml.SequenceNode:
		y.fail(v, f.Name, "must be a list of strings")
		return []string{}
	}
	list := []string{}
	for _, item := range v.Content {
		item, perr := y.resolve(item)
		if perr != nil {
			y.errs = append(y.errs, perr)
			return list
		}
		if item.Kind != yaml.ScalarNode || item.Tag == "!!null" || item.Value == "" {
			y.fail(item, f.Name, "must be a list of strings")
			return list
		}
		if err := checkText(item.Value); err != nil {
			y.fail(item, f.Name, "%v", err)
			return list
		}
		list = append(list, item.Value)
	}
	return reconcile.SortSet(list)
}

// name reads a string (or a number, as written) of a TypeName field.
func (y *yamlParser) name(f *reconcile.Field, v *yaml.Node) string {
	if v.Tag == "!!null" {
		return ""
	}
	if v.Kind != yaml.ScalarNode || (v.Tag != "!!str" && !isNumber(v)) {
		y.fail(v, f.Name, "must be a string")
		return ""
	}
	text, err := nameValue(f, v.Value)
	if err != nil {
		y.fail(v, f.Name, "%v", err)
	}
	return text
}

// value converts a node to a JSON-ready value, keeping YAML's types for
// what JSON has (strings, numbers, booleans, null, lists, maps) and the
// text as written for the rest: a date stays "2026-01-15", not a
// timestamp. Aliases are expanded (within the budget checkAliases
// enforced), and an alias inside its own anchor is refused.
func (y *yamlParser) value(n *yaml.Node) (any, error) {
	if n.Kind == yaml.AliasNode {
		target, perr := y.resolve(n)
		if perr != nil {
			return nil, perr.Err
		}
		y.expanding = append(y.expanding, target)
		defer func() { y.expanding = y.expanding[:len(y.expanding)-1] }()
		return y.value(target)
	}
	if n.Anchor != "" {
		y.expanding = append(y.expanding, n)
		defer func() { y.expanding = y.expanding[:len(y.expanding)-1] }()
	}
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := y.value(c)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: keys must be plain names", n.Content[i].Line)
			}
			v, err := y.value(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[n.Content[i].Value] = v
		}
		return out, nil
	}
	return yamlScalar(n)
}

// jsonNumber matches a number as JSON writes it.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// leadingZero matches a decimal with leading zeros, which YAML 1.1 reads
// as octal and people write as ZIP codes and account numbers.
var leadingZero = regexp.MustCompile(`^[-+]?0[0-9]+$`)

// yamlScalar keeps numbers as written: 02134 is the string "02134" (a ZIP
// code, not octal 1116), 12345678901234567890 keeps every digit, and 1e3
// stays 1e3, as the same value in a CSV cell does.
func yamlScalar(n *yaml.Node) (any, error) {
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		err := n.Decode(&b)
		return b, err
	case "!!int", "!!float":
		switch {
		case jsonNumber.MatchString(n.Value):
			return json.Number(n.Value), nil
		case leadingZero.MatchString(n.Value):
			return n.Value, nil
		}
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%s cannot be sent as JSON", n.Value)
		}
		if n.Tag == "!!int" {
			var i int64
			if n.Decode(&i) == nil {
				return i, nil
			}
		}
		return f, nil
	}
	return n.Value, nil
}
