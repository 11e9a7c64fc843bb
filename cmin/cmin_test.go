package cmin

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
)

// corpusOf writes n seeded random inputs (1-48 bytes) for fuzz_ide, like a
// campaign's corpus before minimization, and returns the request.
func corpusOf(t *testing.T, n int) Request {
	t.Helper()
	root := fixture.Root()
	fixture.Build(t, root)
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus", "fuzz_ide")
	if err := os.MkdirAll(corpus, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(7))
	for i := range n {
		b := make([]byte, 1+rng.Intn(48))
		rng.Read(b)
		if err := os.WriteFile(filepath.Join(corpus, "in"+strconv.Itoa(i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Request{Binary: fixture.BinaryPath(t, root, "fuzz_ide"), Corpus: corpus, Work: filepath.Join(dir, "store", "cmin", "fuzz_ide")}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// checkSwapped: the corpus is the minimized one, the old corpus is kept
// whole in the store, and no state is left beside the corpus.
func checkSwapped(t *testing.T, r Request, res *Result, before []string) {
	t.Helper()
	if res.After == 0 || res.After >= res.Before || len(names(t, r.Corpus)) != res.After {
		t.Errorf("corpus %d -> %d inputs, %d on disk", res.Before, res.After, len(names(t, r.Corpus)))
	}
	if res.FeaturesAfter < res.FeaturesBefore || res.EdgesAfter < res.EdgesBefore || res.FeaturesBefore == 0 {
		t.Errorf("coverage lost: features %d -> %d, edges %d -> %d", res.FeaturesBefore, res.FeaturesAfter, res.EdgesBefore, res.EdgesAfter)
	}
	if got := names(t, res.Previous); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Errorf("the store keeps %d of the %d old inputs", len(got), len(before))
	}
	for _, p := range []string{newDir(r.Corpus), oldDir(r.Corpus), filepath.Join(r.Work, "merge-control.txt"), filepath.Join(r.Work, verifiedMark)} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}

func TestMinimizeKeepsCoverage(t *testing.T) {
	r := corpusOf(t, 300)
	before := names(t, r.Corpus)
	res, err := Minimize(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Method != "-set_cover_merge=1" || res.Resumed != "" {
		t.Errorf("method %q resumed %q", res.Method, res.Resumed)
	}
	checkSwapped(t, r, res, before)
	// Minimizing again keeps what it has.
	again, err := Minimize(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if again.After != res.After || again.FeaturesAfter != res.FeaturesAfter {
		t.Errorf("second minimization: %+v after %+v", again, res)
	}
}

// Interrupted after the merge, the corpus is untouched; the next run picks
// the merge up from its control file and finishes the job.
func TestMinimizeInterruptedResumes(t *testing.T) {
	r := corpusOf(t, 300)
	before := names(t, r.Corpus)
	ctx, cancel := context.WithCancel(context.Background())
	r.AfterMerge = cancel
	if _, err := Minimize(ctx, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted minimization returned %v", err)
	}
	if got := names(t, r.Corpus); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Fatalf("interrupted minimization changed the corpus: %d inputs", len(got))
	}
	if _, err := os.Stat(filepath.Join(r.Work, "merge-control.txt")); err != nil {
		t.Fatalf("no control file to resume from: %v", err)
	}
	r.AfterMerge = nil
	res, err := Minimize(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Resumed, "control file") {
		t.Errorf("resumed %q, want the merge from its control file", res.Resumed)
	}
	checkSwapped(t, r, res, before)
}

// A merged corpus that lost coverage (injected: the real merge does not
// lose any) is refused and the corpus stays as it was.
func TestMinimizeRefusesLoss(t *testing.T) {
	r := corpusOf(t, 300)
	before := names(t, r.Corpus)
	r.AfterMerge = func() {
		kept := names(t, newDir(r.Corpus))
		for _, n := range kept[1:] {
			os.Remove(filepath.Join(newDir(r.Corpus), n))
		}
	}
	_, err := Minimize(context.Background(), r)
	if !errors.Is(err, ErrNotVerified) {
		t.Fatalf("lossy merge: %v, want ErrNotVerified", err)
	}
	if got := names(t, r.Corpus); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Errorf("a refused minimization changed the corpus")
	}
}

// A swap cut short between its two renames is finished when the new
// corpus was verified, and undone when it was not.
func TestMinimizeFinishesOrUndoesSwap(t *testing.T) {
	for _, verified := range []bool{true, false} {
		r := corpusOf(t, 200)
		before := names(t, r.Corpus)
		ctx, cancel := context.WithCancel(context.Background())
		r.AfterMerge = cancel
		Minimize(ctx, r)
		r.AfterMerge = nil
		merged := names(t, newDir(r.Corpus))
		if verified {
			if err := os.WriteFile(filepath.Join(r.Work, verifiedMark), []byte("test\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		// The state of a crash after the first rename.
		if err := os.Rename(r.Corpus, oldDir(r.Corpus)); err != nil {
			t.Fatal(err)
		}
		res, err := Minimize(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if verified {
			if !strings.Contains(res.Resumed, "swap") || strings.Join(names(t, r.Corpus), " ") != strings.Join(merged, " ") {
				t.Errorf("verified swap not finished: resumed %q", res.Resumed)
			}
			if got := names(t, res.Previous); strings.Join(got, " ") != strings.Join(before, " ") {
				t.Errorf("old corpus not kept whole")
			}
			continue
		}
		if !strings.Contains(res.Resumed, "undone") {
			t.Errorf("unverified swap: resumed %q, want undone", res.Resumed)
		}
		checkSwapped(t, r, res, before)
	}
}
