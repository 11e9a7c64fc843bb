package triage

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/fuzztriage/triage/store"
)

// Verification (for `triage diff`): is a bucket still there on the
// current build? Its representative and minimized input are re-run through
// the one reproduction path and bucketed again.

// Verification is one re-run of a bucket's representative and minimized
// input on the current release build.
type Verification struct {
	At time.Time `yaml:"at" json:"at"`
	// Binary is the SHA1 of the release binary they ran on.
	Binary string `yaml:"binary" json:"binary"`
	// Verdict: crashes (still in this bucket), fixed, changed, or
	// skipped (a member was triaged on this very binary and crashed in
	// this bucket, so nothing needed re-running).
	Verdict string       `yaml:"verdict" json:"verdict"`
	Inputs  []InputCheck `yaml:"inputs,omitempty" json:"inputs,omitempty"`
}

// Verification verdicts.
const (
	VerdictCrashes = "crashes"
	VerdictFixed   = "fixed"
	VerdictChanged = "changed"
	VerdictSkipped = "skipped"
)

// InputCheck is one input's re-run.
type InputCheck struct {
	// Role is representative or minimized.
	Role string `yaml:"role" json:"role"`
	SHA1 string `yaml:"sha1" json:"sha1"`
	Path string `yaml:"path" json:"path"`
	// Status is the reproduction's verdict (reproducible, flaky,
	// not-reproducible); Bucket where it crashed.
	Status string `yaml:"status" json:"status"`
	Bucket string `yaml:"bucket,omitempty" json:"bucket,omitempty"`
}

// VerifyBuckets re-runs every bucket's inputs on the current release build, on
// -j workers; a bucket that could not be verified is a failure (its state
// is left as it was).
func VerifyBuckets(ctx context.Context, ws *Workspace, cfg *Config, stages Stages, storeDir string, buckets map[string]*store.BucketRecord, arts map[string]*store.ArtifactRecord, log logrus.FieldLogger, now func() time.Time) (map[string]*Verification, []string) {
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = l
	}
	ids := make([]string, 0, len(buckets))
	for id := range buckets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// One build per target, then re-runs against exactly that binary.
	binSHA := map[string]string{}
	binErr := map[string]error{}
	for _, id := range ids {
		t := buckets[id].Target
		if _, done := binSHA[t]; done || binErr[t] != nil {
			continue
		}
		path, err := EnsureBinary(ctx, ws, t, store.Release, cfg)
		if err == nil {
			binSHA[t], _, err = store.FileSHA1(path)
		}
		if err != nil {
			binErr[t] = err
		}
	}
	noBuild := *cfg
	noBuild.Build.Mode = BuildNever

	var mu sync.Mutex
	checks := map[string]*Verification{}
	var failures []string
	jobs := make(chan string)
	var wg sync.WaitGroup
	done := 0
	for i := 0; i < cfg.JobCount(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				b := buckets[id]
				var v *Verification
				err := binErr[b.Target]
				if err == nil {
					v, err = verifyBucket(ctx, ws, &noBuild, stages, storeDir, b, arts, binSHA[b.Target], now)
				}
				mu.Lock()
				done++
				if err != nil {
					if ctx.Err() == nil {
						failures = append(failures, fmt.Sprintf("%s: %v", id, err))
						log.WithFields(logrus.Fields{"bucket": id}).Warnf("not verified: %v", err)
					}
				} else {
					checks[id] = v
					log.WithFields(logrus.Fields{"bucket": id, "verdict": v.Verdict, "done": done, "total": len(ids)}).Info("verified")
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		select {
		case jobs <- id:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	sort.Strings(failures)
	return checks, failures
}

// Unbucketed stands for "crashes, but in no bucket" (its log did not parse).
const Unbucketed = "(unbucketed)"

// verifyBucket re-runs one bucket's representative and minimized input.
func verifyBucket(ctx context.Context, ws *Workspace, cfg *Config, stages Stages, storeDir string, b *store.BucketRecord, arts map[string]*store.ArtifactRecord, binary string, now func() time.Time) (*Verification, error) {
	v := &Verification{At: now().UTC(), Binary: binary}
	// A member already triaged on this very binary, crashing in this
	// bucket, settles it without re-running anything.
	for _, m := range b.Members {
		a := arts[m.SHA1]
		if a == nil || a.Bucket == nil || a.Bucket.ID != b.ID || a.Status == store.NotReproducible {
			continue
		}
		if r := a.Reproductions[store.Release]; r != nil && r.BinarySHA1 == binary {
			v.Verdict = VerdictSkipped
			v.Inputs = []InputCheck{{Role: "member", SHA1: a.SHA1, Path: a.Path, Status: string(a.Status), Bucket: b.ID}}
			return v, nil
		}
	}
	type candidate struct{ role, sha, path string }
	var cands []candidate
	if rep := arts[b.Representative.SHA1]; rep != nil {
		paths := append([]string{rep.Path}, rep.Paths...)
		for _, p := range paths {
			if abs := ws.Abs(p); isFile(abs) {
				cands = append(cands, candidate{"representative", rep.SHA1, abs})
				break
			}
		}
	}
	if m := b.Minimized; m != nil && (len(cands) == 0 || m.SHA1 != cands[0].sha) {
		if abs := filepath.Join(storeDir, m.Path); isFile(abs) {
			cands = append(cands, candidate{"minimized", m.SHA1, abs})
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("neither the representative %s nor a minimized input is on disk", b.Representative.Path)
	}
	for _, c := range cands {
		rep, err := ReproduceInput(ctx, ws, cfg, stages, b.Target, c.path, []store.Profile{store.Release})
		if err != nil {
			return nil, fmt.Errorf("re-running %s: %w", ws.Rel(c.path), err)
		}
		chk := InputCheck{Role: c.role, SHA1: c.sha, Path: ws.Rel(c.path), Status: string(store.NotReproducible)}
		if r := rep.Reproductions[store.Release]; r != nil {
			chk.Status = string(r.Status)
			if r.Status != store.NotReproducible {
				chk.Bucket = r.BucketID
				if chk.Bucket == "" {
					// It crashes, but the crash could not be parsed into
					// a bucket: not fixed, and not this bucket either.
					chk.Bucket = Unbucketed
				}
			}
		}
		v.Inputs = append(v.Inputs, chk)
	}
	v.Verdict = VerdictFixed
	for _, c := range v.Inputs {
		switch {
		case c.Bucket == b.ID:
			v.Verdict = VerdictCrashes
		case c.Bucket != "" && v.Verdict != VerdictCrashes:
			v.Verdict = VerdictChanged
		}
	}
	return v, nil
}
