package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"groupsync/internal/canonjson"
	"groupsync/internal/fieldjson"
	"groupsync/internal/textsafe"
	"groupsync/reconcile"
)

// printf prints a line built from text groupsync does not control (ids,
// names, service messages) with every control character escaped, so that
// nothing a manifest or an answer holds can move the cursor or forge a
// line of output.
func printf(w io.Writer, format string, args ...any) {
	io.WriteString(w, textsafe.Lines(strings.TrimSuffix(fmt.Sprintf(format, args...), "\n"))+"\n")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// thousands formats n as 1,241.
func thousands(n int) string {
	if n < 0 {
		return "-" + thousands(-n)
	}
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// showValue renders one side of a field change for people.
func showValue(v reconcile.Value) string {
	switch {
	case !v.Known:
		return "(none)"
	case v.Kind == reconcile.KindString:
		return strconv.Quote(v.Text)
	case v.Kind == reconcile.KindList:
		return listJSON(v.List)
	}
	return v.Text
}

// jsonValue renders one side of a field change as JSON.
func jsonValue(v reconcile.Value) json.RawMessage {
	switch {
	case !v.Known:
		return json.RawMessage("null")
	case v.Kind == reconcile.KindString:
		return json.RawMessage(canonjson.Quote(v.Text))
	case v.Kind == reconcile.KindList:
		return json.RawMessage(listJSON(v.List))
	}
	return json.RawMessage(v.Text)
}

func listJSON(l []string) string { return fieldjson.List(l) }

// printPlan writes the human plan. Tokens are never part of it.
func printPlan(w io.Writer, p *reconcile.Plan, rate string, took func(int) string, rebound bool) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	if rebound {
		fmt.Fprintln(bw, "The state will be rebound to this API URL and token (--rebind).")
	}
	prune := false
	for i := range p.Changes {
		prune = prune || p.Changes[i].Action == reconcile.ActionDelete
	}
	for i := range p.Changes {
		if p.Changes[i].Action != reconcile.ActionNoop {
			printChange(bw, &p.Changes[i], prune)
		}
	}
	s := p.Summary()
	fmt.Fprintf(bw, "Plan: %s to create, ", thousands(s.Create))
	if s.Adopt > 0 {
		fmt.Fprintf(bw, "%s to adopt, ", thousands(s.Adopt))
	}
	if s.Rename > 0 {
		fmt.Fprintf(bw, "%s to rename, ", thousands(s.Rename))
	}
	fmt.Fprintf(bw, "%s to update, %s unchanged, %s orphaned", thousands(s.Update), thousands(s.Noop), thousands(s.Orphan))
	if s.Delete > 0 {
		fmt.Fprintf(bw, ", %s to delete", thousands(s.Delete))
	}
	if s.Rotate > 0 {
		fmt.Fprintf(bw, ", %s to rotate", thousands(s.Rotate))
	}
	fmt.Fprintln(bw, ".")
	fmt.Fprintf(bw, "%s call%s ≈ %s at %s\n", thousands(s.Calls), plural(s.Calls), took(s.Calls), rate)
}

var changeMarks = map[reconcile.Action]string{
	reconcile.ActionCreate: "+", reconcile.ActionAdopt: "<", reconcile.ActionUpdate: "~",
	reconcile.ActionOrphan: "!", reconcile.ActionDelete: "-", reconcile.ActionRotate: "*", reconcile.ActionRename: "→",
}

func printChange(w io.Writer, c *reconcile.Change, prune bool) {
	id := textsafe.Escape(c.ID)
	line := fmt.Sprintf("  %s %s %s", changeMarks[c.Action], c.Action, id)
	adopted := c.Current != nil && c.Current.Origin != reconcile.OriginCreated
	switch {
	case c.Action == reconcile.ActionRename:
		line = fmt.Sprintf("  %s rename %s → %s  (one call; the token is kept)", changeMarks[c.Action], textsafe.Escape(c.Current.ID), id)
	case c.Action == reconcile.ActionOrphan && adopted && prune:
		line += "  (in the state, in no manifest: adopted, not created by groupsync, so kept; --prune-adopted deletes it)"
	case c.Action == reconcile.ActionOrphan:
		line += "  (in the state, in no manifest: kept, and reported with its token)"
	case c.Action == reconcile.ActionAdopt && c.Update:
		line += "  (on the service, not in the state: its token is recorded, then it is updated)"
	case c.Action == reconcile.ActionAdopt:
		line += "  (on the service, not in the state: its token is recorded; no call)"
	case c.Action == reconcile.ActionDelete && c.Gone:
		line += "  (already gone from the service: only forgotten)"
	case c.Action == reconcile.ActionDelete:
		var notes []string
		if adopted {
			notes = append(notes, "adopted: it was found existing, not created by groupsync")
		}
		if len(c.Below) > 0 {
			notes = append(notes, "after the customers below it, deleted first: "+textsafe.Escape(strings.Join(c.Below, ", ")))
		}
		if len(c.Guards) > 0 {
			notes = append(notes, "once "+textsafe.Escape(strings.Join(c.Guards, ", "))+" moved out from below it")
		}
		if len(notes) > 0 {
			line += "  (" + strings.Join(notes, "; ") + ")"
		}
	}
	fmt.Fprintln(w, line)
	for _, f := range c.Fields() {
		if c.Action == reconcile.ActionCreate {
			fmt.Fprintf(w, "      %s: %s\n", textsafe.Escape(f.Path), textsafe.Escape(showValue(f.After)))
			continue
		}
		fmt.Fprintf(w, "      %s: %s → %s\n", textsafe.Escape(f.Path), textsafe.Escape(showValue(f.Before)), textsafe.Escape(showValue(f.After)))
	}
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
	From   string      `json:"previous_provided_id,omitempty"`
	Below  []string    `json:"below,omitempty"`
}

type jsonSummary struct {
	Create int `json:"create"`
	Adopt  int `json:"adopt"`
	Update int `json:"update"`
	Noop   int `json:"noop"`
	Orphan int `json:"orphan"`
	Delete int `json:"delete"`
	Rotate int `json:"rotate"`
	Rename int `json:"rename"`
}

func summaryJSON(s reconcile.Summary) jsonSummary {
	return jsonSummary{Create: s.Create, Adopt: s.Adopt, Update: s.Update, Noop: s.Noop, Orphan: s.Orphan, Delete: s.Delete, Rotate: s.Rotate, Rename: s.Rename}
}

// printPlanJSON streams the plan, one change at a time: a plan of a million
// creates must not be built as one value first.
func printPlanJSON(w io.Writer, p *reconcile.Plan, seconds float64) error {
	s := p.Summary()
	summary, err := json.Marshal(summaryJSON(s))
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	sw := safeJSON{bw}
	fmt.Fprintf(sw, "{\n  \"format_version\": 1,\n  \"summary\": %s,\n  \"calls\": %d,\n  \"duration_seconds\": %g,\n  \"changes\": [",
		summary, s.Calls, seconds)
	enc := json.NewEncoder(sw)
	enc.SetEscapeHTML(false)
	n := 0
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action == reconcile.ActionNoop {
			continue
		}
		n++
		jc := jsonChange{ID: c.ID, Action: string(c.Action), Fields: []jsonField{}, Below: c.Below}
		if c.Action == reconcile.ActionRename {
			jc.From = c.Current.ID
		}
		for _, f := range c.Fields() {
			jc.Fields = append(jc.Fields, jsonField{Path: f.Path, Before: jsonValue(f.Before), After: jsonValue(f.After)})
		}
		sep := ",\n    "
		if n == 1 {
			sep = "\n    "
		}
		io.WriteString(sw, sep)
		if err := enc.Encode(jc); err != nil {
			return err
		}
	}
	io.WriteString(sw, "\n  ]\n}\n")
	return bw.Flush()
}

// safeJSON escapes, inside JSON text written to it in whole values, the characters encoding/json leaves
// as they are but a terminal may act on (C1 controls, DEL, bidirectional
// overrides): the output stays the same JSON, and safe to print.
type safeJSON struct{ w io.Writer }

func (s safeJSON) Write(p []byte) (int, error) {
	if !needsJSONEscape(p) {
		return s.w.Write(p)
	}
	n := len(p)
	var b strings.Builder
	for len(p) > 0 {
		r, size := utf8.DecodeRune(p)
		if r != utf8.RuneError && size > 0 && textsafe.Escape(string(r)) != string(r) && r >= 0x7f {
			fmt.Fprintf(&b, `\u%04x`, r)
		} else {
			b.Write(p[:size])
		}
		p = p[size:]
	}
	_, err := io.WriteString(s.w, b.String())
	return n, err
}

func needsJSONEscape(p []byte) bool {
	for _, c := range p {
		if c >= 0x7f {
			return true
		}
	}
	return false
}
