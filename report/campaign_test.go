package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

// campaignStore writes a store holding one campaign record of two targets
// (figures shaped like a real fixture campaign's) and one badly named
// record.
func campaignStore(t *testing.T) (storeDir string, rec *store.CampaignRecord) {
	t.Helper()
	storeDir = filepath.Join(t.TempDir(), ".triage")
	st, err := store.Open(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Date(2026, 12, 3, 1, 0, 0, 0, time.UTC)
	target := func(name string, n int) store.CampaignTarget {
		tg := store.CampaignTarget{Name: name, Binary: "/b/" + name, Weight: 15, WeightFrom: "measured: 81 instrumented edges", Cores: 2,
			Execs: int64(1000 * n), ExecsPerSec: 3000, Jobs: n, CovEnd: 18 + n, FeaturesEnd: 40 + 2*n, CorpusAfter: 20, CorpusAfterCmin: 12,
			Artifacts: map[store.ArtifactKind]int{store.ArtifactCrash: 7, store.ArtifactTimeout: 1},
			Restarts:  []store.Restart{{At: start, Reason: "exit status 77: <script>alert(1)</script>", Backoff: "1s"}}}
		for i := range n {
			tg.Samples = append(tg.Samples, store.CampaignSample{T: float64(i), Execs: int64(1000 * i), Cov: 10 + i, Ft: 20 + 2*i, Corpus: i})
		}
		return tg
	}
	rec = &store.CampaignRecord{Workspace: "/ws", Started: start, Finished: start.Add(time.Minute), Duration: "1m0s", WallMS: 60000, Cores: 4,
		FuzzCores: 3, TriageCores: 1, Triage: "during", Targets: []store.CampaignTarget{target("fuzz_a", 30), target("fuzz_b", 12)},
		NewBuckets: []store.BucketSummary{}, KnownBuckets: []store.BucketSummary{}, Failures: []store.Failure{},
		Health: []store.HealthFinding{{Target: "fuzz_b", Check: "plateau", Detail: "features stayed at 62", Advice: "Coverage gaps: ..."}}}
	if _, err := st.WriteCampaign(rec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(storeDir, store.DirCampaigns, "x'onload=alert(1).yaml"), []byte("schema_version: 1\nstarted: 2026-12-03T00:00:00Z\nfinished: 2026-12-03T00:00:00Z\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return storeDir, rec
}

// triage html gives each campaign a page: the target table, the health
// findings and a coverage-over-time plot per target, drawn by Chromium; a
// record whose name is not a start time is reported, not linked.
func TestCampaignPage(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed (it is in scripts/apt-packages.txt): ", err)
	}
	storeDir, rec := campaignStore(t)
	snap, err := Load(fixture.Root(), storeDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Campaigns) != 1 || !strings.Contains(strings.Join(errorsText(snap.Problems), "\n"), "named by its start time") {
		t.Fatalf("campaigns %d, problems %v", len(snap.Campaigns), snap.Problems)
	}
	out := writeSite(t, snap)
	page := filepath.Join(out, "campaigns", snap.Campaigns[0].Name+".html")
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if externalRE.Match(data) || strings.Contains(string(data), "<script>alert") {
		t.Fatalf("the page loads something external or holds unescaped markup")
	}
	ctx := headlessChromium(t, browser)
	openPage(t, ctx, filepath.Join(out, "index.html"), `#campaigns`)
	links := evalInt(t, ctx, `document.querySelectorAll('#campaigns a[href^="campaigns/"]').length`)
	openPage(t, ctx, page, `#targets`)
	rows := evalInt(t, ctx, `document.querySelectorAll('#targets tbody tr').length`)
	lines := evalInt(t, ctx, `document.querySelectorAll('svg.plot polyline.series').length`)
	health := evalInt(t, ctx, `document.querySelectorAll('#health li').length`)
	points, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`Array.from(document.querySelectorAll('svg.plot polyline.series')).map(p => p.points.numberOfItems)`))
	if err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "campaign.png")
	if links != 1 || rows != 2 || lines != 4 || health != 1 {
		t.Errorf("index links %d, rows %d, polylines %d, health items %d; want 1, 2, 4, 1", links, rows, lines, health)
	}
	want := []int{len(rec.Targets[0].Samples), len(rec.Targets[0].Samples), len(rec.Targets[1].Samples), len(rec.Targets[1].Samples)}
	if len(points) != 4 || points[0] != want[0] || points[2] != want[2] {
		t.Errorf("plot points %v, want one per sample %v", points, want)
	}
}

func errorsText(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
