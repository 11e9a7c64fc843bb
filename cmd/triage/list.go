package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

func init() {
	register(&command{
		name:     "list",
		summary:  "list the fuzz targets of a workspace with their binaries, corpus and artifacts",
		usage:    "[WORKSPACE]",
		group:    "workspace",
		complete: completeWorkspaceArg,
		help: `
Finds fuzz targets the way cargo-fuzz and 'cargo xtask fuzz list' do: every
Cargo.toml with [package.metadata] cargo-fuzz = true under WORKSPACE (default:
the current directory), one target per [[bin]]. target/ and hidden directories
are skipped. Both layouts are understood: fuzz crates that are members of a
root workspace (binaries in <root>/target/) and standalone fuzz crates with
their own [workspace] (binaries in <fuzz>/target/).

For each target it prints the fuzz dir, the crate under test, the release and
dev binary paths and whether they are built, the corpus size and the crash
artifacts by kind (crash, timeout, oom, leak, slow-unit, minimized-from).

Exit codes: 0 targets found; 1 no fuzz targets, or a fuzz crate's manifest is
unreadable; 2 usage errors (bad flag, a WORKSPACE that does not exist).

Examples:
  triage list testdata/fuzzws
  triage list --format json . | jq '.[].name'
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			format := addFormat(fs, "text", "text", "yaml", "json")
			return func(ctx context.Context, a *app, args []string) error {
				if err := format.check(); err != nil {
					return err
				}
				root, err := a.workspaceRoot(args)
				if err != nil {
					return err
				}
				cfg, err := a.config(root)
				if err != nil {
					return err
				}
				ws, err := triage.Load(root, cfg)
				if err != nil {
					return err
				}
				for _, w := range ws.Warnings {
					a.log.Warnf("skipped unreadable manifest: %s", w)
				}
				summaries, err := triage.Summarize(ws)
				if err != nil {
					return err
				}
				if !format.text() {
					return writeStructured(a.stdout, format.value, summaries)
				}
				printTargets(a, ws.Root, summaries)
				return nil
			}
		},
	})
}

func printTargets(a *app, root string, summaries []triage.TargetSummary) {
	w := a.stdout
	fmt.Fprintf(w, "%d fuzz targets in %s\n", len(summaries), root)
	for _, s := range summaries {
		layout := "member of workspace " + relTo(root, s.WorkspaceRoot)
		if s.Standalone {
			layout = "standalone workspace"
		}
		if layout == "member of workspace ." {
			layout = "member of the root workspace"
		}
		crate := s.Crate
		if crate == "" {
			crate = "?"
		}
		fmt.Fprintf(w, "\n%s  (crate %s; %s; %s)\n", s.Name, crate, relTo(root, s.FuzzDir), layout)
		fmt.Fprintf(w, "  %-9s %s\n", "source", relTo(root, s.Source))
		for _, p := range store.Profiles {
			b := s.Binaries[p]
			state := "not built"
			if b.Built {
				state = "built"
			}
			fmt.Fprintf(w, "  %-9s %s [%s]\n", p, relTo(root, b.Path), state)
		}
		fmt.Fprintf(w, "  %-9s %d files\n", "corpus", s.Corpus)
		var parts []string
		for _, k := range store.ArtifactKinds {
			if n := s.Artifacts[k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", k, n))
			}
		}
		if len(parts) == 0 {
			parts = []string{"none"}
		}
		fmt.Fprintf(w, "  %-9s %s\n", "artifacts", strings.Join(parts, ", "))
		if len(s.Options) > 0 {
			fmt.Fprintf(w, "  %-9s %s\n", "options", strings.Join(s.Options, " "))
		}
	}
}
