package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/regbits"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
	"github.com/fuzztriage/triage/triage"
)

func init() {
	register(&command{
		name:     "lldb",
		summary:  "run a ready batch lldb session at one crash artifact and print what it shows",
		usage:    "TARGET ARTIFACT | --binary BIN ARTIFACT | --type NAME (TARGET | --binary BIN)",
		group:    "input",
		complete: completeTargetArtifact,
		help: `
Builds the target's dev binary if needed (--release: the release build),
runs the artifact once to learn the crash kind and the in-app frames, writes
a commented lldb command file, runs it in ONE lldb-19 process and prints the
stop, the backtrace, each in-app frame with its source and variables, and
the values of --expr paths.

--expr takes 'NAME: rust.path[@FUNCTION]': a Rust-level path from a
variable of an inspected frame (or of FUNCTION). Wrappers are stepped
through without naming them and enum variants are named the Rust way:
  --expr 'state: self.channels[0].state'
  --expr 'serial: self.channels[0].drives[0].HardDevice.serial'
  --expr 'dev: ide_device.channels[0].state@fuzz_ide::_::__libfuzzer_sys_run'
The paths are computed from the binary's DWARF (Arc, Rc, Box, Mutex,
RwLock, guards, RefCell, Cell, UnsafeCell, Option, Result, user enums,
Vec, slices, arrays, String and generic user wrappers like CloseableMutex).

--print-script writes the command file and prints it with the command line
that runs it by hand, without running lldb. --type NAME prints a type's
layout (fields by offset, enum variants with their discriminants and the
names lldb gives them, where a wrapper keeps its value).

Files go to --out (default: a new directory under the system temp dir):
the command file session.lldb, the transcript session.txt, and the input
under a name of hex digits (the artifact's own name never reaches lldb;
run the file from its directory). Templates can be overridden by files of
the same name in --templates (default: triage.yaml's lldb.templates).

Exit codes: 0 the process stopped and the session ran; 1 it did not stop
(the input does not crash this build), lldb is missing, hung or crashed, or
the build failed; 2 usage errors.

Examples:
  triage lldb --workspace testdata/fuzzws fuzz_ide vm/devices/storage/ide/fuzz/artifacts/fuzz_ide/crash-50a484a1be43358521bd675930166a80cce9f94a
  triage lldb --expr 'st: self.channels[0].state' --break lib.rs:379:2 fuzz_ide ARTIFACT
  triage lldb --flag -timeout=2 fuzz_wire_decode .../timeout-7692e7cf...
  triage lldb --print-script --out /tmp/s fuzz_ide ARTIFACT && lldb-19 -b -s /tmp/s/session.lldb -- ...
  triage lldb --type 'ide::CloseableMutex<ide::IdeDevice>' fuzz_ide
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			o := &lldbCmd{}
			fs.StringVar(&o.binary, "binary", "", "debug this binary instead of a TARGET's build")
			fs.BoolVar(&o.release, "release", false, "use the release build (variables are mostly optimized out)")
			fs.BoolVar(&o.printScript, "print-script", false, "only write the command file and print it")
			fs.Var(&o.exprs, "expr", "'NAME: rust.path[@FUNCTION]' value to read (repeatable)")
			fs.Var(&o.breaks, "break", "FILE:LINE[:IGNORE] breakpoint, skipping its first IGNORE hits (repeatable)")
			fs.Var(&o.frames, "frame", "inspect this function's frame (repeatable; default: the top in-app frames)")
			fs.IntVar(&o.nframes, "frames", 3, "how many in-app frames to inspect")
			fs.Var(&o.flags, "flag", "libFuzzer flag for the run, e.g. -timeout=2 (repeatable)")
			fs.StringVar(&o.kind, "kind", "", "crash kind (default: from running the artifact)")
			fs.StringVar(&o.typeName, "type", "", "print the layout of this type and exit")
			o.format = addFormat(fs, "text", "text", "yaml", "json")
			fs.StringVar(&o.out, "out", "", "directory for the command file, transcript and inferior output")
			fs.StringVar(&o.lldb, "lldb", "", "lldb binary (default: the config's, else lldb-19)")
			fs.DurationVar(&o.timeout, "timeout", 0, "bound on the lldb session (default: the config's, else 60s)")
			fs.BoolVar(&o.noFormatters, "no-formatters", false, "load no Rust formatters (Vec indexing then fails)")
			fs.StringVar(&o.templates, "templates", "", "template override directory")
			return o.run
		},
	})
}

type lldbCmd struct {
	binary, kind, typeName, out, lldb, templates string
	release, printScript, noFormatters           bool
	exprs, breaks, frames, flags                 stringList
	nframes                                      int
	format                                       *formatFlag
	timeout                                      time.Duration
}

// lldbReport is what `triage lldb --format yaml|json` prints.
type lldbReport struct {
	Target   string                   `json:"target,omitempty" yaml:"target,omitempty"`
	Profile  string                   `json:"profile,omitempty" yaml:"profile,omitempty"`
	Binary   string                   `json:"binary" yaml:"binary"`
	Artifact string                   `json:"artifact" yaml:"artifact"`
	Kind     symbolize.CrashKind      `json:"kind" yaml:"kind"`
	Message  string                   `json:"message,omitempty" yaml:"message,omitempty"`
	Status   lldbscript.Status        `json:"status" yaml:"status"`
	Problem  string                   `json:"problem,omitempty" yaml:"problem,omitempty"`
	Script   string                   `json:"script" yaml:"script"`
	Log      string                   `json:"transcript,omitempty" yaml:"transcript,omitempty"`
	HandRun  string                   `json:"hand_run" yaml:"hand_run"`
	Stop     *lldbscript.Stop         `json:"stop,omitempty" yaml:"stop,omitempty"`
	Exit     *lldbscript.Exit         `json:"exit,omitempty" yaml:"exit,omitempty"`
	Frames   []lldbscript.Frame       `json:"backtrace,omitempty" yaml:"backtrace,omitempty"`
	InApp    []lldbscript.FrameView   `json:"frames,omitempty" yaml:"frames,omitempty"`
	Exprs    []lldbscript.ExprResult  `json:"exprs,omitempty" yaml:"exprs,omitempty"`
	Duration string                   `json:"lldb_duration" yaml:"lldb_duration"`
	Plan     []lldbscript.PlannedExpr `json:"-" yaml:"-"`
	// Findings are what a bucket record keeps of this session: values
	// rendered by their types (enums, registers).
	Findings *store.LLDBFindings `json:"findings,omitempty" yaml:"findings,omitempty"`
}

func (o *lldbCmd) run(ctx context.Context, a *app, args []string) error {
	if err := o.format.check(); err != nil {
		return err
	}
	wantArgs := 2
	if o.binary != "" {
		wantArgs = 1
	}
	if o.typeName != "" {
		wantArgs--
	}
	if len(args) != wantArgs {
		return usagef("want %d arguments, got %d", wantArgs, len(args))
	}
	if o.nframes < 0 {
		return usagef("--frames must not be negative")
	}
	req := triage.SessionRequest{Profile: store.Dev, NFrames: o.nframes, Functions: o.frames, Flags: o.flags,
		Kind: symbolize.CrashKind(o.kind), Dir: o.out, LLDB: o.lldb, Timeout: o.timeout, Templates: o.templates}
	if o.nframes == 0 {
		req.NFrames = -1 // --frames 0: inspect none
	}
	if o.release {
		req.Profile = store.Release
	}
	for _, s := range o.breaks {
		b, err := lldbscript.ParseBreakpoint(s)
		if err != nil {
			return usagef("--break: %v", err)
		}
		req.Breakpoints = append(req.Breakpoints, b)
	}
	for _, s := range o.exprs {
		e, err := lldbscript.ParseExpr(s)
		if err != nil {
			return usagef("--expr: %v", err)
		}
		req.Exprs = append(req.Exprs, e)
	}
	for _, f := range o.flags {
		if err := lldbscript.CheckFlag(f); err != nil {
			return usagef("--flag: %v", err)
		}
	}
	if o.noFormatters {
		req.Formatters = lldbscript.FormattersNone
	}

	// The workspace gives TARGET's binaries, triage.yaml and the store.
	rep := &lldbReport{Profile: string(req.Profile)}
	req.Config = triage.DefaultConfig()
	if o.binary == "" {
		root, err := a.workspaceRoot(nil)
		if err != nil {
			return err
		}
		if req.Config, err = a.config(root); err != nil {
			return err
		}
		if req.Workspace, err = triage.Load(root, req.Config); err != nil {
			return err
		}
		if req.Workspace.Target(args[0]) == nil {
			var names []string
			for _, t := range req.Workspace.Targets {
				names = append(names, t.Name)
			}
			return usagef("no fuzz target %q in %s (targets: %s)", args[0], root, strings.Join(names, ", "))
		}
		req.Target = args[0]
		rep.Target = args[0]
		args = args[1:]
		a.log.Infof("ensuring the %s binary of %s", req.Profile, req.Target)
		bin, err := triage.EnsureBinary(ctx, req.Workspace, req.Target, req.Profile, req.Config)
		if err != nil {
			return err
		}
		req.Binary = bin
	} else if _, err := os.Stat(o.binary); err != nil {
		return usagef("--binary: %v", err)
	} else if req.Binary, err = filepath.Abs(o.binary); err != nil {
		return err
	}
	rep.Binary = req.Binary

	if o.typeName != "" {
		ts, err := lldbscript.LoadTypes(req.Binary)
		if err != nil {
			return err
		}
		t, err := ts.Type(o.typeName)
		if err != nil {
			return exitError{code: exitFindings, err: err}
		}
		lldbscript.WriteLayout(a.stdout, t)
		return nil
	}
	if st, err := os.Stat(args[0]); err != nil || !st.Mode().IsRegular() {
		return usagef("artifact %s: not a readable file", lldbscript.Comment(args[0]))
	}
	req.Input = args[0]
	rep.Artifact, _ = filepath.Abs(args[0])

	sess, err := triage.PrepareSession(ctx, req)
	if err != nil {
		return err
	}
	for _, k := range sess.Known {
		a.log.Info(k)
	}
	rep.Kind = sess.Spec.Kind
	if sess.Trace != nil {
		rep.Message = sess.Trace.Message
	}
	if len(o.frames) == 0 && sess.Trace != nil && len(lldbscript.FramesFromTrace(sess.Trace, 1)) == 0 && len(sess.Spec.Frames) > 0 {
		a.log.Infof("the report names no in-app frame; selecting frames by where their source lives")
	}
	plan, err := sess.Plan(ctx)
	if err != nil {
		return err
	}
	if o.printScript {
		fmt.Fprint(a.stdout, plan.Script)
		fmt.Fprintf(a.stderr, "command file: %s\nrun it: %s\n", plan.ScriptPath, plan.HandRun)
		return nil
	}
	ropt := sess.Options
	a.log.Infof("running %s", plan.ScriptPath)
	res, err := lldbscript.RunPlan(ctx, plan, ropt)
	rep.Status = res.Status
	rep.Problem = res.Message
	rep.Script = res.ScriptPath
	rep.Log = res.TranscriptPath
	rep.HandRun = res.HandRun
	rep.Duration = res.Duration.Round(time.Millisecond).String()
	rep.Exprs = res.Exprs
	rep.Plan = plan.Exprs
	if s := res.Session; s != nil {
		rep.Stop, rep.Exit, rep.Frames, rep.InApp = s.Stop, s.Exit, s.Backtrace, s.Frames
		var regs regbits.Table
		if req.Workspace != nil {
			regs = req.Workspace.Registers()
		}
		rep.Findings = triage.Findings(s, sess.Spec.Binary, regs)
	}
	if !o.format.text() {
		if werr := writeStructured(a.stdout, o.format.value, rep); werr != nil {
			return werr
		}
	} else {
		printLLDBReport(a.stdout, rep)
	}
	if err != nil && !errors.Is(err, lldbscript.ErrLLDBMissing) {
		return err
	}
	if !res.OK() {
		return exitError{code: exitFindings, err: fmt.Errorf("%s: %s", res.Status, res.Message)}
	}
	return nil
}

// rendered is a variable's value as the findings render it (by its type),
// else as lldb printed it.
func (r *lldbReport) rendered(frame int, v *lldbscript.Value) string {
	if r.Findings != nil {
		for _, fv := range r.Findings.Variables {
			if fv.Frame == frame && fv.Name == v.Name && fv.Type == v.Type {
				return fv.Value
			}
		}
	}
	return lldbscript.Compact(v, 2)
}

func printLLDBReport(w io.Writer, r *lldbReport) {
	name := r.Target
	if name == "" {
		name = filepath.Base(r.Binary)
	}
	fmt.Fprintf(w, "%s (%s build) on %s\n", name, r.Profile, filepath.Base(r.Artifact))
	fmt.Fprintf(w, "crash kind: %s\n", r.Kind)
	if r.Message != "" {
		fmt.Fprintf(w, "message:    %s\n", firstLine(r.Message))
	}
	fmt.Fprintf(w, "session:    %s (lldb %s)\n", r.Status, r.Duration)
	if r.Problem != "" {
		fmt.Fprintf(w, "problem:    %s\n", r.Problem)
	}
	if r.Stop != nil {
		where := ""
		if r.Stop.Frame != nil {
			where = " in " + r.Stop.Frame.Function
		}
		fmt.Fprintf(w, "stop:       %s%s (thread #%d)\n", r.Stop.Reason, where, r.Stop.Thread)
	}
	if r.Exit != nil {
		fmt.Fprintf(w, "exit:       %s\n", r.Exit.Text)
	}
	if len(r.Frames) > 0 {
		fmt.Fprintln(w, "\nbacktrace:")
		for _, f := range r.Frames {
			loc := ""
			if f.File != "" {
				loc = fmt.Sprintf("  %s:%d", shortPath(f.File), f.Line)
			}
			inl := ""
			if f.Inlined {
				inl = " [inlined]"
			}
			fmt.Fprintf(w, "  #%-3d %s%s%s\n", f.Index, lldbscript.FunctionKey(f.Function), inl, loc)
		}
	}
	for _, fv := range r.InApp {
		fmt.Fprintln(w)
		if fv.Frame == nil {
			fmt.Fprintf(w, "%s: %s\n", fv.Command, fv.Error)
			continue
		}
		fmt.Fprintf(w, "frame #%d %s  %s:%d\n", fv.Frame.Index, lldbscript.FunctionKey(fv.Frame.Function), fv.Frame.File, fv.Frame.Line)
		for _, l := range fv.Source {
			mark := "  "
			if l.Current {
				mark = "->"
			}
			fmt.Fprintf(w, "  %s %5d  %s\n", mark, l.Line, l.Text)
		}
		if len(fv.Variables) > 0 {
			fmt.Fprintln(w, "  variables:")
			for _, v := range fv.Variables {
				fmt.Fprintf(w, "    %s: %s = %s\n", v.Name, v.Type, truncate(r.rendered(fv.Frame.Index, v), 200))
			}
		}
	}
	if len(r.Exprs) > 0 {
		fmt.Fprintln(w, "\nexpressions:")
		for _, e := range r.Exprs {
			val := e.Text
			if val == "" && e.Value != nil {
				val = lldbscript.Compact(e.Value, 2)
			}
			fmt.Fprintf(w, "  %s = %s\n", e.Name, truncate(val, 300))
			fmt.Fprintf(w, "      %s  ->  frame variable %s", e.Rust, e.LLDB)
			if e.Frame != "" {
				fmt.Fprintf(w, "  (in %s)", e.Frame)
			}
			fmt.Fprintln(w)
			if e.Error != "" {
				fmt.Fprintf(w, "      error: %s\n", firstLine(e.Error))
			}
		}
	}
	fmt.Fprintf(w, "\ncommand file: %s\ntranscript:   %s\nrerun:        %s\n", r.Script, r.Log, r.HandRun)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func shortPath(p string) string {
	if i := strings.Index(p, "/library/"); i >= 0 && strings.HasPrefix(p, "/rustc/") {
		return p[i+1:]
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return p
}
