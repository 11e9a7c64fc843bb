package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/report"
	"github.com/fuzztriage/triage/triage"
)

// diffLists are the lists --fail-on can name.
var diffLists = []string{"new", "grown", "not-seen", "fixed", "changed", "regressed"}

func init() {
	register(&command{
		name:    "diff",
		summary: "what changed across nights: new, grown, not seen, fixed, changed and regressed buckets",
		usage:   "",
		group:   "store",
		help: `
Compares the store with a baseline and says which buckets are NEW (not there
at the baseline), GROWN (more members), NOT SEEN (no new member), FIXED,
CHANGED or REGRESSED. The baseline is the last recorded diff (the first diff
sees every bucket as new), or with --since RUN the store as it was when that
run finished (RUN: a run record's name from <store>/runs/, a unique prefix,
or "latest").

Fixed, changed and regressed come from re-running: every bucket's
representative and minimized input run on the current release build (built
first unless --no-build; one build per target). When neither crashes any
more the bucket is FIXED; when they crash but in another bucket it is
CHANGED (the other buckets are named). A bucket that was fixed or changed
and comes back, because its inputs crash in it again or a new member
arrived, is a REGRESSION. A bucket whose member was triaged on this very
binary and crashed in it is known to be open without re-running anything.
--no-verify skips the re-runs (membership lists only).

The result is recorded unless --dry-run: <store>/report/diffs/<time>.yaml
and each bucket's status and history in <store>/report/state.yaml (both
with schema_version; written atomically under the store's lock, waiting up
to --lock-wait for a running triage run). Nothing is ever dropped from the
state, so a bucket's history survives any number of nights.

Exit codes (for CI):
  0  nothing in the --fail-on lists (default: no new and no regressed buckets)
  1  a --fail-on list is not empty (default: new buckets or regressions)
  2  usage error
  3  failures: a bucket could not be verified (build failed, binary
     missing, inputs gone), the store is locked, or a record is unreadable

Examples:
  triage run testdata/fuzzws; triage diff --workspace testdata/fuzzws
  triage diff --since latest --no-verify --format json | jq '.new[].id'
  triage diff --fail-on new,regressed,grown --no-build -j 4
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			since := fs.String("since", "", "compare with the store as of this `RUN` (default: the last recorded diff)")
			noVerify := fs.Bool("no-verify", false, "do not re-run the buckets' inputs (no fixed/changed/regressed by re-run)")
			noBuild := fs.Bool("no-build", false, "do not build: re-run on the binaries already built")
			tries := fs.Int("tries", 0, "runs per input when re-running (default: triage.yaml's, else 3)")
			jobs := fs.IntP("jobs", "j", 0, "buckets re-run at once (default: triage.yaml's jobs, else all cores)")
			dryRun := fs.Bool("dry-run", false, "print the diff without recording it")
			format := addFormat(fs, "text", "text", "yaml", "json")
			failOn := fs.String("fail-on", "new,regressed", "exit 1 when any of these `LISTS` is not empty: "+strings.Join(diffLists, ",")+" (or none)")
			lockWait := fs.Duration("lock-wait", time.Minute, "how long to wait for a running triage run's store lock")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) > 0 {
					return usagef("diff takes no arguments (use --workspace DIR)")
				}
				if err := format.check(); err != nil {
					return err
				}
				fail, err := parseFailOn(*failOn)
				if err != nil {
					return err
				}
				if *tries < 0 || *jobs < 0 {
					return usagef("--tries and -j must be positive")
				}
				root, cfg, err := a.storeConfig()
				if err != nil {
					return err
				}
				if *noBuild {
					cfg.Build.Mode = triage.BuildNever
				}
				if *tries > 0 {
					cfg.Reproduce.Tries = *tries
				}
				if *jobs > 0 {
					cfg.Jobs = *jobs
				}
				opts := report.DiffOptions{Since: *since, DryRun: *dryRun, LockWait: *lockWait, Log: a.log}
				if !*noVerify {
					opts.Verify = func(ctx context.Context, snap *report.Snapshot) (map[string]*triage.Verification, []string) {
						return triage.VerifyBuckets(ctx, snap.Workspace, cfg, triage.DefaultStages(), snap.StoreDir, snap.Buckets, snap.Artifacts, a.log, time.Now)
					}
				}
				d, err := report.RunDiff(ctx, root, cfg.StoreDir(root), opts)
				if err != nil {
					if errors.Is(err, report.ErrNoStore) {
						return usagef("%v", err)
					}
					if errors.Is(err, report.ErrUnknownRun) {
						return usagef("--since: %v", err)
					}
					return exitError{exitFailures, err}
				}
				if !format.text() {
					if err := writeStructured(a.stdout, format.value, d); err != nil {
						return err
					}
				} else {
					printDiff(a.stdout, d)
				}
				if len(d.Failures) > 0 {
					return exitError{code: exitFailures}
				}
				for _, l := range fail {
					if len(diffList(d, l)) > 0 {
						return exitError{code: exitFindings}
					}
				}
				return nil
			}
		},
	})
}

func parseFailOn(s string) ([]string, error) {
	if s == "none" || s == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		ok := false
		for _, l := range diffLists {
			ok = ok || p == l
		}
		if !ok {
			return nil, usagef("--fail-on: unknown list %q (known: %s, none)", p, strings.Join(diffLists, ", "))
		}
		out = append(out, p)
	}
	return out, nil
}

func diffList(d *report.Diff, name string) []report.Change {
	switch name {
	case "new":
		return d.New
	case "grown":
		return d.Grown
	case "not-seen":
		return d.NotSeen
	case "fixed":
		return d.Fixed
	case "changed":
		return d.Changed
	case "regressed":
		return d.Regressed
	}
	return nil
}

func printDiff(w io.Writer, d *report.Diff) {
	switch d.Since.Kind {
	case "run":
		fmt.Fprintf(w, "since run %s", d.Since.Run)
	case "diff":
		fmt.Fprintf(w, "since the last diff (%s)", d.Since.At.UTC().Format(time.RFC3339))
	default:
		fmt.Fprint(w, "since the start (first diff)")
	}
	fmt.Fprintf(w, ": %d runs", len(d.Runs))
	if d.Latest != "" {
		fmt.Fprintf(w, ", latest %s", d.Latest)
	}
	if !d.Verified {
		fmt.Fprint(w, " (inputs not re-run: --no-verify)")
	}
	fmt.Fprintln(w)
	section := func(name string, list []report.Change, detail func(report.Change) string) {
		fmt.Fprintf(w, "\n%s: %d\n", name, len(list))
		for _, c := range list {
			fmt.Fprintf(w, "  %s  %s  (%d members", c.ID, c.Title, c.Members)
			if c.NewMembers > 0 {
				fmt.Fprintf(w, ", +%d", c.NewMembers)
			}
			fmt.Fprint(w, ")")
			if s := detail(c); s != "" {
				fmt.Fprintf(w, "\n      %s", s)
			}
			fmt.Fprintln(w)
		}
	}
	none := func(report.Change) string { return "" }
	det := func(c report.Change) string { return c.Detail }
	section("NEW", d.New, none)
	section("GROWN", d.Grown, none)
	section("REGRESSED", d.Regressed, det)
	section("FIXED", d.Fixed, det)
	section("CHANGED", d.Changed, func(c report.Change) string {
		return "now crashes in " + strings.Join(c.ChangedTo, ", ")
	})
	section("NOT SEEN", d.NotSeen, none)
	if len(d.StillFixed) > 0 {
		section("STILL FIXED", d.StillFixed, det)
	}
	if len(d.Failures) > 0 {
		fmt.Fprintf(w, "\nNOT VERIFIED: %d\n", len(d.Failures))
		for _, f := range d.Failures {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}
	if d.Record != "" {
		fmt.Fprintf(w, "\nrecorded: %s\n", d.Record)
	}
}
