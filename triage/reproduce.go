package triage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fuzztriage/triage/crashkind"
	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/templates"

	"github.com/fuzztriage/triage/dedupe"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
)

// RunOptions say how to run a fuzz binary on an input.
type RunOptions struct {
	Binary  string
	Profile store.Profile
	// Flags are the libFuzzer flags (see ReproFlags).
	Flags []string
	// Tries is the most runs made; runs stop early once StopAfter of them
	// crashed the same way.
	Tries int
	// StopAfter is how many same-way crashes end the runs early; 0 means
	// half of Tries, rounded up (then the verdict cannot change any more).
	StopAfter int
	// Timeout bounds one run (wall clock).
	Timeout time.Duration
	// RustBacktrace is RUST_BACKTRACE for the reference try; confirmation
	// tries run with RUST_BACKTRACE=0 (a backtrace costs ~65 ms a run and
	// is not needed to tell the same panic again).
	RustBacktrace string
	Env           []string
	OutputCap     int
	// ScratchDir is the working directory and -artifact_prefix, so that no
	// run writes into the workspace.
	ScratchDir string
	// Parse turns a log into a Trace.
	Parse ParseFunc
	// Symbolize, when set, completes the reference try's frames from the
	// binary's debug info.
	Symbolize SymbolizeFunc
	// Accept, when set, is asked about the reference try's crash: when it
	// lands in a bucket already confirmed reproducible, the confirmation
	// tries are skipped and the answer (what vouched for it) is recorded
	// as ConfirmedBy.
	Accept func(t *symbolize.Trace) (by string, ok bool)
	// Expect is the crash kind the artifact's name promises (timeout-,
	// oom-), or "".
	Expect symbolize.CrashKind
	// LLDB, when set, runs tries of stack-less kinds under lldb (see
	// crashkind.Info.LLDBStack).
	LLDB *LLDBRun
}

// LLDBRun says how a try runs under lldb.
type LLDBRun struct {
	Binary    string
	Timeout   time.Duration
	Templates templates.Set
	// Session, when set, prepares the try as the build's findings session
	// (PrepareSession: frames and values read at the stop, files kept where
	// it says) instead of a bare stack-and-verdict run, so that the one run
	// a timeout or an OOM costs also gives the bucket's lldb findings; Ran
	// then hears of each such run.
	Session func(ctx context.Context, kind symbolize.CrashKind) (*Session, error)
	Ran     func(plan *lldbscript.Plan, res *lldbscript.Result)
}

// ParseFunc is the log parser (symbolize.Parse).
type ParseFunc func(log []byte) (*symbolize.Trace, error)

// ReproFlags are the libFuzzer flags for an artifact of kind on target:
// the target's own options (target-options), then
//   - -timeout= (the configuration's libfuzzer_timeout, else the target's,
//     else 5) so that a hang ends in libFuzzer's timeout report rather than
//     our kill; except for oom- artifacts, where a slow allocation must not
//     be taken for a hang: they run with no -timeout at all (the wall-clock
//     reproduce.timeout still bounds them);
//   - -rss_limit_mb= for oom- artifacts (the configuration's rss_limit_mb,
//     else the target's, else 1024).
func ReproFlags(t *Target, kind store.ArtifactKind, rc *ReproduceConfig) []string {
	flags := append([]string(nil), t.Options...)
	has := func(name string) bool {
		for _, f := range flags {
			if strings.HasPrefix(f, "-"+name+"=") {
				return true
			}
		}
		return false
	}
	drop := func(name string) {
		out := flags[:0]
		for _, f := range flags {
			if !strings.HasPrefix(f, "-"+name+"=") {
				out = append(out, f)
			}
		}
		flags = out
	}
	set := func(name string, v int) {
		drop(name)
		flags = append(flags, fmt.Sprintf("-%s=%d", name, v))
	}
	if crashkind.Of(expectedKind(kind)).Limit == crashkind.LimitRSS {
		drop("timeout")
		switch {
		case rc.RSSLimitMB > 0:
			set("rss_limit_mb", rc.RSSLimitMB)
		case !has("rss_limit_mb"):
			set("rss_limit_mb", DefaultRSSLimitMB)
		}
		return flags
	}
	switch {
	case rc.LibFuzzerTimeout > 0:
		set("timeout", rc.LibFuzzerTimeout)
	case !has("timeout"):
		set("timeout", DefaultLibFuzzerTimeout)
	}
	return flags
}

// expectedKind is the crash kind an artifact's name promises (libFuzzer
// names timeout- and oom- files by the limit that fired), or "".
func expectedKind(k store.ArtifactKind) symbolize.CrashKind {
	switch k {
	case store.ArtifactTimeout:
		return symbolize.KindTimeout
	case store.ArtifactOOM:
		return symbolize.KindOOM
	}
	return ""
}

// Defaults of the libFuzzer limits when neither the configuration nor the
// target's options set them.
const (
	DefaultLibFuzzerTimeout = 5
	DefaultRSSLimitMB       = 1024
)

// RunResult is one run of the fuzz binary: the try as recorded, and the
// output and parsed crash the pipeline works with.
type RunResult struct {
	store.Try
	// Log is stderr then stdout (head and tail when over the cap).
	Log []byte
	// Trace is the parsed crash (set by Reproduce and the verifiers).
	Trace *symbolize.Trace
}

// RunOnce runs the binary on input once. This is the one way a fuzz binary
// runs one input: reproduction, verification of minimized candidates, the
// dev build and `triage repro` all come here.
func RunOnce(ctx context.Context, o *RunOptions, input string, backtrace bool) (*RunResult, error) {
	bt := "0"
	if backtrace {
		bt = o.RustBacktrace
		if bt == "" {
			bt = "1"
		}
	}
	scratch := o.ScratchDir
	if scratch == "" {
		scratch = os.TempDir()
	}
	args := append([]string{"-artifact_prefix=" + filepath.Clean(scratch) + "/"}, o.Flags...)
	args = append(args, input)
	env := append([]string{"RUST_BACKTRACE=" + bt}, o.Env...)
	res, err := procrun.Run(ctx, procrun.Spec{
		Path:      o.Binary,
		Args:      args,
		Dir:       scratch,
		Env:       env,
		Unset:     []string{"XTASK_FUZZ_REPRO"},
		Timeout:   o.Timeout,
		OutputCap: o.OutputCap,
		// Not a Leaf, though one input starts no process: the guard
		// starts the binary from a small process (see procrun.Spec.Leaf).
	})
	if err != nil {
		return nil, err
	}
	if res.Canceled {
		return nil, context.Cause(ctx)
	}
	tr := &RunResult{Try: store.Try{
		ExitCode:     res.ExitCode,
		DurationMS:   res.Duration.Milliseconds(),
		Backtrace:    backtrace && bt != "0",
		OutputElided: res.Elided(),
	}, Log: append(res.Stderr, res.Stdout...)}
	if res.Signal != 0 {
		tr.Signal = signalName(res.Signal.String(), int(res.Signal))
	}
	tr.Outcome = outcomeOf(res, tr.Log)
	return tr, nil
}

func signalName(s string, n int) string {
	names := map[int]string{6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 7: "SIGBUS", 8: "SIGFPE", 4: "SIGILL", 15: "SIGTERM"}
	if v, ok := names[n]; ok {
		return v
	}
	return s
}

func outcomeOf(res *procrun.Result, log []byte) store.Outcome {
	if res.TimedOut {
		return store.OutcomeHang
	}
	if res.Signal != 0 {
		return store.OutcomeCrash
	}
	switch res.ExitCode {
	case 0:
		return store.OutcomeNoCrash
	case 77:
		return store.OutcomeCrash
	case 70:
		return store.OutcomeTimeout
	case 71:
		return store.OutcomeOOM
	case 1:
		// A sanitizer reports with exit 1; so does a libFuzzer usage error.
		for _, m := range sanitizerReportMarkers {
			if strings.Contains(string(log), m) {
				return store.OutcomeCrash
			}
		}
	}
	return store.OutcomeError
}

// sanitizerReportMarkers are what a sanitizer's report starts with; they tell
// a sanitizer's exit 1 from libFuzzer's own errors.
var sanitizerReportMarkers = []string{
	"ERROR: AddressSanitizer",
	"ERROR: LeakSanitizer",
	"ERROR: MemorySanitizer",
	"ERROR: ThreadSanitizer",
	"runtime error:", // UBSan
}

// Reproduce runs input up to o.Tries times. The first failing try runs with
// a backtrace and is the reference; later tries confirm it cheaply. It
// stops early once half the tries are certain to have crashed the same way.
func Reproduce(ctx context.Context, o *RunOptions, input string) (*store.Reproduction, error) {
	tries := o.Tries
	if tries <= 0 {
		tries = 1
	}
	need := (tries + 1) / 2
	if o.StopAfter > 0 && o.StopAfter < need {
		need = o.StopAfter
	}
	rep := &store.Reproduction{Profile: o.Profile, Binary: o.Binary, Flags: o.Flags}
	var ref, last *RunResult
	// A kind whose log often has no stack (a hang, an RSS overflow) runs
	// its first try under lldb when the artifact's name promises one; a
	// crash that turns out stack-less gets its second try there.
	underLLDB := o.LLDB != nil && o.Parse != nil && crashkind.Of(o.Expect).LLDBStack
	lldbKind := o.Expect
	stackWhy := ""
	// wantStack: a stack-less crash still waits for its lldb try, which
	// may be one beyond the tries (the key needs the stack).
	wantStack := func(i int) bool { return underLLDB && stackWhy == "" && i <= tries }
	for i := 0; i < tries || wantStack(i); i++ {
		var t *RunResult
		var err error
		if underLLDB && stackWhy == "" {
			t, stackWhy = runUnderLLDB(ctx, o, input, lldbKind)
		}
		if t == nil {
			t, err = RunOnce(ctx, o, input, ref == nil)
		}
		if err != nil {
			return nil, err
		}
		rep.Tries++
		if t.Outcome.Failed() {
			if o.Parse != nil && t.Trace == nil {
				t.Trace = parseOrFallback(o.Parse, t)
				if ref == nil && o.Symbolize != nil {
					// Best effort: the frames the log gave stay as they are.
					_ = o.Symbolize(t.Trace, o.Binary)
				}
			}
			if ref == nil && t.Trace != nil && crashkind.Of(t.Trace.Kind).LLDBStack {
				switch {
				case t.LLDB:
					rep.StackFrom = "lldb"
				case hasInAppFrames(t.Trace):
					rep.StackFrom = "log"
				case o.LLDB == nil:
					rep.StackFrom = "none: lldb sessions are off"
				case stackWhy == "":
					underLLDB, lldbKind = true, t.Trace.Kind // the next try gives the stack
				}
			}
			if ref != nil && ref.Trace != nil && t.LLDB && !hasInAppFrames(ref.Trace) && hasInAppFrames(t.Trace) {
				// The reference's crash, with the stack lldb found.
				ref.Trace.Frames, ref.Trace.Backtraces = t.Trace.Frames, t.Trace.Backtraces
				rep.StackFrom = "lldb"
			}
			if ref == nil {
				ref = t
				t.Same = true
			} else {
				t.Same = sameCrash(ref, t)
				if !t.Same {
					t.Crash = describeCrash(t)
				}
			}
			if t.Same {
				rep.Crashes++
			}
		}
		rep.Detail = append(rep.Detail, t.Try)
		last = t
		if rep.Crashes >= need && !wantStack(i+1) {
			break
		}
		if ref != nil && ref.Trace != nil && !wantStack(i+1) && oneRun(ref.Trace.Kind) {
			// A kind reproduced under a limit costs that limit per run;
			// another run would only learn the same thing again.
			rep.ConfirmedBy = "one run: a " + string(ref.Trace.Kind) + " costs its limit (-" + limitFlag(ref.Trace.Kind) + ") per run"
			break
		}
		// Asked before every confirmation try, not only the first: another
		// worker may confirm the bucket while this one is still trying.
		if ref != nil && i+1 < tries && o.Accept != nil && ref.Trace != nil {
			if by, ok := o.Accept(ref.Trace); ok {
				rep.ConfirmedBy = by
				break
			}
		}
	}
	// The verdict is over the tries made: at least half crashed the same
	// way is reproducible.
	switch {
	case rep.Crashes > 0 && 2*rep.Crashes >= rep.Tries:
		rep.Status = store.Reproducible
	case rep.Crashes > 0:
		rep.Status = store.Flaky
	default:
		rep.Status = store.NotReproducible
	}
	rep.Rate = float64(rep.Crashes) / float64(rep.Tries)
	final := ref
	if final == nil {
		final = last
	}
	rep.Outcome, rep.ExitCode, rep.Signal = final.Outcome, final.ExitCode, final.Signal
	rep.Log = string(final.Log)
	rep.Trace = final.Trace
	if rep.StackFrom == "" && stackWhy != "" && stackWhy != stackFound {
		rep.StackFrom = "none: " + stackWhy
	}
	return rep, nil
}

// oneRun says a crash kind is reproduced by one run per build: its run
// waits for a libFuzzer limit (a timeout's seconds, an RSS fill), so its
// verdict and stack come from the same run (under lldb) and no
// confirmation try repeats them (crashkind.Info.Limit).
func oneRun(k symbolize.CrashKind) bool { return crashkind.Of(k).Limit != "" }

// limitFlag is the libFuzzer flag of a kind's limit.
func limitFlag(k symbolize.CrashKind) string {
	if crashkind.Of(k).Limit == crashkind.LimitRSS {
		return "rss_limit_mb"
	}
	return "timeout"
}

// stackFound is runUnderLLDB's answer when the run gave a stack.
const stackFound = "found"

// slowerAlarm doubles a -timeout=N flag of args (a copy).
func slowerAlarm(args []string) []string {
	out := slices.Clone(args)
	for i, a := range out {
		if v, ok := strings.CutPrefix(a, "-timeout="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				out[i] = "-timeout=" + strconv.Itoa(2*n)
			}
		}
	}
	return out
}

// lostProcessRuns bounds the runs under lldb of one input while lldb
// keeps losing the process.
const lostProcessRuns = 3

// runUnderLLDB is one try under lldb: it stops where the crash kind's
// limit fires (libFuzzer's alarm, its RSS-limit callback, the overflowing
// access), takes the stack of the input's thread, then lets the program
// end as it would without lldb, so the try also has its verdict (exit
// status, libFuzzer's report). The run is nil, with the reason, when lldb
// could not give a verdict (it is missing, or the session failed); the
// caller then runs the input plainly.
func runUnderLLDB(ctx context.Context, o *RunOptions, input string, kind symbolize.CrashKind) (*RunResult, string) {
	depth := 64
	if kind == symbolize.KindStackOverflow {
		depth = 256
	}
	env := append([]string{"RUST_BACKTRACE=" + o.RustBacktrace}, o.Env...)
	var sess *Session
	if o.LLDB.Session != nil {
		// Best effort: a session that cannot be prepared leaves a bare run.
		sess, _ = o.LLDB.Session(ctx, kind)
	}
	var run func() (*lldbscript.Result, error)
	var args *[]string // the run's libFuzzer flags
	if sess != nil {
		sess.Spec.Finish, sess.Spec.BacktraceDepth = true, depth
		sess.Options.Env = env
		args = &sess.Spec.Args
		run = func() (*lldbscript.Result, error) {
			plan, res, err := sess.Run(ctx)
			if err == nil && o.LLDB.Ran != nil {
				o.LLDB.Ran(plan, res)
			}
			return res, err
		}
	} else {
		dir, err := os.MkdirTemp(o.ScratchDir, "lldb-run-")
		if err != nil {
			return nil, err.Error()
		}
		defer os.RemoveAll(dir)
		spec := &lldbscript.Spec{Binary: o.Binary, Args: o.Flags, Input: input, Kind: kind, Finish: true, BacktraceDepth: depth,
			Title: "the stack and the verdict of " + filepath.Base(input)}
		opt := lldbscript.RunOptions{LLDB: o.LLDB.Binary, Timeout: o.LLDB.Timeout, Dir: dir, Formatters: lldbscript.FormattersNone, Templates: o.LLDB.Templates, Env: env}
		run = func() (*lldbscript.Result, error) { return lldbscript.Run(ctx, spec, opt) }
		args = &spec.Args
	}
	start := time.Now()
	res, err := run()
	for again := 1; again < lostProcessRuns && err == nil && res.Session != nil && res.Session.Ended.Lost(); again++ {
		// Again: lldb losing its process is lldb's own failure, and the
		// stack is worth another run. Seen only on loaded machines and
		// only for timeouts, whose SIGALRM stops then land in libFuzzer's
		// start-up: the next run waits a moment and gets a slower alarm
		// (libFuzzer's alarm period follows -timeout; the verdict is a
		// timeout either way).
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(again) * time.Second):
		}
		if kind == symbolize.KindTimeout {
			*args = slowerAlarm(*args)
		}
		start = time.Now()
		res, err = run()
	}
	switch {
	case err != nil:
		return nil, "lldb: " + err.Error()
	case res.Session == nil || res.Session.Ended == nil:
		why := "lldb did not see the program end"
		if res.Message != "" {
			why += ": " + res.Message
		}
		return nil, why
	}
	code := res.Session.Ended.Status
	if res.Session.Ended.Lost() {
		// lldb's failure, not the program's: no verdict, no stack.
		return nil, "lldb lost the process: " + res.Session.Ended.Text
	}
	t := &RunResult{Try: store.Try{ExitCode: code, DurationMS: time.Since(start).Milliseconds(), Backtrace: true, LLDB: true},
		Log: []byte(res.InferiorStderr)}
	t.Outcome = outcomeOf(&procrun.Result{ExitCode: code}, t.Log)
	if !t.Outcome.Failed() {
		return t, "the program did not fail under lldb"
	}
	t.Trace = parseOrFallback(o.Parse, t)
	if !hasInAppFrames(t.Trace) {
		withLLDBStack(t.Trace, lldbFrames(res.Session.Backtrace))
	}
	if !hasInAppFrames(t.Trace) {
		return t, "lldb's stack at the stop has no frame of the code under test"
	}
	return t, stackFound
}

// withLLDBStack gives a trace whose log had no frame of the code under test
// the stack lldb took at the stop, as its crash stack (the key's frames).
func withLLDBStack(tr *symbolize.Trace, frames []symbolize.Frame) {
	if len(frames) == 0 {
		return
	}
	tr.Backtraces = append(tr.Backtraces, symbolize.Backtrace{Source: symbolize.SourceLLDB, Role: symbolize.RoleCrash, Frames: frames})
	tr.Frames = tr.Backtraces[len(tr.Backtraces)-1].Frames
}

// lldbFrames are a session backtrace's frames as parsed-trace frames,
// demangled, normalized and tagged.
func lldbFrames(bt []lldbscript.Frame) []symbolize.Frame {
	frames := make([]symbolize.Frame, len(bt))
	for i, fr := range bt {
		frames[i] = symbolize.Frame{Index: fr.Index, Address: fr.Address, Module: fr.Module, Raw: fr.Function, Function: fr.Function,
			Normalized: symbolize.Normalize(fr.Function), File: fr.File, Line: fr.Line, Column: fr.Column, Inlined: fr.Inlined}
	}
	symbolize.DefaultRules().TagFrames(frames)
	return frames
}

// sameCrash says two runs of the same input failed the same way: same
// outcome, and where both parsed, the same crash kind, panic location and
// message. (The input is the same, so a deterministic bug repeats its
// message exactly; bucketing across inputs is the dedupe stage's job.)
func sameCrash(a, b *RunResult) bool {
	if a.Outcome != b.Outcome && !(timeLike(a.Outcome) && timeLike(b.Outcome)) {
		return false
	}
	ta, tb := a.Trace, b.Trace
	if ta == nil || tb == nil {
		return ta == nil && tb == nil
	}
	// Messages are compared as templates: a value that changes from run to
	// run (an address, a counter) does not make it another crash.
	if ta.Kind != tb.Kind || dedupe.MessageTemplate(ta.Message) != dedupe.MessageTemplate(tb.Message) {
		return false
	}
	if (ta.Location == nil) != (tb.Location == nil) {
		return false
	}
	if ta.Location != nil && (ta.Location.File != tb.Location.File || ta.Location.Line != tb.Location.Line) {
		return false
	}
	return true
}

// parseOrFallback parses a failed try's log; when the parser finds
// nothing it can use (an empty log from a bare SIGSEGV, say), the outcome
// decides the kind so the crash still gets a bucket.
func parseOrFallback(parse ParseFunc, t *RunResult) *symbolize.Trace {
	tr, err := parse(t.Log)
	if err == nil && tr != nil && tr.Kind != symbolize.KindNone {
		return tr
	}
	fb := &symbolize.Trace{Kind: symbolize.KindUnknown, Signal: t.Signal}
	switch t.Outcome {
	case store.OutcomeTimeout, store.OutcomeHang:
		fb.Kind = symbolize.KindTimeout
	case store.OutcomeOOM:
		fb.Kind = symbolize.KindOOM
	case store.OutcomeCrash:
		switch t.Signal {
		case "SIGSEGV", "SIGBUS":
			fb.Kind = symbolize.KindSEGV
		case "SIGABRT":
			fb.Kind = symbolize.KindAbort
		}
	}
	if tr != nil {
		fb.Frames, fb.Backtraces = tr.Frames, tr.Backtraces
	}
	fb.Summary = "the log showed no crash report; kind taken from the exit (" + string(t.Outcome) + ")"
	return fb
}

// timeLike: libFuzzer's timeout and our wall-clock kill are one failure.
func timeLike(o store.Outcome) bool { return o == store.OutcomeTimeout || o == store.OutcomeHang }

func describeCrash(t *RunResult) string {
	s := string(t.Outcome)
	if t.Trace != nil {
		s = string(t.Trace.Kind)
		if t.Trace.Location != nil {
			s += " at " + t.Trace.Location.File + ":" + strconv.Itoa(t.Trace.Location.Line)
		}
		if t.Trace.Message != "" {
			msg := t.Trace.Message
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			if len(msg) > 120 {
				msg = msg[:120] + "..."
			}
			s += ": " + msg
		}
	}
	return s
}
