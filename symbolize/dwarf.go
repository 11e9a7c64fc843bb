package symbolize

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"sync"
)

// Binary is one ELF file's symbol table and DWARF, indexed for address
// lookups. Compile units are indexed lazily, the first time an address in
// them is looked up. A Binary is safe for concurrent use.
type Binary struct {
	Path    string
	BuildID string
	// PIE says the binary is position independent (ET_DYN): addresses in
	// a running process are its virtual addresses plus a load bias.
	PIE bool

	dw      *dwarf.Data
	syms    []symbol // sorted by address, one per address (see loadSymbols)
	cus     []*unit
	cuIndex []cuRange // sorted by lo
	cuMaxHi []uint64  // cuMaxHi[i] is the largest hi among cuIndex[:i+1]
	// sancovCounters is the address and size of __sancov_cntrs, which
	// libFuzzer prints at start-up ("INFO: Loaded 1 modules (N inline
	// 8-bit counters): N [0x..., 0x...)"): it gives the load bias.
	sancovCounters [2]uint64
	textRange      [2]uint64

	mu        sync.Mutex
	names     map[dwarf.Offset]dieName // resolved subroutine names by DIE offset
	files     []string                 // interned file names
	fileIDs   map[string]int
	functions map[fileLine]*SourceFunction
	allLoaded bool
}

type symbol struct {
	addr, size uint64
	name       string
	// file is the STT_FILE symbol preceding a local symbol in the table
	// (the object or codegen unit it came from); llvm-symbolizer prints it
	// when DWARF gives no file.
	file string
}

type cuRange struct {
	lo, hi uint64
	cu     int
}

// unit is one compile unit: its entry, and once loaded, its subroutine
// tree and line table.
type unit struct {
	offset dwarf.Offset
	entry  *dwarf.Entry
	loaded bool
	err    error
	// top-level subprograms with code, sorted by lo; maxHi[i] is the
	// largest hi among tops[:i+1], to find every range containing a pc.
	tops  []topRange
	maxHi []uint64
	// line table: sequences of rows sorted by address.
	seqs []lineSeq
	// fileOf maps the unit's file indices (DW_AT_call_file) to interned ids.
	fileOf []int
}

type topRange struct {
	lo, hi uint64
	node   *subroutine
	order  int // DIE order, later wins on overlap as in LLVM
}

// subroutine is a DW_TAG_subprogram or DW_TAG_inlined_subroutine with code.
type subroutine struct {
	ranges   [][2]uint64
	offset   dwarf.Offset // the DIE, for its name
	inlined  bool
	callFile int // interned file id of DW_AT_call_file, -1 if none
	callLine int
	callCol  int
	children []*subroutine
}

type lineSeq struct {
	lo, hi uint64
	rows   []lineRow
}

type lineRow struct {
	addr uint64
	file int32
	line int32
	col  int32
}

type dieName struct {
	linkage string // DW_AT_linkage_name found on the DIE or its origins
	name    string // DW_AT_name found likewise
}

// openBinary reads the ELF file's symbols and DWARF. The DWARF sections are
// read into memory (debug/dwarf needs them so); subroutine trees and line
// tables are built per compile unit on demand.
func openBinary(p string) (*Binary, error) {
	f, err := elf.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: not an ELF binary: %w", p, err)
	}
	defer f.Close()
	b := &Binary{
		Path:      p,
		PIE:       f.Type == elf.ET_DYN,
		names:     map[dwarf.Offset]dieName{},
		fileIDs:   map[string]int{},
		functions: map[fileLine]*SourceFunction{},
	}
	b.BuildID = buildID(f)
	if s := f.Section("__sancov_cntrs"); s != nil {
		b.sancovCounters = [2]uint64{s.Addr, s.Size}
	}
	if s := f.Section(".text"); s != nil {
		b.textRange = [2]uint64{s.Addr, s.Addr + s.Size}
	}
	if err := b.loadSymbols(f); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	dw, err := f.DWARF()
	if err != nil {
		// No debug info: function names from the symbol table only.
		return b, nil
	}
	b.dw = dw
	if err := b.indexUnits(); err != nil {
		return nil, fmt.Errorf("%s: DWARF: %w", p, err)
	}
	return b, nil
}

// buildID reads the GNU build id note.
func buildID(f *elf.File) string {
	s := f.Section(".note.gnu.build-id")
	if s == nil {
		return ""
	}
	data, err := s.Data()
	if err != nil || len(data) < 16 {
		return ""
	}
	order := f.ByteOrder
	namesz := order.Uint32(data[0:4])
	descsz := order.Uint32(data[4:8])
	typ := order.Uint32(data[8:12])
	off := 12 + (namesz+3)&^3
	if typ != 3 || uint64(off)+uint64(descsz) > uint64(len(data)) {
		return ""
	}
	return hex.EncodeToString(data[off : off+descsz])
}

// loadSymbols keeps the symbols llvm-symbolizer would use for names:
// functions, data, GNU ifuncs and named untyped symbols that live in a
// section; one per address, the largest (then the last in table order).
func (b *Binary) loadSymbols(f *elf.File) error {
	all, err := f.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		all, err = f.DynamicSymbols()
	}
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return err
	}
	syms := make([]symbol, 0, len(all))
	fileSym := ""
	for _, s := range all {
		if elf.ST_TYPE(s.Info) == elf.STT_FILE {
			fileSym = s.Name
			continue
		}
		if s.Section == elf.SHN_UNDEF || s.Section >= elf.SHN_LORESERVE {
			continue
		}
		switch elf.ST_TYPE(s.Info) {
		case elf.STT_FUNC, elf.STT_OBJECT, elf.STT_GNU_IFUNC:
		case elf.STT_NOTYPE:
			if s.Name == "" || s.Name[0] == '$' {
				continue
			}
		default:
			continue
		}
		sym := symbol{addr: s.Value, size: s.Size, name: s.Name}
		if elf.ST_BIND(s.Info) == elf.STB_LOCAL {
			sym.file = fileSym
		}
		syms = append(syms, sym)
	}
	sort.SliceStable(syms, func(i, j int) bool {
		if syms[i].addr != syms[j].addr {
			return syms[i].addr < syms[j].addr
		}
		return syms[i].size < syms[j].size
	})
	out := syms[:0]
	for i := 0; i < len(syms); i++ {
		if i+1 < len(syms) && syms[i+1].addr == syms[i].addr {
			continue
		}
		out = append(out, syms[i])
	}
	b.syms = out
	return nil
}

// symbolAt is llvm-symbolizer's symbol-table lookup: the last symbol at or
// below pc, if it is sized and covers pc or has no size.
func (b *Binary) symbolAt(pc uint64) (symbol, bool) {
	i := sort.Search(len(b.syms), func(i int) bool { return b.syms[i].addr > pc })
	if i == 0 {
		return symbol{}, false
	}
	s := b.syms[i-1]
	if s.size != 0 && s.addr+s.size <= pc {
		return symbol{}, false
	}
	return s, true
}

// indexUnits lists the compile units and their address ranges.
func (b *Binary) indexUnits() error {
	r := b.dw.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return err
		}
		if e == nil {
			break
		}
		if e.Tag != dwarf.TagCompileUnit && e.Tag != dwarf.TagPartialUnit {
			r.SkipChildren()
			continue
		}
		u := &unit{offset: e.Offset, entry: e}
		idx := len(b.cus)
		b.cus = append(b.cus, u)
		ranges, err := b.dw.Ranges(e)
		if err == nil {
			for _, rg := range ranges {
				if rg[1] > rg[0] && rg[0] != 0 {
					b.cuIndex = append(b.cuIndex, cuRange{rg[0], rg[1], idx})
				}
			}
		}
		r.SkipChildren()
	}
	sort.SliceStable(b.cuIndex, func(i, j int) bool { return b.cuIndex[i].lo < b.cuIndex[j].lo })
	b.cuMaxHi = make([]uint64, len(b.cuIndex))
	var m uint64
	for i, c := range b.cuIndex {
		if c.hi > m {
			m = c.hi
		}
		b.cuMaxHi[i] = m
	}
	return nil
}

// unitFor finds the compile unit whose ranges hold pc.
func (b *Binary) unitFor(pc uint64) *unit {
	i := sort.Search(len(b.cuIndex), func(i int) bool { return b.cuIndex[i].lo > pc })
	for k := i - 1; k >= 0 && b.cuMaxHi[k] > pc; k-- {
		if c := b.cuIndex[k]; c.lo <= pc && pc < c.hi {
			return b.cus[c.cu]
		}
	}
	return nil
}

func (b *Binary) internFile(name string) int {
	if id, ok := b.fileIDs[name]; ok {
		return id
	}
	id := len(b.files)
	b.files = append(b.files, name)
	b.fileIDs[name] = id
	return id
}

func (b *Binary) fileName(id int) string {
	if id < 0 || id >= len(b.files) {
		return ""
	}
	return b.files[id]
}

// load builds a unit's line table and subroutine tree (once; b.mu held).
func (b *Binary) load(u *unit) error {
	if u.loaded {
		return u.err
	}
	u.loaded = true
	u.err = b.loadLines(u)
	if u.err == nil {
		u.err = b.loadSubroutines(u)
	}
	return u.err
}

func (b *Binary) loadLines(u *unit) error {
	lr, err := b.dw.LineReader(u.entry)
	if err != nil || lr == nil {
		return err
	}
	var seq lineSeq
	var le dwarf.LineEntry
	fileCache := map[*dwarf.LineFile]int{}
	for {
		if err := lr.Next(&le); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if le.EndSequence {
			if len(seq.rows) > 0 {
				seq.hi = le.Address
				// Sequences of discarded functions are tombstoned at 0.
				if seq.lo != 0 || b.textRange[0] == 0 {
					u.seqs = append(u.seqs, seq)
				}
			}
			seq = lineSeq{}
			continue
		}
		fid := -1
		if le.File != nil {
			id, ok := fileCache[le.File]
			if !ok {
				id = b.internFile(path.Clean(le.File.Name))
				fileCache[le.File] = id
			}
			fid = id
		}
		if len(seq.rows) == 0 {
			seq.lo = le.Address
		}
		seq.rows = append(seq.rows, lineRow{addr: le.Address, file: int32(fid), line: int32(le.Line), col: int32(le.Column)})
	}
	sort.SliceStable(u.seqs, func(i, j int) bool { return u.seqs[i].lo < u.seqs[j].lo })
	files := lr.Files()
	u.fileOf = make([]int, len(files))
	for i, f := range files {
		u.fileOf[i] = -1
		if f != nil {
			u.fileOf[i] = b.internFile(path.Clean(f.Name))
		}
	}
	return nil
}

// row finds the line-table row for pc: the last row at or below pc in the
// sequence that holds it, as LLVM does.
func (u *unit) row(pc uint64) (lineRow, bool) {
	i := sort.Search(len(u.seqs), func(i int) bool { return u.seqs[i].lo > pc })
	for k := i - 1; k >= 0 && k >= i-4; k-- {
		s := &u.seqs[k]
		if pc < s.lo || pc >= s.hi {
			continue
		}
		j := sort.Search(len(s.rows), func(j int) bool { return s.rows[j].addr > pc })
		if j > 0 {
			return s.rows[j-1], true
		}
	}
	return lineRow{}, false
}

// noCodeTags are DIE tags whose children never hold code.
var noCodeTags = map[dwarf.Tag]bool{
	dwarf.TagBaseType: true, dwarf.TagStructType: true, dwarf.TagUnionType: true,
	dwarf.TagEnumerationType: true, dwarf.TagVariable: true, dwarf.TagFormalParameter: true,
	dwarf.TagMember: true, dwarf.TagPointerType: true, dwarf.TagArrayType: true,
	dwarf.TagSubroutineType: true, dwarf.TagTypedef: true, dwarf.TagTemplateTypeParameter: true,
	dwarf.TagTemplateValueParameter: true, dwarf.TagVariantPart: true, dwarf.TagVariant: true,
	dwarf.TagConstType: true, dwarf.TagVolatileType: true, dwarf.TagReferenceType: true,
	dwarf.TagRvalueReferenceType: true, dwarf.TagClassType: true, dwarf.TagEnumerator: true,
	dwarf.TagSubrangeType: true,
}

// loadSubroutines walks the unit's DIEs and keeps every subprogram with
// code and the inlined subroutines (through lexical blocks) inside it.
func (b *Binary) loadSubroutines(u *unit) error {
	r := b.dw.Reader()
	r.Seek(u.offset)
	if _, err := r.Next(); err != nil { // the unit entry
		return err
	}
	// stack[i] is the innermost subroutine enclosing depth i (nil outside).
	stack := []*subroutine{nil}
	order := 0
	for len(stack) > 0 {
		e, err := r.Next()
		if err != nil {
			return err
		}
		if e == nil {
			break
		}
		if e.Tag == 0 {
			stack = stack[:len(stack)-1]
			continue
		}
		parent := stack[len(stack)-1]
		cur := parent
		switch e.Tag {
		case dwarf.TagSubprogram, dwarf.TagInlinedSubroutine:
			ranges, _ := b.dw.Ranges(e)
			ranges = nonEmpty(ranges)
			if len(ranges) == 0 {
				break
			}
			s := &subroutine{ranges: ranges, offset: e.Offset, callFile: -1}
			if e.Tag == dwarf.TagInlinedSubroutine && parent != nil {
				s.inlined = true
				if v, ok := e.Val(dwarf.AttrCallFile).(int64); ok && v >= 0 && int(v) < len(u.fileOf) {
					s.callFile = u.fileOf[v]
				}
				if v, ok := e.Val(dwarf.AttrCallLine).(int64); ok {
					s.callLine = int(v)
				}
				if v, ok := e.Val(dwarf.AttrCallColumn).(int64); ok {
					s.callCol = int(v)
				}
				parent.children = append(parent.children, s)
			} else if e.Tag == dwarf.TagSubprogram {
				for _, rg := range ranges {
					u.tops = append(u.tops, topRange{lo: rg[0], hi: rg[1], node: s, order: order})
				}
				order++
			} else {
				break
			}
			cur = s
		default:
			if noCodeTags[e.Tag] {
				if e.Children {
					r.SkipChildren()
				}
				continue
			}
		}
		if e.Children {
			stack = append(stack, cur)
		}
	}
	sort.SliceStable(u.tops, func(i, j int) bool { return u.tops[i].lo < u.tops[j].lo })
	u.maxHi = make([]uint64, len(u.tops))
	var m uint64
	for i, t := range u.tops {
		if t.hi > m {
			m = t.hi
		}
		u.maxHi[i] = m
	}
	return nil
}

func nonEmpty(rs [][2]uint64) [][2]uint64 {
	out := rs[:0]
	for _, r := range rs {
		if r[1] > r[0] {
			out = append(out, r)
		}
	}
	return out
}

func (s *subroutine) contains(pc uint64) bool {
	for _, r := range s.ranges {
		if r[0] <= pc && pc < r[1] {
			return true
		}
	}
	return false
}

// chain returns the subroutines holding pc, outermost (the subprogram)
// first.
func (u *unit) chain(pc uint64) []*subroutine {
	i := sort.Search(len(u.tops), func(i int) bool { return u.tops[i].lo > pc })
	var top *subroutine
	best := -1
	for k := i - 1; k >= 0 && u.maxHi[k] > pc; k-- {
		t := u.tops[k]
		if t.lo <= pc && pc < t.hi && t.order > best {
			top, best = t.node, t.order
		}
	}
	if top == nil {
		return nil
	}
	out := []*subroutine{top}
	for cur := top; ; {
		var next *subroutine
		// The last child holding pc: LLVM's address map lets later DIEs
		// win.
		for _, c := range cur.children {
			if c.contains(pc) {
				next = c
			}
		}
		if next == nil {
			return out
		}
		out = append(out, next)
		cur = next
	}
}

// nameOf resolves a subroutine's name as llvm-symbolizer's default
// (--functions=linkage) does: a DW_AT_linkage_name on the DIE or, through
// DW_AT_abstract_origin and DW_AT_specification, on its origins; else the
// DW_AT_name found the same way. b.mu held.
func (b *Binary) nameOf(off dwarf.Offset) string {
	n := b.dieName(off, 0)
	if n.linkage != "" {
		return n.linkage
	}
	return n.name
}

func (b *Binary) dieName(off dwarf.Offset, depth int) dieName {
	if n, ok := b.names[off]; ok {
		return n
	}
	var n dieName
	if depth > 16 {
		return n
	}
	r := b.dw.Reader()
	r.Seek(off)
	e, err := r.Next()
	if err != nil || e == nil {
		return n
	}
	n.linkage, _ = e.Val(dwarf.AttrLinkageName).(string)
	if n.linkage == "" {
		n.linkage, _ = e.Val(dwarf.Attr(0x2007)).(string) // DW_AT_MIPS_linkage_name
	}
	n.name, _ = e.Val(dwarf.AttrName).(string)
	for _, a := range []dwarf.Attr{dwarf.AttrSpecification, dwarf.AttrAbstractOrigin} {
		if n.linkage != "" && n.name != "" {
			break
		}
		if ref, ok := e.Val(a).(dwarf.Offset); ok && ref != off {
			o := b.dieName(ref, depth+1)
			if n.linkage == "" {
				n.linkage = o.linkage
			}
			if n.name == "" {
				n.name = o.name
			}
		}
	}
	b.names[off] = n
	return n
}

// resolvedFrame is one frame of a code address: what llvm-symbolizer
// prints for it.
type resolvedFrame struct {
	raw     string // linkage name or DWARF name; symbol-table name outermost
	file    string
	line    int
	col     int
	inlined bool
}

// resolve maps a virtual address to its frames, innermost first, the way
// llvm-symbolizer --inlining does: the innermost frame's location from the
// line table, each caller's from the call site of the frame it inlined;
// the outermost frame named from the symbol table when it has the
// address.
func (b *Binary) resolve(pc uint64) []resolvedFrame {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.resolveLocked(pc)
}

func (b *Binary) resolveLocked(pc uint64) []resolvedFrame {
	var frames []resolvedFrame
	var u *unit
	if b.dw != nil {
		u = b.unitFor(pc)
	}
	if u != nil && b.load(u) == nil {
		chain := u.chain(pc)
		row, hasRow := u.row(pc)
		if len(chain) == 0 && hasRow {
			frames = append(frames, resolvedFrame{file: b.fileName(int(row.file)), line: int(row.line), col: int(row.col)})
		}
		for i := len(chain) - 1; i >= 0; i-- {
			s := chain[i]
			f := resolvedFrame{raw: b.nameOf(s.offset), inlined: i > 0}
			if i == len(chain)-1 {
				if hasRow {
					f.file, f.line, f.col = b.fileName(int(row.file)), int(row.line), int(row.col)
				}
			} else {
				inner := chain[i+1]
				f.file, f.line, f.col = b.fileName(inner.callFile), inner.callLine, inner.callCol
			}
			frames = append(frames, f)
		}
	}
	if len(frames) == 0 {
		frames = append(frames, resolvedFrame{})
	}
	if s, ok := b.symbolAt(pc); ok {
		outer := &frames[len(frames)-1]
		outer.raw = s.name
		if outer.file == "" {
			outer.file = s.file
		}
	}
	return frames
}

// loadAll indexes every unit (FunctionAt needs every line table). b.mu held.
func (b *Binary) loadAll() {
	if b.allLoaded || b.dw == nil {
		return
	}
	for _, u := range b.cus {
		b.load(u)
	}
	b.allLoaded = true
}
