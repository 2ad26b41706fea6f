package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"groupsync/internal/atomicfile"
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
	path  string
	lock  *Lock
	st    *reconcile.State
	mu    sync.Mutex
	jf    *os.File
	dirty bool
	stop  chan struct{}
	done  chan struct{}
}

func journalPath(path string) string { return path + ".journal" }

// Open locks the state at path and loads it. It returns a *LockedError when
// another run holds the lock.
func Open(path string) (*Store, error) {
	lock, err := Acquire(path + ".lock")
	if err != nil {
		return nil, err
	}
	s, err := open(path, lock)
	if err != nil {
		lock.Release()
		return nil, err
	}
	return s, nil
}

func open(path string, lock *Lock) (*Store, error) {
	if err := atomicfile.Sweep(path); err != nil {
		return nil, fmt.Errorf("remove temporary files of an earlier run: %w", err)
	}
	st, err := readFile(path)
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, lock: lock, st: st}
	n, err := replay(journalPath(path), st)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		// Fold a killed run's progress in now, so that the journal can
		// start empty.
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// State returns the loaded state. Apply changes it in place.
func (s *Store) State() *reconcile.State { return s.st }

// Record appends one applied group to the journal. It is safe for
// concurrent use.
func (s *Store) Record(a *reconcile.Applied) error {
	w := toWire(a)
	w.ID = a.ID
	line, err := json.Marshal(w)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jf == nil {
		if err := s.openJournal(); err != nil {
			return err
		}
	}
	if _, err := s.jf.Write(append(line, '\n')); err != nil {
		return err
	}
	s.dirty = true
	return nil
}

func (s *Store) openJournal() error {
	f, err := os.OpenFile(journalPath(s.path), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	s.jf = f
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go s.syncLoop()
	return nil
}

// syncLoop fsyncs the journal once a second while lines arrive.
func (s *Store) syncLoop() {
	defer close(s.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.mu.Lock()
			if s.dirty {
				s.jf.Sync()
				s.dirty = false
			}
			s.mu.Unlock()
		case <-s.stop:
			return
		}
	}
}

// Save writes the state with a new serial and empties the journal.
func (s *Store) Save() error {
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
	if s.jf != nil {
		s.jf.Close()
		s.jf = nil
		close(s.stop)
		<-s.done
	}
	if err := os.Remove(journalPath(s.path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Close ends the run: the journal is synced and closed (not folded: call
// Save for that) and the lock released.
func (s *Store) Close() error {
	s.mu.Lock()
	var err error
	if s.jf != nil {
		err = errors.Join(s.jf.Sync(), s.jf.Close())
		s.jf = nil
		close(s.stop)
	}
	s.mu.Unlock()
	if s.done != nil {
		<-s.done
	}
	return errors.Join(err, s.lock.Release())
}

// replay applies the journal at path to st and returns how many entries it
// held. A last line cut short by a kill is ignored: its call's answer was
// never recorded, and the next run repeats that call safely.
func replay(path string, st *reconcile.State) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for line := 1; sc.Scan(); line++ {
		var w wireGroup
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil || w.ID == "" {
			if !bytes.Contains(data[len(data)-1:], []byte("\n")) && line == bytes.Count(data, []byte("\n"))+1 {
				break
			}
			return 0, &CorruptError{Path: path, Journal: true, Err: fmt.Errorf("line %d: %v", line, err)}
		}
		a, err := w.applied(w.ID)
		if err != nil {
			return 0, &CorruptError{Path: path, Journal: true, Err: err}
		}
		st.Groups[a.ID] = a
		n++
	}
	return n, sc.Err()
}
