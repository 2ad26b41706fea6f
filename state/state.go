// Package state keeps the state file: what groupsync applied, per group,
// with its token. It owns the file format, atomic writes with a backup, the
// lock that keeps two runs apart, and the journal that persists progress
// during apply. It does not decide what to apply; reconcile does.
package state

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"groupsync/internal/atomicfile"
	"groupsync/internal/canonjson"
	"groupsync/internal/flatjson"
	"groupsync/reconcile"
)

// FormatVersion is the version of the state file this build writes. A file
// of a later version is refused, since this build cannot know what it would
// lose by rewriting it.
const FormatVersion = 1

// Fingerprint is a short, one-way hash of an API token: enough to tell two
// tokens apart, useless for recovering either.
func Fingerprint(apiToken string) string {
	sum := sha256.Sum256([]byte("groupsync:" + apiToken))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// wireGroup is one group of the state file. A field that is absent was never
// applied, which keeps unmanaged fields unmanaged across runs.
type wireGroup struct {
	// ID is only set in journal entries; in the file the map key is the id.
	ID     string `json:"user_group_id,omitempty"`
	Name   string `json:"name,omitempty"`
	IsDemo *bool  `json:"is_demo_group,omitempty"`
	// Mapping and Properties stay raw when decoding and are walked in
	// place: a map per group would double the cost of reading a state.
	Mapping    json.RawMessage `json:"mapping,omitempty"`
	Properties json.RawMessage `json:"properties,omitempty"`
	Emails     *[]string       `json:"emails,omitempty"`
	Tags       *[]string       `json:"group_tags,omitempty"`
	Level      *string         `json:"hierarchy_level_name,omitempty"`
	Parent     *string         `json:"parent_provided_id,omitempty"`
	Token      string          `json:"token,omitempty"`
	EnvTag     string          `json:"api_environment_tag,omitempty"`
	AppliedAt  time.Time       `json:"applied_at"`
	// Deleted marks a journal entry of a group deleted on the service.
	Deleted bool `json:"deleted,omitempty"`
}

func toWire(a *reconcile.Applied) *wireGroup {
	w := &wireGroup{Name: a.Name, Token: a.Token, EnvTag: a.EnvTag, AppliedAt: a.AppliedAt.UTC()}
	if a.Managed.Has(reconcile.FieldIsDemo) {
		w.IsDemo = &a.IsDemo
	}
	if a.Managed.Has(reconcile.FieldMapping) {
		w.Mapping = json.RawMessage(canonjson.Object(len(a.Mapping), func(i int) (string, string) {
			return a.Mapping[i].Key, canonjson.Quote(a.Mapping[i].Value)
		}))
	}
	if a.Managed.Has(reconcile.FieldProperties) {
		w.Properties = json.RawMessage(canonjson.Object(len(a.Properties), func(i int) (string, string) {
			return a.Properties[i].Key, a.Properties[i].Value
		}))
	}
	c := a.Cust()
	if a.Managed.Has(reconcile.FieldEmails) {
		w.Emails = &c.Emails
	}
	if a.Managed.Has(reconcile.FieldTags) {
		w.Tags = &c.Tags
	}
	if a.Managed.Has(reconcile.FieldLevel) {
		w.Level = &c.Level
	}
	if a.Managed.Has(reconcile.FieldParent) {
		w.Parent = &c.Parent
	}
	return w
}

func (w *wireGroup) applied(id string) (*reconcile.Applied, error) {
	return w.appliedInterned(id, nil)
}

// interner shares the strings that repeat across groups (environment tags,
// mapping and property keys), which a million-group state holds a million
// copies of otherwise.
type interner map[string]string

func (in interner) get(s string) string {
	if in == nil {
		return s
	}
	if v, ok := in[s]; ok {
		return v
	}
	if len(in) < 4096 {
		in[s] = s
	}
	return s
}

func (w *wireGroup) appliedInterned(id string, in interner) (*reconcile.Applied, error) {
	a := &reconcile.Applied{Token: w.Token, EnvTag: in.get(w.EnvTag), AppliedAt: w.AppliedAt}
	a.ID, a.Name = id, w.Name
	if w.IsDemo != nil {
		a.Managed |= reconcile.FieldIsDemo
		a.IsDemo = *w.IsDemo
	}
	var err error
	if present(w.Mapping) {
		a.Managed |= reconcile.FieldMapping
		a.Mapping, err = walk(w.Mapping, in, func(raw string) (string, error) { return flatjson.String(raw) })
		if err != nil {
			return nil, fmt.Errorf("group %q: mapping: %w", id, err)
		}
	}
	if present(w.Properties) {
		a.Managed |= reconcile.FieldProperties
		a.Properties, err = walk(w.Properties, in, func(raw string) (string, error) { return canonjson.Canonical(raw) })
		if err != nil {
			return nil, fmt.Errorf("group %q: properties: %w", id, err)
		}
	}
	w.customer(a, in)
	return a, nil
}

// customer reads the Customer API's fields into a.
func (w *wireGroup) customer(a *reconcile.Applied, in interner) {
	if w.Emails == nil && w.Tags == nil && w.Level == nil && w.Parent == nil {
		return
	}
	c := &reconcile.Customer{}
	if w.Emails != nil {
		a.Managed |= reconcile.FieldEmails
		c.Emails = reconcile.SortSet(*w.Emails)
	}
	if w.Tags != nil {
		a.Managed |= reconcile.FieldTags
		c.Tags = reconcile.SortSet(*w.Tags)
	}
	if w.Level != nil {
		a.Managed |= reconcile.FieldLevel
		c.Level = in.get(*w.Level)
	}
	if w.Parent != nil {
		a.Managed |= reconcile.FieldParent
		c.Parent = *w.Parent
	}
	a.Customer = c
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// walk reads a JSON object of the state into sorted pairs.
func walk(raw json.RawMessage, in interner, conv func(string) (string, error)) (reconcile.Pairs, error) {
	out := reconcile.Pairs{}
	err := flatjson.Object(string(raw), func(k, v string) error {
		c, err := conv(v)
		out = append(out, reconcile.Pair{Key: in.get(k), Value: c})
		return err
	})
	if err != nil {
		return nil, err
	}
	return reconcile.SortPairs(out), nil
}

// CorruptError is a state file that cannot be read. It is never treated as
// empty: that would create every group again.
type CorruptError struct {
	Path string
	Err  error
	// Journal is set when the unreadable file is the progress journal.
	Journal bool
}

func (e *CorruptError) Error() string {
	if e.Journal {
		return fmt.Sprintf("journal %s of an interrupted run is unreadable (%v); the groups it recorded exist on the service: move the file aside and rerun, and their creates will find and adopt them with their tokens",
			e.Path, e.Err)
	}
	return fmt.Sprintf("state file %s is unreadable (%v); the previous version is %s.backup: check it and copy it over %s to go on from there",
		e.Path, e.Err, e.Path, e.Path)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Read loads the state at path without locking or writing anything, with
// any journal a killed run left folded in. A missing file is an empty state.
func Read(path string) (*reconcile.State, error) {
	path, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	st, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := replay(journalPath(path), st); err != nil {
		return nil, err
	}
	return st, nil
}

// Resolve returns the file a --state path names: a symlink is resolved
// once, so that the lock, the journal and the backup sit next to its
// target and guard it.
func Resolve(path string) (string, error) {
	info, err := os.Lstat(path)
	if err != nil || info.Mode()&fs.ModeSymlink == 0 {
		return path, nil
	}
	target, err := os.Readlink(path)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(path), target)
	}
	if info, err := os.Lstat(target); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		return "", fmt.Errorf("--state %s: a symlink to a symlink (%s); point it at the state file itself", path, target)
	}
	return target, nil
}

func readFile(path string) (*reconcile.State, error) {
	f, err := atomicfile.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return reconcile.NewState(), nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := decode(json.NewDecoder(bufio.NewReaderSize(f, 256<<10)))
	var ve *versionError
	switch {
	case errors.As(err, &ve):
		return nil, fmt.Errorf("state file %s has format version %d, newer than this groupsync understands (%d): upgrade groupsync", path, ve.version, FormatVersion)
	case err != nil:
		return nil, &CorruptError{Path: path, Err: err}
	}
	return st, nil
}

type versionError struct{ version int }

func (e *versionError) Error() string { return fmt.Sprintf("format version %d", e.version) }

// decode reads a state file key by key, and its groups one at a time, so
// that a million groups never exist twice in memory (once as JSON values,
// once as groups).
func decode(dec *json.Decoder) (*reconcile.State, error) {
	st := reconcile.NewState()
	version := 0
	if err := expectDelim(dec, '{'); err != nil {
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
		case "groups":
			sawGroups = true
			err = decodeGroups(dec, st)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
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

func decodeGroups(dec *json.Decoder, st *reconcile.State) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	in := interner{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		id, _ := tok.(string)
		var w wireGroup
		if err := dec.Decode(&w); err != nil {
			return fmt.Errorf("group %q: %w", id, err)
		}
		if w.Token == "" {
			return fmt.Errorf("group %q has no token", id)
		}
		a, err := w.appliedInterned(id, in)
		if err != nil {
			return err
		}
		st.Groups[id] = a
	}
	return expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
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

// write saves st at path atomically, keeping the old file as PATH.backup.
// Groups are written in id order so that two saves of one state are equal.
func write(path string, st *reconcile.State) error {
	return atomicfile.Write(path, atomicfile.Options{Backup: true}, func(w io.Writer) error {
		// Stream the groups: a million of them must not be built as
		// one big value in memory.
		url, _ := json.Marshal(st.APIURL)
		fp, _ := json.Marshal(st.TokenFingerprint)
		fmt.Fprintf(w, "{\"format_version\": %d, \"serial\": %d, \"api_url\": %s, \"token_fingerprint\": %s, \"groups\": {",
			FormatVersion, st.Serial, url, fp)
		ids := make([]string, 0, len(st.Groups))
		for id := range st.Groups {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for i, id := range ids {
			k, _ := json.Marshal(id)
			v, err := json.Marshal(toWire(st.Groups[id]))
			if err != nil {
				return err
			}
			sep := ",\n  "
			if i == 0 {
				sep = "\n  "
			}
			io.WriteString(w, sep+string(k)+": "+string(v))
		}
		_, err := io.WriteString(w, "\n}}\n")
		return err
	})
}
