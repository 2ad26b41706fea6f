package cli

import (
	"flag"
	"fmt"
	"io"
)

const validateHelp = `Usage: groupsync validate -f PATH... [--api API] [--delimiter D]

Checks manifests and lists every problem as FILE:LINE: field: message.
No network.
`

// validateFlagSet is validate's flags, writing into cfg.
func validateFlagSet(cfg *Config, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("validate", validateHelp, stderr)
	cfg.manifestFlags(fs)
	cfg.formatFlag(fs, false)
	return fs
}

func runValidate(args []string, o IO) error {
	cfg := DefaultConfig(o.Getenv)
	fs := validateFlagSet(&cfg, o.Stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.checkStdin(o, false); err != nil {
		return err
	}
	m, err := load(cfg, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Stdout, "ok: %d file%s, %s group%s, managed fields: %s\n",
		len(m.Files), plural(len(m.Files)), thousands(len(m.Groups)), plural(len(m.Groups)), m.Managed())
	return nil
}
