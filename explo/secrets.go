package explo

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Secrets is the set of every secret a run knows — the API token and the
// customer tokens of the state, of lists and of answers — that no message
// may carry. It is safe for concurrent use, and scrubbing a text costs the
// same with one secret as with a million: secrets are grouped by length,
// and each window of the text is looked up once per length, not compared
// with each secret.
//
// A secret is found also where white space, punctuation or invisible
// characters split it, whatever the case of its letters, and when it is
// written in fullwidth forms or as escapes (see [fold]): each of those
// shows the token, or gives it away. The zero value is empty
// and ready to use; a nil *Secrets holds nothing.
type Secrets struct {
	mu sync.RWMutex
	// byLen holds the secrets, normalised, by their length in bytes.
	byLen map[int]map[string]struct{}
	// lens are byLen's keys, in order; first marks the bytes a secret
	// starts with, so that most windows are skipped at one look.
	lens   []int
	first  [256]bool
	maxLen int
}

// maxSecret bounds the length of a secret as matched: a longer one is
// matched by its first maxSecret bytes (white space aside), which keeps
// the cost of a scan bounded whatever a service sends. Messages are cut
// far shorter than that.
const maxSecret = 1024

// NewSecrets returns a set holding secrets.
func NewSecrets(secrets ...string) *Secrets {
	s := &Secrets{}
	s.Add(secrets...)
	return s
}

// Add adds secrets to the set. Empty ones, and white space, are ignored.
func (s *Secrets) Add(secrets ...string) {
	norm := make([]string, 0, len(secrets))
	count := map[int]int{}
	for _, sec := range secrets {
		if n := normalise(sec); n != "" {
			norm = append(norm, n)
			count[len(n)]++
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byLen == nil {
		s.byLen = map[int]map[string]struct{}{}
	}
	for n, c := range count {
		s.grow(n, c)
	}
	for _, n := range norm {
		s.byLen[len(n)][n] = struct{}{}
		s.first[n[0]] = true
	}
}

// grow makes room for more secrets of length n at once, rather than
// growing the set step by step: a million state tokens arrive in one Add.
func (s *Secrets) grow(n, more int) {
	set, ok := s.byLen[n]
	if !ok {
		s.lens = append(s.lens, n)
		slices.Sort(s.lens)
		s.maxLen = max(s.maxLen, n)
	}
	if more < 64 || more < len(set) {
		if set == nil {
			s.byLen[n] = map[string]struct{}{}
		}
		return
	}
	bigger := make(map[string]struct{}, len(set)+more)
	for k := range set {
		bigger[k] = struct{}{}
	}
	s.byLen[n] = bigger
}

// Len returns the number of distinct secrets, as matched.
func (s *Secrets) Len() int {
	if s == nil {
		return 0
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, set := range s.byLen {
		n += len(set)
	}
	return n
}

// normalise is a secret as matched (see [fold]), at most maxSecret bytes.
// A secret that is already so (lower-case letters and digits, as a hex
// token is) is kept as it is, without a copy: a million state tokens cost
// no more than the state does.
func normalise(sec string) string {
	clean := true
	for i := 0; i < len(sec); i++ {
		if c := sec[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			clean = false
			break
		}
	}
	if clean {
		return sec[:min(len(sec), maxSecret)]
	}
	t, _, _ := fold(sec, false)
	return string(t[:min(len(t), maxSecret)])
}

// fold returns the letters and digits of text, in lower case, as a token
// would be matched whatever a service or a proxy did to it: white space,
// punctuation (commas, colons, dashes), invisible code points (U+200B,
// U+00AD), combining marks and other separators are dropped; fullwidth
// and other compatibility forms become the letters they stand for; and
// escapes are read as the characters they write (%61, &#97;, &#x61;,
// \u0061, \x61). With positions, it also returns where in text each byte
// kept starts and ends.
func fold(text string, positions bool) (t []byte, starts, ends []int) {
	t = make([]byte, 0, len(text))
	if positions {
		starts, ends = make([]int, 0, len(text)), make([]int, 0, len(text))
	}
	emit := func(b byte, from, to int) {
		t = append(t, b)
		if positions {
			starts, ends = append(starts, from), append(ends, to)
		}
	}
	for i := 0; i < len(text); {
		r, size := escaped(text[i:])
		if size == 0 {
			r, size = utf8.DecodeRuneInString(text[i:])
		}
		foldRune(r, func(b byte) { emit(b, i, i+size) })
		i += size
	}
	return t, starts, ends
}

// foldRune emits the bytes r is matched as: nothing for what does not
// write a letter or a digit.
func foldRune(r rune, emit func(byte)) {
	switch {
	case r < utf8.RuneSelf:
		c := byte(r)
		switch {
		case 'A' <= c && c <= 'Z':
			emit(c + 'a' - 'A')
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			emit(c)
		}
		return
	case !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsNumber(r):
		return
	}
	for _, x := range norm.NFKD.String(string(r)) {
		switch {
		case x < utf8.RuneSelf:
			foldRune(x, emit)
		case unicode.IsLetter(x) || unicode.IsDigit(x):
			var buf [utf8.UTFMax]byte
			for _, b := range buf[:utf8.EncodeRune(buf[:], unicode.ToLower(x))] {
				emit(b)
			}
		}
	}
}

// escaped reads an escape at the start of s — %XX, &#NN;, &#xXX;, \uXXXX,
// \xXX — and returns the character it writes and its length; 0 when s
// does not start with one.
func escaped(s string) (rune, int) {
	hex := func(h string) (rune, bool) {
		v, err := strconv.ParseUint(h, 16, 32)
		return rune(v), err == nil
	}
	switch {
	case len(s) >= 3 && s[0] == '%':
		if r, ok := hex(s[1:3]); ok {
			return r, 3
		}
	case len(s) >= 6 && s[0] == '\\' && s[1] == 'u':
		if r, ok := hex(s[2:6]); ok {
			return r, 6
		}
	case len(s) >= 4 && s[0] == '\\' && s[1] == 'x':
		if r, ok := hex(s[2:4]); ok {
			return r, 4
		}
	case len(s) >= 4 && s[0] == '&' && s[1] == '#':
		end := strings.IndexByte(s[:min(len(s), 12)], ';')
		if end < 3 {
			return 0, 0
		}
		num, base := s[2:end], 10
		if num[0] == 'x' || num[0] == 'X' {
			num, base = num[1:], 16
		}
		if v, err := strconv.ParseUint(num, base, 32); err == nil {
			return rune(v), end + 1
		}
	}
	return 0, 0
}

// Scrub returns text with every secret of the set replaced by
// "[redacted]", also where white space splits it or its case differs.
func (s *Secrets) Scrub(text string) string {
	if s == nil {
		return text
	}
	return s.scrubPrefix(text, len(text))
}

// scrubPrefix scrubs text[:cut] (cut at a rune boundary). A secret that
// starts before cut and ends after it is found all the same (the scan
// reaches past cut as far as the longest secret can spread), and the
// result then ends with its redaction.
func (s *Secrets) scrubPrefix(text string, cut int) string {
	if s == nil {
		return text[:cut]
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.lens) == 0 || cut == 0 {
		return text[:cut]
	}
	// What splits or escapes a secret spreads it: the scan reaches far
	// enough past cut for a secret of the longest length whose every byte
	// is written as the longest escape with a separator after it.
	scan := text
	if reach := cut + 8*s.maxLen; reach < len(text) {
		scan = text[:reach]
	}
	t, starts, ends := fold(scan, true)
	if len(t) < s.lens[0] {
		return text[:cut]
	}
	var spans []span
	for i := range t {
		if starts[i] >= cut {
			break
		}
		if !s.first[t[i]] {
			continue
		}
		for _, n := range s.lens {
			if i+n > len(t) {
				break
			}
			if _, ok := s.byLen[n][string(t[i:i+n])]; ok {
				spans = append(spans, runeSpan(scan, starts[i], ends[i+n-1]))
			}
		}
	}
	return redact(text, cut, spans)
}

// span is a part of a text, [start, end).
type span struct{ start, end int }

// runeSpan widens [start, end) to whole runes, so that a redaction never
// leaves half a character behind.
func runeSpan(text string, start, end int) span {
	for start > 0 && !utf8.RuneStart(text[start]) {
		start--
	}
	for end < len(text) && !utf8.RuneStart(text[end]) {
		end++
	}
	return span{start, end}
}

// redact returns text[:cut] with spans replaced by "[redacted]", merging
// those that overlap or touch; a span that crosses cut ends the result.
func redact(text string, cut int, spans []span) string {
	if len(spans) == 0 {
		return text[:cut]
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	at := 0
	for i := 0; i < len(spans); {
		sp := spans[i]
		for i++; i < len(spans) && spans[i].start <= sp.end; i++ {
			sp.end = max(sp.end, spans[i].end)
		}
		b.WriteString(text[at:sp.start])
		b.WriteString(redacted)
		at = sp.end
		if at >= cut {
			return b.String()
		}
	}
	b.WriteString(text[at:cut])
	return b.String()
}
