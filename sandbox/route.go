package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// handler acts on one authorised request and returns the status and the
// answer. It takes s.mu itself.
type handler func(s *Server, req *request) (int, map[string]any)

// request is an authorised call with its body decoded.
type request struct {
	path  string
	query map[string][]string
	raw   map[string]json.RawMessage
	// id is the group the call is about, when it names one.
	id string
}

type route struct {
	method string
	h      handler
	// mutates is set for calls that change the store, which faults,
	// pauses and hostile answers apply to.
	mutates bool
}

var routes = map[string]route{
	"/api/create_user_group/":      {http.MethodPost, (*Server).createUserGroup, true},
	"/embed/create_user_group/":    {http.MethodPost, (*Server).createUserGroup, true},
	"/api/update_user_group/":      {http.MethodPost, (*Server).updateUserGroup, true},
	"/api/create_customer/":        {http.MethodPost, (*Server).createCustomer, true},
	"/api/update_customer/":        {http.MethodPost, (*Server).updateCustomer, true},
	"/api/get_customer/":           {http.MethodPost, (*Server).getCustomer, false},
	"/api/refresh_customer_token/": {http.MethodPost, (*Server).rotateToken, true},
	"/api/delete_customer/":        {http.MethodDelete, (*Server).deleteCustomer, true},
	"/v2/api/customers/":           {http.MethodGet, (*Server).listCustomers, false},
	"/api/group_tags/":             {http.MethodGet, (*Server).groupTags, false},
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.count(func(st *Stats) { st.Requests++; st.Paths[r.URL.Path]++ })
	if s.hostileBefore(w, r) {
		return
	}
	if !s.admit(w) {
		return
	}
	rt, ok := routes[r.URL.Path]
	switch {
	case !ok && routes[r.URL.Path+"/"].h != nil:
		// The slash rule: every path ends with a slash.
		fail(w, http.StatusMethodNotAllowed, "detail", fmt.Sprintf("Method %q not allowed.", r.Method))
		return
	case !ok:
		notFoundPage(w)
		return
	case r.Method != rt.method:
		fail(w, http.StatusMethodNotAllowed, "detail", fmt.Sprintf("Method %q not allowed.", r.Method))
		return
	case r.Header.Get("Explo-Authorization") != "Token "+s.cfg.Token:
		s.count(func(st *Stats) { st.Unauthorized++ })
		fail(w, http.StatusUnauthorized, "detail", "Invalid token.")
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
	req := &request{path: r.URL.Path, query: r.URL.Query()}
	if r.Method != http.MethodGet {
		if json.Unmarshal(data, &req.raw) != nil || req.raw == nil {
			s.count(func(st *Stats) { st.Rejected++ })
			fail(w, http.StatusBadRequest, "message", "JSON parse error: the body must be a JSON object")
			return
		}
	}
	s.record(r, req)
	fault := Fault("")
	if rt.mutates {
		fault = s.drawFault()
	}
	switch fault {
	case Fault500, Fault502, Fault503:
		code, _ := strconv.Atoi(string(fault))
		fail(w, code, "message", http.StatusText(code))
		return
	case FaultResetBefore:
		panic(http.ErrAbortHandler)
	}
	if s.isSevered() {
		panic(http.ErrAbortHandler)
	}
	if rt.mutates && !s.pause(r, pauseBefore) {
		if s.isSevered() {
			panic(http.ErrAbortHandler)
		}
		return
	}
	code, answer := rt.h(s, req)
	if rt.mutates && !s.pause(r, pauseAfter) {
		if s.isSevered() {
			panic(http.ErrAbortHandler)
		}
		return
	}
	if s.loseAnswer(r.URL.Path) {
		panic(http.ErrAbortHandler)
	}
	switch fault {
	case FaultResetAfter:
		panic(http.ErrAbortHandler)
	case FaultSlow:
		if !wait(r, s.cfg.SlowDelay) {
			return
		}
	}
	if rt.mutates && s.hostileAnswer(w, req, code, answer) {
		return
	}
	writeJSON(w, code, answer)
}

// admit applies the rate limit, which is per IP across all endpoints, so
// it comes before anything else, even auth.
func (s *Server) admit(w http.ResponseWriter) bool {
	if s.limiter == nil {
		return true
	}
	now := s.cfg.Now()
	ok, wait, known := s.limiter.admit(now)
	if ok {
		return true
	}
	s.count(func(st *Stats) { st.Throttled++ })
	s.throttle(w, now, wait, known)
	return false
}

func (s *Server) record(r *http.Request, req *request) {
	if !s.cfg.RecordRequests {
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: req.raw, Auth: r.Header.Get("Explo-Authorization")})
	s.mu.Unlock()
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

// notFoundPage is what a URL that is not the API gets: Django's HTML page,
// not JSON.
func notFoundPage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n")
}

func fail(w http.ResponseWriter, code int, key, msg string) {
	writeJSON(w, code, map[string]any{"success": 0, key: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// rejected is a success: 0 answer for a body the service refuses.
func (s *Server) rejected(code int, msg string) (int, map[string]any) {
	s.stats.Rejected++
	return code, map[string]any{"success": 0, "message": msg}
}

// str reads a required non-empty string field.
func str(raw map[string]json.RawMessage, key string, dst *string) error {
	v, ok := raw[key]
	if !ok || json.Unmarshal(v, dst) != nil || strings.TrimSpace(*dst) == "" {
		return fmt.Errorf("%s: this field is required and must be a non-empty string", key)
	}
	return nil
}
