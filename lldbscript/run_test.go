package lldbscript

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Faults the real lldb cannot produce on demand (hanging, crashing) are
// injected with a stand-in script; the real lldb paths (stopped, not
// stopped) run lldb-19.

func fakeLLDB(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake-lldb")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// dummyInput is an input file for sessions that never run the binary.
func dummyInput(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func simpleSpec(t *testing.T) *Spec {
	bin, art := ideFixture(t)
	return &Spec{Binary: bin, Input: art, Frames: []FrameSelector{{Function: fnStartDma}}}
}

func TestRunLLDBMissing(t *testing.T) {
	spec := &Spec{Binary: "/bin/true", Input: dummyInput(t)}
	res, err := Run(context.Background(), spec, RunOptions{Dir: t.TempDir(), LLDB: "/nonexistent/lldb-19", Formatters: FormattersNone})
	if !errors.Is(err, ErrLLDBMissing) || res.Status != StatusLLDBMissing {
		t.Fatalf("err %v, status %s", err, res.Status)
	}
	if _, serr := os.Stat(res.ScriptPath); serr != nil || !strings.Contains(res.Message, res.ScriptPath) {
		t.Fatalf("the command file should still be written and named: %v %q", serr, res.Message)
	}
}

func TestRunLLDBHangsIsKilled(t *testing.T) {
	dir := t.TempDir()
	child := filepath.Join(dir, "child.pid")
	// A hanging lldb with a child of its own (as lldb has its debuggee).
	lldb := fakeLLDB(t, "sleep 600 & echo $! > "+child+"\nwait")
	start := time.Now()
	res, err := Run(context.Background(), &Spec{Binary: "/bin/true", Input: dummyInput(t)},
		RunOptions{Dir: dir, LLDB: lldb, Timeout: 500 * time.Millisecond, Formatters: FormattersNone})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusLLDBTimeout || time.Since(start) > 20*time.Second {
		t.Fatalf("status %s after %s: %s", res.Status, time.Since(start), res.Message)
	}
	data, err := os.ReadFile(child)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the hanging lldb's child %d survived", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunLLDBCrashes(t *testing.T) {
	lldb := fakeLLDB(t, `echo "(lldb) expr x.\$variants\$"; kill -SEGV $$`)
	res, err := Run(context.Background(), &Spec{Binary: "/bin/true", Input: dummyInput(t)},
		RunOptions{Dir: t.TempDir(), LLDB: lldb, Formatters: FormattersNone})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusLLDBCrashed || !strings.Contains(res.Message, "expr x.$variants$") {
		t.Fatalf("status %s: %s", res.Status, res.Message)
	}
}

// The real lldb on an input that does not crash: no breakpoint is hit.
func TestRunBreakpointNeverHit(t *testing.T) {
	bin, _ := ideFixture(t)
	empty := filepath.Join(t.TempDir(), "empty-input")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), &Spec{Binary: bin, Input: empty, Frames: []FrameSelector{{Function: fnStartDma}}},
		RunOptions{Dir: t.TempDir(), Formatters: FormattersNone})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusNotStopped || res.Session.Exit == nil || res.Session.Exit.Status != 0 {
		t.Fatalf("status %s (%s)\n%s", res.Status, res.Message, res.Transcript)
	}
}

// Without formatters a Vec cannot be indexed; the file says so and the
// session still runs the rest.
func TestRunWithoutFormatters(t *testing.T) {
	spec := simpleSpec(t)
	spec.Exprs = []Expr{{Name: "ev", Path: "self.event_log[0]"}, {Name: "n", Path: "self.name"}}
	res, err := Run(context.Background(), spec, RunOptions{Dir: t.TempDir(), Formatters: FormattersNone})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != StatusStopped || res.Formatters != nil {
		t.Fatalf("%s %s", res.Status, res.Message)
	}
	if !strings.Contains(res.Exprs[0].Error, "needs the Vec formatter") || res.Exprs[1].Text != `"ide0"` {
		t.Fatalf("%+v", res.Exprs)
	}
	if !strings.Contains(readFile(t, res.ScriptPath), "# No Rust formatters: turned off.") {
		t.Fatal("the command file does not say formatters are off")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The command file is readable, names the crash kind's stops, and reruns
// by hand with the printed command.
func TestCommandFileByHand(t *testing.T) {
	spec := simpleSpec(t)
	spec.Breakpoints = []Breakpoint{{File: "lib.rs", Line: 385, Ignore: 0}}
	plan, err := Setup(context.Background(), spec, RunOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"settings set auto-confirm true", "settings set target.output-path", "settings set target.error-path",
		"breakpoint set -r panic_fmt", "\nrun\n", "\nbt 64\n", "triage-frame ide::IdeDevice::start_dma", "frame variable\n",
		"breakpoint set -f lib.rs -l 385", "command script import", "type synthetic add", "\nquit\n"} {
		if !strings.Contains(plan.Script, want) {
			t.Errorf("command file lacks %q:\n%s", want, plan.Script)
		}
	}
	// Run it by hand, as the file's header says.
	cmd := exec.Command("sh", "-c", plan.HandRun+" 2>&1")
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", plan.HandRun, err, out)
	}
	s := Parse(string(out))
	if s.Stop == nil || s.Stop.Breakpoint == "" || len(s.Frames) == 0 {
		t.Fatalf("hand run did not stop at a breakpoint:\n%s", out)
	}
	// The user breakpoint at start_dma's first line is hit before the panic.
	if f := s.Frames[0].Frame; f == nil || FunctionKey(f.Function) != fnStartDma || s.Stop.Breakpoint != "2.1" {
		t.Fatalf("stop %+v frames %+v", s.Stop, s.Frames)
	}
}

func TestParseBreakpointAndExpr(t *testing.T) {
	b, err := ParseBreakpoint("lib.rs:387:5")
	if err != nil || b.File != "lib.rs" || b.Line != 387 || b.Ignore != 5 {
		t.Fatalf("%+v %v", b, err)
	}
	for _, bad := range []string{"lib.rs", "lib.rs:x", ":3", "a:1:-1", "a:0"} {
		if _, err := ParseBreakpoint(bad); err == nil {
			t.Errorf("ParseBreakpoint(%q) accepted", bad)
		}
	}
	e, err := ParseExpr("state: self.channels[0].state @ ide::IdeDevice::start_dma")
	if err != nil || e.Name != "state" || e.Path != "self.channels[0].state" || e.Frame != "ide::IdeDevice::start_dma" {
		t.Fatalf("%+v %v", e, err)
	}
	e, err = ParseExpr("self.name")
	if err != nil || e.Name != "self.name" || e.Path != "self.name" {
		t.Fatalf("%+v %v", e, err)
	}
	if _, err := ParseExpr("x:  "); err == nil {
		t.Error("empty path accepted")
	}
}

// Sessions fill lldb's index cache, and a session reading it sees the same
// crash, frames and values as one that built the index itself.
func TestRunIndexCache(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "index cache")
	var runs []*Result
	for i := 0; i < 2; i++ {
		spec := simpleSpec(t)
		spec.Exprs = []Expr{{Name: "n", Path: "self.name"}}
		res, err := Run(context.Background(), spec, RunOptions{Dir: t.TempDir(), IndexCache: cache})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != StatusStopped {
			t.Fatalf("run %d: %s %s\n%s", i, res.Status, res.Message, res.Transcript)
		}
		runs = append(runs, res)
		if i == 0 {
			var files int
			filepath.WalkDir(cache, func(_ string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					files++
				}
				return nil
			})
			if files == 0 {
				t.Fatalf("nothing in the index cache %s after a session", cache)
			}
		}
	}
	a, b := runs[0].Session, runs[1].Session
	if a.Stop.Reason != b.Stop.Reason || len(a.Backtrace) != len(b.Backtrace) || len(a.Frames) == 0 || len(a.Frames) != len(b.Frames) {
		t.Fatalf("cold and cached sessions differ: %+v / %+v", a.Stop, b.Stop)
	}
	for i := range a.Backtrace {
		if a.Backtrace[i].Function != b.Backtrace[i].Function || a.Backtrace[i].Line != b.Backtrace[i].Line {
			t.Fatalf("frame %d: %+v / %+v", i, a.Backtrace[i], b.Backtrace[i])
		}
	}
	if runs[0].Exprs[0].Text != `"ide0"` || runs[1].Exprs[0].Text != runs[0].Exprs[0].Text {
		t.Fatalf("values %+v / %+v", runs[0].Exprs, runs[1].Exprs)
	}
}
