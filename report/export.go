package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/fuzztriage/triage/crashkind"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"gopkg.in/yaml.v3"
)

// Export is the document `triage export --format json|yaml` writes: every
// bucket as a Bug, and the recorded runs. Field names are stable (see
// ExportSchemaVersion).
type Export struct {
	SchemaVersion int       `json:"schema_version" yaml:"schema_version"`
	Generator     string    `json:"generator" yaml:"generator"`
	Generated     time.Time `json:"generated" yaml:"generated"`
	Workspace     string    `json:"workspace" yaml:"workspace"`
	Store         string    `json:"store" yaml:"store"`
	Buckets       []*Bug    `json:"buckets" yaml:"buckets"`
	Runs          []RunInfo `json:"runs" yaml:"runs"`
}

// RunInfo is one recorded run.
type RunInfo struct {
	Name     string    `json:"name" yaml:"name"`
	Started  time.Time `json:"started" yaml:"started"`
	Finished time.Time `json:"finished" yaml:"finished"`
	WallMS   int64     `json:"wall_ms" yaml:"wall_ms"`
	Found    int       `json:"found" yaml:"found"`
	Triaged  int       `json:"triaged" yaml:"triaged"`
	// NewBuckets and GrownBuckets are the ids the run reported.
	NewBuckets   []string `json:"new_buckets" yaml:"new_buckets"`
	GrownBuckets []string `json:"grown_buckets" yaml:"grown_buckets"`
	Failures     int      `json:"failures" yaml:"failures"`
}

// BuildExport assembles the export of the given bugs.
func BuildExport(snap *Snapshot, bugs []*Bug, now time.Time) *Export {
	e := &Export{
		SchemaVersion: ExportSchemaVersion, Generator: "triage", Generated: now.UTC(),
		Workspace: snap.Root, Store: snap.StoreDir, Buckets: bugs, Runs: []RunInfo{},
	}
	if e.Buckets == nil {
		e.Buckets = []*Bug{}
	}
	for _, r := range snap.Runs {
		ri := RunInfo{Name: r.Name, Started: r.Record.Started, Finished: r.Record.Finished, WallMS: r.Record.WallMS,
			Found: r.Record.Artifacts.Found, Triaged: r.Record.Artifacts.Triaged, Failures: len(r.Record.Failures),
			NewBuckets: []string{}, GrownBuckets: []string{}}
		for _, b := range r.Record.NewBuckets {
			ri.NewBuckets = append(ri.NewBuckets, b.ID)
		}
		for _, b := range r.Record.GrownBuckets {
			ri.GrownBuckets = append(ri.GrownBuckets, b.ID)
		}
		e.Runs = append(e.Runs, ri)
	}
	return e
}

// WriteJSON writes the export as indented JSON.
func (e *Export) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(e)
}

// WriteYAML writes the export as YAML.
func (e *Export) WriteYAML(w io.Writer) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(e); err != nil {
		return err
	}
	return enc.Close()
}

func kindDescription(kind string) string { return crashkind.Of(crashkind.Kind(kind)).Description }

// SARIF fingerprint and base id names (stable).
const (
	// SARIFFingerprint is the partialFingerprints key holding the bucket id.
	SARIFFingerprint = "triageBucket/v1"
	// SARIFSrcRoot is the uriBaseId of workspace-relative paths.
	SARIFSrcRoot = "SRCROOT"
	// SARIFInformationURI names the tool in the SARIF log.
	SARIFInformationURI = "https://github.com/fuzztriage/triage"
)

// baselineStates maps bucket statuses to SARIF result baselineState.
var baselineStates = map[string]string{
	StatusNew:       "new",
	StatusRegressed: "new",
	StatusOpen:      "unchanged",
	StatusFixed:     "absent",
	StatusChanged:   "absent",
}

// SARIF builds a SARIF 2.1.0 log: one run of tool "triage", one rule per
// crash kind, one result per bucket (see the README's "SARIF mapping").
func SARIF(snap *Snapshot, bugs []*Bug) (*sarif.Report, error) {
	rep := sarif.NewReport()
	run := sarif.NewRunWithInformationURI("triage", SARIFInformationURI)
	run.Tool.Driver.WithFullName("triage: crash triage for cargo-fuzz / libFuzzer Rust targets")
	root := snap.Root
	if !strings.HasSuffix(root, string(filepath.Separator)) {
		root += string(filepath.Separator)
	}
	rootURI := (&url.URL{Scheme: "file", Path: filepath.ToSlash(root)}).String()
	run.WithOriginalUriBaseIds(map[string]sarif.ArtifactLocation{SARIFSrcRoot: *sarif.NewArtifactLocation().WithURI(rootURI)})
	for _, b := range bugs {
		run.AddRule(b.Kind).
			WithName(ruleName(b.Kind)).
			WithShortDescription(sarif.NewMultiformatMessageString().WithText(kindDescription(b.Kind))).
			WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(crashkind.Of(crashkind.Kind(b.Kind)).SARIFLevel))
	}
	for _, b := range bugs {
		res := run.CreateResultForRule(b.Kind)
		res.WithKind("fail").WithMessage(sarif.NewTextMessage(sarifMessage(b)))
		level := crashkind.Of(crashkind.Kind(b.Kind)).SARIFLevel
		if b.Status == StatusFixed || b.Status == StatusChanged {
			level = "note"
		}
		res.WithLevel(level)
		if bs, ok := baselineStates[b.Status]; ok {
			res.WithBaselineState(bs)
		}
		res.WithPartialFingerprints(map[string]string{SARIFFingerprint: b.ID})
		if b.MemberCount > 0 {
			res.WithOccurrenceCount(b.MemberCount)
		}
		if loc := sarifLocation(b); loc != nil {
			res.AddLocation(loc)
		}
		if st := sarifStack(b); st != nil {
			res.WithStacks([]*sarif.Stack{st})
		}
		props := sarif.NewPropertyBag()
		props.Add("bucket_id", b.ID)
		props.Add("bucket_key", b.Key)
		props.Add("title", b.Title)
		props.Add("target", b.Target)
		props.Add("crash_kind", b.Kind)
		props.Add("clusterfuzz_crash_type", b.ClusterFuzzCrashType)
		if b.Security {
			props.Add("security-severity", "7.0")
		}
		props.Add("status", b.Status)
		props.Add("member_count", b.MemberCount)
		props.Add("first_seen", b.FirstSeen.UTC().Format(time.RFC3339))
		props.Add("last_seen", b.LastSeen.UTC().Format(time.RFC3339))
		if b.Site != "" {
			props.Add("site", b.Site)
		}
		if b.MessageTemplate != "" {
			props.Add("message_template", b.MessageTemplate)
		}
		if r := b.Reproducibility.Release; r != nil {
			props.Add("release", r.Status)
		}
		if r := b.Reproducibility.Dev; r != nil {
			props.Add("dev", r.Status)
		}
		props.Add("representative", b.Representative.Path)
		if b.Minimized != nil {
			props.Add("minimized", b.Minimized.Path)
		}
		props.AddTag(b.Kind)
		props.AddTag(b.Target)
		res.WithProperties(props)
	}
	rep.AddRun(run)
	return rep, nil
}

func ruleName(kind string) string {
	var b strings.Builder
	up := true
	for _, r := range kind {
		if r == '-' || r == ':' || r == '_' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

// sarifMessage is the title, then the panic message when it says more,
// escaped as SARIF plain text (sarifText).
func sarifMessage(b *Bug) string {
	msg := b.Title
	if b.Message != "" && !strings.Contains(b.Title, b.Message) {
		msg += "\n\n" + b.Message
	}
	return sarifText(msg)
}

// sarifEscaper writes text as a SARIF plain-text message (SARIF 2.1.0
// §3.11.5-3.11.6): "{0}" would be a placeholder and "[text](target)" an
// embedded link, so braces are doubled and brackets (and the backslash
// that escapes them) are backslash-escaped.
var sarifEscaper = strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, "{", "{{", "}", "}}")

func sarifText(s string) string { return sarifEscaper.Replace(s) }

func artifactLocation(file string, inWorkspace bool) *sarif.ArtifactLocation {
	if inWorkspace {
		return sarif.NewArtifactLocation().WithURI(uriPath(file)).WithURIBaseID(SARIFSrcRoot)
	}
	if !filepath.IsAbs(file) {
		// Relative to a directory we could not find: a relative reference
		// (a "file:" URI needs an absolute path).
		return sarif.NewArtifactLocation().WithURI(uriPath(file))
	}
	return sarif.NewArtifactLocation().WithURI((&url.URL{Scheme: "file", Path: filepath.ToSlash(file)}).String())
}

// uriPath escapes a relative path for a URI reference.
func uriPath(p string) string { return (&url.URL{Path: filepath.ToSlash(p)}).String() }

func region(line, col int) *sarif.Region {
	r := sarif.NewRegion().WithStartLine(line)
	if col > 0 {
		r.WithStartColumn(col)
	}
	return r
}

// sarifLocation is the crash location, else the top in-app frame's.
func sarifLocation(b *Bug) *sarif.Location {
	var pl *sarif.PhysicalLocation
	switch {
	case b.Location != nil && b.Location.Line > 0:
		pl = sarif.NewPhysicalLocation().WithArtifactLocation(artifactLocation(b.Location.File, b.Location.InWorkspace)).WithRegion(region(b.Location.Line, b.Location.Column))
	case len(b.Frames) > 0 && b.Frames[0].File != "" && b.Frames[0].Line > 0:
		f := b.Frames[0]
		pl = sarif.NewPhysicalLocation().WithArtifactLocation(artifactLocation(f.File, !filepath.IsAbs(f.File))).WithRegion(region(f.Line, f.Column))
	default:
		return nil
	}
	loc := sarif.NewLocation().WithPhysicalLocation(pl)
	if b.Site != "" {
		loc.AddLogicalLocation(sarif.NewLogicalLocation().WithFullyQualifiedName(b.Site).WithKind("function"))
	}
	return loc
}

// sarifStack is the in-app frames as a SARIF stack.
func sarifStack(b *Bug) *sarif.Stack {
	if len(b.Frames) == 0 {
		return nil
	}
	st := sarif.NewStack().WithMessage(sarif.NewTextMessage("in-app frames of the representative's crash, innermost first"))
	for _, f := range b.Frames {
		loc := sarif.NewLocation().AddLogicalLocation(sarif.NewLogicalLocation().WithFullyQualifiedName(f.Function).WithKind("function"))
		if f.File != "" && f.Line > 0 {
			loc.WithPhysicalLocation(sarif.NewPhysicalLocation().WithArtifactLocation(artifactLocation(f.File, !filepath.IsAbs(f.File))).WithRegion(region(f.Line, f.Column)))
		}
		if f.Repeat > 1 {
			loc.WithMessage(sarif.NewTextMessage(fmt.Sprintf("%d identical frames: recursion", f.Repeat)))
		}
		st.AddFrame(sarif.NewStackFrame().WithLocation(loc))
	}
	return st
}

// WriteSARIF writes the SARIF log as indented JSON.
func WriteSARIF(w io.Writer, rep *sarif.Report) error {
	var buf bytes.Buffer
	if err := rep.PrettyWrite(&buf); err != nil {
		return fmt.Errorf("sarif: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
