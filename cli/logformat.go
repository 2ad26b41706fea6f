package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"groupsync/manifest"
	"groupsync/reconcile"
)

// With --log-format json, what plan, apply and rotate say on stderr is
// one JSON object per line (log/slog's JSON handler): the per-group lines
// and the summary with their fields, and every other line (warnings,
// problems, the error) as a message with its level. Nothing in them is
// taken from anywhere a text line would not take it, so they carry no
// token either.

// logTo sets up --log-format for a run. The function it returns logs the
// run's error, if any, in the same form (Main then prints nothing).
func (c *Config) logTo(o IO) (IO, func(*error)) {
	if c.LogFormat != logJSON {
		return o, func(*error) {}
	}
	jl := newJSONLog(o.Stderr, o.clock())
	// apply's question in a terminal is for a person, and stays text.
	o.prompt = o.Stderr
	o.Stderr = jl
	o.log = jl.logger
	// A bar would be drawn through the JSON lines.
	o.StderrTerminal = false
	return o, func(err *error) {
		if *err == nil {
			return
		}
		if msg := (*err).Error(); msg != "" {
			jl.Write([]byte("groupsync: error: " + msg + "\n"))
		}
		*err = &exitError{code: ExitCode(*err)}
	}
}

// jsonLog turns the lines written to it into JSON records, by their
// prefix: "groupsync: error:" is level ERROR, "groupsync: warning:" WARN,
// and the others INFO; a hint is marked as one.
type jsonLog struct {
	logger *slog.Logger
	mu     sync.Mutex
	buf    []byte
}

func newJSONLog(w io.Writer, clock reconcile.Clock) *jsonLog {
	h := slog.NewJSONHandler(safeJSON{w}, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		// The run's clock, so that a test's clock shows.
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Time(slog.TimeKey, clock.Now().UTC().Truncate(time.Millisecond))
		}
		return a
	}})
	return &jsonLog{logger: slog.New(h)}
}

func (l *jsonLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.line(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

func (l *jsonLog) line(s string) {
	level, msg, hint := slog.LevelInfo, strings.TrimPrefix(s, "groupsync: "), false
	switch {
	case strings.HasPrefix(msg, "error: "):
		level, msg = slog.LevelError, strings.TrimPrefix(msg, "error: ")
	case strings.HasPrefix(msg, "warning: "):
		level, msg = slog.LevelWarn, strings.TrimPrefix(msg, "warning: ")
	case strings.HasPrefix(msg, "hint: "):
		msg, hint = strings.TrimPrefix(msg, "hint: "), true
	}
	if hint {
		l.logger.Log(context.Background(), level, msg, "hint", true)
		return
	}
	l.logger.Log(context.Background(), level, msg)
}

// logResult logs one group's outcome: a line with -v, or a record with
// --log-format json.
func logResult(o IO, p *progress, r *reconcile.Result) {
	if o.log == nil {
		p.log(resultLine(r))
		return
	}
	attrs := []any{"user_group_id", r.ID, "action", string(r.Action), "status", string(r.Status), "attempts", r.Attempts}
	if r.Code != 0 {
		attrs = append(attrs, "http_status", r.Code)
	}
	level := slog.LevelInfo
	if r.Err != nil {
		level = slog.LevelError
		attrs = append(attrs, "error", r.Err.Error())
	}
	o.log.Log(context.Background(), level, "group", attrs...)
}

// logProblem prints a problem of a manifest: a FILE:LINE line, or with
// --log-format json a record with the file, line, cell and field apart.
func logProblem(o IO, e *manifest.ParseError) {
	if o.log == nil {
		printf(o.Stderr, "groupsync: %s\n", e.Error())
		return
	}
	attrs := []any{"file", e.File}
	if e.Line > 0 {
		attrs = append(attrs, "line", e.Line)
	}
	if e.Cell != "" {
		attrs = append(attrs, "cell", e.Cell)
	}
	if e.Field != "" {
		attrs = append(attrs, "field", e.Field)
	}
	o.log.Error(e.Error(), attrs...)
}

// logFailure logs a group that failed, for the summary's list.
func logFailure(o IO, f jsonFailure) {
	attrs := []any{"user_group_id", f.ID, "action", f.Action, "status", f.Status}
	if f.HTTPStatus != 0 {
		attrs = append(attrs, "http_status", f.HTTPStatus)
	}
	o.log.Error("group", append(attrs, "error", f.Error)...)
}
