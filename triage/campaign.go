package triage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/fuzztriage/triage/campaign"
	"github.com/fuzztriage/triage/cmin"
	"github.com/fuzztriage/triage/store"
)

// The values of --triage for a campaign.
const (
	TriageDuring = "during"
	TriageAfter  = "after"
	TriageOff    = "off"
)

// FuzzOptions configure a campaign.
type FuzzOptions struct {
	// Options are the triage pipeline's (config, stages, log, progress).
	Options
	Duration time.Duration
	// Cores for the whole campaign (0: all of this machine's).
	Cores int
	// Triage is during, after or off.
	Triage string
	Cmin   bool
	// Report hears each target's live figures.
	Report func(campaign.Progress)
	// RemoteFuzz, when set, runs the fuzzers on workers instead of here.
	RemoteFuzz RemoteFuzzer
}

// CampaignPlan is what a campaign will run: each target's weight, cores
// and command. --dry-run prints it.
type CampaignPlan struct {
	Duration    time.Duration
	Cores       int
	FuzzCores   int
	TriageCores int
	Triage      string
	Targets     []PlannedTarget
}

// PlannedTarget is one target's place in the plan.
type PlannedTarget struct {
	Target     *Target
	Binary     string
	Weight     float64
	WeightFrom string
	Edges      int
	Cores      int
	Job        *campaign.Job
}

// PlanCampaign builds the release binaries (as the build settings say),
// weighs the targets and splits the cores among them.
func PlanCampaign(ctx context.Context, ws *Workspace, opts FuzzOptions) (*CampaignPlan, error) {
	cfg := opts.Config
	if cfg == nil {
		cfg = DefaultConfig()
	}
	targets, err := selectTargets(ws, opts.Targets)
	if err != nil {
		return nil, err
	}
	cores := opts.Cores
	if cores <= 0 {
		cores = runtime.NumCPU()
	}
	plan := &CampaignPlan{Duration: opts.Duration, Cores: cores, Triage: opts.Triage}
	if opts.Triage == TriageDuring && cores > 1 {
		plan.TriageCores = max(cfg.Campaign.TriageCores, 1)
		plan.TriageCores = min(plan.TriageCores, cores-1)
	}
	plan.FuzzCores = cores - plan.TriageCores
	scratch, err := os.MkdirTemp("", "triage-plan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	var demands []campaign.Demand
	var measured []bool
	for _, t := range targets {
		bin, err := EnsureBinary(ctx, ws, t.Name, store.Release, cfg)
		if err != nil {
			return nil, err
		}
		pt := PlannedTarget{Target: t, Binary: bin}
		if w := cfg.Campaign.Targets[t.Name].Weight; w != "" {
			pt.Weight, _ = campaign.ParseWeight(w) // validated with the config
			pt.WeightFrom = "triage.yaml: campaign.targets." + t.Name + ".weight: " + w
		} else {
			n, err := campaign.MeasureEdges(ctx, bin, scratch)
			if err != nil {
				return nil, fmt.Errorf("%s: measuring its weight: %w (give it one in triage.yaml: campaign.targets.%s.weight)", t.Name, err, t.Name)
			}
			pt.Weight, pt.Edges = float64(n), n
			pt.WeightFrom = fmt.Sprintf("measured: %d instrumented edges; the average measured target weighs as %s", n, campaign.MeasuredScale)
		}
		demands = append(demands, campaign.Demand{Name: t.Name, Weight: pt.Weight})
		measured = append(measured, pt.Edges > 0)
		plan.Targets = append(plan.Targets, pt)
	}
	campaign.ScaleMeasured(demands, measured)
	for i := range plan.Targets {
		plan.Targets[i].Weight = demands[i].Weight
	}
	alloc := campaign.Allocate(plan.FuzzCores, demands)
	for i := range plan.Targets {
		pt := &plan.Targets[i]
		pt.Cores = alloc[pt.Target.Name]
		pt.Job = fuzzJob(pt.Target, pt.Binary, pt.Cores, cfg, pt.Target.CorpusDir(), pt.Target.ArtifactDir())
	}
	return plan, nil
}

// fuzzJob is one target's fuzzer: the target's options, its dictionary
// and the campaign's flags.
func fuzzJob(t *Target, binary string, cores int, cfg *Config, corpus, artifacts string) *campaign.Job {
	return &campaign.Job{Name: t.Name, Binary: binary, Corpus: corpus, Artifacts: artifacts,
		Cores: cores, Dir: t.FuzzDir, Env: cfg.Reproduce.Env,
		Flags: append(append(append([]string{}, t.Options...), dictFlag(t)...), cfg.Campaign.Flags...)}
}

// workerFlags are the flags of t's fuzzer that go to a worker with its
// fuzz job: the target's options and the campaign's flags, without the
// dictionary (a path here; the worker's checkout gives its own). They
// must be flags a queued job may carry (campaign.CheckQueuedFlags).
func workerFlags(t *Target, cfg *Config) ([]string, error) {
	var flags []string
	for _, f := range append(append([]string{}, t.Options...), cfg.Campaign.Flags...) {
		if !strings.HasPrefix(f, "-dict=") {
			flags = append(flags, f)
		}
	}
	if err := campaign.CheckQueuedFlags(flags); err != nil {
		return nil, fmt.Errorf("fuzz target %s: %w", t.Name, err)
	}
	return flags, nil
}

// RemoteFuzzer runs a campaign's fuzzers on workers (package remote).
type RemoteFuzzer interface {
	// Fuzz runs each target for d on a worker, puts what the workers
	// found into the targets' artifact and corpus directories, and
	// returns each target's figures, in order.
	// campaign names the campaign (the same when a coordinator resumes
	// it).
	Fuzz(ctx context.Context, campaign string, targets []RemoteFuzzTarget, d time.Duration) ([]store.CampaignTarget, error)
}

// RemoteFuzzTarget is one target's share of a campaign run elsewhere.
type RemoteFuzzTarget struct {
	Target *Target
	// BinaryDigest is the SHA1 of the release binary the worker must run.
	BinaryDigest string
	Cores        int
	// Flags are the fuzzer's libFuzzer flags (workerFlags).
	Flags []string
	// Log receives the fuzzer's output (its last part, as the worker
	// kept it).
	Log io.Writer
}

// FuzzOnWorker is a worker's side of a remote fuzz job: the campaign
// runner on this machine's release binary of target (which must have the
// digest the job names), fuzzing corpus and writing into artifacts (the
// worker's scratch directories), with the job's flags (checked: a
// *campaign.QueuedFlagError for one a job may not carry) and this
// checkout's dictionary of the target.
func FuzzOnWorker(ctx context.Context, ws *Workspace, cfg *Config, target, binaryDigest string, cores int, flags []string, d time.Duration, corpus, artifacts, scratch string, log io.Writer) (store.CampaignTarget, error) {
	if err := campaign.CheckQueuedFlags(flags); err != nil {
		return store.CampaignTarget{}, err
	}
	t := ws.Target(target)
	if t == nil {
		return store.CampaignTarget{}, &WrongWorkerError{Why: fmt.Sprintf("no fuzz target %q in %s", target, ws.Root)}
	}
	binary, err := checkDigest(t, binaryDigest)
	if err != nil {
		return store.CampaignTarget{}, err
	}
	j := &campaign.Job{Name: t.Name, Binary: binary, Corpus: corpus, Artifacts: artifacts, Cores: cores, Dir: t.FuzzDir,
		Env: cfg.Reproduce.Env, Flags: append(append([]string{}, flags...), dictFlag(t)...), Log: log, TmpRoot: scratch}
	res, err := campaign.Run(ctx, []*campaign.Job{j}, campaign.Options{Duration: d})
	if err != nil {
		return store.CampaignTarget{}, err
	}
	return res[0], nil
}

// dictFlag is -dict=<fuzz dir>/<target>.dict when that file exists and the
// target's options name no dictionary.
func dictFlag(t *Target) []string {
	for _, o := range t.Options {
		if strings.HasPrefix(o, "-dict=") {
			return nil
		}
	}
	p := filepath.Join(t.FuzzDir, t.Name+".dict")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return []string{"-dict=" + p}
	}
	return nil
}

func selectTargets(ws *Workspace, names []string) ([]*Target, error) {
	if len(names) == 0 {
		return ws.Targets, nil
	}
	var out []*Target
	for _, n := range names {
		t := ws.Target(n)
		if t == nil {
			return nil, fmt.Errorf("no fuzz target %q in %s", n, ws.Root)
		}
		out = append(out, t)
	}
	return out, nil
}

// Fuzz runs the planned campaign: every target's fuzzer, triage of what
// they find (during: the watch service on the cores left over; after: one
// run at the end), corpus minimization, the health checks; and writes the
// campaign record. Interrupted (ctx done), it stops the fuzzers and still
// triages nothing more but writes the record of what ran.
func Fuzz(ctx context.Context, ws *Workspace, plan *CampaignPlan, opts FuzzOptions) (*store.CampaignRecord, error) {
	cfg, log := configAndLog(opts.Config, opts.Log)
	st, err := store.Open(cfg.StoreDir(ws.Root))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rec := &store.CampaignRecord{Workspace: ws.Root, Started: time.Now().UTC(), Duration: plan.Duration.String(), Cores: plan.Cores,
		FuzzCores: plan.FuzzCores, TriageCores: plan.TriageCores, Triage: plan.Triage, Method: campaign.Method,
		NewBuckets: []store.BucketSummary{}, KnownBuckets: []store.BucketSummary{}, Failures: []store.Failure{}}
	var remote []RemoteFuzzTarget
	var planned strings.Builder
	if opts.RemoteFuzz != nil {
		for _, pt := range plan.Targets {
			digest, _, err := store.FileSHA1(pt.Binary)
			if err != nil {
				return nil, err
			}
			flags, err := workerFlags(pt.Target, cfg)
			if err != nil {
				return nil, err
			}
			remote = append(remote, RemoteFuzzTarget{Target: pt.Target, BinaryDigest: digest, Cores: pt.Cores, Flags: flags})
			fmt.Fprintf(&planned, "%s %s %d %q\n", pt.Target.Name, digest, pt.Cores, flags)
		}
		fmt.Fprintf(&planned, "for %s\n", plan.Duration)
		queued, err := st.QueuedCampaign()
		if err != nil {
			return nil, err
		}
		if queued != nil && queued.Plan == planned.String() {
			// The workers may still be fuzzing for it: its jobs are
			// submitted again (the queue drops them as duplicates) and
			// their results awaited.
			rec.Started = queued.Started
			log.WithField("started", rec.Started).Info("resuming the campaign this store left running on workers")
		}
	}
	dir := st.CampaignDir(rec.Started)
	if err := st.Mkdir(filepath.Join(dir, "tmp")); err != nil {
		return nil, err
	}
	if remote != nil {
		if err := st.SetQueuedCampaign(&store.QueuedCampaign{Started: rec.Started, Plan: planned.String()}); err != nil {
			return nil, err
		}
	}
	var jobs []*campaign.Job
	var logs []*store.RotatingLog
	for _, pt := range plan.Targets {
		l, err := st.OpenRotatingLog(filepath.Join(dir, pt.Target.Name+".log"), cfg.Campaign.LogCap)
		if err != nil {
			return nil, err
		}
		logs = append(logs, l)
		j := *pt.Job
		j.Log = l
		// Not the store's tmp/: a triage run taking the lock clears that.
		j.TmpRoot = filepath.Join(dir, "tmp")
		jobs = append(jobs, &j)
	}
	log.WithFields(logrus.Fields{"targets": len(jobs), "cores": plan.Cores, "duration": plan.Duration.String(), "triage": plan.Triage}).Info("campaign started")

	// Triage while fuzzing: the watch service, on its own cores, until the
	// fuzzers end.
	triaged := newBucketTally()
	var watchDone chan error
	stopWatch := func() {}
	if plan.Triage == TriageDuring {
		wctx, cancel := context.WithCancel(ctx)
		stopWatch = cancel
		wopts := opts.Options
		wcfg := *cfg
		wcfg.Jobs = max(plan.TriageCores, 1)
		wopts.Config = &wcfg
		wopts.Progress = nil
		watchDone = make(chan error, 1)
		go func() {
			watchDone <- Watch(wctx, ws.Root, WatchOptions{Options: wopts, OnPass: func(r *store.RunRecord, err error) {
				if r != nil {
					triaged.add(r)
				}
			}})
		}()
	}
	var results []store.CampaignTarget
	var runErr error
	if opts.RemoteFuzz != nil {
		for i := range remote {
			remote[i].Log = logs[i]
		}
		results, runErr = opts.RemoteFuzz.Fuzz(ctx, store.CampaignName(rec.Started), remote, plan.Duration)
		for i := range results {
			results[i].Binary = plan.Targets[i].Binary
		}
	} else {
		results, runErr = campaign.Run(ctx, jobs, campaign.Options{Duration: plan.Duration, Report: opts.Report})
	}
	stopWatch()
	if watchDone != nil {
		if err := <-watchDone; err != nil && !errors.Is(err, context.Canceled) {
			rec.Failures = append(rec.Failures, store.Failure{Stage: "triage", Error: err.Error()})
		}
	}
	for _, l := range logs {
		if err := l.Close(); err != nil {
			rec.Failures = append(rec.Failures, store.Failure{Stage: "campaign-log", Error: err.Error()})
		}
	}
	if runErr != nil {
		return nil, runErr
	}
	if ctx.Err() != nil {
		rec.Stopped = "interrupted: " + context.Cause(ctx).Error()
	}
	for i, r := range results {
		pt := plan.Targets[i]
		r.Weight, r.WeightFrom, r.Edges = pt.Weight, pt.WeightFrom, pt.Edges
		r.Log = st.Rel(filepath.Join(dir, pt.Target.Name+".log"))
		if r.Error != "" {
			rec.Failures = append(rec.Failures, store.Failure{Target: r.Name, Stage: "fuzz", Error: r.Error})
		}
		results[i] = r
	}
	// The last artifacts: one run picks up what the watch had not (or
	// everything, with --triage after).
	if ctx.Err() == nil && plan.Triage != TriageOff {
		topts := opts.Options
		topts.Targets = targetNames(plan)
		r, err := Run(ctx, ws, topts)
		if r != nil {
			triaged.add(r)
		}
		if err != nil {
			rec.Failures = append(rec.Failures, store.Failure{Stage: "triage", Error: err.Error()})
		}
	}
	rec.NewBuckets, rec.KnownBuckets = triaged.summaries()
	if ctx.Err() == nil && opts.Cmin {
		for i := range results {
			pt := plan.Targets[i]
			res, err := MinimizeCorpus(ctx, st, pt.Target, pt.Binary, cfg)
			if err != nil {
				rec.Failures = append(rec.Failures, store.Failure{Target: pt.Target.Name, Stage: "cmin", Error: err.Error()})
				continue
			}
			results[i].CorpusAfterCmin = res.After
		}
	}
	os.RemoveAll(filepath.Join(dir, "tmp"))
	rec.Targets = results
	rec.Health = campaign.Health(results)
	rec.Finished = time.Now().UTC()
	rec.WallMS = rec.Finished.Sub(rec.Started).Milliseconds()
	if _, err := st.WriteCampaign(rec); err != nil {
		return rec, err
	}
	if remote != nil {
		if err := st.SetQueuedCampaign(nil); err != nil {
			return rec, err
		}
	}
	return rec, nil
}

// configAndLog are cfg and log, or the defaults (and a logger of our own)
// for a caller that gave none.
func configAndLog(cfg *Config, log logrus.FieldLogger) (*Config, logrus.FieldLogger) {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	if log == nil {
		log = logrus.New()
	}
	return cfg, log
}

func targetNames(plan *CampaignPlan) []string {
	var out []string
	for _, pt := range plan.Targets {
		out = append(out, pt.Target.Name)
	}
	return out
}

// MinimizeCorpus minimizes one target's corpus (see package cmin), its
// state kept under <store>/cmin/<target>/.
func MinimizeCorpus(ctx context.Context, st *store.Store, t *Target, binary string, cfg *Config) (*cmin.Result, error) {
	work := st.Path(filepath.Join("cmin", t.Name))
	if err := st.Mkdir(work); err != nil {
		return nil, err
	}
	return cmin.Minimize(ctx, cmin.Request{Binary: binary, Corpus: t.CorpusDir(), Work: work, Flags: t.Options, Env: cfg.Reproduce.Env})
}

// bucketTally sums the buckets of several run records: new ones (never
// reported before the campaign) and known ones that grew.
type bucketTally struct {
	mu    sync.Mutex
	new   map[string]*store.BucketSummary
	known map[string]*store.BucketSummary
}

func newBucketTally() *bucketTally {
	return &bucketTally{new: map[string]*store.BucketSummary{}, known: map[string]*store.BucketSummary{}}
}

func (b *bucketTally) add(r *store.RunRecord) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range r.NewBuckets {
		c := s
		c.NewMembers = s.Members
		b.new[s.ID] = &c
	}
	for _, s := range r.GrownBuckets {
		if n := b.new[s.ID]; n != nil {
			// New in this campaign, grown since.
			n.Members, n.NewMembers = s.Members, n.NewMembers+s.NewMembers
			continue
		}
		if k := b.known[s.ID]; k != nil {
			k.Members, k.NewMembers = s.Members, k.NewMembers+s.NewMembers
			continue
		}
		c := s
		b.known[s.ID] = &c
	}
}

func (b *bucketTally) summaries() (newB, known []store.BucketSummary) {
	b.mu.Lock()
	defer b.mu.Unlock()
	list := func(m map[string]*store.BucketSummary) []store.BucketSummary {
		out := []store.BucketSummary{}
		for _, s := range m {
			out = append(out, *s)
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].NewMembers != out[j].NewMembers {
				return out[i].NewMembers > out[j].NewMembers
			}
			return out[i].ID < out[j].ID
		})
		return out
	}
	return list(b.new), list(b.known)
}
