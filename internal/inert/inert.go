// Package inert turns text that came from elsewhere (artifact names, crash
// output, lldb output, records synced from other machines) into one line
// that cannot do anything where it is printed: no line break to start a new
// command or heading, no terminal escape sequence, no invalid UTF-8. Every
// format's own escaping (lldb comments, Markdown, terminal output) starts
// from it.
package inert

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line returns s with every control character (line breaks, tabs, ESC,
// NUL, C1 controls, Unicode line and paragraph separators) and every
// invalid UTF-8 byte written as a Go-style escape (\n, \x1b, \u2028,
// \xff). Text without them comes back unchanged.
func Line(s string) string {
	if strings.IndexFunc(s, IsControl) < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case IsControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// IsControl says r is a character Line escapes.
func IsControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u202e' || r == '\u2066' || r == '\u2067' || r == '\u2068' || r == '\u2069' || r == '\u202a' || r == '\u202b' || r == '\u202c' || r == '\u202d'
}
