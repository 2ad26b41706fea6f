package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Aliases let a few bytes of YAML name a value thousands of times, and a
// few hundred bytes of nested aliases expand to gigabytes ("billion
// laughs"). So what aliases add to a file is bounded, in values (nodes,
// keys included) and in bytes (of scalar text) together, before anything
// is expanded: a file's aliases may add aliasRatio times what the file
// holds, plus an allowance shared by every file of a run.
const (
	aliasRatio  = 4
	aliasValues = 100_000
	aliasBytes  = 8 << 20
)

// aliasBudget is what aliases may still add: the run's allowance, shared
// by the files of one [Load].
type aliasBudget struct{ values, bytes int64 }

func newAliasBudget() *aliasBudget { return &aliasBudget{values: aliasValues, bytes: aliasBytes} }

// size counts a node with its aliases expanded; it saturates at maxSize.
type size struct{ values, bytes int64 }

const maxSize = 1 << 50

func (s size) plus(t size) size {
	return size{min(s.values+t.values, maxSize), min(s.bytes+t.bytes, maxSize)}
}

// aliasCheck charges, in document order, every alias of a file the size
// of what it names, fully expanded, and stops at the first that takes the
// file past its budget. Each anchor is measured once, so the check costs
// one walk of the file however far its aliases would expand.
type aliasCheck struct {
	run      *aliasBudget
	own      size // what the file may add on its own
	runStart size // the run's allowance when the file began
	used     size
	measured map[*yaml.Node]size
	// measuring holds the anchors being measured: an alias inside its own
	// anchor is a cycle, which the parse reports; cyclic holds the nodes
	// found to hold one, so that each is measured once too.
	measuring, cyclic map[*yaml.Node]bool
}

// checkAliases returns the error of the first alias of doc past the
// budget, or nil, and takes what the file's aliases add from run.
func checkAliases(doc *yaml.Node, run *aliasBudget) *ParseError {
	if run == nil {
		run = newAliasBudget()
	}
	c := &aliasCheck{run: run, measured: map[*yaml.Node]size{}, measuring: map[*yaml.Node]bool{}, cyclic: map[*yaml.Node]bool{}}
	lit := literal(doc)
	c.own = size{min(aliasRatio*lit.values, maxSize), min(aliasRatio*lit.bytes, maxSize)}
	c.runStart = size{run.values, run.bytes}
	var path []string
	if perr := c.walk(doc, path, doc.Kind == yaml.MappingNode); perr != nil {
		return perr
	}
	run.values -= max(c.used.values-c.own.values, 0)
	run.bytes -= max(c.used.bytes-c.own.bytes, 0)
	return nil
}

// literal is the size of n as written, its aliases counted as one value.
func literal(n *yaml.Node) size {
	s := size{1, int64(len(n.Value))}
	for _, c := range n.Content {
		s = s.plus(literal(c))
	}
	return s
}

// walk visits n as written, keeping the path of keys below the top level
// (whose keys, groups and defaults, name no field) for the error.
func (c *aliasCheck) walk(n *yaml.Node, path []string, top bool) *ParseError {
	if n.Kind == yaml.AliasNode {
		return c.charge(n, path)
	}
	for i, child := range n.Content {
		p := path
		if n.Kind == yaml.MappingNode && i%2 == 1 && !top && n.Content[i-1].Kind == yaml.ScalarNode {
			p = append(path[:len(path):len(path)], n.Content[i-1].Value)
		}
		if perr := c.walk(child, p, false); perr != nil {
			return perr
		}
	}
	return nil
}

func (c *aliasCheck) charge(alias *yaml.Node, path []string) *ParseError {
	if alias.Alias == nil {
		return nil // the parse says what is wrong with it
	}
	s, cycle := c.measure(alias.Alias)
	if cycle {
		return nil
	}
	c.used = c.used.plus(s)
	what, limit := "", int64(0)
	switch {
	case c.used.values > c.own.values+c.runStart.values:
		what, limit = "values", c.own.values+c.runStart.values
	case c.used.bytes > c.own.bytes+c.runStart.bytes:
		what, limit = "bytes of text", c.own.bytes+c.runStart.bytes
	default:
		return nil
	}
	return &ParseError{Line: alias.Line, Field: strings.Join(path, "."), Err: fmt.Errorf(
		"aliases expand to more than %s %s, the budget left for this file: refused (name what every group shares under defaults instead)", thousands(limit), what)}
}

// measure returns the size of n with every alias expanded, and whether n
// holds an alias to itself.
func (c *aliasCheck) measure(n *yaml.Node) (size, bool) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return size{1, 0}, false
		}
		n = n.Alias
	}
	if s, ok := c.measured[n]; ok {
		return s, false
	}
	if c.measuring[n] || c.cyclic[n] {
		return size{}, true
	}
	c.measuring[n] = true
	defer delete(c.measuring, n)
	s := size{1, int64(len(n.Value))}
	for _, child := range n.Content {
		cs, cycle := c.measure(child)
		if cycle {
			c.cyclic[n] = true
			return size{}, true
		}
		s = s.plus(cs)
	}
	if n.Anchor != "" {
		c.measured[n] = s
	}
	return s, false
}

// thousands formats n as 1,241.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
