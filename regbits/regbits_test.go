package regbits

import (
	"strings"
	"testing"
)

const ideSource = `
use bitflags::bitflags;

bitflags! {
    /// The ATA status register. // struct Fake: u8 { const NOPE = 1; }
    #[derive(Default)]
    pub struct IdeStatus: u8 {
        const ERR = 0x01;
        const IDX = 1 << 1;
        const CORR = 0b100;
        const DRQ = 0x08;
        const DSC = 0x10;
        const DF = 0x20;
        const DRDY = 0x40;
        const BSY = 0x80u8;
        const READY = Self::DRDY.bits | Self::DSC.bits;
    }

    pub struct Control: u16 {
        const NIEN = (1 << 1);
        const SRST = 1 << 2 | 0;
    }
}

/* #[bitfield(u8)] struct Commented { a: bool } */
const TEXT: &str = "bitflags! { struct InString: u8 { const X = 1; } }";

#[bitfield(u8)]
#[derive(PartialEq)]
pub struct DeviceReg {
    /// Head number.
    #[bits(4)]
    pub head: u8,
    pub drv: bool,
    #[bits(1)]
    __: u8,
    pub lba: bool,
    _reserved: bool,
}

#[bitfield(u32)]
struct Unsizable {
    a: bool,
    b: SomeEnum,
    c: bool,
}
`

func TestParse(t *testing.T) {
	tab := Table{}
	tab.Add(Parse("src/lib.rs", ideSource)...)
	if got := strings.Join(tab.sortedNames(), ","); got != "Control,DeviceReg,IdeStatus" {
		t.Fatalf("types %s, want Control,DeviceReg,IdeStatus (nothing from comments, strings, or a struct with an unsized field)", got)
	}
	st := tab.Lookup("ide::IdeStatus")
	if st == nil || st.Width != 8 || len(st.Bits) != 8 || st.From != "src/lib.rs:7" {
		t.Fatalf("IdeStatus: %+v", st)
	}
	for i, b := range st.Bits {
		if b.Mask != 1<<uint(i) {
			t.Errorf("IdeStatus bit %d: %+v", i, b)
		}
	}
	if c := tab.Lookup("Control"); c == nil || c.Width != 16 || len(c.Bits) != 2 || c.Bits[1].Mask != 4 {
		t.Errorf("Control: %+v", c)
	}
	d := tab.Lookup("regs::DeviceReg<T>")
	if d == nil || len(d.Bits) != 3 || d.Bits[0] != (Bit{"head", 0x0f}) || d.Bits[1] != (Bit{"drv", 0x10}) || d.Bits[2] != (Bit{"lba", 0x40}) {
		t.Errorf("DeviceReg: %+v", d)
	}
}

func TestFormat(t *testing.T) {
	tab := Table{}
	tab.Add(Parse("src/lib.rs", ideSource)...)
	for _, c := range []struct {
		v     uint64
		width int
		typ   string
		want  string
	}{
		{0x58, 8, "IdeStatus", "0x58 = 0b0101_1000: DRQ | DSC | DRDY"},
		{0x58, 8, "", "0x58 = 0b0101_1000: bits 3, 4, 6"},
		{0x00, 8, "IdeStatus", "0x00 = 0b0000_0000: none set"},
		{0x08, 8, "", "0x08 = 0b0000_1000: bit 3"},
		{0xe5, 8, "DeviceReg", "0xe5 = 0b1110_0101: head=5 | lba | bits 5, 7"},
		{0x1ff, 8, "IdeStatus", "0xff = 0b1111_1111: ERR | IDX | CORR | DRQ | DSC | DF | DRDY | BSY"},
		{0x4, 16, "Control", "0x0004 = 0b0000_0000_0000_0100: SRST"},
	} {
		if got := Format(c.v, c.width, tab.Lookup(c.typ)); got != c.want {
			t.Errorf("Format(%#x, %d, %s) = %q, want %q", c.v, c.width, c.typ, got, c.want)
		}
	}
}

func TestLookupAmbiguous(t *testing.T) {
	tab := Table{}
	tab.Add(&Layout{Type: "Status", Width: 8}, &Layout{Type: "Status", Width: 16})
	if tab.Lookup("a::Status") != nil {
		t.Error("two types named Status: a lookup must not guess")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(ideSource)
	f.Add("bitflags! { struct A: u8 { const B = (1 << 70); const C = ((((1; } }")
	f.Add("#[bitfield(u8)] struct S { #[bits(200)] a: u8 }")
	f.Fuzz(func(t *testing.T, src string) {
		for _, l := range Parse("f.rs", src) {
			if l.Type == "" || l.Width <= 0 || l.Width > 64 {
				t.Fatalf("bad layout %+v", l)
			}
			for _, b := range l.Bits {
				if b.Mask == 0 || b.Name == "" {
					t.Fatalf("bad bit %+v in %+v", b, l)
				}
			}
			_ = Format(0xffffffffffffffff, l.Width, l)
		}
	})
}
