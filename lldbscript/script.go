package lldbscript

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/fuzztriage/triage/crashkind"

	"github.com/fuzztriage/triage/internal/atomicfile"
	"github.com/fuzztriage/triage/symbolize"
	"github.com/fuzztriage/triage/templates"
)

// Spec says what one lldb session does. Callers fill it from what they know
// (the trace, the user's flags); Prepare turns it into a command file.
type Spec struct {
	// Binary is the fuzz binary to debug.
	Binary string `json:"binary" yaml:"binary"`
	// Args are libFuzzer's flags for the run (-timeout=N for timeouts,
	// -rss_limit_mb=N for OOMs): "-name=value" with plain characters only.
	Args []string `json:"args" yaml:"args"`
	// Input is the crash input. Its name comes from elsewhere (a fuzzing
	// machine, a bug report) and may hold newlines, quotes or backticks
	// that lldb would read as commands or expressions, so the inferior
	// never sees it: Prepare gives the inferior a copy in the session
	// directory under a name of hex digits (see Plan.InputName).
	Input string `json:"input" yaml:"input"`
	// Kind is the crash kind; it picks the extra stops (see kindStops).
	Kind symbolize.CrashKind `json:"kind" yaml:"kind"`
	// ASan says the binary is built with AddressSanitizer.
	ASan bool `json:"asan,omitempty" yaml:"asan,omitempty"`
	// Frames are the frames to inspect, top first (see FramesFromTrace).
	Frames []FrameSelector `json:"frames,omitempty" yaml:"frames,omitempty"`
	// Breakpoints are extra file:line stops (with ignore counts).
	Breakpoints []Breakpoint `json:"breakpoints,omitempty" yaml:"breakpoints,omitempty"`
	// Exprs are values to read, as Rust paths (see Translate).
	Exprs []Expr `json:"exprs,omitempty" yaml:"exprs,omitempty"`
	// BacktraceDepth is N of `bt N` (default 64: a stop inside a
	// sanitizer's or libFuzzer's report, such as an RSS-limit stop that
	// finds thread 1 printing the malloc-limit report, has 30 and more
	// frames of runtime above the input's).
	BacktraceDepth int `json:"backtrace_depth,omitempty" yaml:"backtrace_depth,omitempty"`
	// SourceContext is the source lines shown on each side of a frame's
	// line (default 5).
	SourceContext int `json:"source_context,omitempty" yaml:"source_context,omitempty"`
	// MaxChildren caps the children lldb prints per value (default 64).
	MaxChildren int `json:"max_children,omitempty" yaml:"max_children,omitempty"`
	// InferiorStdout and InferiorStderr are the names (in the session
	// directory) of the files that receive the fuzz binary's output
	// (default: the command file's name with .stdout and .stderr).
	InferiorStdout string `json:"inferior_stdout,omitempty" yaml:"inferior_stdout,omitempty"`
	InferiorStderr string `json:"inferior_stderr,omitempty" yaml:"inferior_stderr,omitempty"`
	// Title is the command file's first comment line (any text: comments
	// are escaped so that nothing in them can end the comment).
	Title string `json:"title,omitempty" yaml:"title,omitempty"`
	// Finish lets the process run to its end after the stop (its stops
	// disabled, its signals passed on without stopping), so that one run
	// gives both the stack at the stop and the program's own verdict: its
	// exit status and libFuzzer's report (Session.Ended). A timeout or an
	// out-of-memory costs seconds; this way it is paid once.
	Finish bool `json:"finish,omitempty" yaml:"finish,omitempty"`
}

// FrameSelector picks one frame by function name (matched with
// FunctionKey, so hashes, generics and closure numbers do not matter).
type FrameSelector struct {
	Function string `json:"function" yaml:"function"`
	// Nth picks a later occurrence (recursion); 0 is the topmost.
	Nth int `json:"nth,omitempty" yaml:"nth,omitempty"`
	// Where is the frame's file:line in the trace, for the comment.
	Where string `json:"where,omitempty" yaml:"where,omitempty"`
	// Under, when set, selects by source directory instead of Function:
	// the Nth distinct function whose file is under one of these dirs.
	Under []string `json:"under,omitempty" yaml:"under,omitempty"`
}

// Args is the argument list of the triage-frame command. Function names
// and directories come from crash reports; one that cannot be an lldb
// argument fails the command file.
func (f FrameSelector) Args() (string, error) {
	var parts []string
	add := func(s string) error {
		q, err := quoteArg(s)
		parts = append(parts, q)
		return err
	}
	if len(f.Under) > 0 {
		for _, d := range f.Under {
			parts = append(parts, "--under")
			if err := add(d); err != nil {
				return "", err
			}
		}
	} else if err := add(f.Function); err != nil {
		return "", err
	}
	if f.Nth > 0 {
		parts = append(parts, strconv.Itoa(f.Nth))
	}
	return strings.Join(parts, " "), nil
}

// Label names the frame in comments.
func (f FrameSelector) Label() string {
	if len(f.Under) > 0 {
		return fmt.Sprintf("in-app function #%d (source under %s)", f.Nth+1, strings.Join(f.Under, ", "))
	}
	return f.Function
}

// FramesUnder selects the top n distinct functions whose source is under
// dirs: for crashes whose report has no stack (stack overflow, timeout,
// OOM without a sanitizer) the frames are found by where their code lives.
func FramesUnder(dirs []string, n int) []FrameSelector {
	var out []FrameSelector
	for i := 0; i < n; i++ {
		out = append(out, FrameSelector{Under: dirs, Nth: i})
	}
	return out
}

// Breakpoint is a file:line stop; Ignore skips its first hits.
type Breakpoint struct {
	File   string `json:"file" yaml:"file"`
	Line   int    `json:"line" yaml:"line"`
	Ignore int    `json:"ignore,omitempty" yaml:"ignore,omitempty"`
}

// ParseBreakpoint parses FILE:LINE[:IGNORE].
func ParseBreakpoint(s string) (Breakpoint, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return Breakpoint{}, fmt.Errorf("breakpoint %q: want FILE:LINE or FILE:LINE:IGNORE", s)
	}
	line, err := strconv.Atoi(parts[1])
	if err != nil || line <= 0 {
		return Breakpoint{}, fmt.Errorf("breakpoint %q: line %q is not a positive number", s, parts[1])
	}
	b := Breakpoint{File: parts[0], Line: line}
	if len(parts) == 3 {
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 0 {
			return Breakpoint{}, fmt.Errorf("breakpoint %q: ignore count %q is not a non-negative number", s, parts[2])
		}
		b.Ignore = n
	}
	return b, nil
}

// Expr is a value to read: Path is a Rust path (`self.channels[0].state`)
// translated with the binary's DWARF, evaluated in Frame (a function name;
// empty: the first inspected frame that has the path's variable).
type Expr struct {
	Name  string `json:"name" yaml:"name"`
	Path  string `json:"path" yaml:"path"`
	Frame string `json:"frame,omitempty" yaml:"frame,omitempty"`
}

// ParseExpr parses `NAME: rust.path` (or a bare path, named after
// itself), with an optional `@FUNCTION` suffix naming the frame.
func ParseExpr(s string) (Expr, error) {
	var e Expr
	name, path, ok := strings.Cut(s, ":")
	if !ok || strings.HasPrefix(path, ":") { // no NAME, or a "::" inside the frame name
		name, path = "", s
	}
	e.Name = strings.TrimSpace(name)
	path = strings.TrimSpace(path)
	if p, frame, ok := strings.Cut(path, "@"); ok {
		path, e.Frame = strings.TrimSpace(p), strings.TrimSpace(frame)
	}
	e.Path = path
	if e.Path == "" {
		return e, fmt.Errorf("expression %q: empty path (want NAME: rust.path[@FUNCTION])", s)
	}
	if e.Name == "" {
		e.Name = e.Path
	}
	return e, nil
}

// FramesFromTrace picks the top n in-app frames of a trace (frames whose
// category is the code under test or the fuzz target), one per function.
func FramesFromTrace(tr *symbolize.Trace, n int) []FrameSelector {
	if tr == nil {
		return nil
	}
	var out []FrameSelector
	seen := map[string]bool{}
	for _, f := range tr.Frames {
		if !f.Category.InApp() {
			continue
		}
		name := f.Function
		if name == "" {
			name = f.Normalized
		}
		if name == "" {
			continue
		}
		k := FunctionKey(name)
		if seen[k] {
			continue
		}
		seen[k] = true
		sel := FrameSelector{Function: k}
		if f.File != "" {
			sel.Where = fmt.Sprintf("%s:%d", filepath.Base(f.File), f.Line)
		}
		out = append(out, sel)
		if len(out) == n {
			break
		}
	}
	return out
}

// Kind is the crash kind the stop shows by itself, or "" when it takes
// more than the stop to tell.
func (s *Stop) Kind() symbolize.CrashKind {
	if s == nil || s.Frame == nil {
		return ""
	}
	return crashkind.FromStop(s.Frame.Function)
}

// frameFormat is lldb-19's default frame format with full source paths.
const frameFormat = "frame #${frame.index}: ${frame.pc}{ ${module.file.basename}{`${function.name-with-args}{${frame.no-debug}${function.pc-offset}}}}{ at ${line.file.fullpath}:${line.number}{:${line.column}}}{${function.is-optimized} [opt]}{${frame.is-artificial} [artificial]}\\n"

// Plan is a prepared session: the files written and how every expression
// was translated.
type Plan struct {
	Spec       *Spec
	ScriptPath string
	HelperPath string
	// Script is the command file's text.
	Script string
	// Exprs are the expressions with their translations, in file order.
	Exprs []PlannedExpr
	// Formatters are the Rust formatters loaded (nil: none).
	Formatters *Formatters
	// HandRun is the command line that reruns the file by hand (safe to
	// paste into a shell: every word is quoted as needed).
	HandRun string
	// InputName is the inferior's input: a file in the session directory
	// named by hex digits, given to the binary relative to that directory.
	InputName string
}

// PlannedExpr is one expression as written into the command file.
type PlannedExpr struct {
	Name string `json:"name" yaml:"name"`
	Rust string `json:"rust" yaml:"rust"`
	// Frame is the function it is evaluated in ("" = the stop frame).
	Frame string `json:"frame,omitempty" yaml:"frame,omitempty"`
	// Path is the translation (nil when it failed or was not needed).
	Path *LLDBPath `json:"path,omitempty" yaml:"path,omitempty"`
	// Commands are the lldb commands written for it; Roles says what each
	// reads: "value", "string-len", "string-data", "discr N" (the
	// discriminant of the Nth variant the path assumes).
	Commands []string `json:"commands" yaml:"commands"`
	Roles    []string `json:"-" yaml:"-"`
	// Error says why it could not be translated (the file then tries
	// the text as a plain `frame variable` path).
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
}

type scriptFrame struct {
	FrameSelector
	Exprs []PlannedExpr
}

type scriptData struct {
	Spec            *Spec
	Title, Artifact string
	InputName       string
	Kind            symbolize.CrashKind
	HandRun         string
	FrameFormat     string
	Formatters      *Formatters
	NoFormattersWhy string
	HelperPath      string
	Stops           []crashkind.Stop
	AfterStop       []crashkind.Stop
	Frames          []scriptFrame
	StopExprs       []PlannedExpr
}

// PrepareOptions say where and how to write a session.
type PrepareOptions struct {
	// Dir receives the command file, the helper and the inferior's output.
	Dir string
	// ScriptName is the command file's name (default "session.lldb").
	ScriptName string
	// LLDB is the lldb binary named in the hand-run line (default lldb-19).
	LLDB string
	// Templates are the templates in force (default: embedded).
	Templates templates.Set
	// Formatters to load; nil loads none. See FindFormatters.
	Formatters *Formatters
	// NoFormattersWhy is written into the file when Formatters is nil.
	NoFormattersWhy string
	// Types is the binary's DWARF, for expressions (loaded when nil and
	// the spec has expressions).
	Types *Types
	// WriteFile writes the session's files (default atomicfile.Write);
	// the pipeline passes its store's, which never writes through a link.
	WriteFile func(path string, data []byte) error
}

func (s *Spec) withDefaults(script string) *Spec {
	c := *s
	if c.BacktraceDepth <= 0 {
		c.BacktraceDepth = 64
	}
	if c.SourceContext <= 0 {
		c.SourceContext = 5
	}
	if c.MaxChildren <= 0 {
		c.MaxChildren = 64
	}
	stem := strings.TrimSuffix(script, ".lldb")
	if c.InferiorStdout == "" {
		c.InferiorStdout = stem + ".stdout"
	}
	if c.InferiorStderr == "" {
		c.InferiorStderr = stem + ".stderr"
	}
	if c.Kind == "" {
		c.Kind = symbolize.KindRustPanic
	}
	return &c
}

// Prepare writes the command file, its helper and the inferior's input
// into opt.Dir. Everything that comes from outside (the input's name, the
// trace's function names and files, the user's breakpoints and paths) is
// quoted for the place it lands in, or rejected with ErrUnsafe when no
// quoting can make it safe there.
func Prepare(spec *Spec, opt PrepareOptions) (*Plan, error) {
	if spec.Binary == "" {
		return nil, fmt.Errorf("lldb session: no binary")
	}
	if spec.Input == "" {
		return nil, fmt.Errorf("lldb session: no input")
	}
	if opt.Dir == "" {
		return nil, fmt.Errorf("lldb session: no directory for the command file")
	}
	if err := CheckBinaryPath(spec.Binary); err != nil {
		return nil, err
	}
	for _, a := range spec.Args {
		if err := CheckFlag(a); err != nil {
			return nil, err
		}
	}
	if opt.WriteFile == nil {
		opt.WriteFile = atomicfile.Write
	}
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return nil, err
	}
	if opt.ScriptName == "" {
		opt.ScriptName = "session.lldb"
	}
	if !safeFileName(opt.ScriptName) {
		return nil, fmt.Errorf("%w: command file name %q", ErrUnsafe, opt.ScriptName)
	}
	if opt.LLDB == "" {
		opt.LLDB = DefaultLLDB
	}
	sp := spec.withDefaults(opt.ScriptName)
	for _, n := range []string{sp.InferiorStdout, sp.InferiorStderr} {
		if !safeFileName(n) {
			return nil, fmt.Errorf("%w: inferior output file name %q (a plain name in the session directory)", ErrUnsafe, n)
		}
	}
	plan := &Plan{Spec: sp, ScriptPath: filepath.Join(opt.Dir, opt.ScriptName), HelperPath: filepath.Join(opt.Dir, templates.LLDBHelper), Formatters: opt.Formatters}

	helper, _, err := opt.Templates.Read(templates.LLDBHelper)
	if err != nil {
		return nil, err
	}
	if err := opt.WriteFile(plan.HelperPath, helper); err != nil {
		return nil, err
	}
	if plan.InputName, err = placeInput(sp.Input, opt.Dir, opt.WriteFile); err != nil {
		return nil, err
	}

	data := scriptData{Spec: sp, Title: sp.Title, Artifact: sp.Input, InputName: plan.InputName, Kind: sp.Kind, FrameFormat: frameFormat,
		Formatters: opt.Formatters, NoFormattersWhy: opt.NoFormattersWhy, HelperPath: templates.LLDBHelper}
	if data.NoFormattersWhy == "" {
		data.NoFormattersWhy = "not requested."
	}
	if data.Title == "" {
		data.Title = fmt.Sprintf("%s on %s", filepath.Base(sp.Binary), filepath.Base(data.Artifact))
	}
	// The stops of the kind (crashkind's table); every sanitizer report
	// ends in __sanitizer::Die, so sanitizer builds stop there too.
	kind := crashkind.Of(sp.Kind)
	data.Stops = append(data.Stops, kind.Stops...)
	if sp.ASan && !slices.Contains(data.Stops, crashkind.StopSanitizerDie) {
		data.Stops = append(data.Stops, crashkind.StopSanitizerDie)
	}
	data.AfterStop = kind.After
	plan.HandRun = HandRunCommand(opt.LLDB, opt.Dir, opt.ScriptName, sp.Binary, append(append([]string(nil), sp.Args...), plan.InputName))
	data.HandRun = plan.HandRun

	for _, f := range sp.Frames {
		data.Frames = append(data.Frames, scriptFrame{FrameSelector: f})
	}
	if len(sp.Exprs) > 0 {
		ts := opt.Types
		if ts == nil {
			ts, err = LoadTypes(sp.Binary)
			if err != nil {
				return nil, err
			}
		}
		vec := opt.Formatters.Has("Vec")
		for _, e := range sp.Exprs {
			pe, frameIdx := planExpr(ts, &data, e, PathOptions{VecFormatter: vec})
			if frameIdx < 0 {
				data.StopExprs = append(data.StopExprs, pe)
			} else {
				data.Frames[frameIdx].Exprs = append(data.Frames[frameIdx].Exprs, pe)
			}
		}
		// Expressions in file order: stop frame first, then per frame.
		plan.Exprs = append(plan.Exprs, data.StopExprs...)
		for _, f := range data.Frames {
			plan.Exprs = append(plan.Exprs, f.Exprs...)
		}
	}

	text, _, err := opt.Templates.Read(templates.LLDBSession)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.New(templates.LLDBSession).Funcs(template.FuncMap{
		"quote":   quoteArg,
		"comment": Comment,
		"join":    strings.Join,
		"inc":     func(i int) int { return i + 1 },
	}).Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", templates.LLDBSession, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("template %s: %w", templates.LLDBSession, err)
	}
	plan.Script = buf.String()
	if err := opt.WriteFile(plan.ScriptPath, buf.Bytes()); err != nil {
		return nil, err
	}
	return plan, nil
}

// planExpr translates one expression and picks its frame: the named one
// (added to the frames when missing) or the first inspected frame whose
// function has the path's variable. -1 means the stop frame.
func planExpr(ts *Types, data *scriptData, e Expr, opt PathOptions) (PlannedExpr, int) {
	pe := PlannedExpr{Name: e.Name, Rust: e.Path}
	rp, perr := ParsePath(e.Path)
	idx := -1
	if e.Frame != "" {
		key := FunctionKey(e.Frame)
		for i, f := range data.Frames {
			if FunctionKey(f.Function) == key {
				idx = i
				break
			}
		}
		if idx < 0 {
			data.Frames = append(data.Frames, scriptFrame{FrameSelector: FrameSelector{Function: key}})
			idx = len(data.Frames) - 1
		}
	} else if perr == nil {
		for i, f := range data.Frames {
			if len(f.Under) > 0 {
				continue
			}
			for _, fn := range ts.Function(f.Function) {
				if fn.Var(rp.Var) != nil {
					idx = i
					break
				}
			}
			if idx >= 0 {
				break
			}
		}
	}
	if idx >= 0 {
		pe.Frame = data.Frames[idx].Function
	}
	fallback := func(msg string) (PlannedExpr, int) {
		pe.Error = msg
		// The text goes into the file as a plain `frame variable` path
		// only when it is one; anything else stays a comment.
		if err := CheckVariablePath(e.Path); err != nil {
			pe.Error += "; " + err.Error()
			return pe, idx
		}
		pe.Commands = []string{"frame variable " + e.Path}
		pe.Roles = []string{"value"}
		return pe, idx
	}
	if perr != nil {
		return fallback(perr.Error())
	}
	if idx < 0 {
		var names []string
		for _, f := range data.Frames {
			names = append(names, f.Function)
		}
		return fallback(fmt.Sprintf("no inspected frame (%s) has a variable %q; name one with @FUNCTION", strings.Join(names, ", "), rp.Var))
	}
	var lastErr error
	for _, fn := range ts.Function(data.Frames[idx].Function) {
		p, err := ts.Translate(fn, e.Path, opt)
		if err != nil {
			lastErr = err
			continue
		}
		pe.Path = p
		if c := p.Command(); strings.ContainsAny(c, "`\r\n") || strings.IndexFunc(c, isControl) >= 0 {
			lastErr = fmt.Errorf("%w: translated command %q", ErrUnsafe, c)
			continue
		}
		pe.Commands = []string{p.Command()}
		pe.Roles = []string{"value"}
		if p.String != nil {
			pe.Commands = append(pe.Commands, "frame variable "+p.String.Len, "frame variable "+p.String.Data)
			pe.Roles = append(pe.Roles, "string-len", "string-data")
		}
		for i, a := range p.Assumes {
			if a.Discr != "" {
				pe.Commands = append(pe.Commands, "frame variable "+a.Discr)
				pe.Roles = append(pe.Roles, fmt.Sprintf("discr %d", i))
			}
		}
		return pe, idx
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("function %s is not in the binary's DWARF", data.Frames[idx].Function)
	}
	return fallback(lastErr.Error())
}

// HandRunCommand is the shell command that reruns a command file: it
// changes into the session directory (the file names its files relative to
// it) and runs lldb with the binary and its arguments. Every word is
// shell-quoted, so the line is safe to paste.
func HandRunCommand(lldb, dir, script, binary string, args []string) string {
	parts := []string{lldb, "-b", "-O", ShellQuote("settings set interpreter.stop-command-source-on-error false"), "-s", ShellQuote(script), "--", ShellQuote(binary)}
	for _, a := range args {
		parts = append(parts, ShellQuote(a))
	}
	line := strings.Join(parts, " ")
	if dir != "" {
		line = "cd " + ShellQuote(dir) + " && " + line
	}
	return line
}

// ShellQuote quotes s for a POSIX shell when it needs it. The result is
// always one line: a string holding control characters (a file name with
// a newline) becomes "$(printf '%b' '...')" with the characters as octal
// escapes, so a printed command can be pasted as it is.
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '=' || r == ':' || r == ',' || r == '+' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	if strings.IndexFunc(s, isControl) < 0 {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\0%03o`, c)
		case c == '\'':
			b.WriteString(`'\''`)
		default:
			b.WriteByte(c)
		}
	}
	return `"$(printf '%b' '` + b.String() + `')"`
}
