package coverage

import (
	"fmt"
	"sort"
	"time"

	"github.com/fuzztriage/triage/store"
)

// Record is the report's summary for the history.
func Record(r *Report, at time.Time, inputs, crashers int) *store.CoverageRecord {
	rec := &store.CoverageRecord{Target: r.Target, Time: at.UTC(), Build: r.Build, Inputs: inputs, Crashers: crashers,
		PrimaryLines: r.PrimaryLines, Goal: r.Goal, Covered: map[string]string{}, Gaps: map[string]int{}}
	for _, s := range r.Scopes {
		f := s.Figures
		rec.Scopes = append(rec.Scopes, store.CoverageScope{Scope: string(s.Scope), Files: s.Files,
			Lines: [2]int{f.Lines.Found, f.Lines.Hit}, Functions: [2]int{f.Functions.Found, f.Functions.Hit},
			Regions: [2]int{f.Regions.Found, f.Regions.Hit}, Branches: [2]int{f.Branches.Found, f.Branches.Hit}})
	}
	for _, f := range r.Files {
		if f.Scope != Primary && f.Scope != Secondary {
			continue
		}
		var hit []int
		for l, c := range f.lines {
			if c > 0 {
				hit = append(hit, l)
			}
		}
		sort.Ints(hit)
		rec.Covered[f.Path] = store.FormatLineRanges(hit)
	}
	for _, g := range r.Gaps {
		rec.Gaps[g.Class]++
	}
	return rec
}

// LineChange is a file's lines that changed state between two records.
type LineChange struct {
	File  string `json:"file" yaml:"file"`
	Lines string `json:"lines" yaml:"lines"`
}

// Comparison is the ratchet's view of two records of one target.
type Comparison struct {
	Before, After float64
	// Fell says the primary scope's line coverage fell by more than the
	// tolerance.
	Fell bool
	// Lost are lines covered before and not now; Gained the reverse
	// (files of the primary and secondary scopes).
	Lost, Gained []LineChange
}

// Compare compares the previous record with the current one.
func Compare(prev, cur *store.CoverageRecord, tolerance float64) (*Comparison, error) {
	c := &Comparison{Before: prev.PrimaryLines, After: cur.PrimaryLines}
	c.Fell = cur.PrimaryLines < prev.PrimaryLines-tolerance
	files := map[string]bool{}
	for f := range prev.Covered {
		files[f] = true
	}
	for f := range cur.Covered {
		files[f] = true
	}
	var names []string
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		before, err := store.ParseLineRanges(prev.Covered[f])
		if err != nil {
			return nil, fmt.Errorf("previous record, %s: %w", f, err)
		}
		after, err := store.ParseLineRanges(cur.Covered[f])
		if err != nil {
			return nil, fmt.Errorf("current record, %s: %w", f, err)
		}
		if lost := minus(before, after); len(lost) > 0 {
			c.Lost = append(c.Lost, LineChange{File: f, Lines: store.FormatLineRanges(lost)})
		}
		if gained := minus(after, before); len(gained) > 0 {
			c.Gained = append(c.Gained, LineChange{File: f, Lines: store.FormatLineRanges(gained)})
		}
	}
	return c, nil
}

func minus(a, b []int) []int {
	in := map[int]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []int
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// Detail is a report with its per-line counts: what `triage html` draws
// source views from (the history records keep only covered ranges).
type Detail struct {
	Report *Report `json:"report"`
	// Counts are the executable lines' counts of the primary, secondary
	// and excluded files, by the file's report path.
	Counts map[string]map[int]int64 `json:"counts"`
}

// Detail returns the report with its line counts.
func (r *Report) Detail() *Detail {
	d := &Detail{Report: r, Counts: map[string]map[int]int64{}}
	for _, f := range r.Files {
		if f.Scope == Out {
			continue
		}
		d.Counts[f.Path] = f.lines
	}
	return d
}
