package rustdemangle

import "strings"

// Legacy demangles a legacy Rust symbol:
// "_ZN" {<length><identifier>} "17h" <16 hex digits> "E" [suffix].
// github.com/ianlancetaylor/demangle takes an underscore after a length
// for a separator (it is one only in v0), which turns the identifier "_"
// of every `const _: () = { .. }` block (fuzz_target! expands to one)
// into "" and "__RUST_STD_INTERNAL_VAL" into "_RUST_STD_INTERNAL_VAL".
func Legacy(s string) (string, bool) {
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
			id = DecodeEscapes(id)
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
func DecodeEscapes(s string) string {
	if !HasEscape(s) {
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

// HasEscape says s holds a legacy escape ($LT$, $u7b$, ...).
func HasEscape(s string) bool {
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
func StripHash(s string) string {
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
