package symbolize

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
)

func isASanVariant(v string) bool { return strings.HasPrefix(v, "asan") }

// expectedKind is the crash kind a planted bug must parse to.
func expectedKind(b *fixture.Bug, variant string) CrashKind {
	switch {
	case fixture.PanicKinds[b.Kind]:
		return KindRustPanic
	case b.Kind == "stack-overflow":
		return KindStackOverflow
	case b.Kind == "timeout":
		return KindTimeout
	case b.Kind == "oom":
		return KindOOM
	case b.Kind == "alloc-failure" && isASanVariant(variant):
		return "asan:allocation-size-too-big"
	case b.Kind == "alloc-failure":
		return KindAllocFailure
	}
	return ""
}

// Every captured fixture log parses to its planted bug: kind, panic
// message and location, backtraces and the first in-app frame.
func TestParseCapturedLogs(t *testing.T) {
	root := fixture.Root()
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	logs := loadLogIndex(t)
	if len(logs) < 100 {
		t.Fatalf("only %d captured logs", len(logs))
	}
	seenModes := map[string]bool{}
	for _, c := range logs {
		c := c
		seenModes[c.Mode] = true
		t.Run(c.File, func(t *testing.T) {
			path := filepath.Join(logsDir, c.File)
			tr, err := ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !tr.Kind.Valid() {
				t.Errorf("kind %q is not in the closed set", tr.Kind)
			}
			if c.Mode == "fuzz" {
				checkFuzzingLog(t, m, c, tr)
				return
			}
			b := m.Bug(c.Bug)
			if b == nil {
				t.Fatalf("index names unknown bug %q", c.Bug)
			}
			if want := expectedKind(b, c.Variant); tr.Kind != want {
				t.Fatalf("kind %q, want %q (summary %q)", tr.Kind, want, tr.Summary)
			}
			if tr.Kind == KindRustPanic {
				checkPanic(t, b, tr)
			}
			if tr.Kind == KindAllocFailure || tr.Kind == "asan:allocation-size-too-big" {
				if tr.AllocationSize == 0 {
					t.Errorf("no allocation size")
				}
			}
			checkBacktraces(t, c, b, tr)
			switch c.Mode {
			case "minimize":
				raw, _ := os.ReadFile(path)
				if last := lastPanicMessage(string(raw)); tr.Message != last {
					t.Errorf("minimizer log: message %q, want the last crash block's %q", tr.Message, last)
				}
				if tr.Blocks < 1 {
					t.Errorf("blocks = %d", tr.Blocks)
				}
			case "merge":
				if tr.Blocks != 2 {
					t.Errorf("merge log: %d crash blocks, want 2", tr.Blocks)
				}
			}
		})
	}
	for _, mode := range []string{"run", "minimize", "merge", "fuzz"} {
		if !seenModes[mode] {
			t.Errorf("no captured log of mode %s", mode)
		}
	}
}

func checkPanic(t *testing.T, b *fixture.Bug, tr *Trace) {
	t.Helper()
	if !regexp.MustCompile(b.Message).MatchString(tr.Message) {
		t.Errorf("message %q does not match %q", tr.Message, b.Message)
	}
	if tr.Location == nil {
		t.Fatalf("no panic location")
	}
	if !strings.HasSuffix(tr.Location.File, b.File) || tr.Location.Line != b.Line || tr.Location.Column == 0 {
		t.Errorf("location %+v, want %s:%d", *tr.Location, b.File, b.Line)
	}
	if tr.Thread != "<unnamed>" || tr.ThreadID == 0 {
		t.Errorf("thread %q (%d)", tr.Thread, tr.ThreadID)
	}
}

func checkBacktraces(t *testing.T, c capturedLog, b *fixture.Bug, tr *Trace) {
	t.Helper()
	var rust, san *Backtrace
	for i := range tr.Backtraces {
		switch tr.Backtraces[i].Source {
		case SourceRust:
			rust = &tr.Backtraces[i]
		case SourceSanitizer:
			san = &tr.Backtraces[i]
		}
	}
	noStack := b.Kind == "stack-overflow" && c.Variant == "asan-nosym" || b.Kind == "stack-overflow" && !isASanVariant(c.Variant) || b.Kind == "timeout" && !isASanVariant(c.Variant) ||
		b.Kind == "oom" && !isASanVariant(c.Variant)
	// ASan refuses the huge allocation before Rust's handler can print.
	asanAlloc := b.Kind == "alloc-failure" && isASanVariant(c.Variant)
	wantRust := c.Backtrace != "0" && !noStack && !asanAlloc && b.Kind != "stack-overflow" && b.Kind != "timeout" && b.Kind != "oom"
	if (rust != nil) != wantRust {
		t.Errorf("rust backtrace present = %v, want %v", rust != nil, wantRust)
	}
	wantSan := isASanVariant(c.Variant) && !noStack
	// Whether ASan prints a stack for an OOM (the RSS thread may fire
	// before the malloc limit, which prints one) or for an unsymbolized
	// stack overflow (its fast unwinder may give up at once: "<empty
	// stack>") depends on the run, not the parser; both were captured.
	optionalSan := isASanVariant(c.Variant) && (b.Kind == "oom" || b.Kind == "stack-overflow" && c.Variant == "asan-nosym")
	if (san != nil) != wantSan && !optionalSan {
		t.Errorf("sanitizer backtrace present = %v, want %v", san != nil, wantSan)
	}
	if wantRust && wantSan && len(tr.Frames) != len(san.Frames) {
		t.Errorf("both backtraces present: Frames should be the sanitizer's (richer), got %d frames", len(tr.Frames))
	}
	if rust != nil && c.Backtrace == "full" {
		for _, f := range rust.Frames {
			if f.Address == 0 {
				t.Errorf("full backtrace frame %d has no address", f.Index)
			}
		}
	}
	if c.Variant == "asan-nosym" && san != nil {
		for _, f := range san.Frames {
			if f.Module == "" || f.Offset == 0 || f.Function != "" {
				t.Errorf("unsymbolized frame parsed as %+v", f)
			}
		}
		return
	}
	if c.Variant == "asan-nodemangle" && san != nil {
		mangled := 0
		for _, f := range san.Frames {
			if strings.HasPrefix(f.Raw, "_R") {
				mangled++
				if strings.HasPrefix(f.Function, "_R") || strings.Contains(f.Function, "[") {
					t.Errorf("v0 symbol %q demangled to %q", f.Raw, f.Function)
				}
			}
		}
		if mangled == 0 {
			t.Errorf("no v0 mangled symbol in an ASan demangle=0 log")
		}
	}
	if len(tr.Frames) == 0 {
		return
	}
	checkCategories(t, tr.Frames)
	var first *Frame
	for i := range tr.Frames {
		if tr.Frames[i].Category.InApp() {
			first = &tr.Frames[i]
			break
		}
	}
	if first == nil {
		t.Fatalf("no in-app frame among %d", len(tr.Frames))
	}
	want := ShortName(b.Function)
	if alt, ok := fixture.InlinedAway[b.ID]; ok && ShortName(first.Normalized) == alt {
		want = alt
	}
	if got := ShortName(first.Normalized); got != want {
		t.Errorf("first in-app frame %q (%s:%d, rule %s), want %q", first.Function, first.File, first.Line, first.Rule, want)
	}
}

// checkCategories: the frames every fixture trace has are tagged the same
// way in release, dev and ASan builds.
func checkCategories(t *testing.T, frames []Frame) {
	t.Helper()
	for _, f := range frames {
		var want FrameCategory
		switch ShortName(f.Normalized) {
		case "__libfuzzer_sys_run", "rust_fuzzer_test_input":
			want = CategoryFuzzTarget
		case "LLVMFuzzerTestOneInput", "main", "ExecuteCallback", "RunOneTest", "FuzzerDriver":
			want = CategoryHarness
		case "rust_begin_unwind", "panic_fmt":
			want = CategoryPanic
		case "_start", "__libc_start_main", "__libc_start_main_impl", "__libc_start_call_main":
			want = CategoryLibc
		case "__sanitizer_print_stack_trace":
			want = CategorySanitizer
		default:
			if strings.HasPrefix(f.File, "/rustc/") && strings.Contains(f.File, "/library/") && f.Category.InApp() {
				t.Errorf("toolchain frame %q (%s) tagged %s", f.Function, f.File, f.Category)
			}
			if strings.Contains(f.File, "/testdata/fuzzws/vm/devices/") && !strings.Contains(f.File, "/fuzz/") && f.Category != CategoryApp {
				t.Errorf("code under test %q (%s) tagged %s", f.Function, f.File, f.Category)
			}
			continue
		}
		if f.Category != want {
			t.Errorf("frame %q tagged %s by %q, want %s", f.Function, f.Category, f.Rule, want)
		}
	}
}

func checkFuzzingLog(t *testing.T, m *fixture.Manifest, c capturedLog, tr *Trace) {
	t.Helper()
	if tr.Kind != KindRustPanic || tr.Location == nil {
		t.Fatalf("fuzzing log: kind %q location %v", tr.Kind, tr.Location)
	}
	for _, b := range m.Bugs {
		if b.Target == c.Target && strings.HasSuffix(tr.Location.File, b.File) && tr.Location.Line == b.Line {
			if !regexp.MustCompile(b.Message).MatchString(tr.Message) {
				t.Errorf("message %q does not match bug %s", tr.Message, b.ID)
			}
			return
		}
	}
	t.Errorf("fuzzing log: location %+v is no planted bug of %s", *tr.Location, c.Target)
}

// lastPanicMessage finds the first message line after the last panic
// header, independently of the parser.
func lastPanicMessage(log string) string {
	lines := strings.Split(log, "\n")
	msg := ""
	for i, l := range lines {
		if strings.HasPrefix(l, "thread '") && strings.Contains(l, " panicked at ") && i+1 < len(lines) {
			msg = lines[i+1]
		}
	}
	return msg
}

// Hand-written logs for formats the fixture cannot produce.
func TestParseHandwrittenLogs(t *testing.T) {
	type frameWant struct {
		short    string
		file     string
		line     int
		category FrameCategory
		inlined  bool
	}
	tests := []struct {
		file      string
		kind      CrashKind
		message   string
		loc       string // file:line[:col]
		address   uint64
		hasAddr   bool
		signal    string
		access    string
		thread    string
		blocks    int
		roles     []string // roles of the backtraces, in order
		frames    int      // len(Frames), -1 to skip
		firstApp  string   // ShortName of the first in-app frame
		someFrame *frameWant
	}{
		{file: "old-panic-bt1.log", kind: KindRustPanic, message: "index out of bounds: the len is 3 but the index is 7",
			loc: "src/parser.rs:118:17", thread: "<unnamed>", blocks: 1, roles: []string{RoleCrash}, frames: 19, firstApp: "next_token",
			someFrame: &frameWant{short: "ExecuteCallback", file: "FuzzerLoop.cpp", line: 612, category: CategoryHarness}},
		{file: "old-panic-assert-multiline.log", kind: KindRustPanic,
			message: "assertion failed: `(left == right)`\n  left: `[1, 2]`,\n right: `[1, 3]`: round trip changed the frame",
			loc:     "src/codec.rs:41:5", thread: "<unnamed>", blocks: 1, frames: 0},
		{file: "very-old-panic-nocolumn.log", kind: KindRustPanic, message: "called `Option::unwrap()` on a `None` value",
			loc: "src/libcore/option.rs:347", thread: "main", blocks: 1, frames: 0},
		{file: "old-full-unnumbered-inlined.log", kind: KindRustPanic, message: "attempt to subtract with overflow",
			loc: "src/frame.rs:77:13", thread: "<unnamed>", blocks: 1, roles: []string{RoleCrash}, frames: 7, firstApp: "payload_len",
			someFrame: &frameWant{short: "payload_len", file: "/src/framing/src/frame.rs", line: 77, category: CategoryApp, inlined: true}},
		{file: "ubsan.log", kind: "ubsan:shift-out-of-bounds", message: "left shift of 255 by 24 places cannot be represented in type 'int'",
			loc: "/src/imgdecode/vendor/lodepng/lodepng.c:2840:24", blocks: 1, roles: []string{RoleCrash}, frames: 5, firstApp: "lodepng_read32bitInt"},
		{file: "ubsan-segv.log", kind: KindNullDeref, hasAddr: true, address: 0, signal: "SIGSEGV", access: "READ memory access",
			thread: "T613", blocks: 1, roles: []string{RoleCrash}, frames: 2, firstApp: "parse_hdr"},
		{file: "lsan.log", kind: KindLeak, blocks: 1, roles: []string{RoleLeak, RoleLeakIndirect}, frames: 6, firstApp: "link",
			someFrame: &frameWant{short: "malloc", category: CategorySanitizer, line: 68, file: "/rustc/llvm/src/llvm-project/compiler-rt/lib/asan/asan_malloc_linux.cpp"}},
		{file: "asan-heap-buffer-overflow.log", kind: "asan:heap-buffer-overflow", address: 0x6020000000f4, hasAddr: true,
			access: "READ of size 4", blocks: 1, roles: []string{RoleCrash, RoleAllocated}, frames: 9, firstApp: "read_u32"},
		{file: "asan-use-after-free.log", kind: "asan:heap-use-after-free", address: 0x603000000a28, hasAddr: true,
			access: "WRITE of size 8", blocks: 1, roles: []string{RoleCrash, RoleFreed, RoleAllocated}, frames: 3, firstApp: "set"},
		{file: "asan-segv-null.log", kind: KindNullDeref, address: 0x10, hasAddr: true, signal: "SIGSEGV", access: "READ memory access",
			thread: "T0", blocks: 1, roles: []string{RoleCrash}, frames: 2, firstApp: "read_len"},
		{file: "asan-segv-wild.log", kind: KindSEGV, address: 0x7f3a9c000010, hasAddr: true, signal: "SIGSEGV", access: "WRITE memory access",
			thread: "T0", blocks: 1, roles: []string{RoleCrash}, frames: 2, firstApp: "write_at"},
		{file: "asan-abrt-panic.log", kind: KindRustPanic, message: "called `Result::unwrap()` on an `Err` value: Overflow",
			loc: "src/table.rs:12:22", address: 0x1400, hasAddr: true, signal: "SIGABRT", thread: "<unnamed>", blocks: 1,
			roles: []string{RoleCrash}, frames: 11, firstApp: "grow"},
		{file: "asan-abrt.log", kind: KindAbort, address: 0x1401, hasAddr: true, signal: "SIGABRT", thread: "T0", blocks: 1,
			roles: []string{RoleCrash}, frames: 5, firstApp: "cshim_validate"},
		{file: "asan-color-crlf.log", kind: "asan:stack-buffer-overflow", address: 0x7ffc9a1b2c3d, hasAddr: true,
			access: "WRITE of size 1", blocks: 1, roles: []string{RoleCrash}, frames: 2, firstApp: "cshim_copy"},
		{file: "slow-unit.log", kind: KindSlowUnit, blocks: 0, frames: 0},
		{file: "fuzz-target-exited.log", kind: KindFuzzTargetExited, blocks: 1, roles: []string{RoleCrash}, frames: 7, firstApp: "run",
			someFrame: &frameWant{short: "PrintStackTrace", category: CategoryHarness}},
		{file: "double-panic.log", kind: KindRustPanic, message: "first failure", loc: "src/lib.rs:10:5", thread: "<unnamed>", blocks: 1, frames: 0},
		{file: "fatal-runtime.log", kind: KindAbort, message: "Rust cannot catch foreign exceptions", signal: "SIGABRT", blocks: 1, frames: 0},
		{file: "timeout-fork.log", kind: KindTimeout, signal: "SIGALRM", blocks: 2, frames: 0},
		{file: "no-crash.log", kind: KindNone, blocks: 0, frames: 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			tr, err := ParseFile(filepath.Join("testdata", "handwritten", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if tr.Kind != tc.kind {
				t.Fatalf("kind %q, want %q (summary %q)", tr.Kind, tc.kind, tr.Summary)
			}
			if tr.Message != tc.message {
				t.Errorf("message %q, want %q", tr.Message, tc.message)
			}
			gotLoc := ""
			if tr.Location != nil {
				gotLoc = tr.Location.File + ":" + strconv.Itoa(tr.Location.Line)
				if tr.Location.Column != 0 {
					gotLoc += ":" + strconv.Itoa(tr.Location.Column)
				}
			}
			if gotLoc != tc.loc {
				t.Errorf("location %q, want %q", gotLoc, tc.loc)
			}
			if tr.Address != tc.address || tr.HasAddress != tc.hasAddr {
				t.Errorf("address %#x (%v), want %#x (%v)", tr.Address, tr.HasAddress, tc.address, tc.hasAddr)
			}
			if tr.Signal != tc.signal {
				t.Errorf("signal %q, want %q", tr.Signal, tc.signal)
			}
			if tr.Access != tc.access {
				t.Errorf("access %q, want %q", tr.Access, tc.access)
			}
			if tr.Thread != tc.thread {
				t.Errorf("thread %q, want %q", tr.Thread, tc.thread)
			}
			if tr.Blocks != tc.blocks {
				t.Errorf("blocks %d, want %d", tr.Blocks, tc.blocks)
			}
			var roles []string
			for _, bt := range tr.Backtraces {
				roles = append(roles, bt.Role)
			}
			if strings.Join(roles, ",") != strings.Join(tc.roles, ",") {
				t.Errorf("backtrace roles %v, want %v", roles, tc.roles)
			}
			if tc.frames >= 0 && len(tr.Frames) != tc.frames {
				t.Errorf("%d frames, want %d", len(tr.Frames), tc.frames)
			}
			if tc.firstApp != "" {
				got := ""
				for _, f := range tr.Frames {
					if f.Category.InApp() {
						got = ShortName(f.Normalized)
						break
					}
				}
				if got != tc.firstApp {
					t.Errorf("first in-app frame %q, want %q", got, tc.firstApp)
				}
			}
			if w := tc.someFrame; w != nil {
				found := false
				for _, f := range tr.Frames {
					if ShortName(f.Normalized) != w.short {
						continue
					}
					found = true
					if w.file != "" && !strings.HasSuffix(f.File, w.file) || w.line != 0 && f.Line != w.line || f.Category != w.category || f.Inlined != w.inlined {
						t.Errorf("frame %s: %+v, want %+v", w.short, f, *w)
					}
					break
				}
				if !found {
					t.Errorf("no frame %s", w.short)
				}
			}
		})
	}
}

// Errors: empty, binary and unrecognizable input fail; a clean run does not.
func TestParseErrors(t *testing.T) {
	if _, err := Parse(nil); !errors.Is(err, ErrEmptyLog) {
		t.Errorf("nil log: %v", err)
	}
	if _, err := Parse([]byte(" \n\t\n")); !errors.Is(err, ErrEmptyLog) {
		t.Errorf("blank log: %v", err)
	}
	// A NUL in a panic message that echoes input is part of the log.
	if tr, err := Parse([]byte("thread 'main' panicked at src/a.rs:1:1:\nx\x00y\n")); err != nil || tr.Message != "x\x00y" {
		t.Errorf("NUL byte in a message: %v %+v", err, tr)
	}
	if _, err := Parse([]byte("\x00\x01\x02\x03panicked\x00\x00")); !errors.Is(err, ErrNotText) {
		t.Errorf("binary with NULs: %v", err)
	}
	bin := make([]byte, 200)
	for i := range bin {
		bin[i] = byte(0x80 + i%0x40)
	}
	if _, err := Parse(bin); !errors.Is(err, ErrNotText) {
		t.Errorf("binary: %v", err)
	}
	garbage := filepath.Join("testdata", "handwritten", "garbage.txt")
	_, err := ParseFile(garbage)
	if !errors.Is(err, ErrUnrecognized) || !strings.Contains(err.Error(), garbage) {
		t.Errorf("garbage: %v (want ErrUnrecognized naming the file)", err)
	}
	if _, err := ParseFile(filepath.Join("testdata", "does-not-exist.log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
