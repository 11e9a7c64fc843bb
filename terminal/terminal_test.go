package terminal

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/internal/shell"
	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/symbolize"
)

// The tests drive the command interpreter the way the prompt does
// (shell.Execute and shell.Complete, no terminal) on the fixture's real
// binaries, with real lldb-19.

type harness struct {
	t     testing.TB
	s     *Session
	sh    *shell.Shell
	out   *bytes.Buffer
	root  string
	bins  map[string]string
	input string
}

const (
	ideArtifact  = "crash-50a484a1be43358521bd675930166a80cce9f94a" // ide-dma-no-prd
	cmosArtifact = "crash-d2bdfbfdbfbc2b58d5550e0823a5c3de8cb42435" // cmos-index-oob
)

func needLLDB(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/lldb-19"); err != nil {
		t.Skip("lldb-19 is not installed (scripts/setup installs it)")
	}
}

// newHarness builds the fixture, reproduces the artifact on the release
// build for its trace (as `triage debug` does without a record) and makes
// a session on the dev build; mod adjusts the configuration.
func newHarness(t testing.TB, target, artifact string, mod func(*Config)) *harness {
	t.Helper()
	root := fixture.Root()
	fixture.Build(t, root)
	fixture.Build(t, root, "--dev")
	h := &harness{t: t, root: root, out: &bytes.Buffer{}, bins: map[string]string{
		Release: fixture.BinaryPath(t, root, target),
		Dev:     fixture.BinaryPath(t, root, target, "--dev"),
	}}
	h.input = fixture.ArtifactPath(root, target, artifact)
	res, err := procrun.Run(context.Background(), procrun.Spec{
		Path: h.bins[Release], Args: []string{"-timeout=5", h.input}, Env: []string{"RUST_BACKTRACE=1"},
		Timeout: time.Minute, Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := symbolize.Parse(append(res.Stdout, res.Stderr...))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Artifact: h.input, Flags: []string{"-timeout=5"}, Crash: tr, Profile: Dev, Root: root,
		Dir: t.TempDir(),
		Binary: func(_ context.Context, p string) (string, error) {
			return h.bins[p], nil
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	h.s, err = New(cfg, h.out)
	if err != nil {
		t.Fatal(err)
	}
	h.sh = shell.New("(triage) ", h.out, h.s.Commands())
	if err := h.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return h
}

// do runs one command line and returns what it printed.
func (h *harness) do(line string) (string, error) {
	h.t.Helper()
	h.out.Reset()
	err := h.sh.Execute(context.Background(), line)
	return h.out.String(), err
}

// must runs a command that must succeed and print every want.
func (h *harness) must(line string, want ...string) string {
	h.t.Helper()
	out, err := h.do(line)
	if err != nil {
		h.t.Fatalf("%s: %v\n%s", line, err, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			h.t.Errorf("%s: output lacks %q:\n%s", line, w, out)
		}
	}
	return out
}

// frameOf is the number `bt` gives the first frame of fn.
func (h *harness) frameOf(fn string) string {
	h.t.Helper()
	for _, f := range h.s.stack {
		if lldbscript.FunctionKey(f.Function) == fn {
			return strconv.Itoa(f.Index)
		}
	}
	h.t.Fatalf("no frame of %s in the stack", fn)
	return ""
}

func (h *harness) complete(line string) (string, []string) {
	head, list, _ := h.sh.Complete(line, len(line))
	return head, list
}

func TestSessionAtThePanic(t *testing.T) {
	needLLDB(t)
	h := newHarness(t, "fuzz_ide", ideArtifact, nil)
	start := h.out.String()
	for _, w := range []string{
		"READ DMA without a PRD table: channel 0 drive 0 with 256 sectors pending",
		"at vm/devices/storage/ide/src/lib.rs:393",
		"stopped: thread #1, breakpoint 1.1 (the panic)",
		"=>*#2   ide::IdeDevice::start_dma  vm/devices/storage/ide/src/lib.rs:393",
		"->   393              panic!(\"READ DMA without a PRD table",
	} {
		if !strings.Contains(start, w) {
			t.Errorf("start lacks %q:\n%s", w, start)
		}
	}
	if f := h.s.current(); f == nil || lldbscript.FunctionKey(f.Function) != "ide::IdeDevice::start_dma" {
		t.Fatalf("selected %+v, want start_dma (the panic site)", f)
	}

	t.Run("bt", func(t *testing.T) {
		out := h.must("bt", "   #1   core::panicking::panic_fmt", "  *#3   ide::IdeDevice::execute_command  vm/devices/storage/ide/src/lib.rs:373")
		if !strings.Contains(out, "main") {
			t.Errorf("bt shows machinery frames too:\n%s", out)
		}
		out = h.must("bt app")
		if strings.Contains(out, "#1   core::panicking") {
			t.Errorf("bt app shows machinery:\n%s", out)
		}
	})

	t.Run("frame and vars", func(t *testing.T) {
		h.must("frame 3", "frame #3: ide::IdeDevice::execute_command", "->   373")
		if f := h.s.current(); lldbscript.FunctionKey(f.Function) != "ide::IdeDevice::execute_command" {
			t.Errorf("frame 3 selected %s", f.Function)
		}
		h.must("vars", "cmd: ide::AtaCommand = ReadDma", "sectors: unsigned int = 256", "is_hard_drive: bool = true")
		h.must("down", "frame #2: ide::IdeDevice::start_dma")
		h.must("vars", "remaining: unsigned int = 256")
		h.must("up 2", "frame #4: ide::IdeDevice::handle")
		if _, err := h.do("frame 99"); err == nil || !strings.Contains(err.Error(), "no frame #99") {
			t.Errorf("frame 99: %v", err)
		}
	})

	t.Run("print through wrappers", func(t *testing.T) {
		h.must("frame 2")
		h.must("print self.channels[0].state",
			"lldb: frame variable self->channels[0].state",
			"= Busy {command: '\\xc8', remaining: 256}")
		h.must("print self.host.Some.name",
			"lldb: frame variable self->host.ptr.pointer->data.data.value.$variants$.$variant$.value.__0.name",
			"through Arc", "through Mutex", "variant Some", `= "pci0"`)
		h.must("print self.channels[1].drives[0].OpticalDevice.media.Some.Cd.tracks", "= 3")
		if _, err := h.do("print self.nosuch"); err == nil || !strings.Contains(err.Error(), "has no field nosuch") {
			t.Errorf("print self.nosuch: %v", err)
		}
		// The closure frame holds the device the way OpenVMM does:
		// Arc<CloseableMutex<IdeDevice>>, the fuzzing guide's example.
		h.must("frame " + h.frameOf("fuzz_ide::_::__libfuzzer_sys_run"))
		h.must("print ide_device.channels[0].state",
			"lldb: frame variable ide_device.ptr.pointer->data.value.value.channels[0].state",
			"= Busy {command: '\\xc8', remaining: 256}")
		h.must("print", "1. self.channels[0].state", "4. ide_device.channels[0].state")
		// A path that translates but lldb cannot read (dma_engine is
		// None) is not kept for the saved command file.
		h.must("frame 2")
		// `drive` is bound twice on one line (u32, then u8): the
		// innermost binding is the one in scope, and print says so.
		h.must("print drive", "drive: u8", "drive has 2 bindings", "innermost", "= 0")
		if typ := h.s.varType("drive"); typ == nil || typ.Name != "u8" {
			t.Errorf("varType(drive) = %+v, want u8", typ)
		}
		h.must("print self.dma_engine.Some.name", "error:", "not added to the command file")
		if out := h.must("print"); strings.Contains(out, "dma_engine") || !strings.Contains(out, "4. ide_device.channels[0].state") {
			t.Errorf("the failed path was kept:\n%s", out)
		}
	})

	t.Run("completion", func(t *testing.T) {
		h.must("frame " + h.frameOf("fuzz_ide::_::__libfuzzer_sys_run"))
		for _, c := range []struct {
			line, head string
			want       []string
		}{
			{"pri", "", []string{"print"}},
			{"print ide", "print ", []string{"ide_device"}},
			{"print ide_device.cha", "print ide_device.", []string{"channels"}},
			{"print ide_device.channels[0].st", "print ide_device.channels[0].", []string{"state"}},
			{"print ide_device.channels[0].state.", "print ide_device.channels[0].state.", []string{"Busy", "Error", "Idle"}},
			{"print ide_device.host.", "print ide_device.host.", []string{"None", "Some"}},
			{"print ide_device.host.Some.", "print ide_device.host.Some.", []string{"irq", "name"}},
			{"print ide_device.channels[0].drives[0].Some.Ha", "print ide_device.channels[0].drives[0].Some.", []string{"HardDevice"}},
			{"print ide_device.channels[0].drives[0].Some.HardDevice.ser", "print ide_device.channels[0].drives[0].Some.HardDevice.", []string{"serial"}},
			{"type ide_device.b", "type ide_device.", []string{"bus_master"}},
		} {
			head, got := h.complete(c.line)
			if head != c.head || !reflect.DeepEqual(got, c.want) {
				t.Errorf("%q: head %q completions %q, want %q %q", c.line, head, got, c.head, c.want)
			}
		}
		// After `ide_device.` the device's fields, not Arc's or
		// CloseableMutex's internals.
		_, got := h.complete("print ide_device.")
		for _, w := range []string{"channels", "bus_master", "host", "name", "event_log", "pending"} {
			if !contains(got, w) {
				t.Errorf("print ide_device. lacks %s: %q", w, got)
			}
		}
		for _, bad := range []string{"ptr", "phantom", "alloc", "mutex", "value"} {
			if contains(got, bad) {
				t.Errorf("print ide_device. offers wrapper internals %s: %q", bad, got)
			}
		}
		// Variables of the selected frame.
		h.must("frame 2")
		_, got = h.complete("print ")
		for _, w := range []string{"self", "ch", "bm", "taskfile", "remaining", "drive"} {
			if !contains(got, w) {
				t.Errorf("variables of start_dma lack %s: %q", w, got)
			}
		}
		_, got = h.complete("frame 1")
		if !contains(got, "1") || !contains(got, "10") {
			t.Errorf("frame 1<Tab>: %q", got)
		}
		_, got = h.complete("break ide")
		if !contains(got, "ide/src/lib.rs:") {
			t.Errorf("break ide<Tab>: %q", got)
		}
	})

	t.Run("type", func(t *testing.T) {
		// The layouts are lldbscript's (WriteLayout); the prompt finds the type.
		h.must("type IdeDevice", "ide::IdeDevice  (struct", "channels         [ide::Channel; 2]", "bus_master       alloc::sync::Arc<")
		h.must("type core::option::Option<ide::DiskDrive>", "core::option::Option<ide::DiskDrive>  (enum",
			"Some  (discriminant every other value; lldb: x.$variants$.$variant$.value)", "None  (discriminant")
		h.must("frame " + h.frameOf("fuzz_ide::_::__libfuzzer_sys_run"))
		h.must("type ide_device", "alloc::sync::Arc<ide::CloseableMutex<ide::IdeDevice>", "the value ide::CloseableMutex<ide::IdeDevice> is at x.ptr.pointer->data")
		h.must("type ide_device.channels[0].state", "ide::ChannelState  (enum", "Busy  (discriminant 1", "remaining u32")
		if _, err := h.do("type NoSuchType"); err == nil || !strings.Contains(err.Error(), `no type named "NoSuchType"`) {
			t.Errorf("type NoSuchType: %v", err)
		}
	})

	t.Run("break, script, save, run", func(t *testing.T) {
		h.must("frame 2")
		h.must("break lib.rs:386", "using ide/src/lib.rs (frame #2's)", "breakpoint 1: ide/src/lib.rs:386")
		h.must("script", "breakpoint set -f ide/src/lib.rs -l 386", "frame variable self->channels[0].state",
			"triage-frame ide::IdeDevice::start_dma")
		// The stop moves to the breakpoint: line 386 runs before the panic.
		h.must("bt app", "(the breakpoints changed: finding the new stop)", "stopped: thread #1, breakpoint 2.1 (-f ide/src/lib.rs -l 386)")
		if f := h.s.current(); f.Line != 386 {
			t.Errorf("stop at %s:%d, want line 386", f.File, f.Line)
		}
		file := filepath.Join(t.TempDir(), "session.lldb")
		h.must("save "+file, "saved "+file)
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "frame variable ide_device.ptr.pointer->data.value.value.channels[0].state") {
			t.Errorf("saved file lacks the path:\n%s", data)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(file), "triage_lldb.py")); err != nil {
			t.Errorf("helper not saved: %v", err)
		}
		h.must("run", "stopped: thread #1, breakpoint 2.1", "paths:",
			"self.host.Some.name = \"pci0\"", "ide_device.channels[0].state = Busy {command: '\\xc8', remaining: 256}")
		h.must("clear 1", "breakpoint 1 removed")
		h.must("bt app", "breakpoint 1.1 (the panic)")
	})

	t.Run("release and dev", func(t *testing.T) {
		h.must("release", "switched to the release build", "release/fuzz_ide", "stopped: thread #1, breakpoint 1.1 (the panic)", "=>*#2   start_dma [inlined]  vm/devices/storage/ide/src/lib.rs:393")
		if h.s.Profile() != Release || h.s.BinaryPath() != h.bins[Release] {
			t.Errorf("on %s %s", h.s.Profile(), h.s.BinaryPath())
		}
		h.must("script", "# triage lldb session: triage debug: "+ideArtifact+" on fuzz_ide (release build)")
		h.must("dev", "switched to the dev build")
		h.must("dev", "already on the dev build")
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// lineOf is the line number of the first line of file containing text.
func lineOf(t *testing.T, file, text string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, text) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, text)
	return 0
}

// The cmos target feeds (selector, value) byte pairs to the RTC, and this
// input crashes on its last pair: how often each line of the loop runs
// before the crash can be counted from the input's bytes.
func TestHitsCountRunsBeforeTheCrash(t *testing.T) {
	needLLDB(t)
	h := newHarness(t, "fuzz_chipset_cmos_rtc", cmosArtifact, nil)
	data, err := os.ReadFile(h.input)
	if err != nil {
		t.Fatal(err)
	}
	pairs, sel := len(data)/2, map[byte]int{}
	for i := 0; i+1 < len(data); i += 2 {
		sel[data[i]&3]++
	}
	src := filepath.Join(h.root, "vm/devices/chipset/fuzz/fuzz_targets/fuzz_chipset_cmos_rtc.rs")
	perPair := lineOf(t, src, "let (sel, val) = (pair[0], pair[1]);")
	index := lineOf(t, src, "0 => rtc.io_write(PORT_INDEX, val),")
	dataWrite := lineOf(t, src, "1 => rtc.io_write(PORT_DATA, val),")
	if sel[1] < 2 {
		t.Fatalf("input %x: want at least two data writes for the ignore test", data)
	}
	for _, c := range []struct {
		line, want int
	}{{perPair, pairs}, {index, sel[0]}, {dataWrite, sel[1]}} {
		loc := fmt.Sprintf("fuzz_chipset_cmos_rtc.rs:%d", c.line)
		h.must("hits "+loc, fmt.Sprintf("%s was hit %d times before the crash", loc, c.want),
			fmt.Sprintf("`break %s ignore %d` stops at the last of them", loc, c.want-1))
	}
	// The count is what `break ... ignore N` needs: ignoring one hit fewer
	// stops at the line, ignoring all of them reaches the crash.
	loc := fmt.Sprintf("fuzz_chipset_cmos_rtc.rs:%d", dataWrite)
	h.must(fmt.Sprintf("break %s ignore %d", loc, sel[1]-1), "breakpoint 1: "+loc)
	h.must("bt app", "stopped: thread #1, breakpoint 2.1")
	if f := h.s.current(); f == nil || f.Line != dataWrite || h.s.stop == nil || h.s.stop.Breakpoint != "2.1" {
		t.Fatalf("with ignore %d: stop %+v at %+v, want breakpoint 2.1 at line %d", sel[1]-1, h.s.stop, f, dataWrite)
	}
	h.must("clear all")
	h.must(fmt.Sprintf("break %s ignore %d", loc, sel[1]))
	h.must("bt app", "stopped: thread #1, breakpoint 1.1 (the panic)")
	if _, err := h.do("hits nosuch.rs:3"); err == nil || !strings.Contains(err.Error(), "no code at nosuch.rs:3") {
		t.Errorf("hits nosuch.rs:3: %v", err)
	}
}

// Without lldb the session goes on: the crash log's frames, paths
// translated from DWARF, the command file written; lldb commands say why
// they cannot run and the prompt stays.
func TestWithoutLLDB(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "lldb-19")
	h := newHarness(t, "fuzz_ide", ideArtifact, func(c *Config) { c.LLDB = missing })
	start := h.out.String()
	for _, w := range []string{missing + ": not found", "Using the crash log's frames instead", "stack (crash log; frame numbers are positions in the log"} {
		if !strings.Contains(start, w) {
			t.Errorf("start lacks %q:\n%s", w, start)
		}
	}
	if f := h.s.current(); f == nil || !strings.HasSuffix(f.Function, "start_dma") {
		t.Fatalf("selected %+v, want the panic site from the crash log", f)
	}
	h.must("print self.channels[0].state", "lldb: frame variable self->channels[0].state", "lldb has not run, so no value")
	if out, err := h.do("vars"); err == nil || !strings.Contains(out, "names from DWARF") || !strings.Contains(out, "remaining") {
		t.Errorf("vars without lldb: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "s.lldb")
	h.must("save "+file, "saved")
	// The release crash log names frames by short DWARF names
	// (start_dma); the file names them as the dev build's DWARF and lldb
	// do.
	if data, err := os.ReadFile(file); err != nil || !strings.Contains(string(data), "frame variable self->channels[0].state") ||
		!strings.Contains(string(data), "triage-frame ide::IdeDevice::start_dma\n") ||
		!strings.Contains(string(data), `triage-frame "fuzz_ide::_::__libfuzzer_sys_run::{closure}"`) {
		t.Errorf("saved: %v\n%s", err, data)
	}
	// A scripted session: errors are reported and the next line runs.
	h.out.Reset()
	h.sh.In = strings.NewReader("run\nbt app\nquit\nframe 0\n")
	if err := h.sh.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := h.out.String()
	for _, w := range []string{"(triage) run\n", "error: " + missing + ": not found", "(triage) bt app\nstack (crash log", "(triage) quit\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("transcript lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "(triage) frame 0") {
		t.Errorf("ran past quit:\n%s", out)
	}
}

// An lldb run that times out is killed and reported; the prompt stays.
func TestLLDBTimeout(t *testing.T) {
	needLLDB(t)
	h := newHarness(t, "fuzz_ide", ideArtifact, func(c *Config) { c.Timeout = 100 * time.Millisecond })
	if start := h.out.String(); !strings.Contains(start, "lldb-timeout: lldb did not finish within 100ms") {
		t.Errorf("start:\n%s", start)
	}
	out, err := h.do("run")
	if err == nil || !strings.Contains(err.Error(), "did not finish within 100ms") {
		t.Errorf("run: %v\n%s", err, out)
	}
	h.must("bt app", "ide::IdeDevice::start_dma")
}

func TestParseHitCounts(t *testing.T) {
	got := parseHitCounts(strings.Split(`Current breakpoints:
1: regex = 'panic_fmt', locations = 1, resolved = 1, hit count = 1
  1.1: where = fuzz_ide`+"`"+`core::panicking::panic_fmt + 20 [inlined] <core::panic::panic_info::PanicInfo>::new at panic_info.rs:40:9, address = 0x0000555555610324, resolved, hit count = 1 

2: file = 'lib.rs', line = 332, exact_match = 0, locations = 1, resolved = 1, hit count = 17 Options: ignore: 999999983 enabled 
  2.1: where = fuzz_ide`+"`"+`ide::IdeDevice::execute_command::h3c6a462b578391b1 + 122 at lib.rs:332:18, address = 0x00005555555cadca, resolved, hit count = 17 
`, "\n"))
	if want := map[int]int{1: 1, 2: 17}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func FuzzParseHitCounts(f *testing.F) {
	f.Add("2: file = 'lib.rs', line = 332, exact_match = 0, locations = 1, resolved = 1, hit count = 17 Options: ignore: 1 enabled")
	f.Add("1: regex = 'panic_fmt', locations = 1, resolved = 1, hit count = 1\n  1.1: where = x, hit count = 1")
	f.Fuzz(func(t *testing.T, s string) {
		for id, n := range parseHitCounts(strings.Split(s, "\n")) {
			if id < 0 || n < 0 {
				t.Errorf("negative id or count: %d %d", id, n)
			}
		}
	})
}

// Other crash kinds stop where they happen: a stack overflow on SIGSEGV in
// the recursion (shown as one run of frames), an OOM input at the RSS
// limit, or, on the slower dev build, at the timeout it hits first (the
// session reads the fuzz target's own report and follows it).
func TestOtherCrashKinds(t *testing.T) {
	needLLDB(t)
	for _, c := range []struct {
		artifact string
		flags    []string
		want     []string
		site     string
	}{
		{"crash-3c37a5d61c0a504082d6d5558ab5d3b6a7468bce", []string{"-timeout=5"},
			[]string{"stopped: thread #1, signal SIGSEGV", "more frames of wire_proto::read_name", "recursion)"}, "wire_proto::read_name"},
		{"oom-1b1cc679f0eeac58271170b12ddd636c1588060f", []string{"-rss_limit_mb=512", "-timeout=5"},
			[]string{"stopped: thread #"}, "wire_proto::decode_packed"},
	} {
		t.Run(c.artifact, func(t *testing.T) {
			h := newHarness(t, "fuzz_wire_decode", c.artifact, func(cfg *Config) { cfg.Flags = c.flags })
			start := h.out.String()
			for _, w := range c.want {
				if !strings.Contains(start, w) {
					t.Errorf("start lacks %q:\n%s", w, start)
				}
			}
			if strings.Contains(start, "Using the crash log's frames") {
				t.Fatalf("lldb did not stop:\n%s", start)
			}
			if f := h.s.current(); f == nil || lldbscript.FunctionKey(f.Function) != c.site {
				t.Errorf("selected %+v, want %s", f, c.site)
			}
			if k := h.s.kind(); k != h.s.cfg.Crash.Kind && !strings.Contains(start, "this input ends as "+string(k)) {
				t.Errorf("stop rules for %s without saying so:\n%s", k, start)
			}
		})
	}
}

// Completion reads only DWARF: it must keep up with typing.
func BenchmarkCompletePath(b *testing.B) {
	needLLDB(b)
	h := newHarness(b, "fuzz_ide", ideArtifact, nil)
	h.must("frame " + h.frameOf("fuzz_ide::_::__libfuzzer_sys_run"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, got := h.s.CompletePath("ide_device.channels[0].drives[0].Some.HardDevice."); len(got) != 4 {
			b.Fatalf("completions %q", got)
		}
	}
}

// One `print`: translation plus one batch lldb run to the panic.
func BenchmarkPrint(b *testing.B) {
	needLLDB(b)
	h := newHarness(b, "fuzz_ide", ideArtifact, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.must("print self.host.Some.name", `= "pci0"`)
	}
}

// Starting a session: DWARF, source index and one lldb run to the stop.
func BenchmarkStart(b *testing.B) {
	needLLDB(b)
	h := newHarness(b, "fuzz_ide", ideArtifact, nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := New(h.s.cfg, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Start(context.Background()); err != nil || !s.fromLLDB {
			b.Fatalf("start: %v (lldb stack %v)", err, s.fromLLDB)
		}
	}
}
