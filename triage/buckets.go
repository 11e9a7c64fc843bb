package triage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/fuzztriage/triage/crashkind"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
)

// bucketWork does what is left of the per-bucket work once every first
// run has ended and the groups are final: the buckets whose work has not
// started, and those whose early job worked on a representative a later
// input displaced (checked when that job ends). Slow buckets (timeouts,
// OOMs) start first. It returns when every bucket task has ended.
func (p *pass) bucketWork(ctx context.Context, groups map[string]*group) {
	var ids []string
	for id := range groups {
		if b := p.buckets[id]; b != nil && !b.Malformed() {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		ci, cj := kindCost(groups[ids[i]].members[0].Kind), kindCost(groups[ids[j]].members[0].Kind)
		if ci != cj {
			return ci > cj
		}
		return ids[i] < ids[j]
	})
	var waits sync.WaitGroup
	for _, id := range ids {
		b, g := p.buckets[id], groups[id]
		p.mu.Lock()
		early := p.jobs[id]
		p.mu.Unlock()
		if early == nil {
			if p.needsWork(b, g) {
				p.launch(ctx, b, g)
			}
			continue
		}
		waits.Add(1)
		go func() {
			defer waits.Done()
			select {
			case <-early.done:
			case <-ctx.Done():
				return
			}
			// Redone only for another representative: what failed for
			// this one (lldb missing, say) is not retried in the same pass.
			if g.members[0].SHA1 != early.g.members[0].SHA1 && p.needsWork(b, g) {
				p.launch(ctx, b, g)
			}
		}()
	}
	waits.Wait()
	p.bucketTasks.Wait()
}

// startReady is called when w's first run has ended: every bucket seen this
// pass whose representative is now settled starts its work.
func (p *pass) startReady(ctx context.Context, w *work) {
	p.mu.Lock()
	w.ended = true
	c := kindCost(w.art.Kind)
	for p.open[c] < len(p.queued[c]) && p.queued[c][p.open[c]].ended {
		p.open[c]++
	}
	var ready []*group
	for id := range p.waiting {
		if g := p.settledLocked(id); g != nil {
			delete(p.waiting, id)
			p.earlyStarted[id] = true
			ready = append(ready, g)
		}
	}
	p.mu.Unlock()
	sort.Slice(ready, func(i, j int) bool { return ready[i].id < ready[j].id })
	for _, g := range ready {
		if ctx.Err() != nil {
			return
		}
		p.startBucket(ctx, g)
	}
}

// settledLocked returns bucket id's members, representative first, when its
// work can start: the representative (the smallest reproducible member) is
// confirmed reproducible, its file is there, and no input of its class
// whose first run has not ended is smaller (inputs run smallest first, so
// this is known early). An input of another class landing in the bucket may
// still displace it; bucketWork then redoes the work. p.mu is held.
func (p *pass) settledLocked(id string) *group {
	g := &group{id: id}
	seen := map[string]bool{}
	for _, sha := range p.members[id] {
		r := p.arts[sha]
		if seen[sha] || r == nil || r.Malformed() || r.Bucket == nil || r.Bucket.ID != id {
			continue
		}
		seen[sha] = true
		g.members = append(g.members, r)
		g.key = r.Bucket.Key
		if p.triaged[sha] {
			g.seen = true
		}
	}
	if len(g.members) == 0 {
		return nil
	}
	sort.Slice(g.members, func(i, j int) bool { return representsBetter(g.members[i], g.members[j]) })
	rep := g.members[0]
	if rep.Status != store.Reproducible {
		return nil
	}
	if _, err := os.Stat(p.abs(rep.Path)); err != nil {
		return nil
	}
	c := kindCost(rep.Kind)
	if p.open[c] < len(p.queued[c]) {
		if u := p.queued[c][p.open[c]]; smallerFirst(u.size, u.sha, rep.Size, rep.SHA1) {
			return nil
		}
	}
	return g
}

// startBucket writes a settled bucket's record and starts its work.
func (p *pass) startBucket(ctx context.Context, g *group) {
	mu := p.lockOf(g.id)
	mu.Lock()
	b := p.applyGroup(g, p.now().UTC())
	needs := !b.Malformed() && p.needsWork(b, g)
	mu.Unlock()
	if needs {
		p.launch(ctx, b, g)
	}
}

// launch starts a bucket's job: its first task (minimization, then the
// sessions and the dev reproduction it submits) goes in the bucket lane.
func (p *pass) launch(ctx context.Context, b *store.BucketRecord, g *group) {
	j := &bucketJob{pass: p, b: b, g: g, mu: p.lockOf(b.ID), done: make(chan struct{})}
	p.mu.Lock()
	p.jobs[b.ID] = j
	p.mu.Unlock()
	j.finished = func() {
		p.mu.Lock()
		p.bucketsDone++
		d, total := p.bucketsDone, len(p.jobs)
		p.rec.Work.BucketsWorkedOn++
		p.mu.Unlock()
		p.progress("buckets", d, total, b.ID)
		close(j.done)
	}
	submit := func(f func()) { p.submitBucket(ctx, f) }
	submit(func() { j.start(ctx, submit) })
}

// submitBucket runs f in a bucket-lane slot, counted in bucketTasks.
func (p *pass) submitBucket(ctx context.Context, f func()) {
	p.bucketTasks.Add(1)
	go func() {
		defer p.bucketTasks.Done()
		p.cores.run(ctx, laneBucket, f)
	}()
}

// bucketJob is one bucket's work; its tasks share the bucket record under mu.
type bucketJob struct {
	*pass
	b   *store.BucketRecord
	g   *group
	t   *Target
	log logrus.FieldLogger
	// mu is the bucket's lock (pass.lockOf), shared with regroup.
	mu       *sync.Mutex
	left     int // tasks still running
	finished func()
	// done is closed when the job's last task has ended.
	done chan struct{}
}

// start minimizes, then submits the lldb release and dev tasks.
func (j *bucketJob) start(ctx context.Context, submit func(func())) {
	b, rep := j.b, j.g.members[0]
	j.t = j.ws.Target(rep.Target)
	if j.t == nil {
		j.fail(store.Failure{Target: rep.Target, Stage: "bucket", Error: fmt.Sprintf("bucket %s: target %s is gone from the workspace", b.ID, rep.Target)})
		j.finished()
		return
	}
	j.log = j.pass.log.WithFields(logrus.Fields{"bucket": b.ID, "target": j.t.Name})
	if j.needsMinimize(b, rep) {
		j.minimizeStep(ctx)
		if ctx.Err() != nil {
			return
		}
	}
	in := j.debugInput(b, rep)
	var tasks []func()
	if j.needsLLDB(b, store.Release, in.sha) {
		if f := j.reproductionSession(in.sha); f != nil {
			j.adopt(store.Release, f)
		} else {
			tasks = append(tasks, func() { j.lldbStep(ctx, store.Release, in, j.releaseTrace(rep), false) })
		}
	}
	// Each task is wrapped so the bucket finishes when its last task does;
	// a task may add a follow-up (counted before the task itself ends).
	var run func(task func())
	run = func(task func()) {
		submit(func() {
			task()
			j.mu.Lock()
			j.left--
			last := j.left == 0
			j.mu.Unlock()
			if last {
				j.finished()
			}
		})
	}
	follow := func(task func()) {
		j.mu.Lock()
		j.left++
		j.mu.Unlock()
		run(task)
	}
	if j.wantDev() {
		// Decided now: the release task writes b.LLDB meanwhile.
		devLLDB := j.needsLLDB(b, store.Dev, in.sha)
		relTrace := j.releaseTrace(rep)
		switch {
		case devLLDB && relTrace != nil && oneRun(relTrace.Kind) && in.sha == rep.SHA1 && j.needsDev(rep):
			tasks = append(tasks, func() { j.devThroughLLDB(ctx, in, relTrace) })
		case devLLDB && !hasInAppFrames(relTrace):
			tasks = append(tasks, j.devBesideLLDB(ctx, in, relTrace, follow)...)
		default:
			tasks = append(tasks, func() {
				tr := j.devStep(ctx)
				if ctx.Err() == nil && devLLDB {
					j.lldbStep(ctx, store.Dev, in, tr, false)
				}
			})
		}
	}
	if len(tasks) == 0 {
		j.finished()
		return
	}
	j.left = len(tasks)
	for _, task := range tasks {
		run(task)
	}
}

// devBesideLLDB returns the dev reproduction and the dev lldb session as two
// tasks that run side by side. It is used when the release crash has no
// stack to choose frames from (timeouts, OOMs, overflows without a report
// stack): the session then needs nothing from the dev reproduction but its
// kind, which is the release kind unless the dev build crashes another way.
// These are the slow kinds (an unoptimized OOM fills memory for seconds, a
// timeout waits it out), so running the two at once shortens the longest
// bucket's chain. Should the dev build crash as another kind, the session is
// redone with the dev trace once both are done.
func (j *bucketJob) devBesideLLDB(ctx context.Context, in debugInput, relTrace *symbolize.Trace, follow func(func())) []func() {
	var devTrace *symbolize.Trace
	var devDone, lldbDone bool
	redo := func() {
		if ctx.Err() == nil {
			j.lldbStep(ctx, store.Dev, in, devTrace, false)
		}
	}
	// whenBoth runs in whichever task ends second.
	whenBoth := func() {
		if devTrace != nil && relTrace != nil && devTrace.Kind != relTrace.Kind {
			follow(redo)
		}
	}
	dev := func() {
		tr := j.devStep(ctx)
		j.mu.Lock()
		devTrace, devDone = tr, true
		both := lldbDone
		j.mu.Unlock()
		if both {
			whenBoth()
		}
	}
	session := func() {
		if ctx.Err() == nil {
			j.lldbStep(ctx, store.Dev, in, relTrace, false)
		}
		j.mu.Lock()
		lldbDone = true
		both := devDone
		j.mu.Unlock()
		if both {
			whenBoth()
		}
	}
	return []func(){dev, session}
}

// devThroughLLDB is the dev reproduction and the dev lldb session of a
// kind reproduced under a limit (a timeout, an OOM) in one process. An
// unoptimized build hangs or fills memory slowly (the fixture's OOM takes
// 10 s on dev against 1 s on release), so the session runs the
// representative with the reproduction's flags, stops where the limit
// fires, reads its frames, then lets the program end: its exit and
// libFuzzer's report are the dev verdict, and the input runs once, not
// twice. Only a session that gives no verdict is followed by a
// reproduction of its own (and redone, should the dev build crash another
// way).
func (j *bucketJob) devThroughLLDB(ctx context.Context, in debugInput, relTrace *symbolize.Trace) {
	f := j.lldbStep(ctx, store.Dev, in, relTrace, true)
	if ctx.Err() != nil {
		return
	}
	if tr := j.devFromSession(ctx, f); tr != nil {
		if crashkind.Of(tr.Kind).KeyFamily() != crashkind.Of(relTrace.Kind).KeyFamily() {
			// Its stops were chosen for the release kind.
			j.lldbStep(ctx, store.Dev, in, tr, false)
		}
		return
	}
	tr := j.devStep(ctx)
	if ctx.Err() == nil && tr != nil && tr.Kind != relTrace.Kind {
		j.lldbStep(ctx, store.Dev, in, tr, false)
	}
}

// devFromSession records the dev reproduction a finished lldb session
// gave (one run, vouched for by the session) and returns its trace; nil
// when the session gave no failing verdict.
func (j *bucketJob) devFromSession(ctx context.Context, f *store.LLDBFindings) *symbolize.Trace {
	if f == nil || f.Exit == nil {
		return nil
	}
	t, rep := j.t, j.g.members[0]
	dev, err := j.ensure(ctx, t, store.Dev)
	if err != nil {
		return nil
	}
	run := &RunResult{Try: store.Try{ExitCode: *f.Exit, Backtrace: true, LLDB: true}, Log: []byte(f.Log)}
	run.Outcome = outcomeOf(&procrun.Result{ExitCode: *f.Exit}, run.Log)
	if !run.Outcome.Failed() {
		return nil
	}
	tr := parseOrFallback(j.stages.Parse, run)
	if !hasInAppFrames(tr) && len(f.Frames) > 0 {
		// The key's frames are the session's stack at the stop (its in-app
		// frames, as the findings keep them).
		frames := make([]symbolize.Frame, len(f.Frames))
		for i, fr := range f.Frames {
			frames[i] = symbolize.Frame{Index: fr.Index, Function: fr.Function, Normalized: symbolize.Normalize(fr.Function), File: fr.File, Line: fr.Line}
		}
		symbolize.DefaultRules().TagFrames(frames)
		withLLDBStack(tr, frames)
	}
	run.Same = true
	r := &store.Reproduction{
		Profile: store.Dev, Binary: dev, Flags: ReproFlags(t, rep.Kind, &j.cfg.Reproduce),
		Status: store.Reproducible, Tries: 1, Crashes: 1, Rate: 1, StackFrom: "lldb",
		ConfirmedBy: fmt.Sprintf("one run: the lldb session %s (stopped at %s, then ran to its exit %d)", f.Transcript, f.Stop, *f.Exit),
		Outcome:     run.Outcome, ExitCode: run.ExitCode, Log: string(run.Log),
		Crash: crashRecord(tr), Trace: tr, Detail: []store.Try{run.Try},
	}
	if ref, err := j.stages.Bucket(tr, BucketRequest{Target: t.Name, Binary: dev, Config: &j.cfg.Bucket}); err == nil {
		r.BucketID = ref.ID
	}
	j.recordDev(r)
	return tr
}

// hasInAppFrames says whether a trace has a frame of the code being fuzzed.
func hasInAppFrames(tr *symbolize.Trace) bool {
	if tr == nil {
		return false
	}
	for _, f := range tr.Frames {
		if f.Category.InApp() {
			return true
		}
	}
	return false
}

func (j *bucketJob) save() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.saveBucket(j.b)
}

func (j *bucketJob) minimizeStep(ctx context.Context) {
	b, rep := j.b, j.g.members[0]
	release, err := j.ensure(ctx, j.t, store.Release)
	if err != nil {
		return
	}
	scratch, err := j.st.MkdirTemp("bucket-*")
	if err != nil {
		j.fail(store.Failure{Target: j.t.Name, Stage: "bucket", Error: err.Error()})
		return
	}
	defer os.RemoveAll(scratch)
	out := filepath.Join(j.st.BucketDir(b.ID), "minimized")
	m, err := j.minimize(ctx, j.t, release, rep, out, b.ID, scratch)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		j.fail(store.Failure{Target: j.t.Name, Artifact: rep.Path, Stage: "minimize", Error: fmt.Sprintf("bucket %s: %v", b.ID, err)})
		return
	}
	j.mu.Lock()
	b.Minimized = m
	j.mu.Unlock()
	j.save()
	j.log.WithFields(logrus.Fields{"from": m.FromSize, "to": m.Size, "accepted": m.Accepted, "rejected": m.Rejected}).Info("minimized")
}

func (j *bucketJob) devStep(ctx context.Context) *symbolize.Trace {
	return j.devReproduce(ctx, j)
}

func (j *bucketJob) lldbStep(ctx context.Context, prof store.Profile, in debugInput, tr *symbolize.Trace, finish bool) *store.LLDBFindings {
	b, rep := j.b, j.g.members[0]
	f := j.lldbSession(ctx, j.t, b, rep, prof, in, tr, finish)
	if ctx.Err() != nil {
		return nil
	}
	j.mu.Lock()
	if b.LLDB == nil {
		b.LLDB = map[store.Profile]*store.LLDBFindings{}
	}
	b.LLDB[prof] = f
	j.mu.Unlock()
	j.save()
	if f.Error != "" {
		j.fail(store.Failure{Target: j.t.Name, Artifact: rep.Path, Stage: "lldb-" + string(prof), Error: fmt.Sprintf("bucket %s: %s", b.ID, f.Error)})
	} else {
		j.log.WithFields(logrus.Fields{"profile": prof, "stop": f.Stop}).Info("lldb session")
	}
	return f
}

// reproductionSession is the findings of the session that reproduced an
// input this pass (a timeout's or an OOM's run under lldb), or nil.
func (p *pass) reproductionSession(sha string) *store.LLDBFindings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tryFindings[sha]
}

// adopt records findings of a session that already ran as the bucket's.
func (j *bucketJob) adopt(prof store.Profile, f *store.LLDBFindings) {
	j.mu.Lock()
	if j.b.LLDB == nil {
		j.b.LLDB = map[store.Profile]*store.LLDBFindings{}
	}
	j.b.LLDB[prof] = f
	j.mu.Unlock()
	j.save()
	j.log.WithFields(logrus.Fields{"profile": prof, "stop": f.Stop, "transcript": f.Transcript}).Info("lldb session (the reproduction's run)")
}

// findingsOf are the findings of a session that reproduced an input, with
// its paths relative to the store; nil when it fell short.
func (p *pass) findingsOf(plan *lldbscript.Plan, res *lldbscript.Result, input, binary string) *store.LLDBFindings {
	f := sessionFindings(plan, res, binary, p.ws.Registers())
	if f.Error != "" {
		return nil
	}
	f.Input = input
	f.CommandFile, f.Transcript, f.Log = p.st.Rel(f.CommandFile), p.st.Rel(f.Transcript), ""
	return f
}

func (p *pass) wantDev() bool { return p.cfg.Reproduce.Dev != nil && *p.cfg.Reproduce.Dev }
func (p *pass) wantLLDB() bool {
	return p.cfg.LLDB.Enabled != nil && *p.cfg.LLDB.Enabled && p.stages.LLDB != nil
}

// minimizable says a bucket's crashes are worth minimizing: timeouts and
// OOMs take seconds per candidate and are left as they are.
func minimizable(rep *store.ArtifactRecord) bool {
	r := rep.Reproductions[store.Release]
	return r != nil && r.Outcome == store.OutcomeCrash
}

func (p *pass) needsMinimize(b *store.BucketRecord, rep *store.ArtifactRecord) bool {
	if p.cfg.Minimize.Mode == MinimizeOff || !minimizable(rep) {
		return false
	}
	if b.Minimized == nil || b.Minimized.From != rep.SHA1 || p.retriaged[rep.SHA1] {
		return true
	}
	_, err := os.Stat(filepath.Join(p.st.Dir, b.Minimized.Path))
	return err != nil
}

func (p *pass) needsDev(rep *store.ArtifactRecord) bool {
	return p.wantDev() && rep.Reproductions[store.Dev] == nil
}

func (p *pass) needsLLDB(b *store.BucketRecord, prof store.Profile, input string) bool {
	if !p.wantLLDB() || (prof == store.Dev && !p.wantDev()) {
		return false
	}
	f := b.LLDB[prof]
	return f == nil || f.Input != input || f.Error != "" || p.retriaged[b.Representative.SHA1]
}

func (p *pass) needsWork(b *store.BucketRecord, g *group) bool {
	rep := g.members[0]
	if p.needsMinimize(b, rep) || p.needsDev(rep) {
		return true
	}
	in := p.debugInput(b, rep)
	return p.needsLLDB(b, store.Release, in.sha) || p.needsLLDB(b, store.Dev, in.sha)
}

type debugInput struct {
	sha  string
	path string
}

// debugInput is what lldb runs: the verified minimized input when there is
// one for the current representative, else the representative.
func (p *pass) debugInput(b *store.BucketRecord, rep *store.ArtifactRecord) debugInput {
	if m := b.Minimized; m != nil && m.From == rep.SHA1 && m.Verified {
		path := filepath.Join(p.st.Dir, m.Path)
		if _, err := os.Stat(path); err == nil {
			return debugInput{m.SHA1, path}
		}
	}
	return debugInput{rep.SHA1, p.abs(rep.Path)}
}

// saveBucket writes a bucket record, with the answers its representative's
// records give. The bucket's lock is held (or no job is running).
func (p *pass) saveBucket(b *store.BucketRecord) {
	p.mu.Lock()
	rep := p.arts[b.Representative.SHA1]
	p.mu.Unlock()
	if len(b.Members) > 0 {
		b.Answers = bucketAnswers(b, rep)
	}
	if err := p.st.WriteBucket(b); err != nil {
		p.fail(store.Failure{Target: b.Target, Stage: "store", Error: err.Error()})
	}
}

// minimize runs the verified minimization of one input into out.
func (p *pass) minimize(ctx context.Context, t *Target, binary string, r *store.ArtifactRecord, out, want, scratch string) (*store.MinimizedInput, error) {
	o := p.runOptions(t, store.Release, binary, r.Kind, scratch)
	verify := p.verifier(t, o)
	mc := p.cfg.Minimize
	m, err := Minimize(ctx, p.abs(r.Path), out, MinimizeOptions{
		Run: o, Want: want, Verify: verify,
		Runs: mc.Runs, Patience: mc.Rounds, Timeout: mc.Timeout.D(), WriteFile: p.st.WriteFile,
	})
	p.mu.Lock()
	p.rec.Work.Minimizations++
	if m != nil {
		p.rec.Work.MinimizeInvocations += m.Rounds
	}
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	m.Path = p.st.Rel(out)
	return m, nil
}

// verifier re-runs a candidate with a backtrace and keys its crash: the
// bucket comparison minimization keeps candidates by.
func (p *pass) verifier(t *Target, o *RunOptions) VerifyFunc {
	return bucketVerifier(p.stages, &p.cfg.Bucket, t, o)
}

func bucketVerifier(st Stages, bc *BucketConfig, t *Target, o *RunOptions) VerifyFunc {
	return func(ctx context.Context, cand string) (string, error) {
		tr, err := RunOnce(ctx, o, cand, true)
		if err != nil {
			return "", err
		}
		if !tr.Outcome.Failed() {
			return "", nil
		}
		trace := parseOrFallback(st.Parse, tr)
		if st.Symbolize != nil {
			_ = st.Symbolize(trace, o.Binary)
		}
		ref, err := st.Bucket(trace, BucketRequest{Target: t.Name, Binary: o.Binary, Config: bc})
		if err != nil {
			return "", err
		}
		return ref.ID, nil
	}
}

// devReproduce runs the representative on the --dev build (building it)
// and records the result in its artifact record and the bucket.
func (p *pass) devReproduce(ctx context.Context, j *bucketJob) *symbolize.Trace {
	t, rep := j.t, j.g.members[0]
	if !p.needsDev(rep) {
		return p.devTraceFromRecord(rep)
	}
	dev, err := p.ensure(ctx, t, store.Dev)
	if err != nil {
		return nil
	}
	scratch, err := p.st.MkdirTemp("dev-*")
	if err != nil {
		return nil
	}
	defer os.RemoveAll(scratch)
	o := p.runOptions(t, store.Dev, dev, rep.Kind, scratch)
	// The dev question is "does it crash there too?": the first crash
	// answers it (a timeout costs a whole -timeout per try).
	o.StopAfter = 1
	r, err := Reproduce(ctx, o, p.abs(rep.Path))
	if err != nil {
		if ctx.Err() == nil {
			p.fail(store.Failure{Target: t.Name, Artifact: rep.Path, Stage: "reproduce-dev", Error: err.Error()})
		}
		return nil
	}
	if r.Trace != nil && r.Status != store.NotReproducible {
		r.Crash = crashRecord(r.Trace)
		if ref, err := p.stages.Bucket(r.Trace, BucketRequest{Target: t.Name, Binary: dev, Config: &p.cfg.Bucket}); err == nil {
			r.BucketID = ref.ID
		}
	}
	p.mu.Lock()
	p.rec.Work.ReproductionRuns += r.Tries
	p.mu.Unlock()
	j.recordDev(r)
	return r.Trace
}

// recordDev stores a dev reproduction in the representative's record and
// the bucket's.
func (j *bucketJob) recordDev(r *store.Reproduction) {
	t, b, rep := j.t, j.b, j.g.members[0]
	j.pass.mu.Lock()
	r.BinarySHA1 = j.binSHA[binaryKey(t, store.Dev)]
	j.rec.Work.DevReproductions++
	j.pass.mu.Unlock()
	j.mu.Lock()
	if rep.Reproductions == nil {
		rep.Reproductions = map[store.Profile]*store.Reproduction{}
	}
	rep.Reproductions[store.Dev] = r
	err := j.st.WriteArtifact(rep)
	if b.Reproducibility == nil {
		b.Reproducibility = map[store.Profile]store.Reproducibility{}
	}
	b.Reproducibility[store.Dev] = r.Status
	j.mu.Unlock()
	if err != nil {
		j.fail(store.Failure{Target: t.Name, Artifact: rep.Path, Stage: "store", Error: err.Error()})
	}
	j.save()
}

// releaseTrace is the representative's release trace: from this pass, or
// rebuilt from its record.
func (p *pass) releaseTrace(rep *store.ArtifactRecord) *symbolize.Trace {
	if rep.Bucket != nil {
		p.mu.Lock()
		k, ok := p.kept[rep.Bucket.ID]
		p.mu.Unlock()
		if ok && k.rec.SHA1 == rep.SHA1 {
			return k.trace
		}
	}
	return traceFromRecord(rep.Crash, rep.Frames)
}

func (p *pass) devTraceFromRecord(rep *store.ArtifactRecord) *symbolize.Trace {
	if r := rep.Reproductions[store.Dev]; r != nil {
		if r.Trace != nil {
			return r.Trace
		}
		return traceFromRecord(r.Crash, nil)
	}
	return nil
}

func traceFromRecord(c *store.CrashRecord, frames []symbolize.Frame) *symbolize.Trace {
	if c == nil {
		return nil
	}
	return &symbolize.Trace{Kind: c.Kind, Summary: c.Summary, Signal: c.Signal, Message: c.Message, Location: c.Location, Frames: frames}
}

// lldbSession runs the lldb stage for one profile; every way it can fail
// ends up in the findings' Error.
func (p *pass) lldbSession(ctx context.Context, t *Target, b *store.BucketRecord, rep *store.ArtifactRecord, prof store.Profile, in debugInput, tr *symbolize.Trace, finish bool) *store.LLDBFindings {
	f := &store.LLDBFindings{Input: in.sha}
	binary, err := p.ensure(ctx, t, prof)
	if err != nil {
		f.Error = fmt.Sprintf("no %s binary: %v", prof, firstLine(err.Error()))
		return f
	}
	if tr == nil && prof == store.Dev {
		// The dev build did not reproduce (or was not run): debug with
		// the release trace's idea of the crash.
		tr = p.releaseTrace(rep)
	}
	start := time.Now()
	dir := p.st.BucketDir(b.ID)
	if err := p.st.Mkdir(dir); err != nil {
		f.Error = err.Error()
		return f
	}
	if tr == nil {
		// Nothing known of the crash: debug it as the artifact's kind,
		// without running it first.
		tr = &symbolize.Trace{Kind: sessionKind("", nil, rep.Kind)}
	}
	p.log.WithFields(logrus.Fields{"bucket": b.ID, "profile": prof, "input": in.sha}).Debug("lldb session started")
	got, err := p.stages.LLDB(ctx, SessionRequest{
		Workspace: p.ws, Target: t.Name, Binary: binary, Profile: prof, Config: p.cfg,
		Input: in.path, Trace: tr, Dir: dir, ScriptName: "lldb-" + string(prof) + ".lldb",
		WriteFile: p.st.WriteFile, Stages: &p.stages, Finish: finish,
	})
	p.mu.Lock()
	p.rec.Work.LLDBSessions++
	p.mu.Unlock()
	if got != nil {
		f = got
		f.Input = in.sha
		f.CommandFile = p.st.Rel(f.CommandFile)
		f.Transcript = p.st.Rel(f.Transcript)
	}
	if err != nil && f.Error == "" {
		f.Error = err.Error()
	}
	p.log.WithFields(logrus.Fields{"bucket": b.ID, "profile": prof, "ms": time.Since(start).Milliseconds()}).Debug("lldb done")
	return f
}

// minimizeAll minimizes every recorded crash input that has no minimized
// form yet (--minimize all), smallest first, within the configured budget,
// reusing the bucket's result for its representative.
func (p *pass) minimizeAll(ctx context.Context) {
	budget := p.cfg.Minimize.Budget.D()
	bctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	// Every recorded crash input without a minimized form: this run's, and
	// those an earlier run's budget did not reach.
	var todo []*store.ArtifactRecord
	for sha, r := range p.arts {
		if r.Malformed() || r.Bucket == nil || r.Minimized != nil || !minimizable(r) {
			continue
		}
		if b := p.buckets[r.Bucket.ID]; b != nil && b.Minimized != nil && b.Minimized.From == sha {
			m := *b.Minimized
			r.Minimized = &m
			if err := p.st.WriteArtifact(r); err != nil {
				p.fail(store.Failure{Artifact: r.Path, Stage: "store", Error: err.Error()})
			}
			continue
		}
		todo = append(todo, r)
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].Size < todo[j].Size })
	jobs := make(chan *store.ArtifactRecord)
	var wg sync.WaitGroup
	done := 0
	for i := 0; i < p.cfg.JobCount(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				p.minimizeOne(bctx, r)
				p.mu.Lock()
				done++
				d := done
				p.mu.Unlock()
				p.progress("minimize-all", d, len(todo), r.Path)
			}
		}()
	}
	skipped := 0
	for _, r := range todo {
		if bctx.Err() != nil {
			skipped++
			continue
		}
		select {
		case jobs <- r:
		case <-bctx.Done():
			skipped++
		}
	}
	close(jobs)
	wg.Wait()
	if skipped > 0 && ctx.Err() == nil {
		p.fail(store.Failure{Stage: "minimize", Error: fmt.Sprintf("--minimize all: the budget of %s ran out with %d inputs left (they are minimized by a later run)", budget, skipped)})
	}
}

func (p *pass) minimizeOne(ctx context.Context, r *store.ArtifactRecord) {
	t := p.ws.Target(r.Target)
	if t == nil {
		return
	}
	binary, err := p.ensure(ctx, t, store.Release)
	if err != nil {
		return
	}
	scratch, err := p.st.MkdirTemp("min-*")
	if err != nil {
		return
	}
	defer os.RemoveAll(scratch)
	m, err := p.minimize(ctx, t, binary, r, p.st.MinimizedPath(r.SHA1), r.Bucket.ID, scratch)
	if err != nil {
		if !errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			p.fail(store.Failure{Target: t.Name, Artifact: r.Path, Stage: "minimize", Error: err.Error()})
		}
		return
	}
	r.Minimized = m
	if err := p.st.WriteArtifact(r); err != nil {
		p.fail(store.Failure{Artifact: r.Path, Stage: "store", Error: err.Error()})
	}
}

// finish computes the summary, writes the run record, then marks what it
// reported (a run killed before that reports it again: at least once).
func (p *pass) finish(groups map[string]*group) error {
	rec := p.rec
	for sha := range p.triaged {
		r := p.arts[sha]
		if r.Bucket != nil {
			if g := groups[r.Bucket.ID]; g != nil {
				g.fresh++
			}
		}
	}
	var ids []string
	for id := range p.buckets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var report []*store.BucketRecord
	for _, id := range ids {
		b := p.buckets[id]
		g := groups[id]
		if b.Malformed() {
			continue
		}
		if g == nil {
			if p.fixed[id] {
				rec.FixedBuckets = append(rec.FixedBuckets, id)
			}
			continue // fixed now or earlier: not expected tonight
		}
		sum := store.BucketSummary{ID: id, Title: b.Title, Members: b.MemberCount, NewMembers: b.MemberCount - b.ReportedMembers}
		switch {
		case b.ReportedMembers == 0:
			rec.NewBuckets = append(rec.NewBuckets, sum)
			report = append(report, b)
		case b.MemberCount > b.ReportedMembers:
			rec.GrownBuckets = append(rec.GrownBuckets, sum)
			report = append(report, b)
		case !g.seen:
			rec.UnseenBuckets = append(rec.UnseenBuckets, id)
		}
	}
	sort.Strings(rec.NotReproducible)
	sort.Strings(rec.Flaky)
	rec.Finished = p.now().UTC()
	rec.WallMS = rec.Finished.Sub(rec.Started).Milliseconds()
	if p.skipIdle && rec.Idle() {
		p.log.Debug("pass found nothing to do; no run record")
		return nil
	}
	path, err := p.st.WriteRun(rec)
	if err != nil {
		return fmt.Errorf("writing run record: %w", err)
	}
	for _, b := range report {
		b.ReportedMembers = b.MemberCount
		p.saveBucket(b)
	}
	p.log.WithFields(logrus.Fields{
		"record": path, "new_buckets": len(rec.NewBuckets), "grown_buckets": len(rec.GrownBuckets),
		"triaged": rec.Artifacts.Triaged, "failures": len(rec.Failures),
	}).Info("run finished")
	return nil
}
