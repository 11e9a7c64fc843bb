// Package campaign runs a multi-target fuzzing campaign: every target's
// release binary in libFuzzer fork mode with its share of the cores, each
// supervised (restarted with back-off when it ends early, stopped as a
// group), its status lines parsed into live figures and coverage over
// time, and the figures judged against the fuzzing guide's optimization
// principles (health.go). It knows nothing of workspaces or builds: the
// caller hands it jobs (binary, flags, directories, cores).
package campaign

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/store"
)

// Options configure Run.
type Options struct {
	Duration    time.Duration
	Supervision Supervision
	// Report hears each target's figures as they change (from several
	// goroutines).
	Report func(Progress)
}

// Method says how Run obtains each figure of a target (the record keeps
// it: fork mode's own reporting is thin, and a reader should know what a
// number is).
var Method = map[string]string{
	"execs":         "the #N execution count of the fork parent's last status line, summed over restarts",
	"execs_per_sec": "execs over the seconds the fuzzer processes ran (fork mode's own exec/s reads 0 while jobs crash)",
	"cov, features": "cov: and ft: of the fork parent's status lines (one per finished job); start is the first line, end the largest",
	"corpus":        "files in the corpus directory before and after the campaign (and after cmin)",
	"artifacts":     "files that appeared in the artifact directory, by libFuzzer's name prefix (one file per distinct input)",
	"reported":      "fork mode's oom/timeout/crash counters: every failing job, repeats included",
	"samples":       "one per status line (evenly thinned to at most 300): seconds since the start, execs, cov, ft, corpus",
	"max_len":       "the last -max_len= of the target's flags; corpus_at_max_len counts corpus files at least that long",
	"edges":         "the inline 8-bit counters of libFuzzer's start-up line (INFO: Loaded N modules (M inline 8-bit counters))",
}

var errNoJobs = errors.New("campaign: no targets to fuzz")

// Run fuzzes every job until the duration has passed or ctx is done
// (then every fuzzer is stopped, and the figures so far are returned).
// One job's failure never stops the others.
func Run(ctx context.Context, jobs []*Job, opts Options) ([]store.CampaignTarget, error) {
	if len(jobs) == 0 {
		return nil, errNoJobs
	}
	sup := opts.Supervision
	if sup == (Supervision{}) {
		sup = DefaultSupervision
	}
	start := time.Now()
	deadline := start.Add(opts.Duration)
	sups := make([]*supervisor, len(jobs))
	before := make([]dirCounts, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		for _, d := range []string{j.Corpus, j.Artifacts} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("%s: %w", j.Name, err)
			}
		}
		before[i] = countDir(j.Artifacts, j.Corpus)
		sups[i] = &supervisor{job: j, sup: sup, start: start, deadline: deadline, report: opts.Report}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sups[i].run(ctx)
		}()
	}
	wg.Wait()
	out := make([]store.CampaignTarget, len(jobs))
	for i, s := range sups {
		out[i] = s.result()
		after := countDir(jobs[i].Artifacts, jobs[i].Corpus)
		out[i].CorpusBefore, out[i].CorpusAfter = before[i].corpus, after.corpus
		if n := maxLen(jobs[i].Flags); n > 0 {
			out[i].MaxLen, out[i].CorpusAtMaxLen = n, countAtLeast(jobs[i].Corpus, int64(n))
		}
		out[i].Artifacts = map[store.ArtifactKind]int{}
		for name := range after.artifacts {
			if !before[i].artifacts[name] {
				out[i].Artifacts[store.KindOfArtifact(name)]++
			}
		}
	}
	return out, nil
}

type dirCounts struct {
	corpus    int
	artifacts map[string]bool
}

// countDir counts the corpus's regular files and names the artifacts.
func countDir(artifacts, corpus string) dirCounts {
	c := dirCounts{artifacts: map[string]bool{}}
	if es, err := os.ReadDir(artifacts); err == nil {
		for _, e := range es {
			if e.Type().IsRegular() {
				c.artifacts[e.Name()] = true
			}
		}
	}
	c.corpus = CountFiles(corpus)
	return c
}

// CountFiles counts the regular files directly in dir.
func CountFiles(dir string) int {
	n := 0
	if es, err := os.ReadDir(dir); err == nil {
		for _, e := range es {
			if e.Type().IsRegular() {
				n++
			}
		}
	}
	return n
}

// MeasureEdges runs the binary on an empty input once (-runs=0 on an
// empty directory) and reads the instrumented edges from its start-up
// lines: the default weight of a target without one in triage.yaml (a
// complex device has many more than a small parser).
func MeasureEdges(ctx context.Context, binary, scratch string) (int, error) {
	dir, err := os.MkdirTemp(scratch, "edges-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		return 0, err
	}
	res, err := procrun.Run(ctx, procrun.Spec{Path: binary, Args: []string{"-runs=0", "-artifact_prefix=" + dir + "/", empty},
		Dir: dir, Unset: []string{"RUST_BACKTRACE"}, Timeout: time.Minute, OutputCap: 64 << 10})
	if err != nil {
		return 0, err
	}
	n, ok := ParseEdges(string(res.Stderr))
	if !ok {
		return 0, fmt.Errorf("%s printed no \"INFO: Loaded N modules (M inline 8-bit counters)\" line (exit status %d): not a libFuzzer binary built with inline 8-bit counters?", binary, res.ExitCode)
	}
	return n, nil
}

// maxLen is the last -max_len= of flags (0 when none).
func maxLen(flags []string) int {
	n := 0
	for _, f := range flags {
		if v, ok := strings.CutPrefix(f, "-max_len="); ok {
			if x, err := strconv.Atoi(v); err == nil && x > 0 {
				n = x
			}
		}
	}
	return n
}

// countAtLeast counts dir's regular files of at least size bytes.
func countAtLeast(dir string, size int64) int {
	n := 0
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() && fi.Size() >= size {
			n++
		}
	}
	return n
}
