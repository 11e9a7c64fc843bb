package triage

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/fuzztriage/triage/store"
)

// testConfig is the defaults with building off and the quick limits
// bugs.yaml gives for the fixture's hang and OOM (-timeout=2,
// -rss_limit_mb=512).
func testConfig() *Config {
	c := DefaultConfig()
	c.Build.Mode = BuildNever
	c.Reproduce.LibFuzzerTimeout = 2
	c.Reproduce.RSSLimitMB = 512
	c.Jobs = 2
	return c
}

func boolp(b bool) *bool { return &b }

// quickConfig also turns off lldb and the dev build.
func quickConfig() *Config {
	c := testConfig()
	c.LLDB.Enabled = boolp(false)
	c.Reproduce.Dev = boolp(false)
	return c
}

func discover(t testing.TB, root string) *Workspace {
	t.Helper()
	ws, err := Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func runPipeline(t testing.TB, root string, cfg *Config, targets ...string) *store.RunRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rec, err := Run(ctx, discover(t, root), Options{Config: cfg, Stages: DefaultStages(), Targets: targets})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rec
}

// loadStore reads the store's records, failing on any malformed one.
func loadStore(t testing.TB, dir string) (map[string]*store.ArtifactRecord, map[string]*store.BucketRecord) {
	t.Helper()
	s := openStore(t, dir)
	arts, bad, err := s.LoadArtifacts()
	if err != nil || len(bad) > 0 {
		t.Fatalf("artifact records: %v %v", err, bad)
	}
	buckets, bad, err := s.LoadBuckets()
	if err != nil || len(bad) > 0 {
		t.Fatalf("bucket records: %v %v", err, bad)
	}
	return arts, buckets
}

// snapshotArtifacts hashes every file in the artifact directories, with
// its mode and mtime, to prove a run never touches them.
func snapshotArtifacts(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tg := range discover(t, root).Targets {
		entries, _ := os.ReadDir(tg.ArtifactDir())
		for _, e := range entries {
			p := filepath.Join(tg.ArtifactDir(), e.Name())
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			sha, _, err := store.FileSHA1(p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = sha + " " + info.Mode().String() + " " + info.ModTime().String()
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func requireStoreSound(t testing.TB, dir string) {
	t.Helper()
	if problems := store.CheckStore(dir); len(problems) > 0 {
		t.Fatalf("store %s is not sound:\n%s", dir, joinLines(problems))
	}
}

func joinLines(s []string) string {
	out := ""
	for _, l := range s {
		out += "  " + l + "\n"
	}
	return out
}

// openStore opens an existing store for a test; closed when the test ends.
func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	s, err := store.OpenExisting(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func needLLDB(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("lldb-19"); err != nil {
		t.Skip("lldb-19 not installed (scripts/setup installs it)")
	}
}
