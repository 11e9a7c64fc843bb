package triage

import (
	"bufio"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/coverage"
	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
)

// coverageWorkspace is a private copy of the fixture (binaries shared,
// coverage ones built) whose fuzz_ata_taskfile corpus holds n seeded
// random inputs and the committed crash input of ata-assert-transfer.
func coverageWorkspace(t *testing.T, n int) (ws *Workspace, cfg *Config, crasher string) {
	t.Helper()
	if _, err := procrun.LookPath("llvm-cov-22"); err != nil {
		t.Fatal("llvm-cov-22 is not installed (llvm-22 is in scripts/apt-packages.txt)")
	}
	root := fixture.Root()
	fixture.Build(t, root, "--coverage")
	copyRoot := fixture.BuiltCopy(t)
	ws = discover(t, copyRoot)
	cfg = testConfig()
	// The binaries were built in the fixture, not in the copy.
	cfg.Bucket.PathMap = []string{root + "=" + copyRoot}
	ws.Configure(cfg)
	tg := ws.Target("fuzz_ata_taskfile")
	corpus := tg.CorpusDir()
	if err := os.MkdirAll(corpus, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(11))
	for i := range n {
		b := make([]byte, 1+rng.Intn(64))
		rng.Read(b)
		if i%3 == 0 {
			b[0] = 0x30 // WRITE SECTORS: reaches the checks
		}
		os.WriteFile(filepath.Join(corpus, "in"+strconv.Itoa(i)), b, 0o644)
	}
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	bug := m.Bug("ata-assert-transfer")
	data, err := os.ReadFile(fixture.ArtifactPath(root, tg.Name, bug.Inputs[0].File))
	if err != nil {
		t.Fatal(err)
	}
	crasher = filepath.Join(corpus, "zz-crasher")
	if err := os.WriteFile(crasher, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return ws, cfg, crasher
}

// llvmCovReport is llvm-cov report's lines found and missed per file.
func llvmCovReport(t *testing.T, bin, profdata string, files ...string) map[string][2]int {
	t.Helper()
	res, err := procrun.Run(context.Background(), procrun.Spec{Path: "llvm-cov-22", Args: append([]string{"report", bin, "-instr-profile=" + profdata}, files...), Leaf: true})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("llvm-cov report: %v %s", err, res.Stderr)
	}
	out := map[string][2]int{}
	sc := bufio.NewScanner(strings.NewReader(string(res.Stdout)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// Filename Regions Missed Cover Functions Missed Executed Lines Missed Cover ...
		if len(f) >= 10 && strings.HasSuffix(f[0], ".rs") {
			lines, _ := strconv.Atoi(f[7])
			missed, _ := strconv.Atoi(f[8])
			out[filepath.Base(f[0])] = [2]int{lines, missed}
		}
	}
	return out
}

// markers finds the `// COVERAGE(class)` lines of a file.
func markers(t *testing.T, file string) map[int]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`// COVERAGE\(([a-z-]+)\)`)
	out := map[int]string{}
	for i, l := range strings.Split(string(data), "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			out[i+1] = m[1]
		}
	}
	return out
}

// The figures agree with llvm-cov's own report for the same profile, the
// crashing input's counts are in (its assert line is covered), and each
// planted kind of uncovered code gets its class.
func TestCoverageOfFixtureTarget(t *testing.T) {
	ws, cfg, _ := coverageWorkspace(t, 300)
	profiles := t.TempDir()
	res, err := Coverage(context.Background(), ws, CoverageOptions{Config: cfg, Targets: []string{"fuzz_ata_taskfile"}, ProfileDir: profiles})
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if len(r.Crashers) != 1 || !strings.HasSuffix(r.Crashers[0], "zz-crasher") || r.Inputs != 301 {
		t.Fatalf("inputs %d, crashers %v", r.Inputs, r.Crashers)
	}
	tg := ws.Target("fuzz_ata_taskfile")
	ata := filepath.Join(tg.CrateDir, "src", "ata.rs")
	lib := filepath.Join(tg.CrateDir, "src", "lib.rs")
	root := fixture.Root()
	rel := func(p string) string { r, _ := filepath.Rel(ws.Root, p); return r }
	want := llvmCovReport(t, r.Binary, filepath.Join(profiles, "fuzz_ata_taskfile.profdata"),
		filepath.Join(root, rel(ata)), filepath.Join(root, rel(lib)))
	var primary coverage.Count
	for _, f := range r.Report.Files {
		w, ok := want[filepath.Base(f.Path)]
		if f.Scope != coverage.Primary {
			continue
		}
		if !ok {
			t.Errorf("primary file %s not in llvm-cov's report %v", f.Path, want)
			continue
		}
		if f.Figures.Lines.Found != w[0] || f.Figures.Lines.Hit != w[0]-w[1] {
			t.Errorf("%s: lines %d/%d, llvm-cov report says %d/%d", f.Path, f.Figures.Lines.Hit, f.Figures.Lines.Found, w[0]-w[1], w[0])
		}
		primary.Found += w[0]
		primary.Hit += w[0] - w[1]
	}
	if got := r.Report.Scope(coverage.Primary).Figures.Lines; got != primary || got.Found == 0 {
		t.Errorf("primary scope lines %+v, llvm-cov report %+v", got, primary)
	}
	// The crasher's lines: the assert only it reaches.
	m, _ := fixture.LoadManifest(root)
	bugLine := m.Bug("ata-assert-transfer").Line
	for _, f := range r.Report.Files {
		if strings.HasSuffix(f.Path, "ata.rs") {
			for _, l := range f.Uncovered {
				if l == bugLine {
					t.Errorf("ata.rs:%d (the crashing input's assert) is uncovered: the crash's counts were lost", bugLine)
				}
			}
		}
	}
	// Each planted line lies in a gap of its class.
	for line, class := range markers(t, ata) {
		found := false
		for _, g := range r.Report.Gaps {
			if strings.HasSuffix(g.File, "ata.rs") && g.StartLine <= line && line <= g.EndLine {
				found = true
				if g.Class != class {
					t.Errorf("ata.rs:%d is in a %s gap (%s), want %s", line, g.Class, g.Reason, class)
				}
			}
		}
		if !found {
			t.Errorf("ata.rs:%d (%s) is in no gap", line, class)
		}
	}
}

// The ratchet: removing the corpus input that alone covered lines makes
// the next run fall, and names the lines it lost.
func TestCoverageRatchet(t *testing.T) {
	ws, cfg, crasher := coverageWorkspace(t, 120)
	cfg.Coverage.Tolerance = 0
	opts := CoverageOptions{Config: cfg, Targets: []string{"fuzz_ata_taskfile"}}
	first, err := Coverage(context.Background(), ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Previous != nil {
		t.Fatal("a first run has a previous record")
	}
	again, err := Coverage(context.Background(), ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	if c := again[0].Comparison; c == nil || c.Fell || len(c.Lost) != 0 {
		t.Fatalf("the same corpus again: %+v", c)
	}
	if err := os.Remove(crasher); err != nil {
		t.Fatal(err)
	}
	after, err := Coverage(context.Background(), ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	c := after[0].Comparison
	if c == nil || !c.Fell || c.After >= c.Before {
		t.Fatalf("coverage did not fall after removing the input: %+v", c)
	}
	lost := false
	for _, l := range c.Lost {
		if strings.HasSuffix(l.File, "ata.rs") {
			lost = true
		}
	}
	if !lost {
		t.Errorf("lost lines %+v do not name ata.rs", c.Lost)
	}
}
