package triage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
	"github.com/fuzztriage/triage/templates"
)

// keepOnly leaves only the named files in a target's artifact directory of
// a private copy.
func keepOnly(t *testing.T, root, target string, names ...string) {
	t.Helper()
	dir := filepath.Dir(fixture.ArtifactPath(root, target, "x"))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	keep := map[string]bool{}
	for _, n := range names {
		keep[n] = true
	}
	for _, e := range entries {
		if !keep[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// addArtifact writes data as a libFuzzer-named artifact of target.
func addArtifact(t *testing.T, root, target, prefix string, data []byte) string {
	t.Helper()
	p := fixture.ArtifactPath(root, target, prefix+"-"+store.BytesSHA1(data))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func recordOf(t *testing.T, storeDir, path string) *store.ArtifactRecord {
	t.Helper()
	sha, _, err := store.FileSHA1(path)
	if err != nil {
		t.Fatal(err)
	}
	arts, _ := loadStore(t, storeDir)
	r := arts[sha]
	if r == nil {
		t.Fatalf("no record for %s", path)
	}
	return r
}

// TestHangIsKilledAndRecorded: a hang that libFuzzer's own -timeout would
// not catch in time (the limit is 60 s) is killed by the wall-clock
// timeout, recorded as a hang (a timeout-kind bucket), and the run goes on
// to the next input.
func TestHangIsKilledAndRecorded(t *testing.T) {
	root := fixture.BuiltCopy(t)
	const hang = "timeout-7692e7cfd3f34a4a38274e354ff86823c998d980"
	const crash = "crash-00bce9fb3a80f71ead652931f2e904f83470ca64" // wire-take-bytes: a quick panic
	keepOnly(t, root, "fuzz_wire_decode", hang, crash)
	cfg := quickConfig()
	cfg.Minimize.Mode = MinimizeOff
	cfg.Reproduce.LibFuzzerTimeout = 60
	cfg.Reproduce.Timeout = Duration(3 * time.Second)
	rec := runPipeline(t, root, cfg, "fuzz_wire_decode")
	if rec.Artifacts.Triaged != 2 || len(rec.Failures) != 0 {
		t.Fatalf("%+v %+v", rec.Artifacts, rec.Failures)
	}
	r := recordOf(t, cfg.StoreDir(root), fixture.ArtifactPath(root, "fuzz_wire_decode", hang))
	rep := r.Reproductions[store.Release]
	if r.Status != store.Reproducible || rep.Outcome != store.OutcomeHang || r.Crash == nil || r.Crash.Kind != symbolize.KindTimeout || r.Bucket == nil {
		t.Errorf("hang record: status %s outcome %s crash %+v bucket %+v", r.Status, rep.Outcome, r.Crash, r.Bucket)
	}
	c := recordOf(t, cfg.StoreDir(root), fixture.ArtifactPath(root, "fuzz_wire_decode", crash))
	if c.Status != store.Reproducible || c.Reproductions[store.Release].Outcome != store.OutcomeCrash {
		t.Errorf("the crash after the hang: %s %s", c.Status, c.Reproductions[store.Release].Outcome)
	}
}

// flakySource makes fuzz_wire_decode crash a different way on each run for
// inputs starting with FLAKY: a counter file in the working directory picks
// one of three panics. A real program, built by the fixture's real build.
const flakySource = `#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.starts_with(b"FLAKY") {
        let n: u32 = std::fs::read_to_string("flaky-runs").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        std::fs::write("flaky-runs", (n + 1).to_string()).unwrap();
        match n % 3 {
            0 => panic!("the first way"),
            1 => panic!("the second way"),
            _ => panic!("the third way"),
        }
    }
    let _ = std::hint::black_box(wire_proto::decode_message(data));
});
`

// TestTargetCrashingDifferentlyEachRun builds (really) a target that
// crashes a different way on every run: the first crash is the reference,
// the others are recorded as different crashes, the input is flaky with a
// rate of 1/3, and its bucket is the reference crash's.
func TestTargetCrashingDifferentlyEachRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a private copy")
	}
	root := fixture.CopyWorkspace(t)
	src := filepath.Join(root, "support/wire_proto/fuzz/fuzz_targets/fuzz_wire_decode.rs")
	if err := os.WriteFile(src, []byte(flakySource), 0o644); err != nil {
		t.Fatal(err)
	}
	keepOnly(t, root, "fuzz_wire_decode")
	p := addArtifact(t, root, "fuzz_wire_decode", "crash", []byte("FLAKY input"))
	cfg := quickConfig()
	cfg.Build.Mode = BuildAlways // the real build (fuzz-build preset, detected)
	cfg.Minimize.Mode = MinimizeOff
	rec := runPipeline(t, root, cfg, "fuzz_wire_decode")
	if rec.Work.Builds != 1 || len(rec.Failures) != 0 {
		t.Fatalf("builds %d failures %+v", rec.Work.Builds, rec.Failures)
	}
	r := recordOf(t, cfg.StoreDir(root), p)
	rep := r.Reproductions[store.Release]
	if r.Status != store.Flaky || rep.Tries != 3 || rep.Crashes != 1 || rep.Rate < 0.33 || rep.Rate > 0.34 {
		t.Fatalf("status %s tries %d crashes %d rate %v, want flaky 1/3", r.Status, rep.Tries, rep.Crashes, rep.Rate)
	}
	if r.Crash == nil || r.Crash.Message != "the first way" || r.Bucket == nil {
		t.Errorf("reference crash %+v bucket %+v", r.Crash, r.Bucket)
	}
	var others []string
	for _, d := range rep.Detail[1:] {
		if d.Same || d.Crash == "" {
			t.Errorf("try %+v should be a different crash", d)
		}
		others = append(others, d.Crash)
	}
	if !strings.Contains(strings.Join(others, "|"), "the second way") || !strings.Contains(strings.Join(others, "|"), "the third way") {
		t.Errorf("other crashes %q", others)
	}
	if len(rec.Flaky) != 1 {
		t.Errorf("run record flaky list %v", rec.Flaky)
	}
}

// TestCorruptArtifactsAndMalformedRecords: inputs that no longer crash (an
// empty file, a truncated input) are recorded as not reproducible; a
// malformed record is reported by path and left untouched; the run goes on.
func TestCorruptArtifactsAndMalformedRecords(t *testing.T) {
	root := fixture.BuiltCopy(t)
	const target = "fuzz_chipset_cmos_rtc"
	cfg := quickConfig()
	cfg.Minimize.Mode = MinimizeOff
	empty := addArtifact(t, root, target, "crash", nil)
	good := fixture.ArtifactPath(root, target, "crash-91e77f7069be1e9ae66115c194b8519e52763a0e")
	data, _ := os.ReadFile(good)
	truncated := addArtifact(t, root, target, "crash", data[:1])
	rec := runPipeline(t, root, cfg, target)
	if rec.Artifacts.Failed != 0 || len(rec.NotReproducible) != 2 {
		t.Fatalf("%+v not reproducible %v", rec.Artifacts, rec.NotReproducible)
	}
	storeDir := cfg.StoreDir(root)
	for _, p := range []string{empty, truncated} {
		r := recordOf(t, storeDir, p)
		rep := r.Reproductions[store.Release]
		if r.Status != store.NotReproducible || r.Bucket != nil || rep.Tries != cfg.Reproduce.Tries || rep.Outcome != store.OutcomeNoCrash {
			t.Errorf("%s: status %s bucket %+v tries %d outcome %s", filepath.Base(p), r.Status, r.Bucket, rep.Tries, rep.Outcome)
		}
	}
	requireStoreSound(t, storeDir)

	// Damage one artifact record and one bucket record.
	goodRec := recordOf(t, storeDir, good)
	artPath := openStore(t, storeDir).ArtifactRecordPath(goodRec.SHA1)
	bucketPath := openStore(t, storeDir).BucketRecordPath(goodRec.Bucket.ID)
	garbage := []byte("schema_version: 1\nsha1: [\n")
	for _, p := range []string{artPath, bucketPath} {
		if err := os.WriteFile(p, garbage, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A new member of that bucket arrives.
	more := addArtifact(t, root, target, "crash", append(append([]byte(nil), data...), 3, 0))
	rec = runPipeline(t, root, cfg, target)
	var stages []string
	joined := ""
	for _, f := range rec.Failures {
		stages = append(stages, f.Stage)
		joined += f.Error + "\n"
	}
	if !strings.Contains(joined, artPath) || !strings.Contains(joined, bucketPath) {
		t.Errorf("failures do not name the malformed records:\n%s", joined)
	}
	if rec.Artifacts.Triaged != 1 {
		t.Errorf("the run did not go on: %+v", rec.Artifacts)
	}
	for _, p := range []string{artPath, bucketPath} {
		if got, _ := os.ReadFile(p); string(got) != string(garbage) {
			t.Errorf("%s was overwritten", p)
		}
	}
	if r := recordOf2(t, storeDir, more); r == nil || r.Status != store.Reproducible {
		t.Errorf("new input next to malformed records: %+v", r)
	}
}

func recordOf2(t *testing.T, storeDir, path string) *store.ArtifactRecord {
	sha, _, _ := store.FileSHA1(path)
	s, err := store.OpenExisting(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var r store.ArtifactRecord
	if err := s.ReadRecord(s.ArtifactRecordPath(sha), &r); err != nil {
		t.Error(err)
		return nil
	}
	return &r
}

// TestMissingBinaryThenRecovered: with building off, a target whose binary
// is missing fails (recorded once, its inputs not recorded) while the other
// target is triaged; once the binary is there, the next run triages the
// inputs it could not (nothing lost).
func TestMissingBinaryThenRecovered(t *testing.T) {
	root := fixture.BuiltCopy(t)
	ideTarget := filepath.Join(root, "vm/devices/storage/ide/fuzz/target")
	if err := os.Remove(ideTarget); err != nil {
		t.Fatal(err)
	}
	cfg := quickConfig()
	cfg.Minimize.Mode = MinimizeOff
	rec := runPipeline(t, root, cfg, "fuzz_ata_taskfile", "fuzz_chipset_cmos_rtc")
	if len(rec.Failures) != 1 || rec.Failures[0].Target != "fuzz_ata_taskfile" || rec.Failures[0].Stage != "build-release" ||
		!strings.Contains(rec.Failures[0].Error, "binary not built") {
		t.Fatalf("failures %+v", rec.Failures)
	}
	ws := discover(t, root)
	ata, _ := ws.Target("fuzz_ata_taskfile").Artifacts()
	cmos, _ := ws.Target("fuzz_chipset_cmos_rtc").Artifacts()
	if rec.Artifacts.Failed != len(ata) || rec.Artifacts.Triaged != len(cmos) {
		t.Fatalf("counts %+v, want %d failed and %d triaged", rec.Artifacts, len(ata), len(cmos))
	}
	if err := os.Symlink(filepath.Join(fixture.Root(), "vm/devices/storage/ide/fuzz/target"), ideTarget); err != nil {
		t.Fatal(err)
	}
	rec = runPipeline(t, root, cfg, "fuzz_ata_taskfile", "fuzz_chipset_cmos_rtc")
	if rec.Artifacts.Triaged != len(ata) || len(rec.Failures) != 0 {
		t.Fatalf("after the binary came back: %+v %+v", rec.Artifacts, rec.Failures)
	}
	requireStoreSound(t, cfg.StoreDir(root))
}

// TestFailingBuildGoesOn breaks one target's source in a private copy: its
// real build fails with cargo's error in the record, the other target in
// the same run is built and triaged.
func TestFailingBuildGoesOn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a private copy")
	}
	root := fixture.CopyWorkspace(t)
	src := filepath.Join(root, "support/wire_proto/fuzz/fuzz_targets/fuzz_wire_decode.rs")
	data, _ := os.ReadFile(src)
	if err := os.WriteFile(src, append(data, []byte("\nfn broken( {\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := quickConfig()
	cfg.Build.Mode = BuildAlways
	cfg.Minimize.Mode = MinimizeOff
	rec := runPipeline(t, root, cfg, "fuzz_wire_decode", "fuzz_ata_taskfile")
	if len(rec.Failures) != 1 || rec.Failures[0].Target != "fuzz_wire_decode" || rec.Failures[0].Stage != "build-release" ||
		!strings.Contains(rec.Failures[0].Error, "error") {
		t.Fatalf("failures %+v", rec.Failures)
	}
	ws := discover(t, root)
	ata, _ := ws.Target("fuzz_ata_taskfile").Artifacts()
	if rec.Artifacts.Triaged != len(ata) || rec.Artifacts.Failed == 0 {
		t.Errorf("counts %+v: want the %d ata inputs triaged and the wire inputs failed", rec.Artifacts, len(ata))
	}
	arts, _ := loadStore(t, cfg.StoreDir(root))
	for _, r := range arts {
		if r.Target == "fuzz_wire_decode" {
			t.Errorf("%s recorded although its build failed", r.Path)
		}
	}
}

// TestLLDBAbsent: without lldb the bucket records say so, the run reports
// it and goes on; a later run with lldb fills the findings in.
func TestLLDBAbsent(t *testing.T) {
	root := fixture.BuiltCopy(t)
	const target = "fuzz_chipset_battery"
	cfg := quickConfig()
	cfg.Minimize.Mode = MinimizeOff
	cfg.LLDB.Enabled = boolp(true)
	cfg.LLDB.Binary = "lldb-absent-for-this-test"
	rec := runPipeline(t, root, cfg, target)
	if rec.Artifacts.Failed != 0 || rec.Artifacts.Triaged == 0 {
		t.Fatalf("%+v", rec.Artifacts)
	}
	_, buckets := loadStore(t, cfg.StoreDir(root))
	if len(rec.Failures) != len(buckets) {
		t.Errorf("%d failures for %d buckets: %+v", len(rec.Failures), len(buckets), rec.Failures)
	}
	for id, b := range buckets {
		f := b.LLDB[store.Release]
		if f == nil || !strings.Contains(f.Error, "lldb-missing") || !strings.Contains(f.Error, "lldb-absent-for-this-test") {
			t.Errorf("bucket %s: lldb findings %+v", id, f)
		}
	}
	cfg.LLDB.Binary = "lldb-19"
	// With lldb back, and the workspace's own command-file template.
	tmpl, _, err := templates.Open("").Read(templates.LLDBSession)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, "lldb-templates"), 0o755)
	os.WriteFile(filepath.Join(root, "lldb-templates", templates.LLDBSession), append([]byte("# workspace template override\n"), tmpl...), 0o644)
	cfg.LLDB.Templates = "lldb-templates"
	rec = runPipeline(t, root, cfg, target)
	if rec.Work.LLDBSessions != len(buckets) || len(rec.Failures) != 0 {
		t.Errorf("with lldb back: %d sessions, failures %+v", rec.Work.LLDBSessions, rec.Failures)
	}
	_, buckets = loadStore(t, cfg.StoreDir(root))
	for id, b := range buckets {
		f := b.LLDB[store.Release]
		if f == nil || f.Error != "" || f.Stop == "" {
			t.Errorf("bucket %s: lldb findings %+v", id, f)
			continue
		}
		if script, _ := os.ReadFile(filepath.Join(cfg.StoreDir(root), f.CommandFile)); !strings.Contains(string(script), "# workspace template override") {
			t.Errorf("bucket %s: the command file did not come from the workspace's template", id)
		}
	}
}

// TestSecondRunIsLockedOut: a run holding the store makes another fail at
// once with ErrLocked.
func TestSecondRunIsLockedOut(t *testing.T) {
	root := fixture.BuiltCopy(t)
	cfg := quickConfig()
	p, err := NewPipeline(discover(t, root), Options{Config: cfg, Stages: DefaultStages()})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Open(); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = Run(context.Background(), discover(t, root), Options{Config: cfg, Stages: DefaultStages()})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second run: %v, want ErrLocked", err)
	}
}

// TestRetriageOnChangedBinary: with retriage: changed-binary, a rebuilt
// target re-triages its recorded inputs: a bug fixed in the new build is
// reported as a fixed bucket (its inputs keep it as previous_bucket), the
// other keeps its bucket and first-seen time; when the fix is reverted the
// bucket comes back as new (a regression). Real builds of a private copy.
func TestRetriageOnChangedBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a private copy three times")
	}
	root := fixture.CopyWorkspace(t)
	const target = "fuzz_wire_decode"
	const takeBytes = "crash-00bce9fb3a80f71ead652931f2e904f83470ca64" // starts with 0x03
	const allocHuge = "crash-526609905eeae4432f5b6681bc699d62b685a3fc" // starts with 0x06
	keepOnly(t, root, target, takeBytes, allocHuge)
	src := filepath.Join(root, "support/wire_proto/fuzz/fuzz_targets/fuzz_wire_decode.rs")
	orig, _ := os.ReadFile(src)
	cfg := quickConfig()
	cfg.Build.Mode = BuildAlways
	cfg.Minimize.Mode = MinimizeOff
	cfg.Retriage = RetriageChangedBinary
	storeDir := cfg.StoreDir(root)

	rec := runPipeline(t, root, cfg, target)
	if rec.Artifacts.Triaged != 2 || len(rec.NewBuckets) != 2 || len(rec.Failures) != 0 {
		t.Fatalf("first run: %+v new %d failures %+v", rec.Artifacts, len(rec.NewBuckets), rec.Failures)
	}
	takePath := fixture.ArtifactPath(root, target, takeBytes)
	allocPath := fixture.ArtifactPath(root, target, allocHuge)
	before := recordOf(t, storeDir, takePath)
	allocBefore := recordOf(t, storeDir, allocPath)

	// Unchanged binary: nothing is re-triaged.
	if rec := runPipeline(t, root, cfg, target); rec.Artifacts.Triaged != 0 || rec.Artifacts.Skipped != 2 {
		t.Fatalf("same binary: %+v", rec.Artifacts)
	}

	// The "fix": inputs starting with 3 no longer reach the bug.
	fixed := strings.Replace(string(orig), "fuzz_target!(|data: &[u8]| {", "fuzz_target!(|data: &[u8]| {\n    if data.first() == Some(&3) {\n        return;\n    }", 1)
	if fixed == string(orig) {
		t.Fatal("could not patch the fuzz target")
	}
	os.WriteFile(src, []byte(fixed), 0o644)
	rec = runPipeline(t, root, cfg, target)
	if rec.Artifacts.Triaged != 2 || len(rec.FixedBuckets) != 1 || rec.FixedBuckets[0] != before.Bucket.ID || len(rec.NewBuckets) != 0 {
		t.Fatalf("after the fix: %+v fixed %v new %+v", rec.Artifacts, rec.FixedBuckets, rec.NewBuckets)
	}
	after := recordOf(t, storeDir, takePath)
	if after.Status != store.NotReproducible || after.Bucket != nil || after.PreviousBucket == nil || after.PreviousBucket.ID != before.Bucket.ID || !after.FirstSeen.Equal(before.FirstSeen) {
		t.Errorf("fixed input: status %s bucket %+v previous %+v first seen %v (was %v)", after.Status, after.Bucket, after.PreviousBucket, after.FirstSeen, before.FirstSeen)
	}
	alloc := recordOf(t, storeDir, allocPath)
	if alloc.Bucket == nil || alloc.Bucket.ID != allocBefore.Bucket.ID || alloc.Triaged.Equal(allocBefore.Triaged) ||
		alloc.Reproductions[store.Release].BinarySHA1 == allocBefore.Reproductions[store.Release].BinarySHA1 {
		t.Errorf("the other input was not re-triaged on the new binary into its bucket: %+v", alloc)
	}
	_, buckets := loadStore(t, storeDir)
	if b := buckets[before.Bucket.ID]; b.Fixed == nil || b.MemberCount != 0 {
		t.Errorf("fixed bucket record: %+v", b)
	}
	requireStoreSound(t, storeDir)

	// The fix is reverted: the bug is back, reported as new.
	os.WriteFile(src, orig, 0o644)
	rec = runPipeline(t, root, cfg, target)
	if len(rec.NewBuckets) != 1 || rec.NewBuckets[0].ID != before.Bucket.ID {
		t.Errorf("after the regression: new %+v", rec.NewBuckets)
	}
	_, buckets = loadStore(t, storeDir)
	if b := buckets[before.Bucket.ID]; b.Fixed != nil || b.MemberCount != 1 {
		t.Errorf("regressed bucket record: %+v", b)
	}
	requireStoreSound(t, storeDir)
}

// TestMinimizeAll: --minimize all minimizes every crash input the same
// verified way, within the budget; what the budget does not reach is
// minimized by the next run.
func TestMinimizeAll(t *testing.T) {
	if testing.Short() {
		t.Skip("minimizes every input")
	}
	root := fixture.BuiltCopy(t)
	const target = "fuzz_chipset_battery"
	cfg := quickConfig()
	cfg.Minimize.Mode = MinimizeAll
	cfg.Minimize.Budget = Duration(time.Millisecond) // runs out at once
	rec := runPipeline(t, root, cfg, target)
	storeDir := cfg.StoreDir(root)
	arts, buckets := loadStore(t, storeDir)
	var budgetNote bool
	for _, f := range rec.Failures {
		budgetNote = budgetNote || (f.Stage == "minimize" && strings.Contains(f.Error, "budget"))
	}
	missing := 0
	for _, r := range arts {
		if r.Minimized == nil {
			missing++
		}
	}
	if !budgetNote || missing == 0 {
		t.Fatalf("a 1 ms budget: failures %+v, %d inputs left unminimized", rec.Failures, missing)
	}

	cfg.Minimize.Budget = Duration(5 * time.Minute)
	rec = runPipeline(t, root, cfg, target)
	if len(rec.Failures) != 0 {
		t.Fatalf("failures %+v", rec.Failures)
	}
	arts, buckets = loadStore(t, storeDir)
	for sha, r := range arts {
		m := r.Minimized
		if m == nil || !m.Verified || m.From != sha || m.Size > r.Size {
			t.Errorf("%s: minimized %+v", r.Path, m)
			continue
		}
		b := buckets[r.Bucket.ID]
		if b.Representative.SHA1 == sha && (b.Minimized == nil || b.Minimized.SHA1 != m.SHA1) {
			t.Errorf("%s: the representative's minimization differs from its bucket's", r.Path)
		}
	}
	requireStoreSound(t, storeDir)
	// Spot check: the largest input's minimized form is still its bug.
	var big *store.ArtifactRecord
	for _, r := range arts {
		if big == nil || r.Size > big.Size {
			big = r
		}
	}
	got, err := ReproduceInput(context.Background(), discover(t, root), cfg, DefaultStages(), target, filepath.Join(storeDir, big.Minimized.Path), []store.Profile{store.Release})
	if err != nil || got.Bucket == nil || got.Bucket.ID != big.Bucket.ID {
		t.Errorf("minimized %s lands in %+v (%v), want %s", big.Path, got.Bucket, err, big.Bucket.ID)
	}
}

// TestDeletedRepresentative: an artifact deleted by its owner keeps its
// record, but a bucket's representative must be an input that is still
// there: the next smallest takes over and is minimized.
func TestDeletedRepresentative(t *testing.T) {
	root := fixture.BuiltCopy(t)
	const target = "fuzz_chipset_cmos_rtc"
	cfg := quickConfig()
	runPipeline(t, root, cfg, target)
	storeDir := cfg.StoreDir(root)
	_, buckets := loadStore(t, storeDir)
	var b *store.BucketRecord
	for _, x := range buckets {
		if b == nil || x.ID < b.ID {
			b = x
		}
	}
	old := b.Representative
	if err := os.Remove(filepath.Join(root, old.Path)); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(root, b.Members[1].Path))
	addArtifact(t, root, target, "crash", append(append([]byte(nil), data...), 3, 0))
	rec := runPipeline(t, root, cfg, target)
	if len(rec.Failures) != 0 {
		t.Fatalf("failures %+v", rec.Failures)
	}
	_, buckets = loadStore(t, storeDir)
	nb := buckets[b.ID]
	if nb.Representative.SHA1 == old.SHA1 || nb.MemberCount != b.MemberCount+1 || nb.Minimized == nil || nb.Minimized.From != nb.Representative.SHA1 {
		t.Errorf("after deleting the representative: %+v (old representative %s)", nb, old.SHA1)
	}
	if _, err := os.Stat(filepath.Join(root, nb.Representative.Path)); err != nil {
		t.Errorf("the representative is not there: %v", err)
	}
	requireStoreSound(t, storeDir)
}

// TestOOMDevWithoutLLDBSession: an OOM's dev reproduction normally comes
// from the dev lldb session's stop; when that session cannot run, the dev
// build runs the input on its own and the record shows that real run.
func TestOOMDevWithoutLLDBSession(t *testing.T) {
	root := fixture.BuiltCopy(t)
	const target = "fuzz_wire_decode"
	keepBug(t, root, "wire-packed-oom")
	cfg := testConfig()
	cfg.Minimize.Mode = MinimizeOff
	cfg.Reproduce.Dev = boolp(true)
	cfg.LLDB.Enabled = boolp(true)
	cfg.LLDB.Binary = "lldb-absent-for-this-test"
	rec := runPipeline(t, root, cfg, target)
	arts, buckets := loadStore(t, cfg.StoreDir(root))
	if len(buckets) != 1 || rec.Work.DevReproductions != 1 {
		t.Fatalf("%d buckets, %d dev reproductions; failures %+v", len(buckets), rec.Work.DevReproductions, rec.Failures)
	}
	for id, b := range buckets {
		d := arts[b.Representative.SHA1].Reproductions[store.Dev]
		if d == nil || d.Status != store.Reproducible || d.Outcome != store.OutcomeOOM || d.ExitCode != 71 || d.ConfirmedBy != "" || d.BucketID != id {
			t.Fatalf("dev reproduction %+v", d)
		}
		if f := b.LLDB[store.Dev]; f == nil || !strings.Contains(f.Error, "lldb-missing") {
			t.Fatalf("dev lldb findings %+v", f)
		}
	}
}

// TestConfirmationIsWaitedFor: inputs of one bucket running side by side do
// not each confirm it. The first to crash confirms it with its tries; the
// others wait for that verdict (their slot given back) and are accepted on
// their one run. Four panics of one bucket on two slots: 2+1+1+1 runs.
func TestConfirmationIsWaitedFor(t *testing.T) {
	root := fixture.BuiltCopy(t)
	keepBug(t, root, "cmos-div-zero")
	cfg := quickConfig()
	cfg.Minimize.Mode = MinimizeOff
	cfg.Jobs = 2
	rec := runPipeline(t, root, cfg, "fuzz_chipset_cmos_rtc")
	arts, buckets := loadStore(t, cfg.StoreDir(root))
	if len(buckets) != 1 || len(arts) != 4 {
		t.Fatalf("%d buckets, %d records", len(buckets), len(arts))
	}
	var confirmers int
	for _, a := range arts {
		r := a.Reproductions[store.Release]
		if r.Status != store.Reproducible {
			t.Fatalf("%s: %+v", a.Path, r)
		}
		if r.ConfirmedBy == "" {
			confirmers++
		} else if r.Tries != 1 {
			t.Errorf("%s: accepted after %d runs", a.Path, r.Tries)
		}
	}
	if confirmers != 1 || rec.Work.ReproductionRuns != 5 {
		t.Fatalf("%d inputs confirmed the bucket themselves, %d runs in all; want 1 and 5", confirmers, rec.Work.ReproductionRuns)
	}
}

// TestLimitKindsRunOnce: a hang costs its -timeout per run, so each of four
// timeouts of one bucket runs once (under lldb: its stack and its verdict),
// confirmed by that one run, and nothing waits for another's tries.
func TestLimitKindsRunOnce(t *testing.T) {
	needLLDB(t)
	root := fixture.BuiltCopy(t)
	keepBug(t, root, "wire-skip-loop")
	cfg := testConfig()
	cfg.Reproduce.Dev = boolp(false)
	cfg.Jobs = 2
	rec := runPipeline(t, root, cfg, "fuzz_wire_decode")
	arts, buckets := loadStore(t, cfg.StoreDir(root))
	if len(buckets) != 1 || len(arts) != 4 {
		t.Fatalf("%d buckets, %d records", len(buckets), len(arts))
	}
	for _, a := range arts {
		r := a.Reproductions[store.Release]
		if r.Status != store.Reproducible || r.Tries != 1 || len(r.Detail) != 1 || !r.Detail[0].LLDB || r.StackFrom != "lldb" ||
			!strings.HasPrefix(r.ConfirmedBy, "one run: a timeout") {
			t.Errorf("%s: %+v", a.Path, r)
		}
	}
	if rec.Work.ReproductionRuns != 4 {
		t.Errorf("%d reproduction runs for 4 timeouts, want 4", rec.Work.ReproductionRuns)
	}
	for _, b := range buckets {
		answers := map[string]string{}
		for _, a := range b.Answers {
			answers[string(a.Build)+" "+a.Question] = a.Run
		}
		if !strings.Contains(answers["release reproduces"], "1 run (1 under lldb)") || !strings.Contains(answers["release stack"], "the same run as its verdict") ||
			!strings.Contains(answers["release lldb findings"], "lldb-release.txt") {
			t.Errorf("bucket answers %+v", b.Answers)
		}
	}
}

// keepBug keeps only the artifacts of planted bugs (bugs.yaml) in their
// targets' artifact directories.
func keepBug(t *testing.T, root string, bugs ...string) {
	t.Helper()
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string][]string{}
	for _, id := range bugs {
		b := m.Bug(id)
		for _, in := range b.Inputs {
			names[b.Target] = append(names[b.Target], in.File)
		}
	}
	for target, files := range names {
		keepOnly(t, root, target, files...)
	}
}
