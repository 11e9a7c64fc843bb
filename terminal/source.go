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

// sourceFiles lists the source files named in a binary's DWARF line
// tables, to resolve and complete the FILE of `break FILE:LINE`.
func sourceFiles(binary string) ([]string, error) {
	ef, err := elf.Open(binary)
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	d, err := ef.DWARF()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	r := d.Reader()
	for {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
			continue
		}
		lr, err := d.LineReader(e)
		if err == nil && lr != nil {
			for _, f := range lr.Files() {
				if f != nil && f.Name != "" {
					seen[filepath.Clean(f.Name)] = true
				}
			}
		}
		r.SkipChildren()
	}
	out := make([]string, 0, len(seen))
	for f := range seen {
		out = append(out, f)
	}
	sort.Strings(out)
	return out, nil
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
