package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fuzztriage/triage/internal/fixture"
)

// runCLI runs the CLI in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestListFixtureText(t *testing.T) {
	root := fixture.Root()
	fixture.Build(t, root)
	fixture.Build(t, root, "--dev")
	code, out, errs := runCLI(t, "list", root)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"5 fuzz targets in",
		"fuzz_ide  (crate ide; vm/devices/storage/ide/fuzz; standalone workspace)",
		"fuzz_chipset_cmos_rtc  (crate chipset; vm/devices/chipset/fuzz; member of the root workspace)",
		"source    vm/devices/storage/ide/fuzz/fuzz_main.rs",
		"release   target/x86_64-unknown-linux-gnu/release/fuzz_wire_decode [built]",
		"dev       vm/devices/storage/ide/fuzz/target/x86_64-unknown-linux-gnu/debug/fuzz_ide [built]",
		"artifacts crash 15, timeout 7, oom 6",
		"options   -rss_limit_mb=512 -timeout=5",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestListFixtureStructured(t *testing.T) {
	root := fixture.Root()
	for _, format := range []string{"json", "yaml"} {
		code, out, errs := runCLI(t, "list", "--format", format, root)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, errs)
		}
		var got []struct {
			Name      string         `json:"name" yaml:"name"`
			Crate     string         `json:"crate" yaml:"crate"`
			Artifacts map[string]int `json:"artifacts" yaml:"artifacts"`
			Binaries  map[string]struct {
				Path  string `json:"path" yaml:"path"`
				Built bool   `json:"built" yaml:"built"`
			} `json:"binaries" yaml:"binaries"`
		}
		if format == "json" {
			err := json.Unmarshal([]byte(out), &got)
			if err != nil {
				t.Fatal(err)
			}
		} else if err := yaml.Unmarshal([]byte(out), &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Fatalf("%s: %d targets", format, len(got))
		}
		byName := map[string]int{}
		for i, g := range got {
			byName[g.Name] = i
		}
		w := got[byName["fuzz_wire_decode"]]
		if w.Crate != "wire_proto" || w.Artifacts["crash"] != 15 || w.Artifacts["timeout"] != 7 || w.Artifacts["oom"] != 6 {
			t.Errorf("%s: fuzz_wire_decode %+v", format, w)
		}
		if !strings.HasSuffix(w.Binaries["release"].Path, "target/x86_64-unknown-linux-gnu/release/fuzz_wire_decode") {
			t.Errorf("%s: release path %s", format, w.Binaries["release"].Path)
		}
	}
}

func TestListErrorsAndExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	code, _, errs := runCLI(t, "list", missing)
	if code != exitUsage || !strings.Contains(errs, "nope does not exist") {
		t.Errorf("missing workspace: exit %d, %q", code, errs)
	}
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "Cargo.toml"), []byte("[package]\nname=\"x\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCLI(t, "list", empty)
	if code != exitFindings || !strings.Contains(errs, "no fuzz targets under") {
		t.Errorf("no targets: exit %d, %q", code, errs)
	}
	code, _, errs = runCLI(t, "list", "--format", "xml", fixture.Root())
	if code != exitUsage || !strings.Contains(errs, "--format") {
		t.Errorf("bad format: exit %d, %q", code, errs)
	}
	code, _, _ = runCLI(t, "list", "--bogus")
	if code != exitUsage {
		t.Errorf("unknown flag: exit %d", code)
	}
	code, _, _ = runCLI(t, "list", "a", "b")
	if code != exitUsage {
		t.Errorf("two workspaces: exit %d", code)
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := runCLI(t, "help")
	if code != 0 || !strings.Contains(out, "list") || !strings.Contains(out, "version") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	for _, name := range commandNames() {
		code, out, _ := runCLI(t, name, "--help")
		if code != 0 || !strings.Contains(out, "Usage:\n  triage "+name) || !strings.Contains(out, "--log-format") {
			t.Errorf("%s --help: exit %d\n%s", name, code, out)
		}
	}
	code, out, _ = runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "triage ") {
		t.Errorf("version: exit %d %q", code, out)
	}
	code, _, errs := runCLI(t, "frobnicate")
	if code != exitUsage || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: exit %d %q", code, errs)
	}
	code, _, _ = runCLI(t)
	if code != exitUsage {
		t.Errorf("no command: exit %d", code)
	}
	code, _, errs = runCLI(t, "list", "--log-format", "xml", fixture.Root())
	if code != exitUsage || !strings.Contains(errs, "--log-format") {
		t.Errorf("bad log format: exit %d %q", code, errs)
	}
}
