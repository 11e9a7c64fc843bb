package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
)

// reportWorkspace is a copy of the fixture holding three CMOS inputs (two
// index-out-of-bounds, one divide by zero), using the fixture's built
// binaries (symlinked), triaged once with `triage run`.
func reportWorkspace(t *testing.T) string {
	t.Helper()
	root := fixture.Root()
	fixture.Build(t, root)
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	ws := fixture.CopyWorkspace(t)
	for _, rel := range []string{"target", "vm/devices/storage/ide/fuzz/target"} {
		if err := os.Symlink(filepath.Join(root, rel), filepath.Join(ws, rel)); err != nil {
			t.Fatal(err)
		}
	}
	keep := map[string]bool{
		m.Bug("cmos-index-oob").Inputs[0].File: true,
		m.Bug("cmos-index-oob").Inputs[1].File: true,
		m.Bug("cmos-div-zero").Inputs[0].File:  true,
	}
	for target, dir := range fixture.FuzzDirs {
		adir := filepath.Join(ws, dir, "artifacts", target)
		entries, _ := os.ReadDir(adir)
		for _, e := range entries {
			if !keep[e.Name()] {
				if err := os.Remove(filepath.Join(adir, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	code, _, errs := runCLI(t, "run", "--no-build", "--no-lldb", "--no-dev", "--minimize", "off", "--progress", "never", "--tries", "1", ws)
	if code != 1 {
		t.Fatalf("triage run: exit %d (want 1: new buckets): %s", code, errs)
	}
	return ws
}

// TestReportCommands drives report, diff, export and html end to end on a
// store `triage run` made, with their exit codes.
func TestReportCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline")
	}
	ws := reportWorkspace(t)

	// export: the bucket ids, and the SARIF log.
	code, out, errs := runCLI(t, "export", "--format", "json", "--workspace", ws)
	if code != 0 {
		t.Fatalf("export json: exit %d: %s", code, errs)
	}
	var exp struct {
		SchemaVersion int `json:"schema_version"`
		Buckets       []struct {
			ID, Title, Status string
			MemberCount       int `json:"member_count"`
		} `json:"buckets"`
	}
	if err := json.Unmarshal([]byte(out), &exp); err != nil {
		t.Fatal(err)
	}
	if exp.SchemaVersion != 1 || len(exp.Buckets) != 2 || exp.Buckets[0].MemberCount != 2 || exp.Buckets[0].Status != "new" {
		t.Fatalf("export: %+v", exp)
	}
	oob := exp.Buckets[0].ID
	code, out, _ = runCLI(t, "export", "--format", "sarif", "--workspace", ws)
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &sarif) != nil || sarif.Version != "2.1.0" || len(sarif.Runs[0].Results) != 2 {
		t.Fatalf("export sarif: exit %d\n%.400s", code, out)
	}
	sarifFile := filepath.Join(t.TempDir(), "out.sarif")
	if code, _, errs := runCLI(t, "export", "--format", "sarif", "--out", sarifFile, "--status", "fixed", "--workspace", ws); code != 0 {
		t.Fatalf("export --out: exit %d %s", code, errs)
	}
	if data, err := os.ReadFile(sarifFile); err != nil || !strings.Contains(string(data), `"results": []`) {
		t.Errorf("export --status fixed: %v\n%.300s", err, data)
	}

	// report: one bucket by prefix of its hash.
	hash := strings.TrimPrefix(oob, "v1-")[:6]
	code, out, errs = runCLI(t, "report", "--workspace", ws, hash)
	if code != 0 || !strings.HasPrefix(out, "# Rust panic in ") || !strings.Contains(out, "index out of bounds: the len is <N> but the index is <N>") || !strings.Contains(out, "--fuzz-dir vm/devices/chipset/fuzz") {
		t.Fatalf("report %s: exit %d %s\n%s", hash, code, errs, out)
	}
	// A user template.
	tmpl := filepath.Join(t.TempDir(), "t.tmpl")
	os.WriteFile(tmpl, []byte("{{.ID}} {{.MemberCount}}\n"), 0o644)
	if code, out, _ := runCLI(t, "report", "--workspace", ws, "--template", tmpl, oob); code != 0 || out != oob+" 2\n" {
		t.Errorf("report --template: exit %d %q", code, out)
	}

	// --all-new: both, once.
	dir := t.TempDir()
	code, out, errs = runCLI(t, "report", "--workspace", ws, "--all-new", "--out", dir)
	if code != 0 || strings.Count(out, ".md\n") != 2 {
		t.Fatalf("report --all-new: exit %d %s\n%s", code, errs, out)
	}
	if code, out, _ = runCLI(t, "report", "--workspace", ws, "--all-new"); code != 0 || out != "" {
		t.Errorf("second --all-new: exit %d, output %q (want nothing new)", code, out)
	}
	// Reporting a bucket does not make it old for SARIF consumers: until a
	// diff has seen it, it stays "new".
	code, out, _ = runCLI(t, "export", "--format", "sarif", "--workspace", ws)
	if n := strings.Count(out, `"baselineState": "new"`); code != 0 || n != 2 {
		t.Errorf("export after report: exit %d, %d results with baselineState new, want 2\n%.600s", code, n, out)
	}

	// diff: both new (exit 1 for CI), then nothing (exit 0).
	code, out, errs = runCLI(t, "diff", "--workspace", ws, "--no-build", "--tries", "1")
	if code != 1 || !strings.Contains(out, "NEW: 2") || !strings.Contains(out, "recorded: ") {
		t.Fatalf("first diff: exit %d %s\n%s", code, errs, out)
	}
	code, out, errs = runCLI(t, "diff", "--workspace", ws, "--no-build", "--tries", "1", "--format", "json")
	var d struct {
		New     []any `json:"new"`
		NotSeen []any `json:"not_seen"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || len(d.New) != 0 || len(d.NotSeen) != 2 {
		t.Fatalf("second diff: exit %d %s\n%s", code, errs, out)
	}
	if code, _, _ := runCLI(t, "diff", "--workspace", ws, "--no-verify", "--fail-on", "not-seen", "--dry-run"); code != 1 {
		t.Errorf("--fail-on not-seen: exit %d, want 1", code)
	}

	// html.
	site := t.TempDir()
	if code, out, errs := runCLI(t, "html", "--workspace", ws, site); code != 0 || strings.TrimSpace(out) != filepath.Join(site, "index.html") {
		t.Fatalf("html: exit %d %s %s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(site, "buckets", oob+".html")); err != nil {
		t.Error(err)
	}

	// Usage errors exit 2.
	for _, args := range [][]string{
		{"report", "--workspace", ws},
		{"report", "--workspace", ws, "v1-nosuchbucket"},
		{"report", "--workspace", ws, "--all-new", oob},
		{"report", "--workspace", ws, "--no-mark", oob},
		{"report", "--workspace", ws, "--template", "/no/such.tmpl", oob},
		{"report", "--workspace", t.TempDir(), oob},
		{"diff", "--workspace", ws, "--since", "nosuchrun", "--no-verify"},
		{"diff", "--workspace", ws, "--fail-on", "everything"},
		{"diff", "--workspace", ws, "extra"},
		{"export", "--workspace", ws},
		{"export", "--workspace", ws, "--format", "xml"},
		{"export", "--workspace", ws, "--format", "json", "--status", "closed"},
		{"html", "--workspace", ws},
	} {
		if code, _, errs := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errs)
		}
	}
}
