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
	"github.com/fuzztriage/triage/symbolize"
)

// symbolizeCLIStdin runs the CLI in-process with stdin.
func symbolizeCLIStdin(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// crashLog runs a fixture binary on the first input of a planted bug.
func symbolizeCrashLog(t *testing.T, bugID string, buildArgs []string, env ...string) (bin string, log []byte) {
	t.Helper()
	root := fixture.Root()
	fixture.Build(t, root, buildArgs...)
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	b := m.Bug(bugID)
	bin = fixture.BinaryPath(t, root, b.Target, buildArgs...)
	rel, _ := filepath.Rel(root, fixture.ArtifactPath(root, b.Target, b.Inputs[0].File))
	res, err := procrun.Run(context.Background(), procrun.Spec{
		Path: bin, Args: []string{rel}, Dir: root, Env: env,
		Unset: []string{"ASAN_OPTIONS", "RUST_BACKTRACE"}, Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	return bin, res.Stderr
}

func symbolizeASanArgs() []string {
	return fixture.ASanArgs(fixture.Root())
}

// An unsymbolized ASan report comes back symbolized, the merged panic site
// included, from stdin.
func TestSymbolizeFilterASan(t *testing.T) {
	bin, log := symbolizeCrashLog(t, "wire-take-bytes", symbolizeASanArgs(), "ASAN_OPTIONS=symbolize=0")
	if !bytes.Contains(log, []byte("(/")) || bytes.Contains(log, []byte(" in wire_proto::")) {
		t.Fatalf("expected an unsymbolized log:\n%s", log)
	}
	code, out, errs := symbolizeCLIStdin(t, log, "symbolize", "--binary", bin)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		" in wire_proto::decode_message /work/main/testdata/fuzzws/support/wire_proto/src/lib.rs",
		" in fuzz_wire_decode::_::__libfuzzer_sys_run ",
		"support/wire_proto/fuzz/fuzz_targets/fuzz_wire_decode.rs:8:34",
		" in core::slice::index::slice_index_fail ",
		"thread '<unnamed>'",
		"range end index 11 out of range for slice of length 3",
	} {
		want = strings.ReplaceAll(want, "/work/main/testdata/fuzzws", fixture.Root())
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// libc frames stay as printed; no mangled name is left.
	if !strings.Contains(out, "libc.so.6+0x") {
		t.Errorf("libc frames lost")
	}
	if strings.Contains(out, "_RNv") || strings.Contains(out, "_ZN") {
		t.Errorf("mangled names left:\n%s", out)
	}
}

// Demangling alone: ASan with demangle=0 prints v0 and C++ mangled names.
func TestSymbolizeFilterDemangles(t *testing.T) {
	_, log := symbolizeCrashLog(t, "battery-unwrap-pack", symbolizeASanArgs(), "ASAN_OPTIONS=demangle=0")
	if !bytes.Contains(log, []byte(" in _RNv")) {
		t.Fatalf("expected mangled names in:\n%s", log)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "crash.log")
	os.WriteFile(path, log, 0o644)
	code, out, errs := runCLI(t, "symbolize", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if strings.Contains(out, " in _R") || strings.Contains(out, " in _ZN") {
		t.Errorf("mangled names left:\n%s", out)
	}
	for _, want := range []string{" in std::process::abort ", " in core::option::unwrap_failed ", " in fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long) "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Count(out, "\n") != strings.Count(string(log), "\n") {
		t.Errorf("line count changed: %d -> %d", strings.Count(string(log), "\n"), strings.Count(out, "\n"))
	}
}

// A release RUST_BACKTRACE=full log: the bare short names and the frame
// without a location get the binary's answer.
func TestSymbolizeFilterRustFull(t *testing.T) {
	bin, log := symbolizeCrashLog(t, "wire-take-bytes", nil, "RUST_BACKTRACE=full")
	code, out, errs := symbolizeCLIStdin(t, log, "symbolize", "--binary", bin)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, " - wire_proto::decode_message\n") {
		t.Errorf("decode_message not qualified:\n%s", out)
	}
	if strings.Contains(out, "std[") || strings.Contains(out, "::h") && strings.Contains(out, "17h") {
		t.Errorf("disambiguators or hashes left")
	}
}

func TestSymbolizeStructured(t *testing.T) {
	bin, log := symbolizeCrashLog(t, "wire-take-bytes", symbolizeASanArgs(), "ASAN_OPTIONS=symbolize=0")
	code, out, errs := symbolizeCLIStdin(t, log, "symbolize", "--format", "json", "--binary", bin)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var tr symbolize.Trace
	if err := json.Unmarshal([]byte(out), &tr); err != nil {
		t.Fatal(err)
	}
	if tr.Kind != symbolize.KindRustPanic || tr.Location == nil || tr.Location.Line != 91 {
		t.Fatalf("trace %+v", tr)
	}
	first := ""
	for _, f := range tr.Frames {
		if f.Category.InApp() {
			first = f.Function
			break
		}
	}
	if first != "wire_proto::decode_message" {
		t.Errorf("first in-app frame %q", first)
	}
	// YAML, without a binary, from a file.
	path := filepath.Join(t.TempDir(), "c.log")
	os.WriteFile(path, log, 0o644)
	code, out, errs = runCLI(t, "symbolize", "--format", "yaml", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var ty symbolize.Trace
	if err := yaml.Unmarshal([]byte(out), &ty); err != nil || ty.Kind != symbolize.KindRustPanic {
		t.Errorf("yaml: %v %+v", err, ty.Kind)
	}
	// A rules file re-tags frames.
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(rules, []byte("schema_version: 1\nrules:\n  - {id: wire-is-harness, category: harness, function_prefix: ['wire_proto::'], examples: [{function: 'wire_proto::x'}]}\n"), 0o644)
	code, out, errs = symbolizeCLIStdin(t, log, "symbolize", "--format", "json", "--binary", bin, "--rules", rules)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	json.Unmarshal([]byte(out), &tr)
	for _, f := range tr.Frames {
		if strings.HasPrefix(f.Normalized, "wire_proto::") && (f.Category != symbolize.CategoryHarness || f.Rule != "wire-is-harness") {
			t.Errorf("%s tagged %s by %s", f.Function, f.Category, f.Rule)
		}
	}
}

func TestSymbolizeErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.txt")
	os.WriteFile(garbage, []byte("hello\nworld\n"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"symbolize", "--format", "xml"}, 2, "--format"},
		{[]string{"symbolize", filepath.Join(dir, "missing.log")}, 2, "does not exist"},
		{[]string{"symbolize", "--binary", filepath.Join(dir, "nobin"), garbage}, 2, "--binary"},
		{[]string{"symbolize", "a", "b"}, 2, "at most one"},
		{[]string{"symbolize", "--format", "json", garbage}, 1, garbage},
		{[]string{"symbolize", "--binary", garbage, garbage}, 1, "ELF"},
	}
	for _, c := range cases {
		code, _, errs := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errs, c.code, c.want)
		}
	}
	// Free text passes through the filter untouched.
	code, out, _ := runCLI(t, "symbolize", garbage)
	if code != 0 || out != "hello\nworld\n" {
		t.Errorf("garbage through the filter: %d %q", code, out)
	}
}
