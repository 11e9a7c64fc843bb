package dedupe

import (
	"regexp"
	"strings"

	"github.com/fuzztriage/triage/crashkind"

	"github.com/fuzztriage/triage/symbolize"
)

// This file holds every rule the key uses, as tables a reader can scan:
// how panic messages become templates, which frames a panic passes through
// on its way from the code under test into std, and how each crash kind is
// keyed. Changing what a table produces for an existing trace changes bucket
// ids: bump KeyVersion when you do.

// messageRule replaces what varies between inputs of one bug with a
// placeholder. Rules run in order; each sees the output of the one before.
type messageRule struct {
	name string
	re   *regexp.Regexp
	// repl is the replacement (regexp.Expand syntax); replFunc, when set,
	// decides per match instead.
	repl     string
	replFunc func(match string) string
	// needs lists substrings of which the message must hold one for the
	// rule to apply (a cheap test before the regexp); empty: always try.
	needs []string
	why   string
}

var messageRules = []messageRule{
	{name: "assert-values", needs: []string{"left", "right"}, re: regexp.MustCompile(`(?m)^([ \t]*(?:left|right))(:[ \t]*).*$`), repl: "${1}${2}<V>",
		why: "assert_eq!/assert_ne! print both operands' Debug output on `  left:` / ` right:` lines"},
	{name: "assert-values-inline", needs: []string{"left: `", "right: `"}, re: regexp.MustCompile("(left|right): `[^`]*`"), repl: "${1}: `<V>`",
		why: "before Rust 1.73 the operands were inline: (left: `3`, right: `5`)"},
	{name: "double-quoted", needs: []string{`"`}, re: regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"`), repl: `"<S>"`,
		why: "Debug output of strings and byte strings: usually input bytes"},
	{name: "single-quoted-char", needs: []string{"'"}, re: regexp.MustCompile(`'(?:[^'\\\n]|\\u\{[0-9a-fA-F]+\}|\\.)'`), repl: `'<C>'`,
		why: "Debug output of a char"},
	{name: "hex-number", needs: []string{"0x", "0X"}, re: regexp.MustCompile(`\b0[xX][0-9a-fA-F]+\b`), repl: "<HEX>",
		why: "addresses, pointers and hex-formatted values"},
	{name: "hex-word", needs: digits, re: regexp.MustCompile(`\b[0-9a-fA-F]{8,}\b`), replFunc: hexWord,
		why: "bare hex words of 8 or more characters with a digit and a letter: hashes, ids, hex dumps"},
	{name: "number", needs: digits, re: regexp.MustCompile(`\b[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?`), repl: "<N>",
		why: "lengths, indices, counts, sizes and values (digits inside identifiers such as u32 or x86_64 stay)"},
	{name: "list", needs: []string{"["}, re: regexp.MustCompile(`\[(?:\s*-?(?:<N>|<HEX>|"<S>"|'<C>')\s*,)*\s*-?(?:<N>|<HEX>|"<S>"|'<C>')\s*\]|\[\s*\]`), repl: "[<LIST>]",
		why: "slices and arrays of input values (`[1, 2, 3]`, `[]`): their length varies too"},
	{name: "blank-runs", needs: []string{"  ", "\t"}, re: regexp.MustCompile(`[ \t]+`), repl: " ",
		why: "alignment padding (`  left:` / ` right:`) and tabs"},
}

var digits = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

func (r *messageRule) applies(msg string) bool {
	if len(r.needs) == 0 {
		return true
	}
	for _, n := range r.needs {
		if strings.Contains(msg, n) {
			return true
		}
	}
	return false
}

func hexWord(w string) string {
	digit, letter := false, false
	for _, c := range w {
		if c >= '0' && c <= '9' {
			digit = true
		} else {
			letter = true
		}
	}
	if digit && letter {
		return "<HEX>"
	}
	return w
}

// maxMessageLen caps the template so one huge Debug dump cannot make a key
// unreadable (ClusterFuzz cuts state lines at 80; panic messages are more
// distinctive, so keep more).
const maxMessageLen = 240

// helperFrames are the std functions a panic passes through between the
// code under test and the panic machinery: unwrap/expect, indexing,
// RefCell borrows, arithmetic and assertion helpers. Release builds print
// them by their short DWARF names and without a source line (`4:
// unwrap<&chipset::battery::Pack>`), so they are matched by short name and
// skipped only when the frame carries no source file of the code under test.
// A panic that comes from one of these keys on its caller.
var helperFrames = newNameSet(
	"unwrap", "expect", "unwrap_err", "expect_err", "unwrap_unchecked", "unwrap_failed", "expect_failed",
	"panic", "panic_fmt", "panic_str", "panic_display", "panic_explicit", "panic_nounwind", "panic_nounwind_fmt",
	"panic_bounds_check", "panic_misaligned_pointer_dereference", "panic_const_*", "panic_in_cleanup",
	"begin_panic", "begin_panic_handler", "rust_begin_unwind", "rust_panic", "rust_panic_with_hook", "panic_with_hook",
	"assert_failed", "assert_failed_inner", "unreachable_display",
	"index", "index_mut", "get_unchecked", "get_unchecked_mut",
	"slice_index_fail", "slice_start_index_len_fail", "slice_end_index_len_fail", "slice_index_order_fail",
	"str_index_overflow_fail", "slice_error_fail", "slice_error_fail_rt", "copy_from_slice", "len_mismatch_fail",
	"borrow", "borrow_mut", "panic_already_borrowed", "panic_already_mutably_borrowed", "do_panic", "runtime",
	"handle_alloc_error", "handle_error", "capacity_overflow", "rt_error", "rust_oom", "default_alloc_error_hook",
	"__rust_alloc_error_handler", "__rust_start_panic", "__rust_end_short_backtrace", "__rust_begin_short_backtrace",
)

// toolchainFiles are source paths inside the Rust toolchain or the
// sanitizer runtimes (prefixes, or substrings where marked "*...*"): a
// location there is never the code under test.
var toolchainFiles = []string{
	"/rustc/",                  // std, core, alloc as the toolchain's debug info names them
	"*/lib/rustlib/src/rust/*", // rust-src component
	"library/core/", "library/std/", "library/alloc/",
	"*/rustc/llvm/src/*", // sanitizer runtimes shipped with the toolchain
	"*compiler-rt/lib/*",
}

func isToolchainFile(p string) bool {
	for _, t := range toolchainFiles {
		if strings.HasPrefix(t, "*") {
			if strings.Contains(p, strings.Trim(t, "*")) {
				return true
			}
		} else if strings.HasPrefix(p, t) {
			return true
		}
	}
	return false
}

// nameSet is a set of short function names; a name ending in "*" is a
// prefix.
type nameSet struct {
	exact    map[string]bool
	prefixes []string
}

func newNameSet(names ...string) nameSet {
	s := nameSet{exact: map[string]bool{}}
	for _, n := range names {
		if p, ok := strings.CutSuffix(n, "*"); ok {
			s.prefixes = append(s.prefixes, p)
		} else {
			s.exact[n] = true
		}
	}
	return s
}

func (s nameSet) has(name string) bool {
	if s.exact[name] {
		return true
	}
	for _, p := range s.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// policyFor is how a kind is keyed: its row of the crash-kinds table
// (family, message rule, frame rule and count). A kind not in the table is
// keyed like an unknown crash under its own name.
func policyFor(kind symbolize.CrashKind) *crashkind.Info {
	if info := crashkind.Lookup(kind); info != nil {
		return info
	}
	p := *crashkind.Of(crashkind.Unknown)
	if kind != "" {
		p.Kind = kind
	}
	return &p
}

// maxCycle bounds the recursion cycle length the key looks for.
const maxCycle = 8
