package main

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

// markerLine is the 1-based line of the `// BUG(<id>)` marker in file.
func markerLine(t *testing.T, file, id string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "BUG("+id+")") {
			return i + 1
		}
	}
	t.Fatalf("%s: no BUG(%s) marker", file, id)
	return 0
}

// unmarkdown undoes the report's Markdown escapes (backslashes before
// punctuation, HTML entities) so a rendered title compares with the record's.
func unmarkdown(s string) string {
	return html.UnescapeString(regexp.MustCompile(`\\([[:punct:]])`).ReplaceAllString(s, "$1"))
}

// TestRecordsAgreeAfterCodeMoves runs the nightly twice on a private copy
// of the hostile fixture with its own build, the second time after code
// was inserted above the bug and a new input for the same bug arrived. The
// bucket keeps its id; bucket.yaml, the Markdown report, the SARIF result
// and the HTML page give one title, and all of them show the line of the
// latest reproduction (the moved panic), not the first member's.
func TestRecordsAgreeAfterCodeMoves(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a fuzz target twice")
	}
	ws := filepath.Join(t.TempDir(), "agree")
	if err := fixture.CopySources(fixture.HostileRoot(), ws); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(ws, "src", "lib.rs")
	run := func() {
		t.Helper()
		code, _, errs := runCLI(t, "run", "--no-dev", "--no-lldb", "--minimize", "off", "--tries", "1", "--progress", "never", ws)
		if code != 0 && code != 1 {
			t.Fatalf("triage run: exit %d\n%s", code, errs)
		}
	}
	var addTo func(target string, data []byte)
	add := func(data []byte) { addTo("fuzz_echo", data) }
	addTo = func(target string, data []byte) {
		t.Helper()
		dir := filepath.Join(ws, "fuzz", "artifacts", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "crash-"+sha1hex(data)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	add([]byte{'I', 9})
	// The same bug through the crate's second harness (framed input).
	addTo("fuzz_echo_framed", []byte{2, 'I', 7})
	run()
	firstLine := markerLine(t, lib, "echo-index")

	src, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	moved := strings.Replace(string(src), "\nuse std::io::Write;\n", "\nuse std::io::Write;\n\n// Two lines inserted above every function.\n", 1)
	if moved == string(src) {
		t.Fatal("src/lib.rs: no `use std::io::Write;` line to insert after")
	}
	if err := os.WriteFile(lib, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	line := markerLine(t, lib, "echo-index")
	if line != firstLine+2 {
		t.Fatalf("marker moved from %d to %d, want +2", firstLine, line)
	}
	add([]byte{'I', 200})
	run()

	st, err := store.OpenExisting(filepath.Join(ws, ".triage"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	buckets, bad, err := st.LoadBuckets()
	if err != nil || len(bad) != 0 || len(buckets) != 1 {
		t.Fatalf("buckets: %d (want 1: all inputs are one bug), %v %v", len(buckets), bad, err)
	}
	var b *store.BucketRecord
	for _, r := range buckets {
		b = r
	}
	if b.MemberCount != 3 {
		t.Fatalf("bucket %s: %d members, want 3", b.ID, b.MemberCount)
	}
	if want := []store.TargetCount{{Target: "fuzz_echo", Members: 2}, {Target: "fuzz_echo_framed", Members: 1}}; !reflect.DeepEqual(b.Targets, want) {
		t.Errorf("bucket targets %+v, want %+v", b.Targets, want)
	}
	loc := fmt.Sprintf("src/lib.rs:%d", line)
	if b.Location == nil || !strings.HasSuffix(b.Location.File, "src/lib.rs") || b.Location.Line != line {
		t.Errorf("bucket.yaml location %+v, want %s (the latest reproduction)", b.Location, loc)
	}

	code, md, errs := runCLI(t, "report", "--workspace", ws, b.ID)
	if code != 0 {
		t.Fatalf("report: exit %d %s", code, errs)
	}
	mdTitle, _, _ := strings.Cut(md, "\n")
	if unmarkdown(mdTitle) != "# "+b.Title {
		t.Errorf("report title %q, bucket.yaml title %q", mdTitle, b.Title)
	}
	if !strings.Contains(md, "(reached through 2 targets: `fuzz_echo` 2, `fuzz_echo_framed` 1)") {
		t.Errorf("report does not list both targets:\n%s", md)
	}
	if !strings.Contains(md, "Location: `"+loc) {
		t.Errorf("report does not show location %s:\n%s", loc, md)
	}
	if !regexp.MustCompile(`(?m)^>\s+` + fmt.Sprint(line) + ` \| .*BUG\(echo-index\)`).MatchString(md) {
		t.Errorf("report source excerpt does not show line %d as the marker line:\n%s", line, md)
	}

	code, out, errs := runCLI(t, "export", "--format", "sarif", "--workspace", ws)
	if code != 0 {
		t.Fatalf("export sarif: exit %d %s", code, errs)
	}
	var sarif struct {
		Runs []struct {
			Results []struct {
				Message   struct{ Text string } `json:"message"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) != 1 {
		t.Fatalf("sarif: %v\n%.500s", err, out)
	}
	res := sarif.Runs[0].Results[0]
	if first, _, _ := strings.Cut(res.Message.Text, "\n"); first != b.Title {
		t.Errorf("SARIF message %q, bucket.yaml title %q", first, b.Title)
	}
	if len(res.Locations) == 0 || res.Locations[0].PhysicalLocation.Region.StartLine != line ||
		!strings.HasSuffix(res.Locations[0].PhysicalLocation.ArtifactLocation.URI, "src/lib.rs") {
		t.Errorf("SARIF location %+v, want %s", res.Locations, loc)
	}

	site := t.TempDir()
	if code, _, errs := runCLI(t, "html", "--workspace", ws, site); code != 0 {
		t.Fatalf("html: exit %d %s", code, errs)
	}
	page, err := os.ReadFile(filepath.Join(site, "buckets", b.ID+".html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `<h1 id="title">`+html.EscapeString(b.Title)+`</h1>`) {
		t.Errorf("HTML page title is not %q", b.Title)
	}
	if !strings.Contains(string(page), "<code>src/lib.rs"+fmt.Sprintf(":%d", line)) {
		t.Errorf("HTML page does not show location %s (bucket.yaml: %+v)", loc, b.Location)
	}
	index, err := os.ReadFile(filepath.Join(site, "index.html"))
	if err != nil || !strings.Contains(string(index), ">"+html.EscapeString(b.Title)+"<") {
		t.Errorf("HTML index does not list title %q (%v)", b.Title, err)
	}
}
