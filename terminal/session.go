// Package terminal is the interactive side of `triage debug`: a prompt that
// builds a batch lldb command file for one crash artifact, after Delve's
// pkg/terminal (a table of commands with one-line help, history, Tab
// completion; see internal/shell).
//
// No live debugger sits behind the prompt. A fuzz crash is deterministic,
// so "being stopped at the crash" is a batch lldb-19 run (lldbscript) that
// reruns the input to the stop and prints what was asked: a second or two
// per question, none of lldb's interactive-mode pitfalls, and every
// question (a breakpoint, a Rust path to print) accumulates into a command
// file that `save` writes and `lldb-19 -b -s FILE` reruns by hand.
// Completion and path translation need no lldb at all: they read the
// binary's DWARF.
package terminal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/regbits"
	"github.com/fuzztriage/triage/symbolize"
	"github.com/fuzztriage/triage/templates"
)

// Build profiles, as `release` and `dev` name them.
const (
	Release = "release"
	Dev     = "dev"
)

// Config is what a session starts from.
type Config struct {
	// Artifact is the crash input.
	Artifact string
	// Flags are libFuzzer flags put before the artifact (-timeout=N for
	// timeouts, -rss_limit_mb=N for OOMs).
	Flags []string
	// Crash is what triage knows of the crash (from its record, or a
	// reproduction); nil when nothing is known.
	Crash *symbolize.Trace
	// Summary are lines about where the crash came from (record, bucket),
	// printed under the crash.
	Summary []string
	// Profile is the build to start on (Dev or Release).
	Profile string
	// Binary returns a profile's binary, building it if needed; an error
	// says the profile is not available.
	Binary func(ctx context.Context, profile string) (string, error)
	// Root is the workspace root, to show paths relative to it ("" none).
	Root string
	// LLDB is the lldb binary (default lldbscript.DefaultLLDB).
	LLDB string
	// Timeout bounds one lldb run (default lldbscript.DefaultTimeout).
	Timeout time.Duration
	// Formatters says whether to load the toolchain's safe Rust formatters.
	Formatters lldbscript.FormatterMode
	// Templates are the templates in force.
	Templates templates.Set
	// Dir is scratch space for command files and transcripts. Required.
	Dir string
	// ASan says the binaries are built with AddressSanitizer.
	ASan bool
	// InAppFrames is how many in-app frames the command file inspects
	// (default 4).
	InAppFrames int
	// Registers names the bits of the workspace's register types.
	Registers regbits.Table
}

// Session is one debugging session: the build in use, the stack at the
// stop, the selected frame, and the command file built so far.
type Session struct {
	cfg Config
	out io.Writer

	profile string
	binary  string
	types   *lldbscript.Types
	// typesErr says why there is no DWARF (completion and print need it).
	typesErr error
	files    []string     // source files of the binary, from its line tables
	index    *binaryIndex // its functions, to resolve short names

	// stack is the backtrace at the stop; fromLLDB says lldb printed it
	// (otherwise it is the crash log's, and lldb did not run).
	stack    []StackFrame
	fromLLDB bool
	stop     *lldbscript.Stop
	exit     *lldbscript.Exit
	// views are what lldb printed in a frame (source, variables), by
	// stack index, for the current stop.
	views    map[int]*lldbscript.FrameView
	selected int
	// stale says the breakpoints changed since the stack was read: the
	// stop may be elsewhere now.
	stale bool

	breaks []lldbscript.Breakpoint
	exprs  []lldbscript.Expr

	seq int
	vec map[string]bool // binary -> the Vec formatter loads
	// kinds are crash kinds a build showed that differ from the crash
	// log's (an OOM input can time out first on the slower dev build): the
	// stop rules follow the build.
	kinds map[string]symbolize.CrashKind
}

// StackFrame is one frame at the stop.
type StackFrame struct {
	lldbscript.Frame
	// Name is the function for people (hashes and escapes removed).
	Name     string
	Category symbolize.FrameCategory
}

// InApp says the frame is code under test or the fuzz target.
func (f *StackFrame) InApp() bool { return f.Category.InApp() }

// New makes a session; Start loads the first build.
func New(cfg Config, out io.Writer) (*Session, error) {
	if cfg.Dir == "" {
		return nil, errors.New("debug session: no scratch directory")
	}
	if cfg.Binary == nil {
		return nil, errors.New("debug session: no binaries")
	}
	if cfg.Profile == "" {
		cfg.Profile = Dev
	}
	if cfg.LLDB == "" {
		cfg.LLDB = lldbscript.DefaultLLDB
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = lldbscript.DefaultTimeout
	}
	if cfg.Formatters == "" {
		cfg.Formatters = lldbscript.FormattersAuto
	}
	if cfg.InAppFrames <= 0 {
		cfg.InAppFrames = 4
	}
	return &Session{cfg: cfg, out: out, views: map[int]*lldbscript.FrameView{}, vec: map[string]bool{}, kinds: map[string]symbolize.CrashKind{}}, nil
}

// Start prints the crash, loads the starting build and runs lldb to the
// stop. Only a build that cannot be had is an error: without lldb the
// session goes on with the crash log's frames.
func (s *Session) Start(ctx context.Context) error {
	s.printCrash()
	if err := s.use(ctx, s.cfg.Profile); err != nil {
		return err
	}
	s.refresh(ctx, true)
	return nil
}

// Profile is the build in use.
func (s *Session) Profile() string { return s.profile }

// BinaryPath is the binary in use.
func (s *Session) BinaryPath() string { return s.binary }

// use switches to a profile's binary and reads its DWARF.
func (s *Session) use(ctx context.Context, profile string) error {
	bin, err := s.cfg.Binary(ctx, profile)
	if err != nil {
		return fmt.Errorf("%s build: %w", profile, err)
	}
	s.profile, s.binary = profile, bin
	s.types, s.typesErr = lldbscript.LoadTypes(bin)
	s.index, _ = loadIndex(bin)
	s.files = nil
	if s.index != nil {
		s.files = s.index.files
	}
	s.views = map[int]*lldbscript.FrameView{}
	s.stack, s.stop, s.exit = nil, nil, nil
	if s.typesErr != nil {
		fmt.Fprintf(s.out, "note: %v: print, type and completion need DWARF\n", s.typesErr)
	}
	return nil
}

// refresh runs lldb to the stop and reads the stack there; without lldb it
// falls back to the crash log's frames. It reports and never fails; show
// prints the stack and the selected frame too.
func (s *Session) refresh(ctx context.Context, show bool) {
	fmt.Fprintf(s.out, "running %s on the %s build (%s) to the stop...\n", filepath.Base(s.cfg.LLDB), s.profile, s.rel(s.binary))
	res, err := s.lldb(ctx, "stop", s.spec(s.scriptFrames(true), nil))
	if k := s.otherKind(res, err); k != "" {
		fmt.Fprintf(s.out, "on the %s build this input ends as %s, not %s: stopping on that instead\n", s.profile, k, s.kind())
		s.kinds[s.profile] = k
		res, err = s.lldb(ctx, "stop", s.spec(s.scriptFrames(true), nil))
	}
	s.stale = false
	if err != nil {
		fmt.Fprintf(s.out, "lldb: %v\n", err)
		s.useCrashStack()
		fmt.Fprintln(s.out, "Using the crash log's frames instead; `run` tries lldb again.")
		if show {
			s.printStack(true)
		}
		return
	}
	s.load(res)
	s.printStop(res)
	if !show {
		return
	}
	s.printStack(true)
	if f := s.current(); f != nil {
		fmt.Fprintln(s.out)
		s.printFrame(s.selected)
	}
}

// ensureStop reruns lldb when the breakpoints changed since the stack was read.
func (s *Session) ensureStop(ctx context.Context) {
	if s.stale {
		fmt.Fprintln(s.out, "(the breakpoints changed: finding the new stop)")
		s.refresh(ctx, false)
	}
}

// load takes the stack and frame views of an lldb result.
func (s *Session) load(res *lldbscript.Result) {
	sess := res.Session
	s.fromLLDB = true
	s.stop, s.exit = sess.Stop, sess.Exit
	s.stack = nil
	raw := make([]symbolize.Frame, len(sess.Backtrace))
	for i, f := range sess.Backtrace {
		name := symbolize.Demangle(f.Function)
		raw[i] = symbolize.Frame{Index: f.Index, Raw: f.Function, Function: name, File: f.File, Line: f.Line, Module: f.Module, Inlined: f.Inlined}
	}
	symbolize.DefaultRules().TagFrames(raw)
	for i, f := range sess.Backtrace {
		s.stack = append(s.stack, StackFrame{Frame: f, Name: raw[i].Function, Category: raw[i].Category})
	}
	s.views = map[int]*lldbscript.FrameView{}
	for i := range sess.Frames {
		fv := &sess.Frames[i]
		if fv.Frame == nil || fv.Thread != 0 && s.stop != nil && fv.Thread != s.stop.Thread {
			continue
		}
		if idx := s.indexOf(fv.Frame); idx >= 0 {
			s.views[idx] = fv
		}
	}
	s.selected = s.firstInApp()
}

// indexOf finds a frame lldb printed in the stack.
func (s *Session) indexOf(f *lldbscript.Frame) int {
	for i := range s.stack {
		if s.stack[i].Index == f.Index && lldbscript.FunctionKey(s.stack[i].Function) == lldbscript.FunctionKey(f.Function) {
			return i
		}
	}
	return -1
}

// useCrashStack takes the stack from the crash log.
func (s *Session) useCrashStack() {
	s.fromLLDB = false
	s.stop, s.exit = nil, nil
	s.stack = nil
	s.views = map[int]*lldbscript.FrameView{}
	if s.cfg.Crash != nil {
		for i, f := range s.cfg.Crash.Frames {
			fn := f.Function
			if fn == "" {
				fn = f.Raw
			}
			name := fn
			if f.Category.InApp() {
				if key, ok := s.index.resolve(lldbscript.FunctionKey(fn), f.File); ok {
					fn, name = key, key
				}
			}
			s.stack = append(s.stack, StackFrame{
				Frame:    lldbscript.Frame{Index: i, Function: fn, File: f.File, Line: f.Line, Column: f.Column, Inlined: f.Inlined, Module: f.Module},
				Name:     name,
				Category: f.Category,
			})
		}
	}
	s.selected = s.firstInApp()
}

func (s *Session) firstInApp() int {
	for i := range s.stack {
		if s.stack[i].InApp() {
			return i
		}
	}
	return 0
}

// current is the selected frame (nil when there is no stack).
func (s *Session) current() *StackFrame {
	if s.selected < 0 || s.selected >= len(s.stack) {
		return nil
	}
	return &s.stack[s.selected]
}

// selector names stack frame i for a command file: by function, with the
// occurrence number for recursion.
func (s *Session) selector(i int) lldbscript.FrameSelector {
	f := &s.stack[i]
	key := lldbscript.FunctionKey(f.Function)
	nth := 0
	for j := 0; j < i; j++ {
		if lldbscript.FunctionKey(s.stack[j].Function) == key {
			nth++
		}
	}
	sel := lldbscript.FrameSelector{Function: key, Nth: nth}
	if f.File != "" {
		sel.Where = fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
	}
	return sel
}

// scriptFrames are the frames a command file inspects: the in-app frames
// of the stop (of the crash log before lldb ran, or when asked).
func (s *Session) scriptFrames(fromCrash bool) []lldbscript.FrameSelector {
	if fromCrash || !s.fromLLDB || s.stale {
		return s.traceFrames()
	}
	var out []lldbscript.FrameSelector
	for i := range s.stack {
		if s.stack[i].InApp() {
			out = append(out, s.selector(i))
			if len(out) == s.cfg.InAppFrames {
				break
			}
		}
	}
	return out
}

// traceFrames are the crash log's top in-app frames, named as the build in
// use names them (lldbscript.FramesFromTrace, with short names resolved
// through the binary's DWARF: lldb selects frames by full name).
func (s *Session) traceFrames() []lldbscript.FrameSelector {
	sels := lldbscript.FramesFromTrace(s.cfg.Crash, 4*s.cfg.InAppFrames)
	var out []lldbscript.FrameSelector
	seen := map[string]bool{}
	for _, sel := range sels {
		file := ""
		for _, f := range s.cfg.Crash.Frames {
			name := f.Function
			if name == "" {
				name = f.Normalized
			}
			if lldbscript.FunctionKey(name) == sel.Function {
				file = f.File
				break
			}
		}
		sel.Function, _ = s.index.resolve(sel.Function, file)
		if !seen[sel.Function] {
			seen[sel.Function] = true
			out = append(out, sel)
		}
		if len(out) == s.cfg.InAppFrames {
			break
		}
	}
	return out
}

// otherKind reads the fuzz target's own report of a run that did not
// stop: a crash of another kind than the stop rules were chosen for.
func (s *Session) otherKind(res *lldbscript.Result, err error) symbolize.CrashKind {
	if err == nil || res == nil || res.Status != lldbscript.StatusNotStopped || res.InferiorStderr == "" {
		return ""
	}
	tr, perr := symbolize.Parse([]byte(res.InferiorStderr))
	if perr != nil || tr == nil {
		return ""
	}
	switch tr.Kind {
	case "", symbolize.KindNone, symbolize.KindUnknown, s.kind():
		return ""
	}
	return tr.Kind
}

// kind is the crash kind the stop rules are chosen by.
func (s *Session) kind() symbolize.CrashKind {
	if k := s.kinds[s.profile]; k != "" {
		return k
	}
	if s.cfg.Crash != nil && s.cfg.Crash.Kind != "" {
		return s.cfg.Crash.Kind
	}
	return symbolize.KindRustPanic
}

// spec is a session on the build in use with the breakpoints so far.
func (s *Session) spec(frames []lldbscript.FrameSelector, exprs []lldbscript.Expr) *lldbscript.Spec {
	return &lldbscript.Spec{
		Binary:      s.binary,
		Args:        append([]string(nil), s.cfg.Flags...),
		Input:       s.cfg.Artifact,
		Kind:        s.kind(),
		ASan:        s.cfg.ASan,
		Frames:      frames,
		Breakpoints: append([]lldbscript.Breakpoint(nil), s.breaks...),
		Exprs:       exprs,
		Title:       fmt.Sprintf("triage debug: %s on %s (%s build)", filepath.Base(s.cfg.Artifact), filepath.Base(s.binary), s.profile),
	}
}

// scriptSpec is the command file built so far.
func (s *Session) scriptSpec() *lldbscript.Spec {
	return s.spec(s.scriptFrames(false), append([]lldbscript.Expr(nil), s.exprs...))
}

func (s *Session) runOptions(dir, script string) lldbscript.RunOptions {
	return lldbscript.RunOptions{
		LLDB: s.cfg.LLDB, Timeout: s.cfg.Timeout, Dir: dir, ScriptName: script,
		Templates: s.cfg.Templates, Formatters: s.cfg.Formatters, Types: s.types,
	}
}

// scratch makes a fresh directory for one lldb run.
func (s *Session) scratch(what string) string {
	s.seq++
	return filepath.Join(s.cfg.Dir, fmt.Sprintf("%03d-%s", s.seq, what))
}

// lldb runs one batch session. Anything but a stop is an error that says
// what happened; the prompt stays usable.
func (s *Session) lldb(ctx context.Context, what string, spec *lldbscript.Spec) (*lldbscript.Result, error) {
	res, err := lldbscript.Run(ctx, spec, s.runOptions(s.scratch(what), what+".lldb"))
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	if err != nil {
		if res != nil && res.Message != "" {
			return res, errors.New(res.Message)
		}
		return res, err
	}
	switch res.Status {
	case lldbscript.StatusStopped:
		return res, nil
	case lldbscript.StatusNotStopped:
		return res, fmt.Errorf("%s (the %s build may not crash on this input; try `release` or `dev`)", res.Message, s.profile)
	default:
		return res, fmt.Errorf("%s: %s", res.Status, res.Message)
	}
}

// frameFunctions are the DWARF functions of a stack frame.
func (s *Session) frameFunctions(f *StackFrame) []*lldbscript.Function {
	if s.types == nil || f == nil {
		return nil
	}
	if fns := s.types.Function(f.Function); len(fns) > 0 {
		return fns
	}
	key, _ := s.index.resolve(lldbscript.FunctionKey(f.Function), f.File)
	return s.types.Function(key)
}

// rel shortens a path under the workspace root.
func (s *Session) rel(p string) string {
	if s.cfg.Root == "" || p == "" {
		return p
	}
	if r, err := filepath.Rel(s.cfg.Root, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// printCrash shows what triage knows of the crash.
func (s *Session) printCrash() {
	c := s.cfg.Crash
	fmt.Fprintf(s.out, "%s\n", filepath.Base(s.cfg.Artifact))
	if c == nil {
		fmt.Fprintln(s.out, "  crash: unknown (no record and no reproduction)")
	} else {
		fmt.Fprintf(s.out, "  crash: %s", c.Kind)
		if c.Signal != "" {
			fmt.Fprintf(s.out, " (%s)", c.Signal)
		}
		fmt.Fprintln(s.out)
		if c.Message != "" {
			for _, l := range strings.Split(strings.TrimSpace(c.Message), "\n") {
				fmt.Fprintf(s.out, "    %s\n", l)
			}
		} else if c.Summary != "" {
			fmt.Fprintf(s.out, "    %s\n", c.Summary)
		}
		if c.Location != nil {
			fmt.Fprintf(s.out, "  at %s:%d", s.rel(c.Location.File), c.Location.Line)
			if c.Location.Column > 0 {
				fmt.Fprintf(s.out, ":%d", c.Location.Column)
			}
			fmt.Fprintln(s.out)
		}
	}
	for _, l := range s.cfg.Summary {
		fmt.Fprintf(s.out, "  %s\n", l)
	}
	if c != nil {
		var app []symbolize.Frame
		for _, f := range c.Frames {
			if f.Category.InApp() {
				app = append(app, f)
			}
		}
		if len(app) > 0 {
			fmt.Fprintln(s.out, "  in-app frames (crash log):")
			for _, f := range app {
				fmt.Fprintf(s.out, "    %s  %s\n", f.Function, s.location(f.File, f.Line))
			}
		}
	}
	fmt.Fprintln(s.out)
}

func (s *Session) location(file string, line int) string {
	if file == "" {
		return ""
	}
	if line == 0 {
		return s.rel(file)
	}
	return fmt.Sprintf("%s:%d", s.rel(file), line)
}

// printStop says where lldb stopped.
func (s *Session) printStop(res *lldbscript.Result) {
	st := res.Session.Stop
	if st == nil {
		return
	}
	why := st.Reason
	if st.Breakpoint != "" {
		if b := s.breakpointNamed(res, st.Breakpoint); b != "" {
			why += " (" + b + ")"
		}
	}
	fmt.Fprintf(s.out, "stopped: thread #%d, %s  [%.1fs]\n", st.Thread, why, res.Duration.Seconds())
}

// breakpointNamed says what breakpoint "N.M" is.
func (s *Session) breakpointNamed(res *lldbscript.Result, id string) string {
	n := 0
	fmt.Sscanf(id, "%d", &n)
	for _, b := range res.Session.Breakpoints {
		if b.ID == n {
			cmd := strings.TrimPrefix(b.Command, "breakpoint set ")
			if strings.Contains(cmd, "panic_fmt") {
				return "the panic"
			}
			return cmd
		}
	}
	return ""
}

// printStack lists the frames; short lists only the in-app ones and the
// frame at the stop.
func (s *Session) printStack(short bool) {
	if len(s.stack) == 0 {
		fmt.Fprintln(s.out, "no stack")
		return
	}
	src := "lldb"
	if !s.fromLLDB {
		src = "crash log; frame numbers are positions in the log"
	}
	fmt.Fprintf(s.out, "stack (%s, %d frames%s):\n", src, len(s.stack), map[bool]string{true: ", in-app only: `bt` shows all"}[short])
	for i := 0; i < len(s.stack); i++ {
		f := &s.stack[i]
		if short && !f.InApp() && i != 0 {
			continue
		}
		s.printStackLine(i)
		// Recursion: one line for a run of the same function and line.
		j := i + 1
		for j < len(s.stack) && s.stack[j].Function == f.Function && s.stack[j].Line == f.Line && s.stack[j].File == f.File && j != s.selected {
			j++
		}
		if j-i > 2 {
			fmt.Fprintf(s.out, "        ... %d more frames of %s (#%d to #%d: recursion)\n", j-i-1, f.Name, s.stack[i+1].Index, s.stack[j-1].Index)
			i = j - 1
		}
	}
}

func (s *Session) printStackLine(i int) {
	f := &s.stack[i]
	mark := "  "
	if i == s.selected {
		mark = "=>"
	}
	tag := " "
	if f.InApp() {
		tag = "*"
	}
	name := f.Name
	if f.Inlined {
		name += " [inlined]"
	}
	fmt.Fprintf(s.out, "%s%s#%-3d %s  %s\n", mark, tag, f.Index, name, s.location(f.File, f.Line))
}

// printFrame shows a frame and the source around its line.
func (s *Session) printFrame(i int) {
	f := &s.stack[i]
	fmt.Fprintf(s.out, "frame #%d: %s", f.Index, f.Name)
	if f.Args != "" {
		fmt.Fprintf(s.out, "(%s)", f.Args)
	}
	fmt.Fprintln(s.out)
	if f.File == "" {
		fmt.Fprintln(s.out, "  no source location")
		return
	}
	fmt.Fprintf(s.out, "  at %s\n", s.location(f.File, f.Line))
	lines, err := sourceAround(f.File, f.Line, 5)
	if err != nil {
		if v := s.views[i]; v != nil && len(v.Source) > 0 {
			lines = v.Source
		} else {
			fmt.Fprintf(s.out, "  (source not available: %v)\n", err)
			return
		}
	}
	for _, l := range lines {
		mark := "   "
		if l.Current {
			mark = "-> "
		}
		fmt.Fprintf(s.out, "%s%5d  %s\n", mark, l.Line, l.Text)
	}
}

// view returns what lldb prints in frame i, running lldb when the stop's
// survey did not select that frame.
func (s *Session) view(ctx context.Context, i int) (*lldbscript.FrameView, error) {
	if v := s.views[i]; v != nil {
		return v, nil
	}
	if !s.fromLLDB {
		return nil, errors.New("lldb has not run (see above); `run` tries again")
	}
	sel := s.selector(i)
	fmt.Fprintf(s.out, "(asking %s for frame #%d's variables...)\n", filepath.Base(s.cfg.LLDB), s.stack[i].Index)
	res, err := s.lldb(ctx, "frame", s.spec([]lldbscript.FrameSelector{sel}, nil))
	if err != nil {
		return nil, err
	}
	for j := range res.Session.Frames {
		fv := &res.Session.Frames[j]
		if fv.Frame != nil && lldbscript.FunctionKey(fv.Frame.Function) == sel.Function {
			s.views[i] = fv
			return fv, nil
		}
	}
	msg := "lldb did not select the frame"
	for _, fv := range res.Session.Frames {
		if fv.Error != "" {
			msg += ": " + fv.Error
		}
	}
	return nil, errors.New(msg)
}

// sortedUnique sorts and removes duplicates.
func sortedUnique(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, x := range in {
		if i == 0 || x != in[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// Close removes the scratch directory.
func (s *Session) Close() error { return os.RemoveAll(s.cfg.Dir) }
