package report

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/triage"
)

// triage html gives each target with coverage a page: scopes, the
// history plot, the classified gaps and source views whose uncovered
// lines carry their gap's class, drawn by Chromium from a real coverage
// run of the fixture (the planted `// COVERAGE(class)` lines).
func TestCoveragePage(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (it is in scripts/apt-packages.txt): ", err)
	}
	root := fixture.Root()
	fixture.Build(t, root, "--coverage")
	ws := fixture.BuiltCopy(t)
	cfg := triage.DefaultConfig()
	cfg.Build.Mode = triage.BuildNever
	cfg.Bucket.PathMap = []string{root + "=" + ws}
	w, err := triage.Load(ws, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tg := w.Target("fuzz_ata_taskfile")
	os.MkdirAll(tg.CorpusDir(), 0o755)
	rng := rand.New(rand.NewSource(3))
	for i := range 150 {
		b := make([]byte, 1+rng.Intn(40))
		rng.Read(b)
		os.WriteFile(filepath.Join(tg.CorpusDir(), fmt.Sprint("in", i)), b, 0o644)
	}
	for range 2 {
		if _, err := triage.Coverage(context.Background(), w, triage.CoverageOptions{Config: cfg, Targets: []string{tg.Name}}); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := Load(ws, cfg.StoreDir(ws))
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Coverage) != 1 || snap.Coverage[0].Detail == nil || len(snap.Coverage[0].History) != 2 {
		t.Fatalf("coverage in the snapshot: %+v", snap.Coverage)
	}
	out := writeSite(t, snap)
	page := filepath.Join(out, "coverage", tg.Name+".html")
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if externalRE.Match(data) {
		t.Fatal("the page loads something external")
	}
	ctx := headlessChromium(t, browser)
	count := func(js string) int { t.Helper(); return evalInt(t, ctx, js) }
	openPage(t, ctx, filepath.Join(out, "index.html"), `#coverage`)
	if n := count(`document.querySelectorAll('#coverage a[href="coverage/fuzz_ata_taskfile.html"]').length`); n != 1 {
		t.Errorf("index links the coverage page %d times", n)
	}
	openPage(t, ctx, page, `#scopes`)
	rep := snap.Coverage[0].Detail.Report
	if n := count(`document.querySelectorAll('#gaps tbody tr').length`); n != len(rep.Gaps) || n == 0 {
		t.Errorf("%d gap rows, the report has %d", n, len(rep.Gaps))
	}
	if n := count(`document.querySelectorAll('#scopes tbody tr').length`); n != len(rep.Scopes) {
		t.Errorf("%d scope rows, want %d", n, len(rep.Scopes))
	}
	if n := count(`document.querySelector('svg.plot polyline.series').points.numberOfItems`); n != 2 {
		t.Errorf("history plot has %d points, want 2 (two runs)", n)
	}
	// Each planted line's span carries its class.
	ata := filepath.Join(tg.CrateDir, "src", "ata.rs")
	src, _ := os.ReadFile(ata)
	marker := regexp.MustCompile(`// COVERAGE\(([a-z-]+)\)`)
	checked := 0
	for i, l := range strings.Split(string(src), "\n") {
		m := marker.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const pre = document.querySelector('pre.src[data-file$="ide/src/ata.rs"]'); const s = pre && pre.children[`+strconv.Itoa(i)+`]; return s ? (s.getAttribute('data-class') || '') : 'no view'; })()`))
		if err != nil {
			t.Fatal(err)
		}
		if got != m[1] {
			t.Errorf("ata.rs:%d is shown as %q, want %q", i+1, got, m[1])
		}
		checked++
	}
	if checked != 4 {
		t.Errorf("checked %d planted lines, want 4", checked)
	}
	screenshot(t, ctx, "coverage.png")
}
