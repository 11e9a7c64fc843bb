// Package shell is a small command interpreter built the way Delve's
// terminal is: a table of commands with aliases and help text, line editing
// and persistent history through go-delve/liner on a terminal, Tab
// completion of command names and of each command's arguments, and a plain
// line-by-line reader when standard input is not a terminal (so sessions
// can be scripted). It knows nothing about debuggers; `triage debug` fills
// the table.
package shell

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/fuzztriage/triage/internal/atomicfile"
	"github.com/go-delve/liner"
)

// Command is one row of the command table.
type Command struct {
	Name    string
	Aliases []string
	// Usage is the synopsis shown by help, e.g. "frame N".
	Usage string
	// Help is a one-line summary, optionally followed by a blank line and
	// details shown by "help NAME".
	Help string
	// Run executes the command. ctx is canceled by Ctrl-C while it runs.
	Run func(ctx context.Context, args []string) error
	// Complete offers completions for the word being typed; args are the
	// words before it. Nil means no argument completion.
	Complete func(args []string, word string) []string
	// CompleteWord, when set, is used instead of Complete for words with
	// structure (a Rust path): keep is the part of word that stays as
	// typed ("ide_device.channels[0].") and completions are the
	// candidates for the rest, so a printed list shows bare field names.
	CompleteWord func(args []string, word string) (keep string, completions []string)
}

func (c *Command) summary() string {
	first, _, _ := strings.Cut(c.Help, "\n")
	return first
}

// ErrQuit ends the loop when a command returns it.
var ErrQuit = errors.New("quit")

// Shell reads commands and runs them.
type Shell struct {
	Prompt   string
	Commands []*Command
	Out      io.Writer
	// In is read line by line when Interactive is false.
	In io.Reader
	// Interactive selects liner (line editing, history, completion).
	Interactive bool
	// HistoryPath is where history persists between sessions ("" = none).
	HistoryPath string

	mu    sync.Mutex
	abort func() // restores the terminal while runLiner waits for input
}

// New returns a shell with the built-in help and quit commands added.
func New(prompt string, out io.Writer, commands []*Command) *Shell {
	s := &Shell{Prompt: prompt, Out: out}
	s.Commands = append(s.Commands, commands...)
	s.Commands = append(s.Commands,
		&Command{
			Name: "help", Aliases: []string{"h", "?"}, Usage: "help [COMMAND]",
			Help: "list the commands, or show one command's help",
			Run: func(ctx context.Context, args []string) error {
				return s.help(args)
			},
			Complete: func(args []string, word string) []string {
				if len(args) > 0 {
					return nil
				}
				return s.commandNames(word)
			},
		},
		&Command{
			Name: "quit", Aliases: []string{"exit", "q"}, Usage: "quit",
			Help: "leave the session (Ctrl-D does the same)",
			Run:  func(context.Context, []string) error { return ErrQuit },
		},
	)
	return s
}

// DefaultHistoryPath is $XDG_STATE_HOME/triage/NAME, or
// ~/.local/state/triage/NAME.
func DefaultHistoryPath(name string) string {
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "triage", name)
}

// Find returns the command a name or alias selects, or nil.
func (s *Shell) Find(name string) *Command {
	for _, c := range s.Commands {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

func (s *Shell) commandNames(prefix string) []string {
	var out []string
	for _, c := range s.Commands {
		if strings.HasPrefix(c.Name, prefix) {
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}

func (s *Shell) help(args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(s.Out, "Commands:")
		for _, c := range s.Commands {
			name := c.Usage
			if name == "" {
				name = c.Name
			}
			if len(c.Aliases) > 0 {
				name += " (" + strings.Join(c.Aliases, ", ") + ")"
			}
			fmt.Fprintf(s.Out, "  %-34s %s\n", name, c.summary())
		}
		fmt.Fprintln(s.Out, "Type 'help COMMAND' for more. Tab completes commands, variables and Rust paths.")
		return nil
	}
	c := s.Find(args[0])
	if c == nil {
		return fmt.Errorf("no command %q (type help for the list)", args[0])
	}
	fmt.Fprintf(s.Out, "%s\n\n%s\n", c.Usage, c.Help)
	if len(c.Aliases) > 0 {
		fmt.Fprintf(s.Out, "\nAliases: %s\n", strings.Join(c.Aliases, ", "))
	}
	return nil
}

// Execute runs one input line. It returns ErrQuit when the session should end.
func (s *Shell) Execute(ctx context.Context, line string) error {
	words := Split(line)
	if len(words) == 0 {
		return nil
	}
	c := s.Find(words[0])
	if c == nil {
		return fmt.Errorf("unknown command %q (type help for the list)", words[0])
	}
	return c.Run(ctx, words[1:])
}

// Complete implements liner's word completer: the word under the cursor is
// a command name, or an argument the command completes.
func (s *Shell) Complete(line string, pos int) (head string, completions []string, tail string) {
	before, tail := line[:pos], line[pos:]
	start := strings.LastIndexAny(before, " \t") + 1
	head, word := before[:start], before[start:]
	args := Split(head)
	if len(args) == 0 {
		return head, s.commandNames(word), tail
	}
	c := s.Find(args[0])
	switch {
	case c == nil:
		return head, nil, tail
	case c.CompleteWord != nil:
		keep, list := c.CompleteWord(args[1:], word)
		return head + keep, list, tail
	case c.Complete != nil:
		return head, c.Complete(args[1:], word), tail
	}
	return head, nil, tail
}

// Run is the read-eval loop. It returns nil on quit or end of input.
func (s *Shell) Run(ctx context.Context) error {
	if s.Interactive {
		return s.runLiner(ctx)
	}
	return s.runLines(ctx)
}

func (s *Shell) runLines(ctx context.Context) error {
	sc := bufio.NewScanner(s.In)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// Echo the command so a scripted transcript reads like a session.
		fmt.Fprintf(s.Out, "%s%s\n", s.Prompt, line)
		if s.report(s.runOne(ctx, line)) {
			return nil
		}
	}
	return sc.Err()
}

// Abort saves the history and restores the terminal of a running
// interactive loop, for a caller that must exit while Run waits for a
// line (liner cannot be interrupted in a read). Run must not be used after.
func (s *Shell) Abort() {
	s.mu.Lock()
	f := s.abort
	s.abort = nil
	s.mu.Unlock()
	if f != nil {
		f()
	}
}

func (s *Shell) runLiner(ctx context.Context) error {
	ln := liner.NewLiner()
	ln.SetCtrlCAborts(true)
	ln.SetTabCompletionStyle(liner.TabPrints)
	ln.SetWordCompleter(s.Complete)
	s.loadHistory(ln)
	var once sync.Once
	finish := func() {
		once.Do(func() {
			s.saveHistory(ln)
			ln.Close()
		})
	}
	s.mu.Lock()
	s.abort = finish
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.abort = nil
		s.mu.Unlock()
		finish()
	}()
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		line, err := ln.Prompt(s.Prompt)
		switch {
		case errors.Is(err, liner.ErrPromptAborted):
			// Ctrl-C cancels the line being typed, not the session.
			continue
		case errors.Is(err, io.EOF):
			fmt.Fprintln(s.Out)
			return nil
		case err != nil:
			return err
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		ln.AppendHistory(line)
		if s.report(s.runOne(ctx, line)) {
			return nil
		}
	}
}

// runOne runs a line with Ctrl-C canceling only that command.
func (s *Shell) runOne(ctx context.Context, line string) error {
	cmdCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-cmdCtx.Done():
		}
	}()
	return s.Execute(cmdCtx, line)
}

// report prints a command's error and says whether to quit.
func (s *Shell) report(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrQuit):
		return true
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(s.Out, "interrupted")
	default:
		fmt.Fprintf(s.Out, "error: %v\n", err)
	}
	return false
}

func (s *Shell) loadHistory(ln *liner.State) {
	if s.HistoryPath == "" {
		return
	}
	f, err := os.Open(s.HistoryPath)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = ln.ReadHistory(f)
}

func (s *Shell) saveHistory(ln *liner.State) {
	if s.HistoryPath == "" {
		return
	}
	var buf bytes.Buffer
	if _, err := ln.WriteHistory(&buf); err != nil {
		return
	}
	_ = atomicfile.Write(s.HistoryPath, buf.Bytes())
}

// Split breaks a line into words; double or single quotes group words.
func Split(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
			inWord = true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
