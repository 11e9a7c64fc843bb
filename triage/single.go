package triage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fuzztriage/triage/store"
)

// InputReport answers "does this input still crash, and as which bucket?"
// for one input (triage repro, triage minimize).
type InputReport struct {
	Target string             `yaml:"target" json:"target"`
	Input  string             `yaml:"input" json:"input"`
	SHA1   string             `yaml:"sha1" json:"sha1"`
	Size   int64              `yaml:"size" json:"size"`
	Kind   store.ArtifactKind `yaml:"kind" json:"kind"`
	// Reproductions per profile run.
	Reproductions map[store.Profile]*store.Reproduction `yaml:"reproductions" json:"reproductions"`
	// Crash is the release (or only) profile's parsed crash.
	Crash  *store.CrashRecord `yaml:"crash,omitempty" json:"crash,omitempty"`
	Bucket *store.BucketRef   `yaml:"bucket,omitempty" json:"bucket,omitempty"`
	// Known is the store's record of that bucket, when it has one.
	Known *store.BucketRecord `yaml:"known,omitempty" json:"known,omitempty"`
	// Minimized is set by MinimizeInput.
	Minimized *store.MinimizedInput `yaml:"minimized,omitempty" json:"minimized,omitempty"`
}

// ReproduceInput reproduces one input of target on each profile (building
// the binaries as cfg.Build says), buckets each crash and looks the release
// bucket up in the store (read only; no lock is taken).
func ReproduceInput(ctx context.Context, ws *Workspace, cfg *Config, st Stages, target, input string, profiles []store.Profile) (*InputReport, error) {
	t := ws.Target(target)
	if t == nil {
		return nil, fmt.Errorf("no fuzz target %q in %s", target, ws.Root)
	}
	sha, size, err := store.FileSHA1(input)
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp("", "triage-repro-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	abs, _ := filepath.Abs(input)
	kind := store.KindOfArtifact(filepath.Base(input))
	rep := &InputReport{Target: target, Input: abs, SHA1: sha, Size: size, Kind: kind, Reproductions: map[store.Profile]*store.Reproduction{}}
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
		if r.Trace != nil && r.Status != store.NotReproducible {
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
func lookupBucket(storeDir, id string) (*store.BucketRecord, error) {
	s, err := store.OpenExisting(storeDir)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.LookupBucket(id)
}

// ErrNoCrash says an input to minimize does not crash.
var ErrNoCrash = errors.New("the input does not crash")

// MinimizeInput reproduces one input on the release build to learn its
// bucket, then minimizes it into out, keeping only candidates that land in
// that bucket. out defaults to <store>/minimized/<sha1>.
func MinimizeInput(ctx context.Context, ws *Workspace, cfg *Config, st Stages, target, input, out string) (*InputReport, error) {
	rep, err := ReproduceInput(ctx, ws, cfg, st, target, input, []store.Profile{store.Release})
	if err != nil {
		return rep, err
	}
	r := rep.Reproductions[store.Release]
	if r.Status == store.NotReproducible || rep.Bucket == nil {
		return rep, ErrNoCrash
	}
	var write func(string, []byte) error
	if out == "" {
		// Into the store: through its writer (no links, nothing outside).
		s, err := store.Open(cfg.StoreDir(ws.Root))
		if err != nil {
			return rep, err
		}
		defer s.Close()
		out, write = s.MinimizedPath(rep.SHA1), s.WriteFile
	}
	scratch, err := os.MkdirTemp("", "triage-minimize-*")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(scratch)
	t := ws.Target(target)
	o := runOptionsFor(cfg, st, t, store.Release, r.Binary, rep.Kind, scratch)
	m, err := Minimize(ctx, rep.Input, out, MinimizeOptions{
		Run: o, Want: rep.Bucket.ID, Verify: bucketVerifier(st, &cfg.Bucket, t, o),
		Runs: cfg.Minimize.Runs, Patience: cfg.Minimize.Rounds, Timeout: cfg.Minimize.Timeout.D(), WriteFile: write,
	})
	if err != nil {
		return rep, err
	}
	m.Path, _ = filepath.Abs(out)
	rep.Minimized = m
	return rep, nil
}
