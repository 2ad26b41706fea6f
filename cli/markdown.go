package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"groupsync/internal/textsafe"
	"groupsync/reconcile"
)

// maxMarkdownChanges bounds the table: a pull-request comment holds at
// most 65,536 characters, and a plan of thousands of changes is read in
// the full plan, not in a comment.
const maxMarkdownChanges = 200

// printPlanMarkdown writes the plan as a Markdown summary, for a
// pull-request comment or a CI step summary: the counts, the calls and
// their time, and a table of the changes with their fields before →
// after. Tokens are never part of it, and every cell is escaped, so that
// a name cannot break the table, mention someone or run a link.
func printPlanMarkdown(w io.Writer, p *reconcile.Plan, rate string, took func(int) string, rebound bool) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	s := p.Summary()
	fmt.Fprintln(bw, "### groupsync plan")
	fmt.Fprintln(bw)
	if rebound {
		fmt.Fprintln(bw, "The state will be rebound to this API URL and token (`--rebind`).")
		fmt.Fprintln(bw)
	}
	counts := []string{fmt.Sprintf("%s to create", thousands(s.Create))}
	if s.Adopt > 0 {
		counts = append(counts, fmt.Sprintf("%s to adopt", thousands(s.Adopt)))
	}
	counts = append(counts, fmt.Sprintf("%s to update", thousands(s.Update)), fmt.Sprintf("%s unchanged", thousands(s.Noop)), fmt.Sprintf("%s orphaned", thousands(s.Orphan)))
	if s.Delete > 0 {
		counts = append(counts, fmt.Sprintf("%s to delete", thousands(s.Delete)))
	}
	if s.Rotate > 0 {
		counts = append(counts, fmt.Sprintf("%s to rotate", thousands(s.Rotate)))
	}
	fmt.Fprintf(bw, "**%s**; %s call%s ≈ %s at %s\n", strings.Join(counts, ", "), thousands(s.Calls), plural(s.Calls), took(s.Calls), rate)
	if len(p.Changes) == 0 {
		fmt.Fprintln(bw, "\nNo changes.")
		return
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "| | action | id | fields |")
	fmt.Fprintln(bw, "|---|---|---|---|")
	for i := range p.Changes {
		if i == maxMarkdownChanges {
			n := len(p.Changes) - i
			fmt.Fprintf(bw, "\n… and %s more change%s: run `groupsync plan` to see them all.\n", thousands(n), plural(n))
			break
		}
		c := &p.Changes[i]
		fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", changeMarks[c.Action], c.Action, markdownCell(c.ID), markdownFields(c))
	}
}

// markdownFields is a change's fields in one cell, a line each.
func markdownFields(c *reconcile.Change) string {
	var lines []string
	switch {
	case c.Action == reconcile.ActionOrphan:
		lines = append(lines, "in the state, in no manifest: kept")
	case c.Action == reconcile.ActionAdopt && !c.Update:
		lines = append(lines, "on the service: its token is recorded; no call")
	case c.Action == reconcile.ActionDelete && c.Gone:
		lines = append(lines, "already gone from the service: only forgotten")
	case c.Action == reconcile.ActionRename:
		lines = append(lines, markdownCell("from "+c.Current.ID+"; the token is kept"))
	case c.Action == reconcile.ActionDelete && len(c.Below) > 0:
		lines = append(lines, markdownCell("after the customers below it, deleted first: "+strings.Join(c.Below, ", ")))
	}
	for _, f := range c.Fields() {
		if c.Action == reconcile.ActionCreate {
			lines = append(lines, markdownCell(f.Path+": "+showValue(f.After)))
			continue
		}
		lines = append(lines, markdownCell(f.Path+": "+showValue(f.Before)+" → "+showValue(f.After)))
	}
	return strings.Join(lines, "<br>")
}

// markdownCell escapes text for a cell of a Markdown table: control
// characters as textsafe shows them, line breaks as <br>, and with a
// backslash what Markdown would act on: the cell's | , emphasis, code,
// links, HTML, entities and @mentions.
func markdownCell(s string) string {
	s = textsafe.Escape(s)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\n':
			b.WriteString("<br>")
		case '\r':
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '@', '#', '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
