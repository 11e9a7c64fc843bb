package triage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/fuzztriage/triage/coverage"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/llvmcov"
	"github.com/fuzztriage/triage/store"
)

// CoverageOptions configure `triage coverage`.
type CoverageOptions struct {
	Config  *Config
	Targets []string
	// Artifacts also replays the targets' crash artifacts.
	Artifacts bool
	// LLVMBin is a directory holding llvm-profdata and llvm-cov.
	LLVMBin string
	// LCOV, when set, receives each target's lcov export.
	LCOV io.Writer
	// NoRecord leaves the history alone (the run is still compared).
	NoRecord bool
	// ProfileDir, when set, keeps each target's merged profile there as
	// <target>.profdata (for llvm-cov by hand).
	ProfileDir string
	Log        logrus.FieldLogger
}

// CoverageResult is one target's coverage.
type CoverageResult struct {
	Target string
	Binary string
	Report *coverage.Report
	Record *store.CoverageRecord
	// Previous is the last record before this one (nil: none) and
	// Comparison the ratchet's view of both.
	Previous   *store.CoverageRecord
	Comparison *coverage.Comparison
	// Crashers are the replayed inputs that crashed (their counts are in).
	Crashers []string
	Inputs   int
	Tools    string
}

// Coverage builds each target's coverage binary, replays its corpus (and
// artifacts), merges and exports the profile with the LLVM tools that
// match rustc, and reports it by scope with classified gaps; each target's
// summary joins its history in the store.
func Coverage(ctx context.Context, ws *Workspace, opts CoverageOptions) ([]*CoverageResult, error) {
	cfg, log := configAndLog(opts.Config, opts.Log)
	targets, err := selectTargets(ws, opts.Targets)
	if err != nil {
		return nil, err
	}
	major, sysroot, err := llvmcov.RustcLLVM(ctx, cfg.Coverage.Toolchain)
	if err != nil {
		return nil, err
	}
	tools, err := llvmcov.Find(ctx, major, opts.LLVMBin, sysroot)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(cfg.StoreDir(ws.Root))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var out []*CoverageResult
	for _, t := range targets {
		r, err := coverageOf(ctx, ws, t, st, tools, cfg, opts, log)
		if err != nil {
			return out, fmt.Errorf("%s: %w", t.Name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

func coverageOf(ctx context.Context, ws *Workspace, t *Target, st *store.Store, tools *llvmcov.Tools, cfg *Config, opts CoverageOptions, log logrus.FieldLogger) (*CoverageResult, error) {
	bin, err := EnsureBinary(ctx, ws, t.Name, store.Coverage, cfg)
	if err != nil {
		return nil, err
	}
	inputs := regularFiles(t.CorpusDir())
	if opts.Artifacts {
		for _, p := range regularFiles(t.ArtifactDir()) {
			if reproducedKind(store.KindOfArtifact(filepath.Base(p))) {
				inputs = append(inputs, p)
			}
		}
	}
	if len(inputs) == 0 {
		return nil, fmt.Errorf("%w: %s is empty (run triage fuzz first)", ErrNoCorpus, ws.Rel(t.CorpusDir()))
	}
	scratch, err := st.MkdirTemp("coverage-" + t.Name + "-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	start := time.Now()
	crashers, raws, err := replay(ctx, bin, inputs, scratch, t, cfg)
	if err != nil {
		return nil, err
	}
	profdata := filepath.Join(scratch, "merged.profdata")
	if err := tools.Merge(ctx, profdata, raws); err != nil {
		return nil, err
	}
	if opts.ProfileDir != "" {
		data, err := os.ReadFile(profdata)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(opts.ProfileDir, t.Name+".profdata"), data, 0o644); err != nil {
			return nil, err
		}
	}
	export, err := tools.Export(ctx, profdata, []string{bin})
	if err != nil {
		return nil, err
	}
	lcov, err := tools.LCOV(ctx, profdata, []string{bin}, opts.LCOV)
	if err != nil {
		return nil, err
	}
	argv, _, _ := BuildCommand(ws, t, store.Coverage, &cfg.Build)
	build := strings.Join(argv, " ")
	if !strings.Contains(build, "instrument-coverage") {
		build += " (" + CoverageRustflags + ")"
	}
	tc := cfg.Coverage.Targets[t.Name]
	rewrites, _ := ParsePathMap(cfg.Bucket.PathMap) // validated with the config
	rules := &coverage.Rules{Root: ws.Root, Crate: t.CrateDir, Fuzz: t.FuzzDir, Primary: tc.Primary, Secondary: tc.Secondary, Out: tc.Out,
		Exclude: cfg.Coverage.Exclude, Rewrite: ws.CrateMap(rewrites).Rewrite}
	rep := coverage.Build(coverage.Input{Target: t.Name, Build: build, Rules: rules, Goal: cfg.Coverage.Goal, Export: export, LCOV: lcov,
		Source: func(abs string) []string { return sourceLines(ws.Root, abs) }})
	res := &CoverageResult{Target: t.Name, Binary: bin, Report: rep, Crashers: crashers, Inputs: len(inputs), Tools: fmt.Sprintf("LLVM %d tools from %s", tools.Major, tools.From)}
	res.Record = coverage.Record(rep, time.Now(), len(inputs), len(crashers))
	history, bad, err := st.CoverageHistory(t.Name)
	if err != nil {
		return nil, err
	}
	for _, b := range bad {
		log.WithError(b).Warn("unreadable coverage record (left alone)")
	}
	if len(history) > 0 {
		res.Previous = history[len(history)-1]
		if res.Comparison, err = coverage.Compare(res.Previous, res.Record, cfg.Coverage.Tolerance); err != nil {
			return nil, err
		}
	}
	if !opts.NoRecord {
		if _, err := st.WriteCoverage(res.Record); err != nil {
			return nil, err
		}
		data, err := json.Marshal(rep.Detail())
		if err != nil {
			return nil, err
		}
		if err := st.WriteCoverageDetail(t.Name, data); err != nil {
			return nil, err
		}
	}
	log.WithFields(logrus.Fields{"target": t.Name, "inputs": len(inputs), "crashers": len(crashers), "primary_lines": rep.PrimaryLines,
		"seconds": time.Since(start).Seconds()}).Info("coverage")
	return res, nil
}

// regularFiles lists dir's regular files, sorted.
func regularFiles(dir string) []string {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range es {
		if e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// sourceLines reads a workspace source file's lines (nothing for files
// outside the workspace or too large to be source).
func sourceLines(root, abs string) []string {
	if rel, err := filepath.Rel(root, abs); err != nil || strings.HasPrefix(rel, "..") {
		return nil
	}
	fi, err := os.Lstat(abs)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > 8<<20 {
		return nil
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil
	}
	return strings.Split(string(data), "\n")
}

// replayBatchBytes bounds one replay process's argument list (ARG_MAX
// is 2 MiB here; the environment shares it).
const replayBatchBytes = 512 << 10

// replay runs the coverage binary over the inputs the fast way: one
// process over many files (libFuzzer runs each file once), counters in
// continuous mode (%c) so that a crashing input's counts are kept, and on
// a crash a new process from the input after the one that crashed (the
// last "Running:" line names it). It returns the crashing inputs and the
// raw profiles written.
func replay(ctx context.Context, bin string, inputs []string, scratch string, t *Target, cfg *Config) (crashers, raws []string, err error) {
	raw := filepath.Join(scratch, "raw")
	art := filepath.Join(scratch, "artifacts")
	for _, d := range []string{raw, art} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, nil, err
		}
	}
	timeout := cfg.Reproduce.LibFuzzerTimeout
	if timeout == 0 {
		timeout = 5
	}
	rss := cfg.Reproduce.RSSLimitMB
	if rss == 0 {
		rss = 2048
	}
	flags := []string{"-timeout=" + strconv.Itoa(timeout), "-rss_limit_mb=" + strconv.Itoa(rss), "-artifact_prefix=" + art + "/"}
	for _, o := range t.Options {
		if strings.HasPrefix(o, "-max_len=") {
			flags = append(flags, o)
		}
	}
	rest := inputs
	for len(rest) > 0 {
		batch, size := rest, 0
		for i, p := range rest {
			size += len(p) + 1
			if size > replayBatchBytes {
				batch = rest[:i]
				break
			}
		}
		res, err := procrun.Run(ctx, procrun.Spec{Path: bin, Args: append(append([]string{}, flags...), batch...), Dir: scratch,
			Env: append([]string{"LLVM_PROFILE_FILE=" + filepath.Join(raw, "%c%m.profraw")}, cfg.Reproduce.Env...), Unset: []string{"RUST_BACKTRACE"},
			Timeout: cfg.Coverage.Timeout.D(), KillGrace: 2 * time.Second, OutputCap: 4 << 20})
		if err != nil {
			return nil, nil, err
		}
		if res.Canceled {
			return nil, nil, ctx.Err()
		}
		if bytes.Contains(res.Stderr, []byte("LLVM Profile Error")) {
			return nil, nil, fmt.Errorf("%s cannot write its profile in continuous mode (%s): build it with %s", bin, lineWith(res.Stderr, "LLVM Profile Error"), CoverageRustflags)
		}
		if res.ExitCode == 0 && !res.TimedOut {
			rest = rest[len(batch):]
			continue
		}
		last := lastRunning(res.Stderr)
		i := slices.Index(batch, last)
		if i < 0 {
			return nil, nil, fmt.Errorf("the coverage binary failed before running an input (exit status %d, timed out %v): %s", res.ExitCode, res.TimedOut, tailText(string(res.Stderr), 600))
		}
		crashers = append(crashers, batch[i])
		rest = rest[i+1:]
	}
	if raws, _ = filepath.Glob(filepath.Join(raw, "*.profraw")); len(raws) == 0 {
		return nil, nil, fmt.Errorf("%s wrote no profile (LLVM_PROFILE_FILE in %s): is it built with -Cinstrument-coverage?", bin, raw)
	}
	return crashers, raws, nil
}

// lastRunning is the input of libFuzzer's last "Running: PATH" line.
func lastRunning(stderr []byte) string {
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "Running: "); ok {
			last = p
		}
	}
	return last
}

// lineWith is the first line of b that contains s, trimmed.
func lineWith(b []byte, prefix string) string {
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, prefix) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// ErrNoCorpus says a target has nothing to replay.
var ErrNoCorpus = errors.New("nothing to replay")
