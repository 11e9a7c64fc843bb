// Package coverage turns one target's LLVM coverage (llvmcov's export and
// lcov) into what the fuzzing guide asks of it: figures per scope (the
// crate under test, the workspace crates it reaches, everything else),
// per file, against a goal; the uncovered regions of the primary and
// secondary scopes, each classified by the table in classes.go with the
// reason; and the summary kept as history for the ratchet (history.go).
// It reads source files but runs nothing.
package coverage

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fuzztriage/triage/llvmcov"
	"github.com/fuzztriage/triage/symbolize"
)

// Scope is where a file's coverage counts.
type Scope string

// The scopes, in report order.
const (
	Primary   Scope = "primary"
	Secondary Scope = "secondary"
	Out       Scope = "out"
	// Excluded files (coverage.exclude: structurally unreachable code such
	// as save/restore) are reported apart and in no denominator.
	Excluded Scope = "excluded"
)

// Scopes lists them in report order.
var Scopes = []Scope{Primary, Secondary, Out, Excluded}

// Rules assign files to scopes. Patterns are matched against the path
// relative to the workspace root: a pattern ending in "/" (or "/**") is a
// directory prefix, one without a slash matches the file's base name, any
// other is path.Match'ed against the whole relative path.
type Rules struct {
	// Root is the workspace root (absolute).
	Root string
	// Crate is the crate under test's directory and Fuzz the fuzz crate's
	// (absolute): the default primary scope is the crate minus its fuzz
	// directory; the rest of the workspace is secondary.
	Crate, Fuzz                      string
	Primary, Secondary, Out, Exclude []string
	// Rewrite maps a path the binary's DWARF names (built elsewhere) to
	// the workspace's (bucket.path_map); nil leaves paths alone.
	Rewrite func(string) string
}

// ScopeOf says where file (absolute, as the binary's DWARF names it)
// counts, and its path relative to the root ("" for files outside it).
func (r *Rules) ScopeOf(file string) (Scope, string) {
	rel, err := filepath.Rel(r.Root, file)
	inside := err == nil && rel != ".." && !strings.HasPrefix(rel, "../") && !filepath.IsAbs(rel)
	if !inside {
		rel = ""
	}
	match := func(pats []string) bool {
		for _, p := range pats {
			if matchGlob(p, rel, file) {
				return true
			}
		}
		return false
	}
	switch {
	case match(r.Exclude):
		return Excluded, rel
	case match(r.Primary):
		return Primary, rel
	case match(r.Secondary):
		return Secondary, rel
	case match(r.Out):
		return Out, rel
	case !inside:
		return Out, rel
	case len(r.Primary) == 0 && r.Crate != "" && within(file, r.Crate) && (r.Fuzz == "" || !within(file, r.Fuzz)):
		return Primary, rel
	case strings.Contains("/"+filepath.ToSlash(rel), "/vendor/") || strings.Contains("/"+filepath.ToSlash(rel), "/target/"):
		return Out, rel
	}
	return Secondary, rel
}

func within(file, dir string) bool {
	return strings.HasPrefix(file, strings.TrimSuffix(dir, "/")+"/")
}

func matchGlob(pat, rel, abs string) bool {
	if pat == "" {
		return false
	}
	if filepath.IsAbs(pat) {
		if strings.HasSuffix(pat, "/") || strings.HasSuffix(pat, "/**") {
			return within(abs, strings.TrimSuffix(strings.TrimSuffix(pat, "**"), "/"))
		}
		ok, _ := path.Match(pat, abs)
		return ok
	}
	if rel == "" {
		return false
	}
	rel = filepath.ToSlash(rel)
	switch {
	case strings.HasSuffix(pat, "/**"):
		return strings.HasPrefix(rel, strings.TrimSuffix(pat, "**"))
	case strings.HasSuffix(pat, "/"):
		return strings.HasPrefix(rel, pat)
	case !strings.Contains(pat, "/"):
		ok, _ := path.Match(pat, path.Base(rel))
		return ok
	}
	ok, _ := path.Match(pat, rel)
	return ok
}

// Count is hit of found.
type Count struct {
	Found int `json:"found" yaml:"found"`
	Hit   int `json:"hit" yaml:"hit"`
}

// Percent is Hit/Found in percent (0 when nothing was found).
func (c Count) Percent() float64 {
	if c.Found == 0 {
		return 0
	}
	return float64(c.Hit) * 100 / float64(c.Found)
}

func (c *Count) add(o Count) { c.Found += o.Found; c.Hit += o.Hit }

// Figures are one file's or scope's counts.
type Figures struct {
	Lines     Count `json:"lines" yaml:"lines"`
	Functions Count `json:"functions" yaml:"functions"`
	Regions   Count `json:"regions" yaml:"regions"`
	// Branches are zero unless the toolchain instruments them (nightly's
	// -Zcoverage-options=branch).
	Branches Count `json:"branches" yaml:"branches"`
}

func (f *Figures) add(o Figures) {
	f.Lines.add(o.Lines)
	f.Functions.add(o.Functions)
	f.Regions.add(o.Regions)
	f.Branches.add(o.Branches)
}

// FileReport is one source file.
type FileReport struct {
	// Path is relative to the workspace root, or absolute outside it.
	Path    string  `json:"path" yaml:"path"`
	Scope   Scope   `json:"scope" yaml:"scope"`
	Figures Figures `json:"figures" yaml:"figures"`
	// Uncovered are the executable lines never run (primary and secondary
	// files only).
	Uncovered []int `json:"uncovered,omitempty" yaml:"uncovered,omitempty"`
	abs       string
	lines     map[int]int64
}

// ScopeReport is one scope's totals.
type ScopeReport struct {
	Scope   Scope   `json:"scope" yaml:"scope"`
	Files   int     `json:"files" yaml:"files"`
	Figures Figures `json:"figures" yaml:"figures"`
}

// Report is one target's coverage.
type Report struct {
	Target string `json:"target" yaml:"target"`
	// Build says what produced the figures (the coverage flags).
	Build  string        `json:"build" yaml:"build"`
	Scopes []ScopeReport `json:"scopes" yaml:"scopes"`
	Files  []FileReport  `json:"files" yaml:"files"`
	// Goal is the primary scope's line-coverage goal in percent;
	// PrimaryLines the primary scope's line coverage in percent.
	Goal         float64 `json:"goal" yaml:"goal"`
	PrimaryLines float64 `json:"primary_lines" yaml:"primary_lines"`
	MeetsGoal    bool    `json:"meets_goal" yaml:"meets_goal"`
	Gaps         []Gap   `json:"gaps" yaml:"gaps"`
}

// Scope returns the scope's report (zero when it has no files).
func (r *Report) Scope(s Scope) ScopeReport {
	for _, x := range r.Scopes {
		if x.Scope == s {
			return x
		}
	}
	return ScopeReport{Scope: s}
}

// Input is what Build needs.
type Input struct {
	Target string
	Build  string
	Rules  *Rules
	Goal   float64
	Export *llvmcov.Export
	LCOV   map[string]*llvmcov.LCOVFile
	// Source reads a file's lines (nil: gaps are classified without
	// source text).
	Source func(abs string) []string
}

// Build makes the report.
func Build(in Input) *Report {
	r := &Report{Target: in.Target, Build: in.Build, Goal: in.Goal}
	byScope := map[Scope]*ScopeReport{}
	for _, f := range in.Export.Files {
		abs := f.Filename
		if in.Rules.Rewrite != nil {
			abs = in.Rules.Rewrite(abs)
		}
		scope, rel := in.Rules.ScopeOf(abs)
		fr := FileReport{Path: rel, Scope: scope, abs: abs}
		if rel == "" {
			fr.Path = abs
		}
		fr.Figures = Figures{Functions: Count{f.Summary.Functions.Count, f.Summary.Functions.Covered},
			Regions: Count{f.Summary.Regions.Count, f.Summary.Regions.Covered}, Branches: Count{f.Summary.Branches.Count, f.Summary.Branches.Covered},
			Lines: Count{f.Summary.Lines.Count, f.Summary.Lines.Covered}}
		if lf := in.LCOV[f.Filename]; lf != nil {
			fr.lines = lf.Lines
			// lcov's DA lines are llvm-cov's own line verdicts.
			fr.Figures.Lines = Count{}
			for _, c := range lf.Lines {
				fr.Figures.Lines.Found++
				if c > 0 {
					fr.Figures.Lines.Hit++
				}
			}
			if scope == Primary || scope == Secondary {
				for l, c := range lf.Lines {
					if c == 0 {
						fr.Uncovered = append(fr.Uncovered, l)
					}
				}
				sort.Ints(fr.Uncovered)
			}
		}
		sr := byScope[scope]
		if sr == nil {
			sr = &ScopeReport{Scope: scope}
			byScope[scope] = sr
		}
		sr.Files++
		sr.Figures.add(fr.Figures)
		r.Files = append(r.Files, fr)
	}
	sort.Slice(r.Files, func(i, j int) bool {
		if r.Files[i].Scope != r.Files[j].Scope {
			return scopeRank(r.Files[i].Scope) < scopeRank(r.Files[j].Scope)
		}
		return r.Files[i].Path < r.Files[j].Path
	})
	for _, s := range Scopes {
		if sr := byScope[s]; sr != nil {
			r.Scopes = append(r.Scopes, *sr)
		}
	}
	r.PrimaryLines = round2(r.Scope(Primary).Figures.Lines.Percent())
	r.MeetsGoal = r.PrimaryLines >= r.Goal
	r.Gaps = findGaps(r, in)
	return r
}

func scopeRank(s Scope) int {
	for i, x := range Scopes {
		if x == s {
			return i
		}
	}
	return len(Scopes)
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// function is one function of the export, instantiations merged.
type function struct {
	name       string // demangled, hashes and generics' instances kept apart by name
	file       string
	start, end int
	count      int64
}

// functionsOf merges instantiations by demangled name and file.
func functionsOf(e *llvmcov.Export, rewrite func(string) string) []*function {
	byKey := map[string]*function{}
	var out []*function
	for _, f := range e.Functions {
		if len(f.Filenames) == 0 {
			continue
		}
		start, end := 0, 0
		for _, rg := range f.Regions {
			if rg.FileID != 0 || rg.Kind != 0 {
				continue
			}
			if start == 0 || rg.L1 < start {
				start = rg.L1
			}
			end = max(end, rg.L2)
		}
		if start == 0 {
			continue
		}
		name := symbolize.NormalizeDemangled(symbolize.Demangle(f.Name))
		file := f.Filenames[0]
		if rewrite != nil {
			file = rewrite(file)
		}
		key := file + "\x00" + name + "\x00" + fmt.Sprint(start)
		fn := byKey[key]
		if fn == nil {
			fn = &function{name: name, file: file, start: start, end: end}
			byKey[key] = fn
			out = append(out, fn)
		}
		fn.count += f.Count
		fn.end = max(fn.end, end)
	}
	return out
}

// enclosing is the smallest function of file whose lines hold line.
func enclosing(fns []*function, file string, line int) *function {
	var best *function
	for _, f := range fns {
		if f.file != file || line < f.start || line > f.end {
			continue
		}
		if best == nil || f.end-f.start < best.end-best.start {
			best = f
		}
	}
	return best
}
