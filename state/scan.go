package state

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"groupsync/internal/fieldjson"
	"groupsync/internal/flatjson"
	"groupsync/reconcile"
)

// decodeFile reads a state file member by member, and its groups one at a
// time, so that a million groups never exist twice in memory (once as
// JSON values, once as groups). It finds where each value ends by itself
// (strings, escapes and nesting) and leaves checking the value to
// encoding/json or, for a group, to [decodeWire]: going through
// json.Decoder token by token was most of the time of a run with nothing
// to do. groups is a guess of their number.
func decodeFile(r *bufio.Reader, groups int) (*reconcile.State, error) {
	sc := &scanner{r: r}
	st := reconcile.NewState()
	st.Groups = make(map[string]*reconcile.Applied, groups)
	version, sawGroups := 0, false
	err := sc.object(func(key string) error {
		if key == "groups" {
			sawGroups = true
			return sc.groups(st)
		}
		raw, err := sc.value()
		if err != nil {
			return err
		}
		switch key {
		case "format_version":
			if err := json.Unmarshal(raw, &version); err != nil {
				return err
			}
			if version > FormatVersion {
				return &versionError{version}
			}
		case "serial":
			return json.Unmarshal(raw, &st.Serial)
		case "api_url":
			return json.Unmarshal(raw, &st.APIURL)
		case "token_fingerprint":
			return json.Unmarshal(raw, &st.TokenFingerprint)
		case "root_level":
			return json.Unmarshal(raw, &st.RootLevel)
		case "orphans_tracked":
			return json.Unmarshal(raw, &st.OrphansKnown)
		case "pending":
			return decodePending(raw, st)
		default:
			if !json.Valid(raw) {
				return fmt.Errorf("%q: invalid JSON", key)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sc.space(); sc.err == nil {
		return nil, errors.New("unexpected data after the state")
	} else if !errors.Is(sc.err, io.EOF) {
		return nil, sc.err
	}
	if version < 1 || !sawGroups {
		return nil, errors.New("no format_version or groups: not a groupsync state file")
	}
	return st, nil
}

func (sc *scanner) groups(st *reconcile.State) error {
	in := fieldjson.Interner{}
	return sc.object(func(id string) error {
		raw, err := sc.value()
		if err != nil {
			return fmt.Errorf("group %q: %w", id, err)
		}
		return addGroup(st, id, string(raw), in)
	})
}

// addGroup decodes the record of group id and adds it to st.
func addGroup(st *reconcile.State, id, raw string, in fieldjson.Interner) error {
	e, err := decodeRecord(raw, id, in)
	if err != nil {
		return fmt.Errorf("group %q: %w", id, err)
	}
	if e.a.Token == "" {
		return fmt.Errorf("group %q has no token", id)
	}
	if prev := st.Groups[e.id]; prev != nil {
		return fmt.Errorf("groups %+q and %+q are the same id once Unicode-normalised", prev.ID, id)
	}
	st.Groups[e.id] = e.a
	return nil
}

// scanner splits JSON text into the members of objects and the raw text
// of values. The raw text of one value is valid only until the next.
type scanner struct {
	r   *bufio.Reader
	buf []byte
	off int64 // bytes consumed, for messages
	err error // the first read error, io.EOF at the end
}

func (sc *scanner) syntax(what string) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", sc.off, what)
}

// space skips white space and returns the next byte without consuming it;
// 0 with sc.err set at the end or on a read error.
func (sc *scanner) space() byte {
	for {
		b, err := sc.r.Peek(1)
		if err != nil {
			sc.err = err
			return 0
		}
		switch b[0] {
		case ' ', '\t', '\n', '\r':
			sc.r.Discard(1)
			sc.off++
		default:
			return b[0]
		}
	}
}

func (sc *scanner) expect(c byte) error {
	if sc.space() != c {
		return sc.unexpected(fmt.Sprintf("want %q", c))
	}
	sc.r.Discard(1)
	sc.off++
	return nil
}

func (sc *scanner) unexpected(what string) error {
	if errors.Is(sc.err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	if sc.err != nil {
		return sc.err
	}
	return sc.syntax(what)
}

// object reads a JSON object, calling member with each key once the
// scanner stands at the key's value, which member must consume.
func (sc *scanner) object(member func(key string) error) error {
	if err := sc.expect('{'); err != nil {
		return err
	}
	if sc.space() == '}' {
		sc.r.Discard(1)
		sc.off++
		return nil
	}
	for {
		if sc.space() != '"' {
			return sc.unexpected("want a key")
		}
		raw, err := sc.value()
		if err != nil {
			return err
		}
		key, err := flatjson.String(string(raw))
		if err != nil {
			if err := json.Unmarshal(raw, &key); err != nil {
				return sc.syntax("bad key")
			}
		}
		if err := sc.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch sc.space() {
		case ',':
			sc.r.Discard(1)
			sc.off++
		case '}':
			sc.r.Discard(1)
			sc.off++
			return nil
		default:
			return sc.unexpected("want ',' or '}'")
		}
	}
}

// value returns the raw text of the next value: a string, an object or
// an array up to its matching end, or a literal up to the first byte that
// cannot be part of one.
// Whether the text is valid JSON is for the caller to check.
func (sc *scanner) value() ([]byte, error) {
	first := sc.space()
	if sc.err != nil {
		return nil, sc.unexpected("")
	}
	literal := &number
	if first >= 'a' && first <= 'z' {
		literal = &word
	}
	scalar := first != '{' && first != '[' && first != '"'
	sc.buf = sc.buf[:0]
	depth, inString, escaped := 0, false, false
	for {
		if sc.r.Buffered() == 0 {
			if _, err := sc.r.Peek(1); err != nil {
				sc.err = err
				if errors.Is(err, io.EOF) && scalar && len(sc.buf) > 0 {
					return sc.buf, nil // a literal at the very end
				}
				return nil, sc.unexpected("")
			}
		}
		chunk, _ := sc.r.Peek(sc.r.Buffered())
		if end, ok := scanChunk(chunk, scalar, literal, &depth, &inString, &escaped); ok {
			return sc.take(chunk[:end]), nil
		}
		sc.take(chunk)
	}
}

// scanChunk goes on scanning a value through chunk and returns where it
// ends, if it does.
func scanChunk(chunk []byte, scalar bool, literal *[256]bool, depth *int, inString, escaped *bool) (int, bool) {
	if scalar {
		for i, b := range chunk {
			if !literal[b] {
				return i, true
			}
		}
		return 0, false
	}
	for i := 0; i < len(chunk); i++ {
		switch {
		case *escaped:
			*escaped = false
		case *inString:
			for i < len(chunk) && !quoting[chunk[i]] {
				i++
			}
			switch {
			case i == len(chunk):
			case chunk[i] == '\\':
				*escaped = true
			default:
				*inString = false
				if *depth == 0 {
					return i + 1, true
				}
			}
		default:
			for i < len(chunk) && !structure[chunk[i]] {
				i++
			}
			if i == len(chunk) {
				break
			}
			switch chunk[i] {
			case '"':
				*inString = true
			case '{', '[':
				*depth++
			default:
				*depth--
				if *depth == 0 {
					return i + 1, true
				}
			}
		}
	}
	return 0, false
}

// quoting and structure are the bytes that matter in a string, and
// outside one.
var quoting, structure = set(`"\`), set(`"{}[]`)

// number and word hold the bytes a number, and true, false or null, are
// made of: a literal ends at any other, as it does for json.Decoder.
var number, word = set("0123456789+-.eE"), set("truefalsn")

func set(s string) (t [256]bool) {
	for _, c := range []byte(s) {
		t[c] = true
	}
	return t
}

func (sc *scanner) take(part []byte) []byte {
	sc.buf = append(sc.buf, part...)
	sc.r.Discard(len(part))
	sc.off += int64(len(part))
	return sc.buf
}
