package report

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

// builtCopy is a private copy of the fixture's sources whose target dirs
// are the fixture's built ones (symlinked), so the copy's inputs can be
// changed without building anything.
func builtCopy(t testing.TB, dir string) string {
	t.Helper()
	root := fixture.Root()
	fixture.Build(t, root)
	fixture.Build(t, root, "--dev")
	c := copyTree(t, root, dir)
	for _, rel := range []string{"target", "vm/devices/storage/ide/fuzz/target"} {
		if err := os.Symlink(filepath.Join(root, rel), filepath.Join(c, rel)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// copyTree copies the fixture's sources (as fixture.CopyWorkspace does,
// without the corpora) into dir, which outlives the test (the shared store
// is reused by several tests of this process).
func copyTree(t testing.TB, src, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, "fuzzws")
	if err := fixture.CopySources(src, dst, "corpus"); err != nil {
		t.Fatal(err)
	}
	return dst
}

// keepArtifacts removes every artifact of the copy but the named files
// (target -> file names), moving the rest into hold/ (kept for later nights).
func keepArtifacts(t testing.TB, root, hold string, keep map[string][]string) {
	t.Helper()
	for target, dir := range fixture.FuzzDirs {
		adir := filepath.Join(root, dir, "artifacts", target)
		entries, err := os.ReadDir(adir)
		if err != nil {
			continue
		}
		wanted := map[string]bool{}
		for _, f := range keep[target] {
			wanted[f] = true
		}
		for _, e := range entries {
			if wanted[e.Name()] {
				continue
			}
			to := filepath.Join(hold, target, e.Name())
			if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(filepath.Join(adir, e.Name()), to); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// testConfig is the defaults with building off and quick libFuzzer limits
// for the fixture's hang and OOM: a -timeout with headroom for the OOM
// input to reach a lower -rss_limit_mb first, even on a loaded machine
// (with bugs.yaml's -timeout=2 and 512 MB it sometimes times out first).
func testConfig() *triage.Config {
	c := triage.DefaultConfig()
	c.Build.Mode = triage.BuildNever
	c.Reproduce.LibFuzzerTimeout = 3
	c.Reproduce.RSSLimitMB = 256
	c.Reproduce.Tries = 2
	c.Jobs = 2
	return c
}

func runNight(t testing.TB, root string, cfg *triage.Config, targets ...string) *store.RunRecord {
	t.Helper()
	return runNightAllowing(t, root, cfg, nil, targets...)
}

// runNightAllowing runs the pipeline; failures of the stages in allowed
// are expected (the record keeps them), any other fails the test.
func runNightAllowing(t testing.TB, root string, cfg *triage.Config, allowed map[string]bool, targets ...string) *store.RunRecord {
	t.Helper()
	ws, err := triage.Discover(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rec, err := triage.Run(ctx, ws, triage.Options{Config: cfg, Stages: triage.DefaultStages(), Targets: targets})
	if err != nil {
		t.Fatalf("triage run: %v", err)
	}
	for _, f := range rec.Failures {
		if !allowed[f.Stage] {
			t.Fatalf("triage run failure: %+v", f)
		}
		t.Logf("expected failure, kept in the record: %+v", f)
	}
	return rec
}

// goldenStore is a store made by the real pipeline (release and dev
// builds, minimization, lldb-19) from one committed input of every planted
// bug: every crash kind of the fixture. It is built once per test process.
type goldenStore struct {
	root, store string
	// bugOf maps bucket id -> bugs.yaml bug id.
	bugOf map[string]string
	// manifest is bugs.yaml.
	manifest *fixture.Manifest
	err      error
}

var (
	golden     goldenStore
	goldenOnce sync.Once
	goldenDir  string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "report-test-*")
	if err != nil {
		panic(err)
	}
	goldenDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func sharedStore(t *testing.T) *goldenStore {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a store with the whole pipeline on the fixture")
	}
	goldenOnce.Do(func() {
		start := time.Now()
		m, err := fixture.LoadManifest(fixture.Root())
		if err != nil {
			golden.err = err
			return
		}
		golden.manifest = m
		root := builtCopy(t, goldenDir)
		keep := map[string][]string{}
		for _, b := range m.Bugs {
			keep[b.Target] = append(keep[b.Target], b.Inputs[0].File)
		}
		keepArtifacts(t, root, filepath.Join(goldenDir, "held"), keep)
		cfg := testConfig()
		// lldb cannot stop an OOM: libFuzzer's RSS thread exits the
		// process without a signal; the report shows the session's error.
		runNightAllowing(t, root, cfg, map[string]bool{"lldb-release": true, "lldb-dev": true})
		golden.root, golden.store = root, cfg.StoreDir(root)
		golden.bugOf = map[string]string{}
		for _, b := range m.Bugs {
			sha, _, err := store.FileSHA1(fixture.ArtifactPath(root, b.Target, b.Inputs[0].File))
			if err != nil {
				golden.err = err
				return
			}
			data, err := os.ReadFile(filepath.Join(golden.store, "artifacts", sha+".yaml"))
			if err != nil {
				golden.err = err
				return
			}
			id := regexp.MustCompile(`(?m)^  id: (v\d+-[0-9a-f]+)$`).FindSubmatch(data)
			if id == nil {
				golden.err = &store.MalformedError{Path: sha, Err: os.ErrNotExist}
				return
			}
			golden.bugOf[string(id[1])] = b.ID
		}
		t.Logf("shared store: %d bugs triaged with lldb in %s", len(m.Bugs), time.Since(start).Round(time.Millisecond))
	})
	if golden.err != nil {
		t.Fatal(golden.err)
	}
	if golden.root == "" {
		t.Fatal("the shared store could not be built (see the first test's log)")
	}
	return &golden
}

// normalize replaces what changes from run to run and machine to machine:
// times, absolute paths, addresses.
func normalize(s string, roots map[string]string) string {
	keys := make([]string, 0, len(roots))
	for k := range roots {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		s = strings.ReplaceAll(s, k, roots[k])
	}
	s = timeRE.ReplaceAllString(s, "<TIME>")
	s = addrRE.ReplaceAllString(s, "0x<ADDR>")
	s = pidRE.ReplaceAllString(s, "${1}<PID>")
	return s
}

var (
	timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?( UTC|Z)?`)
	addrRE = regexp.MustCompile(`0x[0-9a-f]{8,16}`)
	pidRE  = regexp.MustCompile(`(Process |pid )\d+`)
)

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
