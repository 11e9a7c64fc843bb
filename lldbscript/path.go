package lldbscript

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// SegmentKind says what one step of a Rust-level path names.
type SegmentKind int

// Segment kinds.
const (
	SegField SegmentKind = iota // .name: a field, a variant, or a tuple field (.0)
	SegIndex                    // [N]: an array, slice or Vec element
)

// Segment is one step of a Rust-level path.
type Segment struct {
	Kind  SegmentKind
	Name  string
	Index int
}

func (s Segment) String() string {
	if s.Kind == SegIndex {
		return fmt.Sprintf("[%d]", s.Index)
	}
	return "." + s.Name
}

// RustPath is a parsed Rust-level path: a variable and the steps from it,
// e.g. `ide_device.channels[0].drives[0].HardDevice.serial`. Wrappers
// (Arc, Mutex, RefCell, ...), Box and references are stepped through
// without being named; enum variants are named by their Rust names (Some,
// Ok, Busy) and a variant's single tuple field may be skipped
// (`x.Some.name` = `x.Some.0.name`).
type RustPath struct {
	Var      string
	Segments []Segment
}

func (p RustPath) String() string {
	var b strings.Builder
	b.WriteString(p.Var)
	for _, s := range p.Segments {
		b.WriteString(s.String())
	}
	return b.String()
}

// ParsePath parses `var(.field|.N|[N])*`.
func ParsePath(s string) (RustPath, error) {
	s = strings.TrimSpace(s)
	var p RustPath
	i := 0
	ident := func() string {
		j := i
		for j < len(s) && (isIdentByte(s[j])) {
			j++
		}
		id := s[i:j]
		i = j
		return id
	}
	p.Var = ident()
	if p.Var == "" {
		return p, fmt.Errorf("path %q: must start with a variable name", s)
	}
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			id := ident()
			if id == "" {
				return p, fmt.Errorf("path %q: empty field name at offset %d", s, i)
			}
			p.Segments = append(p.Segments, Segment{Kind: SegField, Name: id})
		case '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return p, fmt.Errorf("path %q: unclosed [", s)
			}
			n, err := strconv.Atoi(strings.TrimSpace(s[i+1 : i+end]))
			if err != nil || n < 0 {
				return p, fmt.Errorf("path %q: index %q is not a non-negative number", s, s[i+1:i+end])
			}
			p.Segments = append(p.Segments, Segment{Kind: SegIndex, Index: n})
			i += end + 1
		default:
			return p, fmt.Errorf("path %q: unexpected %q at offset %d (a path is var(.field|.N|[N])*)", s, s[i], i)
		}
	}
	return p, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// Step is one hop of a translated path, for people (`triage debug` shows
// them to explain a path).
type Step struct {
	// LLDB is the text this hop appends to the lldb path.
	LLDB string `json:"lldb" yaml:"lldb"`
	// Type is the type reached.
	Type string `json:"type" yaml:"type"`
	// Why says what the hop is: "field", "variant Some", "through Arc", ...
	Why string `json:"why" yaml:"why"`
}

// VariantAssumption is an enum variant a path goes through: the value
// read is only meaningful when that variant is the active one.
type VariantAssumption struct {
	// Enum is the lldb path of the enum value.
	Enum    string `json:"enum" yaml:"enum"`
	Type    string `json:"type" yaml:"type"`
	Variant string `json:"variant" yaml:"variant"`
	// Discr is the lldb path of the enum's discriminant (through any
	// numbered variant; all of them overlay the same bytes), "" for an
	// enum without one.
	Discr string `json:"discr,omitempty" yaml:"discr,omitempty"`
	// EnumType is the enum, to decide the active variant from Discr.
	EnumType *Type `json:"-" yaml:"-"`
}

// StringParts locates a String's or &str's bytes: lldb-19 without
// formatters prints neither, so a session reads the length and the data
// pointer (whose C-string summary is cut to the length).
type StringParts struct {
	Len  string `json:"len" yaml:"len"`
	Data string `json:"data" yaml:"data"`
}

// LLDBPath is a Rust path translated for lldb's `frame variable`.
type LLDBPath struct {
	Rust string `json:"rust" yaml:"rust"`
	// Expr is the `frame variable` argument.
	Expr string `json:"expr" yaml:"expr"`
	// Type is the type of the value reached.
	Type     *Type               `json:"-" yaml:"-"`
	TypeName string              `json:"type" yaml:"type"`
	Steps    []Step              `json:"steps" yaml:"steps"`
	Assumes  []VariantAssumption `json:"assumes,omitempty" yaml:"assumes,omitempty"`
	// String is set when the value is a String or &str.
	String *StringParts `json:"string,omitempty" yaml:"string,omitempty"`
	// NeedsVecFormatter says the path indexes a Vec through the Vec
	// synthetic provider (lldb has no other safe way: the element type is
	// erased in RawVecInner).
	NeedsVecFormatter bool `json:"needs_vec_formatter,omitempty" yaml:"needs_vec_formatter,omitempty"`
	// Shadowing says the path's variable has several bindings in the
	// function and which one was taken ("" when it has one).
	Shadowing string `json:"shadowing,omitempty" yaml:"shadowing,omitempty"`
}

// Command is the lldb command that prints the value.
func (p *LLDBPath) Command() string { return "frame variable " + p.Expr }

// PathOptions tune translation.
type PathOptions struct {
	// KeepWrappers stops a path that ends on a wrapper (Arc, Mutex, Cell,
	// ...) there; by default it goes on to the wrapped value.
	KeepWrappers bool
	// VecFormatter says the Vec synthetic provider is loaded, so `v[i]`
	// works on a Vec. Without it indexing a Vec is an error.
	VecFormatter bool
	// Line is the frame's line: a shadowed variable name is the binding
	// in scope there (0: the last one declared).
	Line int
}

// ErrNoVariable is returned when the path's variable is not in the function.
var ErrNoVariable = errors.New("no such variable")

// Translate translates a Rust path rooted at a variable of fn.
func (ts *Types) Translate(fn *Function, path string, opt PathOptions) (*LLDBPath, error) {
	rp, err := ParsePath(path)
	if err != nil {
		return nil, err
	}
	v, others := fn.Binding(rp.Var, opt.Line)
	if v == nil {
		var names []string
		for _, x := range fn.Vars {
			names = append(names, x.Name)
		}
		return nil, fmt.Errorf("%w %q in %s (variables: %s)", ErrNoVariable, rp.Var, fn.Name, strings.Join(uniq(names), ", "))
	}
	p, err := TranslateFrom(v.Name, v.Type, rp.Segments, opt)
	if err == nil && len(others) > 0 {
		var lines []string
		for _, o := range others {
			lines = append(lines, fmt.Sprintf("line %d (%s)", o.Line, o.Type.Name))
		}
		p.Shadowing = fmt.Sprintf("%s has %d bindings in %s; this is the innermost in scope at line %d: declared at line %d, %s (the others: %s)",
			v.Name, len(others)+1, fn.Name, opt.Line, v.Line, v.Type.Name, strings.Join(lines, ", "))
	}
	return p, err
}

// TranslateFrom translates segments starting from a value named root of
// type t (the variable itself, or any lldb path of that type).
func TranslateFrom(root string, t *Type, segs []Segment, opt PathOptions) (*LLDBPath, error) {
	if t == nil {
		return nil, fmt.Errorf("%s: no type information", root)
	}
	start := cursor{expr: root, t: t}
	start = start.autoDeref()
	rust := RustPath{Var: root, Segments: segs}.String()
	end, err := walk(start, segs, opt, 0)
	if err != nil {
		return nil, fmt.Errorf("path %s: %w", rust, err)
	}
	end = finish(end, opt)
	out := &LLDBPath{Rust: rust, Expr: end.render(), Type: end.t, TypeName: end.t.Name, Steps: end.steps, Assumes: end.assumes}
	out.NeedsVecFormatter = end.vecIndex
	if sp := stringParts(end); sp != nil {
		out.String = sp
	}
	return out, nil
}

// finish completes a path that ends on a tuple variant (to its single
// value) or, unless KeepWrappers, on a table wrapper (to the wrapped value).
func finish(c cursor, opt PathOptions) cursor {
	for range maxWrapperDepth {
		t := c.t
		if len(c.steps) > 0 && strings.HasPrefix(c.steps[len(c.steps)-1].Why, "variant ") &&
			t.Kind == KindStruct && len(t.Members) == 1 && t.Members[0].Name == "__0" {
			n, err := c.member(t.Members[0], "the variant's value")
			if err != nil {
				return c
			}
			c = n
			continue
		}
		if opt.KeepWrappers || wrapperRule(t) == nil {
			return c
		}
		targets := wrapperTargets(c)
		if len(targets) == 0 {
			return c
		}
		c = targets[0]
	}
	return c
}

// cursor is a position in a translation: the lldb path so far and the type
// of the value it denotes. ptr says expr is a pointer to that value (the
// next field access is `->`, the final value is `*expr`).
type cursor struct {
	expr     string
	t        *Type
	ptr      bool
	steps    []Step
	assumes  []VariantAssumption
	vecIndex bool
}

func (c cursor) with(expr string, t *Type, why string) cursor {
	n := c
	n.steps = append(append([]Step(nil), c.steps...), Step{LLDB: strings.TrimPrefix(expr, c.expr), Type: t.Name, Why: why})
	n.expr = expr
	n.t = t
	n.ptr = false
	n.assumes = append([]VariantAssumption(nil), c.assumes...)
	return n.autoDeref()
}

// autoDeref follows a pointer type (reference, raw pointer, Box) to its
// target, as Rust's auto-deref does for field access.
func (c cursor) autoDeref() cursor {
	if c.t != nil && c.t.Kind == KindPointer && c.t.Elem != nil && !c.ptr {
		c.ptr = true
		c.t = c.t.Elem
	}
	return c
}

func (c cursor) sep() string {
	if c.ptr {
		return "->"
	}
	return "."
}

func (c cursor) render() string {
	if c.ptr {
		return "*" + c.expr
	}
	return c.expr
}

// member steps into a named member.
func (c cursor) member(m *Member, why string) (cursor, error) {
	if c.ptr && c.t.Kind == KindPointer {
		return c, fmt.Errorf("%s is a pointer to a pointer (%s); frame variable cannot dereference twice", c.expr, c.t.Name)
	}
	return c.with(c.expr+c.sep()+m.Name, m.Type, why), nil
}

const maxWrapperDepth = 8

func walk(c cursor, segs []Segment, opt PathOptions, depth int) (cursor, error) {
	if len(segs) == 0 {
		return c, nil
	}
	if depth > 64 {
		return c, fmt.Errorf("path too deep")
	}
	seg := segs[0]
	rest := segs[1:]
	t := c.t
	if c.ptr && t.Kind == KindPointer {
		return c, fmt.Errorf("%s points to a pointer (%s); frame variable cannot dereference twice", c.expr, t.Name)
	}

	// 1. The segment names something the type itself has. Not for a std
	// wrapper's fields: they are private, so a Rust path naming `inner`
	// or `data` on an Arc<Mutex<T>> means T's field (auto-deref), never
	// the Mutex's own `inner` — the wrapped value is reached by its type.
	stdWrapperField := seg.Kind == SegField && wrapperRule(t) != nil
	if next, ok, err := direct(c, seg, opt); err != nil && !stdWrapperField {
		return c, err
	} else if ok && !stdWrapperField {
		return walk(next, rest, opt, depth+1)
	}

	// 2. An enum: infer the variant whose payload has the field.
	if t.Kind == KindEnum && seg.Kind == SegField {
		var found []cursor
		var errs []error
		for _, v := range t.Variants {
			vc := c.variant(v)
			if end, err := walk(vc, segs, opt, depth+1); err == nil {
				found = append(found, end)
			} else {
				errs = append(errs, err)
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			return c, fmt.Errorf("%s is an enum %s and several variants have %s; name the variant (%s)", c.expr, t.Name, seg, strings.Join(variantNames(t), ", "))
		}
		return c, fmt.Errorf("%s (%s) has no %s in any variant (%s)", c.expr, t.Name, seg, strings.Join(variantNames(t), ", "))
	}

	// 3. A variant payload or tuple struct holding one value: skip `.0`.
	if t.Kind == KindStruct && len(t.Members) == 1 && t.Members[0].Name == "__0" {
		next, err := c.member(t.Members[0], "the single tuple field")
		if err != nil {
			return c, err
		}
		if end, err := walk(next, segs, opt, depth+1); err == nil {
			return end, nil
		}
	}

	// 4. A wrapper: step through to a wrapped value from which the path
	// goes on.
	targets := wrapperTargets(c)
	var lastErr error
	for _, tc := range targets {
		end, err := walk(tc, segs, opt, depth+1)
		if err == nil {
			return end, nil
		}
		lastErr = err
	}
	if lastErr != nil && len(targets) > 0 {
		return c, lastErr
	}
	return c, notFound(c, seg)
}

func notFound(c cursor, seg Segment) error {
	t := c.t
	if seg.Kind == SegIndex {
		return fmt.Errorf("%s (%s) cannot be indexed", c.expr, t.Name)
	}
	var have []string
	for _, m := range t.Members {
		have = append(have, m.Name)
	}
	have = append(have, variantNames(t)...)
	if len(have) == 0 {
		return fmt.Errorf("%s (%s, %s) has no field %s", c.expr, t.Name, t.Kind, seg.Name)
	}
	return fmt.Errorf("%s (%s) has no field %s (it has: %s)", c.expr, t.Name, seg.Name, strings.Join(have, ", "))
}

func variantNames(t *Type) []string {
	var out []string
	for _, v := range t.Variants {
		out = append(out, v.Name)
	}
	return out
}

// direct resolves a segment against the type itself (no wrappers).
func direct(c cursor, seg Segment, opt PathOptions) (cursor, bool, error) {
	t := c.t
	switch seg.Kind {
	case SegField:
		name := seg.Name
		if _, err := strconv.Atoi(name); err == nil {
			name = "__" + name // tuple field .0 is __0 in DWARF
		}
		if t.Kind == KindEnum {
			if v := t.Variant(seg.Name); v != nil {
				return c.variant(v), true, nil
			}
			return c, false, nil
		}
		if t.Kind == KindStruct || t.Kind == KindUnion {
			if m := t.Member(name); m != nil {
				n, err := c.member(m, "field")
				return n, err == nil, err
			}
		}
		return c, false, nil
	case SegIndex:
		idx := fmt.Sprintf("[%d]", seg.Index)
		switch {
		case t.Kind == KindArray:
			if c.ptr {
				return c, false, fmt.Errorf("%s points to an array; frame variable would index the pointer", c.expr)
			}
			if t.Count >= 0 && int64(seg.Index) >= t.Count {
				return c, false, fmt.Errorf("%s%s: index out of range for %s", c.expr, idx, t.Name)
			}
			return c.with(c.expr+idx, t.Elem, "array element"), true, nil
		case t.IsSlice():
			dp := t.Member("data_ptr")
			if dp.Type == nil || dp.Type.Elem == nil {
				return c, false, fmt.Errorf("%s: slice without element type", c.expr)
			}
			n := c.with(c.expr+c.sep()+"data_ptr"+idx, dp.Type.Elem, "slice element (data_ptr[i]; lldb does not check the length)")
			return n, true, nil
		case isVec(t):
			elem := t.Param("T")
			if elem == nil {
				return c, false, fmt.Errorf("%s: Vec without element type parameter", c.expr)
			}
			if !opt.VecFormatter {
				return c, false, fmt.Errorf("%s%s: indexing a Vec needs the Vec formatter (its element type is erased in the raw layout); run with formatters on", c.expr, idx)
			}
			if c.ptr {
				return c, false, fmt.Errorf("%s points to a Vec; frame variable would index the pointer", c.expr)
			}
			n := c.with(c.expr+idx, elem, "Vec element (through the Vec formatter)")
			n.vecIndex = true
			return n, true, nil
		}
	}
	return c, false, nil
}

func isVec(t *Type) bool { return t.Kind == KindStruct && t.Path() == "alloc::vec::Vec" }

// variant steps into an enum variant's payload.
func (c cursor) variant(v *Variant) cursor {
	enumExpr := c.render()
	n := c.with(c.expr+c.sep()+"$variants$."+v.LLDBName()+".value", v.Type, "variant "+v.Name)
	va := VariantAssumption{Enum: enumExpr, Type: c.t.Name, Variant: v.Name, EnumType: c.t}
	for _, o := range c.t.Variants {
		if o.HasDiscr {
			va.Discr = c.expr + c.sep() + "$variants$." + o.LLDBName() + ".$discr$"
			break
		}
	}
	n.assumes = append(n.assumes, va)
	return n
}

// wrapperTargets lists the values a wrapper at c holds, nearest first:
// for a wrapper in the table, the value of its type parameter; for a
// generic struct outside std, the value of each of its type parameters that
// its fields lead to.
func wrapperTargets(c cursor) []cursor {
	t := c.t
	if t.Kind != KindStruct {
		return nil
	}
	var params []*Type
	if rule := wrapperRule(t); rule != nil {
		if p := t.Param(rule.Param); p != nil {
			params = append(params, p)
		} else if len(t.Params) == 0 {
			// Non-generic wrappers (AtomicU32): each member.
			var out []cursor
			for _, m := range t.Members {
				if n, err := c.member(m, "through "+t.BaseName()); err == nil {
					out = append(out, n)
				}
			}
			return out
		}
	} else if !stdCrates.MatchString(t.Name) {
		for _, p := range t.Params {
			if p.Type != nil {
				params = append(params, p.Type)
			}
		}
	}
	var out []cursor
	for _, p := range params {
		if tc, ok := reach(c, p, "through "+t.BaseName()); ok {
			out = append(out, tc)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i].steps) < len(out[j].steps) })
	return out
}

// reach finds the shortest chain of members and pointer dereferences from
// c to a value of type want (breadth first, at most maxWrapperDepth hops).
func reach(c cursor, want *Type, why string) (cursor, bool) {
	type item struct {
		c    cursor
		hops int
	}
	queue := []item{{c, 0}}
	seen := map[*Type]bool{}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		cur := it.c
		if it.hops > 0 && sameType(cur.t, want) {
			return cur, true
		}
		if it.hops >= maxWrapperDepth || seen[cur.t] {
			continue
		}
		seen[cur.t] = true
		if cur.t.Kind != KindStruct {
			continue
		}
		for _, m := range cur.t.Members {
			if m.Type == nil {
				continue
			}
			n, err := cur.member(m, why)
			if err != nil {
				continue
			}
			queue = append(queue, item{n, it.hops + 1})
		}
	}
	return c, false
}

func sameType(a, b *Type) bool {
	if a == b {
		return true
	}
	return a != nil && b != nil && a.Name != "" && normTypeName(a.Name) == normTypeName(b.Name) && a.Kind == b.Kind
}

// stringParts recognises String and &str values.
func stringParts(c cursor) *StringParts {
	t := c.t
	switch {
	case t.Kind == KindStruct && t.Path() == "alloc::string::String":
		vec := t.Member("vec")
		if vec == nil || vec.Type == nil {
			return nil
		}
		vc, err := c.member(vec, "")
		if err != nil {
			return nil
		}
		lenM := vc.t.Member("len")
		if lenM == nil {
			return nil
		}
		lc, _ := vc.member(lenM, "")
		dc, ok := firstPointer(vc)
		if !ok {
			return nil
		}
		return &StringParts{Len: lc.render(), Data: dc.expr}
	case t.IsSlice() && (t.Name == "&str" || t.Name == "&mut str"):
		return &StringParts{Len: c.expr + c.sep() + "length", Data: c.expr + c.sep() + "data_ptr"}
	}
	return nil
}

// firstPointer finds the data pointer inside a Vec: the first raw pointer
// member reached breadth first.
func firstPointer(c cursor) (cursor, bool) {
	queue := []cursor{c}
	for len(queue) > 0 && len(queue) < 200 {
		cur := queue[0]
		queue = queue[1:]
		if cur.t.Kind != KindStruct {
			continue
		}
		for _, m := range cur.t.Members {
			if m.Type == nil {
				continue
			}
			if m.Type.Kind == KindPointer {
				return cursor{expr: cur.expr + cur.sep() + m.Name, t: m.Type}, true
			}
			if n, err := cur.member(m, ""); err == nil {
				queue = append(queue, n)
			}
		}
	}
	return c, false
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
