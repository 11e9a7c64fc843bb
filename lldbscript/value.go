package lldbscript

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ExprResult is one expression of a Spec with its value.
type ExprResult struct {
	Name  string `json:"name" yaml:"name"`
	Rust  string `json:"rust" yaml:"rust"`
	Frame string `json:"frame,omitempty" yaml:"frame,omitempty"`
	// LLDB is the `frame variable` path used.
	LLDB string `json:"lldb,omitempty" yaml:"lldb,omitempty"`
	Type string `json:"type,omitempty" yaml:"type,omitempty"`
	// Text is the value for people: the number, the string's text, the
	// active variant of an enum with its fields.
	Text string `json:"text,omitempty" yaml:"text,omitempty"`
	// Variant is the active variant when the value is an enum.
	Variant string `json:"variant,omitempty" yaml:"variant,omitempty"`
	Value   *Value `json:"value,omitempty" yaml:"value,omitempty"`
	// Error is why there is no (trustworthy) value: translation failed,
	// lldb refused the path, or the path goes through a variant that is
	// not the active one.
	Error string `json:"error,omitempty" yaml:"error,omitempty"`
}

// Evaluate matches a session's printed values to the plan's expressions
// (by the `# expr NAME:` labels and the commands) and decodes them.
func Evaluate(plan *Plan, s *Session) []ExprResult {
	var out []ExprResult
	used := make([]bool, len(s.Values))
	find := func(label, cmd string) *ValueResult {
		for i := range s.Values {
			if !used[i] && s.Values[i].Label == label && s.Values[i].Command == cmd {
				used[i] = true
				return &s.Values[i]
			}
		}
		return nil
	}
	for _, pe := range plan.Exprs {
		r := ExprResult{Name: pe.Name, Rust: pe.Rust, Frame: pe.Frame, Error: pe.Error}
		if len(pe.Commands) == 0 {
			out = append(out, r)
			continue
		}
		main := find(pe.Name, pe.Commands[0])
		byRole := map[string]*ValueResult{}
		for i, c := range pe.Commands[1:] {
			if i+1 < len(pe.Roles) {
				byRole[pe.Roles[i+1]] = find(pe.Name, c)
			}
		}
		r.LLDB = strings.TrimPrefix(pe.Commands[0], "frame variable ")
		if main == nil {
			if r.Error == "" {
				r.Error = "not evaluated (the session ended before it)"
			}
			out = append(out, r)
			continue
		}
		if main.Error != "" {
			r.Error = joinErr(r.Error, main.Error)
		}
		r.Value = main.Value
		if main.Value != nil {
			r.Type = main.Value.Type
			r.Text = main.Value.Value
		}
		if pe.Path != nil {
			r.Type = pe.Path.TypeName
			decodeInto(&r, pe.Path, main.Value, byRole)
			checkVariants(&r, pe.Path, byRole)
		}
		out = append(out, r)
	}
	return out
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// checkVariants reads the discriminant of every enum the path goes
// through and flags a path through a variant that is not the active one
// (lldb prints inactive variants too, as garbage).
func checkVariants(r *ExprResult, p *LLDBPath, byRole map[string]*ValueResult) {
	for i, a := range p.Assumes {
		vr := byRole[fmt.Sprintf("discr %d", i)]
		if vr == nil || vr.Value == nil || a.EnumType == nil {
			continue
		}
		n, err := DecodeUint(vr.Value.Value)
		if err != nil {
			continue
		}
		active := activeFromDiscr(a.EnumType, n)
		if active != nil && active.Name != a.Variant {
			r.Error = joinErr(r.Error, fmt.Sprintf("%s is %s, not %s: the value read through %s is garbage", a.Enum, active.Name, a.Variant, a.Variant))
		}
	}
}

func activeFromDiscr(t *Type, discr uint64) *Variant {
	var dataful *Variant
	for _, vr := range t.Variants {
		if !vr.HasDiscr {
			dataful = vr
		} else if discrEqual(vr.Discr, discr, t.Discr) {
			return vr
		}
	}
	return dataful
}

func decodeInto(r *ExprResult, p *LLDBPath, v *Value, byRole map[string]*ValueResult) {
	if v == nil {
		return
	}
	t := p.Type
	sl, sd := byRole["string-len"], byRole["string-data"]
	switch {
	case p.String != nil && sl != nil && sd != nil && sl.Value != nil && sd.Value != nil:
		n, err := DecodeUint(sl.Value.Value)
		if err != nil {
			r.Error = joinErr(r.Error, "string length: "+err.Error())
			return
		}
		data, err := DecodeCStringSummary(sd.Value.Value)
		if err != nil {
			r.Error = joinErr(r.Error, "string data: "+err.Error())
			return
		}
		if uint64(len(data)) < n {
			r.Error = joinErr(r.Error, fmt.Sprintf("string data shorter (%d bytes) than its length %d (a NUL inside?)", len(data), n))
			r.Text = strconv.Quote(string(data))
			return
		}
		r.Text = strconv.Quote(string(data[:n]))
	case t != nil && t.Kind == KindEnum:
		vr, err := ActiveVariant(t, v)
		if err != nil {
			r.Error = joinErr(r.Error, err.Error())
			return
		}
		r.Variant = vr.Name
		r.Text = vr.Name + compactPayload(v, vr)
	case t != nil && t.Kind == KindBase:
		r.Text = v.Value
		if n, err := DecodeUint(v.Value); err == nil && strings.HasPrefix(v.Value, "'") {
			r.Text = fmt.Sprintf("%d (%s)", n, v.Value)
		}
	default:
		r.Text = Compact(v, 3)
	}
}

// ActiveVariant decides which variant of enum t the printed value v holds:
// the one whose DW_AT_discr_value equals the discriminant lldb printed in
// any numbered `$variant$N.$discr$`; when none matches, the variant without
// a discriminant value (the dataful variant of a niche-optimized enum).
func ActiveVariant(t *Type, v *Value) (*Variant, error) {
	vs := v.Child("$variants$")
	if vs == nil {
		return nil, fmt.Errorf("%s: lldb printed no $variants$ (an lldb older than 19 prints Rust enums as {})", t.Name)
	}
	var discr *uint64
	for _, c := range vs.Children {
		if d := c.Child("$discr$"); d != nil {
			n, err := DecodeUint(d.Value)
			if err != nil {
				return nil, fmt.Errorf("%s: discriminant %q: %v", t.Name, d.Value, err)
			}
			discr = &n
			break
		}
	}
	if discr == nil {
		if len(t.Variants) == 1 {
			return t.Variants[0], nil
		}
		return nil, fmt.Errorf("%s: no discriminant printed", t.Name)
	}
	if vr := activeFromDiscr(t, *discr); vr != nil {
		return vr, nil
	}
	return nil, fmt.Errorf("%s: discriminant %d matches no variant", t.Name, *discr)
}

// discrEqual compares a DWARF discriminant with the printed one, in the
// width of the discriminant member (DWARF may sign-extend small values).
func discrEqual(dwarfVal, printed uint64, m *Member) bool {
	if m != nil && m.Type != nil && m.Type.Size > 0 && m.Type.Size < 8 {
		mask := uint64(1)<<(8*uint(m.Type.Size)) - 1
		return dwarfVal&mask == printed&mask
	}
	return dwarfVal == printed
}

func compactPayload(v *Value, vr *Variant) string {
	vs := v.Child("$variants$")
	if vs == nil {
		return ""
	}
	c := vs.Child(vr.LLDBName())
	if c == nil {
		return ""
	}
	payload := c.Child("value")
	if payload == nil || len(payload.Children) == 0 {
		return ""
	}
	if len(payload.Children) == 1 && payload.Children[0].Name == "__0" {
		return "(" + Compact(payload.Children[0], 3) + ")"
	}
	return " " + Compact(payload, 3)
}

// Compact renders a value on one line ({a: 1, b: {..}}), depth-limited.
func Compact(v *Value, depth int) string {
	if v == nil {
		return ""
	}
	if len(v.Children) == 0 {
		if v.Value == "" {
			return "{}"
		}
		return v.Value
	}
	if depth <= 0 {
		if v.Value != "" {
			return v.Value
		}
		return "{..}"
	}
	var b strings.Builder
	if v.Value != "" {
		b.WriteString(v.Value)
		b.WriteByte(' ')
	}
	b.WriteByte('{')
	for i, c := range v.Children {
		if i > 0 {
			b.WriteString(", ")
		}
		if i >= 16 {
			fmt.Fprintf(&b, "... %d more", len(v.Children)-i)
			break
		}
		if c.Name != "" {
			b.WriteString(c.Name)
			b.WriteString(": ")
		}
		b.WriteString(Compact(c, depth-1))
	}
	b.WriteByte('}')
	return b.String()
}

// DecodeUint reads a number as lldb prints it: 42, -1, 0x2a, true/false,
// a char literal ('\x2a', '*', '\0', '\n'), or an enumerator with its
// value in parentheses.
func DecodeUint(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "true":
		return 1, nil
	case "false":
		return 0, nil
	}
	if len(s) >= 3 && s[0] == '\'' && s[len(s)-1] == '\'' {
		b, err := unescapeLLDB(s[1 : len(s)-1])
		if err != nil {
			return 0, err
		}
		if len(b) == 1 {
			return uint64(b[0]), nil
		}
		if r, size := utf8.DecodeRune(b); size == len(b) && r != utf8.RuneError {
			return uint64(r), nil
		}
		return 0, fmt.Errorf("char literal %s is not one byte", s)
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return strconv.ParseUint(s[2:], 16, 64)
	}
	if strings.HasPrefix(s, "-") {
		n, err := strconv.ParseInt(s, 10, 64)
		return uint64(n), err
	}
	return strconv.ParseUint(s, 10, 64)
}

// DecodeCStringSummary reads the bytes of a char-pointer summary
// (`0x000055... "ide0\xff\U0000007f"`).
func DecodeCStringSummary(s string) ([]byte, error) {
	i := strings.IndexByte(s, '"')
	j := strings.LastIndexByte(s, '"')
	if i < 0 || j <= i {
		return nil, fmt.Errorf("no string in %q", s)
	}
	return unescapeLLDB(s[i+1 : j])
}

// unescapeLLDB decodes lldb's escapes: \n \t \r \0 \\ \" \' \xNN \uNNNN
// \UNNNNNNNN (the last two as UTF-8, except below 0x100 where lldb means a byte).
func unescapeLLDB(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("dangling backslash in %q", s)
		}
		i++
		switch e := s[i]; e {
		case 'n':
			out = append(out, '\n')
		case 't':
			out = append(out, '\t')
		case 'r':
			out = append(out, '\r')
		case '0':
			out = append(out, 0)
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'v':
			out = append(out, 11)
		case 'e':
			out = append(out, 27)
		case '\\', '"', '\'':
			out = append(out, e)
		case 'x', 'u', 'U':
			j := i + 1
			for j < len(s) && j-i-1 < 8 && isHex(s[j]) && (e != 'x' || j-i-1 < 2) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("bad \\%c escape in %q", e, s)
			}
			n, _ := strconv.ParseUint(s[i+1:j], 16, 32)
			if n < 0x100 {
				out = append(out, byte(n))
			} else {
				out = utf8.AppendRune(out, rune(n))
			}
			i = j - 1
		default:
			out = append(out, '\\', e)
		}
	}
	return out, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
