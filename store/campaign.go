package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// DirCampaigns holds one record per fuzzing campaign and each target's
// captured output (campaigns/<start>/<target>.log).
const DirCampaigns = "campaigns"

// CampaignRecord is campaigns/<start>.yaml: one `triage fuzz` campaign.
type CampaignRecord struct {
	SchemaVersion int       `json:"schema_version" yaml:"schema_version"`
	Workspace     string    `json:"workspace" yaml:"workspace"`
	Started       time.Time `json:"started" yaml:"started"`
	Finished      time.Time `json:"finished" yaml:"finished"`
	// Duration is the campaign length asked for; WallMS what it took.
	Duration string `json:"duration" yaml:"duration"`
	WallMS   int64  `json:"wall_ms" yaml:"wall_ms"`
	// Cores is the number of cores the campaign was given; FuzzCores of
	// them went to fuzzers, TriageCores were left to triage (--triage
	// during).
	Cores       int    `json:"cores" yaml:"cores"`
	FuzzCores   int    `json:"fuzz_cores" yaml:"fuzz_cores"`
	TriageCores int    `json:"triage_cores" yaml:"triage_cores"`
	Triage      string `json:"triage" yaml:"triage"`
	// Stopped says why the campaign ended before its duration ("signal:
	// interrupt"), empty when it ran its course.
	Stopped string           `json:"stopped,omitempty" yaml:"stopped,omitempty"`
	Targets []CampaignTarget `json:"targets" yaml:"targets"`
	// NewBuckets and KnownBuckets are what triage made of the campaign's
	// artifacts (new: never reported before; known: grew by new members).
	NewBuckets   []BucketSummary `json:"new_buckets" yaml:"new_buckets"`
	KnownBuckets []BucketSummary `json:"known_buckets" yaml:"known_buckets"`
	// Health lists what the figures say about the fuzzers (slow, stalled,
	// timing out), each with the advice it points to.
	Health   []HealthFinding `json:"health,omitempty" yaml:"health,omitempty"`
	Failures []Failure       `json:"failures" yaml:"failures"`
	// Method says how each figure of the targets was obtained (fork mode
	// reports little of its own).
	Method map[string]string `json:"method" yaml:"method"`
}

func (r *CampaignRecord) schema() int { return r.SchemaVersion }

// CampaignTarget is one fuzz target's part of a campaign.
type CampaignTarget struct {
	Name   string `json:"name" yaml:"name"`
	Binary string `json:"binary" yaml:"binary"`
	// Weight decides the target's share of the cores; WeightFrom says where
	// it came from (triage.yaml, or the measured instrumented edges).
	Weight     float64 `json:"weight" yaml:"weight"`
	WeightFrom string  `json:"weight_from" yaml:"weight_from"`
	// Edges are the inline 8-bit counters libFuzzer reports at start-up.
	Edges int `json:"edges,omitempty" yaml:"edges,omitempty"`
	Cores int `json:"cores" yaml:"cores"`
	// Command is the fuzzer's argv (the first process's).
	Command []string `json:"command" yaml:"command"`
	WallMS  int64    `json:"wall_ms" yaml:"wall_ms"`
	// Execs is the executions of all its processes; ExecsPerSec that over
	// the time they ran.
	Execs       int64   `json:"execs" yaml:"execs"`
	ExecsPerSec float64 `json:"execs_per_sec" yaml:"execs_per_sec"`
	// Jobs are the fork-mode jobs started (summed over restarts).
	Jobs int `json:"jobs" yaml:"jobs"`
	// Coverage and features at the first and last status line.
	CovStart      int `json:"cov_start" yaml:"cov_start"`
	CovEnd        int `json:"cov_end" yaml:"cov_end"`
	FeaturesStart int `json:"features_start" yaml:"features_start"`
	FeaturesEnd   int `json:"features_end" yaml:"features_end"`
	// Corpus sizes in files: before, after fuzzing, after cmin (0: no cmin).
	CorpusBefore    int `json:"corpus_before" yaml:"corpus_before"`
	CorpusAfter     int `json:"corpus_after" yaml:"corpus_after"`
	CorpusAfterCmin int `json:"corpus_after_cmin,omitempty" yaml:"corpus_after_cmin,omitempty"`
	// MaxLen is the target's -max_len (0: libFuzzer's own choice) and
	// CorpusAtMaxLen the corpus inputs that long: inputs that hit the
	// limit.
	MaxLen         int `json:"max_len,omitempty" yaml:"max_len,omitempty"`
	CorpusAtMaxLen int `json:"corpus_at_max_len,omitempty" yaml:"corpus_at_max_len,omitempty"`
	// Artifacts counts the new files of the artifact directory by kind.
	Artifacts map[ArtifactKind]int `json:"artifacts" yaml:"artifacts"`
	// Reported are libFuzzer's own oom/timeout/crash counters (summed
	// over restarts): crashes repeat, files are named by content.
	Reported FuzzerCounts `json:"reported" yaml:"reported"`
	Restarts []Restart    `json:"restarts,omitempty" yaml:"restarts,omitempty"`
	// Samples is coverage over time (at most a few hundred, evenly thinned).
	Samples []CampaignSample `json:"samples,omitempty" yaml:"samples,omitempty"`
	// Log is the target's captured output, store-relative (capped: the
	// oldest part rotates into Log + ".1").
	Log   string `json:"log" yaml:"log"`
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
}

// FuzzerCounts are libFuzzer fork mode's oom/timeout/crash counters.
type FuzzerCounts struct {
	OOMs     int `json:"ooms" yaml:"ooms"`
	Timeouts int `json:"timeouts" yaml:"timeouts"`
	Crashes  int `json:"crashes" yaml:"crashes"`
}

// Restart is one early end of a target's fuzzer and its restart.
type Restart struct {
	At     time.Time `json:"at" yaml:"at"`
	Reason string    `json:"reason" yaml:"reason"`
	// Backoff is how long the supervisor waited before restarting.
	Backoff string `json:"backoff" yaml:"backoff"`
}

// CampaignSample is one status line: seconds since the campaign started,
// total executions, coverage, features and corpus size.
type CampaignSample struct {
	T      float64 `json:"t" yaml:"t"`
	Execs  int64   `json:"execs" yaml:"execs"`
	Cov    int     `json:"cov" yaml:"cov"`
	Ft     int     `json:"ft" yaml:"ft"`
	Corpus int     `json:"corpus" yaml:"corpus"`
}

// HealthFinding is one thing the figures say about a fuzzer.
type HealthFinding struct {
	Target string `json:"target" yaml:"target"`
	Check  string `json:"check" yaml:"check"`
	Detail string `json:"detail" yaml:"detail"`
	Advice string `json:"advice" yaml:"advice"`
}

// CampaignDir is where a campaign started at t keeps its target logs.
func (s *Store) CampaignDir(started time.Time) string {
	return s.Path(path.Join(DirCampaigns, CampaignName(started)))
}

// CampaignName names the campaign started at t (its record and directory).
func CampaignName(t time.Time) string { return t.UTC().Format("20060102T150405.000000000Z") }

// WriteCampaign writes a campaign record atomically; its name is its start time.
func (s *Store) WriteCampaign(r *CampaignRecord) (string, error) {
	r.SchemaVersion = SchemaVersion
	data, err := MarshalYAML(r)
	if err != nil {
		return "", err
	}
	p := s.Path(path.Join(DirCampaigns, CampaignName(r.Started)+".yaml"))
	return p, s.WriteFile(p, data)
}

// Campaigns lists the campaign records' paths, oldest first.
func (s *Store) Campaigns() ([]string, error) { return s.records(DirCampaigns) }

// records lists the .yaml records of a store directory (no hidden or
// temporary files, no links), sorted: by name is by time.
func (s *Store) records(dir string) ([]string, error) {
	entries, err := fs.ReadDir(s.root.FS(), dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".yaml") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, s.Path(path.Join(dir, e.Name())))
		}
	}
	sort.Strings(out)
	return out, nil
}

// LoadCampaign reads one campaign record.
func (s *Store) LoadCampaign(p string) (*CampaignRecord, error) {
	var r CampaignRecord
	if err := s.ReadRecord(p, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks a campaign record's required fields.
func (r *CampaignRecord) Validate() error {
	var errs []string
	if r.Started.IsZero() {
		errs = append(errs, "started is missing")
	}
	if r.Finished.Before(r.Started) {
		errs = append(errs, "finished before it started")
	}
	for i, t := range r.Targets {
		if t.Name == "" {
			errs = append(errs, fmt.Sprintf("targets[%d]: name is missing", i))
		}
		if t.Cores < 0 || t.Execs < 0 {
			errs = append(errs, fmt.Sprintf("targets[%d]: negative cores or execs", i))
		}
		for k := range t.Artifacts {
			if !k.Valid() {
				errs = append(errs, fmt.Sprintf("targets[%d]: artifact kind %q is not one of libFuzzer's", i, k))
			}
		}
	}
	for _, b := range append(append([]BucketSummary(nil), r.NewBuckets...), r.KnownBuckets...) {
		if !ValidBucketID(b.ID) {
			errs = append(errs, fmt.Sprintf("bucket id %q is not a bucket id", b.ID))
		}
	}
	return joinErrs(errs)
}

// QueuedCampaign is a campaign whose fuzzers run on workers, recorded when
// it starts: a coordinator killed while workers fuzz, restarted on this
// store with the same plan, resumes it (the same jobs, whose results are
// still coming) instead of starting another.
type QueuedCampaign struct {
	Started time.Time `json:"started"`
	// Plan says what ran: each target's name, binary digest and cores,
	// and the duration.
	Plan string `json:"plan"`
}

// queuedCampaignFile is hidden, so not listed among the records.
const queuedCampaignFile = DirCampaigns + "/.queued.json"

// QueuedCampaign is the campaign left running on workers, or nil.
func (s *Store) QueuedCampaign() (*QueuedCampaign, error) {
	data, err := s.ReadFile(queuedCampaignFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c QueuedCampaign
	if err := json.Unmarshal(data, &c); err != nil || c.Started.IsZero() || c.Plan == "" {
		return nil, fmt.Errorf("%s: not a queued campaign (%v)", s.Path(queuedCampaignFile), err)
	}
	return &c, nil
}

// SetQueuedCampaign records the campaign running on workers (nil: none).
func (s *Store) SetQueuedCampaign(c *QueuedCampaign) error {
	if c == nil {
		err := s.root.Remove(queuedCampaignFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.WriteFile(queuedCampaignFile, data)
}
