package explo

import (
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Secrets is the set of every secret a run knows — the API token and the
// customer tokens of the state, of lists and of answers — that no message
// may carry. It is safe for concurrent use, and scrubbing a text costs the
// same with one secret as with a million: secrets are grouped by length,
// and each window of the text is looked up once per length, not compared
// with each secret.
//
// A secret is found also where white space splits it and whatever the
// case of its ASCII letters (a service may print hex in capitals; a
// re-cased token gives away all but its case). The zero value is empty
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

// normalise is a secret as matched: without white space, ASCII letters in
// lower case, at most maxSecret bytes. A secret that is already so is
// kept as it is, without a copy: a million state tokens cost no more than
// the state does.
func normalise(sec string) string {
	clean := true
	for i := 0; i < len(sec); i++ {
		c := sec[i]
		if ('A' <= c && c <= 'Z') || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return sec[:min(len(sec), maxSecret)]
	}
	t, _ := strip(sec, false)
	return string(t[:min(len(t), maxSecret)])
}

// strip returns text without white space and with ASCII letters in lower
// case, and, when positions is set, the byte offset in text of each byte
// kept.
func strip(text string, positions bool) ([]byte, []int) {
	t := make([]byte, 0, len(text))
	var pos []int
	if positions {
		pos = make([]int, 0, len(text))
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			if !asciiSpace(c) {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				t = append(t, c)
				if positions {
					pos = append(pos, i)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsSpace(r) {
			for j := range size {
				t = append(t, text[i+j])
				if positions {
					pos = append(pos, i+j)
				}
			}
		}
		i += size
	}
	return t, pos
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
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
	// White space between each of its bytes spreads a secret of n bytes
	// over 2n-1, when the caller has collapsed white space to one byte;
	// the scan reaches at least that far past cut.
	scan := text
	if reach := cut + 2*s.maxLen; reach < len(text) {
		scan = text[:reach]
	}
	t, pos := strip(scan, true)
	if len(t) < s.lens[0] {
		return text[:cut]
	}
	var spans []span
	for i := range t {
		if pos[i] >= cut {
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
				spans = append(spans, runeSpan(scan, pos[i], pos[i+n-1]+1))
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
