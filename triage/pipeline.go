package triage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/fuzztriage/triage/dedupe"
	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
	"github.com/fuzztriage/triage/templates"
)

// Options configure a pipeline run.
type Options struct {
	// Config is the workspace's configuration (LoadConfig); nil means the
	// defaults.
	Config *Config
	// Stages are the parse, bucket and lldb stages (DefaultStages).
	Stages Stages
	// Targets limits the run to these targets (all when empty).
	Targets []string
	// Log receives structured events; nil logs nothing.
	Log logrus.FieldLogger
	// Progress, when set, hears about progress (for a progress bar).
	Progress func(Progress)
	// Remote, when set, runs the first reproductions (on workers, through
	// the queue) instead of this process.
	Remote RemoteReproducer
}

// Progress is one progress update.
type Progress struct {
	// Phase is "build", "reproduce", "buckets" or "minimize-all".
	Phase string
	Done  int
	Total int
	// Item names what was just finished.
	Item string
}

// ReproducedKinds are the artifact kinds a run triages. slow-unit inputs
// do not fail and other files are not libFuzzer's.
var ReproducedKinds = []store.ArtifactKind{store.ArtifactCrash, store.ArtifactTimeout, store.ArtifactOOM, store.ArtifactLeak, store.ArtifactMinimizedFrom}

func reproducedKind(k store.ArtifactKind) bool {
	for _, r := range ReproducedKinds {
		if r == k {
			return true
		}
	}
	return false
}

// Pipeline triages a workspace into a store. Run makes one and does one
// pass; the watcher makes one and does a pass per batch of new artifacts.
type Pipeline struct {
	// skipIdle: a pass that triaged, failed and reported nothing writes no
	// run record (the watcher's passes; a run always writes one).
	skipIdle bool
	ws       *Workspace
	cfg      *Config
	st       *store.Store
	stages   Stages
	log      logrus.FieldLogger
	prog     func(Progress)
	remote   RemoteReproducer
	only     map[string]bool
	now      func() time.Time
}

// NewPipeline prepares a pipeline over ws; the store is not opened yet.
func NewPipeline(ws *Workspace, opts Options) (*Pipeline, error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = DefaultConfig()
	}
	log := opts.Log
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	ws.Configure(cfg)
	p := &Pipeline{ws: ws, cfg: cfg, stages: opts.Stages, log: log, prog: opts.Progress, remote: opts.Remote, now: time.Now}
	if p.stages.Parse == nil || p.stages.Bucket == nil {
		return nil, errors.New("pipeline: the parse and bucket stages are required")
	}
	if len(opts.Targets) > 0 {
		p.only = map[string]bool{}
		for _, name := range opts.Targets {
			if ws.Target(name) == nil {
				return nil, fmt.Errorf("no fuzz target %q in %s", name, ws.Root)
			}
			p.only[name] = true
		}
	}
	return p, nil
}

// Run triages the workspace once: it takes the store's lock, triages every
// new artifact, does the per-bucket work and writes the run record.
func Run(ctx context.Context, ws *Workspace, opts Options) (*store.RunRecord, error) {
	p, err := NewPipeline(ws, opts)
	if err != nil {
		return nil, err
	}
	if err := p.Open(); err != nil {
		return nil, err
	}
	defer p.Close()
	return p.Pass(ctx)
}

// Open opens and locks the store.
func (p *Pipeline) Open() error {
	st, err := store.Open(p.cfg.StoreDir(p.ws.Root))
	if err != nil {
		return err
	}
	if err := st.Lock(); err != nil {
		return err
	}
	p.st = st
	return nil
}

// Close releases the store.
func (p *Pipeline) Close() {
	if p.st != nil {
		p.st.Close()
	}
}

// Store is the pipeline's store (after Open).
func (p *Pipeline) Store() *store.Store { return p.st }

// pass is the state of one pass.
type pass struct {
	*Pipeline
	started time.Time
	rec     *store.RunRecord
	builder *Builder

	mu      sync.Mutex
	arts    map[string]*store.ArtifactRecord
	buckets map[string]*store.BucketRecord
	// kept is, per bucket, the release trace of its likeliest
	// representative triaged this pass (keepTraceLocked).
	kept      map[string]keptTrace
	triaged   map[string]bool   // sha1 triaged this pass
	retriaged map[string]bool   // sha1 re-triaged on a changed binary this pass
	fixed     map[string]bool   // buckets found fixed this pass
	binSHA    map[string]string // target+profile (as binaries) -> binary sha1
	binaries  map[string]string // target+profile -> path
	binErr    map[string]error
	// reliable maps a bucket confirmed reproducible by full tries to what
	// confirmed it (reproduce.confirm: bucket).
	reliable map[string]string
	// confirming maps a bucket that an input is confirming right now to a
	// channel closed when that input's record is written.
	confirming map[string]chan struct{}
	// cores are the -j slots every run of the pass takes one of.
	cores *cores
	// tryFindings are the lldb findings of inputs whose reproduction ran
	// under lldb (stack-less kinds), by SHA1: the release session of the
	// bucket whose representative such an input is.
	tryFindings map[string]*store.LLDBFindings

	// members lists each bucket's inputs by SHA1 as the records said when
	// they were written (an input re-triaged elsewhere is filtered out when
	// read); it lets a bucket's work start before the last first run.
	members map[string][]string
	// queued are this pass's inputs by class (kindCost), in the order they
	// run; open[c] is the first of class c whose first run has not ended.
	queued [classes][]*work
	open   [classes]int
	// waiting are buckets seen this pass whose work has not started;
	// earlyStarted, those whose work started before the groups were final.
	waiting      map[string]bool
	earlyStarted map[string]bool
	// jobs are the bucket jobs started this pass, by bucket.
	jobs map[string]*bucketJob
	// bucketLocks guard each bucket record between its job and regroup.
	bucketLocks map[string]*sync.Mutex
	// bucketTasks counts bucket tasks submitted and not ended.
	bucketTasks sync.WaitGroup
	bucketsDone int
}

func (p *pass) fail(f store.Failure) {
	p.mu.Lock()
	p.rec.Failures = append(p.rec.Failures, f)
	p.mu.Unlock()
	fields := logrus.Fields{"stage": f.Stage}
	if f.Target != "" {
		fields["target"] = f.Target
	}
	if f.Artifact != "" {
		fields["artifact"] = f.Artifact
	}
	p.log.WithFields(fields).Warn(f.Error)
}

func (p *pass) progress(phase string, done, total int, item string) {
	if p.prog != nil {
		p.prog(Progress{Phase: phase, Done: done, Total: total, Item: item})
	}
}

// work is one artifact to triage.
type work struct {
	target *Target
	art    Artifact
	sha    string
	size   int64
	old    *store.ArtifactRecord // set when re-triaging
	ended  bool                  // its first run is over (p.mu)
}

// Pass triages what is new since the last pass. The store must be open.
func (p *Pipeline) Pass(ctx context.Context) (*store.RunRecord, error) {
	if p.st == nil {
		return nil, errors.New("pipeline: store not open")
	}
	ps := &pass{
		Pipeline:  p,
		started:   p.now().UTC(),
		builder:   NewBuilder(),
		kept:      map[string]keptTrace{},
		triaged:   map[string]bool{},
		retriaged: map[string]bool{},
		fixed:     map[string]bool{},
		binSHA:    map[string]string{},
		binaries:  map[string]string{},
		binErr:    map[string]error{},
		reliable:  map[string]string{},

		confirming:   map[string]chan struct{}{},
		cores:        newCores(p.cfg.JobCount()),
		tryFindings:  map[string]*store.LLDBFindings{},
		members:      map[string][]string{},
		waiting:      map[string]bool{},
		earlyStarted: map[string]bool{},
		jobs:         map[string]*bucketJob{},
		bucketLocks:  map[string]*sync.Mutex{},
	}
	ps.rec = &store.RunRecord{Workspace: p.ws.Root, Started: ps.started, Jobs: p.cfg.JobCount(), PhaseMS: map[string]int64{}}
	ps.builder.Log = func(target string, prof store.Profile, argv []string) {
		ps.mu.Lock()
		ps.rec.Work.Builds++
		ps.mu.Unlock()
		p.log.WithFields(logrus.Fields{"target": target, "profile": prof, "command": strings.Join(argv, " ")}).Info("building")
	}
	if err := ps.run(ctx); err != nil {
		return ps.rec, err
	}
	return ps.rec, nil
}

func (p *pass) run(ctx context.Context) error {
	arts, bad, err := p.st.LoadArtifacts()
	if err != nil {
		return err
	}
	for _, e := range bad {
		p.fail(store.Failure{Stage: "store", Error: e.Error()})
	}
	buckets, bad, err := p.st.LoadBuckets()
	if err != nil {
		return err
	}
	for _, e := range bad {
		p.fail(store.Failure{Stage: "store", Error: e.Error()})
	}
	p.arts, p.buckets = arts, buckets
	for sha, r := range arts {
		if !r.Malformed() && r.Bucket != nil && r.Bucket.ID != "" {
			p.members[r.Bucket.ID] = append(p.members[r.Bucket.ID], sha)
		}
	}

	phase := time.Now()
	mark := func(name string) {
		p.rec.PhaseMS[name] = time.Since(phase).Milliseconds()
		phase = time.Now()
	}
	todo, err := p.discover(ctx)
	if err != nil {
		return err
	}
	mark("discover")
	p.log.WithFields(logrus.Fields{"found": p.rec.Artifacts.Found, "new": len(todo), "skipped": p.rec.Artifacts.Skipped}).Info("artifacts")

	// One pipeline: a bucket's work starts once the bucket is confirmed and
	// its representative settled, while other inputs are still reproduced
	// (see cores for who gets a slot). What is left, or was started for a
	// representative a later input displaced, is done once every first
	// run has ended and the groups are final.
	p.reproduceAll(ctx, todo)
	if ctx.Err() != nil {
		p.bucketTasks.Wait()
		return context.Cause(ctx)
	}
	mark("reproduce")
	groups := p.regroup()
	p.bucketWork(ctx, groups)
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	mark("buckets")
	if p.cfg.Minimize.Mode == MinimizeAll {
		p.minimizeAll(ctx)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		mark("minimize-all")
	}
	return p.finish(groups)
}

// discover lists the artifacts, hashes them, builds the release binaries
// of targets with something to do, and returns the inputs to triage.
func (p *pass) discover(ctx context.Context) ([]*work, error) {
	type found struct {
		t    *Target
		art  Artifact
		sha  string
		size int64
	}
	var all []found
	seen := map[string]bool{}
	for _, t := range p.ws.Targets {
		if p.only != nil && !p.only[t.Name] {
			continue
		}
		list, err := t.Artifacts()
		if err != nil {
			p.fail(store.Failure{Target: t.Name, Stage: "discover", Error: err.Error()})
			continue
		}
		for _, a := range list {
			if why := ignoreReason(a); why != "" {
				p.rec.Artifacts.Ignored++
				p.rec.Ignored = append(p.rec.Ignored, store.IgnoredFile{Path: p.rel(a.Path), Reason: why})
				continue
			}
			p.rec.Artifacts.Found++
			sha, size, err := store.FileSHA1(a.Path)
			if err != nil {
				p.rec.Artifacts.Failed++
				p.fail(store.Failure{Target: t.Name, Artifact: p.rel(a.Path), Stage: "read", Error: err.Error()})
				continue
			}
			if seen[sha] {
				p.notePath(sha, a.Path)
				p.rec.Artifacts.Skipped++
				continue
			}
			seen[sha] = true
			all = append(all, found{t, a, sha, size})
		}
	}

	// Which targets need a release binary: those with unrecorded inputs,
	// and with changed-binary re-triage, those with any input.
	need := map[string]*Target{}
	for _, f := range all {
		if r, ok := p.arts[f.sha]; !ok || (p.cfg.Retriage == RetriageChangedBinary && !r.Malformed()) {
			need[f.t.Name] = f.t
		}
	}
	names := make([]string, 0, len(need))
	for n := range need {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		p.progress("build", i, len(names), n)
		p.ensure(ctx, need[n], store.Release)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
	}
	p.progress("build", len(names), len(names), "")

	var todo []*work
	// Slow kinds first: a timeout costs seconds per try, so starting those
	// early lets the quick crashes fill the other workers meanwhile. Within
	// a kind, smallest first, in the representative's order (size, then
	// SHA1): a bucket's first reproducible input is then, most often, its
	// representative, and its work can start at once.
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if ca, cb := kindCost(a.art.Kind), kindCost(b.art.Kind); ca != cb {
			return ca > cb
		}
		return smallerFirst(a.size, a.sha, b.size, b.sha)
	})
	for _, f := range all {
		r, recorded := p.arts[f.sha]
		if recorded {
			p.notePath(f.sha, f.art.Path)
			retriage := p.cfg.Retriage == RetriageChangedBinary && !r.Malformed() &&
				p.binSHA[binaryKey(f.t, store.Release)] != "" && r.ReleaseBinarySHA1() != p.binSHA[binaryKey(f.t, store.Release)]
			if !retriage {
				p.rec.Artifacts.Skipped++
				continue
			}
		}
		if err := p.binErr[f.t.Name+"/"+string(store.Release)]; err != nil {
			p.rec.Artifacts.Failed++
			continue // the target's failure is recorded once
		}
		w := &work{target: f.t, art: f.art, sha: f.sha, size: f.size}
		if recorded {
			w.old = r
		}
		todo = append(todo, w)
	}
	return todo, nil
}

// ignoreReason says why an entry of an artifact directory is not triaged,
// or "" when it is: every file a run passes over is counted and named in
// its record, never skipped silently.
func ignoreReason(a Artifact) string {
	switch {
	case a.Skip != "":
		return a.Skip
	case a.Kind == store.ArtifactSlowUnit:
		return "slow-unit input: libFuzzer keeps it as slow, not failing"
	case a.Kind == store.ArtifactOther:
		return "the name is not a libFuzzer artifact name (crash-, timeout-, oom-, leak-, minimized-from-)"
	case !reproducedKind(a.Kind):
		return "not a kind triage reproduces"
	}
	return ""
}

// kindCost is an artifact kind's class: 2 for timeouts (seconds per run),
// 1 for OOMs, 0 for the rest.
func kindCost(k store.ArtifactKind) int {
	switch k {
	case store.ArtifactTimeout:
		return 2
	case store.ArtifactOOM:
		return 1
	}
	return 0
}

// classes is the number of kindCost classes.
const classes = 3

// notePath adds another place an input was seen to its record.
func (p *pass) notePath(sha, path string) {
	r, ok := p.arts[sha]
	if !ok || r.Malformed() {
		return
	}
	rel := p.rel(path)
	if r.Path == rel {
		return
	}
	for _, q := range r.Paths {
		if q == rel {
			return
		}
	}
	r.Paths = append(r.Paths, rel)
	if err := p.st.WriteArtifact(r); err != nil {
		p.fail(store.Failure{Artifact: rel, Stage: "store", Error: err.Error()})
	}
}

// ensure builds (or finds) target's binary for a profile, once per pass;
// a failure is recorded once per target and profile.
func (p *pass) ensure(ctx context.Context, t *Target, prof store.Profile) (string, error) {
	key := binaryKey(t, prof)
	p.mu.Lock()
	if path, ok := p.binaries[key]; ok {
		p.mu.Unlock()
		return path, nil
	}
	if err, ok := p.binErr[key]; ok {
		p.mu.Unlock()
		return "", err
	}
	p.mu.Unlock()
	path, err := p.builder.Ensure(ctx, p.ws, t.Name, prof, p.cfg)
	p.mu.Lock()
	defer p.mu.Unlock()
	if path2, ok := p.binaries[key]; ok {
		return path2, nil
	}
	if err2, ok := p.binErr[key]; ok {
		return "", err2
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		p.binErr[key] = err
		p.mu.Unlock()
		p.fail(store.Failure{Target: t.Name, Stage: "build-" + string(prof), Error: err.Error()})
		p.mu.Lock()
		return "", err
	}
	p.binaries[key] = path
	if sha, _, err := store.FileSHA1(path); err == nil {
		p.binSHA[key] = sha
	}
	return path, nil
}

// binaryKey is how the pass's binary maps name a target's build.
func binaryKey(t *Target, prof store.Profile) string { return t.Name + "/" + string(prof) }

func (p *pass) rel(path string) string { return p.ws.Rel(path) }
func (p *pass) abs(rel string) string  { return p.ws.Abs(rel) }

// runOptions are the options to run target's binary for profile on an
// input of kind.
func (p *pass) runOptions(t *Target, prof store.Profile, binary string, kind store.ArtifactKind, scratch string) *RunOptions {
	return runOptionsFor(p.cfg, p.stages, t, prof, binary, kind, scratch)
}

func runOptionsFor(cfg *Config, st Stages, t *Target, prof store.Profile, binary string, kind store.ArtifactKind, scratch string) *RunOptions {
	rc := &cfg.Reproduce
	var lr *LLDBRun
	if cfg.LLDB.Enabled != nil && *cfg.LLDB.Enabled && st.LLDB != nil {
		// Tries of stack-less kinds run under lldb for their stack.
		lr = &LLDBRun{Binary: cfg.LLDB.Binary, Timeout: cfg.LLDB.Timeout.D(), Templates: templates.Open(cfg.LLDB.Templates)}
	}
	return &RunOptions{
		Expect:        expectedKind(kind),
		LLDB:          lr,
		Binary:        binary,
		Profile:       prof,
		Flags:         ReproFlags(t, kind, rc),
		Tries:         rc.Tries,
		Timeout:       rc.Timeout.D(),
		RustBacktrace: rc.RustBacktrace,
		Env:           rc.Env,
		OutputCap:     rc.OutputCap,
		ScratchDir:    scratch,
		Parse:         st.Parse,
		Symbolize:     st.Symbolize,
	}
}

// reproduceAll triages the new inputs in order, each in a first-run slot.
// When an input's first run ends, the buckets it may have settled start
// their work (see startReady).
func (p *pass) reproduceAll(ctx context.Context, todo []*work) {
	if len(todo) == 0 {
		return
	}
	for _, w := range todo {
		c := kindCost(w.art.Kind)
		p.queued[c] = append(p.queued[c], w)
	}
	// One goroutine per input, started when it gets a slot: an input that
	// waits for another's verdict on its bucket gives its slot back
	// meanwhile (see confirmation), so the cores keep working.
	// First runs on workers wait on the queue, not on this machine's
	// cores: as many are outstanding as the workers can take.
	acquire := func() error { return p.cores.acquire(ctx, laneFirstRun) }
	release := func() { p.cores.release(laneFirstRun) }
	if p.remote != nil {
		slots := make(chan struct{}, max(1, p.remote.Slots()))
		acquire = func() error {
			select {
			case slots <- struct{}{}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		release = func() { <-slots }
	}
	var wg sync.WaitGroup
	var done int
	p.progress("reproduce", 0, len(todo), "")
	for _, w := range todo {
		if acquire() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release()
			p.log.WithFields(logrus.Fields{"artifact": p.rel(w.art.Path), "target": w.target.Name}).Debug("reproducing")
			p.triageOne(ctx, w)
			p.mu.Lock()
			done++
			d := done
			p.mu.Unlock()
			p.progress("reproduce", d, len(todo), p.rel(w.art.Path))
			// Before the slot is given back, so that a bucket this run
			// settled is queued for it.
			p.startReady(ctx, w)
		}()
	}
	wg.Wait()
}

// confirmation answers Reproduce's Accept for an input whose crash lands
// in bucket id: accepted when the bucket is confirmed already. When
// another input is confirming it right now, this one waits for that
// verdict with its slot given back (two timeouts of one bucket would
// otherwise each spend a whole -timeout per confirmation try, side by
// side); else it claims the bucket and confirms it with its own tries.
func (p *pass) confirmation(ctx context.Context, id string, claimed *string) (string, bool) {
	if *claimed != "" && *claimed != id {
		// The crash's bucket changed under this input (a later try under
		// lldb gave the stack a stack-less first try lacked): its claim on
		// the first bucket ends now, or inputs waiting on it would wait
		// for a verdict that never comes.
		p.releaseClaim(*claimed)
		*claimed = ""
	}
	for {
		p.mu.Lock()
		if by, ok := p.reliable[id]; ok {
			p.mu.Unlock()
			return by, true
		}
		ch, busy := p.confirming[id]
		if *claimed == id || !busy {
			if !busy {
				p.confirming[id] = make(chan struct{})
				*claimed = id
			}
			p.mu.Unlock()
			return "", false
		}
		p.mu.Unlock()
		p.cores.release(laneFirstRun)
		select {
		case <-ch:
		case <-ctx.Done():
		}
		if p.cores.acquire(ctx, laneFirstRun) != nil {
			// Cancelled: the input's goroutine gives one slot back when
			// it ends, so it holds one again, uncounted.
			p.cores.hold(laneFirstRun)
			return "", false
		}
	}
}

// releaseClaim ends an input's confirmation of a bucket, once its record
// (and so the bucket's verdict) is written.
func (p *pass) releaseClaim(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ch, ok := p.confirming[id]; ok {
		close(ch)
		delete(p.confirming, id)
	}
}

// triageOne reproduces, parses and buckets one input and writes its record.
func (p *pass) triageOne(ctx context.Context, w *work) {
	rel := p.rel(w.art.Path)
	binary, err := p.ensure(ctx, w.target, store.Release)
	if err != nil {
		p.mu.Lock()
		p.rec.Artifacts.Failed++
		p.mu.Unlock()
		return
	}
	scratch, err := p.st.MkdirTemp("reproduce-*")
	if err != nil {
		p.mu.Lock()
		p.rec.Artifacts.Failed++
		p.mu.Unlock()
		p.fail(store.Failure{Target: w.target.Name, Artifact: rel, Stage: "reproduce", Error: err.Error()})
		return
	}
	defer os.RemoveAll(scratch)
	o := p.runOptions(w.target, store.Release, binary, w.art.Kind, scratch)
	var tryPlan *lldbscript.Plan
	var tryRes *lldbscript.Result
	if o.LLDB != nil && p.remote == nil {
		// A try under lldb (a timeout's, an OOM's) is the release findings
		// session too; it keeps its files by input, for whichever bucket
		// the input lands in.
		o.LLDB.Session = func(ctx context.Context, kind symbolize.CrashKind) (*Session, error) {
			dir := p.st.SessionDir(w.sha, store.Release)
			if err := p.st.Mkdir(dir); err != nil {
				return nil, err
			}
			return PrepareSession(ctx, SessionRequest{
				Workspace: p.ws, Target: w.target.Name, Binary: binary, Profile: store.Release, Config: p.cfg,
				Input: w.art.Path, Trace: &symbolize.Trace{Kind: kind}, Dir: dir, ScriptName: "lldb-release.lldb",
				WriteFile: p.st.WriteFile, Finish: true,
			})
		}
		o.LLDB.Ran = func(plan *lldbscript.Plan, res *lldbscript.Result) { tryPlan, tryRes = plan, res }
	}
	if p.cfg.Reproduce.Confirm == ConfirmBucket && p.remote == nil {
		var claimed string
		// Runs last, after the record (and p.reliable) is written.
		defer func() {
			if claimed != "" {
				p.releaseClaim(claimed)
			}
		}()
		o.Accept = func(tr *symbolize.Trace) (string, bool) {
			ref, err := p.stages.Bucket(tr, BucketRequest{Target: w.target.Name, Binary: binary, Config: &p.cfg.Bucket})
			if err != nil {
				return "", false
			}
			return p.confirmation(ctx, ref.ID, &claimed)
		}
	}
	var rep *store.Reproduction
	if p.remote != nil {
		var written func()
		p.mu.Lock()
		digest := p.binSHA[binaryKey(w.target, store.Release)]
		p.mu.Unlock()
		rep, written, err = p.remote.Reproduce(ctx, RemoteRequest{
			Target: w.target.Name, BinaryDigest: digest,
			Input: w.art.Path, SHA1: w.sha, Kind: w.art.Kind,
		})
		if written != nil {
			// After the record below is written (or found unwritable).
			defer written()
		}
		if rep != nil {
			// The worker's path of its copy of the binary is not ours.
			rep.Binary = binary
		}
	} else {
		rep, err = Reproduce(ctx, o, w.art.Path)
	}
	if err != nil {
		if ctx.Err() != nil {
			return // abandoned: not recorded, so the next run triages it
		}
		p.mu.Lock()
		p.rec.Artifacts.Failed++
		p.mu.Unlock()
		p.fail(store.Failure{Target: w.target.Name, Artifact: rel, Stage: "reproduce", Error: err.Error()})
		return
	}
	// The input may have changed or vanished while it ran (an artifact
	// being rewritten); what was run is what gets recorded.
	sha, size, err := store.FileSHA1(w.art.Path)
	if err != nil || sha != w.sha {
		p.mu.Lock()
		p.rec.Artifacts.Failed++
		p.mu.Unlock()
		msg := "the file changed while it was reproduced"
		if err != nil {
			msg = err.Error()
		}
		p.fail(store.Failure{Target: w.target.Name, Artifact: rel, Stage: "read", Error: msg})
		return
	}
	p.mu.Lock()
	rep.BinarySHA1 = p.binSHA[binaryKey(w.target, store.Release)]
	p.rec.Work.Reproductions++
	p.rec.Work.ReproductionRuns += rep.Tries
	for i, t := range rep.Detail {
		p.rec.Work.ReproductionMS += t.DurationMS
		if i == 0 {
			p.rec.Work.FirstTryMS += t.DurationMS
		}
	}
	p.mu.Unlock()

	now := p.now().UTC()
	rec := &store.ArtifactRecord{
		SHA1:          w.sha,
		Path:          rel,
		Size:          size,
		Kind:          w.art.Kind,
		Target:        w.target.Name,
		FirstSeen:     now,
		Triaged:       now,
		Status:        rep.Status,
		Reproductions: map[store.Profile]*store.Reproduction{store.Release: rep},
	}
	if w.old != nil {
		rec.FirstSeen = w.old.FirstSeen
		rec.Paths = w.old.Paths
		if w.old.Path != "" {
			rec.Path = w.old.Path
		}
		rec.PreviousBucket = w.old.PreviousBucket
	}
	if rep.Status != store.NotReproducible {
		if rep.Trace != nil {
			rec.Crash = crashRecord(rep.Trace)
			rec.Frames = rep.Trace.Frames
		}
		ref, err := p.bucketOf(rep.Trace, rep, w.target, binary)
		if err != nil {
			p.fail(store.Failure{Target: w.target.Name, Artifact: rel, Stage: "bucket", Error: err.Error()})
		} else {
			rec.Bucket = &ref
			rep.BucketID = ref.ID
		}
	}
	if w.old != nil && w.old.Bucket != nil && (rec.Bucket == nil || rec.Bucket.ID != w.old.Bucket.ID) {
		rec.PreviousBucket = w.old.Bucket
	}
	if err := p.st.WriteArtifact(rec); err != nil {
		p.mu.Lock()
		p.rec.Artifacts.Failed++
		p.mu.Unlock()
		p.fail(store.Failure{Target: w.target.Name, Artifact: rel, Stage: "store", Error: err.Error()})
		return
	}
	var tryFound *store.LLDBFindings
	if tryRes != nil && tryRes.Session != nil && rep.StackFrom == "lldb" {
		tryFound = p.findingsOf(tryPlan, tryRes, w.sha, binary)
	}
	p.mu.Lock()
	if rec.Bucket != nil && rep.Status == store.Reproducible && rep.ConfirmedBy == "" && rep.Crashes >= 2 {
		if _, known := p.reliable[rec.Bucket.ID]; !known {
			p.reliable[rec.Bucket.ID] = fmt.Sprintf("bucket %s, confirmed by %s (%d/%d tries)", rec.Bucket.ID, rel, rep.Crashes, rep.Tries)
		}
	}
	p.arts[w.sha] = rec
	if rec.Bucket != nil {
		p.members[rec.Bucket.ID] = append(p.members[rec.Bucket.ID], w.sha)
		// A bucket whose work started already is not looked at again: a
		// member that displaces its representative is dealt with once the
		// groups are final (bucketWork).
		if !p.earlyStarted[rec.Bucket.ID] {
			p.waiting[rec.Bucket.ID] = true
		}
	}
	p.triaged[w.sha] = true
	if w.old != nil {
		p.retriaged[w.sha] = true
	}
	p.keepTraceLocked(rec, rep.Trace)
	// What the record keeps is on disk; the pass keeps what it decides by
	// (memory grows with buckets, not with artifacts).
	rep.Trace, rep.Log = nil, ""
	if tryFound != nil {
		p.tryFindings[w.sha] = tryFound
	}
	p.rec.Artifacts.Triaged++
	switch rep.Status {
	case store.NotReproducible:
		p.rec.NotReproducible = append(p.rec.NotReproducible, rel)
	case store.Flaky:
		p.rec.Flaky = append(p.rec.Flaky, rel)
	}
	p.mu.Unlock()
	fields := logrus.Fields{"artifact": rel, "target": w.target.Name, "status": rep.Status, "tries": rep.Tries, "crashes": rep.Crashes}
	if rec.Bucket != nil {
		fields["bucket"] = rec.Bucket.ID
	}
	p.log.WithFields(fields).Debug("triaged")
}

// keepTraceLocked keeps an input's parsed trace while the input is its
// bucket's likeliest representative (the smallest reproducible member seen
// this pass): the bucket's lldb session chooses its frames from it. Other
// traces are dropped; a representative from an earlier pass has its trace
// rebuilt from its record. p.mu is held.
func (p *pass) keepTraceLocked(rec *store.ArtifactRecord, tr *symbolize.Trace) {
	if tr == nil || rec.Bucket == nil {
		return
	}
	id := rec.Bucket.ID
	if k, ok := p.kept[id]; ok && !representsBetter(rec, k.rec) {
		return
	}
	p.kept[id] = keptTrace{rec: rec, trace: tr}
}

// keptTrace is a bucket's kept trace and the input it is of.
type keptTrace struct {
	rec   *store.ArtifactRecord
	trace *symbolize.Trace
}

// representsBetter says a would be a bucket's representative before b:
// reproducible first, then smaller, then by SHA1 (as sortMembers orders).
func representsBetter(a, b *store.ArtifactRecord) bool {
	if (a.Status == store.Reproducible) != (b.Status == store.Reproducible) {
		return a.Status == store.Reproducible
	}
	return smallerFirst(a.Size, a.SHA1, b.Size, b.SHA1)
}

// smallerFirst is the order inputs run in within a kind and members stand
// in for their bucket: smaller first, then by SHA1.
func smallerFirst(sizeA int64, shaA string, sizeB int64, shaB string) bool {
	if sizeA != sizeB {
		return sizeA < sizeB
	}
	return shaA < shaB
}

// bucketOf keys a reproduction.
func (p *pass) bucketOf(tr *symbolize.Trace, rep *store.Reproduction, t *Target, binary string) (store.BucketRef, error) {
	if tr == nil {
		return store.BucketRef{}, fmt.Errorf("the %s crash log could not be parsed", rep.Outcome)
	}
	return p.stages.Bucket(tr, BucketRequest{Target: t.Name, Binary: binary, Config: &p.cfg.Bucket})
}

func crashRecord(tr *symbolize.Trace) *store.CrashRecord {
	return &store.CrashRecord{Kind: tr.Kind, Summary: tr.Summary, Signal: tr.Signal, Message: tr.Message, Location: tr.Location, Access: tr.Access}
}

// group is a bucket's members as the artifact records say.
type group struct {
	id      string
	key     string
	members []*store.ArtifactRecord // representative first
	seen    bool                    // a member was triaged in this pass
	fresh   int                     // members triaged in this pass for the first time
}

// regroup rebuilds bucket membership from the artifact records (the source
// of truth: a run killed between writing an artifact record and its bucket
// record loses nothing) and writes the bucket records that changed.
func (p *pass) regroup() map[string]*group {
	groups := map[string]*group{}
	for sha, r := range p.arts {
		if r.Malformed() || r.Bucket == nil || r.Bucket.ID == "" {
			continue
		}
		g := groups[r.Bucket.ID]
		if g == nil {
			g = &group{id: r.Bucket.ID, key: r.Bucket.Key}
			groups[g.id] = g
		}
		g.members = append(g.members, r)
		if p.triaged[sha] {
			g.seen = true
		}
	}
	now := p.now().UTC()
	for id, b := range p.buckets {
		if groups[id] != nil || b.Malformed() || len(b.Members) == 0 {
			continue
		}
		// Every member went elsewhere: re-triaged on a changed binary,
		// none crashes this way any more.
		b.Members, b.MemberCount, b.ReportedMembers = nil, 0, 0
		b.Fixed = &now
		p.fixed[id] = true
		if err := p.st.WriteBucket(b); err != nil {
			p.fail(store.Failure{Target: b.Target, Stage: "store", Error: err.Error()})
		}
	}
	for id, g := range groups {
		mu := p.lockOf(id)
		mu.Lock()
		p.applyGroup(g, now)
		mu.Unlock()
	}
	return groups
}

// applyGroup writes what a bucket's members say into its record (creating
// it) and returns the record: the representative, members, targets,
// location and title. The bucket's lock is held.
func (p *pass) applyGroup(g *group, now time.Time) *store.BucketRecord {
	id := g.id
	p.sortMembers(g.members)
	p.mu.Lock()
	b := p.buckets[id]
	if b == nil {
		b = &store.BucketRecord{ID: id}
		p.buckets[id] = b
	}
	p.mu.Unlock()
	if b.Malformed() {
		return b
	}
	b.Fixed = nil
	b.Location = nil
	var latest time.Time
	rep := g.members[0]
	b.Key = g.key
	b.Target = rep.Target
	if rep.Crash != nil {
		b.Kind = rep.Crash.Kind
	}
	// The location is the latest reproduction's: after the code moved,
	// reports show where the bug is now, not where its first input
	// crashed.
	for _, m := range g.members {
		if m.Crash != nil && m.Crash.Location != nil && (b.Location == nil || !m.Triaged.Before(latest)) {
			b.Location, latest = m.Crash.Location, m.Triaged
		}
	}
	b.Title = bucketTitle(rep)
	first := rep.FirstSeen
	for _, m := range g.members {
		if m.FirstSeen.Before(first) {
			first = m.FirstSeen
		}
	}
	if b.FirstSeen.IsZero() || first.Before(b.FirstSeen) {
		b.FirstSeen = first
	}
	if g.seen || b.LastSeen.IsZero() {
		b.LastSeen = now
	}
	b.Members = b.Members[:0]
	perTarget := map[string]int{}
	for _, m := range g.members {
		b.Members = append(b.Members, store.MemberInfo{SHA1: m.SHA1, Path: m.Path, Size: m.Size, Target: m.Target})
		perTarget[m.Target]++
	}
	b.Targets = b.Targets[:0]
	for t, n := range perTarget {
		b.Targets = append(b.Targets, store.TargetCount{Target: t, Members: n})
	}
	sort.Slice(b.Targets, func(i, j int) bool {
		if b.Targets[i].Members != b.Targets[j].Members {
			return b.Targets[i].Members > b.Targets[j].Members
		}
		return b.Targets[i].Target < b.Targets[j].Target
	})
	b.MemberCount = len(b.Members)
	b.Representative = b.Members[0]
	if b.Reproducibility == nil {
		b.Reproducibility = map[store.Profile]store.Reproducibility{}
	}
	b.Reproducibility[store.Release] = rep.Status
	if d := rep.Reproductions[store.Dev]; d != nil {
		b.Reproducibility[store.Dev] = d.Status
	} else {
		delete(b.Reproducibility, store.Dev)
	}
	p.saveBucket(b)
	return b
}

// lockOf is the lock of a bucket's record.
func (p *pass) lockOf(id string) *sync.Mutex {
	p.mu.Lock()
	defer p.mu.Unlock()
	mu := p.bucketLocks[id]
	if mu == nil {
		mu = &sync.Mutex{}
		p.bucketLocks[id] = mu
	}
	return mu
}

// sortMembers puts a group's representative first: the smallest
// reproducible member whose file is still there (a deleted artifact keeps
// its record).
func (p *pass) sortMembers(members []*store.ArtifactRecord) {
	gone := map[string]bool{}
	for _, m := range members {
		if _, err := os.Stat(p.abs(m.Path)); err != nil {
			gone[m.SHA1] = true
		}
	}
	sort.Slice(members, func(i, j int) bool {
		a, b := members[i], members[j]
		if gone[a.SHA1] != gone[b.SHA1] {
			return !gone[a.SHA1]
		}
		return representsBetter(a, b)
	})
}

// bucketTitle is the bucket's title (dedupe.Key.Title: the one title
// function every view uses), from its key.
func bucketTitle(r *store.ArtifactRecord) string {
	if r.Bucket != nil {
		if k, err := dedupe.ParseKey(r.Bucket.Key); err == nil {
			return k.Title()
		}
	}
	if r.Crash == nil {
		return string(r.Kind) + " in " + r.Target
	}
	return string(r.Crash.Kind) + " in " + r.Target
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}
