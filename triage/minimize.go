package triage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/fuzztriage/triage/internal/atomicfile"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/store"
)

// VerifyFunc re-runs a candidate input and says which bucket it lands in
// ("" when it does not crash). The pipeline plugs the bucket key in here:
// a candidate is kept only when its bucket is the one being minimized.
type VerifyFunc func(ctx context.Context, candidate string) (bucketID string, err error)

// MinimizeOptions say how to minimize one input.
type MinimizeOptions struct {
	// Run is how the fuzz binary runs (binary, flags, scratch dir).
	Run *RunOptions
	// Want is the bucket every kept candidate must land in.
	Want string
	// Verify re-runs a candidate (see VerifyFunc).
	Verify VerifyFunc
	// Runs is libFuzzer's -runs= per -minimize_crash invocation.
	Runs int
	// Patience is how many unproductive attempts in a row (no smaller
	// crash found, or a crash of another bucket) end the minimization.
	Patience int
	// Timeout bounds the whole minimization of this input.
	Timeout time.Duration
	// WriteFile writes the result (default atomicfile.Write; the
	// pipeline's store writer for results inside the store).
	WriteFile func(path string, data []byte) error
}

// Minimize shrinks input with libFuzzer and writes the smallest input that
// still lands in o.Want to out (atomically; the input itself is only read).
//
// libFuzzer's -minimize_crash=1 loop accepts ANY crash as progress when
// there is no sanitizer dedup token, and on the fixture it drifts to another
// bug for about half of the inputs. So: first one whole -minimize_crash
// pass, its result verified by re-running it; if that result is another
// bug, the minimization continues one libFuzzer step at a time
// (-minimize_crash_internal_step=1, the step -minimize_crash itself runs),
// each step's output verified before it becomes the new starting point.
// The result records how many candidates were accepted and rejected.
func Minimize(ctx context.Context, input, out string, o MinimizeOptions) (*store.MinimizedInput, error) {
	start := time.Now()
	if o.Patience <= 0 {
		o.Patience = 5
	}
	if o.Runs <= 0 {
		o.Runs = 1000
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	orig, err := os.ReadFile(input)
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp(o.Run.ScratchDir, "minimize-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)

	res := &store.MinimizedInput{From: store.BytesSHA1(orig), FromSize: int64(len(orig))}
	best := filepath.Join(scratch, "best")
	if err := os.WriteFile(best, orig, 0o644); err != nil {
		return nil, err
	}
	bestSize := int64(len(orig))
	rejected := map[string]bool{}

	// try runs one libFuzzer invocation and verifies what it wrote.
	attempt := 0
	try := func(step bool) (progress bool, err error) {
		attempt++
		cand := filepath.Join(scratch, "cand-"+strconv.Itoa(attempt))
		args := []string{
			"-runs=" + strconv.Itoa(o.Runs),
			"-seed=" + strconv.Itoa(attempt),
			"-exact_artifact_path=" + cand,
			"-artifact_prefix=" + scratch + "/",
		}
		if step {
			args = append([]string{"-minimize_crash_internal_step=1"}, args...)
		} else {
			args = append([]string{"-minimize_crash=1"}, args...)
		}
		args = append(append(args, o.Run.Flags...), best)
		_, err = procrun.Run(ctx, procrun.Spec{
			Path:      o.Run.Binary,
			Args:      args,
			Dir:       scratch,
			Env:       append([]string{"RUST_BACKTRACE=0"}, o.Run.Env...),
			Unset:     []string{"XTASK_FUZZ_REPRO"},
			OutputCap: 1 << 20,
		})
		if err != nil {
			return false, err
		}
		res.Rounds++
		st, err := os.Stat(cand)
		if err != nil || st.Size() == 0 || st.Size() >= bestSize {
			// No smaller crash found (or the deadline cut the first step).
			return false, nil
		}
		id, err := o.Verify(ctx, cand)
		if err != nil {
			return false, err
		}
		if id != o.Want {
			res.Rejected++
			if id == "" {
				id = "(no crash)"
			}
			if !rejected[id] {
				rejected[id] = true
				res.RejectedBuckets = append(res.RejectedBuckets, id)
			}
			return false, nil
		}
		res.Accepted++
		if err := os.Rename(cand, best); err != nil {
			return false, err
		}
		bestSize = st.Size()
		return true, nil
	}

	// One whole libFuzzer pass first: cheap, and right when it does not drift.
	progress, err := try(false)
	if err != nil && ctx.Err() == nil {
		return nil, err
	}
	if !progress || bestSize > 1 {
		// Step by step, each step verified, until Patience steps in a row
		// give nothing (or the time is up).
		idle := 0
		for idle < o.Patience && bestSize > 1 && ctx.Err() == nil {
			p, err := try(true)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return nil, err
			}
			if p {
				idle = 0
			} else {
				idle++
			}
		}
	}
	if parent := context.Cause(ctx); parent != nil && !errors.Is(parent, context.DeadlineExceeded) {
		return nil, parent
	}
	data, err := os.ReadFile(best)
	if err != nil {
		return nil, err
	}
	write := o.WriteFile
	if write == nil {
		write = atomicfile.Write
	}
	if err := write(out, data); err != nil {
		return nil, fmt.Errorf("writing minimized input: %w", err)
	}
	res.Path = out
	res.SHA1 = store.BytesSHA1(data)
	res.Size = int64(len(data))
	res.Verified = true
	res.DurationMS = time.Since(start).Milliseconds()
	return res, nil
}
