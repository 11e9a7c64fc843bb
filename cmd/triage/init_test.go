package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

// writeTree writes files (path -> content) under a new directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, "fuzz-build") {
			mode = 0o755
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const fuzzManifest = "[package]\nname = \"x-fuzz\"\n\n[package.metadata]\ncargo-fuzz = true\n\n[[bin]]\nname = \"fuzz_x\"\npath = \"fuzz_targets/fuzz_x.rs\"\n"

// TestInitDetectsLayouts: each layout is told apart and explained, the
// triage.yaml written loads and builds with the detected commands, an
// existing file is kept (exit 1) unless --force.
func TestInitDetectsLayouts(t *testing.T) {
	target := map[string]string{"fuzz/fuzz_targets/fuzz_x.rs": "#![no_main]\n"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range target {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name   string
		files  map[string]string
		kind   string
		preset string
	}{
		{"standalone", with(map[string]string{"Cargo.toml": "[package]\nname = \"x\"\n", "fuzz/Cargo.toml": fuzzManifest + "\n[workspace]\nmembers = [\".\"]\n"}),
			triage.LayoutStandalone, triage.PresetCargoFuzz},
		{"member", with(map[string]string{"Cargo.toml": "[workspace]\nmembers = [\"x\", \"fuzz\"]\n", "x/Cargo.toml": "[package]\nname = \"x\"\n", "fuzz/Cargo.toml": fuzzManifest}),
			triage.LayoutMember, triage.PresetCargoFuzz},
		{"xtask", with(map[string]string{"Cargo.toml": "[workspace]\nmembers = [\"xtask\", \"fuzz\"]\n", "xtask/Cargo.toml": "[package]\nname = \"xtask\"\n", "fuzz/Cargo.toml": fuzzManifest}),
			triage.LayoutXtask, triage.PresetXtask},
		{"script", with(map[string]string{"fuzz-build": "#!/bin/sh\n", "fuzz/Cargo.toml": fuzzManifest + "\n[workspace]\n"}),
			triage.LayoutScript, triage.PresetFuzzBuild},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := writeTree(t, c.files)
			code, out, errb := runCLI(t, "init", root)
			if code != 0 {
				t.Fatalf("init: exit %d\n%s%s", code, out, errb)
			}
			if !strings.Contains(out, ": "+c.kind+"\n") || !strings.Contains(out, "fuzz crate fuzz: targets fuzz_x") {
				t.Errorf("explanation lacks the layout %q:\n%s", c.kind, out)
			}
			cfg, err := triage.LoadConfig(root)
			if err != nil {
				t.Fatalf("the written triage.yaml does not load: %v", err)
			}
			if cfg.Build.Preset != c.preset {
				t.Errorf("preset %q, want %q", cfg.Build.Preset, c.preset)
			}
			ws, err := triage.Load(root, cfg)
			if err != nil {
				t.Fatal(err)
			}
			// The written commands are the preset's.
			got, _, err := triage.BuildCommand(ws, ws.Target("fuzz_x"), store.Dev, &cfg.Build)
			if err != nil {
				t.Fatal(err)
			}
			preset := cfg.Build
			preset.Release, preset.Dev = nil, nil
			want, _, _ := triage.BuildCommand(ws, ws.Target("fuzz_x"), store.Dev, &preset)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("written dev command %q, the preset's %q", got, want)
			}
			// An existing file is kept, and replaced with --force.
			if code, _, errb := runCLI(t, "init", root); code != 1 || !strings.Contains(errb, "--force") {
				t.Errorf("second init: exit %d, %s", code, errb)
			}
			if code, _, _ := runCLI(t, "init", "--force", root); code != 0 {
				t.Errorf("init --force: exit %d", code)
			}
		})
	}
	if code, _, errb := runCLI(t, "init", t.TempDir()); code != 2 || !strings.Contains(errb, "no fuzz targets") {
		t.Errorf("init on an empty directory: exit %d, %s", code, errb)
	}
}
