package lldbscript

import (
	"regexp"
	"strconv"
	"strings"
)

// Session is what one batch lldb run showed, parsed from its transcript
// (stdout and stderr merged, so errors stay next to their commands).
type Session struct {
	// Stop is the first stop after `run` (nil when the process never
	// stopped: it exited, or it was never launched).
	Stop *Stop `json:"stop,omitempty" yaml:"stop,omitempty"`
	// Exit is set when the process exited instead of stopping, i.e. no
	// breakpoint was hit and no signal stopped it.
	Exit *Exit `json:"exit,omitempty" yaml:"exit,omitempty"`
	// Ended is how the process ended when the session let it run on after
	// its stop (Spec.Finish).
	Ended *Exit `json:"ended,omitempty" yaml:"ended,omitempty"`
	// Backtrace is the last `bt` printed.
	Backtrace []Frame `json:"backtrace,omitempty" yaml:"backtrace,omitempty"`
	// Frames are the frames selected (triage-frame, frame select, up,
	// down), each with its source and variables.
	Frames []FrameView `json:"frames,omitempty" yaml:"frames,omitempty"`
	// Values are the values printed by `frame variable PATH`, `expr` and
	// `p`, in order.
	Values []ValueResult `json:"values,omitempty" yaml:"values,omitempty"`
	// Breakpoints are the breakpoints set.
	Breakpoints []BreakpointResult `json:"breakpoints,omitempty" yaml:"breakpoints,omitempty"`
	// Errors are the commands that failed, with lldb's message.
	Errors []CommandError `json:"errors,omitempty" yaml:"errors,omitempty"`
	// Blocks are the transcript cut at each echoed command.
	Blocks []Block `json:"-" yaml:"-"`
}

// Stop is why and where the process stopped.
type Stop struct {
	Thread     int    `json:"thread" yaml:"thread"`
	ThreadName string `json:"thread_name,omitempty" yaml:"thread_name,omitempty"`
	// Reason is lldb's stop reason text ("breakpoint 1.1", "signal SIGSEGV: ...").
	Reason string `json:"reason" yaml:"reason"`
	// Signal is the signal name for signal stops (SIGSEGV, SIGALRM, SIGABRT).
	Signal string `json:"signal,omitempty" yaml:"signal,omitempty"`
	// Breakpoint is the breakpoint id ("1.1") for breakpoint stops.
	Breakpoint string `json:"breakpoint,omitempty" yaml:"breakpoint,omitempty"`
	Frame      *Frame `json:"frame,omitempty" yaml:"frame,omitempty"`
}

// Exit is a process exit.
type Exit struct {
	Status int    `json:"status" yaml:"status"`
	Text   string `json:"text" yaml:"text"`
}

// Lost says lldb lost the process (its connection to lldb-server failed,
// "exited with status = -1 ... lost connection"): the status is lldb's,
// not one the program returned.
func (e *Exit) Lost() bool { return e != nil && e.Status == -1 }

// Frame is one backtrace frame as lldb printed it.
type Frame struct {
	Index   int    `json:"index" yaml:"index"`
	Address uint64 `json:"address,omitempty" yaml:"address,omitempty"`
	Module  string `json:"module,omitempty" yaml:"module,omitempty"`
	// Function is the function (for an inlined frame: the inlined one).
	Function string `json:"function,omitempty" yaml:"function,omitempty"`
	// Args is the argument list lldb printed, without the parentheses.
	Args string `json:"args,omitempty" yaml:"args,omitempty"`
	File string `json:"file,omitempty" yaml:"file,omitempty"`
	Line int    `json:"line,omitempty" yaml:"line,omitempty"`
	// Column is 0 when lldb showed none.
	Column int `json:"column,omitempty" yaml:"column,omitempty"`
	// Offset is the "+ N" of frames without line information.
	Offset int `json:"offset,omitempty" yaml:"offset,omitempty"`
	// Inlined says lldb shows this frame as inlined into InlinedInto.
	Inlined     bool   `json:"inlined,omitempty" yaml:"inlined,omitempty"`
	InlinedInto string `json:"inlined_into,omitempty" yaml:"inlined_into,omitempty"`
	Optimized   bool   `json:"optimized,omitempty" yaml:"optimized,omitempty"`
	Selected    bool   `json:"selected,omitempty" yaml:"selected,omitempty"`
}

// FrameView is one selected frame with what was printed in it.
type FrameView struct {
	// Command is the command that selected it.
	Command string `json:"command" yaml:"command"`
	// Thread is set when triage-frame switched threads.
	Thread    int          `json:"thread,omitempty" yaml:"thread,omitempty"`
	Frame     *Frame       `json:"frame,omitempty" yaml:"frame,omitempty"`
	Source    []SourceLine `json:"source,omitempty" yaml:"source,omitempty"`
	Variables []*Value     `json:"variables,omitempty" yaml:"variables,omitempty"`
	Error     string       `json:"error,omitempty" yaml:"error,omitempty"`
}

// SourceLine is one line of a source listing.
type SourceLine struct {
	Line    int    `json:"line" yaml:"line"`
	Text    string `json:"text" yaml:"text"`
	Current bool   `json:"current,omitempty" yaml:"current,omitempty"`
}

// Value is a value lldb printed: `(type) name = value` with children.
type Value struct {
	Name string `json:"name" yaml:"name"`
	Type string `json:"type,omitempty" yaml:"type,omitempty"`
	// Value is the scalar or summary text ("" for plain aggregates).
	Value    string   `json:"value,omitempty" yaml:"value,omitempty"`
	Children []*Value `json:"children,omitempty" yaml:"children,omitempty"`
}

// Child returns the named child or nil.
func (v *Value) Child(name string) *Value {
	if v == nil {
		return nil
	}
	for _, c := range v.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Lookup follows child names separated by dots ("$variants$.$variant$1.value").
func (v *Value) Lookup(path string) *Value {
	cur := v
	for _, p := range strings.Split(path, ".") {
		if p == "" {
			continue
		}
		cur = cur.Child(p)
		if cur == nil {
			return nil
		}
	}
	return cur
}

// ValueResult is one value-printing command and what it printed.
type ValueResult struct {
	// Label is the name from the `# expr NAME: PATH` comment before it.
	Label   string `json:"label,omitempty" yaml:"label,omitempty"`
	Command string `json:"command" yaml:"command"`
	// Frame is the function of the frame selected when it ran.
	Frame string `json:"frame,omitempty" yaml:"frame,omitempty"`
	Value *Value `json:"value,omitempty" yaml:"value,omitempty"`
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
}

// BreakpointResult is what `breakpoint set` said.
type BreakpointResult struct {
	Command string `json:"command" yaml:"command"`
	ID      int    `json:"id,omitempty" yaml:"id,omitempty"`
	// Where is lldb's description of the (first) location.
	Where     string `json:"where,omitempty" yaml:"where,omitempty"`
	Locations int    `json:"locations" yaml:"locations"`
	Error     string `json:"error,omitempty" yaml:"error,omitempty"`
}

// CommandError is a failed command.
type CommandError struct {
	Command string `json:"command" yaml:"command"`
	Message string `json:"message" yaml:"message"`
}

// Block is one echoed command and the lines it printed.
type Block struct {
	Command string
	Lines   []string
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// Parse reads a batch lldb transcript. It never fails: what it cannot
// read is left out (the transcript itself is kept by the caller).
func Parse(transcript string) *Session {
	s := &Session{}
	transcript = ansiRE.ReplaceAllString(transcript, "")
	transcript = strings.ReplaceAll(transcript, "\r\n", "\n")
	for _, line := range strings.Split(transcript, "\n") {
		if cmd, ok := strings.CutPrefix(line, "(lldb) "); ok {
			s.Blocks = append(s.Blocks, Block{Command: strings.TrimSpace(cmd)})
			continue
		}
		if len(s.Blocks) == 0 {
			s.Blocks = append(s.Blocks, Block{})
		}
		b := &s.Blocks[len(s.Blocks)-1]
		b.Lines = append(b.Lines, line)
	}
	label := ""
	frameFn := ""
	for i := range s.Blocks {
		b := &s.Blocks[i]
		word, args := splitCommand(b.Command)
		errText := blockError(b.Lines)
		if errText != "" && word != "" && !strings.HasPrefix(word, "#") {
			s.Errors = append(s.Errors, CommandError{Command: b.Command, Message: errText})
		}
		switch {
		case strings.HasPrefix(b.Command, "#"):
			if rest, ok := strings.CutPrefix(b.Command, "# expr "); ok {
				if name, _, ok := strings.Cut(rest, ":"); ok {
					label = strings.TrimSpace(name)
				}
			} else if strings.HasPrefix(b.Command, "# ---") {
				label = ""
			}
		case word == "run" || word == "r" || word == "continue" || word == "c" ||
			word == "process" && (strings.HasPrefix(args, "launch") || strings.HasPrefix(args, "continue")):
			st, ex := parseStop(b.Lines)
			if st != nil && s.Stop == nil {
				s.Stop = st
				if st.Frame != nil {
					frameFn = st.Frame.Function
				}
			}
			if ex != nil && s.Stop == nil {
				s.Exit = ex
			}
			if ex != nil {
				s.Ended = ex
			}
		case word == "bt" || word == "thread" && strings.HasPrefix(args, "backtrace"):
			if frames := parseFrames(b.Lines); len(frames) > 0 {
				s.Backtrace = frames
			}
		case word == "triage-frame" || word == "frame" && strings.HasPrefix(args, "select") ||
			word == "f" || word == "up" || word == "down":
			fv := parseFrameView(b.Command, b.Lines, errText)
			if fv.Frame != nil {
				frameFn = fv.Frame.Function
			}
			s.Frames = append(s.Frames, fv)
			label = ""
		case word == "frame" && strings.HasPrefix(args, "variable") || word == "v" || word == "var":
			rest := strings.TrimSpace(strings.TrimPrefix(args, "variable"))
			if word != "frame" {
				rest = args
			}
			vals := parseValues(b.Lines)
			if argsOnlyOptions(rest) {
				if len(s.Frames) > 0 {
					fv := &s.Frames[len(s.Frames)-1]
					fv.Variables = append(fv.Variables, vals...)
				}
				continue
			}
			vr := ValueResult{Label: label, Command: b.Command, Frame: frameFn, Error: errText}
			if len(vals) > 0 {
				vr.Value = vals[0]
			}
			s.Values = append(s.Values, vr)
		case word == "expr" || word == "expression" || word == "p" || word == "print" || word == "po":
			vr := ValueResult{Label: label, Command: b.Command, Frame: frameFn, Error: errText}
			if vals := parseValues(b.Lines); len(vals) > 0 {
				vr.Value = vals[0]
			}
			s.Values = append(s.Values, vr)
		case word == "breakpoint" && (strings.HasPrefix(args, "set") || strings.HasPrefix(args, "s ")) || word == "b":
			s.Breakpoints = append(s.Breakpoints, parseBreakpoint(b.Command, b.Lines, errText))
		}
	}
	return s
}

func splitCommand(cmd string) (string, string) {
	w, rest, _ := strings.Cut(cmd, " ")
	return w, strings.TrimSpace(rest)
}

// argsOnlyOptions says a frame variable argument list names no variable.
func argsOnlyOptions(args string) bool {
	for _, f := range strings.Fields(args) {
		if !strings.HasPrefix(f, "-") {
			return false
		}
	}
	return true
}

// blockError joins a block's "error: ..." lines and their continuation.
func blockError(lines []string) string {
	var out []string
	in := false
	for _, l := range lines {
		if m, ok := strings.CutPrefix(l, "error: "); ok {
			out = append(out, m)
			in = true
			continue
		}
		if in && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) && strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimSpace(l))
			continue
		}
		in = false
	}
	return strings.Join(out, "\n")
}

var (
	threadRE = regexp.MustCompile(`^\s*\*?\s*thread #(\d+)(?:, name = '([^']*)')?.*?, stop reason = (.*)$`)
	exitRE   = regexp.MustCompile(`^Process \d+ exited with status = (-?\d+)`)
	frameRE  = regexp.MustCompile(`^\s*(\*)?\s*frame #(\d+): (0x[0-9a-fA-F]+)(?: (.*))?$`)
	atRE     = regexp.MustCompile(`^(.+?):(\d+)(?::(\d+))?$`)
	offRE    = regexp.MustCompile(`^(.*) \+ (\d+)$`)
	srcRE    = regexp.MustCompile(`^(->)?\s*(\d+)\s*\t(.*)$`)
	bpRE     = regexp.MustCompile(`^Breakpoint (\d+): (.*)$`)
	bpLocsRE = regexp.MustCompile(`^(\d+) locations?\.?$`)
)

func parseStop(lines []string) (*Stop, *Exit) {
	var st *Stop
	for i, l := range lines {
		if m := exitRE.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			if st == nil {
				return nil, &Exit{Status: n, Text: strings.TrimSpace(l)}
			}
		}
		if st != nil {
			continue
		}
		if m := threadRE.FindStringSubmatch(l); m != nil {
			st = &Stop{ThreadName: m[2], Reason: strings.TrimSpace(m[3])}
			st.Thread, _ = strconv.Atoi(m[1])
			if sig, ok := strings.CutPrefix(st.Reason, "signal "); ok {
				st.Signal, _, _ = strings.Cut(sig, ":")
				st.Signal = strings.TrimSpace(st.Signal)
			}
			if bp, ok := strings.CutPrefix(st.Reason, "breakpoint "); ok {
				st.Breakpoint = strings.TrimSpace(bp)
			}
			for _, fl := range lines[i+1:] {
				if f := parseFrameLine(fl); f != nil {
					st.Frame = f
					break
				}
			}
		}
	}
	return st, nil
}

func parseFrames(lines []string) []Frame {
	var out []Frame
	for _, l := range lines {
		// The backtrace starts at the last selected-thread header: a
		// thread status printed late by the previous command comes first.
		if strings.HasPrefix(l, "* thread #") {
			out = out[:0]
			continue
		}
		if f := parseFrameLine(l); f != nil {
			out = append(out, *f)
		}
	}
	return out
}

// parseFrameLine reads one "frame #N: 0xADDR module`function(args) at
// file:line:col" line.
func parseFrameLine(l string) *Frame {
	m := frameRE.FindStringSubmatch(l)
	if m == nil {
		return nil
	}
	f := &Frame{Selected: m[1] == "*"}
	f.Index, _ = strconv.Atoi(m[2])
	f.Address, _ = strconv.ParseUint(strings.TrimPrefix(strings.ToLower(m[3]), "0x"), 16, 64)
	rest := strings.TrimSpace(m[4])
	for _, flag := range []string{" [artificial]", " [opt]"} {
		if strings.HasSuffix(rest, flag) {
			rest = strings.TrimSuffix(rest, flag)
			if flag == " [opt]" {
				f.Optimized = true
			}
		}
	}
	if mod, fn, ok := strings.Cut(rest, "`"); ok && !strings.ContainsAny(mod, " (") {
		f.Module = mod
		rest = fn
	} else if !strings.Contains(rest, "`") && !strings.Contains(rest, " ") {
		f.Module = rest
		return f
	}
	// " at FILE:LINE[:COL]" is the last " at " whose remainder is a location.
	for i := strings.LastIndex(rest, " at "); i >= 0; i = strings.LastIndex(rest[:i], " at ") {
		if am := atRE.FindStringSubmatch(rest[i+4:]); am != nil {
			f.File = am[1]
			f.Line, _ = strconv.Atoi(am[2])
			f.Column, _ = strconv.Atoi(am[3])
			rest = rest[:i]
			break
		}
		if i == 0 {
			break
		}
	}
	if f.File == "" {
		if om := offRE.FindStringSubmatch(rest); om != nil {
			rest = om[1]
			f.Offset, _ = strconv.Atoi(om[2])
		}
	}
	if outer, inner, ok := strings.Cut(rest, " [inlined] "); ok {
		f.Inlined = true
		f.InlinedInto = functionOnly(outer)
		rest = inner
	}
	f.Function, f.Args = splitArgs(rest)
	return f
}

// splitArgs cuts "name(args)" at the first '(' outside <...> that closes at
// the end.
func splitArgs(s string) (string, string) {
	s = strings.TrimSpace(s)
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '<':
			depth++
		case '>':
			if depth > 0 && (i == 0 || s[i-1] != '-') {
				depth--
			}
		case '(':
			if depth == 0 && i > 0 && strings.HasSuffix(s, ")") {
				return s[:i], s[i+1 : len(s)-1]
			}
		}
	}
	return s, ""
}

func functionOnly(s string) string {
	n, _ := splitArgs(s)
	return n
}

func parseFrameView(cmd string, lines []string, errText string) FrameView {
	fv := FrameView{Command: cmd, Error: errText}
	for _, l := range lines {
		if n, ok := strings.CutPrefix(l, "triage-frame: switched to thread #"); ok {
			fv.Thread, _ = strconv.Atoi(strings.TrimSpace(n))
			continue
		}
		// frame select, up, down and triage-frame print the frame at column
		// 0; an indented frame line is thread status (thread select, a stop
		// notice) that lldb printed late, after the next command's echo.
		if fv.Frame == nil && strings.HasPrefix(l, "frame #") {
			if f := parseFrameLine(l); f != nil {
				fv.Frame = f
				continue
			}
		}
		if m := srcRE.FindStringSubmatch(l); m != nil && fv.Frame != nil {
			n, _ := strconv.Atoi(m[2])
			fv.Source = append(fv.Source, SourceLine{Line: n, Text: m[3], Current: m[1] == "->"})
		}
	}
	return fv
}

func parseBreakpoint(cmd string, lines []string, errText string) BreakpointResult {
	br := BreakpointResult{Command: cmd, Error: errText}
	for _, l := range lines {
		if m := bpRE.FindStringSubmatch(l); m != nil {
			br.ID, _ = strconv.Atoi(m[1])
			desc := m[2]
			switch {
			case strings.HasPrefix(desc, "where = "):
				br.Locations = 1
				br.Where = strings.TrimPrefix(desc, "where = ")
			case strings.HasPrefix(desc, "no locations"):
				br.Locations = 0
			default:
				if lm := bpLocsRE.FindStringSubmatch(desc); lm != nil {
					br.Locations, _ = strconv.Atoi(lm[1])
				} else {
					br.Where = desc
				}
			}
		}
	}
	return br
}

// parseValues reads the values of a `frame variable` or `expr` output.
func parseValues(lines []string) []*Value {
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "error: ") || strings.HasPrefix(l, "warning: ") {
			continue
		}
		keep = append(keep, l)
	}
	p := &valueParser{s: strings.Join(keep, "\n")}
	var out []*Value
	for {
		p.skipSpace(true)
		if p.eof() {
			break
		}
		v := p.topLevel()
		if v == nil {
			// Not a value line: skip it.
			p.skipLine()
			continue
		}
		out = append(out, v)
	}
	return out
}

// valueParser reads lldb's value printing:
//
//	(type) name = summary {        children, one per line, until "}"
//	  child = value
//	}
//	(type) name = (a = 1, b = (c = 2))   children on one line
type valueParser struct {
	s     string
	i     int
	depth int
}

const maxValueDepth = 200

func (p *valueParser) eof() bool { return p.i >= len(p.s) }

func (p *valueParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.i]
}

func (p *valueParser) skipSpace(newlines bool) {
	for !p.eof() {
		c := p.s[p.i]
		if c == ' ' || c == '\t' || (newlines && c == '\n') {
			p.i++
			continue
		}
		break
	}
}

func (p *valueParser) skipLine() {
	for !p.eof() && p.s[p.i] != '\n' {
		p.i++
	}
}

// topLevel reads "(type) name = value".
func (p *valueParser) topLevel() *Value {
	start := p.i
	if p.peek() != '(' {
		return nil
	}
	end := p.balanced('(', ')')
	if end < 0 {
		p.i = start
		return nil
	}
	typ := p.s[p.i+1 : end]
	p.i = end + 1
	p.skipSpace(false)
	lineEnd := strings.IndexByte(p.s[p.i:], '\n')
	if lineEnd < 0 {
		lineEnd = len(p.s) - p.i
	}
	eq := strings.Index(p.s[p.i:p.i+lineEnd], " = ")
	if eq < 0 {
		p.i = start
		return nil
	}
	v := &Value{Type: typ, Name: strings.TrimSpace(p.s[p.i : p.i+eq])}
	p.i += eq + 3
	p.value(v, false)
	return v
}

// balanced returns the index of the bracket closing the one at p.i.
func (p *valueParser) balanced(open, close byte) int {
	depth := 0
	for j := p.i; j < len(p.s); j++ {
		switch p.s[j] {
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return j
			}
		case '\n':
			return -1
		}
	}
	return -1
}

// value reads a value after "name = ": summary text, then optionally a
// child block. inline says we are inside "( ... )" where ',' and ')' end
// the value.
func (p *valueParser) value(v *Value, inline bool) {
	p.depth++
	defer func() { p.depth-- }()
	var text strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		switch {
		case c == '\n':
			v.Value = strings.TrimSpace(text.String())
			return
		case inline && (c == ',' || c == ')'):
			v.Value = strings.TrimSpace(text.String())
			return
		case c == '"' || c == '\'':
			text.WriteString(p.quoted(c))
			continue
		case c == '{' && p.depth < maxValueDepth && (p.i+1 >= len(p.s) || p.s[p.i+1] == '\n' || p.s[p.i+1] == '}'):
			p.i++
			v.Value = strings.TrimSpace(text.String())
			p.block(v)
			return
		case c == '(' && p.depth < maxValueDepth && p.startsInline():
			p.i++
			v.Value = strings.TrimSpace(text.String())
			p.inline(v)
			return
		}
		text.WriteByte(c)
		p.i++
	}
	v.Value = strings.TrimSpace(text.String())
}

// quoted consumes a quoted string or char literal with escapes.
func (p *valueParser) quoted(q byte) string {
	start := p.i
	p.i++
	for !p.eof() {
		c := p.s[p.i]
		if c == '\\' {
			p.i += 2
			continue
		}
		if c == '\n' {
			break
		}
		p.i++
		if c == q {
			break
		}
	}
	if p.i > len(p.s) {
		p.i = len(p.s)
	}
	return p.s[start:p.i]
}

var inlineStartRE = regexp.MustCompile(`^\(\s*[^\s=(),]+ = `)

// startsInline says "(" opens children "(name = value, ...)".
func (p *valueParser) startsInline() bool {
	end := p.i + 200
	if end > len(p.s) {
		end = len(p.s)
	}
	return inlineStartRE.MatchString(p.s[p.i:end])
}

// block reads children lines until the closing "}".
func (p *valueParser) block(parent *Value) {
	for {
		p.skipSpace(true)
		if p.eof() {
			return
		}
		if p.peek() == '}' {
			p.i++
			return
		}
		if p.peek() == '(' { // "(type) name = value" children of `frame variable -T`
			if c := p.topLevel(); c != nil {
				parent.Children = append(parent.Children, c)
				continue
			}
		}
		lineEnd := strings.IndexByte(p.s[p.i:], '\n')
		if lineEnd < 0 {
			lineEnd = len(p.s) - p.i
		}
		eq := strings.Index(p.s[p.i:p.i+lineEnd], " = ")
		if eq < 0 {
			// "<read memory ... failed>" and other bare lines.
			text := strings.TrimSpace(p.s[p.i : p.i+lineEnd])
			p.i += lineEnd
			if text != "" && text != "..." {
				parent.Children = append(parent.Children, &Value{Value: text})
			}
			continue
		}
		c := &Value{Name: strings.TrimSpace(p.s[p.i : p.i+eq])}
		p.i += eq + 3
		p.value(c, false)
		parent.Children = append(parent.Children, c)
	}
}

// inline reads "name = value, name = value)".
func (p *valueParser) inline(parent *Value) {
	for !p.eof() {
		p.skipSpace(false)
		if p.peek() == ')' {
			p.i++
			return
		}
		if p.peek() == '\n' {
			return
		}
		rest := p.s[p.i:]
		eq := strings.Index(rest, " = ")
		stop := strings.IndexAny(rest, ",)\n")
		if eq < 0 || (stop >= 0 && stop < eq) {
			// A bare value without a name: take it as text.
			c := &Value{}
			p.value(c, true)
			if c.Value != "" {
				parent.Children = append(parent.Children, c)
			}
		} else {
			c := &Value{Name: strings.TrimSpace(rest[:eq])}
			p.i += eq + 3
			p.value(c, true)
			parent.Children = append(parent.Children, c)
		}
		p.skipSpace(false)
		if p.peek() == ',' {
			p.i++
		}
	}
}
