// Package report turns the triage store into what a bug-filing pipeline and
// people read: one bug report per bucket (Markdown by default, from a
// template), the state of every bucket across nights (new, grown, not seen,
// fixed, changed, regressed), exports for other tools (JSON, YAML, SARIF
// 2.1.0) and a static HTML summary.
//
// It reads the records the pipeline writes (triage.Store) and never changes
// them; what it needs beyond them, which buckets were reported, fixed or
// regressed and when, it keeps in its own files under <store>/report/ (see
// State). It is the last step of the data flow and nothing imports it but
// the CLI.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/fuzztriage/triage/coverage"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

// Snapshot is the store as read at one moment, with the workspace it
// belongs to (for fuzz dirs, binaries and source files).
type Snapshot struct {
	// Root is the workspace root (absolute).
	Root string
	// StoreDir is the store (absolute).
	StoreDir string
	// Workspace is the discovered workspace; nil when discovery failed
	// (Problems says why): reports then lack source lines and fuzz dirs.
	Workspace *triage.Workspace
	Buckets   map[string]*store.BucketRecord
	Artifacts map[string]*store.ArtifactRecord
	// Runs are the run records, oldest first.
	Runs []Run
	// Campaigns are the fuzzing campaigns' records, oldest first.
	Campaigns []Campaign
	// Coverage is each target's coverage history and latest report.
	Coverage []CoverageTarget
	// State is this package's own state (report/state.yaml).
	State *State
	// Problems are everything that could not be read: Damaged, and a
	// workspace that could not be discovered.
	Problems []error
	// Damaged are records that could not be read, failed their schema, or
	// are missing while others name them (by path). They are left alone and
	// reported; the rest of the store is still used, and the commands that
	// read the store exit 3.
	Damaged []error

	sources *sourceCache
}

// Run is one run record and its name (the file name without .yaml).
type Run struct {
	Name   string
	Path   string
	Record *store.RunRecord
}

var campaignName = regexp.MustCompile(`^\d{8}T\d{6}\.\d{9}Z$`)

// CoverageTarget is one target's coverage: its history, oldest first,
// and its latest full report (nil when there is none).
type CoverageTarget struct {
	Target  string
	History []*store.CoverageRecord
	Detail  *coverage.Detail
}

var targetName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// loadCoverage reads the coverage histories and latest reports.
func (s *Snapshot) loadCoverage(st *store.Store) error {
	targets, err := st.CoverageTargets()
	if err != nil {
		return err
	}
	for _, t := range targets {
		dir := st.CoverageDir(t)
		if !targetName.MatchString(t) {
			// The name becomes a page's file name and link.
			s.Problems = append(s.Problems, &store.MalformedError{Path: dir, Err: errors.New("a coverage directory is named by its fuzz target")})
			continue
		}
		ct := CoverageTarget{Target: t}
		hist, bad, err := st.CoverageHistory(t)
		if err != nil {
			return err
		}
		s.Problems = append(s.Problems, bad...)
		ct.History = hist
		p := filepath.Join(dir, store.CoverageDetailName)
		if data, err := st.ReadFile(p); err == nil {
			var d coverage.Detail
			if err := json.Unmarshal(data, &d); err != nil || d.Report == nil {
				if err == nil {
					err = errors.New("no report")
				}
				s.Problems = append(s.Problems, &store.MalformedError{Path: p, Err: err})
			} else {
				ct.Detail = &d
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			s.Problems = append(s.Problems, err)
		}
		if ct.Detail != nil || len(ct.History) > 0 {
			s.Coverage = append(s.Coverage, ct)
		}
	}
	return nil
}

// Campaign is one campaign record and its name.
type Campaign struct {
	Name   string
	Record *store.CampaignRecord
}

// ErrUnknownRun says a run name matches no run record (or several).
var ErrUnknownRun = errors.New("unknown run")

// ErrNoStore says the store directory does not exist (nothing was triaged).
var ErrNoStore = store.ErrNoStore

// Load reads the store at storeDir of the workspace at root.
func Load(root, storeDir string) (*Snapshot, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	storeDir, err = filepath.Abs(storeDir)
	if err != nil {
		return nil, err
	}
	st, err := store.OpenExisting(storeDir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	s := &Snapshot{Root: root, StoreDir: storeDir, sources: newSourceCache(root)}
	var bad []error
	if s.Buckets, bad, err = st.LoadBuckets(); err != nil {
		return nil, err
	}
	s.Problems = append(s.Problems, bad...)
	for id, b := range s.Buckets {
		if b.Malformed() {
			delete(s.Buckets, id)
		}
	}
	if s.Artifacts, bad, err = st.LoadArtifacts(); err != nil {
		return nil, err
	}
	s.Problems = append(s.Problems, bad...)
	for sha, a := range s.Artifacts {
		if a.Malformed() {
			delete(s.Artifacts, sha)
		}
	}
	paths, err := st.Runs()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, p := range paths {
		r, err := st.LoadRun(p)
		if err != nil {
			s.Problems = append(s.Problems, err)
			continue
		}
		s.Runs = append(s.Runs, Run{Name: strings.TrimSuffix(filepath.Base(p), ".yaml"), Path: p, Record: r})
	}
	cpaths, err := st.Campaigns()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, p := range cpaths {
		r, err := st.LoadCampaign(p)
		if err != nil {
			s.Problems = append(s.Problems, err)
			continue
		}
		name := strings.TrimSuffix(filepath.Base(p), ".yaml")
		if !campaignName.MatchString(name) {
			// The name becomes a page's file name and link.
			s.Problems = append(s.Problems, &store.MalformedError{Path: p, Err: errors.New("a campaign record is named by its start time (20060102T150405.000000000Z)")})
			continue
		}
		s.Campaigns = append(s.Campaigns, Campaign{Name: name, Record: r})
	}
	if err := s.loadCoverage(st); err != nil {
		return nil, err
	}
	// A bucket the artifact records name but whose record is gone (its
	// directory deleted) is damage too, not a bucket that never was.
	named := map[string]int{}
	for _, a := range s.Artifacts {
		if a.Bucket != nil && a.Bucket.ID != "" {
			named[a.Bucket.ID]++
		}
	}
	for _, id := range sortedKeys(named) {
		if _, ok := s.Buckets[id]; ok {
			continue
		}
		if _, err := os.Lstat(st.BucketRecordPath(id)); err == nil {
			continue // there but damaged: already among the problems
		}
		s.Problems = append(s.Problems, &store.MissingError{Path: st.BucketRecordPath(id),
			Why: fmt.Sprintf("%d artifact records name bucket %s (the next `triage run` writes it again from them)", named[id], id)})
	}
	s.Damaged = append(s.Damaged, s.Problems...)
	if s.State, err = LoadState(storeDir); err != nil {
		return nil, err
	}
	if ws, err := triage.Discover(root); err != nil {
		s.Problems = append(s.Problems, fmt.Errorf("workspace %s: %w", root, err))
	} else {
		s.Workspace = ws
		for _, t := range ws.Targets {
			s.sources.bases = append(s.sources.bases, t.WorkspaceRoot, t.FuzzDir)
		}
	}
	return s, nil
}

// IDs lists the bucket ids, sorted.
func (s *Snapshot) IDs() []string {
	ids := make([]string, 0, len(s.Buckets))
	for id := range s.Buckets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Lookup finds a bucket by its id, a unique prefix of it, or the hash
// without the "v1-" version prefix.
func (s *Snapshot) Lookup(arg string) (*store.BucketRecord, error) {
	if b, ok := s.Buckets[arg]; ok {
		return b, nil
	}
	var hits []string
	for _, id := range s.IDs() {
		hash := id
		if i := strings.IndexByte(id, '-'); i >= 0 {
			hash = id[i+1:]
		}
		if strings.HasPrefix(id, arg) || strings.HasPrefix(hash, arg) {
			hits = append(hits, id)
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("no bucket %q in %s (%d buckets; `triage export --format yaml` lists them)", arg, s.StoreDir, len(s.Buckets))
	case 1:
		return s.Buckets[hits[0]], nil
	}
	return nil, fmt.Errorf("bucket %q is ambiguous: %s", arg, strings.Join(hits, ", "))
}

// LatestRun is the newest run record, or nil.
func (s *Snapshot) LatestRun() *Run {
	if len(s.Runs) == 0 {
		return nil
	}
	return &s.Runs[len(s.Runs)-1]
}

// FindRun finds a run by name, unique name prefix, or "latest".
func (s *Snapshot) FindRun(arg string) (*Run, error) {
	arg = strings.TrimSuffix(filepath.Base(arg), ".yaml")
	if arg == "latest" {
		if r := s.LatestRun(); r != nil {
			return r, nil
		}
		return nil, fmt.Errorf("%w: the store has no run records", ErrUnknownRun)
	}
	var hits []int
	for i, r := range s.Runs {
		if r.Name == arg {
			return &s.Runs[i], nil
		}
		if strings.HasPrefix(r.Name, arg) {
			hits = append(hits, i)
		}
	}
	switch len(hits) {
	case 0:
		var names []string
		for _, r := range s.Runs {
			names = append(names, r.Name)
		}
		return nil, fmt.Errorf("%w: no run %q in %s (runs: %s)", ErrUnknownRun, arg, s.StoreDir, strings.Join(names, ", "))
	case 1:
		return &s.Runs[hits[0]], nil
	}
	return nil, fmt.Errorf("%w: run %q is ambiguous (%d runs match)", ErrUnknownRun, arg, len(hits))
}

// membersAt counts each bucket's members first seen at or before t: the
// store as it was then (artifact records are never deleted, and a member's
// first_seen is when a run triaged it).
func (s *Snapshot) membersAt(t time.Time) map[string]int {
	out := map[string]int{}
	for _, a := range s.Artifacts {
		if a.Bucket == nil || a.Bucket.ID == "" || a.FirstSeen.After(t) {
			continue
		}
		out[a.Bucket.ID]++
	}
	return out
}

// runOf is the index of the run an artifact first seen at t belongs to: the
// first run that finished at or after t (-1 when none did: a run that was
// killed before it wrote its record, or one still going).
func (s *Snapshot) runOf(t time.Time) int {
	i := sort.Search(len(s.Runs), func(i int) bool { return !s.Runs[i].Record.Finished.Before(t) })
	if i == len(s.Runs) {
		return -1
	}
	return i
}

// CrashesPerRun counts, per bucket, the members each run added (index =
// position in Runs).
func (s *Snapshot) CrashesPerRun() map[string][]int {
	out := map[string][]int{}
	for _, a := range s.Artifacts {
		if a.Bucket == nil || a.Bucket.ID == "" {
			continue
		}
		i := s.runOf(a.FirstSeen)
		if i < 0 {
			continue
		}
		c := out[a.Bucket.ID]
		if c == nil {
			c = make([]int, len(s.Runs))
			out[a.Bucket.ID] = c
		}
		c[i]++
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
