package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"groupsync/internal/canonjson"
	"groupsync/internal/flatjson"
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

// objectCell parses a JSON object cell, converting each member with conv;
// an empty cell is an empty object. The members are walked in place, which
// is several times faster than decoding the cell into a map; anything the
// walk refuses goes through encoding/json, for its error message.
func objectCell(cell string, conv func(key, raw string) (string, error)) (reconcile.Pairs, error) {
	if strings.TrimSpace(cell) == "" {
		return reconcile.Pairs{}, nil
	}
	var out reconcile.Pairs
	err := flatjson.Object(cell, func(k, raw string) error {
		v, err := conv(k, raw)
		out = append(out, reconcile.Pair{Key: k, Value: v})
		return err
	})
	if errors.Is(err, flatjson.ErrSyntax) {
		return slowObjectCell(cell, conv)
	}
	if err != nil {
		return nil, err
	}
	return reconcile.SortPairs(out), nil
}

func slowObjectCell(cell string, conv func(key, raw string) (string, error)) (reconcile.Pairs, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(cell), &m); err != nil || m == nil {
		var v any
		if verr := json.Unmarshal([]byte(cell), &v); verr != nil {
			return nil, fmt.Errorf("invalid JSON: %v", jsonMessage(verr))
		}
		return nil, fmt.Errorf("must be a JSON object like {\"key\": \"value\"}, not %s", jsonKind(v))
	}
	out := make(reconcile.Pairs, 0, len(m))
	for k, raw := range m {
		v, err := conv(k, string(raw))
		if err != nil {
			return nil, err
		}
		out = append(out, reconcile.Pair{Key: k, Value: v})
	}
	return reconcile.SortPairs(out), nil
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
	case float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	}
	return "an object"
}

// mappingValue converts one mapping value: a string or a number (a data
// source id), numbers being kept as written.
func mappingValue(k, raw string) (string, error) {
	switch {
	case raw != "" && raw[0] == '"':
		return flatjson.String(raw)
	case raw != "" && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')):
		return raw, nil
	}
	var x any
	_ = json.Unmarshal([]byte(raw), &x)
	return "", fmt.Errorf("the value of %q must be a string or a number, not %s", k, jsonKind(x))
}

// propertyValue converts one property value to canonical JSON.
func propertyValue(k, raw string) (string, error) {
	v, err := canonjson.Canonical(raw)
	if err != nil {
		return "", fmt.Errorf("the value of %q: %v", k, err)
	}
	return v, nil
}
