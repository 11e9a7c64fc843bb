package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/fuzztriage/triage/campaign"
	"github.com/fuzztriage/triage/internal/atomicfile"
	"github.com/fuzztriage/triage/queue"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

// fuzzAnswer is a fuzz job's result: the target's figures and what the
// fuzzer found, as input blobs named by SHA1.
type fuzzAnswer struct {
	Target    store.CampaignTarget `json:"target"`
	Corpus    []string             `json:"corpus"`
	Artifacts []foundArtifact      `json:"artifacts"`
	// Log names the blob of the fuzzer's output (its last part).
	Log string `json:"log"`
}

type foundArtifact struct {
	// Name is libFuzzer's file name on the worker (its prefix gives the
	// kind); SHA1 names the blob.
	Name string `json:"name"`
	SHA1 string `json:"sha1"`
}

var sha1Hex = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Fuzz implements triage.RemoteFuzzer: each target's corpus goes to the
// object store and its fuzz job to the queue; what the workers found is
// written into the target's corpus and artifact directories, each file
// named by its SHA1 (and its kind, for artifacts), never by the worker.
func (c *Coordinator) Fuzz(ctx context.Context, campaign string, targets []triage.RemoteFuzzTarget, d time.Duration) ([]store.CampaignTarget, error) {
	secs := int(math.Ceil(d.Seconds()))
	results := make([]store.CampaignTarget, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		job := queue.Job{
			ID: queue.JobID(queue.KindFuzz, t.Target.Name, t.BinaryDigest, strconv.Itoa(t.Cores), strconv.Itoa(secs),
				strings.Join(t.Flags, "\n"), campaign),
			Kind: queue.KindFuzz, Target: t.Target.Name, BinaryDigest: t.BinaryDigest, Cores: t.Cores, Seconds: secs, Flags: t.Flags,
		}
		job.Corpus = queue.CorpusBlob(job.ID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = c.fuzzOne(ctx, t, job)
		}()
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

func (c *Coordinator) fuzzOne(ctx context.Context, t triage.RemoteFuzzTarget, job queue.Job) (store.CampaignTarget, error) {
	res := store.CampaignTarget{Name: t.Target.Name, Cores: t.Cores}
	var answer []byte
	worker := "a worker"
	if c.q.Committed(ctx, job.ID) {
		// A resumed campaign whose job was committed before this
		// coordinator restarted: what it found is here already; the
		// figures are in the kept answer.
		var err error
		if answer, err = c.q.CommittedAnswer(ctx, job.ID); err != nil {
			res.Error = err.Error()
			return res, nil
		}
	} else {
		d, err := c.run(ctx, job, func() error {
			if c.q.HasBlob(ctx, job.Corpus) {
				return nil // submitted before this coordinator restarted
			}
			return c.putCorpus(ctx, t.Target.CorpusDir(), job.Corpus)
		})
		if err != nil {
			res.Error = err.Error()
			return res, nil
		}
		defer close(d.done)
		if d.r.Error != "" {
			res.Error = queue.PoisonedError(job.ID, d.r.Deliveries, d.r.Worker, d.r.Error).Error()
			return res, nil
		}
		answer, worker = d.answer, d.r.Worker
	}
	var a fuzzAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		res.Error = fmt.Sprintf("fuzz job %s: the answer of %s cannot be read: %v", job.ID, worker, err)
		return res, nil
	}
	res = a.Target
	res.Name, res.Cores = t.Target.Name, t.Cores
	if a.Log != queue.LogBlob(job.ID) {
		return res, fmt.Errorf("fuzz job %s: %s named its log %q", job.ID, worker, a.Log)
	}
	out, err := c.q.GetBytes(ctx, a.Log)
	if err != nil {
		return res, fmt.Errorf("fuzz job %s: its log: %w", job.ID, err)
	}
	if t.Log != nil {
		if _, err := t.Log.Write(out); err != nil {
			return res, err
		}
	}
	files, err := a.placements(t.Target.CorpusDir(), t.Target.ArtifactDir())
	if err != nil {
		return res, fmt.Errorf("fuzz job %s: the answer of %s: %w", job.ID, worker, err)
	}
	for _, f := range files {
		if err := c.fetchInto(ctx, f.sha, f.dir, f.name); err != nil {
			return res, err
		}
	}
	return res, nil
}

// placement is where one blob of a fuzz answer goes.
type placement struct{ sha, dir, name string }

// placements says where each file of the answer goes: corpus inputs into
// corpus as <sha1>, artifacts into artifacts as <kind>-<sha1>, the kind
// from the worker's file name (crash when it names none). The worker's
// names give nothing else: an entry that is not a SHA1 is an error.
func (a *fuzzAnswer) placements(corpus, artifacts string) ([]placement, error) {
	var out []placement
	for _, sha := range a.Corpus {
		if !sha1Hex.MatchString(sha) {
			return nil, fmt.Errorf("corpus entry %q is not a SHA1", sha)
		}
		out = append(out, placement{sha, corpus, sha})
	}
	for _, f := range a.Artifacts {
		if !sha1Hex.MatchString(f.SHA1) {
			return nil, fmt.Errorf("artifact %q: %q is not a SHA1", f.Name, f.SHA1)
		}
		kind := store.KindOfArtifact(f.Name)
		if kind == store.ArtifactOther || kind == store.ArtifactMinimizedFrom {
			kind = store.ArtifactCrash
		}
		out = append(out, placement{f.SHA1, artifacts, string(kind) + "-" + f.SHA1})
	}
	return out, nil
}

// putCorpus stores a corpus's files as input blobs and their list as the
// job's corpus blob.
func (c *Coordinator) putCorpus(ctx context.Context, dir, listBlob string) error {
	list := []string{}
	err := eachFile(dir, func(_, p, sha string) error {
		list = append(list, sha)
		return c.q.PutFile(ctx, queue.InputBlob(sha), p)
	})
	if err != nil {
		return err
	}
	data, err := json.Marshal(list)
	if err != nil {
		return err
	}
	return c.q.PutBytes(ctx, listBlob, data)
}

// fetchInto writes input blob sha to dir/name unless that file exists,
// after checking the bytes are the ones named.
func (c *Coordinator) fetchInto(ctx context.Context, sha, dir, name string) error {
	p := filepath.Join(dir, name)
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	data, err := c.q.GetBytes(ctx, queue.InputBlob(sha))
	if err != nil {
		return fmt.Errorf("fetching %s: %w", sha, err)
	}
	if got := store.BytesSHA1(data); got != sha {
		return fmt.Errorf("blob %s holds bytes of SHA1 %s", sha, got)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return atomicfile.Write(p, data)
}

// fuzz runs a fuzz job: the job's corpus in a scratch directory, the
// campaign runner on this checkout's binary, then what is new goes back
// as blobs.
func (w *Worker) fuzz(ctx context.Context, job queue.Job) ([]byte, error) {
	// Checked before anything is fetched (FuzzOnWorker checks again).
	if err := campaign.CheckQueuedFlags(job.Flags); err != nil {
		return nil, fmt.Errorf("job %s: %w", job.ID, err)
	}
	dir, err := os.MkdirTemp(w.Scratch, "fuzz-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	corpus, arts, tmp := filepath.Join(dir, "corpus"), filepath.Join(dir, "artifacts"), filepath.Join(dir, "tmp")
	for _, d := range []string{corpus, arts, tmp} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
	}
	listData, err := w.Queue.GetBytes(ctx, job.Corpus)
	if err != nil {
		return nil, fmt.Errorf("job %s: its corpus list: %w", job.ID, err)
	}
	var list []string
	if err := json.Unmarshal(listData, &list); err != nil {
		return nil, fmt.Errorf("job %s: its corpus list: %w", job.ID, err)
	}
	initial := map[string]bool{}
	for _, sha := range list {
		if !sha1Hex.MatchString(sha) {
			return nil, fmt.Errorf("job %s: corpus entry %q is not a SHA1", job.ID, sha)
		}
		p := filepath.Join(corpus, sha)
		if err := w.Queue.GetFile(ctx, queue.InputBlob(sha), p); err != nil {
			return nil, fmt.Errorf("job %s: corpus input %s: %w", job.ID, sha, err)
		}
		initial[sha] = true
	}
	if w.Log != nil {
		w.Log.WithFields(logrus.Fields{"job": job.ID, "target": job.Target, "corpus": len(list), "cores": job.Cores, "seconds": job.Seconds,
			"flags": strings.Join(job.Flags, " ")}).Info("fuzzing")
	}
	logf, err := os.Create(filepath.Join(dir, "fuzz.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	res, err := triage.FuzzOnWorker(ctx, w.Workspace, w.Config, job.Target, job.BinaryDigest, job.Cores, job.Flags,
		time.Duration(job.Seconds)*time.Second, corpus, arts, tmp, logf)
	if err != nil {
		var wrong *triage.WrongWorkerError
		if errors.As(err, &wrong) {
			return nil, &queue.Refusal{Why: wrong.Why}
		}
		return nil, err
	}
	a := fuzzAnswer{Target: res, Corpus: []string{}, Artifacts: []foundArtifact{}, Log: queue.LogBlob(job.ID)}
	out, err := tail(logf, w.Config.Campaign.LogCap)
	if err != nil {
		return nil, err
	}
	if err := w.Queue.PutBytes(ctx, a.Log, out); err != nil {
		return nil, err
	}
	err = eachFile(corpus, func(name, p, sha string) error {
		if initial[sha] {
			return nil
		}
		a.Corpus = append(a.Corpus, sha)
		return w.Queue.PutFile(ctx, queue.InputBlob(sha), p)
	})
	if err != nil {
		return nil, err
	}
	err = eachFile(arts, func(name, p, sha string) error {
		a.Artifacts = append(a.Artifacts, foundArtifact{Name: name, SHA1: sha})
		return w.Queue.PutFile(ctx, queue.InputBlob(sha), p)
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(a)
}

// tail is the last limit bytes written to f (all of them when limit is 0).
func tail(f *os.File, limit int64) ([]byte, error) {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	from := int64(0)
	if limit > 0 && size > limit {
		from = size - limit
	}
	out := make([]byte, size-from)
	_, err = f.ReadAt(out, from)
	return out, err
}

// eachFile calls f for each regular file of dir with its SHA1 (none when
// dir does not exist: a target without a corpus yet).
func eachFile(dir string, f func(name, path, sha string) error) error {
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		sha, _, err := store.FileSHA1(p)
		if err != nil {
			return err
		}
		if err := f(e.Name(), p, sha); err != nil {
			return err
		}
	}
	return nil
}
