package textsafe

import (
	"strconv"
	"unicode/utf8"
)

// MaxEcho is how much of a value a message quotes: enough for any id or
// name a person recognises, little enough that a 500 MB cell does not
// become a 500 MB line on the screen. MaxName is the same for what a
// message names bare to say where: a path, a column, a key.
const (
	MaxEcho = 80
	MaxName = 512
)

// Quote quotes s for a message as %q does, cut to MaxEcho bytes: a longer
// s keeps its beginning, an ellipsis and its length, as in
// "aaaa…" (524,288,000 bytes).
func Quote(s string) string {
	head, ok := cut(s, MaxEcho)
	if !ok {
		return strconv.Quote(s)
	}
	return strconv.Quote(head+"…") + length(s)
}

// QuoteASCII is [Quote] with every non-ASCII character escaped, as %+q
// does: it shows apart forms of a text that look the same.
func QuoteASCII(s string) string {
	head, ok := cut(s, MaxEcho)
	if !ok {
		return strconv.QuoteToASCII(s)
	}
	q := strconv.QuoteToASCII(head)
	return q[:len(q)-1] + "…\"" + length(s)
}

// Cut is [Quote] without the quotes, for input a message names bare to
// say where (a path, a column, a key), cut to MaxName bytes. Control
// characters are left for [Escape] or [Lines].
func Cut(s string) string {
	head, ok := cut(s, MaxName)
	if !ok {
		return s
	}
	return head + "…" + length(s)
}

// cut returns the first max bytes of s, whole characters only, and
// whether that is less than s.
func cut(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, false
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

func length(s string) string { return " (" + thousands(len(s)) + " bytes)" }

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
