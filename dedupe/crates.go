package dedupe

import (
	"path"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// A key names a source file by its crate and its path inside the crate
// ("echo/src/lib.rs"), never by anything above the package root: the same
// workspace cloned into another directory, or built on another machine,
// must give the same ids.

// Crate is one package of a workspace: its library name (hyphens as
// underscores, as Rust symbols spell it) and its directory.
type Crate struct {
	Name string
	Dir  string // absolute
}

// CrateMap finds the crate of a source file from a workspace's manifests,
// with path rewrites for logs printed elsewhere (--path-map OLD=NEW, like
// llvm-symbolizer's and gdb's substitute-path).
type CrateMap struct {
	crates []Crate // longest directory first
	// Bases are the directories a relative path may be relative to (the
	// cargo workspace roots: rustc prints member crates' paths relative to
	// their workspace root).
	bases []string
	// rewrites are OLD=NEW prefix substitutions, tried in order.
	rewrites [][2]string
}

// NewCrateMap makes a map over crates; bases are the directories relative
// paths are tried against.
func NewCrateMap(crates []Crate, bases []string, rewrites [][2]string) *CrateMap {
	m := &CrateMap{crates: append([]Crate(nil), crates...), bases: bases, rewrites: rewrites}
	sort.SliceStable(m.crates, func(i, j int) bool { return len(m.crates[i].Dir) > len(m.crates[j].Dir) })
	return m
}

// Rewrite applies the first matching OLD=NEW substitution.
func (m *CrateMap) Rewrite(file string) string {
	if m == nil {
		return file
	}
	for _, rw := range m.rewrites {
		if rest, ok := strings.CutPrefix(file, rw[0]); ok && (rest == "" || strings.HasPrefix(rest, "/") || strings.HasSuffix(rw[0], "/")) {
			return rw[1] + rest
		}
	}
	return file
}

// Lookup returns the crate of file and the file's path inside it.
func (m *CrateMap) Lookup(file string) (crate, rel string, ok bool) {
	if m == nil || file == "" {
		return "", "", false
	}
	file = m.Rewrite(file)
	cands := []string{file}
	if !filepath.IsAbs(file) {
		cands = cands[:0]
		for _, b := range m.bases {
			cands = append(cands, filepath.Join(b, file))
		}
	}
	for _, c := range cands {
		c = filepath.Clean(c)
		for _, cr := range m.crates {
			if r, err := filepath.Rel(cr.Dir, c); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
				return cr.Name, filepath.ToSlash(r), true
			}
		}
	}
	return "", "", false
}

// CrateName is a package name as Rust symbols spell it.
func CrateName(pkg string) string { return strings.ReplaceAll(pkg, "-", "_") }

// functionCrate is the crate a Rust function path names first
// ("wire_proto::take_bytes", "<chipset::cmos_rtc::CmosRtc as
// chipset::ChipsetDevice>::io_write"), or "" for a bare name.
func functionCrate(fn string) string {
	fn = strings.TrimLeft(fn, "<&*")
	for _, p := range []string{"mut ", "const ", "dyn "} {
		fn = strings.TrimPrefix(fn, p)
	}
	name, _, ok := strings.Cut(fn, "::")
	if !ok || name == "" {
		return ""
	}
	for _, r := range name {
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return ""
		}
	}
	switch name {
	case "std", "core", "alloc", "_", "{closure}":
		return ""
	}
	return name
}

// pathInCrate is the path of file inside its crate when only the crate's
// name is known: from the last src/ (or fuzz_targets/, benches/, ...)
// directory on.
func pathInCrate(file string) string {
	p := strings.TrimPrefix(path.Clean(filepath.ToSlash(file)), "./")
	for _, dir := range []string{"/src/", "/fuzz_targets/", "/benches/", "/examples/", "/tests/"} {
		if i := strings.LastIndex(p, dir); i >= 0 {
			return p[i+1:]
		}
	}
	for _, dir := range []string{"src/", "fuzz_targets/"} {
		if strings.HasPrefix(p, dir) {
			return p
		}
	}
	return path.Base(p)
}

// siteFile names the panic location's file for a key: crate and path in
// crate from the workspace's manifests, else from the crate the site
// function's path names, else the directory before src/ (ShortFile).
func siteFile(file, function string, crates *CrateMap) string {
	if crate, rel, ok := crates.Lookup(file); ok {
		return crate + "/" + rel
	}
	if c := functionCrate(function); c != "" {
		return c + "/" + pathInCrate(file)
	}
	return ShortFile(crates.Rewrite(file))
}
