package lldbscript

import (
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/ianlancetaylor/demangle"
)

// TypeKind classifies a DWARF type the way path translation needs it.
type TypeKind string

// The kinds of Type.
const (
	KindBase    TypeKind = "base"    // u8, bool, f64, ...
	KindStruct  TypeKind = "struct"  // a struct, tuple, slice fat pointer (&[T]) or variant payload
	KindEnum    TypeKind = "enum"    // a Rust sum type: a struct holding a DW_TAG_variant_part
	KindCEnum   TypeKind = "c-enum"  // a fieldless enum (DW_TAG_enumeration_type)
	KindPointer TypeKind = "pointer" // &T, &mut T, *const T, Box<T> (Rust emits Box as a pointer)
	KindArray   TypeKind = "array"   // [T; N]
	KindUnion   TypeKind = "union"
	KindOther   TypeKind = "other" // function types, unspecified types
)

// Type is one DWARF type, reduced to what a debugger path needs.
type Type struct {
	Offset dwarf.Offset
	// Name is the qualified Rust name (namespaces joined by "::"), as lldb
	// shows it, e.g. "ide::IdeDevice" or
	// "alloc::sync::Arc<ide::CloseableMutex<ide::IdeDevice>, alloc::alloc::Global>".
	Name string
	Kind TypeKind
	Size int64
	// Members are a struct's fields in declaration order (for an enum: the
	// fields outside the variant part, usually none).
	Members []*Member
	// Variants are an enum's variants, from its DW_TAG_variant_part.
	Variants []*Variant
	// Discr is the member holding an enum's discriminant (tag or niche).
	Discr *Member
	// Elem is a pointer's target or an array's element type.
	Elem *Type
	// Count is an array's length (-1 when unknown).
	Count int64
	// Params are a generic type's template type parameters (T, A, ...).
	Params []*TemplateParam
	// Enumerators are a fieldless enum's values.
	Enumerators []Enumerator
}

// Member is one field of a struct.
type Member struct {
	Name       string
	Type       *Type
	Offset     int64
	Artificial bool
}

// Variant is one variant of a Rust enum.
type Variant struct {
	// Name is the Rust variant name (Some, None, Busy, ...).
	Name string
	// Type is the variant's payload struct (fields __0, __1 for tuple
	// variants, named fields for struct variants).
	Type *Type
	// Discr is DW_AT_discr_value. A variant without one (HasDiscr false) is
	// the dataful variant of a niche-optimized enum: every discriminant
	// value not listed by another variant selects it.
	Discr    uint64
	HasDiscr bool
}

// LLDBName is the member name lldb-19's DWARF parser gives the variant
// inside `$variants$`: `$variant$N` with N the discriminant truncated to 32
// bits, or `$variant$` for the variant without a discriminant value.
func (v *Variant) LLDBName() string {
	if !v.HasDiscr {
		return "$variant$"
	}
	return fmt.Sprintf("$variant$%d", uint32(v.Discr))
}

// TemplateParam is a generic parameter of a type.
type TemplateParam struct {
	Name string
	Type *Type
}

// Enumerator is one value of a fieldless enum.
type Enumerator struct {
	Name  string
	Value int64
}

// Member returns the named member or nil.
func (t *Type) Member(name string) *Member {
	for _, m := range t.Members {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Variant returns the named variant or nil.
func (t *Type) Variant(name string) *Variant {
	for _, v := range t.Variants {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// Param returns the named template parameter's type or nil.
func (t *Type) Param(name string) *Type {
	for _, p := range t.Params {
		if p.Name == name {
			return p.Type
		}
	}
	return nil
}

// BaseName is the name without generic arguments or namespaces:
// "alloc::sync::Arc<T, A>" -> "Arc".
func (t *Type) BaseName() string {
	n := stripGenerics(t.Name)
	if i := strings.LastIndex(n, "::"); i >= 0 {
		n = n[i+2:]
	}
	return n
}

// Path is the name without generic arguments: "alloc::sync::Arc".
func (t *Type) Path() string { return stripGenerics(t.Name) }

// IsSlice reports whether t is a Rust slice or str reference (&[T], &str):
// a struct of data_ptr and length.
func (t *Type) IsSlice() bool {
	return t.Kind == KindStruct && t.Member("data_ptr") != nil && t.Member("length") != nil && len(t.Members) == 2
}

// Var is a variable or parameter of a function.
type Var struct {
	Name string
	Type *Type
	// Param says it is a function parameter.
	Param bool
	// Line is the declaration's line (0 when DWARF has none) and Depth how
	// many lexical blocks enclose it: Rust opens a block for what follows
	// every `let`, so a shadowing binding is deeper than the one it hides.
	Line  int
	Depth int
}

// Function is one subprogram with its variables (from all its lexical
// blocks; inner shadowing variables come later).
type Function struct {
	// Name is the demangled name without hash, e.g. "ide::IdeDevice::start_dma".
	Name string
	Vars []Var
}

// Var returns the named variable (the first one declared) or nil.
func (f *Function) Var(name string) *Var {
	for i := range f.Vars {
		if f.Vars[i].Name == name {
			return &f.Vars[i]
		}
	}
	return nil
}

// Binding returns the binding of name that is in scope at line (0: the
// end of the function), the way a Rust reader and lldb see a shadowed
// name: the latest declaration at or before the line, the deepest of
// those declared on one line. shadowed lists the other bindings of the
// name. DWARF gives no line extent for blocks, so a binding of an inner
// block that has already ended can be chosen; the caller says which one
// it took.
func (f *Function) Binding(name string, line int) (v *Var, shadowed []*Var) {
	var all []*Var
	for i := range f.Vars {
		if f.Vars[i].Name == name {
			all = append(all, &f.Vars[i])
		}
	}
	inScope := func(c *Var) bool { return line <= 0 || c.Line <= line }
	for _, c := range all {
		switch {
		case v == nil:
			v = c
		case inScope(c) && !inScope(v):
			v = c
		case inScope(c) == inScope(v) && inScope(c) && (c.Line > v.Line || c.Line == v.Line && c.Depth > v.Depth):
			v = c
		}
	}
	for _, c := range all {
		if c != v {
			shadowed = append(shadowed, c)
		}
	}
	return v, shadowed
}

// Types is the type and function information of one binary's DWARF.
type Types struct {
	Binary string
	// Producer is the DW_AT_producer of the first Rust compile unit.
	Producer string
	byOffset map[dwarf.Offset]*Type
	byName   map[string][]*Type
	funcs    map[string][]*Function // by FunctionKey
}

// entryNode is one DIE with its children, read once.
type entryNode struct {
	e        *dwarf.Entry
	children []*entryNode
	parent   *entryNode
}

var typesCache sync.Map // binary path + size/mtime -> *Types

// LoadTypes reads the DWARF of an ELF binary (once per binary version:
// the result is cached by path, size and modification time). Binaries
// without DWARF give an error naming the file.
func LoadTypes(binary string) (*Types, error) {
	st, err := os.Stat(binary)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s\x00%d\x00%d", binary, st.Size(), st.ModTime().UnixNano())
	if ts, ok := typesCache.Load(key); ok {
		return ts.(*Types), nil
	}
	ts, err := loadTypes(binary)
	if err == nil {
		typesCache.Store(key, ts)
	}
	return ts, err
}

func loadTypes(binary string) (*Types, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", binary, err)
	}
	defer f.Close()
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Errorf("%s: no DWARF debug info: %w", binary, err)
	}
	return newTypes(binary, d)
}

func newTypes(binary string, d *dwarf.Data) (*Types, error) {
	nodes := map[dwarf.Offset]*entryNode{}
	var roots []*entryNode
	var stack []*entryNode
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("%s: reading DWARF: %w", binary, err)
		}
		if e == nil {
			break
		}
		if e.Tag == 0 { // end of a sibling list
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		n := &entryNode{e: e}
		nodes[e.Offset] = n
		if len(stack) > 0 {
			n.parent = stack[len(stack)-1]
			n.parent.children = append(n.parent.children, n)
		} else {
			roots = append(roots, n)
		}
		if e.Children {
			stack = append(stack, n)
		}
	}
	b := &typeBuilder{nodes: nodes, types: map[dwarf.Offset]*Type{}}
	ts := &Types{Binary: binary, byOffset: b.types, byName: map[string][]*Type{}, funcs: map[string][]*Function{}}
	for _, cu := range roots {
		if p, ok := cu.e.Val(dwarf.AttrProducer).(string); ok && ts.Producer == "" && strings.Contains(p, "rustc") {
			ts.Producer = p
		}
	}
	for off, n := range nodes {
		switch n.e.Tag {
		case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagEnumerationType, dwarf.TagBaseType:
			t := b.typeAt(off)
			if t != nil && t.Name != "" {
				ts.byName[normTypeName(t.Name)] = append(ts.byName[normTypeName(t.Name)], t)
			}
		case dwarf.TagSubprogram:
			if fn := b.function(n); fn != nil {
				k := FunctionKey(fn.Name)
				ts.funcs[k] = append(ts.funcs[k], fn)
			}
		}
	}
	for _, list := range ts.byName {
		// Declarations and duplicates across units: keep the richest first.
		sort.SliceStable(list, func(i, j int) bool {
			return len(list[i].Members)+len(list[i].Variants) > len(list[j].Members)+len(list[j].Variants)
		})
	}
	return ts, nil
}

type typeBuilder struct {
	nodes map[dwarf.Offset]*entryNode
	types map[dwarf.Offset]*Type
}

// qualifiedName joins the names of the enclosing namespaces and types.
func (b *typeBuilder) qualifiedName(n *entryNode) string {
	name, _ := n.e.Val(dwarf.AttrName).(string)
	var parts []string
	for p := n.parent; p != nil; p = p.parent {
		switch p.e.Tag {
		case dwarf.TagNamespace, dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagEnumerationType:
			if pn, ok := p.e.Val(dwarf.AttrName).(string); ok {
				parts = append(parts, pn)
			}
		}
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	if name == "" {
		return ""
	}
	// Pointer, array and base type names are already complete ("&mut ide::IdeDevice").
	switch n.e.Tag {
	case dwarf.TagPointerType, dwarf.TagBaseType, dwarf.TagArrayType:
		return name
	}
	if strings.HasPrefix(name, "&") || strings.HasPrefix(name, "*") || strings.HasPrefix(name, "(") || strings.HasPrefix(name, "[") {
		return name
	}
	return strings.Join(append(parts, name), "::")
}

func (b *typeBuilder) typeAt(off dwarf.Offset) *Type {
	if t, ok := b.types[off]; ok {
		return t
	}
	n := b.nodes[off]
	if n == nil {
		return nil
	}
	t := &Type{Offset: off, Count: -1}
	b.types[off] = t // before recursing: types are cyclic through pointers
	t.Name = b.qualifiedName(n)
	if sz, ok := n.e.Val(dwarf.AttrByteSize).(int64); ok {
		t.Size = sz
	}
	switch n.e.Tag {
	case dwarf.TagBaseType:
		t.Kind = KindBase
	case dwarf.TagPointerType, dwarf.TagReferenceType, dwarf.TagRvalueReferenceType:
		t.Kind = KindPointer
		t.Elem = b.refType(n.e)
		if t.Size == 0 {
			t.Size = 8
		}
	case dwarf.TagArrayType:
		t.Kind = KindArray
		t.Elem = b.refType(n.e)
		for _, c := range n.children {
			if c.e.Tag == dwarf.TagSubrangeType {
				if cnt, ok := c.e.Val(dwarf.AttrCount).(int64); ok {
					t.Count = cnt
				} else if ub, ok := c.e.Val(dwarf.AttrUpperBound).(int64); ok {
					t.Count = ub + 1
				}
			}
		}
		if t.Elem != nil && t.Count >= 0 {
			t.Size = t.Elem.Size * t.Count
			if t.Name == "" {
				t.Name = fmt.Sprintf("[%s; %d]", t.Elem.Name, t.Count)
			}
		}
	case dwarf.TagEnumerationType:
		t.Kind = KindCEnum
		for _, c := range n.children {
			if c.e.Tag == dwarf.TagEnumerator {
				name, _ := c.e.Val(dwarf.AttrName).(string)
				v, _ := c.e.Val(dwarf.AttrConstValue).(int64)
				t.Enumerators = append(t.Enumerators, Enumerator{Name: name, Value: v})
			}
		}
	case dwarf.TagStructType, dwarf.TagUnionType, dwarf.TagClassType:
		t.Kind = KindStruct
		if n.e.Tag == dwarf.TagUnionType {
			t.Kind = KindUnion
		}
		for _, c := range n.children {
			switch c.e.Tag {
			case dwarf.TagMember:
				t.Members = append(t.Members, b.member(c))
			case dwarf.TagTemplateTypeParameter:
				name, _ := c.e.Val(dwarf.AttrName).(string)
				t.Params = append(t.Params, &TemplateParam{Name: name, Type: b.refType(c.e)})
			case dwarf.TagVariantPart:
				t.Kind = KindEnum
				b.variantPart(t, c)
			}
		}
	case dwarf.TagTypedef, dwarf.TagConstType, dwarf.TagVolatileType:
		// Transparent: become the referenced type.
		if rt := b.refType(n.e); rt != nil {
			b.types[off] = rt
			return rt
		}
		t.Kind = KindOther
	default:
		t.Kind = KindOther
	}
	return t
}

func (b *typeBuilder) refType(e *dwarf.Entry) *Type {
	off, ok := e.Val(dwarf.AttrType).(dwarf.Offset)
	if !ok {
		return nil
	}
	return b.typeAt(off)
}

func (b *typeBuilder) member(c *entryNode) *Member {
	name, _ := c.e.Val(dwarf.AttrName).(string)
	m := &Member{Name: name, Type: b.refType(c.e)}
	if loc, ok := c.e.Val(dwarf.AttrDataMemberLoc).(int64); ok {
		m.Offset = loc
	}
	if art, ok := c.e.Val(dwarf.AttrArtificial).(bool); ok {
		m.Artificial = art
	}
	return m
}

func (b *typeBuilder) variantPart(t *Type, vp *entryNode) {
	discrOff, _ := vp.e.Val(dwarf.AttrDiscr).(dwarf.Offset)
	for _, c := range vp.children {
		switch c.e.Tag {
		case dwarf.TagMember:
			m := b.member(c)
			if c.e.Offset == discrOff {
				t.Discr = m
			}
		case dwarf.TagVariant:
			v := &Variant{}
			switch dv := c.e.Val(dwarf.AttrDiscrValue).(type) {
			case int64:
				v.Discr, v.HasDiscr = uint64(dv), true
			case uint64:
				v.Discr, v.HasDiscr = dv, true
			}
			// debug/dwarf reads data1/2/4/8 discr values as signed
			// int64 only for sdata; unsigned fixed-size forms already
			// come out as int64 of the raw bits, which is what lldb uses.
			for _, m := range c.children {
				if m.e.Tag == dwarf.TagMember {
					mm := b.member(m)
					v.Name = mm.Name
					v.Type = mm.Type
				}
			}
			t.Variants = append(t.Variants, v)
		}
	}
}

func (b *typeBuilder) function(n *entryNode) *Function {
	e := n.e
	if _, hasPC := e.Val(dwarf.AttrLowpc).(uint64); !hasPC {
		if _, ranges := e.Val(dwarf.AttrRanges).(int64); !ranges {
			// A declaration or an abstract inline origin: its variables
			// are found through the concrete instances and inlined copies.
			if inl, ok := e.Val(dwarf.AttrInline).(int64); !ok || inl == 0 {
				return nil
			}
		}
	}
	link, name := b.linkageAndName(e)
	full := functionName(link, name)
	if full == "" {
		return nil
	}
	fn := &Function{Name: full}
	var walk func(ns []*entryNode, depth int)
	walk = func(ns []*entryNode, depth int) {
		for _, c := range ns {
			switch c.e.Tag {
			case dwarf.TagFormalParameter, dwarf.TagVariable:
				vn, vt := b.varNameType(c.e)
				if vn != "" && vt != nil {
					line, _ := b.declLine(c.e).(int64)
					fn.Vars = append(fn.Vars, Var{Name: vn, Type: vt, Param: c.e.Tag == dwarf.TagFormalParameter, Line: int(line), Depth: depth})
				}
			case dwarf.TagLexDwarfBlock:
				walk(c.children, depth+1)
			}
		}
	}
	walk(n.children, 0)
	return fn
}

// declLine is a variable's DW_AT_decl_line, from its abstract origin for
// an inlined copy.
func (b *typeBuilder) declLine(e *dwarf.Entry) any {
	if v := e.Val(dwarf.AttrDeclLine); v != nil {
		return v
	}
	if o := b.origin(e); o != nil {
		return o.Val(dwarf.AttrDeclLine)
	}
	return nil
}

// linkageAndName follows DW_AT_specification / DW_AT_abstract_origin.
func (b *typeBuilder) linkageAndName(e *dwarf.Entry) (string, string) {
	for range 4 {
		link, _ := e.Val(dwarf.AttrLinkageName).(string)
		name, _ := e.Val(dwarf.AttrName).(string)
		if link != "" || name != "" {
			if name == "" || link == "" {
				if ref := b.origin(e); ref != nil {
					l2, n2 := b.linkageAndName(ref)
					if link == "" {
						link = l2
					}
					if name == "" {
						name = n2
					}
				}
			}
			return link, name
		}
		ref := b.origin(e)
		if ref == nil {
			return "", ""
		}
		e = ref
	}
	return "", ""
}

func (b *typeBuilder) origin(e *dwarf.Entry) *dwarf.Entry {
	for _, a := range []dwarf.Attr{dwarf.AttrAbstractOrigin, dwarf.AttrSpecification} {
		if off, ok := e.Val(a).(dwarf.Offset); ok {
			if n := b.nodes[off]; n != nil {
				return n.e
			}
		}
	}
	return nil
}

func (b *typeBuilder) varNameType(e *dwarf.Entry) (string, *Type) {
	name, _ := e.Val(dwarf.AttrName).(string)
	t := b.refType(e)
	if name == "" || t == nil {
		if o := b.origin(e); o != nil {
			if name == "" {
				name, _ = o.Val(dwarf.AttrName).(string)
			}
			if t == nil {
				t = b.refType(o)
			}
		}
	}
	return name, t
}

var rustHashRE = regexp.MustCompile(`::h[0-9a-f]{16}$`)

// functionName demangles a linkage name (legacy or v0) and drops the hash.
func functionName(linkage, name string) string {
	if strings.HasPrefix(linkage, "_ZN") {
		if d, ok := demangleLegacy(linkage); ok {
			return rustHashRE.ReplaceAllString(d, "")
		}
	}
	if linkage != "" {
		d := demangle.Filter(linkage, demangle.NoParams)
		if d != linkage || !strings.HasPrefix(linkage, "_") {
			return rustHashRE.ReplaceAllString(d, "")
		}
	}
	return name
}

// Type returns the type with the given name. Exact names win; otherwise a
// unique type whose name ends with "::NAME" (so "IdeDevice" finds
// "ide::IdeDevice"), or whose name without generic arguments is NAME.
func (ts *Types) Type(name string) (*Type, error) {
	key := normTypeName(name)
	if l := ts.byName[key]; len(l) > 0 {
		return l[0], nil
	}
	var cands []string
	for n := range ts.byName {
		if strings.HasSuffix(n, "::"+key) || stripGenerics(n) == key || strings.HasSuffix(stripGenerics(n), "::"+key) {
			cands = append(cands, n)
		}
	}
	sort.Strings(cands)
	switch len(cands) {
	case 0:
		return nil, fmt.Errorf("%s: no type named %q in the DWARF", ts.Binary, name)
	case 1:
		return ts.byName[cands[0]][0], nil
	}
	if len(cands) > 8 {
		cands = append(cands[:8], "...")
	}
	return nil, fmt.Errorf("%s: type name %q is ambiguous: %s", ts.Binary, name, strings.Join(cands, ", "))
}

// TypeNames lists every named struct, enum and base type (sorted), for
// completion.
func (ts *Types) TypeNames() []string {
	out := make([]string, 0, len(ts.byName))
	for _, l := range ts.byName {
		out = append(out, l[0].Name)
	}
	sort.Strings(out)
	return out
}

// Function returns the functions whose FunctionKey equals that of name
// (several for generic functions: one per instantiation).
func (ts *Types) Function(name string) []*Function {
	return ts.funcs[FunctionKey(name)]
}

// normTypeName removes the spaces lldb and rustc put inside generic
// argument lists so that "Vec<T, A> >" and "Vec<T, A>>" compare equal.
func normTypeName(s string) string {
	s = strings.ReplaceAll(s, " >", ">")
	return strings.TrimSpace(s)
}

// stripGenerics removes every <...> argument list.
func stripGenerics(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '<':
			depth++
		case r == '>' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// demangleLegacy decodes a legacy Rust symbol (_ZN<len><ident>...E) the way
// lldb prints it: segments joined by "::", `$..$` escapes kept (FunctionKey
// unescapes them). The general demangler merges a `_` segment into the next
// one (fuzz_ide::_::__libfuzzer_sys_run), so these simple symbols are read
// here.
func demangleLegacy(sym string) (string, bool) {
	s := strings.TrimPrefix(sym, "_ZN")
	var parts []string
	for len(s) > 0 && s[0] != 'E' {
		n := 0
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			n = n*10 + int(s[i]-'0')
			i++
		}
		if i == 0 || i+n > len(s) {
			return "", false
		}
		parts = append(parts, s[i:i+n])
		s = s[i+n:]
	}
	if len(parts) == 0 || s != "E" && !strings.HasPrefix(s, "E.") && s != "E" {
		if !strings.HasPrefix(s, "E") {
			return "", false
		}
	}
	return strings.Join(parts, "::"), true
}
