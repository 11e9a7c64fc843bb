package terminal

import (
	"bufio"
	"debug/dwarf"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/symbolize"
)

// sourceAround reads the lines of file within n of line. The file is read
// from disk: lldb prints source only for frames a session selected, and
// cannot read std's (its /rustc/<hash>/ paths exist on no machine).
func sourceAround(file string, line, n int) ([]lldbscript.SourceLine, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []lldbscript.SourceLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for i := 1; sc.Scan(); i++ {
		if i < line-n {
			continue
		}
		if i > line+n {
			break
		}
		out = append(out, lldbscript.SourceLine{Line: i, Text: strings.TrimRight(sc.Text(), "\r"), Current: i == line})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s has no line %d", file, line)
	}
	return out, nil
}

// binaryIndex is what a session reads from a binary's DWARF besides types:
// its source files (to resolve and complete the FILE of `break FILE:LINE`)
// and its functions by the last segment of their key, with the file that
// declares each (to find the function a crash log names by its short
// DWARF name, as release backtraces do: `start_dma` is
// `ide::IdeDevice::start_dma`).
type binaryIndex struct {
	files []string
	funcs map[string][]funcEntry
}

type funcEntry struct {
	key  string // lldbscript.FunctionKey of the demangled name
	file string // declaring file ("" when unknown)
}

func loadIndex(binary string) (*binaryIndex, error) {
	ef, err := elf.Open(binary)
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	d, err := ef.DWARF()
	if err != nil {
		return nil, err
	}
	ix := &binaryIndex{funcs: map[string][]funcEntry{}}
	seenFile := map[string]bool{}
	seenFunc := map[funcEntry]bool{}
	r := d.Reader()
	var files []*dwarf.LineFile
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		switch e.Tag {
		case dwarf.TagCompileUnit:
			files = nil
			if lr, err := d.LineReader(e); err == nil && lr != nil {
				files = lr.Files()
				for _, f := range files {
					if f != nil && f.Name != "" && !seenFile[filepath.Clean(f.Name)] {
						seenFile[filepath.Clean(f.Name)] = true
						ix.files = append(ix.files, filepath.Clean(f.Name))
					}
				}
			}
		case dwarf.TagSubprogram:
			name, _ := e.Val(dwarf.AttrLinkageName).(string)
			if name == "" {
				name, _ = e.Val(dwarf.AttrName).(string)
			}
			if name == "" {
				continue
			}
			fe := funcEntry{key: lldbscript.FunctionKey(symbolize.Demangle(name))}
			if i, ok := e.Val(dwarf.AttrDeclFile).(int64); ok && i >= 0 && int(i) < len(files) && files[i] != nil {
				fe.file = filepath.Clean(files[i].Name)
			}
			if !seenFunc[fe] {
				seenFunc[fe] = true
				last := lastSegment(fe.key)
				ix.funcs[last] = append(ix.funcs[last], fe)
			}
		}
	}
	sort.Strings(ix.files)
	return ix, nil
}

// lastSegment is the part of a function key after its last "::" outside
// angle brackets.
func lastSegment(key string) string {
	depth := 0
	for i := len(key) - 1; i > 0; i-- {
		switch key[i] {
		case '>':
			depth++
		case '<':
			depth--
		case ':':
			if depth == 0 && key[i-1] == ':' {
				return key[i+1:]
			}
		}
	}
	return key
}

// resolve returns the key this binary's DWARF (and so lldb) knows a
// function by: the one function whose key ends with "::"+key, declared in
// file when file is known; else key itself. A full name wins over an
// equal short one: dev builds name functions by their linkage names, and
// only line-tables-only builds by short DWARF names.
func (ix *binaryIndex) resolve(key, file string) (string, bool) {
	if ix == nil {
		return key, false
	}
	var cands []string
	exact := false
	for _, e := range ix.funcs[lastSegment(key)] {
		if e.key == key {
			exact = true
			continue
		}
		if !strings.HasSuffix(e.key, "::"+key) {
			continue
		}
		if file != "" && e.file != "" && !sameFile(e.file, file) {
			continue
		}
		cands = append(cands, e.key)
	}
	cands = sortedUnique(cands)
	if len(cands) == 1 {
		return cands[0], true
	}
	return key, exact
}

// sameFile compares a DWARF path with a log's, either of which may be
// relative.
func sameFile(a, b string) bool {
	a, b = filepath.Clean(a), filepath.Clean(b)
	return a == b || strings.HasSuffix(a, "/"+b) || strings.HasSuffix(b, "/"+a)
}

// matchFiles returns the files whose path ends with name at a path
// component boundary ("lib.rs" matches ".../ide/src/lib.rs").
func matchFiles(files []string, name string) []string {
	name = filepath.Clean(name)
	var out []string
	for _, f := range files {
		if f == name || strings.HasSuffix(f, "/"+name) {
			out = append(out, f)
		}
	}
	return out
}

// shortestSuffix is the shortest trailing part of path (whole components)
// that no other file ends with: what `breakpoint set -f` needs to pick it.
func shortestSuffix(files []string, path string) string {
	parts := strings.Split(path, "/")
	for n := 1; n <= len(parts); n++ {
		suffix := strings.Join(parts[len(parts)-n:], "/")
		if len(matchFiles(files, suffix)) <= 1 {
			return suffix
		}
	}
	return path
}
