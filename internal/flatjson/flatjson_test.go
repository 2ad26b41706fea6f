package flatjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"
)

type member struct{ Key, Raw string }

func walk(s string) ([]member, error) {
	var out []member
	err := Object(s, func(k, raw string) error {
		out = append(out, member{k, raw})
		return nil
	})
	return out, err
}

func TestObject(t *testing.T) {
	tests := []struct {
		in   string
		want []member
		ok   bool
	}{
		{`{}`, nil, true},
		{` { "40" : "213" , "134":386 } `, []member{{"40", `"213"`}, {"134", "386"}}, true},
		{`{"a\u0041\n": [1, {"b": "}"}], "c": null, "d": -1.5e3, "e": true}`,
			[]member{{"aA\n", `[1, {"b": "}"}]`}, {"c", "null"}, {"d", "-1.5e3"}, {"e", "true"}}, true},
		{`{"a": 01}`, nil, false},
		{`{"a": 1,}`, nil, false},
		{`{"a" 1}`, nil, false},
		{`{"a": [1, 2}`, nil, false},
		{`{"a": "x}`, nil, false},
		{`{"a": 1} x`, nil, false},
		{`[1]`, nil, false},
		{`{'a': 1}`, nil, false},
		{"{\"a\": \"tab\there\"}", nil, false},
		{`{"a": tru}`, nil, false},
	}
	for _, tt := range tests {
		got, err := walk(tt.in)
		if (err == nil) != tt.ok || (tt.ok && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("Object(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// FuzzObject holds Object to encoding/json: it accepts exactly the valid
// UTF-8 objects encoding/json accepts, with the same members.
func FuzzObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"40": "213", "134": 386}`, `{"a": [1, {"b": "}"}], "c": null}`, `{"\u00e9": "\"q\""}`, `{"a":1,"a":2}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := walk(s)
		var want map[string]json.RawMessage
		werr := json.Unmarshal([]byte(s), &want)
		if werr == nil && want == nil {
			werr = ErrSyntax // null is not an object
		}
		if err == nil && werr != nil {
			t.Fatalf("Object accepted %q, which encoding/json refuses: %v", s, werr)
		}
		if err != nil && werr == nil && utf8.ValidString(s) {
			t.Fatalf("Object refused %q, which encoding/json accepts", s)
		}
		if err != nil || werr != nil {
			return
		}
		last := map[string]string{}
		for _, m := range got {
			last[m.Key] = m.Raw
		}
		if len(last) != len(want) {
			t.Fatalf("%q: members %v, want %v", s, last, want)
		}
		for k, raw := range want {
			var a, b bytes.Buffer
			json.Compact(&a, raw)
			json.Compact(&b, []byte(last[k]))
			if a.String() != b.String() {
				t.Fatalf("%q: member %q = %s, want %s", s, k, last[k], raw)
			}
		}
	})
}
