package state

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"groupsync/internal/atomicfile"
	"groupsync/internal/canonjson"
	"groupsync/internal/fieldjson"
	"groupsync/reconcile"
)

// Store is a state file opened for a run that changes it: locked, swept of
// a killed run's leftovers, with a journal for progress.
//
// Progress goes to an append-only journal (PATH.journal) rather than a
// rewrite of the state, because a rewrite costs the whole state (tens of
// megabytes for a large team) while a journal line costs one group. Each
// line is written to the OS as soon as an answer arrives, so a killed
// process loses nothing it was told; lines are fsynced at least once a
// second, so a power cut loses at most a second. The next Open, or the
// final Save, folds the journal into the state and removes it.
type Store struct {
	path string
	lock *Lock
	st   *reconcile.State
	tick func() Ticker

	// mu guards the journal file and whether it has lines not yet synced.
	// The sync loop takes it only to look, never while it waits, and the
	// loop is stopped only by callers that do not hold it: nothing can
	// wait on mu while holding what mu's holder waits for.
	mu    sync.Mutex
	jf    *os.File
	dirty bool
	loop  *syncLoop
	// changed is set once a group was journaled since Open; intents and
	// their settling alone do not change the state.
	changed bool
}

// Ticker is what the sync loop waits on: time.Ticker by default, and a
// ticker the test drives in the store's tests.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Options tune [Open].
type Options struct {
	// Tick returns the ticker of the journal's sync loop; nil ticks every
	// second.
	Tick func() Ticker
}

type timeTicker struct{ t *time.Ticker }

func (t timeTicker) C() <-chan time.Time { return t.t.C }
func (t timeTicker) Stop()               { t.t.Stop() }

func journalPath(path string) string { return path + ".journal" }

// Open locks the state at path and loads it. It returns a *LockedError when
// another run holds the lock.
func Open(path string, opts Options) (*Store, error) {
	path, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	lock, err := Acquire(path + ".lock")
	if err != nil {
		return nil, err
	}
	s, err := open(path, lock, opts)
	if err != nil {
		lock.Release()
		return nil, err
	}
	return s, nil
}

func open(path string, lock *Lock, opts Options) (*Store, error) {
	for _, p := range []string{path, journalPath(path)} {
		if err := atomicfile.Sweep(p); err != nil {
			return nil, fmt.Errorf("remove temporary files of an earlier run: %w", err)
		}
	}
	st, err := readFile(path)
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, lock: lock, st: st, tick: opts.Tick}
	if s.tick == nil {
		s.tick = func() Ticker { return timeTicker{time.NewTicker(time.Second)} }
	}
	n, err := replay(journalPath(path), st)
	switch {
	case err != nil:
		return nil, err
	case n > 0:
		// Fold a killed run's progress in now, so that the journal
		// starts empty: a torn last line must be gone before anything
		// is appended after it.
		if err := s.save(); err != nil {
			return nil, err
		}
	default:
		if err := os.Remove(journalPath(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return s, nil
}

// Path is the state file, with a symlink resolved.
func (s *Store) Path() string { return s.path }

// JournalPath is where a run's progress is kept until Save.
func (s *Store) JournalPath() string { return journalPath(s.path) }

// State returns the loaded state. Apply changes it in place.
func (s *Store) State() *reconcile.State { return s.st }

var _ reconcile.Journal = (*Store)(nil)

// Record appends one applied group to the journal. It is safe for
// concurrent use, as are the other entries.
func (s *Store) Record(a *reconcile.Applied) error {
	return s.append(encode(a, true), false, true)
}

// Move appends a group renamed from another id, as one line.
func (s *Store) Move(from string, a *reconcile.Applied) error {
	return s.append(encode(a, true, fieldjson.Member{Key: keyFrom, Raw: canonjson.Quote(from)}), false, true)
}

// Forget appends the deletion of a group to the journal.
func (s *Store) Forget(id string) error {
	return s.append(encode(&reconcile.Applied{Group: reconcile.Group{ID: id}, AppliedAt: time.Now()}, true, deletedMember), false, true)
}

// Intend appends an intent; with sync, it is on disk before Intend
// returns, so that even a power cut after the call leaves it.
func (s *Store) Intend(in *reconcile.Intent, sync bool) error {
	return s.append(fieldjson.Object([]fieldjson.Member{{Key: keyIntent, Raw: encodeIntent(in)}}), sync, false)
}

// Settle appends the end of an intent whose call did nothing.
func (s *Store) Settle(key string) error {
	return s.append(fieldjson.Object([]fieldjson.Member{{Key: keySettled, Raw: canonjson.Quote(key)}}), false, false)
}

var deletedMember = fieldjson.Member{Key: keyDeleted, Raw: "true"}

// Discard drops a journal that holds nothing but intents that were
// settled, so that a run that changed nothing leaves no trace. It must
// only be called when the state has no pending intent.
func (s *Store) Discard() error {
	if err := s.closeJournal(); err != nil {
		return err
	}
	if err := os.Remove(journalPath(s.path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (s *Store) append(line string, sync, change bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jf == nil {
		f, err := atomicfile.Create(journalPath(s.path), os.O_WRONLY|os.O_APPEND)
		if err != nil {
			return err
		}
		s.jf = f
		s.loop = startSync(s, s.tick())
	}
	if _, err := io.WriteString(s.jf, line+"\n"); err != nil {
		return err
	}
	s.dirty = true
	s.changed = s.changed || change
	if sync {
		if err := s.jf.Sync(); err != nil {
			return err
		}
		s.dirty = false
	}
	return nil
}

// Changed reports whether anything was recorded since Open.
func (s *Store) Changed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// syncLoop fsyncs the journal at every tick while lines arrive.
type syncLoop struct {
	stop, done chan struct{}
}

func startSync(s *Store, t Ticker) *syncLoop {
	l := &syncLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer t.Stop()
		for {
			select {
			case <-t.C():
				s.syncNow()
			case <-l.stop:
				return
			}
		}
	}()
	return l
}

// syncNow fsyncs the journal if it has new lines. The fsync itself runs
// outside the lock, so that Record is never held up by the disk.
func (s *Store) syncNow() {
	s.mu.Lock()
	f, dirty := s.jf, s.dirty
	s.dirty = false
	s.mu.Unlock()
	if dirty && f != nil {
		// The file may have been closed since; then Close synced it.
		_ = f.Sync()
	}
}

// closeJournal stops the sync loop, then syncs and closes the journal. It
// must not be called with s.mu held: it waits for the loop, which may be
// waiting for s.mu.
func (s *Store) closeJournal() error {
	s.mu.Lock()
	loop := s.loop
	s.loop = nil
	s.mu.Unlock()
	if loop != nil {
		close(loop.stop)
		<-loop.done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jf == nil {
		return nil
	}
	err := errors.Join(s.jf.Sync(), s.jf.Close())
	s.jf, s.dirty = nil, false
	return err
}

// Save writes the state with a new serial and empties the journal. When
// the write fails, the journal stays: it holds every answer of the run.
func (s *Store) Save() error {
	if err := s.closeJournal(); err != nil {
		return fmt.Errorf("close journal %s: %w", s.JournalPath(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.save()
}

func (s *Store) save() error {
	s.st.Serial++
	if err := write(s.path, s.st); err != nil {
		s.st.Serial--
		return fmt.Errorf("write state %s: %w", s.path, err)
	}
	if err := os.Remove(journalPath(s.path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Close ends the run: the journal is synced and closed (not folded: call
// Save for that) and the lock released.
func (s *Store) Close() error {
	return errors.Join(s.closeJournal(), s.lock.Release())
}

// replay applies the journal at path to st and returns how many entries it
// held. A last line cut short (a kill, a power cut, a full disk) is
// ignored: its call's answer was never recorded, and the next run repeats
// that call safely. Any other line that is not an entry is corruption.
func replay(path string, st *reconcile.State) (int, error) {
	f, err := atomicfile.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, err
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		data = data[:i+1] // a torn tail
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for line := 1; sc.Scan(); line++ {
		if err := apply(sc.Bytes(), st); err != nil {
			return 0, &CorruptError{Path: path, Journal: true, Err: fmt.Errorf("line %d: %w", line, err)}
		}
		n++
	}
	return n, sc.Err()
}

// apply folds one journal line into st.
func apply(line []byte, st *reconcile.State) error {
	e, err := decodeRecord(string(line), "", nil)
	if err != nil {
		return err
	}
	switch {
	case e.intent != nil:
		st.Pending[e.intent.Key()] = e.intent
		return nil
	case e.settled != "":
		delete(st.Pending, e.settled)
		return nil
	case e.id == "":
		return errors.New("an entry without a user_group_id")
	case e.deleted:
		delete(st.Groups, e.id)
		delete(st.Pending, e.id)
		return nil
	case e.a.Token == "":
		return fmt.Errorf("group %q has no token", e.id)
	}
	if e.from != "" {
		delete(st.Groups, e.from)
		delete(st.Pending, e.from)
		reconcile.MoveChildren(st, e.from, e.id)
	}
	st.Groups[e.id] = e.a
	delete(st.Pending, e.id)
	return nil
}
