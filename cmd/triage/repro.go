package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

func init() {
	register(&command{
		name:     "repro",
		summary:  "reproduce one input: does it still crash, and as which bucket?",
		usage:    "TARGET ARTIFACT",
		group:    "input",
		complete: completeTargetArtifact,
		help: `
Runs ARTIFACT on TARGET's release build (building it first unless
--no-build) up to --tries times with the flags its kind needs, classifies it
(reproducible, flaky, not reproducible), parses and buckets the crash and
looks the bucket up in the store (read only). --dev also runs it on the dev
build; --bucket ID checks it lands in a given bucket (to confirm a fix, or
that a bug is still the same bug). The workspace is the current directory
unless --workspace says otherwise.

Exit codes:
  0  it crashes (reproducible or flaky), and in bucket ID when --bucket is given
  1  it does not crash, or lands in another bucket than --bucket
  2  usage error
  3  it could not be run (build failed, binary missing, unreadable input)

Examples:
  triage repro fuzz_ide vm/devices/storage/ide/fuzz/artifacts/fuzz_ide/crash-3f2a...
  triage repro --dev --format yaml fuzz_wire_decode ./crash-abc
  triage repro --no-build --bucket v1-6c1d0e4b2a7f9e33 fuzz_ide crash-3f2a... && echo still there
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			pf := addPipelineFlags(fs, false)
			dev := fs.Bool("dev", false, "also run it on the --dev build")
			bucket := fs.String("bucket", "", "exit 1 unless it lands in this bucket")
			format := addFormat(fs, "text", "text", "yaml", "json")
			return func(ctx context.Context, a *app, args []string) error {
				if err := format.check(); err != nil {
					return err
				}
				ws, cfg, target, input, err := pf.loadInput(a, args)
				if err != nil {
					return err
				}
				profiles := []store.Profile{store.Release}
				if *dev {
					profiles = append(profiles, store.Dev)
				}
				rep, err := triage.ReproduceInput(ctx, ws, cfg, triage.DefaultStages(), target, input, profiles)
				if err != nil {
					return exitError{exitFailures, err}
				}
				if !format.text() {
					if err := writeStructured(a.stdout, format.value, rep); err != nil {
						return err
					}
				} else {
					printInputReport(a.stdout, rep)
				}
				r := rep.Reproductions[store.Release]
				if r.Status == store.NotReproducible {
					return exitError{code: exitFindings}
				}
				if *bucket != "" && (rep.Bucket == nil || rep.Bucket.ID != *bucket) {
					if format.text() {
						fmt.Fprintf(a.stdout, "not in bucket %s\n", *bucket)
					}
					return exitError{code: exitFindings}
				}
				return nil
			}
		},
	})
}

// loadInput takes the TARGET ARTIFACT arguments of a one-input command
// with its workspace and configuration; the target must exist and the
// input must be a regular file.
func (pf *pipelineFlags) loadInput(a *app, args []string) (ws *triage.Workspace, cfg *triage.Config, target, input string, err error) {
	if target, input, err = targetAndInput(args); err != nil {
		return nil, nil, "", "", err
	}
	if ws, cfg, err = pf.load(a, nil); err != nil {
		return nil, nil, "", "", err
	}
	if ws.Target(target) == nil {
		return nil, nil, "", "", usagef("no fuzz target %q in %s", target, ws.Root)
	}
	return ws, cfg, target, input, nil
}

// targetAndInput takes the TARGET ARTIFACT arguments; the input must be a
// readable file.
func targetAndInput(args []string) (string, string, error) {
	if len(args) != 2 {
		return "", "", usagef("want TARGET and ARTIFACT, got %d arguments", len(args))
	}
	st, err := os.Stat(args[1])
	if errors.Is(err, os.ErrNotExist) {
		return "", "", usagef("input %s does not exist", args[1])
	}
	if err != nil {
		return "", "", err
	}
	if !st.Mode().IsRegular() {
		return "", "", usagef("input %s is not a regular file", args[1])
	}
	return args[0], args[1], nil
}

func printInputReport(w io.Writer, rep *triage.InputReport) {
	fmt.Fprintf(w, "%s %s (%d bytes, sha1 %s)\n", rep.Target, rep.Input, rep.Size, rep.SHA1)
	for _, p := range store.Profiles {
		r := rep.Reproductions[p]
		if r == nil {
			continue
		}
		fmt.Fprintf(w, "  %-7s %s: crashed the same way in %d of %d tries (%s, exit %d)", p, r.Status, r.Crashes, r.Tries, r.Outcome, r.ExitCode)
		if r.BucketID != "" {
			fmt.Fprintf(w, ", bucket %s", r.BucketID)
		}
		fmt.Fprintln(w)
		for _, t := range r.Detail {
			if t.Crash != "" {
				fmt.Fprintf(w, "          another crash in one try: %s\n", t.Crash)
			}
		}
	}
	if c := rep.Crash; c != nil {
		loc := ""
		if c.Location != nil {
			loc = fmt.Sprintf(" at %s:%d", c.Location.File, c.Location.Line)
		}
		fmt.Fprintf(w, "  crash   %s%s", c.Kind, loc)
		if c.Message != "" {
			fmt.Fprintf(w, ": %s", firstLineOf(c.Message))
		}
		fmt.Fprintln(w)
	}
	if rep.Bucket != nil {
		fmt.Fprintf(w, "  bucket  %s\n  key     %s\n", rep.Bucket.ID, rep.Bucket.Key)
		if k := rep.Known; k != nil {
			fmt.Fprintf(w, "  known   yes: %d inputs, first seen %s, last seen %s\n", k.MemberCount,
				k.FirstSeen.Format("2006-01-02 15:04"), k.LastSeen.Format("2006-01-02 15:04"))
		} else {
			fmt.Fprintf(w, "  known   no: the store has no such bucket\n")
		}
	}
	if m := rep.Minimized; m != nil {
		fmt.Fprintf(w, "  minimized %d -> %d bytes: %s\n", m.FromSize, m.Size, m.Path)
		fmt.Fprintf(w, "          %d libFuzzer runs, %d candidates kept, %d rejected as other bugs", m.Rounds, m.Accepted, m.Rejected)
		if len(m.RejectedBuckets) > 0 {
			fmt.Fprintf(w, " %v", m.RejectedBuckets)
		}
		fmt.Fprintln(w)
	}
}
