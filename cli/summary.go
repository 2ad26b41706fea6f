package cli

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"sync/atomic"
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

var errUnsupported = errors.New("the End User Group API cannot do this: use --api customer")

// countingAPI counts the calls a run makes, for the summary. It offers
// what the API it wraps offers.
type countingAPI struct {
	reconcile.API
	n atomic.Int64
}

func (c *countingAPI) count() int { return int(c.n.Load()) }

func (c *countingAPI) CreateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	c.n.Add(1)
	return c.API.CreateGroup(ctx, g)
}

func (c *countingAPI) UpdateGroup(ctx context.Context, g *reconcile.Group) (reconcile.Remote, error) {
	c.n.Add(1)
	return c.API.UpdateGroup(ctx, g)
}

func (c *countingAPI) ListGroups(ctx context.Context, q reconcile.ListQuery) (reconcile.ListPage, error) {
	l, ok := c.API.(reconcile.Lister)
	if !ok {
		return reconcile.ListPage{}, errUnsupported
	}
	c.n.Add(1)
	return l.ListGroups(ctx, q)
}

func (c *countingAPI) DeleteGroup(ctx context.Context, id, token string) (reconcile.Remote, error) {
	d, ok := c.API.(reconcile.Deleter)
	if !ok {
		return reconcile.Remote{}, errUnsupported
	}
	c.n.Add(1)
	return d.DeleteGroup(ctx, id, token)
}

func (c *countingAPI) RotateToken(ctx context.Context, id, token string) (reconcile.Remote, error) {
	r, ok := c.API.(reconcile.Rotator)
	if !ok {
		return reconcile.Remote{}, errUnsupported
	}
	c.n.Add(1)
	return r.RotateToken(ctx, id, token)
}
