// Package symbolize turns the text a crashing fuzz binary prints into a
// structured Trace: what kind of crash it was, the panic message and
// location, and the stack frames, demangled, normalized for keys, resolved
// from the binary's DWARF where the log left them raw, and tagged by where
// they come from (code under test, fuzz target, harness, std, ...).
//
// It runs no programs: everything is parsing and reading ELF/DWARF.
package symbolize

import "github.com/fuzztriage/triage/crashkind"

// CrashKind is a crash kind: the rows of package crashkind's table are
// the closed set, and parsers map every report to one of them.
type CrashKind = crashkind.Kind

// The kinds code names (the table has them all, sanitizer kinds included).
const (
	KindRustPanic          = crashkind.RustPanic
	KindStackOverflow      = crashkind.StackOverflow
	KindTimeout            = crashkind.Timeout
	KindOOM                = crashkind.OOM
	KindAllocFailure       = crashkind.AllocFailure
	KindLeak               = crashkind.Leak
	KindSlowUnit           = crashkind.SlowUnit
	KindNullDeref          = crashkind.NullDeref
	KindSEGV               = crashkind.SEGV
	KindAbort              = crashkind.Abort
	KindDeadlySignal       = crashkind.DeadlySignal
	KindUBSan              = crashkind.UBSan
	KindUnknown            = crashkind.Unknown
	KindNone               = crashkind.None
	KindBusError           = crashkind.BusError
	KindFPE                = crashkind.FPE
	KindIllegalInstruction = crashkind.IllegalInstruction
	KindFuzzTargetExited   = crashkind.FuzzTargetExited
	KindInputOverwrite     = crashkind.InputOverwrite
)

// ASanKindPrefix starts the AddressSanitizer kinds ("asan:heap-buffer-
// overflow"); ASan's signal and resource reports map to the kind the same
// bug has without ASan (crashkind.SanitizerSignals).
const ASanKindPrefix = crashkind.ASanPrefix

// Frame categories: where a frame's code comes from. App and FuzzTarget
// frames are "in-app"; the others are machinery that bucket keys skip.
const (
	CategoryApp        FrameCategory = "app"         // the code under test
	CategoryFuzzTarget FrameCategory = "fuzz-target" // the fuzz target's own code (fuzz_targets/*.rs, __libfuzzer_sys_run)
	CategoryHarness    FrameCategory = "harness"     // libfuzzer-sys glue, libFuzzer (fuzzer::*), LLVMFuzzerTestOneInput, main
	CategoryStd        FrameCategory = "std"         // std/core/alloc code that is not panic machinery
	CategoryPanic      FrameCategory = "panic"       // panic, unwind, abort and formatting machinery
	CategoryAllocator  FrameCategory = "allocator"   // the allocator and allocation-failure handling
	CategorySanitizer  FrameCategory = "sanitizer"   // sanitizer runtimes (__asan_*, __sanitizer::*, interceptors)
	CategoryLibc       FrameCategory = "libc"        // libc and the dynamic loader
	CategoryUnknown    FrameCategory = "unknown"     // no rule matched and no file to judge by
)

// InApp reports whether frames of this category belong to the code being
// fuzzed (the code under test or the fuzz target itself).
func (c FrameCategory) InApp() bool { return c == CategoryApp || c == CategoryFuzzTarget }

// Location is a source position.
type Location struct {
	File   string `json:"file" yaml:"file"`
	Line   int    `json:"line" yaml:"line"`
	Column int    `json:"column,omitempty" yaml:"column,omitempty"`
}

// FrameCategory says where a frame's code comes from. Rules that assign
// categories are data (see the rules file); dedupe keys on the in-app ones.
type FrameCategory string

// Frame is one stack frame.
type Frame struct {
	// Index is the frame's number in the backtrace it came from. Inlined
	// frames that the log printed without a number of their own, or that
	// DWARF symbolization expanded out of one printed frame, share the
	// index of the frame they were found in.
	Index int `json:"index" yaml:"index"`
	// Address is the address as printed: std's RUST_BACKTRACE=full prints
	// return addresses, sanitizers print the return address minus one.
	Address uint64 `json:"address,omitempty" yaml:"address,omitempty"`
	// Module and Offset locate an unsymbolized frame: (/path/bin+0x147c05).
	// Offset is the module-relative address (the ELF virtual address for
	// a PIE binary), ready for symbolization.
	Module string `json:"module,omitempty" yaml:"module,omitempty"`
	Offset uint64 `json:"offset,omitempty" yaml:"offset,omitempty"`
	// BuildID is the module's GNU build id where the log printed one.
	BuildID string `json:"build_id,omitempty" yaml:"build_id,omitempty"`
	// Raw is the symbol as the log printed it (possibly mangled), or as the
	// binary named it when the frame was resolved from DWARF.
	Raw string `json:"raw,omitempty" yaml:"raw,omitempty"`
	// Function is the demangled name, for people: generic arguments and
	// closure numbers kept, the legacy ::h<hash> suffix and v0 crate
	// disambiguators dropped (as rustfilt and RUST_BACKTRACE=1 print it).
	Function string `json:"function,omitempty" yaml:"function,omitempty"`
	// Normalized is Function with everything that changes from build to
	// build removed (see Normalize): stable across builds, for keys.
	Normalized string `json:"normalized,omitempty" yaml:"normalized,omitempty"`
	File       string `json:"file,omitempty" yaml:"file,omitempty"`
	Line       int    `json:"line,omitempty" yaml:"line,omitempty"`
	Column     int    `json:"column,omitempty" yaml:"column,omitempty"`
	// Inlined says this frame was inlined into the next one.
	Inlined  bool          `json:"inlined,omitempty" yaml:"inlined,omitempty"`
	Category FrameCategory `json:"category,omitempty" yaml:"category,omitempty"`
	// Rule is the id of the category rule that tagged the frame ("" when
	// no rule matched), so a reader can see why a frame counts as in-app.
	Rule string `json:"rule,omitempty" yaml:"rule,omitempty"`
	// Resolved says function, file and line came from the binary (DWARF
	// or the symbol table), not from the log.
	Resolved bool `json:"resolved,omitempty" yaml:"resolved,omitempty"`
}

// Backtrace is one stack trace found in a log.
type Backtrace struct {
	// Source says which printer produced it: "rust" (std's RUST_BACKTRACE),
	// "sanitizer" (ASan/UBSan/LSan or libFuzzer's -print stack), "lldb".
	Source string  `json:"source" yaml:"source"`
	Frames []Frame `json:"frames" yaml:"frames"`
	// Role says what the stack shows: "crash" (where it failed; Frames is
	// chosen among these), "allocated" and "freed" (the history of the
	// memory involved), "leak" and "leak-indirect" (an LSan leak's
	// allocation stack), "previous" (TSan: the racing thread's access),
	// "origin" (MSan: where the value came from), "context" (TSan: where
	// a thread or mutex was created).
	Role string `json:"role,omitempty" yaml:"role,omitempty"`
	// Dropped counts frames past MaxFrames that were not kept.
	Dropped int `json:"dropped,omitempty" yaml:"dropped,omitempty"`
}

// Backtrace sources and roles.
const (
	SourceRust      = "rust"
	SourceSanitizer = "sanitizer"
	SourceLLDB      = "lldb"

	RoleCrash        = "crash"
	RoleAllocated    = "allocated"
	RoleFreed        = "freed"
	RoleLeak         = "leak"          // a direct leak's allocation stack
	RoleLeakIndirect = "leak-indirect" // an indirect leak's
	RolePrevious     = "previous"      // ThreadSanitizer: the other thread's earlier access
	RoleOrigin       = "origin"        // MemorySanitizer: where an uninitialized value came from
	RoleContext      = "context"       // ThreadSanitizer: where a thread or mutex was created
)

// Trace is a parsed crash.
type Trace struct {
	Kind CrashKind `json:"kind" yaml:"kind"`
	// Summary is the one-line description the report gave (e.g. the
	// SUMMARY: line), for people.
	Summary string `json:"summary,omitempty" yaml:"summary,omitempty"`
	// Signal is the fatal signal's name where the log says (SIGABRT, SIGSEGV).
	Signal string `json:"signal,omitempty" yaml:"signal,omitempty"`
	// Message is the panic message, every line of it.
	Message string `json:"message,omitempty" yaml:"message,omitempty"`
	// Location is where the panic says it happened.
	Location *Location `json:"location,omitempty" yaml:"location,omitempty"`
	// Address is the faulting address where the report has one.
	Address    uint64 `json:"address,omitempty" yaml:"address,omitempty"`
	HasAddress bool   `json:"has_address,omitempty" yaml:"has_address,omitempty"`
	Thread     string `json:"thread,omitempty" yaml:"thread,omitempty"`
	// ThreadID is the OS thread id newer panic headers print
	// (thread '<unnamed>' (4480) panicked ...); 0 when absent.
	ThreadID int64 `json:"thread_id,omitempty" yaml:"thread_id,omitempty"`
	// Access is a sanitizer's description of the bad access
	// ("READ of size 4", "WRITE memory access").
	Access string `json:"access,omitempty" yaml:"access,omitempty"`
	// AllocationSize is the size a failed or refused allocation asked for
	// (alloc-failure, malloc-limit OOM, allocation-size-too-big).
	AllocationSize uint64 `json:"allocation_size,omitempty" yaml:"allocation_size,omitempty"`
	// Crash marks the report the run ended with: the last of a log's
	// reports (ParseEach hands on every report; Parse returns this one).
	Crash bool `json:"crash,omitempty" yaml:"crash,omitempty"`
	// Blocks counts the crash reports in the log. Minimizer and merge logs
	// hold several; the trace describes the last one.
	Blocks int `json:"blocks,omitempty" yaml:"blocks,omitempty"`
	// Frames is the chosen (richest) crash backtrace's frames.
	Frames []Frame `json:"frames,omitempty" yaml:"frames,omitempty"`
	// Backtraces are all stack traces found in the log, Frames among them.
	Backtraces []Backtrace `json:"backtraces,omitempty" yaml:"backtraces,omitempty"`

	// Counters are the runtime address ranges of the modules' coverage
	// counters libFuzzer printed at start-up: they give a PIE binary's
	// load bias for symbolizing bare addresses (dwarfsym's
	// Binary.LoadBias). Not recorded.
	Counters [][2]uint64 `json:"-" yaml:"-"`
}

// ChooseFrames sets Frames again from the backtraces by the kind's rule
// (crashkind.Stack), after a symbolizer filled in their frames.
func (t *Trace) ChooseFrames() { t.Frames = chooseFrames(t.Backtraces, crashkind.Of(t.Kind).Stack) }
