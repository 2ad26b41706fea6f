package state

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"groupsync/reconcile"
)

func sample() *reconcile.State {
	st := reconcile.NewState()
	st.APIURL, st.TokenFingerprint = "https://api.explo.co", Fingerprint("tok")
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	st.Groups["a"] = &reconcile.Applied{Group: reconcile.Group{ID: "a", Name: "A", IsDemo: true,
		Mapping: reconcile.Pairs{{Key: "40", Value: "1"}}, Properties: reconcile.Pairs{{Key: "p", Value: `{"x":[1,"y"]}`}},
		Managed: reconcile.FieldIsDemo | reconcile.FieldMapping | reconcile.FieldProperties}, Token: "t-a", EnvTag: "Customer", AppliedAt: at}
	st.Groups["b"] = &reconcile.Applied{Group: reconcile.Group{ID: "b", Name: "B"}, Token: "t-b", AppliedAt: at}
	return st
}

func TestStore_SaveAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s, err := Open(path)
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
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", info.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), `"tok"`) {
		t.Error("the state holds the API token")
	}
}

func TestStore_BackupAndCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	for range 2 {
		s, err := Open(path)
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
	_, err = Open(path)
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
	os.WriteFile(path, []byte(`{"format_version": 2, "groups": {}}`), 0o600)
	if _, err := Read(path); err == nil || !strings.Contains(err.Error(), "newer than this groupsync understands") {
		t.Errorf("Read() = %v", err)
	}
}

func TestStore_JournalIsFoldedInAtNextOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s, err := Open(path)
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
	s2, err := Open(path)
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
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "journal") {
		t.Errorf("Open() = %v, want a journal error", err)
	}
}

func TestLock_SecondOpenFailsNamingHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.json")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	var le *LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "pid ") || !strings.Contains(err.Error(), "started ") {
		t.Fatalf("second Open() = %v, want a LockedError naming pid and start", err)
	}
	s.Close()
	s2, err := Open(path) // the lock file stays, and does not block
	if err != nil {
		t.Fatalf("Open() after release = %v", err)
	}
	s2.Close()
}

func TestOpen_SweepsTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.json")
	left := filepath.Join(dir, ".groupsync-tmp-s.json-123")
	other := filepath.Join(dir, ".groupsync-tmp-other.json-1")
	os.WriteFile(left, []byte("half"), 0o600)
	os.WriteFile(other, []byte("not ours"), 0o600)
	s, err := Open(path)
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
