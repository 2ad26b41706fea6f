package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"groupsync/internal/atomicfile"
)

// Persist loads the store from path when it exists and then writes it back
// after every change (at most every 100ms), so `groupsync sandbox --data`
// keeps its groups across restarts. Each write is atomic and synced (the
// file is 0600: it holds tokens, even if a sandbox's). The
// returned stop writes the last changes, ends the writer, and returns the
// first error any write met.
func (s *Server) Persist(path string) (stop func() error, err error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		var groups map[string]*Group
		if err := json.Unmarshal(data, &groups); err != nil {
			return nil, fmt.Errorf("%s: not a sandbox data file: %w", path, err)
		}
		s.mu.Lock()
		for id, g := range groups {
			if g == nil || g.ID != id {
				s.mu.Unlock()
				return nil, fmt.Errorf("%s: not a sandbox data file: the entry %q is not a group of that id", path, id)
			}
			s.groups[id] = g
			s.seq = max(s.seq, g.Seq)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.dirty = make(chan struct{}, 1)
	dirty := s.dirty
	s.mu.Unlock()
	done := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		var first error
		keep := func(err error) {
			if first == nil {
				first = err
			}
		}
		for {
			select {
			case <-dirty:
				keep(s.save(path))
				time.Sleep(100 * time.Millisecond) // batches a burst of changes into one write
			case <-done:
				keep(s.save(path))
				result <- first
				return
			}
		}
	}()
	return func() error { close(done); return <-result }, nil
}

// markDirty tells the writer there is something to save. Callers hold s.mu.
func (s *Server) markDirty() {
	if s.dirty == nil {
		return
	}
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

func (s *Server) save(path string) error {
	s.mu.Lock()
	data, err := json.MarshalIndent(s.groups, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return atomicfile.Write(path, atomicfile.Options{}, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
