package symbolize

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeedLogs are the hand-written logs and one captured log of each
// build variant and mode: every format the parser knows, kept small.
func fuzzSeedLogs(f *testing.F) [][]byte {
	var seeds [][]byte
	hand, _ := filepath.Glob(filepath.Join("testdata", "handwritten", "*"))
	kinds, _ := filepath.Glob(filepath.Join("testdata", "kinds", "*.log"))
	hand = append(hand, kinds...)
	for _, p := range hand {
		if data, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, tailLines(data, maxSeedBytes))
		}
	}
	for _, p := range []string{
		"release/cmos-index-oob.bt-1.log", "release/wire-take-bytes.bt-full.log",
		"dev/ata-assert-transfer.bt-full.log", "asan/wire-alloc-huge.bt-1.log",
		"asan-nosym/ide-stats-borrow.bt-0.log", "asan-nodemangle/battery-unwrap-pack.bt-0.log",
		"v0/ide-dma-no-prd.bt-full.log", "asan/wire-skip-loop.bt-0.log", "asan/wire-packed-oom.bt-0.log",
		"release/minimize.cmos-index-oob.bt-0.log", "release/merge.battery.bt-1.log", "release/fuzzing.cmos.bt-0.log",
		"release/wire-name-recursion.bt-0.log",
	} {
		if data, err := os.ReadFile(filepath.Join(logsDir, p)); err == nil {
			seeds = append(seeds, tailLines(data, maxSeedBytes))
		}
	}
	return seeds
}

// maxSeedBytes keeps seeds small: the fuzzer minimizes every new
// interesting input, and minimizing a 30 KiB log takes minutes.
const maxSeedBytes = 3 << 10

// tailLines keeps the last whole lines of data that fit in max bytes (a
// crash report is at the end of a log).
func tailLines(data []byte, max int) []byte {
	if len(data) <= max {
		return data
	}
	cut := data[len(data)-max:]
	if i := bytes.IndexByte(cut, '\n'); i >= 0 {
		cut = cut[i+1:]
	}
	return cut
}

// Parse never panics; what it returns is consistent: a kind from the
// closed set, Frames one of the crash backtraces, every named frame
// demangled and normalized idempotently, and Filter (without a binary)
// keeps the log's line count.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeedLogs(f) {
		f.Add(s)
	}
	f.Add([]byte("thread 'main' panicked at 'a\nb', src/x.rs:1:2\n"))
	f.Add([]byte("  0:     0x0 - <unknown>\n"))
	f.Add([]byte("    #0 0x1 in f (/x+0x1) (BuildId: ab)\n"))
	f.Fuzz(func(t *testing.T, log []byte) {
		tr, err := Parse(log)
		if err != nil {
			if tr != nil {
				t.Fatalf("trace and error")
			}
		} else {
			if !tr.Kind.Valid() {
				t.Fatalf("kind %q not in the closed set", tr.Kind)
			}
			if len(tr.Frames) > 0 {
				found := false
				for _, bt := range tr.Backtraces {
					if len(bt.Frames) == len(tr.Frames) && &bt.Frames[0] == &tr.Frames[0] {
						found = true
					}
				}
				if !found {
					t.Fatalf("Frames is none of the backtraces")
				}
			}
			for _, bt := range tr.Backtraces {
				for _, fr := range bt.Frames {
					if fr.Function == "" {
						continue
					}
					if fr.Normalized != Normalize(fr.Raw) || Normalize(fr.Normalized) != fr.Normalized {
						t.Fatalf("frame %q: normalized %q, Normalize(raw) %q, again %q", fr.Raw, fr.Normalized, Normalize(fr.Raw), Normalize(fr.Normalized))
					}
					if fr.Category == "" {
						t.Fatalf("frame %q untagged", fr.Raw)
					}
				}
			}
			if tr.Kind == KindNone && (tr.Blocks != 0 || tr.Message != "") {
				t.Fatalf("no crash, yet %d blocks, message %q", tr.Blocks, tr.Message)
			}
		}
		out, err := Filter(log, FilterOptions{})
		if err != nil {
			t.Fatalf("Filter: %v", err)
		}
		if bytes.Count(out, []byte("\n")) != bytes.Count(log, []byte("\n")) {
			t.Fatalf("Filter changed the line count: %d -> %d", bytes.Count(log, []byte("\n")), bytes.Count(out, []byte("\n")))
		}
	})
}

// Normalize is idempotent and total; ShortName and IsQualified agree with
// it; Demangle never panics and is idempotent on its output.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"_ZN10wire_proto14decode_message17h0123456789abcdefE",
		"_RNvNtCsi4IsKQVxMg0_3std7process5abort",
		"_RNCINvNtNtCsi4IsKQVxMg0_3std6thread7current17with_current_nameNCNCNvNtB8_9panicking12default_hook00uE0B8_",
		"_$LT$alloc..boxed..Box$LT$F$C$A$GT$$u20$as$u20$core..ops..function..Fn$LT$Args$GT$$GT$::call::hf9e6b35af4ca60b9",
		"<alloc[fdfd2bd8633a6659]::boxed::Box<dyn for<'a, 'b> core[c1f1a4ba060b9bfa]::ops::function::Fn<(&'a std[e28293b1aa0f68bd]::panic::PanicHookInfo<'b>,), Output = ()>> as core::ops::function::Fn<(&std::panic::PanicHookInfo,)>>::call",
		"core::slice::index::<impl core::ops::index::Index<I> for [T]>::index",
		"fuzzer::FuzzerDriver(int*, char***, int (*)(unsigned char const*, unsigned long))",
		"do_call<libfuzzer_sys::LLVMFuzzerTestOneInput::{closure_env#0}, i32>",
		"libfuzzer_sys::LLVMFuzzerInitialize::{{closure}}::hddaa5c63fd3fb194",
		"<fn(u8) -> bool as core::ops::Fn<(u8,)>>::call",
		"std::ostream::operator<<(int)",
		"__interceptor_malloc",
		"_ZN12_GLOBAL__N_117sha1_addUncountedEPNS_7sha1nfoEj",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := Demangle(s)
		if !utf8.ValidString(s) {
			return
		}
		if Demangle(d) != d && !isMangled(d) {
			// Demangling a demangled name may only change it when the
			// first pass produced something that looks mangled again.
			if !strings.Contains(d, "$") && !strings.Contains(d, "[") && !strings.Contains(d, "::h") {
				t.Fatalf("Demangle not idempotent: %q -> %q -> %q", s, d, Demangle(d))
			}
		}
		n := Normalize(s)
		if again := Normalize(n); again != n {
			t.Fatalf("Normalize not idempotent: %q -> %q -> %q", s, n, again)
		}
		_ = ShortName(s)
		_ = IsQualified(s)
		_ = demangleTokens(s)
	})
}

// The line rules of the breadth (sanitizer, TSan, Fuchsia and macOS frame
// formats, assertion and CHECK lines, glued headers, ParseEach's reports)
// never panic and keep their promises: a frame parsed is one, a split
// keeps every byte, every report but the last is not the crash.
func FuzzLineRules(f *testing.F) {
	for _, s := range []string{
		"    #0 0x55d4c8a0b1e1 in parse_x /src/p/x.c:10:3",
		"    #0 worker_loop /src/proj/pool.c:41:12 (proj_fuzzer+0x4b2c31)",
		"   #1.1  0x00002e6c5f2e9000 in fidl::Decoder::Visit(fidl::Envelope&) ../../sdk/lib/fidl/decoder.h:88 <libfidl.so>+0x2000",
		"    #0 0x10a3b4c5d in decode_block+0x1d (libcodec.dylib:x86_64+0x1c5d)",
		"{{{bt:4:0x2e6c5f2ec300:ra}}}",
		"png_fuzzer: /src/libpng/pngrutil.c:311: int f(int): Assertion `x' failed.",
		"Assertion failed: (x > 0), function f, file a.c, line 12.",
		"Assertion failed: x (a.c: f: 12)",
		"[1:1:0101/000000.000000:FATAL:pdf_stream.cc(142)] Check failed: offset <= size_. ",
		"F0101 12:00:00.000000  4242 decoder.cc:88] Check failed: a < b (7 vs. 5) ",
		"decoded 3 framesmemory allocation of 4294967296 bytes failed",
		"outputthread '<unnamed>' panicked at src/a.rs:1:2:",
		"xx==42==ERROR: AddressSanitizer: SEGV on unknown address 0x0",
		"==1==AddressSanitizer CHECK failed: /a/b.cpp:566 \"((x)) != (0)\" (0x0, 0x0) (tid=1)",
		"  | #0 0x1 in f /a.c:1:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if fr, ok := parseSanitizerFrame(line); ok {
			if fr.Index < 0 || fr.Line < 0 {
				t.Fatalf("frame %+v from %q", fr, line)
			}
		}
		_, _ = parseMarkupFrame(line)
		if a := parseAssertion(line); a != nil {
			if a.kind == "" || !a.kind.Valid() {
				t.Fatalf("assertion kind %q from %q", a.kind, line)
			}
		}
		if head, tail, ok := splitGlued(line); ok {
			if head+tail != line || head == "" || tail == "" {
				t.Fatalf("split %q into %q + %q", line, head, tail)
			}
		}
		n := 0
		var last *Trace
		err := ParseEach(strings.NewReader(line+"\n"+line+"\n"), func(tr *Trace) error {
			if last != nil && last.Crash {
				t.Fatalf("report %d after the crash", n)
			}
			n++
			last = tr
			return nil
		})
		if err == nil && last != nil && !last.Crash {
			t.Fatalf("the last of %d reports is not the crash", n)
		}
	})
}
