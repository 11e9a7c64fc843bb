package symbolize

import "strings"

// ASanReportNames are the report names AddressSanitizer prints after
// "SUMMARY: AddressSanitizer:" (compiler-rt's asan_errors.cpp and
// asan_report.cpp) that become "asan:<name>" kinds. Names that map to a
// signal or resource kind instead (stack-overflow, SEGV, BUS, FPE, ILL,
// ABRT, out-of-memory, rss-limit-exceeded) are handled by asanSignalKinds.
var ASanReportNames = []string{
	"heap-buffer-overflow",
	"stack-buffer-overflow",
	"stack-buffer-underflow",
	"global-buffer-overflow",
	"dynamic-stack-buffer-overflow",
	"container-overflow",
	"intra-object-overflow",
	"heap-use-after-free",
	"stack-use-after-return",
	"stack-use-after-scope",
	"use-after-poison",
	"initialization-order-fiasco",
	"double-free",
	"bad-free",
	"alloc-dealloc-mismatch",
	"new-delete-type-mismatch",
	"allocation-size-too-big",
	"calloc-overflow",
	"reallocarray-overflow",
	"pvalloc-overflow",
	"invalid-allocation-alignment",
	"invalid-aligned-alloc-alignment",
	"invalid-posix-memalign-alignment",
	"bad-malloc_usable_size",
	"bad-__sanitizer_get_allocated_size",
	"negative-size-param",
	"memcpy-param-overlap",
	"memmove-param-overlap",
	"strcpy-param-overlap",
	"strncpy-param-overlap",
	"strcat-param-overlap",
	"strncat-param-overlap",
	"bad-__sanitizer_annotate_contiguous_container",
	"odr-violation",
	"invalid-pointer-pair",
	"wild-addr-read",
	"wild-addr-write",
	"wild-addr",
	"unknown-crash",
}

// asanSignalKinds maps ASan report names that describe a signal or a
// resource limit to the kind the same bug has without ASan.
var asanSignalKinds = map[string]CrashKind{
	"stack-overflow":     KindStackOverflow,
	"SEGV":               KindSEGV, // refined to KindNullDeref by address
	"BUS":                KindBusError,
	"FPE":                KindFPE,
	"ILL":                KindIllegalInstruction,
	"ABRT":               KindAbort, // a Rust panic in the same block wins
	"TRAP":               KindIllegalInstruction,
	"out-of-memory":      KindOOM,
	"rss-limit-exceeded": KindOOM,
}

// NullPageLimit is the address below which a SEGV counts as a null
// dereference (the zero page, as ASan's "address points to the zero page").
const NullPageLimit = 0x1000

var asanNames = func() map[string]bool {
	m := make(map[string]bool, len(ASanReportNames))
	for _, n := range ASanReportNames {
		m[n] = true
	}
	return m
}()

// baseKinds is every kind that is not "asan:<name>".
var baseKinds = []CrashKind{
	KindRustPanic, KindStackOverflow, KindTimeout, KindOOM, KindAllocFailure,
	KindLeak, KindSlowUnit, KindNullDeref, KindSEGV, KindAbort,
	KindDeadlySignal, KindUBSan, KindUnknown, KindNone, KindBusError, KindFPE,
	KindIllegalInstruction, KindFuzzTargetExited, KindInputOverwrite,
}

// AllKinds returns the closed set of crash kinds: the constants and one
// "asan:<name>" kind per ASanReportNames entry.
func AllKinds() []CrashKind {
	out := append([]CrashKind(nil), baseKinds...)
	for _, n := range ASanReportNames {
		out = append(out, CrashKind(ASanKindPrefix+n))
	}
	return out
}

// Valid reports whether k is in the closed set.
func (k CrashKind) Valid() bool {
	if name, ok := strings.CutPrefix(string(k), ASanKindPrefix); ok {
		return asanNames[name]
	}
	for _, b := range baseKinds {
		if b == k {
			return true
		}
	}
	return false
}

// IsCrash reports whether the kind ends a fuzzing run with an artifact
// (everything but KindNone and KindSlowUnit).
func (k CrashKind) IsCrash() bool { return k != KindNone && k != KindSlowUnit && k != "" }

// asanKind maps an ASan report name (and the faulting address, for SEGV)
// to a kind of the closed set.
func asanKind(name string, addr uint64, hasAddr bool) CrashKind {
	if k, ok := asanSignalKinds[name]; ok {
		if k == KindSEGV && hasAddr && addr < NullPageLimit {
			return KindNullDeref
		}
		return k
	}
	if asanNames[name] {
		return CrashKind(ASanKindPrefix + name)
	}
	return KindUnknown
}
