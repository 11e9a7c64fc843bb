package dedupe

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
)

// Every committed input of the fixture, reproduced on the release build and
// parsed, lands in exactly one bucket per planted bug.
func TestAccuracyOnCommittedArtifacts(t *testing.T) {
	m, _ := loadManifest(t)
	runs := releaseRunsOfManifest(t)
	for _, r := range runs {
		if got := labelByLocation(r.trace, r.target, m); got != r.bug {
			t.Fatalf("%s: the manifest says %s, its panic location/kind says %q:\n%s", r.name(), r.bug, got, r.log)
		}
	}
	for _, withResolver := range []bool{true, false} {
		name := "with-binary"
		if !withResolver {
			name = "log-only"
		}
		t.Run(name, func(t *testing.T) {
			buckets := checkOneBucketPerBug(t, runs, withResolver)
			if len(buckets) != len(m.Bugs) {
				t.Errorf("%d bugs bucketed, the manifest has %d", len(buckets), len(m.Bugs))
			}
		})
	}
}

// runsOf picks the release runs of some bugs.
func runsOf(t *testing.T, ids ...string) []*run {
	var out []*run
	for _, r := range releaseRunsOfManifest(t) {
		for _, id := range ids {
			if r.bug == id {
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("no runs of %v", ids)
	}
	return out
}

func hardCase(t *testing.T, name string) []string {
	m, _ := loadManifest(t)
	ids := m.HardCases[name]
	if len(ids) == 0 {
		t.Fatalf("bugs.yaml has no hard case %s", name)
	}
	return ids
}

// Two bugs in one function (CmosRtc::write_register): the site is the same,
// the message templates keep them apart.
func TestHardCaseSameFunctionTwoBugs(t *testing.T) {
	ids := hardCase(t, "same_function_two_bugs")
	runs := runsOf(t, ids...)
	buckets := checkOneBucketPerBug(t, runs, true)
	if len(buckets) != len(ids) {
		t.Fatalf("%d buckets for %v", len(buckets), ids)
	}
	keys := map[string]Key{}
	for _, r := range runs {
		keys[r.bug] = KeyFor(r.trace, r.crash(true).Options)
	}
	a, b := keys[ids[0]], keys[ids[1]]
	if a.Site != b.Site || a.SiteFile != b.SiteFile {
		t.Errorf("the two bugs should share the site: %s / %s", a, b)
	}
	diff := a.Diff(b)
	if len(diff) != 1 || diff[0].Field != "message" {
		t.Errorf("only the message should differ: %+v", diff)
	}
}

// One message at two places (two unwrap() on None in Battery): the panic
// site keeps them apart.
func TestHardCaseSameMessageTwoPlaces(t *testing.T) {
	ids := hardCase(t, "same_message_two_places")
	runs := runsOf(t, ids...)
	buckets := checkOneBucketPerBug(t, runs, true)
	if len(buckets) != len(ids) {
		t.Fatalf("%d buckets for %v", len(buckets), ids)
	}
	var keys []Key
	for _, id := range ids {
		for _, r := range runs {
			if r.bug == id {
				keys = append(keys, KeyFor(r.trace, r.crash(true).Options))
				break
			}
		}
	}
	diff := keys[0].Diff(keys[1])
	if len(diff) != 1 || diff[0].Field != "site" {
		t.Errorf("only the site should differ: %+v", diff)
	}
	// Nor does the second tier suggest merging them.
	var crashes []Crash
	for _, r := range runs {
		crashes = append(crashes, r.crash(true))
	}
	if s := Cluster(Group(crashes), SimilarityParams{}); len(s) != 0 {
		t.Errorf("suggested merging two bugs: %+v", s)
	}
}

// One bug reached through two callers (take_bytes from decode_string and
// decode_bytes): one bucket, in every build (see the stability tests) and
// with the default key; a key with callers splits it, and the second tier
// then suggests the merge.
func TestHardCaseOneBugTwoCallers(t *testing.T) {
	ids := hardCase(t, "one_bug_two_callers")
	_, bugs := loadManifest(t)
	runs := runsOf(t, ids...)
	buckets := checkOneBucketPerBug(t, runs, true)
	if len(buckets) != 1 {
		t.Fatalf("%d buckets for one bug", len(buckets))
	}
	for _, id := range ids {
		if len(bugs[id].Callers) < 2 {
			t.Fatalf("bug %s lists %d callers", id, len(bugs[id].Callers))
		}
	}
	// On the dev build the callers are visible; with 3 frames they split
	// the bug, and Cluster suggests putting it back together.
	v := devVariant()
	v.build(t)
	m, _ := loadManifest(t)
	devRuns := manifestRuns(t, m, func(b *fixture.Bug) []fixture.Input {
		if b.ID != ids[0] {
			return nil
		}
		return firstInputs(b)
	})
	runAll(t, v, devRuns, bugs)
	var crashes []Crash
	seen := map[BucketID]bool{}
	for _, r := range devRuns {
		c := r.crash(true)
		c.Options.Frames = 3
		crashes = append(crashes, c)
		seen[c.Key().ID()] = true
		if c.Key().Site != "take_bytes" {
			t.Errorf("%s: site %q, want take_bytes", r.name(), c.Key().Site)
		}
	}
	if len(seen) != 2 {
		t.Fatalf("with 3 frames the two callers should give two keys, got %d", len(seen))
	}
	s := Cluster(Group(crashes), SimilarityParams{})
	if len(s) != 1 {
		t.Fatalf("want one suggestion to merge the callers' buckets, got %+v", s)
	}
	e := s[0].Explanation
	if e.Message != 1 || len(e.Matched) < 2 || e.Matched[0].Function != "take_bytes" {
		t.Errorf("explanation should show the shared site and message: %+v", e)
	}
	t.Logf("suggested with similarity %.3f: %+v", s[0].Similarity, e.Matched)
}

// A message that differs on every input: the template absorbs it.
func TestHardCaseMessageDiffersEveryInput(t *testing.T) {
	ids := hardCase(t, "message_differs_every_input")
	_, bugs := loadManifest(t)
	runs := runsOf(t, ids...)
	messages := map[string]map[string]bool{}
	for _, r := range runs {
		if messages[r.bug] == nil {
			messages[r.bug] = map[string]bool{}
		}
		messages[r.bug][r.trace.Message] = true
		re := regexp.MustCompile(bugs[r.bug].Message)
		if !re.MatchString(r.trace.Message) {
			t.Errorf("%s: message %q does not match the manifest's %q", r.name(), r.trace.Message, bugs[r.bug].Message)
		}
		if tmpl := MessageTemplate(r.trace.Message); regexp.MustCompile(`\d`).MatchString(tmpl) {
			t.Errorf("%s: template %q still has digits", r.name(), tmpl)
		}
	}
	varied := 0
	for id, ms := range messages {
		if len(ms) > 1 {
			varied++
		}
		t.Logf("%s: %d distinct messages over its inputs", id, len(ms))
	}
	if varied < 2 {
		t.Errorf("expected the committed inputs to show varying messages for at least two of %v", ids)
	}
	buckets := checkOneBucketPerBug(t, runs, true)
	if len(buckets) != len(ids) {
		t.Errorf("%d buckets for %d bugs", len(buckets), len(ids))
	}
	for _, r := range runs {
		if k := KeyFor(r.trace, Options{Target: r.target}); strings.ContainsAny(k.Message, "0123456789") {
			t.Errorf("%s: key message %q has digits", r.name(), k.Message)
		}
	}
}

// extraDir holds a few hundred more crashing inputs the fuzzers found
// (fork-mode runs, some seeded with the committed artifacts), outside the
// fixture's artifact directories so that tests counting those are not
// affected. Their ground truth is not written down anywhere: each is run
// and labelled by its panic location's `// BUG(id)` marker, or for a crash
// without a panic by its kind and target.
func extraDir() string { return filepath.Join(fixture.ModuleRoot(), "testdata", "crashes-extra") }

// The extra inputs land in one bucket per bug, the same bucket as the
// bug's committed inputs.
func TestAccuracyOnExtraCrashes(t *testing.T) {
	m, bugs := loadManifest(t)
	relIDs, _ := releaseBuckets(t)
	var runs []*run
	targets, err := os.ReadDir(extraDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, td := range targets {
		files, err := os.ReadDir(filepath.Join(extraDir(), td.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			runs = append(runs, &run{target: td.Name(), input: filepath.Join(extraDir(), td.Name(), f.Name())})
		}
	}
	if len(runs) < 300 {
		t.Fatalf("only %d extra inputs", len(runs))
	}
	runAll(t, releaseVariant(), runs, bugs)
	perBug := map[string]int{}
	messages := map[string]map[string]bool{}
	for _, r := range runs {
		r.bug = labelByLocation(r.trace, r.target, m)
		if r.bug == "" {
			t.Fatalf("%s matches no planted bug:\n%s", r.name(), r.log)
		}
		perBug[r.bug]++
		if messages[r.bug] == nil {
			messages[r.bug] = map[string]bool{}
		}
		messages[r.bug][r.trace.Message] = true
	}
	ids := checkOneBucketPerBug(t, runs, true)
	for bug, id := range ids {
		if id != relIDs[bug] {
			t.Errorf("bug %s: the extra inputs are in %s, the committed ones in %s", bug, id, relIDs[bug])
		}
	}
	var summary []string
	for _, b := range m.Bugs {
		if n := perBug[b.ID]; n > 0 {
			summary = append(summary, fmt.Sprintf("%s %d (%d messages)", b.ID, n, len(messages[b.ID])))
		}
	}
	t.Logf("%d extra inputs of %d bugs: %s", len(runs), len(perBug), strings.Join(summary, ", "))
}
