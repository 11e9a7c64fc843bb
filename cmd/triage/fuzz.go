package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/campaign"
	"github.com/fuzztriage/triage/internal/inert"
	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

func init() {
	register(&command{
		name:     "fuzz",
		summary:  "run a fuzzing campaign over the workspace's targets, triaging what it finds",
		usage:    "[WORKSPACE] [TARGET...]",
		group:    "fuzzing",
		complete: completeWorkspaceArg,
		help: `
One command for the fuzzing guide's multi-target campaign. Every chosen
target (default: all) runs its release binary (built first, as for triage
run) in libFuzzer fork mode for --duration with the guide's flags
(-ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -print_final_stats=1),
its options from [package.metadata.xtask.fuzz.target-options], a
dictionary <fuzz dir>/<target>.dict if there is one, triage.yaml's
campaign.flags, its corpus <fuzz dir>/corpus/<target>/ and its artifacts in
<fuzz dir>/artifacts/<target>/.

Cores are split by weight: campaign.targets.<name>.weight in triage.yaml (a
number, or heavy = 20, medium = 15, light = 8), else the target's
instrumented edges as libFuzzer reports them at start-up; every target gets
at least one core. --dry-run prints the split, where each weight came from
and the commands, and runs nothing.

A fuzzer that ends early (a crash it was not told to ignore, an OOM of the
parent, a kill) is restarted for the time left, with a growing back-off;
the reason is recorded; five fast failures in a row stop that target only.
SIGINT/SIGTERM stop every fuzzer and still write the record.

With --triage during (the default) new artifacts are triaged while the
campaign runs, on campaign.triage_cores cores (default 1) that the fuzzers
do not get; after: once the fuzzers are done; off: not at all. Then each
corpus is minimized (--cmin, default on; see triage cmin) and the record is
written to <store>/campaigns/<start>.yaml, with each target's output under
<store>/campaigns/<start>/<target>.log (capped by campaign.log_cap; the
older part rotates into .log.1).

The live view shows one line per target: executions, exec/s, coverage,
features, corpus, libFuzzer's crash/timeout/oom counts, restarts and time
left (bars on a terminal, a log line per target every 30 s otherwise). The
summary ends with the new and known buckets and the health checks: slow
targets, coverage that stopped growing, high timeout or crash rates and
shallow coverage, each with the guide's advice.

With --queue the fuzzers run on workers ('triage worker' processes that
join the queue, each with a checkout whose release binary has the same
SHA1): each target is one fuzz job carrying its cores, duration, starting
corpus and flags (numeric search flags only, such as -max_len or -timeout:
any other flag but the dictionary stops the campaign before it starts; each
worker uses its own checkout's dictionary). What the
workers find comes back into the corpus and artifact directories, each file
named by its SHA1. A coordinator killed mid-campaign and started again with
the same arguments resumes it. Triage runs here, after the fuzzers.

Exit codes:
  0  the campaign ran its course; no new buckets
  1  new buckets were found (listed)
  2  usage error
  3  a target failed, triage or cmin failed, or the campaign was interrupted

Examples:
  triage fuzz --duration 6h ~/openvmm
  triage fuzz --dry-run --cores 112 ~/openvmm
  triage fuzz --duration 10m --triage after . fuzz_ide fuzz_chipset_cmos_rtc
  triage fuzz --duration 1h --format json --log-format json . >campaign.json
  triage fuzz --duration 6h --triage after --queue embedded --queue-listen 127.0.0.1:4222 .  # workers join
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			pf := addPipelineFlags(fs, true)
			duration := fs.Duration("duration", 0, "how long the campaign runs (default: triage.yaml's campaign.duration, else 1h)")
			cores := fs.Int("cores", 0, "cores for the campaign, fuzzers and triage together (default: all)")
			triageMode := fs.String("triage", triage.TriageDuring, "when the campaign's artifacts are triaged: during, after or off")
			_ = fs.SetAnnotation("triage", valuesAnnotation, []string{triage.TriageDuring, triage.TriageAfter, triage.TriageOff})
			cminFlag := fs.Bool("cmin", true, "minimize each corpus at the end (default: triage.yaml's campaign.cmin, else on)")
			dryRun := fs.Bool("dry-run", false, "print the core split and the commands; run nothing")
			format := addFormat(fs, "text", "text", "yaml", "json")
			qf := addQueueFlags(fs, roleRun)
			return func(ctx context.Context, a *app, args []string) error {
				if err := format.check(); err != nil {
					return err
				}
				switch *triageMode {
				case triage.TriageDuring, triage.TriageAfter, triage.TriageOff:
				default:
					return usagef("--triage must be during, after or off, not %q", *triageMode)
				}
				if *cores < 0 || *duration < 0 {
					return usagef("--cores and --duration must be positive")
				}
				ws, cfg, targets, err := pf.loadWithTargets(a, args)
				if err != nil {
					return err
				}
				opts := triage.FuzzOptions{Options: triage.Options{Config: cfg, Stages: triage.DefaultStages(), Targets: targets, Log: a.log},
					Duration: *duration, Cores: *cores, Triage: *triageMode, Cmin: *cfg.Campaign.Cmin}
				if opts.Duration == 0 {
					opts.Duration = cfg.Campaign.Duration.D()
				}
				if fs.Changed("cmin") {
					opts.Cmin = *cminFlag
				}
				plan, err := triage.PlanCampaign(ctx, ws, opts)
				if err != nil {
					return exitError{exitFailures, err}
				}
				if *dryRun {
					printPlan(a.stdout, plan, ws.Root)
					return nil
				}
				if qf.enabled() {
					if *triageMode == triage.TriageDuring {
						return usagef("--queue runs the fuzzers on workers: triage with --triage after (or off)")
					}
					coord, stop, err := qf.coordinate(ctx, a, ws, cfg, &opts.Options)
					if err != nil {
						return err
					}
					defer stop()
					opts.RemoteFuzz = coord
				}
				view, finish := campaignView(a, plan)
				opts.Report = view
				rec, err := triage.Fuzz(ctx, ws, plan, opts)
				finish()
				if err != nil && rec == nil {
					return exitError{exitFailures, err}
				}
				if err != nil {
					rec.Failures = append(rec.Failures, store.Failure{Stage: "store", Error: err.Error()})
				}
				if !format.text() {
					if err := writeStructured(a.stdout, format.value, rec); err != nil {
						return err
					}
				} else {
					printCampaign(a.stdout, rec)
				}
				switch {
				case len(rec.Failures) > 0 || rec.Stopped != "":
					return exitError{code: exitFailures}
				case len(rec.NewBuckets) > 0:
					return exitError{code: exitFindings}
				}
				return nil
			}
		},
	})
}

// loadWithTargets is load for the [WORKSPACE] [TARGET...] commands: the
// targets are the positional ones and --target's.
func (pf *pipelineFlags) loadWithTargets(a *app, args []string) (*triage.Workspace, *triage.Config, []string, error) {
	wsArgs, targets := splitWorkspaceTargets(args)
	pf.targets = append(pf.targets, targets...)
	ws, cfg, err := pf.load(a, wsArgs)
	return ws, cfg, pf.targets, err
}

// splitWorkspaceTargets reads [WORKSPACE] [TARGET...]: the first argument
// is the workspace when it is a directory.
func splitWorkspaceTargets(args []string) (ws, targets []string) {
	if len(args) > 0 {
		if fi, err := os.Stat(args[0]); err == nil && fi.IsDir() {
			return args[:1], args[1:]
		}
	}
	return nil, args
}

// printPlan is --dry-run's output.
func printPlan(w io.Writer, plan *triage.CampaignPlan, root string) {
	fmt.Fprintf(w, "campaign of %s on %d cores: %d for the fuzzers, %d for triage (%s)\n\n", plan.Duration, plan.Cores, plan.FuzzCores, plan.TriageCores, plan.Triage)
	if plan.FuzzCores < len(plan.Targets) {
		fmt.Fprintf(w, "fewer cores than targets: each target gets one and they share the cores\n\n")
	}
	for _, pt := range plan.Targets {
		unit := "cores"
		if pt.Cores == 1 {
			unit = "core"
		}
		fmt.Fprintf(w, "%s: %d %s (weight %g, %s)\n", inert.Line(pt.Target.Name), pt.Cores, unit, pt.Weight, inert.Line(pt.WeightFrom))
		argv := pt.Job.Command(plan.Duration)
		q := make([]string, len(argv))
		for i, s := range argv {
			q[i] = lldbscript.ShellQuote(s)
		}
		fmt.Fprintf(w, "  (cd %s && %s)\n", lldbscript.ShellQuote(pt.Job.Dir), strings.Join(q, " "))
	}
}

// printCampaign is the text summary.
func printCampaign(w io.Writer, rec *store.CampaignRecord) {
	fmt.Fprintf(w, "campaign of %s on %d cores (%d fuzzing, %d triaging) ran %.1fs", rec.Duration, rec.Cores, rec.FuzzCores, rec.TriageCores, float64(rec.WallMS)/1000)
	if rec.Stopped != "" {
		fmt.Fprintf(w, "; %s", rec.Stopped)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "\n%-24s %5s %12s %10s %11s %11s %13s %9s %s\n", "target", "cores", "execs", "exec/s", "cov", "ft", "corpus", "restarts", "artifacts")
	for _, t := range rec.Targets {
		corpus := fmt.Sprintf("%d->%d", t.CorpusBefore, t.CorpusAfter)
		if t.CorpusAfterCmin > 0 {
			corpus += fmt.Sprintf("->%d", t.CorpusAfterCmin)
		}
		var arts []string
		for _, k := range store.ArtifactKinds {
			if n := t.Artifacts[k]; n > 0 {
				arts = append(arts, fmt.Sprintf("%s %d", k, n))
			}
		}
		fmt.Fprintf(w, "%-24s %5d %12d %10.0f %11s %11s %13s %9d %s\n", inert.Line(t.Name), t.Cores, t.Execs, t.ExecsPerSec,
			fmt.Sprintf("%d->%d", t.CovStart, t.CovEnd), fmt.Sprintf("%d->%d", t.FeaturesStart, t.FeaturesEnd), corpus, len(t.Restarts), strings.Join(arts, ", "))
		if t.Error != "" {
			fmt.Fprintf(w, "  stopped: %s\n", inert.Line(t.Error))
		}
	}
	fmt.Fprintf(w, "\nnew buckets: %d\n", len(rec.NewBuckets))
	for _, b := range rec.NewBuckets {
		fmt.Fprintf(w, "  %s  %s  (%d inputs)\n", b.ID, inert.Line(b.Title), b.Members)
	}
	fmt.Fprintf(w, "\nknown buckets with new inputs: %d\n", len(rec.KnownBuckets))
	for _, b := range rec.KnownBuckets {
		fmt.Fprintf(w, "  %s  %s  (+%d, %d inputs)\n", b.ID, inert.Line(b.Title), b.NewMembers, b.Members)
	}
	if len(rec.Health) > 0 {
		fmt.Fprintf(w, "\nhealth:\n")
		for _, h := range rec.Health {
			fmt.Fprintf(w, "  %s %s: %s\n    %s\n", inert.Line(h.Target), h.Check, inert.Line(h.Detail), h.Advice)
		}
	}
	if len(rec.Failures) > 0 {
		fmt.Fprintf(w, "\nfailures: %d\n", len(rec.Failures))
		for _, f := range rec.Failures {
			fmt.Fprintf(w, "  %s %s: %s\n", inert.Line(f.Target), f.Stage, inert.Line(f.Error))
		}
	}
}

// campaignView is the live view: a bar per target on a terminal, a log
// line per target every logEvery otherwise.
func campaignView(a *app, plan *triage.CampaignPlan) (func(campaign.Progress), func()) {
	label := func(p campaign.Progress) string {
		s := fmt.Sprintf("%s exec/s cov %d ft %d corp %d crash/timeout/oom %d/%d/%d", humanCount(p.ExecsSec), p.Cov, p.Features, p.Corpus,
			p.Reported.Crashes, p.Reported.Timeouts, p.Reported.OOMs)
		if p.Restarts > 0 {
			s += fmt.Sprintf(" restarts %d", p.Restarts)
		}
		if p.Error != "" {
			s += " stopped: " + p.Error
		}
		return s
	}
	total := int(plan.Duration.Seconds())
	mode := a.g.progress
	if mode == "never" {
		return nil, func() {}
	}
	if mode == "always" || (mode == "auto" && isTerminal(a.stderr)) {
		bars := newLiveBars(a.stderr)
		prevOut := a.log.Out
		a.log.SetOutput(bars)
		return func(p campaign.Progress) {
				done := total - int(p.Left.Seconds())
				if p.Ended {
					done = total
				}
				bars.Set(p.Target, done, total, label(p))
			}, func() {
				bars.Done()
				a.log.SetOutput(prevOut)
			}
	}
	logEvery := min(30*time.Second, max(plan.Duration/4, time.Second))
	var mu sync.Mutex
	last := map[string]time.Time{}
	return func(p campaign.Progress) {
		mu.Lock()
		if !p.Ended && time.Since(last[p.Target]) < logEvery {
			mu.Unlock()
			return
		}
		last[p.Target] = time.Now()
		mu.Unlock()
		a.log.WithFields(map[string]any{"target": p.Target, "execs": p.Execs, "exec_per_sec": int64(p.ExecsSec), "cov": p.Cov, "ft": p.Features,
			"corpus": p.Corpus, "crashes": p.Reported.Crashes, "timeouts": p.Reported.Timeouts, "ooms": p.Reported.OOMs,
			"restarts": p.Restarts, "left": p.Left.String(), "ended": p.Ended}).Info("fuzzing")
	}, func() {}
}

func humanCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
