// Package dwarfsym reads a fuzz binary's DWARF: it turns code addresses into
// frames (inlined ones included) for logs that left them unsymbolized, maps a
// panic location (file:line) to the function whose code is there even where
// a release build inlined it away, and names the crate a source file
// belongs to from the compile units. One index per binary, built on demand
// and cached for the process (Symbolizer).
package dwarfsym

import (
	"bytes"
	"cmp"
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
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

	dw *dwarf.Data
	// debugRanges is .debug_ranges when mapped (DWARF 4 range lists are
	// read directly: dwarf.Data.Ranges re-reads the unit entry per call).
	debugRanges []byte
	byteOrder   binary.ByteOrder
	syms        []symbol // sorted by address, one per address (see loadSymbols)
	cus         []*unit
	cuIndex     []cuRange // sorted by lo
	cuMaxHi     []uint64  // cuMaxHi[i] is the largest hi among cuIndex[:i+1]
	// sancovCounters is the address and size of __sancov_cntrs, which
	// libFuzzer prints at start-up ("INFO: Loaded 1 modules (N inline
	// 8-bit counters): N [0x..., 0x...)"): it gives the load bias.
	sancovCounters [2]uint64
	textRange      [2]uint64

	// byShort maps a function's short name to its one qualified,
	// demangled name ("" when several share it); built once.
	byShortOnce sync.Once
	byShort     map[string]string
	// byNormalized maps a normalized symbol name to the sized symbols
	// that have it (for load biases from frames); built once.
	byNormalizedOnce sync.Once
	byNormalized     map[string][]symbol

	mu        sync.Mutex
	names     map[dwarf.Offset]dieName // resolved subroutine names by DIE offset
	files     []string                 // interned file names
	fileIDs   map[string]int
	functions map[fileLine]*SourceFunction
	crates    map[string]crateOfFile // CrateOf's answers by file
	// functionErrs are FunctionAt's and FunctionInCrate's misses.
	functionErrs map[fileLine]error
	allLoaded    bool
}

type symbol struct {
	addr, size uint64
	name       string
	// file is the STT_FILE symbol preceding a local symbol in the table
	// (the object or codegen unit it came from); llvm-symbolizer prints it
	// when DWARF gives no file.
	file  string
	index int // position in the symbol table
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
	base   uint64 // DW_AT_low_pc of the unit: base of its range lists
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
	// compDir is DW_AT_comp_dir: the directory rustc ran in (the cargo
	// workspace root). Relative panic paths are relative to it when the
	// unit was compiled from a relative path (workspace members; cargo
	// passes other packages' paths absolute), else it is empty.
	compDir string
	// crate and crateDir name the crate the unit belongs to and the
	// crate's directory, from rustc's unit name
	// ("<dir>/src/lib.rs/@/<crate>.<hash>-cgu.0"); empty for other units.
	crate, crateDir string
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
	osf, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer osf.Close()
	// Map the file: debug sections are then read by the pages a lookup
	// touches, not copied whole (most of a cold start otherwise).
	var data []byte
	if st, err := osf.Stat(); err == nil && st.Size() > 0 && st.Size() < 1<<34 {
		data, _ = syscall.Mmap(int(osf.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_PRIVATE)
	}
	var f *elf.File
	if data != nil {
		f, err = elf.NewFile(bytes.NewReader(data))
	} else {
		f, err = elf.NewFile(osf)
	}
	if err != nil {
		if data != nil {
			syscall.Munmap(data)
		}
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
	dw, err := mappedDWARF(f, data)
	if err != nil {
		dw, err = f.DWARF()
	}
	if data != nil && (err != nil || dw == nil) {
		syscall.Munmap(data)
	}
	if err != nil {
		// No debug info: function names from the symbol table only.
		return b, nil
	}
	if data != nil && f.Class == elf.ELFCLASS64 {
		if s := f.Section(".debug_ranges"); s != nil && s.Flags&elf.SHF_COMPRESSED == 0 && s.Offset+s.FileSize <= uint64(len(data)) {
			b.debugRanges = data[s.Offset : s.Offset+s.FileSize]
			b.byteOrder = f.ByteOrder
		}
	}
	if data != nil {
		// The DWARF reader may point into the mapping: unmap once the
		// Binary (and with it the reader) is unreachable. Every string
		// taken from it is a copy.
		runtime.AddCleanup(b, func(d []byte) { syscall.Munmap(d) }, data)
	}
	b.dw = dw
	if err := b.indexUnits(); err != nil {
		return nil, fmt.Errorf("%s: DWARF: %w", p, err)
	}
	return b, nil
}

// mappedDWARF builds the DWARF reader on the mapped file's own bytes when
// every debug section is stored uncompressed in an executable or shared
// object (the mapping then lives as long as the process: binaries are few
// and the index refers to it).
func mappedDWARF(f *elf.File, data []byte) (*dwarf.Data, error) {
	if data == nil || f.Type == elf.ET_REL {
		return nil, errors.New("not mapped")
	}
	get := func(name string) ([]byte, error) {
		s := f.Section(name)
		if s == nil || s.Type == elf.SHT_NOBITS {
			return nil, nil
		}
		if s.Flags&elf.SHF_COMPRESSED != 0 || s.Offset+s.FileSize > uint64(len(data)) {
			return nil, errors.New("compressed or out of file")
		}
		return data[s.Offset : s.Offset+s.FileSize : s.Offset+s.FileSize], nil
	}
	if f.Section(".zdebug_info") != nil {
		return nil, errors.New("compressed")
	}
	names := []string{".debug_abbrev", ".debug_aranges", ".debug_frame", ".debug_info", ".debug_line", ".debug_pubnames", ".debug_ranges", ".debug_str"}
	secs := make([][]byte, len(names))
	for i, n := range names {
		d, err := get(n)
		if err != nil {
			return nil, err
		}
		secs[i] = d
	}
	if secs[3] == nil {
		return nil, errors.New("no .debug_info")
	}
	dw, err := dwarf.New(secs[0], secs[1], secs[2], secs[3], secs[4], secs[5], secs[6], secs[7])
	if err != nil {
		return nil, err
	}
	for _, n := range []string{".debug_addr", ".debug_line_str", ".debug_loclists", ".debug_rnglists", ".debug_str_offsets"} {
		d, err := get(n)
		if err != nil {
			return nil, err
		}
		if d != nil {
			if err := dw.AddSection(n, d); err != nil {
				return nil, err
			}
		}
	}
	return dw, nil
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
		sym := symbol{addr: s.Value, size: s.Size, name: s.Name, index: len(syms)}
		if elf.ST_BIND(s.Info) == elf.STB_LOCAL {
			sym.file = fileSym
		}
		syms = append(syms, sym)
	}
	// Stable by (address, size): the table index breaks ties.
	slices.SortFunc(syms, func(a, b symbol) int {
		if c := cmp.Compare(a.addr, b.addr); c != 0 {
			return c
		}
		if c := cmp.Compare(a.size, b.size); c != 0 {
			return c
		}
		return cmp.Compare(a.index, b.index)
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
		u.base, _ = e.Val(dwarf.AttrLowpc).(uint64)
		compDir, _ := e.Val(dwarf.AttrCompDir).(string)
		name, _ := e.Val(dwarf.AttrName).(string)
		u.crate, u.crateDir = unitCrate(name, compDir)
		if name != "" && !path.IsAbs(name) {
			u.compDir = compDir
		}
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
	slices.SortStableFunc(b.cuIndex, func(x, y cuRange) int { return cmp.Compare(x.lo, y.lo) })
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

// unitCrate reads the crate and its directory from a Rust compile unit's
// name: the crate root file, "/@/", then "<crate>.<hash>-cgu.<n>".
func unitCrate(name, compDir string) (crate, dir string) {
	root, cgu, ok := strings.Cut(name, "/@/")
	if !ok {
		return "", ""
	}
	// Release builds name units "<crate>.<hash>-cgu.<n>"; incremental
	// (dev) builds by a hash alone, which names no crate.
	crate, _, ok = strings.Cut(cgu, ".")
	if !ok {
		crate = ""
	}
	if !path.IsAbs(root) && compDir != "" {
		root = path.Join(compDir, root)
	}
	dir = path.Dir(root)
	for _, sub := range []string{"/src/", "/fuzz_targets/", "/benches/", "/examples/", "/tests/"} {
		if i := strings.LastIndex(root, sub); i >= 0 {
			dir = root[:i]
			break
		}
	}
	return crate, dir
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
	slices.SortStableFunc(u.seqs, func(x, y lineSeq) int { return cmp.Compare(x.lo, y.lo) })
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
			ranges := b.entryRanges(u, e)
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
	slices.SortStableFunc(u.tops, func(x, y topRange) int { return cmp.Compare(x.lo, y.lo) })
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

// entryRanges is dwarf.Data.Ranges without its unit lookup for the common
// DW_AT_low_pc + DW_AT_high_pc case.
func (b *Binary) entryRanges(u *unit, e *dwarf.Entry) [][2]uint64 {
	lowF := e.AttrField(dwarf.AttrLowpc)
	highF := e.AttrField(dwarf.AttrHighpc)
	if lowF != nil && highF != nil && e.AttrField(dwarf.AttrRanges) == nil {
		low, ok := lowF.Val.(uint64)
		if ok && lowF.Class == dwarf.ClassAddress {
			var high uint64
			switch highF.Class {
			case dwarf.ClassAddress:
				high, _ = highF.Val.(uint64)
			case dwarf.ClassConstant:
				if v, ok := highF.Val.(int64); ok {
					high = low + uint64(v)
				}
			}
			if high > low {
				return [][2]uint64{{low, high}}
			}
			return nil
		}
	}
	if f := e.AttrField(dwarf.AttrRanges); f != nil && f.Class == dwarf.ClassRangeListPtr && b.debugRanges != nil {
		if off, ok := f.Val.(int64); ok {
			if rs, ok := b.readRangeList(uint64(off), u.base); ok {
				return rs
			}
		}
	}
	ranges, _ := b.dw.Ranges(e)
	return nonEmpty(ranges)
}

// readRangeList reads a DWARF 4 .debug_ranges list of 8-byte addresses.
func (b *Binary) readRangeList(off, base uint64) ([][2]uint64, bool) {
	d := b.debugRanges
	var out [][2]uint64
	for {
		if off+16 > uint64(len(d)) {
			return nil, false
		}
		lo := b.byteOrder.Uint64(d[off:])
		hi := b.byteOrder.Uint64(d[off+8:])
		off += 16
		switch {
		case lo == 0 && hi == 0:
			return out, true
		case lo == ^uint64(0):
			base = hi
		case hi > lo:
			out = append(out, [2]uint64{base + lo, base + hi})
		}
	}
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
