package report

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/fuzztriage/triage/crashkind"

	"github.com/fuzztriage/triage/dedupe"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
)

// ExportSchemaVersion versions the Bug document (and the exports built
// from it). New fields may appear without a change; a field renamed,
// removed or changing meaning bumps it.
const ExportSchemaVersion = 1

// HexDumpLimit is the largest input whose bytes a report shows.
const HexDumpLimit = 512

// Bug is one bucket as a bug tracker sees it: everything `triage report`
// renders and `triage export` writes. The json/yaml field names are the
// stable interface for bug-filing pipelines (see the README's "Export
// fields"); paths are relative to the workspace root when the file is in
// the workspace, absolute otherwise.
type Bug struct {
	// ID is the bucket id ("v1-..."): stable across runs and rebuilds.
	ID string `json:"id" yaml:"id"`
	// Key is the readable bucket key the id hashes.
	Key string `json:"key" yaml:"key"`
	// Title is "<crash kind> in <panic-site function>: <message template>".
	Title  string `json:"title" yaml:"title"`
	Target string `json:"target" yaml:"target"`
	// Targets are every fuzz target that reached the bug, with members.
	Targets []store.TargetCount `json:"targets,omitempty" yaml:"targets,omitempty"`
	// Kind is the crash kind (a row of package crashkind's table); Class
	// its family, Security whether it is usually exploitable, and
	// ClusterFuzzCrashType ClusterFuzz's crash_type for it, to join a
	// ClusterFuzz history.
	Kind                 string `json:"kind" yaml:"kind"`
	Class                string `json:"class" yaml:"class"`
	Security             bool   `json:"security" yaml:"security"`
	ClusterFuzzCrashType string `json:"clusterfuzz_crash_type" yaml:"clusterfuzz_crash_type"`
	// Site is the panic-site function (or the top in-app frame).
	Site string `json:"site,omitempty" yaml:"site,omitempty"`
	// MessageTemplate is the message with its input-dependent parts
	// replaced by placeholders (what the bucket key holds); Message is the
	// representative's message as printed.
	MessageTemplate string `json:"message_template,omitempty" yaml:"message_template,omitempty"`
	Message         string `json:"message,omitempty" yaml:"message,omitempty"`
	// Summary is the crash report's one-line summary; Signal the fatal signal.
	Summary string `json:"summary,omitempty" yaml:"summary,omitempty"`
	Signal  string `json:"signal,omitempty" yaml:"signal,omitempty"`
	// Location is where the crash happened (the panic location).
	Location *Location `json:"location,omitempty" yaml:"location,omitempty"`

	FirstSeen time.Time `json:"first_seen" yaml:"first_seen"`
	LastSeen  time.Time `json:"last_seen" yaml:"last_seen"`
	// MemberCount and Members are every input in the bucket, smallest first.
	MemberCount int     `json:"member_count" yaml:"member_count"`
	Members     []Input `json:"members" yaml:"members"`
	// Status is the bucket's state across nights: new (never diffed),
	// open, fixed, changed (its inputs now crash in another bucket) or
	// regressed (came back after being fixed). See State.
	Status string `json:"status" yaml:"status"`
	// ChangedTo are the buckets a changed bucket's inputs now land in.
	ChangedTo []string `json:"changed_to,omitempty" yaml:"changed_to,omitempty"`
	// Reported is when `triage report` last recorded a report of it.
	Reported *time.Time `json:"reported,omitempty" yaml:"reported,omitempty"`

	Reproducibility Reproducibility `json:"reproducibility" yaml:"reproducibility"`
	// Frames are the representative's in-app frames (code under test and
	// fuzz target), innermost first, with their source lines.
	Frames []Frame `json:"frames" yaml:"frames"`
	// LLDB are the lldb sessions at the crash, dev build first.
	LLDB []Session `json:"lldb,omitempty" yaml:"lldb,omitempty"`
	// Representative is the smallest member; Minimized its verified
	// minimized form.
	Representative Input  `json:"representative" yaml:"representative"`
	Minimized      *Input `json:"minimized,omitempty" yaml:"minimized,omitempty"`
	// Commands reproduce, minimize and debug the bug by hand.
	Commands Commands `json:"commands" yaml:"commands"`
	// History is what `triage diff` saw happen to the bucket.
	History []Event `json:"history,omitempty" yaml:"history,omitempty"`
	// CrashesPerRun counts the members each recorded run added.
	CrashesPerRun []RunCount `json:"crashes_per_run,omitempty" yaml:"crashes_per_run,omitempty"`
}

// Location is a source location in the workspace.
type Location struct {
	File   string `json:"file" yaml:"file"`
	Line   int    `json:"line" yaml:"line"`
	Column int    `json:"column,omitempty" yaml:"column,omitempty"`
	// InWorkspace says File is relative to the workspace root.
	InWorkspace bool `json:"in_workspace" yaml:"in_workspace"`
	// Context are the source lines around Line, read from the workspace.
	Context []SourceLine `json:"context,omitempty" yaml:"context,omitempty"`
}

// Frame is one in-app stack frame.
type Frame struct {
	Index    int    `json:"index" yaml:"index"`
	Function string `json:"function" yaml:"function"`
	File     string `json:"file,omitempty" yaml:"file,omitempty"`
	Line     int    `json:"line,omitempty" yaml:"line,omitempty"`
	Column   int    `json:"column,omitempty" yaml:"column,omitempty"`
	Category string `json:"category" yaml:"category"`
	Inlined  bool   `json:"inlined,omitempty" yaml:"inlined,omitempty"`
	// Source is the frame's source line, trimmed.
	Source string `json:"source,omitempty" yaml:"source,omitempty"`
	// Repeat, when above 1, says this line stands for that many
	// consecutive identical frames (recursion), Index to LastIndex.
	Repeat    int `json:"repeat,omitempty" yaml:"repeat,omitempty"`
	LastIndex int `json:"last_index,omitempty" yaml:"last_index,omitempty"`
}

// Reproducibility is how reliably the representative crashes per build.
type Reproducibility struct {
	Release *ProfileResult `json:"release,omitempty" yaml:"release,omitempty"`
	Dev     *ProfileResult `json:"dev,omitempty" yaml:"dev,omitempty"`
}

// ProfileResult is one build profile's reproduction of the representative.
type ProfileResult struct {
	// Status: reproducible, flaky or not-reproducible.
	Status  string  `json:"status" yaml:"status"`
	Tries   int     `json:"tries" yaml:"tries"`
	Crashes int     `json:"crashes" yaml:"crashes"`
	Rate    float64 `json:"rate" yaml:"rate"`
	// Flags are the libFuzzer flags it ran with.
	Flags []string `json:"flags,omitempty" yaml:"flags,omitempty"`
}

// Session is one lldb session's findings.
type Session struct {
	Profile   string     `json:"profile" yaml:"profile"`
	Stop      string     `json:"stop,omitempty" yaml:"stop,omitempty"`
	Frames    []Frame    `json:"frames,omitempty" yaml:"frames,omitempty"`
	Variables []Variable `json:"variables,omitempty" yaml:"variables,omitempty"`
	// CommandFile and Transcript are paths (see Bug).
	CommandFile string `json:"command_file,omitempty" yaml:"command_file,omitempty"`
	Transcript  string `json:"transcript,omitempty" yaml:"transcript,omitempty"`
	Error       string `json:"error,omitempty" yaml:"error,omitempty"`
	// InputFile is the input's name in the command file's directory.
	InputFile string `json:"input_file,omitempty" yaml:"input_file,omitempty"`
	// commandFile is the command file's absolute path.
	commandFile string
}

// Variable is one variable lldb read.
type Variable struct {
	Frame int    `json:"frame" yaml:"frame"`
	Name  string `json:"name" yaml:"name"`
	Type  string `json:"type,omitempty" yaml:"type,omitempty"`
	Value string `json:"value" yaml:"value"`
}

// Input is a crash input.
type Input struct {
	SHA1 string `json:"sha1" yaml:"sha1"`
	Path string `json:"path" yaml:"path"`
	Size int64  `json:"size" yaml:"size"`
	// Missing says the file is no longer there.
	Missing bool `json:"missing,omitempty" yaml:"missing,omitempty"`
	// HexDump is the content (hexdump -C style) when at most HexDumpLimit bytes.
	HexDump string `json:"hex_dump,omitempty" yaml:"hex_dump,omitempty"`
	// For a minimized input: the SHA1 and size it was minimized from,
	// whether it was verified to land in the same bucket, and the
	// minimization's rounds, accepted and rejected candidates.
	From     string `json:"from,omitempty" yaml:"from,omitempty"`
	FromSize int64  `json:"from_size,omitempty" yaml:"from_size,omitempty"`
	Verified bool   `json:"verified,omitempty" yaml:"verified,omitempty"`
	Rounds   int    `json:"rounds,omitempty" yaml:"rounds,omitempty"`
	Accepted int    `json:"accepted,omitempty" yaml:"accepted,omitempty"`
	Rejected int    `json:"rejected,omitempty" yaml:"rejected,omitempty"`
}

// RunCount is how many members one run added to a bucket.
type RunCount struct {
	Run     string    `json:"run" yaml:"run"`
	At      time.Time `json:"at" yaml:"at"`
	Crashes int       `json:"crashes" yaml:"crashes"`
	// Members is the bucket's member count after the run.
	Members int `json:"members" yaml:"members"`
}

// Bug builds the bug document of one bucket.
func (s *Snapshot) Bug(b *store.BucketRecord) *Bug {
	bug := &Bug{
		ID:          b.ID,
		Key:         b.Key,
		Target:      b.Target,
		Targets:     b.Targets,
		Kind:        string(b.Kind),
		FirstSeen:   b.FirstSeen,
		LastSeen:    b.LastSeen,
		MemberCount: b.MemberCount,
		Status:      StatusNew,
	}
	rep := s.Artifacts[b.Representative.SHA1]
	if rep != nil && rep.Crash != nil {
		bug.Message = rep.Crash.Message
		bug.Summary = rep.Crash.Summary
		bug.Signal = rep.Crash.Signal
		if bug.Kind == "" {
			bug.Kind = string(rep.Crash.Kind)
		}
	}
	access := ""
	if rep != nil && rep.Crash != nil {
		access = rep.Crash.Access
	}
	kind := crashkind.Of(crashkind.Kind(bug.Kind))
	bug.Class, bug.Security = string(kind.Class), kind.Security
	bug.ClusterFuzzCrashType = crashkind.ClusterFuzzType(crashkind.Kind(bug.Kind), access)
	if bug.Message != "" {
		bug.MessageTemplate = dedupe.MessageTemplate(bug.Message)
	}
	loc := b.Location
	if loc == nil && rep != nil && rep.Crash != nil {
		loc = rep.Crash.Location
	}
	if loc != nil {
		bug.Location = s.location(loc)
	}
	if rep != nil {
		for _, f := range rep.Frames {
			if !f.Category.InApp() {
				continue
			}
			bug.Frames = appendCollapsed(bug.Frames, s.frame(f))
		}
	}
	for _, prof := range []store.Profile{store.Dev, store.Release} {
		if f := b.LLDB[prof]; f != nil {
			bug.LLDB = append(bug.LLDB, s.session(prof, f))
		}
	}
	bug.Site = s.site(bug, rep)
	bug.Title = title(bug)

	for _, m := range b.Members {
		bug.Members = append(bug.Members, s.input(m.SHA1, m.Path, m.Size, false))
	}
	bug.Representative = s.input(b.Representative.SHA1, b.Representative.Path, b.Representative.Size, true)
	if m := b.Minimized; m != nil {
		in := s.input(m.SHA1, filepath.Join(s.StoreDir, m.Path), m.Size, true)
		in.From, in.FromSize, in.Verified = m.From, m.FromSize, m.Verified
		in.Rounds, in.Accepted, in.Rejected = m.Rounds, m.Accepted, m.Rejected
		bug.Minimized = &in
	}
	if rep != nil {
		bug.Reproducibility.Release = profileResult(rep.Reproductions[store.Release])
		bug.Reproducibility.Dev = profileResult(rep.Reproductions[store.Dev])
	}
	if bug.Reproducibility.Release == nil {
		if st, ok := b.Reproducibility[store.Release]; ok {
			bug.Reproducibility.Release = &ProfileResult{Status: string(st)}
		}
	}
	if bug.Reproducibility.Dev == nil {
		if st, ok := b.Reproducibility[store.Dev]; ok {
			bug.Reproducibility.Dev = &ProfileResult{Status: string(st)}
		}
	}
	bug.Commands = s.commands(bug, rep)
	if st := s.State.Buckets[b.ID]; st != nil {
		bug.Status = st.Status
		if st.FirstDiff.IsZero() {
			bug.Status = StatusNew
		}
		bug.ChangedTo = st.ChangedTo
		if st.Reported != nil {
			t := st.Reported.At
			bug.Reported = &t
		}
		bug.History = st.History
	}
	if counts := s.CrashesPerRun()[b.ID]; counts != nil {
		total := 0
		for i, n := range counts {
			total += n
			bug.CrashesPerRun = append(bug.CrashesPerRun, RunCount{Run: s.Runs[i].Name, At: s.Runs[i].Record.Started, Crashes: n, Members: total})
		}
	}
	return bug
}

// Bugs builds every bucket's bug document, most members first, then by id.
func (s *Snapshot) Bugs() []*Bug {
	var out []*Bug
	for _, id := range s.IDs() {
		out = append(out, s.Bug(s.Buckets[id]))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].MemberCount > out[j].MemberCount })
	return out
}

func (s *Snapshot) location(l *symbolize.Location) *Location {
	rel, abs := s.sources.resolve(l.File)
	out := &Location{File: l.File, Line: l.Line, Column: l.Column}
	if rel != "" {
		out.File, out.InWorkspace = rel, true
	}
	if abs != "" {
		out.Context = s.sources.context(abs, l.Line, 3)
	}
	return out
}

func (s *Snapshot) frame(f symbolize.Frame) Frame {
	out := Frame{Index: f.Index, Function: f.Function, File: f.File, Line: f.Line, Column: f.Column, Category: string(f.Category), Inlined: f.Inlined}
	if out.Function == "" {
		out.Function = f.Raw
	}
	if rel, abs := s.sources.resolve(f.File); abs != "" {
		if rel != "" {
			out.File = rel
		}
		out.Source = strings.TrimSpace(s.sources.line(abs, f.Line))
	}
	return out
}

// appendCollapsed appends fm to frames, folding it into the last frame
// when both are the same call site. A recursion fills a trace with one
// call site, and how many of them fit depends on the stack size and on
// where the overflow struck: one line says it, with the count, instead
// of hundreds.
func appendCollapsed(frames []Frame, fm Frame) []Frame {
	if n := len(frames); n > 0 {
		last := &frames[n-1]
		if last.Function == fm.Function && last.File == fm.File && last.Line == fm.Line {
			last.Repeat = max(last.Repeat, 1) + 1
			last.LastIndex = fm.Index
			return frames
		}
	}
	return append(frames, fm)
}

func (s *Snapshot) session(prof store.Profile, f *store.LLDBFindings) Session {
	out := Session{Profile: string(prof), Stop: f.Stop, Error: f.Error}
	for _, fr := range f.Frames {
		fm := Frame{Index: fr.Index, Function: fr.Function, File: fr.File, Line: fr.Line, Category: "lldb"}
		if rel, abs := s.sources.resolve(fr.File); abs != "" {
			if rel != "" {
				fm.File = rel
			}
			fm.Source = strings.TrimSpace(s.sources.line(abs, fr.Line))
		}
		out.Frames = appendCollapsed(out.Frames, fm)
	}
	for _, v := range f.Variables {
		out.Variables = append(out.Variables, Variable{Frame: v.Frame, Name: v.Name, Type: v.Type, Value: v.Value})
	}
	if f.CommandFile != "" {
		out.commandFile = s.storePath(f.CommandFile)
		out.CommandFile = s.displayPath(out.commandFile)
		out.InputFile = f.InputFile
	}
	if f.Transcript != "" {
		out.Transcript = s.displayPath(s.storePath(f.Transcript))
	}
	return out
}

func (s *Snapshot) storePath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.StoreDir, p)
}

// displayPath is p relative to the workspace root when it is inside it.
func (s *Snapshot) displayPath(p string) string {
	if !filepath.IsAbs(p) {
		return filepath.ToSlash(p)
	}
	if r, err := filepath.Rel(s.Root, p); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return p
}

// absPath is a record's path (relative to the workspace root) made absolute.
func (s *Snapshot) absPath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Root, p)
}

func (s *Snapshot) input(sha, path string, size int64, dump bool) Input {
	abs := s.absPath(path)
	in := Input{SHA1: sha, Path: s.displayPath(abs), Size: size}
	data, err := readSmall(abs, HexDumpLimit)
	switch {
	case err != nil:
		in.Missing = true
	case dump && data != nil:
		in.HexDump = HexDump(data)
	}
	return in
}

// readSmall reads a file of at most limit bytes; a larger file gives nil
// data and no error.
func readSmall(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, nil
	}
	return os.ReadFile(path)
}

func profileResult(r *store.Reproduction) *ProfileResult {
	if r == nil {
		return nil
	}
	return &ProfileResult{Status: string(r.Status), Tries: r.Tries, Crashes: r.Crashes, Rate: r.Rate, Flags: r.Flags}
}

// site names the function that crashed: the in-app frame at the crash
// location, else the top in-app frame, else the top lldb frame. Release
// builds name functions by their short DWARF names; when an lldb session
// (usually the dev build's) shows the same function with its full path,
// the full path is used.
func (s *Snapshot) site(bug *Bug, rep *store.ArtifactRecord) string {
	var name, file string
	pick := func(frames []Frame) bool {
		if bug.Location != nil {
			for _, f := range frames {
				if f.Line == bug.Location.Line && sameFile(f.File, bug.Location.File) {
					name, file = f.Function, f.File
					return true
				}
			}
		}
		return false
	}
	if !pick(bug.Frames) {
		for _, ss := range bug.LLDB {
			if pick(ss.Frames) {
				break
			}
		}
	}
	if name == "" && len(bug.Frames) > 0 {
		name, file = bug.Frames[0].Function, bug.Frames[0].File
	}
	if name == "" {
		for _, ss := range bug.LLDB {
			for _, f := range ss.Frames {
				if inAppFile(f.File) {
					name, file = f.Function, f.File
					break
				}
			}
			if name != "" {
				break
			}
		}
	}
	if name == "" {
		return ""
	}
	if !strings.Contains(name, "::") {
		short := symbolize.ShortName(name)
		for _, ss := range bug.LLDB {
			for _, f := range ss.Frames {
				if strings.Contains(f.Function, "::") && symbolize.ShortName(f.Function) == short && (file == "" || sameFile(f.File, file)) {
					return cleanFunction(f.Function)
				}
			}
		}
	}
	return cleanFunction(name)
}

// cleanFunction drops a trailing parameter list (lldb prints one for C
// functions).
func cleanFunction(name string) string {
	if i := strings.Index(name, "("); i > 0 && strings.HasSuffix(name, ")") && !strings.Contains(name[:i], "{") {
		name = name[:i]
	}
	return strings.TrimSpace(name)
}

func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	a, b = filepath.ToSlash(a), filepath.ToSlash(b)
	return a == b || strings.HasSuffix(a, "/"+b) || strings.HasSuffix(b, "/"+a) || dedupe.ShortFile(a) == dedupe.ShortFile(b)
}

// inAppFile says a file is not the toolchain's or a registry crate's.
func inAppFile(f string) bool {
	return f != "" && !strings.HasPrefix(f, "/rustc/") && !strings.Contains(f, "/.cargo/registry/") && !strings.Contains(f, "/lib/rustlib/")
}

// title is the bucket's title: dedupe.Key.Title of its key, the one
// title function every view uses.
func title(b *Bug) string {
	if k, err := dedupe.ParseKey(b.Key); err == nil {
		return k.Title()
	}
	return fmt.Sprintf("%s in %s", b.Kind, b.Target)
}
