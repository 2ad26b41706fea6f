package explo

import (
	"bytes"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"groupsync/internal/textsafe"
)

// maxMessage bounds a message taken from an answer, after scrubbing.
const maxMessage = 300

// describe is the one function that turns an answer into a message for the
// user. It never echoes a 2xx body (an answer that failed to parse may be a
// real one, tokens included); from an error body it takes the service's
// own words (the usual keys of a JSON object, else the text), with every
// token removed first — every secret of the run, in keys and values at any
// depth, split by white space or not, in any case; values under keys named
// like a token; and anything that looks like a token — then control
// characters escaped, and only then cut to length.
func describe(status int, body []byte, secrets *Secrets) string {
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
	return clean(text, secrets, "")
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
func jsonMessage(body []byte, secrets *Secrets, keysOnly bool) (string, bool) {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil || m == nil {
		return "", false
	}
	js := &jsonScrub{secrets: secrets, budget: maxJSONScan}
	for _, k := range messageKeys {
		if v, ok := m[k]; ok && v != nil {
			v = js.value(v)
			if s, ok := v.(string); ok {
				return clean(s, secrets, ""), true
			}
			b, _ := json.Marshal(v)
			return clean(string(b), secrets, ""), true
		}
	}
	if keysOnly {
		return "", true
	}
	delete(m, "success")
	if len(m) == 0 {
		return "", true
	}
	b, _ := json.Marshal(js.value(m))
	return clean(string(b), secrets, ""), true
}

// secretKey matches the names of fields that hold secrets.
var secretKey = regexp.MustCompile(`(?i)token|secret|password|passwd|authori[sz]ation|api[_-]?key|credential`)

// maxJSONScan bounds the text of a JSON body that is read for a message:
// a message shows a few hundred bytes of it, and a hostile body of
// megabytes must not make a message slow to build. Strings beyond it are
// not shown at all.
const maxJSONScan = 64 << 10

// jsonScrub removes secrets from a decoded JSON value, keys included, at
// any depth, reading at most budget bytes of its strings.
type jsonScrub struct {
	secrets *Secrets
	budget  int
}

func (j *jsonScrub) value(v any) any {
	switch v := v.(type) {
	case map[string]any:
		// In the order json.Marshal writes them, so that what the budget
		// leaves out comes last in the message.
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			x := v[k]
			if secretKey.MatchString(k) {
				x = redacted
			} else {
				x = j.value(x)
			}
			out[j.text(k)] = x
		}
		return out
	case []any:
		for i, x := range v {
			v[i] = j.value(x)
		}
	case string:
		return j.text(v)
	}
	return v
}

func (j *jsonScrub) text(s string) string {
	if j.budget <= 0 {
		return "…"
	}
	j.budget -= min(len(s), maxScan)
	return scrubText(s, j.secrets, "")
}

const redacted = "[redacted]"

// maxScan bounds the text one message is taken from, white space
// collapsed: far more than a message shows, even once tokens in it are
// redacted, and little enough that scanning it for every secret of the
// run stays cheap.
const maxScan = 4096

// tokenLike matches what a token looks like in free text: a long run of
// letters, digits and the characters of base64 and hex encodings, with at
// least one digit and one letter (checked by the caller).
var tokenLike = regexp.MustCompile(`[A-Za-z0-9_\-+/=.~]{20,}`)

// scrubText returns s with white space collapsed, cut to maxScan bytes,
// and without secrets: those of the run (also split by white space, in
// any case) and anything that looks like a token — except inside the
// URLs of the API at base, whose host, port and path stay readable (no
// token is ever part of them).
func scrubText(s string, secrets *Secrets, base string) string {
	s, more := collapse(s, maxScan+2*maxSecret)
	cut := len(s)
	if cut > maxScan {
		cut, more = maxScan, true
		for !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	s = secrets.scrubPrefix(s, cut)
	if more {
		// What the cut left of a token that went on after it is not
		// shown: the heuristic below could not tell it for one.
		s = strings.TrimRightFunc(s, isTokenChar) + "…"
	}
	return scrubLookalikes(s, base)
}

// scrubLookalikes redacts what looks like a token, outside the API's URLs.
func scrubLookalikes(s, base string) string {
	runs := tokenLike.FindAllStringIndex(s, -1)
	if runs == nil {
		return s
	}
	keep := apiURLs(s, base)
	var b strings.Builder
	at := 0
	for _, r := range runs {
		run := s[r[0]:r[1]]
		if !strings.ContainsAny(run, "0123456789") || strings.IndexFunc(run, isLetter) < 0 || inside(keep, r[0], r[1]) {
			continue
		}
		b.WriteString(s[at:r[0]])
		b.WriteString(redacted)
		at = r[1]
	}
	b.WriteString(s[at:])
	return b.String()
}

// apiURLs returns where s names a URL of the API at base: from base to
// the next quote, bracket or space.
func apiURLs(s, base string) []span {
	if base == "" {
		return nil
	}
	var spans []span
	for at := 0; ; {
		i := strings.Index(s[at:], base)
		if i < 0 {
			return spans
		}
		start := at + i
		end := start + len(base)
		if j := strings.IndexAny(s[end:], "\"' <>`()"); j >= 0 {
			end += j
		} else {
			end = len(s)
		}
		spans = append(spans, span{start, end})
		at = end
	}
}

func inside(spans []span, start, end int) bool {
	for _, sp := range spans {
		if sp.start <= start && end <= sp.end {
			return true
		}
	}
	return false
}

func isLetter(r rune) bool { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }

func isTokenChar(r rune) bool {
	return isLetter(r) || (r >= '0' && r <= '9') || strings.ContainsRune("_-+/=.~", r)
}

// collapse returns s with each run of white space made one space and
// none at either end, and at most about limit bytes of it; more reports
// whether s went on.
func collapse(s string, limit int) (string, bool) {
	var b strings.Builder
	space := false
	for i, r := range s {
		if unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if b.Len() >= limit {
			return b.String(), strings.TrimFunc(s[i:], unicode.IsSpace) != ""
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String(), false
}

// clean makes s one safe line: secrets removed, control characters
// escaped, white space collapsed, and at most maxMessage bytes. base is
// the API's URL, which stays readable in it.
func clean(s string, secrets *Secrets, base string) string {
	s = scrubText(s, secrets, base)
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
