// Package triage is the pipeline: it discovers fuzz targets and their crash
// artifacts in a workspace, builds and runs the fuzz binaries, and keeps the
// record store. The stages it calls (symbolize, dedupe, lldbscript) know
// nothing of workspaces or stores.
package triage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
	"github.com/fuzztriage/triage/dedupe"
	"github.com/fuzztriage/triage/regbits"
	"github.com/fuzztriage/triage/store"
)

// HostTriple is the target triple cargo-fuzz builds for here; its name is
// part of every binary path.
const HostTriple = "x86_64-unknown-linux-gnu"

// outputDir is the directory cargo names after the profile.
func outputDir(p store.Profile) string {
	if p == store.Dev {
		return "debug"
	}
	return "release"
}

// Target is one fuzz target: one [[bin]] of a cargo-fuzz crate.
type Target struct {
	Name string `json:"name" yaml:"name"`
	// FuzzDir is the cargo-fuzz crate's directory (absolute).
	FuzzDir string `json:"fuzz_dir" yaml:"fuzz_dir"`
	// Package is the fuzz crate's package name.
	Package string `json:"package" yaml:"package"`
	// Source is the target's main file (absolute).
	Source string `json:"source" yaml:"source"`
	// Crate is the crate under test: the fuzz crate's path dependency in
	// the fuzz dir's parent, as `cargo fuzz init` lays it out.
	Crate    string `json:"crate,omitempty" yaml:"crate,omitempty"`
	CrateDir string `json:"crate_dir,omitempty" yaml:"crate_dir,omitempty"`
	// WorkspaceRoot is the cargo workspace the fuzz crate builds in: the
	// fuzz dir itself when it has its own [workspace], else the enclosing
	// workspace that lists it as a member.
	WorkspaceRoot string `json:"workspace_root" yaml:"workspace_root"`
	Standalone    bool   `json:"standalone" yaml:"standalone"`
	// TargetDir is cargo's target directory for this crate.
	TargetDir string `json:"target_dir" yaml:"target_dir"`
	// Options are extra libFuzzer flags from
	// [package.metadata.xtask.fuzz.target-options].
	Options []string `json:"options,omitempty" yaml:"options,omitempty"`
	// binaryLayout is build.binary with {workspace} filled in, or "".
	binaryLayout string
}

// BinaryPath is where the build leaves the target's binary for a profile:
// build.binary's layout when triage.yaml gives one, else cargo-fuzz's.
func (t *Target) BinaryPath(p store.Profile) string {
	if t.binaryLayout != "" {
		return strings.NewReplacer("{target}", t.Name, "{profile}", string(p), "{cargo_profile}", outputDir(p),
			"{triple}", HostTriple, "{dir}", t.FuzzDir).Replace(t.binaryLayout)
	}
	if p == store.Coverage {
		// cargo fuzz coverage's own target directory.
		return filepath.Join(t.TargetDir, HostTriple, "coverage", HostTriple, outputDir(p), t.Name)
	}
	return filepath.Join(t.TargetDir, HostTriple, outputDir(p), t.Name)
}

// Configure applies triage.yaml's settings that change where things are
// (build.binary). Every command that reads a configuration calls it
// (through Load), so all of them look for binaries in one place.
func (w *Workspace) Configure(cfg *Config) {
	if cfg == nil {
		return
	}
	layout := ""
	if b := cfg.Build.Binary; b != "" {
		layout = strings.ReplaceAll(b, "{workspace}", w.Root)
		if !filepath.IsAbs(layout) {
			layout = filepath.Join(w.Root, layout)
		}
	}
	for _, t := range w.Targets {
		t.binaryLayout = layout
	}
	rw, _ := ParsePathMap(cfg.Bucket.PathMap) // validated with the config
	cfg.Bucket.crates = w.CrateMap(rw)
}

// CrateMap is the map from source files to the workspace's crates, with
// rewrites applied first. Relative paths are tried against the cargo
// workspace roots of the targets (rustc prints member crates' paths
// relative to their workspace root) and the root.
func (w *Workspace) CrateMap(rewrites [][2]string) *dedupe.CrateMap {
	bases := []string{w.Root}
	seen := map[string]bool{w.Root: true}
	for _, t := range w.Targets {
		if !seen[t.WorkspaceRoot] {
			seen[t.WorkspaceRoot] = true
			bases = append(bases, t.WorkspaceRoot)
		}
	}
	return dedupe.NewCrateMap(w.Crates, bases, rewrites)
}

// Load discovers the workspace at root and applies cfg to it.
func Load(root string, cfg *Config) (*Workspace, error) {
	ws, err := Discover(root)
	if err != nil {
		return nil, err
	}
	ws.Configure(cfg)
	return ws, nil
}

// CorpusDir is `<fuzz>/corpus/<target>`.
func (t *Target) CorpusDir() string { return filepath.Join(t.FuzzDir, "corpus", t.Name) }

// ArtifactDir is `<fuzz>/artifacts/<target>`, libFuzzer's -artifact_prefix.
func (t *Target) ArtifactDir() string { return filepath.Join(t.FuzzDir, "artifacts", t.Name) }

// Workspace is a tree holding fuzz targets.
type Workspace struct {
	Root    string
	Targets []*Target
	// Crates are the packages of the tree (library name, directory): a
	// key names a source file by its crate, never by the checkout.
	Crates []dedupe.Crate
	// Warnings are manifests that could not be read but did not look like
	// cargo-fuzz crates (so discovery went on without them).
	Warnings []string
}

// Rel is path relative to the root when it lies inside it (records name
// artifacts that way), else path unchanged.
func (w *Workspace) Rel(path string) string {
	if r, err := filepath.Rel(w.Root, path); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return r
	}
	return path
}

// Abs is a record's path (relative to the root) made absolute.
func (w *Workspace) Abs(rel string) string {
	if filepath.IsAbs(rel) {
		return rel
	}
	return filepath.Join(w.Root, rel)
}

// Target returns the named target or nil.
func (w *Workspace) Target(name string) *Target {
	for _, t := range w.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// ErrNoTargets says a tree holds no cargo-fuzz crate.
var ErrNoTargets = errors.New("no fuzz targets")

// cargoManifest is the part of a Cargo.toml discovery reads.
type cargoManifest struct {
	Package *struct {
		Name     string         `toml:"name"`
		Metadata map[string]any `toml:"metadata"`
	} `toml:"package"`
	Workspace *struct {
		Members []string `toml:"members"`
		Exclude []string `toml:"exclude"`
	} `toml:"workspace"`
	Lib *struct {
		Name string `toml:"name"`
	} `toml:"lib"`
	Bin []struct {
		Name string `toml:"name"`
		Path string `toml:"path"`
	} `toml:"bin"`
	Dependencies map[string]any `toml:"dependencies"`
}

func readManifest(path string) (*cargoManifest, error) {
	var m cargoManifest
	if _, err := toml.DecodeFile(path, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &m, nil
}

// isCargoFuzz reports `[package.metadata] cargo-fuzz = true`.
func (m *cargoManifest) isCargoFuzz() bool {
	if m.Package == nil {
		return false
	}
	v, ok := m.Package.Metadata["cargo-fuzz"].(bool)
	return ok && v
}

// targetOptions reads [package.metadata.xtask.fuzz.target-options].
func (m *cargoManifest) targetOptions(target string) []string {
	var cur any = m.Package.Metadata
	for _, k := range []string{"xtask", "fuzz", "target-options", target} {
		tbl, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = tbl[k]
	}
	list, _ := cur.([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// skipDir says which directories discovery never enters: build output and
// hidden directories (.git, .triage, .cargo).
func skipDir(name string) bool {
	return name == "target" || (strings.HasPrefix(name, ".") && name != ".")
}

// Discover finds every fuzz target under root, the way cargo-fuzz and
// `cargo xtask fuzz list` do: any Cargo.toml with cargo-fuzz = true, one
// target per [[bin]].
func Discover(root string) (*Workspace, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("workspace %s: %w", root, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("workspace %s: not a directory", root)
	}
	ws := &Workspace{Root: abs}
	manifests := map[string]*cargoManifest{}
	var fuzzManifests []string
	err = filepath.WalkDir(abs, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != abs && d != nil && d.IsDir() && errors.Is(err, fs.ErrPermission) {
				ws.Warnings = append(ws.Warnings, err.Error())
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() {
			if path != abs && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "Cargo.toml" {
			return nil
		}
		m, err := readManifest(path)
		if err != nil {
			raw, _ := os.ReadFile(path)
			if strings.Contains(string(raw), "cargo-fuzz") {
				return fmt.Errorf("reading fuzz crate manifest: %w", err)
			}
			ws.Warnings = append(ws.Warnings, err.Error())
			return nil
		}
		manifests[filepath.Dir(path)] = m
		if m.Package != nil && m.Package.Name != "" {
			name := m.Package.Name
			if m.Lib != nil && m.Lib.Name != "" {
				name = m.Lib.Name
			}
			ws.Crates = append(ws.Crates, dedupe.Crate{Name: dedupe.CrateName(name), Dir: filepath.Dir(path)})
		}
		if m.isCargoFuzz() {
			fuzzManifests = append(fuzzManifests, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, path := range fuzzManifests {
		targets, err := targetsOf(path, manifests[filepath.Dir(path)], manifests)
		if err != nil {
			return nil, err
		}
		ws.Targets = append(ws.Targets, targets...)
	}
	if len(ws.Targets) == 0 {
		return nil, fmt.Errorf("%w under %s: no Cargo.toml with [package.metadata] cargo-fuzz = true and a [[bin]]", ErrNoTargets, root)
	}
	sort.Slice(ws.Targets, func(i, j int) bool { return ws.Targets[i].Name < ws.Targets[j].Name })
	for i := 1; i < len(ws.Targets); i++ {
		a, b := ws.Targets[i-1], ws.Targets[i]
		if a.Name == b.Name {
			return nil, fmt.Errorf("fuzz target %q is defined twice: in %s and %s", a.Name, a.FuzzDir, b.FuzzDir)
		}
	}
	return ws, nil
}

func targetsOf(manifestPath string, m *cargoManifest, all map[string]*cargoManifest) ([]*Target, error) {
	fuzzDir := filepath.Dir(manifestPath)
	wsRoot, standalone := workspaceRootOf(fuzzDir, m, all)
	crate, crateDir := crateUnderTest(fuzzDir, m, all)
	var out []*Target
	for _, bin := range m.Bin {
		if bin.Name == "" {
			return nil, fmt.Errorf("%s: a [[bin]] has no name", manifestPath)
		}
		src := bin.Path
		if src == "" {
			// cargo's default for a named bin: src/bin/<name>.rs
			src = filepath.Join("src", "bin", bin.Name+".rs")
		}
		out = append(out, &Target{
			Name:          bin.Name,
			FuzzDir:       fuzzDir,
			Package:       m.Package.Name,
			Source:        filepath.Join(fuzzDir, src),
			Crate:         crate,
			CrateDir:      crateDir,
			WorkspaceRoot: wsRoot,
			Standalone:    standalone,
			TargetDir:     targetDirOf(wsRoot),
			Options:       m.targetOptions(bin.Name),
		})
	}
	return out, nil
}

// targetDirOf honours CARGO_TARGET_DIR as cargo does.
func targetDirOf(wsRoot string) string {
	if d := os.Getenv("CARGO_TARGET_DIR"); d != "" {
		if filepath.IsAbs(d) {
			return d
		}
		return filepath.Join(wsRoot, d)
	}
	return filepath.Join(wsRoot, "target")
}

// workspaceRootOf finds the cargo workspace a crate builds in.
func workspaceRootOf(dir string, m *cargoManifest, all map[string]*cargoManifest) (string, bool) {
	if m.Workspace != nil {
		return dir, true
	}
	for parent := filepath.Dir(dir); ; parent = filepath.Dir(parent) {
		if pm, ok := all[parent]; ok && pm.Workspace != nil && workspaceIncludes(parent, pm, dir) {
			return parent, false
		}
		if parent == filepath.Dir(parent) {
			break
		}
	}
	// Not a member of any workspace discovery saw: cargo treats the crate
	// as its own root.
	return dir, true
}

func workspaceIncludes(root string, m *cargoManifest, dir string) bool {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return false
	}
	rel = filepath.ToSlash(rel)
	for _, ex := range m.Workspace.Exclude {
		if rel == strings.TrimSuffix(ex, "/") || strings.HasPrefix(rel, strings.TrimSuffix(ex, "/")+"/") {
			return false
		}
	}
	for _, pat := range m.Workspace.Members {
		if ok, _ := filepath.Match(strings.TrimSuffix(pat, "/"), rel); ok {
			return true
		}
	}
	return false
}

// crateUnderTest picks the path dependency that is the fuzz dir's parent, or
// failing that the first path dependency that is not libfuzzer-sys.
func crateUnderTest(fuzzDir string, m *cargoManifest, all map[string]*cargoManifest) (string, string) {
	type dep struct{ name, dir string }
	var deps []dep
	names := make([]string, 0, len(m.Dependencies))
	for name := range m.Dependencies {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		tbl, ok := m.Dependencies[name].(map[string]any)
		if !ok {
			continue
		}
		p, ok := tbl["path"].(string)
		if !ok || name == "libfuzzer-sys" {
			continue
		}
		dir := filepath.Clean(filepath.Join(fuzzDir, p))
		if pkg, ok := tbl["package"].(string); ok {
			name = pkg
		} else if dm, ok := all[dir]; ok && dm.Package != nil && dm.Package.Name != "" {
			name = dm.Package.Name
		}
		deps = append(deps, dep{name, dir})
	}
	for _, d := range deps {
		if d.dir == filepath.Dir(fuzzDir) {
			return d.name, d.dir
		}
	}
	if len(deps) > 0 {
		return deps[0].name, deps[0].dir
	}
	return "", ""
}

// registerTables caches each workspace's register definitions for the
// process (reading the sources once).
var registerTables sync.Map

// Registers are the register types the workspace's sources define
// (`bitflags!`, `#[bitfield(uN)]`), by which lldb findings and `triage
// debug` name the set bits of a register value.
func (w *Workspace) Registers() regbits.Table {
	if t, ok := registerTables.Load(w.Root); ok {
		return t.(regbits.Table)
	}
	t := regbits.Scan(w.Root)
	registerTables.Store(w.Root, t)
	return t
}
