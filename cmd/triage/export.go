package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/internal/atomicfile"
	"github.com/fuzztriage/triage/report"
)

func init() {
	register(&command{
		name:    "export",
		summary: "export the store's buckets for other tools: json, yaml or SARIF 2.1.0",
		usage:   "--format json|yaml|sarif",
		group:   "store",
		help: `
Writes every bucket (or those given with --bucket, or with a --status) for
other tools to read without scraping text.

json and yaml: {schema_version, generator, generated, workspace, store,
buckets: [...], runs: [...]}; each bucket has the fields of the bug report
(id, key, title, target, kind, site, message_template, message, location,
first_seen, last_seen, member_count, members, status, reproducibility,
frames, lldb, representative, minimized, commands, history,
crashes_per_run). The names are stable; schema_version changes only when
one is renamed, removed or changes meaning (the README lists them).

sarif: a SARIF 2.1.0 log with one run of tool "triage", one rule per crash
kind, one result per bucket: message = the title (and panic message),
location = the panic location relative to %SRCROOT% (the workspace root),
stacks = the in-app frames, partialFingerprints {"triageBucket/v1": bucket
id}, occurrenceCount = member count, baselineState from the bucket's status
(new/regressed: new, open: unchanged, fixed/changed: absent; level note for
those), and the bucket's facts in properties.

Exit codes: 0 written; 1 the store could not be read; 2 usage error.

Examples:
  triage export --format json | jq '.buckets[] | {id, title, status}'
  triage export --format sarif --out triage.sarif --workspace ~/openvmm
  triage export --format yaml --status new,regressed
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			format := addFormat(fs, "", "json", "yaml", "sarif")
			out := fs.String("out", "", "write to `FILE` (atomically) instead of stdout")
			var only stringList
			fs.Var(&only, "bucket", "only this bucket `ID` (or unique prefix; repeatable)")
			status := fs.String("status", "", "only buckets with these comma-separated `STATUSES` (new, open, fixed, changed, regressed)")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) > 0 {
					return usagef("export takes no arguments (use --workspace DIR)")
				}
				if err := format.check(); err != nil {
					return err
				}
				statuses := map[string]bool{}
				for _, s := range strings.Split(*status, ",") {
					switch s = strings.TrimSpace(s); s {
					case "":
					case report.StatusNew, report.StatusOpen, report.StatusFixed, report.StatusChanged, report.StatusRegressed:
						statuses[s] = true
					default:
						return usagef("--status: unknown status %q", s)
					}
				}
				snap, _, err := a.openSnapshot()
				if err != nil {
					return err
				}
				var bugs []*report.Bug
				if len(only) > 0 {
					for _, id := range only {
						b, err := snap.Lookup(id)
						if err != nil {
							return usageError{err.Error()}
						}
						bugs = append(bugs, snap.Bug(b))
					}
				} else {
					bugs = snap.Bugs()
				}
				if len(statuses) > 0 {
					kept := bugs[:0]
					for _, b := range bugs {
						if statuses[b.Status] {
							kept = append(kept, b)
						}
					}
					bugs = kept
				}
				var buf bytes.Buffer
				switch format.value {
				case "sarif":
					rep, err := report.SARIF(snap, bugs)
					if err != nil {
						return err
					}
					err = report.WriteSARIF(&buf, rep)
					if err != nil {
						return err
					}
				case "json":
					err = report.BuildExport(snap, bugs, time.Now()).WriteJSON(&buf)
				case "yaml":
					err = report.BuildExport(snap, bugs, time.Now()).WriteYAML(&buf)
				}
				if err != nil {
					return err
				}
				if *out == "" {
					if _, err = a.stdout.Write(buf.Bytes()); err != nil {
						return err
					}
					return damaged(a, snap)
				}
				abs, err := filepath.Abs(*out)
				if err != nil {
					return err
				}
				if st, err := os.Stat(abs); err == nil && st.IsDir() {
					return usagef("--out %s is a directory", *out)
				}
				if err := atomicfile.Write(abs, buf.Bytes()); err != nil {
					return err
				}
				fmt.Fprintln(a.stderr, abs)
				return damaged(a, snap)
			}
		},
	})
}
