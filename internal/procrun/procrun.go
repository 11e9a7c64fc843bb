// Package procrun runs one external program (a fuzz binary, cargo, lldb,
// llvm-symbolizer) the only way this project runs programs: under a timeout,
// in its own process group that is killed as a whole, with a cleaned
// environment and captured, capped output. Every stage uses it so that no
// child can outlive its deadline or flood memory.
package procrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultOutputCap bounds what is kept of each of stdout and stderr.
const DefaultOutputCap = 8 << 20

// Spec says what to run.
type Spec struct {
	Path string
	Args []string
	Dir  string
	// Env is applied on top of the current environment: "K=V" sets K, a bare
	// "K" (or "K=" with Unset) removes it. See Unset.
	Env []string
	// Unset lists variables removed from the inherited environment.
	Unset []string
	// Timeout of zero means no timeout beyond the context's.
	Timeout time.Duration
	// OutputCap bounds each captured stream; zero means DefaultOutputCap.
	OutputCap int
	// Stdin, when nil, is /dev/null: no child ever waits on our terminal.
	Stdin []byte
	// KillGrace is how long the group gets between SIGTERM and SIGKILL on
	// timeout or cancellation. Zero means SIGKILL at once.
	KillGrace time.Duration
}

// Result is what happened.
type Result struct {
	ExitCode int
	// Signal is the signal that ended the process (0 if it exited).
	Signal syscall.Signal
	Stdout []byte
	Stderr []byte
	// StdoutTruncated and StderrTruncated say output beyond the cap was dropped.
	StdoutTruncated bool
	StderrTruncated bool
	// TimedOut says the timeout (not the caller's context) ended the run.
	TimedOut bool
	// Canceled says the caller's context ended the run.
	Canceled bool
	Duration time.Duration
}

// ErrNotFound is returned (wrapped) when the program does not exist.
var ErrNotFound = errors.New("program not found")

// Run starts the program and waits for it, the timeout, or ctx. An error is
// returned only when the program could not be started; a non-zero exit, a
// signal or a timeout are reported in Result.
func Run(ctx context.Context, spec Spec) (*Result, error) {
	path := spec.Path
	if !strings.Contains(path, "/") {
		p, err := exec.LookPath(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
		}
		path = p
	} else if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%s: %w", path, ErrNotFound)
	}

	runCtx := ctx
	var cancel context.CancelFunc = func() {}
	if spec.Timeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, spec.Timeout)
	}
	defer cancel()

	capBytes := spec.OutputCap
	if capBytes <= 0 {
		capBytes = DefaultOutputCap
	}
	stdout := &cappedBuffer{limit: capBytes}
	stderr := &cappedBuffer{limit: capBytes}

	cmd := exec.Command(path, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Env = Environ(os.Environ(), spec.Env, spec.Unset)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if spec.Stdin != nil {
		cmd.Stdin = bytes.NewReader(spec.Stdin)
	}
	// Own process group: a timeout kills the program and everything it
	// started (cargo's rustc children, lldb's debuggee).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A grandchild that inherited our pipes must not keep Wait waiting once
	// the program itself has exited.
	cmd.WaitDelay = 2 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	pgid := cmd.Process.Pid

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var waitErr error
	res := &Result{}
	select {
	case waitErr = <-done:
	case <-runCtx.Done():
		if ctx.Err() != nil {
			res.Canceled = true
		} else {
			res.TimedOut = true
		}
		killGroup(pgid, spec.KillGrace, done)
		waitErr = <-done
	}
	// A child that exited can leave grandchildren behind in its group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	res.Duration = time.Since(start)

	res.Stdout, res.StdoutTruncated = stdout.Bytes()
	res.Stderr, res.StderrTruncated = stderr.Bytes()
	res.ExitCode = 0
	if waitErr != nil {
		var exitErr *exec.ExitError
		if !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
			return res, fmt.Errorf("wait %s: %w", path, waitErr)
		}
	}
	if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		switch {
		case st.Exited():
			res.ExitCode = st.ExitStatus()
		case st.Signaled():
			res.Signal = st.Signal()
			res.ExitCode = 128 + int(st.Signal())
		}
	}
	return res, nil
}

func killGroup(pgid int, grace time.Duration, done chan error) {
	if grace > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case err := <-done:
			// Put it back for the caller's receive.
			done <- err
			return
		case <-time.After(grace):
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// Environ applies set ("K=V") and unset (names) to base.
func Environ(base, set, unset []string) []string {
	drop := map[string]bool{}
	for _, k := range unset {
		drop[k] = true
	}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	out := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	for _, kv := range set {
		if strings.Contains(kv, "=") {
			out = append(out, kv)
		}
	}
	return out
}

// cappedBuffer keeps the first limit bytes written and counts the rest.
type cappedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	limit   int
	dropped bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.limit - c.buf.Len()
	if room >= len(p) {
		c.buf.Write(p)
	} else {
		if room > 0 {
			c.buf.Write(p[:room])
		}
		c.dropped = true
	}
	// Report everything as written so the child never blocks on a full pipe.
	return len(p), nil
}

func (c *cappedBuffer) Bytes() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.buf.Bytes()...), c.dropped
}
