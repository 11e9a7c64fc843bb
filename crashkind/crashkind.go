// Package crashkind is the table of crash kinds: for every kind of crash
// a fuzz run can end in (a Rust panic, a libFuzzer verdict, a sanitizer
// report, a C/C++ assertion, a signal), how it is recognised, which stack
// is the crash stack, how it is keyed, what reproduces it, where lldb
// stops, how reports word it, its SARIF level and ClusterFuzz's name for
// it. Every stage reads this one table (symbolize classifies into it,
// dedupe keys by it, triage reproduces by it, lldbscript stops by it,
// report words it): a new kind is one entry in table.go.
//
// The package imports nothing of this module: it is data.
package crashkind

import (
	"regexp"
	"sort"
	"strings"
)

// Kind names a crash kind. Its string is part of the record schema.
type Kind string

// Class is the family of a kind: what sort of bug it is. A report whose
// exact kind is uncertain (a sanitizer name we do not list) still has the
// right class.
type Class string

// The classes.
const (
	ClassPanic         Class = "rust-panic"         // a Rust panic
	ClassMemory        Class = "memory-safety"      // bad memory accesses: ASan, HWASan, SEGV, null dereference, bus error
	ClassUndefined     Class = "undefined-behavior" // UBSan and CFI checks
	ClassUninitialized Class = "uninitialized"      // MemorySanitizer
	ClassConcurrency   Class = "concurrency"        // ThreadSanitizer
	ClassAssertion     Class = "assertion"          // C/C++ assertions, CHECKs, fatal logs, aborts with a message
	ClassResource      Class = "resource"           // timeouts, out of memory, allocation failure, stack overflow
	ClassLeak          Class = "leak"               // LeakSanitizer
	ClassSignal        Class = "signal"             // a fatal signal with nothing more specific
	ClassHarness       Class = "harness"            // libFuzzer's verdicts on the target itself (it exited, it wrote its input)
	ClassUnknown       Class = "unknown"            // crash evidence no rule recognised
	ClassNone          Class = "none"               // not a crash
)

// Stack says which of a report's stacks is the crash stack.
type Stack string

// The stack choices.
const (
	// StackRichest: the richest crash stack (the Rust backtrace or the
	// sanitizer's, whichever has more symbolized frames).
	StackRichest Stack = "richest"
	// StackFirst: the report's first stack, the faulting access; later
	// stacks are history (where the memory was allocated or freed, the
	// previous access of a race, where an uninitialized value came from).
	StackFirst Stack = "first"
	// StackDirectLeak: the first direct leak's allocation stack, else the
	// first indirect leak's.
	StackDirectLeak Stack = "first-direct-leak"
	// StackNone: the kind has no stack of its own (not a crash).
	StackNone Stack = "none"
)

// KeyRule says how the frames of a trace enter its bucket key.
type KeyRule string

// The key rules.
const (
	// KeySite: the panic site (the panic location's function), then N-1 callers.
	KeySite KeyRule = "site"
	// KeyTop: the top N in-app frames.
	KeyTop KeyRule = "top"
	// KeyCycle: the repeating cycle of a recursion, canonically rotated.
	KeyCycle KeyRule = "cycle"
	// KeyEntry: the outermost function of the code under test.
	KeyEntry KeyRule = "entry"
	// KeyTarget: no frames; the fuzz target names the bucket.
	KeyTarget KeyRule = "target"
)

// MessageRule says how the report's message enters the key.
type MessageRule string

// The message rules.
const (
	MessageTemplate MessageRule = "template" // the message with numbers, addresses and quoted values templated
	MessageFixed    MessageRule = "fixed"    // one text for the whole family (FixedMessage)
	MessageNone     MessageRule = "none"     // no message
)

// Limit is the libFuzzer limit a kind is reproduced under.
type Limit string

// The limits.
const (
	LimitTimeout Limit = "timeout" // -timeout=N: a hang ends in libFuzzer's timeout report
	LimitRSS     Limit = "rss"     // -rss_limit_mb=N and no -timeout (a slow allocation is not a hang)
)

// SARIF result levels.
const (
	LevelError   = "error"
	LevelWarning = "warning"
	LevelNote    = "note"
	LevelNone    = "none"
)

// Stop is one lldb command a kind's session runs to stop at the crash.
type Stop struct {
	Why     string
	Command string
}

// Info is one row of the table.
type Info struct {
	Kind  Kind
	Class Class
	// Tool is the reporter whose report names the kind ("AddressSanitizer",
	// "UndefinedBehaviorSanitizer", ...); "" for Rust, libFuzzer and
	// signals. Kinds of one tool are tried in table order, first Match wins.
	Tool string
	// Match is an RE2 regexp over the tool's report text (the report name
	// after "Sanitizer: ", or UBSan's message after "runtime error: ")
	// that selects this kind; "" for kinds the parser recognises by its
	// own rules (Recognized says how).
	Match string
	// Recognized says, for people, what in a log makes this kind.
	Recognized string
	// Signal is the signal the kind comes with, where it has one.
	Signal string
	// Stack is which of the report's stacks is the crash stack.
	Stack Stack
	// Family is the key's kind: kinds that are one bug seen through
	// different builds share it ("" means the kind itself).
	Family string
	// Key and Frames: how frames enter the key, and how many.
	Key    KeyRule
	Frames int
	// Message and FixedMessage: how the message enters the key.
	Message      MessageRule
	FixedMessage string
	// KeyWhy documents the key choice.
	KeyWhy string
	// Security says the kind is usually exploitable (memory corruption),
	// as ClusterFuzz's security flag.
	Security bool
	// Limit is the libFuzzer limit that reproduces it ("" none).
	Limit Limit
	// LLDBStack says a log of this kind often carries no stack (std and
	// libFuzzer print none for a hang, an RSS overflow or a stack
	// overflow without a sanitizer): reproduction then runs the input
	// under lldb once, stopping where the limit fires, and the key takes
	// the frames of that stack (the input's thread), so release, dev and
	// sanitizer builds agree and two hangs of one target separate.
	LLDBStack bool
	// Stops are lldb commands that stop at this kind of crash besides
	// the panic_fmt breakpoint every session has; StopWhy says where a
	// session stops (for every crash kind, Stops or not).
	Stops   []Stop
	After   []Stop
	StopWhy string
	// StopShows lists functions a stop in which shows this kind by itself
	// (libFuzzer calls its RSS-limit callback only when the limit is
	// exceeded); a panic_fmt or signal stop needs the message or frames
	// as well to tell which crash it is.
	StopShows []string
	// Title is the short name reports use; Description one sentence.
	Title       string
	Description string
	// SARIFLevel is the level of a result of this kind.
	SARIFLevel string
	// ClusterFuzz is ClusterFuzz's crash_type for it (for exports that
	// join ClusterFuzz history); "" only for kinds that are not crashes.
	ClusterFuzz string

	match *regexp.Regexp
}

// IsCrash says the kind ends a run with an artifact.
func (i *Info) IsCrash() bool { return i.Class != ClassNone }

// KeyFamily is the family the key names.
func (i *Info) KeyFamily() string {
	if i.Family != "" {
		return i.Family
	}
	return string(i.Kind)
}

var (
	byKind = map[Kind]*Info{}
	byTool = map[string][]*Info{}
)

func init() {
	for i := range table {
		info := &table[i]
		if _, dup := byKind[info.Kind]; dup {
			panic("crashkind: kind listed twice: " + string(info.Kind))
		}
		byKind[info.Kind] = info
		if info.Match != "" {
			info.match = regexp.MustCompile(info.Match)
		}
		if info.Tool != "" {
			byTool[info.Tool] = append(byTool[info.Tool], info)
		}
	}
}

// All returns the table, in its order.
func All() []*Info {
	out := make([]*Info, len(table))
	for i := range table {
		out[i] = &table[i]
	}
	return out
}

// Lookup returns the kind's row, or nil for a kind not in the table.
func Lookup(k Kind) *Info { return byKind[k] }

// Of returns the kind's row; a kind not in the table gets Unknown's.
func Of(k Kind) *Info {
	if i := byKind[k]; i != nil {
		return i
	}
	return byKind[Unknown]
}

// Valid says the kind is in the table.
func (k Kind) Valid() bool { return byKind[k] != nil }

// IsCrash says the kind ends a run with an artifact (not None or
// SlowUnit, and not empty).
func (k Kind) IsCrash() bool { return k != "" && Of(k).IsCrash() }

// FromStop is the kind a stop in function fn shows by itself, or "".
func FromStop(fn string) Kind {
	for i := range table {
		for _, f := range table[i].StopShows {
			if f == fn {
				return table[i].Kind
			}
		}
	}
	return ""
}

// FromReport picks the kind a tool's report text names: the first row of
// that tool whose Match matches. ok is false when none does.
func FromReport(tool, text string) (Kind, bool) {
	for _, info := range byTool[tool] {
		if info.match != nil && info.match.MatchString(text) {
			return info.Kind, true
		}
	}
	return "", false
}

// Tools lists the reporters the table names.
func Tools() []string {
	out := make([]string, 0, len(byTool))
	for t := range byTool {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// ClusterFuzzType is ClusterFuzz's crash_type for a kind, with the access
// ("READ 4", "WRITE") where ClusterFuzz adds one.
func ClusterFuzzType(k Kind, access string) string {
	info := Of(k)
	t := info.ClusterFuzz
	if access == "" || !info.Security && info.Kind != NullDeref && info.Kind != SEGV {
		return t
	}
	// "READ of size 4" -> "READ 4"; "WRITE memory access" -> "WRITE".
	f := strings.Fields(access)
	if len(f) == 0 {
		return t
	}
	op := strings.ToUpper(f[0])
	if op != "READ" && op != "WRITE" {
		return t
	}
	if len(f) >= 4 && f[1] == "of" && f[2] == "size" {
		return t + " " + op + " " + f[3]
	}
	return t + " " + op
}
