package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
	"github.com/fuzztriage/triage/triage"
)

const ideDMAArtifact = "crash-50a484a1be43358521bd675930166a80cce9f94a" // ide-dma-no-prd

func debugNeedsLLDB(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/lldb-19"); err != nil {
		t.Skip("lldb-19 is not installed (scripts/setup installs it)")
	}
}

func debugFixture(t *testing.T) string {
	t.Helper()
	root := fixture.Root()
	fixture.Build(t, root)
	fixture.Build(t, root, "--dev")
	return root
}

// Without a terminal, commands come from stdin line by line, echoed.
func TestDebugScripted(t *testing.T) {
	debugNeedsLLDB(t)
	root := debugFixture(t)
	art := fixture.ArtifactPath(root, "fuzz_ide", ideDMAArtifact)
	file := filepath.Join(t.TempDir(), "s.lldb")
	in := "frame 3\nprint self.channels[0].state\nnosuch\nsave " + file + "\nquit\nbt\n"
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"debug", "--workspace", root, "--no-build", "fuzz_ide", art}, strings.NewReader(in), &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, w := range []string{
		"READ DMA without a PRD table: channel 0 drive 0 with 256 sectors pending",
		"(triage) frame 3\nframe #3: ide::IdeDevice::execute_command",
		"(triage) print self.channels[0].state\n",
		"= Busy {command: '\\xc8', remaining: 256}",
		"(triage) nosuch\nerror: unknown command \"nosuch\"",
		"(triage) save " + file + "\nsaved",
		"(triage) quit\n",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("transcript lacks %q:\n%s", w, out.String())
		}
	}
	if strings.Contains(out.String(), "(triage) bt") {
		t.Errorf("read past quit")
	}
	if _, err := os.Stat(file); err != nil {
		t.Error(err)
	}
}

// With a record in the store, the session starts from it (no reproduction).
func TestDebugFromRecord(t *testing.T) {
	debugNeedsLLDB(t)
	root := debugFixture(t)
	art := fixture.ArtifactPath(root, "fuzz_ide", ideDMAArtifact)
	rel := fixture.BinaryPath(t, root, "fuzz_ide")
	dev := fixture.BinaryPath(t, root, "fuzz_ide", "--dev")

	// The record is what the pipeline writes: the release reproduction's
	// parsed crash and frames.
	r, err := triage.Reproduce(context.Background(), &triage.RunOptions{
		Binary: rel, Profile: store.Release, Flags: []string{"-timeout=5"}, Tries: 1, Timeout: time.Minute,
		RustBacktrace: "1", ScratchDir: t.TempDir(), Parse: symbolize.Parse,
	}, art)
	if err != nil || r.Trace == nil {
		t.Fatalf("reproduce: %v %+v", err, r)
	}
	ws := t.TempDir()
	st, err := store.Open(filepath.Join(ws, ".triage"))
	if err != nil {
		t.Fatal(err)
	}
	sha, size, _ := store.FileSHA1(art)
	rec := &store.ArtifactRecord{
		SchemaVersion: store.SchemaVersion, SHA1: sha, Path: art, Size: size, Kind: store.ArtifactCrash, Target: "fuzz_ide",
		FirstSeen: time.Now(), Triaged: time.Now(), Status: r.Status,
		Crash:  &store.CrashRecord{Kind: r.Trace.Kind, Message: "recorded: " + r.Trace.Message, Location: r.Trace.Location},
		Frames: r.Trace.Frames, Bucket: &store.BucketRef{ID: "v1-0123456789ab", Key: "recorded"},
		Reproductions: map[store.Profile]*store.Reproduction{store.Release: r},
	}
	if err := st.WriteArtifact(rec); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"debug", "--workspace", ws, "--binary", dev, art},
		strings.NewReader("bt app\nrelease\nvars\n"), &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, w := range []string{
		"recorded: READ DMA without a PRD table",
		"triage record .triage/artifacts/" + sha + ".yaml",
		"bucket v1-0123456789ab",
		"=>*#2   ide::IdeDevice::start_dma",
		"switched to the release build: " + rel,
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("transcript lacks %q:\n%s", w, out.String())
		}
	}
	if strings.Contains(errb.String(), "reproducing") {
		t.Errorf("reproduced although a record exists:\n%s", errb.String())
	}
}

func TestDebugUsage(t *testing.T) {
	root := fixture.Root()
	art := fixture.ArtifactPath(root, "fuzz_ide", ideDMAArtifact)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"debug"}, "want TARGET ARTIFACT"},
		{[]string{"debug", "--workspace", root, "fuzz_ide", "/nonexistent/crash-1"}, "artifact /nonexistent/crash-1: not a readable file"},
		{[]string{"debug", "--workspace", root, "--no-build", "nosuch", art}, `no fuzz target "nosuch"`},
		{[]string{"debug", "--binary", "/nonexistent/fuzz_ide", art}, "binary /nonexistent/fuzz_ide"},
		{[]string{"debug", "--binary", "x", "a", "b"}, "with --binary, give one ARTIFACT"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), c.args, strings.NewReader(""), &out, &errb); code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}

// screen is a small terminal emulator, enough for what liner and the
// program write: text, CR/LF, backspace, cursor moves (CHA, CUF, CUB,
// CUU, CUD), erase to end of line and screen clears. Lines scrolled off
// the top are kept, as a terminal's scrollback.
type screen struct {
	mu       sync.Mutex
	lines    [][]rune
	row, col int
	esc      []byte
	inEsc    bool
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range string(p) {
		s.put(r)
	}
	return len(p), nil
}

func (s *screen) put(r rune) {
	if s.inEsc {
		s.esc = append(s.esc, byte(r))
		if len(s.esc) == 1 && r != '[' {
			s.inEsc = false // a two-byte escape: ignore it
			return
		}
		if r >= '@' && r <= '~' && len(s.esc) > 1 {
			s.inEsc = false
			s.csi(string(s.esc[1:len(s.esc)-1]), r)
		}
		return
	}
	for len(s.lines) <= s.row {
		s.lines = append(s.lines, nil)
	}
	switch r {
	case 0x1b:
		s.inEsc, s.esc = true, nil
	case '\r':
		s.col = 0
	case '\n':
		s.row++
		for len(s.lines) <= s.row {
			s.lines = append(s.lines, nil)
		}
	case '\b':
		if s.col > 0 {
			s.col--
		}
	case '\a':
	default:
		line := s.lines[s.row]
		for len(line) <= s.col {
			line = append(line, ' ')
		}
		line[s.col] = r
		s.lines[s.row] = line
		s.col++
	}
}

func (s *screen) csi(params string, final rune) {
	n := 1
	fmt.Sscanf(params, "%d", &n)
	switch final {
	case 'G':
		s.col = n - 1
	case 'C':
		s.col += n
	case 'D':
		s.col = max(0, s.col-n)
	case 'A':
		s.row = max(0, s.row-n)
	case 'B':
		s.row += n
	case 'K':
		if params == "" || params == "0" {
			if s.row < len(s.lines) && s.col < len(s.lines[s.row]) {
				s.lines[s.row] = s.lines[s.row][:s.col]
			}
		}
	case 'J':
		if params == "2" {
			s.lines, s.row, s.col = nil, 0, 0
		}
	}
}

// text is the screen with its scrollback, one string per line.
func (s *screen) text() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.lines))
	for i, l := range s.lines {
		out[i] = strings.TrimRight(string(l), " ")
	}
	return out
}

// current is the line the cursor is on.
func (s *screen) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.row < len(s.lines) {
		return strings.TrimRight(string(s.lines[s.row]), " ")
	}
	return ""
}

type ptySession struct {
	t    *testing.T
	pty  *os.File
	scr  *screen
	cmd  *exec.Cmd
	done chan error
}

func (p *ptySession) dump() string {
	return strings.Join(p.scr.text(), "\n")
}

// waitFor waits until some screen line contains want.
func (p *ptySession) waitFor(want string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, l := range p.scr.text() {
			if strings.Contains(l, want) {
				return
			}
		}
		time.Sleep(30 * time.Millisecond)
	}
	p.t.Fatalf("the screen never showed %q:\n%s", want, p.dump())
}

// waitPrompt waits until the cursor sits on an empty prompt.
func (p *ptySession) waitPrompt(timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.scr.current() == "(triage)" {
			return
		}
		time.Sleep(30 * time.Millisecond)
	}
	p.t.Fatalf("no prompt:\n%s", p.dump())
}

func (p *ptySession) typ(keys string) {
	p.t.Helper()
	if _, err := p.pty.Write([]byte(keys)); err != nil {
		p.t.Fatal(err)
	}
	// Give liner each key's redraw before the next burst.
	time.Sleep(150 * time.Millisecond)
}

// hasLine says whether a screen line equals want.
func (p *ptySession) hasLine(want string) bool {
	for _, l := range p.scr.text() {
		if l == want {
			return true
		}
	}
	return false
}

// buildTriage builds this program into dir.
func buildTriage(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "triage")
	res, err := procrun.Run(context.Background(), procrun.Spec{Path: "go", Args: []string{"build", "-o", bin, "."}, Timeout: 5 * time.Minute})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("go build: %v %s", err, res.Stderr)
	}
	return bin
}

// startInTerminal runs `triage ARGS` in a pseudo-terminal of 50x200 with
// its own history directory.
func startInTerminal(t *testing.T, state, dir string, args ...string) *ptySession {
	t.Helper()
	cmd := exec.Command(buildTriage(t, t.TempDir()), args...)
	cmd.Env = append(os.Environ(), "TERM=xterm", "XDG_STATE_HOME="+state)
	cmd.Dir = dir
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 200})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptySession{t: t, pty: f, scr: &screen{}, cmd: cmd, done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			p.scr.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		// The program runs in its own session (pty.Start sets Setsid):
		// kill its whole process group if the test ends early.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		f.Close()
	})
	return p
}

// The real program in a pseudo-terminal: line editing, Tab completion
// through wrapper types, Ctrl-C on a line and during an lldb run, history,
// and a saved command file that lldb-19 runs unchanged.
func TestDebugInATerminal(t *testing.T) {
	debugNeedsLLDB(t)
	root := debugFixture(t)
	art := fixture.ArtifactPath(root, "fuzz_ide", ideDMAArtifact)
	devBin := fixture.BinaryPath(t, root, "fuzz_ide", "--dev")
	state := t.TempDir()
	work := t.TempDir()
	saved := filepath.Join(work, "ide.lldb")
	p := startInTerminal(t, state, work, "debug", "--workspace", root, "--no-build", "fuzz_ide", art)

	p.waitFor("Type 'help' for the commands", 2*time.Minute)
	p.waitPrompt(10 * time.Second)
	m := regexp.MustCompile(`#(\d+)\s+fuzz_ide::_::__libfuzzer_sys_run\s`).FindStringSubmatch(p.dump())
	if m == nil {
		t.Fatalf("no __libfuzzer_sys_run frame in the stack:\n%s", p.dump())
	}
	runFrame := m[1]

	// Tab completes the command name.
	p.typ("fr\t")
	p.typ(" " + runFrame + "\r")
	p.waitFor("frame #"+runFrame+": fuzz_ide::_::__libfuzzer_sys_run", 30*time.Second)
	p.waitPrompt(10 * time.Second)
	if !p.hasLine("(triage) frame " + runFrame) {
		t.Errorf("the completed line is not on the screen:\n%s", p.dump())
	}

	// print ide_device.<Tab><Tab> lists IdeDevice's fields, through Arc
	// and CloseableMutex; then Tab completes each field.
	p.typ("print ide_device.\t\t")
	p.waitFor("bus_master", 10*time.Second)
	// The list may wrap over several screen lines: join them up to the
	// next prompt or blank line.
	var listing []string
	lines := p.scr.text()
	for i, l := range lines {
		if !strings.Contains(l, "bus_master") || strings.HasPrefix(l, "(triage)") {
			continue
		}
		for _, m := range lines[i+1:] {
			if strings.HasPrefix(m, "(triage)") || strings.TrimSpace(m) == "" {
				break
			}
			l += " " + m
		}
		listing = append(listing, l)
	}
	if len(listing) == 0 {
		t.Errorf("no completion list on the screen:\n%s", p.dump())
	}
	for _, l := range listing {
		for _, w := range []string{"channels", "host", "name", "pending", "collisions"} {
			if !strings.Contains(l, w) {
				t.Errorf("completion list %q lacks %s", l, w)
			}
		}
		for _, bad := range strings.Fields("ptr phantom alloc mutex value") {
			for _, item := range strings.Fields(l) {
				if item == bad {
					t.Errorf("completion list %q offers wrapper internals %s", l, bad)
				}
			}
		}
	}
	p.typ("cha\t")
	p.typ("[0].sta\t")
	p.typ("\r")
	p.waitFor("= Busy {command: '\\xc8', remaining: 256}", time.Minute)
	p.waitPrompt(10 * time.Second)
	if !p.hasLine("(triage) print ide_device.channels[0].state") {
		t.Errorf("completion did not produce the path on the screen:\n%s", p.dump())
	}
	p.waitFor("lldb: frame variable ide_device.ptr.pointer->data.value.value.channels[0].state", time.Second)

	// Ctrl-C cancels the line being typed, not the session.
	p.typ("frame 99")
	p.typ("\x03")
	p.waitPrompt(10 * time.Second)

	p.typ("break lib.rs:386\r")
	p.waitFor("breakpoint 1: ide/src/lib.rs:386", 30*time.Second)
	p.waitPrompt(10 * time.Second)

	// Ctrl-C during an lldb run cancels that run only.
	p.typ("run\r")
	p.waitFor("running the command file", 30*time.Second)
	p.typ("\x03")
	p.waitFor("interrupted", 30*time.Second)
	p.waitPrompt(10 * time.Second)

	p.typ("save " + saved + "\r")
	p.waitFor("saved "+saved, 30*time.Second)
	p.waitPrompt(10 * time.Second)

	p.typ("run\r")
	p.waitFor("command file ", 2*time.Minute)
	p.waitPrompt(10 * time.Second)
	for _, w := range []string{
		"stopped: thread #1, breakpoint 2.1 (-f ide/src/lib.rs -l 386)",
		"ide_device.channels[0].state = Busy {command: '\\xc8', remaining: 256}",
	} {
		p.waitFor(w, time.Second)
	}
	if strings.Contains(p.dump(), "no frame #99") {
		t.Errorf("the canceled line ran:\n%s", p.dump())
	}

	// Ctrl-D leaves.
	p.typ("\x04")
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.dump())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("Ctrl-D did not end the session:\n%s", p.dump())
	}

	hist, err := os.ReadFile(filepath.Join(state, "triage", "debug_history"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"frame " + runFrame, "print ide_device.channels[0].state", "break lib.rs:386", "save " + saved} {
		if !strings.Contains(string(hist), w+"\n") {
			t.Errorf("history lacks %q:\n%s", w, hist)
		}
	}
	if strings.Contains(string(hist), "frame 99") {
		t.Errorf("history holds the canceled line:\n%s", hist)
	}

	// The saved command file runs in plain `lldb-19 -b -s FILE -- BIN
	// ARTIFACT`, unchanged: it stops at the breakpoint and reads the path.
	script, err := os.ReadFile(saved)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"breakpoint set -f ide/src/lib.rs -l 386\n",
		"# expr ide_device.channels[0].state: ide_device.channels[0].state\n",
		"frame variable ide_device.ptr.pointer->data.value.value.channels[0].state\n",
	} {
		if !strings.Contains(string(script), w) {
			t.Errorf("saved file lacks %q:\n%s", w, script)
		}
	}
	res, err := procrun.Run(context.Background(), procrun.Spec{
		Path: "lldb-19", Args: []string{"-b", "-s", saved, "--", devBin, art},
		Unset: []string{"XTASK_FUZZ_REPRO"}, Timeout: 2 * time.Minute, Dir: work,
	})
	if err != nil {
		t.Fatal(err)
	}
	transcript := string(res.Stdout) + string(res.Stderr)
	if res.ExitCode != 0 || res.TimedOut {
		t.Fatalf("lldb-19 -b -s: exit %d timed out %v\n%s", res.ExitCode, res.TimedOut, transcript)
	}
	sess := lldbscript.Parse(string(res.Stdout))
	if sess.Stop == nil || sess.Stop.Breakpoint != "2.1" {
		t.Errorf("stop %+v, want breakpoint 2.1\n%s", sess.Stop, transcript)
	}
	found := false
	for _, v := range sess.Values {
		if v.Command == "frame variable ide_device.ptr.pointer->data.value.value.channels[0].state" {
			found = v.Error == "" && v.Value != nil && v.Value.Type == "ide::ChannelState"
		}
	}
	if !found {
		t.Errorf("the path was not read:\n%s", transcript)
	}
	if n := len(sess.Blocks); n == 0 || sess.Blocks[n-1].Command != "quit" {
		t.Errorf("the file did not run to its end:\n%s", transcript)
	}
}

// SIGTERM at the prompt, where liner waits for a key, still ends the
// session (with the terminal restored).
func TestDebugTerminatedAtPrompt(t *testing.T) {
	debugNeedsLLDB(t)
	root := debugFixture(t)
	art := fixture.ArtifactPath(root, "fuzz_ide", ideDMAArtifact)
	state := t.TempDir()
	p := startInTerminal(t, state, t.TempDir(), "debug", "--workspace", root, "--no-build", "--release", "fuzz_ide", art)
	p.waitFor("Type 'help' for the commands", 2*time.Minute)
	p.waitPrompt(10 * time.Second)
	p.typ("bt app\r")
	p.waitPrompt(10 * time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err == nil {
			t.Errorf("exit 0 after SIGTERM")
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("SIGTERM did not end the session:\n%s", p.dump())
	}
	p.waitFor("triage debug: terminated", 5*time.Second)
	if hist, err := os.ReadFile(filepath.Join(state, "triage", "debug_history")); err != nil || !strings.Contains(string(hist), "bt app\n") {
		t.Errorf("history not saved: %v %q", err, hist)
	}
}
