package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	write := func(s string) error {
		return Write(path, Options{Backup: true}, func(w io.Writer) error { _, err := io.WriteString(w, s); return err })
	}
	if err := write("one"); err != nil {
		t.Fatal(err)
	}
	if err := write("two"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "two" {
		t.Errorf("file = %q", got)
	}
	if got, _ := os.ReadFile(path + ".backup"); string(got) != "one" {
		t.Errorf("backup = %q", got)
	}
	for _, p := range []string{path, path + ".backup"} {
		if info, _ := os.Stat(p); info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", p, info.Mode().Perm())
		}
	}
	boom := errors.New("boom")
	err := Write(path, Options{Backup: true}, func(w io.Writer) error { io.WriteString(w, "half"); return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "two" {
		t.Errorf("a failed write changed the file to %q", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 {
		t.Errorf("a failed write left files behind: %v", entries)
	}
}

func TestSweep_OnlyThisFilesTemporaries(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, ".groupsync-tmp-a.json.123")
	others := []string{
		".groupsync-tmp-a.json-b.json.7", // another state whose name starts like this one's
		".groupsync-tmp-a.json.1.json.5", // a state called a.json.1.json
		".groupsync-tmp-a.json.",         // not of ours: no digits
		"a.json.backup",
	}
	for _, name := range append([]string{filepath.Base(mine)}, others...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Sweep(filepath.Join(dir, "a.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine); !errors.Is(err, os.ErrNotExist) {
		t.Error("this file's temporary survived")
	}
	for _, name := range others {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s was swept: %v", name, err)
		}
	}
}

func TestCreate_RefusesSymlinkAndFixesMode(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("precious"), 0o644)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if f, err := Create(link, os.O_WRONLY|os.O_APPEND); err == nil {
		f.Close()
		t.Fatal("Create followed a symlink")
	}
	if got, _ := os.ReadFile(target); string(got) != "precious" {
		t.Errorf("the symlink's target changed: %q", got)
	}
	loose := filepath.Join(dir, "loose")
	os.WriteFile(loose, nil, 0o644)
	f, err := Create(loose, os.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if info, _ := os.Stat(loose); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}
}

func TestWrite_BackupReplacesAPlantedSymlink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s")
	elsewhere := filepath.Join(dir, "elsewhere")
	os.WriteFile(elsewhere, []byte("keep"), 0o644)
	os.WriteFile(path, []byte("one"), 0o600)
	os.Symlink(elsewhere, path+".backup")
	if err := Write(path, Options{Backup: true}, func(w io.Writer) error { _, err := io.WriteString(w, "two"); return err }); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(elsewhere); string(got) != "keep" {
		t.Errorf("the backup wrote through a symlink: %q", got)
	}
	if info, _ := os.Lstat(path + ".backup"); info.Mode()&os.ModeSymlink != 0 || info.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v", info.Mode())
	}
}
