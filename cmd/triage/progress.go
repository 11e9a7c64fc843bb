package main

import (
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/fuzztriage/triage/internal/inert"
	"github.com/fuzztriage/triage/triage"
)

// isTerminal says w is a terminal (only then are bars drawn).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// liveBars are live progress bars on a terminal (mpb), one per named task
// (a pipeline phase, a campaign's target), each with a label that says
// what it is doing. Log lines written through it go above the bars.
type liveBars struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[string]*liveBar
}

type liveBar struct {
	bar   *mpb.Bar
	mu    sync.Mutex
	label string
}

// newLiveBars draws on w: a terminal, or anything when asked for with
// --progress always (then the bars are drawn as if w were one).
func newLiveBars(w io.Writer) *liveBars {
	return &liveBars{
		p: mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(150*time.Millisecond),
			mpb.ContainerOptional(mpb.WithWidth(120), !isTerminal(w)),
			mpb.ContainerOptional(mpb.ForceTTY(), !isTerminal(w)), mpb.ContainerOptional(mpb.WithAutoRefresh(), !isTerminal(w))),
		bars: map[string]*liveBar{},
	}
}

// Set shows task at done of total, labelled.
func (l *liveBars) Set(task string, done, total int, label string) {
	l.mu.Lock()
	b := l.bars[task]
	if b == nil {
		b = &liveBar{}
		b.bar = l.p.AddBar(int64(max(total, 1)), mpb.BarWidth(30),
			mpb.PrependDecorators(decor.Name(task, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO, decor.WCSyncSpace), decor.Any(func(decor.Statistics) string {
				b.mu.Lock()
				defer b.mu.Unlock()
				return " " + b.label
			})))
		l.bars[task] = b
	}
	l.mu.Unlock()
	b.mu.Lock()
	b.label = shorten(inert.Line(label), 48)
	b.mu.Unlock()
	if total > 0 {
		b.bar.SetTotal(int64(total), false)
	}
	b.bar.SetCurrent(int64(done))
}

// Write prints log lines above the bars.
func (l *liveBars) Write(p []byte) (int, error) { return l.p.Write(p) }

// Done stops drawing: finished bars stay complete, unfinished ones stop
// where they were (an interrupted run).
func (l *liveBars) Done() {
	l.mu.Lock()
	for _, b := range l.bars {
		if !b.bar.Completed() {
			b.bar.Abort(false)
		}
	}
	l.mu.Unlock()
	l.p.Wait()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n+3:]
}

// pipelineBars shows a pipeline's progress: a bar per phase.
type pipelineBars struct{ *liveBars }

func (b pipelineBars) Update(p triage.Progress) { b.Set(p.Phase, p.Done, p.Total, p.Item) }

// progressLogger is the stand-in off a terminal: a log line per phase
// step, at most every few seconds, so CI logs show the run moving.
type progressLogger struct {
	mu   sync.Mutex
	a    *app
	last map[string]time.Time
}

func (l *progressLogger) Update(p triage.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last = map[string]time.Time{}
	}
	if p.Done != 0 && p.Done != p.Total && time.Since(l.last[p.Phase]) < 5*time.Second {
		return
	}
	if p.Total == 0 {
		return
	}
	l.last[p.Phase] = time.Now()
	l.a.log.WithFields(map[string]any{"phase": p.Phase, "done": p.Done, "total": p.Total}).Info("progress")
}
