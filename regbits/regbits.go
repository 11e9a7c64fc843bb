// Package regbits names the bits of register-like values. Device models keep
// status and control registers in integer newtypes; lldb prints them as
// `(bits = 'X')` or `(__0 = 'X')` and an engineer works out by hand that 0x58
// is bits 3, 4 and 6, DRQ | DSC | DRDY. This package reads the bit names
// from the workspace's own definitions (`bitflags!` types and
// `#[bitfield(uN)]` structs, OpenVMM's bitfield-struct convention) and
// renders a value as hex, binary and its set bits, named where known.
package regbits

import (
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Bit is one named flag or field of a register: Mask selects its bits.
type Bit struct {
	Name string
	Mask uint64
}

// Layout is a register type's bits, in declaration order.
type Layout struct {
	// Type is the type's name as written (IdeStatus); lookups match it
	// against the last segment of a qualified name.
	Type string
	// Width is the register's width in bits (8 for `struct S: u8`).
	Width int
	Bits  []Bit
	// From says where the definition is (file:line), for people.
	From string
}

// Table holds the layouts of one workspace by type name.
type Table map[string][]*Layout

// Lookup returns the layout of the type a (possibly qualified, possibly
// generic) name names, or nil when the workspace defines none or several
// types of that name.
func (t Table) Lookup(name string) *Layout {
	if t == nil {
		return nil
	}
	if i := strings.IndexByte(name, '<'); i >= 0 {
		name = name[:i]
	}
	if i := strings.LastIndex(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	if l := t[name]; len(l) == 1 {
		return l[0]
	}
	return nil
}

// Add puts layouts into the table.
func (t Table) Add(ls ...*Layout) {
	for _, l := range ls {
		t[l.Type] = append(t[l.Type], l)
	}
}

// Scan reads every .rs file under root (not target directories, the store
// or hidden directories) and returns the layouts they define. A file that
// cannot be read is skipped: names are a convenience, never a failure.
func Scan(root string) Table {
	t := Table{}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != root && (d.Name() == "target" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, ".rs") {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(data), "bit") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		t.Add(Parse(filepath.ToSlash(rel), string(data))...)
		return nil
	})
	return t
}

// Format renders v, a register of width bits: hex, binary in nibbles and
// the set bits, by name when l knows them ("0x58 = 0b0101_1000: DRQ | DSC
// | DRDY"), else by number ("bits 3, 4, 6"). Multi-bit fields show their
// value (MODE=2). Set bits no name covers are listed by number.
func Format(v uint64, width int, l *Layout) string {
	if width <= 0 || width > 64 {
		width = 64
	}
	if width < 64 {
		v &= 1<<uint(width) - 1
	}
	digits := (width + 3) / 4
	s := fmt.Sprintf("0x%0*x = 0b%s", digits, v, binaryNibbles(v, width))
	if v == 0 {
		return s + ": none set"
	}
	var parts []string
	covered := uint64(0)
	if l != nil {
		for _, b := range l.Bits {
			if b.Mask == 0 {
				continue
			}
			val := (v & b.Mask) >> uint(bits.TrailingZeros64(b.Mask))
			if bits.OnesCount64(b.Mask) == 1 {
				if val != 0 {
					parts = append(parts, b.Name)
					covered |= b.Mask
				}
				continue
			}
			if val != 0 {
				parts = append(parts, fmt.Sprintf("%s=%d", b.Name, val))
				covered |= b.Mask
			}
		}
	}
	var rest []string
	for i := 0; i < width; i++ {
		if v&(1<<uint(i)) != 0 && covered&(1<<uint(i)) == 0 {
			rest = append(rest, fmt.Sprint(i))
		}
	}
	switch {
	case len(rest) == 0:
		return s + ": " + strings.Join(parts, " | ")
	case len(parts) == 0 && len(rest) == 1:
		return s + ": bit " + rest[0]
	case len(parts) == 0:
		return s + ": bits " + strings.Join(rest, ", ")
	default:
		return s + ": " + strings.Join(parts, " | ") + " | bits " + strings.Join(rest, ", ")
	}
}

func binaryNibbles(v uint64, width int) string {
	b := fmt.Sprintf("%0*b", width, v)
	var out strings.Builder
	for i, r := range b {
		if i > 0 && (len(b)-i)%4 == 0 {
			out.WriteByte('_')
		}
		out.WriteRune(r)
	}
	return out.String()
}

// sortedNames lists a table's type names (for tests and messages).
func (t Table) sortedNames() []string {
	var out []string
	for n := range t {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
