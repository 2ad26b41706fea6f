package manifest

import (
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
	"groupsync/reconcile"
)

// ParseYAML reads one YAML manifest: a mapping with optional defaults and a
// list of groups, or a bare list of groups. Errors carry the line of the
// node at fault but no file name; [Load] adds it. As with [ParseCSV], when
// there are errors the groups are for finding duplicates only.
func ParseYAML(r io.Reader) ([]reconcile.Group, Errors) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, Errors{{Err: err}}
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
	y := &yamlParser{}
	root := doc.Content[0]
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
	errs Errors
}

func (y *yamlParser) errorf(n *yaml.Node, field, format string, args ...any) *ParseError {
	return &ParseError{Line: n.Line, Field: field, Err: fmt.Errorf(format, args...)}
}

func (y *yamlParser) fail(n *yaml.Node, field, format string, args ...any) {
	y.errs = append(y.errs, y.errorf(n, field, format, args...))
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
			y.fail(k, "", "unknown key %q (the top level has defaults and groups)", key)
		}
	})
	if groups == nil {
		y.fail(root, "", "no groups key: list the groups under groups:")
		return nil, y.errs
	}
	return y.groups(groups, defaults)
}

func (y *yamlParser) groups(seq *yaml.Node, defaults *reconcile.Group) ([]reconcile.Group, Errors) {
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

// withDefaults merges d under g: g wins, maps merge key by key.
func withDefaults(g, d *reconcile.Group) {
	if d.Managed.Has(reconcile.FieldIsDemo) && !g.Managed.Has(reconcile.FieldIsDemo) {
		g.IsDemo = d.IsDemo
	}
	if d.Managed.Has(reconcile.FieldMapping) {
		g.Mapping = reconcile.SortPairs(append(append(reconcile.Pairs{}, d.Mapping...), g.Mapping...))
	}
	if d.Managed.Has(reconcile.FieldProperties) {
		g.Properties = reconcile.SortPairs(append(append(reconcile.Pairs{}, d.Properties...), g.Properties...))
	}
	g.Managed |= d.Managed
}

// group reads one group (or the defaults, which have no id or name).
func (y *yamlParser) group(n *yaml.Node, isDefaults bool) *reconcile.Group {
	where := "group"
	if isDefaults {
		where = "defaults"
	}
	if n.Kind != yaml.MappingNode {
		y.fail(n, "", "each %s must be a mapping of keys like user_group_id and name", where)
		return nil
	}
	g := &reconcile.Group{Source: reconcile.Source{Line: n.Line}}
	var idNode, nameNode *yaml.Node
	y.eachKey(n, where, func(key string, k, v *yaml.Node) {
		switch {
		case idAliases[key] && !isDefaults:
			idNode = v
		case key == "name" && !isDefaults:
			nameNode = v
		case key == "is_demo_group":
			g.Managed |= reconcile.FieldIsDemo
			y.demo(g, v)
		case key == "mapping":
			g.Managed |= reconcile.FieldMapping
			g.Mapping = y.mapping(v)
		case key == "properties":
			g.Managed |= reconcile.FieldProperties
			g.Properties = y.properties(v)
		default:
			y.fail(k, "", "unknown key %q in %s (keys are user_group_id, name, is_demo_group, mapping, properties)", key, where)
		}
	})
	if !isDefaults {
		g.ID = y.scalar(n, idNode, "user_group_id", checkID)
		g.Name = y.scalar(n, nameNode, "name", func(s string) error {
			if s == "" {
				return errors.New("missing: every group needs a name")
			}
			return nil
		})
	}
	return g
}

// eachKey calls f for each key of a mapping, refusing duplicates (yaml.v3
// keeps the last one silently when decoding into nodes).
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
			y.fail(k, "", "key %q is given twice in this %s", k.Value, where)
			continue
		}
		seen[name] = true
		f(k.Value, k, v)
	}
}

// scalar reads a required string field of a group; numbers are accepted
// as written, since ids are often numeric.
func (y *yamlParser) scalar(group, n *yaml.Node, field string, check func(string) error) string {
	if n == nil || n.Tag == "!!null" {
		y.fail(group, field, "missing: every group needs %s", field)
		return ""
	}
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float") {
		y.fail(n, field, "must be a string")
		return ""
	}
	if err := check(n.Value); err != nil {
		y.fail(n, field, "%v", err)
	}
	return n.Value
}

func (y *yamlParser) demo(g *reconcile.Group, v *yaml.Node) {
	if v.Kind != yaml.ScalarNode {
		y.fail(v, "is_demo_group", "must be true or false")
		return
	}
	if v.Tag == "!!null" {
		return
	}
	b, err := parseBool(v.Value)
	if err != nil {
		y.fail(v, "is_demo_group", "%v", err)
	}
	g.IsDemo = b
}

// mapping reads schema id → data source id, both strings; numbers are
// converted as written, anything else is refused.
func (y *yamlParser) mapping(v *yaml.Node) reconcile.Pairs {
	out := reconcile.Pairs{}
	if v.Tag == "!!null" {
		return out
	}
	if v.Kind != yaml.MappingNode {
		y.fail(v, "mapping", "must be a mapping of schema id to data source id")
		return out
	}
	y.eachKey(v, "mapping", func(key string, k, val *yaml.Node) {
		if val.Kind != yaml.ScalarNode || (val.Tag != "!!str" && val.Tag != "!!int" && val.Tag != "!!float") {
			y.fail(val, "mapping."+key, "must be a string or a number (a data source id)")
			return
		}
		out = append(out, reconcile.Pair{Key: key, Value: val.Value})
	})
	return reconcile.SortPairs(out)
}

// properties reads free-form values, keeping their YAML types.
func (y *yamlParser) properties(v *yaml.Node) reconcile.Pairs {
	out := reconcile.Pairs{}
	if v.Tag == "!!null" {
		return out
	}
	if v.Kind != yaml.MappingNode {
		y.fail(v, "properties", "must be a mapping of keys to values")
		return out
	}
	y.eachKey(v, "properties", func(key string, k, val *yaml.Node) {
		x, err := yamlValue(val)
		if err != nil {
			y.fail(val, "properties."+key, "%v", err)
			return
		}
		s, err := canonjson.Marshal(x)
		if err != nil {
			y.fail(val, "properties."+key, "cannot be sent as JSON: %v", err)
			return
		}
		out = append(out, reconcile.Pair{Key: key, Value: s})
	})
	return reconcile.SortPairs(out)
}

// yamlValue converts a node to a JSON-ready value, keeping YAML's types for
// what JSON has (strings, numbers, booleans, null, lists, maps) and the
// text as written for the rest: a date stays "2026-01-15", not a timestamp.
func yamlValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := yamlValue(c)
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
			v, err := yamlValue(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			out[n.Content[i].Value] = v
		}
		return out, nil
	}
	return yamlScalar(n)
}

func yamlScalar(n *yaml.Node) (any, error) {
	switch n.Tag {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		err := n.Decode(&b)
		return b, err
	case "!!int", "!!float":
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
