package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// customerFields are what create_customer and update_customer take beyond
// the common fields.
type customerFields struct {
	Emails    *[]string
	Tags      *[]string
	Level     string
	HasLevel  bool
	Parent    string
	HasParent bool
}

func readCustomerFields(raw map[string]json.RawMessage) (*customerFields, error) {
	c := &customerFields{}
	for key, dst := range map[string]**[]string{"emails": &c.Emails, "group_tags": &c.Tags} {
		if v, ok := raw[key]; ok {
			var list []string
			if json.Unmarshal(v, &list) != nil {
				return nil, fmt.Errorf("%s: must be a list of strings", key)
			}
			if list == nil {
				list = []string{}
			}
			*dst = &list
		}
	}
	if _, ok := raw["hierarchy_level_name"]; ok {
		c.HasLevel = true
		if err := str(raw, "hierarchy_level_name", &c.Level); err != nil {
			return nil, err
		}
	}
	if v, ok := raw["parent_provided_id"]; ok {
		c.HasParent = true
		// null or "" is no parent: how update_customer removes the parent
		// relationship, which the refusing revision of delete_customer
		// asks for before a parent can go.
		if string(v) != "null" && string(v) != `""` {
			if err := str(raw, "parent_provided_id", &c.Parent); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// check refuses tags that do not exist, unknown levels, and parents that
// do not exist or are not strictly higher. level is the group's level
// after the change. Callers hold s.mu.
func (s *Server) check(c *customerFields, id, level, parent string) error {
	if c.Tags != nil {
		for _, t := range *c.Tags {
			if !slices.Contains(s.cfg.Tags, t) {
				return fmt.Errorf("group tag %q does not exist", t)
			}
		}
	}
	li := s.levelIndex(level)
	if li < 0 {
		return fmt.Errorf("hierarchy level %q does not exist", level)
	}
	if g := s.groups[id]; g != nil && g.Level != level {
		// Its children must stay below it.
		for _, child := range s.groups {
			if child.Parent == id && s.levelIndex(child.Level) <= li {
				return fmt.Errorf("customer %q has the child %q at level %q, which is not lower than %q", id, child.ID, child.Level, level)
			}
		}
	}
	// A customer without a parent may be at any level that exists: the
	// docs require a parent to be higher than its child, not a customer
	// below the root level to have one, and create takes a level without
	// a parent. So removing a parent keeps the customer's level.
	if parent == "" {
		return nil
	}
	p := s.groups[parent]
	switch {
	case p == nil:
		return fmt.Errorf("parent customer %q does not exist", parent)
	case parent == id:
		return fmt.Errorf("a customer cannot be its own parent")
	case p.AccessGroup != s.cfg.AccessGroup:
		return fmt.Errorf("parent customer %q is in another data visibility group", parent)
	case s.levelIndex(p.Level) >= li:
		return fmt.Errorf("parent customer %q is at level %q, which is not higher than %q", parent, p.Level, level)
	}
	return nil
}

func (c *customerFields) applyTo(g *Group) {
	if c.Emails != nil {
		g.Emails = *c.Emails
	}
	if c.Tags != nil {
		g.Tags = *c.Tags
	}
	if c.HasLevel {
		g.Level = c.Level
	}
	if c.HasParent {
		g.Parent = c.Parent
	}
}

// readCustomer reads the body of create_customer (which requires a name)
// or update_customer. Callers hold s.mu.
func (s *Server) readCustomer(req *request, create bool) (*fields, *customerFields, error) {
	if err := str(req.raw, "provided_id", &req.id); err != nil {
		return nil, nil, err
	}
	f, err := readFields(req.raw, create)
	if err != nil {
		return nil, nil, err
	}
	c, err := readCustomerFields(req.raw)
	if err != nil {
		return nil, nil, err
	}
	if msg, ok := s.cfg.Reject[req.id]; ok {
		return nil, nil, errors.New(msg)
	}
	return f, c, nil
}

// createCustomer is get-or-create: an existing customer is returned
// unchanged with new_customer false.
func (s *Server) createCustomer(req *request) (int, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, c, err := s.readCustomer(req, true)
	if err != nil {
		return s.rejected(http.StatusBadRequest, err.Error())
	}
	if g, exists := s.groups[req.id]; exists {
		s.stats.Gets++
		return http.StatusOK, map[string]any{"success": 1, "new_customer": false, "customer": s.customer(g)}
	}
	level := s.cfg.Levels[0]
	if c.HasLevel {
		level = c.Level
	}
	if err := s.check(c, req.id, level, c.Parent); err != nil {
		return s.rejected(http.StatusBadRequest, err.Error())
	}
	g := s.newGroup(req.id)
	f.applyTo(g)
	c.applyTo(g)
	g.Level = level
	s.stats.Creates++
	return http.StatusOK, map[string]any{"success": 1, "new_customer": true, "customer": s.customer(g)}
}

// updateCustomer changes only the fields sent.
func (s *Server) updateCustomer(req *request) (int, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, c, err := s.readCustomer(req, false)
	if err != nil {
		return s.rejected(http.StatusBadRequest, err.Error())
	}
	g := s.groups[req.id]
	if g == nil {
		return s.missing(req.id)
	}
	level, parent := g.Level, g.Parent
	if c.HasLevel {
		level = c.Level
	}
	if c.HasParent {
		parent = c.Parent
	}
	if err := s.check(c, req.id, level, parent); err != nil {
		return s.rejected(http.StatusBadRequest, err.Error())
	}
	var rename string
	if v, ok := req.raw["new_provided_id"]; ok {
		if json.Unmarshal(v, &rename) != nil || strings.TrimSpace(rename) == "" {
			return s.rejected(http.StatusBadRequest, "new_provided_id: must be a non-empty string")
		}
		if s.groups[rename] != nil {
			return s.rejected(http.StatusBadRequest, fmt.Sprintf("new_provided_id: a customer with provided_id %q already exists", rename))
		}
	}
	f.applyTo(g)
	c.applyTo(g)
	if rename != "" {
		delete(s.groups, g.ID)
		for _, child := range s.groups {
			if child.Parent == g.ID {
				child.Parent = rename
			}
		}
		g.ID = rename
		s.groups[rename] = g
	}
	s.stats.Updates++
	s.markDirty()
	return http.StatusOK, map[string]any{"success": 1, "customer": s.customer(g)}
}

func (s *Server) missing(id string) (int, map[string]any) {
	s.stats.Rejected++
	return http.StatusNotFound, map[string]any{"success": 0, "message": fmt.Sprintf("Customer with provided_id %q does not exist.", id)}
}

func (s *Server) getCustomer(req *request) (int, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := str(req.raw, "provided_id", &req.id); err != nil {
		return s.rejected(http.StatusBadRequest, err.Error())
	}
	g := s.groups[req.id]
	if g == nil {
		return s.missing(req.id)
	}
	return http.StatusOK, map[string]any{"success": 1, "customer": s.customer(g)}
}

// byToken finds the customer of current_token. When there is none, it
// returns the refusal to answer instead. Callers hold s.mu.
func (s *Server) byToken(req *request) (*Group, int, map[string]any) {
	var token string
	if err := str(req.raw, "current_token", &token); err != nil {
		code, answer := s.rejected(http.StatusBadRequest, err.Error())
		return nil, code, answer
	}
	for _, g := range s.groups {
		if g.Token == token {
			req.id = g.ID
			return g, 0, nil
		}
	}
	s.stats.Rejected++
	return nil, http.StatusNotFound, map[string]any{"success": 0, "message": "No customer has this token."}
}

// DeleteMode is a revision of delete_customer: Explo's two references
// contradict each other on a customer that has children.
type DeleteMode string

const (
	// DeleteCascade deletes the customer and every customer below it, as
	// the HTML reference says.
	DeleteCascade DeleteMode = "cascade"
	// DeleteRefuse refuses, with success: 0, to delete a customer while
	// it has children, as the later Markdown reference says.
	DeleteRefuse DeleteMode = "refuse"
)

// DeleteModes lists the revisions, for flags.
var DeleteModes = []DeleteMode{DeleteCascade, DeleteRefuse}

// hasChildrenMessage is the refusing revision's answer to the delete of a
// customer that has children, word for word.
const hasChildrenMessage = "You cannot delete a customer that has children. You must either delete the child customers first or remove the parent relationship from each child."

// SetDeleteChildren switches the revision of delete_customer in force.
func (s *Server) SetDeleteChildren(m DeleteMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.DeleteChildren = m
}

// deleteCustomer deletes the customer of current_token. Under
// DeleteRefuse a customer with children stays, and the answer is 200 with
// success: 0 (the docs show no status for it; a 200 is the answer a
// careless client would take for a success). Otherwise every customer
// below it goes too.
func (s *Server) deleteCustomer(req *request) (int, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, code, refusal := s.byToken(req)
	if g == nil {
		return code, refusal
	}
	if s.cfg.DeleteChildren == DeleteRefuse && s.hasChildren(g.ID) {
		return s.rejected(http.StatusOK, hasChildrenMessage)
	}
	s.cascade(g.ID)
	s.stats.Deletes++
	return http.StatusOK, map[string]any{"success": 1}
}

// rotateToken gives the customer of current_token a new token; the old one
// stops working.
func (s *Server) rotateToken(req *request) (int, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, code, refusal := s.byToken(req)
	if g == nil {
		return code, refusal
	}
	g.Token = newToken()
	if s.hostile[HostileSameToken] {
		g.Token = sameToken
	}
	s.stats.Rotations++
	s.markDirty()
	return http.StatusOK, map[string]any{"success": 1, "customer": s.customer(g)}
}

// hasChildren reports whether any customer, in any access group, has id
// as its parent. Callers hold s.mu.
func (s *Server) hasChildren(id string) bool {
	for _, g := range s.groups {
		if g.Parent == id {
			return true
		}
	}
	return false
}

// customer is the Customer API's view of a group. Callers hold s.mu.
func (s *Server) customer(g *Group) map[string]any {
	props := map[string]any{}
	if len(g.Properties) > 0 {
		_ = json.Unmarshal(g.Properties, &props)
	}
	computed, computedMapping := map[string]any{}, map[string]string{}
	var chain []*Group
	for a := g; a != nil && len(chain) <= len(s.groups); a = s.groups[a.Parent] {
		chain = append(chain, a)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		var p map[string]any
		_ = json.Unmarshal(chain[i].Properties, &p)
		maps.Copy(computed, p)
		maps.Copy(computedMapping, chain[i].Mapping)
	}
	return map[string]any{
		"token": g.Token, "name": g.Name, "provided_id": g.ID, "is_demo_group": g.IsDemo,
		"emails": nonNil(g.Emails), "group_tags": nonNil(g.Tags), "properties": props, "computed_properties": computed,
		"access_group": g.AccessGroup, "parent_schema_datasource_mapping": g.Mapping,
		"computed_parent_schema_datasource_mapping": computedMapping, "hierarchy_level": g.Level,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
