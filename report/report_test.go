package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/dedupe"
	"github.com/fuzztriage/triage/internal/fixture"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestReportGolden renders the default Markdown report of every bucket of
// the shared store (one per planted bug: every crash kind of the fixture)
// and compares it with testdata/golden/<bug id>.md, times, paths and
// addresses normalized. go test ./report -run TestReportGolden -update
// rewrites them.
func TestReportGolden(t *testing.T) {
	gs := sharedStore(t)
	snap, err := Load(gs.root, gs.store)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Problems) > 0 {
		t.Fatalf("store problems: %v", snap.Problems)
	}
	tm, err := DefaultTemplate()
	if err != nil {
		t.Fatal(err)
	}
	roots := map[string]string{gs.store: "$STORE", gs.root: "$WORKSPACE", fixture.Root(): "$FIXTURE"}
	seen := map[string]bool{}
	for id, bugID := range gs.bugOf {
		b := snap.Buckets[id]
		if b == nil {
			t.Errorf("bug %s: bucket %s not in the store", bugID, id)
			continue
		}
		seen[bugID] = true
		var buf bytes.Buffer
		if err := tm.Render(&buf, snap.Bug(b)); err != nil {
			t.Fatal(err)
		}
		got := normalizeMinimized(normalize(buf.String(), roots), snap.Bug(b))
		if k := gs.manifest.Bug(bugID).Kind; k == "timeout" || k == "oom" || k == "stack-overflow" {
			got = normalizeHang(got)
		}
		if strings.Contains(got, "$variants$") {
			t.Errorf("%s: an enum is shown raw ($variants$), not as its active variant", bugID)
		}
		path := filepath.Join("testdata", "golden", bugID+".md")
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s (%s): report differs from %s (-update rewrites it):\n%s", bugID, id, path, lineDiff(string(want), got))
		}
	}
	if len(seen) != len(gs.manifest.Bugs) {
		t.Errorf("%d bugs have a bucket, want %d", len(seen), len(gs.manifest.Bugs))
	}
}

// TestReportContent checks what every report must say, against bugs.yaml:
// the title form, the panic location and its source line, in-app frames
// with source, the commands, and the input.
func TestReportContent(t *testing.T) {
	gs := sharedStore(t)
	snap, err := Load(gs.root, gs.store)
	if err != nil {
		t.Fatal(err)
	}
	tm, err := DefaultTemplate()
	if err != nil {
		t.Fatal(err)
	}
	for id, bugID := range gs.bugOf {
		bug := gs.manifest.Bug(bugID)
		b := snap.Bug(snap.Buckets[id])
		var buf bytes.Buffer
		if err := tm.Render(&buf, b); err != nil {
			t.Fatal(err)
		}
		text := buf.String()
		short := bug.Function[strings.LastIndex(bug.Function, "::")+2:]
		if k, err := dedupe.ParseKey(b.Key); err != nil || b.Title != k.Title() {
			t.Errorf("%s: title %q is not its key's title (%v)", bugID, b.Title, err)
		}
		if !strings.Contains(b.Title, " in ") {
			t.Errorf("%s: title %q does not say where", bugID, b.Title)
		}
		if bug.Message != "" {
			// Panics: the site function and the message template.
			if !strings.Contains(b.Site, short) {
				t.Errorf("%s: site %q, want the function %s", bugID, b.Site, bug.Function)
			}
			if !strings.HasSuffix(b.Title, ": "+strings.SplitN(b.MessageTemplate, "\n", 2)[0]) {
				t.Errorf("%s: title %q does not end with the message template %q", bugID, b.Title, b.MessageTemplate)
			}
			if b.Location == nil || b.Location.File != bug.File || b.Location.Line != bug.Line {
				t.Errorf("%s: location %+v, want %s:%d", bugID, b.Location, bug.File, bug.Line)
			} else if !strings.Contains(text, "BUG("+bugID+")") {
				t.Errorf("%s: the report does not show the panicking source line", bugID)
			}
			withSource := 0
			for _, f := range b.Frames {
				if f.Source != "" {
					withSource++
				}
			}
			if withSource == 0 {
				t.Errorf("%s: no in-app frame with source: %+v", bugID, b.Frames)
			}
		}
		fuzzDir := fixture.FuzzDirs[bug.Target]
		for _, want := range []string{
			"cargo +nightly fuzz run " + bug.Target + " ",
			"--fuzz-dir " + fuzzDir,
			"cargo +nightly fuzz tmin " + bug.Target + " ",
			"cargo +nightly xtask fuzz run " + bug.Target + " ",
			"cargo +nightly xtask fuzz tmin " + bug.Target + " ",
			"triage repro " + bug.Target + " ",
			"triage minimize " + bug.Target + " ",
			"triage lldb " + bug.Target + " ",
			"triage debug " + bug.Target + " ",
			"| Bucket | `" + id + "` |",
			b.Representative.SHA1,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: report lacks %q", bugID, want)
			}
		}
		if b.Representative.Size <= HexDumpLimit && !strings.Contains(text, "00000000  ") {
			t.Errorf("%s: a %d-byte input has no hex dump", bugID, b.Representative.Size)
		}
		if m := b.Minimized; m != nil && (!m.Verified || m.Size > m.FromSize || m.From != b.Representative.SHA1 || m.Missing) {
			t.Errorf("%s: minimized input %+v is not a verified, no larger form of the representative", bugID, m)
		}
		if len(b.LLDB) == 0 || b.LLDB[0].Profile != "dev" {
			t.Errorf("%s: no dev lldb session first: %+v", bugID, b.LLDB)
		}
	}
}

// normalizeMinimized hides what libFuzzer's minimization found: it stops
// on time budgets, so the result can differ from run to run (what stays
// true of it is checked by TestReportContent).
func normalizeMinimized(s string, b *Bug) string {
	m := b.Minimized
	if m == nil {
		return s
	}
	if m.HexDump != "" {
		s = strings.Replace(s, m.HexDump, "<minimized input's hex dump>\n", 1)
	}
	s = strings.ReplaceAll(s, m.SHA1, "<minimized sha1>")
	return minimizedRE.ReplaceAllString(s, "${1}<N> bytes (from ${2}), sha1 `<minimized sha1>`${3} (<N> rounds, <N> accepted, <N> rejected as other bugs).")
}

var minimizedRE = regexp.MustCompile("(?m)^(Minimized: `[^`]*`, )\\d+ bytes? \\(from (\\d+)\\), sha1 `<minimized sha1>`(; verified to crash in this bucket)? \\(\\d+ rounds?, \\d+ accepted, \\d+ rejected as other bugs\\)\\.")

// normalizeHang blanks what depends on the instant lldb stopped a hang,
// an allocation loop or a stack overflow: the stop, the frame numbers,
// the line of the innermost in-app frame and how many recursion frames
// fit in the backtrace.
func normalizeHang(s string) string {
	s = hangStopRE.ReplaceAllString(s, "Stopped: `<wherever the process was>`")
	s = firstFrameLineRE.ReplaceAllString(s, "${1}<L>`")
	s = frameIndexRE.ReplaceAllString(s, "- #<N> ")
	s = stackLineRE.ReplaceAllString(s, "${1}<L>`")
	s = stopSourceRE.ReplaceAllString(s, "${1}   `<the source line at the stop>`")
	s = varsTableRE.ReplaceAllString(s, "Variables at the stop: <wherever the process was>\n\n")
	// A stop inside an inlined loop body has no variable information: the
	// same hang may show a table or none, by where the alarm caught it.
	s = noVarsRE.ReplaceAllString(s, "Variables at the stop: <wherever the process was>\n")
	// The release session of a hang is the run that reproduced one of its
	// inputs (kept by input) unless the representative was minimized into
	// new bytes, which get a session of their own (kept by bucket).
	s = sessionDirRE.ReplaceAllString(s, "${1}<session dir>/")
	return repeatRE.ReplaceAllString(s, "(<N> identical frames")
}

var (
	hangStopRE       = regexp.MustCompile("Stopped: `[^`]*`")
	firstFrameLineRE = regexp.MustCompile("(Frames:\n\n- #[^\n]* at `[^`\n]*:)\\d+`")
	frameIndexRE     = regexp.MustCompile(`(?m)^- #\d+(–#\d+)? `)
	repeatRE         = regexp.MustCompile(`\(\d+ identical frames`)
	stackLineRE      = regexp.MustCompile("(?m)^(\\d+\\. `[^`\n]*` at `[^`\n]*:)\\d+`")
	stopSourceRE     = regexp.MustCompile("(?m)^(0\\. `[^`\n]*` at `[^`\n]*`[^\n]*\n)   `[^\n]*`$")
	varsTableRE      = regexp.MustCompile("(?s)Variables at the stop[^\n]*:\n\n\\| frame .*?\n\n")
	noVarsRE         = regexp.MustCompile(`No variables were read[^\n]*\.\n`)
	sessionDirRE     = regexp.MustCompile("(`\\.triage/)(?:sessions/[^/`]+/release|buckets/[^/`]+)/")
)

// lineDiff shows the first differing lines.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var out []string
	for i := 0; i < max(len(w), len(g)) && len(out) < 20; i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			out = append(out, "line "+strconv.Itoa(i+1)+":\n  want: "+a+"\n  got:  "+b)
		}
	}
	return strings.Join(out, "\n")
}
