package terminal

import (
	"fmt"
	"io"
	"strings"

	"github.com/fuzztriage/triage/lldbscript"
)

// writeLayout prints a type the way `type lookup` would, but readable: one
// line per field with its offset and type, an enum's variants with the
// `$variant$N` name lldb gives each and its discriminant, and for a
// wrapper the lldb path that reaches the wrapped value.
func writeLayout(w io.Writer, t *lldbscript.Type, opt lldbscript.PathOptions) {
	fmt.Fprintf(w, "%s %s", t.Kind, t.Name)
	if t.Size > 0 {
		fmt.Fprintf(w, "  (%d bytes)", t.Size)
	}
	fmt.Fprintln(w)
	switch t.Kind {
	case lldbscript.KindPointer:
		if t.Elem != nil {
			fmt.Fprintf(w, "  points to %s (a path steps through it: x.field is x->field)\n", t.Elem.Name)
		}
	case lldbscript.KindArray:
		if t.Elem != nil {
			fmt.Fprintf(w, "  %d x %s (%d bytes each): x[i]\n", t.Count, t.Elem.Name, t.Elem.Size)
		}
	case lldbscript.KindCEnum:
		for _, e := range t.Enumerators {
			fmt.Fprintf(w, "  %-24s = %d\n", e.Name, e.Value)
		}
	case lldbscript.KindEnum:
		if t.Discr != nil && t.Discr.Type != nil {
			fmt.Fprintf(w, "  discriminant: %s at offset %d (lldb: x.$variants$.$variant$N.$discr$)\n", t.Discr.Type.Name, t.Discr.Offset)
		}
		for _, v := range t.Variants {
			payload := ""
			if v.Type != nil {
				var fields []string
				for _, m := range v.Type.Members {
					if m.Type != nil {
						fields = append(fields, rustFieldName(m.Name)+": "+m.Type.Name)
					}
				}
				if len(fields) > 0 {
					payload = " { " + strings.Join(fields, ", ") + " }"
				}
			}
			discr := "every other discriminant value (niche)"
			if v.HasDiscr {
				discr = fmt.Sprintf("discriminant %d", v.Discr)
			}
			fmt.Fprintf(w, "  %s%s\n      lldb: x.$variants$.%s.value   (%s)\n", v.Name, payload, v.LLDBName(), discr)
		}
		fmt.Fprintln(w, "  Rust path: x.VARIANT.field (a one-field tuple variant's .0 may be left out)")
	case lldbscript.KindStruct, lldbscript.KindUnion:
		for _, m := range t.Members {
			tn := "?"
			if m.Type != nil {
				tn = m.Type.Name
			}
			fmt.Fprintf(w, "  @%-5d %s: %s\n", m.Offset, rustFieldName(m.Name), tn)
		}
		for _, p := range t.Params {
			if p.Type != nil {
				fmt.Fprintf(w, "  generic %s = %s\n", p.Name, p.Type.Name)
			}
		}
		if inner := wrapped(t); len(inner) > 0 {
			if p, err := lldbscript.TranslateFrom("x", t, nil, opt); err == nil && p.Type != t {
				fmt.Fprintf(w, "  a Rust path steps through it: x reaches %s at `%s`\n", p.TypeName, p.Expr)
			} else {
				fmt.Fprintf(w, "  a Rust path steps through it to %s\n", inner[0].Name)
			}
		}
	}
}
