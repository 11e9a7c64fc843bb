package symbolize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/fuzztriage/triage/crashkind"
)

// Errors Parse returns (wrapped, with detail): callers test them with
// errors.Is. A log that is text and looks like a fuzz run but shows no
// crash is NOT an error: it parses to a Trace of KindNone.
var (
	// ErrEmptyLog: the log has no text at all (a process killed before
	// it printed anything, e.g. a bare SIGSEGV without a handler).
	ErrEmptyLog = errors.New("log is empty")
	// ErrNotText: the log holds NUL bytes or is mostly not UTF-8, so it is
	// not the stderr of a fuzz binary (a crash input passed by mistake).
	ErrNotText = errors.New("log is not text")
	// ErrUnrecognized: the log is text, but not one line of it is
	// something a fuzz binary, Rust or a sanitizer prints.
	ErrUnrecognized = errors.New("log has nothing a fuzz binary, Rust or a sanitizer prints")
)

// ParseFile reads and parses the log at path; errors name the file.
func ParseFile(path string) (*Trace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse reads the text a fuzz binary printed (stderr, possibly with
// stdout and fuzzing noise mixed in) and returns the crash it shows.
//
// It understands the three Rust panic header forms, multi-line panic
// messages, allocation failure and std's stack-overflow message,
// RUST_BACKTRACE=1 and =full backtraces, libFuzzer's verdicts (deadly
// signal, timeout, out-of-memory in both forms, fuzz target exited, slow
// unit), AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer
// reports and sanitizer stack traces, symbolized or not.
//
// A log can hold several crash reports (libFuzzer's minimizer and merge
// runs print one per inner run): the LAST one is the trace, and
// Trace.Blocks counts them. Within one report every stack is kept in
// Trace.Backtraces and the richest crash stack becomes Trace.Frames;
// frames are demangled, normalized and tagged with the default category
// rules (see Rules.Tag to re-tag with other rules).
//
// A text log with no crash gives a Trace of KindNone and no error. Parse
// fails only when the input is empty (ErrEmptyLog), not text (ErrNotText)
// or has nothing recognizable at all (ErrUnrecognized).
func Parse(log []byte) (*Trace, error) {
	return ParseReader(bytes.NewReader(log))
}

// ParseReader is Parse reading the log as it comes: memory stays bounded
// by one report, however long the log (a minimizer's log of a thousand
// inner runs, a target that printed a gigabyte): earlier reports are
// counted and dropped, lines are cut at MaxLineLength, a backtrace keeps
// its first MaxFrames frames.
func ParseReader(r io.Reader) (*Trace, error) {
	p := &parser{}
	if err := p.read(r); err != nil {
		return nil, err
	}
	if err := p.verdict(); err != nil {
		return nil, err
	}
	t := p.trace()
	t.Crash = t.Kind.IsCrash()
	DefaultRules().Tag(t)
	return t, nil
}

// ParseEach calls each for every crash report of the log, in order, as it
// is read (the last one is what Parse returns). An error from each stops
// the parse and is returned.
func ParseEach(r io.Reader, each func(*Trace) error) error {
	p := &parser{}
	var stop error
	// Each report is handed on when the next one ends, so the last one,
	// the report the run ended with, can be marked Crash.
	var pending *Trace
	flush := func(crash bool) {
		if pending == nil || stop != nil {
			return
		}
		pending.Crash = crash
		stop = each(pending)
		pending = nil
	}
	p.each = func(s *segment) {
		flush(false)
		t := traceOf(s, p.blocks)
		DefaultRules().Tag(t)
		pending = t
	}
	if err := p.read(r); err != nil {
		return err
	}
	flush(true)
	if stop != nil {
		return stop
	}
	return p.verdict()
}

// scratch is the buffer a backtrace's frames are read into.
func (p *parser) scratch() []Frame {
	if p.frameBuf == nil {
		p.frameBuf = make([]Frame, 0, 64)
	}
	return p.frameBuf[:0]
}

// addFrame appends a frame to the backtrace being read, or counts it
// once the backtrace holds MaxFrames.
func (p *parser) addFrame(f Frame) {
	if len(p.bt.Frames) >= MaxFrames {
		p.bt.Dropped++
		return
	}
	p.bt.Frames = append(p.bt.Frames, f)
}

// maxMessageLines bounds a multi-line panic message.
const maxMessageLines = 1000

// Limits of what one line and one backtrace cost.
const (
	// MaxLineLength is where a line is cut (the rest of it is skipped).
	MaxLineLength = 64 << 10
	// MaxFrames is how many frames a backtrace keeps; deeper ones (a
	// recursion of a hundred thousand frames) are counted, not kept.
	MaxFrames = 1024
)

// readers are reused line readers: a parse would otherwise allocate (and
// the GC clear) a MaxLineLength buffer per log.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, MaxLineLength) }}

// read feeds the log to the parser line by line.
func (p *parser) read(r io.Reader) error {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	defer func() {
		br.Reset(nil)
		readers.Put(br)
	}()
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			p.feed(line)
			// Skip the rest of an over-long line.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("reading the log: %w", err)
			}
			continue
		}
		if len(line) > 0 {
			p.feed(line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading the log: %w", err)
		}
	}
	p.endMultiline()
	p.closeSegment()
	return nil
}

// feed takes one raw line (with its newline, if any).
func (p *parser) feed(raw []byte) {
	raw = bytes.TrimRight(raw, "\r\n")
	p.countText(raw)
	s := string(raw)
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = stripANSI(s)
	}
	s = p.stripPipe(s)
	for {
		head, tail, ok := splitGlued(s)
		if !ok {
			break
		}
		p.line(head)
		s = tail
	}
	p.line(s)
}

// stripPipe removes the "  | " prefix the OSS-Fuzz and ClusterFuzz web
// pages put before every line of a stack trace, when the log's first
// non-blank line has it.
func (p *parser) stripPipe(s string) string {
	t := strings.TrimLeft(s, " \t")
	if !p.pipeKnown {
		if t == "" {
			return s
		}
		p.pipeKnown = true
		p.pipe = t == "|" || strings.HasPrefix(t, "| ")
	}
	if !p.pipe {
		return s
	}
	if t == "|" {
		return ""
	}
	if rest, ok := strings.CutPrefix(t, "| "); ok {
		return rest
	}
	return s
}

// splitGlued finds a report header glued to the end of other output (a
// target that printed without a newline before it crashed: "...done==42==
// ERROR: AddressSanitizer: ...", "xyzmemory allocation of 8 bytes failed")
// and splits the line before it.
func splitGlued(s string) (head, tail string, ok bool) {
	best := -1
	consider := func(i int) {
		if i > 0 && (best < 0 || i < best) && strings.TrimSpace(s[:i]) != "" {
			best = i
		}
	}
	for off := 0; ; {
		k := strings.Index(s[off:], "==")
		if k < 0 {
			break
		}
		j := off + k
		if j > 0 && s[j-1] != '=' && isPIDPrefix(s[j:]) {
			consider(j)
			break
		}
		off = j + 1
	}
	if i := strings.Index(s, "thread '"); i > 0 {
		if rest := s[i:]; strings.Contains(rest, "' panicked at ") || strings.Contains(rest, "' has overflowed its stack") {
			consider(i)
		}
	}
	if i := strings.Index(s, "memory allocation of "); i > 0 && strings.HasSuffix(s, " bytes failed") {
		consider(i)
	}
	if i := strings.Index(s, "Sanitizer:DEADLYSIGNAL"); i > 0 {
		j := i
		for j > 0 && (s[j-1] >= 'A' && s[j-1] <= 'Z' || s[j-1] >= 'a' && s[j-1] <= 'z') {
			j--
		}
		consider(j)
	}
	if i := strings.Index(s, "fatal runtime error: "); i > 0 {
		consider(i)
	}
	if best < 0 {
		return "", "", false
	}
	return s[:best], s[best:], true
}

// isPIDPrefix: s starts with a sanitizer's "==PID==".
func isPIDPrefix(s string) bool {
	if !strings.HasPrefix(s, "==") {
		return false
	}
	i := 2
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i > 2 && strings.HasPrefix(s[i:], "==")
}

// countText keeps the counts verdict's rule needs: characters, and those
// that are NUL, other control characters or invalid UTF-8.
func (p *parser) countText(line []byte) {
	p.chars += len(line) + 1
	if !p.nonBlank && len(bytes.TrimSpace(line)) > 0 {
		p.nonBlank = true
	}
	// Almost every line of a log is valid UTF-8 without NUL: one fast
	// check, and nothing to count (binary input is invalid UTF-8 or has
	// NUL bytes; its other control characters are counted below).
	if utf8.Valid(line) && bytes.IndexByte(line, 0) < 0 {
		return
	}
	for i := 0; i < len(line); {
		r, n := utf8.DecodeRune(line[i:])
		if (r == utf8.RuneError && n == 1) || (r < 0x20 && r != '\t' && r != '\f' && r != '\v' && r != 0x1b) {
			p.bad++
		}
		i += n
	}
}

// verdict says whether what was read is a log at all: not empty, text
// (at most 10% NUL, control characters or invalid UTF-8: a crash input
// passed by mistake is binary), and with something a fuzz binary prints.
func (p *parser) verdict() error {
	if !p.nonBlank {
		return ErrEmptyLog
	}
	if p.bad*10 > p.chars {
		return fmt.Errorf("%w: %d of %d characters are NUL, control characters or not UTF-8", ErrNotText, p.bad, p.chars)
	}
	if !p.recognized {
		return ErrUnrecognized
	}
	return nil
}

// segment is the output of one run of the binary (or one inner run of a
// minimizer or merge): what crash evidence it holds.
type segment struct {
	panic         *panicReport
	overflow      bool   // std's "has overflowed its stack"
	overflowTid   string // its thread name
	allocFailure  bool
	allocSize     uint64
	fatalRuntime  string // fatal runtime error other than stack overflow
	libfuzzer     string // the text after "ERROR: libFuzzer: "
	sanitizer     *sanitizerReport
	ubsan         *ubsanReport
	assertion     *assertReport // a C/C++ assertion, CHECK or fatal log
	abortMessage  string        // what was printed before an abort (C++ terminate, Android)
	cfiMarker     bool          // "CFI: Most likely a control flow integrity violation"
	sanitizerOOM  bool          // "XSanitizer failed to allocate"
	leak          bool
	slowUnit      bool
	summary       string // last SUMMARY: line, without the prefix
	access        string
	backtraces    []Backtrace
	crashEvidence bool
	counters      [][2]uint64 // of the process that printed this segment
}

type panicReport struct {
	thread   string
	threadID int64
	message  string
	location *Location
}

type sanitizerReport struct {
	tool    string // AddressSanitizer, LeakSanitizer, ...
	name    string // report name (heap-buffer-overflow, SEGV, ...)
	desc    string // the text after "XSanitizer: "
	line    string // the ERROR line after "ERROR: "
	address uint64
	hasAddr bool
	thread  string
	size    uint64 // requested allocation size, where stated
}

type ubsanReport struct {
	message  string
	location *Location
}

type assertReport struct {
	kind     CrashKind
	message  string
	location *Location
}

type parser struct {
	cur        *segment
	recognized bool
	// last is the last finished segment that shows a crash (or a slow
	// unit); blocks counts those with crash evidence. Earlier segments
	// are dropped as they end: memory stays bounded by one report.
	last   *segment
	blocks int
	// each, when set, hears about every finished segment that shows a
	// crash (ParseEach).
	each func(*segment)
	// text counts (see verdict).
	chars, bad int
	nonBlank   bool
	// frameBuf is reused by every backtrace of the log (see scratch).
	frameBuf []Frame
	// pipe: the log's lines carry a web page's "  | " prefix.
	pipe, pipeKnown bool

	// multi-line state
	mode     parseMode
	msgLines []string
	oldMsg   *panicReport // old-format panic awaiting its closing "', file:l:c"
	oldLines int
	bt       *Backtrace // the stack being read (Rust or sanitizer)
	role     string     // role for the next sanitizer stack
	counters [][2]uint64
}

type parseMode int

const (
	modeNone       parseMode = iota
	modePanicMsg             // collecting a 1.73+ panic message
	modeOldPanic             // collecting a pre-1.73 quoted message
	modeRustBT               // in a "stack backtrace:" section
	modeSanitizerB           // in a "#N 0x..." stack
)

func (p *parser) seg() *segment {
	if p.cur == nil {
		p.cur = &segment{counters: p.counters}
	}
	return p.cur
}

// boundary starts a new segment: a new process or inner run begins.
func (p *parser) boundary() {
	p.endMultiline()
	p.closeSegment()
}

// closeSegment ends the current segment: one that shows a crash becomes
// the last one (and is handed to each); any other is dropped.
func (p *parser) closeSegment() {
	s := p.cur
	p.cur = nil
	if s == nil || !(s.crashEvidence || s.slowUnit) {
		return
	}
	if s.crashEvidence {
		p.blocks++
	}
	p.last = s
	if p.each != nil {
		p.each(s)
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';') {
				j++
			}
			if j < len(s) {
				i = j
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (p *parser) endMultiline() {
	switch p.mode {
	case modePanicMsg:
		p.finishPanicMessage()
	case modeOldPanic:
		// Never closed: keep the first line as the message.
		if p.oldMsg != nil && len(p.msgLines) > 0 {
			p.oldMsg.message = p.msgLines[0]
		}
		p.oldMsg = nil
	case modeRustBT, modeSanitizerB:
		p.finishBacktrace()
	}
	p.mode = modeNone
	p.msgLines = p.msgLines[:0]
}

func (p *parser) line(s string) {
	switch p.mode {
	case modePanicMsg:
		if !isMessageTerminator(s) {
			if len(p.msgLines) < maxMessageLines {
				p.msgLines = append(p.msgLines, s)
			}
			return
		}
		p.finishPanicMessage()
		p.mode = modeNone
	case modeOldPanic:
		if p.continueOldPanic(s) {
			return
		}
	case modeRustBT:
		if p.rustBacktraceLine(s) {
			return
		}
		p.finishBacktrace()
		p.mode = modeNone
	case modeSanitizerB:
		if f, ok := parseSanitizerFrame(s); ok {
			p.addFrame(f)
			return
		}
		if f, ok := parseMarkupFrame(strings.TrimLeft(s, " \t")); ok {
			p.addFrame(f)
			return
		}
		p.finishBacktrace()
		p.mode = modeNone
	}
	p.dispatch(s)
}

// dispatch handles a line outside any multi-line construct.
func (p *parser) dispatch(s string) {
	t := strings.TrimLeft(s, " \t")
	if t == "" {
		return
	}
	switch t[0] {
	case '#':
		if f, ok := parseSanitizerFrame(t); ok {
			p.startSanitizerStack(f)
			return
		}
		if isStatusLine(t) {
			p.recognized = true
			p.boundary()
		}
		return
	case '{':
		if f, ok := parseMarkupFrame(t); ok {
			p.startSanitizerStack(f)
			return
		}
	case '=':
		if strings.HasPrefix(t, "==") {
			p.recognized = true
			p.sanitizerLine(t)
		}
		return
	case 't':
		if strings.HasPrefix(t, "thread '") {
			p.threadLine(t)
			return
		}
		if strings.HasPrefix(t, "terminate called ") {
			p.abortMessage(t)
			return
		}
	case 'S':
		if rest, ok := strings.CutPrefix(t, "SUMMARY: "); ok {
			p.recognized = true
			p.seg().summary = rest
			return
		}
		if strings.HasPrefix(t, "Slowest unit: ") {
			p.recognized = true
			p.seg().slowUnit = true
			return
		}
	case 'm':
		if rest, ok := strings.CutPrefix(t, "memory allocation of "); ok {
			if n, ok := strings.CutSuffix(rest, " bytes failed"); ok {
				p.recognized = true
				seg := p.seg()
				seg.allocFailure = true
				seg.crashEvidence = true
				seg.allocSize, _ = strconv.ParseUint(n, 10, 64)
				return
			}
		}
	case 'f':
		if rest, ok := strings.CutPrefix(t, "fatal runtime error: "); ok {
			p.recognized = true
			seg := p.seg()
			seg.crashEvidence = true
			rest = strings.TrimSuffix(rest, ", aborting")
			if strings.HasPrefix(rest, "stack overflow") {
				seg.overflow = true
			} else if seg.fatalRuntime == "" {
				seg.fatalRuntime = rest
			}
			return
		}
	case 's':
		if t == "stack backtrace:" {
			p.recognized = true
			p.seg().crashEvidence = true
			p.bt = &Backtrace{Source: SourceRust, Role: RoleCrash, Frames: p.scratch()}
			p.mode = modeRustBT
			return
		}
	case 'D', 'I':
		if strings.HasPrefix(t, "Direct leak of ") {
			p.recognized = true
			p.role = RoleLeak
			return
		}
		if strings.HasPrefix(t, "Indirect leak of ") {
			p.recognized = true
			p.role = RoleLeakIndirect
			return
		}
	case 'E', 'W':
		// A sanitizer header without the ==PID== prefix (pasted logs,
		// some platforms' output).
		if strings.HasPrefix(t, "ERROR: ") || strings.HasPrefix(t, "WARNING: ") {
			if p.sanitizerHeader(t) {
				p.recognized = true
				return
			}
		}
	case 'C':
		if strings.HasPrefix(t, "CFI: Most likely a control flow integrity violation") {
			p.recognized = true
			seg := p.seg()
			seg.crashEvidence = true
			seg.cfiMarker = true
			return
		}
	case 'A':
		if rest, ok := strings.CutPrefix(t, "Abort message: "); ok {
			p.abortMessage(strings.Trim(rest, "'"))
			return
		}
	case 'l':
		if strings.HasPrefix(t, "libc++abi: terminating") {
			p.abortMessage(t)
			return
		}
	}
	if p.accessLine(t) {
		return
	}
	if role := isRoleLine(t); role != "" {
		p.recognized = true
		p.role = role
		return
	}
	if strings.Contains(t, ": runtime error: ") {
		p.ubsanLine(t)
		return
	}
	if a := parseAssertion(t); a != nil {
		p.recognized = true
		p.newReport(func(seg *segment) bool { return seg.assertion != nil || seg.panic != nil || seg.ubsan != nil })
		seg := p.seg()
		seg.crashEvidence = true
		if seg.assertion == nil {
			seg.assertion = a
		}
		return
	}
	if what, ok := strings.CutPrefix(t, "what():"); ok && p.cur != nil && p.cur.abortMessage != "" {
		p.cur.abortMessage += ": " + strings.TrimSpace(what)
		return
	}
	if isBoundaryLine(t) {
		p.recognized = true
		p.boundary()
		return
	}
	if strings.HasPrefix(t, "INFO: Loaded ") && strings.Contains(t, "inline 8-bit counters") {
		p.recognized = true
		p.counters = parseCounterRanges(t)
		if p.cur != nil {
			p.cur.counters = p.counters
		}
		return
	}
	if isNoiseLine(t) {
		p.recognized = true
	}
}

// startSanitizerStack begins a sanitizer-format stack at its first frame,
// in the role the line before it named (the crash stack when none).
func (p *parser) startSanitizerStack(f Frame) {
	p.recognized = true
	seg := p.seg()
	seg.crashEvidence = true
	role := p.role
	if role == "" {
		role = RoleCrash
	}
	p.role = ""
	p.bt = &Backtrace{Source: SourceSanitizer, Role: role, Frames: append(p.scratch(), f)}
	p.mode = modeSanitizerB
}

// newReport starts a new report when the current one already holds
// evidence that conflicts with the one about to be read (a UBSan warning
// and then a crash, a caught panic and then a memory error): each is a
// report of its own.
func (p *parser) newReport(conflicts func(*segment) bool) {
	if p.cur != nil && p.cur.crashEvidence && conflicts(p.cur) {
		p.boundary()
	}
}

// abortMessage records what a program printed as it aborted.
func (p *parser) abortMessage(msg string) {
	p.recognized = true
	seg := p.seg()
	seg.crashEvidence = true
	if seg.abortMessage == "" {
		seg.abortMessage = msg
	}
}

// accessLine handles the lines that describe the bad access and name the
// stack after them: ASan's "READ of size 4 at 0x... thread T0", HWASan's
// "READ of size 4 at 0x... tags: 2f/00 (ptr/mem) in thread T0",
// ThreadSanitizer's "Write of size 4 at 0x... by thread T1:" (the crash
// stack) and "Previous read of size ..." (the other thread's).
func (p *parser) accessLine(t string) bool {
	if p.cur == nil || p.cur.sanitizer == nil {
		return false
	}
	switch {
	case strings.HasPrefix(t, "READ of size "), strings.HasPrefix(t, "WRITE of size "):
		if i := strings.Index(t, " at 0x"); i > 0 && p.cur.access == "" {
			p.cur.access = t[:i]
		}
		return true
	case strings.HasPrefix(t, "Previous "):
		if strings.Contains(t, " of size ") {
			p.role = RolePrevious
			return true
		}
	case strings.HasPrefix(t, "Read of size "), strings.HasPrefix(t, "Write of size "), strings.HasPrefix(t, "Atomic read of size "), strings.HasPrefix(t, "Atomic write of size "):
		if i := strings.Index(t, " at 0x"); i > 0 && p.cur.access == "" {
			p.cur.access = t[:i]
		}
		p.role = RoleCrash
		return true
	}
	return false
}

// parseCounterRanges reads the "[0xSTART, 0xEND)" ranges of "INFO: Loaded
// N modules (M inline 8-bit counters): M [0x..., 0x...), ...".
func parseCounterRanges(t string) [][2]uint64 {
	var out [][2]uint64
	for {
		i := strings.Index(t, "[0x")
		if i < 0 {
			return out
		}
		t = t[i+1:]
		lo, ok1 := parseHexPrefix(t)
		j := strings.Index(t, ", 0x")
		if j < 0 {
			return out
		}
		t = t[j+2:]
		hi, ok2 := parseHexPrefix(t)
		if ok1 && ok2 && hi > lo {
			out = append(out, [2]uint64{lo, hi})
		}
	}
}

// isBoundaryLine: lines that begin a new run of the binary or a new inner
// run of libFuzzer's minimizer or merge.
func isBoundaryLine(t string) bool {
	return strings.HasPrefix(t, "INFO: Seed: ") ||
		strings.HasPrefix(t, "CRASH_MIN: ") ||
		strings.HasPrefix(t, "MERGE-OUTER: ") ||
		strings.HasPrefix(t, "MERGE-INNER: ") ||
		strings.HasPrefix(t, "Running: ") ||
		strings.HasPrefix(t, "INFO: Running with entropic")
}

// isNoiseLine: lines a fuzz binary prints that carry no crash evidence
// but show the log is one.
func isNoiseLine(t string) bool {
	for _, p := range noisePrefixes {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return strings.Contains(t, ": Running 1 inputs ") || strings.Contains(t, "libFuzzer")
}

var noisePrefixes = []string{
	"INFO: ", "WARNING: ", "MS: ", "Base64: ", "artifact_prefix=", "Done ",
	"Executed ", "stat::", "NOTE: ", "*****", "DEDUP_TOKEN: ", "AddressSanitizer:DEADLYSIGNAL",
	"UndefinedBehaviorSanitizer:DEADLYSIGNAL", "LeakSanitizer:", "note: ", "HINT: ", "Shadow byte",
	"Address 0x", "0x", "NEW_FUNC", "ALARM: ", "To change the out-of-memory limit",
	"and the timeout value is", "Combine libFuzzer",
}

// isStatusLine: libFuzzer's "#123\tNEW cov: ..." and fork mode's "#123: cov:".
func isStatusLine(t string) bool {
	i := 1
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	return i > 1 && i < len(t) && (t[i] == '\t' || t[i] == ':')
}

// isRoleLine names the role of the sanitizer stack that follows.
func isRoleLine(t string) string {
	switch {
	case strings.HasPrefix(t, "freed by thread "), strings.HasPrefix(t, "previously freed by thread "):
		return RoleFreed
	case strings.HasPrefix(t, "allocated by thread "), strings.HasPrefix(t, "previously allocated "),
		strings.HasPrefix(t, "allocated here:"), strings.HasPrefix(t, "Location is heap block "):
		return RoleAllocated
	case strings.HasPrefix(t, "Uninitialized value was "):
		return RoleOrigin // MemorySanitizer: where the value came from
	case strings.HasPrefix(t, "Thread T") && strings.Contains(t, " created by "),
		strings.HasPrefix(t, "Mutex M") && strings.HasSuffix(t, " created at:"):
		return RoleContext // ThreadSanitizer: where a thread or mutex was made
	}
	return ""
}

// isMessageTerminator: a line that cannot be part of a 1.73+ panic
// message because the panic machinery or libFuzzer printed it.
func isMessageTerminator(s string) bool {
	switch {
	case strings.HasPrefix(s, "note: "),
		s == "stack backtrace:",
		strings.HasPrefix(s, "=="),
		strings.HasPrefix(s, "thread '"),
		strings.HasPrefix(s, "fatal runtime error: "),
		strings.HasPrefix(s, "thread caused non-unwinding panic"),
		strings.HasPrefix(s, "panic in a function that cannot unwind"),
		strings.HasPrefix(s, "AddressSanitizer:DEADLYSIGNAL"),
		strings.HasPrefix(s, "SUMMARY: "),
		strings.HasPrefix(s, "MS: "),
		strings.HasPrefix(s, "INFO: "),
		strings.HasPrefix(s, "CRASH_MIN: "),
		strings.HasPrefix(s, "MERGE-"),
		strings.HasPrefix(s, "Running: "),
		strings.HasPrefix(s, "Executed "),
		strings.HasPrefix(s, "*****"),
		strings.HasPrefix(s, "memory allocation of "),
		strings.HasPrefix(s, "    #"):
		return true
	}
	return false
}

// threadLine handles "thread 'NAME' ..." lines: panic headers (all three
// forms) and std's stack-overflow message.
func (p *parser) threadLine(t string) {
	rest := t[len("thread '"):]
	if i := strings.Index(rest, "' has overflowed its stack"); i >= 0 {
		p.recognized = true
		seg := p.seg()
		seg.crashEvidence = true
		seg.overflow = true
		seg.overflowTid = rest[:i]
		return
	}
	k := strings.Index(rest, " panicked at ")
	if k < 0 {
		return
	}
	head, tail := rest[:k], rest[k+len(" panicked at "):]
	pr := &panicReport{}
	// head is NAME' or NAME' (TID)
	if strings.HasSuffix(head, ")") {
		if o := strings.LastIndex(head, "' ("); o >= 0 {
			if id, err := strconv.ParseInt(head[o+3:len(head)-1], 10, 64); err == nil {
				pr.threadID = id
				head = head[:o+1]
			}
		}
	}
	if !strings.HasSuffix(head, "'") {
		return
	}
	pr.thread = head[:len(head)-1]
	p.recognized = true
	p.newReport(func(seg *segment) bool { return seg.ubsan != nil || seg.assertion != nil || seg.sanitizer != nil })
	seg := p.seg()
	seg.crashEvidence = true
	if strings.HasPrefix(tail, "'") {
		// Before Rust 1.73: 'MESSAGE', FILE:LINE:COL, possibly over lines.
		p.oldMsg = pr
		p.oldLines = 0
		p.msgLines = append(p.msgLines[:0], tail[1:])
		if p.closeOldPanic(tail[1:], true) {
			return
		}
		p.mode = modeOldPanic
		if seg.panic == nil {
			seg.panic = pr
		}
		return
	}
	// 1.73 and later: FILE:LINE:COL: then the message on the next lines.
	loc, ok := parseLocation(strings.TrimSuffix(tail, ":"))
	if !ok {
		return
	}
	pr.location = loc
	if seg.panic == nil {
		seg.panic = pr
		p.msgLines = p.msgLines[:0]
		p.mode = modePanicMsg
	}
	// A second panic (while panicking) keeps the first as the cause.
}

// maxOldPanicLines bounds how far an unterminated old-format message may
// run before it is cut at its first line.
const maxOldPanicLines = 200

func (p *parser) continueOldPanic(s string) bool {
	p.oldLines++
	if p.oldLines > maxOldPanicLines || isMessageTerminator(s) {
		if p.oldMsg != nil && len(p.msgLines) > 0 {
			p.oldMsg.message = p.msgLines[0]
		}
		p.oldMsg = nil
		p.mode = modeNone
		p.msgLines = p.msgLines[:0]
		return false
	}
	p.msgLines = append(p.msgLines, s)
	if p.closeOldPanic(s, false) {
		p.mode = modeNone
	}
	return true
}

// closeOldPanic checks whether line ends the old-format message
// ("...', FILE:LINE[:COL]") and, if so, records the panic.
func (p *parser) closeOldPanic(line string, first bool) bool {
	i := strings.LastIndex(line, "', ")
	if i < 0 {
		return false
	}
	loc, ok := parseLocation(line[i+3:])
	if !ok {
		return false
	}
	lines := p.msgLines
	lines[len(lines)-1] = line[:i]
	pr := p.oldMsg
	pr.message = strings.Join(lines, "\n")
	pr.location = loc
	seg := p.seg()
	if seg.panic == nil || seg.panic == pr {
		seg.panic = pr
	}
	p.oldMsg = nil
	p.msgLines = p.msgLines[:0]
	return true
}

func (p *parser) finishPanicMessage() {
	lines := p.msgLines
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	if seg := p.cur; seg != nil && seg.panic != nil && seg.panic.message == "" {
		seg.panic.message = strings.Join(lines, "\n")
	}
	p.msgLines = p.msgLines[:0]
}

// parseLocation reads FILE:LINE[:COL].
func parseLocation(s string) (*Location, bool) {
	s = strings.TrimSpace(s)
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return nil, false
	}
	last, err := strconv.Atoi(s[i+1:])
	if err != nil || last < 0 {
		return nil, false
	}
	j := strings.LastIndexByte(s[:i], ':')
	if j > 0 {
		if line, err := strconv.Atoi(s[j+1 : i]); err == nil && line >= 0 {
			return &Location{File: s[:j], Line: line, Column: last}, true
		}
	}
	return &Location{File: s[:i], Line: last}, true
}

// sanitizerLine handles lines that start with "==": "==PID== ERROR:
// libFuzzer: ...", "==PID==ERROR: XSanitizer: ...", "==PID==WARNING:
// MemorySanitizer: ...", "==PID==XSanitizer CHECK failed: ..." and ASan's
// "==PID==The signal is caused by a READ memory access." notes.
func (p *parser) sanitizerLine(t string) {
	rest := t[2:]
	end := strings.Index(rest, "==")
	if end < 0 {
		return
	}
	rest = strings.TrimLeft(rest[end+2:], " ")
	if a, ok := strings.CutPrefix(rest, "The signal is caused by a "); ok {
		if p.cur != nil && p.cur.access == "" {
			p.cur.access = strings.TrimSuffix(a, ".")
		}
		return
	}
	if i := strings.Index(rest, "Sanitizer CHECK failed: "); i > 0 && !strings.ContainsRune(rest[:i], ' ') {
		p.newReport(func(seg *segment) bool { return seg.ubsan != nil })
		seg := p.seg()
		seg.crashEvidence = true
		if seg.assertion == nil {
			seg.assertion = sanitizerCheck(rest[i+len("Sanitizer CHECK failed: "):])
		}
		return
	}
	p.sanitizerHeader(rest)
}

// sanitizerCheck reads a sanitizer runtime's own CHECK failure,
// `/path/asan_allocator.cpp:566 "((cond)) != (0)" (0x0, 0x0) (tid=1)`:
// the condition is the message, the runtime's source its location (the
// path and the values are the build's and the run's, not the bug's).
func sanitizerCheck(rest string) *assertReport {
	a := &assertReport{kind: crashkind.SanitizerCheck, message: rest}
	if i, j := strings.IndexByte(rest, '"'), strings.LastIndex(rest, "\" ("); i >= 0 && j > i {
		a.message = rest[i+1 : j]
		if loc, ok := parseLocation(strings.TrimSpace(rest[:i])); ok {
			a.location = loc
		}
	}
	return a
}

// sanitizerHeader reads "ERROR: libFuzzer: ...", "ERROR: XSanitizer:
// DESCRIPTION" or "WARNING: XSanitizer: DESCRIPTION" (MemorySanitizer and
// ThreadSanitizer report as warnings), with the ==PID== prefix removed or
// never printed. It reports whether the line was one.
func (p *parser) sanitizerHeader(rest string) bool {
	if msg, ok := strings.CutPrefix(rest, "ERROR: libFuzzer: "); ok {
		seg := p.seg()
		seg.crashEvidence = true
		if seg.libfuzzer == "" || seg.libfuzzer == "deadly signal" {
			seg.libfuzzer = msg
		}
		return true
	}
	body, ok := strings.CutPrefix(rest, "ERROR: ")
	warning := false
	if !ok {
		if body, ok = strings.CutPrefix(rest, "WARNING: "); !ok {
			return false
		}
		warning = true
	}
	if i := strings.Index(body, "Sanitizer failed to allocate "); i > 0 && !strings.ContainsRune(body[:i], ' ') {
		if warning {
			return true // allocator_may_return_null: the program goes on
		}
		seg := p.seg()
		seg.crashEvidence = true
		seg.sanitizerOOM = true
		return true
	}
	tool, desc, ok := strings.Cut(body, ": ")
	if !ok || !strings.HasSuffix(tool, "Sanitizer") || strings.ContainsRune(tool, ' ') {
		return false
	}
	if warning && tool != crashkind.ToolMSan && tool != crashkind.ToolTSan {
		return false // ASan's warnings do not end the run
	}
	r := &sanitizerReport{tool: tool, line: body, desc: desc}
	r.name = reportNameFromDescription(desc)
	// A sanitizer's report of a signal (ABRT after a panic or an
	// assertion, SEGV after a UBSan warning) belongs to the report before
	// it; a memory error after a caught panic or a UBSan warning is a
	// report of its own.
	if _, signal := crashkind.SanitizerSignals[r.name]; !signal {
		p.newReport(func(seg *segment) bool {
			return seg.panic != nil || seg.ubsan != nil || seg.assertion != nil || seg.sanitizer != nil
		})
	}
	seg := p.seg()
	seg.crashEvidence = true
	if seg.sanitizer != nil {
		return true // a report inside a report (rare): the first one caused it
	}
	if tool == crashkind.ToolLSan && strings.HasPrefix(desc, "detected memory leaks") {
		seg.leak = true
	}
	if i := strings.Index(desc, " address 0x"); i >= 0 {
		r.address, r.hasAddr = parseHexPrefix(desc[i+len(" address "):])
	} else if i := strings.Index(desc, " on 0x"); i >= 0 {
		r.address, r.hasAddr = parseHexPrefix(desc[i+len(" on "):])
	}
	if i := strings.LastIndex(desc, " T"); i >= 0 && strings.HasSuffix(desc, ")") && !strings.Contains(desc[i:], "=") {
		r.thread = strings.TrimSuffix(desc[i+1:], ")")
	} else if i := strings.Index(desc, "(thread T"); i >= 0 {
		r.thread = strings.TrimSuffix(desc[i+len("(thread "):], ")")
	}
	if i := strings.Index(desc, "allocation size 0x"); i >= 0 {
		r.size, _ = parseHexPrefix(desc[i+len("allocation size "):])
	} else if i := strings.Index(desc, "trying to allocate 0x"); i >= 0 {
		r.size, _ = parseHexPrefix(desc[i+len("trying to allocate "):])
	}
	seg.sanitizer = r
	return true
}

// reportNameFromDescription finds the report name in the text after
// "ERROR: AddressSanitizer: " for reports whose first word is not it.
func reportNameFromDescription(desc string) string {
	switch {
	case strings.HasPrefix(desc, "requested allocation size"):
		return "allocation-size-too-big"
	case strings.HasPrefix(desc, "attempting double-free"):
		return "double-free"
	case strings.HasPrefix(desc, "attempting free on address which was not malloc"):
		return "bad-free"
	case strings.HasPrefix(desc, "allocator is out of memory"), strings.HasPrefix(desc, "out of memory"):
		return "out-of-memory"
	case strings.HasPrefix(desc, "calloc parameters overflow"):
		return "calloc-overflow"
	case strings.HasPrefix(desc, "detected memory leaks"):
		return "leak"
	}
	name, _, _ := strings.Cut(desc, " ")
	return strings.TrimSuffix(name, ":")
}

func parseHexPrefix(s string) (uint64, bool) {
	s = strings.TrimPrefix(s, "0x")
	n := 0
	for n < len(s) && (isHexLower(s[n]) || s[n] >= 'A' && s[n] <= 'F') {
		n++
	}
	if n == 0 || n > 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(s[:n], 16, 64)
	return v, err == nil
}

// ubsanLine handles "FILE:LINE:COL: runtime error: MESSAGE".
func (p *parser) ubsanLine(t string) {
	i := strings.Index(t, ": runtime error: ")
	loc, ok := parseLocation(t[:i])
	if !ok {
		return
	}
	p.recognized = true
	// Every UBSan warning is a report of its own (with recovery on, a log
	// holds several); what follows it (its stack, the abort of
	// halt_on_error) belongs to it.
	p.newReport(func(*segment) bool { return true })
	seg := p.seg()
	seg.crashEvidence = true
	if seg.ubsan == nil {
		seg.ubsan = &ubsanReport{message: t[i+len(": runtime error: "):], location: loc}
	}
}

// rustBacktraceLine reads one line of a "stack backtrace:" section; false
// means the section has ended.
func (p *parser) rustBacktraceLine(s string) bool {
	t := strings.TrimLeft(s, " ")
	indent := len(s) - len(t)
	if t == "" {
		return false
	}
	// "  12: symbol" or "  12:     0x55d0 - symbol"
	if t[0] >= '0' && t[0] <= '9' {
		i := 0
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i < len(t) && t[i] == ':' && (i+1 == len(t) || t[i+1] == ' ') {
			idx, _ := strconv.Atoi(t[:i])
			rest := strings.TrimLeft(t[i+1:], " ")
			f := Frame{Index: idx}
			if strings.HasPrefix(rest, "0x") {
				addr, sym, _ := strings.Cut(rest, " - ")
				a, ok := parseHexPrefix(addr)
				if !ok {
					return false
				}
				f.Address = a
				rest = sym
			}
			if rest == "<unknown>" {
				rest = ""
				if f.Address == 0 {
					return true // the unwinder's end-of-stack sentinel
				}
			}
			f.Raw = rest
			p.addFrame(f)
			return true
		}
		return false
	}
	if at, ok := strings.CutPrefix(t, "at "); ok && indent >= 4 {
		if n := len(p.bt.Frames); n > 0 && p.bt.Dropped == 0 {
			f := &p.bt.Frames[n-1]
			if loc, ok := parseLocation(at); ok {
				f.File, f.Line, f.Column = loc.File, loc.Line, loc.Column
			} else {
				f.File = strings.TrimSpace(at)
			}
		}
		return true
	}
	// Older std printed the callers an address was inlined into on
	// unnumbered lines under the frame: the frame above is inlined here.
	if indent >= 6 && t[0] != '#' && !strings.HasPrefix(t, "0x") && len(p.bt.Frames) > 0 {
		if p.bt.Dropped > 0 {
			p.bt.Dropped++
			return true
		}
		prev := &p.bt.Frames[len(p.bt.Frames)-1]
		prev.Inlined = true
		p.addFrame(Frame{Index: prev.Index, Address: prev.Address, Raw: t})
		return true
	}
	return false
}

func (p *parser) finishBacktrace() {
	bt := p.bt
	p.bt = nil
	if bt == nil || len(bt.Frames) == 0 {
		return
	}
	// The frames were read into the parser's scratch buffer: keep an
	// exact-size copy, and the buffer for the next backtrace.
	fr := append(make([]Frame, 0, len(bt.Frames)), bt.Frames...)
	p.frameBuf = bt.Frames[:0]
	bt.Frames = fr
	for i := range fr {
		f := &fr[i]
		f.Function, f.Normalized = demangledNames(f.Raw)
		// Equal addresses in a row are one physical frame: every entry
		// but the last was inlined into the next.
		if i+1 < len(fr) && f.Address != 0 && fr[i+1].Address == f.Address {
			f.Inlined = true
		}
	}
	if p.cur == nil {
		p.seg()
	}
	p.cur.backtraces = append(p.cur.backtraces, *bt)
}

// nameCache memoizes raw symbol -> (demangled, normalized): the logs of
// one target repeat the same few hundred symbols, and demangling and
// normalizing are most of a frame's cost. Bounded: emptied when full.
var nameCache = struct {
	sync.Mutex
	m map[string][2]string
}{m: map[string][2]string{}}

const maxNameCache = 1 << 16

func demangledNames(raw string) (string, string) {
	nameCache.Lock()
	v, ok := nameCache.m[raw]
	nameCache.Unlock()
	if ok {
		return v[0], v[1]
	}
	fn := Demangle(raw)
	norm := ""
	if fn != "" {
		norm = NormalizeDemangled(fn)
	}
	nameCache.Lock()
	if len(nameCache.m) >= maxNameCache {
		nameCache.m = map[string][2]string{}
	}
	nameCache.m[raw] = [2]string{fn, norm}
	nameCache.Unlock()
	return fn, norm
}

// parseSanitizerFrame reads a sanitizer-format frame:
//
//	#N 0xADDR [in FUNC[+0xOFF] [FILE[:LINE[:COL]]]] [(MODULE[:ARCH]+0xOFF)] [(BuildId: HEX)]
//	#N FUNC FILE:LINE[:COL] (MODULE+0xOFF)         ThreadSanitizer (no address)
//	#N.M 0xADDR in FUNC FILE:LINE <MODULE>+0xOFF   Fuchsia (#N.M: inlined into #N)
//
// with macOS's function offsets and architecture-qualified modules and
// "<unknown>" placeholders kept as frames without a function.
func parseSanitizerFrame(s string) (Frame, bool) {
	t := strings.TrimLeft(s, " \t")
	if len(t) < 4 || t[0] != '#' {
		return Frame{}, false
	}
	i := 1
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 1 || i >= len(t) {
		return Frame{}, false
	}
	idx, err := strconv.Atoi(t[1:i])
	if err != nil {
		return Frame{}, false
	}
	inlined := false
	if t[i] == '.' {
		j := i + 1
		for j < len(t) && t[j] >= '0' && t[j] <= '9' {
			j++
		}
		if j == i+1 || j >= len(t) {
			return Frame{}, false
		}
		inlined, i = true, j
	}
	if t[i] != ' ' {
		return Frame{}, false
	}
	rest := strings.TrimLeft(t[i:], " ")
	f := Frame{Index: idx, Inlined: inlined}
	hasAddr := false
	if strings.HasPrefix(rest, "0x") {
		addrEnd := strings.IndexByte(rest, ' ')
		if addrEnd < 0 {
			addrEnd = len(rest)
		}
		addr, ok := parseHexPrefix(rest[:addrEnd])
		if !ok {
			return Frame{}, false
		}
		f.Address, hasAddr = addr, true
		rest = strings.TrimSpace(rest[addrEnd:])
	}
	if strings.HasSuffix(rest, ")") {
		if k := strings.LastIndex(rest, "(BuildId: "); k >= 0 {
			f.BuildID = rest[k+len("(BuildId: ") : len(rest)-1]
			rest = strings.TrimSpace(rest[:k])
		}
	}
	hasModule := false
	if strings.HasSuffix(rest, ")") {
		if k := strings.LastIndexByte(rest, '('); k >= 0 && (k == 0 || rest[k-1] == ' ') {
			inner := rest[k+1 : len(rest)-1]
			if plus := strings.LastIndex(inner, "+0x"); plus > 0 {
				if off, ok := parseHexPrefix(inner[plus+1:]); ok {
					f.Module, f.Offset = stripArch(inner[:plus]), off
					rest = strings.TrimSpace(rest[:k])
					hasModule = true
				}
			} else if inner == "<unknown module>" {
				rest = strings.TrimSpace(rest[:k])
				hasModule = true
			}
		}
	} else if k := strings.LastIndex(rest, " <"); k >= 0 || strings.HasPrefix(rest, "<") {
		// Fuchsia: "<libfoo.so>+0x1234" after the function and file.
		tail := rest[k+1:]
		if gt := strings.Index(tail, ">+0x"); gt > 0 {
			if off, ok := parseHexPrefix(tail[gt+2:]); ok {
				f.Module, f.Offset = tail[1:gt], off
				rest = strings.TrimSpace(rest[:k+1])
				hasModule = true
			}
		}
	}
	if fn, ok := strings.CutPrefix(rest, "in "); ok {
		rest = fn
	} else if !hasAddr {
		// ThreadSanitizer's frames have no address and no "in".
		if rest == "" || strings.HasPrefix(rest, "0x") {
			return Frame{}, false
		}
	} else if rest != "" {
		return f, true // "#N 0xADDR something": keep the address only
	}
	if rest != "" {
		fn, file := splitFunctionAndFile(rest)
		if !hasAddr && file == "" && !hasModule {
			return Frame{}, false // not a frame: "#3 something"
		}
		fn = stripFunctionOffset(fn)
		if fn != "<unknown>" && fn != "<null>" {
			f.Raw = fn
		}
		if file != "" && file != "<null>" {
			if loc, ok := parseLocation(file); ok && loc.Line > 0 {
				f.File, f.Line, f.Column = loc.File, loc.Line, loc.Column
			} else {
				f.File = file
			}
		}
	} else if !hasAddr {
		return Frame{}, false
	}
	return f, true
}

// stripArch drops macOS's architecture from a module ("libfoo.dylib:x86_64").
func stripArch(m string) string {
	if i := strings.LastIndexByte(m, ':'); i > 0 {
		switch m[i+1:] {
		case "x86_64", "x86_64h", "arm64", "arm64e", "i386", "aarch64":
			return m[:i]
		}
	}
	return m
}

// stripFunctionOffset drops an unsymbolized frame's "+0x1d" after the
// function (macOS, HWASan on Android).
func stripFunctionOffset(fn string) string {
	if i := strings.LastIndex(fn, "+0x"); i > 0 {
		if _, ok := parseHexPrefix(fn[i+1:]); ok && !strings.ContainsAny(fn[i+1:], " )") {
			return fn[:i]
		}
	}
	return fn
}

// parseMarkupFrame reads Fuchsia's symbolizer markup for an unsymbolized
// frame: "{{{bt:N:0xADDR[:ra|:pc]}}}".
func parseMarkupFrame(t string) (Frame, bool) {
	rest, ok := strings.CutPrefix(t, "{{{bt:")
	if !ok {
		return Frame{}, false
	}
	end := strings.Index(rest, "}}}")
	if end < 0 {
		return Frame{}, false
	}
	parts := strings.Split(rest[:end], ":")
	if len(parts) < 2 {
		return Frame{}, false
	}
	idx, err := strconv.Atoi(parts[0])
	if err != nil {
		return Frame{}, false
	}
	addr, ok := parseHexPrefix(parts[1])
	if !ok {
		return Frame{}, false
	}
	return Frame{Index: idx, Address: addr}, true
}

// splitFunctionAndFile splits "FUNC FILE:LINE:COL" where FUNC may hold
// spaces (C++ parameter lists, Rust "<X as Y>"): the last word is a file
// when it has no brackets and looks like a path or file name.
func splitFunctionAndFile(s string) (fn, file string) {
	s = strings.TrimSpace(s)
	k := strings.LastIndexByte(s, ' ')
	if k < 0 {
		return s, ""
	}
	last := s[k+1:]
	if strings.ContainsAny(last, "<>(){}[],") {
		return s, ""
	}
	if strings.ContainsRune(last, '/') || strings.ContainsRune(last, '.') {
		return strings.TrimSpace(s[:k]), last
	}
	return s, ""
}

// trace builds the Trace from the last segment with crash evidence.
func (p *parser) trace() *Trace { return traceOf(p.last, p.blocks) }

// traceOf is the Trace of one segment (nil: no crash), the blocks-th
// report of its log.
func traceOf(s *segment, blocks int) *Trace {
	t := &Trace{Kind: KindNone, Blocks: blocks}
	if s == nil {
		return t
	}
	t.Counters = s.counters
	t.Summary = s.summary
	t.Access = s.access
	t.Backtraces = s.backtraces
	if s.panic != nil {
		t.Thread, t.ThreadID = s.panic.thread, s.panic.threadID
		t.Message = s.panic.message
		t.Location = s.panic.location
	}
	if r := s.sanitizer; r != nil {
		t.Address, t.HasAddress = r.address, r.hasAddr
		if t.Thread == "" {
			t.Thread = r.thread
		}
		if r.size != 0 {
			t.AllocationSize = r.size
		}
	}
	t.Kind = classify(s, t)
	info := crashkind.Of(t.Kind)
	if t.Signal == "" && s.sanitizer != nil {
		// The signal a sanitizer reported (ABRT under a panic's abort).
		if k, ok := crashkind.SanitizerSignals[s.sanitizer.name]; ok {
			t.Signal = crashkind.Of(k).Signal
		}
	}
	if t.Signal == "" {
		t.Signal = info.Signal
	}
	if t.Summary == "" {
		t.Summary = headline(s, t)
	}
	t.Frames = chooseFrames(t.Backtraces, info.Stack)
	return t
}

// classify picks the crash kind from a segment's evidence. The order is
// the precedence: libFuzzer's explicit verdicts (timeout, OOM) say why
// the run ended whatever else was printed; a stack overflow or an
// allocation failure outranks the abort that follows it; a panic or an
// assertion outranks the ABRT or deadly signal it causes.
func classify(s *segment, t *Trace) CrashKind {
	lf := s.libfuzzer
	san := s.sanitizer
	sanName := ""
	signalReport := false
	if san != nil {
		sanName = san.name
		// The SUMMARY line names an ASan report most reliably.
		if rest, ok := strings.CutPrefix(s.summary, san.tool+": "); ok && san.tool == crashkind.ToolASan {
			if name, _, _ := strings.Cut(rest, " "); name != "" && !startsWithDigit(name) {
				sanName = name
			}
		}
		_, signalReport = crashkind.SanitizerSignals[sanName]
	}
	switch {
	case strings.HasPrefix(lf, "timeout"):
		return KindTimeout
	case strings.HasPrefix(lf, "out-of-memory"):
		if i := strings.Index(lf, "malloc("); i >= 0 {
			n := strings.TrimSuffix(strings.TrimSuffix(lf[i+len("malloc("):], ")"), ")")
			t.AllocationSize, _ = strconv.ParseUint(n, 10, 64)
		}
		return KindOOM
	case s.sanitizerOOM:
		return KindOOM
	case crashkind.SanitizerSignals[sanName] == KindOOM:
		return KindOOM
	case s.overflow || sanName == "stack-overflow":
		if s.overflowTid != "" && t.Thread == "" {
			t.Thread = s.overflowTid
		}
		return KindStackOverflow
	case s.allocFailure:
		t.AllocationSize = s.allocSize
		t.Message = fmt.Sprintf("memory allocation of %d bytes failed", s.allocSize)
		return KindAllocFailure
	case s.panic != nil:
		return KindRustPanic
	case s.assertion != nil && (san == nil || signalReport):
		t.Message = s.assertion.message
		if s.assertion.location != nil {
			t.Location = s.assertion.location
		}
		return s.assertion.kind
	case s.cfiMarker && (san == nil || signalReport):
		return crashkind.CFI
	case san != nil && san.tool == crashkind.ToolLSan, s.leak:
		return KindLeak
	case san != nil:
		k := sanitizerKind(san.tool, sanName, san.desc, san.address, san.hasAddr)
		if k == KindAbort && s.abortMessage != "" {
			t.Message = s.abortMessage
		}
		if k == KindUnknown && t.Message == "" {
			t.Message = san.line
		}
		return k
	case s.ubsan != nil:
		t.Message = s.ubsan.message
		t.Location = s.ubsan.location
		if k, ok := crashkind.FromReport(crashkind.ToolUBSan, s.ubsan.message); ok {
			return k
		}
		return KindUBSan
	case s.cfiMarker:
		return crashkind.CFI
	case s.fatalRuntime != "":
		t.Message = s.fatalRuntime
		return KindAbort
	case s.abortMessage != "":
		t.Message = s.abortMessage
		return KindAbort
	case strings.HasPrefix(lf, "fuzz target exited"):
		return KindFuzzTargetExited
	case strings.HasPrefix(lf, "fuzz target overwrites"):
		return KindInputOverwrite
	case lf == "deadly signal":
		if stackHasAbort(s.backtraces) {
			return KindAbort
		}
		return KindDeadlySignal
	case lf != "":
		t.Message = "libFuzzer: " + lf
		return KindUnknown
	case s.slowUnit && !s.crashEvidence:
		return KindSlowUnit
	}
	// Crash evidence no rule above recognized (a bare backtrace, an empty
	// "fatal runtime error:").
	return KindUnknown
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

// stackHasAbort: a deadly signal whose stack passes through libc's abort
// (a direct std::process::abort, not a panic) is an abort.
func stackHasAbort(bts []Backtrace) bool {
	for _, bt := range bts {
		for _, f := range bt.Frames {
			switch f.Function {
			case "abort", "raise", "gsignal", "__GI_abort", "__GI_raise", "std::process::abort":
				return true
			}
		}
	}
	return false
}

// headline is the Summary for reports without a SUMMARY: line.
func headline(s *segment, t *Trace) string {
	switch {
	case s.libfuzzer != "":
		return "libFuzzer: " + s.libfuzzer
	case s.sanitizer != nil:
		return s.sanitizer.line
	case s.overflow:
		return "stack overflow"
	case t.Message != "":
		first, _, _ := strings.Cut(t.Message, "\n")
		return first
	}
	return ""
}

// chooseFrames picks the crash stack by the kind's rule (crashkind.Stack):
// the first crash stack; the first direct leak's (else the first
// indirect leak's); or the richest crash stack: the most frames with a
// function and a source line, then the most frames with a function; the
// earlier one (Rust's own) on a tie.
func chooseFrames(bts []Backtrace, rule crashkind.Stack) []Frame {
	switch rule {
	case crashkind.StackFirst:
		for _, bt := range bts {
			if bt.Role == RoleCrash {
				return bt.Frames
			}
		}
		if len(bts) > 0 {
			// A report whose only stack is context (ThreadSanitizer's
			// thread leak: where the thread was created).
			return bts[0].Frames
		}
	case crashkind.StackDirectLeak:
		for _, role := range []string{RoleLeak, RoleLeakIndirect} {
			for _, bt := range bts {
				if bt.Role == role {
					return bt.Frames
				}
			}
		}
	}
	best, bestScore := -1, -1
	for i, bt := range bts {
		if bt.Role != RoleCrash && bt.Role != RoleLeak {
			continue
		}
		if bt.Role == RoleLeak && best >= 0 {
			continue // the first leak stack stands for the report
		}
		score := 0
		for _, f := range bt.Frames {
			if f.Function != "" {
				score++
				if f.File != "" && f.Line > 0 {
					score += 1 << 10
				}
			}
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return nil
	}
	return bts[best].Frames
}

// The prefixes of a Chromium log line ("[pid:tid:date:FATAL:file.cc(42)]
// MESSAGE") and a glog/abseil one ("F0101 00:00:00.000000 1234
// file.cc:42] MESSAGE") that say where a fatal message was logged.
var (
	chromiumLogLine = regexp.MustCompile(`^\[[^\]]*:(FATAL|ERROR|DCHECK):([^\](:]+)\((\d+)\)\] (.*)$`)
	googleLogLine   = regexp.MustCompile(`^F\d{4} [0-9:.]+\s+\d+ ([^\s:\]]+):(\d+)\] (.*)$`)
)

// checkKinds maps the words a CHECK failure starts with to its kind, most
// specific first.
var checkKinds = []struct {
	prefix string
	kind   CrashKind
}{
	{"Security DCHECK failed: ", crashkind.SecurityCheck},
	{"Security CHECK failed: ", crashkind.SecurityCheck},
	{"Debug check failed: ", crashkind.DCheckFailure},
	{"DCHECK failed: ", crashkind.DCheckFailure},
	{"Check failed: ", crashkind.CheckFailure},
	{"CHECK failed: ", crashkind.CheckFailure},
}

// parseAssertion recognises a C/C++ assertion failure, CHECK failure or
// fatal log line, or returns nil.
func parseAssertion(t string) *assertReport {
	// glibc: "prog: file.c:12: int f(int): Assertion `x > 0' failed."
	// (libstdc++'s assertions quote with ' instead of `).
	for _, open := range []string{": Assertion `", ": Assertion '"} {
		if i := strings.Index(t, open); i > 0 {
			msg := strings.TrimSuffix(strings.TrimSuffix(t[i+len(open):], "."), " failed")
			msg = strings.TrimSuffix(msg, "'")
			a := &assertReport{kind: crashkind.Assert, message: msg}
			parts := strings.Split(t[:i], ": ")
			for _, part := range parts {
				if loc, ok := parseLocation(part); ok && loc.Line > 0 && !strings.ContainsAny(loc.File, " ()") {
					a.location = loc
					break
				}
			}
			return a
		}
	}
	if rest, ok := strings.CutPrefix(t, "Assertion failed: "); ok {
		a := &assertReport{kind: crashkind.Assert, message: rest}
		// macOS: "(x > 0), function f, file a.c, line 12."
		if i := strings.Index(rest, ", function "); i > 0 {
			a.message = strings.TrimSuffix(strings.TrimPrefix(rest[:i], "("), ")")
			if j := strings.Index(rest, ", file "); j > 0 {
				if k := strings.Index(rest[j:], ", line "); k > 0 {
					n, _ := strconv.Atoi(strings.TrimSuffix(rest[j+k+len(", line "):], "."))
					a.location = &Location{File: rest[j+len(", file ") : j+k], Line: n}
				}
			}
			return a
		}
		// musl: "x > 0 (a.c: f: 12)"
		if i := strings.LastIndex(rest, " ("); i > 0 && strings.HasSuffix(rest, ")") {
			a.message = rest[:i]
			parts := strings.Split(rest[i+2:len(rest)-1], ": ")
			if n, err := strconv.Atoi(parts[len(parts)-1]); err == nil && len(parts) >= 2 {
				a.location = &Location{File: parts[0], Line: n}
			}
		}
		return a
	}
	for _, p := range []string{"ASSERTION FAILED: ", "ASSERT FAILED: ", "ASSERTION FAILURE: ", "ASSERT FAILURE: "} {
		if i := strings.Index(t, p); i >= 0 {
			a := &assertReport{kind: crashkind.Assert, message: t[i+len(p):]}
			if i > 0 {
				if loc, ok := parseLocation(strings.TrimRight(t[:i], ": ")); ok && loc.Line > 0 {
					a.location = loc
				}
			}
			return a
		}
	}
	if m := chromiumLogLine.FindStringSubmatch(t); m != nil {
		n, _ := strconv.Atoi(m[3])
		if a := checkReport(m[4]); a != nil {
			a.location = &Location{File: m[2], Line: n}
			return a
		}
		if m[1] == "FATAL" {
			return &assertReport{kind: crashkind.FatalLog, message: m[4], location: &Location{File: m[2], Line: n}}
		}
		return nil
	}
	if m := googleLogLine.FindStringSubmatch(t); m != nil {
		n, _ := strconv.Atoi(m[2])
		a := checkReport(m[3])
		if a == nil {
			a = &assertReport{kind: crashkind.FatalLog, message: m[3]}
		}
		a.location = &Location{File: m[1], Line: n}
		return a
	}
	if a := checkReport(t); a != nil {
		return a
	}
	if rest, ok := strings.CutPrefix(t, "FATAL: "); ok {
		return &assertReport{kind: crashkind.FatalLog, message: rest}
	}
	return nil
}

// checkReport reads "Check failed: COND" and its variants.
func checkReport(msg string) *assertReport {
	for _, c := range checkKinds {
		if rest, ok := strings.CutPrefix(msg, c.prefix); ok {
			return &assertReport{kind: c.kind, message: strings.TrimSuffix(strings.TrimSpace(rest), ".")}
		}
	}
	return nil
}
