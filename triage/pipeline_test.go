package triage

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
)

// TestRunFixtureEndToEnd runs the whole pipeline (real fuzz binaries,
// parser, bucket keys, libFuzzer minimization, lldb-19 on release and dev)
// on a copy of the fixture and checks the store against bugs.yaml: one
// bucket per planted bug, every committed input in its bug's bucket, each
// bucket minimized (and the minimized input still the same bug), debugged
// on both builds; then a second run finds nothing new, and a third picks up
// a new, smaller member and minimizes again.
func TestRunFixtureEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline on the fixture")
	}
	root := fixture.BuiltCopy(t)
	before := snapshotArtifacts(t, root)
	cfg := testConfig()
	rec := runPipeline(t, root, cfg)

	m, err := fixture.LoadManifest(fixture.Root())
	if err != nil {
		t.Fatal(err)
	}
	inputs := 0
	for _, b := range m.Bugs {
		inputs += len(b.Inputs)
	}
	if rec.Artifacts.Found != inputs || rec.Artifacts.Triaged != inputs || rec.Artifacts.Failed != 0 || len(rec.Failures) != 0 {
		t.Fatalf("counts %+v, failures %+v; want all %d committed inputs triaged", rec.Artifacts, rec.Failures, inputs)
	}
	if len(rec.NewBuckets) != len(m.Bugs) {
		t.Errorf("%d new buckets, want %d (one per planted bug)", len(rec.NewBuckets), len(m.Bugs))
	}
	storeDir := cfg.StoreDir(root)
	requireStoreSound(t, storeDir)
	arts, buckets := loadStore(t, storeDir)

	// One bucket per bug, as bugs.yaml partitions the inputs.
	bugOf := map[string]string{} // bucket id -> bug id
	vouched := 0
	for _, bug := range m.Bugs {
		var id string
		for _, in := range bug.Inputs {
			sha, _, err := store.FileSHA1(fixture.ArtifactPath(root, bug.Target, in.File))
			if err != nil {
				t.Fatal(err)
			}
			r := arts[sha]
			if r == nil || r.Bucket == nil {
				t.Errorf("%s %s: no record or no bucket", bug.ID, in.File)
				continue
			}
			if r.Status != store.Reproducible || r.Target != bug.Target || r.Reproductions[store.Release].ExitCode != bug.ExitCode {
				t.Errorf("%s %s: status %s target %s exit %d, want reproducible %s exit %d", bug.ID, in.File, r.Status, r.Target, r.Reproductions[store.Release].ExitCode, bug.Target, bug.ExitCode)
			}
			// reproduce.confirm: bucket — an input is either confirmed by
			// its own tries or accepted on one run into a bucket an earlier
			// input confirmed.
			if rel := r.Reproductions[store.Release]; strings.HasPrefix(rel.ConfirmedBy, "one run: ") {
				// A timeout or an OOM: one run under its limit answers.
				if rel.Tries != 1 || rel.Crashes != 1 || (bug.Kind != "timeout" && bug.Kind != "oom") {
					t.Errorf("%s %s: %d/%d tries crashed, confirmed by %q; only a limit kind is confirmed by its one run", bug.ID, in.File, rel.Crashes, rel.Tries, rel.ConfirmedBy)
				}
			} else if rel.ConfirmedBy != "" {
				vouched++
				if rel.Crashes < 1 || rel.Crashes >= 2 || !strings.Contains(rel.ConfirmedBy, r.Bucket.ID) {
					t.Errorf("%s %s: %d/%d tries crashed, confirmed by %q; want one crash vouched for by its own bucket %s", bug.ID, in.File, rel.Crashes, rel.Tries, rel.ConfirmedBy, r.Bucket.ID)
				}
			} else if rel.Tries < 2 || rel.Crashes < 2 {
				t.Errorf("%s %s: %d tries, %d crashes and nothing vouched for it", bug.ID, in.File, rel.Tries, rel.Crashes)
			}
			if id == "" {
				id = r.Bucket.ID
			} else if r.Bucket.ID != id {
				t.Errorf("bug %s split: %s in %s, others in %s", bug.ID, in.File, r.Bucket.ID, id)
			}
		}
		if other, dup := bugOf[id]; dup {
			t.Errorf("bugs %s and %s share bucket %s", other, bug.ID, id)
		}
		bugOf[id] = bug.ID
		b := buckets[id]
		if b == nil {
			t.Errorf("bug %s: no bucket record %s", bug.ID, id)
			continue
		}
		if b.MemberCount != len(bug.Inputs) || b.ReportedMembers != b.MemberCount {
			t.Errorf("bug %s: bucket has %d members (reported %d), want %d", bug.ID, b.MemberCount, b.ReportedMembers, len(bug.Inputs))
		}
		checkBucketWork(t, root, cfg, bug, b, arts)
	}

	if vouched == 0 || rec.Work.ReproductionRuns >= 2*inputs {
		t.Errorf("%d inputs accepted on a confirmed bucket, %d runs for %d inputs: bucket confirmation saved nothing", vouched, rec.Work.ReproductionRuns, inputs)
	}

	after := snapshotArtifacts(t, root)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("artifacts changed by the run")
	}

	// Second run: everything is recorded; nothing is new.
	rec2 := runPipeline(t, root, cfg)
	if rec2.Artifacts.Triaged != 0 || rec2.Artifacts.Skipped != inputs || len(rec2.NewBuckets) != 0 || len(rec2.GrownBuckets) != 0 {
		t.Errorf("second run: %+v new %d grown %d", rec2.Artifacts, len(rec2.NewBuckets), len(rec2.GrownBuckets))
	}
	if len(rec2.UnseenBuckets) != len(m.Bugs) || rec2.Work.LLDBSessions != 0 || rec2.Work.Minimizations != 0 {
		t.Errorf("second run: %d unseen buckets, %d lldb sessions, %d minimizations", len(rec2.UnseenBuckets), rec2.Work.LLDBSessions, rec2.Work.Minimizations)
	}

	// Third run: a smaller member arrives (a bucket's minimized input,
	// dropped into the artifact dir as libFuzzer would name it): the bucket
	// grows, the new input becomes its representative and is minimized.
	bug := m.Bug("battery-expect-rate")
	var target *store.BucketRecord
	for id, name := range bugOf {
		if name == bug.ID {
			target = buckets[id]
		}
	}
	small, err := os.ReadFile(filepath.Join(storeDir, target.Minimized.Path))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(small)) >= target.Representative.Size {
		t.Fatalf("%s: minimized %d bytes is not smaller than the representative (%d)", bug.ID, len(small), target.Representative.Size)
	}
	sha := store.BytesSHA1(small)
	newPath := fixture.ArtifactPath(root, bug.Target, "crash-"+sha)
	if err := os.WriteFile(newPath, small, 0o644); err != nil {
		t.Fatal(err)
	}
	rec3 := runPipeline(t, root, cfg)
	if rec3.Artifacts.Triaged != 1 || len(rec3.GrownBuckets) != 1 || rec3.GrownBuckets[0].ID != target.ID || rec3.GrownBuckets[0].NewMembers != 1 {
		t.Fatalf("third run: %+v grown %+v", rec3.Artifacts, rec3.GrownBuckets)
	}
	_, buckets = loadStore(t, storeDir)
	b := buckets[target.ID]
	if b.Representative.SHA1 != sha || b.Minimized == nil || b.Minimized.From != sha || rec3.Work.Minimizations != 1 {
		t.Errorf("after a smaller member: representative %s, minimized from %+v, %d minimizations; want both %s", b.Representative.SHA1, b.Minimized, rec3.Work.Minimizations, sha)
	}
	for _, prof := range store.Profiles {
		if f := b.LLDB[prof]; f == nil || f.Input != b.Minimized.SHA1 {
			t.Errorf("after a smaller member: lldb %s ran on %+v, want the minimized input %s", prof, f, b.Minimized.SHA1)
		}
	}
	requireStoreSound(t, storeDir)
}

// checkBucketWork checks a bucket's expensive results: verified
// minimization (re-checked here independently), the dev reproduction, and
// lldb findings on both builds.
func checkBucketWork(t *testing.T, root string, cfg *Config, bug *fixture.Bug, b *store.BucketRecord, arts map[string]*store.ArtifactRecord) {
	t.Helper()
	rep := arts[b.Representative.SHA1]
	if rep == nil {
		t.Errorf("%s: representative has no record", bug.ID)
		return
	}
	for _, mem := range b.Members {
		if mem.Size < rep.Size {
			t.Errorf("%s: representative (%d bytes) is not the smallest member (%d)", bug.ID, rep.Size, mem.Size)
		}
	}
	if d := rep.Reproductions[store.Dev]; d == nil || d.Status != store.Reproducible || b.Reproducibility[store.Dev] != store.Reproducible {
		t.Errorf("%s: dev reproduction %+v", bug.ID, d)
	} else if d.BucketID != b.ID {
		t.Errorf("%s: the dev build crashes into %s, not %s", bug.ID, d.BucketID, b.ID)
	} else if bug.Kind == "oom" || bug.Kind == "timeout" {
		// One dev process: the lldb session stops where the limit fires,
		// then runs on to libFuzzer's report; its exit is the dev verdict.
		if f := b.LLDB[store.Dev]; f == nil || f.Exit == nil || d.Tries != 1 || !strings.Contains(d.ConfirmedBy, f.Transcript) {
			t.Errorf("%s: dev reproduction %+v not from the lldb session %+v", bug.ID, d, f)
		}
	}
	crashes := bug.ExitCode == 77
	if crashes {
		mz := b.Minimized
		if mz == nil || !mz.Verified || mz.From != rep.SHA1 || mz.Size > rep.Size {
			t.Errorf("%s: minimized %+v", bug.ID, mz)
		} else {
			// Independently: the minimized input is still this bug.
			ws := discover(t, root)
			got, err := ReproduceInput(context.Background(), ws, cfg, DefaultStages(), bug.Target, filepath.Join(cfg.StoreDir(root), mz.Path), []store.Profile{store.Release})
			if err != nil {
				t.Errorf("%s: re-running the minimized input: %v", bug.ID, err)
			} else if got.Bucket == nil || got.Bucket.ID != b.ID {
				t.Errorf("%s: the minimized input lands in %+v, not %s", bug.ID, got.Bucket, b.ID)
			}
		}
	} else if b.Minimized != nil {
		t.Errorf("%s: a %s bucket was minimized", bug.ID, bug.Kind)
	}
	for _, prof := range store.Profiles {
		f := b.LLDB[prof]
		if f == nil || f.Error != "" || f.Stop == "" {
			t.Errorf("%s: lldb %s findings %+v", bug.ID, prof, f)
			continue
		}
		for _, p := range []string{f.CommandFile, f.Transcript} {
			if _, err := os.Stat(filepath.Join(cfg.StoreDir(root), p)); err != nil {
				t.Errorf("%s: lldb %s: %v", bug.ID, prof, err)
			}
		}
		if want := map[string]string{"oom": "RssLimitCallback", "timeout": "SIGALRM"}[bug.Kind]; want != "" && !strings.Contains(f.Stop, want) {
			t.Errorf("%s: lldb %s stopped at %q, want %s", bug.ID, prof, f.Stop, want)
		}
		if bug.Kind != "oom" && bug.Kind != "timeout" && len(f.Frames) == 0 {
			t.Errorf("%s: lldb %s shows no in-app frame", bug.ID, prof)
		}
		if rep.Crash != nil && rep.Crash.Kind == symbolize.KindRustPanic {
			fn := bug.Function[strings.LastIndex(bug.Function, "::")+2:]
			found := false
			for _, fr := range f.Frames {
				if strings.HasSuffix(fr.Function, fn) {
					found = true
				}
			}
			if !found && prof == store.Dev {
				t.Errorf("%s: lldb dev frames %+v lack the panic site %s", bug.ID, f.Frames, bug.Function)
			}
		}
	}
	if prof := store.Dev; b.LLDB[prof] != nil && rep.Crash != nil && rep.Crash.Kind == symbolize.KindRustPanic && len(b.LLDB[prof].Variables) == 0 {
		t.Errorf("%s: lldb dev session read no variables", bug.ID)
	}
}
