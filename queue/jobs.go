package queue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
)

// Job kinds: the subject a job is published on ends in its kind.
const (
	KindTriage = "triage" // reproduce one input on the release build
	KindFuzz   = "fuzz"   // fuzz one target for a while
)

var jobKinds = map[string]bool{KindTriage: true, KindFuzz: true}

// Job is one unit of work. It stays small: bytes it needs are blobs, named
// by digest.
type Job struct {
	// ID names what the job asks (see JobID): the same work submitted twice
	// is one job.
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Target is the fuzz target; BinaryDigest the SHA1 of the binary the
	// job must run (a worker with another refuses it).
	Target       string `json:"target"`
	BinaryDigest string `json:"binary_digest"`
	// Input is a triage job's input: the SHA1 of its bytes, a blob
	// (InputBlob), and its artifact kind (crash, timeout, oom, ...).
	Input     string `json:"input,omitempty"`
	InputKind string `json:"input_kind,omitempty"`
	// Cores, Seconds and Flags (libFuzzer's, which a worker checks:
	// campaign.QueuedFlags) are a fuzz job's; Corpus names the blob
	// listing its starting corpus (the SHA1s of input blobs). The worker's
	// own checkout gives the fuzzer's dictionary.
	Cores   int      `json:"cores,omitempty"`
	Seconds int      `json:"seconds,omitempty"`
	Flags   []string `json:"flags,omitempty"`
	Corpus  string   `json:"corpus,omitempty"`
}

// JobID digests the parts that decide a job's answer.
func JobID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// InputBlob is the blob name of an input with this SHA1.
func InputBlob(sha1 string) string { return "input/" + sha1 }

func resultBlob(jobID string) string { return "result/" + jobID }

// CorpusBlob is the blob name of a fuzz job's corpus list.
func CorpusBlob(jobID string) string { return "corpus/" + jobID }

// LogBlob is the blob name of a fuzz job's output.
func LogBlob(jobID string) string { return "log/" + jobID }

// PutBytes stores a small blob.
func (q *Queue) PutBytes(ctx context.Context, name string, data []byte) error {
	_, err := q.blobs.PutBytes(ctx, name, data)
	return err
}

// GetBytes reads a small blob.
func (q *Queue) GetBytes(ctx context.Context, name string) ([]byte, error) {
	return q.blobs.GetBytes(ctx, name)
}

// HasBlob says whether a blob of that name is stored.
func (q *Queue) HasBlob(ctx context.Context, name string) bool {
	_, err := q.blobs.GetInfo(ctx, name)
	return err == nil
}

// CommittedAnswer is the answer of a committed fuzz job (kept after its
// commit for a coordinator that resumes the campaign), or an error
// saying why there is none.
func (q *Queue) CommittedAnswer(ctx context.Context, id string) ([]byte, error) {
	if p, err := q.PoisonedJob(ctx, id); err != nil || p != nil {
		if err != nil {
			return nil, err
		}
		return nil, PoisonedError(id, p.Deliveries, p.Worker, p.Error)
	}
	return q.blobs.GetBytes(ctx, resultBlob(id))
}

var hexID = regexp.MustCompile(`^[0-9a-f]{1,64}$`)

func (j *Job) check() error {
	switch {
	case !hexID.MatchString(j.ID):
		return fmt.Errorf("job id %q: want hex digits", j.ID)
	case !jobKinds[j.Kind]:
		return fmt.Errorf("job %s: unknown kind %q", j.ID, j.Kind)
	case j.Kind == KindTriage && !hexID.MatchString(j.Input):
		return fmt.Errorf("job %s: input %q is not a SHA1", j.ID, j.Input)
	case j.Kind == KindFuzz && (j.Cores <= 0 || j.Seconds <= 0 || j.Corpus != CorpusBlob(j.ID)):
		return fmt.Errorf("job %s: a fuzz job needs cores, seconds and its corpus list", j.ID)
	}
	return nil
}

// Submit publishes a job. A job whose id was submitted before (within a
// day) is dropped by the server; duplicate says so.
func (q *Queue) Submit(ctx context.Context, job Job) (duplicate bool, err error) {
	if err := job.check(); err != nil {
		return false, err
	}
	data, err := json.Marshal(job)
	if err != nil {
		return false, err
	}
	if len(data) > maxJobBytes/2 {
		return false, fmt.Errorf("job %s: %d bytes; jobs stay small (put bytes in a blob)", job.ID, len(data))
	}
	ack, err := q.js.Publish(ctx, jobsSubject+"."+job.Kind, data, jetstream.WithMsgID(job.ID))
	if err != nil {
		return false, fmt.Errorf("queue: submitting job %s: %w", job.ID, err)
	}
	return ack.Duplicate, nil
}

// Result is what a worker reports for a job: its answer (a blob) or, for a
// poisoned job, the last error.
type Result struct {
	JobID      string `json:"job_id"`
	Kind       string `json:"kind"`
	Worker     string `json:"worker"`
	Deliveries int    `json:"deliveries"`
	// Blob names the answer's bytes; Error is set instead when the job
	// failed on every delivery (poisoned).
	Blob  string `json:"blob,omitempty"`
	Error string `json:"error,omitempty"`
	// QueueMS is the time the worker spent storing and reporting the
	// answer (the queue's cost, not the job's).
	QueueMS int64 `json:"queue_ms,omitempty"`
}

// PoisonedError says job id failed on every one of its deliveries, with
// the last worker's error.
func PoisonedError(id string, deliveries int, worker, why string) error {
	return fmt.Errorf("job %s poisoned after %d deliveries (last worker %s): %s", id, deliveries, worker, why)
}

// Poisoned is what the state bucket keeps of a job that failed MaxDeliver
// times.
type Poisoned struct {
	Job        Job       `json:"job"`
	Error      string    `json:"error"`
	Deliveries int       `json:"deliveries"`
	Worker     string    `json:"worker"`
	At         time.Time `json:"at"`
}

// Refusal is a handler's error for a job this worker cannot do (another
// binary): the job goes back at once for another worker.
type Refusal struct{ Why string }

func (r *Refusal) Error() string { return r.Why }

// Handler does one job and returns its answer's bytes.
type Handler func(ctx context.Context, job Job) ([]byte, error)

// WorkOptions name the worker.
type WorkOptions struct {
	Name string
	// Jobs, when > 0, ends Work after that many jobs were answered.
	Jobs int
}

// Work takes jobs and runs them with h until ctx ends: each job is
// heartbeated while it runs (InProgress, a third of AckWait apart, so a
// job of hours is never handed to a second worker while this one lives),
// its answer is stored and reported, and only then is it acked. A job that
// fails on its last delivery is poisoned: recorded in the state bucket
// with its last error, reported, and removed from the stream.
func (q *Queue) Work(ctx context.Context, wo WorkOptions, h Handler) error {
	cons, err := q.jobs.Consumer(ctx, workersName)
	if err != nil {
		return fmt.Errorf("queue: workers consumer: %w", err)
	}
	cfg := cons.CachedInfo().Config
	answered := 0
	for ctx.Err() == nil {
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			q.log.WithError(err).Debug("queue: fetch")
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		for msg := range batch.Messages() {
			if q.handle(ctx, msg, cfg, wo.Name, h) {
				answered++
			}
		}
		if wo.Jobs > 0 && answered >= wo.Jobs {
			return nil
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// handle runs one delivery; it says whether the job was answered.
func (q *Queue) handle(ctx context.Context, msg jetstream.Msg, cfg jetstream.ConsumerConfig, worker string, h Handler) bool {
	deliveries := 1
	if md, err := msg.Metadata(); err == nil {
		deliveries = int(md.NumDelivered)
	}
	var job Job
	if err := json.Unmarshal(msg.Data(), &job); err != nil || job.check() != nil {
		if err == nil {
			err = job.check()
		}
		q.log.WithError(err).Warn("queue: a job that cannot be read is dropped")
		_ = msg.TermWithReason("undecodable job")
		return false
	}
	log := q.log.WithFields(logrus.Fields{"job": job.ID, "kind": job.Kind, "target": job.Target, "delivery": deliveries})
	if q.Committed(ctx, job.ID) {
		// Done and committed already: a worker died after its answer was
		// committed and before its ack reached the server.
		log.Info("job already committed; acked without running it again")
		_ = msg.DoubleAck(ctx)
		return false
	}
	jctx, cancel := context.WithCancel(ctx)
	beat := time.NewTicker(cfg.AckWait / 3)
	go func() {
		for {
			select {
			case <-jctx.Done():
				return
			case <-beat.C:
				_ = msg.InProgress()
			}
		}
	}()
	// A fuzz job runs for minutes or hours: someone watching a worker
	// wants to see it; thousands of first runs would drown the log.
	level := logrus.DebugLevel
	if job.Kind == KindFuzz {
		level = logrus.InfoLevel
	}
	log.Log(level, "job started")
	out, err := h(jctx, job)
	beat.Stop()
	cancel()
	if ctx.Err() != nil {
		// This worker is stopping: the job goes back for another.
		_ = msg.Nak()
		return false
	}
	if err != nil {
		var refusal *Refusal
		if cfg.MaxDeliver > 0 && deliveries >= cfg.MaxDeliver {
			q.poison(ctx, msg, job, worker, deliveries, err)
			return false
		}
		delay := time.Duration(deliveries) * time.Second
		if errors.As(err, &refusal) {
			delay = 200 * time.Millisecond
		}
		log.WithError(err).Warn("job failed; it goes back to the queue")
		_ = msg.NakWithDelay(delay)
		return false
	}
	stored := time.Now()
	blob := resultBlob(job.ID)
	if _, err := q.blobs.PutBytes(ctx, blob, out); err != nil {
		log.WithError(err).Warn("storing a job's answer failed; it goes back to the queue")
		_ = msg.NakWithDelay(time.Second)
		return false
	}
	r := Result{JobID: job.ID, Kind: job.Kind, Worker: worker, Deliveries: deliveries, Blob: blob, QueueMS: time.Since(stored).Milliseconds()}
	if err := q.report(ctx, r); err != nil {
		log.WithError(err).Warn("reporting a job's answer failed; it goes back to the queue")
		_ = msg.NakWithDelay(time.Second)
		return false
	}
	if err := msg.DoubleAck(ctx); err != nil {
		// The answer is reported; a second delivery finds it committed
		// or reports it again (dropped as a duplicate).
		log.WithError(err).Warn("acking a job failed")
	}
	log.Log(level, "job answered")
	return true
}

func (q *Queue) report(ctx context.Context, r Result) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = q.js.Publish(ctx, resultsSubject+"."+r.Kind, data, jetstream.WithMsgID("result-"+r.JobID))
	return err
}

func (q *Queue) poison(ctx context.Context, msg jetstream.Msg, job Job, worker string, deliveries int, cause error) {
	log := q.log.WithFields(logrus.Fields{"job": job.ID, "kind": job.Kind, "target": job.Target, "deliveries": deliveries})
	rec, _ := json.Marshal(Poisoned{Job: job, Error: cause.Error(), Deliveries: deliveries, Worker: worker, At: time.Now().UTC()})
	if _, err := q.state.Put(ctx, poisonedKey(job.ID), rec); err != nil {
		log.WithError(err).Warn("recording a poisoned job failed; it goes back to the queue")
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if err := q.report(ctx, Result{JobID: job.ID, Kind: job.Kind, Worker: worker, Deliveries: deliveries, Error: cause.Error()}); err != nil {
		log.WithError(err).Warn("reporting a poisoned job failed")
	}
	log.WithError(cause).Error("job poisoned: it failed on every delivery and is removed from the queue")
	_ = msg.TermWithReason("poisoned: " + cause.Error())
}

func poisonedKey(id string) string  { return "poisoned." + id }
func committedKey(id string) string { return "committed." + id }

// PoisonedJob returns the record of a poisoned job (nil when it is not).
func (q *Queue) PoisonedJob(ctx context.Context, id string) (*Poisoned, error) {
	e, err := q.state.Get(ctx, poisonedKey(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p Poisoned
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return nil, fmt.Errorf("queue: poisoned record of %s: %w", id, err)
	}
	return &p, nil
}

// Committed says whether a job's answer was committed.
func (q *Queue) Committed(ctx context.Context, id string) bool {
	_, err := q.state.Get(ctx, committedKey(id))
	return err == nil
}
