package triage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

func TestDetectPreset(t *testing.T) {
	if got := DetectPreset(fixture.Root()); got != PresetFuzzBuild {
		t.Errorf("fixture preset %q, want fuzz-build", got)
	}
	if got := DetectPreset(t.TempDir()); got != PresetCargoFuzz {
		t.Errorf("empty dir preset %q, want cargo-fuzz", got)
	}
	dir := writeTree(t, map[string]string{"xtask/Cargo.toml": "[package]\nname = \"xtask\"\n", "fuzz-build": "#!/bin/sh\n"})
	if got := DetectPreset(dir); got != PresetXtask {
		t.Errorf("xtask dir preset %q, want xtask", got)
	}
	// (its fuzz-build file is not executable: not the fixture's script)
	if got := DetectPreset(dir); got != PresetXtask {
		t.Errorf("non-executable fuzz-build: preset %q, want xtask", got)
	}
}

func TestBuildCommandPresets(t *testing.T) {
	ws, err := Discover(fixture.Root())
	if err != nil {
		t.Fatal(err)
	}
	tg := ws.Target("fuzz_ide")
	cases := []struct {
		preset string
		p      store.Profile
		want   []string
	}{
		{PresetCargoFuzz, store.Release, []string{"cargo", "+nightly", "fuzz", "build", "fuzz_ide", "--fuzz-dir", tg.FuzzDir}},
		{PresetCargoFuzz, store.Dev, []string{"cargo", "+nightly", "fuzz", "build", "fuzz_ide", "--fuzz-dir", tg.FuzzDir, "--dev"}},
		{PresetXtask, store.Release, []string{"cargo", "xtask", "fuzz", "build", "fuzz_ide"}},
		{PresetXtask, store.Dev, []string{"cargo", "xtask", "fuzz", "build", "fuzz_ide", "--", "--dev"}},
		{PresetFuzzBuild, store.Release, []string{ws.Root + "/fuzz-build", "fuzz_ide"}},
		{PresetFuzzBuild, store.Dev, []string{ws.Root + "/fuzz-build", "--dev", "fuzz_ide"}},
		{PresetAuto, store.Dev, []string{ws.Root + "/fuzz-build", "--dev", "fuzz_ide"}},
	}
	for _, c := range cases {
		cfg := DefaultConfig().Build
		cfg.Preset = c.preset
		argv, dir, err := BuildCommand(ws, tg, c.p, &cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(argv, c.want) || dir != ws.Root {
			t.Errorf("%s %s: got %q in %s, want %q", c.preset, c.p, argv, dir, c.want)
		}
	}
	cfg := DefaultConfig().Build
	cfg.Release = []string{"make", "-C", "{dir}", "{target}-{profile}"}
	cfg.Dir = "{dir}"
	argv, dir, _ := BuildCommand(ws, tg, store.Release, &cfg)
	if want := []string{"make", "-C", tg.FuzzDir, "fuzz_ide-release"}; !reflect.DeepEqual(argv, want) || dir != tg.FuzzDir {
		t.Errorf("custom: %q in %s", argv, dir)
	}
}

// TestEnsureBinaryBuildsAndFails builds a private copy of the fixture with
// its real build script, then breaks a fuzz target's source so cargo
// really fails, and checks a missing binary with building off.
func TestEnsureBinaryBuildsAndFails(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a private copy of the fixture")
	}
	root := fixture.CopyWorkspace(t)
	ws, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tg := ws.Target("fuzz_wire_decode")

	cfg := DefaultConfig()
	cfg.Build.Mode = BuildNever
	if _, err := EnsureBinary(ctx, ws, tg.Name, store.Release, cfg); !errors.Is(err, ErrBinaryMissing) {
		t.Fatalf("building off, nothing built: err %v, want ErrBinaryMissing", err)
	}

	cfg = DefaultConfig()
	b := NewBuilder()
	var builds int
	b.Log = func(string, store.Profile, []string) { builds++ }
	path, err := b.Ensure(ctx, ws, tg.Name, store.Release, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if path != tg.BinaryPath(store.Release) || !isFile(path) {
		t.Fatalf("built %s, want a file at %s", path, tg.BinaryPath(store.Release))
	}
	if _, err := b.Ensure(ctx, ws, tg.Name, store.Release, cfg); err != nil || builds != 1 {
		t.Fatalf("second Ensure: err %v, %d builds (want 1: once per builder)", err, builds)
	}
	cfg.Build.Mode = BuildIfMissing
	if _, err := NewBuilder().Ensure(ctx, ws, tg.Name, store.Release, cfg); err != nil {
		t.Fatal(err)
	}

	// Break the source: a real compile error.
	src := tg.Source
	data, _ := os.ReadFile(src)
	if err := os.WriteFile(src, append(data, []byte("\nfn broken( {\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.Build.Mode = BuildAlways
	_, err = NewBuilder().Ensure(ctx, ws, tg.Name, store.Release, cfg)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("broken source: err %v, want *BuildError", err)
	}
	if be.ExitCode == 0 || !strings.Contains(be.Output, "error") || !strings.Contains(be.Error(), "fuzz-build") {
		t.Errorf("build error lacks detail: %v", be)
	}

	// A command that succeeds but leaves no binary.
	cfg.Build.Release = []string{"true"}
	other := ws.Target("fuzz_ide")
	_, err = NewBuilder().Ensure(ctx, ws, other.Name, store.Release, cfg)
	if !errors.As(err, &be) || be.Missing != filepath.Join(other.TargetDir, HostTriple, "release", "fuzz_ide") {
		t.Errorf("no binary left: err %v", err)
	}
}

// TestBuildProgramRelativeToDir: a relative program with a slash is found
// in build.dir (itself relative to the workspace), a bare name on PATH.
func TestBuildProgramRelativeToDir(t *testing.T) {
	ws := discover(t, fixture.Root())
	tg := ws.Target("fuzz_ide")
	cfg := DefaultConfig().Build
	cfg.Release = []string{"scripts/build.sh", "{target}"}
	cfg.Dir = "ci"
	argv, dir, err := BuildCommand(ws, tg, store.Release, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(ws.Root, "ci"); dir != want {
		t.Errorf("dir %s, want %s", dir, want)
	}
	if want := filepath.Join(ws.Root, "ci", "scripts/build.sh"); argv[0] != want {
		t.Errorf("program %s, want %s", argv[0], want)
	}
	cfg.Release = []string{"make", "{target}"}
	if argv, _, _ := BuildCommand(ws, tg, store.Release, &cfg); argv[0] != "make" {
		t.Errorf("bare program became %s", argv[0])
	}
}

// TestBuildWithoutCargoFuzz: the auto preset on a workspace that needs
// cargo-fuzz, with cargo-fuzz not installed, fails before running
// anything with an error naming what is missing and the alternatives.
func TestBuildWithoutCargoFuzz(t *testing.T) {
	root := t.TempDir()
	fuzzDir := filepath.Join(root, "fuzz")
	if err := os.MkdirAll(filepath.Join(fuzzDir, "fuzz_targets"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(fuzzDir, "Cargo.toml"), []byte("[package]\nname = \"x-fuzz\"\n\n[package.metadata]\ncargo-fuzz = true\n\n[[bin]]\nname = \"fuzz_x\"\npath = \"fuzz_targets/fuzz_x.rs\"\n"), 0o644)
	os.WriteFile(filepath.Join(fuzzDir, "fuzz_targets", "fuzz_x.rs"), []byte("#![no_main]\n"), 0o644)
	ws := discover(t, root)
	if ws.Target("fuzz_x") == nil {
		t.Fatalf("targets %v", ws.Targets)
	}
	t.Setenv("PATH", t.TempDir())
	t.Setenv("CARGO_HOME", t.TempDir())
	cfg := DefaultConfig()
	_, err := NewBuilder().Ensure(context.Background(), ws, "fuzz_x", store.Release, cfg)
	var missing *MissingToolError
	if !errors.As(err, &missing) {
		t.Fatalf("got %v, want a MissingToolError", err)
	}
	for _, want := range []string{"cargo-fuzz", "detected", "build.release", "--no-build", "cargo install cargo-fuzz"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// Given commands need no cargo-fuzz.
	cfg.Build.Release = []string{"false"}
	if _, err := NewBuilder().Ensure(context.Background(), ws, "fuzz_x", store.Release, cfg); err == nil || errors.As(err, &missing) {
		t.Errorf("custom command still asked for cargo-fuzz: %v", err)
	}
}

// TestCustomBuildBinaryLayout: a custom build that leaves binaries in a
// directory of its own is run in build.dir and its binary found through
// build.binary.
func TestCustomBuildBinaryLayout(t *testing.T) {
	root := t.TempDir()
	fuzzDir := filepath.Join(root, "fuzz")
	os.MkdirAll(filepath.Join(fuzzDir, "fuzz_targets"), 0o755)
	os.WriteFile(filepath.Join(fuzzDir, "Cargo.toml"), []byte("[package]\nname = \"x-fuzz\"\n\n[package.metadata]\ncargo-fuzz = true\n\n[[bin]]\nname = \"fuzz_x\"\npath = \"fuzz_targets/fuzz_x.rs\"\n\n[workspace]\n"), 0o644)
	os.WriteFile(filepath.Join(fuzzDir, "fuzz_targets", "fuzz_x.rs"), []byte("#![no_main]\n"), 0o644)
	os.MkdirAll(filepath.Join(root, "ci"), 0o755)
	script := "#!/bin/sh\nset -e\nmkdir -p ../out/$1\nprintf 'binary of %s' \"$2\" > ../out/$1/$2\n"
	if err := os.WriteFile(filepath.Join(root, "ci", "build.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig("test", []byte("build:\n  preset: custom\n  dir: ci\n  release: [\"./build.sh\", \"{profile}\", \"{target}\"]\n  dev: [\"./build.sh\", \"{profile}\", \"{target}\"]\n  binary: out/{profile}/{target}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := Load(root, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []store.Profile{store.Release, store.Dev} {
		path, err := NewBuilder().Ensure(context.Background(), ws, "fuzz_x", p, cfg)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if want := filepath.Join(root, "out", string(p), "fuzz_x"); path != want {
			t.Errorf("%s binary at %s, want %s", p, path, want)
		}
		if data, _ := os.ReadFile(path); string(data) != "binary of fuzz_x" {
			t.Errorf("%s binary holds %q", p, data)
		}
	}
	if _, err := ParseConfig("test", []byte("build:\n  binary: out/bin\n")); err == nil || !strings.Contains(err.Error(), "build.binary") {
		t.Errorf("a layout without {target}: %v", err)
	}
}
