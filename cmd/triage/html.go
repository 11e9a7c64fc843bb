package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/report"
)

func init() {
	register(&command{
		name:    "html",
		summary: "write a static HTML summary of the store (sortable bucket table, per-bucket pages, chart)",
		usage:   "OUT_DIR",
		group:   "store",
		help: `
Writes a static HTML summary of the store into OUT_DIR (created if needed;
existing files of the same names are replaced atomically, others are left):

  index.html           totals, a chart of the new crashes per bucket in each
                       recorded run (inline SVG), the buckets table (click a
                       header to sort by members, first or last seen, status,
                       ...), and the runs
  buckets/<id>.html    the bucket's report as a page, with its own chart
  buckets/<id>.md      the same report in Markdown (what triage report prints)

No external assets: styles and the small sorting script are inline, so the
pages work offline and from file://. --template changes the Markdown
reports as for triage report.

Exit codes: 0 written; 1 the store could not be read or a file not
written; 2 usage error.

Examples:
  triage html --workspace testdata/fuzzws /tmp/triage-html && xdg-open /tmp/triage-html/index.html
  triage html --store /srv/triage/openvmm public/
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			tmpl := fs.String("template", "", "a text/template `FILE` for the Markdown reports")
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) != 1 {
					return usagef("want one OUT_DIR, got %d arguments", len(args))
				}
				out, err := filepath.Abs(args[0])
				if err != nil {
					return err
				}
				if st, err := os.Stat(out); err == nil && !st.IsDir() {
					return usagef("%s is not a directory", args[0])
				}
				snap, _, err := a.openSnapshot()
				if err != nil {
					return err
				}
				t, err := loadReportTemplate(*tmpl)
				if err != nil {
					return err
				}
				files, err := report.WriteSite(snap, out, t, time.Now())
				if err != nil {
					return err
				}
				a.log.WithField("files", len(files)).Info("html written")
				fmt.Fprintln(a.stdout, filepath.Join(out, "index.html"))
				return damaged(a, snap)
			}
		},
	})
}
