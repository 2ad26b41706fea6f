package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// maxNameLen is the service's limit on a name; a longer one is refused
// with success: 0, which tests use to provoke a rejection.
const maxNameLen = 255

// fields are the fields both APIs' create and update take.
type fields struct {
	Name       string
	IsDemo     *bool
	Mapping    map[string]string
	HasMapping bool
	Properties json.RawMessage
}

// readFields reads and validates the common fields the way the service
// documents them. Its messages are the sandbox's own wording; the real
// service's are unknown.
func readFields(raw map[string]json.RawMessage, requireName bool) (*fields, error) {
	f := &fields{}
	if _, ok := raw["name"]; ok || requireName {
		if err := str(raw, "name", &f.Name); err != nil {
			return nil, err
		}
	}
	if len(f.Name) > maxNameLen {
		return nil, fmt.Errorf("name: ensure this field has no more than %d characters", maxNameLen)
	}
	if v, ok := raw["is_demo_group"]; ok {
		f.IsDemo = new(bool)
		if json.Unmarshal(v, f.IsDemo) != nil {
			return nil, fmt.Errorf("is_demo_group: must be a boolean")
		}
	}
	if v, ok := raw["mapping"]; ok {
		f.HasMapping = true
		if json.Unmarshal(v, &f.Mapping) != nil {
			return nil, fmt.Errorf("mapping: must be an object of schema id to data source id strings")
		}
		if f.Mapping == nil {
			f.Mapping = map[string]string{}
		}
	}
	if v, ok := raw["properties"]; ok && string(v) != "null" {
		var m map[string]any
		if json.Unmarshal(v, &m) != nil {
			return nil, fmt.Errorf("properties: must be an object")
		}
		f.Properties = v
	}
	return f, nil
}

func (f *fields) applyTo(g *Group) {
	if f.Name != "" {
		g.Name = f.Name
	}
	if f.IsDemo != nil {
		g.IsDemo = *f.IsDemo
	}
	if f.HasMapping {
		g.Mapping = f.Mapping
	}
	if f.Properties != nil {
		g.Properties = f.Properties
	}
}

func (s *Server) createUserGroup(req *request) (int, map[string]any) { return s.userGroup(req, true) }
func (s *Server) updateUserGroup(req *request) (int, map[string]any) { return s.userGroup(req, false) }

// userGroup is get-or-create and update of the End User Group API.
func (s *Server) userGroup(req *request, create bool) (int, map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := str(req.raw, "user_group_id", &req.id); err != nil {
		return s.rejected(http.StatusBadRequest, err.Error())
	}
	f, err := readFields(req.raw, true)
	if err != nil {
		return s.rejected(http.StatusBadRequest, err.Error())
	}
	if msg, ok := s.cfg.Reject[req.id]; ok {
		return s.rejected(http.StatusBadRequest, msg)
	}
	g, exists := s.groups[req.id]
	switch {
	case create && exists:
		// Get-or-create: an existing group is returned unchanged.
		s.stats.Gets++
		return http.StatusOK, map[string]any{"success": 1, "new_user_group": false, "user_group": g.userGroup()}
	case create:
		g = s.newGroup(req.id)
		s.stats.Creates++
	case !exists:
		s.stats.Rejected++
		return http.StatusNotFound, map[string]any{"success": 0, "message": fmt.Sprintf("User group with id %q does not exist.", req.id)}
	default:
		s.stats.Updates++
	}
	f.applyTo(g)
	s.markDirty()
	answer := map[string]any{"success": 1, "user_group": g.userGroup()}
	if create {
		answer["new_user_group"] = true
	}
	return http.StatusOK, answer
}

// newGroup creates a group at the root level. Callers hold s.mu.
func (s *Server) newGroup(id string) *Group {
	g := &Group{ID: id, Emails: []string{}, Tags: []string{}}
	if s.hostile[HostileSameToken] {
		g.Token = sameToken
	}
	s.put(g)
	return g
}

// userGroup is the End User Group API's view of a group. It does not echo
// the mapping.
func (g *Group) userGroup() map[string]any {
	props := g.Properties
	if len(props) == 0 {
		props = json.RawMessage("null")
	}
	return map[string]any{
		"team_id": g.TeamID, "token": g.Token, "name": g.Name, "provided_id": g.ID,
		"is_demo_group": g.IsDemo, "properties": props, "api_environment_tag": g.EnvTag,
	}
}
