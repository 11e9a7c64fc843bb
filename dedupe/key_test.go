package dedupe

import (
	"strings"
	"testing"

	"github.com/fuzztriage/triage/symbolize"
)

func TestMessageTemplate(t *testing.T) {
	cases := []struct{ in, want string }{
		{"index out of bounds: the len is 4 but the index is 243", "index out of bounds: the len is <N> but the index is <N>"},
		{"index out of bounds: the len is 9 but the index is 12", "index out of bounds: the len is <N> but the index is <N>"},
		{"range end index 11 out of range for slice of length 3", "range end index <N> out of range for slice of length <N>"},
		{"READ DMA without a PRD table: channel 0 drive 1 with 256 sectors pending",
			"READ DMA without a PRD table: channel <N> drive <N> with <N> sectors pending"},
		{"assertion `left == right` failed: PIO write payload does not match the sector count\n  left: 3\n right: 512",
			"assertion `left == right` failed: PIO write payload does not match the sector count\nleft: <V>\nright: <V>"},
		{"assertion `left == right` failed\n  left: [1, 2]\n right: \"ab\\\"c\"", "assertion `left == right` failed\nleft: <V>\nright: <V>"},
		{"assertion failed: `(left == right)`\n  left: `3`,\n right: `4`", "assertion failed: `(left == right)`\nleft: <V>\nright: <V>"},
		{"called `Option::unwrap()` on a `None` value", "called `Option::unwrap()` on a `None` value"},
		{"called `Result::unwrap()` on an `Err` value: Utf8Error { valid_up_to: 3, error_len: Some(1) }",
			"called `Result::unwrap()` on an `Err` value: Utf8Error { valid_up_to: <N>, error_len: Some(<N>) }"},
		{`bad label "\x01abc" in name`, `bad label "<S>" in name`},
		{`unexpected byte 'x' at 7`, `unexpected byte '<C>' at <N>`},
		{`unexpected char '\u{0}'`, `unexpected char '<C>'`},
		{"pointer 0x7ffd3a2b1c00 is misaligned", "pointer <HEX> is misaligned"},
		{"got bytes [1, 2, 255] and []", "got bytes [<LIST>] and [<LIST>]"},
		{"digest 3f2a9c0d51e7aa01 does not match", "digest <HEX> does not match"},
		{"u32 value overflowed in x86_64 code", "u32 value overflowed in x86_64 code"},
		{"deadbeef facade accepted", "deadbeef facade accepted"},
		{"took 1.25s, limit 3e9 ns", "took <N>s, limit <N> ns"},
		{"battery rate table must be programmed before a runtime query", "battery rate table must be programmed before a runtime query"},
		{"  trailing   spaces\t\tand tabs  \n\n", "trailing spaces and tabs"},
		{"can't parse 'q'", "can't parse '<C>'"},
	}
	for _, c := range cases {
		if got := MessageTemplate(c.in); got != c.want {
			t.Errorf("MessageTemplate(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
	long := strings.Repeat("word ", 100)
	if got := MessageTemplate(long); len(got) > maxMessageLen+3 || !strings.HasSuffix(got, "...") {
		t.Errorf("long message not capped: %d bytes", len(got))
	}
}

func TestShortName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"chipset::cmos_rtc::CmosRtc::write_register", "write_register"},
		{"write_register", "write_register"},
		{"chipset::battery::Battery::charge_level::h0123456789abcdef", "charge_level"},
		{"chipset[1a2b3c4d5e6f7a8b]::battery::Battery::charge_level", "charge_level"},
		{"<chipset[1a2b3c4d5e6f7a8b]::battery::Battery>::charge_level", "charge_level"},
		{"unwrap<&chipset::battery::Pack>", "unwrap"},
		{"core::option::Option<T>::unwrap", "unwrap"},
		{"ide::CloseableMutex<T>::with", "with"},
		{"with<ide::IdeDevice, u8, fuzz_ide::_::__libfuzzer_sys_run::{closure_env#0}>", "with"},
		{"fuzz_ide::_::__libfuzzer_sys_run::{{closure}}", "{closure}"},
		{"{closure#0}", "{closure}"},
		{"fuzz_ide[abcdef0123]::_::__libfuzzer_sys_run::{closure#1}", "{closure}"},
		{"core::slice::index::<impl core::ops::index::Index<I> for [T]>::index", "index"},
		{"<alloc::boxed::Box<dyn for<'a, 'b> core::ops::function::Fn<(&'a std::panic::PanicHookInfo<'b>,), Output = ()>> as core::ops::function::Fn<(&std::panic::PanicHookInfo,)>>::call", "call"},
		{"fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long)", "ExecuteCallback"},
		{"map<fn(u8) -> u16>", "map"},
		{"wire_proto::decode_message", "decode_message"},
		{"my_crate::run::{async_fn#0}", "{async_fn}"},
	}
	for _, c := range cases {
		if got := symbolize.ShortName(c.in); got != c.want {
			t.Errorf("symbolize.ShortName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestShortFile(t *testing.T) {
	cases := []struct{ in, want string }{
		{"vm/devices/chipset/src/battery.rs", "chipset/src/battery.rs"},
		{"./vm/devices/chipset/src/battery.rs", "chipset/src/battery.rs"},
		{"/work/main/testdata/fuzzws/vm/devices/storage/ide/src/lib.rs", "ide/src/lib.rs"},
		{"/tmp/x/fuzzws/vm/devices/storage/ide/src/lib.rs", "ide/src/lib.rs"},
		{"/home/u/.cargo/registry/src/index.crates.io-6f17d22bba15001f/arbitrary-1.3.2/src/unstructured.rs", "arbitrary/src/unstructured.rs"},
		{"fuzz_targets/fuzz_wire_decode.rs", "fuzz_targets/fuzz_wire_decode.rs"},
		{"/w/support/wire_proto/fuzz/fuzz_targets/fuzz_wire_decode.rs", "fuzz_targets/fuzz_wire_decode.rs"},
		{"src/lib.rs", "src/lib.rs"},
		{"/w/crate/src/a/b.rs", "crate/src/a/b.rs"},
	}
	for _, c := range cases {
		if got := ShortFile(c.in); got != c.want {
			t.Errorf("ShortFile(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestFindCycle(t *testing.T) {
	cases := []struct {
		in   string
		want string
	}{
		{"read_name read_name read_name read_name decode_message", "read_name"},
		{"push a b a b a b a b run", "a b"},
		{"b a b a b a", "a b"},
		{"c a b c a b c a b", "a b c"},
		{"a b c d", ""},
		{"a b a", ""},
		{"x", ""},
	}
	for _, c := range cases {
		got := strings.Join(findCycle(strings.Fields(c.in)), " ")
		if got != c.want {
			t.Errorf("findCycle(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Frame builders for traces shaped like the fixture's real logs.
func app(fn, file string, line int) symbolize.Frame {
	return symbolize.Frame{Function: fn, Normalized: fn, File: file, Line: line, Category: symbolize.CategoryApp}
}

func fuzzTarget(fn, file string, line int) symbolize.Frame {
	f := app(fn, file, line)
	f.Category = symbolize.CategoryFuzzTarget
	return f
}

func other(fn string, cat symbolize.FrameCategory) symbolize.Frame {
	return symbolize.Frame{Function: fn, Normalized: fn, Category: cat}
}

func panicTrace(msg, file string, line int, frames ...symbolize.Frame) *symbolize.Trace {
	all := []symbolize.Frame{
		other("__rustc::rust_begin_unwind", symbolize.CategoryPanic),
		other("core::panicking::panic_fmt", symbolize.CategoryPanic),
	}
	all = append(all, frames...)
	all = append(all, other("rust_fuzzer_test_input", symbolize.CategoryHarness), other("main", symbolize.CategoryHarness))
	return &symbolize.Trace{Kind: symbolize.KindRustPanic, Message: msg, Location: &symbolize.Location{File: file, Line: line, Column: 9}, Frames: all}
}

// The two builds of one battery bug (release: short names, a std helper
// without a file; dev: full paths) key alike, and the helper is skipped.
func TestKeyReleaseAndDevAgree(t *testing.T) {
	msg := "called `Option::unwrap()` on a `None` value"
	release := panicTrace(msg, "vm/devices/chipset/src/battery.rs", 92,
		other("core::option::unwrap_failed", symbolize.CategoryPanic),
		symbolize.Frame{Function: "unwrap<&chipset::battery::Pack>", Normalized: "unwrap<&chipset::battery::Pack>", Category: symbolize.CategoryUnknown},
		app("charge_level", "./vm/devices/chipset/src/battery.rs", 92),
		app("handle", "./vm/devices/chipset/src/battery.rs", 75),
		fuzzTarget("__libfuzzer_sys_run", "./vm/devices/chipset/fuzz/fuzz_targets/fuzz_chipset_battery.rs", 11))
	dev := panicTrace(msg, "vm/devices/chipset/src/battery.rs", 92,
		other("core::option::unwrap_failed", symbolize.CategoryPanic),
		other("core::option::Option<T>::unwrap", symbolize.CategoryStd),
		app("chipset::battery::Battery::charge_level", "./vm/devices/chipset/src/battery.rs", 92),
		app("chipset::battery::Battery::handle", "./vm/devices/chipset/src/battery.rs", 75),
		fuzzTarget("fuzz_chipset_battery::_::__libfuzzer_sys_run", "./vm/devices/chipset/fuzz/fuzz_targets/fuzz_chipset_battery.rs", 11))
	kr, kd := KeyFor(release, Options{}), KeyFor(dev, Options{})
	if kr.String() != kd.String() {
		t.Fatalf("release and dev keys differ:\n%s\n%s", kr, kd)
	}
	want := "v1|rust-panic|msg=called `Option::unwrap()` on a `None` value|site=chipset/src/battery.rs:charge_level"
	if kr.String() != want {
		t.Errorf("key %q, want %q", kr, want)
	}
	if kr.SiteFrom != "frame-at-location" {
		t.Errorf("site from %q", kr.SiteFrom)
	}
	if id := kr.ID(); !strings.HasPrefix(string(id), "v1-") || len(id) != 15 {
		t.Errorf("bad id %q", id)
	}
	// With three frames the callers join the key, in both builds.
	k3 := KeyFor(dev, Options{Frames: 3})
	if got := strings.Join(k3.Callers, ","); got != "handle,__libfuzzer_sys_run" {
		t.Errorf("callers %q", got)
	}
	if KeyFor(release, Options{Frames: 3}).ID() != k3.ID() {
		t.Errorf("3-frame keys differ between builds")
	}
}

// A line shift moves the location and every frame line; the key has no line.
func TestKeyIgnoresLines(t *testing.T) {
	mk := func(shift int) *symbolize.Trace {
		return panicTrace("attempt to divide by zero", "vm/devices/chipset/src/cmos_rtc.rs", 66+shift,
			app("write_register", "./vm/devices/chipset/src/cmos_rtc.rs", 66+shift),
			app("io_write", "./vm/devices/chipset/src/cmos_rtc.rs", 42+shift))
	}
	if a, b := KeyFor(mk(0), Options{}), KeyFor(mk(7), Options{}); a.ID() != b.ID() {
		t.Errorf("line shift changed the key:\n%s\n%s", a, b)
	}
}

// When the panicking function was inlined away and the log has no frame at
// the location, the site falls back to the frame that holds it.
func TestKeySiteFallbacks(t *testing.T) {
	lossy := symbolize.Frame{Function: "decode_message", Normalized: "decode_message", Category: symbolize.CategoryUnknown}
	tr := panicTrace("range end index 11 out of range for slice of length 3", "support/wire_proto/src/lib.rs", 91,
		other("core::slice::index::slice_index_fail", symbolize.CategoryPanic), lossy,
		fuzzTarget("__libfuzzer_sys_run", "./support/wire_proto/fuzz/fuzz_targets/fuzz_wire_decode.rs", 8))
	k := KeyFor(tr, Options{})
	if k.Site != "decode_message" || k.SiteFrom != "first-app-frame" || k.SiteFile != "wire_proto/src/lib.rs" {
		t.Errorf("fallback site: %+v", k)
	}
	// A location inside the toolchain is not a site.
	tr.Location = &symbolize.Location{File: "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/cell.rs", Line: 10}
	k = KeyFor(tr, Options{})
	if k.SiteFile != "" || k.Site != "decode_message" {
		t.Errorf("toolchain location: %+v", k)
	}
}

func TestKeyNonPanicKinds(t *testing.T) {
	// Timeout without a stack: the target.
	to := &symbolize.Trace{Kind: symbolize.KindTimeout}
	if got := KeyFor(to, Options{Target: "fuzz_wire_decode"}).String(); got != "v1|timeout|target=fuzz_wire_decode" {
		t.Errorf("timeout key %q", got)
	}
	if got := KeyFor(to, Options{}).String(); got != "v1|timeout|target=?" {
		t.Errorf("timeout key without target %q", got)
	}
	// Timeout with a stack: its top frame, not the target.
	to.Frames = []symbolize.Frame{other("__sanitizer_print_stack_trace", symbolize.CategorySanitizer),
		app("skip_padding", "/w/support/wire_proto/src/lib.rs", 112), app("wire_proto::decode_message", "/w/support/wire_proto/src/lib.rs", 48)}
	if got := KeyFor(to, Options{Target: "fuzz_wire_decode"}).String(); got != "v1|timeout|frames=skip_padding" {
		t.Errorf("timeout with stack key %q", got)
	}
	// An OOM keys on the allocating stack's top in-app frame (the log's,
	// or lldb's where the log has none), the target without either.
	oom := &symbolize.Trace{Kind: symbolize.KindOOM, Frames: to.Frames}
	if got := KeyFor(oom, Options{Target: "fuzz_wire_decode"}).String(); got != "v1|oom|frames=skip_padding" {
		t.Errorf("oom key %q", got)
	}
	if got := KeyFor(&symbolize.Trace{Kind: symbolize.KindOOM}, Options{Target: "fuzz_wire_decode"}).String(); got != "v1|oom|target=fuzz_wire_decode" {
		t.Errorf("oom key without a stack %q", got)
	}
	// A recursion: the cycle.
	so := &symbolize.Trace{Kind: symbolize.KindStackOverflow}
	so.Frames = append(so.Frames, other("malloc", symbolize.CategorySanitizer), app("wire_proto::read_name", "/w/support/wire_proto/src/lib.rs", 83))
	for i := 0; i < 50; i++ {
		so.Frames = append(so.Frames, app("wire_proto::read_name", "/w/support/wire_proto/src/lib.rs", 72))
	}
	if got := KeyFor(so, Options{}).String(); got != "v1|stack-overflow|cycle=read_name" {
		t.Errorf("stack overflow key %q", got)
	}
	// Allocation failure on a plain release build and ASan's report of the
	// same allocation: one family, keyed on the entry function.
	plain := &symbolize.Trace{Kind: symbolize.KindAllocFailure, Message: "memory allocation of 123145302310912 bytes failed",
		Frames: []symbolize.Frame{other("alloc::raw_vec::handle_error", symbolize.CategoryAllocator),
			{Function: "decode_message", Normalized: "decode_message", Category: symbolize.CategoryUnknown},
			fuzzTarget("__libfuzzer_sys_run", "./support/wire_proto/fuzz/fuzz_targets/fuzz_wire_decode.rs", 8)}}
	asan := &symbolize.Trace{Kind: symbolize.ASanKindPrefix + "allocation-size-too-big",
		Frames: []symbolize.Frame{other("malloc", symbolize.CategorySanitizer),
			app("reserve_table", "/w/support/wire_proto/src/lib.rs", 157),
			app("wire_proto::decode_message", "/w/support/wire_proto/src/lib.rs", 50),
			fuzzTarget("fuzz_wire_decode::_::__libfuzzer_sys_run", "/w/support/wire_proto/fuzz/fuzz_targets/fuzz_wire_decode.rs", 8)}}
	kp, ka := KeyFor(plain, Options{}), KeyFor(asan, Options{})
	if kp.ID() != ka.ID() {
		t.Errorf("alloc failure keys differ:\n%s\n%s", kp, ka)
	}
	if kp.String() != "v1|alloc-failure|msg=memory allocation failed|entry=decode_message" {
		t.Errorf("alloc key %q", kp)
	}
	// Any other kind: top three frames and its message.
	hbo := &symbolize.Trace{Kind: symbolize.ASanKindPrefix + "heap-buffer-overflow", Frames: asan.Frames}
	if got := KeyFor(hbo, Options{}).String(); got != "v1|asan:heap-buffer-overflow|frames=reserve_table,decode_message,__libfuzzer_sys_run" {
		t.Errorf("heap-buffer-overflow key %q", got)
	}
	if got := KeyFor(&symbolize.Trace{}, Options{}).String(); got != "v1|unknown|target=?" {
		t.Errorf("empty trace key %q", got)
	}
}

func TestKeyStringEscapes(t *testing.T) {
	k := Key{Version: 1, Kind: "rust-panic", Message: "a|b\nc,d\\", Site: "f"}
	if got := k.String(); got != `v1|rust-panic|msg=a\|b\nc\,d\\|site=f` {
		t.Errorf("escaped key %q", got)
	}
}
