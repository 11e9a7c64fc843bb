package dedupe

import (
	"reflect"
	"testing"
)

// ParseKey reads back what String wrote, escapes included, and Title is
// one line naming the kind, the site and the message template.
func TestParseKeyAndTitle(t *testing.T) {
	for _, k := range []Key{
		{Version: 1, Kind: "rust-panic", Message: "a | b, c\\d\ne", SiteFile: "echo/src/lib.rs", Site: "echo_panic"},
		{Version: 1, Kind: "timeout", Frames: []string{"skip_padding", "x,y"}},
		{Version: 1, Kind: "stack-overflow", Cycle: []string{"read_name"}},
		{Version: 1, Kind: "alloc-failure", Message: "memory allocation failed", Entry: "decode"},
		{Version: 1, Kind: "oom", Target: "fuzz_wire_decode"},
		{Version: 1, Kind: "rust-panic", Site: "f", Callers: []string{"g", "h"}},
	} {
		got, err := ParseKey(k.String())
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if !reflect.DeepEqual(got, k) || got.String() != k.String() {
			t.Errorf("round trip of %s gave %#v", k, got)
		}
	}
	k := Key{Version: 1, Kind: "rust-panic", Message: "index out of bounds: the len is <N>\nmore", SiteFile: "chipset/src/cmos_rtc.rs", Site: "write_register"}
	if got, want := k.Title(), "Rust panic in write_register: index out of bounds: the len is <N>"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	if got, want := (Key{Version: 1, Kind: "oom", Target: "fuzz_x"}).Title(), "out of memory in fuzz_x"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	if _, err := ParseKey("not a key"); err == nil {
		t.Error("parsed a non-key")
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add("v1|rust-panic|msg=a\\|b|site=x/src/lib.rs:f")
	f.Add("v1|timeout|frames=a,b\\,c")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		// Once rewritten by String, a key reads back to itself.
		again, err := ParseKey(k.String())
		if err != nil || again.String() != k.String() {
			t.Fatalf("%q -> %#v -> %q -> %#v (%v)", s, k, k.String(), again, err)
		}
		_ = k.Title()
	})
}
