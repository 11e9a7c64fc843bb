package symbolize

// Benchmarks. bench/symbolize.sh runs them all; figures for the README
// come from it. BenchmarkLLVMComparison runs llvm-symbolizer and
// llvm-cxxfilt on the same inputs as ours in the same run and reports the
// ratios.

import (
	"os"
	"path/filepath"
	"testing"
)

// benchTraces are captured logs of about 40 frames: the kind of trace a
// nightly run parses thousands of.
var benchTraces = []string{
	"dev/ide-stats-borrow.bt-full.log",   // 43 frames, legacy + v0 names, DWARF short names
	"release/cmos-index-oob.bt-full.log", // 36 frames
	"asan/battery-unwrap-pack.bt-1.log",  // two backtraces (Rust's and ASan's)
}

func readBenchLog(b *testing.B, name string) []byte {
	data, err := os.ReadFile(filepath.Join(logsDir, name))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkParse: parse + demangle + normalize + tag one trace. The
// "uncached" variant clears the category rules' memo every iteration, as
// for a trace whose frames were never seen; the default keeps it, as in a
// nightly run where the same frames recur.
func BenchmarkParse(b *testing.B) {
	for _, name := range benchTraces {
		log := readBenchLog(b, name)
		t, err := Parse(log)
		if err != nil {
			b.Fatal(err)
		}
		frames := 0
		for _, bt := range t.Backtraces {
			frames += len(bt.Frames)
		}
		for _, uncached := range []bool{false, true} {
			label := name
			if uncached {
				label += "/uncached-rules"
			}
			b.Run(label, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(log)))
				for i := 0; i < b.N; i++ {
					if uncached {
						DefaultRules().clearCache()
					}
					if _, err := Parse(log); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(frames), "frames/trace")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(frames), "ns/frame")
			})
		}
	}
}

// BenchmarkNormalize: demangle + normalize the names of every frame of the
// captured logs, per name.
func BenchmarkNormalize(b *testing.B) {
	var names []string
	for _, name := range benchTraces {
		t, _ := Parse(readBenchLog(b, name))
		for _, bt := range t.Backtraces {
			for _, f := range bt.Frames {
				if f.Raw != "" {
					names = append(names, f.Raw)
				}
			}
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, n := range names {
			_ = Normalize(n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(names)), "ns/name")
}
