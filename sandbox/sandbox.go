// Package sandbox is a local Explo API, faithful to docs/explo-api.md: both the End
// User Group API and the Customer API over one store of customers, the
// auth header, the slash rule, get-or-create, partial updates and renames,
// the list with its paging, the group tag list, delete, token rotation,
// hierarchy levels and group tags, success: 0 errors, and a rate limit
// shared by every endpoint (Django REST Framework's sliding log by
// default, or a fixed window or a token bucket). Where revisions of
// Explo's docs disagree (the list's keys, delete and children), each is a
// mode. It starts empty, from a data file, or from a seed file of
// customers. It can also misbehave on purpose: latency, faults, lost
// answers, and hostile modes (redirects, answers about another group,
// echoed tokens, 429 storms, pages that are not the API, lists that lie)
// that the client must survive.
//
// `groupsync sandbox` serves it; tests wrap [New] in httptest.NewServer.
// It shares no code with the client in explo/ on purpose: it is a second,
// independent reading of the API contract, so a client mistake shows up
// as a failing test rather than as an agreement between two copies of a
// bug.
package sandbox

import (
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"
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
	// RetryAfterMixed cycles through none, seconds and date.
	RetryAfterMixed RetryAfterMode = "mixed"
)

// Config sets up a sandbox. The zero value of each field is the documented
// service's behaviour without faults.
type Config struct {
	// Token is the API token the service accepts.
	Token string
	// Quota requests per Window are allowed across all endpoints. Zero
	// means Explo's documented 180 a minute; a negative Quota disables the
	// limit.
	Quota  int
	Window time.Duration
	// Limiter is the model of the limit: DRF's sliding log (the default),
	// a fixed window or a token bucket of Burst.
	Limiter    LimiterModel
	Burst      int
	RetryAfter RetryAfterMode
	// Latency delays every answer.
	Latency time.Duration
	// FailRate is the probability of injecting one of Faults into a call.
	FailRate float64
	// Faults are the kinds FailRate draws from; nil means all of them.
	Faults    []Fault
	SlowDelay time.Duration
	// Reject answers 400 success: 0 with this message for named ids.
	Reject map[string]string
	// EnvTag is the api_environment_tag of new groups; "" is "Customer".
	EnvTag string
	// AccessGroup is the data visibility group of the API token.
	AccessGroup string
	// Levels are the hierarchy levels, highest first; nil is
	// Organization, Department, Team.
	Levels []string
	// Tags are the group tags that exist; nil is gold, silver, eu, us.
	Tags []string
	// ListStyle is the revision of the docs the list answers by:
	// [ListTotalCount] (the default), [ListCount] or [ListCamel].
	ListStyle string
	// DeleteChildren is the revision of delete_customer in force:
	// [DeleteCascade] (the default) or [DeleteRefuse].
	DeleteChildren DeleteMode
	// Hostile modes, off by default.
	Hostile []Hostile
	// RedirectTo is where HostileRedirect sends requests.
	RedirectTo string
	// FaultSeed makes fault injection reproducible; 0 picks one at random.
	FaultSeed uint64
	// RecordRequests keeps every authorised request for [Server.Requests].
	RecordRequests bool
	// Now is the limiter's clock; nil is time.Now.
	Now func() time.Time
}

// Group is a customer (a user group) as the service holds it.
type Group struct {
	ID          string            `json:"provided_id"`
	Name        string            `json:"name"`
	IsDemo      bool              `json:"is_demo_group"`
	Mapping     map[string]string `json:"mapping"`
	Properties  json.RawMessage   `json:"properties"`
	Emails      []string          `json:"emails"`
	Tags        []string          `json:"group_tags"`
	Level       string            `json:"hierarchy_level"`
	Parent      string            `json:"parent_provided_id,omitempty"`
	Token       string            `json:"token"`
	EnvTag      string            `json:"api_environment_tag"`
	AccessGroup string            `json:"access_group"`
	TeamID      int               `json:"team_id"`
	// Seq orders the list: the order of creation.
	Seq int `json:"seq"`
}

// Stats counts what the sandbox answered.
type Stats struct {
	Requests  int // every request, whatever the answer
	Creates   int // create calls that created a group
	Gets      int // create calls that found an existing group
	Updates   int // update calls that changed a group
	Deletes   int // delete calls (cascades not counted)
	Rotations int
	Lists     int
	Throttled,
	Unauthorized,
	Rejected,
	Faults int
	// Paths counts requests per path.
	Paths map[string]int
}

// Request is one recorded call.
type Request struct {
	Method, Path, Query string
	Body                map[string]json.RawMessage
	// Auth is the Explo-Authorization header it came with.
	Auth string
}

// Server is the sandbox. It is safe for concurrent use.
type Server struct {
	cfg     Config
	limiter limiter

	mu       sync.Mutex
	groups   map[string]*Group
	seq      int
	stats    Stats
	requests []Request
	rng      *rand.Rand
	dirty    chan struct{}
	hostile  map[Hostile]bool
	answers  int // for hostile modes that vary
	gate     *gate
	severed  bool
	// lose counts, per path, the requests still to be acted on and then
	// left unanswered (see [Server.LoseAnswers]).
	lose map[string]int
}

const teamID = 1

// New returns a sandbox with an empty store.
func New(cfg Config) *Server {
	if cfg.Quota == 0 {
		cfg.Quota, cfg.Window = 180, time.Minute
	}
	if cfg.Window == 0 {
		cfg.Window = time.Second
	}
	if cfg.RetryAfter == "" {
		cfg.RetryAfter = RetryAfterSeconds
	}
	if cfg.EnvTag == "" {
		cfg.EnvTag = "Customer"
	}
	if cfg.AccessGroup == "" {
		cfg.AccessGroup = "Production"
	}
	if cfg.Levels == nil {
		cfg.Levels = []string{"Organization", "Department", "Team"}
	}
	if cfg.Tags == nil {
		cfg.Tags = []string{"gold", "silver", "eu", "us"}
	}
	if cfg.Faults == nil {
		cfg.Faults = AllFaults
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	seed := cfg.FaultSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{cfg: cfg, groups: map[string]*Group{}, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), hostile: map[Hostile]bool{}}
	s.stats.Paths = map[string]int{}
	for _, h := range cfg.Hostile {
		s.hostile[h] = true
	}
	if cfg.Quota > 0 {
		s.limiter = newLimiter(cfg.Limiter, cfg.Quota, cfg.Window, cfg.Burst)
	}
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
	s.put(&g)
}

func (s *Server) put(g *Group) {
	if g.Token == "" {
		g.Token = newToken()
	}
	if g.EnvTag == "" {
		g.EnvTag = s.cfg.EnvTag
	}
	if g.AccessGroup == "" {
		g.AccessGroup = s.cfg.AccessGroup
	}
	if g.Level == "" {
		g.Level = s.cfg.Levels[0]
	}
	if g.Mapping == nil {
		g.Mapping = map[string]string{}
	}
	g.TeamID = teamID
	s.seq++
	g.Seq = s.seq
	s.groups[g.ID] = g
	s.markDirty()
}

// Change edits a group behind the client's back, as someone in Explo's
// UI would. It reports whether the group exists.
func (s *Server) Change(id string, edit func(*Group)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.groups[id]
	if g == nil {
		return false
	}
	edit(g)
	s.markDirty()
	return true
}

// Delete deletes a group and every group below it, as Explo's UI would,
// whichever revision of delete_customer is in force.
func (s *Server) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cascade(id)
}

// cascade deletes id and its descendants. Callers hold s.mu.
func (s *Server) cascade(id string) {
	delete(s.groups, id)
	for cid, g := range s.groups {
		if g.Parent == id {
			s.cascade(cid)
		}
	}
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

// Reject answers 400 success: 0 with msg to every call about id.
func (s *Server) Reject(id, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Reject == nil {
		s.cfg.Reject = map[string]string{}
	}
	s.cfg.Reject[id] = msg
}

// Unreject stops rejecting id.
func (s *Server) Unreject(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cfg.Reject, id)
}

// SetHostile replaces the hostile modes in force.
func (s *Server) SetHostile(modes ...Hostile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hostile = map[Hostile]bool{}
	for _, h := range modes {
		s.hostile[h] = true
	}
}

// SetQuota changes the limit's quota, as Explo did in 2025: a client over
// a lowered quota gets 429s without Retry-After.
func (s *Server) SetQuota(n int) {
	if s.limiter != nil {
		s.limiter.setQuota(n)
	}
}

// newToken makes a customer token as random as a real one.
func newToken() string {
	b := make([]byte, 24)
	_, _ = crand.Read(b)
	return hex.EncodeToString(b)
}

// levelIndex is the rank of a level, 0 for the highest; -1 when unknown.
func (s *Server) levelIndex(name string) int {
	return slices.Index(s.cfg.Levels, name)
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.serve(w, r) }
