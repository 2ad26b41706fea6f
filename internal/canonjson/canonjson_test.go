package canonjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// reference is what encoding/json makes of raw: decoded with UseNumber and
// encoded without HTML escaping, map keys sorted.
func reference(raw string) (string, bool) {
	if !json.Valid([]byte(raw)) {
		return "", false
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return "", false
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return "", false
	}
	return strings.TrimSuffix(b.String(), "\n"), true
}

func quoteReference(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{`1e3`, `1e3`},
		{` {"b": 1, "a": [true, null, "x"]} `, `{"a":[true,null,"x"],"b":1}`},
		{`"\u00e9"`, `"é"`},
		{`"<&>"`, `"<&>"`},
		{`"\u2028"`, `"\u2028"`},
		{`12345678901234567890`, `12345678901234567890`},
	}
	for _, tt := range tests {
		got, err := Canonical(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Canonical(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{``, `{`, `1 2`, `{"a":1} x`, `nul`} {
		if got, err := Canonical(bad); err == nil {
			t.Errorf("Canonical(%q) = %q, want an error", bad, got)
		}
	}
}

func TestObject(t *testing.T) {
	keys, vals := []string{"40", "é\n"}, []string{`"213"`, `{"x":1}`}
	got := Object(2, func(i int) (string, string) { return keys[i], vals[i] })
	if want := `{"40":"213","é\n":{"x":1}}`; got != want {
		t.Errorf("Object() = %s, want %s", got, want)
	}
}

// FuzzCanonical holds Canonical to encoding/json: the same text for every
// valid value, an error for everything else.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{`1`, `-0.5e+10`, `"a\"b"`, `{"z":{"y":[1,2]},"a":""}`, `"\u007f\u2029"`, `[]`, `nul`, `"\xff"`, "\"\x7f\"", `01`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		want, valid := reference(raw)
		got, err := Canonical(raw)
		switch {
		case !valid && err == nil:
			t.Fatalf("Canonical(%q) = %q, but encoding/json refuses it", raw, got)
		case valid && err != nil:
			t.Fatalf("Canonical(%q): %v, but encoding/json accepts it", raw, err)
		case valid && got != want:
			t.Fatalf("Canonical(%q) = %q, encoding/json writes %q", raw, got, want)
		}
	})
}

// FuzzQuote holds Quote to encoding/json for every string, valid UTF-8 or not.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\x1f\x7f", "\u2028\u2029", "<&>", "\xff\xfe", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Quote(s), quoteReference(s); got != want {
			t.Fatalf("Quote(%q) = %q, encoding/json writes %q", s, got, want)
		}
	})
}
