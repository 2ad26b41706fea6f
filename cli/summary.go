package cli

import (
	"encoding/json"
	"io"
	"iter"
	"time"

	"groupsync/reconcile"
)

// tally counts the report's rows as they are written, so that the summary
// says exactly what the report says.
type tally struct {
	actions  map[reconcile.Action]int
	done     map[reconcile.Action]int // rows of the action that ended ok
	status   map[reconcile.Status]int
	failures []jsonFailure
}

type jsonFailure struct {
	ID         string `json:"user_group_id"`
	Action     string `json:"action"`
	Status     string `json:"status"`
	HTTPStatus int    `json:"http_status,omitempty"`
	Error      string `json:"error"`
}

// count passes rows through, counting them.
func (t *tally) count(rows iter.Seq[*reconcile.Result]) iter.Seq[*reconcile.Result] {
	t.actions, t.done, t.status = map[reconcile.Action]int{}, map[reconcile.Action]int{}, map[reconcile.Status]int{}
	return func(yield func(*reconcile.Result) bool) {
		for r := range rows {
			t.actions[r.Action]++
			t.status[r.Status]++
			if r.Status == reconcile.StatusOK {
				t.done[r.Action]++
			}
			if r.Status == reconcile.StatusFailed || r.Status == reconcile.StatusSkipped {
				f := jsonFailure{ID: r.ID, Action: string(r.Action), Status: string(r.Status), HTTPStatus: r.Code}
				if r.Err != nil {
					f.Error = r.Err.Error()
				}
				t.failures = append(t.failures, f)
			}
			if !yield(r) {
				return
			}
		}
	}
}

// unfinished counts the groups that did not converge.
func (t *tally) unfinished() int {
	return t.status[reconcile.StatusFailed] + t.status[reconcile.StatusSkipped]
}

type applySummary struct {
	FormatVersion int `json:"format_version"`
	jsonSummary
	OK              int           `json:"ok"`
	Failed          int           `json:"failed"`
	Skipped         int           `json:"skipped"`
	Planned         int           `json:"planned"`
	Calls           int           `json:"calls"`
	DurationSeconds float64       `json:"duration_seconds"`
	Report          string        `json:"report,omitempty"`
	Failures        []jsonFailure `json:"failures"`
}

// print writes apply's --json summary: per action the report's rows, per
// status the same, and every group that failed or was skipped.
func (t *tally) print(w io.Writer, calls int, took time.Duration, reportPath string) error {
	a := func(act reconcile.Action) int { return t.actions[act] }
	out := applySummary{
		FormatVersion: 1,
		jsonSummary: jsonSummary{Create: a(reconcile.ActionCreate), Adopt: a(reconcile.ActionAdopt), Update: a(reconcile.ActionUpdate),
			Noop: a(reconcile.ActionNoop), Orphan: a(reconcile.ActionOrphan), Delete: a(reconcile.ActionDelete), Rotate: a(reconcile.ActionRotate)},
		OK: t.status[reconcile.StatusOK], Failed: t.status[reconcile.StatusFailed], Skipped: t.status[reconcile.StatusSkipped],
		Planned: t.status[reconcile.StatusPlanned], Calls: calls, DurationSeconds: took.Round(time.Millisecond).Seconds(), Report: reportPath, Failures: t.failures,
	}
	if out.Failures == nil {
		out.Failures = []jsonFailure{}
	}
	enc := json.NewEncoder(safeJSON{w})
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
