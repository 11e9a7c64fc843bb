package crashkind

import (
	"regexp"
	"strings"
)

// The kinds with a name of their own in code. Sanitizer kinds are named
// "<tool>:<report name>" (asan:heap-buffer-overflow, ubsan:
// signed-integer-overflow, ...) and are reached through the table.
const (
	RustPanic          Kind = "rust-panic"
	StackOverflow      Kind = "stack-overflow"
	Timeout            Kind = "timeout"
	OOM                Kind = "oom"
	AllocFailure       Kind = "alloc-failure"
	Leak               Kind = "leak"
	SlowUnit           Kind = "slow-unit"
	NullDeref          Kind = "null-deref"
	SEGV               Kind = "segv"
	Abort              Kind = "abort"
	DeadlySignal       Kind = "deadly-signal"
	UBSan              Kind = "ubsan"
	Unknown            Kind = "unknown"
	None               Kind = "none"
	BusError           Kind = "bus-error"
	FPE                Kind = "fpe"
	IllegalInstruction Kind = "illegal-instruction"
	FuzzTargetExited   Kind = "fuzz-target-exited"
	InputOverwrite     Kind = "input-overwrite"
	Assert             Kind = "assert"
	CheckFailure       Kind = "check-failure"
	DCheckFailure      Kind = "dcheck-failure"
	SecurityCheck      Kind = "security-check-failure"
	FatalLog           Kind = "fatal-log"
	SanitizerCheck     Kind = "sanitizer-check-failure"
	CFI                Kind = "cfi"
	MSan               Kind = "msan"
	TSan               Kind = "tsan"
	HWASan             Kind = "hwasan"
)

// The reporters (Info.Tool).
const (
	ToolASan   = "AddressSanitizer"
	ToolUBSan  = "UndefinedBehaviorSanitizer"
	ToolMSan   = "MemorySanitizer"
	ToolTSan   = "ThreadSanitizer"
	ToolHWASan = "HWAddressSanitizer"
	ToolLSan   = "LeakSanitizer"
)

// ASanPrefix and the other prefixes name a sanitizer's kinds.
const (
	ASanPrefix   = "asan:"
	UBSanPrefix  = "ubsan:"
	CFIPrefix    = "cfi:"
	MSanPrefix   = "msan:"
	TSanPrefix   = "tsan:"
	HWASanPrefix = "hwasan:"
)

// lldb stops shared by several kinds (toolchain notes: lldb-19, libFuzzer
// 16, Rust 1.95).
var (
	stopSegv = Stop{"Stop on the faulting access, before the handler runs.",
		"process handle SIGSEGV --stop true --pass true --notify true"}
	stopOverflow = Stop{"A stack overflow faults on the guard page: stop on SIGSEGV, in the recursing function, before the alternate-stack handler runs.",
		"process handle SIGSEGV --stop true --pass true --notify true"}
	stopAlarm = Stop{"libFuzzer's timeout timer is SIGALRM (pass -timeout=N): stop on it, inside the hang, and let libFuzzer see it after.",
		"process handle SIGALRM --stop true --pass true --notify true"}
	stopRSS = Stop{"libFuzzer's RSS thread calls this when -rss_limit_mb is exceeded; the allocating code is on thread 1.",
		"breakpoint set -n fuzzer::Fuzzer::RssLimitCallback"}
	stopDumpUnit = Stop{"With a malloc limit (sanitizer builds) the report comes from the malloc hook, on the allocating thread; the hook runs on every malloc, so stop where the report writes the oom- file.",
		"breakpoint set -n fuzzer::Fuzzer::DumpCurrentUnit"}
	stopAllocError = Stop{"Rust's allocation-failure path (\"memory allocation of N bytes failed\") aborts without panicking.",
		"breakpoint set -r 'alloc::alloc::handle_alloc_error'"}
	stopAbrt = Stop{"abort() without a panic: stop on SIGABRT.",
		"process handle SIGABRT --stop true --pass true --notify true"}
	stopBus  = Stop{"Stop on the faulting access.", "process handle SIGBUS --stop true --pass true --notify true"}
	stopFPE  = Stop{"Stop on the faulting instruction.", "process handle SIGFPE --stop true --pass true --notify true"}
	stopILL  = Stop{"Stop on the trapping instruction.", "process handle SIGILL --stop true --pass true --notify true"}
	stopExit = Stop{"The target called exit: stop there.", "breakpoint set -n exit"}
	// StopSanitizerDie is where every sanitizer report ends; sessions on
	// sanitizer builds add it whatever the kind.
	StopSanitizerDie = Stop{"Sanitizer reports end in __sanitizer::Die; stop there, the bad access is a few frames down.",
		"breakpoint set -n __sanitizer::Die"}
	afterMainThread = []Stop{{"The stop is on libFuzzer's RSS thread; the fuzz input runs on thread 1.", "thread select 1"}}
	afterAlarm      = []Stop{
		{"libFuzzer's alarm timer starts before the input runs: on a loaded machine the first SIGALRM can land in libFuzzer's start-up, " +
			"where libFuzzer ignores it; let such stops pass until thread 1 is inside LLVMFuzzerTestOneInput.", "triage-until-input LLVMFuzzerTestOneInput"},
		{"SIGALRM can be delivered to any thread; the fuzz input runs on thread 1.", "thread select 1"},
	}
)

const (
	whyDefaultKey = "sanitizer reports symbolize inlined frames, so the top frames are the same on every build that reports the kind"
	whySanStop    = "at __sanitizer::Die, the report's end; the faulting frame is a few frames down"
	whyAbrtStop   = "on SIGABRT, raised by abort() after the message is printed"
)

// table is the whole set of kinds. Sanitizer rows of one tool are tried in
// order (specific before general).
var table = []Info{
	// Rust and libFuzzer.
	{Kind: RustPanic, Class: ClassPanic, Recognized: "`thread '<name>' panicked at <file:line:col>:` and the message (all three header forms)",
		Stack: StackRichest, Family: "rust-panic", Key: KeySite, Frames: 1, Message: MessageTemplate,
		KeyWhy: "the panic location names the function (through DWARF, or the frame at that line) and the message template names the failure; " +
			"callers are left out by default because one bug reached from two callers is one bug and optimized builds inline callers away",
		StopWhy: "at core::panicking::panic_fmt, the breakpoint every session sets; the panicking frame is selected",
		Title:   "Rust panic", Description: "Rust panic: the code under test panicked (index out of bounds, unwrap on None, overflow, an assertion, explicit panic!).",
		SARIFLevel: LevelError, ClusterFuzz: "ASSERT"},
	{Kind: StackOverflow, Signal: "SIGSEGV", Class: ClassResource, Recognized: "`thread '<name>' has overflowed its stack`, or a sanitizer's stack-overflow report",
		Stack: StackRichest, Key: KeyCycle, Frames: 3, Message: MessageNone, LLDBStack: true,
		KeyWhy: "a recursion keys on its repeating cycle, from the log's stack or, where the log has none (std's handler prints none), lldb's at the overflowing access",
		Stops:  []Stop{stopOverflow}, StopWhy: "on the SIGSEGV of the guard page, inside the recursion",
		Title: "stack overflow", Description: "Stack overflow: unbounded recursion exhausted the thread's stack.",
		SARIFLevel: LevelWarning, ClusterFuzz: "Stack-overflow"},
	{Kind: Timeout, Signal: "SIGALRM", Class: ClassResource, Recognized: "`ERROR: libFuzzer: timeout after N seconds`",
		Stack: StackRichest, Key: KeyTop, Frames: 1, Message: MessageNone, Limit: LimitTimeout, LLDBStack: true,
		KeyWhy: "the top in-app frame where libFuzzer's alarm caught the loop: from the log's stack (sanitizer builds) or lldb's at the alarm; the target when neither has one",
		Stops:  []Stop{stopAlarm}, After: afterAlarm, StopWhy: "on libFuzzer's SIGALRM, inside the hang (thread 1)",
		Title: "timeout", Description: "Timeout: one input ran longer than libFuzzer's -timeout (a hang or an infinite loop).",
		SARIFLevel: LevelWarning, ClusterFuzz: "Timeout"},
	{Kind: OOM, Class: ClassResource, Recognized: "`ERROR: libFuzzer: out-of-memory (used: …; exceeds: …)` or `(malloc(N))`; a sanitizer's out-of-memory or rss-limit-exceeded",
		Stack: StackRichest, Key: KeyTop, Frames: 1, Message: MessageNone, Limit: LimitRSS, LLDBStack: true,
		KeyWhy: "the top in-app frame of the allocating thread: from libFuzzer's malloc-limit report where it prints one, else lldb's when the RSS limit fires; " +
			"the target when neither has one",
		Stops: []Stop{stopRSS, stopDumpUnit}, After: afterMainThread, StopShows: []string{"fuzzer::Fuzzer::RssLimitCallback"}, StopWhy: "at libFuzzer's RSS-limit callback (or the malloc-limit report), then on thread 1 where the input allocates",
		Title: "out of memory", Description: "Out of memory: one input made the process exceed libFuzzer's -rss_limit_mb or -malloc_limit_mb.",
		SARIFLevel: LevelWarning, ClusterFuzz: "Out-of-memory"},
	{Kind: AllocFailure, Class: ClassResource, Recognized: "`memory allocation of N bytes failed` (also glued to other output)",
		Stack: StackRichest, Family: "alloc-failure", Key: KeyEntry, Frames: 1, Message: MessageFixed, FixedMessage: "memory allocation failed",
		KeyWhy: "release builds print the allocation failure's backtrace with every function inlined into the caller of the allocator lost, " +
			"so only the outermost function of the code under test is the same on release, dev and ASan builds",
		Stops: []Stop{stopAllocError}, StopWhy: "at alloc::alloc::handle_alloc_error, called by the failing allocation",
		Title: "allocation failure", Description: "Allocation failure: Rust's allocator could not satisfy a (usually huge) allocation.",
		SARIFLevel: LevelWarning, ClusterFuzz: "Out-of-memory"},
	{Kind: Leak, Class: ClassLeak, Tool: ToolLSan, Match: `^detected memory leaks`, Recognized: "`ERROR: LeakSanitizer: detected memory leaks`; `Direct leak of` stacks before `Indirect leak of` ones",
		Stack: StackDirectLeak, Key: KeyTop, Frames: 3, Message: MessageNone,
		KeyWhy: "the allocation stack of the leaked object (a direct leak's before an indirect one's)",
		Stops:  []Stop{StopSanitizerDie}, StopWhy: "at __sanitizer::Die after the leak check (the leaking code has returned: the stack shows only the exit path)",
		Title: "memory leak", Description: "Memory leak reported by LeakSanitizer.",
		SARIFLevel: LevelWarning, ClusterFuzz: "Direct-leak"},
	{Kind: FuzzTargetExited, Class: ClassHarness, Recognized: "`ERROR: libFuzzer: fuzz target exited`",
		Stack: StackRichest, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		Stops: []Stop{stopExit}, StopWhy: "at exit(), called by the target",
		Title: "fuzz target exited", Description: "The fuzz target called exit.",
		SARIFLevel: LevelWarning, ClusterFuzz: "Unexpected-exit"},
	{Kind: InputOverwrite, Class: ClassHarness, Recognized: "`ERROR: libFuzzer: fuzz target overwrites its const input`",
		Stack: StackRichest, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		StopWhy: "libFuzzer checks the input after the run returns: the session runs to the exit",
		Title:   "input overwrite", Description: "The fuzz target wrote to its const input.",
		SARIFLevel: LevelWarning, ClusterFuzz: "Overwrites-const-input"},
	{Kind: SlowUnit, Class: ClassNone, Recognized: "`Slowest unit: N s:` with no crash (libFuzzer -report_slow_units)",
		Stack: StackNone, Key: KeyTop, Frames: 1, Message: MessageNone, KeyWhy: "like a timeout",
		Title: "slow unit", Description: "A slow input (not a crash).", SARIFLevel: LevelNote},
	{Kind: None, Class: ClassNone, Recognized: "a fuzz log with no crash evidence", Stack: StackNone, Key: KeyTop, Frames: 3,
		Message: MessageNone, KeyWhy: "not keyed (no crash)", Title: "no crash", Description: "The run did not crash.", SARIFLevel: LevelNone},

	// Signals (with or without a sanitizer's deadly-signal report).
	{Kind: NullDeref, Signal: "SIGSEGV", Class: ClassMemory, Recognized: "a sanitizer's `SEGV on unknown address` below 0x1000 (the zero page)",
		Stack: StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		Stops: []Stop{stopSegv}, StopWhy: "on SIGSEGV, at the faulting access",
		Title: "null dereference", Description: "Null pointer dereference (SEGV on an address below 0x1000).",
		SARIFLevel: LevelError, ClusterFuzz: "Null-dereference"},
	{Kind: SEGV, Signal: "SIGSEGV", Class: ClassMemory, Recognized: "a sanitizer's `SEGV on unknown address` elsewhere; a bare SIGSEGV exit",
		Stack: StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey, Security: true,
		Stops: []Stop{stopSegv}, StopWhy: "on SIGSEGV, at the faulting access",
		Title: "segmentation fault", Description: "Segmentation fault.",
		SARIFLevel: LevelError, ClusterFuzz: "UNKNOWN"},
	{Kind: BusError, Signal: "SIGBUS", Class: ClassMemory, Recognized: "a sanitizer's `BUS on unknown address`",
		Stack: StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		Stops: []Stop{stopBus}, StopWhy: "on SIGBUS, at the faulting access",
		Title: "bus error", Description: "Bus error (SIGBUS).", SARIFLevel: LevelError, ClusterFuzz: "Bus"},
	{Kind: FPE, Signal: "SIGFPE", Class: ClassSignal, Recognized: "a sanitizer's `FPE on unknown address` (a C division by zero)",
		Stack: StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		Stops: []Stop{stopFPE}, StopWhy: "on SIGFPE, at the dividing instruction",
		Title: "arithmetic exception", Description: "Arithmetic exception (SIGFPE).", SARIFLevel: LevelWarning, ClusterFuzz: "Floating-point-exception"},
	{Kind: IllegalInstruction, Signal: "SIGILL", Class: ClassSignal, Recognized: "a sanitizer's `ILL` or `TRAP` report (ud2 from core::intrinsics::abort)",
		Stack: StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		Stops: []Stop{stopILL}, StopWhy: "on SIGILL, at the trapping instruction",
		Title: "illegal instruction", Description: "Illegal instruction (SIGILL), e.g. an intrinsic abort.", SARIFLevel: LevelWarning, ClusterFuzz: "Ill"},
	{Kind: Abort, Signal: "SIGABRT", Class: ClassSignal, Recognized: "`fatal runtime error: …`, a C++ `terminate called …` or `libc++abi: terminating …`, `Abort message:`, or a deadly signal whose stack passes through abort()",
		Stack: StackRichest, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		Stops: []Stop{stopAbrt}, StopWhy: whyAbrtStop,
		Title: "abort", Description: "The process aborted without a panic or sanitizer report.", SARIFLevel: LevelWarning, ClusterFuzz: "Abrt"},
	{Kind: DeadlySignal, Class: ClassSignal, Recognized: "`ERROR: libFuzzer: deadly signal` with nothing more specific",
		Stack: StackRichest, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		Stops: []Stop{stopSegv, stopAbrt}, StopWhy: "on the fatal signal",
		Title: "deadly signal", Description: "libFuzzer caught a deadly signal.", SARIFLevel: LevelWarning, ClusterFuzz: "UNKNOWN"},
	{Kind: Unknown, Class: ClassUnknown, Recognized: "crash evidence no other rule recognised (a bare backtrace, an unlisted report)",
		Stack: StackRichest, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		StopWhy: "at the panic_fmt breakpoint, or wherever the process stops",
		Title:   "unknown crash", Description: "A crash no rule recognised.", SARIFLevel: LevelWarning, ClusterFuzz: "UNKNOWN"},

	// C and C++ assertions, CHECKs and fatal logs (C code linked into a
	// Rust target, or logs from OSS-Fuzz and ClusterFuzz).
	{Kind: Assert, Signal: "SIGABRT", Class: ClassAssertion, Recognized: "glibc's `prog: file.c:12: f: Assertion `x' failed.`, musl's and macOS's `Assertion failed: …`, `ASSERT(ION) FAILED: …`",
		Stack: StackRichest, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: "the assertion text and the top frames below the assert machinery",
		Stops: []Stop{stopAbrt}, StopWhy: whyAbrtStop,
		Title: "assertion failure", Description: "A C/C++ assertion failed.", SARIFLevel: LevelError, ClusterFuzz: "ASSERT"},
	{Kind: CheckFailure, Signal: "SIGABRT", Class: ClassAssertion, Recognized: "`Check failed: …` or `CHECK failed: …` (Chromium, glog, abseil)",
		Stack: StackRichest, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: "the CHECK's condition and the top frames below the logging machinery",
		Stops: []Stop{stopAbrt}, StopWhy: whyAbrtStop,
		Title: "CHECK failure", Description: "A CHECK failed (Chromium, glog or abseil).", SARIFLevel: LevelError, ClusterFuzz: "CHECK failure"},
	{Kind: DCheckFailure, Signal: "SIGABRT", Class: ClassAssertion, Recognized: "`Debug check failed: …` or `DCHECK failed: …`",
		Stack: StackRichest, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: "the DCHECK's condition and the top frames",
		Stops: []Stop{stopAbrt}, StopWhy: whyAbrtStop,
		Title: "DCHECK failure", Description: "A debug CHECK failed.", SARIFLevel: LevelError, ClusterFuzz: "DCHECK failure"},
	{Kind: SecurityCheck, Signal: "SIGABRT", Class: ClassAssertion, Recognized: "`Security CHECK failed: …` or `Security DCHECK failed: …`",
		Stack: StackRichest, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: "the check's condition and the top frames", Security: true,
		Stops: []Stop{stopAbrt}, StopWhy: whyAbrtStop,
		Title: "security CHECK failure", Description: "A security CHECK failed.", SARIFLevel: LevelError, ClusterFuzz: "Security CHECK failure"},
	{Kind: FatalLog, Signal: "SIGABRT", Class: ClassAssertion, Recognized: "`LOG(FATAL)` (`F0101 00:00:00.000000 1 file.cc:42] …`), Chromium's `[…:FATAL:file.cc(42)] …`, a `FATAL: …` line",
		Stack: StackRichest, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: "the fatal message and the top frames",
		Stops: []Stop{stopAbrt}, StopWhy: whyAbrtStop,
		Title: "fatal error", Description: "The program logged a fatal error and aborted.", SARIFLevel: LevelError, ClusterFuzz: "Fatal error"},
	{Kind: SanitizerCheck, Class: ClassAssertion, Recognized: "`XSanitizer CHECK failed: file:line \"cond\"` (a sanitizer's own check)",
		Stack: StackRichest, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: "the runtime's condition and the top frames",
		Stops: []Stop{StopSanitizerDie}, StopWhy: whySanStop,
		Title: "sanitizer CHECK failure", Description: "A sanitizer runtime's own CHECK failed (often heap corruption seen by the allocator).", SARIFLevel: LevelError, ClusterFuzz: "Sanitizer CHECK failure"},

	// UndefinedBehaviorSanitizer and CFI: `file:line:col: runtime error:
	// MESSAGE`; the rows match MESSAGE (specific before general).
	cfi("indirect-call", `^control flow integrity check for type .* failed during indirect (function )?call`, "an indirect call through a function pointer of the wrong type"),
	cfi("virtual-call", `^control flow integrity check for type .* failed during (non-)?virtual call`, "a virtual call through an object of the wrong dynamic type"),
	cfi("cast", `^control flow integrity check for type .* failed during .*cast`, "a cast to a type the object does not have"),
	{Kind: CFI, Class: ClassUndefined, Tool: ToolUBSan, Match: `^control flow integrity check`, Recognized: "`runtime error: control flow integrity check …` of another form, or `CFI: Most likely a control flow integrity violation` (no diagnostics)",
		Stack: StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey, Security: true,
		Stops: []Stop{StopSanitizerDie, stopILL}, StopWhy: "at __sanitizer::Die, or on the SIGILL of a trapping check",
		Title: "control-flow integrity violation", Description: "Control-flow integrity check failed.", SARIFLevel: LevelError, ClusterFuzz: "Bad-cast"},
	ubsan("divide-by-zero", `division by zero`, "Divide-by-zero", "integer division by zero", false),
	ubsan("float-cast-overflow", `outside the range of representable values`, "Float-cast-overflow", "a float converted to an integer type that cannot hold it", false),
	ubsan("implicit-conversion", `^implicit conversion from type`, "Implicit-conversion", "an implicit conversion changed the value", false),
	ubsan("function-type-mismatch", `call to function .* through pointer to incorrect function type`, "Incorrect-function-pointer-type", "a call through a function pointer of the wrong type", true),
	ubsan("index-out-of-bounds", `out of bounds for type`, "Index-out-of-bounds", "an array index out of bounds", true),
	ubsan("invalid-bool-value", `not a valid value for type '(bool|BOOL|_Bool)'`, "Invalid-bool-value", "a bool holding neither 0 nor 1", false),
	ubsan("invalid-builtin-use", `, which is not a valid argument`, "Invalid-builtin-use", "an invalid argument to a builtin (clz(0), ctz(0))", false),
	ubsan("misaligned-address", `misaligned address`, "Misaligned-address", "an access through a misaligned pointer", false),
	ubsan("missing-return", `reached the end of a value-returning function`, "No-return-value", "a value-returning function ended without a return", false),
	ubsan("null-argument", `null pointer passed as .*, which is declared to never be null`, "Invalid-null-argument", "a null pointer passed where the callee declares nonnull", false),
	ubsan("null-return", `null pointer returned from function declared to never return null`, "Invalid-null-return", "a null pointer returned from a returns_nonnull function", false),
	ubsan("null-load", `^load of null pointer`, "Null-dereference READ", "a load through a null pointer", false),
	ubsan("null-store", `^store to null pointer`, "Null-dereference WRITE", "a store through a null pointer", false),
	ubsan("null-reference", `(binding to|access within|call on) null pointer`, "Null-dereference", "a member access or reference binding through a null pointer", false),
	ubsan("object-size", `with insufficient space for an object of type`, "Object-size", "an access past the end of an object", true),
	ubsan("pointer-overflow", `(addition|subtraction) of unsigned offset|pointer index expression with base|applying (non-)?zero offset`, "Pointer-overflow", "pointer arithmetic that overflowed or offset a null pointer", false),
	ubsan("vptr", `^(member access within|member call on|downcast of) address 0x[0-9a-fA-F]+ which does not point to an object of type`, "Bad-cast", "an object used through a pointer to the wrong dynamic type", true),
	ubsan("shift-out-of-bounds", `^(left shift|shift exponent)`, "Undefined-shift", "a shift by a negative or too large amount, or of a negative value", false),
	ubsan("unreachable", `execution reached (an unreachable program point|a __builtin_unreachable)`, "Unreachable code", "execution reached unreachable code", false),
	ubsan("unsigned-integer-overflow", `unsigned integer overflow`, "Unsigned-integer-overflow", "an unsigned integer overflow (-fsanitize=unsigned-integer-overflow)", false),
	ubsan("vla-bound", `variable length array bound evaluates to non-positive value`, "Non-positive-vla-bound-value", "a variable length array of non-positive size", false),
	ubsan("invalid-enum-value", `not a valid value for type`, "Invalid-enum-value", "an enum holding a value none of its variants has", false),
	ubsan("signed-integer-overflow", `signed integer overflow|(negation|division) of .* cannot be represented in type|integer overflow`, "Integer-overflow", "a signed integer overflow", false),
	{Kind: UBSan, Class: ClassUndefined, Tool: ToolUBSan, Match: `.`, Recognized: "`runtime error:` with a message no ubsan: row matches",
		Stack: StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		Stops: []Stop{StopSanitizerDie}, StopWhy: whySanStop,
		Title: "undefined behavior", Description: "UndefinedBehaviorSanitizer runtime error.", SARIFLevel: LevelWarning, ClusterFuzz: "UNKNOWN"},

	// MemorySanitizer, ThreadSanitizer, HWAddressSanitizer: the rows match
	// the report name after "XSanitizer: ".
	{Kind: MSanPrefix + "use-of-uninitialized-value", Class: ClassUninitialized, Tool: ToolMSan, Match: `^use-of-uninitialized-value`,
		Recognized: "`WARNING: MemorySanitizer: use-of-uninitialized-value`; the first stack is the use, the `Uninitialized value was …` stacks are its origin",
		Stack:      StackFirst, Key: KeyTop, Frames: 3, Message: MessageNone, KeyWhy: "the use of the value (its origin stacks are kept apart)", Security: true,
		Stops: []Stop{StopSanitizerDie}, StopWhy: whySanStop,
		Title: "use of uninitialized value", Description: "MemorySanitizer: a branch or call depends on an uninitialized value.", SARIFLevel: LevelError, ClusterFuzz: "Use-of-uninitialized-value"},
	{Kind: MSan, Class: ClassUninitialized, Tool: ToolMSan, Match: `.`, Recognized: "another `MemorySanitizer:` report",
		Stack: StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		Stops: []Stop{StopSanitizerDie}, StopWhy: whySanStop,
		Title: "MemorySanitizer report", Description: "MemorySanitizer report.", SARIFLevel: LevelWarning, ClusterFuzz: "UNKNOWN"},
	tsan("data-race", `^data race`, "Data race", "two threads access the same memory without synchronization, one of them writing", false),
	tsan("heap-use-after-free", `^heap-use-after-free`, "Heap-use-after-free", "a thread used memory another thread freed", true),
	tsan("lock-order-inversion", `^lock-order-inversion`, "Lock-order-inversion", "two locks taken in both orders (a potential deadlock)", false),
	tsan("thread-leak", `^thread leak`, "Thread-leak", "a thread neither joined nor detached", false),
	tsan("signal-unsafe-call", `^signal-unsafe call inside of a signal`, "Signal-unsafe call inside of a signal", "an async-signal-unsafe call in a signal handler", false),
	tsan("mutex-misuse", `^(destroy of a locked mutex|unlock of an unlocked mutex|double lock of a mutex|read lock of a write locked mutex|read unlock of a write locked mutex)`, "Mutex-misuse", "a mutex used wrongly (destroyed locked, unlocked twice, ...)", false),
	{Kind: TSan, Class: ClassConcurrency, Tool: ToolTSan, Match: `.`, Recognized: "another `ThreadSanitizer:` report",
		Stack: StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey,
		Stops: []Stop{StopSanitizerDie}, StopWhy: whySanStop,
		Title: "ThreadSanitizer report", Description: "ThreadSanitizer report.", SARIFLevel: LevelWarning, ClusterFuzz: "UNKNOWN"},
	hwasan("tag-mismatch", `^tag-mismatch`, "Tag-mismatch", "an access through a pointer whose tag does not match the memory's (overflow or use after free)"),
	hwasan("invalid-free", `^invalid-free`, "Invalid-free", "a free of a pointer the allocator did not hand out"),
	hwasan("allocation-tail-overwritten", `^allocation-tail-overwritten`, "Allocation-tail-overwritten", "a write past the end of an allocation, found when it was freed"),
	hwasan("double-free", `^double-free`, "Heap-double-free", "memory freed twice"),
	{Kind: HWASan, Class: ClassMemory, Tool: ToolHWASan, Match: `.`, Recognized: "another `HWAddressSanitizer:` report",
		Stack: StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey, Security: true,
		Stops: []Stop{StopSanitizerDie}, StopWhy: whySanStop,
		Title: "HWAddressSanitizer report", Description: "HWAddressSanitizer report.", SARIFLevel: LevelError, ClusterFuzz: "UNKNOWN"},

	// AddressSanitizer: the rows match the report name after
	// "AddressSanitizer: " (compiler-rt's asan_errors.cpp names).
	asan("heap-buffer-overflow", "Heap-buffer-overflow", "a read or write past a heap allocation", true),
	asan("stack-buffer-overflow", "Stack-buffer-overflow", "a read or write past a stack variable", true),
	asan("stack-buffer-underflow", "Stack-buffer-underflow", "a read or write before a stack variable", true),
	asan("global-buffer-overflow", "Global-buffer-overflow", "a read or write past a global", true),
	asan("dynamic-stack-buffer-overflow", "Dynamic-stack-buffer-overflow", "a read or write past an alloca", true),
	asan("container-overflow", "Container-overflow", "an access past a container's size but within its capacity", true),
	asan("intra-object-overflow", "Intra-object-overflow", "an overflow from one field into the next", true),
	asan("heap-use-after-free", "Heap-use-after-free", "a use of freed heap memory", true),
	asan("stack-use-after-return", "Stack-use-after-return", "a use of a stack variable after its function returned", true),
	asan("stack-use-after-scope", "Stack-use-after-scope", "a use of a stack variable after its scope ended", true),
	asan("use-after-poison", "Use-after-poison", "a use of memory the program poisoned", true),
	asan("initialization-order-fiasco", "Initialization-order-fiasco", "a global read before its initializer ran", false),
	asan("double-free", "Heap-double-free", "memory freed twice", true),
	asan("bad-free", "Invalid-free", "a free of memory malloc did not hand out", true),
	asan("alloc-dealloc-mismatch", "Alloc-dealloc-mismatch", "memory freed with the wrong function (malloc/delete, new/free)", false),
	asan("new-delete-type-mismatch", "New-delete-type-mismatch", "delete with a size or alignment other than new's", false),
	{Kind: ASanPrefix + "allocation-size-too-big", Class: ClassResource, Tool: ToolASan, Match: `^allocation-size-too-big$`,
		Recognized: "`AddressSanitizer: requested allocation size … exceeds maximum supported size` (allocation-size-too-big)",
		Stack:      StackFirst, Family: "alloc-failure", Key: KeyEntry, Frames: 1, Message: MessageFixed, FixedMessage: "memory allocation failed",
		KeyWhy: "ASan's report of the allocation a plain build reports as `memory allocation of N bytes failed`",
		Stops:  []Stop{StopSanitizerDie}, StopWhy: whySanStop,
		Title: "allocation too big", Description: "AddressSanitizer: allocation-size-too-big.", SARIFLevel: LevelWarning, ClusterFuzz: "Out-of-memory"},
	asanResource("calloc-overflow", "Out-of-memory", "calloc's count times size overflowed"),
	asanResource("reallocarray-overflow", "Reallocarray-overflow", "reallocarray's count times size overflowed"),
	asanResource("pvalloc-overflow", "Pvalloc-overflow", "pvalloc's size overflowed when rounded up"),
	asanResource("invalid-allocation-alignment", "Invalid-allocation-alignment", "an allocation with an invalid alignment"),
	asanResource("invalid-aligned-alloc-alignment", "Invalid-aligned-alloc-alignment", "aligned_alloc with an invalid alignment"),
	asanResource("invalid-posix-memalign-alignment", "Invalid-posix-memalign-alignment", "posix_memalign with an invalid alignment"),
	asan("bad-malloc_usable_size", "Bad-malloc-usable-size", "malloc_usable_size on memory malloc did not hand out", false),
	asan("bad-__sanitizer_get_allocated_size", "Bad-sanitizer-get-allocated-size", "__sanitizer_get_allocated_size on memory malloc did not hand out", false),
	asan("negative-size-param", "Negative-size-param", "a negative size passed to a memory function", true),
	asan("memcpy-param-overlap", "Memcpy-param-overlap", "memcpy on overlapping ranges", false),
	asan("memmove-param-overlap", "Memmove-param-overlap", "memmove reported overlapping ranges", false),
	asan("strcpy-param-overlap", "Strcpy-param-overlap", "strcpy on overlapping ranges", false),
	asan("strncpy-param-overlap", "Strncpy-param-overlap", "strncpy on overlapping ranges", false),
	asan("strcat-param-overlap", "Strcat-param-overlap", "strcat on overlapping ranges", false),
	asan("strncat-param-overlap", "Strncat-param-overlap", "strncat on overlapping ranges", false),
	asan("bad-__sanitizer_annotate_contiguous_container", "Bad-sanitizer-annotate-contiguous-container", "a container annotation with bad bounds", false),
	asan("odr-violation", "Odr-violation", "one global defined twice with different definitions", false),
	asan("invalid-pointer-pair", "Invalid-pointer-pair", "pointers to different objects compared or subtracted", false),
	asan("wild-addr-read", "Wild-addr-read", "a read through a wild pointer", true),
	asan("wild-addr-write", "Wild-addr-write", "a write through a wild pointer", true),
	asan("wild-addr", "Wild-addr", "an access through a wild pointer", true),
	asan("unknown-crash", "UNKNOWN", "an access ASan could not classify", true),
}

// SanitizerSignals maps the report names every sanitizer uses for a
// signal or a resource limit ("SEGV on unknown address", "ABRT", ...) to
// the kind the same bug has without a sanitizer, so one bug has one kind
// with and without sanitizers. SEGV is refined to NullDeref by address.
var SanitizerSignals = map[string]Kind{
	"stack-overflow":     StackOverflow,
	"SEGV":               SEGV,
	"BUS":                BusError,
	"FPE":                FPE,
	"ILL":                IllegalInstruction,
	"ABRT":               Abort, // a Rust panic or an assertion in the same report wins
	"TRAP":               IllegalInstruction,
	"out-of-memory":      OOM,
	"rss-limit-exceeded": OOM,
}

func asan(name, cf, what string, security bool) Info {
	level := LevelWarning
	class := ClassMemory
	if security {
		level = LevelError
	}
	return Info{Kind: Kind(ASanPrefix + name), Class: class, Tool: ToolASan, Match: "^" + regexp.QuoteMeta(name) + "$",
		Recognized: "`ERROR: AddressSanitizer: " + name + "`",
		Stack:      StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey, Security: security,
		Stops: []Stop{StopSanitizerDie}, StopWhy: whySanStop,
		Title: strings.ReplaceAll(name, "-", " "), Description: "AddressSanitizer: " + name + ": " + what + ".",
		SARIFLevel: level, ClusterFuzz: cf}
}

func asanResource(name, cf, what string) Info {
	i := asan(name, cf, what, false)
	i.Class = ClassResource
	return i
}

func ubsan(name, match, cf, what string, security bool) Info {
	level := LevelWarning
	if security {
		level = LevelError
	}
	return Info{Kind: Kind(UBSanPrefix + name), Class: ClassUndefined, Tool: ToolUBSan, Match: match,
		Recognized: "`runtime error:` matching `" + match + "`",
		Stack:      StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey, Security: security,
		Stops: []Stop{StopSanitizerDie}, StopWhy: whySanStop,
		Title: strings.ReplaceAll(name, "-", " "), Description: "UndefinedBehaviorSanitizer: " + what + ".",
		SARIFLevel: level, ClusterFuzz: cf}
}

func cfi(name, match, what string) Info {
	return Info{Kind: Kind(CFIPrefix + name), Class: ClassUndefined, Tool: ToolUBSan, Match: match,
		Recognized: "`runtime error:` matching `" + match + "`",
		Stack:      StackFirst, Key: KeyTop, Frames: 3, Message: MessageTemplate, KeyWhy: whyDefaultKey, Security: true,
		Stops: []Stop{StopSanitizerDie, stopILL}, StopWhy: "at __sanitizer::Die, or on the SIGILL of a trapping check",
		Title: "CFI: " + strings.ReplaceAll(name, "-", " "), Description: "Control-flow integrity: " + what + ".",
		SARIFLevel: LevelError, ClusterFuzz: "Bad-cast"}
}

func tsan(name, match, cf, what string, security bool) Info {
	level := LevelWarning
	if security {
		level = LevelError
	}
	return Info{Kind: Kind(TSanPrefix + name), Class: ClassConcurrency, Tool: ToolTSan, Match: match,
		Recognized: "`WARNING: ThreadSanitizer: " + strings.ReplaceAll(name, "-", " ") + "`; the first stack is the access, `Previous …` stacks are the other thread's",
		Stack:      StackFirst, Key: KeyTop, Frames: 3, Message: MessageNone, KeyWhy: "the access that raced (the first stack), not the previous one", Security: security,
		Stops: []Stop{StopSanitizerDie}, StopWhy: whySanStop,
		Title: strings.ReplaceAll(name, "-", " "), Description: "ThreadSanitizer: " + what + ".",
		SARIFLevel: level, ClusterFuzz: cf}
}

func hwasan(name, match, cf, what string) Info {
	return Info{Kind: Kind(HWASanPrefix + name), Class: ClassMemory, Tool: ToolHWASan, Match: match,
		Recognized: "`ERROR: HWAddressSanitizer: " + name + "`",
		Stack:      StackFirst, Key: KeyTop, Frames: 3, Message: MessageNone, KeyWhy: "the faulting access; the tags and addresses in the report change every run", Security: true,
		Stops: []Stop{StopSanitizerDie}, StopWhy: whySanStop,
		Title: strings.ReplaceAll(name, "-", " "), Description: "HWAddressSanitizer: " + what + ".",
		SARIFLevel: LevelError, ClusterFuzz: cf}
}
