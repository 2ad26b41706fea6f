package cli

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"groupsync/internal/textsafe"
	"groupsync/reconcile"
)

// progress shows a bar when stderr is a terminal, and otherwise a line
// every ten seconds with a timestamp and the time left, which is what a
// log file wants. Lines of -v and of a stop go above the bar, not through
// it.
type progress struct {
	w io.Writer
	// records is --log-format json's: progress lines are records of it.
	records *slog.Logger
	bar     *progressbar.ProgressBar
	clock   reconcile.Clock
	start   time.Time
	total   int

	mu     sync.Mutex // guards the counts and every write to w
	done   int
	failed int
	stop   chan struct{}
	ended  chan struct{}
}

const progressEvery = 10 * time.Second

func newProgress(o IO, total int) *progress {
	c := o.clock()
	p := &progress{w: o.Stderr, records: o.log, clock: c, start: c.Now(), total: total, stop: make(chan struct{}), ended: make(chan struct{})}
	if o.StderrTerminal {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(o.Stderr), progressbar.OptionSetDescription("applying"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
		close(p.ended)
		return p
	}
	go p.lines()
	return p
}

func (p *progress) add(r *reconcile.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	if r.Status == reconcile.StatusFailed {
		p.failed++
	}
	if p.bar != nil {
		p.bar.Add(1)
	}
}

// log prints one line above the bar.
func (p *progress) log(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Clear()
	}
	io.WriteString(p.w, textsafe.Lines(line)+"\n")
	if p.bar != nil {
		p.bar.RenderBlank()
	}
}

func (p *progress) lines() {
	defer close(p.ended)
	for {
		t := p.clock.NewTimer(progressEvery)
		select {
		case <-t.C():
			p.line()
		case <-p.stop:
			t.Stop()
			return
		}
	}
}

// line prints the progress so far, and the time left at the pace so far.
func (p *progress) line() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	left := "unknown"
	var leftSeconds float64 = -1
	if p.done > 0 {
		per := now.Sub(p.start) / time.Duration(p.done)
		d := (per * time.Duration(p.total-p.done)).Round(time.Second)
		left, leftSeconds = d.String(), d.Seconds()
	}
	if p.records != nil {
		p.records.Info("progress", "done", p.done, "total", p.total, "failed", p.failed, "left_seconds", leftSeconds)
		return
	}
	fmt.Fprintf(p.w, "groupsync: %s progress: %s/%s groups done, %s failed, about %s left\n",
		now.UTC().Format(time.RFC3339), thousands(p.done), thousands(p.total), thousands(p.failed), left)
}

func (p *progress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		return
	}
	close(p.stop)
	<-p.ended
}
