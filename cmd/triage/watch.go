package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

func init() {
	register(&command{
		name:     "watch",
		summary:  "keep triaging: notice new artifacts and run the pipeline on them",
		usage:    "[WORKSPACE]",
		group:    "pipeline",
		complete: completeWorkspaceArg,
		help: `
A long-running service over WORKSPACE (default: the current directory). It
holds the store's lock, triages what is new at start, then watches every
target's artifact directory (inotify; polling every watch.poll where inotify
is unavailable or watch.force_poll is set) and runs the same pipeline as
'triage run' on what arrives, writing the same store. A bad artifact, a
failing build or a missing binary is recorded in that pass's run record and
the service goes on (untriaged inputs are retried with a growing delay).
SIGINT or SIGTERM stops it cleanly: the pass in flight is abandoned, every
record already written is complete, unfinished inputs stay new.
Use --log-format json for structured events.

Exit codes: 0 stopped by a signal; 2 usage error; 3 could not start (the
store is locked by another run, the store is not writable).

Examples:
  triage watch testdata/fuzzws
  triage watch --log-format json -j 4 ~/openvmm 2>>triage-watch.log
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			pf := addPipelineFlags(fs, true)
			return func(ctx context.Context, a *app, args []string) error {
				return watchService(ctx, a, args, pf, nil)
			}
		},
	})
}

// watchService runs the watching pipeline (watch, and serve with its queue).
func watchService(ctx context.Context, a *app, args []string, pf *pipelineFlags, qf *queueFlags) error {
	ws, cfg, err := pf.load(a, args)
	if err != nil {
		return err
	}
	if a.g.progress == "auto" {
		a.g.progress = "never" // a service logs
	}
	opts, finish := pf.options(a, cfg)
	defer finish()
	if qf != nil && qf.enabled() {
		_, stop, err := qf.coordinate(ctx, a, ws, cfg, &opts)
		if err != nil {
			return err
		}
		defer stop()
	}
	err = triage.Watch(ctx, ws.Root, triage.WatchOptions{
		Options: opts,
		OnPass: func(rec *store.RunRecord, err error) {
			if rec == nil {
				return
			}
			a.log.WithFields(map[string]any{
				"triaged": rec.Artifacts.Triaged, "failed": rec.Artifacts.Failed,
				"new_buckets": len(rec.NewBuckets), "grown_buckets": len(rec.GrownBuckets),
				"failures": len(rec.Failures), "wall_ms": rec.WallMS,
			}).Info("pass finished")
			for _, b := range rec.NewBuckets {
				a.log.WithFields(map[string]any{"bucket": b.ID, "members": b.Members}).Info("new bucket: " + b.Title)
			}
		},
	})
	if err != nil {
		return exitError{exitFailures, err}
	}
	return nil
}
