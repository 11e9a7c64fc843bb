package rustdemangle

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// V0 demangles a Rust v0 symbol (_R...) the way rustc-demangle's
// alternate form and llvm-cxxfilt print it, without crate disambiguators.
//
// github.com/ianlancetaylor/demangle (used for legacy Rust and C++) reads
// a v0 <decimal-number> greedily, so a zero-length identifier (every
// closure: "NC...0") followed by a digit or by the unit type 'u' fails to
// demangle ("...default_hook011FIRST_PANIC") or, worse, silently loses a
// generic argument ("with_current_name::<{closure#0}, ()>" printed
// without ", ()"). Closures followed by () are common in real backtraces,
// so v0 gets this parser of the grammar in RFC 2603.
func V0(sym string) (string, error) {
	s, ok := strings.CutPrefix(sym, "_R")
	if !ok {
		return "", errV0
	}
	// Vendor-specific suffixes (.llvm.123, .cold) are not part of the name.
	if i := strings.IndexAny(s, ".$"); i >= 0 {
		s = s[:i]
	}
	p := &v0Parser{s: s}
	if p.pos < len(s) && isDigitByte(s[p.pos]) {
		p.decimal() // encoding version
	}
	p.path(true)
	if p.err == nil && p.pos < len(s) && isUpperByte(s[p.pos]) {
		// The instantiating crate: parsed, not printed.
		p.skipping(func() { p.path(false) })
	}
	if p.err == nil && p.pos != len(s) {
		p.fail()
	}
	if p.err != nil {
		return "", p.err
	}
	return p.out.String(), nil
}

var errV0 = errors.New("invalid v0 symbol")

// Limits against hostile input: backrefs can make output grow
// exponentially and nest arbitrarily.
const (
	v0MaxDepth  = 256
	v0MaxOutput = 1 << 16
)

type v0Parser struct {
	s     string
	pos   int
	out   strings.Builder
	skip  int // > 0 while parsing something that is not printed
	depth int
	// boundLifetimes is how many lifetimes enclosing for<...> binders bind.
	boundLifetimes int
	err            error
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }
func isUpperByte(c byte) bool { return c >= 'A' && c <= 'Z' }

func (p *v0Parser) fail() {
	if p.err == nil {
		p.err = errV0
	}
}

func (p *v0Parser) print(s string) {
	if p.skip > 0 || p.err != nil {
		return
	}
	if p.out.Len()+len(s) > v0MaxOutput {
		p.fail()
		return
	}
	p.out.WriteString(s)
}

func (p *v0Parser) skipping(f func()) {
	p.skip++
	f()
	p.skip--
}

func (p *v0Parser) peek() byte {
	if p.err != nil || p.pos >= len(p.s) {
		return 0
	}
	return p.s[p.pos]
}

func (p *v0Parser) next() byte {
	c := p.peek()
	if c == 0 {
		p.fail()
		return 0
	}
	p.pos++
	return c
}

func (p *v0Parser) eat(c byte) bool {
	if p.peek() == c && c != 0 {
		p.pos++
		return true
	}
	return false
}

func (p *v0Parser) enter() bool {
	p.depth++
	if p.depth > v0MaxDepth {
		p.fail()
	}
	return p.err == nil
}

func (p *v0Parser) leave() { p.depth-- }

// base62 reads <base-62-number> = {0-9a-zA-Z} "_" ("_" alone is 0, else
// the digits' value plus one).
func (p *v0Parser) base62() uint64 {
	if p.eat('_') {
		return 0
	}
	var v uint64
	for {
		c := p.next()
		if p.err != nil {
			return 0
		}
		var d uint64
		switch {
		case c == '_':
			if v+1 == 0 {
				p.fail()
			}
			return v + 1
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'z':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'Z':
			d = uint64(c-'A') + 36
		default:
			p.fail()
			return 0
		}
		if v > (1<<64-1-d)/62 {
			p.fail()
			return 0
		}
		v = v*62 + d
	}
}

// optBase62 reads [tag <base-62-number>]: 0 when absent, value+1 else.
func (p *v0Parser) optBase62(tag byte) uint64 {
	if !p.eat(tag) {
		return 0
	}
	v := p.base62()
	if v+1 == 0 {
		p.fail()
	}
	return v + 1
}

// decimal reads <decimal-number> = "0" | <nonzero-digit> {<digit>}.
func (p *v0Parser) decimal() int {
	c := p.peek()
	if !isDigitByte(c) {
		p.fail()
		return 0
	}
	if c == '0' {
		p.pos++
		return 0
	}
	v := 0
	for isDigitByte(p.peek()) {
		v = v*10 + int(p.s[p.pos]-'0')
		if v > len(p.s) {
			p.fail()
			return 0
		}
		p.pos++
	}
	return v
}

// ident reads <undisambiguated-identifier> = ["u"] <decimal-number> ["_"] <bytes>.
func (p *v0Parser) ident() string {
	puny := p.eat('u')
	n := p.decimal()
	p.eat('_')
	if p.err != nil || p.pos+n > len(p.s) {
		p.fail()
		return ""
	}
	id := p.s[p.pos : p.pos+n]
	p.pos += n
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			p.fail()
			return ""
		}
	}
	if puny {
		d, ok := decodeRustPunycode(id)
		if !ok {
			p.fail()
			return ""
		}
		return d
	}
	return id
}

// backref follows "B" <base-62-number> (already at the number) and runs
// f at the earlier position it names.
func (p *v0Parser) backref(f func()) {
	start := p.pos - 1 // the 'B'
	target := p.base62()
	if p.err != nil || target >= uint64(start) {
		p.fail()
		return
	}
	if !p.enter() {
		return
	}
	saved := p.pos
	p.pos = int(target)
	f()
	p.pos = saved
	p.leave()
}

func (p *v0Parser) path(inValue bool) {
	if !p.enter() {
		return
	}
	defer p.leave()
	switch tag := p.next(); tag {
	case 'C':
		p.optBase62('s')
		p.print(p.ident())
	case 'N':
		ns := p.next()
		p.path(inValue)
		dis := p.optBase62('s')
		name := p.ident()
		switch {
		case ns >= 'A' && ns <= 'Z':
			p.print("::{")
			switch ns {
			case 'C':
				p.print("closure")
			case 'S':
				p.print("shim")
			default:
				p.print(string(rune(ns)))
			}
			if name != "" {
				p.print(":" + name)
			}
			p.print("#" + strconv.FormatUint(dis, 10) + "}")
		case ns >= 'a' && ns <= 'z':
			if name != "" {
				p.print("::" + name)
			}
		default:
			p.fail()
		}
	case 'M', 'X', 'Y':
		if tag != 'Y' {
			p.optBase62('s')
			p.skipping(func() { p.path(false) })
		}
		p.print("<")
		p.typ()
		if tag != 'M' {
			p.print(" as ")
			p.path(false)
		}
		p.print(">")
	case 'I':
		p.path(inValue)
		if inValue {
			p.print("::")
		}
		p.print("<")
		p.genericArgs()
		p.print(">")
	case 'B':
		p.backref(func() { p.path(inValue) })
	default:
		p.fail()
	}
}

// genericArgs prints {<generic-arg>} "E", comma separated.
func (p *v0Parser) genericArgs() {
	for i := 0; p.err == nil; i++ {
		if p.eat('E') {
			return
		}
		if i > 0 {
			p.print(", ")
		}
		switch {
		case p.eat('L'):
			p.lifetime(p.base62())
		case p.eat('K'):
			p.constant(false)
		default:
			p.typ()
		}
	}
}

func (p *v0Parser) lifetime(lt uint64) {
	if lt == 0 {
		p.print("'_")
		return
	}
	if lt > uint64(p.boundLifetimes) {
		p.fail()
		return
	}
	depth := uint64(p.boundLifetimes) - lt
	if depth < 26 {
		p.print("'" + string(rune('a'+depth)))
	} else {
		p.print("'_" + strconv.FormatUint(depth, 10))
	}
}

// binder reads [<binder>] and prints for<'a, ...>, running f inside it.
func (p *v0Parser) binder(f func()) {
	n := p.optBase62('G')
	if n > v0MaxDepth {
		p.fail()
		return
	}
	if n > 0 {
		p.print("for<")
		for i := uint64(0); i < n; i++ {
			if i > 0 {
				p.print(", ")
			}
			p.boundLifetimes++
			p.lifetime(1)
		}
		p.print("> ")
	}
	f()
	p.boundLifetimes -= int(n)
}

var v0BasicTypes = map[byte]string{
	'a': "i8", 'b': "bool", 'c': "char", 'd': "f64", 'e': "str", 'f': "f32",
	'h': "u8", 'i': "isize", 'j': "usize", 'l': "i32", 'm': "u32", 'n': "i128",
	'o': "u128", 's': "i16", 't': "u16", 'u': "()", 'v': "...", 'x': "i64",
	'y': "u64", 'z': "!", 'p': "_",
}

func (p *v0Parser) typ() {
	if !p.enter() {
		return
	}
	defer p.leave()
	c := p.peek()
	if b, ok := v0BasicTypes[c]; ok {
		p.pos++
		p.print(b)
		return
	}
	switch c {
	case 'R', 'Q':
		p.pos++
		p.print("&")
		if p.eat('L') {
			if lt := p.base62(); lt != 0 {
				p.lifetime(lt)
				p.print(" ")
			}
		}
		if c == 'Q' {
			p.print("mut ")
		}
		p.typ()
	case 'P':
		p.pos++
		p.print("*const ")
		p.typ()
	case 'O':
		p.pos++
		p.print("*mut ")
		p.typ()
	case 'A':
		p.pos++
		p.print("[")
		p.typ()
		p.print("; ")
		p.constant(true)
		p.print("]")
	case 'S':
		p.pos++
		p.print("[")
		p.typ()
		p.print("]")
	case 'T':
		p.pos++
		p.print("(")
		n := 0
		for p.err == nil && !p.eat('E') {
			if n > 0 {
				p.print(", ")
			}
			p.typ()
			n++
		}
		if n == 1 {
			p.print(",")
		}
		p.print(")")
	case 'F':
		p.pos++
		p.binder(p.fnSig)
	case 'D':
		p.pos++
		p.print("dyn ")
		p.binder(p.dynBounds)
		if p.eat('L') {
			if lt := p.base62(); lt != 0 {
				p.print(" + ")
				p.lifetime(lt)
			}
		} else {
			p.fail()
		}
	case 'B':
		p.pos++
		p.backref(p.typ)
	default:
		p.path(false)
	}
}

func (p *v0Parser) fnSig() {
	if p.eat('U') {
		p.print("unsafe ")
	}
	if p.eat('K') {
		p.print("extern \"")
		if p.eat('C') {
			p.print("C")
		} else {
			p.print(strings.ReplaceAll(p.ident(), "_", "-"))
		}
		p.print("\" ")
	}
	p.print("fn(")
	for i := 0; p.err == nil && !p.eat('E'); i++ {
		if i > 0 {
			p.print(", ")
		}
		p.typ()
	}
	p.print(")")
	if p.eat('u') {
		return // -> () is not printed
	}
	p.print(" -> ")
	p.typ()
}

func (p *v0Parser) dynBounds() {
	for i := 0; p.err == nil && !p.eat('E'); i++ {
		if i > 0 {
			p.print(" + ")
		}
		open := p.pathMaybeOpenGenerics()
		for p.err == nil && p.eat('p') {
			if !open {
				p.print("<")
				open = true
			} else {
				p.print(", ")
			}
			p.print(p.ident())
			p.print(" = ")
			p.typ()
		}
		if open {
			p.print(">")
		}
	}
}

// pathMaybeOpenGenerics prints a trait path, leaving its generic
// argument list open (no '>') when it has one, for associated type
// bindings to join it.
func (p *v0Parser) pathMaybeOpenGenerics() bool {
	switch {
	case p.eat('B'):
		open := false
		p.backref(func() { open = p.pathMaybeOpenGenerics() })
		return open
	case p.eat('I'):
		p.path(false)
		p.print("<")
		for i := 0; p.err == nil && !p.eat('E'); i++ {
			if i > 0 {
				p.print(", ")
			}
			switch {
			case p.eat('L'):
				p.lifetime(p.base62())
			case p.eat('K'):
				p.constant(false)
			default:
				p.typ()
			}
		}
		return true
	}
	p.path(false)
	return false
}

// hexNibbles reads {hex-digit} "_".
func (p *v0Parser) hexNibbles() string {
	start := p.pos
	for {
		c := p.next()
		if p.err != nil {
			return ""
		}
		if c == '_' {
			return p.s[start : p.pos-1]
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			p.fail()
			return ""
		}
	}
}

func (p *v0Parser) constUint() {
	hex := strings.TrimLeft(p.hexNibbles(), "0")
	if hex == "" {
		p.print("0")
		return
	}
	if len(hex) <= 16 {
		v, err := strconv.ParseUint(hex, 16, 64)
		if err == nil {
			p.print(strconv.FormatUint(v, 10))
			return
		}
	}
	p.print("0x" + hex)
}

func (p *v0Parser) constant(inValue bool) {
	if !p.enter() {
		return
	}
	defer p.leave()
	tag := p.next()
	braced := false
	openBrace := func() {
		if !inValue {
			braced = true
			p.print("{")
		}
	}
	switch tag {
	case 'p':
		p.print("_")
	case 'h', 't', 'm', 'y', 'o', 'j':
		p.constUint()
	case 'a', 's', 'l', 'x', 'n', 'i':
		if p.eat('n') {
			p.print("-")
		}
		p.constUint()
	case 'b':
		switch p.hexNibbles() {
		case "0":
			p.print("false")
		case "1":
			p.print("true")
		default:
			p.fail()
		}
	case 'c':
		v, err := strconv.ParseUint(p.hexNibbles(), 16, 32)
		if err != nil || !utf8.ValidRune(rune(v)) {
			p.fail()
			return
		}
		p.print(strconv.QuoteRune(rune(v)))
	case 'e':
		openBrace()
		p.print("*")
		p.constStr()
	case 'R', 'Q':
		if tag == 'R' && p.eat('e') {
			p.constStr()
			break
		}
		openBrace()
		p.print("&")
		if tag == 'Q' {
			p.print("mut ")
		}
		p.constant(true)
	case 'A', 'T':
		openBrace()
		open, closeCh := "[", "]"
		if tag == 'T' {
			open, closeCh = "(", ")"
		}
		p.print(open)
		n := 0
		for p.err == nil && !p.eat('E') {
			if n > 0 {
				p.print(", ")
			}
			p.constant(true)
			n++
		}
		if tag == 'T' && n == 1 {
			p.print(",")
		}
		p.print(closeCh)
	case 'V':
		openBrace()
		p.path(true)
		switch p.next() {
		case 'U':
		case 'T':
			p.print("(")
			for i := 0; p.err == nil && !p.eat('E'); i++ {
				if i > 0 {
					p.print(", ")
				}
				p.constant(true)
			}
			p.print(")")
		case 'S':
			p.print(" { ")
			for i := 0; p.err == nil && !p.eat('E'); i++ {
				if i > 0 {
					p.print(", ")
				}
				p.optBase62('s')
				p.print(p.ident() + ": ")
				p.constant(true)
			}
			p.print(" }")
		default:
			p.fail()
		}
	case 'B':
		p.backref(func() { p.constant(inValue) })
	default:
		p.fail()
	}
	if braced {
		p.print("}")
	}
}

// constStr prints a string constant (hex-encoded UTF-8) as a literal.
func (p *v0Parser) constStr() {
	hex := p.hexNibbles()
	if len(hex)%2 != 0 {
		p.fail()
		return
	}
	b := make([]byte, len(hex)/2)
	for i := range b {
		v, err := strconv.ParseUint(hex[2*i:2*i+2], 16, 8)
		if err != nil {
			p.fail()
			return
		}
		b[i] = byte(v)
	}
	if !utf8.Valid(b) {
		p.fail()
		return
	}
	p.print(strconv.Quote(string(b)))
}

// decodeRustPunycode decodes the punycode part of a v0 identifier
// (RFC 3492 with '_' as the delimiter, as Rust mangles it).
func decodeRustPunycode(s string) (string, bool) {
	const (
		base, tmin, tmax, skew, damp = 36, 1, 26, 38, 700
		initialBias, initialN        = 72, 128
	)
	var out []rune
	rest := s
	if i := strings.LastIndexByte(s, '_'); i >= 0 {
		for _, c := range s[:i] {
			if c >= 0x80 {
				return "", false
			}
			out = append(out, c)
		}
		rest = s[i+1:]
	}
	n, bias, i := initialN, initialBias, 0
	for len(rest) > 0 {
		oldi, w := i, 1
		for k := base; ; k += base {
			if len(rest) == 0 {
				return "", false
			}
			c := rest[0]
			rest = rest[1:]
			var d int
			switch {
			case c >= 'a' && c <= 'z':
				d = int(c - 'a')
			case c >= '0' && c <= '9':
				d = int(c-'0') + 26
			default:
				return "", false
			}
			if d > (1<<31-1-i)/w {
				return "", false
			}
			i += d * w
			t := k - bias
			if t < tmin {
				t = tmin
			} else if t > tmax {
				t = tmax
			}
			if d < t {
				break
			}
			if w > (1<<31-1)/(base-t) {
				return "", false
			}
			w *= base - t
		}
		length := len(out) + 1
		delta := i - oldi
		if oldi == 0 {
			delta /= damp
		} else {
			delta /= 2
		}
		delta += delta / length
		k := 0
		for delta > ((base-tmin)*tmax)/2 {
			delta /= base - tmin
			k += base
		}
		bias = k + (base-tmin+1)*delta/(delta+skew)
		n += i / length
		i %= length
		if n > utf8.MaxRune || len(out) > 1<<12 {
			return "", false
		}
		out = append(out[:i], append([]rune{rune(n)}, out[i:]...)...)
		i++
	}
	return string(out), true
}
