package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/lldbscript"
)

func needLLDB19(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(lldbscript.DefaultLLDB); err != nil {
		t.Skip("lldb-19 not installed")
	}
}

// `triage lldb` on one input of every planted crash kind: the session
// stops, and the first in-app frame it inspects is the bug's function.
func TestLLDBEveryCrashKind(t *testing.T) {
	needLLDB19(t)
	root := fixture.Root()
	fixture.Build(t, root, "--dev")
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		bug   string
		flags []string
		kind  string
		stop  string // the stop reason starts with this
	}{
		{bug: "cmos-index-oob", kind: "rust-panic", stop: "breakpoint 1."},
		{bug: "battery-unwrap-pack", kind: "rust-panic", stop: "breakpoint 1."},
		{bug: "ide-dma-no-prd", kind: "rust-panic", stop: "breakpoint 1."},
		{bug: "ata-assert-transfer", kind: "rust-panic", stop: "breakpoint 1."},
		{bug: "wire-name-recursion", kind: "stack-overflow", stop: "signal SIGSEGV"},
		{bug: "wire-skip-loop", flags: []string{"-timeout=2"}, kind: "timeout", stop: "signal SIGALRM"},
		{bug: "wire-packed-oom", flags: []string{"-timeout=120", "-rss_limit_mb=256"}, kind: "oom", stop: "breakpoint 2."},
		{bug: "wire-alloc-huge", kind: "alloc-failure", stop: "breakpoint 2."},
	} {
		t.Run(tc.bug, func(t *testing.T) {
			bug := m.Bug(tc.bug)
			art := fixture.ArtifactPath(root, bug.Target, bug.Inputs[0].File)
			args := []string{"lldb", "--workspace", root, "--format", "json", "--out", t.TempDir()}
			for _, f := range tc.flags {
				args = append(args, "--flag", f)
			}
			args = append(args, bug.Target, art)
			code, out, errs := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, errs, out)
			}
			var rep struct {
				Kind   string
				Status string
				Stop   *lldbscript.Stop
				Frames []lldbscript.FrameView
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if rep.Kind != tc.kind || rep.Status != "stopped" || rep.Stop == nil || !strings.HasPrefix(rep.Stop.Reason, tc.stop) {
				t.Fatalf("kind %s status %s stop %+v", rep.Kind, rep.Status, rep.Stop)
			}
			if len(rep.Frames) == 0 || rep.Frames[0].Frame == nil {
				t.Fatalf("no in-app frame inspected: %+v", rep.Frames)
			}
			got := lldbscript.FunctionKey(rep.Frames[0].Frame.Function)
			if got != bug.Function {
				t.Fatalf("first in-app frame %s, want %s", got, bug.Function)
			}
			if len(rep.Frames[0].Source) == 0 {
				t.Errorf("no source listed for %s", got)
			}
		})
	}
}

func TestLLDBExprsAndText(t *testing.T) {
	needLLDB19(t)
	root := fixture.Root()
	fixture.Build(t, root, "--dev")
	art := fixture.ArtifactPath(root, "fuzz_ide", "crash-50a484a1be43358521bd675930166a80cce9f94a")
	code, out, errs := runCLI(t, "lldb", "--workspace", root, "--out", t.TempDir(),
		"--expr", "st: self.channels[0].state", "--expr", "serial: self.channels[0].drives[0].HardDevice.serial",
		"--expr", "dev: ide_device.name@fuzz_ide::_::__libfuzzer_sys_run", "--break", "lib.rs:9999:3", "fuzz_ide", art)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, errs, out)
	}
	for _, want := range []string{
		"crash kind: rust-panic",
		"message:    READ DMA without a PRD table",
		"session:    stopped",
		"frame #2 ide::IdeDevice::start_dma",
		"->   393",
		"remaining: unsigned int = 256",
		"st = Busy {command: '\\xc8', remaining: 256}",
		`serial = "TRIAGE-0001"`,
		`dev = "ide0"`,
		"frame variable ide_device.ptr.pointer->data.value.value.name",
		"&& lldb-19 -b",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestLLDBPrintScriptAndType(t *testing.T) {
	needLLDB19(t)
	root := fixture.Root()
	fixture.Build(t, root, "--dev")
	dir := t.TempDir()
	art := fixture.ArtifactPath(root, "fuzz_ide", "crash-50a484a1be43358521bd675930166a80cce9f94a")
	code, out, errs := runCLI(t, "lldb", "--workspace", root, "--print-script", "--out", dir, "--break", "lib.rs:385:2", "fuzz_ide", art)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	file, err := os.ReadFile(filepath.Join(dir, "session.lldb"))
	if err != nil || string(file) != out {
		t.Fatalf("printed script differs from %s (%v)", filepath.Join(dir, "session.lldb"), err)
	}
	for _, want := range []string{"triage-frame ide::IdeDevice::start_dma", "breakpoint set -f lib.rs -l 385\nbreakpoint modify -i 2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "session.txt")); err == nil {
		t.Error("--print-script ran lldb")
	}
	if !strings.Contains(errs, "&& lldb-19 -b") {
		t.Errorf("no hand-run line: %s", errs)
	}
	code, out, errs = runCLI(t, "lldb", "--workspace", root, "--type", "ide::ChannelState", "fuzz_ide")
	if code != 0 || !strings.Contains(out, "Busy  (discriminant 1; lldb: x.$variants$.$variant$1.value)") {
		t.Fatalf("exit %d: %s %s", code, out, errs)
	}
	if code, _, _ := runCLI(t, "lldb", "--workspace", root, "--type", "NoSuchType", "fuzz_ide"); code != 1 {
		t.Errorf("unknown type: exit %d, want 1", code)
	}
	for _, bad := range [][]string{
		{"lldb", "--workspace", root, "fuzz_ide"},
		{"lldb", "--workspace", root, "--break", "x", "fuzz_ide", art},
		{"lldb", "--workspace", root, "nosuch", art},
		{"lldb", "--workspace", root, "fuzz_ide", "/nonexistent"},
	} {
		if code, _, _ := runCLI(t, bad...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}

// On a sanitizer build an OOM is reported by libFuzzer's malloc hook, which
// runs on every malloc: the session stops where the report is written, on
// the allocating thread, not at the program's first malloc. The input grows
// a buffer by doubling, so which of libFuzzer's two OOM reports comes first
// is a race: the malloc hook (an allocation above -malloc_limit_mb, which
// defaults to -rss_limit_mb) or the RSS thread, which looks once a second
// and wins on a loaded machine. Both are the OOM report and the session
// stops in either; in both the allocating stack is on the selected thread.
func TestLLDBOOMOnASanBuild(t *testing.T) {
	needLLDB19(t)
	root := fixture.Root()
	fixture.Build(t, root, symbolizeASanArgs()...)
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	bug := m.Bug("wire-packed-oom")
	bin := fixture.BinaryPath(t, root, bug.Target, symbolizeASanArgs()...)
	art := fixture.ArtifactPath(root, bug.Target, bug.Inputs[0].File)
	code, out, errs := runCLI(t, "lldb", "--workspace", root, "--format", "json", "--out", t.TempDir(),
		"--kind", "oom", "--flag", "-rss_limit_mb=512", "--binary", bin, art)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, errs, out)
	}
	var rep struct {
		Status    string
		Stop      *lldbscript.Stop
		Backtrace []lldbscript.Frame
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Status != "stopped" || rep.Stop == nil || rep.Stop.Frame == nil {
		t.Fatalf("status %s stop %+v", rep.Status, rep.Stop)
	}
	switch rep.Stop.Frame.Function {
	case "fuzzer::Fuzzer::DumpCurrentUnit", "fuzzer::Fuzzer::RssLimitCallback":
	default:
		t.Fatalf("stopped in %s, not in one of libFuzzer's OOM reports", rep.Stop.Frame.Function)
	}
	var site bool
	for _, f := range rep.Backtrace {
		// Release frames carry the bare name (no linkage names in line
		// tables): the name and the file say it is the bug's function.
		name := lldbscript.FunctionKey(f.Function)
		site = site || (name == bug.Function || strings.HasSuffix(bug.Function, "::"+name)) && strings.HasSuffix(f.File, "/"+bug.File)
	}
	if !site {
		t.Fatalf("%s is not on the stopped thread's stack: %+v", bug.Function, rep.Backtrace)
	}
}

// TestRegisterDecoded: the fixture's IDE status register (a bitflags! type,
// 0x58 at the ide-stats-borrow panic) is shown as hex, binary and its bit
// names, read from the workspace's definition, in triage lldb's findings
// and text and in triage debug.
func TestRegisterDecoded(t *testing.T) {
	needLLDB19(t)
	root := fixture.Root()
	fixture.Build(t, root, "--dev")
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	bug := m.Bug("ide-stats-borrow")
	art := fixture.ArtifactPath(root, bug.Target, bug.Inputs[0].File)
	const want = "0x58 = 0b0101_1000: DRQ | DSC | DRDY"

	code, out, errs := runCLI(t, "lldb", "--workspace", root, "--format", "json", "--out", t.TempDir(), bug.Target, art)
	if code != 0 {
		t.Fatalf("lldb: exit %d\n%s", code, errs)
	}
	var rep struct {
		Findings struct {
			Variables []struct{ Name, Type, Value string } `json:"variables"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, v := range rep.Findings.Variables {
		if v.Name == "status" && v.Type == "ide::IdeStatus" {
			found = true
			if v.Value != want {
				t.Errorf("findings: status = %q, want %q", v.Value, want)
			}
		}
	}
	if !found {
		t.Errorf("findings have no status variable: %+v", rep.Findings.Variables)
	}
	code, out, errs = runCLI(t, "lldb", "--workspace", root, "--out", t.TempDir(), bug.Target, art)
	if code != 0 || !strings.Contains(out, "status: ide::IdeStatus = "+want) {
		t.Errorf("lldb text: exit %d, want the decoded status\n%s\n%s", code, out, errs)
	}

	var dout, derr bytes.Buffer
	code = run(context.Background(), []string{"debug", "--workspace", root, "--no-build", bug.Target, art}, strings.NewReader("vars\nquit\n"), &dout, &derr)
	if code != exitOK || !strings.Contains(dout.String(), "  status: ide::IdeStatus = "+want+"\n") {
		t.Errorf("debug: exit %d, want `status: ide::IdeStatus = %s`\n%s\n%s", code, want, dout.String(), derr.String())
	}
}

// TestLLDBWrapperFieldCollisions: fields of the user's type named like a
// std wrapper's own fields (inner, data, value, ptr, v) resolve to the
// user's field through every wrapper kind: Arc<Mutex<T>>, Rc<RefCell<T>>,
// Arc<RwLock<T>>, Cell<T>, Box<UnsafeCell<T>> and a user wrapper
// (CloseableMutex<T>, whose own field is named `value`).
func TestLLDBWrapperFieldCollisions(t *testing.T) {
	needLLDB19(t)
	root := fixture.Root()
	fixture.Build(t, root, "--dev")
	art := fixture.ArtifactPath(root, "fuzz_ide", "crash-50a484a1be43358521bd675930166a80cce9f94a")
	wrappers := []struct {
		field string
		base  int
	}{{"arc_mutex", 10}, {"rc_refcell", 20}, {"arc_rwlock", 30}, {"cell", 40}, {"boxed_unsafe", 50}}
	fields := []string{"inner", "data", "value", "ptr", "v"}
	args := []string{"lldb", "--workspace", root, "--format", "json", "--out", t.TempDir()}
	want := map[string]string{}
	for _, w := range wrappers {
		for i, f := range fields {
			name := w.field + "_" + f
			args = append(args, "--expr", name+": self.collisions."+w.field+"."+f)
			want[name] = fmt.Sprint(w.base + i + 1)
		}
	}
	// CloseableMutex<T> has its own `value` field (an UnsafeCell<T>): in
	// Rust, `.value` on it names that field, and the path goes on from
	// there through the UnsafeCell to T's fields.
	args = append(args, "--expr", "closeable_value_inner: self.collisions.closeable.value.inner", "--expr", "closeable_data: self.collisions.closeable.data")
	want["closeable_value_inner"], want["closeable_data"] = "61", "62"
	args = append(args, "fuzz_ide", art)
	code, out, errs := runCLI(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, errs, out)
	}
	var rep struct {
		Exprs []struct {
			Name, Text, Error, LLDB string
		} `json:"exprs"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range rep.Exprs {
		got[e.Name] = e.Text
		if w, ok := want[e.Name]; ok && e.Text != w {
			t.Errorf("%s = %q (lldb path %s, error %q), want %s", e.Name, e.Text, e.LLDB, e.Error, w)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("%s: no result", name)
		}
	}
}
