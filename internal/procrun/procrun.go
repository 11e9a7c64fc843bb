// Package procrun runs one external program (a fuzz binary, cargo, lldb,
// llvm tools) the only way this project runs programs: under a timeout, in
// its own process group that is killed as a whole, with a cleaned
// environment and captured, capped output. Every stage uses it so that no
// child can outlive its deadline, flood memory, or outlive triage itself.
//
// Dying with the parent. Every child gets the Linux parent-death signal, so
// it dies when triage dies, even by SIGKILL. That signal is not inherited by
// grandchildren (libFuzzer's minimizer and fork mode run the target through
// `sh -c`, cargo runs rustc, lldb runs lldb-server and the inferior), so a
// program that may start processes of its own runs under a guard: triage
// re-executes itself (see guard.go) as a small supervisor that is a child
// subreaper, starts the program, and when triage dies (its own parent-death
// signal) or the run ends, kills the program's process group and every
// process descended from it, then reaps them. Only tools that start
// nothing (Spec.Leaf: llvm-cxxfilt, --version probes) skip the guard, which
// costs one extra exec; fuzz binaries never do (see Spec.Leaf).
package procrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
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
	// Beyond it the first and last halves are kept and the middle is
	// dropped (a crash report is printed last).
	OutputCap int
	// Stdin, when nil, is /dev/null: no child ever waits on our terminal.
	Stdin []byte
	// KillGrace is how long the group gets between SIGTERM and SIGKILL on
	// timeout or cancellation. Zero means SIGKILL at once.
	KillGrace time.Duration
	// Tee, when set, also receives both streams as they arrive (the
	// captured copies stay capped; Tee sees everything). Writes to it are
	// serialized.
	Tee io.Writer
	// StdoutTee, when set, receives stdout alone as it arrives (a tool
	// whose output is parsed while it runs; Stdout stays capped).
	StdoutTee io.Writer
	// Leaf says the program starts no processes of its own: the
	// parent-death signal alone ends it with triage, and no guard is
	// needed. Never for a fuzz binary: Linux carries the RSS high-water
	// mark of the process that forks a program into the program's
	// getrusage maxrss, which is what libFuzzer's -rss_limit_mb check
	// reads; a fuzz binary started straight from a triage process holding
	// a few hundred MiB (DWARF indexes of many binaries) reports a false
	// out-of-memory at once. The guard is a fresh, small process.
	Leaf bool
}

// Result is what happened.
type Result struct {
	ExitCode int
	// Signal is the signal that ended the process (0 if it exited).
	Signal syscall.Signal
	// Stdout and Stderr are the captured streams; beyond the cap they are
	// the head, a line saying how much was elided, and the tail.
	Stdout []byte
	Stderr []byte
	// StdoutElided and StderrElided count the bytes dropped.
	StdoutElided int64
	StderrElided int64
	// TimedOut says the timeout (not the caller's context) ended the run.
	TimedOut bool
	// Canceled says the caller's context ended the run.
	Canceled bool
	Duration time.Duration
}

// Elided is the bytes dropped from both streams.
func (r *Result) Elided() int64 { return r.StdoutElided + r.StderrElided }

// ErrNotFound is returned (wrapped) when the program does not exist.
var ErrNotFound = errors.New("program not found")

// Run starts the program and waits for it, the timeout, or ctx. An error is
// returned only when the program could not be started; a non-zero exit, a
// signal or a timeout are reported in Result.
func Run(ctx context.Context, spec Spec) (*Result, error) {
	path, err := resolve(spec.Path)
	if err != nil {
		return nil, err
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
	stdout := NewCapture(capBytes)
	stderr := NewCapture(capBytes)

	env := Environ(os.Environ(), spec.Env, spec.Unset)
	var cmd *exec.Cmd
	var status *os.File // the guard's report of the program's end
	if spec.Leaf {
		cmd = exec.Command(path, spec.Args...)
		cmd.Env = env
		// Own process group (a timeout kills it whole); dies with us.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	} else {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("procrun: cannot find this executable to guard %s: %w", path, err)
		}
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		status = r
		cmd = exec.Command(self, append([]string{path}, spec.Args...)...)
		cmd.Env = append(env, guardEnv+"="+strconv.Itoa(os.Getpid()))
		cmd.ExtraFiles = []*os.File{w}
		// The guard leads the group; SIGTERM (not SIGKILL) at our death
		// lets it kill what the program started before it goes.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		defer w.Close()
	}
	cmd.Dir = spec.Dir
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if spec.Tee != nil {
		tee := &lockedWriter{w: spec.Tee}
		cmd.Stdout = io.MultiWriter(stdout, tee)
		cmd.Stderr = io.MultiWriter(stderr, tee)
	}
	if spec.StdoutTee != nil {
		cmd.Stdout = io.MultiWriter(cmd.Stdout, spec.StdoutTee)
	}
	if spec.Stdin != nil {
		cmd.Stdin = bytes.NewReader(spec.Stdin)
	}
	// A grandchild that inherited our pipes must not keep Wait waiting once
	// the program itself has exited.
	cmd.WaitDelay = 2 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	if len(cmd.ExtraFiles) > 0 {
		cmd.ExtraFiles[0].Close()
	}
	pgid := cmd.Process.Pid

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var guardReport chan guardStatus
	if status != nil {
		guardReport = make(chan guardStatus, 1)
		go func() { guardReport <- readGuardStatus(status) }()
	}

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
		grace := spec.KillGrace
		if !spec.Leaf && grace < guardGrace {
			// The guard needs a moment to kill what escaped the group.
			grace = guardGrace
		}
		killGroup(pgid, grace, done)
		waitErr = <-done
	}
	// A child that exited can leave grandchildren behind in its group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	res.Duration = time.Since(start)

	res.Stdout, res.StdoutElided = stdout.Bytes()
	res.Stderr, res.StderrElided = stderr.Bytes()
	if waitErr != nil {
		var exitErr *exec.ExitError
		if !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
			return res, fmt.Errorf("wait %s: %w", path, waitErr)
		}
	}
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if guardReport != nil {
		gs := <-guardReport
		if gs.err != "" {
			return res, fmt.Errorf("start %s: %s", path, gs.err)
		}
		if gs.ok {
			ws = gs.status
		}
	}
	switch {
	case ws.Exited():
		res.ExitCode = ws.ExitStatus()
	case ws.Signaled():
		res.Signal = ws.Signal()
		res.ExitCode = 128 + int(ws.Signal())
	}
	return res, nil
}

// guardGrace is how long a guard gets to clean up after SIGTERM.
const guardGrace = 2 * time.Second

// LookPath finds a program the way Run does: a name without a slash in
// $PATH, a path as it is (ErrNotFound when it is not there).
func LookPath(p string) (string, error) { return resolve(p) }

func resolve(p string) (string, error) {
	if !strings.Contains(p, "/") {
		lp, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, ErrNotFound)
		}
		return lp, nil
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	return p, nil
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
	drop := map[string]bool{guardEnv: true}
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

// Capture is an io.Writer that keeps the first and the last half of what
// is written beyond its limit, and counts what it drops in between: the
// one bound on what a child's output costs in memory.
type Capture struct {
	mu      sync.Mutex
	limit   int
	head    []byte
	tail    []byte // ring buffer of the last limit/2 bytes once head is full
	tailPos int
	tailLen int
	total   int64
}

// NewCapture keeps at most limit bytes (half head, half tail).
func NewCapture(limit int) *Capture {
	if limit < 2 {
		limit = 2
	}
	return &Capture{limit: limit}
}

func (h *Capture) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(p)
	h.total += int64(n)
	headMax := h.limit - h.limit/2
	if room := headMax - len(h.head); room > 0 {
		take := min(room, len(p))
		h.head = append(h.head, p[:take]...)
		p = p[take:]
	}
	if len(p) == 0 {
		return n, nil
	}
	tailMax := h.limit / 2
	if h.tail == nil {
		h.tail = make([]byte, tailMax)
	}
	if len(p) >= tailMax {
		copy(h.tail, p[len(p)-tailMax:])
		h.tailPos, h.tailLen = 0, tailMax
		return n, nil
	}
	for len(p) > 0 {
		c := copy(h.tail[h.tailPos:], p)
		p = p[c:]
		h.tailPos = (h.tailPos + c) % tailMax
		h.tailLen = min(h.tailLen+c, tailMax)
	}
	// Report everything as written so the child never blocks on a full pipe.
	return n, nil
}

// Bytes returns what was kept and how many bytes were dropped.
func (h *Capture) Bytes() ([]byte, int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := append([]byte(nil), h.head...)
	if h.tailLen == 0 {
		return out, 0
	}
	elided := h.total - int64(len(h.head)) - int64(h.tailLen)
	var tail []byte
	if h.tailLen < len(h.tail) {
		tail = h.tail[:h.tailLen]
	} else {
		tail = append(append([]byte(nil), h.tail[h.tailPos:]...), h.tail[:h.tailPos]...)
	}
	if elided > 0 {
		// The tail starts mid-line: drop the partial first line.
		if i := bytes.IndexByte(tail, '\n'); i >= 0 && i+1 < len(tail) {
			tail = tail[i+1:]
			elided += int64(i + 1)
		}
		out = append(out, fmt.Sprintf("\n[... %d bytes of output elided by triage ...]\n", elided)...)
	}
	return append(out, tail...), max(elided, 0)
}

// lockedWriter serializes the writes of the two stream copiers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
