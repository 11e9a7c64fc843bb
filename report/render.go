package report

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"text/template"
	"time"

	"github.com/fuzztriage/triage/internal/inert"
	"github.com/fuzztriage/triage/templates"
)

// Funcs are the functions report templates (the embedded ones and a
// user's --template) can call. Every value of a Bug that came from outside
// (names, messages, lldb output) goes through one of md, code, cell,
// cellcode or a fence sized by fence: none of them lets the value change
// the report's structure.
var Funcs = map[string]any{
	// md is plain running text: Markdown and HTML syntax is escaped, line
	// breaks become escapes.
	"md": MarkdownText,
	// code is inline code that survives backticks and line breaks in its
	// text.
	"code": MarkdownCode,
	// fence is a code fence longer than any backtick run in s.
	"fence": func(s string) string { return strings.Repeat("`", max(3, longestRun(s, '`')+1)) },
	// cell is plain text in a Markdown table cell.
	"cell": MarkdownText,
	// cellcode is inline code in a Markdown table cell.
	"cellcode": func(s string) string { return strings.ReplaceAll(MarkdownCode(s), "|", `\|`) },
	// cmdlines joins commands' lines (to size a fence around them).
	"cmdlines": func(cs []Command) string {
		var b strings.Builder
		for _, c := range cs {
			b.WriteString(c.Tool + "\n" + c.Line + "\n")
		}
		return b.String()
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"unix": func(t time.Time) int64 { return t.Unix() },
	// rate is "reproducible (3/3, 100%)".
	"rate": func(p *ProfileResult) string {
		if p == nil {
			return "not run"
		}
		if p.Tries == 0 {
			return p.Status
		}
		return fmt.Sprintf("%s (%d/%d, %.0f%%)", p.Status, p.Crashes, p.Tries, p.Rate*100)
	},
	"join": strings.Join,
	// plural picks the word for a count of any integer type.
	"plural": func(n any, one, many string) string {
		if reflect.ValueOf(n).Convert(reflect.TypeOf(int64(0))).Int() == 1 {
			return one
		}
		return many
	},
	"col": func(c int) string {
		if c <= 0 {
			return ""
		}
		return fmt.Sprintf(":%d", c)
	},
	// lines joins source lines' text (to size a fence around them).
	"lines": func(ls []SourceLine) string {
		var b strings.Builder
		for _, l := range ls {
			b.WriteString(l.Text)
			b.WriteByte('\n')
		}
		return b.String()
	},
	"sub": func(a, b int) int { return a - b },
	"ms": func(ms int64) string {
		return (time.Duration(ms) * time.Millisecond).Round(100 * time.Millisecond).String()
	},
}

func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

// Template is a parsed text report template.
type Template struct {
	t *template.Template
	// Source is "embedded" or the file it came from.
	Source string
}

// DefaultTemplate is the embedded Markdown report template.
func DefaultTemplate() (*Template, error) {
	text, err := templates.Report(templates.ReportMarkdown)
	if err != nil {
		return nil, err
	}
	return ParseTemplate(templates.ReportMarkdown, text, "embedded")
}

// LoadTemplate reads a user's report template (text/template over Bug).
func LoadTemplate(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report template: %w", err)
	}
	return ParseTemplate(path, string(data), path)
}

// ParseTemplate parses template text; name is used in errors.
func ParseTemplate(name, text, source string) (*Template, error) {
	t, err := template.New(name).Funcs(Funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("report template %s: %w", name, err)
	}
	return &Template{t: t, Source: source}, nil
}

// Render writes the report of bug.
func (t *Template) Render(w io.Writer, bug *Bug) error {
	var b strings.Builder
	if err := t.t.Execute(&b, bug); err != nil {
		return fmt.Errorf("rendering %s with %s: %w", bug.ID, t.Source, err)
	}
	out := collapseBlankLines(b.String())
	_, err := io.WriteString(w, out)
	return err
}

// collapseBlankLines keeps at most one blank line in a row and ends the
// text with exactly one newline, so templates can be laid out for reading.
func collapseBlankLines(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	inFence := ""
	for _, l := range lines {
		trimmed := strings.TrimRight(l, " \t")
		if f := fenceOf(trimmed); f != "" {
			switch {
			case inFence == "":
				inFence = f
			case strings.TrimSpace(trimmed) == inFence:
				inFence = ""
			}
		}
		if trimmed == "" && inFence == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n")) + "\n"
}

func fenceOf(l string) string {
	l = strings.TrimSpace(l)
	n := 0
	for n < len(l) && l[n] == '`' {
		n++
	}
	if n < 3 {
		return ""
	}
	return l[:n]
}

// MarkdownCode is s as inline code: a backtick run longer than any in s,
// and control characters (line breaks above all, which would end the span
// and start a heading or a list) as escapes.
func MarkdownCode(s string) string {
	s = inert.Line(s)
	if s == "" {
		return "``"
	}
	n := longestRun(s, '`') + 1
	ticks := strings.Repeat("`", n)
	if n > 1 || strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return ticks + " " + s + " " + ticks
	}
	return ticks + s + ticks
}

// markdownEscaper backslash-escapes the ASCII punctuation that means
// something in running Markdown text, and writes HTML's as entities.
var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "(", `\(`, ")", `\)`,
	"#", `\#`, "!", `\!`, "|", `\|`, "~", `\~`, "<", "&lt;", ">", "&gt;", "&", "&amp;",
)

// MarkdownText is s as running text: nothing in it starts a heading, a
// list, a link, an image, emphasis, code or HTML.
func MarkdownText(s string) string {
	s = markdownEscaper.Replace(inert.Line(s))
	// A line start is only at the very beginning here (Comment removed
	// line breaks): "-", "+" and "1." there would start a list.
	if len(s) > 0 && (s[0] == '-' || s[0] == '+' || s[0] == '=') {
		s = `\` + s
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i > 0 && (s[i] == '.') {
		s = s[:i] + `\` + s[i:]
	}
	return s
}
