package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
)

// The CLI's exit codes: 3 with nothing to replay, 0 on a measured run, 1
// when --ratchet sees coverage fall (inputs removed) and when --min sees
// it below the goal; --lcov writes genhtml's input.
func TestCoverageCommand(t *testing.T) {
	root := fixture.Root()
	fixture.Build(t, root, "--coverage")
	ws := fixture.BuiltCopy(t)
	os.WriteFile(filepath.Join(ws, "triage.yaml"), []byte(fmt.Sprintf("bucket:\n  path_map: [%q]\ncoverage:\n  tolerance: 0.01\n", root+"="+ws)), 0o644)
	base := []string{"coverage", "--no-build", "--progress", "never", "--log-level", "warn"}
	code, _, errs := runCLI(t, append(base, ws, "fuzz_ata_taskfile")...)
	if code != 3 || !strings.Contains(errs, "nothing to replay") {
		t.Errorf("empty corpus: exit %d\n%s", code, errs)
	}
	corpus := filepath.Join(ws, "vm/devices/storage/ide/fuzz/corpus/fuzz_ata_taskfile")
	os.MkdirAll(corpus, 0o755)
	rng := rand.New(rand.NewSource(9))
	for i := range 200 {
		b := make([]byte, 1+rng.Intn(40))
		rng.Read(b)
		if i%2 == 0 {
			b[0] = 0x30
		}
		os.WriteFile(filepath.Join(corpus, fmt.Sprint("in", i)), b, 0o644)
	}
	lcov := filepath.Join(t.TempDir(), "out.lcov")
	code, out, errs := runCLI(t, append(base, "--lcov", lcov, ws)...)
	if code != 0 || !strings.Contains(out, "fuzz_ata_taskfile: 200 inputs replayed") || !strings.Contains(out, "primary line coverage") {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errs)
	}
	if data, err := os.ReadFile(lcov); err != nil || !strings.Contains(string(data), "SF:") || !strings.Contains(string(data), "ata.rs") {
		t.Errorf("--lcov file: %v (%d bytes)", err, len(data))
	}
	// Leave one input that parse_transfer rejects at once: the lines past
	// its length check are no longer covered.
	for i := range 200 {
		os.Remove(filepath.Join(corpus, fmt.Sprint("in", i)))
	}
	os.WriteFile(filepath.Join(corpus, "short"), []byte{0x30}, 0o644)
	code, out, _ = runCLI(t, append(base, "--ratchet", "--format", "json", ws, "fuzz_ata_taskfile")...)
	var res []struct {
		Comparison struct {
			Fell bool
			Lost []struct{ File, Lines string }
		} `json:"comparison"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if code != 1 || !res[0].Comparison.Fell || len(res[0].Comparison.Lost) == 0 {
		t.Errorf("ratchet after removing inputs: exit %d, %+v", code, res[0].Comparison)
	}
	// The fixture's primary scope (all of the ide crate) is far below 85%.
	if code, out, _ = runCLI(t, append(base, "--min", ws, "fuzz_ata_taskfile")...); code != 1 || !strings.Contains(out, "below the goal") {
		t.Errorf("--min: exit %d\n%s", code, out)
	}
}
