package symbolize

import (
	"strings"
	"unicode"

	"github.com/ianlancetaylor/demangle"
)

// Demangle returns the name of a symbol for people, whatever form the log
// printed it in:
//
//   - Rust legacy (_ZN..17h<hash>E) and C++ (_Z...) mangled names,
//     demangled with github.com/ianlancetaylor/demangle, and Rust v0
//     (_R...) names, demangled by demangleV0 (see there for why);
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
		s = decodeLegacyEscapes(s)
	}
	s = stripLLVMSuffix(s)
	s = StripLegacyHash(s)
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
		if d, err := demangleV0(s); err == nil {
			return d, true
		}
	}
	if d, ok := demangleLegacyRust(s); ok {
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

// demangleLegacyRust demangles a legacy Rust symbol:
// "_ZN" {<length><identifier>} "17h" <16 hex digits> "E" [suffix].
// github.com/ianlancetaylor/demangle takes an underscore after a length
// for a separator (it is one only in v0), which turns the identifier "_"
// of every `const _: () = { .. }` block (fuzz_target! expands to one)
// into "" and "__RUST_STD_INTERNAL_VAL" into "_RUST_STD_INTERNAL_VAL".
func demangleLegacyRust(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "_ZN")
	if !ok {
		return "", false
	}
	if i := strings.Index(rest, "E."); i >= 0 {
		rest = rest[:i+1]
	}
	rest, ok = strings.CutSuffix(rest, "E")
	if !ok {
		return "", false
	}
	var idents []string
	for rest != "" {
		n := 0
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			n = n*10 + int(rest[i]-'0')
			i++
			if n > len(rest) {
				return "", false
			}
		}
		if i == 0 || n == 0 || i+n > len(rest) {
			return "", false
		}
		idents = append(idents, rest[i:i+n])
		rest = rest[i+n:]
	}
	if len(idents) < 2 {
		return "", false
	}
	hash := idents[len(idents)-1]
	if len(hash) != 17 || hash[0] != 'h' {
		return "", false
	}
	for i := 1; i < len(hash); i++ {
		if !isHexLower(hash[i]) {
			return "", false
		}
	}
	var b strings.Builder
	for k, id := range idents[:len(idents)-1] {
		if k > 0 {
			b.WriteString("::")
		}
		if strings.HasPrefix(id, "_$") {
			id = id[1:]
		}
		if strings.IndexByte(id, '$') >= 0 || strings.Contains(id, "..") {
			id = decodeLegacyEscapes(id)
		}
		b.WriteString(id)
	}
	return b.String(), true
}

// legacyEscapes are the $XX$ escapes of Rust's legacy mangling.
var legacyEscapes = map[string]byte{
	"SP": '@', "BP": '*', "RF": '&', "LT": '<', "GT": '>', "LP": '(', "RP": ')', "C": ',',
}

// decodeLegacyEscapes decodes the escapes lldb leaves in legacy Rust
// names. It only touches names that carry at least one valid escape, so
// text that merely contains '$' is left alone.
func decodeLegacyEscapes(s string) string {
	if !hasLegacyEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	segStart := true
	for i := 0; i < len(s); {
		c := s[i]
		if segStart && c == '_' && i+1 < len(s) && s[i+1] == '$' {
			// A leading underscore only protects an escape at the start
			// of an identifier.
			i++
			continue
		}
		segStart = false
		switch {
		case c == '$':
			if n, r, ok := legacyEscapeAt(s, i); ok {
				b.WriteByte(r)
				i += n
				continue
			}
			b.WriteByte(c)
			i++
		case c == '.' && i+1 < len(s) && s[i+1] == '.':
			b.WriteString("::")
			i += 2
			segStart = true
		case c == ':' && i+1 < len(s) && s[i+1] == ':':
			b.WriteString("::")
			i += 2
			segStart = true
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

func hasLegacyEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '$' {
			if _, _, ok := legacyEscapeAt(s, i); ok {
				return true
			}
		}
	}
	return false
}

// legacyEscapeAt decodes the escape starting at s[i] == '$': it returns
// the escape's length and the byte it stands for.
func legacyEscapeAt(s string, i int) (int, byte, bool) {
	end := strings.IndexByte(s[i+1:], '$')
	if end < 0 || end > 3 {
		return 0, 0, false
	}
	code := s[i+1 : i+1+end]
	if r, ok := legacyEscapes[code]; ok {
		return end + 2, r, true
	}
	if len(code) == 3 && code[0] == 'u' {
		hi, ok1 := hexVal(code[1])
		lo, ok2 := hexVal(code[2])
		v := hi<<4 | lo
		if ok1 && ok2 && v >= 0x20 && v < 0x7f {
			return end + 2, v, true
		}
	}
	return 0, 0, false
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func isHexLower(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

// StripLegacyHash drops a trailing ::h<16 hex digits> (legacy mangling's
// hash, which the demangler already drops but a backtrace prints).
func StripLegacyHash(s string) string {
	const n = len("::h") + 16
	if len(s) < n+1 {
		return s
	}
	tail := s[len(s)-n:]
	if tail[0] != ':' || tail[1] != ':' || tail[2] != 'h' {
		return s
	}
	for i := 3; i < n; i++ {
		if !isHexLower(tail[i]) {
			return s
		}
	}
	return s[:len(s)-n]
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
	return normalizeDemangled(Demangle(name))
}

// normalizeDemangled is Normalize for a name Demangle already produced.
func normalizeDemangled(d string) string {
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
	if k := topLevelIndex(inner, " as "); k >= 0 {
		return "<" + normPath(inner[:k], depth+1) + " as " + normPath(inner[k+len(" as "):], depth+1) + ">"
	}
	if followedByPath {
		// Unwrap as long as what is left is itself one inherent "<X>".
		r := normPath(inner, depth+1)
		for len(r) >= 2 && r[0] == '<' && matchAngle(r, 0) == len(r)-1 && topLevelIndex(r[1:len(r)-1], " as ") < 0 {
			r = normPath(r[1:len(r)-1], depth+1)
		}
		return r
	}
	return "<" + normPath(inner, depth+1) + ">"
}

// implAsQualified turns a legacy "impl Trait for Type" into "<Type as
// Trait>" and "impl Type" into "Type".
func implAsQualified(rest string, depth int) string {
	if k := topLevelIndex(rest, " for "); k >= 0 {
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

// topLevelIndex finds sep in s outside any <>, (), [] or {}.
func topLevelIndex(s, sep string) int {
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

// splitPath splits a path at its top-level "::" separators.
func splitPath(s string) []string {
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

// ShortName is the last segment of the normalized name, the part a DWARF
// line-tables-only build or a release RUST_BACKTRACE=1 prints on its own:
// "chipset::cmos_rtc::CmosRtc::write_register" and "write_register" both
// give "write_register". A closure keeps its parent
// ("fuzz_ide::_::__libfuzzer_sys_run::{closure}" gives
// "__libfuzzer_sys_run::{closure}").
func ShortName(name string) string {
	parts := splitPath(Normalize(name))
	n := len(parts)
	last := parts[n-1]
	if strings.HasPrefix(last, "{") && n > 1 {
		return parts[n-2] + "::" + last
	}
	return last
}

// IsQualified says a normalized name carries a path (a::b or <T as U>::m),
// not just a DWARF short name.
func IsQualified(name string) bool {
	parts := splitPath(Normalize(name))
	return len(parts) > 1
}
