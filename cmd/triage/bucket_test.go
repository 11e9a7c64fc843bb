package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
)

// bucketLogsDir runs the first committed input of every planted bug (and
// the second caller's input of the bug reached from two callers) on the
// release build and writes each log to a file named after its bug; it
// also writes the dev build's log of that bug as dev-<bug>.log.
func bucketLogsDir(t *testing.T) (dir string, m *fixture.Manifest) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the fixture's fuzz binaries")
	}
	root := fixture.Root()
	fixture.Build(t, root)
	fixture.Build(t, root, "--dev")
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	runTo := func(name, bin string, flags []string, input string) {
		res, err := procrun.Run(context.Background(), procrun.Spec{
			Path: bin, Args: append(append([]string(nil), flags...), input),
			Env: []string{"RUST_BACKTRACE=1"}, Timeout: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(res.Stdout, res.Stderr...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range m.Bugs {
		bin := fixture.BinaryPath(t, root, b.Target)
		runTo(b.ID+".log", bin, b.ReproFlags, fixture.ArtifactPath(root, b.Target, b.Inputs[0].File))
		if len(b.Callers) > 1 {
			for caller, inputs := range b.Callers {
				name := b.ID + ".via-" + caller[strings.LastIndex(caller, ":")+1:] + ".log"
				runTo(name, bin, b.ReproFlags, fixture.ArtifactPath(root, b.Target, inputs[0]))
			}
			runTo("dev-"+b.ID+".log", fixture.BinaryPath(t, root, b.Target, "--dev"), b.ReproFlags, fixture.ArtifactPath(root, b.Target, b.Inputs[0].File))
		}
	}
	return dir, m
}

func runCLIStdin(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

type bucketJSON struct {
	KeyVersion int `json:"key_version"`
	Logs       int `json:"logs"`
	Buckets    []struct {
		ID             string   `json:"id"`
		Key            string   `json:"key"`
		Count          int      `json:"count"`
		Representative string   `json:"representative"`
		Members        []string `json:"members"`
	} `json:"buckets"`
	Suggestions []struct {
		A, B        string
		Similarity  float64
		Explanation struct {
			Matched []struct{ Function string } `json:"matched"`
		} `json:"explanation"`
	} `json:"suggestions"`
	Skipped []struct{ Log, Error string } `json:"skipped"`
}

func TestBucketCommand(t *testing.T) {
	dir, m := bucketLogsDir(t)
	wireRelease := fixture.BinaryPath(t, fixture.Root(), "fuzz_wire_decode")

	// From the logs alone the dev log of the inlined bug names another
	// site than the release logs: one bucket more, and a suggestion.
	code, out, errs := runCLI(t, "bucket", "--format", "json", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep bucketJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bad json: %v\n%s", err, out)
	}
	if rep.KeyVersion != 1 || rep.Logs != len(m.Bugs)+3 {
		t.Errorf("key version %d, %d logs", rep.KeyVersion, rep.Logs)
	}
	// Logs alone cannot tell a target's two hangs (or its two RSS
	// overflows) apart: their logs print no stack (triage run takes one
	// from lldb), so each pair is one bucket here.
	const stacklessPairs = 2
	if len(rep.Buckets) != len(m.Bugs)+1-stacklessPairs || len(rep.Suggestions) != 1 {
		t.Errorf("log-only: %d buckets and %d suggestions, want %d and 1:\n%s", len(rep.Buckets), len(rep.Suggestions), len(m.Bugs)+1-stacklessPairs, out)
	}

	// With the binary's debug info every bug is one bucket.
	code, out, errs = runCLI(t, "bucket", "--format", "json", "--binary", wireRelease, dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rep = bucketJSON{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Buckets) != len(m.Bugs)-stacklessPairs {
		t.Errorf("with --binary: %d buckets, want %d:\n%s", len(rep.Buckets), len(m.Bugs)-stacklessPairs, out)
	}
	for _, b := range rep.Buckets {
		if !strings.HasPrefix(b.ID, "v1-") || b.Count != len(b.Members) || b.Key == "" || b.Representative == "" {
			t.Errorf("bad bucket %+v", b)
		}
		bugs := map[string]bool{}
		for _, mem := range b.Members {
			bugs[bugOfLog(mem)] = true
		}
		if len(bugs) != 1 && !strings.Contains(b.Key, "|target=") {
			t.Errorf("bucket %s holds %v", b.ID, bugs)
		}
		if b.Count == 4 && !strings.Contains(b.Key, "site=wire_proto/src/lib.rs:take_bytes") {
			t.Errorf("the bug reached from two callers is keyed %s", b.Key)
		}
	}

	// Text: counts, key, representative, members.
	code, out, _ = runCLI(t, "bucket", "--binary", wireRelease, "--members", "0", dir)
	for _, want := range []string{
		"14 buckets from 19 logs (key version 1)",
		"4 logs\n  key             v1|rust-panic|msg=range end index <N> out of range for slice of length <N>|site=wire_proto/src/lib.rs:take_bytes",
		"  representative  ",
		"  site from       debug-info",
		"v1|rust-panic|msg=called `Option::unwrap()` on a `None` value|site=chipset/src/battery.rs:report_status",
		"v1|stack-overflow|target=fuzz_wire_decode",
		"    " + filepath.Join(dir, "dev-wire-take-bytes.log"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("exit %d", code)
	}

	// YAML parses and says the same.
	code, out, _ = runCLI(t, "bucket", "--format", "yaml", "--binary", wireRelease, dir)
	var y struct {
		Buckets []struct {
			ID    string `yaml:"id"`
			Count int    `yaml:"count"`
			Parts struct {
				Kind string `yaml:"kind"`
				Site string `yaml:"site"`
			} `yaml:"parts"`
		} `yaml:"buckets"`
	}
	if err := yaml.Unmarshal([]byte(out), &y); err != nil || code != 0 || len(y.Buckets) != len(m.Bugs)-stacklessPairs || y.Buckets[0].Parts.Site != "take_bytes" {
		t.Errorf("yaml: exit %d, err %v, %+v", code, err, y)
	}

	// Stdin.
	data, err := os.ReadFile(filepath.Join(dir, "cmos-div-zero.log"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ = runCLIStdin(t, data, "bucket", "-")
	if code != 0 || !strings.Contains(out, "1 buckets from 1 logs") || !strings.Contains(out, "(stdin)") ||
		!strings.Contains(out, "msg=attempt to divide by zero|site=chipset/src/cmos_rtc.rs:write_register") {
		t.Errorf("stdin: exit %d\n%s", code, out)
	}
}

func bugOfLog(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), ".log")
	base = strings.TrimPrefix(base, "dev-")
	if i := strings.Index(base, ".via-"); i >= 0 {
		base = base[:i]
	}
	return base
}

func TestBucketExplain(t *testing.T) {
	dir, _ := bucketLogsDir(t)
	wireRelease := fixture.BinaryPath(t, fixture.Root(), "fuzz_wire_decode")
	log := func(name string) string { return filepath.Join(dir, name) }

	// Same bug through two callers: one bucket, exit 0.
	code, out, _ := runCLI(t, "bucket", "--explain", log("wire-take-bytes.via-decode_bytes.log"), log("wire-take-bytes.via-decode_string.log"))
	if code != 0 || !strings.Contains(out, "same bucket: every key field is equal") {
		t.Errorf("two callers: exit %d\n%s", code, out)
	}
	// Two bugs in one function: different buckets, the message differs.
	code, out, _ = runCLI(t, "bucket", "--explain", log("cmos-index-oob.log"), log("cmos-div-zero.log"))
	if code != 1 || !strings.Contains(out, "different buckets: the keys differ in\n  message") ||
		!strings.Contains(out, "not suggested") || strings.Contains(out, "  site      A:") {
		t.Errorf("same function: exit %d\n%s", code, out)
	}
	// One message at two places: the site differs.
	code, out, _ = runCLI(t, "bucket", "--explain", "--format", "json", log("battery-unwrap-pack.log"), log("battery-unwrap-history.log"))
	var rep struct {
		SameBucket  bool `json:"same_bucket"`
		Differences []struct{ Field, A, B string }
		Similarity  struct {
			Similarity float64
			Message    float64
		} `json:"similarity"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if code != 1 || rep.SameBucket || len(rep.Differences) != 1 || rep.Differences[0].Field != "site" ||
		rep.Differences[0].A != "charge_level" || rep.Differences[0].B != "report_status" || rep.Similarity.Message != 1 {
		t.Errorf("same message: exit %d %+v", code, rep)
	}
	// Release and dev logs of the inlined bug: apart without the binary
	// (suggested as one bug), together with it.
	code, out, _ = runCLI(t, "bucket", "--explain", log("wire-take-bytes.log"), log("dev-wire-take-bytes.log"))
	if code != 1 || !strings.Contains(out, "suggested as one bug") || !strings.Contains(out, "site      A: decode_message") {
		t.Errorf("release/dev without binary: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "bucket", "--explain", "--binary", wireRelease, log("wire-take-bytes.log"), log("dev-wire-take-bytes.log"))
	if code != 0 || !strings.Contains(out, "site from debug-info") {
		t.Errorf("release/dev with binary: exit %d\n%s", code, out)
	}
}

func TestBucketBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.log")
	if err := os.WriteFile(garbage, []byte("hello\nworld\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "bucket", garbage)
	if code != 1 || !strings.Contains(errs, garbage) || !strings.Contains(out, "skipped "+garbage) {
		t.Errorf("garbage: exit %d\n%s\n%s", code, out, errs)
	}
	code, _, errs = runCLI(t, "bucket", filepath.Join(dir, "missing.log"))
	if code != 2 || !strings.Contains(errs, "missing.log does not exist") {
		t.Errorf("missing file: exit %d %s", code, errs)
	}
	code, _, errs = runCLI(t, "bucket", "--explain", garbage)
	if code != 2 || !strings.Contains(errs, "--explain takes two logs") {
		t.Errorf("explain with one log: exit %d %s", code, errs)
	}
	code, _, _ = runCLI(t, "bucket", "--format", "xml", garbage)
	if code != 2 {
		t.Errorf("bad format: exit %d", code)
	}
	code, _, errs = runCLI(t, "bucket", "--binary", filepath.Join(dir, "nope"), garbage)
	if code != 2 || !strings.Contains(errs, "--binary") {
		t.Errorf("missing binary: exit %d %s", code, errs)
	}
	code, _, errs = runCLI(t, "bucket", "--binary", garbage, garbage)
	if code != 1 || !strings.Contains(errs, "--binary "+garbage) {
		t.Errorf("binary that is not ELF: exit %d %s", code, errs)
	}
	empty := t.TempDir()
	code, _, errs = runCLI(t, "bucket", empty)
	if code != 2 || !strings.Contains(errs, "no logs found") {
		t.Errorf("empty dir: exit %d %s", code, errs)
	}
}
