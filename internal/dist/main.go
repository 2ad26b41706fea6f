// Command dist builds groupsync's release archives, for make dist: per
// target a stripped, -trimpath binary with its version stamped, packed
// with the README as a .tar.gz (a .zip for Windows), and a SHA256SUMS file
// that sha256sum -c checks. It needs only Go: no tar, zip or shell.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Targets are the platforms groupsync is released for.
var Targets = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "dist: error: "+err.Error())
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("dist", flag.ContinueOnError)
	version := fs.String("version", "", "the `VERSION` to stamp and to name the archives with (required)")
	out := fs.String("out", "dist", "the `DIR` to write the archives to; it is emptied first")
	targets := fs.String("targets", strings.Join(Targets, ","), "the `OS/ARCH` list to build")
	epoch := fs.Int64("date", 0, "the modification time of the archives' files, in `SECONDS` since 1970 (e.g. the commit's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" || strings.ContainsAny(*version, `/\ `) {
		return fmt.Errorf("-version %q: want a version such as v1.2.0", *version)
	}
	if err := os.RemoveAll(*out); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	r := release{version: *version, out: *out, date: time.Unix(*epoch, 0).UTC(), readme: "README.md"}
	var archives []string
	for _, t := range strings.Split(*targets, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(t), "/")
		if !ok || goos == "" || goarch == "" {
			return fmt.Errorf("-targets: %q is not OS/ARCH", t)
		}
		name, err := r.build(goos, goarch)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", goos, goarch, err)
		}
		fmt.Println(filepath.Join(*out, name))
		archives = append(archives, name)
	}
	if len(archives) == 0 {
		return errors.New("-targets: no target")
	}
	return writeSums(*out, archives)
}
