// Package flatjson walks the members of one JSON object without building
// it: each key, unescaped, with the raw text of its value. It exists for
// spreadsheet cells like {"40": "213"}, where decoding into a map with
// encoding/json costs more than the rest of loading the row.
//
// It accepts only what encoding/json accepts (a differential fuzz test
// holds it to that) and gives no reasons: on any error, ask encoding/json
// for the message.
package flatjson

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// ErrSyntax is returned for anything that is not one valid JSON object.
var ErrSyntax = errors.New("not a valid JSON object")

// Object calls fn for each member of the JSON object in s, in order. It
// returns ErrSyntax unless s is exactly one valid object, surrounded by
// optional white space; an error from fn stops the walk and is returned.
func Object(s string, fn func(key, raw string) error) error {
	i := skipSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return ErrSyntax
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return end(s, i+1)
	}
	for {
		key, next, err := str(s, i)
		if err != nil {
			return err
		}
		i = skipSpace(s, next)
		if i >= len(s) || s[i] != ':' {
			return ErrSyntax
		}
		i = skipSpace(s, i+1)
		vend, err := value(s, i)
		if err != nil {
			return err
		}
		if err := fn(key, s[i:vend]); err != nil {
			return err
		}
		i = skipSpace(s, vend)
		switch {
		case i < len(s) && s[i] == ',':
			i = skipSpace(s, i+1)
		case i < len(s) && s[i] == '}':
			return end(s, i+1)
		default:
			return ErrSyntax
		}
	}
}

// String returns the text of a raw JSON string value.
func String(raw string) (string, error) {
	v, next, err := str(raw, 0)
	if err != nil || next != len(raw) {
		return "", ErrSyntax
	}
	return v, nil
}

func end(s string, i int) error {
	if skipSpace(s, i) != len(s) {
		return ErrSyntax
	}
	return nil
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// str reads the JSON string starting at s[i] and returns its text and the
// index after it. A string without escapes is returned as a substring.
func str(s string, i int) (string, int, error) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, ErrSyntax
	}
	escaped := false
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			text := s[i+1 : j]
			if !utf8.ValidString(text) {
				return "", 0, ErrSyntax
			}
			if !escaped {
				return text, j + 1, nil
			}
			var v string
			if json.Unmarshal([]byte(s[i:j+1]), &v) != nil {
				return "", 0, ErrSyntax
			}
			return v, j + 1, nil
		case c == '\\':
			escaped = true
			j++ // the escaped byte cannot end the string
		case c < 0x20:
			return "", 0, ErrSyntax
		}
	}
	return "", 0, ErrSyntax
}

// value returns the index after the JSON value starting at s[i].
func value(s string, i int) (int, error) {
	if i >= len(s) {
		return 0, ErrSyntax
	}
	var j int
	switch s[i] {
	case '"':
		_, next, err := str(s, i)
		return next, err
	case '{', '[':
		j = composite(s, i)
	default:
		j = i
		for j < len(s) && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' {
			j++
		}
	}
	if j <= i || !json.Valid([]byte(s[i:j])) || !utf8.ValidString(s[i:j]) {
		return 0, ErrSyntax
	}
	return j, nil
}

// composite returns the index after the object or array starting at s[i],
// found by counting brackets outside strings; json.Valid checks the rest.
func composite(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '"':
			_, next, err := str(s, j)
			if err != nil {
				return 0
			}
			j = next - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return 0
}
