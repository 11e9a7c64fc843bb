package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openEmbedded(t *testing.T, dir string, opt Options) *Queue {
	t.Helper()
	opt.Dir, opt.Create = dir, true
	q, err := Open(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(q.Close)
	return q
}

func triageJob(n int) Job {
	sha := fmt.Sprintf("%040x", n)
	return Job{ID: JobID(KindTriage, "fuzz_x", sha, "bin"), Kind: KindTriage, Target: "fuzz_x", BinaryDigest: "bin", Input: sha, InputKind: "crash"}
}

// commits collects results by job id, failing on a second commit of one.
type commits struct {
	mu   sync.Mutex
	seen map[string]Result
	data map[string]string
	dup  int
}

func (c *commits) commit(_ context.Context, r Result, answer []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[r.JobID]; ok {
		c.dup++
	}
	c.seen[r.JobID] = r
	c.data[r.JobID] = string(answer)
	return nil
}

func (c *commits) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// waitFor polls cond for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
}

func TestEmbeddedQueueLocksItsDirectory(t *testing.T) {
	dir := t.TempDir()
	openEmbedded(t, dir, Options{})
	_, err := Open(context.Background(), Options{Dir: dir, Create: true})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("a second server on the same directory: %v, want %v naming %s", err, ErrLocked, dir)
	}
	link := filepath.Join(t.TempDir(), "queue")
	if err := os.Symlink(t.TempDir(), link); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), Options{Dir: link, Create: true}); err == nil || !strings.Contains(err.Error(), "link is refused") {
		t.Errorf("a queue directory that is a link: %v, want it refused", err)
	}
	if _, err := Open(context.Background(), Options{Dir: t.TempDir(), Listen: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("listening on all interfaces: %v, want a loopback-only error", err)
	}
}

// TestJobsAnsweredAndCommittedOnce: ten jobs, each submitted twice, two
// workers; every job is answered and committed exactly once, and the
// stream is left empty.
func TestJobsAnsweredAndCommittedOnce(t *testing.T) {
	q := openEmbedded(t, t.TempDir(), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < 10; i++ {
		for again := 0; again < 2; again++ {
			dup, err := q.Submit(ctx, triageJob(i))
			if err != nil {
				t.Fatal(err)
			}
			if dup != (again == 1) {
				t.Errorf("job %d, submission %d: duplicate %v", i, again+1, dup)
			}
		}
	}
	var runs sync.Map
	h := func(_ context.Context, j Job) ([]byte, error) {
		n, _ := runs.LoadOrStore(j.ID, new(int))
		*n.(*int)++
		return []byte("answer " + j.Input), nil
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	for w := 0; w < 2; w++ {
		go q.Work(wctx, WorkOptions{Name: fmt.Sprint("w", w)}, h)
	}
	c := &commits{seen: map[string]Result{}, data: map[string]string{}}
	var stats CommitStats
	go q.Results(wctx, c.commit, &stats)
	waitFor(t, 30*time.Second, "10 commits", func() bool { return c.count() == 10 })
	stop()
	if c.dup != 0 || stats.Committed.Load() != 10 {
		t.Errorf("double commits %d, committed %d", c.dup, stats.Committed.Load())
	}
	for i := 0; i < 10; i++ {
		j := triageJob(i)
		if got := c.data[j.ID]; got != "answer "+j.Input {
			t.Errorf("job %d answered %q", i, got)
		}
		if !q.Committed(ctx, j.ID) {
			t.Errorf("job %d has no commit marker", i)
		}
	}
	info, err := q.jobs.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("%d jobs left in the stream", info.State.Msgs)
	}
}

// TestPoisonedJobIsRecordedAndRemoved: a job that fails on every delivery
// is delivered MaxDeliver times, recorded with its last error, reported to
// the committer and removed from the stream.
func TestPoisonedJobIsRecordedAndRemoved(t *testing.T) {
	q := openEmbedded(t, t.TempDir(), Options{MaxDeliver: 3})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j := triageJob(7)
	if _, err := q.Submit(ctx, j); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	tries := 0
	h := func(context.Context, Job) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		tries++
		return nil, &Refusal{Why: fmt.Sprintf("binary digest mismatch (try %d)", tries)}
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go q.Work(wctx, WorkOptions{Name: "w"}, h)
	c := &commits{seen: map[string]Result{}, data: map[string]string{}}
	go q.Results(wctx, c.commit, nil)
	waitFor(t, 30*time.Second, "the poisoned job's report", func() bool { return c.count() == 1 })
	stop()
	if r := c.seen[j.ID]; r.Error != "binary digest mismatch (try 3)" || r.Deliveries != 3 {
		t.Errorf("report %+v, want the third try's error after 3 deliveries", r)
	}
	p, err := q.PoisonedJob(ctx, j.ID)
	if err != nil || p == nil || p.Deliveries != 3 || p.Job.Input != j.Input {
		t.Fatalf("poisoned record %+v, %v", p, err)
	}
	info, err := q.jobs.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("the poisoned job is still stored (%d messages)", info.State.Msgs)
	}
}

// TestHeartbeatKeepsALongJob: a job running four times AckWait is
// delivered once, because its worker heartbeats it.
func TestHeartbeatKeepsALongJob(t *testing.T) {
	q := openEmbedded(t, t.TempDir(), Options{AckWait: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := q.Submit(ctx, triageJob(1)); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	runs := 0
	h := func(ctx context.Context, j Job) ([]byte, error) {
		mu.Lock()
		runs++
		mu.Unlock()
		sleep(ctx, 4*time.Second)
		return []byte("done"), nil
	}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	for w := 0; w < 2; w++ {
		go q.Work(wctx, WorkOptions{Name: fmt.Sprint("w", w)}, h)
	}
	c := &commits{seen: map[string]Result{}, data: map[string]string{}}
	go q.Results(wctx, c.commit, nil)
	waitFor(t, 30*time.Second, "the long job's commit", func() bool { return c.count() == 1 })
	stop()
	mu.Lock()
	defer mu.Unlock()
	if runs != 1 {
		t.Errorf("the long job ran %d times", runs)
	}
}
