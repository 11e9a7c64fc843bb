package crashkind

import (
	"regexp"
	"strings"
	"testing"
)

// TestEveryKindIsComplete: every row has every entry a stage reads.
func TestEveryKindIsComplete(t *testing.T) {
	classes := map[Class]bool{ClassPanic: true, ClassMemory: true, ClassUndefined: true, ClassUninitialized: true, ClassConcurrency: true,
		ClassAssertion: true, ClassResource: true, ClassLeak: true, ClassSignal: true, ClassHarness: true, ClassUnknown: true, ClassNone: true}
	stacks := map[Stack]bool{StackRichest: true, StackFirst: true, StackDirectLeak: true, StackNone: true}
	keys := map[KeyRule]bool{KeySite: true, KeyTop: true, KeyCycle: true, KeyEntry: true, KeyTarget: true}
	messages := map[MessageRule]bool{MessageTemplate: true, MessageFixed: true, MessageNone: true}
	levels := map[string]bool{LevelError: true, LevelWarning: true, LevelNote: true, LevelNone: true}
	kindName := regexp.MustCompile(`^[a-z][a-z0-9-]*(:[a-z_][a-z0-9_-]*)?$`)
	for _, k := range All() {
		bad := func(what string) { t.Errorf("%s: %s", k.Kind, what) }
		if !kindName.MatchString(string(k.Kind)) {
			bad("name is not lower-case words with an optional tool prefix")
		}
		if !classes[k.Class] {
			bad("no class")
		}
		if k.Recognized == "" {
			bad("no Recognized (how the parser knows it)")
		}
		if !stacks[k.Stack] {
			bad("no crash stack rule")
		}
		if !keys[k.Key] || !messages[k.Message] || k.KeyWhy == "" {
			bad("incomplete key rule (Key, Message, KeyWhy)")
		}
		if k.Key != KeyTarget && k.Frames < 1 {
			bad("a key on frames needs Frames >= 1")
		}
		if (k.Message == MessageFixed) != (k.FixedMessage != "") {
			bad("FixedMessage goes with MessageFixed")
		}
		if k.Title == "" || k.Description == "" {
			bad("no report wording (Title, Description)")
		}
		if !levels[k.SARIFLevel] {
			bad("no SARIF level")
		}
		if k.IsCrash() {
			if k.ClusterFuzz == "" {
				bad("no ClusterFuzz crash_type")
			}
			if k.StopWhy == "" {
				bad("no lldb stop (StopWhy)")
			}
			if k.SARIFLevel == LevelNone || k.SARIFLevel == LevelNote {
				bad("a crash is a warning or an error")
			}
		}
		for _, s := range k.Stops {
			if s.Why == "" || s.Command == "" || strings.ContainsAny(s.Command, "\n\r") {
				bad("a stop needs a reason and a one-line command")
			}
		}
		if k.Tool != "" && k.Match == "" {
			bad("a tool's kind needs a Match")
		}
		if k.Tool != "" {
			if _, err := regexp.Compile(k.Match); err != nil {
				bad("Match does not compile: " + err.Error())
			}
		}
		if k.Security && k.SARIFLevel != LevelError {
			bad("a security kind is a SARIF error")
		}
	}
}

// TestToolRowsAreReachable: no row of a tool is shadowed by an earlier,
// more general one (each row's own examples pick it).
func TestToolRowsAreReachable(t *testing.T) {
	examples := map[Kind]string{
		"cfi:indirect-call":               "control flow integrity check for type 'void (int)' failed during indirect function call",
		"cfi:virtual-call":                "control flow integrity check for type 'A' failed during virtual call (vtable address 0x000000425a50)",
		"cfi:cast":                        "control flow integrity check for type 'B' failed during cast to unrelated type (vtable address 0x000000425a50)",
		"ubsan:divide-by-zero":            "division by zero",
		"ubsan:index-out-of-bounds":       "index 5 out of bounds for type 'int [4]'",
		"ubsan:signed-integer-overflow":   "signed integer overflow: 2147483647 + 1 cannot be represented in type 'int'",
		"ubsan:unsigned-integer-overflow": "unsigned integer overflow: 0 - 1 cannot be represented in type 'unsigned int'",
		"ubsan:invalid-bool-value":        "load of value 2, which is not a valid value for type 'bool'",
		"ubsan:invalid-enum-value":        "load of value 7, which is not a valid value for type 'enum E'",
		"ubsan:null-load":                 "load of null pointer of type 'int'",
		"ubsan:null-argument":             "null pointer passed as argument 2, which is declared to never be null",
		"ubsan:misaligned-address":        "load of misaligned address 0x602000000011 for type 'int', which requires 4 byte alignment",
		"ubsan:shift-out-of-bounds":       "shift exponent 40 is too large for 32-bit type 'int'",
		"ubsan:vptr":                      "member call on address 0x602000000010 which does not point to an object of type 'B'",
		"ubsan":                           "something new",
		"tsan:data-race":                  "data race (pid=4242)",
		"tsan:heap-use-after-free":        "heap-use-after-free (pid=4242)",
		"msan:use-of-uninitialized-value": "use-of-uninitialized-value",
		"hwasan:tag-mismatch":             "tag-mismatch on address 0x004000000010 at pc 0x0055",
		"asan:heap-buffer-overflow":       "heap-buffer-overflow",
	}
	tools := map[string]string{}
	for _, k := range All() {
		tools[string(k.Kind)] = k.Tool
	}
	for kind, text := range examples {
		got, ok := FromReport(tools[string(kind)], text)
		if !ok || got != kind {
			t.Errorf("%q: got %q, want %q", text, got, kind)
		}
	}
}

func TestClusterFuzzType(t *testing.T) {
	for _, c := range []struct {
		kind   Kind
		access string
		want   string
	}{
		{"asan:heap-buffer-overflow", "READ of size 4", "Heap-buffer-overflow READ 4"},
		{NullDeref, "WRITE memory access", "Null-dereference WRITE"},
		{RustPanic, "", "ASSERT"},
		{Timeout, "READ of size 1", "Timeout"},
		{"no-such-kind", "", "UNKNOWN"},
	} {
		if got := ClusterFuzzType(c.kind, c.access); got != c.want {
			t.Errorf("%s %q: %q, want %q", c.kind, c.access, got, c.want)
		}
	}
}
