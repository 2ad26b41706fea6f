// Package explo is a client for Explo's End User Group API: get-or-create
// and update of user groups, as API.md documents them. It turns HTTP into
// [reconcile] types and errors; it does not retry (reconcile decides that,
// because only it sees the whole run).
package explo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"groupsync/internal/canonjson"
	"groupsync/reconcile"
)

// DefaultURL is Explo's API base URL.
const DefaultURL = "https://api.explo.co"

// Paths of the End User Group API, below the base URL.
const (
	PathCreate = "/api/create_user_group/"
	PathUpdate = "/api/update_user_group/"
)

// Client calls the API. It is safe for concurrent use.
type Client struct {
	baseURL string
	token   string
	http    *http.Client
}

var _ reconcile.API = (*Client)(nil)

// New returns a client of the API at baseURL authenticated with the API
// token. hc carries the per-request timeout.
func New(baseURL, token string, hc *http.Client) *Client {
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), token: token, http: hc}
}

// CreateGroup calls create_user_group.
func (c *Client) CreateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return c.do(ctx, PathCreate, g)
}

// UpdateGroup calls update_user_group.
func (c *Client) UpdateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	return c.do(ctx, PathUpdate, g)
}

// Body is the request body of both calls. Pointers are nil for fields the
// manifest does not manage, so they are left out; a managed but empty map
// is sent as {}.
type Body struct {
	UserGroupID string          `json:"user_group_id"`
	Name        string          `json:"name"`
	IsDemoGroup *bool           `json:"is_demo_group,omitempty"`
	Mapping     json.RawMessage `json:"mapping,omitempty"`
	Properties  json.RawMessage `json:"properties,omitempty"`
}

// NewBody returns the body that sends g's managed fields and no others.
func NewBody(g *reconcile.Group) Body {
	b := Body{UserGroupID: g.ID, Name: g.Name}
	if g.Managed.Has(reconcile.FieldIsDemo) {
		b.IsDemoGroup = &g.IsDemo
	}
	if g.Managed.Has(reconcile.FieldMapping) {
		b.Mapping = json.RawMessage(canonjson.Object(len(g.Mapping), func(i int) (string, string) {
			return g.Mapping[i].Key, canonjson.Quote(g.Mapping[i].Value)
		}))
	}
	if g.Managed.Has(reconcile.FieldProperties) {
		b.Properties = json.RawMessage(canonjson.Object(len(g.Properties), func(i int) (string, string) {
			return g.Properties[i].Key, g.Properties[i].Value
		}))
	}
	return b
}

// Response is the answer of both calls.
type Response struct {
	Success      Flag       `json:"success"`
	NewUserGroup bool       `json:"new_user_group"`
	UserGroup    *UserGroup `json:"user_group,omitempty"`
}

// UserGroup is a group as the service returns it. It does not echo mapping.
type UserGroup struct {
	TeamID      int             `json:"team_id"`
	Token       string          `json:"token"`
	Name        string          `json:"name"`
	ProvidedID  string          `json:"provided_id"`
	IsDemoGroup bool            `json:"is_demo_group"`
	Properties  json.RawMessage `json:"properties"`
	EnvTag      *string         `json:"api_environment_tag"`
}

// Flag is the API's success field: documented as 1 or 0; true and false
// are accepted too.
type Flag bool

// UnmarshalJSON accepts 1, 0, true and false.
func (f *Flag) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "1", "true":
		*f = true
	case "0", "false", "null":
		*f = false
	default:
		return fmt.Errorf("success is %s, want 1 or 0", b)
	}
	return nil
}

// MarshalJSON writes 1 or 0.
func (f Flag) MarshalJSON() ([]byte, error) {
	if f {
		return []byte("1"), nil
	}
	return []byte("0"), nil
}

// maxBody bounds what is read of an answer; a group's answer is tiny.
const maxBody = 1 << 20

func (c *Client) do(ctx context.Context, path string, g *reconcile.Group) (reconcile.Remote, error) {
	body, err := json.Marshal(NewBody(g))
	if err != nil {
		return reconcile.Remote{}, &Error{GroupID: g.ID, Message: "encode request: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return reconcile.Remote{}, &Error{GroupID: g.ID, Message: c.redact(err.Error())}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Explo-Authorization", "Token "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return reconcile.Remote{}, c.transportError(g.ID, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return reconcile.Remote{}, c.transportError(g.ID, err)
	}
	return c.decode(g.ID, resp, data)
}

func (c *Client) decode(id string, resp *http.Response, data []byte) (reconcile.Remote, error) {
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &Error{Status: resp.StatusCode, GroupID: id, Message: c.message(data, http.StatusText(resp.StatusCode))}
		e.retryAfter, e.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return reconcile.Remote{}, e
	}
	var r Response
	if err := json.Unmarshal(data, &r); err != nil {
		return reconcile.Remote{}, &Error{Status: resp.StatusCode, GroupID: id, Message: "the answer is not the documented JSON: " + c.message(data, err.Error())}
	}
	if !r.Success {
		return reconcile.Remote{}, &Error{Status: resp.StatusCode, GroupID: id, Message: c.message(data, "success: 0"), Rejected: true}
	}
	if r.UserGroup == nil || r.UserGroup.Token == "" {
		return reconcile.Remote{}, &Error{Status: resp.StatusCode, GroupID: id, Message: "the answer has no user_group.token"}
	}
	rem := reconcile.Remote{New: r.NewUserGroup, Token: r.UserGroup.Token}
	if r.UserGroup.EnvTag != nil {
		rem.EnvTag = *r.UserGroup.EnvTag
	}
	return rem, nil
}

// message finds the service's explanation in an error body. Error bodies are
// not documented, so it tries the usual keys, then the body itself; tokens
// are removed either way, because an answer may echo them.
func (c *Client) message(data []byte, fallback string) string {
	var m map[string]any
	if json.Unmarshal(data, &m) == nil {
		for _, k := range []string{"message", "error", "detail", "errors", "msg"} {
			if v, ok := m[k]; ok && v != nil {
				if s, ok := v.(string); ok {
					return c.redact(s)
				}
				b, _ := json.Marshal(v)
				return c.redact(string(b))
			}
		}
		scrubTokens(m)
		b, _ := json.Marshal(m)
		return c.redact(string(b))
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return fallback
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return c.redact(s)
}

// scrubTokens blanks every "token" key, at any depth.
func scrubTokens(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if strings.Contains(strings.ToLower(k), "token") {
				v[k] = "[redacted]"
				continue
			}
			scrubTokens(x)
		}
	case []any:
		for _, x := range v {
			scrubTokens(x)
		}
	}
}

func (c *Client) redact(s string) string {
	if c.token == "" {
		return s
	}
	return strings.ReplaceAll(s, c.token, "[redacted]")
}
