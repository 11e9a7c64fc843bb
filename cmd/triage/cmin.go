package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/cmin"
	"github.com/fuzztriage/triage/internal/inert"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

// cminResult is one target's line of `triage cmin --format json`.
type cminResult struct {
	Target string       `json:"target" yaml:"target"`
	Result *cmin.Result `json:"result,omitempty" yaml:"result,omitempty"`
	Error  string       `json:"error,omitempty" yaml:"error,omitempty"`
}

func init() {
	register(&command{
		name:     "cmin",
		summary:  "minimize fuzz corpora, swapping a corpus only once the result keeps its coverage",
		usage:    "[WORKSPACE] [TARGET...]",
		group:    "fuzzing",
		complete: completeWorkspaceArg,
		help: `
Minimizes each chosen target's corpus (default: all targets with a corpus)
with libFuzzer's merge: -set_cover_merge=1 where the linked libFuzzer has it
(fewer files for the same features), else -merge=1, into a new directory
beside the corpus. The result is verified before anything moves: the old and
the new corpus are each measured the same way (features and coverage edges
of a -merge=1 into an empty directory) and the new one must keep both. Then
the directories are swapped (two renames) and the old corpus is kept in the
store (<store>/cmin/<target>/previous/, replacing the one kept before).
Inputs that crash the fuzzer during the merge are written to
<store>/cmin/<target>/crashes/.

Interrupted, it resumes: the merge continues from its control file
(<store>/cmin/<target>/merge-control.txt), a swap cut short is finished (or
undone, if the new corpus was not verified), and a corpus is never left half
merged.

Exit codes:
  0  every corpus minimized (or empty)
  2  usage error
  3  a corpus could not be minimized (left as it was)

Examples:
  triage cmin ~/openvmm
  triage cmin . fuzz_ide
  triage cmin --no-build --format json .
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			pf := addPipelineFlags(fs, false)
			format := addFormat(fs, "text", "text", "yaml", "json")
			return func(ctx context.Context, a *app, args []string) error {
				if err := format.check(); err != nil {
					return err
				}
				ws, cfg, targets, err := pf.loadWithTargets(a, args)
				if err != nil {
					return err
				}
				st, err := store.Open(cfg.StoreDir(ws.Root))
				if err != nil {
					return exitError{exitFailures, err}
				}
				defer st.Close()
				var out []cminResult
				failed := false
				for _, t := range ws.Targets {
					if len(targets) > 0 && !slices.Contains(targets, t.Name) {
						continue
					}
					if n, _ := t.CorpusSize(); len(targets) == 0 && n == 0 {
						continue
					}
					r := cminResult{Target: t.Name}
					bin, err := triage.EnsureBinary(ctx, ws, t.Name, store.Release, cfg)
					if err == nil {
						r.Result, err = triage.MinimizeCorpus(ctx, st, t, bin, cfg)
					}
					if err != nil {
						r.Error, failed = err.Error(), true
						a.log.WithField("target", t.Name).WithError(err).Error("cmin failed")
					} else {
						a.log.WithFields(map[string]any{"target": t.Name, "before": r.Result.Before, "after": r.Result.After,
							"features": r.Result.FeaturesAfter, "edges": r.Result.EdgesAfter}).Info("corpus minimized")
					}
					out = append(out, r)
				}
				if !format.text() {
					if err := writeStructured(a.stdout, format.value, out); err != nil {
						return err
					}
				} else {
					for _, r := range out {
						if r.Error != "" {
							fmt.Fprintf(a.stdout, "%s: not minimized: %s\n", inert.Line(r.Target), inert.Line(r.Error))
							continue
						}
						x := r.Result
						fmt.Fprintf(a.stdout, "%s: %d -> %d inputs (%s), features %d -> %d, edges %d -> %d; old corpus kept in %s\n",
							inert.Line(r.Target), x.Before, x.After, x.Method, x.FeaturesBefore, x.FeaturesAfter, x.EdgesBefore, x.EdgesAfter, st.Rel(x.Previous))
						if x.Resumed != "" {
							fmt.Fprintf(a.stdout, "  resumed: %s\n", x.Resumed)
						}
						if x.Crashes > 0 {
							fmt.Fprintf(a.stdout, "  %d inputs crashed during the merge (kept in %s)\n", x.Crashes, st.Rel(st.Path("cmin/"+r.Target+"/crashes")))
						}
					}
				}
				if failed {
					return exitError{code: exitFailures}
				}
				return nil
			}
		},
	})
}
