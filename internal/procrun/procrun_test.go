package procrun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

func TestOutputCap(t *testing.T) {
	res, err := Run(context.Background(), Spec{Path: "sh", Args: []string{"-c", "head -c 100000 /dev/zero"}, OutputCap: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Stdout) != 1000 || !res.StdoutTruncated {
		t.Fatalf("got %d bytes truncated=%v", len(res.Stdout), res.StdoutTruncated)
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
