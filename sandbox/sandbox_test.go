package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const token = "sandbox-test-token"

func post(t *testing.T, url, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	return call(t, "POST", url, path, body)
}

func call(t *testing.T, method, url, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
	req.Header.Set("Explo-Authorization", "Token "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	data, _ := io.ReadAll(resp.Body)
	json.Unmarshal(data, &m)
	return resp, m
}

func start(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	cfg.Token = token
	s := New(cfg)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func TestSandbox_RateLimit(t *testing.T) {
	for _, mode := range []RetryAfterMode{RetryAfterNone, RetryAfterSeconds, RetryAfterDate} {
		t.Run(string(mode), func(t *testing.T) {
			s, url := start(t, Config{Quota: 2, Window: time.Minute, RetryAfter: mode})
			for i := range 2 {
				if resp, _ := post(t, url, "/api/create_user_group/", `{"user_group_id": "a", "name": "A"}`); resp.StatusCode != 200 {
					t.Fatalf("call %d: %d", i, resp.StatusCode)
				}
			}
			resp, body := post(t, url, "/api/create_user_group/", `{"user_group_id": "a", "name": "A"}`)
			if resp.StatusCode != 429 || !strings.HasPrefix(body["detail"].(string), "Request was throttled.") {
				t.Fatalf("third call: %d %v, want 429", resp.StatusCode, body)
			}
			ra := resp.Header.Get("Retry-After")
			switch mode {
			case RetryAfterNone:
				if ra != "" {
					t.Errorf("Retry-After %q, want none", ra)
				}
			case RetryAfterSeconds:
				if n, err := strconv.Atoi(ra); err != nil || n < 58 || n > 60 {
					t.Errorf("Retry-After %q, want about 60 seconds", ra)
				}
			case RetryAfterDate:
				when, err := http.ParseTime(ra)
				if d := time.Until(when); err != nil || d < 57*time.Second || d > 62*time.Second {
					t.Errorf("Retry-After %q, want a date about a minute ahead", ra)
				}
			}
			if st := s.Stats(); st.Throttled != 1 || st.Requests != 3 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestSandbox_Semantics(t *testing.T) {
	s, url := start(t, Config{Quota: -1})
	_, first := post(t, url, "/api/create_user_group/", `{"user_group_id": "a", "name": "A", "mapping": {"40": "1"}, "properties": {"x": 1}}`)
	if first["new_user_group"] != true {
		t.Fatalf("first create = %v", first)
	}
	tok := first["user_group"].(map[string]any)["token"]
	_, again := post(t, url, "/api/create_user_group/", `{"user_group_id": "a", "name": "B"}`)
	if again["new_user_group"] != false || again["user_group"].(map[string]any)["token"] != tok || s.Groups()["a"].Name != "A" {
		t.Fatalf("get-or-create changed something: %v", again)
	}
	_, upd := post(t, url, "/api/update_user_group/", `{"user_group_id": "a", "name": "B", "is_demo_group": true}`)
	g := s.Groups()["a"]
	if upd["success"] != float64(1) || g.Name != "B" || !g.IsDemo || g.Mapping["40"] != "1" || string(g.Properties) != `{"x": 1}` {
		t.Fatalf("update: %v, group %+v (omitted fields must be kept)", upd, g)
	}
	bad := []struct{ path, body, want string }{
		{"/api/update_user_group/", `{"user_group_id": "zz", "name": "Z"}`, "does not exist"},
		{"/api/create_user_group/", `not json`, "JSON parse error"},
		{"/api/create_user_group/", `{"name": "A"}`, "user_group_id: this field is required"},
		{"/api/create_user_group/", `{"user_group_id": "b", "name": "B", "mapping": {"40": 1}}`, "mapping: must be an object"},
		{"/api/create_user_group/", `{"user_group_id": "b", "name": "B", "is_demo_group": "yes"}`, "is_demo_group: must be a boolean"},
		{"/api/create_user_group/", `{"user_group_id": "b", "name": "` + strings.Repeat("x", 256) + `"}`, "no more than 255"},
	}
	for _, b := range bad {
		resp, body := post(t, url, b.path, b.body)
		if resp.StatusCode/100 != 4 || body["success"] != float64(0) || !strings.Contains(body["message"].(string), b.want) {
			t.Errorf("%s %s: %d %v, want success 0 with %q", b.path, b.body, resp.StatusCode, body, b.want)
		}
	}
	req, _ := http.NewRequest("POST", url+"/api/create_user_group/", strings.NewReader(`{"user_group_id": "c", "name": "C"}`))
	req.Header.Set("Explo-Authorization", "Token wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("wrong token: %v %v", resp, err)
	}
	if _, ok := s.Groups()["c"]; ok {
		t.Error("an unauthorised call created a group")
	}
}

func TestSandbox_Faults(t *testing.T) {
	for _, f := range AllFaults {
		t.Run(string(f), func(t *testing.T) {
			s, url := start(t, Config{Quota: -1, FailRate: 1, Faults: []Fault{f}, SlowDelay: 300 * time.Millisecond})
			client := &http.Client{Timeout: 100 * time.Millisecond}
			req, _ := http.NewRequest("POST", url+"/api/create_user_group/", strings.NewReader(`{"user_group_id": "a", "name": "A"}`))
			req.Header.Set("Explo-Authorization", "Token "+token)
			resp, err := client.Do(req)
			created := len(s.Groups()) == 1
			switch f {
			case Fault500, Fault502, Fault503:
				if err != nil || strconv.Itoa(resp.StatusCode) != string(f) || created {
					t.Errorf("got %v %v, created %v", resp, err, created)
				}
			case FaultResetBefore:
				if err == nil || created {
					t.Errorf("got %v, created %v; want a broken connection and no group", resp, created)
				}
			case FaultResetAfter:
				if err == nil || !created {
					t.Errorf("got %v, created %v; want a broken connection after the group was made", resp, created)
				}
			case FaultSlow:
				var ne interface{ Timeout() bool }
				if !errors.As(err, &ne) || !ne.Timeout() || !created {
					t.Errorf("got %v, created %v; want a client timeout after the group was made", err, created)
				}
			}
		})
	}
}

func TestSandbox_Persist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.json")
	s, url := start(t, Config{Quota: -1})
	stop, err := s.Persist(path)
	if err != nil {
		t.Fatal(err)
	}
	post(t, url, "/api/create_user_group/", `{"user_group_id": "a", "name": "A"}`)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s2 := New(Config{Token: token})
	stop2, err := s2.Persist(path)
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	if g := s2.Groups()["a"]; g.Name != "A" || g.Token != s.Groups()["a"].Token {
		t.Errorf("reloaded %+v", g)
	}
}
