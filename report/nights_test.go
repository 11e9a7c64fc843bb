package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

const cmosTarget = "fuzz_chipset_cmos_rtc"

// TestNights is the nightly job over four nights on a private copy of the
// fixture, rebuilt from source between nights:
//
//	night 1: inputs A (index-oob x2, div-zero x2)          -> new: oob, div
//	fix the divide by zero in cmos_rtc.rs, rebuild
//	night 2: A + B (oob, add-overflow x2, div-zero)         -> new: add; grown: oob; fixed: div
//	unfix it, rebuild
//	night 3: nothing new                                    -> regressed: div; not seen: oob, add
//	turn the divide by zero into another panic, rebuild
//	night 4: nothing new                                    -> changed: div (to the new panic's bucket)
//
// then checks --since, the state kept across all of it, the reports, and
// the HTML summary in Chromium.
func TestNights(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and triages a copy of the fixture four times")
	}
	start := time.Now()
	m, err := fixture.LoadManifest(fixture.Root())
	if err != nil {
		t.Fatal(err)
	}
	oob, div, add := m.Bug("cmos-index-oob"), m.Bug("cmos-div-zero"), m.Bug("cmos-add-overflow")
	root := fixture.CopyWorkspace(t)
	hold := t.TempDir()
	keepArtifacts(t, root, hold, map[string][]string{cmosTarget: {oob.Inputs[0].File, oob.Inputs[1].File, div.Inputs[0].File, div.Inputs[1].File}})
	buildCopy(t, root)

	cfg := testConfig()
	off := false
	cfg.LLDB.Enabled, cfg.Reproduce.Dev = &off, &off
	cfg.Minimize.Rounds = 1
	storeDir := cfg.StoreDir(root)
	verify := func(ctx context.Context, snap *Snapshot) (map[string]*triage.Verification, []string) {
		return triage.VerifyBuckets(ctx, snap.Workspace, cfg, triage.DefaultStages(), snap.StoreDir, snap.Buckets, snap.Artifacts, nil, time.Now)
	}
	diff := func(night int, o DiffOptions) *Diff {
		t.Helper()
		d, err := RunDiff(context.Background(), root, storeDir, o)
		if err != nil {
			t.Fatalf("night %d: diff: %v", night, err)
		}
		if len(d.Failures) > 0 {
			t.Fatalf("night %d: diff failures: %v", night, d.Failures)
		}
		return d
	}

	// Night 1.
	rec1 := runNight(t, root, cfg, cmosTarget)
	oobID := bucketOfInput(t, root, storeDir, cmosTarget, oob.Inputs[0].File)
	divID := bucketOfInput(t, root, storeDir, cmosTarget, div.Inputs[0].File)
	d1 := diff(1, DiffOptions{Verify: verify})
	expectLists(t, "night 1", d1, map[string][]string{"new": {oobID, divID}})
	if d1.Since.Kind != "start" || len(d1.Runs) != 1 {
		t.Errorf("night 1: since %+v runs %v", d1.Since, d1.Runs)
	}

	// The fix, and night 2 with more inputs.
	line := sourceLine(t, root, div.File, div.Line)
	fixed := strings.Replace(line, "/ rate;", "/ rate.max(1);", 1)
	if fixed == line {
		t.Fatalf("the div-zero line changed: %q", line)
	}
	setSourceLine(t, root, div.File, div.Line, fixed)
	buildCopy(t, root)
	restore(t, root, hold, cmosTarget, oob.Inputs[2].File, add.Inputs[0].File, add.Inputs[1].File, div.Inputs[2].File)
	rec2 := runNight(t, root, cfg, cmosTarget)
	addID := bucketOfInput(t, root, storeDir, cmosTarget, add.Inputs[0].File)
	d2 := diff(2, DiffOptions{Verify: verify})
	expectLists(t, "night 2", d2, map[string][]string{"new": {addID}, "grown": {oobID}, "fixed": {divID}})
	if c := find(d2.Grown, oobID); c == nil || c.NewMembers != 1 || c.Members != 3 {
		t.Errorf("night 2: grown %+v, want oob with 3 members, 1 new", d2.Grown)
	}
	if d2.Since.Kind != "diff" || len(d2.Runs) != 1 || d2.Runs[0] != strings.TrimSuffix(filepath.Base(runPath(t, storeDir, rec2)), ".yaml") {
		t.Errorf("night 2: since %+v runs %v", d2.Since, d2.Runs)
	}
	if v := stateOf(t, storeDir, divID).Verification; v == nil || v.Verdict != triage.VerdictFixed || len(v.Inputs) == 0 {
		t.Errorf("night 2: div verification %+v", v)
	}
	if v := stateOf(t, storeDir, oobID).Verification; v == nil || v.Verdict != triage.VerdictSkipped {
		t.Errorf("night 2: oob (a member triaged on tonight's binary) verification %+v, want skipped", v)
	}

	// The fix is reverted: night 3 finds the bug back.
	setSourceLine(t, root, div.File, div.Line, line)
	buildCopy(t, root)
	runNight(t, root, cfg, cmosTarget)
	d3 := diff(3, DiffOptions{Verify: verify})
	expectLists(t, "night 3", d3, map[string][]string{"regressed": {divID}, "not-seen": {addID, oobID}})
	if st := stateOf(t, storeDir, divID); st.Status != StatusRegressed || st.Regressions != 1 {
		t.Errorf("night 3: div state %+v", st)
	}

	// Night 4: the same inputs now panic elsewhere: changed.
	other := strings.Replace(line, "let hz = 65536 / (1u64 << rate) / rate;", `let hz = if rate == 0 { panic!("periodic rate {rate} is reserved") } else { 65536 / (1u64 << rate) / rate };`, 1)
	setSourceLine(t, root, div.File, div.Line, other)
	buildCopy(t, root)
	runNight(t, root, cfg, cmosTarget)
	d4 := diff(4, DiffOptions{Verify: verify})
	expectLists(t, "night 4", d4, map[string][]string{"changed": {divID}, "not-seen": {addID, oobID}})
	if c := find(d4.Changed, divID); c == nil || len(c.ChangedTo) != 1 || c.ChangedTo[0] == divID || c.ChangedTo[0] == triage.Unbucketed {
		t.Errorf("night 4: changed %+v, want div changed to one other bucket", d4.Changed)
	}

	// --since the first run, without re-running, not recorded: add is new
	// since then, oob grew.
	d5 := diff(5, DiffOptions{Since: runName(t, storeDir, rec1), DryRun: true})
	if len(d5.New) != 1 || d5.New[0].ID != addID || len(d5.Grown) != 1 || d5.Grown[0].ID != oobID || d5.Record != "" {
		t.Errorf("--since night 1: new %v grown %v record %q", ids(d5.New), ids(d5.Grown), d5.Record)
	}

	// Nothing lost: four diff records, the div bucket's whole history.
	recs, _ := filepath.Glob(filepath.Join(StateDir(storeDir), "diffs", "*.yaml"))
	if len(recs) != 4 {
		t.Errorf("%d diff records, want 4", len(recs))
	}
	var events []string
	for _, e := range stateOf(t, storeDir, divID).History {
		events = append(events, e.Event)
	}
	if strings.Join(events, ",") != "new,fixed,regressed,changed" {
		t.Errorf("div history %v", events)
	}

	snap, err := Load(root, storeDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Runs) != 4 || len(snap.Problems) > 0 {
		t.Fatalf("%d runs, problems %v", len(snap.Runs), snap.Problems)
	}
	tm, err := DefaultTemplate()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tm.Render(&buf, snap.Bug(snap.Buckets[divID])); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| Status | changed (now crashes in " + d4.Changed[0].ChangedTo[0] + ") |", "regressed (2 members)", "## History"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("the div report lacks %q:\n%s", want, buf.String())
		}
	}
	// Crashes per run: oob got 2 members on night 1 and 1 on night 2.
	counts := snap.CrashesPerRun()[oobID]
	if len(counts) != 4 || counts[0] != 2 || counts[1] != 1 || counts[2] != 0 {
		t.Errorf("oob crashes per run %v", counts)
	}
	t.Logf("four nights in %s", time.Since(start).Round(time.Millisecond))

	t.Run("html", func(t *testing.T) { checkHTML(t, snap) })
}

func buildCopy(t *testing.T, root string) {
	t.Helper()
	res, err := procrun.Run(context.Background(), procrun.Spec{
		Path: filepath.Join(root, "fuzz-build"), Args: []string{cmosTarget}, Dir: root, Timeout: fixture.BuildTimeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || res.TimedOut {
		t.Fatalf("fuzz-build %s: exit %d\n%s", cmosTarget, res.ExitCode, res.Stderr)
	}
}

func sourceLine(t *testing.T, root, file string, n int) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(data), "\n")[n-1]
}

func setSourceLine(t *testing.T, root, file string, n int, text string) {
	t.Helper()
	path := filepath.Join(root, file)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	lines[n-1] = text
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// restore brings held-back inputs into the target's artifact directory.
func restore(t *testing.T, root, hold, target string, files ...string) {
	t.Helper()
	for _, f := range files {
		if err := os.Rename(filepath.Join(hold, target, f), fixture.ArtifactPath(root, target, f)); err != nil {
			t.Fatal(err)
		}
	}
}

func bucketOfInput(t *testing.T, root, storeDir, target, file string) string {
	t.Helper()
	sha, _, err := store.FileSHA1(fixture.ArtifactPath(root, target, file))
	if err != nil {
		t.Fatal(err)
	}
	arts, _, err := openStore(t, storeDir).LoadArtifacts()
	if err != nil {
		t.Fatal(err)
	}
	a := arts[sha]
	if a == nil || a.Bucket == nil {
		t.Fatalf("%s: no record or no bucket", file)
	}
	return a.Bucket.ID
}

func stateOf(t *testing.T, storeDir, id string) *BucketState {
	t.Helper()
	st, err := LoadState(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Buckets[id] == nil {
		t.Fatalf("no state for %s", id)
	}
	return st.Buckets[id]
}

func runPath(t *testing.T, storeDir string, rec *store.RunRecord) string {
	t.Helper()
	return filepath.Join(storeDir, "runs", rec.Started.UTC().Format("20060102T150405.000000000Z")+".yaml")
}

func runName(t *testing.T, storeDir string, rec *store.RunRecord) string {
	return strings.TrimSuffix(filepath.Base(runPath(t, storeDir, rec)), ".yaml")
}

func find(list []Change, id string) *Change {
	for i := range list {
		if list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}

func ids(list []Change) []string {
	var out []string
	for _, c := range list {
		out = append(out, c.ID)
	}
	sort.Strings(out)
	return out
}

// expectLists checks every list of the diff: the named ones hold exactly
// these buckets, the others are empty.
func expectLists(t *testing.T, what string, d *Diff, want map[string][]string) {
	t.Helper()
	got := map[string][]Change{"new": d.New, "grown": d.Grown, "not-seen": d.NotSeen, "fixed": d.Fixed, "changed": d.Changed, "regressed": d.Regressed}
	for name, list := range got {
		w := append([]string(nil), want[name]...)
		sort.Strings(w)
		if g := ids(list); strings.Join(g, " ") != strings.Join(w, " ") {
			t.Errorf("%s: %s = %v, want %v", what, name, g, w)
		}
	}
}
