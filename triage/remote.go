package triage

import (
	"context"
	"fmt"

	"github.com/fuzztriage/triage/store"
)

// RemoteReproducer runs the pipeline's first reproductions somewhere else:
// on workers, through the queue (package remote). Everything after the
// first run (bucketing, the record, the bucket's work) stays in the
// pipeline, so a run with workers decides what a run without them does.
type RemoteReproducer interface {
	// Reproduce returns one input's reproduction on the release build,
	// its Trace and Log set, and a function the pipeline calls once the
	// input's record is written (the result is committed only then).
	Reproduce(ctx context.Context, req RemoteRequest) (rep *store.Reproduction, written func(), err error)
	// Slots is how many first runs may wait on it at once.
	Slots() int
}

// RemoteRequest names one input's first reproduction.
type RemoteRequest struct {
	Target string
	// BinaryDigest is the SHA1 of the release binary the answer must come
	// from.
	BinaryDigest string
	// Input is the input's path here; SHA1 and Kind, its digest and
	// artifact kind.
	Input string
	SHA1  string
	Kind  store.ArtifactKind
}

// ReproduceJob is a worker's side of a remote first run: the one
// reproduction path (the run options every pipeline run uses) on this
// machine's release binary of target, which must have the digest the job
// names. lldb tries of stack-less kinds run bare, their files in scratch
// (the coordinator's bucket work runs the findings sessions).
func ReproduceJob(ctx context.Context, ws *Workspace, cfg *Config, st Stages, target, binaryDigest, input string, kind store.ArtifactKind, scratch string) (*store.Reproduction, error) {
	t := ws.Target(target)
	if t == nil {
		return nil, &WrongWorkerError{Why: fmt.Sprintf("no fuzz target %q in %s", target, ws.Root)}
	}
	binary, err := checkDigest(t, binaryDigest)
	if err != nil {
		return nil, err
	}
	rep, err := Reproduce(ctx, runOptionsFor(cfg, st, t, store.Release, binary, kind, scratch), input)
	if err != nil {
		return nil, err
	}
	rep.BinarySHA1 = binaryDigest
	return rep, nil
}

// checkDigest returns this machine's release binary of t when its SHA1 is
// digest.
func checkDigest(t *Target, digest string) (string, error) {
	binary := t.BinaryPath(store.Release)
	have, _, err := store.FileSHA1(binary)
	if err != nil {
		return "", &WrongWorkerError{Why: fmt.Sprintf("no release binary of %s here (%v): build it first", t.Name, err)}
	}
	if have != digest {
		return "", &WrongWorkerError{Why: fmt.Sprintf("binary digest mismatch: this worker's release binary of %s (%s) has SHA1 %s, the job wants %s", t.Name, binary, have, digest)}
	}
	return binary, nil
}

// WrongWorkerError says a job cannot run on this worker (another binary,
// another workspace): another worker should take it.
type WrongWorkerError struct{ Why string }

func (e *WrongWorkerError) Error() string { return e.Why }
