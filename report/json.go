package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"

	"groupsync/reconcile"
)

// Encoder writes a report's rows, one result at a time, and Close ends
// the report. [Writer] and [JSONWriter] are the two.
type Encoder interface {
	Write(r *reconcile.Result) error
	Close() error
}

// Options tune a report.
type Options struct {
	// Redact leaves the token out.
	Redact bool
	// BOM starts a CSV report with a UTF-8 byte order mark, which is how
	// Excel knows a CSV file is UTF-8; without it, Excel shows names
	// beyond ASCII garbled. JSON has none.
	BOM bool
}

// New starts the report that path names: JSON when it ends in .json,
// else CSV.
func New(w io.Writer, path string, opts Options) (Encoder, error) {
	if strings.EqualFold(filepath.Ext(path), ".json") {
		return NewJSONWriter(w, opts.Redact)
	}
	if opts.BOM {
		if _, err := io.WriteString(w, "\uFEFF"); err != nil {
			return nil, err
		}
	}
	return NewWriter(w, opts.Redact)
}

// JSONWriter writes results as a JSON array of objects, one per row of
// the CSV report, with the CSV's columns as keys, in the same order. A
// cell the CSV leaves empty is null; attempts is a number, and
// new_user_group a boolean. Values are as they are: the formula guard of
// the CSV report is for spreadsheets, which do not open JSON.
type JSONWriter struct {
	w      *bufio.Writer
	enc    *json.Encoder
	buf    bytes.Buffer
	redact bool
	rows   int
}

// jsonRow is one row: its fields are [Header], in order.
type jsonRow struct {
	ID         string  `json:"user_group_id"`
	Name       string  `json:"name"`
	Action     string  `json:"action"`
	Status     string  `json:"status"`
	New        *bool   `json:"new_user_group"`
	Token      *string `json:"token"`
	EnvTag     *string `json:"api_environment_tag"`
	Attempts   int     `json:"attempts"`
	HTTPStatus *int    `json:"http_status"`
	Error      *string `json:"error"`
}

// NewJSONWriter starts the array on w. With redact, every token is null.
func NewJSONWriter(w io.Writer, redact bool) (*JSONWriter, error) {
	bw := bufio.NewWriter(w)
	if _, err := bw.WriteString("["); err != nil {
		return nil, err
	}
	jw := &JSONWriter{w: bw, redact: redact}
	jw.enc = json.NewEncoder(&jw.buf)
	jw.enc.SetEscapeHTML(false)
	return jw, nil
}

// Write writes the object of one result.
func (w *JSONWriter) Write(r *reconcile.Result) error {
	row := jsonRow{ID: r.ID, Name: r.Name, Action: string(r.Action), Status: string(r.Status), Attempts: r.Attempts,
		Token: optString(r.Token), EnvTag: optString(r.EnvTag)}
	if w.redact {
		row.Token = nil
	}
	if r.New != nil && r.Status == reconcile.StatusOK {
		row.New = r.New
	}
	if r.Code != 0 {
		row.HTTPStatus = &r.Code
	}
	if r.Err != nil {
		row.Error = optString(r.Err.Error())
	}
	w.buf.Reset()
	if err := w.enc.Encode(row); err != nil {
		return err
	}
	sep := ",\n"
	if w.rows == 0 {
		sep = "\n"
	}
	w.rows++
	w.w.WriteString(sep)
	_, err := w.w.Write(bytes.TrimSuffix(w.buf.Bytes(), []byte("\n")))
	return err
}

// Close ends the array and flushes it.
func (w *JSONWriter) Close() error {
	if w.rows > 0 {
		w.w.WriteString("\n")
	}
	if _, err := w.w.WriteString("]\n"); err != nil {
		return err
	}
	return w.w.Flush()
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
