package triage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// InputReport answers "does this input still crash, and as which bucket?"
// for one input (triage repro, triage minimize).
type InputReport struct {
	Target string       `yaml:"target" json:"target"`
	Input  string       `yaml:"input" json:"input"`
	SHA1   string       `yaml:"sha1" json:"sha1"`
	Size   int64        `yaml:"size" json:"size"`
	Kind   ArtifactKind `yaml:"kind" json:"kind"`
	// Reproductions per profile run.
	Reproductions map[Profile]*Reproduction `yaml:"reproductions" json:"reproductions"`
	// Crash is the release (or only) profile's parsed crash.
	Crash  *CrashRecord `yaml:"crash,omitempty" json:"crash,omitempty"`
	Bucket *BucketRef   `yaml:"bucket,omitempty" json:"bucket,omitempty"`
	// Known is the store's record of that bucket, when it has one.
	Known *BucketRecord `yaml:"known,omitempty" json:"known,omitempty"`
	// Minimized is set by MinimizeInput.
	Minimized *MinimizedInput `yaml:"minimized,omitempty" json:"minimized,omitempty"`
}

// ReproduceInput reproduces one input of target on each profile (building
// the binaries as cfg.Build says), buckets each crash and looks the release
// bucket up in the store (read only; no lock is taken).
func ReproduceInput(ctx context.Context, ws *Workspace, cfg *Config, st Stages, target, input string, profiles []Profile) (*InputReport, error) {
	t := ws.Target(target)
	if t == nil {
		return nil, fmt.Errorf("no fuzz target %q in %s", target, ws.Root)
	}
	sha, size, err := FileSHA1(input)
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp("", "triage-repro-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	abs, _ := filepath.Abs(input)
	kind := KindOfArtifact(filepath.Base(input))
	rep := &InputReport{Target: target, Input: abs, SHA1: sha, Size: size, Kind: kind, Reproductions: map[Profile]*Reproduction{}}
	for _, prof := range profiles {
		binary, err := EnsureBinary(ctx, ws, target, prof, cfg)
		if err != nil {
			return rep, err
		}
		o := runOptionsFor(cfg, st, t, prof, binary, kind, scratch)
		r, err := Reproduce(ctx, o, abs)
		if err != nil {
			return rep, err
		}
		if r.Trace != nil && r.Status != NotReproducible {
			ref, err := st.Bucket(r.Trace, BucketRequest{Target: target, Binary: binary, Config: &cfg.Bucket})
			if err != nil {
				return rep, fmt.Errorf("bucket: %w", err)
			}
			r.BucketID = ref.ID
			if rep.Bucket == nil {
				rep.Bucket = &ref
				rep.Crash = crashRecord(r.Trace)
			}
		}
		rep.Reproductions[prof] = r
	}
	if rep.Bucket != nil {
		if b, err := lookupBucket(cfg.StoreDir(ws.Root), rep.Bucket.ID); err == nil {
			rep.Known = b
		}
	}
	return rep, nil
}

// lookupBucket reads one bucket record without locking or creating the store.
func lookupBucket(storeDir, id string) (*BucketRecord, error) {
	s := &Store{Dir: storeDir}
	var b BucketRecord
	if err := readRecord(s.BucketRecordPath(id), &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// ErrNoCrash says an input to minimize does not crash.
var ErrNoCrash = errors.New("the input does not crash")

// MinimizeInput reproduces one input on the release build to learn its
// bucket, then minimizes it into out, keeping only candidates that land in
// that bucket. out defaults to <store>/minimized/<sha1>.
func MinimizeInput(ctx context.Context, ws *Workspace, cfg *Config, st Stages, target, input, out string) (*InputReport, error) {
	rep, err := ReproduceInput(ctx, ws, cfg, st, target, input, []Profile{Release})
	if err != nil {
		return rep, err
	}
	r := rep.Reproductions[Release]
	if r.Status == NotReproducible || rep.Bucket == nil {
		return rep, ErrNoCrash
	}
	if out == "" {
		out = filepath.Join(cfg.StoreDir(ws.Root), storeMinimized, rep.SHA1)
	}
	scratch, err := os.MkdirTemp("", "triage-minimize-*")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(scratch)
	t := ws.Target(target)
	o := runOptionsFor(cfg, st, t, Release, r.Binary, rep.Kind, scratch)
	m, err := Minimize(ctx, rep.Input, out, MinimizeOptions{
		Run: o, Want: rep.Bucket.ID, Verify: bucketVerifier(st, &cfg.Bucket, t, o),
		Runs: cfg.Minimize.Runs, Patience: cfg.Minimize.Rounds, Timeout: cfg.Minimize.Timeout.D(),
	})
	if err != nil {
		return rep, err
	}
	m.Path, _ = filepath.Abs(out)
	rep.Minimized = m
	return rep, nil
}
