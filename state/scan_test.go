package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"groupsync/internal/fieldjson"
	"groupsync/reconcile"
)

// referenceDecode is how states were read before decodeFile: through
// json.Decoder, token by token; each group is then read by decodeRecord,
// as decodeFile reads it.
func referenceDecode(dec *json.Decoder) (*reconcile.State, error) {
	st := reconcile.NewState()
	version := 0
	if err := referenceDelim(dec, '{'); err != nil {
		return nil, err
	}
	sawGroups := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch key {
		case "format_version":
			err = dec.Decode(&version)
			if err == nil && version > FormatVersion {
				return nil, &versionError{version}
			}
		case "serial":
			err = dec.Decode(&st.Serial)
		case "api_url":
			err = dec.Decode(&st.APIURL)
		case "token_fingerprint":
			err = dec.Decode(&st.TokenFingerprint)
		case "root_level":
			err = dec.Decode(&st.RootLevel)
		case "orphans_tracked":
			err = dec.Decode(&st.OrphansKnown)
		case "pending":
			var raw json.RawMessage
			if err = dec.Decode(&raw); err == nil {
				err = decodePending(raw, st)
			}
		case "groups":
			sawGroups = true
			err = referenceGroups(dec, st)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := referenceDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the state")
	}
	if version < 1 || !sawGroups {
		return nil, errors.New("no format_version or groups: not a groupsync state file")
	}
	return st, nil
}

func referenceGroups(dec *json.Decoder, st *reconcile.State) error {
	if err := referenceDelim(dec, '{'); err != nil {
		return err
	}
	in := fieldjson.Interner{}
	var raw json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		id, _ := tok.(string)
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("group %q: %w", id, err)
		}
		if err := addGroup(st, id, string(raw), in); err != nil {
			return err
		}
	}
	return referenceDelim(dec, '}')
}

func referenceDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if tok != want {
		return fmt.Errorf("found %v where %v was expected", tok, want)
	}
	return nil
}

// decodeFile reads what json.Decoder read, into the same state, and
// refuses what it refused.
func FuzzDecodeFile(f *testing.F) {
	for _, s := range []string{
		`{"format_version": 1, "serial": 3, "api_url": "https://api.explo.co", "token_fingerprint": "ab", "groups": {}}`,
		`{"format_version": 1, "groups": {"a": {"name": "A", "token": "t", "api_environment_tag": "Customer", "applied_at": "2026-01-02T03:04:05Z", "is_demo_group": true, "mapping": {"40": "213"}, "properties": {"tier": 2, "z": [1, {"b": null}]}}}}`,
		`{"format_version": 1, "groups": {"a\u00e9\"": {"Name": "A", "token": "t\n", "emails": ["x@y"], "group_tags": [], "hierarchy_level_name": "Team", "parent_provided_id": null}}, "extra": [1, 2, {"x": "}"}]}`,
		`{"groups": {"a": {"token": "t", "mapping": null, "deleted": false}}, "format_version": 1}  `,
		`{"format_version": 1, "groups": {"a": {"token": "t"}}} x`,
		`{"format_version": 1, "groups": {"a": {"token": "t", "applied_at": "yesterday"}}}`,
		`{"format_version": 3, "groups": {}}`,
		`{"format_version": 2, "root_level": "Organization", "orphans_tracked": true, "pending": {"a": {"op": "rotate", "user_group_id": "a", "token": "t", "at": "2026-01-02T03:04:05Z"}}, "groups": {"a": {"token": "t", "origin": "created", "orphaned": true}}}`,
		`{"format_version": 1, "groups": {"a": 5}}`,
		`{"format_version": 1, "groups": {"a": {"token": "\ud800"}}, "serial": 1e2}`,
		`{"format_version":1,"groups":{"a":{"token":"t","is_demo_group":null}},"groups":{"b":{"token":"u"}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeFile(bufio.NewReader(bytes.NewReader(data)), 4)
		want, werr := referenceDecode(json.NewDecoder(bytes.NewReader(data)))
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeFile: %v; json.Decoder: %v", err, werr)
		}
		// A newer format is never claimed where json.Decoder saw none.
		// The other way round is a file whose version json.Decoder read
		// before finding it broken, and that decodeFile calls broken
		// straight away: either message is true.
		var ve, wve *versionError
		if errors.As(err, &ve) && !errors.As(werr, &wve) {
			t.Fatalf("decodeFile: %v; json.Decoder: %v", err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeFile = %+v\njson.Decoder = %+v", got, want)
		}
	})
}
