// Package canonjson writes JSON so that equal values have equal text:
// objects with sorted keys, no insignificant space, strings escaped exactly
// as encoding/json escapes them (without HTML escaping), and numbers kept as
// written. groupsync compares property values as this text, so `2` from a
// YAML file and `2` from a CSV cell are equal while `"2"` is not, and the
// text read back from a state file compares equal to the text first sent.
//
// A differential fuzz test holds every function here to encoding/json.
package canonjson

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// Quote returns s as a JSON string, exactly as encoding/json writes it with
// SetEscapeHTML(false), with one allocation for the common string that
// needs no escaping.
func Quote(s string) string {
	if plain(s) {
		return "\"" + s + "\""
	}
	b, _ := marshal(s)
	return b
}

// plain reports whether s is written by encoding/json as it is, between
// quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		// 0xE2 starts U+2028 and U+2029, which encoding/json escapes;
		// other bytes above 0x7f are fine once s is valid UTF-8.
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == 0xE2 {
			return false
		}
	}
	return utf8.ValidString(s)
}

// Canonical re-encodes one JSON value in canonical form. It fails on
// anything that is not exactly one valid JSON value.
func Canonical(raw string) (string, error) {
	if canonicalScalar(raw) {
		return raw, nil
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return "", errors.New("unexpected data after the JSON value")
	}
	return Marshal(v)
}

// Marshal encodes v in canonical form: v is what encoding/json decodes with
// UseNumber, or the same shapes built by hand (map[string]any, []any,
// string, bool, nil, json.Number, and Go numbers).
func Marshal(v any) (string, error) {
	return marshal(v)
}

func marshal(v any) (string, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// canonicalScalar reports whether raw is a scalar already in canonical
// form, which is what state files hold: decoding and re-encoding a million
// of them would dominate reading a large state.
func canonicalScalar(raw string) bool {
	switch {
	case raw == "":
		return false
	case raw == "true" || raw == "false" || raw == "null":
		return true
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		// UseNumber keeps a valid number as written, but not the
		// white space json.Valid allows after it.
		last := raw[len(raw)-1]
		return last >= '0' && last <= '9' && json.Valid([]byte(raw))
	case len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"':
		return plain(raw[1 : len(raw)-1])
	}
	return false
}

// Object writes a JSON object of n members in the order given, each key
// quoted and each value taken as raw JSON text. Callers pass keys sorted
// and values canonical to get canonical text.
func Object(n int, member func(i int) (key, raw string)) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		k, v := member(i)
		b.WriteString(Quote(k))
		b.WriteByte(':')
		b.WriteString(v)
	}
	b.WriteByte('}')
	return b.String()
}
