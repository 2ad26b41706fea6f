package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"groupsync/internal/canonjson"
	"groupsync/internal/flatjson"
	"groupsync/internal/textsafe"
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
	return false, fmt.Errorf("%s is not a boolean (want true/false, yes/no, y/n or 1/0)", textsafe.Quote(s))
}

// scientific matches a number as Excel writes it in scientific notation,
// in English and European locales: 1.23457E+11, 1,0E+5, 2E3.
var scientific = regexp.MustCompile(`^[+-]?[0-9]+([.,][0-9]+)?[eE][+-]?[0-9]+$`)

const textHint = "format the column as text in the spreadsheet and export again"

// checkScientific refuses a value a spreadsheet turned into scientific
// notation: the digits it rounded away cannot be recovered.
func checkScientific(s string) error {
	// Most values have no E at all; the regular expression is for the
	// few that do.
	if !strings.ContainsAny(s, "eE") {
		return nil
	}
	if scientific.MatchString(s) {
		return fmt.Errorf("%s is a number in scientific notation, as Excel writes long numbers after rounding them: %s", textsafe.Quote(s), textHint)
	}
	return nil
}

// checkID refuses ids a spreadsheet may have mangled or that would not
// print as themselves: the id is the group's identity on the service, so
// "acme " and "acme" would be two customers.
func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("missing: every group needs an id")
	case strings.TrimSpace(id) != id:
		return fmt.Errorf("%s has leading or trailing spaces", textsafe.Quote(id))
	}
	if err := checkText(id); err != nil {
		return err
	}
	if r, bad := invisible(id); bad {
		return fmt.Errorf("%+q holds the invisible character U+%04X, which would make it another id that looks the same", id, r)
	}
	return checkScientific(id)
}

// invisible finds a code point that shows as nothing, or as a plain space:
// Unicode's format characters (category Cf: U+200B, U+FEFF, U+2060,
// U+00AD, U+200D, …), the Hangul and other fillers, variation selectors,
// and spaces other than U+0020. In an id, each makes a second customer
// that prints like the first.
func invisible(s string) (rune, bool) {
	for _, r := range s {
		if r < 0x80 {
			continue
		}
		switch {
		case unicode.In(r, unicode.Cf, unicode.Zs, unicode.Zl, unicode.Zp, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point):
			return r, true
		case r == 0x115F || r == 0x1160 || r == 0x3164 || r == 0xFFA0 || r == 0x2800 || r == 0x034F:
			return r, true
		}
	}
	return 0, false
}

// checkName refuses a missing name, and control characters.
func checkName(name string) error {
	if name == "" {
		return errors.New("missing: every group needs a name")
	}
	return checkText(name)
}

// checkText refuses control characters (NUL, escape sequences, line
// breaks, direction overrides), which would forge output on a terminal.
func checkText(s string) error {
	if r, bad := textsafe.Control(s); bad {
		return fmt.Errorf("%s holds the control character U+%04X", textsafe.Quote(s), r)
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
	var v string
	switch {
	case raw != "" && raw[0] == '"':
		s, err := flatjson.String(raw)
		if err != nil {
			return "", err
		}
		v = s
	case raw != "" && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')):
		v = raw
	default:
		var x any
		_ = json.Unmarshal([]byte(raw), &x)
		return "", fmt.Errorf("the value of %s must be a string or a number, not %s", textsafe.Quote(k), jsonKind(x))
	}
	return v, mappingText(k, v)
}

// mappingText checks a data source id.
func mappingText(k, v string) error {
	if err := checkScientific(v); err != nil {
		return fmt.Errorf("the value of %s: %w", textsafe.Quote(k), err)
	}
	return nil
}

// propertyValue converts one property value to canonical JSON.
func propertyValue(k, raw string) (string, error) {
	v, err := canonjson.Canonical(raw)
	if err != nil {
		return "", fmt.Errorf("the value of %s: %v", textsafe.Quote(k), err)
	}
	return v, nil
}

// listCell reads emails or group tags from a cell: a JSON array of
// strings, or values separated by commas. An empty cell is no value.
func listCell(cell string) ([]string, error) {
	cell = strings.TrimSpace(cell)
	if cell == "" {
		return []string{}, nil
	}
	var out []string
	if strings.HasPrefix(cell, "[") {
		if err := json.Unmarshal([]byte(cell), &out); err != nil {
			return nil, fmt.Errorf("must be a JSON list of strings, or values separated by commas: %v", err)
		}
	} else {
		for _, v := range strings.Split(cell, ",") {
			out = append(out, strings.TrimSpace(v))
		}
	}
	for _, v := range out {
		if v == "" {
			return nil, errors.New("holds an empty value")
		}
		if err := checkText(v); err != nil {
			return nil, err
		}
	}
	return reconcile.SortSet(out), nil
}

func customerOnly(name string) error {
	return fmt.Errorf("%s is a field of the Customer API; the End User Group API has none: use --api customer", name)
}

// fieldNames lists the managed fields a manifest may name, for messages.
func fieldNames(opts Options) string {
	var names []string
	for _, f := range reconcile.Table {
		if f.Customer && !opts.Customer {
			continue
		}
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// nameValue reads a TypeName field's text: a level's name, or a parent's
// id, which is checked as an id is.
func nameValue(f *reconcile.Field, v string) (string, error) {
	if err := checkText(v); err != nil {
		return "", err
	}
	if f.Ref && v != "" {
		if err := checkRef(v); err != nil {
			return "", err
		}
		v = reconcile.NormalID(v)
	}
	return v, nil
}

// checkRef checks an id that names another group: a parent, or the id a
// group had before.
func checkRef(v string) error {
	if r, bad := invisible(v); bad {
		return fmt.Errorf("%+q holds the invisible character U+%04X", v, r)
	}
	return checkScientific(v)
}

// previousKey names the id a group had before: a rename that keeps its
// token (Customer API).
const previousKey = "previous_provided_id"

// previousCell reads the id g had before; empty is none.
func previousCell(g *reconcile.Group, v string) error {
	if v == "" {
		g.Previous = ""
		return nil
	}
	if err := checkID(v); err != nil {
		return err
	}
	g.Previous = reconcile.NormalID(v)
	return nil
}
