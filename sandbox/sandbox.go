// Package sandbox is a local Explo End User Group API, faithful to API.md:
// the auth header, get-or-create, updates of existing groups only, success: 0
// errors, a rate limit answered with 429, and injectable latency and faults.
// `groupsync sandbox` serves it; tests wrap [New] in httptest.NewServer.
//
// It shares no code with the client in explo/ on purpose: it is a second,
// independent reading of the API contract, so a client mistake shows up as
// a failing test rather than as an agreement between two copies of a bug.
package sandbox

import (
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Fault is a kind of injected failure.
type Fault string

const (
	Fault500 Fault = "500"
	Fault502 Fault = "502"
	Fault503 Fault = "503"
	// FaultResetBefore drops the connection before the request is acted on.
	FaultResetBefore Fault = "reset-before"
	// FaultResetAfter acts on the request, then drops the connection
	// without answering: the client cannot know the call worked.
	FaultResetAfter Fault = "reset-after"
	// FaultSlow acts on the request and answers after SlowDelay, which
	// tests set beyond the client's timeout.
	FaultSlow Fault = "slow"
)

// AllFaults lists every fault kind.
var AllFaults = []Fault{Fault500, Fault502, Fault503, FaultResetBefore, FaultResetAfter, FaultSlow}

// RetryAfterMode says how a 429 advertises when to come back.
type RetryAfterMode string

const (
	RetryAfterNone    RetryAfterMode = "none"
	RetryAfterSeconds RetryAfterMode = "seconds"
	RetryAfterDate    RetryAfterMode = "date"
)

// Config sets up a sandbox. The zero value of each field is the documented
// service's behaviour without faults.
type Config struct {
	// Token is the API token the service accepts.
	Token string
	// Rate is the allowed requests per second across all endpoints; 0
	// means Explo's documented 180 a minute. Negative disables the limit.
	Rate float64
	// Burst is how many requests may arrive at once; 0 means one second's
	// worth of Rate.
	Burst      int
	RetryAfter RetryAfterMode
	// Latency delays every answer.
	Latency time.Duration
	// FailRate is the probability of injecting one of Faults into a call.
	FailRate float64
	// Faults are the kinds FailRate draws from; nil means all of them.
	Faults    []Fault
	SlowDelay time.Duration
	// Reject answers 400 success: 0 with this message for named group ids.
	Reject map[string]string
	// EnvTag is the api_environment_tag of new groups; "" is "Customer".
	EnvTag string
	// Seed makes fault injection reproducible; 0 picks one at random.
	Seed uint64
	// RecordRequests keeps every authorised request for [Server.Requests].
	RecordRequests bool
}

// Group is a user group as the service holds it.
type Group struct {
	ID         string            `json:"provided_id"`
	Name       string            `json:"name"`
	IsDemo     bool              `json:"is_demo_group"`
	Mapping    map[string]string `json:"mapping"`
	Properties json.RawMessage   `json:"properties"`
	Token      string            `json:"token"`
	EnvTag     string            `json:"api_environment_tag"`
	TeamID     int               `json:"team_id"`
}

// Stats counts what the sandbox answered.
type Stats struct {
	Requests int // every request, whatever the answer
	Creates  int // create calls that created a group
	Gets     int // create calls that found an existing group
	Updates  int // update calls that changed a group
	Throttled,
	Unauthorized,
	Rejected,
	Faults int
	// Paths counts requests per path.
	Paths map[string]int
}

// Request is one recorded call: its path and the keys of its body.
type Request struct {
	Path string
	Body map[string]json.RawMessage
}

// Server is the sandbox. It is safe for concurrent use.
type Server struct {
	cfg     Config
	limiter *rate.Limiter
	mux     *http.ServeMux

	mu       sync.Mutex
	groups   map[string]*Group
	stats    Stats
	requests []Request
	rng      *rand.Rand
	dirty    chan struct{}
}

const teamID = 1

// New returns a sandbox with an empty store.
func New(cfg Config) *Server {
	if cfg.Rate == 0 {
		cfg.Rate = 3
	}
	if cfg.EnvTag == "" {
		cfg.EnvTag = "Customer"
	}
	if cfg.Faults == nil {
		cfg.Faults = AllFaults
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{cfg: cfg, groups: map[string]*Group{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	s.stats.Paths = map[string]int{}
	if cfg.Rate > 0 {
		burst := cfg.Burst
		if burst <= 0 {
			burst = max(1, int(cfg.Rate))
		}
		s.limiter = rate.NewLimiter(rate.Limit(cfg.Rate), burst)
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/api/create_user_group/", s.create)
	// Older documentation shows create under /embed/.
	s.mux.HandleFunc("/embed/create_user_group/", s.create)
	s.mux.HandleFunc("/api/update_user_group/", s.update)
	return s
}

// Groups returns a copy of the store.
func (s *Server) Groups() map[string]Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Group, len(s.groups))
	for id, g := range s.groups {
		out[id] = *g
	}
	return out
}

// Put stores g as if it had been created earlier, for tests of groups that
// exist before groupsync first runs. A missing token is generated.
func (s *Server) Put(g Group) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.Token == "" {
		g.Token = newToken()
	}
	if g.EnvTag == "" {
		g.EnvTag = s.cfg.EnvTag
	}
	g.TeamID = teamID
	s.groups[g.ID] = &g
	s.markDirty()
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Paths = make(map[string]int, len(s.stats.Paths))
	for k, v := range s.stats.Paths {
		st.Paths[k] = v
	}
	return st
}

// Requests returns the calls that reached a handler with a valid token, in
// arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ResetStats zeroes the counters and the request log, keeping the groups.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = Stats{Paths: map[string]int{}}
	s.requests = nil
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// newToken makes a customer token as random as a real one.
func newToken() string {
	b := make([]byte, 24)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// Unreject stops rejecting id.
func (s *Server) Unreject(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cfg.Reject, id)
}
