// Command bench measures `triage run` on nightly-sized workloads: for each
// size (300 and 3,000 artifacts by default), a private copy of the fixture
// workspace whose artifact directories hold the fixture's committed inputs
// and artifacts sampled from what fuzzing the fixture's targets found
// (libFuzzer fork mode, as a nightly campaign runs), then one timed
// `triage run`.
//
// It prints, measured in the same invocation for every size: the wall
// time, artifacts per second, lldb sessions and minimizations per bucket,
// the peak RSS of the triage process, what the cores spent above the
// floor, and the ratio of the wall time to the floor, the floor being the
// sum of one reproduction run per artifact (measured here, sequentially,
// with RUST_BACKTRACE=1 as the pipeline's first try runs) divided by the
// cores.
//
//	go run ./bench                       # fuzz 60 s per target, then measure 300 and 3,000
//	go run ./bench -from /tmp/pool       # sample DIR/<target>/art/ of earlier campaigns
//	go run ./bench -sizes 300 -keep      # one size; keep the copies and the pool
//
// The fixture's binaries must be built (scripts/setup does it); the copy
// uses them through symlinks and the run uses --no-build, so build time is
// not part of the figures.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

func main() {
	sizes := flag.String("sizes", "300,3000", "workload sizes (artifacts: the fixture's committed ones, then fuzzer-found ones), each measured in this invocation")
	timeouts := flag.Int("timeouts", 0, "at most this many fuzzer-found timeout- artifacts per workload (the committed inputs have 7; each costs seconds per run)")
	from := flag.String("from", "", "sample artifacts from DIR/<target>/art/ (earlier campaigns) instead of fuzzing")
	fuzzSecs := flag.Int("fuzz-seconds", 60, "fuzzing time per target when generating")
	jobs := flag.Int("j", runtime.NumCPU(), "triage run -j")
	keep := flag.Bool("keep", false, "keep the workspace copies and the artifact pool (their paths are printed)")
	seed := flag.Int64("seed", 1, "sampling seed")
	noCommitted := flag.Bool("no-committed", false, "leave out the fixture's committed inputs (only fuzzer-found ones)")
	flag.Parse()
	var ns []int
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench: -sizes: %q is not a positive number\n", f)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	b := &bencher{maxTimeouts: *timeouts, jobs: *jobs, keep: *keep, seed: *seed, withCommitted: !*noCommitted}
	if err := b.run(ns, *from, *fuzzSecs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bencher holds one invocation's settings.
type bencher struct {
	maxTimeouts   int
	jobs          int
	keep          bool
	seed          int64
	withCommitted bool
	tmp           string
	bin           string
}

// result is one workload's figures.
type result struct {
	n       int
	wall    time.Duration
	floor   time.Duration // one run per artifact / cores
	peakRSS int64         // kB, of the triage process
}

func (b *bencher) run(sizes []int, from string, fuzzSecs int) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "triage-bench-*")
	if err != nil {
		return err
	}
	b.tmp = tmp
	if !b.keep {
		defer os.RemoveAll(tmp)
	}
	b.bin = filepath.Join(tmp, "triage")
	if out, err := exec.Command("go", "build", "-o", b.bin, "./cmd/triage").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	pool := from
	if pool == "" {
		pool = filepath.Join(tmp, "pool")
		start := time.Now()
		if err := b.fuzzPool(ctx, pool, fuzzSecs); err != nil {
			return err
		}
		fmt.Printf("artifact pool: %s (fuzzed in %s)\n", pool, time.Since(start).Round(time.Second))
	}
	var results []result
	for _, n := range sizes {
		r, err := b.measure(ctx, pool, n)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	fmt.Println()
	fmt.Println("summary")
	for _, r := range results {
		fmt.Printf("  %5d artifacts: wall %6.1f s, floor %6.1f s, wall / floor %.2f, peak RSS of triage %.0f MiB\n",
			r.n, r.wall.Seconds(), r.floor.Seconds(), r.wall.Seconds()/r.floor.Seconds(), float64(r.peakRSS)/1024)
	}
	if len(results) > 1 && results[0].peakRSS > 0 {
		last := results[len(results)-1]
		fmt.Printf("  peak RSS at %d artifacts / at %d: %.2f\n", last.n, results[0].n, float64(last.peakRSS)/float64(results[0].peakRSS))
	}
	return nil
}

// measure prepares a workload of n artifacts in a fresh copy of the
// fixture, measures its floor, then times one triage run over it.
func (b *bencher) measure(ctx context.Context, pool string, n int) (result, error) {
	r := result{n: n}
	ws := filepath.Join(b.tmp, fmt.Sprintf("fuzzws-%d", n))
	if err := copyWorkspace(fixture.Root(), ws); err != nil {
		return r, err
	}
	w, err := triage.Discover(ws)
	if err != nil {
		return r, err
	}
	if !b.withCommitted {
		for _, t := range w.Targets {
			if err := os.RemoveAll(t.ArtifactDir()); err != nil {
				return r, err
			}
			if err := os.MkdirAll(t.ArtifactDir(), 0o755); err != nil {
				return r, err
			}
		}
	}
	committed := len(workload(w))
	if err := sample(w, pool, n-committed, b.maxTimeouts, b.seed); err != nil {
		return r, err
	}
	arts := workload(w)
	fmt.Printf("\nworkspace copy: %s\n", ws)
	fmt.Printf("workload: %d artifacts (%s: %d committed, %d fuzzer-found)\n", len(arts), kinds(arts), committed, len(arts)-committed)

	floor, err := measureFloor(ctx, w, arts)
	if err != nil {
		return r, err
	}
	cmd := exec.Command(b.bin, "run", "--no-build", "-j", fmt.Sprint(b.jobs), "--progress", "never", "--format", "yaml", "--log-level", "warn", ws)
	cmd.Dir = fixture.ModuleRoot()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	peak := watchPeakRSS(cmd.Process.Pid)
	runErr := cmd.Wait()
	wall := time.Since(t0)
	r.peakRSS = peak()
	var rec store.RunRecord
	if err := yaml.Unmarshal(stdout.Bytes(), &rec); err != nil {
		return r, fmt.Errorf("triage run (%v): unreadable record: %v\n%s", runErr, err, stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 && code != 0 {
		fmt.Printf("note: triage run exited %d (failures: %d)\n", code, len(rec.Failures))
		for _, f := range rec.Failures {
			fmt.Printf("  [%s] %s %s\n", f.Stage, f.Artifact, firstLine(f.Error))
		}
	}
	buckets := len(rec.NewBuckets) + len(rec.GrownBuckets)
	cores := runtime.NumCPU()
	floorWall := floor / time.Duration(cores)
	r.wall, r.floor = wall, floorWall
	ms := func(v int64) float64 { return float64(v) / 1000 }
	fmt.Printf("triage run -j %d on %d artifacts, %d cores\n", b.jobs, len(arts), cores)
	fmt.Printf("  wall time                 %.1f s\n", wall.Seconds())
	fmt.Printf("  artifacts/s               %.1f\n", float64(rec.Artifacts.Triaged)/wall.Seconds())
	fmt.Printf("  buckets                   %d\n", buckets)
	if buckets > 0 {
		fmt.Printf("  minimizations per bucket  %.2f (%d libFuzzer invocations in all)\n", float64(rec.Work.Minimizations)/float64(buckets), rec.Work.MinimizeInvocations)
		fmt.Printf("  lldb sessions per bucket  %.2f\n", float64(rec.Work.LLDBSessions)/float64(buckets))
		fmt.Printf("  dev reproductions/bucket  %.2f\n", float64(rec.Work.DevReproductions)/float64(buckets))
	}
	fmt.Printf("  reproduction runs         %d (%.2f per artifact)\n", rec.Work.ReproductionRuns, float64(rec.Work.ReproductionRuns)/float64(max(1, rec.Artifacts.Triaged)))
	fmt.Printf("  floor                     %.1f s (one run per artifact: %.1f s / %d cores)\n", floorWall.Seconds(), floor.Seconds(), cores)
	fmt.Printf("  wall / floor              %.2f\n", wall.Seconds()/floorWall.Seconds())
	inRun := time.Duration(rec.Work.FirstTryMS) * time.Millisecond / time.Duration(cores)
	fmt.Printf("  (floor from the run's own first tries: %.1f s, wall / that %.2f)\n", inRun.Seconds(), wall.Seconds()/inRun.Seconds())
	fmt.Printf("  peak RSS of triage        %.0f MiB\n", float64(r.peakRSS)/1024)
	// What the cores spent above the floor, in core-seconds.
	busy := wall.Seconds() * float64(cores)
	fmt.Printf("  above the floor (core-s of %.1f): first tries over the floor's runs %.1f, confirmation tries %.1f, per-bucket work and idle %.1f\n",
		busy, ms(rec.Work.FirstTryMS)-floor.Seconds(), ms(rec.Work.ReproductionMS-rec.Work.FirstTryMS), busy-ms(rec.Work.ReproductionMS))
	fmt.Printf("  phases (ms)               %v (reproduce: until the last first run ended; buckets: the bucket work left after it)\n", rec.PhaseMS)
	if problems := store.CheckStore(filepath.Join(ws, ".triage")); len(problems) > 0 {
		return r, fmt.Errorf("store check: %s", strings.Join(problems, "\n"))
	}
	return r, nil
}

// watchPeakRSS samples the process's high-water mark (VmHWM) until it
// exits; the returned function gives the last value read, in kB.
func watchPeakRSS(pid int) func() int64 {
	var mu sync.Mutex
	var peak int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if kb, ok := vmHWM(pid); ok {
				mu.Lock()
				peak = max(peak, kb)
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() int64 {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// vmHWM reads a process's peak resident set size from /proc.
func vmHWM(pid int) (int64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}

// measureFloor runs every artifact once, one at a time, with the first
// try's settings, and sums the durations.
func measureFloor(ctx context.Context, w *triage.Workspace, arts []triage.Artifact) (time.Duration, error) {
	cfg := triage.DefaultConfig()
	scratch, err := os.MkdirTemp("", "triage-floor-*")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(scratch)
	var sum time.Duration
	for _, a := range arts {
		t := w.Target(a.Target)
		o := &triage.RunOptions{
			Binary: t.BinaryPath(store.Release), Flags: triage.ReproFlags(t, a.Kind, &cfg.Reproduce),
			Timeout: cfg.Reproduce.Timeout.D(), RustBacktrace: "1", ScratchDir: scratch,
		}
		tr, err := triage.RunOnce(ctx, o, a.Path, true)
		if err != nil {
			return 0, err
		}
		sum += time.Duration(tr.DurationMS) * time.Millisecond
	}
	return sum, nil
}

// sample copies up to n artifacts (crash- first, at most maxTimeouts
// timeout-) spread evenly over the targets from DIR/<target>/art/.
func sample(w *triage.Workspace, dir string, n, maxTimeouts int, seed int64) error {
	rng := rand.New(rand.NewSource(seed))
	per := n / len(w.Targets)
	extra := n - per*len(w.Targets)
	var pools [][]string
	for _, t := range w.Targets {
		entries, err := os.ReadDir(filepath.Join(dir, t.Name, "art"))
		if err != nil {
			return fmt.Errorf("sampling: %w", err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		pools = append(pools, names)
	}
	// Targets with fewer artifacts than their share leave it to the others.
	for i, t := range w.Targets {
		want := per
		if i < extra {
			want++
		}
		if len(pools[i]) < want {
			extra += want - len(pools[i])
		}
		_ = t
	}
	timeouts := 0
	total := 0
	for round := 0; total < n; round++ {
		progress := false
		for i, t := range w.Targets {
			if total >= n {
				break
			}
			for len(pools[i]) > 0 {
				name := pools[i][0]
				pools[i] = pools[i][1:]
				if strings.HasPrefix(name, "timeout-") {
					if timeouts >= maxTimeouts {
						continue
					}
					timeouts++
				}
				data, err := os.ReadFile(filepath.Join(dir, t.Name, "art", name))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name), data, 0o644); err != nil {
					return err
				}
				total++
				progress = true
				break
			}
		}
		if !progress {
			break
		}
	}
	return nil
}

// fuzzPool runs each target in libFuzzer fork mode for secs seconds, as a
// nightly campaign does, in a copy of the fixture, and moves what it found
// into pool/<target>/art/ (the layout -from reads).
func (b *bencher) fuzzPool(ctx context.Context, pool string, secs int) error {
	ws := filepath.Join(b.tmp, "fuzzing")
	if err := copyWorkspace(fixture.Root(), ws); err != nil {
		return err
	}
	w, err := triage.Discover(ws)
	if err != nil {
		return err
	}
	for _, t := range w.Targets {
		art := filepath.Join(pool, t.Name, "art")
		if err := os.MkdirAll(art, 0o755); err != nil {
			return err
		}
		corpus, err := os.MkdirTemp(b.tmp, "corpus-*")
		if err != nil {
			return err
		}
		fmt.Printf("fuzzing %s for %d s\n", t.Name, secs)
		_, err = procrun.Run(ctx, procrun.Spec{
			Path: t.BinaryPath(store.Release),
			Args: []string{"-fork=1", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1",
				"-timeout=3", "-rss_limit_mb=1024", fmt.Sprintf("-max_total_time=%d", secs),
				fmt.Sprintf("-seed=%d", b.seed), "-artifact_prefix=" + art + "/", corpus},
			Dir:     corpus,
			Env:     []string{"RUST_BACKTRACE=0"},
			Timeout: time.Duration(secs+60) * time.Second,
		})
		os.RemoveAll(corpus)
		if err != nil {
			return err
		}
		found, _ := os.ReadDir(art)
		fmt.Printf("  %d artifacts\n", len(found))
	}
	return os.RemoveAll(ws)
}

func workload(w *triage.Workspace) []triage.Artifact {
	var out []triage.Artifact
	for _, t := range w.Targets {
		arts, _ := t.Artifacts()
		out = append(out, arts...)
	}
	return out
}

func kinds(arts []triage.Artifact) string {
	count := map[store.ArtifactKind]int{}
	for _, a := range arts {
		count[a.Kind]++
	}
	var parts []string
	for _, k := range store.ArtifactKinds {
		if count[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, count[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// copyWorkspace copies the fixture's sources and links its build output
// (the copy runs with --no-build on the fixture's binaries).
func copyWorkspace(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			switch d.Name() {
			case "target":
				if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
					return err
				}
				if err := os.Symlink(path, out); err != nil {
					return err
				}
				return filepath.SkipDir
			case "target-variants", ".triage", "corpus":
				return filepath.SkipDir
			}
			return os.MkdirAll(out, 0o755)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, info.Mode().Perm())
	})
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
