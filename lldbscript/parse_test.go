package lldbscript

import (
	"strings"
	"testing"
	"time"
)

// A transcript as lldb-19 prints it (trimmed from a fixture session).
const sampleTranscript = `(lldb) settings set auto-confirm true
(lldb) breakpoint set -r panic_fmt
Breakpoint 1: where = fuzz_ide` + "`" + `core::panicking::panic_fmt + 20 [inlined] <core::panic::panic_info::PanicInfo>::new at panic_info.rs:40:9, address = 0x00000000000bc324
(lldb) breakpoint set -f lib.rs -l 9999
Breakpoint 2: no locations (pending).
WARNING:  Unable to resolve breakpoint to any actual locations.
(lldb) run
Process 31607 launched: '/x/fuzz_ide' (x86_64)
Process 31607 stopped
* thread #1, name = 'fuzz_ide', stop reason = breakpoint 1.1
    frame #0: 0x0000555555610324 fuzz_ide` + "`" + `core::panicking::panic_fmt [inlined] <core::panic::panic_info::PanicInfo>::new at /rustc/abc/library/core/src/panic/panic_info.rs:40:9
(lldb) bt 4
* thread #1, name = 'fuzz_ide', stop reason = breakpoint 1.1
  * frame #0: 0x0000555555610324 fuzz_ide` + "`" + `core::panicking::panic_fmt [inlined] <core::panic::panic_info::PanicInfo>::new at /rustc/abc/library/core/src/panic/panic_info.rs:40:9
    frame #1: 0x0000555555610324 fuzz_ide` + "`" + `core::panicking::panic_fmt at /rustc/abc/library/core/src/panicking.rs:72:14
    frame #2: 0x00005555555cd2f7 fuzz_ide` + "`" + `ide::IdeDevice::start_dma::h023c1556560a69e9(self=0x0000555555669798, ch=0) at /w/ide/src/lib.rs:387:13
    frame #3: 0x000055555558c3bc fuzz_ide` + "`" + `rust_fuzzer_test_input(bytes=(data_ptr = "\xb00\x9as) at ", length = 9)) at /w/lib.rs:148:51
    frame #4: 0x00005555555947eb fuzz_ide` + "`" + `__rust_try + 91
    frame #5: 0x00005555555a59c9 fuzz_ide` + "`" + `fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long) + 281
(lldb) triage-frame ide::IdeDevice::start_dma
frame #2: 0x00005555555cd2f7 fuzz_ide` + "`" + `ide::IdeDevice::start_dma::h023c1556560a69e9(self=0x0000555555669798, ch=0) at /w/ide/src/lib.rs:387:13
   386 	            let drive = taskfile[REG_DEVICE] >> 4 & 1;
-> 387 	            panic!("READ DMA"); // BUG(ide-dma-no-prd)
    	            ^
   388 	        }
(lldb) frame variable
(ide::IdeDevice *) self = 0x0000555555669798
(std::sync::poison::mutex::MutexGuard<ide::BusMaster>) bm = {
  lock = 0x0000555555669650
  poison = (panicking = false)
}
(&[u8]) taskfile = (data_ptr = "", length = 8)
(unsigned int) remaining = 256
(lldb) # expr state: self.channels[0].state
(lldb) frame variable self->channels[0].state
(ide::ChannelState) self->channels[0].state = {
  $variants$ = {
    $variant$0 = ($discr$ = '\x01', value = ide::ChannelState::Idle:8 @ 0x0000555555669808)
    $variant$1 = {
      $discr$ = '\x01'
      value = (command = '\xc8', remaining = 256)
    }
  }
}
(lldb) # expr bad: self.nosuch
(lldb) frame variable self->nosuch
error: "nosuch" is not a member of "(ide::IdeDevice) *self"
(lldb) expr 1+2
(int) $0 = 3
(lldb) frame variable -Z 2 p
(unsigned char *) p = 0x0000555555669620 "ide0\xff" {
  [0] = 'i'
  [1] = <read memory from 0x4 failed (0 of 1 bytes read)>

}
(lldb) quit
`

func TestParseTranscript(t *testing.T) {
	s := Parse(sampleTranscript)
	if s.Stop == nil || s.Stop.Thread != 1 || s.Stop.ThreadName != "fuzz_ide" || s.Stop.Breakpoint != "1.1" {
		t.Fatalf("stop %+v", s.Stop)
	}
	if f := s.Stop.Frame; f == nil || !f.Inlined || f.Function != "<core::panic::panic_info::PanicInfo>::new" || f.InlinedInto != "core::panicking::panic_fmt" || f.Line != 40 || f.Column != 9 {
		t.Fatalf("stop frame %+v", s.Stop.Frame)
	}
	if len(s.Breakpoints) != 2 || s.Breakpoints[0].ID != 1 || s.Breakpoints[0].Locations != 1 || s.Breakpoints[1].Locations != 0 {
		t.Fatalf("breakpoints %+v", s.Breakpoints)
	}
	if len(s.Backtrace) != 6 {
		t.Fatalf("%d frames: %+v", len(s.Backtrace), s.Backtrace)
	}
	f2 := s.Backtrace[2]
	if f2.Function != "ide::IdeDevice::start_dma::h023c1556560a69e9" || f2.Args != "self=0x0000555555669798, ch=0" || f2.File != "/w/ide/src/lib.rs" || f2.Line != 387 || f2.Column != 13 || f2.Module != "fuzz_ide" {
		t.Fatalf("frame 2 %+v", f2)
	}
	if f3 := s.Backtrace[3]; f3.Function != "rust_fuzzer_test_input" || f3.File != "/w/lib.rs" || f3.Line != 148 {
		t.Fatalf("frame 3 (\" at \" inside an argument) %+v", f3)
	}
	if f4 := s.Backtrace[4]; f4.Function != "__rust_try" || f4.Offset != 91 || f4.File != "" {
		t.Fatalf("frame 4 %+v", f4)
	}
	if f5 := s.Backtrace[5]; f5.Function != "fuzzer::Fuzzer::ExecuteCallback" || f5.Offset != 281 {
		t.Fatalf("frame 5 %+v", f5)
	}
	if !s.Backtrace[0].Selected || s.Backtrace[1].Selected {
		t.Fatal("selected marks")
	}
	if len(s.Frames) != 1 {
		t.Fatalf("frames %+v", s.Frames)
	}
	fv := s.Frames[0]
	if fv.Frame.Index != 2 || len(fv.Source) != 3 || !fv.Source[1].Current || fv.Source[1].Line != 387 {
		t.Fatalf("frame view %+v", fv)
	}
	if len(fv.Variables) != 4 {
		t.Fatalf("variables %+v", fv.Variables)
	}
	bm := fv.Variables[1]
	if bm.Name != "bm" || bm.Child("lock").Value != "0x0000555555669650" || bm.Lookup("poison.panicking").Value != "false" {
		t.Fatalf("bm %+v", bm)
	}
	if ts := fv.Variables[2]; ts.Type != "&[u8]" || ts.Child("data_ptr").Value != `""` || ts.Child("length").Value != "8" {
		t.Fatalf("taskfile %+v", ts)
	}
	if len(s.Values) != 4 {
		t.Fatalf("values %+v", s.Values)
	}
	st := s.Values[0]
	if st.Label != "state" || st.Value.Lookup("$variants$.$variant$1.value.remaining").Value != "256" ||
		st.Value.Lookup("$variants$.$variant$0.value").Value != "ide::ChannelState::Idle:8 @ 0x0000555555669808" {
		t.Fatalf("state %+v", st.Value)
	}
	if bad := s.Values[1]; bad.Label != "bad" || !strings.Contains(bad.Error, "not a member") || bad.Value != nil {
		t.Fatalf("bad %+v", bad)
	}
	if e := s.Values[2]; e.Value == nil || e.Value.Name != "$0" || e.Value.Value != "3" {
		t.Fatalf("expr %+v", e)
	}
	if p := s.Values[3]; p.Value == nil || len(p.Value.Children) != 2 || p.Value.Children[1].Value == "" {
		t.Fatalf("pointer %+v", p.Value)
	}
	if len(s.Errors) != 1 {
		t.Fatalf("errors %+v", s.Errors)
	}
}

func TestParseExit(t *testing.T) {
	s := Parse("(lldb) run\nProcess 12 launched: '/x' (x86_64)\nProcess 12 exited with status = 0 (0x00000000) \n(lldb) bt\nerror: invalid thread\n")
	if s.Stop != nil || s.Exit == nil || s.Exit.Status != 0 {
		t.Fatalf("%+v %+v", s.Stop, s.Exit)
	}
	s = Parse("(lldb) run\nProcess 9 stopped\n* thread #2, name = 'x', stop reason = signal SIGSEGV: address not mapped to object (fault address: 0x7ffe)\n    frame #0: 0x1 bin`wire_proto::read_name at /w/lib.rs:60:5\n")
	if s.Stop == nil || s.Stop.Signal != "SIGSEGV" || s.Stop.Thread != 2 || s.Stop.Frame.Function != "wire_proto::read_name" {
		t.Fatalf("%+v", s.Stop)
	}
}

func TestDecode(t *testing.T) {
	for in, want := range map[string]uint64{"'\\xc8'": 200, "'\\0'": 0, "'P'": 80, "256": 256, "0x1000": 4096, "true": 1, "9223372036854775809": 9223372036854775809, "-1": ^uint64(0)} {
		if got, err := DecodeUint(in); err != nil || got != want {
			t.Errorf("DecodeUint(%s) = %d, %v; want %d", in, got, err, want)
		}
	}
	b, err := DecodeCStringSummary(`0x0000555555669620 "ide0\xff\U0000007f\n\""`)
	if err != nil || string(b) != "ide0\xff\x7f\n\"" {
		t.Errorf("DecodeCStringSummary = %q, %v", b, err)
	}
}

// FuzzParse: any transcript parses without panicking, and what comes out
// is consistent with what went in.
func FuzzParse(f *testing.F) {
	f.Add(sampleTranscript)
	f.Add("(lldb) frame variable x\n(T) x = (a = (b = (c = 1, d = \"x)\"), e = '\\''), f = {\n  g = 1\n}\n")
	f.Add("(lldb) bt\n  * frame #0: 0x0 m`f(a=(b=\")\")) at :1:2 [opt]\n")
	f.Add("(lldb) frame variable\n(X) y = {\n  [0] = {\n    z = 0x1 \"{\"\n  }\n}\n(Y) q = {}\n")
	f.Fuzz(func(t *testing.T, in string) {
		start := time.Now()
		s := Parse(in)
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Parse took %s on %d bytes", d, len(in))
		}
		cmds := strings.Count("\n"+in, "\n(lldb) ")
		if len(s.Blocks) < cmds {
			t.Fatalf("%d blocks for %d echoed commands", len(s.Blocks), cmds)
		}
		for _, f := range s.Backtrace {
			if f.Index < 0 || f.Line < 0 {
				t.Fatalf("bad frame %+v", f)
			}
		}
		var walk func(v *Value, depth int)
		walk = func(v *Value, depth int) {
			if depth > maxValueDepth+2 {
				t.Fatal("value deeper than the parser's limit")
			}
			for _, c := range v.Children {
				walk(c, depth+1)
			}
		}
		for _, v := range s.Values {
			if v.Value != nil {
				walk(v.Value, 0)
			}
		}
		for _, fv := range s.Frames {
			for _, v := range fv.Variables {
				walk(v, 0)
			}
		}
	})
}

// lldb-19 sometimes prints a command's thread status after the next
// command's echo (seen on CI with `thread select 1` before triage-frame):
// the late, indented frame line is not the selected frame.
func TestParseLateThreadStatus(t *testing.T) {
	s := Parse("(lldb) thread select 1\n" +
		"(lldb) bt 3\n" +
		"* thread #1, name = 'fuzz_wire'\n" +
		"    frame #0: 0x000055555558767d fuzz_wire`alloc::vec::Vec$LT$T$C$A$GT$::extend_with::h3a49ca70a1646dbd(self=0x00007fffffffd5b8, n=1048576, value='Z') at /rustc/abc/library/alloc/src/vec/mod.rs:3602:18\n" +
		"* thread #1, name = 'fuzz_wire'\n" +
		"  * frame #0: 0x000055555558767d fuzz_wire`alloc::vec::Vec$LT$T$C$A$GT$::extend_with::h3a49ca70a1646dbd(self=0x00007fffffffd5b8, n=1048576, value='Z') at /rustc/abc/library/alloc/src/vec/mod.rs:3602:18\n" +
		"    frame #1: 0x0000555555587b63 fuzz_wire`alloc::vec::Vec$LT$T$C$A$GT$::resize::h62d2f3862e276d87(self=0x00007fffffffd5b8) at /rustc/abc/library/alloc/src/vec/mod.rs:3469:14\n" +
		"    frame #2: 0x00005555555826e0 fuzz_wire`wire_proto::decode_packed::h44fad34c9ee5898d(pos=1) at /w/wire/src/lib.rs:145:16\n" +
		"(lldb) triage-frame --under /w/wire\n" +
		"* thread #1, name = 'fuzz_wire'\n" +
		"    frame #0: 0x000055555558767d fuzz_wire`alloc::vec::Vec$LT$T$C$A$GT$::extend_with::h3a49ca70a1646dbd(self=0x00007fffffffd5b8, n=1048576, value='Z') at /rustc/abc/library/alloc/src/vec/mod.rs:3602:18\n" +
		"   3602 \t        ptr::write(p, v);\n" +
		"triage-frame: switched to thread #1\n" +
		"frame #7: 0x00005555555826e0 fuzz_wire`wire_proto::decode_packed::h44fad34c9ee5898d(pos=1) at /w/wire/src/lib.rs:145:16\n" +
		"   144 \t        let grown = values.len() + (1 << 20);\n" +
		"-> 145 \t        values.resize(grown, 0x5a);\n" +
		"(lldb) quit\n")
	if len(s.Backtrace) != 3 || s.Backtrace[0].Index != 0 || !s.Backtrace[0].Selected || s.Backtrace[2].Index != 2 {
		t.Fatalf("backtrace %+v", s.Backtrace)
	}
	if len(s.Frames) != 1 || s.Frames[0].Frame == nil {
		t.Fatalf("frames %+v", s.Frames)
	}
	fv := s.Frames[0]
	if fv.Frame.Index != 7 || fv.Frame.Function != "wire_proto::decode_packed::h44fad34c9ee5898d" || fv.Thread != 1 {
		t.Fatalf("selected frame %+v (thread %d)", fv.Frame, fv.Thread)
	}
	if len(fv.Source) != 2 || fv.Source[0].Line != 144 || !fv.Source[1].Current {
		t.Fatalf("source %+v", fv.Source)
	}
}
