package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

var quick = []string{"--no-build", "--no-lldb", "--no-dev", "--minimize", "off", "--progress", "never", "--target", "fuzz_chipset_cmos_rtc"}

func TestRunExitCodesAndSummary(t *testing.T) {
	ws := fixture.BuiltCopy(t)
	args := append(append([]string{"run"}, quick...), ws)
	code, out, errs := runCLI(t, args...)
	if code != 1 {
		t.Fatalf("first run: exit %d, want 1 (new buckets)\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"triaged 12 new inputs of 12 found", "new buckets: 3", "Rust panic in write_register: attempt to divide by zero", "failures: 0", "store: " + filepath.Join(ws, ".triage")} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "progress") && !strings.Contains(errs, "artifacts") {
		t.Errorf("no log lines on stderr:\n%s", errs)
	}

	code, out, _ = runCLI(t, append(append([]string{"run", "--format", "json"}, quick...), ws)...)
	if code != 0 {
		t.Fatalf("second run: exit %d, want 0 (nothing new)\n%s", code, out)
	}
	var rec struct {
		Artifacts struct {
			Skipped int `json:"skipped"`
			Triaged int `json:"triaged"`
		} `json:"artifacts"`
		UnseenBuckets []string `json:"unseen_buckets"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("json summary: %v\n%s", err, out)
	}
	if rec.Artifacts.Skipped != 12 || rec.Artifacts.Triaged != 0 || len(rec.UnseenBuckets) != 3 {
		t.Errorf("second run record: %+v", rec)
	}

	// A failure (lldb absent) is exit 3.
	os.WriteFile(filepath.Join(ws, "triage.yaml"), []byte("lldb:\n  binary: lldb-absent-for-this-test\n"), 0o644)
	addInput(t, ws, "fuzz_chipset_cmos_rtc", []byte{0xc0, 0xf0, 0xf5, 0xaf, 0xf5, 0xaf, 0x4a, 0x0d, 3, 3})
	code, out, _ = runCLI(t, "run", "--no-build", "--no-dev", "--minimize", "off", "--progress", "never", "--target", "fuzz_chipset_cmos_rtc", ws)
	if code != 3 || !strings.Contains(out, "[lldb-release]") {
		t.Errorf("lldb absent: exit %d, want 3 with the failure listed\n%s", code, out)
	}
}

func addInput(t *testing.T, ws, target string, data []byte) string {
	t.Helper()
	p := fixture.ArtifactPath(ws, target, "crash-"+sha1hex(data))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sha1hex(data []byte) string {
	f, _ := os.CreateTemp("", "sha")
	f.Write(data)
	f.Close()
	defer os.Remove(f.Name())
	s, _, _ := store.FileSHA1(f.Name())
	return s
}

func TestRunUsageErrors(t *testing.T) {
	ws := fixture.CopyWorkspace(t)
	os.WriteFile(filepath.Join(ws, "triage.yaml"), []byte("reproduce:\n  triess: 3\n"), 0o644)
	code, _, errs := runCLI(t, "run", "--no-build", ws)
	if code != 2 || !strings.Contains(errs, "triess") || !strings.Contains(errs, "triage.yaml") {
		t.Errorf("bad triage.yaml: exit %d\n%s", code, errs)
	}
	os.Remove(filepath.Join(ws, "triage.yaml"))
	for _, args := range [][]string{
		{"run", "--minimize", "some", ws},
		{"run", "--target", "fuzz_nope", ws},
		{"run", filepath.Join(ws, "nope")},
		{"run", "-j", "-1", ws},
		{"repro", "--workspace", ws, "fuzz_ide"},
		{"repro", "--workspace", ws, "fuzz_ide", filepath.Join(ws, "nope")},
		{"repro", "--workspace", ws, "fuzz_nope", filepath.Join(ws, "bugs.yaml")},
		{"minimize", "--workspace", ws, "fuzz_ide"},
	} {
		if code, _, errs := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, errs)
		}
	}
}

func TestRunLockedStoreExit3(t *testing.T) {
	ws := fixture.BuiltCopy(t)
	s, err := store.Open(filepath.Join(ws, ".triage"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Lock(); err != nil {
		t.Fatal(err)
	}
	defer s.Unlock()
	code, _, errs := runCLI(t, append(append([]string{"run"}, quick...), ws)...)
	if code != 3 || !strings.Contains(errs, "locked") {
		t.Errorf("locked store: exit %d\n%s", code, errs)
	}
}

func TestReproAndMinimizeCommands(t *testing.T) {
	ws := fixture.BuiltCopy(t)
	art := fixture.ArtifactPath(ws, "fuzz_chipset_battery", "crash-41e94325cee16a870f587a2c1afb4e878fd2f8bc")
	code, out, errs := runCLI(t, "repro", "--no-build", "--dev", "--workspace", ws, "fuzz_chipset_battery", art)
	if code != 0 {
		t.Fatalf("repro: exit %d\n%s\n%s", code, out, errs)
	}
	id := regexp.MustCompile(`bucket  (v1-[0-9a-f]+)`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, "release reproducible") || !strings.Contains(out, "dev     reproducible") ||
		!strings.Contains(out, "known   no") || !strings.Contains(out, "called `Option::unwrap()` on a `None` value") {
		t.Fatalf("repro output:\n%s", out)
	}
	if code, _, _ := runCLI(t, "repro", "--no-build", "--workspace", ws, "--bucket", id[1], "fuzz_chipset_battery", art); code != 0 {
		t.Errorf("--bucket %s: exit %d, want 0", id[1], code)
	}
	if code, out, _ := runCLI(t, "repro", "--no-build", "--workspace", ws, "--bucket", "v1-000000000000", "fuzz_chipset_battery", art); code != 1 || !strings.Contains(out, "not in bucket") {
		t.Errorf("--bucket other: exit %d, want 1\n%s", code, out)
	}
	clean := filepath.Join(t.TempDir(), "clean")
	os.WriteFile(clean, nil, 0o644)
	if code, out, _ := runCLI(t, "repro", "--no-build", "--workspace", ws, "fuzz_chipset_battery", clean); code != 1 || !strings.Contains(out, "not-reproducible") {
		t.Errorf("clean input: exit %d, want 1\n%s", code, out)
	}

	out2 := filepath.Join(t.TempDir(), "small")
	code, out, errs = runCLI(t, "minimize", "--no-build", "--workspace", ws, "-o", out2, "fuzz_chipset_battery", art)
	if code != 0 || !strings.Contains(out, "minimized ") {
		t.Fatalf("minimize: exit %d\n%s\n%s", code, out, errs)
	}
	small, err := os.ReadFile(out2)
	orig, _ := os.ReadFile(art)
	if err != nil || len(small) > len(orig) {
		t.Fatalf("minimized file: %v (%d bytes from %d)", err, len(small), len(orig))
	}
	code, out, _ = runCLI(t, "repro", "--no-build", "--workspace", ws, "--bucket", id[1], "--format", "yaml", "fuzz_chipset_battery", out2)
	if code != 0 {
		t.Errorf("the minimized input is not in bucket %s: exit %d\n%s", id[1], code, out)
	}
	if code, _, _ := runCLI(t, "minimize", "--no-build", "--workspace", ws, "fuzz_chipset_battery", clean); code != 1 {
		t.Errorf("minimizing a clean input: exit %d, want 1", code)
	}
}

func TestWatchCommandStopsOnCancel(t *testing.T) {
	ws := fixture.BuiltCopy(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"watch", "--log-format", "json", "--no-build", "--no-lldb", "--no-dev", "--minimize", "off", "--target", "fuzz_chipset_cmos_rtc", ws}, strings.NewReader(""), &out, &syncWriter{w: &errb})
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(safeString(&errb), `"msg":"pass finished"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no pass within 60s:\n%s", safeString(&errb))
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("watch exit %d on cancel\n%s", code, safeString(&errb))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop")
	}
	logs := safeString(&errb)
	for _, want := range []string{`"msg":"watch started"`, `"mode":"inotify"`, `"new_buckets":3`, `"msg":"watch stopping"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

var logMu = make(chan struct{}, 1)

type syncWriter struct{ w *bytes.Buffer }

func (s *syncWriter) Write(p []byte) (int, error) {
	logMu <- struct{}{}
	defer func() { <-logMu }()
	return s.w.Write(p)
}

func safeString(b *bytes.Buffer) string {
	logMu <- struct{}{}
	defer func() { <-logMu }()
	return b.String()
}

// TestProgressBars: on a terminal each phase (a campaign's target) has a
// live bar with its counts and label, and log lines go above the bars
// intact; elsewhere progress is log lines.
func TestProgressBars(t *testing.T) {
	var out bytes.Buffer
	bars := newLiveBars(&out)
	up := pipelineBars{bars}.Update
	up(triage.Progress{Phase: "reproduce", Done: 0, Total: 4})
	up(triage.Progress{Phase: "reproduce", Done: 4, Total: 4, Item: "crash-abc"})
	up(triage.Progress{Phase: "buckets", Done: 1, Total: 2, Item: "v1-0123456789ab"})
	if _, err := bars.Write([]byte("a log line\n")); err != nil {
		t.Fatal(err)
	}
	bars.Done()
	s := out.String()
	for _, want := range []string{"reproduce", "4/4", "crash-abc", "buckets", "1/2", "v1-0123456789ab", "a log line\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("bar output lacks %q: %q", want, s)
		}
	}
	if isTerminal(&out) {
		t.Error("a buffer is not a terminal")
	}
}
