package triage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fuzztriage/triage/internal/atomicfile"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/store"
)

// The layouts `triage init` tells apart.
const (
	LayoutStandalone = "cargo-fuzz standalone"       // fuzz/ is a cargo workspace of its own (what `cargo fuzz init` makes)
	LayoutMember     = "cargo-fuzz workspace member" // fuzz crates are members of the repository's cargo workspace
	LayoutXtask      = "OpenVMM xtask"               // an xtask/ crate wraps cargo-fuzz (`cargo xtask fuzz build`)
	LayoutScript     = "custom build script"         // an executable fuzz-build script at the root builds the targets
)

// Layout is what `triage init` found in a workspace.
type Layout struct {
	Root    string
	Kind    string
	Preset  string
	Targets []*Target
	// Why explains, one line each, what the detection saw.
	Why []string
	// Release and Dev are the build commands the preset runs, as written
	// in triage.yaml (placeholders kept).
	Release, Dev []string
	// Missing names tools the build needs that are not installed.
	Missing []string
}

// DetectLayout looks at a workspace the way `triage init` explains it:
// where its fuzz targets are, which layout builds them and with what.
func DetectLayout(root string) (*Layout, error) {
	ws, err := Discover(root)
	if err != nil {
		return nil, err
	}
	l := &Layout{Root: ws.Root, Targets: ws.Targets}
	dirs := map[string][]string{}
	for _, t := range ws.Targets {
		dirs[t.FuzzDir] = append(dirs[t.FuzzDir], t.Name)
	}
	var fuzzDirs []string
	for d := range dirs {
		fuzzDirs = append(fuzzDirs, d)
	}
	sort.Strings(fuzzDirs)
	for _, d := range fuzzDirs {
		l.Why = append(l.Why, fmt.Sprintf("fuzz crate %s: targets %s", ws.Rel(d), strings.Join(dirs[d], ", ")))
	}
	standalone := true
	for _, t := range ws.Targets {
		standalone = standalone && t.Standalone
	}
	l.Preset = DetectPreset(ws.Root)
	switch l.Preset {
	case PresetFuzzBuild:
		l.Kind = LayoutScript
		l.Why = append(l.Why, "an executable fuzz-build script at the root: it builds a target (--dev for the dev build)")
	case PresetXtask:
		l.Kind = LayoutXtask
		l.Why = append(l.Why, "an xtask/ crate: OpenVMM's `cargo xtask fuzz build TARGET` wraps cargo-fuzz")
	default:
		if standalone {
			l.Kind = LayoutStandalone
			l.Why = append(l.Why, "each fuzz crate is a cargo workspace of its own ([workspace] in its Cargo.toml), as `cargo fuzz init` lays it out")
		} else {
			l.Kind = LayoutMember
			l.Why = append(l.Why, "the fuzz crates are members of the cargo workspace at "+ws.Rel(ws.Targets[0].WorkspaceRoot))
		}
		if _, err := procrun.LookPath("cargo-fuzz"); err != nil && checkPresetTool(ws, &BuildConfig{Preset: PresetCargoFuzz}, store.Release) != nil {
			l.Missing = append(l.Missing, "cargo-fuzz (cargo install cargo-fuzz)")
		}
	}
	cmds := buildPresets[l.Preset]
	l.Release, l.Dev = cmds[store.Release], cmds[store.Dev]
	l.Why = append(l.Why, fmt.Sprintf("binaries where cargo-fuzz puts them, e.g. %s", ws.Rel(ws.Targets[0].BinaryPath(store.Release))))
	return l, nil
}

// ConfigText is a commented triage.yaml for the layout: the detected build
// commands written out, and the settings people change most, commented.
func (l *Layout) ConfigText() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# triage.yaml: written by `triage init`; every field is optional (docs/config.md).")
	w("#")
	w("# Detected layout: %s.", l.Kind)
	for _, why := range l.Why {
		w("#   %s", why)
	}
	w("schema_version: %d", ConfigSchemaVersion)
	w("")
	w("# Where the records go, relative to this directory.")
	w("store: .triage")
	w("")
	w("build:")
	w("  # The build commands per profile; placeholders {target}, {dir} (the")
	w("  # fuzz crate), {workspace} and {profile}. A relative program with a")
	w("  # slash is found in build.dir.")
	w("  preset: %s", l.Preset)
	w("  release: %s", flowList(l.Release))
	w("  dev: %s", flowList(l.Dev))
	w("  # A build that leaves binaries elsewhere than cargo-fuzz does:")
	w("  # binary: out/{profile}/{target}")
	w("  # timeout: 30m")
	w("")
	w("reproduce:")
	w("  # Runs per input on the release build, and libFuzzer's limits.")
	w("  tries: 3")
	w("  # libfuzzer_timeout: 5")
	w("  # rss_limit_mb: 1024")
	w("")
	w("# minimize:")
	w("#   mode: buckets        # or all, off")
	w("# lldb:")
	w("#   binary: lldb-19")
	return b.String()
}

// flowList writes an argv as a YAML flow sequence, every word quoted.
func flowList(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// ErrConfigExists: init found a triage.yaml and was not told to replace it.
var ErrConfigExists = errors.New("a configuration exists")

// WriteInitConfig writes the layout's triage.yaml at the root, refusing to
// replace one unless force. It returns the path written.
func WriteInitConfig(l *Layout, force bool) (string, error) {
	path := filepath.Join(l.Root, ConfigFile)
	if _, err := os.Lstat(path); err == nil && !force {
		return "", fmt.Errorf("%s: %w: pass --force to replace it (or --print to see what init would write)", path, ErrConfigExists)
	}
	text := l.ConfigText()
	// The text must load: a check that the writer and the reader agree.
	if _, err := ParseConfig(path, []byte(text)); err != nil {
		return "", fmt.Errorf("triage init wrote a configuration it cannot read (a bug): %w", err)
	}
	return path, atomicfile.Write(path, []byte(text))
}
