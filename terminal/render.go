package terminal

import (
	"fmt"
	"strings"

	"github.com/fuzztriage/triage/lldbscript"
)

// renderValue shows a value lldb printed, on one line, using its DWARF
// type where known: lldb-19 prints every variant of a Rust enum (the
// inactive ones as garbage), so an enum is shown as its active variant
// only; a String as its length (its bytes need a `print`).
func renderValue(t *lldbscript.Type, v *lldbscript.Value, depth int) string {
	if v == nil {
		return ""
	}
	if t == nil {
		return lldbscript.Compact(v, depth)
	}
	switch {
	case t.Kind == lldbscript.KindEnum:
		vr, err := lldbscript.ActiveVariant(t, v)
		if err != nil {
			return lldbscript.Compact(v, 1)
		}
		payload := v.Lookup("$variants$." + vr.LLDBName() + ".value")
		if vr.Type == nil || payload == nil || len(vr.Type.Members) == 0 {
			return vr.Name
		}
		if depth <= 0 {
			return vr.Name + "(..)"
		}
		if len(vr.Type.Members) == 1 && vr.Type.Members[0].Name == "__0" {
			return vr.Name + "(" + renderValue(vr.Type.Members[0].Type, payload.Child("__0"), depth-1) + ")"
		}
		return vr.Name + " " + renderStruct(vr.Type, payload, depth-1)
	case t.Kind == lldbscript.KindStruct && t.Path() == "alloc::string::String":
		if n := v.Lookup("vec.len"); n != nil {
			return fmt.Sprintf("String (len %s; `print` reads the text)", n.Value)
		}
	case t.Kind == lldbscript.KindStruct && len(v.Children) > 0:
		if depth <= 0 {
			return "{..}"
		}
		return renderStruct(t, v, depth)
	case t.Kind == lldbscript.KindBase:
		if n, err := lldbscript.DecodeUint(v.Value); err == nil && strings.HasPrefix(v.Value, "'") {
			return fmt.Sprintf("%d (%s)", n, v.Value)
		}
	}
	return lldbscript.Compact(v, depth)
}

func renderStruct(t *lldbscript.Type, v *lldbscript.Value, depth int) string {
	var parts []string
	for i, c := range v.Children {
		if i >= 12 {
			parts = append(parts, fmt.Sprintf("... %d more", len(v.Children)-i))
			break
		}
		var ct *lldbscript.Type
		if m := t.Member(c.Name); m != nil {
			ct = m.Type
		}
		name := rustFieldName(c.Name)
		if name == "" {
			parts = append(parts, renderValue(ct, c, depth-1))
			continue
		}
		parts = append(parts, name+": "+renderValue(ct, c, depth-1))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
