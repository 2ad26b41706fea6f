// Package explo is a client for Explo's APIs as docs/explo-api.md describes them: the
// End User Group API ([UserGroups]) and its replacement, the Customer API
// ([Customers]). Both share one [Client]: the auth header, the refusal of
// redirects, the reading of answers and the one function that turns an
// answer into a message. It converts between the wire and [reconcile]
// types and errors; it does not retry (reconcile decides that, because
// only it sees the whole run).
package explo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"groupsync/internal/textsafe"
	"groupsync/reconcile"
)

// DefaultURL is Explo's API base URL.
const DefaultURL = "https://api.explo.co"

// Client is the transport both APIs share. It is safe for concurrent use.
type Client struct {
	baseURL string
	token   string
	http    *http.Client
	// calls counts the requests sent, for the run's summary.
	calls atomic.Int64
	// secrets are every secret the client may meet in an answer, which no
	// message it builds carries: the API token, the tokens it was given
	// and every token an answer held.
	secrets *Secrets
}

// Calls returns how many requests the client has sent.
func (c *Client) Calls() int { return int(c.calls.Load()) }

// New returns a client of the API at baseURL, authenticated with the API
// token. timeout bounds one request; conns is the number of connections
// kept alive (the run's concurrency).
func New(baseURL, token string, timeout time.Duration, conns int) *Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(conns, 2)
	hc := &http.Client{
		Timeout:   timeout,
		Transport: t,
		// Never follow a redirect: Go would send the Explo-Authorization
		// header along to whatever host it names.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &Client{baseURL: strings.TrimRight(baseURL, "/"), token: token, http: hc, secrets: NewSecrets(token)}
}

// Secrets returns the set of secrets the client scrubs from every message
// it builds. It holds the API token and every token the client has sent
// or seen in an answer; add those it may meet otherwise (the tokens of a
// state) with [Secrets.Add].
func (c *Client) Secrets() *Secrets { return c.secrets }

// UseSecrets makes the client scrub its messages with s, and record there
// every token it meets, in place of a set of its own: a caller that prints
// other text too scrubs it with the same set. It adds the API token to s.
// Call it before the first call.
func (c *Client) UseSecrets(s *Secrets) {
	s.Add(c.token)
	c.secrets = s
}

// maxBody bounds what is read of an answer. A page of 1,000 customers is
// the largest documented answer.
const maxBody = 32 << 20

// request is one call.
type request struct {
	method, path string
	query        url.Values
	body         any
	// id is the group the call is about, for messages.
	id string
	// secrets are the customer tokens the request carries, which join
	// the client's secrets before it is sent.
	secrets []string
	// array accepts a success answer that is a JSON array rather than an
	// object, for lists whose shape is not documented.
	array bool
}

// do sends req and decodes a 2xx JSON answer into out, which must have a
// success field read by [Flag] through the success method.
func (c *Client) do(ctx context.Context, req request, out interface{ ok() bool }) (int, error) {
	if len(req.secrets) > 0 {
		c.secrets.Add(req.secrets...)
	}
	var body io.Reader
	if req.body != nil {
		data, err := json.Marshal(req.body)
		if err != nil {
			return 0, &Error{GroupID: req.id, Message: "encode request: " + err.Error()}
		}
		body = bytes.NewReader(data)
	}
	u := c.baseURL + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return 0, &Error{GroupID: req.id, Message: clean(err.Error(), c.secrets, c.baseURL)}
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("Explo-Authorization", "Token "+c.token)
	c.calls.Add(1)
	resp, err := c.http.Do(hr)
	if err != nil {
		return 0, c.transportError(req.id, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, c.transportError(req.id, err)
	}
	return resp.StatusCode, c.decode(req, resp, data, out)
}

func (c *Client) decode(req request, resp *http.Response, data []byte, out interface{ ok() bool }) error {
	secrets := c.secrets
	status := resp.StatusCode
	if status >= 300 && status <= 399 {
		return &Error{Status: status, GroupID: req.id, Kind: reconcile.ErrRedirect, Message: redirectMessage(resp, secrets)}
	}
	isJSON := jsonObject(data)
	if status < 200 || status > 299 {
		e := &Error{Status: status, GroupID: req.id, Kind: kindOf(status, isJSON), Message: describe(status, data, secrets), API: isJSON}
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
		e.retryAfter, e.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return e
	}
	if !(isJSON || req.array && jsonArray(data)) || decodeInto(data, out) != nil {
		// The service may have acted on the call: the outcome is
		// unknown until the group is read back.
		return &Error{Status: status, GroupID: req.id, Kind: reconcile.ErrUnreadable, Message: notDocumented(len(data))}
	}
	if s, ok := out.(interface{ setSize(int) }); ok {
		s.setSize(len(data))
	}
	if !out.ok() {
		msg := describe(status, data, secrets)
		if strings.HasPrefix(msg, "the answer is not") {
			msg = "no message"
		}
		return &Error{Status: status, GroupID: req.id, Rejected: true, Message: msg, API: true}
	}
	return nil
}

// jsonObject reports whether data is exactly one JSON object: no byte order
// mark, no anti-hijacking prefix, nothing after it.
func jsonObject(data []byte) bool {
	t := bytes.TrimSpace(data)
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}

// rawDecoder is an answer that reads its JSON itself. data is valid JSON:
// decode has checked it, so the answer need not pay for a second check.
type rawDecoder interface {
	decodeRaw(data []byte) error
}

func decodeInto(data []byte, out any) error {
	if r, ok := out.(rawDecoder); ok {
		return r.decodeRaw(data)
	}
	return json.Unmarshal(data, out)
}

// jsonArray reports whether data is exactly one JSON array.
func jsonArray(data []byte) bool {
	t := bytes.TrimSpace(data)
	return len(t) > 0 && t[0] == '[' && json.Valid(t)
}

// redirectMessage names the host a redirect points to, without the run's
// secrets: a hostile Location may hold the API token.
func redirectMessage(resp *http.Response, secrets *Secrets) string {
	host := "an unnamed host"
	if loc, err := resp.Location(); err == nil && loc.Host != "" {
		// No host name is longer than 253 bytes.
		const maxHost = 253
		cut := min(len(loc.Host), maxHost)
		for cut < len(loc.Host) && !utf8.RuneStart(loc.Host[cut]) {
			cut--
		}
		h := secrets.scrubPrefix(loc.Host, cut)
		if cut < len(loc.Host) {
			h += "…"
		}
		host = "host " + textsafe.Escape(h)
	}
	return fmt.Sprintf("the service redirected to %s; groupsync never follows a redirect, which would send the API token there (check --api-url)", host)
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

func quote(s string) string { return "\"" + textsafe.Escape(s) + "\"" }
