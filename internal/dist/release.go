package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// release is one make dist: the version, where the archives go, and what
// goes in them besides the binary.
type release struct {
	version string
	out     string
	date    time.Time
	readme  string
	// dir is the module to build; empty is the current directory.
	dir string
}

// build builds the binary of one target and packs it, returning the
// archive's file name.
func (r *release) build(goos, goarch string) (string, error) {
	tmp, err := os.MkdirTemp("", "groupsync-dist-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	exe := "groupsync"
	if goos == "windows" {
		exe += ".exe"
	}
	bin := filepath.Join(tmp, exe)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X groupsync/cli.Version="+r.version, "-o", bin, ".")
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	base := fmt.Sprintf("groupsync_%s_%s_%s", r.version, goos, goarch)
	files := []archived{{name: base + "/" + exe, path: bin, mode: 0o755}, {name: base + "/README.md", path: filepath.Join(r.dir, r.readme), mode: 0o644}}
	if goos == "windows" {
		return base + ".zip", writeZip(filepath.Join(r.out, base+".zip"), files, r.date)
	}
	return base + ".tar.gz", writeTarGz(filepath.Join(r.out, base+".tar.gz"), files, r.date)
}

// archived is one file of an archive.
type archived struct {
	name string // in the archive
	path string // on disk
	mode int64
}

func writeTarGz(path string, files []archived, date time.Time) error {
	return create(path, func(w io.Writer) error {
		gz := gzip.NewWriter(w)
		tw := tar.NewWriter(gz)
		for _, f := range files {
			data, err := os.ReadFile(f.path)
			if err != nil {
				return err
			}
			hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(data)), ModTime: date, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			if _, err := tw.Write(data); err != nil {
				return err
			}
		}
		return errors.Join(tw.Close(), gz.Close())
	})
}

func writeZip(path string, files []archived, date time.Time) error {
	return create(path, func(w io.Writer) error {
		zw := zip.NewWriter(w)
		for _, f := range files {
			data, err := os.ReadFile(f.path)
			if err != nil {
				return err
			}
			hdr := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: date}
			hdr.SetMode(os.FileMode(f.mode))
			fw, err := zw.CreateHeader(hdr)
			if err != nil {
				return err
			}
			if _, err := fw.Write(data); err != nil {
				return err
			}
		}
		return zw.Close()
	})
}

// create writes path with what write produces; a failed write leaves no
// file.
func create(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := errors.Join(write(f), f.Close()); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// writeSums writes SHA256SUMS for the archives in dir, in the format of
// sha256sum (and shasum -a 256), sorted by name.
func writeSums(dir string, archives []string) error {
	archives = slices.Sorted(slices.Values(archives))
	var b strings.Builder
	for _, name := range archives {
		sum, err := sha256File(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, name)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}

func sha256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
