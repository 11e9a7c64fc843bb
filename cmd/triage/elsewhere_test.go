package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
)

// checkoutOf copies the hostile-input fixture's sources to dir and builds
// its release binary there (its own target directory), returning the
// binary.
func checkoutOf(t *testing.T, dir string) string {
	t.Helper()
	if err := fixture.CopySources(fixture.HostileRoot(), dir); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, filepath.Join(dir, "fuzz-build")).CombinedOutput(); err != nil {
		t.Fatalf("fuzz-build in %s: %v\n%s", dir, err, out)
	}
	return filepath.Join(dir, "fuzz", "target", "x86_64-unknown-linux-gnu", "release", "fuzz_echo")
}

// crashLog runs bin on input and returns the log it prints, written to a
// file.
func crashLog(t *testing.T, bin string, input []byte, logName string) string {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "input")
	if err := os.WriteFile(in, input, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, in).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "panicked at") {
		t.Fatalf("%s: want a panic, got %v\n%s", bin, err, out)
	}
	p := filepath.Join(dir, logName)
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type bucketKey struct {
	Key       string
	SiteFrom  string
	SiteError string
	Unmapped  int
}

// keyOf buckets one log with args and returns its key.
func keyOf(t *testing.T, log string, args ...string) bucketKey {
	t.Helper()
	code, out, errs := runCLI(t, append(append([]string{"bucket", "--format", "json"}, args...), log)...)
	if code != 0 {
		t.Fatalf("bucket %v: exit %d %s", args, code, errs)
	}
	var rep struct {
		Buckets []struct {
			Key   string `json:"key"`
			Parts struct {
				SiteFrom  string `json:"site_from"`
				SiteError string `json:"site_error"`
			} `json:"parts"`
		} `json:"buckets"`
		Unmapped []struct{ Log, Error string } `json:"unmapped"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Buckets) != 1 {
		t.Fatalf("bucket %v: %v\n%s", args, err, out)
	}
	b := rep.Buckets[0]
	return bucketKey{Key: b.Key, SiteFrom: b.Parts.SiteFrom, SiteError: b.Parts.SiteError, Unmapped: len(rep.Unmapped)}
}

// TestBucketBinaryBuiltElsewhere: logs printed by one checkout's binaries,
// bucketed with --binary from a checkout in another directory, map the
// panic site through the other binary's DWARF: by crate and path in the
// crate when a frame names the crate (a stripped binary's log), through
// --path-map when nothing does, and a log that cannot be mapped is listed
// and warned about instead of silently keyed from its frames.
func TestBucketBinaryBuiltElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fixture twice")
	}
	root := t.TempDir()
	a, b := filepath.Join(root, "checkout-a"), filepath.Join(root, "elsewhere-b")
	binA, binB := checkoutOf(t, a), checkoutOf(t, b)
	stripped := filepath.Join(root, "fuzz_echo-stripped")
	if out, err := exec.Command("objcopy", "--strip-debug", binA, stripped).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, out)
	}
	input := []byte{'I', 9}
	logB := crashLog(t, binB, input, "b.log")
	logA := crashLog(t, binA, input, "a.log")
	logStripped := crashLog(t, stripped, input, "stripped.log")

	const want = "site=echo/src/lib.rs:index_table"
	ref := keyOf(t, logB, "--binary", binB)
	if !strings.Contains(ref.Key, want) || ref.SiteFrom != "debug-info" {
		t.Fatalf("B's own log with B's binary: %+v, want %s", ref, want)
	}
	if got := keyOf(t, logB, "--workspace", b); got.Key != ref.Key {
		t.Errorf("B's log with --workspace: %s, want %s", got.Key, ref.Key)
	}

	// The stripped binary's log names no file for its frames, but its
	// symbol names give the crate: mapped by crate and path.
	if got := keyOf(t, logStripped, "--binary", binB); got.Key != ref.Key || got.SiteFrom != "debug-info" || got.Unmapped != 0 {
		t.Errorf("stripped log with B's binary: %+v, want %s from debug-info", got, ref.Key)
	}
	if got := keyOf(t, logStripped); strings.Contains(got.Key, want) {
		t.Errorf("stripped log without a binary keyed %s: the test proves nothing", got.Key)
	}

	// A's log names its files under checkout-a and its frames by short
	// names: nothing names the crate. Unmapped, and said so.
	code, out, errs := runCLI(t, "bucket", "--binary", binB, logA)
	if code != 0 || !strings.Contains(out, "not mapped through --binary "+logA) || !strings.Contains(errs, "could not map the panic location of 1 of 1 logs") {
		t.Errorf("A's log with B's binary: exit %d, want the log listed as not mapped\n%s\n%s", code, out, errs)
	}
	if got := keyOf(t, logA, "--binary", binB); got.Unmapped != 1 || got.SiteError == "" || got.Key == ref.Key {
		t.Errorf("A's log with B's binary: %+v", got)
	}
	// --path-map maps it.
	if got := keyOf(t, logA, "--binary", binB, "--path-map", a+"="+b); got.Key != ref.Key || got.Unmapped != 0 {
		t.Errorf("A's log with --path-map: %+v, want %s", got, ref.Key)
	}
	// A binary without debug info maps nothing, and says why.
	if got := keyOf(t, logB, "--binary", stripped); got.Unmapped != 1 || !strings.Contains(got.SiteError, "no DWARF") {
		t.Errorf("a binary without DWARF: %+v", got)
	}
	if code, _, errs := runCLI(t, "bucket", "--path-map", "nonsense", logA); code != 2 || !strings.Contains(errs, "--path-map") {
		t.Errorf("bad --path-map: exit %d %s", code, errs)
	}
}
