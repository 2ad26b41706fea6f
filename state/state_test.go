package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"groupsync/internal/atomicfile"
	"groupsync/reconcile"
)

func sample() *reconcile.State {
	st := reconcile.NewState()
	st.APIURL, st.TokenFingerprint = "https://api.explo.co", Fingerprint("tok")
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	st.Groups["a"] = &reconcile.Applied{Group: reconcile.Group{ID: "a", Name: "A", IsDemo: true,
		Mapping: reconcile.Pairs{{Key: "40", Value: "1"}}, Properties: reconcile.Pairs{{Key: "p", Value: `{"x":[1,"y"]}`}},
		Managed: reconcile.FieldIsDemo | reconcile.FieldMapping | reconcile.FieldProperties}, Token: "t-a", EnvTag: "Customer", AppliedAt: at,
		Origin: reconcile.OriginCreated}
	st.Groups["b"] = &reconcile.Applied{Group: reconcile.Group{ID: "b", Name: "B", Managed: reconcile.CustomerFields,
		Customer: &reconcile.Customer{Emails: []string{"a@x"}, Tags: []string{"eu", "gold"}, Level: "Team", Parent: "a"}},
		Token: "t-b", AppliedAt: at, Origin: reconcile.OriginAdopted, Orphan: true}
	st.RootLevel, st.OrphansKnown = "Organization", true
	st.Pending["b"] = &reconcile.Intent{Op: reconcile.OpRotate, ID: "b", Token: "t-b", At: at}
	st.Pending["c"] = &reconcile.Intent{Op: reconcile.OpRename, ID: "d", To: "c", Token: "t-d", At: at}
	return st
}

func TestStore_SaveAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	*s.State() = *sample()
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want := sample()
	want.Serial = 1
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Read() =\n%+v\nwant\n%+v", got, want)
	}
	if err := atomicfile.CheckPrivate(path); err != nil {
		t.Error(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), `"tok"`) {
		t.Error("the state holds the API token")
	}
}

func TestStore_BackupAndCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	for range 2 {
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.State().Groups["a"] = sample().Groups["a"]
		if err := s.Save(); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	backup, err := readFile(path + ".backup")
	if err != nil || backup.Serial != 1 {
		t.Fatalf("backup: serial %v, %v; want the previous version", backup, err)
	}
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:len(data)/2], 0o600) // a truncated file
	_, err = Open(path, Options{})
	var ce *CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), path+".backup") {
		t.Fatalf("Open(truncated) = %v, want a CorruptError naming the backup", err)
	}
	// A refused state is left as it was.
	if now, _ := os.ReadFile(path); len(now) != len(data)/2 {
		t.Error("a refused state file was rewritten")
	}
}

func TestRead_RefusesNewerFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(path, []byte(fmt.Sprintf(`{"format_version": %d, "groups": {}}`, FormatVersion+1)), 0o600)
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "newer than this groupsync understands") {
		t.Errorf("Read() = %v", err)
	}
}

func TestStore_JournalIsFoldedInAtNextOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range sample().Groups {
		if err := s.Record(a); err != nil {
			t.Fatal(err)
		}
	}
	// A kill mid-write leaves half a line at the end.
	f, _ := os.OpenFile(journalPath(path), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"user_group_id":"c","name":"C","tok`)
	f.Close()
	s.lock.Release() // what the OS does for a killed process
	st, err := Read(path)
	if err != nil || len(st.Groups) != 2 || st.Groups["a"].Token != "t-a" {
		t.Fatalf("Read() with a journal = %+v, %v", st, err)
	}
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := os.Stat(journalPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal still there after Open folded it: %v", err)
	}
	if got := s2.State(); len(got.Groups) != 2 || got.Serial != 1 || !reflect.DeepEqual(got.Groups["a"], sample().Groups["a"]) {
		t.Errorf("folded state %+v", got)
	}
}

func TestStore_CorruptJournalLineIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(journalPath(path), []byte("garbage\n{\"user_group_id\":\"a\",\"token\":\"t\"}\n"), 0o600)
	if _, err := Open(path, Options{}); err == nil || !strings.Contains(err.Error(), "journal") {
		t.Errorf("Open() = %v, want a journal error", err)
	}
}

func TestLock_SecondOpenFailsNamingHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{})
	var le *LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "pid ") || !strings.Contains(err.Error(), "started ") {
		t.Fatalf("second Open() = %v, want a LockedError naming pid and start", err)
	}
	s.Close()
	s2, err := Open(path, Options{}) // the lock file stays, and does not block
	if err != nil {
		t.Fatalf("Open() after release = %v", err)
	}
	s2.Close()
}

func TestOpen_SweepsTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	left := filepath.Join(dir, ".groupsync-tmp-s.json.123")
	other := filepath.Join(dir, ".groupsync-tmp-s.json-other.json.1")
	os.WriteFile(left, []byte("half"), 0o600)
	os.WriteFile(other, []byte("not ours"), 0o600)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(left); !errors.Is(err, os.ErrNotExist) {
		t.Error("a killed run's temporary file survived")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("another state's temporary file was removed")
	}
}

func TestPlanFile_RoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plan.json")
	g := sample().Groups["a"].Group
	g.Source = reconcile.Source{File: "m.csv", Line: 7}
	if err := WritePlan(path, &SavedPlan{APIURL: "u", Serial: 3, Groups: []reconcile.Group{g}}); err != nil {
		t.Fatal(err)
	}
	p, err := ReadPlan(path)
	if err != nil || p.Serial != 3 || p.APIURL != "u" || !reflect.DeepEqual(p.Groups[0], g) {
		t.Errorf("ReadPlan() = %+v, %v", p, err)
	}
}

// manualTicker is a ticker the test fires.
type manualTicker struct {
	c       chan time.Time
	stopped atomic.Bool
}

func (m *manualTicker) C() <-chan time.Time { return m.c }
func (m *manualTicker) Stop()               { m.stopped.Store(true) }

// Save, Record and Close race the journal's sync loop, whose ticks the test
// fires as fast as it can: none of them may ever wait on the others for
// good. Before the fix, Save held the store's lock while waiting for the
// loop, which could be waiting for that lock after a tick.
func TestStore_SaveNeverDeadlocksWithTheSyncLoop(t *testing.T) {
	for i := range 200 {
		path := filepath.Join(t.TempDir(), "s.json")
		var tickers []*manualTicker
		var mu sync.Mutex
		s, err := Open(path, Options{Tick: func() Ticker {
			m := &manualTicker{c: make(chan time.Time)}
			mu.Lock()
			tickers = append(tickers, m)
			mu.Unlock()
			return m
		}})
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var ticking sync.WaitGroup
		ticking.Add(1)
		go func() {
			// Fire ticks until the test is done, at whichever loop runs.
			defer ticking.Done()
			for {
				mu.Lock()
				var cur *manualTicker
				if len(tickers) > 0 {
					cur = tickers[len(tickers)-1]
				}
				mu.Unlock()
				if cur == nil || cur.stopped.Load() {
					select {
					case <-stop:
						return
					default:
						runtime.Gosched()
						continue
					}
				}
				select {
				case cur.c <- time.Now():
				case <-stop:
					return
				default:
				}
			}
		}()
		var writers sync.WaitGroup
		var stMu sync.Mutex // what reconcile's run does around Record
		for w := range 4 {
			writers.Add(1)
			go func() {
				defer writers.Done()
				for j := range 5 {
					a := &reconcile.Applied{Group: reconcile.Group{ID: fmt.Sprintf("g%d-%d", w, j), Name: "G"}, Token: "t"}
					stMu.Lock()
					s.State().Groups[a.ID] = a
					s.Record(a)
					stMu.Unlock()
				}
			}()
		}
		writers.Wait()
		done := make(chan error, 1)
		go func() { done <- errors.Join(s.Save(), s.Close()) }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			// A watchdog, not synchronisation: the test fails instead of
			// hanging the suite.
			t.Fatalf("iteration %d: Save and Close did not return: deadlock", i)
		}
		close(stop)
		ticking.Wait()
		st, err := Read(path)
		if err != nil || len(st.Groups) != 20 {
			t.Fatalf("iteration %d: %d groups, %v", i, len(st.Groups), err)
		}
	}
}

// A journal whose last line was torn (a power cut, a full disk), then one
// more run killed after recording: every later run must still read it.
func TestStore_TornTailIsCutBeforeAppending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(journalPath(path), []byte(`{"user_group_id":"a","name":"A","token":"t-a","applied_at":"2026-11-24T00:00:00Z"}`+"\n"+`{"user_group_id":"b","na`), 0o600)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Record(&reconcile.Applied{Group: reconcile.Group{ID: "c", Name: "C"}, Token: "t-c"}); err != nil {
		t.Fatal(err)
	}
	s.closeJournal()
	s.lock.Release() // killed: no Save
	st, err := Read(path)
	if err != nil || st.Groups["a"] == nil || st.Groups["c"] == nil || st.Groups["b"] != nil {
		t.Fatalf("Read() = %+v, %v", st, err)
	}
	s2, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open() after a torn tail and a kill: %v", err)
	}
	s2.Close()
	// Only a torn line, nothing else: the journal is removed, not kept
	// to be appended to.
	os.WriteFile(journalPath(path), []byte(`{"user_group_id":"x"`), 0o600)
	s3, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s3.Close()
	if _, err := os.Stat(journalPath(path)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a journal of only a torn line is still there: %v", err)
	}
}

func TestStore_JournalErrorsSayWhy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	os.WriteFile(journalPath(path), []byte("{\"name\":\"no id\",\"token\":\"t\"}\n"), 0o600)
	_, err := Read(path)
	if err == nil || !strings.Contains(err.Error(), "line 1: an entry without a user_group_id") || strings.Contains(err.Error(), "<nil>") {
		t.Errorf("Read() = %v", err)
	}
}

func TestStore_ForgetIsJournaled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s, _ := Open(path, Options{})
	*s.State() = *sample()
	s.Save()
	s.Record(&reconcile.Applied{Group: reconcile.Group{ID: "c", Name: "C"}, Token: "t-c"})
	s.Forget("a")
	s.closeJournal()
	s.lock.Release()
	st, err := Read(path)
	if err != nil || st.Groups["a"] != nil || st.Groups["b"] == nil || st.Groups["c"] == nil {
		t.Fatalf("Read() = %+v, %v", st.Groups, err)
	}
}

// Every file next to the state is 0600 and never written through a
// symlink; a --state that is a symlink is resolved once, and its lock and
// journal sit next to the target.
func TestStore_FilesAndSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real", "s.json")
	os.Mkdir(filepath.Dir(target), 0o700)
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("cannot make a symlink here: %v", err)
	}
	s, err := Open(link, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != target {
		t.Errorf("Path() = %s, want the target %s", s.Path(), target)
	}
	s.Record(&reconcile.Applied{Group: reconcile.Group{ID: "a", Name: "A"}, Token: "t"})
	for _, p := range []string{target + ".lock", target + ".journal"} {
		if err := atomicfile.CheckPrivate(p); err != nil {
			t.Error(err)
		}
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", info, err)
	}
	// A journal planted as a symlink is refused, not written through.
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	os.Symlink(victim, target+".journal")
	s2, err := Open(link, Options{})
	if err == nil {
		defer s2.Close()
		err = s2.Record(&reconcile.Applied{Group: reconcile.Group{ID: "b", Name: "B"}, Token: "t"})
	}
	if err == nil {
		t.Error("a symlinked journal was used")
	}
	if got, _ := os.ReadFile(victim); string(got) != "keep" {
		t.Errorf("wrote through a symlink: %q", got)
	}
}
