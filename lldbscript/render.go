package lldbscript

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/fuzztriage/triage/regbits"
)

// Render shows a value lldb printed, on one line, using its DWARF type
// where known (t may be nil): lldb-19 prints every variant of a Rust enum
// (the inactive ones as garbage), so an enum is shown as its active variant
// only; a String as its length (its bytes need a `print`); an integer
// newtype (a register: `struct Status(u8)`, a `bitflags!` or
// `#[bitfield(uN)]` type) as hex, binary and its set bits, named from regs
// when the workspace defines the type. Every view of variables (lldb
// findings in records and reports, `triage debug`) renders through here.
func Render(t *Type, v *Value, depth int, regs regbits.Table) string {
	if v == nil {
		return ""
	}
	if t == nil {
		return Compact(v, depth)
	}
	switch {
	case t.Kind == KindEnum:
		vr, err := ActiveVariant(t, v)
		if err != nil {
			return Compact(v, 1)
		}
		payload := v.Lookup("$variants$." + vr.LLDBName() + ".value")
		if vr.Type == nil || payload == nil || len(vr.Type.Members) == 0 {
			return vr.Name
		}
		if depth <= 0 {
			return vr.Name + "(..)"
		}
		if len(vr.Type.Members) == 1 && vr.Type.Members[0].Name == "__0" {
			return vr.Name + "(" + Render(vr.Type.Members[0].Type, payload.Child("__0"), depth-1, regs) + ")"
		}
		return vr.Name + " " + renderStruct(vr.Type, payload, depth-1, regs)
	case (isVec(t) || t.Kind == KindArray) && len(v.Children) > 0:
		// Elements are typed by the Vec's T or the array's element type
		// (lldb's children carry no type of their own).
		elem := t.Elem
		if isVec(t) {
			elem = t.Param("T")
		}
		if depth <= 0 {
			return strings.TrimSpace(v.Value + " {..}")
		}
		var parts []string
		for i, c := range v.Children {
			if i >= 12 {
				parts = append(parts, fmt.Sprintf("... %d more", len(v.Children)-i))
				break
			}
			parts = append(parts, c.Name+": "+Render(elem, c, depth-1, regs))
		}
		return strings.TrimSpace(v.Value + " {" + strings.Join(parts, ", ") + "}")
	case t.Kind == KindStruct && t.Path() == "alloc::string::String":
		if n := v.Lookup("vec.len"); n != nil {
			return fmt.Sprintf("String (len %s; `print` reads the text)", n.Value)
		}
	case t.Kind == KindStruct:
		if s, ok := renderRegister(t, v, regs); ok {
			return s
		}
		if len(v.Children) > 0 {
			if depth <= 0 {
				return "{..}"
			}
			return renderStruct(t, v, depth, regs)
		}
	case t.Kind == KindBase:
		if n, err := DecodeUint(v.Value); err == nil && strings.HasPrefix(v.Value, "'") {
			return fmt.Sprintf("%d (%s)", n, v.Value)
		}
	}
	return Compact(v, depth)
}

// renderRegister shows an integer newtype as a register. Without a
// definition in the workspace only types of up to 32 bits are (ids and
// counters wrapped in u64 newtypes are not registers).
func renderRegister(t *Type, v *Value, regs regbits.Table) (string, bool) {
	if len(t.Members) != 1 || len(v.Children) != 1 {
		return "", false
	}
	m := t.Members[0]
	if m.Type == nil || m.Type.Kind != KindBase || !isIntegerName(m.Type.Name) || m.Type.Size <= 0 || m.Type.Size > 8 {
		return "", false
	}
	layout := regs.Lookup(t.Path())
	if layout == nil && m.Type.Size > 4 {
		return "", false
	}
	n, err := DecodeUint(v.Children[0].Value)
	if err != nil {
		return "", false
	}
	return regbits.Format(n, int(m.Type.Size)*8, layout), true
}

func isIntegerName(name string) bool {
	if len(name) < 2 || name[0] != 'u' && name[0] != 'i' {
		return false
	}
	_, err := strconv.Atoi(name[1:])
	return err == nil
}

func renderStruct(t *Type, v *Value, depth int, regs regbits.Table) string {
	var parts []string
	for i, c := range v.Children {
		if i >= 12 {
			parts = append(parts, fmt.Sprintf("... %d more", len(v.Children)-i))
			break
		}
		var ct *Type
		if m := t.Member(c.Name); m != nil {
			ct = m.Type
		}
		name := RustFieldName(c.Name)
		if name == "" {
			parts = append(parts, Render(ct, c, depth-1, regs))
			continue
		}
		parts = append(parts, name+": "+Render(ct, c, depth-1, regs))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// RustFieldName turns DWARF's tuple field __N into Rust's N.
func RustFieldName(name string) string {
	if n, ok := strings.CutPrefix(name, "__"); ok {
		if _, err := strconv.Atoi(n); err == nil {
			return n
		}
	}
	return name
}
