package lldbscript

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/fuzztriage/triage/internal/atomicfile"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/templates"
)

// DefaultLLDB is the lldb binary used when none is configured: lldb-19 is
// the oldest that prints Rust enums (lldb-14/16 show them as {}).
const DefaultLLDB = "lldb-19"

// DefaultTimeout bounds one session. A session costs about 0.6 s; the
// bound is for lldb hanging (formatters on garbage values, a stuck target).
const DefaultTimeout = 60 * time.Second

// DefaultOutputCap bounds the transcript kept from one session.
const DefaultOutputCap = 4 << 20

// Status is how a session ended, as a closed set.
type Status string

// The session statuses.
const (
	// StatusStopped: the process stopped (breakpoint or signal) and the
	// file ran to its end.
	StatusStopped Status = "stopped"
	// StatusNotStopped: the process ran to its exit without hitting a
	// breakpoint or a stopping signal (the input does not crash this
	// build, or the stop rules miss this crash kind).
	StatusNotStopped Status = "not-stopped"
	// StatusNotLaunched: lldb ran but never launched the process (bad
	// binary, run failed).
	StatusNotLaunched Status = "not-launched"
	// StatusLLDBMissing: the lldb binary does not exist.
	StatusLLDBMissing Status = "lldb-missing"
	// StatusLLDBTimeout: lldb did not finish in time; its process group
	// (lldb and the debuggee) was killed.
	StatusLLDBTimeout Status = "lldb-timeout"
	// StatusLLDBCrashed: lldb died of a signal (lldb-19 crashes on `expr`
	// through enum variants, for one).
	StatusLLDBCrashed Status = "lldb-crashed"
	// StatusLLDBFailed: lldb exited non-zero without a transcript to read.
	StatusLLDBFailed Status = "lldb-failed"
)

// RunOptions say how to run lldb.
type RunOptions struct {
	// LLDB is the lldb binary (default DefaultLLDB).
	LLDB string
	// Timeout bounds the session (default DefaultTimeout).
	Timeout time.Duration
	// OutputCap bounds the transcript (default DefaultOutputCap).
	OutputCap int
	// Dir receives the command file, helper, transcript and the
	// inferior's output. Required.
	Dir string
	// ScriptName is the command file's name (default "session.lldb").
	ScriptName string
	// Templates are the templates in force.
	Templates templates.Set
	// Formatters: FormattersAuto (default) loads the safe formatters of
	// the toolchain that built the binary when it is installed;
	// FormattersNone loads none.
	Formatters FormatterMode
	// Types is the binary's DWARF (loaded when needed and nil).
	Types *Types
	// Env is extra environment for lldb and the debuggee ("K=V").
	Env []string
	// WriteFile writes the session's files (default atomicfile.Write).
	WriteFile func(path string, data []byte) error
	// IndexCache is the directory of lldb's on-disk cache of symbol tables
	// and DWARF indexes (default DefaultIndexCache(); "-" for none).
	IndexCache string
}

// DefaultIndexCache is where sessions keep lldb's index cache: under the
// user's cache directory, shared by every store and command, because lldb
// keys it by module (path, UUID, modification time).
func DefaultIndexCache() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "triage", "lldb-index")
}

// indexCacheArgs turn on lldb's index cache. lldb otherwise re-reads the
// symbol table and re-indexes the DWARF of the fuzz binary on every start,
// and a run starts two sessions per bucket on the same few binaries: the
// cache cuts a session's CPU time by about a third. They are lldb options,
// not command-file lines, because the target is created before the file
// is read.
func indexCacheArgs(dir string) []string {
	if dir == "" {
		dir = DefaultIndexCache()
	}
	if dir == "" || dir == "-" {
		return nil
	}
	q, err := quoteArg(dir)
	if err != nil {
		return nil // a cache directory lldb cannot be given: no cache
	}
	return []string{"-O", "settings set symbols.enable-lldb-index-cache true",
		"-O", "settings set symbols.lldb-index-cache-path " + q}
}

// FormatterMode says whether to load Rust formatters.
type FormatterMode string

// Formatter modes.
const (
	FormattersAuto FormatterMode = "auto"
	FormattersNone FormatterMode = "none"
)

// Result is one session's outcome.
type Result struct {
	Status Status `json:"status" yaml:"status"`
	// Message explains a status other than stopped.
	Message string `json:"message,omitempty" yaml:"message,omitempty"`
	// Session is the parsed transcript (empty when lldb did not run).
	Session *Session `json:"session,omitempty" yaml:"session,omitempty"`
	// Exprs are the spec's expressions with their values.
	Exprs []ExprResult `json:"exprs,omitempty" yaml:"exprs,omitempty"`
	// ScriptPath and TranscriptPath are the files written.
	ScriptPath     string `json:"script" yaml:"script"`
	TranscriptPath string `json:"transcript,omitempty" yaml:"transcript,omitempty"`
	// Transcript is lldb's merged output (capped).
	Transcript string `json:"-" yaml:"-"`
	Truncated  bool   `json:"truncated,omitempty" yaml:"truncated,omitempty"`
	// InferiorStderr is the fuzz target's stderr (capped), holding the
	// panic message or libFuzzer's report.
	InferiorStderr string        `json:"inferior_stderr,omitempty" yaml:"inferior_stderr,omitempty"`
	ExitCode       int           `json:"lldb_exit_code" yaml:"lldb_exit_code"`
	Duration       time.Duration `json:"duration_ns" yaml:"duration_ns"`
	// Formatters are the Rust formatters loaded (nil: none) and why not.
	Formatters      *Formatters `json:"formatters,omitempty" yaml:"formatters,omitempty"`
	NoFormattersWhy string      `json:"no_formatters_why,omitempty" yaml:"no_formatters_why,omitempty"`
	HandRun         string      `json:"hand_run" yaml:"hand_run"`
}

// OK reports whether the process stopped and the session ran through.
func (r *Result) OK() bool { return r.Status == StatusStopped }

// ErrLLDBMissing is wrapped by the error Run returns when lldb is absent.
var ErrLLDBMissing = errors.New("lldb not found")

// Setup prepares a session's files without running it: it finds the
// formatters (per opt.Formatters) and writes the command file.
func Setup(ctx context.Context, spec *Spec, opt RunOptions) (*Plan, error) {
	popt := PrepareOptions{Dir: opt.Dir, ScriptName: opt.ScriptName, LLDB: opt.LLDB, Templates: opt.Templates, Types: opt.Types, WriteFile: opt.WriteFile}
	if opt.Formatters != FormattersNone {
		f, err := FindFormatters(ctx, spec.Binary)
		if err != nil {
			popt.NoFormattersWhy = err.Error()
		} else {
			popt.Formatters = f
		}
	} else {
		popt.NoFormattersWhy = "turned off."
	}
	return Prepare(spec, popt)
}

// Run prepares and runs one batch session and parses its transcript. The
// error is non-nil only when nothing could run (no lldb: wraps
// ErrLLDBMissing; files not writable; bad spec); then the Result still
// says why, with the command file written when it could be.
func Run(ctx context.Context, spec *Spec, opt RunOptions) (*Result, error) {
	plan, err := Setup(ctx, spec, opt)
	if err != nil {
		return &Result{Status: StatusLLDBFailed, Message: err.Error()}, err
	}
	return RunPlan(ctx, plan, opt)
}

// RunPlan runs a prepared command file.
func RunPlan(ctx context.Context, plan *Plan, opt RunOptions) (*Result, error) {
	lldb := opt.LLDB
	if lldb == "" {
		lldb = DefaultLLDB
	}
	timeout := opt.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	capBytes := opt.OutputCap
	if capBytes <= 0 {
		capBytes = DefaultOutputCap
	}
	res := &Result{ScriptPath: plan.ScriptPath, HandRun: plan.HandRun, Formatters: plan.Formatters}
	if plan.Formatters == nil {
		res.NoFormattersWhy = "none loaded"
	}
	lldbPath, err := procrun.LookPath(lldb)
	if err != nil {
		res.Status = StatusLLDBMissing
		res.Message = fmt.Sprintf("%s: not found (install lldb-19, or configure the lldb binary); the command file is at %s", lldb, plan.ScriptPath)
		return res, fmt.Errorf("%s: %w", lldb, ErrLLDBMissing)
	}
	// Both of lldb's streams into one pipe: errors stay next to the
	// commands that caused them (procrun captures the two separately).
	// exec keeps lldb itself as the process group leader procrun kills.
	args := []string{"-c", `exec "$0" "$@" 2>&1`, lldbPath,
		"-b", "-O", "settings set interpreter.stop-command-source-on-error false"}
	args = append(args, indexCacheArgs(opt.IndexCache)...)
	args = append(args, "-s", filepath.Base(plan.ScriptPath), "--", plan.Spec.Binary)
	args = append(args, plan.Spec.Args...)
	args = append(args, plan.InputName)
	// The inferior's output goes through pipes we drain (capped), not
	// into files lldb would grow without bound (an input can print a
	// gigabyte); the capped output is written to those files after.
	write := opt.WriteFile
	if write == nil {
		write = atomicfile.Write
	}
	dir := filepath.Dir(plan.ScriptPath)
	outs, err := openInferiorPipes(dir, []string{plan.Spec.InferiorStdout, plan.Spec.InferiorStderr}, inferiorOutputCap)
	if err != nil {
		res.Status = StatusLLDBFailed
		res.Message = err.Error()
		return res, err
	}
	env := append([]string{"RUST_BACKTRACE=0"}, opt.Env...)
	// A sanitizer symbolizes its own report through a forked
	// llvm-symbolizer; under lldb the fork races the session's stops (an
	// OOM session once stopped in internal_fork instead of libFuzzer's
	// report, under load) and lldb reads the stack itself: no symbolizer.
	// Not for a run that also gives the reproduction's verdict (Finish):
	// its report is parsed and keyed as printed.
	if !plan.Spec.Finish {
		for _, name := range []string{"ASAN_OPTIONS", "UBSAN_OPTIONS"} {
			env = append(env, name+"="+withOption(lookupEnv(env, name), "symbolize=0"))
		}
	}
	pr, err := procrun.Run(ctx, procrun.Spec{
		Path:      "/bin/sh",
		Args:      args,
		Dir:       filepath.Dir(plan.ScriptPath),
		Env:       env,
		Unset:     []string{"XTASK_FUZZ_REPRO"},
		Timeout:   timeout,
		OutputCap: capBytes,
		KillGrace: 2 * time.Second,
	})
	inferior := outs.finish(write)
	if err != nil {
		res.Status = StatusLLDBFailed
		res.Message = err.Error()
		return res, err
	}
	res.Duration = pr.Duration
	res.ExitCode = pr.ExitCode
	res.Transcript = string(pr.Stdout)
	res.Truncated = pr.StdoutElided > 0
	res.TranscriptPath = strings.TrimSuffix(plan.ScriptPath, ".lldb") + ".txt"
	if res.TranscriptPath == plan.ScriptPath {
		res.TranscriptPath += ".txt"
	}
	if err := write(res.TranscriptPath, pr.Stdout); err != nil {
		return res, err
	}
	res.InferiorStderr = string(inferior[1])
	res.Session = Parse(res.Transcript)
	res.Exprs = Evaluate(plan, res.Session)

	switch {
	case pr.TimedOut:
		res.Status = StatusLLDBTimeout
		res.Message = fmt.Sprintf("lldb did not finish within %s; it and the debuggee were killed (transcript so far: %s)", timeout, res.TranscriptPath)
	case pr.Canceled:
		res.Status = StatusLLDBTimeout
		res.Message = "canceled"
	case pr.Signal != 0:
		res.Status = StatusLLDBCrashed
		res.Message = fmt.Sprintf("lldb died of %s after: %s", pr.Signal, lastCommand(res.Session))
	case res.Session.Stop != nil:
		res.Status = StatusStopped
	case res.Session.Exit != nil:
		res.Status = StatusNotStopped
		res.Message = fmt.Sprintf("the process exited (%s) without stopping: no breakpoint was hit; the input may not crash this build", res.Session.Exit.Text)
	case pr.ExitCode != 0 && len(res.Session.Blocks) == 0:
		res.Status = StatusLLDBFailed
		res.Message = fmt.Sprintf("lldb exited %d: %s", pr.ExitCode, firstLines(res.Transcript, 5))
	default:
		res.Status = StatusNotLaunched
		res.Message = "the process was not launched: " + firstError(res.Session)
	}
	return res, nil
}

func lastCommand(s *Session) string {
	for i := len(s.Blocks) - 1; i >= 0; i-- {
		if c := s.Blocks[i].Command; c != "" {
			return c
		}
	}
	return "(no command)"
}

func firstError(s *Session) string {
	for _, e := range s.Errors {
		return e.Command + ": " + e.Message
	}
	return "no error shown"
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}

// inferiorOutputCap bounds what is kept of each of the inferior's streams.
const inferiorOutputCap = 1 << 20

// inferiorPipes are FIFOs lldb opens as the inferior's stdout and stderr,
// each drained into a Capture.
type inferiorPipes struct {
	paths   []string
	files   []*os.File // read ends
	writers []*os.File // our write ends, held until lldb is gone
	caps    []*procrun.Capture
	done    []chan struct{}
	// bound is how long finish waits for the readers' end of file.
	bound time.Duration
}

// inferiorDrainBound bounds the wait for a FIFO's end of file once lldb is
// gone: only a process that escaped the session's group and kept the
// write end could make it wait that long.
const inferiorDrainBound = 2 * time.Second

// openInferiorPipes replaces each name in dir (whatever is there, a link
// included) by a FIFO and starts draining it. The read end is opened
// without blocking, then a write end of our own, so the reader neither
// blocks on open nor sees an end of file before lldb opens the FIFO (or
// never does, when the inferior is not launched); finish closes that write
// end, and the reader ends as soon as the pipe is empty.
func openInferiorPipes(dir string, names []string, capBytes int) (*inferiorPipes, error) {
	ip := &inferiorPipes{bound: inferiorDrainBound}
	for _, name := range names {
		p := filepath.Join(dir, name)
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			ip.close()
			return nil, err
		}
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			ip.close()
			return nil, fmt.Errorf("inferior output %s: %w", p, err)
		}
		f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
		if err != nil {
			ip.close()
			return nil, err
		}
		w, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NOFOLLOW, 0)
		if err != nil {
			f.Close()
			ip.close()
			return nil, err
		}
		c := procrun.NewCapture(capBytes)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = io.Copy(c, f)
		}()
		ip.paths = append(ip.paths, p)
		ip.files = append(ip.files, f)
		ip.writers = append(ip.writers, w)
		ip.caps = append(ip.caps, c)
		ip.done = append(ip.done, done)
	}
	return ip, nil
}

// finish drains what is left, replaces each FIFO by a regular file holding
// the capped output (for people and hand runs), and returns the outputs.
// lldb and the inferior are gone, so once our write ends close, every
// reader reaches its end of file right after the last byte written.
func (ip *inferiorPipes) finish(write func(string, []byte) error) [][]byte {
	for _, w := range ip.writers {
		w.Close()
	}
	stopped := make(chan struct{})
	bound := time.AfterFunc(ip.bound, func() {
		defer close(stopped)
		for _, f := range ip.files {
			_ = f.SetReadDeadline(time.Now())
		}
	})
	out := make([][]byte, len(ip.files))
	for _, done := range ip.done {
		<-done
	}
	// Only readers the bound stopped can have left bytes in their pipe.
	cut := !bound.Stop()
	if cut {
		<-stopped
	}
	for i, f := range ip.files {
		if cut {
			drainNow(f, ip.caps[i])
		}
		f.Close()
		data, _ := ip.caps[i].Bytes()
		out[i] = data
		_ = os.Remove(ip.paths[i])
		_ = write(ip.paths[i], data)
	}
	return out
}

// drainNow copies what is left in a non-blocking pipe into c without
// waiting: after a reader stopped at its deadline, bytes written just
// before it may still be in the pipe.
func drainNow(f *os.File, c io.Writer) {
	_ = f.SetReadDeadline(time.Time{})
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 64<<10)
	for {
		var n int
		var rerr error
		if err := rc.Read(func(fd uintptr) bool {
			n, rerr = syscall.Read(int(fd), buf)
			return true
		}); err != nil || rerr != nil || n <= 0 {
			return
		}
		_, _ = c.Write(buf[:n])
	}
}

func (ip *inferiorPipes) close() {
	for _, w := range ip.writers {
		w.Close()
	}
	for i, f := range ip.files {
		f.Close()
		_ = os.Remove(ip.paths[i])
	}
}

// lookupEnv is name's value in env ("K=V", later entries win), else in
// the process environment.
func lookupEnv(env []string, name string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], name+"="); ok {
			return v
		}
	}
	return os.Getenv(name)
}

// withOption appends a sanitizer option ("k=v") to an options string
// (colon-separated; a later option wins).
func withOption(opts, opt string) string {
	if opts == "" {
		return opt
	}
	return opts + ":" + opt
}
