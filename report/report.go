// Package report encodes the apply report: one CSV row per manifest group,
// in manifest order, with its action, status and token. It only encodes;
// the caller decides where the bytes go (an atomic 0600 file, since rows
// hold tokens).
package report

import (
	"encoding/csv"
	"io"
	"strconv"
)

// Header is the report's first line, which scripts rely on.
var Header = []string{"user_group_id", "name", "action", "status", "new_user_group", "token", "api_environment_tag", "attempts", "http_status", "error"}

// Row is one group of the report.
type Row struct {
	ID, Name, Action, Status string
	// New is the create answer's new_user_group; nil when no create ran.
	New        *bool
	Token      string
	EnvTag     string
	Attempts   int
	HTTPStatus int
	Error      string
}

// Writer writes rows as CSV.
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

// Write writes one row.
func (w *Writer) Write(r Row) error {
	token := r.Token
	if w.redact {
		token = ""
	}
	w.rec = append(w.rec[:0], r.ID, r.Name, r.Action, r.Status, optBool(r.New), token, r.EnvTag,
		optInt(r.Attempts), optInt(r.HTTPStatus), r.Error)
	return w.w.Write(w.rec)
}

// Close flushes the rows and returns the first write error.
func (w *Writer) Close() error {
	w.w.Flush()
	return w.w.Error()
}

func optBool(b *bool) string {
	if b == nil {
		return ""
	}
	return strconv.FormatBool(*b)
}

func optInt(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}
