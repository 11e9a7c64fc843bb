package dwarfsym

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/symbolize"
)

var (
	llvmSymbolizer = fixture.LLVMTool("llvm-symbolizer")
	llvmCxxfilt    = fixture.LLVMTool("llvm-cxxfilt")
)

// liveRun runs a fixture binary on one committed input and returns what
// it printed. Symbolization tests use fresh runs, not the committed logs,
// because addresses are only meaningful for the binary on disk.
func liveRun(t testing.TB, variant, target string, args []string, env ...string) []byte {
	t.Helper()
	root := fixture.Root()
	bin := fixture.BinaryPath(t, root, target, fixture.VariantArgs(root, variant)...)
	res, err := procrun.Run(context.Background(), procrun.Spec{
		Path: bin, Args: args, Dir: root, Env: env,
		Unset:   []string{"ASAN_OPTIONS", "RUST_BACKTRACE"},
		Timeout: time.Minute,
	})
	if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return append(res.Stdout, res.Stderr...)
}

var (
	sharedSymbolizer     *Symbolizer
	sharedSymbolizerOnce sync.Once
)

// testSymbolizer is one Symbolizer for the package's tests, so each
// fixture binary is indexed once per test run.
func testSymbolizer() *Symbolizer {
	sharedSymbolizerOnce.Do(func() { sharedSymbolizer = NewSymbolizer() })
	return sharedSymbolizer
}

func buildVariants(t testing.TB, variants ...string) string {
	t.Helper()
	root := fixture.Root()
	for _, v := range variants {
		fixture.Build(t, root, fixture.VariantArgs(root, v)...)
	}
	return root
}

// bugRun is how to reproduce one planted bug's first input.
func bugRun(root string, b *fixture.Bug, input string) []string {
	rel, _ := filepath.Rel(root, fixture.ArtifactPath(root, b.Target, input))
	args := append([]string(nil), b.ReproFlags...)
	if b.Kind == "timeout" {
		args = []string{"-timeout=1"}
	}
	return append(args, rel)
}

// traceAddresses lists the virtual addresses of the binary that a parsed
// trace's frames point at: module offsets of sanitizer frames, and bare
// addresses (std's full backtraces, symbolized sanitizer frames) minus the
// load bias.
func traceAddresses(t testing.TB, b *Binary, tr *symbolize.Trace) []uint64 {
	t.Helper()
	bias, ok := b.LoadBias(tr)
	if !ok {
		t.Fatalf("no load bias for %s", b.Path)
	}
	seen := map[uint64]bool{}
	var out []uint64
	for _, bt := range tr.Backtraces {
		for _, f := range bt.Frames {
			v, ok := b.FrameAddress(bt.Source, f, bias, true)
			if ok && !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

type llvmFrame struct {
	FunctionName string
	FileName     string
	Line         int
	Column       int
}

// runLLVMSymbolizer symbolizes addresses of a binary with llvm-symbolizer
// in one batch (--inlining, names as the binary has them).
func runLLVMSymbolizer(t testing.TB, bin string, addrs []uint64) [][]llvmFrame {
	t.Helper()
	var in strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&in, "0x%x\n", a)
	}
	res, err := procrun.Run(context.Background(), procrun.Spec{
		Path:    llvmSymbolizer,
		Args:    []string{"--obj=" + bin, "--inlining", "--no-demangle", "--output-style=JSON"},
		Stdin:   []byte(in.String()),
		Timeout: 2 * time.Minute,
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("llvm-symbolizer: %v %s", err, res.Stderr)
	}
	var out [][]llvmFrame
	for _, line := range strings.Split(strings.TrimSpace(string(res.Stdout)), "\n") {
		var rec struct{ Symbol []llvmFrame }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("llvm-symbolizer output %q: %v", line, err)
		}
		out = append(out, rec.Symbol)
	}
	if len(out) != len(addrs) {
		t.Fatalf("llvm-symbolizer answered %d of %d addresses", len(out), len(addrs))
	}
	return out
}

func cleanFile(f string) string {
	if f == "" {
		return ""
	}
	return path.Clean(f)
}

// Our DWARF symbolization gives the same function, file, line and column
// as llvm-symbolizer for every frame of every planted bug's crash: release
// and dev builds with RUST_BACKTRACE=full (bare addresses, load bias from
// the log), and the ASan build unsymbolized (module offsets) and
// symbolized (bare addresses).
func TestSymbolizeMatchesLLVMSymbolizer(t *testing.T) {
	root := buildVariants(t, "release", "dev", "asan")
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	type run struct {
		variant string
		env     []string
	}
	runs := []run{
		{"release", []string{"RUST_BACKTRACE=full"}},
		{"dev", []string{"RUST_BACKTRACE=full"}},
		{"asan", []string{"RUST_BACKTRACE=full", "ASAN_OPTIONS=symbolize=0"}},
		{"asan", []string{"RUST_BACKTRACE=0"}},
	}
	// binary path -> addresses to check
	addrs := map[string]map[uint64]bool{}
	frames := 0
	for _, b := range m.Bugs {
		if b.Kind == "oom" {
			continue // only ASan's malloc hook prints a stack; below
		}
		for _, r := range runs {
			if b.Kind == "timeout" && r.variant != "asan" {
				continue // no stack without ASan
			}
			inputs := b.Inputs[:1]
			if r.variant == "release" {
				inputs = b.Inputs // every committed input, cheaply
			}
			for _, in := range inputs {
				log := liveRun(t, r.variant, b.Target, bugRun(root, b, in.File), r.env...)
				tr, err := symbolize.Parse(log)
				if err != nil {
					t.Fatalf("%s %s: %v", b.ID, in.File, err)
				}
				bin := fixture.BinaryPath(t, root, b.Target, fixture.VariantArgs(root, r.variant)...)
				sb, err := testSymbolizer().Open(bin)
				if err != nil {
					t.Fatal(err)
				}
				if addrs[sb.Path] == nil {
					addrs[sb.Path] = map[uint64]bool{}
				}
				for _, a := range traceAddresses(t, sb, tr) {
					addrs[sb.Path][a] = true
					frames++
				}
			}
		}
	}
	// The OOM bug's stack from ASan's malloc hook.
	if b := m.Bug("wire-packed-oom"); b != nil {
		log := liveRun(t, "asan", b.Target, bugRun(root, b, b.Inputs[0].File), "ASAN_OPTIONS=symbolize=0")
		tr, err := symbolize.Parse(log)
		if err != nil || tr.Kind != symbolize.KindOOM {
			t.Fatalf("oom run: %v %v", err, tr)
		}
		sb, _ := testSymbolizer().Open(fixture.BinaryPath(t, root, b.Target, fixture.VariantArgs(root, "asan")...))
		for _, a := range traceAddresses(t, sb, tr) {
			addrs[sb.Path][a] = true
		}
	}
	if len(addrs) < 10 || frames < 1000 {
		t.Fatalf("only %d binaries, %d frames", len(addrs), frames)
	}
	compared, inlined, distinct := 0, 0, 0
	for bin, set := range addrs {
		distinct += len(set)
		list := make([]uint64, 0, len(set))
		for a := range set {
			list = append(list, a)
		}
		sort.Slice(list, func(i, j int) bool { return list[i] < list[j] })
		theirs := runLLVMSymbolizer(t, bin, list)
		sb, _ := testSymbolizer().Open(bin)
		for i, a := range list {
			ours := sb.Symbolize(a)
			want := theirs[i]
			if len(ours) != len(want) {
				t.Errorf("%s 0x%x: %d frames, llvm-symbolizer %d:\n ours %v\n llvm %v", filepath.Base(bin), a, len(ours), len(want), ours, want)
				continue
			}
			for k := range ours {
				o, w := ours[k], want[k]
				if o.Raw != w.FunctionName || cleanFile(o.File) != cleanFile(w.FileName) || o.Line != w.Line || o.Column != w.Column {
					t.Errorf("%s 0x%x frame %d:\n ours %q %s:%d:%d\n llvm %q %s:%d:%d", filepath.Base(bin), a, k,
						o.Raw, o.File, o.Line, o.Column, w.FunctionName, w.FileName, w.Line, w.Column)
				}
				compared++
			}
			if len(ours) > 1 {
				inlined++
			}
		}
	}
	t.Logf("%d trace frames, %d distinct addresses in %d binaries: %d symbolized frames compared, %d addresses with inlined frames", frames, distinct, len(addrs), compared, inlined)
	if inlined == 0 {
		t.Errorf("no inlined frames among the compared addresses")
	}
}

// The release build's wire-take-bytes backtrace shows only decode_message
// (LLVM merged take_bytes' panic calls); the panic header's location maps
// through DWARF to take_bytes, inlined into both callers.
func TestFunctionAtMergedPanicSite(t *testing.T) {
	// (The ASan build is nightly's, whose symbols are v0-mangled.)
	root := buildVariants(t, "release", "dev", "asan")
	m, _ := fixture.LoadManifest(root)
	b := m.Bug("wire-take-bytes")
	for _, v := range []string{"release", "dev", "asan"} {
		bin := fixture.BinaryPath(t, root, b.Target, fixture.VariantArgs(root, v)...)
		// The panic header prints the path relative to the workspace.
		sf, err := testSymbolizer().FunctionAt(bin, b.File, b.Line)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if sf.Function != "wire_proto::take_bytes" || sf.Normalized != "wire_proto::take_bytes" {
			t.Errorf("%s: FunctionAt = %+v, want wire_proto::take_bytes", v, *sf)
		}
		if !strings.HasSuffix(sf.File, "/"+b.File) || sf.Line != b.Line || sf.Addresses == 0 {
			t.Errorf("%s: %+v", v, *sf)
		}
		if v != "dev" {
			want := []string{"wire_proto::decode_bytes", "wire_proto::decode_string"}
			if !sf.Inlined || strings.Join(sf.Callers, ",") != strings.Join(want, ",") {
				t.Errorf("%s: inlined %v callers %v, want %v", v, sf.Inlined, sf.Callers, want)
			}
		}
		// An absolute path works too; a wrong one does not.
		if _, err := testSymbolizer().FunctionAt(bin, filepath.Join(root, b.File), b.Line); err != nil {
			t.Errorf("%s absolute path: %v", v, err)
		}
		if _, err := testSymbolizer().FunctionAt(bin, "support/wire_proto/src/nope.rs", b.Line); err == nil {
			t.Errorf("%s: no error for a file that is not there", v)
		}
		if _, err := testSymbolizer().FunctionAt(bin, "src/lib.rs", 1); err == nil || !strings.Contains(err.Error(), "ambiguous") {
			t.Errorf("%s: src/lib.rs should be ambiguous: %v", v, err)
		}
	}
}

// FunctionAt names the planted function of every panic bug from its
// marker line, in release (line tables only) and dev builds.
func TestFunctionAtEveryPanicBug(t *testing.T) {
	root := buildVariants(t, "release", "dev")
	m, _ := fixture.LoadManifest(root)
	for _, b := range m.Bugs {
		if !fixture.PanicKinds[b.Kind] && b.Kind != "stack-overflow" && b.Kind != "alloc-failure" {
			continue
		}
		for _, v := range []string{"release", "dev"} {
			bin := fixture.BinaryPath(t, root, b.Target, fixture.VariantArgs(root, v)...)
			sf, err := testSymbolizer().FunctionAt(bin, b.File, b.Line)
			if err != nil {
				t.Errorf("%s %s: %v", b.ID, v, err)
				continue
			}
			if sf.Normalized != symbolize.Normalize(b.Function) {
				t.Errorf("%s %s: FunctionAt(%s:%d) = %s (raw %s), want %s", b.ID, v, b.File, b.Line, sf.Function, sf.Raw, b.Function)
			}
		}
	}
}

// SymbolizeTrace turns an unsymbolized ASan report into the symbolized
// one ASan itself prints for the same crash.
func TestSymbolizeTraceMatchesASanSymbolizer(t *testing.T) {
	root := buildVariants(t, "asan")
	m, _ := fixture.LoadManifest(root)
	for _, b := range m.Bugs {
		if !fixture.PanicKinds[b.Kind] && b.Kind != "alloc-failure" {
			continue
		}
		args := bugRun(root, b, b.Inputs[0].File)
		raw, err := symbolize.Parse(liveRun(t, "asan", b.Target, args, "ASAN_OPTIONS=symbolize=0"))
		if err != nil {
			t.Fatal(err)
		}
		sym, err := symbolize.Parse(liveRun(t, "asan", b.Target, args))
		if err != nil {
			t.Fatal(err)
		}
		bin := fixture.BinaryPath(t, root, b.Target, fixture.VariantArgs(root, "asan")...)
		n, err := testSymbolizer().SymbolizeTrace(raw, bin)
		if err != nil || n == 0 {
			t.Fatalf("%s: SymbolizeTrace: %d frames, %v", b.ID, n, err)
		}
		// Only the binary's frames (ASan also symbolizes libc's), named as
		// the binary names them; ASan numbers inlined frames apart, so
		// compare the sequences.
		sb, _ := testSymbolizer().Open(bin)
		bias, ok := sb.LoadBias(sym)
		if !ok {
			t.Fatalf("%s: no bias", b.ID)
		}
		var got, want []string
		for _, f := range raw.Frames {
			if f.Module == bin {
				got = append(got, fmt.Sprintf("%s %s:%d", symbolize.Normalize(f.Raw), f.File, f.Line))
			}
		}
		for _, f := range sym.Frames {
			if v := f.Address - bias; v >= sb.textRange[0] && v < sb.textRange[1] {
				want = append(want, fmt.Sprintf("%s %s:%d", symbolize.Normalize(f.Raw), f.File, f.Line))
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: symbolized frames differ from ASan's:\n ours:\n%s\n asan:\n%s", b.ID, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// SymbolizeTrace on release RUST_BACKTRACE=full and =1 traces: the bare
// short names of line-tables-only builds become qualified, the merged
// panic site gets its file, and the first in-app frame is named as in the
// dev build.
func TestSymbolizeTraceRelease(t *testing.T) {
	root := buildVariants(t, "release")
	m, _ := fixture.LoadManifest(root)
	for _, b := range m.Bugs {
		if !fixture.PanicKinds[b.Kind] {
			continue
		}
		bin := fixture.BinaryPath(t, root, b.Target)
		for _, bt := range []string{"full", "1"} {
			tr, err := symbolize.Parse(liveRun(t, "release", b.Target, bugRun(root, b, b.Inputs[0].File), "RUST_BACKTRACE="+bt))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := testSymbolizer().SymbolizeTrace(tr, bin); err != nil {
				t.Fatal(err)
			}
			var first *symbolize.Frame
			for i := range tr.Frames {
				if tr.Frames[i].Category.InApp() {
					first = &tr.Frames[i]
					break
				}
			}
			if first == nil {
				t.Fatalf("%s bt=%s: no in-app frame", b.ID, bt)
			}
			want := symbolize.Normalize(b.Function)
			if alt, ok := fixture.InlinedAway[b.ID]; ok && symbolize.ShortName(first.Normalized) == alt {
				want = "wire_proto::" + alt
			}
			if first.Normalized != want {
				t.Errorf("%s bt=%s: first in-app frame %s (%s:%d, rule %s), want %s", b.ID, bt, first.Normalized, first.File, first.Line, first.Rule, want)
			}
			for _, f := range tr.Frames {
				if f.Category == symbolize.CategoryUnknown && f.Function != "" {
					t.Errorf("%s bt=%s: frame %q still unknown", b.ID, bt, f.Function)
				}
			}
		}
	}
}

func TestSymbolizerCache(t *testing.T) {
	root := buildVariants(t, "release")
	bin := fixture.BinaryPath(t, root, "fuzz_wire_decode")
	s := NewSymbolizer()
	a, err := s.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	if a.BuildID == "" || !a.PIE {
		t.Errorf("build id %q pie %v", a.BuildID, a.PIE)
	}
	b, _ := s.Open(bin)
	if a != b {
		t.Errorf("same path opened twice")
	}
	// A hard link (cargo links deps/<bin>-<hash> to the binary) shares it.
	dir := t.TempDir()
	link := filepath.Join(dir, "linked")
	if err := os.Link(bin, link); err != nil {
		t.Skipf("hard link: %v", err)
	}
	if c, _ := s.Open(link); c != a {
		t.Errorf("hard link not shared by build id")
	}
	// A file replaced by another build (a new build id) is re-read; the
	// same build id under a new size is the same code and shares the index.
	data, _ := os.ReadFile(bin)
	other := filepath.Join(dir, "other")
	os.WriteFile(other, data, 0o755)
	if c, _ := s.Open(other); c != a {
		t.Errorf("copy with the same build id not shared")
	}
	data2, _ := os.ReadFile(fixture.BinaryPath(t, root, "fuzz_chipset_cmos_rtc"))
	os.WriteFile(other, data2, 0o755)
	c2, err := s.Open(other)
	if err != nil || c2 == a || c2.BuildID == a.BuildID {
		t.Errorf("replaced file not re-read: %v", err)
	}
	// Errors name the file.
	if _, err := s.Open(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("missing binary: no error")
	}
	notELF := filepath.Join(dir, "notelf")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	if _, err := s.Open(notELF); err == nil || !strings.Contains(err.Error(), notELF) {
		t.Errorf("not an ELF: %v", err)
	}
}

// The three ways to find the load bias agree on a real ASan run.
func TestLoadBiasSourcesAgree(t *testing.T) {
	root := buildVariants(t, "asan")
	m, _ := fixture.LoadManifest(root)
	b := m.Bug("battery-unwrap-pack")
	bin := fixture.BinaryPath(t, root, b.Target, fixture.VariantArgs(root, "asan")...)
	sb, err := testSymbolizer().Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := symbolize.Parse(liveRun(t, "asan", b.Target, bugRun(root, b, b.Inputs[0].File), "ASAN_OPTIONS=symbolize=0", "RUST_BACKTRACE=full"))
	if err != nil {
		t.Fatal(err)
	}
	fromCounters, ok1 := sb.LoadBias(tr)
	counters := tr.Counters
	tr.Counters = nil
	fromFrames, ok2 := sb.LoadBias(tr)
	var saved []symbolize.Backtrace
	for _, bt := range tr.Backtraces {
		if bt.Source == symbolize.SourceRust {
			saved = append(saved, bt)
		}
	}
	tr.Backtraces = saved
	fromSymbols, ok3 := sb.LoadBias(tr)
	tr.Counters = counters
	if !ok1 || !ok2 || !ok3 || fromCounters != fromFrames || fromFrames != fromSymbols || fromCounters%0x1000 != 0 {
		t.Errorf("bias: counters %#x %v, frames %#x %v, symbols %#x %v", fromCounters, ok1, fromFrames, ok2, fromSymbols, ok3)
	}
	t.Logf("bias %s", strconv.FormatUint(fromCounters, 16))
}

// TestUniqueSymbolEndingIn: a short name resolves to the one function
// symbol ending in it (the same function under two symbols counts once);
// a name two functions share, or none has, resolves to nothing; symbols
// of no size and names that are not Rust or C++ mangled take no part.
func TestUniqueSymbolEndingIn(t *testing.T) {
	b := &Binary{syms: []symbol{
		{addr: 0x10, size: 8, name: "_ZN4wire6decode17h0123456789abcdefE"},
		{addr: 0x20, size: 8, name: "_ZN4wire6decode17hfedcba9876543210E"}, // the same function, another hash
		{addr: 0x30, size: 8, name: "_ZN3ide7execute17h0123456789abcdefE"},
		{addr: 0x40, size: 8, name: "_ZN3ata7execute17h0123456789abcdefE"},
		{addr: 0x50, size: 0, name: "_ZN4wire6lonely17h0123456789abcdefE"},
		{addr: 0x60, size: 8, name: "plain_c_function"},
	}}
	for short, want := range map[string]string{
		"decode":           "wire::decode",
		"execute":          "",
		"lonely":           "",
		"plain_c_function": "",
		"missing":          "",
	} {
		if got := b.uniqueSymbolEndingIn(short); got != want {
			t.Errorf("%s: got %q, want %q", short, got, want)
		}
	}
}
