package cli

import "fmt"

const validateHelp = `Usage: groupsync validate -f PATH... [--api API] [--delimiter D]

Checks manifests and lists every problem as FILE:LINE: field: message.
No network.
`

func runValidate(args []string, o IO) error {
	cfg := DefaultConfig(o.Getenv)
	fs := newFlagSet("validate", validateHelp, o.Stderr)
	cfg.manifestFlags(fs)
	if err := parseFlags(fs, args); err != nil {
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
