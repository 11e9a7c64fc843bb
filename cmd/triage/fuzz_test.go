package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

// --dry-run: weights from triage.yaml (classes) and measured edges, the
// split of the cores with one left for triage, and the commands.
func TestFuzzDryRunSplitsByWeight(t *testing.T) {
	ws := fixture.BuiltCopy(t)
	os.WriteFile(filepath.Join(ws, "triage.yaml"), []byte("campaign:\n  targets:\n    fuzz_ide:\n      weight: heavy\n    fuzz_chipset_cmos_rtc:\n      weight: light\n"), 0o644)
	code, out, errs := runCLI(t, "fuzz", "--dry-run", "--no-build", "--cores", "29", ws, "fuzz_ide", "fuzz_chipset_cmos_rtc", "fuzz_wire_decode")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	line := regexp.MustCompile(`(?m)^(\w+): (\d+) cores? \(weight ([\d.e+]+), (.*)\)$`)
	cores := map[string]int{}
	total := 0
	for _, m := range line.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		cores[m[1]] = n
		total += n
		switch m[1] {
		case "fuzz_ide":
			if m[3] != "20" || !strings.Contains(m[4], "triage.yaml") {
				t.Errorf("fuzz_ide weight %s from %q", m[3], m[4])
			}
		case "fuzz_chipset_cmos_rtc":
			if m[3] != "8" {
				t.Errorf("cmos_rtc weight %s", m[3])
			}
		case "fuzz_wire_decode":
			if !strings.Contains(m[4], "instrumented edges") {
				t.Errorf("wire_decode weight not measured: %q", m[4])
			}
		}
	}
	if len(cores) != 3 || total != 28 || !strings.Contains(out, "29 cores: 28 for the fuzzers, 1 for triage") {
		t.Errorf("split %v (total %d):\n%s", cores, total, out)
	}
	if cores["fuzz_ide"] <= cores["fuzz_chipset_cmos_rtc"] {
		t.Errorf("heavy target got no more cores than a light one: %v", cores)
	}
	if !strings.Contains(out, "-fork="+strconv.Itoa(cores["fuzz_ide"])+" -max_total_time=3600 -artifact_prefix=") {
		t.Errorf("fuzz_ide's command lacks its cores or the duration:\n%s", out)
	}

	// This machine's two cores for the fixture's five targets: one each,
	// shared, and said so.
	code, out, errs = runCLI(t, "fuzz", "--dry-run", "--no-build", "--cores", "2", "--triage", "after", ws)
	if code != 0 || !strings.Contains(out, "2 cores: 2 for the fuzzers, 0 for triage") || !strings.Contains(out, "fewer cores than targets") ||
		len(regexp.MustCompile(`(?m)^\w+: 1 core `).FindAllString(out, -1)) != 5 {
		t.Errorf("2 cores, 5 targets: exit %d\n%s\n%s", code, out, errs)
	}

	os.WriteFile(filepath.Join(ws, "triage.yaml"), []byte("campaign:\n  targets:\n    fuzz_ide:\n      weight: enormous\n"), 0o644)
	code, _, errs = runCLI(t, "fuzz", "--dry-run", "--no-build", ws)
	if code != 2 || !strings.Contains(errs, "campaign.targets.fuzz_ide.weight") {
		t.Errorf("bad weight: exit %d, want 2 naming the field:\n%s", code, errs)
	}
	if code, _, errs = runCLI(t, "fuzz", "--triage", "sometimes", ws); code != 2 {
		t.Errorf("bad --triage: exit %d\n%s", code, errs)
	}
}

// A real short campaign through the CLI: it fuzzes, triages what it finds
// while fuzzing, minimizes the corpus and writes the record; exit 1 says
// new buckets were found.
func TestFuzzCampaignFeedsTriage(t *testing.T) {
	ws := fixture.BuiltCopy(t)
	// Only what the campaign finds.
	art := filepath.Join(ws, "vm/devices/chipset/fuzz/artifacts/fuzz_chipset_cmos_rtc")
	os.RemoveAll(art)
	code, out, errs := runCLI(t, "fuzz", "--no-build", "--cores", "2", "--duration", "5s", "--no-lldb", "--no-dev", "--minimize", "off", "--tries", "1",
		"--progress", "never", "--format", "json", ws, "fuzz_chipset_cmos_rtc")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (new buckets)\n%s\n%s", code, out, errs)
	}
	var rec store.CampaignRecord
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rec.Targets) != 1 || rec.FuzzCores != 1 || rec.TriageCores != 1 || rec.Triage != "during" {
		t.Fatalf("record: %+v", rec)
	}
	tg := rec.Targets[0]
	if tg.Execs == 0 || tg.CovEnd == 0 || tg.Artifacts[store.ArtifactCrash] == 0 || tg.CorpusAfter == 0 || tg.CorpusAfterCmin == 0 || tg.CorpusAfterCmin > tg.CorpusAfter {
		t.Errorf("target figures: %+v", tg)
	}
	if len(rec.NewBuckets) == 0 || len(rec.Failures) != 0 {
		t.Errorf("new buckets %v, failures %v", rec.NewBuckets, rec.Failures)
	}
	members := 0
	for _, b := range rec.NewBuckets {
		if !store.ValidBucketID(b.ID) || b.Title == "" {
			t.Errorf("bucket %+v", b)
		}
		members += b.Members
	}
	if files, _ := os.ReadDir(art); members == 0 || members > len(files) {
		t.Errorf("%d members for %d artifact files", members, len(files))
	}
	st, _ := loneCampaign(t, ws)
	// Every bucket is one of the target's planted bugs (its representative's
	// panic message and function are the bug's), each bug in one bucket.
	m, err := fixture.LoadManifest(fixture.Root())
	if err != nil {
		t.Fatal(err)
	}
	arts, _, err := st.LoadArtifacts()
	if err != nil {
		t.Fatal(err)
	}
	bugOf := map[string]string{}
	for _, nb := range rec.NewBuckets {
		b, err := st.LookupBucket(nb.ID)
		if err != nil {
			t.Fatal(err)
		}
		a := arts[b.Representative.SHA1]
		if a == nil || a.Crash == nil {
			t.Fatalf("bucket %s: representative %s has no crash record", nb.ID, b.Representative.SHA1)
		}
		for _, bug := range m.Bugs {
			fn := bug.Function[strings.LastIndex(bug.Function, "::")+2:]
			if bug.Target == "fuzz_chipset_cmos_rtc" && regexp.MustCompile(bug.Message).MatchString(a.Crash.Message) && strings.Contains(b.Title, fn) {
				if other, dup := bugOf[bug.ID]; dup {
					t.Errorf("planted bug %s in two buckets: %s and %s", bug.ID, other, nb.ID)
				}
				bugOf[bug.ID] = nb.ID
			}
		}
	}
	if len(bugOf) != len(rec.NewBuckets) {
		t.Errorf("%d new buckets, %d of them planted bugs: %v", len(rec.NewBuckets), len(bugOf), bugOf)
	}
	t.Logf("planted bugs found: %v", bugOf)
	logData, err := os.ReadFile(st.Path(tg.Log))
	if err != nil || !strings.Contains(string(logData), "oom/timeout/crash:") {
		t.Errorf("target log %s: %v (%d bytes)", tg.Log, err, len(logData))
	}
}

// loneCampaign opens the store of workspace ws (closed when the test ends)
// and loads its one campaign record; it fails the test when there is not
// exactly one, or it does not load back.
func loneCampaign(t *testing.T, ws string) (*store.Store, *store.CampaignRecord) {
	t.Helper()
	st, err := store.Open(filepath.Join(ws, ".triage"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	recs, err := st.Campaigns()
	if err != nil || len(recs) != 1 {
		t.Fatalf("campaign records %v %v", recs, err)
	}
	rec, err := st.LoadCampaign(recs[0])
	if err != nil {
		t.Fatalf("record does not load back: %v", err)
	}
	return st, rec
}
