package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/internal/inert"
	"github.com/fuzztriage/triage/triage"
)

func init() {
	register(&command{
		name:    "init",
		summary: "detect a workspace's fuzzing layout and write a commented triage.yaml for it",
		usage:   "[WORKSPACE]",
		group:   "workspace",
		help: `
Looks at WORKSPACE (default: --workspace, else the current directory):
where its fuzz targets are, and which layout builds them: a cargo-fuzz
crate of its own (what ` + "`cargo fuzz init`" + ` makes), fuzz crates that are members
of the repository's cargo workspace, OpenVMM's xtask (` + "`cargo xtask fuzz build`" + `),
or a custom fuzz-build script. It explains what it saw, then writes
triage.yaml at the root with the build commands written out and the
settings people change most as comments; docs/config.md has worked
examples for every layout, a Makefile or CI script included.

An existing triage.yaml is kept unless --force; --print writes the file
to stdout instead.

Exit codes: 0 written (or printed); 1 a triage.yaml exists and --force was
not given; 2 usage errors (no fuzz targets under WORKSPACE); 3 it could not
be written.

Examples:
  triage init --print testdata/fuzzws
  triage init ~/src/openvmm
  triage init --force .
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			force := fs.Bool("force", false, "replace an existing triage.yaml")
			print := fs.Bool("print", false, "print the triage.yaml to stdout instead of writing it")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) > 1 {
					return usagef("at most one WORKSPACE argument, got %d", len(args))
				}
				root, err := a.workspaceRoot(args)
				if err != nil {
					return err
				}
				l, err := triage.DetectLayout(root)
				if err != nil {
					return usagef("%v", err)
				}
				if *print {
					fmt.Fprint(a.stdout, l.ConfigText())
					return nil
				}
				fmt.Fprintf(a.stdout, "%s: %s\n", inert.Line(l.Root), l.Kind)
				for _, why := range l.Why {
					fmt.Fprintf(a.stdout, "  %s\n", inert.Line(why))
				}
				for _, m := range l.Missing {
					fmt.Fprintf(a.stdout, "  missing: %s; or write your own build commands (docs/config.md)\n", m)
				}
				path, err := triage.WriteInitConfig(l, *force)
				if errors.Is(err, triage.ErrConfigExists) {
					return exitError{exitFindings, err}
				}
				if err != nil {
					return exitError{exitFailures, err}
				}
				fmt.Fprintf(a.stdout, "wrote %s (preset %s)\n", inert.Line(path), l.Preset)
				return nil
			}
		},
	})
}
