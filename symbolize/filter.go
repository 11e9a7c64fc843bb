package symbolize

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fuzztriage/triage/rustdemangle"
)

// FilterOptions configure Filter.
type FilterOptions struct {
	// Binary, when set, is the fuzz binary whose unsymbolized frames are
	// resolved (package dwarfsym's Binary reads its DWARF).
	Binary AddressSymbolizer
	// Trace is the log parsed (for the binary's load address); Filter
	// parses the log itself when it is nil.
	Trace *Trace
}

// AddressSymbolizer is what the filter needs of a binary's debug info:
// where a frame of the log is in the binary, and what is at an address.
type AddressSymbolizer interface {
	// FrameAddress is the binary's virtual address of a frame the log
	// printed (by module offset, or by absolute address less the load
	// bias), false when the frame is not in this binary.
	FrameAddress(source string, f Frame, bias uint64, biasOK bool) (uint64, bool)
	// Symbolize returns the frames at addr, innermost inlined first.
	Symbolize(addr uint64) []Frame
	// LoadBias is the binary's load address in the process that printed t.
	LoadBias(t *Trace) (uint64, bool)
}

// Filter rewrites a crash log for people, line by line, like rustfilt and
// llvm-symbolizer in one: every mangled (Rust legacy, v0, C++) or
// lldb-half-demangled symbol is demangled, names a backtrace printed with
// ::h<hash> or [disambiguator] lose them; with a binary, every frame the
// log left unsymbolized — a sanitizer's "(bin+0x147c05)" or std's
// "<unknown>" — gets its function and source location (and its inlined
// frames), and frames with an address but no location get an "at" line.
// Text that is not a frame passes through unchanged, so any text can be
// filtered.
func Filter(log []byte, opts FilterOptions) ([]byte, error) {
	var buf bytes.Buffer
	if opts.Binary != nil && opts.Trace == nil {
		t, err := Parse(log)
		if err == nil {
			opts.Trace = t
		}
	}
	if err := FilterTo(&buf, bytes.NewReader(log), opts); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if !bytes.HasSuffix(log, []byte("\n")) {
		out = bytes.TrimSuffix(out, []byte("\n"))
	}
	return out, nil
}

// FilterTo is Filter reading the log as it comes and writing each line as
// soon as it is known: memory stays bounded whatever the log's size. With
// a binary, opts.Trace (the log parsed, for the binary's load address)
// should be set; without it frames printed with absolute addresses only
// are left as they are.
func FilterTo(w io.Writer, r io.Reader, opts FilterOptions) error {
	bin := opts.Binary
	var bias uint64
	biasOK := false
	if bin != nil && opts.Trace != nil {
		bias, biasOK = bin.LoadBias(opts.Trace)
	}
	bw := bufio.NewWriter(w)
	lines := newLineReader(r)
	emit := func(ls []string) {
		for _, l := range ls {
			bw.WriteString(l)
			bw.WriteByte('\n')
		}
	}
	for {
		line, ok := lines.next()
		if !ok {
			break
		}
		if f, ok := parseSanitizerFrame(line); ok {
			emit(filterSanitizerFrame(line, f, bin, bias, biasOK))
			continue
		}
		if f, prefix, ok := parseRustFrameLine(line); ok {
			// One physical frame: its lines (inlined frames share the
			// address), each with its "at" line if any.
			group := []rustLine{{prefix: prefix, f: f}}
			for {
				if at, ok := lines.peek(); ok && strings.HasPrefix(strings.TrimLeft(at, " "), "at ") {
					group[len(group)-1].at = at
					lines.next()
				}
				nextLine, ok := lines.peek()
				if !ok {
					break
				}
				nf, np, ok := parseRustFrameLine(nextLine)
				if !ok || nf.Address == 0 || nf.Address != group[0].f.Address {
					break
				}
				lines.next()
				group = append(group, rustLine{prefix: np, f: nf})
			}
			emit(filterRustGroup(group, bin, bias, biasOK))
			continue
		}
		emit([]string{demangleTokens(line)})
	}
	if err := lines.err(); err != nil {
		return err
	}
	return bw.Flush()
}

// lineReader reads lines (cut at MaxLineLength) with one line of lookahead.
type lineReader struct {
	br      *bufio.Reader
	ahead   string
	hasNext bool
	e       error
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, MaxLineLength)}
}

func (l *lineReader) read() (string, bool) {
	line, err := l.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s := string(line)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = l.br.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			l.e = err
		}
		return strings.TrimSuffix(s, "\n"), true
	}
	if err != nil && err != io.EOF {
		l.e = err
		return "", false
	}
	if len(line) == 0 && err == io.EOF {
		return "", false
	}
	return strings.TrimSuffix(string(line), "\n"), true
}

func (l *lineReader) next() (string, bool) {
	if l.hasNext {
		l.hasNext = false
		return l.ahead, true
	}
	return l.read()
}

func (l *lineReader) peek() (string, bool) {
	if !l.hasNext {
		l.ahead, l.hasNext = l.read()
	}
	return l.ahead, l.hasNext
}

func (l *lineReader) err() error { return l.e }

type rustLine struct {
	prefix string
	f      Frame
	at     string // the frame's "at FILE:LINE:COL" line as printed, if any
}

func filterRustGroup(group []rustLine, bin AddressSymbolizer, bias uint64, biasOK bool) []string {
	var out []string
	plain := func() []string {
		for _, g := range group {
			name := g.f.Function
			if name == "" {
				name = "<unknown>"
			}
			out = append(out, g.prefix+name)
			if g.at != "" {
				out = append(out, g.at)
			}
		}
		return out
	}
	missing := false
	for _, g := range group {
		if g.at == "" || g.f.Function == "" {
			missing = true
		}
	}
	if bin == nil || !biasOK || group[0].f.Address == 0 || !missing {
		return plain()
	}
	v, ok := bin.FrameAddress(SourceRust, group[0].f, bias, true)
	if !ok {
		return plain()
	}
	res := bin.Symbolize(v)
	atIndent := strings.Repeat(" ", len(group[0].prefix)+4)
	at := func(r Frame) string { return atIndent + "at " + formatLocation(r.File, r.Line, r.Column) }
	if len(group) == 1 && group[0].f.Function == "" {
		// "<unknown>": the binary's frames, inlined ones on unnumbered
		// lines as older std printed them.
		if len(res) == 1 && res[0].Function == "" {
			return plain()
		}
		indent := strings.Repeat(" ", len(group[0].prefix))
		for k, r := range res {
			p := indent
			if k == 0 {
				p = group[0].prefix
			}
			out = append(out, p+r.Function)
			if r.File != "" {
				out = append(out, at(r))
			}
		}
		return out
	}
	if len(res) != len(group) {
		return plain()
	}
	for k, g := range group {
		r := res[k]
		name := g.f.Function
		if name == "" || !IsQualified(name) && ShortName(name) == ShortName(r.Normalized) {
			name = r.Function
		}
		out = append(out, g.prefix+name)
		switch {
		case g.at != "":
			out = append(out, g.at)
		case r.File != "":
			out = append(out, at(r))
		}
	}
	return out
}

// parseRustFrameLine reads "  12: symbol" and "  12:     0xADDR - symbol",
// returning the frame and the text before the symbol.
func parseRustFrameLine(line string) (Frame, string, bool) {
	t := strings.TrimLeft(line, " ")
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 || i+1 >= len(t) || t[i] != ':' || t[i+1] != ' ' {
		return Frame{}, "", false
	}
	rest := strings.TrimLeft(t[i+1:], " ")
	symStart := len(line) - len(rest)
	f := Frame{}
	if strings.HasPrefix(rest, "0x") {
		addr, sym, ok := strings.Cut(rest, " - ")
		if !ok {
			return Frame{}, "", false
		}
		a, ok := parseHexPrefix(addr)
		if !ok {
			return Frame{}, "", false
		}
		f.Address = a
		symStart = len(line) - len(sym)
		rest = sym
	}
	if rest == "<unknown>" {
		rest = ""
	}
	f.Raw = rest
	f.Function = Demangle(rest)
	return f, line[:symStart], true
}

func filterSanitizerFrame(line string, f Frame, bin AddressSymbolizer, bias uint64, biasOK bool) []string {
	hash := strings.Index(line, "#")
	head := line[:hash] + fmt.Sprintf("#%d 0x%x", f.Index, f.Address)
	if bin != nil && (f.Raw == "" || f.File == "") {
		if v, ok := bin.FrameAddress(SourceSanitizer, f, bias, biasOK); ok {
			res := bin.Symbolize(v)
			if len(res) > 1 || res[0].Function != "" && (f.Raw == "" || res[0].File != "") {
				out := make([]string, 0, len(res))
				for _, r := range res {
					s := head + " in " + r.Function
					if r.File != "" {
						s += " " + formatLocation(r.File, r.Line, r.Column)
					} else if f.Module != "" {
						s += fmt.Sprintf(" (%s+0x%x)", f.Module, f.Offset)
					}
					out = append(out, s)
				}
				return out
			}
		}
	}
	if f.Raw == "" {
		return []string{line}
	}
	// Demangle the function where the line has it (after " in ", or
	// first after the frame number in ThreadSanitizer's and Chromium's
	// formats), keep the rest of the line as printed.
	from := hash
	if in := strings.Index(line, " in "); in >= 0 {
		from = in
	}
	i := strings.Index(line[from:], f.Raw)
	if i < 0 {
		return []string{line}
	}
	start := from + i
	return []string{line[:start] + Demangle(f.Raw) + line[start+len(f.Raw):]}
}

func formatLocation(file string, line, col int) string {
	switch {
	case line == 0:
		return file
	case col == 0:
		return fmt.Sprintf("%s:%d", file, line)
	}
	return fmt.Sprintf("%s:%d:%d", file, line, col)
}

// demangleTokens demangles every mangled or half-demangled symbol in a
// line of free text.
func demangleTokens(line string) string {
	if !strings.Contains(line, "_Z") && !strings.Contains(line, "_R") && !strings.Contains(line, "$") {
		return line
	}
	var b strings.Builder
	i := 0
	changed := false
	for i < len(line) {
		j := i
		for j < len(line) && isSymbolByte(line[j]) {
			j++
		}
		if j == i {
			b.WriteByte(line[i])
			i++
			continue
		}
		tok := line[i:j]
		if d := demangleToken(tok); d != tok {
			b.WriteString(d)
			changed = true
		} else {
			b.WriteString(tok)
		}
		i = j
	}
	if !changed {
		return line
	}
	return b.String()
}

// isSymbolByte: the bytes mangled names and lldb's half-demangled names
// are made of.
func isSymbolByte(c byte) bool {
	return isIdentByte(c) || c == '$' || c == '.' || c == ':'
}

func demangleToken(tok string) string {
	core := strings.TrimRight(tok, ".:")
	trail := tok[len(core):]
	switch {
	case isMangled(core):
		if d, ok := demangleMangled(core); ok {
			return Demangle(d) + trail
		}
	case strings.Contains(core, "$") && rustdemangle.HasEscape(core):
		return Demangle(core) + trail
	}
	return tok
}
