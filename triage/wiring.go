package triage

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/fuzztriage/triage/dedupe"
	"github.com/fuzztriage/triage/dwarfsym"
	"github.com/fuzztriage/triage/lldbscript"
	"github.com/fuzztriage/triage/regbits"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
)

// DefaultStages wires the real stages: symbolize.Parse, DWARF
// symbolization of the frames, dedupe's bucket key, and lldbscript's batch
// session.
func DefaultStages() Stages {
	return Stages{Parse: symbolize.Parse, Symbolize: SymbolizeFrames, Bucket: DedupeBucket, LLDB: LLDBSession}
}

// symbolizer caches each binary's DWARF index for the process.
var symbolizer = sync.OnceValue(dwarfsym.NewSymbolizer)

// SymbolizeFrames completes a trace from the binary's DWARF
// (dwarfsym.Symbolizer.SymbolizeTrace).
func SymbolizeFrames(tr *symbolize.Trace, binary string) error {
	_, err := symbolizer().SymbolizeTrace(tr, binary)
	return err
}

// DedupeBucket keys a trace with dedupe.KeyFor. Frames matching the
// configured ignore_frames count as machinery (keys skip them).
func DedupeBucket(tr *symbolize.Trace, req BucketRequest) (store.BucketRef, error) {
	// With the binary, dedupe maps the panic location to its function
	// through the debug info (dedupe.ResolverFor).
	opt := dedupe.Options{Target: req.Target, Binary: req.Binary}
	if bc := req.Config; bc != nil {
		opt.Frames = bc.Frames
		opt.Crates = bc.crates
		if len(bc.IgnoreFrames) > 0 {
			res, err := ignoreRegexps(bc.IgnoreFrames)
			if err != nil {
				return store.BucketRef{}, err
			}
			tr = withIgnoredFrames(tr, res)
		}
	}
	k := dedupe.KeyFor(tr, opt)
	return store.BucketRef{ID: string(k.ID()), Key: k.String()}, nil
}

var (
	ignoreMu    sync.Mutex
	ignoreCache = map[string][]*regexp.Regexp{}
)

func ignoreRegexps(list []string) ([]*regexp.Regexp, error) {
	key := strings.Join(list, "\x00")
	ignoreMu.Lock()
	defer ignoreMu.Unlock()
	if res, ok := ignoreCache[key]; ok {
		return res, nil
	}
	var res []*regexp.Regexp
	for _, s := range list {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("bucket.ignore_frames %q: %w", s, err)
		}
		res = append(res, re)
	}
	ignoreCache[key] = res
	return res, nil
}

// withIgnoredFrames returns a copy of tr whose frames matching an ignore
// rule are re-tagged as harness code.
func withIgnoredFrames(tr *symbolize.Trace, res []*regexp.Regexp) *symbolize.Trace {
	c := *tr
	c.Frames = append([]symbolize.Frame(nil), tr.Frames...)
	for i := range c.Frames {
		f := &c.Frames[i]
		for _, re := range res {
			if re.MatchString(f.Function) || (f.Normalized != "" && re.MatchString(f.Normalized)) {
				f.Category = symbolize.CategoryHarness
				break
			}
		}
	}
	return &c
}

// LLDBSession prepares the session (PrepareSession), runs it and turns its
// parsed transcript into findings: the stop, the in-app frames of the
// backtrace and the variables of the inspected frames.
func LLDBSession(ctx context.Context, req SessionRequest) (*store.LLDBFindings, error) {
	f := &store.LLDBFindings{}
	sess, err := PrepareSession(ctx, req)
	if err != nil {
		f.Error = err.Error()
		return f, nil
	}
	plan, res, err := sess.Run(ctx)
	var regs regbits.Table
	if req.Workspace != nil {
		regs = req.Workspace.Registers()
	}
	f = sessionFindings(plan, res, sess.Spec.Binary, regs)
	if err != nil && f.Error == "" {
		f.Error = err.Error()
	}
	return f, nil
}

// sessionFindings are what a bucket record keeps of a session that ran:
// its files (paths as written), its stop, frames and values, why it fell
// short, and for a session that ran on to the program's end (Spec.Finish)
// that exit, the build's verdict.
func sessionFindings(plan *lldbscript.Plan, res *lldbscript.Result, binary string, regs regbits.Table) *store.LLDBFindings {
	f := &store.LLDBFindings{}
	if plan != nil {
		f.CommandFile = plan.ScriptPath
		f.InputFile = plan.InputName
	}
	if res == nil {
		return f
	}
	f.Transcript = res.TranscriptPath
	if !res.OK() {
		f.Error = string(res.Status)
		if res.Message != "" {
			f.Error += ": " + res.Message
		}
	}
	if s := res.Session; s != nil {
		if plan != nil && plan.Spec.Finish && s.Ended != nil && !s.Ended.Lost() {
			code := s.Ended.Status
			f.Exit = &code
			f.Log = res.InferiorStderr
		}
		fillFindings(f, s, binary, regs)
	}
	return f
}

// Findings are the findings of a parsed session (what a record keeps):
// how `triage lldb` shows the same values a bucket's record holds.
func Findings(s *lldbscript.Session, binary string, regs regbits.Table) *store.LLDBFindings {
	f := &store.LLDBFindings{}
	fillFindings(f, s, binary, regs)
	return f
}

// fillFindings copies the stop, the in-app backtrace frames and the
// inspected frames' variables out of a parsed session. Values are rendered
// by their DWARF types from binary (enums as their active variant,
// registers with their bits named from regs), as `triage debug` shows them.
func fillFindings(f *store.LLDBFindings, s *lldbscript.Session, binary string, regs regbits.Table) {
	types, _ := lldbscript.LoadTypes(binary) // none: values are shown as lldb printed them
	if st := s.Stop; st != nil {
		f.StopKind = st.Kind()
		f.Stop = st.Reason
		if st.Frame != nil && st.Frame.Function != "" {
			f.Stop += " in " + st.Frame.Function
		}
	}
	frames := make([]symbolize.Frame, len(s.Backtrace))
	for i, fr := range s.Backtrace {
		frames[i] = symbolize.Frame{Index: fr.Index, Function: fr.Function, Normalized: symbolize.Normalize(fr.Function), File: fr.File, Line: fr.Line, Inlined: fr.Inlined}
	}
	symbolize.DefaultRules().TagFrames(frames)
	for _, fr := range frames {
		if fr.Category.InApp() {
			f.Frames = append(f.Frames, store.LLDBFrame{Index: fr.Index, Function: fr.Normalized, File: fr.File, Line: fr.Line})
		}
	}
	for _, fv := range s.Frames {
		if fv.Frame == nil {
			continue
		}
		for _, v := range fv.Variables {
			if len(f.Variables) >= maxFindingVariables {
				return
			}
			var t *lldbscript.Type
			if types != nil && v.Type != "" {
				t, _ = types.Type(v.Type)
			}
			f.Variables = append(f.Variables, store.LLDBVariable{Frame: fv.Frame.Index, Function: symbolize.Normalize(fv.Frame.Function), Name: v.Name, Type: v.Type, Value: capLength(lldbscript.Render(t, v, 2, regs), maxValueLen)})
		}
	}
}

// maxFindingVariables caps the variables a record keeps (the transcript
// has them all).
const maxFindingVariables = 40

// maxValueLen caps a value's rendering in a record.
const maxValueLen = 240

// capLength cuts s to at most max bytes (on a rune boundary) and marks
// the cut.
func capLength(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
