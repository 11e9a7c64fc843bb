package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

// quickStore is a built fixture copy with a store of the cmos target's
// three buckets.
func quickStore(t *testing.T) (ws, storeDir string, ids []string) {
	t.Helper()
	ws = fixture.BuiltCopy(t)
	if code, out, errs := runCLI(t, append(append([]string{"run"}, quick...), ws)...); code != 1 {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errs)
	}
	storeDir = filepath.Join(ws, ".triage")
	entries, err := os.ReadDir(filepath.Join(storeDir, "buckets"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	if len(ids) != 3 {
		t.Fatalf("buckets %v, want 3", ids)
	}
	return ws, storeDir, ids
}

// A damaged record is named by path and makes the commands that read the
// store exit 3; a deleted bucket directory is missed aloud, not silently;
// the next run writes the deleted bucket again from its artifacts' records
// and leaves the damaged one as it is.
func TestDamagedStoreIsLoud(t *testing.T) {
	ws, storeDir, ids := quickStore(t)
	garbled := filepath.Join(storeDir, "buckets", ids[0], "bucket.yaml")
	if err := os.WriteFile(garbled, []byte("schema_version: 1\nid: "+ids[0]+"\nkey: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deleted := filepath.Join(storeDir, "buckets", ids[1])
	if err := os.RemoveAll(deleted); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"export", "--workspace", ws, "--format", "json"},
		{"export", "--workspace", ws, "--format", "sarif"},
		{"report", "--workspace", ws, ids[2]},
		{"diff", "--workspace", ws, "--no-verify", "--dry-run"},
		{"html", "--workspace", ws, t.TempDir()},
	} {
		code, out, errs := runCLI(t, args...)
		if code != 3 {
			t.Errorf("%v: exit %d, want 3\n%s\n%s", args, code, out, errs)
		}
		all := out + errs
		for _, want := range []string{garbled, filepath.Join(deleted, "bucket.yaml")} {
			if !strings.Contains(all, want) {
				t.Errorf("%v does not name %s:\n%s", args, want, all)
			}
		}
	}
	before, _ := os.ReadFile(garbled)
	code, out, _ := runCLI(t, append(append([]string{"run"}, quick...), ws)...)
	if code != 3 || !strings.Contains(out, garbled) {
		t.Errorf("run over a damaged store: exit %d, want 3 naming %s\n%s", code, garbled, out)
	}
	if after, _ := os.ReadFile(garbled); string(after) != string(before) {
		t.Error("the run overwrote the damaged record")
	}
	st, err := store.OpenExisting(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if b, err := st.LookupBucket(ids[1]); err != nil || b.MemberCount == 0 {
		t.Errorf("the deleted bucket was not written again from its artifacts: %v %+v", err, b)
	}
}

// Several `report --all-new` at once: each bucket is rendered by exactly
// one of them, and all end up marked.
func TestReportAllNewConcurrent(t *testing.T) {
	ws, _, ids := quickStore(t)
	const n = 4
	outs := make([]string, n)
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		outs[i] = t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = runCLI(t, "report", "--workspace", ws, "--all-new", "--out", outs[i])
		}()
	}
	wg.Wait()
	rendered := map[string]int{}
	for i, dir := range outs {
		if codes[i] != 0 {
			t.Errorf("invocation %d: exit %d", i, codes[i])
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.md"))
		for _, f := range files {
			rendered[strings.TrimSuffix(filepath.Base(f), ".md")]++
		}
	}
	for _, id := range ids {
		if rendered[id] != 1 {
			t.Errorf("bucket %s rendered %d times, want once", id, rendered[id])
		}
	}
	if len(rendered) != len(ids) {
		t.Errorf("rendered %v", rendered)
	}
	if code, out, _ := runCLI(t, "report", "--workspace", ws, "--all-new"); code != 0 || strings.Contains(out, "triage report:") {
		t.Errorf("a later --all-new rendered again: exit %d\n%s", code, out)
	}
}
