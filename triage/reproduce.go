package triage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fuzztriage/triage/dedupe"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/symbolize"
)

// Outcome is what one run of a fuzz binary on an input did.
type Outcome string

// The outcomes of one run, from libFuzzer's exit codes (77 crash, 70
// timeout, 71 out-of-memory, 72 interrupted, 1 with a sanitizer report)
// and from our own wall-clock timeout.
const (
	OutcomeCrash   Outcome = "crash"    // a deadly signal, panic, abort or sanitizer report
	OutcomeTimeout Outcome = "timeout"  // libFuzzer's -timeout fired (exit 70)
	OutcomeOOM     Outcome = "oom"      // libFuzzer's -rss_limit_mb or -malloc_limit_mb fired (exit 71)
	OutcomeHang    Outcome = "hang"     // our wall-clock timeout killed it
	OutcomeNoCrash Outcome = "no-crash" // exit 0: the input runs cleanly
	OutcomeError   Outcome = "error"    // anything else (libFuzzer usage error, interrupted, ...)
)

// Failed says the run showed the kind of failure artifacts are kept for.
func (o Outcome) Failed() bool {
	switch o {
	case OutcomeCrash, OutcomeTimeout, OutcomeOOM, OutcomeHang:
		return true
	}
	return false
}

// Reproducibility is how reliably an input reproduces its crash.
type Reproducibility string

// A crash is reproducible when it recurs (the same way) in at least half of
// the tries, as ClusterFuzz judges it; flaky when it recurs less often but
// at least once; not reproducible when no try crashes.
const (
	Reproducible    Reproducibility = "reproducible"
	Flaky           Reproducibility = "flaky"
	NotReproducible Reproducibility = "not-reproducible"
)

// Try is one run of the fuzz binary on the input.
type Try struct {
	Outcome  Outcome `json:"outcome" yaml:"outcome"`
	ExitCode int     `json:"exit_code" yaml:"exit_code"`
	Signal   string  `json:"signal,omitempty" yaml:"signal,omitempty"`
	// Duration in milliseconds.
	DurationMS int64 `json:"duration_ms" yaml:"duration_ms"`
	// Backtrace says RUST_BACKTRACE was on for this try.
	Backtrace bool `json:"backtrace,omitempty" yaml:"backtrace,omitempty"`
	// Same says this try crashed the same way as the reference try (kind,
	// panic location and message).
	Same bool `json:"same" yaml:"same"`
	// Crash is a one-line description of a crash that differed from the
	// reference.
	Crash string `json:"crash,omitempty" yaml:"crash,omitempty"`

	log   []byte
	trace *symbolize.Trace
}

// Reproduction is the result of running one input N times on one build.
type Reproduction struct {
	Profile Profile `json:"profile" yaml:"profile"`
	Binary  string  `json:"binary" yaml:"binary"`
	// BinarySHA1 identifies the build the input ran on.
	BinarySHA1 string          `json:"binary_sha1,omitempty" yaml:"binary_sha1,omitempty"`
	Flags      []string        `json:"flags,omitempty" yaml:"flags,omitempty"`
	Status     Reproducibility `json:"status" yaml:"status"`
	// Tries is how many runs were made; Crashes how many crashed the same
	// way as the reference (the first crashing try, run with a backtrace).
	Tries   int `json:"tries" yaml:"tries"`
	Crashes int `json:"crashes" yaml:"crashes"`
	// Rate is Crashes/Tries.
	Rate float64 `json:"rate" yaml:"rate"`
	// ConfirmedBy is set when the confirmation tries were skipped because
	// the crash landed in a bucket already confirmed reproducible: it names
	// the bucket and the input (or earlier run) that confirmed it.
	ConfirmedBy string `json:"confirmed_by,omitempty" yaml:"confirmed_by,omitempty"`
	// Outcome and ExitCode are the reference try's (or the last try's when
	// none crashed).
	Outcome  Outcome `json:"outcome" yaml:"outcome"`
	ExitCode int     `json:"exit_code" yaml:"exit_code"`
	Signal   string  `json:"signal,omitempty" yaml:"signal,omitempty"`
	// BucketID is the bucket the reference try's crash falls in.
	BucketID string `json:"bucket,omitempty" yaml:"bucket,omitempty"`
	// Crash is the reference try's parsed crash, for builds other than the
	// release one (whose crash is the artifact record's).
	Crash *CrashRecord `json:"crash,omitempty" yaml:"crash,omitempty"`
	// Log is the reference try's output, for people (capped).
	Log    string `json:"-" yaml:"-"`
	Detail []Try  `json:"details" yaml:"details"`

	// Trace is the reference try's parsed crash.
	Trace *symbolize.Trace `json:"-" yaml:"-"`
}

// RunOptions say how to run a fuzz binary on an input.
type RunOptions struct {
	Binary  string
	Profile Profile
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
func ReproFlags(t *Target, kind ArtifactKind, rc *ReproduceConfig) []string {
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
	if kind == ArtifactOOM {
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

// Defaults of the libFuzzer limits when neither the configuration nor the
// target's options set them.
const (
	DefaultLibFuzzerTimeout = 5
	DefaultRSSLimitMB       = 1024
)

// RunOnce runs the binary on input once.
func RunOnce(ctx context.Context, o *RunOptions, input string, backtrace bool) (*Try, error) {
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
	})
	if err != nil {
		return nil, err
	}
	if res.Canceled {
		return nil, context.Cause(ctx)
	}
	tr := &Try{
		ExitCode:   res.ExitCode,
		DurationMS: res.Duration.Milliseconds(),
		Backtrace:  backtrace && bt != "0",
		log:        append(res.Stderr, res.Stdout...),
	}
	if res.Signal != 0 {
		tr.Signal = signalName(res.Signal.String(), int(res.Signal))
	}
	tr.Outcome = outcomeOf(res, tr.log)
	return tr, nil
}

func signalName(s string, n int) string {
	names := map[int]string{6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 7: "SIGBUS", 8: "SIGFPE", 4: "SIGILL", 15: "SIGTERM"}
	if v, ok := names[n]; ok {
		return v
	}
	return s
}

func outcomeOf(res *procrun.Result, log []byte) Outcome {
	if res.TimedOut {
		return OutcomeHang
	}
	if res.Signal != 0 {
		return OutcomeCrash
	}
	switch res.ExitCode {
	case 0:
		return OutcomeNoCrash
	case 77:
		return OutcomeCrash
	case 70:
		return OutcomeTimeout
	case 71:
		return OutcomeOOM
	case 1:
		// A sanitizer reports with exit 1; so does a libFuzzer usage error.
		for _, m := range sanitizerReportMarkers {
			if strings.Contains(string(log), m) {
				return OutcomeCrash
			}
		}
	}
	return OutcomeError
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
func Reproduce(ctx context.Context, o *RunOptions, input string) (*Reproduction, error) {
	tries := o.Tries
	if tries <= 0 {
		tries = 1
	}
	need := (tries + 1) / 2
	if o.StopAfter > 0 && o.StopAfter < need {
		need = o.StopAfter
	}
	rep := &Reproduction{Profile: o.Profile, Binary: o.Binary, Flags: o.Flags}
	var ref *Try
	for i := 0; i < tries; i++ {
		t, err := RunOnce(ctx, o, input, ref == nil)
		if err != nil {
			return nil, err
		}
		rep.Tries++
		if t.Outcome.Failed() {
			if o.Parse != nil {
				t.trace = parseOrFallback(o.Parse, t)
				if ref == nil && o.Symbolize != nil {
					// Best effort: the frames the log gave stay as they are.
					_ = o.Symbolize(t.trace, o.Binary)
				}
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
		rep.Detail = append(rep.Detail, *t)
		if rep.Crashes >= need {
			break
		}
		// Asked before every confirmation try, not only the first: another
		// worker may confirm the bucket while this one is still trying.
		if ref != nil && i+1 < tries && o.Accept != nil && ref.trace != nil {
			if by, ok := o.Accept(ref.trace); ok {
				rep.ConfirmedBy = by
				break
			}
		}
	}
	// The verdict is over the tries made: at least half crashed the same
	// way is reproducible.
	switch {
	case rep.Crashes > 0 && 2*rep.Crashes >= rep.Tries:
		rep.Status = Reproducible
	case rep.Crashes > 0:
		rep.Status = Flaky
	default:
		rep.Status = NotReproducible
	}
	rep.Rate = float64(rep.Crashes) / float64(rep.Tries)
	final := ref
	if final == nil {
		last := rep.Detail[len(rep.Detail)-1]
		final = &last
	}
	rep.Outcome, rep.ExitCode, rep.Signal = final.Outcome, final.ExitCode, final.Signal
	rep.Log = string(final.log)
	rep.Trace = final.trace
	return rep, nil
}

// sameCrash says two runs of the same input failed the same way: same
// outcome, and where both parsed, the same crash kind, panic location and
// message. (The input is the same, so a deterministic bug repeats its
// message exactly; bucketing across inputs is the dedupe stage's job.)
func sameCrash(a, b *Try) bool {
	if a.Outcome != b.Outcome && !(timeLike(a.Outcome) && timeLike(b.Outcome)) {
		return false
	}
	ta, tb := a.trace, b.trace
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
func parseOrFallback(parse ParseFunc, t *Try) *symbolize.Trace {
	tr, err := parse(t.log)
	if err == nil && tr != nil && tr.Kind != symbolize.KindNone {
		return tr
	}
	fb := &symbolize.Trace{Kind: symbolize.KindUnknown, Signal: t.Signal}
	switch t.Outcome {
	case OutcomeTimeout, OutcomeHang:
		fb.Kind = symbolize.KindTimeout
	case OutcomeOOM:
		fb.Kind = symbolize.KindOOM
	case OutcomeCrash:
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
func timeLike(o Outcome) bool { return o == OutcomeTimeout || o == OutcomeHang }

func describeCrash(t *Try) string {
	s := string(t.Outcome)
	if t.trace != nil {
		s = string(t.trace.Kind)
		if t.trace.Location != nil {
			s += " at " + t.trace.Location.File + ":" + strconv.Itoa(t.trace.Location.Line)
		}
		if t.trace.Message != "" {
			msg := t.trace.Message
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
