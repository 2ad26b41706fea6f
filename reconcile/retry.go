package reconcile

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// RetryPolicy says how hard apply tries before a group fails. It is for
// failures (5xx, timeouts, broken connections); a 429 is not a failure and
// is answered by the [Limiter] instead.
type RetryPolicy struct {
	// MaxAttempts bounds the failed attempts of one request, first try
	// included; 429s do not count.
	MaxAttempts int
	// Base and Cap bound the exponential backoff: the wait before retry n
	// is drawn uniformly from [0, min(Cap, Base·2ⁿ)) ("full jitter"), so
	// workers that failed together do not come back together.
	Base, Cap time.Duration
	// MaxRetryAfter caps how long a failure's Retry-After may make a call
	// wait. A server asking for longer fails the group with that reason
	// instead of hanging a cron job.
	MaxRetryAfter time.Duration
	// BudgetFloor and BudgetRatio bound retries of failures over the whole
	// run: BudgetFloor retries, plus BudgetRatio more for each call that
	// succeeded. A service that fails more than that is down, and the run
	// stops rather than hammer it.
	BudgetFloor int
	BudgetRatio float64
}

// DefaultRetryPolicy returns the policy groupsync uses unless told otherwise.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:   6,
		Base:          500 * time.Millisecond,
		Cap:           10 * time.Second,
		MaxRetryAfter: 2 * time.Minute,
		BudgetFloor:   20,
		BudgetRatio:   0.5,
	}
}

// ErrRetryBudget is returned by Apply when failures used up the retry budget.
var ErrRetryBudget = errors.New("the service keeps failing: retry budget exhausted")

func (p RetryPolicy) backoff(failures int) time.Duration {
	d := p.Cap
	if failures < 30 && p.Base<<failures < p.Cap {
		d = p.Base << failures
	}
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// budget counts the retries a run may still make.
type budget struct {
	mu     sync.Mutex
	tokens float64
	ratio  float64
}

func newBudget(p RetryPolicy) *budget {
	return &budget{tokens: float64(p.BudgetFloor), ratio: p.BudgetRatio}
}

func (b *budget) earn() {
	b.mu.Lock()
	b.tokens += b.ratio
	b.mu.Unlock()
}

func (b *budget) spend() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
