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

	"groupsync/internal/atomicfile"
	"groupsync/internal/canonjson"
	"groupsync/internal/fieldjson"
	"groupsync/reconcile"
)

// FormatVersion is the version of the state file this build writes. A file
// of a later version is refused, since this build cannot know what it would
// lose by rewriting it.
const FormatVersion = 2

// Fingerprint is a short, one-way hash of an API token: enough to tell two
// tokens apart, useless for recovering either.
func Fingerprint(apiToken string) string {
	sum := sha256.Sum256([]byte("groupsync:" + apiToken))
	return "sha256:" + hex.EncodeToString(sum[:6])
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
	groups := 0
	if fi, err := f.Stat(); err == nil {
		// A group takes some 150 to 400 bytes: guessing low costs at most
		// one growth of the map, where growing it from empty costs twenty.
		groups = int(min(fi.Size()/300, 1<<26))
	}
	st, err := decodeFile(bufio.NewReaderSize(f, 256<<10), groups)
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

// decodePending reads the intents whose outcome a run did not learn.
func decodePending(raw []byte, st *reconcile.State) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	for key, v := range m {
		in, err := decodeIntent(string(v))
		if err != nil {
			return fmt.Errorf("pending %q: %w", key, err)
		}
		st.Pending[in.Key()] = in
	}
	return nil
}

// write saves st at path atomically, keeping the old file as PATH.backup.
// Groups are written in id order so that two saves of one state are equal.
func write(path string, st *reconcile.State) error {
	return atomicfile.Write(path, atomicfile.Options{Backup: true}, func(w io.Writer) error {
		// Stream the groups: a million of them must not be built as
		// one big value in memory.
		fmt.Fprintf(w, "{\"format_version\": %d, \"serial\": %d, \"api_url\": %s, \"token_fingerprint\": %s, \"orphans_tracked\": true",
			FormatVersion, st.Serial, canonjson.Quote(st.APIURL), canonjson.Quote(st.TokenFingerprint))
		if st.RootLevel != "" {
			fmt.Fprintf(w, ", \"root_level\": %s", canonjson.Quote(st.RootLevel))
		}
		if len(st.Pending) > 0 {
			keys := make([]string, 0, len(st.Pending))
			for k := range st.Pending {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			m := make([]fieldjson.Member, len(keys))
			for i, k := range keys {
				m[i] = fieldjson.Member{Key: k, Raw: encodeIntent(st.Pending[k])}
			}
			fmt.Fprintf(w, ", \"pending\": %s", fieldjson.Object(m))
		}
		io.WriteString(w, ", \"groups\": {")
		ids := make([]string, 0, len(st.Groups))
		for id := range st.Groups {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for i, id := range ids {
			sep := ",\n  "
			if i == 0 {
				sep = "\n  "
			}
			if _, err := io.WriteString(w, sep+canonjson.Quote(id)+": "+encode(st.Groups[id], false)); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, "\n}}\n")
		return err
	})
}
