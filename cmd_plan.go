package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"groupsync/reconcile"
	"groupsync/state"
)

const validateHelp = `Usage: groupsync validate -f PATH... [--delimiter D]

Checks manifests and lists every problem as FILE:LINE: message. No network.
`

func runValidate(args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("validate", validateHelp, stderr)
	c.manifestFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	m, err := c.load(stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok: %d file%s, %s group%s, managed fields: %s\n",
		len(m.Files), plural(len(m.Files)), thousands(len(m.Groups)), plural(len(m.Groups)), m.Managed())
	return nil
}

const planHelp = `Usage: groupsync plan -f PATH... [flags]

Shows what apply would do, group by group and field by field. Calls nothing.
`

func runPlan(args []string, stdout, stderr io.Writer) error {
	var c common
	var detailed bool
	var out string
	fs := newFlagSet("plan", planHelp, stderr)
	c.register(fs)
	fs.BoolVar(&detailed, "detailed-exitcode", false, "exit 2 when the plan has changes, 0 when it has none")
	fs.StringVar(&out, "out", "", "save the plan to `PLAN.json` for apply --plan")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	perSecond, err := parseRate(c.rate)
	if err != nil {
		return err
	}
	apiURL, err := checkURL(c.apiURL)
	if err != nil {
		return err
	}
	m, err := c.load(stderr)
	if err != nil {
		return err
	}
	st, err := state.Read(c.state)
	if err != nil {
		return err
	}
	// plan needs no token; when one is there, it must match the state.
	token, _ := c.apiToken()
	rebound, err := c.checkBinding(st, apiURL, token)
	if err != nil {
		return err
	}
	groups, view := restrict(c.onlySet(), m.Groups, st)
	p := reconcile.Diff(groups, view)
	if out != "" {
		if err := state.WritePlan(out, &state.SavedPlan{APIURL: apiURL, Serial: st.Serial, Groups: groups}); err != nil {
			return fmt.Errorf("save the plan: %w", err)
		}
	}
	if c.json {
		err = printPlanJSON(stdout, p, perSecond)
	} else {
		printPlan(stdout, p, c.rate, perSecond, rebound)
	}
	if err != nil {
		return err
	}
	if detailed && p.Summary().Calls() > 0 {
		return &exitError{code: exitChanges}
	}
	return nil
}

// printPlan writes the human plan. Tokens are never part of it.
func printPlan(w io.Writer, p *reconcile.Plan, rate string, perSecond float64, rebound bool) {
	if rebound {
		fmt.Fprintln(w, "The state will be rebound to this API URL and token (--rebind).")
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		switch c.Action {
		case reconcile.ActionCreate:
			fmt.Fprintf(w, "  + create %s  %q\n", c.ID, c.Desired.Name)
		case reconcile.ActionUpdate:
			fmt.Fprintf(w, "  ~ update %s\n", c.ID)
			for _, f := range c.Fields() {
				fmt.Fprintf(w, "      %s: %s → %s\n", f.Path, orNone(f.Before), orNone(f.After))
			}
		case reconcile.ActionOrphan:
			fmt.Fprintf(w, "  ! orphan %s  (in state, in no manifest: kept; the API cannot delete)\n", c.ID)
		}
	}
	s := p.Summary()
	fmt.Fprintf(w, "Plan: %s to create, %s to update, %s unchanged, %s orphaned.\n",
		thousands(s.Create), thousands(s.Update), thousands(s.Noop), thousands(s.Orphan))
	fmt.Fprintf(w, "%s call%s ≈ %s at %s\n", thousands(s.Calls()), plural(s.Calls()),
		reconcile.Duration(s.Calls(), perSecond), strings.TrimSpace(rate))
}

func orNone(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

type jsonField struct {
	Path   string          `json:"path"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

type jsonChange struct {
	ID     string      `json:"user_group_id"`
	Action string      `json:"action"`
	Fields []jsonField `json:"fields"`
}

// printPlanJSON streams the plan, one change at a time: a plan of a million
// creates must not be built as one value first.
func printPlanJSON(w io.Writer, p *reconcile.Plan, perSecond float64) error {
	s := p.Summary()
	summary, err := json.Marshal(s)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintf(bw, "{\n  \"format_version\": 1,\n  \"summary\": %s,\n  \"calls\": %d,\n  \"duration_seconds\": %g,\n  \"changes\": [",
		summary, s.Calls(), reconcile.Duration(s.Calls(), perSecond).Seconds())
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for i := range p.Changes {
		c := &p.Changes[i]
		jc := jsonChange{ID: c.ID, Action: string(c.Action), Fields: []jsonField{}}
		for _, f := range c.Fields() {
			jc.Fields = append(jc.Fields, jsonField{Path: f.Path, Before: rawOrNull(f.Before), After: rawOrNull(f.After)})
		}
		sep := ",\n    "
		if i == 0 {
			sep = "\n    "
		}
		bw.WriteString(sep)
		if err := enc.Encode(jc); err != nil {
			return err
		}
	}
	bw.WriteString("\n  ]\n}\n")
	return bw.Flush()
}

func rawOrNull(v string) json.RawMessage {
	if v == "" {
		return json.RawMessage("null")
	}
	return json.RawMessage(v)
}
