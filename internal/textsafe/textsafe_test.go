package textsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Acme Corp", "Acme Corp"},
		{"Zürich Straße 東京", "Zürich Straße 東京"},
		{"\x1b]0;owned\x07", `\x1b]0;owned\x07`},
		{"a\nb\rc\td", `a\x0ab\x0dc\x09d`},
		{"\u202egnp.exe", `\u202egnp.exe`},
		{"\u009b31m", `\x9b31m`},
		{"back\\slash", `back\slash`},
		{"bad\xffbyte", `bad\xffbyte`},
	}
	for _, tt := range tests {
		if got := Escape(tt.in); got != tt.want {
			t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLines(t *testing.T) {
	if got, want := Lines("first \x1b[2J\nsecond"), "first \\x1b[2J\nsecond"; got != want {
		t.Errorf("Lines() = %q, want %q", got, want)
	}
}

// FuzzEscape: the output is valid UTF-8 with no control character, and
// text without anything to escape comes out as it went in.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[31mred", "\u202e", "\xff", "a\\b", "\u0085"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Escape(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Escape(%q) = %q: not UTF-8", s, out)
		}
		if r, bad := Control(out); bad {
			t.Fatalf("Escape(%q) = %q: holds %U", s, out, r)
		}
		if _, bad := Control(s); !bad && utf8.ValidString(s) && out != s {
			t.Fatalf("Escape(%q) = %q: changed safe text", s, out)
		}
	})
}

func TestQuote(t *testing.T) {
	long := strings.Repeat("a", 524_288_000)
	tests := []struct {
		f        func(string) string
		in, want string
	}{
		{Quote, "acme", `"acme"`},
		{Quote, "line\nbreak", `"line\nbreak"`},
		{Quote, strings.Repeat("x", MaxEcho), `"` + strings.Repeat("x", MaxEcho) + `"`},
		{Quote, long, `"` + strings.Repeat("a", MaxEcho) + `…" (524,288,000 bytes)`},
		{Quote, strings.Repeat("é", 100), `"` + strings.Repeat("é", MaxEcho/2) + `…" (200 bytes)`},
		{Quote, "x" + strings.Repeat("é", 100), `"x` + strings.Repeat("é", (MaxEcho-1)/2) + `…" (201 bytes)`},
		{QuoteASCII, "e\u0301", `"e\u0301"`},
		{QuoteASCII, strings.Repeat("é", 100), `"` + strings.Repeat(`\u00e9`, MaxEcho/2) + `…" (200 bytes)`},
		{Cut, "dir/file.csv", "dir/file.csv"},
		{Cut, strings.Repeat("d", MaxName), strings.Repeat("d", MaxName)},
		{Cut, strings.Repeat("d", 5000), strings.Repeat("d", MaxName) + "… (5,000 bytes)"},
	}
	for _, tt := range tests {
		if got := tt.f(tt.in); got != tt.want {
			t.Errorf("%.40q → %q, want %q", tt.in, got, tt.want)
		}
	}
}
