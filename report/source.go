package report

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// sourceCache reads the workspace's source files for reports. Paths in
// traces are as the compiler saw them: absolute paths of the checkout that
// built the binary (possibly another directory, or another machine), or
// paths relative to the workspace. A path is mapped into this workspace by
// the longest suffix of it that exists under the root.
type sourceCache struct {
	root string
	// bases are more directories a relative path may be relative to: the
	// cargo workspaces of the targets (a standalone fuzz crate prints its
	// own files relative to itself: fuzz_targets/fuzz_x.rs).
	bases []string
	mu    sync.Mutex
	files map[string][]string // absolute path -> lines (nil: unreadable)
}

func newSourceCache(root string) *sourceCache {
	return &sourceCache{root: root, files: map[string][]string{}}
}

// maxSourceSize bounds the files read for source lines.
const maxSourceSize = 4 << 20

// resolve maps a trace's file to (path relative to the root, absolute path
// on this machine). rel is "" when the file is not in the workspace; abs is
// "" when it cannot be found.
func (c *sourceCache) resolve(file string) (rel, abs string) {
	if file == "" {
		return "", ""
	}
	clean := filepath.Clean(file)
	if !filepath.IsAbs(clean) {
		p := filepath.Join(c.root, clean)
		if isRegular(p) {
			return filepath.ToSlash(clean), p
		}
		for _, b := range c.bases {
			p := filepath.Join(b, clean)
			if r, err := filepath.Rel(c.root, p); err == nil && !strings.HasPrefix(r, "..") && isRegular(p) {
				return filepath.ToSlash(r), p
			}
		}
	} else if r, err := filepath.Rel(c.root, clean); err == nil && !strings.HasPrefix(r, "..") {
		if isRegular(clean) {
			return filepath.ToSlash(r), clean
		}
	}
	// Another checkout's absolute path: try its suffixes, longest first.
	parts := strings.Split(filepath.ToSlash(clean), "/")
	for i := 1; i < len(parts)-1; i++ {
		suffix := filepath.Join(parts[i:]...)
		if suffix == "" || suffix == "." {
			continue
		}
		p := filepath.Join(c.root, suffix)
		if isRegular(p) {
			return filepath.ToSlash(suffix), p
		}
	}
	if filepath.IsAbs(clean) && isRegular(clean) {
		return "", clean
	}
	return "", ""
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// lines returns the file's lines (nil when it cannot be read).
func (c *sourceCache) lines(abs string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.files[abs]; ok {
		return l
	}
	var out []string
	if st, err := os.Stat(abs); err == nil && st.Size() <= maxSourceSize {
		if data, err := os.ReadFile(abs); err == nil {
			out = strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
		}
	}
	c.files[abs] = out
	return out
}

// line is one source line (1-based), without trailing whitespace, or "".
func (c *sourceCache) line(abs string, n int) string {
	l := c.lines(abs)
	if n < 1 || n > len(l) {
		return ""
	}
	return strings.TrimRight(l[n-1], " \t")
}

// SourceLine is one line of source shown in a report.
type SourceLine struct {
	Line int    `json:"line" yaml:"line"`
	Text string `json:"text" yaml:"text"`
	// Current marks the line the location points at.
	Current bool `json:"current,omitempty" yaml:"current,omitempty"`
}

// context returns the lines around n (radius lines either side).
func (c *sourceCache) context(abs string, n, radius int) []SourceLine {
	l := c.lines(abs)
	if n < 1 || n > len(l) {
		return nil
	}
	var out []SourceLine
	for i := max(1, n-radius); i <= min(len(l), n+radius); i++ {
		out = append(out, SourceLine{Line: i, Text: strings.TrimRight(l[i-1], " \t"), Current: i == n})
	}
	return out
}
