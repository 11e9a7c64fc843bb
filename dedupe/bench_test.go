package dedupe

import (
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/symbolize"
)

// benchTraces are the committed fixture logs, parsed: every bug on the
// release, dev and ASan builds (RUST_BACKTRACE=1; ASan logs carry both
// backtraces, 20 to 270 frames).
func benchTraces(b *testing.B) ([]*symbolize.Trace, []string) {
	var traces []*symbolize.Trace
	var targets []string
	for _, g := range goldenLogs(b) {
		traces = append(traces, parseGolden(b, g))
		targets = append(targets, g.target)
	}
	return traces, targets
}

// BenchmarkKeyFor measures keys per second on one core:
//
//	GOMAXPROCS=1 go test ./dedupe -run '^$' -bench KeyFor -benchtime 3s
func BenchmarkKeyFor(b *testing.B) {
	traces, targets := benchTraces(b)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		i := n % len(traces)
		_ = KeyFor(traces[i], Options{Target: targets[i]}).ID()
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkKeyForWithBinary adds the panic location -> function lookup
// through the release binaries' DWARF (indexed once, then cached per
// location, as in a run over many crashes of one target).
func BenchmarkKeyForWithBinary(b *testing.B) {
	traces, targets := benchTraces(b)
	root := fixture.Root()
	fixture.Build(b, root)
	resolvers := map[string]SiteResolver{}
	for _, t := range targets {
		if resolvers[t] == nil {
			r, err := ResolverFor(fixture.BinaryPath(b, root, t))
			if err != nil {
				b.Fatal(err)
			}
			resolvers[t] = r
		}
	}
	for i := range traces {
		_ = KeyFor(traces[i], Options{Target: targets[i], Resolver: resolvers[targets[i]]})
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		i := n % len(traces)
		_ = KeyFor(traces[i], Options{Target: targets[i], Resolver: resolvers[targets[i]]}).ID()
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkSimilarity measures the second tier's pairwise comparison.
func BenchmarkSimilarity(b *testing.B) {
	traces, targets := benchTraces(b)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		i, j := n%len(traces), (n*7+3)%len(traces)
		_ = Similarity(Crash{Trace: traces[i], Options: Options{Target: targets[i]}}, Crash{Trace: traces[j], Options: Options{Target: targets[j]}}, SimilarityParams{})
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pairs/s")
}
