package explo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
	return New(ts.URL+"/", token, time.Second, 2)
}

func TestUserGroups_SendsDocumentedRequest(t *testing.T) {
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
	r, err := c.UserGroups().CreateGroup(context.Background(), g)
	if err != nil || r != (reconcile.Remote{ID: "a", New: true, Token: "t1", EnvTag: "Testing", Code: 200}) {
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
	cb, _ := json.Marshal(NewCustomerBody(&reconcile.Group{ID: "a", Name: "A", Managed: reconcile.FieldTags | reconcile.FieldEmails | reconcile.FieldParent,
		Customer: &reconcile.Customer{Parent: "p"}}))
	if got, want := string(cb), `{"provided_id":"a","name":"A","emails":[],"group_tags":[],"parent_provided_id":"p"}`; got != want {
		t.Errorf("customer body %s, want %s", got, want)
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
		{"SuccessZeroWithoutMessage", 200, "", `{"success": 0, "user_group": {"token": "cust-secret-123456789"}}`, nil, "HTTP 200 success: 0: no message", 0},
		{"BadRequest", 400, "", `{"success": 0, "error": "bad mapping"}`, nil, "HTTP 400: bad mapping", 0},
		{"Unauthorized", 401, "", `{"detail": "Invalid token."}`, reconcile.ErrUnauthorized, "HTTP 401: Invalid token.", 0},
		{"Forbidden", 403, "", ``, reconcile.ErrUnauthorized, "HTTP 403: Forbidden", 0},
		{"RateLimitedSeconds", 429, "7", `{"detail": "throttled"}`, reconcile.ErrRateLimited, "HTTP 429: throttled", 7 * time.Second},
		{"ServiceUnavailable", 503, "", `<html><title>Down for maintenance</title></html>`, reconcile.ErrRetryable, "HTTP 503: an HTML page: Down for maintenance", 0},
		{"BadGateway", 502, "", ``, reconcile.ErrRetryable, "HTTP 502: Bad Gateway", 0},
		{"NotFoundJSON", 404, "", `{"success": 0, "message": "does not exist"}`, reconcile.ErrNotFound, "HTTP 404: does not exist", 0},
		{"NotFoundPage", 404, "", `<html><title>Not Found</title></html>`, reconcile.ErrNotAPI, "HTTP 404: an HTML page: Not Found", 0},
		{"MethodNotAllowedPage", 405, "", `Method Not Allowed`, reconcile.ErrNotAPI, "HTTP 405: Method Not Allowed", 0},
		{"NotJSON", 200, "", `ok`, reconcile.ErrUnreadable, "HTTP 200: the answer is not the documented JSON (2 bytes, not shown)", 0},
		{"NoGroup", 200, "", `{"success": 1}`, nil, "HTTP 200: the answer has no user_group", 0},
		{"Redirect", 301, "", ``, reconcile.ErrRedirect, "HTTP 301: the service redirected to an unnamed host; groupsync never follows a redirect, which would send the API token there (check --api-url)", 0},
	}
	kinds := []error{reconcile.ErrUnauthorized, reconcile.ErrRateLimited, reconcile.ErrRetryable, reconcile.ErrNotFound, reconcile.ErrNotAPI, reconcile.ErrRedirect, reconcile.ErrUnreachable, reconcile.ErrUnreadable}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := c.UserGroups().UpdateGroup(context.Background(), &reconcile.Group{ID: "a", Name: "A"})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.Error() != tt.wantMsg || e.Code() != tt.status || e.GroupID != "a" {
				t.Errorf("err = %q (status %d), want %q", e.Error(), e.Code(), tt.wantMsg)
			}
			for _, kind := range kinds {
				if errors.Is(err, kind) != (kind == tt.kind) {
					t.Errorf("errors.Is(err, %v) = %v", kind, errors.Is(err, kind))
				}
			}
			if d, _ := e.RetryAfter(); d != tt.wantAfter {
				t.Errorf("RetryAfter() = %v, want %v", d, tt.wantAfter)
			}
		})
	}
}

// A redirect is never followed, so the API token never reaches the host
// it names, and the message names that host.
func TestClient_NeverFollowsRedirects(t *testing.T) {
	var leaked []string
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = append(leaked, r.Header.Get("Explo-Authorization"))
		io.WriteString(w, `{"success": 1, "new_user_group": true, "user_group": {"token": "forged", "provided_id": "a"}}`)
	}))
	defer evil.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		c := serve(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, evil.URL+r.URL.Path, code)
		})
		_, err := c.UserGroups().CreateGroup(context.Background(), &reconcile.Group{ID: "a", Name: "A"})
		if !errors.Is(err, reconcile.ErrRedirect) || !strings.Contains(err.Error(), "redirected to host "+strings.TrimPrefix(evil.URL, "http://")) {
			t.Errorf("%d: err = %v", code, err)
		}
	}
	if len(leaked) > 0 {
		t.Fatalf("the redirect target got %d requests (with %q)", len(leaked), leaked)
	}
}

// Tokens never make it into a message, whatever the answer: near-JSON 2xx
// bodies, tokens nested under the message keys, long text cut after the
// API token started.
func TestClient_MessagesNeverCarryTokens(t *testing.T) {
	cust := "c0ffee00c0ffee00c0ffee00c0ffee00"
	bodies := []struct {
		status int
		body   string
	}{
		{200, "\ufeff" + `{"success": 1, "user_group": {"token": "` + cust + `", "provided_id": "a"}}`},
		{200, `)]}'` + "\n" + `{"success": 1, "user_group": {"token": "` + cust + `"}}`},
		{200, `{"success": 1, "user_group": {"token": "` + cust + `"}} trailing`},
		{400, `{"success": 0, "errors": {"detail": [{"token": "` + cust + `", "why": "token ` + cust + ` and ` + token + `"}]}}`},
		{400, `{"success": 0, "error": {"message": "bad", "customer": {"token": "` + cust + `"}}}`},
		{502, strings.Repeat("x", 290) + "Token " + token + " customer " + cust},
		{500, "<pre>Traceback: Explo-Authorization: Token " + token + "</pre>"},
	}
	for _, b := range bodies {
		c := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(b.status)
			io.WriteString(w, b.body)
		})
		_, err := c.UserGroups().CreateGroup(context.Background(), &reconcile.Group{ID: "a", Name: "A"})
		msg := err.Error()
		for _, secret := range []string{cust, token, token[:10], cust[:16]} {
			if strings.Contains(msg, secret) {
				t.Errorf("%d %q: message %q holds %q", b.status, b.body, msg, secret)
			}
		}
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

func TestClient_TransportFailures(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // so that the server notices the client leave
		<-r.Context().Done()
	}))
	c := New(ts.URL, token, 20*time.Millisecond, 1)
	_, err := c.UserGroups().CreateGroup(context.Background(), &reconcile.Group{ID: "a", Name: "A"})
	if !errors.Is(err, reconcile.ErrRetryable) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("timeout: err = %v, want retryable timeout", err)
	}
	ts.Close()
	// Nothing listens: no connection at all.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	c = New("http://"+addr, token, time.Second, 1)
	if _, err := c.UserGroups().CreateGroup(context.Background(), &reconcile.Group{ID: "a", Name: "A"}); !errors.Is(err, reconcile.ErrUnreachable) {
		t.Errorf("refused connection: err = %v, want unreachable", err)
	}
	c = New("https://no-such-host.invalid", token, time.Second, 1)
	if _, err := c.UserGroups().CreateGroup(context.Background(), &reconcile.Group{ID: "a", Name: "A"}); !errors.Is(err, reconcile.ErrUnreachable) {
		t.Errorf("unknown host: err = %v, want unreachable", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.UserGroups().CreateGroup(ctx, &reconcile.Group{ID: "a", Name: "A"}); errors.Is(err, reconcile.ErrRetryable) || errors.Is(err, reconcile.ErrUnreachable) {
		t.Errorf("cancelled: err = %v", err)
	}
}

// Against the sandbox: both APIs as docs/explo-api.md describes them.
func TestClient_AgainstSandbox(t *testing.T) {
	sb := sandbox.New(sandbox.Config{Token: token, Quota: -1})
	ts := httptest.NewServer(sb)
	defer ts.Close()
	c := New(ts.URL, token, time.Second, 2)
	ctx := context.Background()
	ug := c.UserGroups()
	g := &reconcile.Group{ID: "a", Name: "A"}
	first, err := ug.CreateGroup(ctx, g)
	if err != nil || !first.New || first.Token == "" || first.EnvTag != "Customer" || first.ID != "a" {
		t.Fatalf("create = %+v, %v", first, err)
	}
	again, err := ug.CreateGroup(ctx, &reconcile.Group{ID: "a", Name: "Changed"})
	if err != nil || again.New || again.Token != first.Token || sb.Groups()["a"].Name != "A" {
		t.Fatalf("get-or-create changed the group or its token: %+v, %v, %+v", again, err, sb.Groups()["a"])
	}
	if _, err := ug.UpdateGroup(ctx, &reconcile.Group{ID: "missing", Name: "M"}); !errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("update of an unknown id: err = %v, want ErrNotFound", err)
	}
	bad := New(ts.URL, "wrong", time.Second, 1)
	if _, err := bad.UserGroups().CreateGroup(ctx, g); !errors.Is(err, reconcile.ErrUnauthorized) {
		t.Errorf("wrong token: err = %v, want ErrUnauthorized", err)
	}
	wrongPath := New(ts.URL+"/api", token, time.Second, 1)
	if _, err := wrongPath.UserGroups().CreateGroup(ctx, g); !errors.Is(err, reconcile.ErrNotAPI) {
		t.Errorf("a base URL with /api: err = %v, want ErrNotAPI", err)
	}
}

func TestCustomers_AgainstSandbox(t *testing.T) {
	for _, style := range []string{sandbox.ListTotalCount, sandbox.ListCount, sandbox.ListCamel} {
		t.Run(style, func(t *testing.T) {
			sb := sandbox.New(sandbox.Config{Token: token, Quota: -1, ListStyle: style})
			ts := httptest.NewServer(sb)
			defer ts.Close()
			cs := New(ts.URL, token, time.Second, 2).Customers()
			ctx := context.Background()
			org := &reconcile.Group{ID: "org", Name: "Org", Managed: reconcile.FieldTags | reconcile.FieldProperties,
				Properties: reconcile.Pairs{{Key: "tier", Value: "2"}}, Customer: &reconcile.Customer{Tags: []string{"gold"}}}
			r, err := cs.CreateGroup(ctx, org)
			if err != nil || !r.New || r.ID != "org" || r.EnvTag != "Production" {
				t.Fatalf("create = %+v, %v", r, err)
			}
			team := &reconcile.Group{ID: "team", Name: "Team", Managed: reconcile.FieldLevel | reconcile.FieldParent,
				Customer: &reconcile.Customer{Level: "Team", Parent: "org"}}
			if _, err := cs.CreateGroup(ctx, team); err != nil {
				t.Fatal(err)
			}
			for i := range 1005 {
				sb.Put(sandbox.Group{ID: fmt.Sprintf("c%04d", i), Name: "C"})
			}
			seen := map[string]*reconcile.Applied{}
			page := 1
			for ; ; page++ {
				p, err := cs.ListGroups(ctx, reconcile.ListQuery{Page: page})
				if err != nil {
					t.Fatal(err)
				}
				for i := range p.Groups {
					seen[p.Groups[i].ID] = &p.Groups[i]
				}
				if !p.More {
					break
				}
			}
			if page != 2 || len(seen) != 1007 {
				t.Fatalf("%d pages, %d customers; want 2 and 1007", page, len(seen))
			}
			o := seen["org"]
			if o.Token != r.Token || o.Cust().Tags[0] != "gold" || o.Cust().Level != "Organization" || o.Properties[0].Value != "2" {
				t.Errorf("listed org = %+v %+v", o, o.Cust())
			}
			kids, err := cs.ListGroups(ctx, reconcile.ListQuery{Page: 1, Parent: "org"})
			if err != nil || len(kids.Groups) != 1 || kids.Groups[0].ID != "team" || kids.More {
				t.Errorf("children of org = %+v, %v", kids, err)
			}
			got, err := cs.GetGroup(ctx, "team")
			if err != nil || got.Name != "Team" || got.Cust().Level != "Team" {
				t.Errorf("get = %+v, %v", got, err)
			}
			rot, err := cs.RotateToken(ctx, "org", r.Token)
			if err != nil || rot.Token == r.Token || rot.Token != sb.Groups()["org"].Token || rot.ID != "org" {
				t.Errorf("rotate = %+v, %v", rot, err)
			}
			if _, err := cs.DeleteGroup(ctx, "org", rot.Token); err != nil {
				t.Fatal(err)
			}
			if _, ok := sb.Groups()["team"]; ok {
				t.Error("delete did not cascade to the child")
			}
			if _, err := cs.DeleteGroup(ctx, "org", rot.Token); !errors.Is(err, reconcile.ErrNotFound) {
				t.Errorf("second delete: %v, want ErrNotFound", err)
			}
		})
	}
}

// A service that keeps answering full pages, with next set, cannot make
// the list go on past what total_count says.
func TestCustomers_ListNeverTrustsNext(t *testing.T) {
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		var list []string
		for i := range ListPageSize {
			list = append(list, fmt.Sprintf(`{"provided_id": "c%d", "token": "t%d", "name": "C"}`, i, i))
		}
		fmt.Fprintf(w, `{"count": 1000, "next": "/v2/api/customers/?page=99", "previous": null, "results": [%s]}`, strings.Join(list, ","))
	})
	p, err := c.Customers().ListGroups(context.Background(), reconcile.ListQuery{Page: 1})
	if err != nil || p.More || len(p.Groups) != ListPageSize {
		t.Errorf("page 1 of a list of 1000: %d groups, more %v, %v", len(p.Groups), p.More, err)
	}
}

// Every secret the client knows stays out of its messages, whatever the
// hostile service echoes: the API token (here without a digit, so that
// nothing but knowing it can find it), the state's tokens it was given,
// in shapes no heuristic finds, and a token it learnt from an answer.
func TestClient_ScrubsEverySecretOfTheRun(t *testing.T) {
	const api = "letters-only-api-token-without-digits"
	state := []string{"3f:9c:a1:07:be:ef:00:12:34:56:78:9a", "qwertyuiopasdfghjklzxcvbnmqwerty", "dGhpcyBpcyBh_c2VjcmV0-dG9rZW4", "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"}
	const learnt = "zyxwvutsrqponmlkjihgfedcbazyxwvu"
	modes := []sandbox.Hostile{sandbox.HostileEchoKey, sandbox.HostileEchoState, sandbox.HostileRedirectToken, sandbox.HostileEchoToken, sandbox.HostileEchoText}
	for _, mode := range modes {
		t.Run(string(mode), func(t *testing.T) {
			sb := sandbox.New(sandbox.Config{Token: api, Quota: -1})
			for i, tok := range state {
				sb.Put(sandbox.Group{ID: fmt.Sprintf("state-%d", i), Name: "S", Token: tok})
			}
			sb.Put(sandbox.Group{ID: "seen", Name: "Seen", Token: learnt})
			ts := httptest.NewServer(sb)
			defer ts.Close()
			c := New(ts.URL, api, time.Second, 1)
			c.Secrets().Add(state...)
			ctx := context.Background()
			if r, err := c.UserGroups().CreateGroup(ctx, &reconcile.Group{ID: "seen", Name: "Seen"}); err != nil || r.Token != learnt {
				t.Fatalf("create seen = %+v, %v", r, err)
			}
			sb.SetHostile(mode)
			_, err := c.UserGroups().CreateGroup(ctx, &reconcile.Group{ID: "new", Name: "New"})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			flat := strings.ToLower(strings.Join(strings.Fields(msg), ""))
			for _, s := range append([]string{api, learnt, sb.Groups()["new"].Token}, state...) {
				if s != "" && strings.Contains(flat, s) {
					t.Errorf("message %q holds %q", msg, s)
				}
			}
			if !strings.Contains(msg, "[red") {
				t.Errorf("message %q: nothing redacted", msg)
			}
		})
	}
}

// The message of a failed call keeps the API's URL readable: scheme,
// host, port and path.
func TestClient_TransportFailureNamesTheURL(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer ts.Close()
	c := New(ts.URL, token, time.Second, 1)
	_, err := c.Customers().UpdateGroup(context.Background(), &reconcile.Group{ID: "a", Name: "A"})
	if want := `Post "` + ts.URL + `/api/update_customer/": EOF`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// A create answer reports the customer as the service holds it, for an
// adopting create to tell whether it already matches; an answer that
// leaves out a field it should carry reports nothing, and an update
// follows.
func TestCustomers_CreateReportsTheCustomerFound(t *testing.T) {
	full := `"emails": ["a@x.io"], "group_tags": ["gold"], "properties": {"tier": 2}, "parent_schema_datasource_mapping": {"40": 213}, "hierarchy_level": "Team", "is_demo_group": true`
	tests := []struct {
		name   string
		fields string
		found  bool
	}{
		{"OK", full, true},
		{"NoMapping", strings.Replace(full, `, "parent_schema_datasource_mapping": {"40": 213}`, "", 1), false},
		{"NoProperties", strings.Replace(full, `, "properties": {"tier": 2}`, "", 1), false},
		{"NoEmails", strings.Replace(full, `"emails": ["a@x.io"], `, "", 1), false},
		{"NullTags", strings.Replace(full, `"group_tags": ["gold"]`, `"group_tags": null`, 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"success": 1, "new_customer": false, "customer": {"provided_id": "acme", "name": "Acme", "token": "tok", %s}}`, tt.fields)
			})
			rem, err := c.Customers().CreateGroup(context.Background(), &reconcile.Group{ID: "acme", Name: "Acme"})
			if err != nil || (rem.Found != nil) != tt.found {
				t.Fatalf("CreateGroup() found %+v, %v; want found %v", rem.Found, err, tt.found)
			}
			if !tt.found {
				return
			}
			f := rem.Found
			if f.Name != "Acme" || !f.IsDemo || !f.Mapping.Equal(reconcile.Pairs{{Key: "40", Value: "213"}}) || f.Cust().Level != "Team" || len(f.Cust().Emails) != 1 || f.Managed.Has(reconcile.FieldParent) {
				t.Errorf("found %+v %+v", f.Group, f.Cust())
			}
		})
	}
}
