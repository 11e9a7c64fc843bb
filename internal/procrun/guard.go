package procrun

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// guardEnv marks a process as a guard; its value is the pid of the triage
// process that started it.
const guardEnv = "TRIAGE_PROCRUN_GUARD"

// The guard runs before main (and before a test binary's TestMain): any
// binary that links procrun can serve as its own guard, so tests exercise
// the same path as the CLI.
func init() {
	parent := os.Getenv(guardEnv)
	if parent == "" {
		return
	}
	os.Exit(runGuard(parent, os.Args[1:]))
}

// guardStatus is the program's end as the guard reports it on fd 3.
type guardStatus struct {
	ok     bool
	status syscall.WaitStatus
	err    string
}

func readGuardStatus(r io.Reader) guardStatus {
	data, _ := io.ReadAll(io.LimitReader(r, 4096))
	line := strings.TrimSpace(string(data))
	switch {
	case strings.HasPrefix(line, "status "):
		n, err := strconv.ParseUint(strings.TrimPrefix(line, "status "), 10, 32)
		if err == nil {
			return guardStatus{ok: true, status: syscall.WaitStatus(n)}
		}
	case strings.HasPrefix(line, "error "):
		return guardStatus{err: strings.TrimPrefix(line, "error ")}
	}
	return guardStatus{}
}

// runGuard supervises one program: it is a child subreaper (orphans of the
// program's tree become its children), starts the program in its own
// process group with the parent-death signal, and whenever it ends, the
// program exits, triage dies (SIGTERM from our own parent-death signal) or
// procrun stops the run (SIGTERM to our group), it kills the program's
// group and every process descended from the guard, and reaps them. The
// program's wait status goes to fd 3; the exit code mirrors it.
func runGuard(parent string, argv []string) int {
	report := os.NewFile(3, "status")
	fail := func(format string, args ...any) int {
		if report != nil {
			fmt.Fprintf(report, "error "+format+"\n", args...)
		}
		return 127
	}
	if len(argv) == 0 {
		return fail("guard: no program")
	}
	// triage may have died between starting us and now.
	if strconv.Itoa(os.Getppid()) != parent {
		return 1
	}
	if err := setChildSubreaper(); err != nil {
		return fail("guard: prctl(PR_SET_CHILD_SUBREAPER): %v", err)
	}
	term := make(chan os.Signal, 4)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fail("%v", err)
	}
	child := cmd.Process.Pid

	// One goroutine reaps every child of the guard: the program, and the
	// orphans of its tree that the kernel reparents to us.
	type reaped struct {
		pid int
		ws  syscall.WaitStatus
	}
	events := make(chan reaped, 64)
	stop := make(chan struct{})
	go func() {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, 0, nil)
			if err == nil && pid > 0 {
				events <- reaped{pid, ws}
				continue
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			// No child right now; orphans may still be reparented to us.
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	var status syscall.WaitStatus
	for done := false; !done; {
		select {
		case ev := <-events:
			if ev.pid == child {
				status, done = ev.ws, true
			}
		case <-term:
			killTree(child)
		}
	}
	// The program is gone: nothing it started may stay.
	killTree(child)
	deadline := time.Now().Add(5 * time.Second)
	for len(descendants(os.Getpid())) > 0 && time.Now().Before(deadline) {
		killTree(child)
		select {
		case <-events:
		case <-time.After(2 * time.Millisecond):
		}
	}
	close(stop)
	if report != nil {
		fmt.Fprintf(report, "status %d\n", uint32(status))
	}
	switch {
	case status.Exited():
		return status.ExitStatus()
	case status.Signaled():
		return 128 + int(status.Signal())
	}
	return 1
}

// killTree kills the program's process group and every live process in
// the guard's subtree (those that moved to other groups, and orphans
// reparented to the guard).
func killTree(pgid int) {
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	for _, pid := range descendants(os.Getpid()) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// descendants lists the live processes below pid, from /proc. It walks the
// subtree through each thread's children file, a few reads where a guard
// has no descendant left (the common case, once per run); a kernel
// without those files gets a scan of every process.
func descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		kids, ok := childrenOf(p)
		if !ok {
			if p == pid {
				return scanDescendants(pid)
			}
			continue // gone meanwhile
		}
		for _, c := range kids {
			if _, state, ok := procStat(c); !ok || state == 'Z' {
				continue
			}
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// childrenOf lists pid's children from /proc/PID/task/*/children (a child
// is listed under the thread that started it); false when pid is gone or
// the kernel has no such files.
func childrenOf(pid int) ([]int, bool) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	var out []int
	found := false
	for _, t := range tasks {
		data, err := os.ReadFile(dir + "/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		found = true
		for _, f := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out, found
}

// scanDescendants lists the live processes below pid from every process's
// stat file.
func scanDescendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, state, ok := procStat(p)
		if !ok || state == 'Z' {
			continue
		}
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// procStat reads a process's parent and state from /proc/PID/stat.
func procStat(pid int) (ppid int, state byte, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 || i+4 >= len(data) {
		return 0, 0, false
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 2 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return 0, 0, false
	}
	return ppid, fields[0][0], true
}

func setChildSubreaper() error {
	const prSetChildSubreaper = 36
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
