package triage

import (
	"context"

	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
)

// Stages are the pipeline's calls into the other packages: parsing
// (symbolize), bucketing (dedupe) and lldb sessions (lldbscript). The
// pipeline only sees these narrow signatures; DefaultStages wires the real
// packages.
type Stages struct {
	// Parse turns a fuzz binary's output into a Trace.
	Parse ParseFunc
	// Symbolize fills in, from the binary's debug info, what the log left
	// out of a trace's frames (optional).
	Symbolize SymbolizeFunc
	// Bucket keys a trace: the bucket id ("v1-...") and readable key.
	Bucket BucketFunc
	// LLDB runs one batch lldb session at the crash.
	LLDB LLDBFunc
}

// SymbolizeFunc completes a trace's frames from the binary it came from.
type SymbolizeFunc func(tr *symbolize.Trace, binary string) error

// BucketFunc keys a parsed crash of target's binary.
type BucketFunc func(tr *symbolize.Trace, req BucketRequest) (store.BucketRef, error)

// BucketRequest is what keying needs besides the trace.
type BucketRequest struct {
	Target string
	Binary string
	Config *BucketConfig
}

// LLDBFunc runs an lldb session and returns its findings; the command
// file and transcript go into req.Dir. A session that cannot run (lldb
// absent, timeout) returns findings with Error set, or an error.
type LLDBFunc func(ctx context.Context, req SessionRequest) (*store.LLDBFindings, error)
