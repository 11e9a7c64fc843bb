package report

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fuzztriage/triage/internal/fixture"
)

// checkHTML writes the static summary of a store and loads it in headless
// Chromium (Debian's chromium, offline): the page renders every bucket and
// the chart, clicking the "members" and "last seen" headers sorts the
// table, a bucket page renders its report, and screenshots go to
// test-artifacts/report-html/ at the repository root. TestNights calls it
// on its four-night store.
func checkHTML(t *testing.T, snap *Snapshot) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (it is in scripts/apt-packages.txt): ", err)
	}
	tm, err := DefaultTemplate()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	files, err := WriteSite(snap, out, tm, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 2*len(snap.Buckets) + len(snap.Campaigns) + len(snap.Coverage); len(files) != want {
		t.Fatalf("%d files written, want %d", len(files), want)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".html") && externalRE.Match(data) {
			t.Errorf("%s refers to an external asset", f)
		}
	}

	ctx := headlessChromium(t, browser)

	artifacts := filepath.Join(fixture.ModuleRoot(), "test-artifacts", "report-html")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	shoot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		writeShot(t, filepath.Join(artifacts, name), png)
	}
	column := func(col string) []string {
		t.Helper()
		vals, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#buckets tbody tr')).map(r => r.cells[`+col+`].getAttribute('data-value'))`))
		if err != nil {
			t.Fatal(err)
		}
		return vals
	}
	nums := func(vals []string) []float64 {
		out := make([]float64, len(vals))
		for i, v := range vals {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("data-value %q is not a number", v)
			}
			out[i] = f
		}
		return out
	}

	run(chromedp.Navigate("file://"+filepath.Join(out, "index.html")), chromedp.WaitReady(`#buckets`))
	rows := eval(`document.querySelectorAll('#buckets tbody tr').length`)
	bars := eval(`document.querySelectorAll('svg#crashes-per-run rect').length`)
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	total := text(`#total-buckets`)
	shoot("index.png")
	if rows != len(snap.Buckets) || total != strconv.Itoa(len(snap.Buckets)) {
		t.Fatalf("the page shows %d rows (total %q), want %d buckets", rows, total, len(snap.Buckets))
	}
	wantBars := 0
	for _, counts := range snap.CrashesPerRun() {
		for _, n := range counts {
			if n > 0 {
				wantBars++
			}
		}
	}
	if bars != wantBars || bars == 0 {
		t.Errorf("the chart has %d bars, want one per bucket and run with new crashes (%d)", bars, wantBars)
	}
	if !strings.Contains(title, strconv.Itoa(len(snap.Buckets))+" buckets") {
		t.Errorf("title %q", title)
	}
	// Initially most members first.
	if m := nums(column("4")); !sort.SliceIsSorted(m, func(i, j int) bool { return m[i] > m[j] }) {
		t.Errorf("initial order is not by members, descending: %v", m)
	}
	// Clicking "members" (already descending) reverses it to ascending.
	run(chromedp.Click(`#col-members`))
	if m := nums(column("4")); !sort.Float64sAreSorted(m) || m[0] == m[len(m)-1] {
		t.Errorf("after one click members are not ascending (or all equal): %v", m)
	}
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(`#col-members`, "aria-sort"))
	if err != nil {
		t.Fatal(err)
	}
	if attr.Value != "ascending" {
		t.Errorf("members header aria-sort %q after a click", attr.Value)
	}
	// "last seen": the first click sorts newest first, the second oldest first.
	for _, want := range []string{"descending", "ascending"} {
		run(chromedp.Click(`#col-last-seen`))
		ls := nums(column("6"))
		ok := sort.Float64sAreSorted(ls)
		if want == "descending" {
			ok = sort.SliceIsSorted(ls, func(i, j int) bool { return ls[i] > ls[j] })
		}
		if !ok || ls[0] == ls[len(ls)-1] {
			t.Errorf("last seen not %s (or all equal): %v", want, ls)
		}
	}
	// A text column sorts too: by bucket id, ascending on the first click.
	run(chromedp.Click(`#buckets thead th:first-child`))
	if ids := column("0"); !sort.StringsAreSorted(ids) {
		t.Errorf("bucket ids not sorted: %v", ids)
	}
	shoot("index-sorted.png")

	// A bucket page: the report, its chart, the link back.
	id := snap.IDs()[0]
	run(chromedp.Navigate("file://"+filepath.Join(out, "buckets", id+".html")), chromedp.WaitReady(`#title`))
	heading := text(`#title`)
	barsOne := eval(`document.querySelectorAll('svg#bucket-crashes rect').length`)
	shoot("bucket.png")
	wantOne := 0
	for _, n := range snap.CrashesPerRun()[id] {
		if n > 0 {
			wantOne++
		}
	}
	if heading != snap.Bug(snap.Buckets[id]).Title || barsOne != wantOne {
		t.Errorf("bucket page: heading %q (want %q), %d chart bars (want %d)", heading, snap.Bug(snap.Buckets[id]).Title, barsOne, wantOne)
	}
}

// headlessChromium starts Chromium for one test (stopped at its end; every
// step bounded by 90 s).
func headlessChromium(t *testing.T, browser string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelT)

	return ctx
}

// writeSite writes snap's HTML summary into a new directory.
func writeSite(t *testing.T, snap *Snapshot) string {
	t.Helper()
	tm, err := DefaultTemplate()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if _, err := WriteSite(snap, out, tm, time.Now()); err != nil {
		t.Fatal(err)
	}
	return out
}

// evalInt evaluates js in the page and returns its number.
func evalInt(t *testing.T, ctx context.Context, js string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](js))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// openPage loads file and waits for sel.
func openPage(t *testing.T, ctx context.Context, file, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+file), chromedp.WaitReady(sel)); err != nil {
		t.Fatal(err)
	}
}

// screenshot saves the page as test-artifacts/report-html/NAME.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(fixture.ModuleRoot(), "test-artifacts", "report-html")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeShot(t, filepath.Join(dir, name), png)
}

// externalRE finds what would load something from elsewhere (the SVG
// namespace URI is a name, not a load).
var externalRE = regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//|<link\b|url\(|@import|<script[^>]+src`)

func writeShot(t *testing.T, path string, png []byte) {
	t.Helper()
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
