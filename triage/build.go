package triage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/store"
)

// CoverageRustflags are the flags a coverage build adds (see
// ../shared notes: counter relocation for continuous mode, one codegen
// unit for honest denominators).
const CoverageRustflags = "-Cinstrument-coverage -Cllvm-args=-runtime-counter-relocation -Ccodegen-units=1"

// buildPresets are the default build commands per preset and profile, with
// the placeholders of BuildConfig.
var buildPresets = map[string]map[store.Profile][]string{
	// cargo-fuzz itself (a plain `cargo fuzz init` project).
	PresetCargoFuzz: {
		store.Release: {"cargo", "+nightly", "fuzz", "build", "{target}", "--fuzz-dir", "{dir}"},
		store.Dev:     {"cargo", "+nightly", "fuzz", "build", "{target}", "--fuzz-dir", "{dir}", "--dev"},
		// `cargo fuzz coverage`'s build without its replay: cargo-fuzz adds
		// its flags to RUSTFLAGS; these add coverage with counter
		// relocation (continuous mode keeps a crashing input's counts) and
		// one codegen unit (unused code is counted, not dropped), into
		// cargo-fuzz's coverage target directory.
		store.Coverage: {"env", "RUSTFLAGS=" + CoverageRustflags, "cargo", "+nightly", "fuzz", "build", "-O", "{target}", "--fuzz-dir", "{dir}",
			"--target-dir", "{dir}/target/" + HostTriple + "/coverage"},
	},
	// OpenVMM's wrapper around cargo-fuzz.
	PresetXtask: {
		store.Release: {"cargo", "xtask", "fuzz", "build", "{target}"},
		store.Dev:     {"cargo", "xtask", "fuzz", "build", "{target}", "--", "--dev"},
	},
	// The fixture workspace's stand-in for cargo fuzz build.
	PresetFuzzBuild: {
		store.Release:  {"{workspace}/fuzz-build", "{target}"},
		store.Dev:      {"{workspace}/fuzz-build", "--dev", "{target}"},
		store.Coverage: {"{workspace}/fuzz-build", "--coverage", "{target}"},
	},
}

// DetectPreset picks the build preset for a workspace root: its own
// fuzz-build script, an OpenVMM-style xtask crate, or plain cargo-fuzz.
func DetectPreset(root string) string {
	if st, err := os.Stat(filepath.Join(root, "fuzz-build")); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
		return PresetFuzzBuild
	}
	if _, err := os.Stat(filepath.Join(root, "xtask", "Cargo.toml")); err == nil {
		return PresetXtask
	}
	return PresetCargoFuzz
}

// ResolvePreset is the preset whose commands a build uses: cfg's, or for
// "auto" (and no preset) the one DetectPreset finds.
func ResolvePreset(ws *Workspace, cfg *BuildConfig) string {
	if cfg.Preset == "" || cfg.Preset == PresetAuto {
		return DetectPreset(ws.Root)
	}
	return cfg.Preset
}

// BuildCommand is the argv and directory that build target for profile,
// placeholders filled in. The directory is build.dir, made absolute
// against the workspace root; a relative program with a slash in it
// (scripts/build.sh) is found in that directory, as a shell run there
// would find it, and a bare name (make) on PATH.
func BuildCommand(ws *Workspace, t *Target, p store.Profile, cfg *BuildConfig) (argv []string, dir string, err error) {
	tmpl := cfg.Release
	switch p {
	case store.Dev:
		tmpl = cfg.Dev
	case store.Coverage:
		tmpl = cfg.Coverage
	}
	if len(tmpl) == 0 {
		preset := ResolvePreset(ws, cfg)
		tmpl = buildPresets[preset][p]
		if len(tmpl) == 0 {
			return nil, "", fmt.Errorf("build preset %q has no %s command: set build.%s in %s", preset, p, p, ConfigFile)
		}
	}
	fill := strings.NewReplacer(
		"{target}", t.Name,
		"{dir}", t.FuzzDir,
		"{workspace}", ws.Root,
		"{profile}", string(p),
	)
	for _, a := range tmpl {
		argv = append(argv, fill.Replace(a))
	}
	d := cfg.Dir
	if d == "" {
		d = "{workspace}"
	}
	dir = fill.Replace(d)
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(ws.Root, dir)
	}
	if prog := argv[0]; !filepath.IsAbs(prog) && strings.ContainsRune(prog, '/') {
		argv[0] = filepath.Join(dir, prog)
	}
	return argv, dir, nil
}

// MissingToolError is a preset whose tool is not installed.
type MissingToolError struct {
	Preset   string
	Detected bool // the preset was auto-detected
	Tool     string
	Looked   []string
}

func (e *MissingToolError) Error() string {
	how := "build preset " + e.Preset
	if e.Detected {
		how += " (detected: the workspace has no executable fuzz-build script and no xtask/ crate)"
	}
	return fmt.Sprintf("%s needs %s, which is not installed (looked on PATH and in %s). "+
		"Install it (cargo install cargo-fuzz), or give the build commands in %s "+
		"(build.release and build.dev; `triage init` writes them, docs/config.md has examples), "+
		"or build the binaries yourself and pass --no-build",
		how, e.Tool, strings.Join(e.Looked, ", "), ConfigFile)
}

// checkPresetTool fails early, with a clear error, when the build would
// run `cargo fuzz` and cargo-fuzz is not installed: cargo's own message
// ("no such command: fuzz") says nothing of the alternatives.
func checkPresetTool(ws *Workspace, cfg *BuildConfig, p store.Profile) error {
	given := cfg.Release
	if p == store.Dev {
		given = cfg.Dev
	}
	preset := ResolvePreset(ws, cfg)
	if len(given) > 0 || preset != PresetCargoFuzz {
		return nil
	}
	if _, err := procrun.LookPath("cargo-fuzz"); err == nil {
		return nil
	}
	// cargo also finds subcommands in $CARGO_HOME/bin.
	cargoHome := os.Getenv("CARGO_HOME")
	if cargoHome == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cargoHome = filepath.Join(home, ".cargo")
		}
	}
	bin := filepath.Join(cargoHome, "bin")
	if isFile(filepath.Join(bin, "cargo-fuzz")) {
		return nil
	}
	return &MissingToolError{Preset: preset, Detected: cfg.Preset == "" || cfg.Preset == PresetAuto, Tool: "cargo-fuzz", Looked: []string{bin}}
}

// BuildError is a build command that failed (or left no binary behind).
type BuildError struct {
	Target   string
	Profile  store.Profile
	Command  []string
	ExitCode int
	TimedOut bool
	// Output is the tail of the command's stderr and stdout.
	Output string
	// Missing is set when the command succeeded but the binary is not
	// where cargo-fuzz puts it.
	Missing string
}

func (e *BuildError) Error() string {
	cmd := strings.Join(e.Command, " ")
	switch {
	case e.Missing != "":
		return fmt.Sprintf("build %s (%s): `%s` succeeded but left no binary at %s", e.Target, e.Profile, cmd, e.Missing)
	case e.TimedOut:
		return fmt.Sprintf("build %s (%s): `%s` timed out\n%s", e.Target, e.Profile, cmd, e.Output)
	default:
		return fmt.Sprintf("build %s (%s): `%s` exited %d\n%s", e.Target, e.Profile, cmd, e.ExitCode, e.Output)
	}
}

// ErrBinaryMissing says a binary is not built and building is off.
var ErrBinaryMissing = errors.New("binary not built")

// Builder builds fuzz binaries, at most once per (target, profile) for its
// lifetime, one build at a time (cargo locks its target dir anyway and
// uses every core). Concurrent callers wanting the same binary wait for
// the one build.
type Builder struct {
	mu     sync.Mutex
	builds map[string]*buildOnce
	run    sync.Mutex // serializes build commands
	// Log, when set, hears about each build as it starts.
	Log func(target string, p store.Profile, argv []string)
}

type buildOnce struct {
	once sync.Once
	path string
	err  error
}

// NewBuilder returns a Builder with no builds done yet.
func NewBuilder() *Builder { return &Builder{builds: map[string]*buildOnce{}} }

var defaultBuilder = NewBuilder()

// EnsureBinary returns the path of target's binary for profile, building it
// first as cfg.Build.Mode says ("always": run the build command once per
// process; "missing": only when there is no binary; "never": only check it
// exists). The build command comes from cfg.Build (a preset or a custom
// argv). A failed build is a *BuildError; a missing binary with building
// off wraps ErrBinaryMissing. cfg may be nil for the defaults.
func EnsureBinary(ctx context.Context, ws *Workspace, target string, profile store.Profile, cfg *Config) (string, error) {
	return defaultBuilder.Ensure(ctx, ws, target, profile, cfg)
}

// Ensure is EnsureBinary on this Builder's memo.
func (b *Builder) Ensure(ctx context.Context, ws *Workspace, target string, profile store.Profile, cfg *Config) (string, error) {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	t := ws.Target(target)
	if t == nil {
		return "", fmt.Errorf("no fuzz target %q in %s", target, ws.Root)
	}
	path := t.BinaryPath(profile)
	exists := isFile(path)
	switch cfg.Build.Mode {
	case BuildNever:
		if !exists {
			return "", fmt.Errorf("%s (%s): %w at %s (building is off)", target, profile, ErrBinaryMissing, path)
		}
		return path, nil
	case BuildIfMissing:
		if exists {
			return path, nil
		}
	}
	key := ws.Root + "\x00" + target + "\x00" + string(profile)
	b.mu.Lock()
	if b.builds == nil {
		b.builds = map[string]*buildOnce{}
	}
	bo, ok := b.builds[key]
	if !ok {
		bo = &buildOnce{}
		b.builds[key] = bo
	}
	b.mu.Unlock()
	bo.once.Do(func() {
		bo.path, bo.err = b.build(ctx, ws, t, profile, cfg)
	})
	if bo.err != nil && ctx.Err() != nil {
		// A cancelled build is not a verdict: let a later caller retry.
		b.mu.Lock()
		delete(b.builds, key)
		b.mu.Unlock()
	}
	return bo.path, bo.err
}

func (b *Builder) build(ctx context.Context, ws *Workspace, t *Target, p store.Profile, cfg *Config) (string, error) {
	argv, dir, err := BuildCommand(ws, t, p, &cfg.Build)
	if err != nil {
		return "", err
	}
	if err := checkPresetTool(ws, &cfg.Build, p); err != nil {
		return "", err
	}
	b.run.Lock()
	defer b.run.Unlock()
	if b.Log != nil {
		b.Log(t.Name, p, argv)
	}
	res, err := procrun.Run(ctx, procrun.Spec{
		Path:      argv[0],
		Args:      argv[1:],
		Dir:       dir,
		Env:       cfg.Build.Env,
		Timeout:   cfg.Build.Timeout.D(),
		KillGrace: 5 * time.Second,
		OutputCap: 1 << 20,
	})
	if err != nil {
		return "", &BuildError{Target: t.Name, Profile: p, Command: argv, ExitCode: -1, Output: err.Error()}
	}
	if res.Canceled {
		return "", fmt.Errorf("build %s (%s): %w", t.Name, p, context.Cause(ctx))
	}
	if res.TimedOut || res.ExitCode != 0 {
		return "", &BuildError{
			Target: t.Name, Profile: p, Command: argv,
			ExitCode: res.ExitCode, TimedOut: res.TimedOut,
			Output: tailText(string(res.Stderr)+string(res.Stdout), 4000),
		}
	}
	path := t.BinaryPath(p)
	if !isFile(path) {
		return "", &BuildError{Target: t.Name, Profile: p, Command: argv, Missing: path}
	}
	return path, nil
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// tailText keeps the last n bytes of s, starting at a line boundary.
func tailText(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return "..." + "\n" + s
}
