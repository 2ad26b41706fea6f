package explo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"groupsync/reconcile"
	"groupsync/sandbox"
)

const token = "api-token-secret-xyz"

func serve(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return New(ts.URL+"/", token, &http.Client{Timeout: time.Second})
}

func TestClient_SendsDocumentedRequest(t *testing.T) {
	var got *http.Request
	var body map[string]json.RawMessage
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		data, _ := io.ReadAll(r.Body)
		json.Unmarshal(data, &body)
		io.WriteString(w, `{"success": 1, "new_user_group": true, "user_group": {"token": "t1", "provided_id": "a", "api_environment_tag": "Testing"}}`)
	})
	g := &reconcile.Group{ID: "a", Name: "A", IsDemo: true, Mapping: reconcile.Pairs{{Key: "40", Value: "213"}}, Properties: reconcile.Pairs{{Key: "n", Value: "2"}},
		Managed: reconcile.FieldIsDemo | reconcile.FieldMapping | reconcile.FieldProperties}
	r, err := c.CreateGroup(context.Background(), g)
	if err != nil || r != (reconcile.Remote{New: true, Token: "t1", EnvTag: "Testing"}) {
		t.Fatalf("CreateGroup() = %+v, %v", r, err)
	}
	if got.Method != "POST" || got.URL.Path != "/api/create_user_group/" || got.Header.Get("Explo-Authorization") != "Token "+token ||
		got.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %v", got.Method, got.URL.Path, got.Header)
	}
	want := map[string]string{"user_group_id": `"a"`, "name": `"A"`, "is_demo_group": "true", "mapping": `{"40":"213"}`, "properties": `{"n":2}`}
	if len(body) != len(want) {
		t.Errorf("body = %v", body)
	}
	for k, v := range want {
		if string(body[k]) != v {
			t.Errorf("body[%s] = %s, want %s", k, body[k], v)
		}
	}
}

func TestNewBody_ManagedButEmptyIsSentEmpty(t *testing.T) {
	b, _ := json.Marshal(NewBody(&reconcile.Group{ID: "a", Name: "A", Managed: reconcile.FieldMapping | reconcile.FieldProperties}))
	if got, want := string(b), `{"user_group_id":"a","name":"A","mapping":{},"properties":{}}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
}

func TestClient_Errors(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    string
		body      string
		kind      error
		wantMsg   string
		wantAfter time.Duration
	}{
		{"SuccessZero", 200, "", `{"success": 0, "message": "name is too long"}`, nil, "HTTP 200 success: 0: name is too long", 0},
		{"BadRequest", 400, "", `{"success": 0, "error": "bad mapping"}`, nil, "HTTP 400: bad mapping", 0},
		{"Unauthorized", 401, "", `{"detail": "Invalid token."}`, reconcile.ErrUnauthorized, "HTTP 401: Invalid token.", 0},
		{"Forbidden", 403, "", ``, reconcile.ErrUnauthorized, "HTTP 403: Forbidden", 0},
		{"RateLimitedSeconds", 429, "7", `{"detail": "throttled"}`, reconcile.ErrRateLimited, "HTTP 429: throttled", 7 * time.Second},
		{"ServiceUnavailable", 503, "", `<html>down</html>`, reconcile.ErrRetryable, "HTTP 503: <html>down</html>", 0},
		{"BadGateway", 502, "", ``, reconcile.ErrRetryable, "HTTP 502: Bad Gateway", 0},
		{"NotJSON", 200, "", `ok`, nil, "HTTP 200: the answer is not the documented JSON: ok", 0},
		{"NoToken", 200, "", `{"success": 1, "user_group": {}}`, nil, "HTTP 200: the answer has no user_group.token", 0},
		{"EchoedSecretsAreRedacted", 400, "", `{"success": 0, "user_group": {"token": "cust-secret"}, "note": "` + token + `"}`, nil,
			`HTTP 400: {"note":"[redacted]","success":0,"user_group":{"token":"[redacted]"}}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := c.UpdateGroup(context.Background(), &reconcile.Group{ID: "a", Name: "A"})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Error() != tt.wantMsg || e.HTTPStatus() != tt.status || e.GroupID != "a" {
				t.Errorf("err = %q (status %d), want %q", e.Error(), e.HTTPStatus(), tt.wantMsg)
			}
			for _, kind := range []error{reconcile.ErrUnauthorized, reconcile.ErrRateLimited, reconcile.ErrRetryable} {
				want := kind == tt.kind || (tt.kind == reconcile.ErrRateLimited && kind == reconcile.ErrRetryable)
				if errors.Is(err, kind) != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", kind, !want, want)
				}
			}
			if d, _ := e.RetryAfter(); d != tt.wantAfter {
				t.Errorf("RetryAfter() = %v, want %v", d, tt.wantAfter)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{"0", 0, true},
		{"Mon, 23 Nov 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Monday, 23-Nov-26 10:01:00 GMT", time.Minute, true}, // RFC 850, still allowed
		{"Mon, 23 Nov 2026 09:00:00 GMT", 0, true},            // in the past: now
		{"", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestClient_TransportFailuresAreRetryable(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
	}))
	defer ts.Close()
	c := New(ts.URL, token, &http.Client{Timeout: 20 * time.Millisecond})
	_, err := c.CreateGroup(context.Background(), &reconcile.Group{ID: "a", Name: "A"})
	if !errors.Is(err, reconcile.ErrRetryable) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("timeout: err = %v, want retryable timeout", err)
	}
	ts.Close()
	_, err = c.CreateGroup(context.Background(), &reconcile.Group{ID: "a", Name: "A"})
	if !errors.Is(err, reconcile.ErrRetryable) {
		t.Errorf("refused connection: err = %v, want retryable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.CreateGroup(ctx, &reconcile.Group{ID: "a", Name: "A"}); errors.Is(err, reconcile.ErrRetryable) {
		t.Errorf("cancelled: err = %v is retryable", err)
	}
}

// Against the sandbox: get-or-create and update as API.md documents them.
func TestClient_AgainstSandbox(t *testing.T) {
	sb := sandbox.New(sandbox.Config{Token: token, Rate: -1})
	ts := httptest.NewServer(sb)
	defer ts.Close()
	c := New(ts.URL, token, &http.Client{Timeout: time.Second})
	ctx := context.Background()
	g := &reconcile.Group{ID: "a", Name: "A"}
	first, err := c.CreateGroup(ctx, g)
	if err != nil || !first.New || first.Token == "" || first.EnvTag != "Customer" {
		t.Fatalf("create = %+v, %v", first, err)
	}
	again, err := c.CreateGroup(ctx, &reconcile.Group{ID: "a", Name: "Changed"})
	if err != nil || again.New || again.Token != first.Token || sb.Groups()["a"].Name != "A" {
		t.Fatalf("get-or-create changed the group or its token: %+v, %v, %+v", again, err, sb.Groups()["a"])
	}
	if _, err := c.UpdateGroup(ctx, &reconcile.Group{ID: "missing", Name: "M"}); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("update of an unknown id: err = %v, want HTTP 404", err)
	}
	bad := New(ts.URL, "wrong", &http.Client{Timeout: time.Second})
	if _, err := bad.CreateGroup(ctx, g); !errors.Is(err, reconcile.ErrUnauthorized) {
		t.Errorf("wrong token: err = %v, want ErrUnauthorized", err)
	}
}
