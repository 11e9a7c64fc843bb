package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	sarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"gopkg.in/yaml.v3"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/hostile"
	"github.com/fuzztriage/triage/store"
)

// hostileWorkspace is a copy of the hostile-input fixture whose artifact
// directory holds one crash per hostile name (each an index out of bounds
// with its own index, so every file is its own input), the hostile
// contents, and a stray file that is not an artifact.
func hostileWorkspace(t *testing.T) (ws string, names []string) {
	t.Helper()
	ws = fixture.BuiltHostileCopy(t, "hostilews")
	dir := filepath.Join(ws, "fuzz", "artifacts", "fuzz_echo")
	for i, h := range hostile.Names() {
		if _, err := hostile.Write(dir, h.Base, []byte{'I', byte(4 + i)}); err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Base)
	}
	for name, data := range map[string][]byte{
		"crash-message-markdown": append([]byte("P"), hostile.Markdown...),
		"crash-message-ansi-nul": []byte("Pred \x1b[31malert\x1b[0m nul\x00byte \xff\xfe end"),
		"crash-binary-output":    []byte("N\x00\x01\x02\xff\xfe\x1b[2Jbinary"),
		"crash-flood-1g":         []byte("F\x10G"), // 16 x 64 MiB of output before the panic
	} {
		if _, err := hostile.Write(dir, name, data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := hostile.Write(dir, "README.txt", []byte("not an artifact")); err != nil {
		t.Fatal(err)
	}
	cfg := "reproduce:\n  tries: 2\nminimize:\n  rounds: 1\n  timeout: 20s\n"
	if err := os.WriteFile(filepath.Join(ws, "triage.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return ws, names
}

// markdownHeadings are the headings the embedded report template writes.
var markdownHeadings = regexp.MustCompile(`^(## (Crash|Stack \(in-app frames\)|lldb findings \((release|dev) build\)|Input|Reproduce|Minimize|Debug|Members \(\d+\)|History))$`)

// checkMarkdownStructure fails when a line outside code fences is a
// heading the template did not write, or holds raw HTML.
func checkMarkdownStructure(t *testing.T, name, md string) {
	t.Helper()
	fence := ""
	title := 0
	for i, line := range strings.Split(md, "\n") {
		trim := strings.TrimSpace(line)
		if f := fenceOf(trim); f != "" {
			switch {
			case fence == "":
				fence = f
			case trim == fence:
				fence = ""
			}
			continue
		}
		if fence != "" {
			continue
		}
		if strings.HasPrefix(trim, "#") {
			if strings.HasPrefix(trim, "# ") && i == 0 {
				title++
				continue
			}
			if !markdownHeadings.MatchString(trim) {
				t.Errorf("%s: line %d is a heading the template did not write: %q", name, i+1, line)
			}
		}
		if strings.Contains(line, "<script") || strings.Contains(line, "</code") {
			// Inline code spans hold text literally; outside them, HTML
			// must be escaped. The template puts names only in spans.
			if !insideCodeSpans(line, "<") {
				t.Errorf("%s: line %d carries raw HTML: %q", name, i+1, line)
			}
		}
	}
	if fence != "" {
		t.Errorf("%s: a code fence is left open", name)
	}
	if title != 1 {
		t.Errorf("%s: %d title lines", name, title)
	}
}

func fenceOf(l string) string {
	n := 0
	for n < len(l) && l[n] == '`' {
		n++
	}
	if n < 3 {
		return ""
	}
	return l[:n]
}

// insideCodeSpans says every occurrence of s in line is inside a code span
// (CommonMark: a run of N backticks opens a span that only a run of exactly
// N backticks closes).
func insideCodeSpans(line, s string) bool {
	open := 0 // length of the opening run, 0 outside a span
	for i := 0; i < len(line); {
		if line[i] == '`' {
			j := i
			for j < len(line) && line[j] == '`' {
				j++
			}
			switch {
			case open == 0:
				open = j - i
			case open == j-i:
				open = 0
			}
			i = j
			continue
		}
		if open == 0 && strings.HasPrefix(line[i:], s) {
			return false
		}
		i++
	}
	return true
}

// The real pipeline, lldb sessions, reports, exports and HTML over hostile
// artifact names and contents: no command injected, every artifact
// triaged or named with a reason, no output whose structure the input
// changes.
func TestHostileArtifactsEndToEnd(t *testing.T) {
	needLLDB19(t)
	marker := hostile.SetMarker(t, t.TempDir())
	ws, names := hostileWorkspace(t)
	storeDir := filepath.Join(ws, ".triage")

	code, out, errs := runCLI(t, "run", "--no-build", "--progress", "never", ws)
	if code != 1 {
		t.Fatalf("run: exit %d, want 1 (new buckets)\n%s\n%s", code, out, errs)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("an injected command ran during the run")
	}
	for _, want := range []string{
		"failures: 0",
		"ignored 1 files of the artifact directories",
		"the name is not a libFuzzer artifact name",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.ContainsRune(line, '\x1b') || strings.ContainsRune(line, '\r') {
			t.Errorf("summary line carries a control character: %q", line)
		}
	}

	st, err := store.OpenExisting(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	arts, bad, err := st.LoadArtifacts()
	if err != nil || len(bad) > 0 {
		t.Fatalf("records: %v %v", err, bad)
	}
	if len(arts) != len(names)+4 {
		t.Errorf("%d artifact records, want %d (every hostile input triaged)", len(arts), len(names)+4)
	}
	byPath := map[string]*store.ArtifactRecord{}
	for _, a := range arts {
		byPath[filepath.Base(a.Path)] = a
	}
	for _, n := range names {
		a := byPath[n]
		if a == nil || a.Bucket == nil || a.Crash == nil || !strings.HasPrefix(a.Crash.Message, "index out of bounds") {
			t.Errorf("%q: record %+v", n, a)
		}
	}
	flood := byPath["crash-flood-1g"]
	if flood == nil || flood.Crash == nil || flood.Crash.Message != "after 1024 MiB of output" {
		t.Fatalf("flood input: %+v", flood)
	}
	if d := flood.Reproductions[store.Release].Detail; len(d) == 0 || d[0].OutputElided < 1<<30-(8<<20) {
		t.Errorf("flood input: the record does not say the output was elided: %+v", d)
	}
	if m := byPath["crash-message-markdown"]; m == nil || m.Crash == nil || !strings.Contains(m.Crash.Message, "# Injected heading") {
		t.Errorf("markdown message not kept as it is: %+v", m)
	}
	buckets, bad, err := st.LoadBuckets()
	if err != nil || len(bad) > 0 {
		t.Fatalf("bucket records: %v %v", err, bad)
	}
	for id, b := range buckets {
		for p, f := range b.LLDB {
			if f.Error != "" {
				t.Errorf("bucket %s: %s lldb session: %s", id, p, f.Error)
			}
		}
	}

	// Reports: one per bucket, structure intact.
	reports := t.TempDir()
	code, out, errs = runCLI(t, "report", "--workspace", ws, "--all-new", "--out", reports)
	if code != 0 {
		t.Fatalf("report: exit %d\n%s\n%s", code, out, errs)
	}
	files, _ := filepath.Glob(filepath.Join(reports, "*.md"))
	if len(files) != len(buckets) {
		t.Errorf("%d reports for %d buckets", len(files), len(buckets))
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		checkMarkdownStructure(t, filepath.Base(f), string(data))
		// Every command block runs as a shell script without running
		// anything it should not: parse it with sh -n.
		for _, block := range regexp.MustCompile("(?s)(`{3,})sh\n(.*?)\n`{3,}").FindAllStringSubmatch(string(data), -1) {
			cmd := exec.Command("sh", "-n")
			cmd.Stdin = strings.NewReader(block[2])
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s: a command block is not valid shell: %v\n%s\n%s", filepath.Base(f), err, out, block[2])
			}
		}
	}

	// Exports parse in every format; SARIF validates.
	for _, format := range []string{"json", "yaml", "sarif"} {
		code, out, errs := runCLI(t, "export", "--workspace", ws, "--format", format)
		if code != 0 {
			t.Fatalf("export %s: exit %d\n%s", format, code, errs)
		}
		var v any
		switch format {
		case "json":
			err = json.Unmarshal([]byte(out), &v)
		case "yaml":
			err = yaml.Unmarshal([]byte(out), &v)
		case "sarif":
			var doc *sarif.Report
			doc, err = sarif.FromBytes([]byte(out), sarif.WithStrictValidation())
			if err == nil {
				err = doc.Validate()
			}
			if err == nil {
				for _, r := range doc.Runs[0].Results {
					if m := *r.Message.Text; strings.Contains(m, "[click]") || strings.Contains(m, "{0}") {
						t.Errorf("SARIF message keeps an embedded link or placeholder unescaped: %q", m)
					}
				}
			}
		}
		if err != nil {
			t.Errorf("export %s: %v", format, err)
		}
	}

	// HTML: names and messages are text, never markup.
	html := t.TempDir()
	if code, _, errs := runCLI(t, "html", "--workspace", ws, html); code != 0 {
		t.Fatalf("html: exit %d\n%s", code, errs)
	}
	pages, _ := filepath.Glob(filepath.Join(html, "*.html"))
	more, _ := filepath.Glob(filepath.Join(html, "*", "*.html"))
	for _, p := range append(pages, more...) {
		data, _ := os.ReadFile(p)
		for _, bad := range []string{"<script>alert", "\x1b[", "<N>)</script>"} {
			if i := bytes.Index(data, []byte(bad)); i >= 0 {
				t.Errorf("%s carries %q from the input: %q", p, bad, data[max(0, i-80):min(len(data), i+80)])
			}
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("an injected command ran")
	}
}

// `triage lldb` and a scripted `triage debug` on every hostile name: the
// session stops at the panic, nothing the name carries runs, and the saved
// command file and printed rerun line run by hand without running it
// either.
func TestHostileNamesLLDBAndDebug(t *testing.T) {
	needLLDB19(t)
	marker := hostile.SetMarker(t, t.TempDir())
	ws, names := hostileWorkspace(t)
	dir := filepath.Join(ws, "fuzz", "artifacts", "fuzz_echo")
	for _, n := range names {
		art := filepath.Join(dir, n)
		code, out, errs := runCLI(t, "lldb", "--workspace", ws, "--format", "json", "--out", t.TempDir(), "fuzz_echo", art)
		if code != 0 {
			t.Errorf("lldb on %q: exit %d\n%s\n%s", n, code, out, errs)
			continue
		}
		var rep struct {
			Status  string
			HandRun string `json:"hand_run"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Status != "stopped" {
			t.Errorf("lldb on %q: %v %+v", n, err, rep)
		}
		if out, err := exec.Command("sh", "-c", rep.HandRun).CombinedOutput(); err != nil {
			t.Errorf("rerun of %q: %v\n%s", n, err, out)
		}

		saved := filepath.Join(t.TempDir(), "s.lldb")
		code, out, errs = runCLIStdin(t, []byte("bt\nsave "+saved+"\nquit\n"), "debug", "--workspace", ws, "fuzz_echo", art)
		if code != 0 {
			t.Errorf("debug on %q: exit %d\n%s\n%s", n, code, out, errs)
			continue
		}
		script, err := os.ReadFile(saved)
		if err != nil {
			t.Errorf("debug on %q saved nothing: %v", n, err)
			continue
		}
		for _, line := range strings.Split(string(script), "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") && strings.Contains(t, hostile.Marker) {
				panic("the saved command file runs the injected text: " + line)
			}
		}
		if m := regexp.MustCompile(`rerun it by hand:\n  (.*)\n`).FindStringSubmatch(out); m != nil {
			if out, err := exec.Command("sh", "-c", m[1]).CombinedOutput(); err != nil {
				t.Errorf("saved file of %q by hand: %v\n%s", n, err, out)
			}
		} else {
			t.Errorf("debug on %q printed no rerun line:\n%s", n, out)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("%q: an injected command ran", n)
		}
	}
}
