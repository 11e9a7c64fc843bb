package lldbscript

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// WriteLayout prints a type the way `type lookup` would, but readable: the
// fields by offset with their types, an enum's variants with their
// discriminants and the names lldb-19 gives them, generic parameters, and
// for wrappers the path to the wrapped value.
func WriteLayout(w io.Writer, t *Type) {
	fmt.Fprintf(w, "%s  (%s, %d bytes)\n", t.Name, t.Kind, t.Size)
	for _, p := range t.Params {
		if p.Type != nil {
			fmt.Fprintf(w, "  generic %s = %s\n", p.Name, p.Type.Name)
		}
	}
	switch t.Kind {
	case KindEnum:
		writeEnum(w, t)
	case KindStruct, KindUnion:
		writeMembers(w, "  ", t)
	case KindPointer:
		if t.Elem != nil {
			fmt.Fprintf(w, "  points to %s (path: x->field, value: *x)\n", t.Elem.Name)
		}
	case KindArray:
		if t.Elem != nil {
			fmt.Fprintf(w, "  %d x %s (path: x[i])\n", t.Count, t.Elem.Name)
		}
	case KindCEnum:
		for _, e := range t.Enumerators {
			fmt.Fprintf(w, "  %-20s = %d\n", e.Name, e.Value)
		}
	}
	if t.IsSlice() {
		fmt.Fprintf(w, "  slice: element i is x.data_ptr[i] (lldb does not check the length)\n")
	}
	if t.Kind == KindStruct {
		if targets := wrapperTargets(cursor{expr: "x", t: t}); len(targets) > 0 {
			tc := targets[0]
			how := "a transparent std wrapper"
			if wrapperRule(t) == nil {
				how = "a generic wrapper (decided by its own fields)"
			}
			fmt.Fprintf(w, "  %s: the value %s is at %s\n", how, tc.t.Name, tc.render())
		}
		if isVec(t) {
			fmt.Fprintf(w, "  Vec: length x.len; element i is x[i] with the Vec formatter loaded\n")
		}
	}
}

func writeMembers(w io.Writer, indent string, t *Type) {
	ms := append([]*Member(nil), t.Members...)
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Offset < ms[j].Offset })
	width := 4
	for _, m := range ms {
		if len(m.Name) > width {
			width = len(m.Name)
		}
	}
	for _, m := range ms {
		tn := "?"
		if m.Type != nil {
			tn = m.Type.Name
		}
		fmt.Fprintf(w, "%s+%-4d %-*s %s\n", indent, m.Offset, width, m.Name, tn)
	}
}

func writeEnum(w io.Writer, t *Type) {
	tagged := true
	for _, v := range t.Variants {
		if !v.HasDiscr {
			tagged = false
		}
	}
	if t.Discr != nil && t.Discr.Type != nil {
		kind := "tag"
		if !tagged {
			kind = "niche"
		}
		fmt.Fprintf(w, "  %s: %s at +%d (lldb: x.$variants$.$variant$N.$discr$)\n", kind, t.Discr.Type.Name, t.Discr.Offset)
	}
	for _, v := range t.Variants {
		d := "every other value"
		if v.HasDiscr {
			d = fmt.Sprintf("%d", v.Discr)
			if v.Discr > 0xffff {
				d = fmt.Sprintf("%#x", v.Discr)
			}
		}
		fmt.Fprintf(w, "  %s  (discriminant %s; lldb: x.$variants$.%s.value)\n", v.Name, d, v.LLDBName())
		if v.Type != nil && len(v.Type.Members) > 0 {
			writeMembers(w, "      ", v.Type)
		}
	}
}

// Complete lists the ways a Rust path typed so far can go on, for an
// interactive prompt: variables of fn when there is no '.' yet, else the
// fields, variants and (through wrappers) wrapped fields of the value the
// path reaches, each as the whole path with that segment appended and
// filtered by the partial last segment.
func (ts *Types) Complete(fn *Function, typed string, opt PathOptions) []string {
	cut := strings.LastIndexAny(typed, ".[")
	if cut < 0 {
		var out []string
		for _, v := range fn.Vars {
			if strings.HasPrefix(v.Name, typed) {
				out = append(out, v.Name)
			}
		}
		return uniq(out)
	}
	prefix, partial := typed[:cut], typed[cut+1:]
	p, err := ts.Translate(fn, prefix, PathOptions{VecFormatter: opt.VecFormatter, KeepWrappers: true})
	if err != nil {
		return nil
	}
	if typed[cut] == '[' {
		if isIndexable(p.Type, opt) {
			return []string{prefix + "[0]"}
		}
		return nil
	}
	var out []string
	for _, n := range nextNames(cursor{expr: p.Expr, t: p.Type}, opt, 0) {
		if strings.HasPrefix(n, partial) {
			out = append(out, prefix+"."+n)
		}
	}
	sort.Strings(out)
	return uniq(out)
}

func isIndexable(t *Type, opt PathOptions) bool {
	return t.Kind == KindArray || t.IsSlice() || isVec(t) && opt.VecFormatter
}

// nextNames are the segment names a path can take from c.
func nextNames(c cursor, opt PathOptions, depth int) []string {
	t := c.t
	if depth > maxWrapperDepth {
		return nil
	}
	var out []string
	switch t.Kind {
	case KindEnum:
		for _, v := range t.Variants {
			out = append(out, v.Name)
		}
	case KindStruct, KindUnion:
		for _, m := range t.Members {
			if m.Artificial || m.Name == "" {
				continue
			}
			name := m.Name
			if strings.HasPrefix(name, "__") {
				name = strings.TrimPrefix(name, "__")
			}
			out = append(out, name)
		}
		if len(t.Members) == 1 && t.Members[0].Name == "__0" && t.Members[0].Type != nil {
			n := c.with(c.expr+".__0", t.Members[0].Type, "")
			out = append(out, nextNames(n, opt, depth+1)...)
		}
		for _, tc := range wrapperTargets(c) {
			out = append(out, nextNames(tc, opt, depth+1)...)
		}
	}
	return out
}
