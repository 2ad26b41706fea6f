package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"groupsync/internal/textsafe"
	"groupsync/reconcile"
	"groupsync/state"
)

const stateHelp = `Usage: groupsync state list [--state PATH] [--json]
       groupsync state show ID [--state PATH] [--json]
       groupsync state rm ID... [--state PATH]

Reads the state, or forgets groups in it. Makes no call: a group forgotten
with rm stays on the service, and the next plan treats it as unknown.
Tokens are never shown.
`

// stateFlagSet is the flags of state, writing into cfg.
func stateFlagSet(cfg *Config, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet("state", stateHelp, stderr)
	cfg.stateFlag(fs)
	fs.BoolVar(&cfg.JSON, "json", false, "machine-readable output on stdout")
	return fs
}

func runState(args []string, o IO) error {
	cfg := DefaultConfig(o.Getenv)
	fs := stateFlagSet(&cfg, o.Stderr)
	words, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		fs.Usage()
		return errors.New("state: name a subcommand: list, show ID, or rm ID [ID ...]")
	}
	sub, ids := words[0], words[1:]
	for i := range ids {
		ids[i] = reconcile.NormalID(ids[i])
	}
	switch {
	case sub == "list" && len(ids) == 0:
		return stateList(&cfg, o)
	case sub == "show" && len(ids) == 1:
		return stateShow(&cfg, o, ids[0])
	case sub == "rm" && len(ids) > 0:
		return stateRemove(&cfg, o, ids)
	case sub == "list" || sub == "show" || sub == "rm":
		return fmt.Errorf("state %s: wrong number of ids\ngroupsync: hint: groupsync state list, state show ID, or state rm ID [ID ...]", textsafe.Quote(sub))
	}
	return fmt.Errorf("state: unknown subcommand %s\ngroupsync: hint: groupsync state list, state show ID, or state rm ID [ID ...]", textsafe.Quote(sub))
}

// parseInterleaved parses flags that may come before, between or after
// the positional words.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return words, nil
		}
		words = append(words, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

type jsonGroup struct {
	ID        string          `json:"user_group_id"`
	Name      string          `json:"name"`
	Managed   []string        `json:"managed"`
	AppliedAt time.Time       `json:"applied_at"`
	EnvTag    string          `json:"api_environment_tag,omitempty"`
	Fields    json.RawMessage `json:"fields,omitempty"`
}

func stateList(cfg *Config, o IO) error {
	st, err := state.Read(cfg.State)
	o.keepTokens(st)
	if err != nil {
		return err
	}
	warnPending(o, st)
	ids := make([]string, 0, len(st.Groups))
	for id := range st.Groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if cfg.JSON {
		out := struct {
			FormatVersion int         `json:"format_version"`
			APIURL        string      `json:"api_url"`
			Groups        []jsonGroup `json:"groups"`
		}{FormatVersion: 1, APIURL: st.APIURL, Groups: []jsonGroup{}}
		for _, id := range ids {
			out.Groups = append(out.Groups, groupJSON(st.Groups[id], false))
		}
		return quietPipe(writeJSON(o, out))
	}
	var tab table
	tab.add("ID", "NAME", "FIELDS", "APPLIED")
	for _, id := range ids {
		a := st.Groups[id]
		tab.add(textsafe.Escape(id), textsafe.Escape(a.Name), a.Managed.String(), a.AppliedAt.UTC().Format(time.RFC3339))
	}
	if err := tab.write(o.Stdout); err != nil {
		return quietPipe(err)
	}
	printf(o.Stderr, "groupsync: %s group%s in %s, applied to %s", thousands(len(ids)), plural(len(ids)), textsafe.Cut(cfg.State), textsafe.Cut(orNone(st.APIURL)))
	return nil
}

// quietPipe ends a listing whose reader went away (| head) as a success,
// as plan does: there is nothing left to tell it.
func quietPipe(err error) error {
	if closedPipe(err) {
		return nil
	}
	return err
}

func orNone(s string) string {
	if s == "" {
		return "(nothing yet)"
	}
	return s
}

func groupJSON(a *reconcile.Applied, fields bool) jsonGroup {
	j := jsonGroup{ID: a.ID, Name: a.Name, Managed: strings.Split(a.Managed.String(), ","), AppliedAt: a.AppliedAt.UTC(), EnvTag: a.EnvTag}
	if fields {
		m := map[string]json.RawMessage{}
		for _, f := range (&reconcile.Change{Action: reconcile.ActionCreate, Desired: &a.Group}).Fields() {
			m[f.Path] = jsonValue(f.After)
		}
		j.Fields, _ = json.Marshal(m)
	}
	return j
}

func writeJSON(o IO, v any) error {
	enc := json.NewEncoder(safeJSON{o.Stdout})
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func stateShow(cfg *Config, o IO, id string) error {
	st, err := state.Read(cfg.State)
	o.keepTokens(st)
	if err != nil {
		return err
	}
	warnPending(o, st)
	a := st.Groups[id]
	if a == nil {
		return fmt.Errorf("%s is not in the state %s", textsafe.Quote(id), textsafe.Cut(cfg.State))
	}
	if cfg.JSON {
		return quietPipe(writeJSON(o, groupJSON(a, true)))
	}
	printf(o.Stdout, "user_group_id: %s", a.ID)
	for _, f := range (&reconcile.Change{Action: reconcile.ActionCreate, Desired: &a.Group}).Fields() {
		printf(o.Stdout, "%s: %s", f.Path, showValue(f.After))
	}
	printf(o.Stdout, "api_environment_tag: %s\napplied_at: %s\ntoken: (in the state; never shown)", a.EnvTag, a.AppliedAt.UTC().Format(time.RFC3339))
	return nil
}

// stateRemove forgets groups: the state is locked, backed up and saved
// without them, and nothing is called.
func stateRemove(cfg *Config, o IO, ids []string) error {
	store, err := state.Open(cfg.State, state.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	st := store.State()
	o.keepTokens(st)
	var missing []string
	for _, id := range ids {
		if st.Groups[id] == nil {
			missing = append(missing, textsafe.Quote(id))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not in the state %s: %s; nothing was removed", textsafe.Cut(cfg.State), strings.Join(missing, ", "))
	}
	for _, id := range ids {
		delete(st.Groups, id)
	}
	// An intent about a forgotten group is forgotten with it: nothing is
	// left to learn it for.
	for key, in := range st.Pending {
		if slices.Contains(ids, in.ID) || slices.Contains(ids, key) {
			delete(st.Pending, key)
		}
	}
	if err := store.Save(); err != nil {
		return err
	}
	printf(o.Stderr, "groupsync: forgot %d group%s (%s); the service still holds them; the previous state is %s.backup",
		len(ids), plural(len(ids)), strings.Join(ids, ", "), store.Path())
	return nil
}
