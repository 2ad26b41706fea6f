package sandbox

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// LimiterModel is how the sandbox's rate limit counts.
type LimiterModel string

const (
	// LimiterDRF is Django REST Framework's SimpleRateThrottle, which
	// docs/explo-api.md says Explo most likely runs: a sliding log of the accepted
	// requests of the last window. Refused requests are not logged, and
	// Retry-After is the time until the oldest accepted request leaves
	// the window: one slot, not the whole window.
	LimiterDRF LimiterModel = "drf"
	// LimiterFixed counts requests in fixed windows.
	LimiterFixed LimiterModel = "fixed"
	// LimiterBucket is a token bucket of Burst.
	LimiterBucket LimiterModel = "bucket"
	// LimiterDRFLogsRefused is DRF's throttle changed to log refused
	// requests too, as some servers penalise a client that keeps calling
	// while throttled: until it stops, its window never empties. Its
	// Retry-After is DRF's, so there is none once the log holds more than
	// the quota.
	LimiterDRFLogsRefused LimiterModel = "drf-logs-refused"
)

// LimiterModels lists the models, for flags.
var LimiterModels = []LimiterModel{LimiterDRF, LimiterFixed, LimiterBucket, LimiterDRFLogsRefused}

// limiter admits or refuses one request at now. A refusal says how long
// until a request would pass, when the model knows.
type limiter interface {
	admit(now time.Time) (ok bool, wait time.Duration, known bool)
	setQuota(n int)
}

func newLimiter(model LimiterModel, quota int, window time.Duration, burst int) limiter {
	switch model {
	case LimiterFixed:
		return &fixedLimiter{quota: quota, window: window}
	case LimiterBucket:
		if burst <= 0 {
			burst = quota
		}
		return &bucketLimiter{rate: float64(quota) / window.Seconds(), burst: float64(burst), tokens: float64(burst)}
	case LimiterDRFLogsRefused:
		return &drfLimiter{quota: quota, window: window, logRefused: true}
	}
	return &drfLimiter{quota: quota, window: window}
}

// drfLimiter follows rest_framework/throttling.py: history holds the
// times of accepted requests (and of refused ones with logRefused),
// newest last.
type drfLimiter struct {
	mu         sync.Mutex
	quota      int
	window     time.Duration
	logRefused bool
	history    []time.Time
}

func (l *drfLimiter) admit(now time.Time) (bool, time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cut := now.Add(-l.window)
	i := 0
	for i < len(l.history) && !l.history[i].After(cut) {
		i++
	}
	l.history = l.history[i:]
	if n := len(l.history); n >= l.quota {
		if l.logRefused {
			l.history = append(l.history, now)
		}
		if n > l.quota {
			// Over a quota lowered since (or refused calls logged): DRF
			// computes no wait.
			return false, 0, false
		}
		return false, l.history[0].Add(l.window).Sub(now), true
	}
	l.history = append(l.history, now)
	return true, 0, false
}

func (l *drfLimiter) setQuota(n int) {
	l.mu.Lock()
	l.quota = n
	l.mu.Unlock()
}

// fixedLimiter counts the requests of each window, from the first.
type fixedLimiter struct {
	mu     sync.Mutex
	quota  int
	window time.Duration
	start  time.Time
	count  int
}

func (l *fixedLimiter) admit(now time.Time) (bool, time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.start.IsZero() || now.Sub(l.start) >= l.window {
		if l.start.IsZero() {
			l.start = now
		}
		for now.Sub(l.start) >= l.window {
			l.start = l.start.Add(l.window)
		}
		l.count = 0
	}
	if l.count >= l.quota {
		return false, l.start.Add(l.window).Sub(now), true
	}
	l.count++
	return true, 0, false
}

func (l *fixedLimiter) setQuota(n int) {
	l.mu.Lock()
	l.quota = n
	l.mu.Unlock()
}

// bucketLimiter refills rate tokens a second, up to burst.
type bucketLimiter struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func (l *bucketLimiter) admit(now time.Time) (bool, time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() {
		l.tokens = math.Min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	}
	l.last = now
	if l.tokens < 1 {
		return false, time.Duration((1 - l.tokens) / l.rate * float64(time.Second)), true
	}
	l.tokens--
	return true, 0, false
}

func (l *bucketLimiter) setQuota(n int) {
	l.mu.Lock()
	l.burst = float64(n)
	l.tokens = math.Min(l.tokens, l.burst)
	l.mu.Unlock()
}

// throttle answers 429 as DRF does, with Retry-After in the configured
// form: whole seconds rounded up, or an HTTP date never earlier than the
// wait.
func (s *Server) throttle(w http.ResponseWriter, now time.Time, wait time.Duration, known bool) {
	secs := int(math.Ceil(wait.Seconds()))
	mode := s.cfg.RetryAfter
	if mode == RetryAfterMixed {
		s.mu.Lock()
		s.answers++
		mode = []RetryAfterMode{RetryAfterNone, RetryAfterSeconds, RetryAfterDate}[s.answers%3]
		s.mu.Unlock()
	}
	if known {
		switch mode {
		case RetryAfterSeconds:
			w.Header().Set("Retry-After", strconv.Itoa(secs))
		case RetryAfterDate:
			at := now.Add(wait)
			if at.Truncate(time.Second) != at {
				at = at.Truncate(time.Second).Add(time.Second)
			}
			w.Header().Set("Retry-After", at.UTC().Format(http.TimeFormat))
		}
	}
	msg := "Request was throttled."
	if known {
		msg = fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs)
	}
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"detail": msg})
}
