package store

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// DirCoverage holds coverage/<target>/<time>.yaml: each `triage coverage`
// run's summary of one target, the history the ratchet compares against.
const DirCoverage = "coverage"

// CoverageRecord is one target's coverage at one time.
type CoverageRecord struct {
	SchemaVersion int       `json:"schema_version" yaml:"schema_version"`
	Target        string    `json:"target" yaml:"target"`
	Time          time.Time `json:"time" yaml:"time"`
	// Build names the flags that produced the figures.
	Build string `json:"build" yaml:"build"`
	// Inputs replayed (corpus, and artifacts with --artifacts); Crashers
	// among them (their counts are kept: continuous mode).
	Inputs   int `json:"inputs" yaml:"inputs"`
	Crashers int `json:"crashers" yaml:"crashers"`
	// Scopes are per scope: lines, functions, regions and branches, each
	// as [found, hit].
	Scopes []CoverageScope `json:"scopes" yaml:"scopes"`
	// PrimaryLines is the primary scope's line coverage in percent; Goal
	// the goal it was measured against.
	PrimaryLines float64 `json:"primary_lines" yaml:"primary_lines"`
	Goal         float64 `json:"goal" yaml:"goal"`
	// Covered lists, per primary and secondary file (workspace-relative),
	// the executable lines that ran, as ranges ("3-7,9").
	Covered map[string]string `json:"covered" yaml:"covered"`
	// Gaps counts the uncovered regions by class.
	Gaps map[string]int `json:"gaps" yaml:"gaps"`
}

// CoverageScope is one scope's figures.
type CoverageScope struct {
	Scope     string `json:"scope" yaml:"scope"`
	Files     int    `json:"files" yaml:"files"`
	Lines     [2]int `json:"lines" yaml:"lines,flow"`
	Functions [2]int `json:"functions" yaml:"functions,flow"`
	Regions   [2]int `json:"regions" yaml:"regions,flow"`
	Branches  [2]int `json:"branches" yaml:"branches,flow"`
}

func (r *CoverageRecord) schema() int { return r.SchemaVersion }

// Validate checks a coverage record.
func (r *CoverageRecord) Validate() error {
	var errs []string
	if r.Target == "" || strings.ContainsAny(r.Target, "/\\\x00") || r.Target == "." || r.Target == ".." {
		errs = append(errs, fmt.Sprintf("target %q is not a target name", r.Target))
	}
	if r.Time.IsZero() {
		errs = append(errs, "time is missing")
	}
	if r.PrimaryLines < 0 || r.PrimaryLines > 100 {
		errs = append(errs, fmt.Sprintf("primary_lines %v is not a percentage", r.PrimaryLines))
	}
	for f, ranges := range r.Covered {
		if _, err := ParseLineRanges(ranges); err != nil {
			errs = append(errs, fmt.Sprintf("covered[%s]: %v", f, err))
		}
	}
	return joinErrs(errs)
}

// CoverageDir is the history directory of target.
func (s *Store) CoverageDir(target string) string { return s.Path(path.Join(DirCoverage, target)) }

// WriteCoverage writes a coverage record atomically, named by its time.
func (s *Store) WriteCoverage(r *CoverageRecord) (string, error) {
	r.SchemaVersion = SchemaVersion
	if err := r.Validate(); err != nil {
		return "", err
	}
	data, err := MarshalYAML(r)
	if err != nil {
		return "", err
	}
	p := path.Join(s.CoverageDir(r.Target), r.Time.UTC().Format("20060102T150405.000000000Z")+".yaml")
	return p, s.WriteFile(p, data)
}

// CoverageHistory reads target's coverage records, oldest first; records
// that cannot be read are returned as errors beside them.
func (s *Store) CoverageHistory(target string) ([]*CoverageRecord, []error, error) {
	paths, err := s.records(path.Join(DirCoverage, target))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	var out []*CoverageRecord
	var bad []error
	for _, p := range paths {
		var r CoverageRecord
		if err := s.ReadRecord(p, &r); err != nil {
			bad = append(bad, err)
			continue
		}
		out = append(out, &r)
	}
	return out, bad, nil
}

// FormatLineRanges writes sorted line numbers as "3-7,9".
func FormatLineRanges(lines []int) string {
	var b strings.Builder
	for i := 0; i < len(lines); {
		j := i
		for j+1 < len(lines) && lines[j+1] == lines[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if j > i {
			fmt.Fprintf(&b, "%d-%d", lines[i], lines[j])
		} else {
			fmt.Fprintf(&b, "%d", lines[i])
		}
		i = j + 1
	}
	return b.String()
}

// ParseLineRanges reads FormatLineRanges' output.
func ParseLineRanges(s string) ([]int, error) {
	var out []int
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		var a, b int
		if n, _ := fmt.Sscanf(part, "%d-%d", &a, &b); n == 2 && strings.Count(part, "-") == 1 {
			if a <= 0 || b < a || b-a > 1<<20 {
				return nil, fmt.Errorf("bad range %q", part)
			}
			for l := a; l <= b; l++ {
				out = append(out, l)
			}
			continue
		}
		if n, err := fmt.Sscanf(part, "%d", &a); n != 1 || err != nil || a <= 0 || fmt.Sprint(a) != part {
			return nil, fmt.Errorf("bad line %q", part)
		}
		out = append(out, a)
	}
	return out, nil
}

// CoverageDetailName is the latest full report of a target, beside its
// history (coverage/<target>/latest.json).
const CoverageDetailName = "latest.json"

// WriteCoverageDetail replaces a target's latest full report (JSON).
func (s *Store) WriteCoverageDetail(target string, data []byte) error {
	if target == "" || strings.ContainsAny(target, "/\\\x00") || target == "." || target == ".." {
		return fmt.Errorf("target %q is not a target name", target)
	}
	return s.WriteFile(path.Join(s.CoverageDir(target), CoverageDetailName), data)
}

// CoverageTargets lists the targets with coverage in the store.
func (s *Store) CoverageTargets() ([]string, error) {
	entries, err := fs.ReadDir(s.root.FS(), DirCoverage)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}
