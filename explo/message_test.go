package explo

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"groupsync/internal/textsafe"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		status int
		body   string
		want   string
	}{
		{400, `{"success": 0, "message": "name is too long"}`, "name is too long"},
		{400, `{"errors": {"name": ["too long"]}}`, `{"name":["too long"]}`},
		{400, `{"success": 0, "detail": "token abc123def456ghi789jkl0 is bad"}`, "token [redacted] is bad"},
		{400, `{"success": 0, "detail": "line one\nline two\u001b[2J"}`, `line one line two\x1b[2J`},
		{500, "  internal\r\nerror  ", "internal error"},
		{500, "<html><head><title>502 Bad Gateway</title></head></html>", "an HTML page: 502 Bad Gateway"},
		{200, `)]}'{"success": 1}`, "the answer is not the documented JSON (18 bytes, not shown)"},
		{502, strings.Repeat("é", 400), strings.Repeat("é", 150) + "…"},
	}
	for _, tt := range tests {
		if got := describe(tt.status, []byte(tt.body), NewSecrets("api-token")); got != tt.want {
			t.Errorf("describe(%d, %q) = %q, want %q", tt.status, tt.body, got, tt.want)
		}
	}
}

// FuzzDescribe: whatever the answer, the message holds no secret, no
// control character, is valid UTF-8, is bounded, and never echoes a body
// of a success answer.
func FuzzDescribe(f *testing.F) {
	f.Add(400, `{"success": 0, "message": "bad"}`, "s3cr3tT0ken0123456789")
	f.Add(200, "\ufeff{\"success\": 1, \"user_group\": {\"token\": \"s3cr3tT0ken0123456789\"}}", "s3cr3tT0ken0123456789")
	f.Add(502, strings.Repeat("x", 296)+"s3cr3tT0ken0123456789", "s3cr3tT0ken0123456789")
	f.Add(400, `{"errors": [{"token": "x"}, "Token s3cr3tT0ken0123456789"]}`, "s3cr3tT0ken0123456789")
	f.Add(404, "<html><title>\x1b]0;pwned\x07</title>", "s3cr3tT0ken0123456789")
	f.Fuzz(func(t *testing.T, status int, body, secret string) {
		msg := describe(status, []byte(body), NewSecrets(secret))
		if len(secret) >= 8 && strings.Contains(msg, secret) {
			t.Fatalf("describe(%d, %q) = %q holds the secret", status, body, msg)
		}
		if !utf8.ValidString(msg) {
			t.Fatalf("describe(%d, %q) = %q: not UTF-8", status, body, msg)
		}
		if r, bad := textsafe.Control(msg); bad {
			t.Fatalf("describe(%d, %q) = %q holds %U", status, body, msg, r)
		}
		if len(msg) > maxMessage+len("…") {
			t.Fatalf("describe(%d, %q) is %d bytes", status, body, len(msg))
		}
		if status >= 200 && status <= 299 && len(body) > 40 && strings.Contains(msg, body) {
			t.Fatalf("describe(%d, %q) echoes a success body", status, body)
		}
	})
}

// Every secret of the run is removed from a message, wherever the body
// puts it: as a key, as a value at any depth, split by white space, in
// capitals; and tokens that the heuristic cannot tell from words.
func TestDescribe_RemovesTheRunsSecrets(t *testing.T) {
	const api = "lettersonlyapitoken"
	state := []string{"3f:9c:a1:07:be:ef:00:12:34:56", "qwertyuiopasdfghjklzxcvbnm", "dGhpcyBpcyBh_c2VjcmV0-dG9rZW4"}
	secrets := NewSecrets(append([]string{api}, state...)...)
	bodies := []struct {
		status int
		body   string
	}{
		{400, `{"` + api + `": "invalid"}`},
		{400, `{"success": 0, "errors": {"` + api + `": ["invalid"]}}`},
		{400, `{"success": 0, "errors": [{"other": {"why": "conflicts with ` + state[0] + ` and ` + state[1] + `"}}]}`},
		{400, `{"success": 0, "detail": "Token lettersonly apitoken is not valid"}`},
		{400, `{"success": 0, "detail": "Token LETTERSONLYAPITOKEN, customer 3F:9C:A1:07:BE:EF:00:12:34:56"}`},
		{400, `{"success": 0, "detail": "split\nqwertyuiop asdfghjkl\tzxcvbnm"}`},
		{400, `{"success": 0, "lettersonly\napitoken": "is a key split by a line break"}`},
		{400, `{"success": 0, "x": {"y": ["qwertyuiop\tasdfghjklzxcvbnm"]}}`},
		{400, `{"success": 0, "message": "\u0071wertyuiopasdfghjklzxcvbnm"}`},
		{500, "Token lettersonly apitoken / " + state[2] + " / " + strings.ToUpper(state[0])},
		{500, strings.Repeat("x ", 148) + "lettersonly apitoken"},
		{503, "<html><title>" + api + "</title></html>"},
		{200, `{"success": 0, "message": "no: ` + state[1] + `"}`},
	}
	for _, b := range bodies {
		msg := describe(b.status, []byte(b.body), secrets)
		flat := flatten(msg)
		for _, s := range append([]string{api}, state...) {
			if strings.Contains(flat, s) {
				t.Errorf("describe(%d, %q) = %q holds %q", b.status, b.body, msg, s)
			}
		}
		if !strings.Contains(msg, "[red") {
			t.Errorf("describe(%d, %q) = %q: nothing redacted", b.status, b.body, msg)
		}
	}
}

// A body of megabytes makes a message as fast as a small one: only its
// beginning is scanned.
func TestDescribe_LongBodies(t *testing.T) {
	secrets := NewSecrets("lettersonlyapitoken")
	long := strings.Repeat("word ", 2<<20)
	for _, body := range []string{
		long + "lettersonlyapitoken",
		`{"detail": "` + long + `lettersonlyapitoken"}`,
		`{"a": "` + long + `", "b": "lettersonlyapitoken"}`,
		strings.Repeat(" ", 8<<20) + "lettersonly apitoken " + long,
		strings.Repeat("lettersonlyapitoken ", 1<<16),
	} {
		msg := describe(400, []byte(body), secrets)
		if strings.Contains(strings.ReplaceAll(msg, " ", ""), "lettersonlyapitoken") || len(msg) > maxMessage+len("…") {
			t.Errorf("describe(%.40q…) = %q", body, msg)
		}
	}
}

// A URL of the API stays readable in a message: its host, port and path
// are no token, though the heuristic would take them for one.
func TestClean_KeepsTheAPIsURLs(t *testing.T) {
	const base = "http://127.0.0.1:8089"
	secrets := NewSecrets("lettersonlyapitoken")
	tests := []struct{ in, want string }{
		{`Post "http://127.0.0.1:8089/api/create_user_group/": EOF`, `Post "http://127.0.0.1:8089/api/create_user_group/": EOF`},
		{`Get "http://127.0.0.1:8089/v2/api/customers/?page=1&page_size=1000": EOF`, `Get "http://127.0.0.1:8089/v2/api/customers/?page=1&page_size=1000": EOF`},
		{`Post "http://127.0.0.1:8089/api/lettersonlyapitoken/": EOF`, `Post "http://127.0.0.1:8089/api/[redacted]/": EOF`},
		{`Post "http://127.0.0.1:8089/api/": sent abc123def456ghi789jkl0`, `Post "http://127.0.0.1:8089/api/": sent [redacted]`},
		{`Post "https://elsewhere.example/abc123def456ghi789jkl0/": EOF`, `Post "https:[redacted]": EOF`},
	}
	for _, tt := range tests {
		if got := clean(tt.in, secrets, base); got != tt.want {
			t.Errorf("clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// tokenAlphabet is what the fuzzed secrets are made of: the characters of
// hex, colon-separated hex, base64url and letters-only tokens.
const tokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-"

// fillerAlphabet is the text around them: words, JSON punctuation and
// every kind of white space, but nothing that escaping would rewrite.
const fillerAlphabet = "abcdefghijklmnopqrstuvwxyz ,.:;!?'\"{}[]<>/=\n\t\r\u00a0\u2003"

// FuzzDescribeSecrets builds error bodies from a random set of known
// secrets — some from the fuzzer, some of each shape — placed in keys and
// values at any depth or in plain text, split by white space and
// re-cased, and checks that none survives in the message in any form.
func FuzzDescribeSecrets(f *testing.F) {
	f.Add(uint64(1), "lettersonlyapitoken", "3f:9c:a1:07:be:ef:00:12", "the request was refused")
	f.Add(uint64(2), "c0ffee00c0ffee00c0ffee00c0ffee00", "dGhpcyBpcyBh_c2VjcmV0-dG9rZW4", "")
	f.Add(uint64(3), "QWERTYUIOPASDFGHJKL", "a", "<html><title>x</title></html>")
	f.Add(uint64(4), strings.Repeat("ab", 40), strings.Repeat("z", 600), strings.Repeat(" \n", 200))
	f.Fuzz(func(t *testing.T, seed uint64, a, b, filler string) {
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		var secrets []string
		for _, s := range []string{a, b} {
			if s = fromAlphabet(s, tokenAlphabet); len(s) >= 12 {
				secrets = append(secrets, s)
			}
		}
		for range 1 + rng.IntN(4) {
			secrets = append(secrets, shapedToken(rng))
		}
		filler = fromAlphabet(filler, fillerAlphabet)
		status := []int{400, 404, 409, 500, 502, 200}[rng.IntN(6)]
		body := errorBody(rng, secrets, filler)
		msg := describe(status, []byte(body), NewSecrets(secrets...))
		flat := flatten(msg)
		for _, s := range secrets {
			if strings.Contains(flat, strings.ToLower(s)) {
				t.Fatalf("describe(%d, %q) = %q holds %q", status, body, msg, s)
			}
		}
		if !utf8.ValidString(msg) || len(msg) > maxMessage+len("…") {
			t.Fatalf("describe(%d, %q) = %q", status, body, msg)
		}
		if r, bad := textsafe.Control(msg); bad {
			t.Fatalf("describe(%d, %q) = %q holds %U", status, body, msg, r)
		}
	})
}

// flatten is a message as a reader takes it in: without white space,
// written or escaped as JSON writes it (\n), and in lower case.
func flatten(msg string) string {
	msg = strings.NewReplacer(`\n`, " ", `\r`, " ", `\t`, " ").Replace(msg)
	return strings.ToLower(strings.Join(strings.Fields(msg), ""))
}

// fromAlphabet maps each byte of s into alphabet's runes.
func fromAlphabet(s, alphabet string) string {
	runes := []rune(alphabet)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteRune(runes[int(s[i])%len(runes)])
	}
	return b.String()
}

// shapedToken is a token of one of the shapes services use.
func shapedToken(rng *rand.Rand) string {
	pick := func(n int, chars string) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = chars[rng.IntN(len(chars))]
		}
		return string(b)
	}
	switch rng.IntN(4) {
	case 0:
		return pick(48, "0123456789abcdef")
	case 1:
		parts := make([]string, 12+rng.IntN(8))
		for i := range parts {
			parts[i] = pick(2, "0123456789abcdef")
		}
		return strings.Join(parts, ":")
	case 2:
		return pick(20+rng.IntN(20), "abcdefghijklmnopqrstuvwxyz")
	}
	return pick(43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}

// disguised is a secret as an echo may show it: re-cased, split by white
// space, or as it is.
func disguised(rng *rand.Rand, s string) string {
	if rng.IntN(3) == 0 {
		b := []byte(s)
		for i := range b {
			if rng.IntN(2) == 0 {
				b[i] = strings.ToUpper(string(b[i]))[0]
			}
		}
		s = string(b)
	}
	spaces := []string{" ", "  ", "\n", "\t", "\r\n", "\u00a0", "\u2003"}
	for range rng.IntN(4) {
		i := 1 + rng.IntN(len(s)-1)
		s = s[:i] + spaces[rng.IntN(len(spaces))] + s[i:]
	}
	return s
}

// errorBody places every secret, disguised, in a JSON object (as keys,
// and as values at any depth) or in plain text, among filler.
func errorBody(rng *rand.Rand, secrets []string, filler string) string {
	piece := func() string {
		if filler == "" {
			return ""
		}
		i, j := rng.IntN(len(filler)), rng.IntN(len(filler))
		return filler[min(i, j):max(i, j)]
	}
	if rng.IntN(3) == 0 {
		var b strings.Builder
		for _, s := range secrets {
			b.WriteString(piece() + " " + disguised(rng, s) + " " + piece())
		}
		return b.String()
	}
	root := map[string]any{"success": 0}
	for _, s := range secrets {
		at := root
		for range rng.IntN(4) {
			next := map[string]any{}
			if rng.IntN(2) == 0 {
				at[piece()+"x"] = []any{next, piece()}
			} else {
				at[piece()+"y"] = next
			}
			at = next
		}
		key := []string{"message", "detail", "errors", "why", piece()}[rng.IntN(5)]
		switch rng.IntN(3) {
		case 0:
			at[piece()+disguised(rng, s)+piece()] = piece()
		case 1:
			at[key] = piece() + " " + disguised(rng, s) + " " + piece()
		default:
			at[key] = []any{piece(), map[string]any{disguised(rng, s): disguised(rng, s)}}
		}
	}
	data, _ := json.Marshal(root)
	return string(data)
}
