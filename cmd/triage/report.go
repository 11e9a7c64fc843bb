package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/internal/atomicfile"
	"github.com/fuzztriage/triage/internal/inert"
	"github.com/fuzztriage/triage/report"
	"github.com/fuzztriage/triage/triage"
)

func init() {
	register(&command{
		name:     "report",
		summary:  "render the bug report of a bucket (Markdown), or of every new bucket",
		usage:    "BUCKET | --all-new",
		group:    "store",
		complete: completeBucket,
		help: `
Renders one bucket's bug report from a template (the embedded Markdown
template templates/report.md.tmpl, or --template FILE with the same data):
the title "<crash kind> in <panic-site function>: <message template>", the
target, bucket id and key, first and last seen, member count,
reproducibility on the release and dev builds, the panic message and
location with the source around it, the in-app frames with their source
lines (read from the workspace), the lldb findings (stop, frames, variables
at the panic site, dev build first), the minimized input (size, a hex dump
when small, its path) and the exact commands that reproduce, minimize and
debug it: plain cargo-fuzz (cargo +nightly fuzz run/tmin/build --fuzz-dir),
OpenVMM's cargo xtask fuzz, the binary itself, lldb-19 with the recorded
command file, and triage repro/minimize/lldb/debug. Commands are meant to be
run from the workspace root.

BUCKET is a bucket id ("v1-3f2a9c0d51e7"), a unique prefix of one, or the
hash without "v1-".

--all-new renders a report for every bucket not reported yet and records
them as reported in the store (report/state.yaml, under the store's lock),
so the next --all-new renders only buckets that appeared since: one bug per
new bucket. --no-mark renders without recording. With --out DIR each report
is written to DIR/<bucket id>.md and the paths are printed; otherwise the
reports go to stdout, separated by a line "<!-- triage report: ID -->".

Exit codes:
  0  rendered (with --all-new: also when there was nothing new)
  1  the store or a record could not be read, the template failed
  2  usage error (no such bucket, bad flags)

Examples:
  triage report v1-3f2a9c0d51e7
  triage report --workspace ~/openvmm 3f2a > bug.md
  triage report --all-new --out new-bugs/
  triage report --template my-tracker.tmpl --all-new --no-mark
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			tmpl := fs.String("template", "", "a text/template `FILE` to render instead of the embedded Markdown one")
			allNew := fs.Bool("all-new", false, "render every bucket not reported yet, and mark them reported")
			noMark := fs.Bool("no-mark", false, "with --all-new: do not record the buckets as reported")
			out := fs.String("out", "", "write each report to `DIR`/<bucket id>.md instead of stdout")
			lockWait := fs.Duration("lock-wait", time.Minute, "how long to wait for a running triage run's store lock when marking")
			return func(ctx context.Context, a *app, args []string) error {
				switch {
				case *allNew && len(args) > 0:
					return usagef("give a BUCKET or --all-new, not both")
				case !*allNew && len(args) != 1:
					return usagef("want one BUCKET (or --all-new), got %d arguments", len(args))
				case *noMark && !*allNew:
					return usagef("--no-mark goes with --all-new")
				}
				snap, _, err := a.openSnapshot()
				if err != nil {
					return err
				}
				t, err := loadReportTemplate(*tmpl)
				if err != nil {
					return err
				}
				if *allNew {
					n, err := report.ReportNew(ctx, snap, *lockWait, !*noMark, time.Now(), func(bugs []*report.Bug) error {
						return writeReports(a, t, bugs, *out, true)
					})
					if err != nil {
						return err
					}
					if n == 0 {
						a.log.Info("no new buckets to report")
					} else if !*noMark {
						a.log.WithField("buckets", n).Info("marked reported")
					}
					return damaged(a, snap)
				}
				b, err := snap.Lookup(args[0])
				if err != nil {
					return usageError{err.Error()}
				}
				if err := writeReports(a, t, []*report.Bug{snap.Bug(b)}, *out, false); err != nil {
					return err
				}
				return damaged(a, snap)
			}
		},
	})
}

func loadReportTemplate(path string) (*report.Template, error) {
	if path == "" {
		return report.DefaultTemplate()
	}
	if _, err := os.Stat(path); err != nil {
		return nil, usagef("--template: %v", err)
	}
	t, err := report.LoadTemplate(path)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return t, nil
}

func writeReports(a *app, t *report.Template, bugs []*report.Bug, out string, separate bool) error {
	if out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		for _, b := range bugs {
			var buf bytes.Buffer
			if err := t.Render(&buf, b); err != nil {
				return err
			}
			dst := filepath.Join(out, b.ID+".md")
			if err := atomicfile.Write(dst, buf.Bytes()); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, dst)
		}
		return nil
	}
	for i, b := range bugs {
		if separate {
			if i > 0 {
				fmt.Fprintln(a.stdout)
			}
			fmt.Fprintf(a.stdout, "<!-- triage report: %s -->\n", b.ID)
		}
		if err := t.Render(a.stdout, b); err != nil {
			return err
		}
	}
	return nil
}

// storeConfig is the workspace (--workspace) and its configuration with
// --store applied: where the report commands find the store.
func (a *app) storeConfig() (string, *triage.Config, error) {
	root, err := a.workspaceRoot(nil)
	if err != nil {
		return "", nil, err
	}
	cfg, err := a.config(root)
	if err != nil {
		return "", nil, err
	}
	return root, cfg, nil
}

// openSnapshot loads the store; unreadable records are logged and
// skipped (and make the command exit 3 through damaged).
func (a *app) openSnapshot() (*report.Snapshot, *triage.Config, error) {
	root, cfg, err := a.storeConfig()
	if err != nil {
		return nil, nil, err
	}
	snap, err := report.Load(root, cfg.StoreDir(root))
	if errors.Is(err, report.ErrNoStore) {
		return nil, nil, usagef("%v", err)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, p := range snap.Problems {
		a.log.Warn(p.Error())
	}
	return snap, cfg, nil
}

// damaged ends a command that read the store: exit 3, naming each damaged
// record, when the store had any (what could be read was still used).
func damaged(a *app, snap *report.Snapshot) error {
	if len(snap.Damaged) == 0 {
		return nil
	}
	for _, d := range snap.Damaged {
		fmt.Fprintf(a.stderr, "damaged: %v\n", inert.Line(d.Error()))
	}
	return exitError{exitFailures, fmt.Errorf("%d damaged or missing records in %s (listed above; nothing was overwritten)", len(snap.Damaged), snap.StoreDir)}
}
