package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Persist loads the store from path when it exists and then writes it back
// after every change (at most every 100ms), so `groupsync sandbox --data`
// keeps its groups across restarts. The returned stop writes the last
// changes and ends the writer.
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
		s.groups = groups
		s.mu.Unlock()
	}
	s.mu.Lock()
	s.dirty = make(chan struct{}, 1)
	dirty := s.dirty
	s.mu.Unlock()
	done := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		var last error
		for {
			select {
			case <-dirty:
				last = s.save(path)
				time.Sleep(100 * time.Millisecond)
			case <-done:
				result <- errors.Join(last, s.save(path))
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
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sandbox-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
