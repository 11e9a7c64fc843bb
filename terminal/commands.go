package terminal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/fuzztriage/triage/internal/shell"
	"github.com/fuzztriage/triage/lldbscript"
)

// Commands is the command table (help and quit are added by the shell).
func (s *Session) Commands() []*shell.Command {
	return []*shell.Command{
		{
			Name: "bt", Aliases: []string{"backtrace"}, Usage: "bt [app]",
			Help: "show the stack at the stop (in-app frames marked *, the selected one =>)\n\n" +
				"The stack is lldb's backtrace at the stop (the crash, or a breakpoint\n" +
				"you set). `bt app` shows only the in-app frames. When lldb could not\n" +
				"run, it is the crash log's stack.",
			Run: s.cmdBacktrace,
			Complete: func(args []string, word string) []string {
				if len(args) > 0 {
					return nil
				}
				return withPrefix([]string{"app"}, word)
			},
		},
		{
			Name: "frame", Aliases: []string{"f"}, Usage: "frame [N]",
			Help: "select frame N and show the source around its line\n\n" +
				"N is the frame number `bt` shows. Without N, shows the selected frame.\n" +
				"`print`, `vars` and completion work in the selected frame.",
			Run:      s.cmdFrame,
			Complete: s.completeFrame,
		},
		{
			Name: "up", Usage: "up [N]",
			Help: "select the frame N (default 1) callers up",
			Run:  func(ctx context.Context, args []string) error { return s.move(ctx, args, 1) },
		},
		{
			Name: "down", Usage: "down [N]",
			Help: "select the frame N (default 1) callees down",
			Run:  func(ctx context.Context, args []string) error { return s.move(ctx, args, -1) },
		},
		{
			Name: "vars", Aliases: []string{"locals"}, Usage: "vars",
			Help: "show the variables of the selected frame\n\n" +
				"Values come from lldb's `frame variable` (one lldb run the first time a\n" +
				"frame is asked). Enums show their active variant only, using the\n" +
				"binary's DWARF: lldb-19 prints every variant, the inactive ones as garbage.",
			Run: s.cmdVars,
		},
		{
			Name: "print", Aliases: []string{"p"}, Usage: "print PATH",
			Help: "read a Rust-level path in the selected frame and add it to the command file\n\n" +
				"PATH is a variable and fields as Rust names them, e.g.\n" +
				"  print ide_device.channels[0].state\n" +
				"  print self.host.Some.name\n" +
				"Wrappers (Arc, Rc, Box, Mutex, RwLock, RefCell, Cell, UnsafeCell, and\n" +
				"generic wrappers such as CloseableMutex<T>) are stepped through without\n" +
				"naming them; enum variants are named by their Rust names. The path is\n" +
				"translated with the binary's DWARF into the lldb `frame variable` path\n" +
				"(shown with each step), read in one lldb run, and added to the command\n" +
				"file. Tab completes variables and the next field. `print` alone lists\n" +
				"the paths added so far.",
			Run:          s.cmdPrint,
			CompleteWord: s.completePathWord(false),
		},
		{
			Name: "type", Aliases: []string{"ptype"}, Usage: "type NAME|PATH",
			Help: "show a type's layout: fields with offsets, enum variants with lldb's names\n\n" +
				"NAME is a type name (a unique suffix is enough: `type IdeDevice`), or a\n" +
				"Rust path of the selected frame (`type self.channels`) for the type it\n" +
				"reaches. For a wrapper it shows the lldb path to the wrapped value.",
			Run:          s.cmdType,
			CompleteWord: s.completePathWord(true),
		},
		{
			Name: "break", Aliases: []string{"b"}, Usage: "break [FILE:LINE [ignore N]]",
			Help: "add a breakpoint to the command file; without arguments, list them\n\n" +
				"The process then stops at the first hit after N ignored ones (lldb's\n" +
				"`breakpoint modify -i N`), or at the crash if that comes first: `hits`\n" +
				"tells how many times a line runs before the crash. FILE can be any\n" +
				"trailing part of a source path (lib.rs, ide/src/lib.rs); when it names\n" +
				"several files, the one of an in-app frame is used. FILE:LINE:N also works.\n" +
				"The next command that needs the stop reruns lldb to find it.",
			Run:      s.cmdBreak,
			Complete: s.completeLocation,
		},
		{
			Name: "clear", Usage: "clear N|all",
			Help: "remove breakpoint N (as `break` numbers them), or all of them",
			Run:  s.cmdClear,
		},
		{
			Name: "hits", Usage: "hits FILE:LINE",
			Help: "count how many times FILE:LINE runs before the crash\n\n" +
				"Runs the input to the crash with a breakpoint at FILE:LINE that never\n" +
				"stops (a huge ignore count) and reads its hit count at the crash, to\n" +
				"choose the N of `break FILE:LINE ignore N`.",
			Run:      s.cmdHits,
			Complete: s.completeLocation,
		},
		{
			Name: "release", Usage: "release",
			Help: "switch to the release build (line tables only: few variables)",
			Run:  func(ctx context.Context, _ []string) error { return s.switchTo(ctx, Release) },
		},
		{
			Name: "dev", Usage: "dev",
			Help: "switch to the dev build (full debug info: variables and fields)",
			Run:  func(ctx context.Context, _ []string) error { return s.switchTo(ctx, Dev) },
		},
		{
			Name: "script", Usage: "script",
			Help: "show the command file built so far",
			Run:  s.cmdScript,
		},
		{
			Name: "save", Usage: "save FILE",
			Help: "write the command file to FILE\n\n" +
				"Its helper triage_lldb.py (frame selection by function name) is written\n" +
				"next to it, and the fuzz target's output goes to FILE's name with\n" +
				".stdout/.stderr. The file's header says how to rerun it by hand.",
			Run: s.cmdSave,
		},
		{
			Name: "run", Aliases: []string{"r"}, Usage: "run",
			Help: "run the command file in batch lldb and show the parsed result\n\n" +
				"Shows where it stopped, the in-app frames with their variables, and\n" +
				"every printed path's value. The stack of this run becomes the session's.",
			Run: s.cmdRun,
		},
	}
}

// completePathWord completes the Rust path of `print` and `type` (for
// `type`, also type names).
func (s *Session) completePathWord(isType bool) func(args []string, word string) (string, []string) {
	return func(args []string, word string) (string, []string) {
		if len(args) > 0 {
			return "", nil
		}
		keep, opts := s.CompletePath(word)
		if isType && keep == "" {
			opts = append(opts, s.completeTypeName(word)...)
		}
		return keep, opts
	}
}

func (s *Session) completeTypeName(word string) []string {
	if s.types == nil || word == "" {
		return nil
	}
	var out []string
	for _, n := range s.types.TypeNames() {
		base := n
		if i := strings.LastIndex(stripArgs(n), "::"); i >= 0 {
			base = n[i+2:]
		}
		if strings.HasPrefix(n, word) || strings.HasPrefix(base, word) {
			out = append(out, n)
		}
	}
	if len(out) > 200 {
		out = out[:200]
	}
	return out
}

// stripArgs blanks generic arguments so that "::" inside them is not
// taken for the path separator (the length is kept).
func stripArgs(s string) string {
	b := []byte(s)
	depth := 0
	for i, c := range b {
		switch {
		case c == '<':
			depth++
		case c == '>' && depth > 0:
			depth--
		case depth > 0:
			b[i] = ' '
		}
	}
	return string(b)
}

func (s *Session) completeFrame(args []string, word string) []string {
	if len(args) > 0 {
		return nil
	}
	var out []string
	for _, f := range s.stack {
		n := strconv.Itoa(f.Index)
		if strings.HasPrefix(n, word) {
			out = append(out, n)
		}
	}
	return out
}

func (s *Session) completeLocation(args []string, word string) []string {
	if len(args) > 0 {
		if len(args) == 1 {
			return withPrefix([]string{"ignore"}, word)
		}
		return nil
	}
	return s.completeFile(word)
}

func (s *Session) cmdBacktrace(ctx context.Context, args []string) error {
	s.ensureStop(ctx)
	s.printStack(len(args) > 0 && args[0] == "app")
	return nil
}

func (s *Session) cmdFrame(ctx context.Context, args []string) error {
	s.ensureStop(ctx)
	if len(s.stack) == 0 {
		return errors.New("no stack")
	}
	if len(args) == 0 {
		s.printFrame(s.selected)
		return nil
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return fmt.Errorf("frame %q: not a number (see bt)", args[0])
	}
	for i := range s.stack {
		if s.stack[i].Index == n {
			s.selected = i
			s.printFrame(i)
			return nil
		}
	}
	return fmt.Errorf("no frame #%d (frames: #%d to #%d)", n, s.stack[0].Index, s.stack[len(s.stack)-1].Index)
}

func (s *Session) move(ctx context.Context, args []string, dir int) error {
	s.ensureStop(ctx)
	if len(s.stack) == 0 {
		return errors.New("no stack")
	}
	n := 1
	if len(args) > 0 {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil || n < 0 {
			return fmt.Errorf("%q is not a frame count", args[0])
		}
	}
	i := s.selected + dir*n
	if i < 0 || i >= len(s.stack) {
		return fmt.Errorf("no frame there (frames: #%d to #%d)", s.stack[0].Index, s.stack[len(s.stack)-1].Index)
	}
	s.selected = i
	s.printFrame(i)
	return nil
}

func (s *Session) cmdVars(ctx context.Context, args []string) error {
	s.ensureStop(ctx)
	f := s.current()
	if f == nil {
		return errors.New("no frame selected")
	}
	v, err := s.view(ctx, s.selected)
	if err != nil {
		names := s.varNames()
		if len(names) > 0 {
			fmt.Fprintf(s.out, "variables of frame #%d (names from DWARF): %s\n", f.Index, strings.Join(names, ", "))
		}
		return err
	}
	if len(v.Variables) == 0 {
		msg := "no variables"
		if s.profile == Release {
			msg += " (release builds carry line tables only: `dev` switches to the dev build)"
		}
		fmt.Fprintf(s.out, "frame #%d %s: %s\n", f.Index, f.Name, msg)
		return nil
	}
	fmt.Fprintf(s.out, "frame #%d %s:\n", f.Index, f.Name)
	for _, x := range v.Variables {
		t := s.varType(x.Name)
		fmt.Fprintf(s.out, "  %s: %s = %s\n", x.Name, shortType(x.Type), lldbscript.Render(t, x, 2, s.cfg.Registers))
	}
	return nil
}

// shortType drops the allocator argument that every std container type
// spells out.
func shortType(t string) string {
	return strings.ReplaceAll(t, ", alloc::alloc::Global", "")
}

func (s *Session) cmdPrint(ctx context.Context, args []string) error {
	if len(args) == 0 {
		if len(s.exprs) == 0 {
			fmt.Fprintln(s.out, "no paths yet (print PATH adds one)")
		}
		for i, e := range s.exprs {
			fmt.Fprintf(s.out, "  %d. %s  (in %s)\n", i+1, e.Path, e.Frame)
		}
		return nil
	}
	s.ensureStop(ctx)
	path := strings.Join(args, "")
	f := s.current()
	if f == nil {
		return errors.New("no frame selected")
	}
	if s.types == nil {
		return fmt.Errorf("cannot translate %s: %v", path, s.typesErr)
	}
	fns := s.frameFunctions(f)
	if len(fns) == 0 {
		return fmt.Errorf("frame #%d (%s) has no function in the binary's DWARF; select an in-app frame", f.Index, f.Name)
	}
	var p *lldbscript.LLDBPath
	var lastErr error
	for _, fn := range fns {
		tp, err := s.types.Translate(fn, path, s.pathOptions())
		if err == nil {
			p = tp
			break
		}
		lastErr = err
	}
	if p == nil {
		if s.profile == Release {
			return fmt.Errorf("%w (release builds carry line tables only: `dev` switches to the dev build)", lastErr)
		}
		return lastErr
	}
	fmt.Fprintf(s.out, "%s: %s\n", path, shortType(p.TypeName))
	if p.Shadowing != "" {
		fmt.Fprintf(s.out, "  (%s)\n", p.Shadowing)
	}
	fmt.Fprintf(s.out, "  lldb: frame variable %s\n", p.Expr)
	for _, st := range p.Steps {
		if st.Why != "field" && st.Why != "array element" {
			fmt.Fprintf(s.out, "    %-28s %s\n", st.LLDB, st.Why)
		}
	}
	for _, a := range p.Assumes {
		fmt.Fprintf(s.out, "  (reads %s as %s: checked against its discriminant)\n", a.Enum, a.Variant)
	}
	sel := s.selector(s.selected)
	expr := lldbscript.Expr{Name: path, Path: path, Frame: sel.Function}
	added := true
	for _, e := range s.exprs {
		if e.Path == expr.Path && e.Frame == expr.Frame {
			added = false
		}
	}
	if added {
		s.exprs = append(s.exprs, expr)
	}
	if !s.fromLLDB {
		fmt.Fprintln(s.out, "  (added to the command file; lldb has not run, so no value)")
		return nil
	}
	fmt.Fprintf(s.out, "  (reading it with %s...)\n", filepath.Base(s.cfg.LLDB))
	res, err := s.lldb(ctx, "print", s.spec([]lldbscript.FrameSelector{sel}, []lldbscript.Expr{expr}))
	failed := err != nil
	if err == nil {
		read := false
		for _, r := range res.Exprs {
			if r.Name != path {
				continue
			}
			read = true
			if r.Text != "" {
				fmt.Fprintf(s.out, "  = %s\n", r.Text)
			}
			if r.Error != "" {
				fmt.Fprintf(s.out, "  error: %s\n", r.Error)
				failed = true
			}
		}
		failed = failed || !read
	}
	if failed {
		// A path lldb could not read would fail again in the saved
		// command file: it is not kept.
		if added {
			s.exprs = s.exprs[:len(s.exprs)-1]
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w (not added to the command file)", path, err)
		}
		fmt.Fprintln(s.out, "  (not added to the command file: lldb could not read it)")
		return nil
	}
	if added {
		fmt.Fprintf(s.out, "  (added to the command file as path %d)\n", len(s.exprs))
	}
	return nil
}

func (s *Session) cmdType(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: type NAME|PATH")
	}
	if s.types == nil {
		return fmt.Errorf("no DWARF: %v", s.typesErr)
	}
	name := strings.Join(args, " ")
	if rp, err := lldbscript.ParsePath(name); err == nil {
		if t := s.varType(rp.Var); t != nil {
			opt := s.pathOptions()
			opt.KeepWrappers = true
			p, err := lldbscript.TranslateFrom(rp.Var, t, rp.Segments, opt)
			if err != nil {
				return err
			}
			lldbscript.WriteLayout(s.out, p.Type)
			return nil
		}
	}
	t, err := s.types.Type(name)
	if err != nil {
		return err
	}
	lldbscript.WriteLayout(s.out, t)
	return nil
}

// parseLocation reads FILE:LINE[:N] [ignore N] and picks the file.
func (s *Session) parseLocation(args []string) (lldbscript.Breakpoint, error) {
	if len(args) == 0 {
		return lldbscript.Breakpoint{}, errors.New("want FILE:LINE")
	}
	bp, err := lldbscript.ParseBreakpoint(args[0])
	if err != nil {
		return bp, err
	}
	switch {
	case len(args) == 1:
	case len(args) == 3 && args[1] == "ignore":
		n, err := strconv.Atoi(args[2])
		if err != nil || n < 0 {
			return bp, fmt.Errorf("ignore %q: not a non-negative number", args[2])
		}
		bp.Ignore = n
	default:
		return bp, fmt.Errorf("unexpected %q (want FILE:LINE [ignore N])", strings.Join(args[1:], " "))
	}
	bp.File = s.pickFile(bp.File)
	return bp, nil
}

// pickFile resolves a file name that names several source files to the
// one of an in-app frame, saying so.
func (s *Session) pickFile(name string) string {
	if len(s.files) == 0 {
		return name
	}
	matches := matchFiles(s.files, name)
	switch {
	case len(matches) == 0:
		fmt.Fprintf(s.out, "note: no source file of %s ends with %s: lldb will leave the breakpoint pending\n", filepath.Base(s.binary), name)
		return name
	case len(matches) == 1:
		return name
	}
	// The file of the selected frame, else of the topmost in-app frame
	// that has one of them: the code the user is looking at.
	order := []int{s.selected}
	for i := range s.stack {
		if s.stack[i].InApp() {
			order = append(order, i)
		}
	}
	for _, i := range order {
		if i < 0 || i >= len(s.stack) {
			continue
		}
		for _, m := range matches {
			if s.stack[i].File != "" && filepath.Clean(s.stack[i].File) == m {
				pick := shortestSuffix(s.files, m)
				fmt.Fprintf(s.out, "note: %s names %d source files; using %s (frame #%d's)\n", name, len(matches), pick, s.stack[i].Index)
				return pick
			}
		}
	}
	var short []string
	for _, m := range matches {
		short = append(short, shortestSuffix(s.files, m))
	}
	sort.Strings(short)
	if len(short) > 6 {
		short = append(short[:6], "...")
	}
	fmt.Fprintf(s.out, "note: %s names %d source files (%s); lldb sets a location in each\n", name, len(matches), strings.Join(short, ", "))
	return name
}

func (s *Session) cmdBreak(ctx context.Context, args []string) error {
	if len(args) == 0 {
		if len(s.breaks) == 0 {
			fmt.Fprintln(s.out, "no breakpoints (the process stops at the crash)")
		}
		for i, b := range s.breaks {
			fmt.Fprintf(s.out, "  %d. %s\n", i+1, describeBreak(b))
		}
		return nil
	}
	bp, err := s.parseLocation(args)
	if err != nil {
		return err
	}
	s.breaks = append(s.breaks, bp)
	s.stale = true
	fmt.Fprintf(s.out, "breakpoint %d: %s\n", len(s.breaks), describeBreak(bp))
	fmt.Fprintln(s.out, "  (the stop moves to it if it is reached before the crash; `bt` shows where)")
	return nil
}

func describeBreak(b lldbscript.Breakpoint) string {
	d := fmt.Sprintf("%s:%d", b.File, b.Line)
	if b.Ignore > 0 {
		d += fmt.Sprintf(" ignore %d (stops at hit %d)", b.Ignore, b.Ignore+1)
	}
	return d
}

func (s *Session) cmdClear(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: clear N|all")
	}
	if args[0] == "all" {
		s.breaks = nil
		s.stale = true
		fmt.Fprintln(s.out, "all breakpoints removed")
		return nil
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > len(s.breaks) {
		return fmt.Errorf("no breakpoint %q (break lists them)", args[0])
	}
	s.breaks = append(s.breaks[:n-1], s.breaks[n:]...)
	s.stale = true
	fmt.Fprintf(s.out, "breakpoint %d removed\n", n)
	return nil
}

func (s *Session) cmdHits(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: hits FILE:LINE")
	}
	bp, err := s.parseLocation(args)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "counting hits of %s:%d up to the crash (%s build)...\n", bp.File, bp.Line, s.profile)
	hc, err := s.countHits(ctx, bp)
	if err != nil {
		return err
	}
	loc := fmt.Sprintf("%s:%d", bp.File, bp.Line)
	switch hc.Hits {
	case 0:
		fmt.Fprintf(s.out, "%s was not hit before the crash\n", loc)
	case 1:
		fmt.Fprintf(s.out, "%s was hit 1 time before the crash\n  `break %s` stops there\n", loc, loc)
	default:
		fmt.Fprintf(s.out, "%s was hit %d times before the crash\n  `break %s ignore %d` stops at the last of them\n", loc, hc.Hits, loc, hc.Hits-1)
	}
	if hc.Locations > 1 {
		fmt.Fprintf(s.out, "  (%d code locations at that line: one run of it can hit several; ignore counts them the same way)\n", hc.Locations)
	}
	return nil
}

func (s *Session) switchTo(ctx context.Context, profile string) error {
	if s.profile == profile {
		fmt.Fprintf(s.out, "already on the %s build (%s)\n", profile, s.rel(s.binary))
		return nil
	}
	if err := s.use(ctx, profile); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "switched to the %s build: %s\n", profile, s.rel(s.binary))
	s.refresh(ctx, true)
	return nil
}

func (s *Session) cmdScript(ctx context.Context, args []string) error {
	plan, err := lldbscript.Setup(ctx, s.scriptSpec(), s.runOptions(s.scratch("script"), "session.lldb"))
	if err != nil {
		return err
	}
	fmt.Fprint(s.out, plan.Script)
	for _, e := range plan.Exprs {
		if e.Error != "" {
			fmt.Fprintf(s.out, "note: %s: %s\n", e.Name, e.Error)
		}
	}
	return nil
}

func (s *Session) cmdSave(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: save FILE")
	}
	abs, err := filepath.Abs(args[0])
	if err != nil {
		return err
	}
	spec := s.scriptSpec()
	plan, err := lldbscript.Setup(ctx, spec, s.runOptions(filepath.Dir(abs), filepath.Base(abs)))
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "saved %s (%d breakpoints, %d paths; helper %s)\n", args[0], len(spec.Breakpoints), len(spec.Exprs), plan.HelperPath)
	fmt.Fprintf(s.out, "rerun it by hand:\n  %s\n", plan.HandRun)
	return nil
}

func (s *Session) cmdRun(ctx context.Context, args []string) error {
	fmt.Fprintf(s.out, "running the command file (%d breakpoints, %d paths) in %s on the %s build...\n", len(s.breaks), len(s.exprs), filepath.Base(s.cfg.LLDB), s.profile)
	res, err := s.lldb(ctx, "run", s.scriptSpec())
	if res != nil && res.Session != nil && (res.Session.Stop != nil || len(res.Session.Backtrace) > 0) {
		s.load(res)
		s.stale = false
		s.report(res)
	}
	if err != nil {
		return err
	}
	return nil
}

// report shows a finished run of the command file.
func (s *Session) report(res *lldbscript.Result) {
	s.printStop(res)
	for _, b := range res.Session.Breakpoints {
		if b.Error != "" {
			fmt.Fprintf(s.out, "breakpoint error: %s: %s\n", b.Command, b.Error)
		} else if b.Locations == 0 {
			fmt.Fprintf(s.out, "warning: %s found no code (pending)\n", b.Command)
		}
	}
	s.printStack(true)
	for i := range s.stack {
		v := s.views[i]
		if v == nil {
			continue
		}
		f := &s.stack[i]
		fmt.Fprintf(s.out, "\nframe #%d %s  %s\n", f.Index, f.Name, s.location(f.File, f.Line))
		for _, x := range v.Variables {
			fmt.Fprintf(s.out, "  %s = %s\n", x.Name, lldbscript.Render(s.typeIn(f, x.Name), x, 1, s.cfg.Registers))
		}
	}
	if len(res.Exprs) > 0 {
		fmt.Fprintln(s.out, "\npaths:")
		for _, r := range res.Exprs {
			line := "  " + r.Name
			if r.Text != "" {
				line += " = " + r.Text
			}
			if r.Error != "" {
				line += "  (error: " + r.Error + ")"
			}
			fmt.Fprintln(s.out, line)
		}
	}
	for _, e := range res.Session.Errors {
		if strings.HasPrefix(e.Command, "breakpoint set") {
			continue
		}
		fmt.Fprintf(s.out, "lldb error: %s: %s\n", e.Command, firstLine(e.Message))
	}
	fmt.Fprintf(s.out, "\ncommand file %s, transcript %s\n", res.ScriptPath, res.TranscriptPath)
}

// typeIn is the DWARF type of a variable of frame f.
func (s *Session) typeIn(f *StackFrame, name string) *lldbscript.Type {
	for _, fn := range s.frameFunctions(f) {
		if v, _ := fn.Binding(name, f.Line); v != nil {
			return v.Type
		}
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
