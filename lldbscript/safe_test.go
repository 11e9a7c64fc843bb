package lldbscript

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/hostile"
)

// commandWords are the first words of every command line the template
// writes; any other non-comment line in a command file is an injection.
var commandWords = map[string]bool{
	"settings": true, "command": true, "breakpoint": true, "process": true, "run": true,
	"bt": true, "thread": true, "triage-frame": true, "frame": true, "type": true, "quit": true,
}

// checkCommandLines fails on any line that is neither a comment, blank,
// nor a command the template writes, and on any line holding marker.
func checkCommandLines(t *testing.T, script, marker string) {
	t.Helper()
	for i, line := range strings.Split(script, "\n") {
		trim := strings.TrimSpace(line)
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		if w, _, _ := strings.Cut(trim, " "); !commandWords[w] {
			t.Errorf("line %d is not a command of the template: %q", i+1, line)
		}
		if marker != "" && strings.Contains(line, marker) {
			t.Errorf("line %d carries the injected text: %q", i+1, line)
		}
	}
}

func TestCommentIsInert(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":        "plain text",
		"a\nb":              `a\nb`,
		"a\rb\x00c\x1bd":    `a\rb\x00c\x1bd`,
		"bad \xff utf8":     `bad \xff utf8`,
		"line\u2028sep":     `line\u2028sep`,
		"`backtick` stays":  "`backtick` stays",
		"tab\tis escaped":   `tab\tis escaped`,
		"unicode é ünïcode": "unicode é ünïcode",
	} {
		if got := Comment(in); got != want {
			t.Errorf("Comment(%q) = %q, want %q", in, got, want)
		}
		if strings.ContainsAny(Comment(in), "\n\r") {
			t.Errorf("Comment(%q) holds a line break", in)
		}
	}
	for _, bad := range []string{"a\nb", "x\ry", "nul\x00"} {
		if _, err := quoteArg(bad); !errors.Is(err, ErrUnsafe) {
			t.Errorf("quoteArg(%q): %v", bad, err)
		}
	}
	if q, err := quoteArg("a `b` \"c\""); err != nil || q != "\"a \\`b\\` \\\"c\\\"\"" {
		t.Errorf("quoteArg: %q %v", q, err)
	}
	for _, bad := range []string{"-timeout=1\nrun", "-dict=`x`", "-x=a b", "timeout=1", "-t=$(x)"} {
		if CheckFlag(bad) == nil {
			t.Errorf("CheckFlag(%q) accepted", bad)
		}
	}
	for _, good := range []string{"-timeout=5", "-rss_limit_mb=512", "-dict=/a/b.dict"} {
		if err := CheckFlag(good); err != nil {
			t.Errorf("CheckFlag(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"x\nplatform shell id", "x`y`", "x y", "x;y", ""} {
		if CheckVariablePath(bad) == nil {
			t.Errorf("CheckVariablePath(%q) accepted", bad)
		}
	}
	if err := CheckVariablePath("self.ptr.pointer->data.$variants$.$variant$1.value.__0[3]"); err != nil {
		t.Error(err)
	}
}

// Hostile names, messages and user text never leave a comment or an
// argument: every non-comment line of the command file is a command of
// the template, and the inferior's input is the hex-named copy.
func TestCommandFileWithHostileText(t *testing.T) {
	for _, h := range hostile.Names() {
		dir := t.TempDir()
		in, err := hostile.Write(filepath.Join(t.TempDir(), "artifacts"), h.Base, []byte("abc"))
		if err != nil {
			t.Fatal(err)
		}
		spec := &Spec{
			Binary: "/bin/true", Input: in, Kind: "rust-panic\nplatform shell id",
			Title:  "title " + h.Base,
			Frames: []FrameSelector{{Function: "f`x`\"y\"", Where: h.Base + ":3"}},
			Exprs:  []Expr{{Name: h.Base, Path: "x\nplatform shell id"}, {Name: "n", Path: "self.`id`"}},
		}
		plan, err := Prepare(spec, PrepareOptions{Dir: dir, Types: &Types{}})
		if err != nil {
			t.Fatalf("%s: %v", h.Why, err)
		}
		checkCommandLines(t, plan.Script, hostile.Marker)
		if !strings.HasPrefix(plan.InputName, "input-") || strings.Contains(plan.HandRun, hostile.Marker) {
			t.Errorf("%s: input %q, hand run %q", h.Why, plan.InputName, plan.HandRun)
		}
		if data, err := os.ReadFile(filepath.Join(dir, plan.InputName)); err != nil || string(data) != "abc" {
			t.Errorf("%s: input copy: %v %q", h.Why, err, data)
		}
	}
	// What no quoting can carry fails the file, naming it.
	in := dummyInput(t)
	for _, spec := range []*Spec{
		{Binary: "/bin/true", Input: in, Breakpoints: []Breakpoint{{File: "lib.rs\nplatform shell id", Line: 3}}},
		{Binary: "/bin/true", Input: in, Frames: []FrameSelector{{Function: "f\nplatform shell id"}}},
		{Binary: "/bin/true", Input: in, Args: []string{"-timeout=1\nplatform shell id"}},
		{Binary: "/tmp/`id`/bin", Input: in},
	} {
		if _, err := Prepare(spec, PrepareOptions{Dir: t.TempDir(), Types: &Types{}}); !errors.Is(err, ErrUnsafe) {
			t.Errorf("%+v: %v, want ErrUnsafe", spec, err)
		}
	}
}

// On the real debugger: inputs with hostile names are debugged (the
// session stops at the panic) and nothing they carry runs.
func TestSessionWithHostileNames(t *testing.T) {
	bin, art := ideFixture(t)
	data, err := os.ReadFile(art)
	if err != nil {
		t.Fatal(err)
	}
	marker := hostile.SetMarker(t, t.TempDir())
	for _, h := range hostile.Names() {
		in, err := hostile.Write(filepath.Join(t.TempDir(), "artifacts"), h.Base, data)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Run(context.Background(), &Spec{Binary: bin, Input: in, Title: h.Base, Frames: []FrameSelector{{Function: fnStartDma}}},
			RunOptions{Dir: t.TempDir(), Formatters: FormattersNone})
		if err != nil || res.Status != StatusStopped {
			t.Errorf("%s: %v %s %s", h.Why, err, res.Status, res.Message)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%s: the injected command ran", h.Why)
		}
	}
}

// FuzzCommandFile: whatever text comes from a crash report or a user (a
// title, a frame's function and file, an expression, a breakpoint file),
// the command file holds only the template's commands, or Prepare refuses
// with ErrUnsafe.
func FuzzCommandFile(f *testing.F) {
	f.Add("title", "ide::IdeDevice::start_dma", "lib.rs:3", "self.x", "lib.rs")
	f.Add("t\nplatform shell id", "f`x`", "w\ry", "x\nrun", "a\nb")
	f.Add("", "", "", "", "")
	in := filepath.Join(f.TempDir(), "input")
	if err := os.WriteFile(in, []byte("x"), 0o644); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, fn, where, expr, bpFile string) {
		spec := &Spec{Binary: "/bin/true", Input: in, Title: title,
			Frames:      []FrameSelector{{Function: fn, Where: where}},
			Exprs:       []Expr{{Name: title, Path: expr}},
			Breakpoints: []Breakpoint{{File: bpFile, Line: 1}},
		}
		plan, err := Prepare(spec, PrepareOptions{Dir: t.TempDir(), Types: &Types{}})
		if err != nil {
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("error is not ErrUnsafe: %v", err)
			}
			return
		}
		checkCommandLines(t, plan.Script, "")
	})
}
