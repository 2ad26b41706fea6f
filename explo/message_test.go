package explo

import (
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
		if got := describe(tt.status, []byte(tt.body), []string{"api-token"}); got != tt.want {
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
		msg := describe(status, []byte(body), []string{secret})
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
