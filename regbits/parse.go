package regbits

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Definitions are recognised by these forms (Rust source, comments and
// string literals blanked first so that neither can fake one):
//
//	bitflags! { pub struct NAME: uN { const FLAG = EXPR; ... } ... }
//	#[bitfield(uN)] pub struct NAME { pub field: bool, #[bits(2)] mode: u8, __: u8, ... }
//
// EXPR is an integer literal, or literals combined with <<, | and
// parentheses; a flag whose value is anything else (Self::A.bits() | ...)
// is a combination of named bits and is skipped.
var (
	bitflagsRE  = regexp.MustCompile(`\bbitflags\s*!\s*[{(]`)
	flagsTypeRE = regexp.MustCompile(`\bstruct\s+([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([A-Za-z0-9_:]+)\s*\{`)
	constRE     = regexp.MustCompile(`\bconst\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([^;]*);`)
	bitfieldRE  = regexp.MustCompile(`#\[\s*bitfield\s*\(\s*(u8|u16|u32|u64|u128)\b[^\]]*\]`)
	structRE    = regexp.MustCompile(`\bstruct\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{`)
	bitsAttrRE  = regexp.MustCompile(`#\[\s*bits\s*\(\s*([0-9]+)`)
	fieldRE     = regexp.MustCompile(`(?s)^(?:#\[[^\]]*\]\s*)*(?:pub(?:\s*\([^)]*\))?\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([A-Za-z0-9_:<>]+)\s*$`)
)

// Parse returns the register layouts one Rust source file defines; file
// names them in Layout.From.
func Parse(file, src string) []*Layout {
	code := blankCommentsAndStrings(src)
	var out []*Layout
	lineOf := func(off int) string { return fmt.Sprintf("%s:%d", file, strings.Count(src[:off], "\n")+1) }
	for _, m := range bitflagsRE.FindAllStringIndex(code, -1) {
		body, ok := balanced(code, m[1]-1)
		if !ok {
			continue
		}
		base := m[1] - 1
		for _, s := range flagsTypeRE.FindAllStringSubmatchIndex(body, -1) {
			width := intWidth(body[s[4]:s[5]])
			inner, ok := balanced(body, s[1]-1)
			if width == 0 || !ok {
				continue
			}
			l := &Layout{Type: body[s[2]:s[3]], Width: width, From: lineOf(base + s[0])}
			for _, c := range constRE.FindAllStringSubmatch(inner, -1) {
				v, ok := evalConst(c[2])
				if !ok || v == 0 {
					continue
				}
				l.Bits = append(l.Bits, Bit{Name: c[1], Mask: v})
			}
			out = append(out, l)
		}
	}
	for _, m := range bitfieldRE.FindAllStringSubmatchIndex(code, -1) {
		width := intWidth(code[m[2]:m[3]])
		s := structRE.FindStringSubmatchIndex(code[m[1]:])
		if s == nil || width == 0 || !onlyAttrsAndVis(code[m[1]:m[1]+s[0]]) {
			continue
		}
		name := code[m[1]+s[2] : m[1]+s[3]]
		inner, ok := balanced(code, m[1]+s[1]-1)
		if !ok {
			continue
		}
		l := &Layout{Type: name, Width: width, From: lineOf(m[0])}
		pos := 0
		for _, f := range splitTopLevel(inner) {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			fm := fieldRE.FindStringSubmatch(f)
			if fm == nil {
				l = nil // a field we cannot size: the positions after it are unknown
				break
			}
			n := 0
			if a := bitsAttrRE.FindStringSubmatch(f); a != nil {
				n, _ = strconv.Atoi(a[1])
			} else if fm[2] == "bool" {
				n = 1
			} else {
				n = intWidth(fm[2])
			}
			if n <= 0 || pos+n > width {
				l = nil
				break
			}
			if !strings.HasPrefix(fm[1], "_") {
				l.Bits = append(l.Bits, Bit{Name: fm[1], Mask: (1<<uint(n) - 1) << uint(pos)})
			}
			pos += n
		}
		if l != nil {
			out = append(out, l)
		}
	}
	return out
}

// onlyAttrsAndVis says whether what lies between #[bitfield] and `struct`
// is other attributes, doc comments (blanked) and visibility.
func onlyAttrsAndVis(s string) bool {
	s = attrRE.ReplaceAllString(s, "")
	s = visRE.ReplaceAllString(s, "")
	return strings.TrimSpace(s) == ""
}

var (
	attrRE = regexp.MustCompile(`#\[[^\]]*\]`)
	visRE  = regexp.MustCompile(`\bpub(\s*\([^)]*\))?`)
)

// intWidth is the width of an unsigned or signed integer type name, or 0.
func intWidth(t string) int {
	if i := strings.LastIndex(t, "::"); i >= 0 {
		t = t[i+2:]
	}
	switch t {
	case "u8", "i8":
		return 8
	case "u16", "i16":
		return 16
	case "u32", "i32":
		return 32
	case "u64", "i64":
		return 64
	}
	return 0
}

// balanced returns the text inside the bracket at open and its match.
func balanced(s string, open int) (string, bool) {
	if open < 0 || open >= len(s) {
		return "", false
	}
	pairs := map[byte]byte{'{': '}', '(': ')', '[': ']'}
	closeWant, ok := pairs[s[open]]
	if !ok {
		return "", false
	}
	var stack []byte
	stack = append(stack, closeWant)
	for i := open + 1; i < len(s); i++ {
		c := s[i]
		if cl, ok := pairs[c]; ok {
			stack = append(stack, cl)
			continue
		}
		if c == '}' || c == ')' || c == ']' {
			if c != stack[len(stack)-1] {
				return "", false
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return s[open+1 : i], true
			}
		}
	}
	return "", false
}

// splitTopLevel splits a struct body at commas outside brackets.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[', '{', '<':
			depth++
		case ')', ']', '}', '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// blankCommentsAndStrings replaces comments and the contents of string and
// char literals with spaces, keeping offsets (and so line numbers).
func blankCommentsAndStrings(src string) string {
	b := []byte(src)
	blank := func(i, j int) {
		for k := i; k < j && k < len(b); k++ {
			if b[k] != '\n' {
				b[k] = ' '
			}
		}
	}
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			j := i
			for j < len(b) && b[j] != '\n' {
				j++
			}
			blank(i, j)
			i = j
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			depth, j := 1, i+2
			for j < len(b) && depth > 0 {
				switch {
				case b[j] == '/' && j+1 < len(b) && b[j+1] == '*':
					depth++
					j += 2
				case b[j] == '*' && j+1 < len(b) && b[j+1] == '/':
					depth--
					j += 2
				default:
					j++
				}
			}
			blank(i, j)
			i = j - 1
		case b[i] == '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			blank(i+1, j)
			i = j
		}
	}
	return string(b)
}

// evalConst evaluates a flag's value: integer literals with <<, | and
// parentheses. Anything else is not a plain bit pattern.
func evalConst(expr string) (uint64, bool) {
	p := &constParser{s: strings.TrimSpace(expr)}
	v, ok := p.or()
	p.space()
	return v, ok && p.i == len(p.s)
}

type constParser struct {
	s string
	i int
}

func (p *constParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *constParser) or() (uint64, bool) {
	v, ok := p.shift()
	for ok {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '|' {
			p.i++
			w, ok2 := p.shift()
			if !ok2 {
				return 0, false
			}
			v |= w
			continue
		}
		break
	}
	return v, ok
}

func (p *constParser) shift() (uint64, bool) {
	v, ok := p.atom()
	for ok {
		p.space()
		if strings.HasPrefix(p.s[p.i:], "<<") {
			p.i += 2
			w, ok2 := p.atom()
			if !ok2 || w > 63 {
				return 0, false
			}
			v <<= w
			continue
		}
		break
	}
	return v, ok
}

func (p *constParser) atom() (uint64, bool) {
	p.space()
	if p.i >= len(p.s) {
		return 0, false
	}
	if p.s[p.i] == '(' {
		p.i++
		v, ok := p.or()
		p.space()
		if !ok || p.i >= len(p.s) || p.s[p.i] != ')' {
			return 0, false
		}
		p.i++
		return v, true
	}
	j := p.i
	for j < len(p.s) && (p.s[j] == '_' || p.s[j] >= '0' && p.s[j] <= '9' || p.s[j] >= 'a' && p.s[j] <= 'z' || p.s[j] >= 'A' && p.s[j] <= 'Z') {
		j++
	}
	lit := strings.ReplaceAll(p.s[p.i:j], "_", "")
	for _, suf := range []string{"u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize"} {
		if strings.HasSuffix(lit, suf) && len(lit) > len(suf) && !strings.HasPrefix(lit, "0x") {
			lit = strings.TrimSuffix(lit, suf)
			break
		}
		if strings.HasPrefix(lit, "0x") && strings.HasSuffix(lit, suf) && (suf[0] == 'u' || suf[0] == 'i') {
			lit = strings.TrimSuffix(lit, suf)
			break
		}
	}
	v, err := strconv.ParseUint(lit, 0, 64)
	if err != nil || lit == "" {
		return 0, false
	}
	p.i = j
	return v, true
}
