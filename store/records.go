package store

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/fuzztriage/triage/symbolize"
)

// SchemaVersion is the version of every record the store holds. It changes
// when a field changes meaning or goes away (adding optional fields does
// not change it); a record of another version is reported as malformed.
const SchemaVersion = 1

// ArtifactRecord is artifacts/<sha1>.yaml: one crash input, triaged once.
type ArtifactRecord struct {
	SchemaVersion int `json:"schema_version" yaml:"schema_version"`
	// SHA1 of the content: the input's identity (libFuzzer names files by it).
	SHA1 string `json:"sha1" yaml:"sha1"`
	// Path is the artifact's path relative to the workspace root, where it
	// was first seen; Paths lists every place the same content was seen.
	Path   string       `json:"path" yaml:"path"`
	Paths  []string     `json:"paths,omitempty" yaml:"paths,omitempty"`
	Size   int64        `json:"size" yaml:"size"`
	Kind   ArtifactKind `json:"kind" yaml:"kind"`
	Target string       `json:"target" yaml:"target"`
	// FirstSeen is when a run first saw it; Triaged when it was last
	// reproduced.
	FirstSeen time.Time `json:"first_seen" yaml:"first_seen"`
	Triaged   time.Time `json:"triaged" yaml:"triaged"`
	// Status is the release build's verdict.
	Status Reproducibility `json:"status" yaml:"status"`
	// Reproductions holds one result per build profile run ("release",
	// and "dev" for a bucket's representative).
	Reproductions map[Profile]*Reproduction `json:"reproductions" yaml:"reproductions"`
	// Crash is the parsed crash of the release reproduction (absent when
	// it did not reproduce).
	Crash *CrashRecord `json:"crash,omitempty" yaml:"crash,omitempty"`
	// Frames are the parsed stack frames (symbolized, demangled, tagged).
	Frames []symbolize.Frame `json:"frames,omitempty" yaml:"frames,omitempty"`
	// Bucket is the bucket the crash falls in (absent when it did not
	// reproduce).
	Bucket *BucketRef `json:"bucket,omitempty" yaml:"bucket,omitempty"`
	// Minimized is set with --minimize all.
	Minimized *MinimizedInput `json:"minimized,omitempty" yaml:"minimized,omitempty"`
	// PreviousBucket is the bucket it was in before a re-triage (on a
	// changed binary) put it elsewhere or found it no longer crashing.
	PreviousBucket *BucketRef `json:"previous_bucket,omitempty" yaml:"previous_bucket,omitempty"`

	malformed bool
}

func (r *ArtifactRecord) schema() int { return r.SchemaVersion }

// CrashRecord is the parsed crash, without its frames.
type CrashRecord struct {
	Kind     symbolize.CrashKind `json:"kind" yaml:"kind"`
	Summary  string              `json:"summary,omitempty" yaml:"summary,omitempty"`
	Signal   string              `json:"signal,omitempty" yaml:"signal,omitempty"`
	Message  string              `json:"message,omitempty" yaml:"message,omitempty"`
	Location *symbolize.Location `json:"location,omitempty" yaml:"location,omitempty"`
	// Access is a sanitizer's description of the bad access ("READ of size 4").
	Access string `json:"access,omitempty" yaml:"access,omitempty"`
}

// BucketRef names a bucket.
type BucketRef struct {
	ID  string `json:"id" yaml:"id"`
	Key string `json:"key" yaml:"key"`
}

// BucketRecord is buckets/<id>/bucket.yaml: one bug.
type BucketRecord struct {
	SchemaVersion int    `json:"schema_version" yaml:"schema_version"`
	ID            string `json:"id" yaml:"id"`
	// Key is the readable bucket key (kind, message template, frames).
	Key string `json:"key" yaml:"key"`
	// Target is the representative's fuzz target; Targets every target
	// that reached the bug (one parser behind several harnesses), with
	// its members, most first.
	Target  string              `json:"target" yaml:"target"`
	Targets []TargetCount       `json:"targets,omitempty" yaml:"targets,omitempty"`
	Kind    symbolize.CrashKind `json:"kind" yaml:"kind"`
	// Title is a one-line summary for a bug tracker.
	Title string `json:"title" yaml:"title"`
	// Location is the crash location of the representative.
	Location *symbolize.Location `json:"location,omitempty" yaml:"location,omitempty"`
	// FirstSeen and LastSeen are when a member was first and last reproduced.
	FirstSeen time.Time `json:"first_seen" yaml:"first_seen"`
	LastSeen  time.Time `json:"last_seen" yaml:"last_seen"`
	// MemberCount and Members are every input in the bucket, smallest first.
	MemberCount int          `json:"member_count" yaml:"member_count"`
	Members     []MemberInfo `json:"members" yaml:"members"`
	// Representative is the smallest member: the one minimized, reproduced on
	// the dev build and debugged.
	Representative MemberInfo `json:"representative" yaml:"representative"`
	// Reproducibility of the representative per build profile.
	Reproducibility map[Profile]Reproducibility `json:"reproducibility" yaml:"reproducibility"`
	// Minimized is the representative minimized and verified to land in this
	// bucket.
	Minimized *MinimizedInput `json:"minimized,omitempty" yaml:"minimized,omitempty"`
	// LLDB holds the lldb session findings per build profile.
	LLDB map[Profile]*LLDBFindings `json:"lldb,omitempty" yaml:"lldb,omitempty"`
	// Answers say which run answered each question about the
	// representative (does it reproduce, where is its stack, what did lldb
	// find, on which build): one run can answer several.
	Answers []Answer `json:"answers,omitempty" yaml:"answers,omitempty"`
	// ReportedMembers is how many members the last finished run reported;
	// zero means the bucket has not been reported yet (it is new).
	ReportedMembers int `json:"reported_members" yaml:"reported_members"`
	// Fixed is when a re-triage (retriage: changed-binary) found none of
	// its members crashing this way any more; Members is then empty and
	// the former members' records name this bucket as previous_bucket. A
	// member that crashes this way again makes it new again.
	Fixed *time.Time `json:"fixed,omitempty" yaml:"fixed,omitempty"`

	malformed bool
}

func (r *BucketRecord) schema() int { return r.SchemaVersion }

// TargetCount is a fuzz target that reached a bucket and how many of the
// bucket's members it found.
type TargetCount struct {
	Target  string `json:"target" yaml:"target"`
	Members int    `json:"members" yaml:"members"`
}

// MemberInfo is one input of a bucket.
type MemberInfo struct {
	SHA1   string `json:"sha1" yaml:"sha1"`
	Path   string `json:"path" yaml:"path"`
	Size   int64  `json:"size" yaml:"size"`
	Target string `json:"target,omitempty" yaml:"target,omitempty"`
}

// MinimizedInput is a minimized input and how it was proven.
type MinimizedInput struct {
	// Path is relative to the store.
	Path string `json:"path" yaml:"path"`
	SHA1 string `json:"sha1" yaml:"sha1"`
	Size int64  `json:"size" yaml:"size"`
	// From is the SHA1 of the input it was minimized from, and FromSize its size.
	From     string `json:"from" yaml:"from"`
	FromSize int64  `json:"from_size" yaml:"from_size"`
	// Verified: the minimized input was re-run and landed in the same
	// bucket (always true for a kept result).
	Verified bool `json:"verified" yaml:"verified"`
	// Rounds of -minimize_crash run; Accepted how many gave a smaller input
	// in the same bucket; Rejected how many gave a crash of another bucket
	// (what libFuzzer alone would have kept).
	Rounds   int `json:"rounds" yaml:"rounds"`
	Accepted int `json:"accepted" yaml:"accepted"`
	Rejected int `json:"rejected" yaml:"rejected"`
	// RejectedBuckets lists the other buckets candidates fell into.
	RejectedBuckets []string `json:"rejected_buckets,omitempty" yaml:"rejected_buckets,omitempty"`
	DurationMS      int64    `json:"duration_ms" yaml:"duration_ms"`
}

// Answer is one question about a bucket's representative and the run that
// answered it.
type Answer struct {
	Question string  `json:"question" yaml:"question"`
	Build    Profile `json:"build" yaml:"build"`
	Run      string  `json:"run" yaml:"run"`
}

// LLDBFindings is one lldb session at the crash.
type LLDBFindings struct {
	// Input is the SHA1 of the input debugged (the minimized input when
	// there is one, else the representative).
	Input string `json:"input" yaml:"input"`
	// CommandFile and Transcript are relative to the store.
	CommandFile string `json:"command_file,omitempty" yaml:"command_file,omitempty"`
	// InputFile is the name, in the command file's directory, of the copy
	// of the input the session ran (the command file names it relative to
	// its directory; run it from there).
	InputFile  string `json:"input_file,omitempty" yaml:"input_file,omitempty"`
	Transcript string `json:"transcript,omitempty" yaml:"transcript,omitempty"`
	// Stop is why the process stopped (breakpoint, signal).
	Stop string `json:"stop,omitempty" yaml:"stop,omitempty"`
	// StopKind is the crash kind the stop shows by itself (oom: stopped in
	// libFuzzer's RSS-limit report), else empty.
	StopKind symbolize.CrashKind `json:"stop_kind,omitempty" yaml:"stop_kind,omitempty"`
	// Frames are the in-app frames at the stop.
	Frames []LLDBFrame `json:"frames,omitempty" yaml:"frames,omitempty"`
	// Variables are the locals read at the panic site.
	Variables []LLDBVariable `json:"variables,omitempty" yaml:"variables,omitempty"`
	// Error says why the session could not run or stopped short (lldb
	// absent, timed out, ...).
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
	// Exit is the program's exit status when the session let it run to its
	// end after the stop: the session was also the build's reproduction.
	Exit *int `json:"exit,omitempty" yaml:"exit,omitempty"`
	// Log is that run's stderr, for the reproduction it answers (kept in
	// the session's files, not in the record).
	Log string `json:"-" yaml:"-"`
}

// LLDBFrame is one frame lldb showed.
type LLDBFrame struct {
	Index    int    `json:"index" yaml:"index"`
	Function string `json:"function" yaml:"function"`
	File     string `json:"file,omitempty" yaml:"file,omitempty"`
	Line     int    `json:"line,omitempty" yaml:"line,omitempty"`
}

// LLDBVariable is one variable lldb printed.
type LLDBVariable struct {
	// Frame is the frame's index in the backtrace and Function its function.
	Frame    int    `json:"frame" yaml:"frame"`
	Function string `json:"function,omitempty" yaml:"function,omitempty"`
	Name     string `json:"name" yaml:"name"`
	Type     string `json:"type,omitempty" yaml:"type,omitempty"`
	Value    string `json:"value" yaml:"value"`
}

// RunRecord is runs/<timestamp>.yaml: what one run saw and did.
type RunRecord struct {
	SchemaVersion int       `json:"schema_version" yaml:"schema_version"`
	Workspace     string    `json:"workspace" yaml:"workspace"`
	Started       time.Time `json:"started" yaml:"started"`
	Finished      time.Time `json:"finished" yaml:"finished"`
	// WallMS is the run's wall time in milliseconds.
	WallMS int64 `json:"wall_ms" yaml:"wall_ms"`
	// PhaseMS is the wall time of each phase (discover: hashing and
	// builds; reproduce; buckets: minimization, dev reproduction, lldb;
	// minimize-all).
	PhaseMS map[string]int64 `json:"phase_ms" yaml:"phase_ms"`
	Jobs    int              `json:"jobs" yaml:"jobs"`
	// Artifacts counts inputs: found in the workspace, already recorded
	// (skipped), triaged now, and failed (not triaged; retried next run);
	// and files of the artifact directories that are not inputs (ignored).
	Artifacts RunCounts `json:"artifacts" yaml:"artifacts"`
	// Ignored names each file of an artifact directory that was not
	// triaged and why (not a libFuzzer name, a slow-unit input, a link).
	Ignored []IgnoredFile `json:"ignored,omitempty" yaml:"ignored,omitempty"`
	// NewBuckets have not been reported by an earlier run.
	NewBuckets []BucketSummary `json:"new_buckets" yaml:"new_buckets"`
	// GrownBuckets are known buckets with new members.
	GrownBuckets []BucketSummary `json:"grown_buckets" yaml:"grown_buckets"`
	// UnseenBuckets are known buckets no input of this run reproduced.
	UnseenBuckets []string `json:"unseen_buckets" yaml:"unseen_buckets"`
	// FixedBuckets are buckets whose every member was re-triaged in this
	// run (on a changed binary) and no longer crashes this way.
	FixedBuckets []string `json:"fixed_buckets,omitempty" yaml:"fixed_buckets,omitempty"`
	// NotReproducible are inputs triaged now that did not crash.
	NotReproducible []string `json:"not_reproducible" yaml:"not_reproducible"`
	// Flaky are inputs triaged now that crashed in fewer than half the tries.
	Flaky []string `json:"flaky,omitempty" yaml:"flaky,omitempty"`
	// Failures are targets or inputs that could not be triaged (a failed
	// build, a missing binary, an unreadable input, a malformed record);
	// failed inputs are retried by the next run.
	Failures []Failure `json:"failures" yaml:"failures"`
	// Work counts the expensive steps, to show they scale with buckets.
	Work WorkCounts `json:"work" yaml:"work"`
}

func (r *RunRecord) schema() int { return r.SchemaVersion }

// Idle says the run triaged, failed, fixed and reported nothing: a pass of
// the watcher that found the store up to date.
func (r *RunRecord) Idle() bool {
	return r.Artifacts.Triaged == 0 && r.Artifacts.Failed == 0 && len(r.Failures) == 0 &&
		len(r.NewBuckets) == 0 && len(r.GrownBuckets) == 0 && len(r.FixedBuckets) == 0
}

// RunCounts counts the inputs of a run.
type RunCounts struct {
	Found   int `json:"found" yaml:"found"`
	Skipped int `json:"skipped" yaml:"skipped"`
	Triaged int `json:"triaged" yaml:"triaged"`
	Failed  int `json:"failed" yaml:"failed"`
	Ignored int `json:"ignored,omitempty" yaml:"ignored,omitempty"`
}

// IgnoredFile is a file of an artifact directory a run did not triage.
type IgnoredFile struct {
	Path   string `json:"path" yaml:"path"`
	Reason string `json:"reason" yaml:"reason"`
}

// BucketSummary is a bucket as a run reports it.
type BucketSummary struct {
	ID         string `json:"id" yaml:"id"`
	Title      string `json:"title" yaml:"title"`
	Members    int    `json:"members" yaml:"members"`
	NewMembers int    `json:"new_members" yaml:"new_members"`
}

// Failure is something a run could not do.
type Failure struct {
	Target   string `json:"target,omitempty" yaml:"target,omitempty"`
	Artifact string `json:"artifact,omitempty" yaml:"artifact,omitempty"`
	Stage    string `json:"stage" yaml:"stage"`
	Error    string `json:"error" yaml:"error"`
}

// WorkCounts counts the expensive steps of a run.
type WorkCounts struct {
	// Reproductions is the inputs reproduced on the release build, in
	// ReproductionRuns runs of the fuzz binary (dev runs included) taking
	// ReproductionMS; FirstTryMS is the part spent in each input's first
	// (reference) try: the floor the benchmark compares with.
	Reproductions    int   `json:"reproductions" yaml:"reproductions"`
	ReproductionRuns int   `json:"reproduction_runs" yaml:"reproduction_runs"`
	ReproductionMS   int64 `json:"reproduction_ms" yaml:"reproduction_ms"`
	FirstTryMS       int64 `json:"first_try_ms" yaml:"first_try_ms"`
	// Builds is the build commands run.
	Builds int `json:"builds" yaml:"builds"`
	// BucketsWorkedOn is the buckets that needed per-bucket work; the
	// counts after it are that work.
	BucketsWorkedOn int `json:"buckets_worked_on" yaml:"buckets_worked_on"`
	// Minimizations is the inputs minimized, in MinimizeInvocations runs
	// of libFuzzer's -minimize_crash (whole passes and single steps).
	Minimizations       int `json:"minimizations" yaml:"minimizations"`
	MinimizeInvocations int `json:"minimize_invocations" yaml:"minimize_invocations"`
	DevReproductions    int `json:"dev_reproductions" yaml:"dev_reproductions"`
	LLDBSessions        int `json:"lldb_sessions" yaml:"lldb_sessions"`
}

// Malformed says the record is a placeholder for one that could not be
// read: it is never written.
func (r *ArtifactRecord) Malformed() bool { return r.malformed }

// Malformed says the record is a placeholder for one that could not be
// read: it is never written.
func (r *BucketRecord) Malformed() bool { return r.malformed }

// ReleaseBinarySHA1 is the SHA1 of the release binary the input was last
// reproduced on ("" when unknown).
func (r *ArtifactRecord) ReleaseBinarySHA1() string {
	if rep := r.Reproductions[Release]; rep != nil {
		return rep.BinarySHA1
	}
	return ""
}

var bucketIDPattern = regexp.MustCompile(`^v[0-9]+-[0-9a-f]{12}$`)

// ValidBucketID says id has the form of a bucket id ("v1-" and 12 hex
// digits): the only names a bucket directory may have.
func ValidBucketID(id string) bool { return bucketIDPattern.MatchString(id) }

// Validate checks an artifact record's required fields and values.
func (r *ArtifactRecord) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !sha1Name.MatchString(r.SHA1) {
		bad("sha1 %q is not 40 hex digits", r.SHA1)
	}
	if r.Path == "" {
		bad("path is missing")
	}
	if !r.Kind.Valid() {
		bad("kind %q is not an artifact kind", r.Kind)
	}
	if r.Target == "" {
		bad("target is missing")
	}
	if r.FirstSeen.IsZero() {
		bad("first_seen is missing")
	}
	if r.Triaged.IsZero() {
		bad("triaged is missing")
	}
	if !r.Status.Valid() {
		bad("status %q is not reproducible, flaky or not-reproducible", r.Status)
	}
	rel := r.Reproductions[Release]
	if rel == nil {
		bad("reproductions.release is missing")
	}
	for p, rep := range r.Reproductions {
		if !p.Valid() {
			bad("reproductions: %q is not a build profile", p)
			continue
		}
		if rep == nil {
			bad("reproductions.%s is empty", p)
			continue
		}
		if err := rep.validate(); err != nil {
			bad("reproductions.%s: %v", p, err)
		}
	}
	if rel != nil && rel.Status != r.Status {
		bad("status %s differs from reproductions.release.status %s", r.Status, rel.Status)
	}
	if r.Status != NotReproducible && r.Status.Valid() {
		if r.Crash == nil {
			bad("crash is missing for a %s input", r.Status)
		}
	}
	if r.Crash != nil && !r.Crash.Kind.Valid() {
		bad("crash.kind %q is not a crash kind", r.Crash.Kind)
	}
	if b := r.Bucket; b != nil && !ValidBucketID(b.ID) {
		bad("bucket.id %q is not a bucket id", b.ID)
	}
	if b := r.PreviousBucket; b != nil && !ValidBucketID(b.ID) {
		bad("previous_bucket.id %q is not a bucket id", b.ID)
	}
	if m := r.Minimized; m != nil {
		if err := m.validate(); err != nil {
			bad("minimized: %v", err)
		}
	}
	return joinErrs(errs)
}

func (rep *Reproduction) validate() error {
	var errs []string
	if !rep.Status.Valid() {
		errs = append(errs, fmt.Sprintf("status %q is not a verdict", rep.Status))
	}
	if rep.Tries < 1 {
		errs = append(errs, fmt.Sprintf("tries %d (want at least 1)", rep.Tries))
	}
	if rep.Crashes < 0 || rep.Crashes > rep.Tries {
		errs = append(errs, fmt.Sprintf("crashes %d of %d tries", rep.Crashes, rep.Tries))
	}
	if !rep.Outcome.Valid() {
		errs = append(errs, fmt.Sprintf("outcome %q is not an outcome", rep.Outcome))
	}
	if rep.BucketID != "" && !ValidBucketID(rep.BucketID) {
		errs = append(errs, fmt.Sprintf("bucket %q is not a bucket id", rep.BucketID))
	}
	return joinErrs(errs)
}

func (m *MinimizedInput) validate() error {
	var errs []string
	if m.Path == "" || path.IsAbs(m.Path) || strings.HasPrefix(path.Clean(m.Path), "../") {
		errs = append(errs, fmt.Sprintf("path %q is not a path inside the store", m.Path))
	}
	if !sha1Name.MatchString(m.SHA1) {
		errs = append(errs, fmt.Sprintf("sha1 %q is not 40 hex digits", m.SHA1))
	}
	if !sha1Name.MatchString(m.From) {
		errs = append(errs, fmt.Sprintf("from %q is not 40 hex digits", m.From))
	}
	return joinErrs(errs)
}

// Validate checks a bucket record's required fields and values.
func (r *BucketRecord) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !ValidBucketID(r.ID) {
		bad("id %q is not a bucket id", r.ID)
	}
	if r.Key == "" {
		bad("key is missing")
	}
	if r.Target == "" {
		bad("target is missing")
	}
	if r.Kind != "" && !r.Kind.Valid() {
		bad("kind %q is not a crash kind", r.Kind)
	}
	if r.FirstSeen.IsZero() {
		bad("first_seen is missing")
	}
	if r.MemberCount != len(r.Members) {
		bad("member_count %d but %d members", r.MemberCount, len(r.Members))
	}
	if r.ReportedMembers < 0 {
		bad("reported_members %d is negative", r.ReportedMembers)
	}
	for i, m := range r.Members {
		if !sha1Name.MatchString(m.SHA1) {
			bad("members[%d].sha1 %q is not 40 hex digits", i, m.SHA1)
		}
	}
	if len(r.Members) > 0 && r.Representative.SHA1 != r.Members[0].SHA1 {
		bad("representative %s is not the first member", r.Representative.SHA1)
	}
	if r.Fixed == nil && len(r.Members) == 0 {
		bad("no members and not fixed")
	}
	for p, v := range r.Reproducibility {
		if !p.Valid() || !v.Valid() {
			bad("reproducibility.%s: %q", p, v)
		}
	}
	if m := r.Minimized; m != nil {
		if err := m.validate(); err != nil {
			bad("minimized: %v", err)
		}
	}
	for p := range r.LLDB {
		if !p.Valid() {
			bad("lldb: %q is not a build profile", p)
		}
	}
	return joinErrs(errs)
}

// Validate checks a run record's required fields.
func (r *RunRecord) Validate() error {
	var errs []string
	if r.Started.IsZero() {
		errs = append(errs, "started is missing")
	}
	if r.Finished.IsZero() {
		errs = append(errs, "finished is missing")
	}
	if r.Finished.Before(r.Started) {
		errs = append(errs, "finished before it started")
	}
	c := r.Artifacts
	if c.Found < 0 || c.Skipped < 0 || c.Triaged < 0 || c.Failed < 0 {
		errs = append(errs, "negative artifact counts")
	}
	for _, b := range append(append([]BucketSummary(nil), r.NewBuckets...), r.GrownBuckets...) {
		if !ValidBucketID(b.ID) {
			errs = append(errs, fmt.Sprintf("bucket id %q is not a bucket id", b.ID))
		}
	}
	return joinErrs(errs)
}

func joinErrs(errs []string) error {
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}
