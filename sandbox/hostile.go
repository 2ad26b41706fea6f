package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Hostile is a way the service, a proxy or the network misbehaves. Each is
// off unless named.
type Hostile string

const (
	// HostileRedirect answers every request with a 307 to RedirectTo, as a
	// misconfigured proxy or an attacker would.
	HostileRedirect Hostile = "redirect"
	// HostileOtherGroup answers creates and updates about another group
	// than the one asked, with that group's token.
	HostileOtherGroup Hostile = "other-group"
	// HostileSameToken gives every new group one and the same token.
	HostileSameToken Hostile = "same-token"
	// HostileNearJSON wraps successful answers in what is almost JSON: a
	// byte order mark, an anti-hijacking prefix, trailing data.
	HostileNearJSON Hostile = "near-json"
	// HostileEchoToken acts on creates and updates, then fails them with
	// a JSON error body that echoes the API token and the group's token,
	// nested deep.
	HostileEchoToken Hostile = "echo-token"
	// HostileEchoText does the same with a long plain-text body, the API
	// token straddling the 300th byte.
	HostileEchoText Hostile = "echo-text"
	// HostileEchoKey acts on creates and updates, then fails them with a
	// JSON error body whose keys are the API token and the group's token.
	HostileEchoKey Hostile = "echo-key"
	// HostileEchoState acts on creates and updates, then fails them with
	// a JSON error body that echoes the tokens of other groups (as an
	// unrelated call would): as keys, nested values, in capitals, split
	// by a space; and the API token split by a space.
	HostileEchoState Hostile = "echo-state"
	// HostileRedirectToken redirects every request to a host whose name
	// holds the API token.
	HostileRedirectToken Hostile = "redirect-token"
	// HostileThrottle answers 429 to everything, forever.
	HostileThrottle Hostile = "throttle-forever"
	// HostileNotFound answers every request with an HTML 404 page, as a
	// wrong base URL does.
	HostileNotFound Hostile = "not-found-page"

	// The list lies; a list is input, not truth.

	// HostileListSwapTokens answers the first two listed customers with
	// each other's tokens.
	HostileListSwapTokens Hostile = "list-swap-tokens"
	// HostileListDuplicates lists every customer twice, the copy in
	// another access group with another token.
	HostileListDuplicates Hostile = "list-duplicates"
	// HostileListEndless answers full pages of new, made-up customers
	// forever, with a total of a billion.
	HostileListEndless Hostile = "list-endless"
	// HostileListOtherAccessGroup lists every other customer, from the
	// first, in another access group than the token's.
	HostileListOtherAccessGroup Hostile = "list-other-access-group"
)

// AllHostile lists the hostile modes, for flags and tests.
var AllHostile = []Hostile{HostileRedirect, HostileOtherGroup, HostileSameToken, HostileNearJSON, HostileEchoToken, HostileEchoText,
	HostileEchoKey, HostileEchoState, HostileRedirectToken, HostileThrottle, HostileNotFound,
	HostileListSwapTokens, HostileListDuplicates, HostileListEndless, HostileListOtherAccessGroup}

// sameToken is the token HostileSameToken gives everyone.
const sameToken = "5a4e70ce5a4e70ce5a4e70ce5a4e70ce5a4e70ce5a4e70ce"

func (s *Server) is(h Hostile) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hostile[h]
}

// hostileBefore answers a request before the service sees it: a proxy's
// redirect, a page that is not the API, a limiter that never lets go.
func (s *Server) hostileBefore(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case s.is(HostileRedirect):
		target := s.cfg.RedirectTo
		if target == "" {
			target = "https://attacker.invalid"
		}
		http.Redirect(w, r, strings.TrimRight(target, "/")+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		return true
	case s.is(HostileRedirectToken):
		http.Redirect(w, r, "https://"+s.cfg.Token+".attacker.invalid"+r.URL.RequestURI(), http.StatusFound)
		return true
	case s.is(HostileNotFound):
		notFoundPage(w)
		return true
	case s.is(HostileThrottle):
		s.count(func(st *Stats) { st.Throttled++ })
		s.throttle(w, s.cfg.Now(), time.Second, true)
		return true
	}
	return false
}

// hostileAnswer replaces the answer of a call that was acted on.
func (s *Server) hostileAnswer(w http.ResponseWriter, req *request, code int, answer map[string]any) bool {
	token := groupToken(answer)
	switch {
	case s.is(HostileEchoToken):
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": 0, "errors": map[string]any{
			"user_group": []any{map[string]any{"token": token, "detail": fmt.Sprintf("token %s and Token %s were refused", token, s.cfg.Token)}}}})
		return true
	case s.is(HostileEchoText):
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadGateway)
		// The API token starts a few bytes before the 300th, where a
		// message cut before it is scrubbed would keep its first part.
		const head, auth = "upstream error: ", "Explo-Authorization: Token "
		io.WriteString(w, head+strings.Repeat("x", 294-len(head)-len(auth))+auth+s.cfg.Token+"; the customer token was "+token+"\n")
		return true
	case s.is(HostileEchoKey):
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": 0, s.cfg.Token: "invalid", token: "refused"})
		return true
	case s.is(HostileEchoState):
		writeJSON(w, http.StatusBadRequest, s.echoOthers(req.id))
		return true
	case code != http.StatusOK:
		return false
	case s.is(HostileOtherGroup):
		for _, key := range []string{"user_group", "customer"} {
			if g, ok := answer[key].(map[string]any); ok {
				g["provided_id"] = "not-" + req.id
				g["token"] = newToken()
			}
		}
	}
	if s.is(HostileNearJSON) {
		s.mu.Lock()
		s.answers++
		n := s.answers
		s.mu.Unlock()
		data, _ := json.Marshal(answer)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		switch n % 3 {
		case 0:
			w.Write(append([]byte("\xef\xbb\xbf"), data...))
		case 1:
			w.Write(append([]byte(")]}'\n"), data...))
		default:
			w.Write(append(data, []byte(" <!-- cached -->")...))
		}
		return true
	}
	return false
}

// echoOthers is an error body that echoes the tokens of up to 20 groups
// other than id, in the ways a service might, and the API token split by
// a space.
func (s *Server) echoOthers(id string) map[string]any {
	s.mu.Lock()
	var tokens []string
	for _, gid := range slices.Sorted(maps.Keys(s.groups)) {
		if gid != id && len(tokens) < 20 {
			tokens = append(tokens, s.groups[gid].Token)
		}
	}
	s.mu.Unlock()
	body := map[string]any{"success": 0}
	var said []string
	for i, t := range tokens {
		switch i % 4 {
		case 0:
			said = append(said, t)
		case 1:
			said = append(said, strings.ToUpper(t))
		case 2:
			said = append(said, t[:len(t)/2]+" "+t[len(t)/2:])
		case 3:
			body[t] = "taken"
		}
	}
	api := s.cfg.Token
	body["errors"] = []any{map[string]any{"conflict": map[string]any{"detail": "the request conflicts with " + strings.Join(said, ", ")}},
		"Explo-Authorization: Token " + api[:len(api)/2] + " " + api[len(api)/2:]}
	return body
}

func groupToken(answer map[string]any) string {
	for _, key := range []string{"user_group", "customer"} {
		if g, ok := answer[key].(map[string]any); ok {
			if t, ok := g["token"].(string); ok {
				return t
			}
		}
	}
	return ""
}

// PauseWhen says whether a paused request has been acted on.
type PauseWhen int

const (
	// PauseBefore holds requests before they are acted on; a request
	// whose client went away meanwhile is never acted on.
	PauseBefore PauseWhen = iota
	// PauseAfter acts on requests, then holds their answers.
	PauseAfter
)

const (
	pauseBefore = PauseBefore
	pauseAfter  = PauseAfter
)

// gate holds requests after the first n changes, for tests that kill a
// client at a known point.
type gate struct {
	after   int
	when    PauseWhen
	passed  int
	held    int
	dropped bool
	release chan struct{}
	changed chan struct{}
}

// PauseAfter lets n more changing requests through, then holds every
// further one (before or after acting on it) until [Server.Resume].
func (s *Server) PauseAfter(n int, when PauseWhen) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = &gate{after: n, when: when, release: make(chan struct{}), changed: make(chan struct{})}
}

// WaitHeld blocks until n requests are held.
func (s *Server) WaitHeld(n int) {
	for {
		s.mu.Lock()
		g := s.gate
		if g == nil || g.held >= n {
			s.mu.Unlock()
			return
		}
		ch := g.changed
		s.mu.Unlock()
		<-ch
	}
}

// Resume releases the held requests and stops pausing. With drop, the
// requests held before being acted on are never acted on, as if they had
// been lost on the way.
func (s *Server) Resume(drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		s.gate.dropped = drop
		close(s.gate.release)
		// Waiters look again, and find no gate.
		close(s.gate.changed)
		s.gate = nil
	}
}

// pause holds r at point when if the gate says so, and reports whether
// the request goes on (its client is still there).
func (s *Server) pause(r *http.Request, when PauseWhen) bool {
	s.mu.Lock()
	g := s.gate
	if g == nil || g.when != when {
		s.mu.Unlock()
		return true
	}
	if g.passed < g.after {
		g.passed++
		s.mu.Unlock()
		return true
	}
	g.held++
	close(g.changed)
	g.changed = make(chan struct{})
	s.mu.Unlock()
	<-g.release
	if s.isSevered() {
		return false
	}
	return when == PauseAfter || (!g.dropped && r.Context().Err() == nil)
}

// Sever cuts the sandbox off from its clients, as if the machine that runs
// one had died: from now on (until Sever(false)) no request is acted on,
// and no answer leaves, held ones included; each connection is dropped.
// Tests use it to kill a run at an exact point.
func (s *Server) Sever(on bool) {
	s.mu.Lock()
	s.severed = on
	s.mu.Unlock()
	if on {
		s.Resume(true)
	}
}

func (s *Server) isSevered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.severed
}

// LoseAnswers acts on the next n requests to path (one of the API's, such
// as "/api/refresh_customer_token/"), then drops each connection without
// answering: the service did the work, the client never learns it. It is
// the deterministic form of the reset-after fault, for tests of a rotate
// or a create whose answer was lost. n of 0 stops losing answers to path.
func (s *Server) LoseAnswers(path string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lose == nil {
		s.lose = map[string]int{}
	}
	if n <= 0 {
		delete(s.lose, path)
		return
	}
	s.lose[path] = n
}

// loseAnswer reports whether the answer to this request to path is to be
// lost, and counts it.
func (s *Server) loseAnswer(path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lose[path] <= 0 {
		return false
	}
	s.lose[path]--
	s.stats.Faults++
	return true
}
