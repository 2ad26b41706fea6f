package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"groupsync/reconcile"
)

// parseBool accepts what spreadsheets and people write; empty means false.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "y", "1", "":
		return strings.TrimSpace(s) != "", nil
	case "false", "no", "n", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (want true/false, yes/no, y/n or 1/0)", s)
}

// checkID refuses ids a spreadsheet may have mangled: the id is the group's
// identity on the service, so "acme " and "acme" would be two customers.
func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("missing: every group needs an id")
	case strings.TrimSpace(id) != id:
		return fmt.Errorf("%q has leading or trailing spaces", id)
	}
	return nil
}

// jsonObject decodes a JSON object cell into its raw values, which are
// converted one by one: most are plain strings and numbers, and taking them
// as they are is several times faster than decoding them into values.
func jsonObject(cell string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	err := json.Unmarshal([]byte(cell), &m)
	if err == nil && m != nil {
		return m, nil
	}
	var v any
	if verr := json.Unmarshal([]byte(cell), &v); verr != nil {
		return nil, fmt.Errorf("invalid JSON: %v", jsonMessage(verr))
	}
	return nil, fmt.Errorf("must be a JSON object like {\"key\": \"value\"}, not %s", jsonKind(v))
}

func jsonMessage(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (at byte %d of the cell)", se, se.Offset)
	}
	return err.Error()
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case float64, json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	}
	return "an object"
}

// mappingPairs converts a JSON mapping: values must be strings or numbers
// (data source ids), numbers being kept as written.
func mappingPairs(m map[string]json.RawMessage) (reconcile.Pairs, error) {
	out := make(reconcile.Pairs, 0, len(m))
	for k, raw := range m {
		var v string
		switch {
		case len(raw) > 0 && raw[0] == '"':
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
		case len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')):
			v = string(raw)
		default:
			var x any
			_ = json.Unmarshal(raw, &x)
			return nil, fmt.Errorf("the value of %q must be a string or a number, not %s", k, jsonKind(x))
		}
		out = append(out, reconcile.Pair{Key: k, Value: v})
	}
	return reconcile.SortPairs(out), nil
}

// propertyPairs converts JSON properties to canonical JSON values.
func propertyPairs(m map[string]json.RawMessage) (reconcile.Pairs, error) {
	out := make(reconcile.Pairs, 0, len(m))
	for k, raw := range m {
		s, err := reconcile.CanonicalJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("the value of %q: %v", k, err)
		}
		out = append(out, reconcile.Pair{Key: k, Value: s})
	}
	return reconcile.SortPairs(out), nil
}

// quoteJSON returns s as a JSON string, exactly as encoding/json writes it
// (so that values compare equal with those read back from state), with one
// allocation for the common string that needs no escaping.
func quoteJSON(s string) string {
	plain := true
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		// 0xE2 starts U+2028 and U+2029, which encoding/json escapes.
		plain = c >= 0x20 && c != '"' && c != '\\' && c != 0xE2 && c != 0x7f
	}
	if plain {
		return "\"" + s + "\""
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}
