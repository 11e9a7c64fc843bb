package dedupe

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/fuzztriage/triage/symbolize"
)

// appFrames keeps the frames a key may name: the code under test and the
// fuzz target. A frame symbolize could not categorize (no rule matched and
// no file to judge by) counts when its short name is not one of the std
// helpers: release builds print the function that panicked, or that
// called the allocator, by a bare DWARF name without a file
// (`3: decode_message`), and that frame is the best evidence left.
func appFrames(frames []symbolize.Frame) []*symbolize.Frame {
	out := make([]*symbolize.Frame, 0, 8)
	for i := range frames {
		if isAppFrame(&frames[i]) {
			out = append(out, &frames[i])
		}
	}
	return out
}

func isAppFrame(f *symbolize.Frame) bool {
	if f.Category.InApp() {
		return true
	}
	if f.Category != "" && f.Category != symbolize.CategoryUnknown {
		return false
	}
	name := frameName(f)
	if name == "" || f.File != "" && isToolchainFile(f.File) {
		return false
	}
	return !helperFrames.has(symbolize.ShortName(name))
}

func frameName(f *symbolize.Frame) string {
	if f.Normalized != "" {
		return f.Normalized
	}
	return f.Function
}

// tokens gives the short names of the first n frames (all when n < 0).
func tokens(frames []*symbolize.Frame, n int) []string {
	if n < 0 || n > len(frames) {
		n = len(frames)
	}
	out := make([]string, 0, n)
	for _, f := range frames[:n] {
		out = append(out, symbolize.ShortName(frameName(f)))
	}
	return out
}

var crateVersion = regexp.MustCompile(`-[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.+-]*)?$`)

// ShortFile shortens a source path to `<crate dir>/src/<rest>` so that the
// same file has one name whether the log printed it relative to the
// workspace (`vm/devices/chipset/src/battery.rs`), absolute
// (`/work/x/vm/devices/storage/ide/src/lib.rs`, path dependencies of a
// standalone fuzz crate) or from another checkout; crates.io directories
// lose their version. A path without a src/ directory keeps its last two
// components (`fuzz_targets/fuzz_wire_decode.rs`).
func ShortFile(p string) string {
	p = strings.ReplaceAll(p, `\`, "/")
	p = strings.TrimPrefix(path.Clean(p), "./")
	if i := strings.LastIndex(p, "/src/"); i >= 0 {
		dir := p[:i]
		crate := dir[strings.LastIndex(dir, "/")+1:]
		return crateVersion.ReplaceAllString(crate, "") + p[i:]
	}
	if strings.HasPrefix(p, "src/") {
		return p
	}
	parts := strings.Split(p, "/")
	if len(parts) > 2 {
		parts = parts[len(parts)-2:]
	}
	return strings.Join(parts, "/")
}

type site struct {
	file, function, from string
	// err is why the resolver could not map the location.
	err string
	// next is the index in the app frames where the site's callers start.
	next int
}

// findSite names the function that panicked. The panic location is the
// best evidence: std's helpers are #[track_caller], so for unwrap,
// indexing, RefCell borrows and arithmetic it already points into the code
// under test. Mapped through the binary's debug info it names the innermost
// function even where release builds inlined it away; without a binary the
// frame printed at that location names it, then any frame in that file,
// then the first app frame.
func findSite(t *symbolize.Trace, frames []*symbolize.Frame, r SiteResolver, crates *CrateMap) site {
	loc := t.Location
	if loc == nil || loc.File == "" || isToolchainFile(loc.File) {
		if len(frames) > 0 {
			return site{function: symbolize.ShortName(frameName(frames[0])), from: "first-app-frame", next: 1}
		}
		return site{from: "none"}
	}
	at := func(full, from string, next int) site {
		return site{file: siteFile(loc.File, full, crates), function: symbolize.ShortName(full), from: from, next: next}
	}
	var resolveErr string
	if r != nil {
		fn, file, err := resolveSite(r, loc, frames, crates)
		if err == nil && fn != "" {
			mapped := func(next int) site {
				s := at(fn, "debug-info", next)
				if file != "" {
					s.file = file
				}
				return s
			}
			s := symbolize.ShortName(fn)
			for i := range frames {
				if symbolize.ShortName(frameName(frames[i])) == s {
					return mapped(i + 1)
				}
			}
			// Inlined away: the first app frame is the function it was
			// inlined into, the first of its callers.
			return mapped(0)
		}
		if err != nil {
			resolveErr = err.Error()
		} else {
			resolveErr = fmt.Sprintf("no code at %s:%d in the binary", loc.File, loc.Line)
		}
	}
	s := findSiteInFrames(loc, frames, crates)
	s.err = resolveErr
	return s
}

// resolveSite maps the panic location through the binary: by its path
// (after --path-map rewrites), else by its crate and path in the crate,
// which do not depend on where either side was checked out. It also names
// the site's file as <crate>/<path in crate> when the workspace's
// manifests do not (the binary's compile units know the crate).
func resolveSite(r SiteResolver, loc *symbolize.Location, frames []*symbolize.Frame, crates *CrateMap) (fn, siteFile string, err error) {
	file := crates.Rewrite(loc.File)
	if c, rel, ok := crates.Lookup(loc.File); ok {
		siteFile = c + "/" + rel
	}
	fn, err = r.FunctionAt(symbolize.Location{File: file, Line: loc.Line, Column: loc.Column})
	if err == nil && fn != "" {
		if siteFile == "" && functionCrate(fn) == "" {
			// A release build's short name names no crate: its compile
			// unit does.
			if c, rel, err := r.CrateOf(file); err == nil {
				siteFile = c + "/" + rel
			}
		}
		return fn, siteFile, nil
	}
	crate, rel := logCrate(file, frames, crates)
	if crate == "" {
		return fn, "", err
	}
	fn2, err2 := r.FunctionInCrate(crate, rel, loc.Line)
	if err2 != nil {
		if err != nil {
			return "", "", fmt.Errorf("%v; by crate: %v", err, err2)
		}
		return "", "", err2
	}
	return fn2, crate + "/" + rel, nil
}

// logCrate is the crate of a file a log names, and its path in the crate:
// from the workspace's manifests when the file is in the workspace, else
// from the function of a frame in the same file (Rust paths start with the
// crate), else from the first in-app frame.
func logCrate(file string, frames []*symbolize.Frame, crates *CrateMap) (crate, rel string) {
	if c, r, ok := crates.Lookup(file); ok {
		return c, r
	}
	rel = pathInCrate(file)
	for _, f := range frames {
		if f.File != "" && pathInCrate(crates.Rewrite(f.File)) == rel && ShortFile(crates.Rewrite(f.File)) == ShortFile(file) {
			if c := functionCrate(frameName(f)); c != "" {
				return c, rel
			}
		}
	}
	for _, f := range frames {
		if c := functionCrate(frameName(f)); c != "" {
			return c, rel
		}
	}
	return "", ""
}

// findSiteInFrames names the site from the frames alone.
func findSiteInFrames(loc *symbolize.Location, frames []*symbolize.Frame, crates *CrateMap) site {
	short := ShortFile(crates.Rewrite(loc.File))
	at := func(full, from string, next int) site {
		return site{file: siteFile(loc.File, full, crates), function: symbolize.ShortName(full), from: from, next: next}
	}
	for i, f := range frames {
		if f.File != "" && f.Line == loc.Line && ShortFile(crates.Rewrite(f.File)) == short {
			return at(frameName(f), "frame-at-location", i+1)
		}
	}
	for i, f := range frames {
		if f.File != "" && ShortFile(crates.Rewrite(f.File)) == short {
			return at(frameName(f), "frame-in-file", i+1)
		}
	}
	// The first app frame may be in another crate than the location: its
	// path does not name the file's crate.
	file := siteFile(loc.File, "", crates)
	if len(frames) > 0 {
		return site{file: file, function: symbolize.ShortName(frameName(frames[0])), from: "first-app-frame", next: 1}
	}
	return site{file: file, from: "none"}
}

// entryFrame is the outermost function of the code under test in the run of
// app frames at the top of the stack: the function the fuzz target called.
// A crash in the fuzz target itself names the fuzz target's frame.
func entryFrame(frames []*symbolize.Frame) string {
	if len(frames) == 0 {
		return ""
	}
	if frames[0].Category == symbolize.CategoryFuzzTarget {
		return symbolize.ShortName(frameName(frames[0]))
	}
	entry := frames[0]
	for _, f := range frames[1:] {
		if f.Category == symbolize.CategoryFuzzTarget {
			break
		}
		entry = f
	}
	return symbolize.ShortName(frameName(entry))
}

// findCycle finds the repeating cycle of a recursion in a list of function
// names: the period p (up to maxCycle) whose repetition covers the longest
// stretch, at least two full turns, smaller periods winning ties. The cycle
// is rotated to start at its alphabetically first rotation, since the
// overflow can strike anywhere in it. Nil when nothing repeats.
func findCycle(toks []string) []string {
	bestP, bestStart, bestCover := 0, 0, 0
	for p := 1; p <= maxCycle && 2*p <= len(toks); p++ {
		run, maxRun, maxStart := 0, 0, 0
		for i := 0; i+p < len(toks); i++ {
			if toks[i] == toks[i+p] {
				run++
				if run > maxRun {
					maxRun, maxStart = run, i-run+1
				}
			} else {
				run = 0
			}
		}
		if maxRun >= p && maxRun+p > bestCover {
			bestP, bestStart, bestCover = p, maxStart, maxRun+p
		}
	}
	if bestP == 0 {
		return nil
	}
	cycle := toks[bestStart : bestStart+bestP]
	best := cycle
	for r := 1; r < len(cycle); r++ {
		rot := append(append([]string{}, cycle[r:]...), cycle[:r]...)
		if lessSlice(rot, best) {
			best = rot
		}
	}
	return append([]string(nil), best...)
}

func lessSlice(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
