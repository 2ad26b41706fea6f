package sandbox

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// A clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestLimiter_DRFSlidingLog(t *testing.T) {
	l := newLimiter(LimiterDRF, 3, 10*time.Second, 0)
	t0 := time.Unix(1000, 0)
	for i := range 3 {
		if ok, _, _ := l.admit(t0.Add(time.Duration(i) * time.Second)); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	// Full: the wait is until the oldest accepted request leaves.
	ok, wait, known := l.admit(t0.Add(4 * time.Second))
	if ok || !known || wait != 6*time.Second {
		t.Fatalf("4th: %v %v %v, want refused, wait 6s", ok, wait, known)
	}
	// Refused requests are not logged: hammering changes nothing.
	for range 100 {
		l.admit(t0.Add(5 * time.Second))
	}
	if ok, _, _ := l.admit(t0.Add(10 * time.Second)); !ok {
		t.Fatal("one slot should be free once the oldest request left the window")
	}
	if ok, wait, _ := l.admit(t0.Add(10 * time.Second)); ok || wait != time.Second {
		t.Fatalf("after one slot freed: %v %v, want refused with 1s (the next oldest)", ok, wait)
	}
	// A quota lowered below what is in use gives no wait at all.
	l.setQuota(1)
	if ok, _, known := l.admit(t0.Add(10 * time.Second)); ok || known {
		t.Fatalf("over a lowered quota: %v, known %v; want refused without a wait", ok, known)
	}
}

func TestLimiter_FixedWindow(t *testing.T) {
	l := newLimiter(LimiterFixed, 2, time.Second, 0)
	t0 := time.Unix(1000, 0)
	l.admit(t0)
	l.admit(t0.Add(100 * time.Millisecond))
	if ok, wait, _ := l.admit(t0.Add(300 * time.Millisecond)); ok || wait != 700*time.Millisecond {
		t.Fatalf("3rd: %v %v, want refused until the window ends", ok, wait)
	}
	if ok, _, _ := l.admit(t0.Add(time.Second)); !ok {
		t.Fatal("a new window refused")
	}
}

func TestLimiter_Bucket(t *testing.T) {
	l := newLimiter(LimiterBucket, 2, time.Second, 2)
	t0 := time.Unix(1000, 0)
	l.admit(t0)
	l.admit(t0)
	if ok, wait, _ := l.admit(t0); ok || wait != 500*time.Millisecond {
		t.Fatalf("3rd: %v %v, want refused for one refill (500ms)", ok, wait)
	}
	if ok, _, _ := l.admit(t0.Add(500 * time.Millisecond)); !ok {
		t.Fatal("refused after a refill")
	}
}

// The server's 429: DRF's body, and Retry-After in each form, from the
// server's clock.
func TestSandbox_RetryAfterFromTheLog(t *testing.T) {
	for _, mode := range []RetryAfterMode{RetryAfterSeconds, RetryAfterDate, RetryAfterMixed} {
		t.Run(string(mode), func(t *testing.T) {
			clock := &testClock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
			s := New(Config{Token: token, Quota: 2, Window: 10 * time.Second, RetryAfter: mode, Now: clock.Now})
			ts := httptest.NewServer(s)
			defer ts.Close()
			post(t, ts.URL, "/api/create_user_group/", `{"user_group_id": "a", "name": "A"}`)
			clock.add(2500 * time.Millisecond)
			post(t, ts.URL, "/api/create_user_group/", `{"user_group_id": "b", "name": "B"}`)
			seen := map[string]bool{}
			for range 3 {
				resp, body := post(t, ts.URL, "/api/create_user_group/", `{"user_group_id": "c", "name": "C"}`)
				if resp.StatusCode != 429 || body["detail"] != "Request was throttled. Expected available in 8 seconds." {
					t.Fatalf("%d %v", resp.StatusCode, body)
				}
				ra := resp.Header.Get("Retry-After")
				switch {
				case ra == "":
					seen["none"] = true
				case strings.Contains(ra, "GMT"):
					seen["date"] = true
					if ra != "Tue, 24 Nov 2026 12:00:10 GMT" {
						t.Errorf("Retry-After %q, want the instant the oldest request leaves", ra)
					}
				default:
					seen["seconds"] = true
					if ra != "8" {
						t.Errorf("Retry-After %q, want 8 (7.5 rounded up)", ra)
					}
				}
			}
			want := map[RetryAfterMode]int{RetryAfterSeconds: 1, RetryAfterDate: 1, RetryAfterMixed: 3}[mode]
			if len(seen) != want {
				t.Errorf("forms seen %v", seen)
			}
		})
	}
}

// A server that logs refused requests keeps a client that calls while
// throttled out: each refusal takes a slot for a window.
func TestLimiter_DRFLogsRefused(t *testing.T) {
	t0 := time.Unix(1000, 0)
	l := newLimiter(LimiterDRFLogsRefused, 2, 10*time.Second, 0)
	l.admit(t0)
	l.admit(t0.Add(time.Second))
	if ok, wait, known := l.admit(t0.Add(2 * time.Second)); ok || !known || wait != 8*time.Second {
		t.Fatalf("3rd: %v %v %v, want refused, wait 8s", ok, wait, known)
	}
	// The first left the window, but the refusal at 2s holds its slot.
	if ok, _, _ := l.admit(t0.Add(10500 * time.Millisecond)); ok {
		t.Fatal("at 10.5s: accepted, though a refused call holds a slot")
	}
	if ok, _, _ := l.admit(t0.Add(21 * time.Second)); !ok {
		t.Fatal("refused after a whole quiet window")
	}
	plain := newLimiter(LimiterDRF, 2, 10*time.Second, 0)
	plain.admit(t0)
	plain.admit(t0.Add(time.Second))
	plain.admit(t0.Add(2 * time.Second))
	if ok, _, _ := plain.admit(t0.Add(10500 * time.Millisecond)); !ok {
		t.Fatal("plain DRF counted a refused call")
	}
}
