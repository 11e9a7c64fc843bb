package terminal

import (
	"bytes"
	"context"
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
	t     *testing.T
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

func needLLDB(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/lldb-19"); err != nil {
		t.Skip("lldb-19 is not installed (scripts/setup installs it)")
	}
}

// newHarness builds the fixture, reproduces the artifact on the release
// build for its trace (as `triage debug` does without a record) and makes
// a session on the dev build; mod adjusts the configuration.
func newHarness(t *testing.T, target, artifact string, mod func(*Config)) *harness {
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
		"at vm/devices/storage/ide/src/lib.rs:387",
		"stopped: thread #1, breakpoint 1.1 (the panic)",
		"=>*#2   ide::IdeDevice::start_dma  vm/devices/storage/ide/src/lib.rs:387",
		"->   387              panic!(\"READ DMA without a PRD table",
	} {
		if !strings.Contains(start, w) {
			t.Errorf("start lacks %q:\n%s", w, start)
		}
	}
	if f := h.s.current(); f == nil || lldbscript.FunctionKey(f.Function) != "ide::IdeDevice::start_dma" {
		t.Fatalf("selected %+v, want start_dma (the panic site)", f)
	}

	t.Run("bt", func(t *testing.T) {
		out := h.must("bt", "   #1   core::panicking::panic_fmt", "  *#3   ide::IdeDevice::execute_command  vm/devices/storage/ide/src/lib.rs:367")
		if !strings.Contains(out, "main") {
			t.Errorf("bt shows machinery frames too:\n%s", out)
		}
		out = h.must("bt app")
		if strings.Contains(out, "#1   core::panicking") {
			t.Errorf("bt app shows machinery:\n%s", out)
		}
	})

	t.Run("frame and vars", func(t *testing.T) {
		h.must("frame 3", "frame #3: ide::IdeDevice::execute_command", "->   367")
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
		h.must("type IdeDevice", "struct ide::IdeDevice", "channels: [ide::Channel; 2]", "bus_master: alloc::sync::Arc<")
		h.must("type core::option::Option<ide::DiskDrive>", "enum core::option::Option<ide::DiskDrive>",
			"Some { 0: ide::DiskDrive }", "lldb: x.$variants$.$variant$.value", "every other discriminant value (niche)", "None")
		h.must("frame " + h.frameOf("fuzz_ide::_::__libfuzzer_sys_run"))
		h.must("type ide_device", "struct alloc::sync::Arc<ide::CloseableMutex<ide::IdeDevice>", "x reaches ide::CloseableMutex<ide::IdeDevice> at `x.ptr.pointer->data`")
		h.must("type ide_device.channels[0].state", "enum ide::ChannelState", "Busy { command: u8, remaining: u32 }")
	})

	t.Run("break, script, save, run", func(t *testing.T) {
		h.must("frame 2")
		h.must("break lib.rs:380", "using ide/src/lib.rs (frame #2's)", "breakpoint 1: ide/src/lib.rs:380")
		h.must("script", "breakpoint set -f ide/src/lib.rs -l 380", "frame variable self->channels[0].state",
			"triage-frame ide::IdeDevice::start_dma")
		// The stop moves to the breakpoint: line 380 runs before the panic.
		h.must("bt app", "(the breakpoints changed: finding the new stop)", "stopped: thread #1, breakpoint 2.1 (-f ide/src/lib.rs -l 380)")
		if f := h.s.current(); f.Line != 380 {
			t.Errorf("stop at %s:%d, want line 380", f.File, f.Line)
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
		h.must("release", "switched to the release build", "release/fuzz_ide", "stopped: thread #1, breakpoint 1.1 (the panic)", "=>*#2   start_dma [inlined]  vm/devices/storage/ide/src/lib.rs:387")
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
