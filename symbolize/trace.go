// Package symbolize turns the text a crashing fuzz binary prints into a
// structured Trace: what kind of crash it was, the panic message and
// location, and the stack frames, demangled, normalized for keys, resolved
// from the binary's DWARF where the log left them raw, and tagged by where
// they come from (code under test, fuzz target, harness, std, ...).
//
// It runs no programs: everything is parsing and reading ELF/DWARF.
package symbolize

// CrashKind is one of a closed set of crash kinds; the constants below are
// the whole set and their string forms are part of the record schema.
type CrashKind string

// The crash kinds. This list is the closed set; parsers map every report
// to one of these. A Rust panic is KindRustPanic whatever the panic says;
// the message carries the detail.
const (
	KindRustPanic     CrashKind = "rust-panic"     // a Rust panic (message and location in the Trace)
	KindStackOverflow CrashKind = "stack-overflow" // std's or ASan's stack-overflow report
	KindTimeout       CrashKind = "timeout"        // libFuzzer: timeout
	KindOOM           CrashKind = "oom"            // libFuzzer: out-of-memory (RSS or malloc limit)
	KindAllocFailure  CrashKind = "alloc-failure"  // Rust: memory allocation of N bytes failed
	KindLeak          CrashKind = "leak"           // LeakSanitizer: detected memory leaks
	KindSlowUnit      CrashKind = "slow-unit"      // libFuzzer: slowest unit (not a crash)
	KindNullDeref     CrashKind = "null-deref"     // SEGV on an address below 0x1000
	KindSEGV          CrashKind = "segv"           // SEGV elsewhere
	KindAbort         CrashKind = "abort"          // SIGABRT with no panic or report
	KindDeadlySignal  CrashKind = "deadly-signal"  // libFuzzer deadly signal with nothing more specific
	KindUBSan         CrashKind = "ubsan"          // UndefinedBehaviorSanitizer runtime error
	KindUnknown       CrashKind = "unknown"        // a crash no rule recognised
	KindNone          CrashKind = "none"           // the log shows no crash
)

// ASan report kinds keep the sanitizer's own name after "asan:", e.g.
// "asan:heap-buffer-overflow", "asan:use-after-free",
// "asan:allocation-size-too-big". ASan's stack-overflow, SEGV and ABRT
// reports map to KindStackOverflow, KindNullDeref/KindSEGV and the panic or
// KindAbort, so one bug has one kind with and without ASan.
const ASanKindPrefix = "asan:"

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
	// Index is the frame's number in the backtrace it came from.
	Index   int    `json:"index" yaml:"index"`
	Address uint64 `json:"address,omitempty" yaml:"address,omitempty"`
	// Module and Offset locate an unsymbolized frame: (/path/bin+0x147c05).
	Module string `json:"module,omitempty" yaml:"module,omitempty"`
	Offset uint64 `json:"offset,omitempty" yaml:"offset,omitempty"`
	// Raw is the symbol as the log printed it (possibly mangled).
	Raw string `json:"raw,omitempty" yaml:"raw,omitempty"`
	// Function is the fully demangled name, for people.
	Function string `json:"function,omitempty" yaml:"function,omitempty"`
	// Normalized is Function with hashes, crate disambiguators and closure
	// numbers removed: stable across builds, for keys.
	Normalized string `json:"normalized,omitempty" yaml:"normalized,omitempty"`
	File       string `json:"file,omitempty" yaml:"file,omitempty"`
	Line       int    `json:"line,omitempty" yaml:"line,omitempty"`
	Column     int    `json:"column,omitempty" yaml:"column,omitempty"`
	// Inlined says this frame was inlined into the next one.
	Inlined  bool          `json:"inlined,omitempty" yaml:"inlined,omitempty"`
	Category FrameCategory `json:"category,omitempty" yaml:"category,omitempty"`
}

// Backtrace is one stack trace found in a log.
type Backtrace struct {
	// Source says which printer produced it: "rust" (std's RUST_BACKTRACE),
	// "sanitizer" (ASan/UBSan/LSan or libFuzzer's -print stack), "lldb".
	Source string  `json:"source" yaml:"source"`
	Frames []Frame `json:"frames" yaml:"frames"`
}

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
	// Frames is the chosen (richest) backtrace's frames.
	Frames []Frame `json:"frames,omitempty" yaml:"frames,omitempty"`
	// Backtraces are all stack traces found in the log, Frames among them.
	Backtraces []Backtrace `json:"backtraces,omitempty" yaml:"backtraces,omitempty"`
}
