package inert

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":      "plain text",
		"a\nb":            `a\nb`,
		"a\rb\x00c\x1bd":  `a\rb\x00c\x1bd`,
		"bad \xff utf8":   `bad \xff utf8`,
		"line\u2028sep":   `line\u2028sep`,
		"bidi\u202eevil":  `bidi\u202eevil`,
		"tab\tis escaped": `tab\tis escaped`,
		"é ünïcode ✓":     "é ünïcode ✓",
		"c1 \u0085 next":  `c1 \u0085 next`,
	} {
		if got := Line(in); got != want {
			t.Errorf("Line(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLine: whatever the input, the output is one line of valid UTF-8
// without control characters, and clean text passes unchanged.
func FuzzLine(f *testing.F) {
	f.Add("a\nb\x1b[31m\xff")
	f.Add("plain")
	f.Fuzz(func(t *testing.T, s string) {
		out := Line(s)
		if !utf8.ValidString(out) || strings.IndexFunc(out, IsControl) >= 0 {
			t.Fatalf("Line(%q) = %q is not inert", s, out)
		}
		if utf8.ValidString(s) && strings.IndexFunc(s, IsControl) < 0 && out != s {
			t.Fatalf("clean text changed: %q -> %q", s, out)
		}
	})
}
