// Command bench measures `triage run` on a nightly-sized workload: a private
// copy of the fixture workspace whose artifact directories hold a few
// hundred crash artifacts found by fuzzing the fixture's targets (libFuzzer
// fork mode, as a nightly campaign runs), then one timed `triage run`.
//
// It prints, measured in the same invocation: the wall time, artifacts per
// second, lldb sessions and minimizations per bucket, and the ratio of the
// wall time to the floor, the floor being the sum of one reproduction run
// per artifact (measured here, sequentially, with RUST_BACKTRACE=1 as the
// pipeline's first try runs) divided by the cores.
//
//	go run ./bench                       # fuzz 60 s per target, then measure
//	go run ./bench -from /tmp/fuzzruns   # sample artifacts of earlier campaigns
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
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

func main() {
	n := flag.Int("n", 300, "artifacts in the workload (the fixture's committed ones, then fuzzer-found ones)")
	timeouts := flag.Int("timeouts", 0, "at most this many fuzzer-found timeout- artifacts (the committed inputs have 4; each costs seconds per run)")
	from := flag.String("from", "", "sample artifacts from DIR/<target>/art/ (earlier campaigns) instead of fuzzing")
	fuzzSecs := flag.Int("fuzz-seconds", 60, "fuzzing time per target when generating")
	jobs := flag.Int("j", runtime.NumCPU(), "triage run -j")
	keep := flag.Bool("keep", false, "keep the workspace copy (its path is printed)")
	seed := flag.Int64("seed", 1, "sampling seed")
	noCommitted := flag.Bool("no-committed", false, "leave out the fixture's committed inputs (only fuzzer-found ones)")
	flag.Parse()
	if err := bench(*n, *timeouts, *from, *fuzzSecs, *jobs, *keep, *seed, !*noCommitted); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func bench(n, maxTimeouts int, from string, fuzzSecs, jobs int, keep bool, seed int64, withCommitted bool) error {
	ctx := context.Background()
	root := fixture.Root()
	tmp, err := os.MkdirTemp("", "triage-bench-*")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(tmp)
	}
	ws := filepath.Join(tmp, "fuzzws")
	if err := copyWorkspace(root, ws); err != nil {
		return err
	}
	w, err := triage.Discover(ws)
	if err != nil {
		return err
	}
	// The workload: the fixture's committed inputs (every planted bug,
	// timeouts and OOMs included), then what fuzzing finds, up to n.
	fmt.Printf("workspace copy: %s\n", ws)
	if !withCommitted {
		for _, t := range w.Targets {
			if err := os.RemoveAll(t.ArtifactDir()); err != nil {
				return err
			}
			if err := os.MkdirAll(t.ArtifactDir(), 0o755); err != nil {
				return err
			}
		}
	}
	committed := len(workload(w))
	start := time.Now()
	if from != "" {
		err = sample(w, from, n-committed, maxTimeouts, seed)
	} else {
		err = fuzz(ctx, w, fuzzSecs, n, maxTimeouts, seed)
	}
	if err != nil {
		return err
	}
	arts := workload(w)
	fmt.Printf("workload: %d artifacts (%s: %d committed, %d fuzzer-found) prepared in %s\n", len(arts), kinds(arts), committed, len(arts)-committed, time.Since(start).Round(time.Second))

	floor, err := measureFloor(ctx, w, arts)
	if err != nil {
		return err
	}

	bin := filepath.Join(tmp, "triage")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/triage").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "run", "--no-build", "-j", fmt.Sprint(jobs), "--progress", "never", "--format", "yaml", "--log-level", "warn", ws)
	cmd.Dir = fixture.ModuleRoot()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	runErr := cmd.Run()
	wall := time.Since(t0)
	var rec store.RunRecord
	if err := yaml.Unmarshal(stdout.Bytes(), &rec); err != nil {
		return fmt.Errorf("triage run (%v): unreadable record: %v\n%s", runErr, err, stderr.String())
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
	fmt.Println()
	fmt.Printf("triage run -j %d on %d artifacts, %d cores\n", jobs, len(arts), cores)
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
	fmt.Printf("  phases (ms)               %v\n", rec.PhaseMS)
	if problems := store.CheckStore(filepath.Join(ws, ".triage")); len(problems) > 0 {
		return fmt.Errorf("store check: %s", strings.Join(problems, "\n"))
	}
	return nil
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

// fuzz runs each target in libFuzzer fork mode for secs seconds, as a
// nightly campaign does, with artifacts going into the copy's artifact
// directories, then trims the workload to n (at most maxTimeouts timeouts).
func fuzz(ctx context.Context, w *triage.Workspace, secs, n, maxTimeouts int, seed int64) error {
	before := map[string]bool{}
	for _, a := range workload(w) {
		before[a.Path] = true
	}
	n -= len(before)
	for _, t := range w.Targets {
		corpus, err := os.MkdirTemp("", "triage-bench-corpus-*")
		if err != nil {
			return err
		}
		fmt.Printf("fuzzing %s for %d s\n", t.Name, secs)
		res, err := procrun.Run(ctx, procrun.Spec{
			Path: t.BinaryPath(store.Release),
			Args: []string{"-fork=1", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1",
				"-timeout=3", "-rss_limit_mb=1024", fmt.Sprintf("-max_total_time=%d", secs),
				fmt.Sprintf("-seed=%d", seed), "-artifact_prefix=" + t.ArtifactDir() + "/", corpus},
			Dir:     corpus,
			Env:     []string{"RUST_BACKTRACE=0"},
			Timeout: time.Duration(secs+60) * time.Second,
		})
		os.RemoveAll(corpus)
		if err != nil {
			return err
		}
		_ = res
	}
	// Trim what fuzzing found: keep at most n in all, at most maxTimeouts
	// new timeouts.
	arts := fuzzed(w, before)
	rng := rand.New(rand.NewSource(seed))
	rng.Shuffle(len(arts), func(i, j int) { arts[i], arts[j] = arts[j], arts[i] })
	kept, timeouts := 0, 0
	for _, a := range arts {
		drop := kept >= n
		if a.Kind == store.ArtifactTimeout {
			if timeouts >= maxTimeouts {
				drop = true
			} else if !drop {
				timeouts++
			}
		}
		if drop {
			if err := os.Remove(a.Path); err != nil {
				return err
			}
			continue
		}
		kept++
	}
	return nil
}

// fuzzed lists the artifacts not in before.
func fuzzed(w *triage.Workspace, before map[string]bool) []triage.Artifact {
	var out []triage.Artifact
	for _, a := range workload(w) {
		if !before[a.Path] {
			out = append(out, a)
		}
	}
	return out
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
