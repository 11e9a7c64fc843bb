package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/fuzztriage/triage/triage"
)

// progressBar draws one status line on a terminal and keeps log lines from
// tearing it: logs go through it, clear the line, and the bar is redrawn.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	last  triage.Progress
	shown bool
	start time.Time
	drawn time.Time
}

// isTerminal says w is a terminal (only then is a bar drawn).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{w: w, start: time.Now()}
}

// Update takes a progress event; redraws at most 10 times a second.
func (b *progressBar) Update(p triage.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	phaseChanged := p.Phase != b.last.Phase
	b.last = p
	if !phaseChanged && p.Done != p.Total && time.Since(b.drawn) < 100*time.Millisecond {
		return
	}
	b.draw()
}

func (b *progressBar) draw() {
	p := b.last
	width := 30
	filled := 0
	if p.Total > 0 {
		filled = width * p.Done / p.Total
	}
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	item := p.Item
	if len(item) > 40 {
		item = "..." + item[len(item)-37:]
	}
	fmt.Fprintf(b.w, "\r\033[K%-12s [%s] %d/%d  %s  %s", p.Phase, bar, p.Done, p.Total,
		time.Since(b.start).Round(time.Second), item)
	b.shown = true
	b.drawn = time.Now()
}

// Write lets log lines through without tearing the bar.
func (b *progressBar) Write(data []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shown {
		fmt.Fprint(b.w, "\r\033[K")
	}
	n, err := b.w.Write(data)
	if b.shown {
		b.draw()
	}
	return n, err
}

// Done clears the bar for good.
func (b *progressBar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shown {
		fmt.Fprint(b.w, "\r\033[K")
		b.shown = false
	}
}

// progressLogger is the non-terminal stand-in: a log line per phase step,
// at most every few seconds, so CI logs show the run moving.
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
