package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/coverage"
	"github.com/fuzztriage/triage/internal/inert"
	"github.com/fuzztriage/triage/triage"
)

// coverageOutput is one target's part of `triage coverage --format json`.
type coverageOutput struct {
	Target     string               `json:"target" yaml:"target"`
	Inputs     int                  `json:"inputs" yaml:"inputs"`
	Crashers   int                  `json:"crashers" yaml:"crashers"`
	Tools      string               `json:"tools" yaml:"tools"`
	Report     *coverage.Report     `json:"report" yaml:"report"`
	Previous   *float64             `json:"previous_primary_lines,omitempty" yaml:"previous_primary_lines,omitempty"`
	Comparison *coverage.Comparison `json:"comparison,omitempty" yaml:"comparison,omitempty"`
}

func init() {
	register(&command{
		name:     "coverage",
		summary:  "coverage of the fuzz targets by scope, with classified gaps and a ratchet",
		usage:    "[WORKSPACE] [TARGET...]",
		group:    "fuzzing",
		complete: completeWorkspaceArg,
		help: `
The fuzzing guide's coverage loop in one command. For each chosen target
(default: all with a corpus) it builds the coverage binary (the build
preset's coverage command: -Cinstrument-coverage with counter relocation and
one codegen unit, into cargo-fuzz's coverage directory), replays the corpus
(with --artifacts also the crash artifacts) one process over many inputs,
resuming past an input that crashes and keeping its counts (continuous
mode), merges and exports the profile with the llvm-profdata and llvm-cov
whose major version is rustc's LLVM (llvm-NN on PATH or in /usr/lib/llvm-NN,
the toolchain's llvm-tools, or --llvm-bin DIR; a missing or older one is an
error naming the package).

The report gives lines, functions, regions (and branches where the
toolchain instruments them) per scope: primary (the crate under test),
secondary (the rest of the workspace), out (std, registry, vendored code)
and excluded (coverage.exclude), per file, and the primary scope's line
coverage against coverage.goal (85%). Uncovered regions of the primary and
secondary scopes are classified: generated (attribute lines), inspect-debug,
structural (the harness never calls it), error-handling, and reachable (the
list to work from, largest first), each with the reason.

Each run's summary is kept in <store>/coverage/<target>/<time>.yaml.
--ratchet exits 1 when a target's primary line coverage fell below the last
record by more than coverage.tolerance (0.5 points) and lists the lines
covered before and not now; --min exits 1 below the goal; --diff lists the
newly covered and newly uncovered lines.

Exit codes:
  0  coverage measured (and the ratchet held)
  1  --ratchet: coverage fell; --min: below the goal
  2  usage error
  3  could not measure (build failed, no corpus, tools missing, no profile)

Examples:
  triage coverage . fuzz_ide
  triage coverage --ratchet --min ~/openvmm
  triage coverage --format json --lcov ide.lcov . fuzz_ide
  triage coverage --artifacts --diff . fuzz_chipset_cmos_rtc
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			pf := addPipelineFlags(fs, false)
			artifacts := fs.Bool("artifacts", false, "also replay the targets' crash artifacts")
			llvmBin := fs.String("llvm-bin", "", "`DIR` holding llvm-profdata and llvm-cov (default: found by rustc's LLVM version)")
			lcovOut := fs.String("lcov", "", "also write the lcov export to `FILE` (for genhtml)")
			ratchet := fs.Bool("ratchet", false, "exit 1 when primary line coverage fell below the last record (beyond coverage.tolerance)")
			minGoal := fs.Bool("min", false, "exit 1 when primary line coverage is below coverage.goal")
			diff := fs.Bool("diff", false, "list newly covered and newly uncovered lines since the last record")
			gaps := fs.Int("gaps", 10, "reachable gaps listed per target in the text report")
			format := addFormat(fs, "text", "text", "yaml", "json")
			return func(ctx context.Context, a *app, args []string) error {
				if err := format.check(); err != nil {
					return err
				}
				ws, cfg, targets, err := pf.loadWithTargets(a, args)
				if err != nil {
					return err
				}
				if len(targets) == 0 {
					for _, t := range ws.Targets {
						if n, _ := t.CorpusSize(); n > 0 {
							targets = append(targets, t.Name)
						}
					}
					if len(targets) == 0 {
						return exitError{exitFailures, fmt.Errorf("no target of %s has a corpus to replay (run triage fuzz first)", ws.Root)}
					}
				}
				opts := triage.CoverageOptions{Config: cfg, Targets: targets, Artifacts: *artifacts, LLVMBin: *llvmBin, Log: a.log}
				var lcovFile *os.File
				if *lcovOut != "" {
					if lcovFile, err = os.Create(*lcovOut); err != nil {
						return exitError{exitFailures, err}
					}
					defer lcovFile.Close()
					opts.LCOV = lcovFile
				}
				results, err := triage.Coverage(ctx, ws, opts)
				if err != nil && len(results) == 0 {
					return exitError{exitFailures, err}
				}
				findings := false
				var out []coverageOutput
				for _, r := range results {
					o := coverageOutput{Target: r.Target, Inputs: r.Inputs, Crashers: len(r.Crashers), Tools: r.Tools, Report: r.Report, Comparison: r.Comparison}
					if r.Previous != nil {
						o.Previous = &r.Previous.PrimaryLines
					}
					out = append(out, o)
					if *ratchet && r.Comparison != nil && r.Comparison.Fell {
						findings = true
					}
					if *minGoal && !r.Report.MeetsGoal {
						findings = true
					}
				}
				if !format.text() {
					if werr := writeStructured(a.stdout, format.value, out); werr != nil {
						return werr
					}
				} else {
					for _, o := range out {
						printCoverage(a.stdout, o, *gaps, *ratchet, *diff)
					}
				}
				if err != nil {
					return exitError{exitFailures, err}
				}
				if findings {
					return exitError{code: exitFindings}
				}
				return nil
			}
		},
	})
}

func printCoverage(w io.Writer, o coverageOutput, maxGaps int, ratchet, diff bool) {
	r := o.Report
	fmt.Fprintf(w, "%s: %d inputs replayed (%d crashed; their counts are in), %s\n", inert.Line(o.Target), o.Inputs, o.Crashers, o.Tools)
	fmt.Fprintf(w, "  build: %s\n", inert.Line(r.Build))
	fmt.Fprintf(w, "  %-10s %5s %17s %17s %17s %17s\n", "scope", "files", "lines", "functions", "regions", "branches")
	for _, s := range r.Scopes {
		f := s.Figures
		fmt.Fprintf(w, "  %-10s %5d %17s %17s %17s %17s\n", s.Scope, s.Files, cnt(f.Lines), cnt(f.Functions), cnt(f.Regions), cnt(f.Branches))
	}
	verdict := "meets"
	if !r.MeetsGoal {
		verdict = "below"
	}
	fmt.Fprintf(w, "  primary line coverage %.2f%% %s the goal of %.0f%%", r.PrimaryLines, verdict, r.Goal)
	if o.Previous != nil {
		fmt.Fprintf(w, " (last record %.2f%%)", *o.Previous)
	}
	fmt.Fprintln(w)
	for _, f := range r.Files {
		if f.Scope != coverage.Out {
			fmt.Fprintf(w, "    %-9s %-50s lines %s\n", f.Scope, inert.Line(f.Path), cnt(f.Figures.Lines))
		}
	}
	byClass := map[string]int{}
	for _, g := range r.Gaps {
		byClass[g.Class]++
	}
	fmt.Fprintf(w, "  gaps:")
	for _, c := range coverage.GapClasses {
		fmt.Fprintf(w, " %s %d", c.Name, byClass[c.Name])
	}
	fmt.Fprintln(w)
	n := 0
	for _, g := range r.Gaps {
		if g.Class != "reachable" || n >= maxGaps {
			continue
		}
		n++
		fmt.Fprintf(w, "    %s:%d-%d (%d lines) in %s: %s\n", inert.Line(g.File), g.StartLine, g.EndLine, g.Lines, inert.Line(g.Function), inert.Line(g.Reason))
	}
	if c := o.Comparison; c != nil && (ratchet || diff) {
		if ratchet && c.Fell {
			fmt.Fprintf(w, "  RATCHET: primary line coverage fell from %.2f%% to %.2f%%\n", c.Before, c.After)
		}
		for _, l := range c.Lost {
			fmt.Fprintf(w, "    no longer covered: %s:%s\n", inert.Line(l.File), l.Lines)
		}
		if diff {
			for _, l := range c.Gained {
				fmt.Fprintf(w, "    newly covered: %s:%s\n", inert.Line(l.File), l.Lines)
			}
		}
	}
}

func cnt(c coverage.Count) string {
	return fmt.Sprintf("%d/%d %5.1f%%", c.Hit, c.Found, c.Percent())
}
