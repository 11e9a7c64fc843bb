package terminal

import (
	"context"
	"regexp"
	"strings"

	"github.com/fuzztriage/triage/lldbscript"
)

// varNames are the variables of the selected frame: from its DWARF (every
// instantiation and lexical block), and from what lldb printed there.
func (s *Session) varNames() []string {
	var out []string
	for _, fn := range s.frameFunctions(s.current()) {
		for _, v := range fn.Vars {
			out = append(out, v.Name)
		}
	}
	if v := s.views[s.selected]; v != nil {
		for _, x := range v.Variables {
			if x.Name != "" {
				out = append(out, x.Name)
			}
		}
	}
	return sortedUnique(out)
}

// varType is the DWARF type of a variable of the selected frame.
func (s *Session) varType(name string) *lldbscript.Type {
	return s.typeIn(s.current(), name)
}

// pathOptions are the translation options for the build in use.
func (s *Session) pathOptions() lldbscript.PathOptions {
	opt := lldbscript.PathOptions{VecFormatter: s.cfg.Formatters != lldbscript.FormattersNone && s.vecFormatter()}
	if f := s.current(); f != nil {
		opt.Line = f.Line
	}
	return opt
}

// vecFormatter says the Vec formatter will be loaded (so `v[i]` works).
func (s *Session) vecFormatter() bool {
	if ok, known := s.vec[s.binary]; known {
		return ok
	}
	f, err := lldbscript.FindFormatters(context.Background(), s.binary)
	s.vec[s.binary] = err == nil && f.Has("Vec")
	return s.vec[s.binary]
}

// CompletePath completes a Rust path in the selected frame: a variable
// name, or the next field, variant or tuple index after the last '.',
// stepping through wrapper types the way path translation does (after
// `ide_device.` it offers IdeDevice's fields, not Arc's `ptr`). keep is
// the part of word that stays as typed.
func (s *Session) CompletePath(word string) (keep string, options []string) {
	cut := strings.LastIndexAny(word, ".[")
	if cut < 0 {
		return "", withPrefix(s.varNames(), word)
	}
	if word[cut] == '[' {
		return "", nil
	}
	base, partial := word[:cut], word[cut+1:]
	rp, err := lldbscript.ParsePath(base)
	if err != nil {
		return "", nil
	}
	t := s.varType(rp.Var)
	if t == nil {
		return "", nil
	}
	opt := s.pathOptions()
	end, err := lldbscript.TranslateFrom(rp.Var, t, rp.Segments, opt)
	if err != nil {
		return "", nil
	}
	var out []string
	for _, name := range withPrefix(fieldNames(end.Type, 0), partial) {
		seg := lldbscript.Segment{Kind: lldbscript.SegField, Name: name}
		segs := append(append([]lldbscript.Segment(nil), rp.Segments...), seg)
		if _, err := lldbscript.TranslateFrom(rp.Var, t, segs, opt); err == nil {
			out = append(out, name)
		}
	}
	return base + ".", out
}

func withPrefix(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

var stdTypeRE = regexp.MustCompile(`^(std|core|alloc)::`)

// fieldNames are the names a Rust path may take next from a value of type
// t: a struct's fields (tuple fields as 0, 1, ...), an enum's variants,
// and through a wrapper (Arc, Mutex, a user's generic CloseableMutex<T>)
// the names of the value it wraps instead of its own internals.
func fieldNames(t *lldbscript.Type, depth int) []string {
	if t == nil || depth > 8 {
		return nil
	}
	if t.Kind == lldbscript.KindPointer {
		return fieldNames(t.Elem, depth+1)
	}
	if inner := wrapped(t); len(inner) > 0 {
		var out []string
		for _, w := range inner {
			out = append(out, fieldNames(w, depth+1)...)
		}
		return sortedUnique(out)
	}
	var out []string
	switch t.Kind {
	case lldbscript.KindEnum:
		for _, v := range t.Variants {
			out = append(out, v.Name)
		}
	case lldbscript.KindStruct, lldbscript.KindUnion:
		if len(t.Members) == 1 && t.Members[0].Name == "__0" {
			// A newtype or a variant's payload: `.0` may be skipped.
			out = append(out, "0")
			out = append(out, fieldNames(t.Members[0].Type, depth+1)...)
			break
		}
		for _, m := range t.Members {
			if m.Name == "" || m.Artificial {
				continue
			}
			out = append(out, lldbscript.RustFieldName(m.Name))
		}
	}
	return sortedUnique(out)
}

// wrapped are the types a wrapper holds: the wrapped parameter of a std
// wrapper in lldbscript's table, or each type parameter of a generic
// non-std struct that its own fields lead to (CloseableMutex<T> holds T in
// value: UnsafeCell<T>).
func wrapped(t *lldbscript.Type) []*lldbscript.Type {
	if t.Kind != lldbscript.KindStruct {
		return nil
	}
	path := t.Path()
	for _, rule := range lldbscript.WrapperTable() {
		if rule.Type.MatchString(path) {
			if p := t.Param(rule.Param); p != nil {
				return []*lldbscript.Type{p}
			}
			return nil
		}
	}
	if stdTypeRE.MatchString(t.Name) {
		return nil
	}
	var out []*lldbscript.Type
	for _, p := range t.Params {
		if p.Type != nil && reaches(t, p.Type) {
			out = append(out, p.Type)
		}
	}
	return out
}

// reaches says a value of type want lies inside t, through members and
// pointers (breadth first, a few hops).
func reaches(t, want *lldbscript.Type) bool {
	type item struct {
		t    *lldbscript.Type
		hops int
	}
	queue := []item{{t, 0}}
	seen := map[*lldbscript.Type]bool{}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if it.t == nil || seen[it.t] || it.hops > 8 {
			continue
		}
		seen[it.t] = true
		if it.hops > 0 && (it.t == want || it.t.Name != "" && it.t.Name == want.Name) {
			return true
		}
		if it.t.Kind == lldbscript.KindPointer {
			queue = append(queue, item{it.t.Elem, it.hops + 1})
			continue
		}
		if it.t.Kind != lldbscript.KindStruct {
			continue
		}
		for _, m := range it.t.Members {
			queue = append(queue, item{m.Type, it.hops + 1})
		}
	}
	return false
}

// completeFile offers source files for `break FILE:LINE`: the shortest
// unambiguous name of each file of an in-app frame, then any file of the
// binary matching what was typed.
func (s *Session) completeFile(word string) []string {
	if strings.Contains(word, ":") {
		return nil
	}
	var out []string
	for i := range s.stack {
		if f := s.stack[i].File; f != "" && s.stack[i].InApp() {
			out = append(out, shortestSuffix(s.files, f)+":")
		}
	}
	out = withPrefix(sortedUnique(out), word)
	if len(out) > 0 || word == "" {
		return out
	}
	var more []string
	for _, f := range s.files {
		sfx := shortestSuffix(s.files, f)
		if strings.HasPrefix(sfx, word) {
			more = append(more, sfx+":")
		}
	}
	if len(more) > 50 {
		more = more[:50]
	}
	return sortedUnique(more)
}
