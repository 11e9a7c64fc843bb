package dedupe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fuzztriage/triage/crashkind"
	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/symbolize"
)

// These tests build the fixture's fuzz binaries, run real crash inputs
// through them and bucket what the binaries print: the ground truth is
// bugs.yaml and the `// BUG(id)` markers, never the key itself.

// variant is one way of building the fixture workspace.
type variant struct {
	name string
	root string
	args []string // fuzz-build arguments
}

func releaseVariant() variant { return variant{name: "release", root: fixture.Root()} }
func devVariant() variant     { return variant{name: "dev", root: fixture.Root(), args: []string{"--dev"}} }
func asanVariant() variant {
	root := fixture.Root()
	return variant{name: "asan", root: root, args: fixture.ASanArgs(root)}
}

func (v variant) build(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the fixture's fuzz binaries")
	}
	fixture.Build(t, v.root, v.args...)
}

func (v variant) binary(t *testing.T, target string) string {
	return fixture.BinaryPath(t, v.root, target, v.args...)
}

// run is one input run through one build.
type run struct {
	target string
	input  string // path of the input file
	bug    string // ground truth, "" until labelled
	exit   int
	log    []byte
	trace  *symbolize.Trace
	binary string
}

func (r *run) name() string { return r.target + "/" + filepath.Base(r.input) }

// crash is the run as dedupe sees it: options carry the target and, when
// withResolver, the binary whose debug info maps the panic location.
func (r *run) crash(withResolver bool) Crash {
	opt := Options{Target: r.target}
	if withResolver {
		opt.Binary = r.binary
	}
	return Crash{Name: r.name(), Trace: r.trace, Options: opt}
}

// reproFlags are the libFuzzer flags an input needs to reproduce quickly,
// from the manifest or, for extra inputs, from libFuzzer's artifact name.
func reproFlags(input string, bug *fixture.Bug) []string {
	if bug != nil {
		return bug.ReproFlags
	}
	switch base := filepath.Base(input); {
	case strings.HasPrefix(base, "timeout-"):
		return []string{"-timeout=2"}
	case strings.HasPrefix(base, "oom-"):
		return []string{"-rss_limit_mb=512"}
	}
	return nil
}

// runAll runs every input through v's binaries, two at a time, with
// RUST_BACKTRACE=1, and parses each log.
func runAll(t *testing.T, v variant, runs []*run, bugs map[string]*fixture.Bug) {
	t.Helper()
	bins := map[string]string{}
	for _, r := range runs {
		if bins[r.target] == "" {
			bins[r.target] = v.binary(t, r.target)
		}
		r.binary = bins[r.target]
	}
	start := time.Now()
	jobs := make(chan *run)
	errs := make(chan error, len(runs))
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				errs <- runOne(r, bugs[r.bug])
			}
		}()
	}
	for _, r := range runs {
		jobs <- r
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%s: ran %d inputs in %v", v.name, len(runs), time.Since(start).Round(time.Millisecond))
}

func runOne(r *run, bug *fixture.Bug) error {
	args := append(append([]string(nil), reproFlags(r.input, bug)...), r.input)
	res, err := procrun.Run(context.Background(), procrun.Spec{
		Path:    r.binary,
		Args:    args,
		Env:     []string{"RUST_BACKTRACE=1"},
		Timeout: 2 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("%s: %v", r.name(), err)
	}
	if res.TimedOut {
		return fmt.Errorf("%s: did not finish in 2 minutes", r.name())
	}
	r.exit, r.log = res.ExitCode, append(res.Stdout, res.Stderr...)
	tr, err := symbolize.Parse(r.log)
	if err != nil {
		return fmt.Errorf("%s: parsing its log: %v\n%s", r.name(), err, r.log)
	}
	r.trace = tr
	if crashkind.Of(tr.Kind).LLDBStack && len(appFrames(tr.Frames)) == 0 {
		// What the pipeline does for a log without a stack: the stack
		// lldb sees where the limit fires.
		return lldbStack(r, args[:len(args)-1])
	}
	return nil
}

// lldbStack adds to r's trace the stack lldb sees where the crash's limit
// fires (the pipeline's runUnderLLDB, without the verdict).
func lldbStack(r *run, flags []string) error {
	if _, err := os.Stat("/usr/bin/lldb-19"); err != nil {
		return nil // the key then falls back to the target, as without lldb
	}
	dir, err := os.MkdirTemp("", "dedupe-lldb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	spec := &lldbscript.Spec{Binary: r.binary, Args: flags, Input: r.input, Kind: r.trace.Kind, BacktraceDepth: 256}
	res, err := lldbscript.Run(context.Background(), spec, lldbscript.RunOptions{LLDB: "lldb-19", Timeout: 2 * time.Minute, Dir: dir, Formatters: lldbscript.FormattersNone})
	if err != nil || res.Session == nil {
		return fmt.Errorf("%s: lldb: %v", r.name(), err)
	}
	frames := make([]symbolize.Frame, len(res.Session.Backtrace))
	for i, f := range res.Session.Backtrace {
		frames[i] = symbolize.Frame{Index: f.Index, Function: f.Function, Normalized: symbolize.Normalize(f.Function), File: f.File, Line: f.Line, Inlined: f.Inlined}
	}
	symbolize.DefaultRules().TagFrames(frames)
	r.trace.Backtraces = append(r.trace.Backtraces, symbolize.Backtrace{Source: symbolize.SourceLLDB, Role: symbolize.RoleCrash, Frames: frames})
	r.trace.Frames = r.trace.Backtraces[len(r.trace.Backtraces)-1].Frames
	return nil
}

// manifestRuns lists every committed input of the manifest, labelled.
func manifestRuns(t *testing.T, m *fixture.Manifest, only func(*fixture.Bug) []fixture.Input) []*run {
	var runs []*run
	for _, b := range m.Bugs {
		inputs := b.Inputs
		if only != nil {
			inputs = only(b)
		}
		for _, in := range inputs {
			runs = append(runs, &run{target: b.Target, input: fixture.ArtifactPath(fixture.Root(), b.Target, in.File), bug: b.ID})
		}
	}
	return runs
}

// firstInputs keeps one input per bug, and one per caller of a bug reached
// from several callers.
func firstInputs(b *fixture.Bug) []fixture.Input {
	if len(b.Callers) == 0 {
		return b.Inputs[:1]
	}
	var out []fixture.Input
	var callers []string
	for c := range b.Callers {
		callers = append(callers, c)
	}
	sort.Strings(callers)
	for _, c := range callers {
		out = append(out, fixture.Input{File: b.Callers[c][0]})
	}
	return out
}

func loadManifest(t *testing.T) (*fixture.Manifest, map[string]*fixture.Bug) {
	t.Helper()
	m, err := fixture.LoadManifest(fixture.Root())
	if err != nil {
		t.Fatal(err)
	}
	bugs := map[string]*fixture.Bug{}
	for _, b := range m.Bugs {
		bugs[b.ID] = b
	}
	return m, bugs
}

// The release runs of every committed input are shared by several tests.
var (
	releaseOnce sync.Once
	releaseRes  []*run
	releaseErr  string
)

func releaseRunsOfManifest(t *testing.T) []*run {
	t.Helper()
	v := releaseVariant()
	v.build(t)
	releaseOnce.Do(func() {
		// Run inside a sub-test-free closure: failures are kept and
		// reported to every caller.
		m, bugs := loadManifest(t)
		runs := manifestRuns(t, m, nil)
		ok := t.Run("reproduce-release", func(t *testing.T) { runAll(t, v, runs, bugs) })
		if !ok {
			releaseErr = "reproducing the committed inputs on the release build failed"
			return
		}
		releaseRes = runs
	})
	if releaseErr != "" {
		t.Fatal(releaseErr)
	}
	return releaseRes
}

// labelByLocation is the ground truth for an input: the bug whose marker
// line is the panic location, or for crashes without a panic the bug of
// that kind in that target. "" when nothing matches.
func labelByLocation(tr *symbolize.Trace, target string, m *fixture.Manifest) string {
	if tr.Location != nil {
		for _, b := range m.Bugs {
			if tr.Location.Line == b.Line && (tr.Location.File == b.File || strings.HasSuffix(tr.Location.File, "/"+b.File)) {
				return b.ID
			}
		}
		return ""
	}
	kind := string(tr.Kind)
	if k, ok := manifestKinds[kind]; ok {
		kind = k
	}
	// Crashes without a panic location: the bug of that kind in that
	// target whose function is the top in-app frame (a target has two
	// hangs), else the only one of that kind.
	var top string
	if app := appFrames(tr.Frames); len(app) > 0 {
		top = symbolize.ShortName(frameName(app[0]))
	}
	only, n := "", 0
	for _, b := range m.Bugs {
		if b.Target == target && b.Kind == kind {
			if top != "" && symbolize.ShortName(b.Function) == top {
				return b.ID
			}
			only, n = b.ID, n+1
		}
	}
	if n == 1 {
		return only
	}
	return ""
}

// manifestKinds names the manifest's bug class of a crash kind where the
// two differ: ASan reports an allocation the allocator refuses as
// allocation-size-too-big, a plain build as a failed allocation.
var manifestKinds = map[string]string{
	symbolize.ASanKindPrefix + "allocation-size-too-big": "alloc-failure",
}

// pairwise computes pairwise precision and recall of a bucketing against
// the ground truth: over all pairs of inputs, precision = pairs in one
// bucket that are one bug / pairs in one bucket; recall = pairs that are
// one bug and in one bucket / pairs that are one bug.
func pairwise(ids []BucketID, bugs []string) (precision, recall float64) {
	sameBucket, sameBug, both := 0, 0, 0
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			sb, sg := ids[i] == ids[j], bugs[i] == bugs[j]
			if sb {
				sameBucket++
			}
			if sg {
				sameBug++
			}
			if sb && sg {
				both++
			}
		}
	}
	precision, recall = 1, 1
	if sameBucket > 0 {
		precision = float64(both) / float64(sameBucket)
	}
	if sameBug > 0 {
		recall = float64(both) / float64(sameBug)
	}
	return precision, recall
}

// checkOneBucketPerBug asserts the bucketing of runs matches their labels
// exactly and returns the bucket of each bug.
func checkOneBucketPerBug(t *testing.T, runs []*run, withResolver bool) map[string]BucketID {
	t.Helper()
	bucketOfBug := map[string]BucketID{}
	bugOfBucket := map[BucketID]string{}
	var ids []BucketID
	var labels []string
	for _, r := range runs {
		k := KeyFor(r.trace, r.crash(withResolver).Options)
		id := k.ID()
		ids, labels = append(ids, id), append(labels, r.bug)
		if prev, ok := bucketOfBug[r.bug]; ok && prev != id {
			t.Errorf("bug %s split: %s is in %s (%s), an earlier input in %s", r.bug, r.name(), id, k, prev)
		}
		if prev, ok := bugOfBucket[id]; ok && prev != r.bug {
			t.Errorf("bucket %s (%s) holds two bugs: %s and %s (%s)", id, k, prev, r.bug, r.name())
		}
		bucketOfBug[r.bug], bugOfBucket[id] = id, r.bug
	}
	p, rc := pairwise(ids, labels)
	t.Logf("%d inputs, %d bugs, %d buckets, pairwise precision %.3f recall %.3f", len(runs), len(bucketOfBug), len(bugOfBucket), p, rc)
	if p != 1 || rc != 1 {
		t.Errorf("pairwise precision %.3f recall %.3f, want 1 and 1", p, rc)
	}
	return bucketOfBug
}
