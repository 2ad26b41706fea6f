package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The archive of this machine's target holds a binary that prints the
// version it was stamped with, and SHA256SUMS checks it.
func TestBuild_BinaryPrintsItsVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds groupsync")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on $PATH")
	}
	out := t.TempDir()
	r := release{version: "v9.8.7-test", out: out, date: time.Unix(1700000000, 0).UTC(), readme: "README.md", dir: "../.."}
	name, err := r.build(runtime.GOOS, runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeSums(out, []string{name}); err != nil {
		t.Fatal(err)
	}
	files := unpack(t, filepath.Join(out, name))
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".tar.gz"), ".zip")
	exe := "groupsync"
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	bin, ok := files[base+"/"+exe]
	if !ok {
		t.Fatalf("%s holds %v, no %s/%s", name, keys(files), base, exe)
	}
	if _, ok := files[base+"/README.md"]; !ok {
		t.Errorf("%s has no README.md", name)
	}
	path := filepath.Join(t.TempDir(), exe)
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(path, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "groupsync v9.8.7-test\n"; string(got) != want {
		t.Errorf("version printed %q, want %q", got, want)
	}
	sums, _ := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	sum, _ := sha256File(filepath.Join(out, name))
	if want := sum + "  " + name + "\n"; string(sums) != want {
		t.Errorf("SHA256SUMS = %q, want %q", sums, want)
	}
}

func TestWriteZip_KeepsTheBinaryExecutable(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "groupsync.exe")
	os.WriteFile(bin, []byte("MZ binary"), 0o755)
	path := filepath.Join(dir, "a.zip")
	if err := writeZip(path, []archived{{name: "g/groupsync.exe", path: bin, mode: 0o755}}, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "g/groupsync.exe" || zr.File[0].Mode().Perm() != 0o755 {
		t.Fatalf("zip holds %v", zr.File)
	}
}

// unpack reads a .tar.gz or .zip into memory, by name.
func unpack(t *testing.T, path string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			files[f.Name], _ = io.ReadAll(rc)
			rc.Close()
		}
		return files
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Mode&0o111 == 0 && !strings.HasSuffix(hdr.Name, ".md") {
			t.Errorf("%s is not executable (mode %o)", hdr.Name, hdr.Mode)
		}
		files[hdr.Name], _ = io.ReadAll(tr)
	}
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
