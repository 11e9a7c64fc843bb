package dwarfsym

import (
	"debug/elf"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fuzztriage/triage/symbolize"
)

// Symbolizer resolves code addresses of ELF binaries to functions, source
// lines and inlined call chains from their DWARF and symbol table, the way
// llvm-symbolizer does, without running it. It keeps one index per binary,
// keyed by path and GNU build id (a path whose size or modification time
// changed is re-read; two paths with one build id, like cargo's hard
// links, share an index), so a nightly run that symbolizes thousands of
// frames reads each binary's DWARF once. Safe for concurrent use.
type Symbolizer struct {
	// Rules re-tag frame categories after symbolization; nil means
	// DefaultRules.
	Rules *symbolize.Rules

	mu     sync.Mutex
	byPath map[string]pathEntry
	byID   map[string]*Binary
}

// pathEntry remembers what a path held when it was opened.
type pathEntry struct {
	size  int64
	mtime time.Time
	bin   *Binary
}

// NewSymbolizer returns an empty Symbolizer.
func NewSymbolizer() *Symbolizer {
	return &Symbolizer{byPath: map[string]pathEntry{}, byID: map[string]*Binary{}}
}

// Open returns the index of the binary at p, from the cache when the file
// is unchanged.
func (s *Symbolizer) Open(p string) (*Binary, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byPath[abs]; ok && e.size == st.Size() && e.mtime.Equal(st.ModTime()) {
		return e.bin, nil
	}
	if id := peekBuildID(abs); id != "" {
		if b, ok := s.byID[id]; ok {
			s.byPath[abs] = pathEntry{st.Size(), st.ModTime(), b}
			return b, nil
		}
	}
	b, err := openBinary(abs)
	if err != nil {
		return nil, err
	}
	s.byPath[abs] = pathEntry{st.Size(), st.ModTime(), b}
	if b.BuildID != "" {
		s.byID[b.BuildID] = b
	}
	return b, nil
}

func peekBuildID(p string) string {
	f, err := elf.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	return buildID(f)
}

func (s *Symbolizer) rules() *symbolize.Rules {
	if s.Rules != nil {
		return s.Rules
	}
	return symbolize.DefaultRules()
}

// Symbolize returns the frames at a virtual address of the binary (for a
// PIE binary: the module offset a sanitizer prints, or a runtime address
// minus the load bias), innermost inlined frame first. The address must be
// the one to look up: a return address minus one for caller frames.
//
// Raw is what llvm-symbolizer --no-demangle prints (the symbol-table name
// for the outermost frame, the DWARF linkage or short name for inlined
// ones). Function is its demangled form; when DWARF holds only a short
// name (line-tables-only release builds print "take_bytes"), Function is
// qualified with the module path of the nearest enclosing frame defined
// in the same source file ("wire_proto::take_bytes"), a best effort that
// makes release and dev builds name a function the same way.
func (b *Binary) Symbolize(addr uint64) []symbolize.Frame {
	rf := b.resolve(addr)
	return b.frames(rf, addr)
}

func (b *Binary) frames(rf []resolvedFrame, addr uint64) []symbolize.Frame {
	out := make([]symbolize.Frame, len(rf))
	for i, r := range rf {
		f := symbolize.Frame{
			Module: b.Path, Offset: addr, BuildID: b.BuildID,
			Raw: r.raw, File: r.file, Line: r.line, Column: r.col,
			Inlined: i < len(rf)-1, Resolved: true,
		}
		f.Function = symbolize.Demangle(r.raw)
		out[i] = f
	}
	qualifyShortNames(out)
	for i := range out {
		if out[i].Function != "" {
			out[i].Normalized = symbolize.NormalizeDemangled(out[i].Function)
		}
	}
	return out
}

// qualifyShortNames gives DWARF short names ("take_bytes", innermost
// first) the module path of the nearest enclosing qualified frame whose
// code is in the same file. For an enclosing trait method "<T as
// Trait>::m" the path of T is used (a method's inlined callee is most
// often another method of the same type).
func qualifyShortNames(fr []symbolize.Frame) {
	for i := range fr {
		f := &fr[i]
		if f.Function == "" || f.File == "" || strings.Contains(f.Function, "::") || strings.HasPrefix(f.Function, "<") || strings.HasPrefix(f.Function, "{") {
			continue
		}
		for j := i + 1; j < len(fr); j++ {
			if fr[j].File != f.File || !strings.Contains(fr[j].Function, "::") {
				continue
			}
			if parent := parentPath(fr[j].Function); parent != "" {
				f.Function = parent + "::" + f.Function
			}
			break
		}
	}
}

// parentPath is a demangled name without its last segment: the module
// (or type) that defines it.
func parentPath(name string) string {
	parts := symbolize.SplitPath(name)
	if len(parts) < 2 {
		return ""
	}
	head := parts[0]
	if strings.HasPrefix(head, "<") && len(parts) == 2 {
		inner := strings.TrimSuffix(strings.TrimPrefix(head, "<"), ">")
		if k := symbolize.TopLevelIndex(inner, " as "); k >= 0 {
			inner = inner[:k]
		}
		if strings.ContainsAny(inner, "<>&*[( ") {
			return ""
		}
		return inner
	}
	return strings.Join(parts[:len(parts)-1], "::")
}

// matches says a frame's module (path or build id) is this binary.
func (b *Binary) matches(module, buildID string) bool {
	if buildID != "" && b.BuildID != "" {
		return buildID == b.BuildID
	}
	if module == "" {
		return false
	}
	if filepath.Clean(module) == b.Path {
		return true
	}
	return filepath.Base(module) == filepath.Base(b.Path)
}

// LoadBias finds where the binary was loaded in the process that printed
// the trace: from libFuzzer's start-up line giving the address of the
// coverage counters, from sanitizer frames that print both an address and
// a module offset, or from frames whose symbol the binary defines (the
// one page-aligned bias that fits them all). A non-PIE binary has bias 0.
func (b *Binary) LoadBias(t *symbolize.Trace) (uint64, bool) {
	if !b.PIE {
		return 0, true
	}
	if n := b.sancovCounters[1]; n > 0 {
		for _, r := range t.Counters {
			if r[1]-r[0] == n && r[0] >= b.sancovCounters[0] {
				return r[0] - b.sancovCounters[0], true
			}
		}
	}
	for _, bt := range t.Backtraces {
		for _, f := range bt.Frames {
			if f.Address != 0 && f.Module != "" && b.matches(f.Module, f.BuildID) && f.Address >= f.Offset {
				return f.Address - f.Offset, true
			}
		}
	}
	return b.biasFromSymbols(t)
}

// biasFromSymbols intersects, over frames naming a symbol the binary
// defines, the biases that put the frame's lookup address inside that
// symbol, and accepts a unique page-aligned answer.
func (b *Binary) biasFromSymbols(t *symbolize.Trace) (uint64, bool) {
	b.byNormalizedOnce.Do(func() {
		b.byNormalized = map[string][]symbol{}
		for _, s := range b.syms {
			if s.size > 0 {
				n := symbolize.Normalize(s.name)
				b.byNormalized[n] = append(b.byNormalized[n], s)
			}
		}
	})
	byName := b.byNormalized
	var lo, hi uint64 = 0, ^uint64(0)
	used := 0
	for _, bt := range t.Backtraces {
		for _, f := range bt.Frames {
			if f.Address == 0 || f.Normalized == "" || f.Inlined {
				continue
			}
			cands := byName[f.Normalized]
			if len(cands) != 1 {
				continue
			}
			s := cands[0]
			pc := lookupAddress(bt.Source, f)
			if pc < s.addr+s.size {
				continue
			}
			// s.addr <= pc-bias < s.addr+s.size
			fLo, fHi := pc-(s.addr+s.size-1), pc-s.addr
			if fLo > lo {
				lo = fLo
			}
			if fHi < hi {
				hi = fHi
			}
			used++
		}
	}
	if used == 0 || lo > hi {
		return 0, false
	}
	first := (lo + 0xfff) &^ 0xfff
	if first > hi || first+0x1000 <= hi {
		return 0, false
	}
	return first, true
}

// lookupAddress is the address to symbolize for a printed frame: std's
// RUST_BACKTRACE=full prints return addresses (look up the call, one byte
// before); sanitizers print the return address minus one already.
func lookupAddress(source string, f symbolize.Frame) uint64 {
	if source == symbolize.SourceRust && f.Address > 0 {
		return f.Address - 1
	}
	return f.Address
}

// SymbolizeTrace fills in, from the binary at path, what the log left out
// of t's frames, in every backtrace:
//   - sanitizer frames printed as (module+offset) with no function, and
//     frames of RUST_BACKTRACE=full printed as "<unknown>": replaced by
//     their function, file and line, expanded into their inlined frames;
//   - frames with an address but no source location, or with a DWARF
//     short name: given the location and the qualified name;
//   - RUST_BACKTRACE=1 frames (no address) with a short name: qualified
//     through FunctionAt (with a file) or a unique symbol-table match.
//
// Frames of other modules (libc) are left alone. Categories are re-tagged
// and Frames re-chosen, since symbolization can make another backtrace
// the richest. It returns how many frames it changed.
func (s *Symbolizer) SymbolizeTrace(t *symbolize.Trace, binary string) (int, error) {
	b, err := s.Open(binary)
	if err != nil {
		return 0, err
	}
	bias, biasOK := b.LoadBias(t)
	changed := 0
	for bi := range t.Backtraces {
		bt := &t.Backtraces[bi]
		var out []symbolize.Frame
		fr := bt.Frames
		for i := 0; i < len(fr); {
			// A physical frame: consecutive entries with one address.
			j := i + 1
			for j < len(fr) && fr[i].Address != 0 && fr[j].Address == fr[i].Address && fr[j].Module == fr[i].Module {
				j++
			}
			group := fr[i:j]
			i = j
			addr, ok := b.FrameAddress(bt.Source, group[0], bias, biasOK)
			if !ok {
				n := b.qualifyByName(group)
				changed += n
				out = append(out, group...)
				continue
			}
			merged, n := mergeResolved(group, b.Symbolize(addr))
			changed += n
			out = append(out, merged...)
		}
		bt.Frames = out
	}
	s.rules().Tag(t)
	t.ChooseFrames()
	return changed, nil
}

// FrameAddress is the virtual address to look up for a physical frame,
// when it belongs to this binary and needs anything.
func (b *Binary) FrameAddress(source string, f symbolize.Frame, bias uint64, biasOK bool) (uint64, bool) {
	switch {
	case f.Module != "" && f.Offset != 0:
		if !b.matches(f.Module, f.BuildID) {
			return 0, false
		}
		return f.Offset, true
	case f.Address != 0 && biasOK:
		pc := lookupAddress(source, f)
		if pc < bias {
			return 0, false
		}
		v := pc - bias
		if b.textRange[1] != 0 && (v < b.textRange[0] || v >= b.textRange[1]) {
			return 0, false // another module's address (libc, the loader)
		}
		return v, true
	}
	return 0, false
}

// mergeResolved combines a printed physical frame with what the binary
// says about its address.
func mergeResolved(group, res []symbolize.Frame) ([]symbolize.Frame, int) {
	named := 0
	for _, f := range group {
		if f.Function != "" {
			named++
		}
	}
	if named == 0 {
		// Nothing printed but an address: the binary's frames replace it.
		if len(res) == 1 && res[0].Function == "" && res[0].File == "" {
			return group, 0
		}
		for k := range res {
			res[k].Index = group[0].Index
			res[k].Address = group[0].Address
			if group[0].Module != "" {
				res[k].Module = group[0].Module
			}
		}
		return res, len(res)
	}
	if len(res) != len(group) {
		return group, 0
	}
	changed := 0
	for k := range group {
		g, r := &group[k], res[k]
		touched := false
		if g.File == "" && r.File != "" {
			g.File, g.Line, g.Column = r.File, r.Line, r.Column
			touched = true
		}
		if r.Function != "" && symbolize.ShortName(g.Normalized) == symbolize.ShortName(r.Normalized) && !symbolize.IsQualified(g.Normalized) && symbolize.IsQualified(r.Normalized) {
			g.Function, g.Normalized = r.Function, r.Normalized
			touched = true
		}
		if touched {
			g.Resolved = true
			changed++
		}
	}
	return group, changed
}

// qualifyByName qualifies short names of frames that have no address
// (RUST_BACKTRACE=1): through the function at their file:line, or a
// unique symbol whose name ends the same way.
func (b *Binary) qualifyByName(group []symbolize.Frame) int {
	changed := 0
	for k := range group {
		f := &group[k]
		if f.Normalized == "" || symbolize.IsQualified(f.Normalized) || strings.HasPrefix(f.Normalized, "{") {
			continue
		}
		short := symbolize.ShortName(f.Normalized)
		qualified := ""
		if f.File != "" && f.Line > 0 {
			if sf, err := b.FunctionAt(f.File, f.Line); err == nil && symbolize.ShortName(sf.Normalized) == short && symbolize.IsQualified(sf.Normalized) {
				qualified = sf.Function
			}
		}
		if qualified == "" && f.File == "" {
			qualified = b.uniqueSymbolEndingIn(short)
		}
		if qualified != "" {
			f.Function = qualified
			f.Normalized = symbolize.NormalizeDemangled(qualified)
			f.Resolved = true
			changed++
		}
	}
	return changed
}

// uniqueSymbolEndingIn is the demangled, qualified name of the one function
// symbol whose last path segment is short; "" when none or several are.
func (b *Binary) uniqueSymbolEndingIn(short string) string {
	b.byShortOnce.Do(b.indexByShortName)
	return b.byShort[short]
}

// indexByShortName demangles the function symbols once per binary: a
// trace's unqualified frames are looked up by their short name, several
// per trace, and the symbol table holds thousands of names.
func (b *Binary) indexByShortName() {
	b.byShort = map[string]string{}
	for _, s := range b.syms {
		if s.size == 0 || !strings.HasSuffix(s.name, "E") && !strings.HasPrefix(s.name, "_R") {
			continue
		}
		d := symbolize.Demangle(s.name)
		short := symbolize.ShortName(d)
		if !strings.HasSuffix(d, "::"+short) {
			continue
		}
		if found, seen := b.byShort[short]; seen && found != d {
			d = "" // several functions end in short: none is the one
		}
		b.byShort[short] = d
	}
}

// SourceFunction is the function whose code is at a source line.
type SourceFunction struct {
	// Function is the demangled name, qualified as Symbolize qualifies
	// DWARF short names; Raw the name the binary has; Normalized the key
	// form.
	Function   string `json:"function" yaml:"function"`
	Raw        string `json:"raw" yaml:"raw"`
	Normalized string `json:"normalized" yaml:"normalized"`
	// File is the DWARF path the query matched; Line the query's line.
	File string `json:"file" yaml:"file"`
	Line int    `json:"line" yaml:"line"`
	// Inlined says the code at the line was inlined into Callers (the
	// distinct functions whose code holds it); empty when it stayed a
	// function of its own.
	Inlined bool     `json:"inlined,omitempty" yaml:"inlined,omitempty"`
	Callers []string `json:"callers,omitempty" yaml:"callers,omitempty"`
	// Addresses counts the code addresses the line table gives the line.
	Addresses int `json:"addresses" yaml:"addresses"`
}

type fileLine struct {
	file string
	line int
}

// FunctionAt opens binary (cached) and returns the function containing
// the code at file:line; see Binary.FunctionAt.
func (s *Symbolizer) FunctionAt(binary, file string, line int) (*SourceFunction, error) {
	b, err := s.Open(binary)
	if err != nil {
		return nil, err
	}
	return b.FunctionAt(file, line)
}

// CrateOf opens binary (cached) and names the crate of a source file; see
// Binary.CrateOf.
func (s *Symbolizer) CrateOf(binary, file string) (crate, rel string, err error) {
	b, err := s.Open(binary)
	if err != nil {
		return "", "", err
	}
	return b.CrateOf(file)
}

// FunctionInCrate opens binary (cached) and returns the function at a
// crate-relative location; see Binary.FunctionInCrate.
func (s *Symbolizer) FunctionInCrate(binary, crate, rel string, line int) (*SourceFunction, error) {
	b, err := s.Open(binary)
	if err != nil {
		return nil, err
	}
	return b.FunctionInCrate(crate, rel, line)
}

// FunctionAt returns the function (an inlined subroutine included) whose
// code is at the source location file:line, found through the line table
// and the DWARF inline tree: what a panic header's location names even
// when the backtrace only shows the function it was inlined into (a
// release build's "decode_message" for the panic at
// support/wire_proto/src/lib.rs:91 in wire_proto::take_bytes).
//
// file may be absolute, or relative to the directory the binary was built
// from (panic headers print crate paths relative to the cargo workspace
// root, and absolute for path dependencies outside it); it is matched
// against the DWARF paths (comp_dir joined with the file name) by whole
// trailing path components: a relative path must match all its
// components, an absolute path that the binary does not hold as-is at
// least its last two. An ambiguous or missing file, or a line without
// code, is an error.
func (b *Binary) FunctionAt(file string, line int) (*SourceFunction, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cachedFunction(fileLine{file, line}, file, func() (int, error) { return b.matchFile(file) })
}

// FunctionInCrate is FunctionAt for a file named by its crate and its path
// inside the crate ("echo", "src/lib.rs"): how a log printed on another
// machine names code whose directories differ from the binary's. The
// crate's directory comes from the binary's compile units.
func (b *Binary) FunctionInCrate(crate, rel string, line int) (*SourceFunction, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cachedFunction(fileLine{crate + "\x00" + rel, line}, crate+"/"+rel, func() (int, error) { return b.crateFile(crate, rel) })
}

// cachedFunction answers a function lookup once per key, hits and misses
// alike: keys of thousands of logs ask the same question, and a miss
// scans every unit. file finds the interned file the key names; name
// names it in errors. b.mu held.
func (b *Binary) cachedFunction(key fileLine, name string, file func() (int, error)) (*SourceFunction, error) {
	if sf, ok := b.functions[key]; ok {
		return sf, nil
	}
	if err, ok := b.functionErrs[key]; ok {
		return nil, err
	}
	sf, err := b.uncachedFunction(key, name, file)
	if err != nil {
		if b.functionErrs == nil {
			b.functionErrs = map[fileLine]error{}
		}
		b.functionErrs[key] = err
	}
	return sf, err
}

func (b *Binary) uncachedFunction(key fileLine, name string, file func() (int, error)) (*SourceFunction, error) {
	if b.dw == nil {
		return nil, fmt.Errorf("%s: no DWARF debug info", b.Path)
	}
	b.loadAll()
	fid, err := file()
	if err != nil {
		return nil, err
	}
	return b.functionAtFile(key, fid, name, key.line)
}

// crateFile finds the interned file of a crate-relative path through the
// crate's directory in the compile units. b.mu held, units loaded.
func (b *Binary) crateFile(crate, rel string) (int, error) {
	found := false
	for _, u := range b.cus {
		if u.crate != crate || u.crateDir == "" {
			continue
		}
		found = true
		if id, ok := b.fileIDs[path.Join(u.crateDir, rel)]; ok {
			return id, nil
		}
	}
	if !found {
		return 0, fmt.Errorf("%s: no crate %s in its DWARF", b.Path, crate)
	}
	return 0, fmt.Errorf("%s: crate %s has no source file %s in its DWARF", b.Path, crate, rel)
}

// CrateOf names the crate of a source file the binary was built from, and
// the file's path inside the crate, from the compile units' crate
// directories: what a key calls the file wherever it was checked out.
func (b *Binary) CrateOf(file string) (crate, rel string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.crates[file]; ok {
		return c.crate, c.rel, c.err
	}
	crate, rel, err = b.crateOf(file)
	if b.crates == nil {
		b.crates = map[string]crateOfFile{}
	}
	b.crates[file] = crateOfFile{crate, rel, err}
	return crate, rel, err
}

// crateOfFile is a cached CrateOf answer.
type crateOfFile struct {
	crate, rel string
	err        error
}

// crateOf is CrateOf uncached. b.mu held.
func (b *Binary) crateOf(file string) (crate, rel string, err error) {
	if b.dw == nil {
		return "", "", fmt.Errorf("%s: no DWARF debug info", b.Path)
	}
	b.loadAll()
	fid, err := b.matchFile(file)
	if err != nil {
		return "", "", err
	}
	name := b.files[fid]
	best := ""
	for _, u := range b.cus {
		if u.crate != "" && len(u.crateDir) > len(best) && strings.HasPrefix(name, u.crateDir+"/") {
			best, crate = u.crateDir, u.crate
		}
	}
	if crate == "" {
		return "", "", fmt.Errorf("%s: %s is in no crate's directory", b.Path, name)
	}
	return crate, strings.TrimPrefix(name, best+"/"), nil
}

// functionAtFile is FunctionAt once the file is known; file names it in
// errors. b.mu held.
func (b *Binary) functionAtFile(key fileLine, fid int, file string, line int) (*SourceFunction, error) {
	// Code at the line: line-table rows, and the call sites of inlined
	// subroutines (a line that only calls an inlined function, like
	// x.unwrap(), has no rows of its own in an optimized build).
	addrs := map[uint64]bool{}
	for _, u := range b.cus {
		for _, sq := range u.seqs {
			for _, r := range sq.rows {
				if int(r.file) == fid && int(r.line) == line {
					addrs[r.addr] = true
				}
			}
		}
		for _, t := range u.tops {
			t.node.callSitesAt(fid, line, addrs)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s: no code at %s:%d (matched %s; the line may have been optimized away)", b.Path, file, line, b.files[fid])
	}
	type vote struct {
		f       symbolize.Frame
		n       int
		inlined bool
		callers map[string]bool
	}
	votes := map[string]*vote{}
	var order []string
	sorted := make([]uint64, 0, len(addrs))
	for a := range addrs {
		sorted = append(sorted, a)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	target := b.files[fid]
	for _, a := range sorted {
		fr := b.frames(b.resolveLocked(a), a)
		for k, f := range fr {
			if f.File != target || f.Line != line || f.Function == "" {
				continue
			}
			v := votes[f.Function]
			if v == nil {
				v = &vote{f: f, callers: map[string]bool{}}
				votes[f.Function] = v
				order = append(order, f.Function)
			}
			v.n++
			if k+1 < len(fr) {
				v.inlined = true
				v.callers[fr[k+1].Function] = true
			}
			break
		}
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%s: code at %s:%d belongs to no function the DWARF describes", b.Path, file, line)
	}
	best := votes[order[0]]
	for _, name := range order[1:] {
		if votes[name].n > best.n {
			best = votes[name]
		}
	}
	sf := &SourceFunction{
		Function: best.f.Function, Raw: best.f.Raw, Normalized: best.f.Normalized,
		File: target, Line: line, Inlined: best.inlined, Addresses: len(addrs),
	}
	for c := range best.callers {
		sf.Callers = append(sf.Callers, c)
	}
	sort.Strings(sf.Callers)
	b.functions[key] = sf
	return sf, nil
}

// callSitesAt adds an address of every inlined subroutine under s that
// was called from file:line.
func (s *subroutine) callSitesAt(fid, line int, addrs map[uint64]bool) {
	for _, c := range s.children {
		if c.callFile == fid && c.callLine == line && len(c.ranges) > 0 {
			addrs[c.ranges[0][0]] = true
		}
		c.callSitesAt(fid, line, addrs)
	}
}

// matchFile finds the interned file a query names. b.mu held.
func (b *Binary) matchFile(query string) (int, error) {
	q := path.Clean(strings.TrimPrefix(query, "./"))
	qc := strings.Split(strings.TrimPrefix(q, "/"), "/")
	abs := strings.HasPrefix(q, "/")
	if abs {
		if id, ok := b.fileIDs[q]; ok {
			return id, nil
		}
	} else {
		// A relative path is what rustc printed relative to the directory
		// it ran in: exactly one unit's comp_dir joined with it decides
		// ("src/lib.rs" of a crate at the workspace root, not std's).
		exact := map[int]bool{}
		for _, u := range b.cus {
			if u.compDir == "" {
				continue
			}
			if id, ok := b.fileIDs[path.Join(u.compDir, q)]; ok {
				exact[id] = true
			}
		}
		if len(exact) == 1 {
			for id := range exact {
				return id, nil
			}
		}
	}
	best, bestScore := -1, 0
	var tied []string
	for id, f := range b.files {
		fc := strings.Split(strings.TrimPrefix(f, "/"), "/")
		m := 0
		for m < len(qc) && m < len(fc) && qc[len(qc)-1-m] == fc[len(fc)-1-m] {
			m++
		}
		ok := m == len(qc) && (abs || len(fc) >= len(qc))
		if abs && !ok && m >= 2 {
			ok = true
		}
		if !ok {
			continue
		}
		switch {
		case m > bestScore:
			best, bestScore, tied = id, m, []string{f}
		case m == bestScore:
			tied = append(tied, f)
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("%s: no source file %s in its DWARF", b.Path, query)
	}
	if len(tied) > 1 {
		sort.Strings(tied)
		return 0, fmt.Errorf("%s: source file %s is ambiguous: %s", b.Path, query, strings.Join(tied, ", "))
	}
	return best, nil
}
