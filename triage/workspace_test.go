package triage

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

func TestDiscoverFixture(t *testing.T) {
	root := fixture.Root()
	ws, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		crate, fuzzDir, source string
		standalone             bool
	}{
		"fuzz_ata_taskfile":     {"ide", "vm/devices/storage/ide/fuzz", "vm/devices/storage/ide/fuzz/fuzz_targets/fuzz_ata_taskfile.rs", true},
		"fuzz_chipset_battery":  {"chipset", "vm/devices/chipset/fuzz", "vm/devices/chipset/fuzz/fuzz_targets/fuzz_chipset_battery.rs", false},
		"fuzz_chipset_cmos_rtc": {"chipset", "vm/devices/chipset/fuzz", "vm/devices/chipset/fuzz/fuzz_targets/fuzz_chipset_cmos_rtc.rs", false},
		"fuzz_ide":              {"ide", "vm/devices/storage/ide/fuzz", "vm/devices/storage/ide/fuzz/fuzz_main.rs", true},
		"fuzz_wire_decode":      {"wire_proto", "support/wire_proto/fuzz", "support/wire_proto/fuzz/fuzz_targets/fuzz_wire_decode.rs", false},
	}
	if len(ws.Targets) != len(want) {
		t.Fatalf("found %d targets, want %d", len(ws.Targets), len(want))
	}
	for _, tg := range ws.Targets {
		w, ok := want[tg.Name]
		if !ok {
			t.Errorf("unexpected target %s", tg.Name)
			continue
		}
		rel := func(p string) string { r, _ := filepath.Rel(root, p); return r }
		if tg.Crate != w.crate || rel(tg.FuzzDir) != w.fuzzDir || rel(tg.Source) != w.source || tg.Standalone != w.standalone {
			t.Errorf("%s: got crate %s dir %s source %s standalone %v", tg.Name, tg.Crate, rel(tg.FuzzDir), rel(tg.Source), tg.Standalone)
		}
		wantBin := filepath.Join(root, "target", HostTriple, "release", tg.Name)
		if w.standalone {
			wantBin = filepath.Join(root, w.fuzzDir, "target", HostTriple, "release", tg.Name)
		}
		if tg.BinaryPath(store.Release) != wantBin {
			t.Errorf("%s: release binary %s, want %s", tg.Name, tg.BinaryPath(store.Release), wantBin)
		}
		if !strings.HasSuffix(tg.BinaryPath(store.Dev), filepath.Join(HostTriple, "debug", tg.Name)) {
			t.Errorf("%s: dev binary %s", tg.Name, tg.BinaryPath(store.Dev))
		}
	}
	if got := ws.Target("fuzz_wire_decode").Options; !reflect.DeepEqual(got, []string{"-rss_limit_mb=512", "-timeout=5"}) {
		t.Errorf("target options: %v", got)
	}
}

// writeTree creates files (path -> content) under a temp dir.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const fuzzMeta = "\n[package.metadata]\ncargo-fuzz = true\n"

// An OpenVMM-shaped tree: nested vm/devices/<x>/fuzz crates that are members
// of the root workspace (one with two bins, one with a custom bin path and
// target options), a standalone fuzz crate, and decoys discovery must skip.
func openvmmTree(t *testing.T) string {
	return writeTree(t, map[string]string{
		"Cargo.toml": `[workspace]
members = ["vm/devices/*", "vm/devices/*/fuzz", "vm/devices/storage/*", "vm/devices/storage/*/fuzz"]
exclude = ["support/standalone/fuzz"]
`,
		"vm/devices/chipset/Cargo.toml": "[package]\nname = \"chipset\"\n",
		"vm/devices/chipset/fuzz/Cargo.toml": "[package]\nname = \"chipset-fuzz\"" + fuzzMeta + `
[dependencies]
libfuzzer-sys = { path = "../../../../libfuzzer-sys" }
chipset = { path = ".." }

[[bin]]
name = "fuzz_chipset_battery"
path = "fuzz_chipset_battery.rs"

[[bin]]
name = "fuzz_chipset_cmos_rtc"
path = "fuzz_chipset_cmos_rtc.rs"
`,
		"vm/devices/storage/ide/Cargo.toml": "[package]\nname = \"ide\"\n",
		"vm/devices/storage/ide/fuzz/Cargo.toml": "[package]\nname = \"ide-fuzz\"" + fuzzMeta + `
[package.metadata.xtask.fuzz.target-options]
fuzz_ide = ["-rss_limit_mb=4096"]

[dependencies]
ide = { path = "..", package = "ide" }

[[bin]]
name = "fuzz_ide"
path = "fuzz_main.rs"
`,
		"vm/devices/storage/ide/fuzz/artifacts/fuzz_ide/crash-0a":          "x",
		"vm/devices/storage/ide/fuzz/artifacts/fuzz_ide/timeout-0b":        "x",
		"vm/devices/storage/ide/fuzz/artifacts/fuzz_ide/minimized-from-0c": "x",
		"vm/devices/storage/ide/fuzz/corpus/fuzz_ide/aaaa":                 "x",
		"vm/devices/storage/ide/fuzz/corpus/fuzz_ide/bbbb":                 "x",
		"support/standalone/Cargo.toml":                                    "[package]\nname = \"standalone\"\n",
		"support/standalone/fuzz/Cargo.toml":                               "[package]\nname = \"standalone-fuzz\"" + fuzzMeta + "\n[dependencies]\nstandalone = { path = \"..\" }\n\n[workspace]\nmembers = [\".\"]\n\n[[bin]]\nname = \"fuzz_standalone\"\n",
		"target/debug/build/x/fuzz/Cargo.toml":                             "[package]\nname = \"decoy\"" + fuzzMeta + "[[bin]]\nname = \"decoy_in_target\"\n",
		".hidden/fuzz/Cargo.toml":                                          "[package]\nname = \"decoy2\"" + fuzzMeta + "[[bin]]\nname = \"decoy_hidden\"\n",
		"vm/devices/notfuzz/Cargo.toml":                                    "[package]\nname = \"notfuzz\"\n[[bin]]\nname = \"plain_bin\"\n",
		"vm/devices/broken-but-unrelated/Cargo.toml":                       "[package\nname = oops",
	})
}

func TestDiscoverOpenVMMShapedTree(t *testing.T) {
	root := openvmmTree(t)
	ws, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range ws.Targets {
		names = append(names, tg.Name)
	}
	sort.Strings(names)
	want := []string{"fuzz_chipset_battery", "fuzz_chipset_cmos_rtc", "fuzz_ide", "fuzz_standalone"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("targets %v, want %v", names, want)
	}
	ide := ws.Target("fuzz_ide")
	if ide.Standalone || ide.WorkspaceRoot != root || ide.Crate != "ide" {
		t.Errorf("fuzz_ide: standalone %v root %s crate %s", ide.Standalone, ide.WorkspaceRoot, ide.Crate)
	}
	if ide.Source != filepath.Join(root, "vm/devices/storage/ide/fuzz/fuzz_main.rs") {
		t.Errorf("custom bin path not honoured: %s", ide.Source)
	}
	if ide.BinaryPath(store.Dev) != filepath.Join(root, "target", HostTriple, "debug", "fuzz_ide") {
		t.Errorf("fuzz_ide dev binary %s", ide.BinaryPath(store.Dev))
	}
	if !reflect.DeepEqual(ide.Options, []string{"-rss_limit_mb=4096"}) {
		t.Errorf("fuzz_ide options %v", ide.Options)
	}
	st := ws.Target("fuzz_standalone")
	if !st.Standalone || st.BinaryPath(store.Release) != filepath.Join(root, "support/standalone/fuzz/target", HostTriple, "release", "fuzz_standalone") {
		t.Errorf("standalone: %v %s", st.Standalone, st.BinaryPath(store.Release))
	}
	if st.Source != filepath.Join(root, "support/standalone/fuzz/src/bin/fuzz_standalone.rs") {
		t.Errorf("default bin path: %s", st.Source)
	}
	if got := ws.Target("fuzz_chipset_battery").Crate; got != "chipset" {
		t.Errorf("chipset crate: %q", got)
	}
	if len(ws.Warnings) != 1 || !strings.Contains(ws.Warnings[0], "broken-but-unrelated") {
		t.Errorf("warnings: %v", ws.Warnings)
	}

	sums, err := Summarize(ws)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sums {
		if s.Name != "fuzz_ide" {
			continue
		}
		if s.Corpus != 2 || s.Artifacts[store.ArtifactCrash] != 1 || s.Artifacts[store.ArtifactTimeout] != 1 || s.Artifacts[store.ArtifactMinimizedFrom] != 1 {
			t.Errorf("fuzz_ide summary: corpus %d artifacts %v", s.Corpus, s.Artifacts)
		}
		if s.Binaries[store.Release].Built {
			t.Errorf("no binary was built, but release says built")
		}
	}
}

func TestDiscoverErrors(t *testing.T) {
	if _, err := Discover(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing dir: %v", err)
	}
	empty := writeTree(t, map[string]string{"Cargo.toml": "[package]\nname = \"x\"\n"})
	if _, err := Discover(empty); !errors.Is(err, ErrNoTargets) {
		t.Errorf("no targets: %v", err)
	}
	broken := writeTree(t, map[string]string{"fuzz/Cargo.toml": "[package]\nname = \"x\"\n[package.metadata]\ncargo-fuzz = tru"})
	_, err := Discover(broken)
	if err == nil || !strings.Contains(err.Error(), filepath.Join("fuzz", "Cargo.toml")) {
		t.Errorf("broken fuzz manifest should be an error naming the file: %v", err)
	}
	dup := writeTree(t, map[string]string{
		"a/fuzz/Cargo.toml": "[package]\nname = \"a\"" + fuzzMeta + "[[bin]]\nname = \"same\"\n",
		"b/fuzz/Cargo.toml": "[package]\nname = \"b\"" + fuzzMeta + "[[bin]]\nname = \"same\"\n",
	})
	if _, err := Discover(dup); err == nil || !strings.Contains(err.Error(), "defined twice") {
		t.Errorf("duplicate target: %v", err)
	}
}

func TestKindOfArtifact(t *testing.T) {
	for name, want := range map[string]store.ArtifactKind{
		"crash-abc":          store.ArtifactCrash,
		"timeout-abc":        store.ArtifactTimeout,
		"oom-abc":            store.ArtifactOOM,
		"leak-abc":           store.ArtifactLeak,
		"slow-unit-abc":      store.ArtifactSlowUnit,
		"minimized-from-abc": store.ArtifactMinimizedFrom,
		"README":             store.ArtifactOther,
		"crashed":            store.ArtifactOther,
	} {
		if got := store.KindOfArtifact(name); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}
