package procrun

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestExitCodeAndOutput(t *testing.T) {
	res, err := Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", "echo out; echo err >&2; exit 3"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" {
		t.Fatalf("got exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	if res.TimedOut || res.Canceled || res.Signal != 0 {
		t.Fatalf("unexpected flags %+v", res)
	}
}

func TestSignalIsReported(t *testing.T) {
	res, err := Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", "kill -ABRT $$"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Signal != syscall.SIGABRT || res.ExitCode != 128+int(syscall.SIGABRT) {
		t.Fatalf("got signal %v exit %d", res.Signal, res.ExitCode)
	}
}

// A timeout must kill the whole process group, grandchildren included.
func TestTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	script := "sleep 300 & echo $! > " + pidFile + "; wait"
	start := time.Now()
	res, err := Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", script}, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !res.TimedOut {
		t.Fatalf("expected a timeout, got %+v", res)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("run took %v", time.Since(start))
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Signal 0 probes for existence; a zombie would still answer, so
		// check /proc state too.
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d survived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	res, err := Run(ctx, Spec{Path: "sleep", Args: []string{"30"}, Timeout: time.Minute, KillGrace: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Canceled || res.TimedOut {
		t.Fatalf("expected canceled, got %+v", res)
	}
}

// Beyond the cap the head and the tail are kept: a crash report printed
// after a flood of output is still there, and the record says how much was
// dropped.
func TestOutputCapKeepsHeadAndTail(t *testing.T) {
	script := `echo FIRST; i=0; while [ $i -lt 20000 ]; do echo "line $i of noise"; i=$((i+1)); done; echo "thread panicked at src/lib.rs:1:1:"; echo LAST`
	res, err := Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", script}, OutputCap: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Stdout)
	if !strings.HasPrefix(out, "FIRST\n") || !strings.HasSuffix(out, "thread panicked at src/lib.rs:1:1:\nLAST\n") {
		t.Fatalf("head or tail lost:\n%s", out)
	}
	if res.StdoutElided < 300000 || !strings.Contains(out, "bytes of output elided by triage") {
		t.Fatalf("elided %d", res.StdoutElided)
	}
	if len(out) > 1100 {
		t.Fatalf("kept %d bytes for a cap of 1000", len(out))
	}
	// The kept bytes and the elided count add up to what was written.
	total := int64(len("FIRST\n") + len("thread panicked at src/lib.rs:1:1:\nLAST\n"))
	for i := 0; i < 20000; i++ {
		total += int64(len("line  of noise\n") + len(strconv.Itoa(i)))
	}
	marker := out[strings.Index(out, "\n[..."):]
	marker = marker[:strings.Index(marker[1:], "\n")+2]
	if kept := int64(len(out) - len(marker)); kept+res.StdoutElided != total {
		t.Fatalf("kept %d + elided %d != written %d", kept, res.StdoutElided, total)
	}
	// Below the cap nothing changes.
	res, err = Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", "echo short"}, OutputCap: 1000})
	if err != nil || string(res.Stdout) != "short\n" || res.StdoutElided != 0 {
		t.Fatalf("%v %q %d", err, res.Stdout, res.StdoutElided)
	}
}

func TestEnvironmentSetAndUnset(t *testing.T) {
	t.Setenv("PROCRUN_DROP_ME", "1")
	res, err := Run(context.Background(), Spec{
		Path:  "sh",
		Args:  []string{"-c", `echo "[$PROCRUN_DROP_ME][$PROCRUN_SET]"`},
		Env:   []string{"PROCRUN_SET=yes"},
		Unset: []string{"PROCRUN_DROP_ME"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(res.Stdout)); got != "[][yes]" {
		t.Fatalf("got %q", got)
	}
}

func TestStdinIsNeverTheTerminal(t *testing.T) {
	res, err := Run(context.Background(), Spec{Path: "cat", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.TimedOut || len(res.Stdout) != 0 {
		t.Fatalf("cat should see EOF at once: %+v", res)
	}
	res, err = Run(context.Background(), Spec{Path: "cat", Stdin: []byte("abc")})
	if err != nil || string(res.Stdout) != "abc" {
		t.Fatalf("stdin not passed: %v %q", err, res.Stdout)
	}
}

func TestMissingProgram(t *testing.T) {
	_, err := Run(context.Background(), Spec{Path: "/nonexistent/lldb-99"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	_, err = Run(context.Background(), Spec{Path: "no-such-program-anywhere"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
}

// alive says a process exists and is not a zombie.
func alive(pid int) bool {
	_, state, ok := procStat(pid)
	return ok && state != 'Z'
}

func waitDead(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var left []int
		for _, p := range pids {
			if alive(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			t.Fatalf("processes %v survived", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readPids(t *testing.T, path string, want int) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(path)
		var pids []int
		for _, f := range strings.Fields(string(data)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		if len(pids) >= want {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d pids in %s", len(pids), want, path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A program that ends normally cannot leave a process behind, not even one
// that left its process group and session (setsid), as lldb's inferior and
// libFuzzer's fork-mode jobs may.
func TestGuardKillsEscapedDescendants(t *testing.T) {
	dir := t.TempDir()
	pids := filepath.Join(dir, "pids")
	script := "setsid sleep 300 & echo $! >> " + pids + "; (sleep 300 & echo $! >> " + pids + "; wait) & sleep 0.2"
	res, err := Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", script}, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, res.Stderr)
	}
	waitDead(t, readPids(t, pids, 2), 5*time.Second)
}

// The guard passes the program's exit status and signal through.
func TestGuardPassesStatus(t *testing.T) {
	res, err := Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", "exit 77"}})
	if err != nil || res.ExitCode != 77 || res.Signal != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	res, err = Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", "kill -SEGV $$"}})
	if err != nil || res.Signal != syscall.SIGSEGV {
		t.Fatalf("%v %+v", err, res)
	}
	res, err = Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", "kill -ABRT $$"}, Leaf: true})
	if err != nil || res.Signal != syscall.SIGABRT {
		t.Fatalf("leaf: %v %+v", err, res)
	}
}

// TestHelperParent is not a test: TestChildrenDieWithParent runs the test
// binary as a triage stand-in that starts programs through procrun and is
// then killed with SIGKILL.
func TestHelperParent(t *testing.T) {
	pids := os.Getenv("PROCRUN_HELPER_PIDS")
	if pids == "" {
		t.Skip("helper process only")
	}
	ctx := context.Background()
	go Run(ctx, Spec{Path: "sh", Args: []string{"-c", "echo $$ >> " + pids + "; sleep 300"}, Leaf: true})
	go Run(ctx, Spec{Path: "sh", Args: []string{"-c", "(sleep 300 & echo $! >> " + pids + "; wait) & setsid sleep 300 & echo $! >> " + pids + "; wait"}})
	time.Sleep(time.Minute)
}

// SIGKILL of triage ends every program it started and every process those
// started: the leaf by its parent-death signal, the guarded tree by its
// guard.
func TestChildrenDieWithParent(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperParent$")
	helper.Env = append(os.Environ(), "PROCRUN_HELPER_PIDS="+pids)
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	got := readPids(t, pids, 3)
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = helper.Process.Wait()
	waitDead(t, got, 5*time.Second)
}

// TestDescendantsWalkMatchesTheScan: the walk through the children files
// finds the same live processes below this one as a scan of every
// process's stat file, grandchildren included.
func TestDescendantsWalkMatchesTheScan(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pids")
	// A child with a child of its own, and a grandchild of that one.
	cmd := exec.Command("/bin/sh", "-c", `sleep 60 & a=$!; sh -c 'sleep 60 & echo $! >> "$1"; wait' sh "$1" & b=$!; echo $a $b >> "$1"; wait`, "sh", pidFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	known := append(readPids(t, pidFile, 3), cmd.Process.Pid)
	defer func() {
		for _, p := range known {
			_ = syscall.Kill(p, syscall.SIGKILL)
		}
	}()
	walk, scan := descendants(os.Getpid()), scanDescendants(os.Getpid())
	slices.Sort(walk)
	slices.Sort(scan)
	if !slices.Equal(walk, scan) {
		t.Fatalf("walk %v, scan %v", walk, scan)
	}
	for _, p := range known {
		if !slices.Contains(walk, p) {
			t.Fatalf("process %d is missing from %v", p, walk)
		}
	}
}
