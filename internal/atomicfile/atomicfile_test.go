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
		if err := CheckPrivate(p); err != nil {
			t.Error(err)
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
	symlink(t, target, link)
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
	if err := CheckPrivate(loose); err != nil {
		t.Error(err)
	}
	if f, err := Open(link); err == nil {
		f.Close()
		t.Error("Open followed a symlink")
	}
}

func TestWrite_BackupReplacesAPlantedSymlink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s")
	elsewhere := filepath.Join(dir, "elsewhere")
	os.WriteFile(elsewhere, []byte("keep"), 0o644)
	os.WriteFile(path, []byte("one"), 0o600)
	symlink(t, elsewhere, path+".backup")
	if err := Write(path, Options{Backup: true}, func(w io.Writer) error { _, err := io.WriteString(w, "two"); return err }); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(elsewhere); string(got) != "keep" {
		t.Errorf("the backup wrote through a symlink: %q", got)
	}
	if err := CheckPrivate(path + ".backup"); err != nil {
		t.Errorf("backup: %v", err)
	}
}

// symlink makes a symlink, or skips the test where the user may not (on
// Windows, without developer mode or the privilege).
func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("cannot make a symlink here: %v", err)
	}
}

func TestCheckPrivate(t *testing.T) {
	dir := t.TempDir()
	private := filepath.Join(dir, "private")
	f, err := Create(private, os.O_WRONLY)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := CheckPrivate(private); err != nil {
		t.Errorf("a file Create made: %v", err)
	}
	// os.WriteFile leaves a file as the OS makes it by default: readable
	// by others under a usual umask, inheriting the folder's ACL on
	// Windows.
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(open, 0o644) // whatever the umask
	if err := CheckPrivate(open); err == nil {
		t.Error("a file readable by others passed")
	}
	if err := CheckPrivate(dir); err == nil {
		t.Error("a folder passed")
	}
}

func TestWrite_ReplacesAnOpenFile(t *testing.T) {
	// A plan reading the state while an apply replaces it must not make
	// the replace fail (Windows refuses to replace a file opened without
	// sharing it for delete).
	path := filepath.Join(t.TempDir(), "s")
	if err := os.WriteFile(path, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := Write(path, Options{}, func(w io.Writer) error { _, err := io.WriteString(w, "two"); return err }); err != nil {
		t.Fatalf("replacing an open file: %v", err)
	}
	if got, _ := io.ReadAll(r); string(got) != "one" {
		t.Errorf("the reader saw %q, want the old content", got)
	}
	if got, _ := os.ReadFile(path); string(got) != "two" {
		t.Errorf("file = %q", got)
	}
}
