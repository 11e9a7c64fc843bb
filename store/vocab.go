package store

import (
	"strings"

	"github.com/fuzztriage/triage/symbolize"
)

// Profile is a cargo build profile of a fuzz binary.
type Profile string

const (
	// Release is `cargo fuzz build` (optimized, line tables only).
	Release Profile = "release"
	// Dev is `cargo fuzz build --dev` (unoptimized, full debug info).
	Dev Profile = "dev"
	// Coverage is the release build with -Cinstrument-coverage (what
	// `triage coverage` replays corpora on). No record holds it.
	Coverage Profile = "coverage"
)

// Profiles lists the profiles in the order the pipeline uses them.
var Profiles = []Profile{Release, Dev}

// Valid says p is one of Profiles.
func (p Profile) Valid() bool { return p == Release || p == Dev }

// ArtifactKind is what libFuzzer's file name prefix says an artifact is.
type ArtifactKind string

// The prefixes libFuzzer (and cargo fuzz tmin) give artifact files.
const (
	ArtifactCrash         ArtifactKind = "crash"
	ArtifactTimeout       ArtifactKind = "timeout"
	ArtifactOOM           ArtifactKind = "oom"
	ArtifactLeak          ArtifactKind = "leak"
	ArtifactSlowUnit      ArtifactKind = "slow-unit"
	ArtifactMinimizedFrom ArtifactKind = "minimized-from"
	// ArtifactOther is any other file in an artifact directory.
	ArtifactOther ArtifactKind = "other"
)

// ArtifactKinds lists every kind in the order reports show them.
var ArtifactKinds = []ArtifactKind{
	ArtifactCrash, ArtifactTimeout, ArtifactOOM, ArtifactLeak,
	ArtifactSlowUnit, ArtifactMinimizedFrom, ArtifactOther,
}

// KindOfArtifact classifies a file name by libFuzzer's prefix.
func KindOfArtifact(name string) ArtifactKind {
	for _, k := range ArtifactKinds[:len(ArtifactKinds)-1] {
		if strings.HasPrefix(name, string(k)+"-") {
			return k
		}
	}
	return ArtifactOther
}

// Valid says k is one of ArtifactKinds.
func (k ArtifactKind) Valid() bool {
	for _, a := range ArtifactKinds {
		if a == k {
			return true
		}
	}
	return false
}

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

// Valid says o is one of the outcomes.
func (o Outcome) Valid() bool {
	switch o {
	case OutcomeCrash, OutcomeTimeout, OutcomeOOM, OutcomeHang, OutcomeNoCrash, OutcomeError:
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

// Valid says r is one of the three verdicts.
func (r Reproducibility) Valid() bool {
	return r == Reproducible || r == Flaky || r == NotReproducible
}

// Try is one run of the fuzz binary on the input, as recorded.
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
	// OutputElided is how many bytes of the run's output were dropped
	// between the head and the tail that were kept (see procrun): the
	// crash report is at the end, so the tail is what was parsed.
	OutputElided int64 `json:"output_elided,omitempty" yaml:"output_elided,omitempty"`
	// LLDB says the try ran under lldb, which stopped where the limit
	// fired and took the stack the key is made of, then let the program
	// end for its verdict (a stack-less kind: one run answers both).
	LLDB bool `json:"lldb,omitempty" yaml:"lldb,omitempty"`
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
	// StackFrom says where the key's frames came from for a kind whose
	// log often has none: "log", "lldb", or "none: WHY" (the key then
	// falls back to the target).
	StackFrom string `json:"stack_from,omitempty" yaml:"stack_from,omitempty"`
	// Log is the reference try's output, for people (capped).
	Log    string `json:"-" yaml:"-"`
	Detail []Try  `json:"details" yaml:"details"`

	// Trace is the reference try's parsed crash.
	Trace *symbolize.Trace `json:"-" yaml:"-"`
}
