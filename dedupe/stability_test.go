package dedupe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
)

// releaseBuckets is the bucket of each bug on the plain release build, and
// one release run per bug (its representative).
func releaseBuckets(t *testing.T) (map[string]BucketID, map[string]*run) {
	t.Helper()
	runs := releaseRunsOfManifest(t)
	ids := checkOneBucketPerBug(t, runs, true)
	reps := map[string]*run{}
	for _, r := range runs {
		if reps[r.bug] == nil {
			reps[r.bug] = r
		}
	}
	return ids, reps
}

// checkSameBuckets runs one input per bug (one per caller for a bug with
// several) through variant v and checks every bug keeps its release
// bucket. The exception is by design and checked too: a kind that prints
// no stack on plain builds (timeout, OOM, std's stack-overflow message) is
// keyed on the target there, but on the frames where a sanitizer prints
// them; such a pair must then be suggested as one bug by the second tier.
func checkSameBuckets(t *testing.T, v variant, withResolver bool) {
	t.Helper()
	m, bugs := loadManifest(t)
	relIDs, relReps := releaseBuckets(t)
	runs := manifestRuns(t, m, firstInputs)
	runAll(t, v, runs, bugs)
	same, byDesign := 0, 0
	for _, r := range runs {
		c := r.crash(withResolver)
		k := c.Key()
		if got := labelByLocation(r.trace, r.target, m); got != r.bug {
			t.Errorf("%s on %s: labelled %q by its location/kind, manifest says %s", r.name(), v.name, got, r.bug)
		}
		rel := relReps[r.bug]
		relKey := rel.crash(withResolver).Key()
		if k.ID() == relIDs[r.bug] {
			same++
			continue
		}
		if relKey.Target != "" && len(appFrames(r.trace.Frames)) > 0 {
			e := Similarity(rel.crash(withResolver), c, SimilarityParams{})
			if e.Similarity < (SimilarityParams{}).withDefaults().Threshold {
				t.Errorf("%s (%s): the %s key %s has frames the release key %s lacks, and the two are not suggested as one bug: %+v",
					r.bug, r.name(), v.name, k, relKey, e)
			}
			byDesign++
			t.Logf("%s: %s keys on frames (%s), release on the target (%s): suggested as one bug, similarity %.2f",
				r.bug, v.name, k, relKey, e.Similarity)
			continue
		}
		t.Errorf("%s (%s): %s bucket %s (%s) differs from release %s (%s)", r.bug, r.name(), v.name, k.ID(), k, relIDs[r.bug], relKey)
	}
	t.Logf("%s: %d inputs of %d bugs keep their release bucket, %d differ by design (no stack on plain builds)", v.name, same, len(m.Bugs), byDesign)
}

// The same bug gets the same bucket id on the release, dev and ASan builds.
func TestStabilityReleaseDevASan(t *testing.T) {
	for _, v := range []variant{devVariant(), asanVariant()} {
		t.Run(v.name, func(t *testing.T) {
			v.build(t)
			checkSameBuckets(t, v, true)
		})
	}
}

// ... with legacy (the stable default) and v0 symbol mangling.
func TestStabilityManglingV0(t *testing.T) {
	root := fixture.Root()
	dir := filepath.Join(root, "target-variants", "v0")
	for _, v := range []variant{
		{name: "release-v0", root: root, args: []string{"--mangling", "v0", "--target-dir", dir}},
		{name: "dev-v0", root: root, args: []string{"--dev", "--mangling", "v0", "--target-dir", dir}},
	} {
		t.Run(v.name, func(t *testing.T) {
			v.build(t)
			checkSameBuckets(t, v, true)
		})
	}
}

// ... and after an unrelated edit shifts every bug's line (a private copy
// of the workspace with comment lines inserted at the top of each file
// that holds a bug, rebuilt).
func TestStabilityLineShift(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a copy of the fixture")
	}
	m, _ := loadManifest(t)
	relIDs, _ := releaseBuckets(t)

	copyRoot := fixture.CopyWorkspace(t)
	const shift = 7
	edited := map[string]bool{}
	for _, b := range m.Bugs {
		if edited[b.File] {
			continue
		}
		edited[b.File] = true
		p := filepath.Join(copyRoot, b.File)
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfterN(string(src), "\n", 2)
		pad := strings.Repeat("// An unrelated edit: this line moves every line below it.\n", shift)
		if err := os.WriteFile(p, []byte(lines[0]+pad+lines[1]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shifted, err := fixture.LoadManifest(copyRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range shifted.Bugs {
		if b.Line != m.Bug(b.ID).Line+shift {
			t.Fatalf("bug %s: marker at line %d in the copy, want %d", b.ID, b.Line, m.Bug(b.ID).Line+shift)
		}
	}
	v := variant{name: "release-shifted", root: copyRoot}
	v.build(t)
	bugs := map[string]*fixture.Bug{}
	for _, b := range shifted.Bugs {
		bugs[b.ID] = b
	}
	var runs []*run
	for _, b := range shifted.Bugs {
		for _, in := range firstInputs(b) {
			runs = append(runs, &run{target: b.Target, input: fixture.ArtifactPath(copyRoot, b.Target, in.File), bug: b.ID})
		}
	}
	runAll(t, v, runs, bugs)
	moved := 0
	for _, r := range runs {
		if got := labelByLocation(r.trace, r.target, shifted); got != r.bug {
			t.Errorf("%s: labelled %q in the shifted copy, want %s", r.name(), got, r.bug)
		}
		if r.trace.Location != nil {
			if r.trace.Location.Line != bugs[r.bug].Line {
				t.Errorf("%s: panic at line %d, the shifted marker is at %d", r.name(), r.trace.Location.Line, bugs[r.bug].Line)
			}
			moved++
		}
		if k := r.crash(true).Key(); k.ID() != relIDs[r.bug] {
			t.Errorf("%s: bucket %s (%s) after the line shift, %s before", r.name(), k.ID(), k, relIDs[r.bug])
		}
	}
	t.Logf("%d panics moved by %d lines, every bug kept its bucket", moved, shift)
}
