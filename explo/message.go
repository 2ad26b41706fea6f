package explo

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"groupsync/internal/textsafe"
)

// maxMessage bounds a message taken from an answer, after scrubbing.
const maxMessage = 300

// describe is the one function that turns an answer into a message for the
// user. It never echoes a 2xx body (an answer that failed to parse may be a
// real one, tokens included); from an error body it takes the service's
// own words (the usual keys of a JSON object, else the text), with every
// token removed first — the secrets given, values under keys named like
// a token at any depth, and anything that looks like a token — then
// control characters escaped, and only then cut to length.
func describe(status int, body []byte, secrets []string) string {
	if status >= 200 && status <= 299 {
		if msg, ok := jsonMessage(body, secrets, true); ok && msg != "" {
			return msg
		}
		return notDocumented(len(body))
	}
	if msg, ok := jsonMessage(body, secrets, false); ok {
		return msg
	}
	text := strings.TrimSpace(string(bytes.ToValidUTF8(body, []byte("\uFFFD"))))
	if title := htmlTitle(text); title != "" {
		text = "an HTML page: " + title
	} else if strings.HasPrefix(text, "<") {
		text = "an HTML page"
	}
	return clean(text, secrets)
}

// notDocumented is the message of a success answer that is not the
// documented JSON. Its body is never shown: it may be a real answer,
// tokens included, behind a prefix or a byte order mark.
func notDocumented(n int) string {
	return "the answer is not the documented JSON (" + plural(n, "byte") + ", not shown)"
}

// messageKeys are where error bodies usually explain themselves.
var messageKeys = []string{"message", "error", "errors", "detail", "msg"}

// jsonMessage returns the message of a JSON object body, scrubbed, and
// whether the body was one. Without one of the usual keys the message is
// the rest of the object, unless keysOnly.
func jsonMessage(body []byte, secrets []string, keysOnly bool) (string, bool) {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil || m == nil {
		return "", false
	}
	scrub(m, secrets)
	for _, k := range messageKeys {
		if v, ok := m[k]; ok && v != nil {
			if s, ok := v.(string); ok {
				return clean(s, nil), true
			}
			b, _ := json.Marshal(v)
			return clean(string(b), nil), true
		}
	}
	delete(m, "success")
	if len(m) == 0 || keysOnly {
		return "", true
	}
	b, _ := json.Marshal(m)
	return clean(string(b), nil), true
}

// secretKey matches the names of fields that hold secrets.
var secretKey = regexp.MustCompile(`(?i)token|secret|password|passwd|authori[sz]ation|api[_-]?key|credential`)

// scrub removes secrets from a decoded JSON value in place, at any depth.
func scrub(v any, secrets []string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if secretKey.MatchString(k) {
				v[k] = redacted
				continue
			}
			v[k] = scrub(x, secrets)
		}
	case []any:
		for i, x := range v {
			v[i] = scrub(x, secrets)
		}
	case string:
		return scrubText(v, secrets)
	}
	return v
}

const redacted = "[redacted]"

// tokenLike matches what a token looks like in free text: a long run of
// letters, digits and the characters of base64 and hex encodings, with at
// least one digit and one letter (checked by the caller).
var tokenLike = regexp.MustCompile(`[A-Za-z0-9_\-+/=.~]{20,}`)

// scrubText removes the given secrets and anything that looks like a
// token from s.
func scrubText(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return tokenLike.ReplaceAllStringFunc(s, func(run string) string {
		if strings.ContainsAny(run, "0123456789") && strings.IndexFunc(run, isLetter) >= 0 {
			return redacted
		}
		return run
	})
}

func isLetter(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }

// clean makes s one safe line: secrets removed, control characters
// escaped, white space collapsed, and at most maxMessage bytes.
func clean(s string, secrets []string) string {
	s = scrubText(s, secrets)
	s = strings.Join(strings.Fields(s), " ")
	s = textsafe.Escape(s)
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

func htmlTitle(s string) string {
	if m := titleRE.FindStringSubmatch(s); m != nil {
		return strings.TrimSpace(m[1])
	}
	return ""
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
