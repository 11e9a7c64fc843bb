package remote

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/campaign"
	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/queue"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

// TestWorkerAnswersAndRefusesAnotherBinary: through an embedded queue, a
// worker reproduces a real input of the fixture (its answer carries the
// parsed trace) when the job names its binary's digest, and refuses a job
// that names another: that job is poisoned after its deliveries and the
// coordinator's first run fails with the worker's reason.
func TestWorkerAnswersAndRefusesAnotherBinary(t *testing.T) {
	root := fixture.Root()
	fixture.Build(t, root)
	ws, err := triage.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	cfg := triage.DefaultConfig()
	cfg.Build.Mode = triage.BuildNever
	ws.Configure(cfg)
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	bug := m.Bug("ide-dma-no-prd")
	input := fixture.ArtifactPath(root, bug.Target, bug.Inputs[0].File)
	sha, _, err := store.FileSHA1(input)
	if err != nil {
		t.Fatal(err)
	}
	digest, _, err := store.FileSHA1(ws.Target(bug.Target).BinaryPath(store.Release))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	q, err := queue.Open(ctx, queue.Options{Dir: t.TempDir(), Create: true, MaxDeliver: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	w := &Worker{Workspace: ws, Config: cfg, Stages: triage.DefaultStages(), Queue: q, Scratch: t.TempDir()}
	go q.Work(ctx, queue.WorkOptions{Name: "w"}, w.Handle)
	c := NewCoordinator(ctx, q, 4, nil)

	req := triage.RemoteRequest{Target: bug.Target, BinaryDigest: digest, Input: input, SHA1: sha, Kind: store.ArtifactCrash}
	rep, written, err := c.Reproduce(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	written()
	if rep.Status != store.Reproducible || rep.Trace == nil || len(rep.Trace.Frames) == 0 || rep.BinarySHA1 != digest {
		t.Errorf("answer: status %s, trace %v, binary %s", rep.Status, rep.Trace != nil, rep.BinarySHA1)
	}

	req.BinaryDigest = strings.Repeat("0", 40)
	_, written, err = c.Reproduce(ctx, req)
	if written != nil {
		written()
	}
	if err == nil || !strings.Contains(err.Error(), "binary digest mismatch") || !strings.Contains(err.Error(), "poisoned after 2 deliveries") {
		t.Fatalf("a job for another binary: %v, want it poisoned with the worker's reason", err)
	}
	p, err := q.PoisonedJob(ctx, JobOf(req).ID)
	if err != nil || p == nil || !strings.Contains(p.Error, digest) {
		t.Errorf("poisoned record %+v, %v: want the worker's digest named", p, err)
	}
	// The marker and the ack follow the pipeline's written(), just after.
	for end := time.Now().Add(10 * time.Second); c.Stats.Committed.Load() < 2 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	if c.Stats.Committed.Load() != 2 || c.Stats.Duplicates.Load() != 0 {
		t.Errorf("committed %d, duplicates %d", c.Stats.Committed.Load(), c.Stats.Duplicates.Load())
	}
}

// A fuzz job carrying a flag a worker must not take (a path on the
// worker, or a flag the campaign runner sets) is refused with a named
// error before the worker fetches anything (this worker has no queue).
func TestWorkerRefusesAFuzzJobsFlags(t *testing.T) {
	w := &Worker{Scratch: t.TempDir()}
	for _, flags := range [][]string{
		{"-max_len=64", "-dict=/etc/passwd"},
		{"-artifact_prefix=/home/someone/"},
		{"-fork=512"},
		{"-timeout=5; rm -rf /"},
	} {
		job := queue.Job{ID: "j", Kind: queue.KindFuzz, Target: "fuzz_wire_decode", Cores: 1, Seconds: 1, Flags: flags}
		_, err := w.Handle(context.Background(), job)
		var qe *campaign.QueuedFlagError
		if !errors.As(err, &qe) || qe.Flag != flags[len(flags)-1] {
			t.Errorf("flags %q: %v", flags, err)
		}
	}
}
