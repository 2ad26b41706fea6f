package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"
)

func (s *Server) create(w http.ResponseWriter, r *http.Request) { s.serve(w, r, true) }
func (s *Server) update(w http.ResponseWriter, r *http.Request) { s.serve(w, r, false) }

// maxNameLen is the service's limit on a group name; a longer one is
// refused with success: 0, which tests use to provoke a rejection.
const maxNameLen = 255

func (s *Server) serve(w http.ResponseWriter, r *http.Request, create bool) {
	if !s.admit(w, r) {
		return
	}
	// Read the body before waiting, so that a client that goes away
	// cancels the request (net/http notices only once the body is read).
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return
	}
	if !wait(r, s.cfg.Latency) {
		return
	}
	fault := s.drawFault()
	switch fault {
	case Fault500, Fault502, Fault503:
		code, _ := strconv.Atoi(string(fault))
		fail(w, code, "message", http.StatusText(code))
		return
	case FaultResetBefore:
		panic(http.ErrAbortHandler)
	}
	body, err := decode(data)
	if err != nil {
		s.count(func(st *Stats) { st.Rejected++ })
		fail(w, http.StatusBadRequest, "message", err.Error())
		return
	}
	if s.cfg.RecordRequests {
		s.mu.Lock()
		s.requests = append(s.requests, Request{Path: r.URL.Path, Body: body.raw})
		s.mu.Unlock()
	}
	answer, code, msg := s.apply(body, create)
	if code != http.StatusOK {
		fail(w, code, "message", msg)
		return
	}
	switch fault {
	case FaultResetAfter:
		panic(http.ErrAbortHandler)
	case FaultSlow:
		if !wait(r, s.cfg.SlowDelay) {
			return
		}
	}
	writeJSON(w, http.StatusOK, answer)
}

// admit counts the request and answers it when the rate limit, the method
// or the token refuses it. The limit is per IP across all endpoints, so it
// is checked before anything else, even auth.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) bool {
	s.count(func(st *Stats) { st.Requests++; st.Paths[r.URL.Path]++ })
	if s.limiter != nil {
		res := s.limiter.Reserve()
		if d := res.Delay(); d > 0 {
			res.Cancel()
			s.count(func(st *Stats) { st.Throttled++ })
			s.throttle(w, d)
			return false
		}
	}
	if r.Method != http.MethodPost {
		fail(w, http.StatusMethodNotAllowed, "detail", fmt.Sprintf("Method %q not allowed.", r.Method))
		return false
	}
	if r.Header.Get("Explo-Authorization") != "Token "+s.cfg.Token {
		s.count(func(st *Stats) { st.Unauthorized++ })
		fail(w, http.StatusUnauthorized, "detail", "Invalid token.")
		return false
	}
	return true
}

// apply changes the store and returns the answer, or an HTTP status and
// message when the request is refused.
func (s *Server) apply(b *body, create bool) (map[string]any, int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg, ok := s.cfg.Reject[b.ID]; ok {
		s.stats.Rejected++
		return nil, http.StatusBadRequest, msg
	}
	g, exists := s.groups[b.ID]
	switch {
	case create && exists:
		// Get-or-create: an existing group is returned unchanged.
		s.stats.Gets++
		return map[string]any{"success": 1, "new_user_group": false, "user_group": g.wire()}, http.StatusOK, ""
	case create:
		g = &Group{ID: b.ID, Token: newToken(), EnvTag: s.cfg.EnvTag, TeamID: teamID, Mapping: map[string]string{}}
		s.groups[b.ID] = g
		s.stats.Creates++
	case !exists:
		s.stats.Rejected++
		return nil, http.StatusNotFound, fmt.Sprintf("User group with id %q does not exist.", b.ID)
	default:
		s.stats.Updates++
	}
	b.applyTo(g)
	s.markDirty()
	answer := map[string]any{"success": 1, "user_group": g.wire()}
	if create {
		answer["new_user_group"] = true
	}
	return answer, http.StatusOK, ""
}

func (g *Group) wire() map[string]any {
	props := g.Properties
	if len(props) == 0 {
		props = json.RawMessage("null")
	}
	return map[string]any{
		"team_id": g.TeamID, "token": g.Token, "name": g.Name, "provided_id": g.ID,
		"is_demo_group": g.IsDemo, "properties": props, "api_environment_tag": g.EnvTag,
	}
}

// throttle answers 429 in the configured style.
func (s *Server) throttle(w http.ResponseWriter, d time.Duration) {
	secs := int(math.Ceil(d.Seconds()))
	switch s.cfg.RetryAfter {
	case RetryAfterSeconds:
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	case RetryAfterDate:
		// An HTTP date has whole seconds: round up so it is never early.
		w.Header().Set("Retry-After", time.Now().Add(d+time.Second).UTC().Format(http.TimeFormat))
	}
	fail(w, http.StatusTooManyRequests, "detail", fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs))
}

func (s *Server) drawFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.FailRate <= 0 || len(s.cfg.Faults) == 0 || s.rng.Float64() >= s.cfg.FailRate {
		return ""
	}
	s.stats.Faults++
	return s.cfg.Faults[s.rng.IntN(len(s.cfg.Faults))]
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// wait sleeps d unless the client goes away first.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func fail(w http.ResponseWriter, code int, key, msg string) {
	writeJSON(w, code, map[string]any{"success": 0, key: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// body is a validated request body.
type body struct {
	ID, Name   string
	IsDemo     *bool
	Mapping    map[string]string
	HasMapping bool
	Properties json.RawMessage
	raw        map[string]json.RawMessage
}

func (b *body) applyTo(g *Group) {
	g.Name = b.Name
	if b.IsDemo != nil {
		g.IsDemo = *b.IsDemo
	}
	if b.HasMapping {
		g.Mapping = b.Mapping
	}
	if b.Properties != nil {
		g.Properties = b.Properties
	}
}

// decode reads and validates a body the way the service documents it. Its
// messages are the sandbox's own wording; the real service's are unknown.
func decode(data []byte) (*body, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("JSON parse error: the body must be a JSON object")
	}
	b := &body{raw: raw}
	if err := str(raw, "user_group_id", &b.ID); err != nil {
		return nil, err
	}
	if err := str(raw, "name", &b.Name); err != nil {
		return nil, err
	}
	if len(b.Name) > maxNameLen {
		return nil, fmt.Errorf("name: ensure this field has no more than %d characters", maxNameLen)
	}
	if v, ok := raw["is_demo_group"]; ok {
		b.IsDemo = new(bool)
		if json.Unmarshal(v, b.IsDemo) != nil {
			return nil, fmt.Errorf("is_demo_group: must be a boolean")
		}
	}
	if v, ok := raw["mapping"]; ok {
		b.HasMapping = true
		if json.Unmarshal(v, &b.Mapping) != nil {
			return nil, fmt.Errorf("mapping: must be an object of schema id to data source id strings")
		}
	}
	if v, ok := raw["properties"]; ok && string(v) != "null" {
		var m map[string]any
		if json.Unmarshal(v, &m) != nil {
			return nil, fmt.Errorf("properties: must be an object")
		}
		b.Properties = v
	}
	return b, nil
}

func str(raw map[string]json.RawMessage, key string, dst *string) error {
	v, ok := raw[key]
	if !ok || json.Unmarshal(v, dst) != nil || *dst == "" {
		return fmt.Errorf("%s: this field is required and must be a non-empty string", key)
	}
	return nil
}
