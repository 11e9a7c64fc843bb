package symbolize

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/fuzztriage/triage/rustdemangle"
	"github.com/ianlancetaylor/demangle"
)

// Demangle returns the name of a symbol for people, whatever form the log
// printed it in:
//
//   - Rust legacy (_ZN..17h<hash>E) and C++ (_Z...) mangled names,
//     demangled with github.com/ianlancetaylor/demangle, and Rust v0
//     (_R...) names, demangled by package rustdemangle (see there for why);
//   - lldb's half-demangled legacy names (_$LT$alloc..boxed..Box$LT$T$GT$$GT$),
//     whose $LT$/$GT$/$C$/$u7b$ escapes and ".." separators are decoded;
//   - names a Rust backtrace already demangled, from which the legacy
//     ::h<16 hex> suffix and v0 crate disambiguators (std[e28293b1aa0f68bd])
//     are dropped, so a name reads the same however it was printed.
//
// Anything else (C names, DWARF short names) comes back trimmed but
// otherwise unchanged.
func Demangle(sym string) string {
	s := strings.TrimSpace(sym)
	if s == "" {
		return s
	}
	if isMangled(s) {
		if d, ok := demangleMangled(s); ok {
			s = d
		}
	}
	// Each cleanup can expose work for another ("a$u5b$1$u5d$" decodes
	// to a disambiguator); repeat until the name is clean.
	for i := 0; i < 4; i++ {
		c := cleanDemangled(s)
		if c == s {
			break
		}
		s = c
	}
	return s
}

// cleanDemangled is one pass of Demangle's textual cleanup.
func cleanDemangled(s string) string {
	if strings.IndexByte(s, '$') >= 0 {
		s = rustdemangle.DecodeEscapes(s)
	}
	s = stripLLVMSuffix(s)
	s = rustdemangle.StripHash(s)
	if strings.IndexByte(s, '[') >= 0 {
		s = stripDisambiguators(s)
	}
	return strings.TrimSpace(s)
}

// isMangled says s looks like an Itanium (C++, Rust legacy) or Rust v0
// mangled name.
func isMangled(s string) bool {
	switch {
	case strings.HasPrefix(s, "_Z"), strings.HasPrefix(s, "__Z"):
		return len(s) > 3
	case strings.HasPrefix(s, "_R") && len(s) > 3:
		c := s[2]
		return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	return false
}

func demangleMangled(s string) (string, bool) {
	if strings.HasPrefix(s, "_R") {
		if d, err := rustdemangle.V0(s); err == nil {
			return d, true
		}
	}
	if d, ok := rustdemangle.Legacy(s); ok {
		return d, true
	}
	if d, err := demangle.ToString(s, demangle.LLVMStyle); err == nil {
		return d, true
	}
	// Clone suffixes (.cold, .isra.0, .llvm.123) the demangler rejects on
	// some names: demangle the name without them.
	if dot := strings.IndexByte(s, '.'); dot > 0 {
		if d, err := demangle.ToString(s[:dot], demangle.LLVMStyle); err == nil {
			return d, true
		}
	}
	if strings.HasPrefix(s, "__Z") {
		return demangleMangled(s[1:])
	}
	return "", false
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// stripDisambiguators drops v0 crate disambiguators: "std[e28293b1aa0f68bd]"
// becomes "std". A bracket counts only right after an identifier and when
// it holds nothing but lowercase hex digits, so slices ([u8]) and arrays
// ([T; 4]) stay.
func stripDisambiguators(s string) string {
	var b strings.Builder
	changed := false
	last := 0 // s[last:] is not yet copied
	// prev is the byte before s[i] in the output, which differs from
	// s[i-1] right after a dropped disambiguator ("a[1][2]" drops both).
	var prev byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '[' || i == 0 || !isIdentByte(prev) {
			prev = c
			continue
		}
		j := i + 1
		for j < len(s) && isHexLower(s[j]) {
			j++
		}
		if j == i+1 || j-i-1 > 16 || j >= len(s) || s[j] != ']' {
			prev = c
			continue
		}
		if !changed {
			b.Grow(len(s))
			changed = true
		}
		b.WriteString(s[last:i])
		last = j + 1
		i = j
	}
	if !changed {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Normalize turns any printed or demangled function name into the form
// bucket keys use, stable across builds, mangling schemes and printers:
//
//   - demangled first (see Demangle): no ::h<hash>, no [disambiguator];
//   - generic arguments dropped (Option<T>::unwrap, do_call::<F, R> and the
//     DWARF short name unwrap<&Pack> become Option::unwrap, do_call,
//     unwrap), since legacy names, v0 names and DWARF names print
//     different amounts of them;
//   - closures and other numbered scopes lose their numbers and legacy
//     doubled braces: {{closure}}, {closure#0} and {closure_env#0} all
//     become {closure}; {{vtable.shim}} and {shim:vtable#0} become
//     {shim:vtable};
//   - legacy impl paths become v0's form: core::slice::index::<impl
//     Index<I> for [T]>::index becomes <[T] as Index>::index, and an
//     inherent <Type>::method becomes Type::method;
//   - C++ parameter lists and clone suffixes dropped
//     (fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned
//     long) becomes fuzzer::Fuzzer::ExecuteCallback), and sanitizer
//     interceptor aliases named as the function they intercept
//     (__interceptor_malloc becomes malloc).
//
// Normalize is idempotent and never fails; text it cannot make sense of
// passes through.
func Normalize(name string) string {
	return NormalizeDemangled(Demangle(name))
}

// NormalizeDemangled is Normalize for a name Demangle already produced.
func NormalizeDemangled(d string) string {
	n := normalizeOnce(d)
	// Removing brackets can change how what remains reads (a '<' that
	// now follows "::", a second parameter list); repeat until nothing
	// changes so that Normalize is idempotent. Real names settle in one
	// more pass.
	for i := 0; i < 4 && n != d; i++ {
		d, n = n, normalizeOnce(n)
	}
	return n
}

func normalizeOnce(d string) string {
	d = Demangle(d)
	d = stripCloneSuffix(d)
	d = stripCxxParams(d)
	d = stripInterceptorPrefix(d)
	return strings.TrimSpace(normPath(d, 0))
}

// stripInterceptorPrefix: sanitizer runtimes define malloc, memcpy, ...
// under aliases (__interceptor_malloc, ___interceptor_malloc), and which
// alias a symbolizer prints depends on its version.
func stripInterceptorPrefix(s string) string {
	for _, p := range []string{"___interceptor_", "__interceptor_"} {
		if rest, ok := strings.CutPrefix(s, p); ok && rest != "" {
			return rest
		}
	}
	return s
}

// stripCloneSuffix drops " [clone .cold]" (the C++ demangler's rendering)
// and raw ".llvm.123" style suffixes on names that were not demangled.
func stripCloneSuffix(s string) string {
	for strings.HasSuffix(s, "]") {
		i := strings.LastIndex(s, " [clone ")
		if i < 0 {
			break
		}
		s = s[:i]
	}
	if strings.IndexByte(s, '.') >= 0 {
		if i := strings.Index(s, ".llvm."); i > 0 {
			s = s[:i]
		}
	}
	return stripLLVMSuffix(s)
}

// stripLLVMSuffix drops the " (.0)" llvm-cxxfilt and llvm-symbolizer
// print for a symbol suffix they do not understand.
func stripLLVMSuffix(s string) string {
	for {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
		if !strings.HasSuffix(s, ")") {
			break
		}
		i := strings.LastIndex(s, " (.")
		if i <= 0 || strings.ContainsAny(s[i+3:len(s)-1], " ()") {
			break
		}
		s = s[:i]
	}
	return s
}

// stripCxxParams drops a C++ parameter list (and a trailing const) at the
// end of a name. Rust names never end in a top-level ')'.
func stripCxxParams(s string) string {
	for {
		t := strings.TrimSuffix(s, " const")
		if !strings.HasSuffix(t, ")") {
			return s
		}
		open := matchingOpenParen(t)
		if open <= 0 {
			return s
		}
		s = t[:open]
	}
}

// matchingOpenParen returns the index of the '(' matching the ')' that
// ends s, or -1.
func matchingOpenParen(s string) int {
	depth := 0
	for i := len(s) - 1; i >= 0; i-- {
		switch s[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// maxNormDepth bounds recursion on hostile input (deeply nested brackets).
const maxNormDepth = 64

// normPath rewrites one (possibly qualified) path: see Normalize.
func normPath(s string, depth int) string {
	if depth > maxNormDepth {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '<':
			j := matchAngle(s, i)
			if j < 0 || endsWithOperator(b.String()) {
				b.WriteByte(c)
				i++
				continue
			}
			inner := s[i+1 : j]
			out := b.String()
			afterSep := strings.HasSuffix(out, "::")
			switch {
			case strings.HasPrefix(inner, "impl ") && (afterSep || out == ""):
				// Legacy impl segment: v0 prints no module path before
				// it, so neither do we.
				b.Reset()
				b.WriteString(implAsQualified(inner[len("impl "):], depth))
			case afterSep || (i > 0 && (isIdentByte(s[i-1]) || s[i-1] == '}' || s[i-1] == '>')):
				// Generic arguments (or a turbofish): dropped.
				if afterSep {
					trimmed := strings.TrimSuffix(out, "::")
					b.Reset()
					b.WriteString(trimmed)
				}
			default:
				b.WriteString(qualified(inner, j+1 < len(s) && strings.HasPrefix(s[j+1:], "::"), depth))
			}
			i = j + 1
		case '{':
			j := matchBrace(s, i)
			if j < 0 {
				b.WriteByte(c)
				i++
				continue
			}
			b.WriteString(normScope(s[i+1 : j]))
			i = j + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func endsWithOperator(s string) bool {
	return strings.HasSuffix(s, "operator") || strings.HasSuffix(s, "operator<") || strings.HasSuffix(s, "operator>")
}

// qualified normalizes the inside of a qualified-path bracket: "<X as Y>"
// keeps its shape, an inherent "<X>" followed by "::" loses its brackets.
func qualified(inner string, followedByPath bool, depth int) string {
	if k := TopLevelIndex(inner, " as "); k >= 0 {
		return "<" + normPath(inner[:k], depth+1) + " as " + normPath(inner[k+len(" as "):], depth+1) + ">"
	}
	if followedByPath {
		// Unwrap as long as what is left is itself one inherent "<X>".
		r := normPath(inner, depth+1)
		for len(r) >= 2 && r[0] == '<' && matchAngle(r, 0) == len(r)-1 && TopLevelIndex(r[1:len(r)-1], " as ") < 0 {
			r = normPath(r[1:len(r)-1], depth+1)
		}
		return r
	}
	return "<" + normPath(inner, depth+1) + ">"
}

// implAsQualified turns a legacy "impl Trait for Type" into "<Type as
// Trait>" and "impl Type" into "Type".
func implAsQualified(rest string, depth int) string {
	if k := TopLevelIndex(rest, " for "); k >= 0 {
		return "<" + normPath(rest[k+len(" for "):], depth+1) + " as " + normPath(rest[:k], depth+1) + ">"
	}
	return normPath(rest, depth+1)
}

// normScope normalizes the inside of a {...} path segment.
func normScope(inner string) string {
	// Legacy doubles the braces: {{closure}}.
	for len(inner) >= 2 && inner[0] == '{' && matchBrace(inner, 0) == len(inner)-1 {
		inner = inner[1 : len(inner)-1]
	}
	switch inner {
	case "vtable.shim":
		inner = "shim:vtable"
	case "reify.shim":
		inner = "shim:reify"
	}
	if k := strings.LastIndexByte(inner, '#'); k >= 0 && k+1 < len(inner) && allDigits(inner[k+1:]) {
		inner = inner[:k]
	}
	if inner == "closure_env" {
		inner = "closure"
	}
	return "{" + inner + "}"
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// matchAngle returns the index of the '>' closing the '<' at s[i], or -1.
// The '>' of "->" closes nothing.
func matchAngle(s string, i int) int {
	depth := 0
	for k := i; k < len(s); k++ {
		switch s[k] {
		case '<':
			depth++
		case '>':
			if k > 0 && s[k-1] == '-' {
				continue
			}
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

func matchBrace(s string, i int) int {
	depth := 0
	for k := i; k < len(s); k++ {
		switch s[k] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

// TopLevelIndex finds sep in s outside any <>, (), [] or {}.
func TopLevelIndex(s, sep string) int {
	depth := 0
	for k := 0; k+len(sep) <= len(s); k++ {
		switch s[k] {
		case '<', '(', '[', '{':
			depth++
			continue
		case '>':
			if k > 0 && s[k-1] == '-' {
				continue
			}
			depth--
			continue
		case ')', ']', '}':
			depth--
			continue
		}
		if depth == 0 && s[k] == sep[0] && s[k:k+len(sep)] == sep {
			return k
		}
	}
	return -1
}

// SplitPath splits a path at its top-level "::" separators.
func SplitPath(s string) []string {
	var parts []string
	depth := 0
	start := 0
	for k := 0; k < len(s); k++ {
		switch s[k] {
		case '<', '(', '[', '{':
			depth++
		case '>':
			if k > 0 && s[k-1] == '-' {
				continue
			}
			depth--
		case ')', ']', '}':
			depth--
		case ':':
			if depth == 0 && k+1 < len(s) && s[k+1] == ':' {
				parts = append(parts, s[start:k])
				start = k + 2
				k++
			}
		}
	}
	return append(parts, s[start:])
}

var (
	shortV0Disambig     = regexp.MustCompile(`\[[0-9a-f]{1,16}\]`)
	shortClosureNumbers = regexp.MustCompile(`\{\{([a-z_]+)\}\}|\{([a-z_]+)(?::[^{}#]*)?#[0-9]+\}`)
)

// ShortName reduces a function name to what every build agrees on: the last
// path segment, without generic arguments, hash, crate disambiguator,
// parameter list or closure number. It is the one short form: bucket keys
// name functions by it, and the symbolizer matches a release build's bare
// DWARF name to a qualified one by it. Release builds name functions by
// their short DWARF names (`write_register`, `unwrap<&chipset::battery::Pack>`,
// `{closure#0}`), dev builds and ASan by full paths
// (`chipset::cmos_rtc::CmosRtc::write_register`,
// `fuzz_ide::_::__libfuzzer_sys_run::{{closure}}`).
func ShortName(name string) string {
	s := strings.TrimSpace(name)
	if strings.HasPrefix(s, "_ZN") || strings.HasPrefix(s, "_R") {
		s = Normalize(s) // still mangled
	}
	s = rustdemangle.StripHash(s)
	// Most names are plain paths: no regexp needed.
	if !strings.ContainsAny(s, "<>()[]{} ") {
		if i := strings.LastIndex(s, "::"); i >= 0 && i+2 < len(s) {
			return s[i+2:]
		} else if i < 0 {
			return s
		}
	}
	s = shortV0Disambig.ReplaceAllString(s, "")
	s = shortClosureNumbers.ReplaceAllStringFunc(s, func(m string) string {
		sub := shortClosureNumbers.FindStringSubmatch(m)
		if sub[1] != "" {
			return "{" + sub[1] + "}"
		}
		return "{" + sub[2] + "}"
	})
	s = stripGenericGroups(s)
	segs := strings.Split(s, "::")
	for i := len(segs) - 1; i >= 0; i-- {
		if seg := strings.TrimSpace(segs[i]); seg != "" {
			return seg
		}
	}
	return s
}

// stripGenericGroups removes <...> generic arguments and (...) parameter lists
// (C++ frames), nested, leaving `->` arrows of fn types alone.
func stripGenericGroups(s string) string {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '<' || c == '(':
			depth++
		case (c == '>' && (i == 0 || s[i-1] != '-')) || c == ')':
			if depth > 0 {
				depth--
			}
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// IsQualified says a normalized name carries a path (a::b or <T as U>::m),
// not just a DWARF short name.
func IsQualified(name string) bool {
	parts := SplitPath(Normalize(name))
	return len(parts) > 1
}

func isHexLower(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
