package symbolize

import "github.com/fuzztriage/triage/crashkind"

// NullPageLimit is the address below which a SEGV counts as a null
// dereference (the zero page, as ASan's "address points to the zero page").
const NullPageLimit = 0x1000

// sanitizerKind maps a sanitizer's report (its tool, the report name and
// the whole description) and the faulting address, for SEGV, to a
// kind of the table; KindUnknown when the table has none.
func sanitizerKind(tool, name, desc string, addr uint64, hasAddr bool) CrashKind {
	if k, ok := crashkind.SanitizerSignals[name]; ok {
		if k == KindSEGV && hasAddr && addr < NullPageLimit {
			return KindNullDeref
		}
		return k
	}
	text := name
	if tool != crashkind.ToolASan {
		text = desc // "data race (pid=1)", "use-of-uninitialized-value"
	}
	if k, ok := crashkind.FromReport(tool, text); ok {
		return k
	}
	return KindUnknown
}
