package main

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
)

// capturedLogs are the real crash logs of symbolize's test corpus.
func capturedLogs(b *testing.B) [][]byte {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join(fixture.ModuleRoot(), "symbolize", "testdata", "logs", "*", "*.log"))
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, data)
	}
	if len(out) == 0 {
		b.Fatal("no captured logs")
	}
	return out
}

var hexAddr = regexp.MustCompile(`0x[0-9a-f]{6,}`)

// varied is a captured log with its addresses changed, as another run of
// the same input prints it.
func varied(log []byte, rng *rand.Rand) []byte {
	return hexAddr.ReplaceAllFunc(log, func([]byte) []byte { return []byte(fmt.Sprintf("0x%012x", rng.Int63n(1<<44))) })
}

// runMeasured runs the binary and returns its wall time and peak RSS.
func runMeasured(b *testing.B, env []string, bin string, args ...string) (time.Duration, int64) {
	b.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
			b.Fatalf("%s %v: %v\n%s", bin, args, err, stderr.String())
		}
	}
	wall := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return wall, ru.Maxrss * 1024
}

// BenchmarkSymbolizeBigLog: `triage symbolize --format json` and the text
// filter on a 50 MB log (a minimizer's log of thousands of inner runs):
// wall time and peak RSS of the process.
//
//	go test -run '^$' -bench BigLog -benchtime 1x ./cmd/triage
func BenchmarkSymbolizeBigLog(b *testing.B) {
	bin := buildTriage(b, b.TempDir())
	logs := capturedLogs(b)
	rng := rand.New(rand.NewSource(1))
	path := filepath.Join(b.TempDir(), "big.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	size := 0
	for i := 0; size < 50<<20; i++ {
		n, _ := f.Write(varied(logs[i%len(logs)], rng))
		size += n
	}
	f.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		wall, rss := runMeasured(b, nil, bin, "symbolize", "--format", "json", path)
		b.ReportMetric(float64(rss)/(1<<20), "MiB-rss-json")
		b.ReportMetric(wall.Seconds(), "s-json")
		wall, rss = runMeasured(b, nil, bin, "symbolize", path)
		b.ReportMetric(float64(rss)/(1<<20), "MiB-rss-text")
		b.ReportMetric(wall.Seconds(), "s-text")
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB-log")
}

// BenchmarkBucketManyLogs: `triage bucket --format json` over 20,900 crash
// logs (about 140 MB, written like real runs of the captured logs) on one
// core, files read and JSON written: logs per second, and peak RSS against
// a tenth of the logs (memory grows with buckets, not logs).
//
//	go test -run '^$' -bench ManyLogs -benchtime 1x ./cmd/triage
func BenchmarkBucketManyLogs(b *testing.B) {
	bin := buildTriage(b, b.TempDir())
	logs := capturedLogs(b)
	rng := rand.New(rand.NewSource(2))
	write := func(dir string, n int) int64 {
		var size int64
		for i := 0; i < n; i++ {
			sub := filepath.Join(dir, fmt.Sprintf("%02d", i%100))
			os.MkdirAll(sub, 0o755)
			data := varied(logs[i%len(logs)], rng)
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("log-%05d.txt", i)), data, 0o644); err != nil {
				b.Fatal(err)
			}
			size += int64(len(data))
		}
		return size
	}
	small, big := b.TempDir(), b.TempDir()
	write(small, 2090)
	size := write(big, 20900)
	env := []string{"GOMAXPROCS=1"}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, rssSmall := runMeasured(b, env, bin, "bucket", "--format", "json", small)
		wall, rss := runMeasured(b, env, bin, "bucket", "--format", "json", big)
		b.ReportMetric(20900/wall.Seconds(), "logs/s")
		b.ReportMetric(float64(rss)/(1<<20), "MiB-rss-20900")
		b.ReportMetric(float64(rssSmall)/(1<<20), "MiB-rss-2090")
		b.ReportMetric(float64(rss)/float64(rssSmall), "rss-ratio")
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB-logs")
}
