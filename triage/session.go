package triage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
	"github.com/fuzztriage/triage/templates"
)

// SessionRequest asks for a ready lldb session at one crash input on one
// build. The pipeline (once per bucket and build), `triage lldb` and
// `triage debug` all get their session from PrepareSession: one place
// decides the binary, the libFuzzer flags, what is known of the crash, the
// frames to inspect and where the files go.
type SessionRequest struct {
	// Workspace and Target name the fuzz target whose build is debugged
	// (Binary, when set, is that build; else it is built as Config says).
	// With Binary alone (no Target) that binary is debugged as it is.
	Workspace *Workspace
	Target    string
	Binary    string
	Profile   store.Profile
	Config    *Config
	// Input is the crash input, under any name: the inferior gets a copy
	// named by its SHA1 (lldbscript.Prepare).
	Input string
	// Trace is what is known of the crash (the pipeline's reproduction, a
	// record); nil: KnownCrash is asked.
	Trace *symbolize.Trace
	// Kind, when set, overrides the crash kind the stops are chosen by.
	Kind symbolize.CrashKind
	// Flags are libFuzzer flags replacing the reproduction flags of the
	// same name (-timeout=2).
	Flags []string
	// Functions are frames to inspect by function name; default: the
	// top NFrames in-app frames of the trace (by source directory when the
	// trace has none).
	Functions []string
	NFrames   int
	// Exprs and Breakpoints are the user's additions.
	Exprs       []lldbscript.Expr
	Breakpoints []lldbscript.Breakpoint
	// Dir receives the command file, transcript, helper and input copy;
	// "" makes a new temporary directory. ScriptName names the command
	// file (default session.lldb).
	Dir        string
	ScriptName string
	// WriteFile writes the session's files (the pipeline's store writer;
	// default atomicfile.Write).
	WriteFile func(path string, data []byte) error
	// LLDB, Timeout, Formatters and Templates override the configuration.
	LLDB       string
	Timeout    time.Duration
	Formatters lldbscript.FormatterMode
	Templates  string
	// Title is the command file's first line (default: input, build, target).
	Title string
	// Finish lets the program run to its end after the stop, with the
	// reproduction's flags (a timeout's own -timeout, not the session's
	// shorter one), so that the session is also the build's reproduction
	// verdict (LLDBFindings.Exit).
	Finish bool
	// Stages parse and symbolize a run made to learn the crash (default
	// DefaultStages).
	Stages *Stages
}

// Session is a prepared lldb session: the spec lldbscript writes and the
// options it runs with.
type Session struct {
	Spec    *lldbscript.Spec
	Options lldbscript.RunOptions
	// Target is the fuzz target (a bare one named after the binary when
	// there is no workspace).
	Target *Target
	// Trace is what the session was set up from; Known says where it
	// came from (a record, a run now), for people.
	Trace *symbolize.Trace
	Known []string
}

// DefaultSessionFrames is how many in-app frames a session inspects.
const DefaultSessionFrames = 3

// PrepareSession resolves what a session needs: the binary (building it),
// the flags, the crash (given, recorded, or learned by one run of the input
// on this build through the one reproduction path), the frames and the
// directory. Nothing runs lldb yet.
func PrepareSession(ctx context.Context, req SessionRequest) (*Session, error) {
	cfg := req.Config
	if cfg == nil {
		cfg = DefaultConfig()
	}
	prof := req.Profile
	if prof == "" {
		prof = store.Dev
	}
	s := &Session{Trace: req.Trace}
	var t *Target
	if req.Target != "" {
		if req.Workspace == nil {
			return nil, errors.New("lldb session: a target needs its workspace")
		}
		if t = req.Workspace.Target(req.Target); t == nil {
			return nil, fmt.Errorf("no fuzz target %q in %s", req.Target, req.Workspace.Root)
		}
	} else {
		if req.Binary == "" {
			return nil, errors.New("lldb session: no target and no binary")
		}
		t = &Target{Name: filepath.Base(req.Binary)}
	}
	s.Target = t
	binary := req.Binary
	if binary == "" {
		b, err := EnsureBinary(ctx, req.Workspace, t.Name, prof, cfg)
		if err != nil {
			return nil, err
		}
		binary = b
	}
	binary, err := filepath.Abs(binary)
	if err != nil {
		return nil, err
	}
	input, err := filepath.Abs(req.Input)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(input); err != nil || !st.Mode().IsRegular() {
		return nil, fmt.Errorf("crash input %q: not a readable file", lldbscript.Comment(req.Input))
	}
	artKind := store.KindOfArtifact(filepath.Base(input))
	flags := mergeFlags(sessionFlags(t, artKind, &cfg.Reproduce), req.Flags)
	if req.Finish {
		flags = mergeFlags(ReproFlags(t, artKind, &cfg.Reproduce), req.Flags)
	}

	if s.Trace == nil {
		stages := DefaultStages()
		if req.Stages != nil {
			stages = *req.Stages
		}
		s.Trace, s.Known, err = KnownCrash(ctx, CrashRequest{
			Workspace: req.Workspace, Config: cfg, Stages: stages, Target: t, Profile: prof,
			Binary: binary, Input: input, Flags: flags,
		})
		if err != nil {
			return nil, err
		}
	}
	spec := &lldbscript.Spec{
		Binary:      binary,
		Args:        flags,
		Input:       input,
		Kind:        sessionKind(req.Kind, s.Trace, artKind),
		Breakpoints: req.Breakpoints,
		Exprs:       req.Exprs,
		Title:       req.Title,
		Finish:      req.Finish,
	}
	if spec.Title == "" {
		spec.Title = fmt.Sprintf("%s on the %s build of %s", filepath.Base(input), prof, t.Name)
	}
	n := req.NFrames
	if n == 0 {
		n = DefaultSessionFrames
	}
	for _, f := range req.Functions {
		spec.Frames = append(spec.Frames, lldbscript.FrameSelector{Function: f})
	}
	if len(req.Functions) == 0 && n > 0 {
		spec.Frames = lldbscript.FramesFromTrace(s.Trace, n)
		if len(spec.Frames) == 0 {
			// No stack in the report (a timeout, an OOM or an overflow
			// without a sanitizer): find the frames where their code lives.
			if dirs := inAppDirs(req.Workspace, t); len(dirs) > 0 {
				spec.Frames = lldbscript.FramesUnder(dirs, n)
			}
		}
	}
	dir := req.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "triage-lldb-"); err != nil {
			return nil, err
		}
	} else if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	s.Spec = spec
	s.Options = lldbscript.RunOptions{
		LLDB: req.LLDB, Timeout: req.Timeout, Dir: dir, ScriptName: req.ScriptName,
		Formatters: req.Formatters, WriteFile: req.WriteFile,
	}
	if s.Options.LLDB == "" {
		s.Options.LLDB = cfg.LLDB.Binary
	}
	if s.Options.Timeout == 0 {
		s.Options.Timeout = cfg.LLDB.Timeout.D()
	}
	tdir := req.Templates
	if tdir == "" {
		tdir = cfg.LLDB.Templates
	}
	if tdir != "" && !filepath.IsAbs(tdir) && req.Workspace != nil {
		tdir = filepath.Join(req.Workspace.Root, tdir)
	}
	s.Options.Templates = templates.Open(tdir)
	return s, nil
}

// Plan writes the session's command file without running it.
func (s *Session) Plan(ctx context.Context) (*lldbscript.Plan, error) {
	return lldbscript.Setup(ctx, s.Spec, s.Options)
}

// Run writes the command file and runs it in one batch lldb process.
func (s *Session) Run(ctx context.Context) (*lldbscript.Plan, *lldbscript.Result, error) {
	plan, err := s.Plan(ctx)
	if err != nil {
		return nil, &lldbscript.Result{Status: lldbscript.StatusLLDBFailed, Message: err.Error()}, err
	}
	res, err := lldbscript.RunPlan(ctx, plan, s.Options)
	return plan, res, err
}

// sessionFlags are the reproduction flags, except that a timeout runs with
// -timeout=1: lldb stops at libFuzzer's first SIGALRM (timeout/2+1 seconds
// in), inside the loop that hangs, so a shorter timeout gets there sooner.
func sessionFlags(t *Target, kind store.ArtifactKind, rc *ReproduceConfig) []string {
	flags := ReproFlags(t, kind, rc)
	if kind != store.ArtifactTimeout {
		return flags
	}
	return mergeFlags(flags, []string{"-timeout=1"})
}

// mergeFlags lets -name=value flags of extra replace those of base with
// the same name.
func mergeFlags(base, extra []string) []string {
	out := append([]string(nil), base...)
	for _, e := range extra {
		name, _, _ := strings.Cut(e, "=")
		kept := out[:0]
		for _, b := range out {
			if n, _, _ := strings.Cut(b, "="); n != name {
				kept = append(kept, b)
			}
		}
		out = append(kept, e)
	}
	return out
}

// sessionKind is the crash kind the stops are chosen by: the one asked
// for, else the trace's, else what the artifact's name says.
func sessionKind(asked symbolize.CrashKind, tr *symbolize.Trace, art store.ArtifactKind) symbolize.CrashKind {
	if asked != "" {
		return asked
	}
	if tr != nil && tr.Kind != "" && tr.Kind != symbolize.KindNone && tr.Kind != symbolize.KindUnknown {
		return tr.Kind
	}
	if k := expectedKind(art); k != "" {
		return k
	}
	return symbolize.KindRustPanic
}

// inAppDirs are the source directories of the code under test and the fuzz
// target: absolute, and relative to the workspace (a binary built in
// another checkout of it names its sources under that checkout).
func inAppDirs(ws *Workspace, t *Target) []string {
	var dirs []string
	for _, d := range []string{t.CrateDir, t.FuzzDir} {
		if d == "" {
			continue
		}
		dirs = append(dirs, d)
		if ws != nil {
			if rel := filepath.ToSlash(ws.Rel(d)); rel != d && rel != "." {
				dirs = append(dirs, rel)
			}
		}
	}
	return dirs
}

// CrashRequest asks what is known of an input's crash.
type CrashRequest struct {
	Workspace *Workspace
	Config    *Config
	Stages    Stages
	Target    *Target
	Profile   store.Profile
	Binary    string
	Input     string
	Flags     []string
}

// KnownCrash is what triage knows of an input's crash on one build: for the
// release build its record in the workspace's store when it has one (the
// record's frames are the release build's), else one run of the input on
// the binary now (the one reproduction path, with a backtrace, parsed and
// symbolized). The lines say where it came from. A run that does not
// crash is not an error: the session may still stop at a breakpoint.
func KnownCrash(ctx context.Context, req CrashRequest) (*symbolize.Trace, []string, error) {
	sha, _, err := store.FileSHA1(req.Input)
	if err != nil {
		return nil, nil, err
	}
	if req.Workspace != nil && req.Profile == store.Release {
		if tr, known := recordedCrash(req.Config.StoreDir(req.Workspace.Root), req.Workspace.Root, sha); tr != nil {
			return tr, known, nil
		}
	}
	scratch, err := os.MkdirTemp("", "triage-crash-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(scratch)
	o := runOptionsFor(req.Config, req.Stages, req.Target, req.Profile, req.Binary, store.KindOfArtifact(filepath.Base(req.Input)), scratch)
	o.Flags = req.Flags
	r, err := RunOnce(ctx, o, req.Input, true)
	if err != nil {
		return nil, nil, err
	}
	known := []string{fmt.Sprintf("no triage record; ran it now on %s: %s (exit %d)", filepath.Base(req.Binary), r.Outcome, r.ExitCode)}
	if !r.Outcome.Failed() {
		return nil, known, nil
	}
	tr := parseOrFallback(o.Parse, r)
	if o.Symbolize != nil {
		_ = o.Symbolize(tr, req.Binary)
	}
	return tr, known, nil
}

// recordedCrash reads an input's crash from the store, when it has one.
func recordedCrash(storeDir, root, sha string) (*symbolize.Trace, []string) {
	st, err := store.OpenExisting(storeDir)
	if err != nil {
		return nil, nil
	}
	defer st.Close()
	var rec store.ArtifactRecord
	if err := st.ReadRecord(st.ArtifactRecordPath(sha), &rec); err != nil || rec.Crash == nil {
		return nil, nil
	}
	rel, _ := filepath.Rel(root, st.ArtifactRecordPath(sha))
	known := []string{fmt.Sprintf("triage record %s (triaged %s; %s)", rel, rec.Triaged.Format(time.RFC3339), rec.Status)}
	if rec.Bucket != nil {
		known = append(known, "bucket "+rec.Bucket.ID)
	}
	return traceFromRecord(rec.Crash, rec.Frames), known
}
