package dwarfsym

// Benchmarks of DWARF symbolization. bench/symbolize.sh runs them with
// symbolize's parsing benchmarks; BenchmarkLLVMComparison runs
// llvm-symbolizer and llvm-cxxfilt on the same inputs as ours in the same
// run and reports the ratios.

import (
	"context"
	"debug/elf"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/symbolize"
)

// benchBinary is the ASan build of fuzz_wire_decode: the largest DWARF of
// the fixture (std, compiler-rt and the code under test).
func benchBinary(b *testing.B) string {
	root := fixture.Root()
	fixture.Build(b, root, fixture.VariantArgs(root, "asan")...)
	return fixture.BinaryPath(b, root, "fuzz_wire_decode", fixture.VariantArgs(root, "asan")...)
}

// codeAddresses returns one address inside each sized function symbol of
// the binary's text, the same inputs for ours and llvm-symbolizer.
func codeAddresses(b *testing.B, bin string, max int) []uint64 {
	f, err := elf.Open(bin)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	text := f.Section(".text")
	syms, _ := f.Symbols()
	seen := map[uint64]bool{}
	var out []uint64
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Size < 2 || s.Value < text.Addr || s.Value >= text.Addr+text.Size {
			continue
		}
		a := s.Value + s.Size/2
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	if len(out) > max {
		step := len(out) / max
		var thin []uint64
		for i := 0; i < len(out) && len(thin) < max; i += step {
			thin = append(thin, out[i])
		}
		out = thin
	}
	return out
}

// BenchmarkSymbolize: per frame, cold (a new Symbolizer: open the binary,
// read its DWARF, index the units the addresses fall in) and cached (the
// binary's index built, every address looked up again).
func BenchmarkSymbolize(b *testing.B) {
	bin := benchBinary(b)
	addrs := codeAddresses(b, bin, 2000)
	trace := addrs[:40]
	b.Run("cold-40-frames", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			s := NewSymbolizer()
			sb, err := s.Open(bin)
			if err != nil {
				b.Fatal(err)
			}
			for _, a := range trace {
				_ = sb.Symbolize(a)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(trace)), "ns/frame")
	})
	b.Run("cached", func(b *testing.B) {
		sb, err := NewSymbolizer().Open(bin)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range addrs {
			_ = sb.Symbolize(a)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, a := range addrs {
				_ = sb.Symbolize(a)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(addrs)), "ns/frame")
	})
}

// BenchmarkLLVMComparison measures, in one run and on the same inputs:
// symbolizing one 40-frame trace from nothing (a new llvm-symbolizer
// process against a new Symbolizer); symbolizing N code addresses of the
// ASan fuzz binary with llvm-symbolizer (one process, all addresses on
// stdin: its own caching applies) against ours cold (new index) and
// cached; and demangling every Rust and C++
// symbol of the fixture binaries with llvm-cxxfilt (one process) against
// Demangle. Ratios are theirs/ours: above 1 means we are faster.
func BenchmarkLLVMComparison(b *testing.B) {
	bin := benchBinary(b)
	addrs := codeAddresses(b, bin, 2000)
	var in strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&in, "0x%x\n", a)
	}
	syms := fixture.MangledSymbols(b)
	symIn := strings.Join(syms, "\n") + "\n"

	// One trace's worth: what a crash costs when nothing is cached yet
	// (ASan starts llvm-symbolizer per crash).
	trace := addrs[:40]
	var traceIn strings.Builder
	for _, a := range trace {
		fmt.Fprintf(&traceIn, "0x%x\n", a)
	}

	var llvmSym, oursCold, oursCached, llvmFilt, oursDem, llvmTrace, oursTrace time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, err := procrun.Run(context.Background(), procrun.Spec{
			Path: llvmSymbolizer, Args: []string{"--obj=" + bin, "--inlining", "--output-style=JSON"},
			Stdin: []byte(traceIn.String()), Timeout: 5 * time.Minute,
		})
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("llvm-symbolizer: %v", err)
		}
		llvmTrace += time.Since(start)

		start = time.Now()
		tb, err := NewSymbolizer().Open(bin)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range trace {
			_ = tb.Symbolize(a)
		}
		oursTrace += time.Since(start)

		start = time.Now()
		res, err = procrun.Run(context.Background(), procrun.Spec{
			Path: llvmSymbolizer, Args: []string{"--obj=" + bin, "--inlining", "--output-style=JSON"},
			Stdin: []byte(in.String()), Timeout: 5 * time.Minute,
		})
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("llvm-symbolizer: %v", err)
		}
		llvmSym += time.Since(start)

		start = time.Now()
		sb, err := NewSymbolizer().Open(bin)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range addrs {
			_ = sb.Symbolize(a)
		}
		oursCold += time.Since(start)

		start = time.Now()
		for _, a := range addrs {
			_ = sb.Symbolize(a)
		}
		oursCached += time.Since(start)

		start = time.Now()
		res, err = procrun.Run(context.Background(), procrun.Spec{
			Path: llvmCxxfilt, Stdin: []byte(symIn), Timeout: 5 * time.Minute,
		})
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("llvm-cxxfilt: %v", err)
		}
		llvmFilt += time.Since(start)

		start = time.Now()
		for _, s := range syms {
			_ = symbolize.Demangle(s)
		}
		oursDem += time.Since(start)
	}
	n := float64(b.N)
	perFrame := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / n / float64(len(addrs)) }
	perSym := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / n / float64(len(syms)) }
	b.ReportMetric(float64(len(addrs)), "frames")
	b.ReportMetric(perFrame(llvmSym), "llvm-symbolizer-ns/frame")
	b.ReportMetric(perFrame(oursCold), "ours-cold-ns/frame")
	b.ReportMetric(perFrame(oursCached), "ours-cached-ns/frame")
	b.ReportMetric(perFrame(llvmSym)/perFrame(oursCold), "x-cold-vs-llvm")
	b.ReportMetric(perFrame(llvmSym)/perFrame(oursCached), "x-cached-vs-llvm")
	b.ReportMetric(float64(llvmTrace.Nanoseconds())/n/1e6, "llvm-symbolizer-ms/40-frame-trace")
	b.ReportMetric(float64(oursTrace.Nanoseconds())/n/1e6, "ours-cold-ms/40-frame-trace")
	b.ReportMetric(float64(llvmTrace)/float64(oursTrace), "x-trace-cold-vs-llvm")
	b.ReportMetric(float64(len(syms)), "symbols")
	b.ReportMetric(perSym(llvmFilt), "llvm-cxxfilt-ns/symbol")
	b.ReportMetric(perSym(oursDem), "ours-demangle-ns/symbol")
	b.ReportMetric(perSym(llvmFilt)/perSym(oursDem), "x-demangle-vs-cxxfilt")
}
