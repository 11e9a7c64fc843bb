package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/internal/inert"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

func init() {
	register(&command{
		name:     "run",
		summary:  "triage every new crash artifact of a workspace (the nightly job)",
		usage:    "[WORKSPACE]",
		group:    "pipeline",
		complete: completeWorkspaceArg,
		help: `
The main job. For every fuzz target of WORKSPACE (default: the current
directory) it finds the crash artifacts (crash-, timeout-, oom-, leak-,
minimized-from- files in <fuzz>/artifacts/<target>/) that the store has not
recorded yet (by content SHA1), builds the release binaries (or uses the
built ones with --no-build), reproduces each input with the flags its kind
needs (-timeout= for timeouts, -rss_limit_mb= for OOMs) up to --tries times
and classifies it (reproducible: crashes the same way in at least half the
tries; flaky; not reproducible), parses and buckets every crash. Then, once
per bucket rather than per input: minimizes the bucket's representative (its
smallest member) with libFuzzer -minimize_crash, keeping a candidate only if
re-running it lands in the same bucket; builds the --dev binary and
reproduces the representative there; runs the lldb session on the release
and dev builds. Records go to the store (default <WORKSPACE>/.triage):
artifacts/<sha1>.yaml, buckets/<id>/bucket.yaml (+ minimized input, lldb
command files and transcripts), runs/<time>.yaml. Artifacts are only read.

Settings come from <WORKSPACE>/triage.yaml (every field optional, see the
README); flags override it. A run holds the store's lock: a second run (or a
watch) on the same store exits 3 at once.

Exit codes:
  0  finished: no new buckets, every input triaged
  1  finished: new buckets found (listed in the summary and the run record)
  2  usage error (bad flag, missing workspace, bad triage.yaml)
  3  failures: some target or input could not be triaged (failed build,
     missing binary, unreadable input, malformed record, lldb missing...);
     new buckets may be listed too. Also: the store is locked by another
     run, or the run was interrupted.

Examples:
  triage run testdata/fuzzws
  triage run -j 8 --no-build --minimize all ~/openvmm
  triage run --target fuzz_ide --format json . | jq '.new_buckets'
  triage run --log-format json --progress never /src/ws 2>run.log
  triage run --queue embedded --queue-listen 127.0.0.1:4222 --queue-workers 0 .  # workers join
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			pf := addPipelineFlags(fs, true)
			format := addFormat(fs, "text", "text", "yaml", "json")
			qf := addQueueFlags(fs, roleRun)
			return func(ctx context.Context, a *app, args []string) error {
				if err := format.check(); err != nil {
					return err
				}
				ws, cfg, err := pf.load(a, args)
				if err != nil {
					return err
				}
				opts, finish := pf.options(a, cfg)
				if qf.enabled() {
					_, stop, err := qf.coordinate(ctx, a, ws, cfg, &opts)
					if err != nil {
						finish()
						return err
					}
					defer stop()
				}
				rec, err := triage.Run(ctx, ws, opts)
				finish()
				if err != nil {
					if rec != nil && ctx.Err() != nil {
						return exitError{exitFailures, fmt.Errorf("interrupted: finished records are kept, the rest is triaged by the next run")}
					}
					if rec == nil || rec.Finished.IsZero() {
						return exitError{exitFailures, err}
					}
					// The run finished but its record could not be written
					// (a full disk): the summary is all that is left of it.
					rec.Failures = append(rec.Failures, store.Failure{Stage: "store", Error: err.Error()})
				}
				if !format.text() {
					if err := writeStructured(a.stdout, format.value, rec); err != nil {
						return err
					}
				} else {
					printRunSummary(a.stdout, rec, cfg.StoreDir(ws.Root))
				}
				return exitError{code: runExitCode(rec)}
			}
		},
	})
}

// runExitCode maps a run record to the documented exit code.
func runExitCode(rec *store.RunRecord) int {
	switch {
	case len(rec.Failures) > 0:
		return exitFailures
	case len(rec.NewBuckets) > 0:
		return exitFindings
	}
	return exitOK
}

// pipelineFlags are the flags run and watch share (and repro/minimize a
// subset of).
type pipelineFlags struct {
	jobs     *int
	noBuild  *bool
	tries    *int
	minimize *string
	noLLDB   *bool
	noDev    *bool
	targets  stringList
}

func addPipelineFlags(fs *pflag.FlagSet, full bool) *pipelineFlags {
	pf := &pipelineFlags{}
	pf.noBuild = fs.Bool("no-build", false, "do not build: use the binaries already built")
	pf.tries = fs.Int("tries", 0, "runs per input on the release build (default: triage.yaml's, else 3)")
	if full {
		pf.jobs = fs.IntP("jobs", "j", 0, "inputs and buckets worked on at once (default: triage.yaml's jobs, else all cores)")
		pf.minimize = fs.String("minimize", "", "buckets (each bucket's representative), all (every new input, within minimize.budget) or off (default: triage.yaml's, else buckets)")
		_ = fs.SetAnnotation("minimize", valuesAnnotation, []string{triage.MinimizeBuckets, triage.MinimizeAll, triage.MinimizeOff})
		pf.noLLDB = fs.Bool("no-lldb", false, "skip the lldb sessions")
		pf.noDev = fs.Bool("no-dev", false, "skip the --dev build (its reproduction and lldb session)")
		fs.Var(&pf.targets, "target", "only this fuzz `TARGET` (repeatable)")
	}
	return pf
}

// load discovers the workspace (the WORKSPACE argument, else --workspace)
// and reads its triage.yaml, then applies the flags. A bad triage.yaml is a
// usage error naming the field.
func (pf *pipelineFlags) load(a *app, args []string) (*triage.Workspace, *triage.Config, error) {
	root, err := a.workspaceRoot(args)
	if err != nil {
		return nil, nil, err
	}
	ws, err := triage.Discover(root)
	if err != nil {
		if errors.Is(err, triage.ErrNoTargets) {
			return nil, nil, usagef("%v", err)
		}
		return nil, nil, err
	}
	for _, w := range ws.Warnings {
		a.log.Warnf("skipped unreadable manifest: %s", w)
	}
	cfg, err := a.config(ws.Root)
	if err != nil {
		return nil, nil, err
	}
	ws.Configure(cfg)
	if *pf.noBuild {
		cfg.Build.Mode = triage.BuildNever
	}
	if *pf.tries < 0 {
		return nil, nil, usagef("--tries must be positive")
	}
	if *pf.tries > 0 {
		cfg.Reproduce.Tries = *pf.tries
	}
	if pf.jobs != nil {
		if *pf.jobs < 0 {
			return nil, nil, usagef("-j must be positive")
		}
		if *pf.jobs > 0 {
			cfg.Jobs = *pf.jobs
		}
	}
	if pf.minimize != nil && *pf.minimize != "" {
		switch *pf.minimize {
		case triage.MinimizeBuckets, triage.MinimizeAll, triage.MinimizeOff:
			cfg.Minimize.Mode = *pf.minimize
		default:
			return nil, nil, usagef("--minimize must be buckets, all or off, not %q", *pf.minimize)
		}
	}
	f := false
	if pf.noLLDB != nil && *pf.noLLDB {
		cfg.LLDB.Enabled = &f
	}
	if pf.noDev != nil && *pf.noDev {
		cfg.Reproduce.Dev = &f
	}
	for _, t := range pf.targets {
		if ws.Target(t) == nil {
			return nil, nil, usagef("no fuzz target %q in %s", t, ws.Root)
		}
	}
	return ws, cfg, nil
}

// options builds the pipeline options: the real stages, the logger, and a
// progress bar on a terminal (log lines otherwise). finish clears the bar.
func (pf *pipelineFlags) options(a *app, cfg *triage.Config) (triage.Options, func()) {
	opts := triage.Options{Config: cfg, Stages: triage.DefaultStages(), Targets: pf.targets, Log: a.log}
	mode := a.g.progress
	useBar := mode == "always" || (mode == "auto" && isTerminal(a.stderr))
	if mode == "never" {
		return opts, func() {}
	}
	if useBar {
		bars := newLiveBars(a.stderr)
		prevOut := a.log.Out
		a.log.SetOutput(bars)
		opts.Progress = pipelineBars{bars}.Update
		return opts, func() { bars.Done(); a.log.SetOutput(prevOut) }
	}
	pl := &progressLogger{a: a}
	opts.Progress = pl.Update
	return opts, func() {}
}

// printRunSummary prints what a CI log reader wants first.
func printRunSummary(w io.Writer, rec *store.RunRecord, store string) {
	c := rec.Artifacts
	fmt.Fprintf(w, "triaged %d new inputs of %d found (%d already recorded, %d failed) in %.1fs with -j %d\n",
		c.Triaged, c.Found, c.Skipped, c.Failed, float64(rec.WallMS)/1000, rec.Jobs)
	if c.Ignored > 0 {
		// Counted by reason: a directory of stray files is one line each.
		why := map[string]int{}
		var reasons []string
		for _, f := range rec.Ignored {
			if why[f.Reason] == 0 {
				reasons = append(reasons, f.Reason)
			}
			why[f.Reason]++
		}
		fmt.Fprintf(w, "ignored %d files of the artifact directories (named in the run record):\n", c.Ignored)
		for _, r := range reasons {
			fmt.Fprintf(w, "  %d: %s\n", why[r], r)
		}
	}
	section := func(title string, n int) {
		fmt.Fprintf(w, "\n%s: %d\n", title, n)
	}
	section("new buckets", len(rec.NewBuckets))
	for _, b := range rec.NewBuckets {
		fmt.Fprintf(w, "  %s  %s  (%d inputs)\n", b.ID, inert.Line(b.Title), b.Members)
	}
	section("known buckets with new inputs", len(rec.GrownBuckets))
	for _, b := range rec.GrownBuckets {
		fmt.Fprintf(w, "  %s  %s  (+%d, %d inputs)\n", b.ID, inert.Line(b.Title), b.NewMembers, b.Members)
	}
	section("buckets not seen in this run", len(rec.UnseenBuckets))
	for _, id := range rec.UnseenBuckets {
		fmt.Fprintf(w, "  %s\n", id)
	}
	section("not reproducible", len(rec.NotReproducible))
	for _, p := range rec.NotReproducible {
		fmt.Fprintf(w, "  %s\n", inert.Line(p))
	}
	if len(rec.Flaky) > 0 {
		section("flaky (crashed in fewer than half the tries)", len(rec.Flaky))
		for _, p := range rec.Flaky {
			fmt.Fprintf(w, "  %s\n", inert.Line(p))
		}
	}
	section("failures", len(rec.Failures))
	for _, f := range rec.Failures {
		where := f.Target
		if f.Artifact != "" {
			where = f.Artifact
		}
		if where != "" {
			where += ": "
		}
		fmt.Fprintf(w, "  [%s] %s%s\n", f.Stage, inert.Line(where), inert.Line(firstLineOf(f.Error)))
	}
	wk := rec.Work
	fmt.Fprintf(w, "\nwork: %d reproductions (%d runs), %d builds, %d buckets worked on: %d minimizations (%d libFuzzer runs), %d dev reproductions, %d lldb sessions\n",
		wk.Reproductions, wk.ReproductionRuns, wk.Builds, wk.BucketsWorkedOn, wk.Minimizations, wk.MinimizeInvocations, wk.DevReproductions, wk.LLDBSessions)
	fmt.Fprintf(w, "store: %s\n", store)
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}
