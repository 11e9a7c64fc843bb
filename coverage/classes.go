package coverage

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Gap is one uncovered region: contiguous executable lines never run
// (lines that are not executable may lie between them), in the function
// that holds them.
type Gap struct {
	File      string `json:"file" yaml:"file"`
	Scope     Scope  `json:"scope" yaml:"scope"`
	StartLine int    `json:"start_line" yaml:"start_line"`
	EndLine   int    `json:"end_line" yaml:"end_line"`
	// Lines is how many executable lines it holds.
	Lines    int    `json:"lines" yaml:"lines"`
	Function string `json:"function,omitempty" yaml:"function,omitempty"`
	Class    string `json:"class" yaml:"class"`
	Reason   string `json:"reason" yaml:"reason"`
}

// gapContext is what a class's test sees.
type gapContext struct {
	gap *Gap
	// source are the gap's uncovered lines' text, trimmed.
	source []string
	fn     *function
	fns    []*function
	// callers says, for a function never executed, whether code that ran
	// calls it (see callersRan).
	callers func(*function) (ran bool, where string)
	rules   *Rules
	abs     string
}

// GapClass is one of the fuzzing guide's classes of uncovered code.
type GapClass struct {
	Name string
	// Means is the guide's description; Action what to do about it.
	Means  string
	Action string
	// Test returns the reason the gap is of this class, or "".
	Test func(c *gapContext) string
}

// GapClasses are tried in order; the first that gives a reason wins, and
// "reachable" takes what is left.
var GapClasses = []GapClass{
	{
		Name:   "generated",
		Means:  "code that macro expansion maps onto attribute lines (a derive's zero-count closures)",
		Action: "Ignore: it is not the code the line shows.",
		Test: func(c *gapContext) string {
			if len(c.source) == 0 {
				return ""
			}
			for _, s := range c.source {
				if !strings.HasPrefix(s, "#[") {
					return ""
				}
			}
			return "every uncovered line is an attribute (" + shorten(c.source[0], 40) + ")"
		},
	},
	{
		Name:   "inspect-debug",
		Means:  "Inspect, InspectMut, Debug and Display implementations: diagnostics, not attack surface",
		Action: "Skip entirely.",
		Test: func(c *gapContext) string {
			if c.fn != nil && inspectRE.MatchString(c.fn.name) {
				return "in " + c.fn.name
			}
			return ""
		},
	},
	{
		Name:   "structural",
		Means:  "code the harness does not wire up: excluded files, functions no executed code calls",
		Action: "Extend the harness: add actions that reach it (or exclude it, as save/restore is).",
		Test: func(c *gapContext) string {
			if c.fn == nil || c.fn.count > 0 {
				return ""
			}
			if ran, where := c.callers(c.fn); !ran && where != "" {
				return fmt.Sprintf("%s never ran and %s", c.fn.name, where)
			}
			return ""
		},
	},
	{
		Name:   "error-handling",
		Means:  "unreachable!(), panics, Err returns and defensive checks for invalid states",
		Action: "Low priority: worth a test, not a fuzzer deficiency.",
		Test: func(c *gapContext) string {
			if len(c.source) == 0 {
				return ""
			}
			matched := ""
			for _, s := range c.source {
				if trivialLineRE.MatchString(s) {
					continue
				}
				m := errorLineRE.FindString(s)
				if m == "" {
					return ""
				}
				if matched == "" {
					matched = m
				}
			}
			if matched == "" {
				return ""
			}
			return "only error handling (" + strings.TrimSpace(matched) + ")"
		},
	},
	{
		Name:   "reachable",
		Means:  "code the fuzzer could reach but has not: the list to work from, largest first",
		Action: "Investigate: is it gated by byte patterns the fuzzer struggles to produce? Add a dictionary, weight the Arbitrary impl.",
		Test: func(c *gapContext) string {
			if c.fn != nil && c.fn.count == 0 {
				if _, where := c.callers(c.fn); where != "" {
					return c.fn.name + " never ran, but " + where
				}
			}
			if c.fn != nil {
				return fmt.Sprintf("%s ran %d times without reaching these lines", c.fn.name, c.fn.count)
			}
			return "no function of the coverage data holds these lines"
		},
	},
}

var (
	inspectRE     = regexp.MustCompile(`as (core::fmt::(Debug|Display|LowerHex|UpperHex)|inspect::(Inspect|InspectMut))>::`)
	errorLineRE   = regexp.MustCompile(`^(.*\b(unreachable!|panic!|todo!|unimplemented!|assert!|assert_eq!|assert_ne!|debug_assert\w*!|tracing::(warn|error)!|warn!|error!)|(return )?Err\(|.*=> Err\(|(return )?None[,;]?$|.*\.ok_or(_else)?\(|.*\?;?$)`)
	trivialLineRE = regexp.MustCompile(`^([{}()\[\];,]*|//.*|_ => \{?|else \{?|\} else \{?)$`)
)

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// findGaps groups each primary and secondary file's uncovered lines into
// regions and classifies them.
func findGaps(r *Report, in Input) []Gap {
	fns := functionsOf(in.Export, in.Rules.Rewrite)
	src := map[string][]string{}
	source := func(abs string) []string {
		if in.Source == nil {
			return nil
		}
		if s, ok := src[abs]; ok {
			return s
		}
		s := in.Source(abs)
		src[abs] = s
		return s
	}
	callers := callersRan(fns, source)
	var gaps []Gap
	for i := range r.Files {
		f := &r.Files[i]
		if f.Scope != Primary && f.Scope != Secondary && f.Scope != Excluded {
			continue
		}
		var exec []int
		for l := range f.lines {
			exec = append(exec, l)
		}
		sort.Ints(exec)
		for i := 0; i < len(exec); {
			if f.lines[exec[i]] > 0 {
				i++
				continue
			}
			j := i
			for j+1 < len(exec) && f.lines[exec[j+1]] == 0 {
				j++
			}
			g := Gap{File: f.Path, Scope: f.Scope, StartLine: exec[i], EndLine: exec[j], Lines: j - i + 1}
			c := &gapContext{gap: &g, fn: enclosing(fns, f.abs, exec[i]), fns: fns, callers: callers, rules: in.Rules, abs: f.abs}
			if c.fn != nil {
				g.Function = c.fn.name
			}
			text := source(f.abs)
			for _, l := range exec[i : j+1] {
				if l-1 < len(text) {
					c.source = append(c.source, strings.TrimSpace(text[l-1]))
				}
			}
			if f.Scope == Excluded {
				g.Class, g.Reason = "structural", "the file is in coverage.exclude"
			} else {
				for _, cl := range GapClasses {
					if why := cl.Test(c); why != "" {
						g.Class, g.Reason = cl.Name, why
						break
					}
				}
			}
			gaps = append(gaps, g)
			i = j + 1
		}
	}
	// Reachable gaps largest first (the list to work from), then the rest.
	sort.SliceStable(gaps, func(i, j int) bool {
		ri, rj := gaps[i].Class == "reachable", gaps[j].Class == "reachable"
		if ri != rj {
			return ri
		}
		if gaps[i].Lines != gaps[j].Lines {
			return gaps[i].Lines > gaps[j].Lines
		}
		if gaps[i].File != gaps[j].File {
			return gaps[i].File < gaps[j].File
		}
		return gaps[i].StartLine < gaps[j].StartLine
	})
	return gaps
}

// callersRan answers, for a function that never ran, whether any call of
// it (its short name followed by "(" in the source of the files the
// coverage data covers, its own definition left out) sits in a function
// that ran: then the fuzzer could reach it; with no such call the harness
// does not wire it up.
func callersRan(fns []*function, source func(string) []string) func(*function) (bool, string) {
	files := map[string]bool{}
	for _, f := range fns {
		files[f.file] = true
	}
	memo := map[*function]string{}
	return func(fn *function) (bool, string) {
		if w, ok := memo[fn]; ok {
			return strings.HasPrefix(w, "called from "), w
		}
		short := fn.name
		if i := strings.LastIndex(short, "::"); i >= 0 {
			short = short[i+2:]
		}
		short = strings.TrimSuffix(short, ">")
		if short == "" || !identRE.MatchString(short) {
			memo[fn] = ""
			return false, ""
		}
		call := regexp.MustCompile(`\b` + regexp.QuoteMeta(short) + `\s*(::<[^>]*>)?\(`)
		def := regexp.MustCompile(`\bfn\s+` + regexp.QuoteMeta(short) + `\b`)
		calls := 0
		for file := range files {
			for i, line := range source(file) {
				if !call.MatchString(line) || def.MatchString(line) {
					continue
				}
				calls++
				if caller := enclosing(fns, file, i+1); caller != nil && caller.count > 0 {
					w := fmt.Sprintf("called from %s (ran %d times)", caller.name, caller.count)
					memo[fn] = w
					return true, w
				}
			}
		}
		w := "nothing that ran calls it"
		if calls > 0 {
			w = fmt.Sprintf("its %d call sites are in code that never ran either", calls)
		}
		memo[fn] = w
		return false, w
	}
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
