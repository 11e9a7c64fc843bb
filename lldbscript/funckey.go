package lldbscript

import (
	"regexp"
	"strings"
)

// FunctionKey reduces a function name to the form used to match frames
// between a symbolized trace, the binary's DWARF and lldb's backtrace, which
// spell the same function differently: legacy symbols keep a `::h<hash>`
// and `$LT$`-style escapes in lldb, v0 symbols carry generic arguments and
// `<Type>::method` qualification, closures are `{{closure}}` or
// `{closure#0}`. The key drops hashes and generic arguments, unescapes, and
// turns every closure into `{closure}`:
//
//	ide::CloseableMutex$LT$T$GT$::with::hbc5cc9ed785fd0c5  -> ide::CloseableMutex::with
//	<ide::CloseableMutex<ide::IdeDevice>>::with::<F, R>    -> ide::CloseableMutex::with
//	fuzz_ide::_::__libfuzzer_sys_run::{closure#0}          -> fuzz_ide::_::__libfuzzer_sys_run::{closure}
//
// The same function is implemented in templates/triage_lldb.py (frame
// selection inside lldb); TestFunctionKeyMatchesPython keeps them equal.
func FunctionKey(name string) string {
	s := strings.TrimSpace(name)
	s = rustHashRE.ReplaceAllString(s, "")
	// rustc-demangle drops the `_` that legacy mangling puts before an
	// escaped segment (`_$u7b$$u7b$closure...`); lldb keeps it.
	s = strings.ReplaceAll(s, "::_$", "::$")
	s = unescapeLegacy(s)
	s = closureRE.ReplaceAllString(s, "{closure}")
	if strings.HasPrefix(s, "_<") { // legacy `_$LT$T as Trait$GT$::f`
		s = s[1:]
	}
	if strings.HasPrefix(s, "<") {
		if end := matchingAngle(s, 0); end > 0 {
			inner := s[1:end]
			rest := s[end+1:]
			if self, trait, ok := strings.Cut(inner, " as "); ok {
				s = "<" + stripGenerics(self) + " as " + stripGenerics(trait) + ">" + stripGenerics(rest)
			} else {
				s = stripGenerics(inner) + stripGenerics(rest)
			}
		}
	} else {
		s = stripGenerics(s)
	}
	s = strings.ReplaceAll(s, "::::", "::")
	s = strings.TrimSuffix(s, "::")
	return s
}

var closureRE = regexp.MustCompile(`\{\{closure\}\}|\{closure#\d+\}`)

// legacyEscapes are the escapes of the legacy Rust mangling that survive
// lldb's demangler.
var legacyEscapes = strings.NewReplacer(
	"$LT$", "<", "$GT$", ">", "$u7b$", "{", "$u7d$", "}", "$C$", ",",
	"$RF$", "&", "$BP$", "*", "$SP$", "@", "$LP$", "(", "$RP$", ")",
	"$u20$", " ", "$u27$", "'", "$u5b$", "[", "$u5d$", "]", "$u7e$", "~",
	"..", "::",
)

func unescapeLegacy(s string) string {
	if !strings.Contains(s, "$") && !strings.Contains(s, "..") {
		return s
	}
	return legacyEscapes.Replace(s)
}

// matchingAngle returns the index of the '>' closing the '<' at i, or -1.
func matchingAngle(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '<':
			depth++
		case '>':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}
