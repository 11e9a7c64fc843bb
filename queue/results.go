package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
)

// ErrNotWaiting is a commit function's answer for a result nobody asked
// for yet (a restarted coordinator that has not re-submitted its job): the
// result stays queued and comes back.
var ErrNotWaiting = errors.New("no one is waiting for this job's result yet")

// Commit puts one job's result into the store. It returns nil once the
// result is there (or was found failed and recorded as such).
type Commit func(ctx context.Context, r Result, answer []byte) error

// CommitStats count what Commit saw.
type CommitStats struct {
	// Committed results; Duplicates are results of jobs committed before
	// (delivered again), skipped by the marker.
	Committed, Duplicates atomic.Int64
	// QueueMicros is the time spent on queue operations for the committed
	// jobs: the worker's storing and reporting of each answer, and here
	// reading it, the marker and the ack (waiting for the store's commit
	// is not counted).
	QueueMicros atomic.Int64
}

// Results commits the workers' results with commit until ctx ends, each
// job's exactly once: a job's result is committed only when the state
// bucket has no commit marker for it, the marker is created (create if
// absent) after the commit returns, and only then is the result acked. A
// coordinator that dies between its commit and the marker commits that
// result again when it restarts; commits are idempotent writes of the same
// record, so the store holds it once.
func (q *Queue) Results(ctx context.Context, commit Commit, stats *CommitStats) error {
	cons, err := q.res.Consumer(ctx, committerName)
	if err != nil {
		return fmt.Errorf("queue: committer consumer: %w", err)
	}
	if stats == nil {
		stats = &CommitStats{}
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(64, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			q.log.WithError(err).Debug("queue: fetch results")
			sleep(ctx, 500*time.Millisecond)
			continue
		}
		for msg := range batch.Messages() {
			q.commitOne(ctx, msg, commit, stats)
		}
	}
	return nil
}

func (q *Queue) commitOne(ctx context.Context, msg jetstream.Msg, commit Commit, stats *CommitStats) {
	var r Result
	if err := json.Unmarshal(msg.Data(), &r); err != nil || !hexID.MatchString(r.JobID) {
		q.log.WithError(err).Warn("queue: a result that cannot be read is dropped")
		_ = msg.TermWithReason("undecodable result")
		return
	}
	log := q.log.WithFields(logrus.Fields{"job": r.JobID, "worker": r.Worker})
	if q.Committed(ctx, r.JobID) {
		stats.Duplicates.Add(1)
		log.Debug("result of a job committed before: skipped")
		_ = msg.DoubleAck(ctx)
		return
	}
	began := time.Now()
	var answer []byte
	if r.Blob != "" {
		b, err := q.blobs.GetBytes(ctx, r.Blob)
		if err != nil {
			log.WithError(err).Warn("queue: reading a result's answer failed; retried")
			_ = msg.NakWithDelay(time.Second)
			return
		}
		answer = b
	}
	spent := time.Since(began)
	if err := commit(ctx, r, answer); err != nil {
		if !errors.Is(err, ErrNotWaiting) {
			log.WithError(err).Warn("queue: committing a result failed; retried")
		}
		_ = msg.NakWithDelay(500 * time.Millisecond)
		return
	}
	marked := time.Now()
	if _, err := q.state.Create(ctx, committedKey(r.JobID), []byte(r.Worker)); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		log.WithError(err).Warn("queue: writing a commit marker failed")
	}
	stats.Committed.Add(1)
	if err := msg.DoubleAck(ctx); err != nil {
		log.WithError(err).Warn("queue: acking a result failed")
	}
	spent += time.Since(marked) + time.Duration(r.QueueMS)*time.Millisecond
	stats.QueueMicros.Add(spent.Microseconds())
	// A fuzz job's answer (small, one per target and campaign) is kept: a
	// coordinator resuming the campaign after it was committed reads it.
	if r.Blob != "" && r.Kind != KindFuzz {
		_ = q.blobs.Delete(ctx, r.Blob)
	}
}

// PutFile stores a file's bytes as the blob name unless a blob of that name
// is there already (blobs are named by their digest).
func (q *Queue) PutFile(ctx context.Context, name, path string) error {
	if _, err := q.blobs.GetInfo(ctx, name); err == nil {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = q.blobs.Put(ctx, jetstream.ObjectMeta{Name: name}, f)
	return err
}

// GetFile writes blob name to path.
func (q *Queue) GetFile(ctx context.Context, name, path string) error {
	return q.blobs.GetFile(ctx, name, path)
}
