// Package textsafe makes text from manifests, state files and the service
// safe to print on a terminal: a name or a server message must never carry
// an escape sequence that moves the cursor, rewrites a line, sets the
// window title or reverses the text direction.
package textsafe

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s with every control character, bidirectional override
// and invalid byte written as a Go-style escape (\x1b, \u202e). Printable
// text, non-ASCII letters and backslashes included, is kept as it is.
func Escape(s string) string {
	if !needs(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafe(r):
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Lines escapes each line of s, keeping the line breaks: for messages
// that groupsync itself split into lines.
func Lines(s string) string {
	if !needs(strings.ReplaceAll(s, "\n", "")) {
		return s
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Escape(l)
	}
	return strings.Join(lines, "\n")
}

func needs(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			return needsSlow(s)
		}
	}
	return false
}

func needsSlow(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || unsafe(r) {
			return true
		}
		i += size
	}
	return false
}

// unsafe reports whether r may change what a terminal shows beyond
// itself: C0 and C1 controls, DEL, line and paragraph separators, and the
// bidirectional formatting characters.
func unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return unicode.Is(unicode.Cc, r)
}

// Control reports whether s holds a control character (or NUL, or a
// bidirectional override), which ids and names must not.
func Control(s string) (rune, bool) {
	if !needs(s) {
		return 0, false
	}
	for _, r := range s {
		if unsafe(r) {
			return r, true
		}
	}
	return 0, false
}
