package triage

import (
	"time"

	"github.com/fuzztriage/triage/symbolize"
)

// SchemaVersion is the version of every record the store holds. It changes
// when a field changes meaning or goes away (adding optional fields does
// not change it); a record of another version is reported as malformed.
const SchemaVersion = 1

// ArtifactRecord is artifacts/<sha1>.yaml: one crash input, triaged once.
type ArtifactRecord struct {
	SchemaVersion int `yaml:"schema_version"`
	// SHA1 of the content: the input's identity (libFuzzer names files by it).
	SHA1 string `yaml:"sha1"`
	// Path is the artifact's path relative to the workspace root, where it
	// was first seen; Paths lists every place the same content was seen.
	Path   string       `yaml:"path"`
	Paths  []string     `yaml:"paths,omitempty"`
	Size   int64        `yaml:"size"`
	Kind   ArtifactKind `yaml:"kind"`
	Target string       `yaml:"target"`
	// FirstSeen is when a run first saw it; Triaged when it was last
	// reproduced.
	FirstSeen time.Time `yaml:"first_seen"`
	Triaged   time.Time `yaml:"triaged"`
	// Status is the release build's verdict.
	Status Reproducibility `yaml:"status"`
	// Reproductions holds one result per build profile run ("release",
	// and "dev" for a bucket's representative).
	Reproductions map[Profile]*Reproduction `yaml:"reproductions"`
	// Crash is the parsed crash of the release reproduction (absent when
	// it did not reproduce).
	Crash *CrashRecord `yaml:"crash,omitempty"`
	// Frames are the parsed stack frames (symbolized, demangled, tagged).
	Frames []symbolize.Frame `yaml:"frames,omitempty"`
	// Bucket is the bucket the crash falls in (absent when it did not
	// reproduce).
	Bucket *BucketRef `yaml:"bucket,omitempty"`
	// Minimized is set with --minimize all.
	Minimized *MinimizedInput `yaml:"minimized,omitempty"`
	// PreviousBucket is the bucket it was in before a re-triage (on a
	// changed binary) put it elsewhere or found it no longer crashing.
	PreviousBucket *BucketRef `yaml:"previous_bucket,omitempty"`

	malformed bool
}

func (r *ArtifactRecord) schema() int { return r.SchemaVersion }

// CrashRecord is the parsed crash, without its frames.
type CrashRecord struct {
	Kind     symbolize.CrashKind `yaml:"kind"`
	Summary  string              `yaml:"summary,omitempty"`
	Signal   string              `yaml:"signal,omitempty"`
	Message  string              `yaml:"message,omitempty"`
	Location *symbolize.Location `yaml:"location,omitempty"`
}

// BucketRef names a bucket.
type BucketRef struct {
	ID  string `yaml:"id"`
	Key string `yaml:"key"`
}

// BucketRecord is buckets/<id>/bucket.yaml: one bug.
type BucketRecord struct {
	SchemaVersion int    `yaml:"schema_version"`
	ID            string `yaml:"id"`
	// Key is the readable bucket key (kind, message template, frames).
	Key    string              `yaml:"key"`
	Target string              `yaml:"target"`
	Kind   symbolize.CrashKind `yaml:"kind"`
	// Title is a one-line summary for a bug tracker.
	Title string `yaml:"title"`
	// Location is the crash location of the representative.
	Location *symbolize.Location `yaml:"location,omitempty"`
	// FirstSeen and LastSeen are when a member was first and last reproduced.
	FirstSeen time.Time `yaml:"first_seen"`
	LastSeen  time.Time `yaml:"last_seen"`
	// MemberCount and Members are every input in the bucket, smallest first.
	MemberCount int          `yaml:"member_count"`
	Members     []MemberInfo `yaml:"members"`
	// Representative is the smallest member: the one minimized, reproduced on
	// the dev build and debugged.
	Representative MemberInfo `yaml:"representative"`
	// Reproducibility of the representative per build profile.
	Reproducibility map[Profile]Reproducibility `yaml:"reproducibility"`
	// Minimized is the representative minimized and verified to land in this
	// bucket.
	Minimized *MinimizedInput `yaml:"minimized,omitempty"`
	// LLDB holds the lldb session findings per build profile.
	LLDB map[Profile]*LLDBFindings `yaml:"lldb,omitempty"`
	// ReportedMembers is how many members the last finished run reported;
	// zero means the bucket has not been reported yet (it is new).
	ReportedMembers int `yaml:"reported_members"`
	// Fixed is when a re-triage (retriage: changed-binary) found none of
	// its members crashing this way any more; Members is then empty and
	// the former members' records name this bucket as previous_bucket. A
	// member that crashes this way again makes it new again.
	Fixed *time.Time `yaml:"fixed,omitempty"`

	malformed bool
}

func (r *BucketRecord) schema() int { return r.SchemaVersion }

// MemberInfo is one input of a bucket.
type MemberInfo struct {
	SHA1 string `yaml:"sha1"`
	Path string `yaml:"path"`
	Size int64  `yaml:"size"`
}

// MinimizedInput is a minimized input and how it was proven.
type MinimizedInput struct {
	// Path is relative to the store.
	Path string `yaml:"path"`
	SHA1 string `yaml:"sha1"`
	Size int64  `yaml:"size"`
	// From is the SHA1 of the input it was minimized from, and FromSize its size.
	From     string `yaml:"from"`
	FromSize int64  `yaml:"from_size"`
	// Verified: the minimized input was re-run and landed in the same
	// bucket (always true for a kept result).
	Verified bool `yaml:"verified"`
	// Rounds of -minimize_crash run; Accepted how many gave a smaller input
	// in the same bucket; Rejected how many gave a crash of another bucket
	// (what libFuzzer alone would have kept).
	Rounds   int `yaml:"rounds"`
	Accepted int `yaml:"accepted"`
	Rejected int `yaml:"rejected"`
	// RejectedBuckets lists the other buckets candidates fell into.
	RejectedBuckets []string `yaml:"rejected_buckets,omitempty"`
	DurationMS      int64    `yaml:"duration_ms"`
}

// LLDBFindings is one lldb session at the crash.
type LLDBFindings struct {
	// Input is the SHA1 of the input debugged (the minimized input when
	// there is one, else the representative).
	Input string `yaml:"input"`
	// CommandFile and Transcript are relative to the store.
	CommandFile string `yaml:"command_file,omitempty"`
	Transcript  string `yaml:"transcript,omitempty"`
	// Stop is why the process stopped (breakpoint, signal).
	Stop string `yaml:"stop,omitempty"`
	// Frames are the in-app frames at the stop.
	Frames []LLDBFrame `yaml:"frames,omitempty"`
	// Variables are the locals read at the panic site.
	Variables []LLDBVariable `yaml:"variables,omitempty"`
	// Error says why the session could not run or stopped short (lldb
	// absent, timed out, ...).
	Error string `yaml:"error,omitempty"`
}

// LLDBFrame is one frame lldb showed.
type LLDBFrame struct {
	Index    int    `yaml:"index"`
	Function string `yaml:"function"`
	File     string `yaml:"file,omitempty"`
	Line     int    `yaml:"line,omitempty"`
}

// LLDBVariable is one variable lldb printed.
type LLDBVariable struct {
	// Frame is the frame's index in the backtrace and Function its function.
	Frame    int    `yaml:"frame"`
	Function string `yaml:"function,omitempty"`
	Name     string `yaml:"name"`
	Type     string `yaml:"type,omitempty"`
	Value    string `yaml:"value"`
}

// RunRecord is runs/<timestamp>.yaml: what one run saw and did.
type RunRecord struct {
	SchemaVersion int       `yaml:"schema_version"`
	Workspace     string    `yaml:"workspace"`
	Started       time.Time `yaml:"started"`
	Finished      time.Time `yaml:"finished"`
	// WallMS is the run's wall time in milliseconds.
	WallMS int64 `yaml:"wall_ms"`
	// PhaseMS is the wall time of each phase (discover: hashing and
	// builds; reproduce; buckets: minimization, dev reproduction, lldb;
	// minimize-all).
	PhaseMS map[string]int64 `yaml:"phase_ms"`
	Jobs    int              `yaml:"jobs"`
	// Artifacts counts inputs: found in the workspace, already recorded
	// (skipped), triaged now, and failed (not triaged; retried next run).
	Artifacts RunCounts `yaml:"artifacts"`
	// NewBuckets have not been reported by an earlier run.
	NewBuckets []BucketSummary `yaml:"new_buckets"`
	// GrownBuckets are known buckets with new members.
	GrownBuckets []BucketSummary `yaml:"grown_buckets"`
	// UnseenBuckets are known buckets no input of this run reproduced.
	UnseenBuckets []string `yaml:"unseen_buckets"`
	// FixedBuckets are buckets whose every member was re-triaged in this
	// run (on a changed binary) and no longer crashes this way.
	FixedBuckets []string `yaml:"fixed_buckets,omitempty"`
	// NotReproducible are inputs triaged now that did not crash.
	NotReproducible []string `yaml:"not_reproducible"`
	// Flaky are inputs triaged now that crashed in fewer than half the tries.
	Flaky []string `yaml:"flaky,omitempty"`
	// Failures are targets or inputs that could not be triaged (a failed
	// build, a missing binary, an unreadable input, a malformed record);
	// failed inputs are retried by the next run.
	Failures []Failure `yaml:"failures"`
	// Work counts the expensive steps, to show they scale with buckets.
	Work WorkCounts `yaml:"work"`
}

func (r *RunRecord) schema() int { return r.SchemaVersion }

// RunCounts counts the inputs of a run.
type RunCounts struct {
	Found   int `yaml:"found"`
	Skipped int `yaml:"skipped"`
	Triaged int `yaml:"triaged"`
	Failed  int `yaml:"failed"`
}

// BucketSummary is a bucket as a run reports it.
type BucketSummary struct {
	ID         string `yaml:"id"`
	Title      string `yaml:"title"`
	Members    int    `yaml:"members"`
	NewMembers int    `yaml:"new_members"`
}

// Failure is something a run could not do.
type Failure struct {
	Target   string `yaml:"target,omitempty"`
	Artifact string `yaml:"artifact,omitempty"`
	Stage    string `yaml:"stage"`
	Error    string `yaml:"error"`
}

// WorkCounts counts the expensive steps of a run.
type WorkCounts struct {
	// Reproductions is the inputs reproduced on the release build, in
	// ReproductionRuns runs of the fuzz binary (dev runs included) taking
	// ReproductionMS; FirstTryMS is the part spent in each input's first
	// (reference) try: the floor the benchmark compares with.
	Reproductions    int   `yaml:"reproductions"`
	ReproductionRuns int   `yaml:"reproduction_runs"`
	ReproductionMS   int64 `yaml:"reproduction_ms"`
	FirstTryMS       int64 `yaml:"first_try_ms"`
	// Builds is the build commands run.
	Builds int `yaml:"builds"`
	// BucketsWorkedOn is the buckets that needed per-bucket work; the
	// counts after it are that work.
	BucketsWorkedOn int `yaml:"buckets_worked_on"`
	// Minimizations is the inputs minimized, in MinimizeInvocations runs
	// of libFuzzer's -minimize_crash (whole passes and single steps).
	Minimizations       int `yaml:"minimizations"`
	MinimizeInvocations int `yaml:"minimize_invocations"`
	DevReproductions    int `yaml:"dev_reproductions"`
	LLDBSessions        int `yaml:"lldb_sessions"`
}
