package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/triage"
)

func init() {
	register(&command{
		name:     "minimize",
		summary:  "minimize one input, keeping only candidates that are still the same bug",
		usage:    "TARGET ARTIFACT",
		group:    "input",
		complete: completeTargetArtifact,
		help: `
Reproduces ARTIFACT on TARGET's release build to learn its bucket, then
shrinks it with libFuzzer's -minimize_crash. Without a sanitizer libFuzzer
takes any crash as progress and often drifts to another bug, so every
candidate is re-run and kept only if it lands in the same bucket (when a
whole -minimize_crash pass drifts, minimization goes on one libFuzzer step
at a time, each step verified). ARTIFACT is only read. The result goes to
-o, or to <store>/minimized/<sha1 of ARTIFACT>.

Exit codes:
  0  minimized (possibly to the same size: nothing smaller is the same bug)
  1  the input does not crash
  2  usage error
  3  it could not be run (build failed, binary missing, unreadable input)

Examples:
  triage minimize fuzz_ide vm/devices/storage/ide/fuzz/artifacts/fuzz_ide/crash-3f2a...
  triage minimize -o /tmp/small --timeout 2m fuzz_chipset_battery ./crash-41e9...
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			pf := addPipelineFlags(fs, false)
			out := fs.StringP("out", "o", "", "where to write the minimized input (default <store>/minimized/<sha1>)")
			runs := fs.Int("runs", 0, "libFuzzer -runs= per -minimize_crash invocation (default: triage.yaml's, else 1000)")
			timeout := fs.Duration("timeout", 0, "time limit (default: triage.yaml's minimize.timeout, else 60s)")
			format := addFormat(fs, "text", "text", "yaml", "json")
			return func(ctx context.Context, a *app, args []string) error {
				if err := format.check(); err != nil {
					return err
				}
				ws, cfg, target, input, err := pf.loadInput(a, args)
				if err != nil {
					return err
				}
				if *runs < 0 || *timeout < 0 {
					return usagef("--runs and --timeout must be positive")
				}
				if *runs > 0 {
					cfg.Minimize.Runs = *runs
				}
				if *timeout > 0 {
					cfg.Minimize.Timeout = triage.Duration(*timeout)
				}
				rep, err := triage.MinimizeInput(ctx, ws, cfg, triage.DefaultStages(), target, input, *out)
				if errors.Is(err, triage.ErrNoCrash) {
					if format.text() {
						printInputReport(a.stdout, rep)
					}
					return exitError{exitFindings, fmt.Errorf("%s: %w: nothing to minimize", input, err)}
				}
				if err != nil {
					return exitError{exitFailures, err}
				}
				if !format.text() {
					return writeStructured(a.stdout, format.value, rep)
				}
				printInputReport(a.stdout, rep)
				return nil
			}
		},
	})
}
