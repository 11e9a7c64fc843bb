// Package remote runs the triage pipeline's first reproductions and a
// campaign's fuzzers on workers through the queue: the coordinator's side
// (a triage.RemoteReproducer that submits one job per input and hands each
// result to the pipeline, which commits it; a triage.RemoteFuzzer that
// submits one job per target and brings back what it found) and the
// worker's (a queue.Handler that runs a triage job with the one
// reproduction path, triage.ReproduceJob, and a fuzz job with the campaign
// runner, triage.FuzzOnWorker).
package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/fuzztriage/triage/queue"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
	"github.com/fuzztriage/triage/triage"
)

// answer is a triage job's result: the reproduction with what its JSON
// form leaves out (the parsed trace and the reference try's log).
type answer struct {
	Reproduction *store.Reproduction `json:"reproduction"`
	Trace        *symbolize.Trace    `json:"trace,omitempty"`
	Log          string              `json:"log,omitempty"`
	// FetchMicros is the worker's time fetching the input from the queue.
	FetchMicros int64 `json:"fetch_us,omitempty"`
}

// Coordinator submits first runs as jobs and waits for their results.
type Coordinator struct {
	q     *queue.Queue
	slots int
	log   logrus.FieldLogger

	mu      sync.Mutex
	waiting map[string]*waiter
	// Stats count the results committed and the duplicates skipped.
	Stats queue.CommitStats
}

type waiter struct {
	got  chan delivery
	gone chan struct{} // closed when the waiter returns without taking a delivery
}

type delivery struct {
	r      queue.Result
	answer []byte
	done   chan struct{} // closed once the pipeline wrote the record
}

// NewCoordinator starts committing q's results until ctx ends; slots is
// how many first runs may be outstanding.
func NewCoordinator(ctx context.Context, q *queue.Queue, slots int, log logrus.FieldLogger) *Coordinator {
	c := &Coordinator{q: q, slots: slots, log: log, waiting: map[string]*waiter{}}
	go q.Results(ctx, c.commit, &c.Stats)
	return c
}

// Slots implements triage.RemoteReproducer.
func (c *Coordinator) Slots() int { return c.slots }

// JobOf is the triage job of a request: its id digests the target, the
// input, its kind and the binary, so the same first run is one job.
func JobOf(req triage.RemoteRequest) queue.Job {
	return queue.Job{
		ID:   queue.JobID(queue.KindTriage, req.Target, req.SHA1, string(req.Kind), req.BinaryDigest),
		Kind: queue.KindTriage, Target: req.Target, BinaryDigest: req.BinaryDigest,
		Input: req.SHA1, InputKind: string(req.Kind),
	}
}

// Reproduce implements triage.RemoteReproducer: the input goes to the
// object store, its job to the queue, and the result comes back through
// commit.
func (c *Coordinator) Reproduce(ctx context.Context, req triage.RemoteRequest) (*store.Reproduction, func(), error) {
	if req.BinaryDigest == "" {
		return nil, nil, fmt.Errorf("%s: no release binary digest to send with the job", req.Target)
	}
	job := JobOf(req)
	d, err := c.run(ctx, job, func() error {
		if err := c.q.PutFile(ctx, queue.InputBlob(req.SHA1), req.Input); err != nil {
			return fmt.Errorf("storing the input in the queue: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	written := func() { close(d.done) }
	if d.r.Error != "" {
		return nil, written, queue.PoisonedError(job.ID, d.r.Deliveries, d.r.Worker, d.r.Error)
	}
	var a answer
	if err := json.Unmarshal(d.answer, &a); err != nil || a.Reproduction == nil {
		if err == nil {
			err = errors.New("no reproduction")
		}
		return nil, written, fmt.Errorf("job %s: the answer of worker %s cannot be read: %v", job.ID, d.r.Worker, err)
	}
	a.Reproduction.Trace, a.Reproduction.Log = a.Trace, a.Log
	c.Stats.QueueMicros.Add(a.FetchMicros)
	return a.Reproduction, written, nil
}

// run submits job (after prepare, which stores what it needs) and waits
// for its result; the caller closes the delivery's done once the result is
// in the store.
func (c *Coordinator) run(ctx context.Context, job queue.Job, prepare func() error) (delivery, error) {
	w := &waiter{got: make(chan delivery, 1), gone: make(chan struct{})}
	c.mu.Lock()
	c.waiting[job.ID] = w
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, job.ID)
		c.mu.Unlock()
	}()
	submit := time.Now()
	if err := prepare(); err != nil {
		close(w.gone)
		return delivery{}, err
	}
	if _, err := c.q.Submit(ctx, job); err != nil {
		close(w.gone)
		return delivery{}, err
	}
	// Storing what the job needs and submitting it is the queue's cost.
	c.Stats.QueueMicros.Add(time.Since(submit).Microseconds())
	select {
	case d := <-w.got:
		return d, nil
	case <-ctx.Done():
		close(w.gone)
		return delivery{}, ctx.Err()
	}
}

// commit hands a result to the first run waiting for it and returns once
// the pipeline wrote the input's record.
func (c *Coordinator) commit(ctx context.Context, r queue.Result, ans []byte) error {
	c.mu.Lock()
	w, ok := c.waiting[r.JobID]
	c.mu.Unlock()
	if !ok {
		return queue.ErrNotWaiting
	}
	d := delivery{r: r, answer: ans, done: make(chan struct{})}
	select {
	case w.got <- d:
	case <-w.gone:
		return queue.ErrNotWaiting
	}
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Worker runs triage jobs on this machine's workspace.
type Worker struct {
	Workspace *triage.Workspace
	Config    *triage.Config
	Stages    triage.Stages
	Queue     *queue.Queue
	// Scratch is where inputs and runs go (a temporary directory).
	Scratch string
	Log     logrus.FieldLogger
}

// Handle implements queue.Handler.
func (w *Worker) Handle(ctx context.Context, job queue.Job) ([]byte, error) {
	if job.Kind == queue.KindFuzz {
		return w.fuzz(ctx, job)
	}
	if job.Kind != queue.KindTriage {
		return nil, &queue.Refusal{Why: fmt.Sprintf("job %s: this worker does not run %s jobs", job.ID, job.Kind)}
	}
	kind := store.ArtifactKind(job.InputKind)
	if !slices.Contains(triage.ReproducedKinds, kind) {
		return nil, fmt.Errorf("job %s: input kind %q is not one a run reproduces", job.ID, job.InputKind)
	}
	dir, err := os.MkdirTemp(w.Scratch, "job-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	input := filepath.Join(dir, job.Input)
	fetch := time.Now()
	if err := w.Queue.GetFile(ctx, queue.InputBlob(job.Input), input); err != nil {
		return nil, fmt.Errorf("job %s: fetching input %s: %w", job.ID, job.Input, err)
	}
	fetched := time.Since(fetch)
	if sha, _, err := store.FileSHA1(input); err != nil || sha != job.Input {
		return nil, fmt.Errorf("job %s: input blob %s has SHA1 %s", job.ID, job.Input, sha)
	}
	scratch := filepath.Join(dir, "run")
	if err := os.Mkdir(scratch, 0o755); err != nil {
		return nil, err
	}
	rep, err := triage.ReproduceJob(ctx, w.Workspace, w.Config, w.Stages, job.Target, job.BinaryDigest, input, kind, scratch)
	if err != nil {
		var wrong *triage.WrongWorkerError
		if errors.As(err, &wrong) {
			return nil, &queue.Refusal{Why: wrong.Why}
		}
		return nil, err
	}
	return json.Marshal(answer{Reproduction: rep, Trace: rep.Trace, Log: rep.Log, FetchMicros: fetched.Microseconds()})
}
