package campaign

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary a campaign process (for the kill test):
// its value is "<binary>:<dir>".
const helperEnv = "TRIAGE_TEST_CAMPAIGN_HELPER"

func TestMain(m *testing.M) {
	if v := os.Getenv(helperEnv); v != "" {
		bin, dir, _ := strings.Cut(v, ":")
		j := &Job{Name: "t", Binary: bin, Corpus: filepath.Join(dir, "corpus"), Artifacts: filepath.Join(dir, "artifacts"), Cores: 2, Dir: dir,
			// The SIGKILLed supervisor cannot remove its fork directory:
			// keep it in the test's directory.
			TmpRoot: dir}
		_, err := Run(context.Background(), []*Job{j}, Options{Duration: 10 * time.Minute, Report: func(p Progress) {
			if p.Execs > 0 {
				fmt.Fprintln(os.Stderr, "fuzzing")
			}
		}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// survivors lists live, non-zombie processes whose command line or working
// directory names dir.
func survivors(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range procs {
		if filepath.Base(d) == fmt.Sprint(os.Getpid()) {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue
		}
		cmdline, _ := os.ReadFile(d + "/cmdline")
		cwd, _ := os.Readlink(d + "/cwd")
		if strings.Contains(string(cmdline), dir) || strings.HasPrefix(cwd, dir) {
			out = append(out, filepath.Base(d)+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

// SIGKILL of the campaign process leaves no fuzzer behind: not the fork
// parent, not its `sh -c` job children.
func TestKilledCampaignLeavesNoOrphan(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a real campaign")
	}
	j := fixtureJob(t, "fuzz_ide", 2)
	dir := filepath.Dir(j.Binary)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+j.Binary+":"+dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fuzzing := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if sc.Text() == "fuzzing" {
				close(fuzzing)
				break
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case <-fuzzing:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("the campaign never reported fuzzing")
	}
	running := survivors(dir)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := survivors(dir)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, l := range left {
				var pid int
				fmt.Sscan(l, &pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("these processes survive the campaign's SIGKILL:\n%s", strings.Join(left, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(running) < 2 {
		t.Errorf("expected the fork parent and its jobs to be running at the kill, saw:\n%s", strings.Join(running, "\n"))
	}
	t.Logf("%d processes were running at the kill; none survived:\n%s", len(running), strings.Join(running, "\n"))
}
