// Command coverage measures `triage coverage` on a large corpus against
// the two other ways to replay one: one process per input (what a shell
// loop does) and `cargo fuzz coverage`'s -merge=1 replay (one process,
// restarted by libFuzzer past each crash, whose crashed processes' counts
// are lost). All three run in one invocation on the same corpus of
// fuzz_ide inputs (seeded random ones and the fixture's crashing inputs)
// and the same coverage binary; it prints each one's wall time and
// primary-scope lines, and the ratios.
//
//	go run ./bench/coverage -n 3000
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/triage"
)

func main() {
	n := flag.Int("n", 3000, "random inputs in the corpus (the fixture's crashing inputs are added)")
	flag.Parse()
	if err := run(*n); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n int) error {
	root := fixture.Root()
	tmp, err := os.MkdirTemp("", "triage-bench-coverage-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if out, err := exec.Command(filepath.Join(root, "fuzz-build"), "--coverage", "fuzz_ide").CombinedOutput(); err != nil {
		return fmt.Errorf("fuzz-build --coverage: %v\n%s", err, out)
	}
	ws := filepath.Join(tmp, "fuzzws")
	if err := fixture.CopySources(root, ws); err != nil {
		return err
	}
	for _, rel := range []string{"target", "vm/devices/storage/ide/fuzz/target"} {
		if err := os.Symlink(filepath.Join(root, rel), filepath.Join(ws, rel)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(ws, "triage.yaml"), []byte(fmt.Sprintf("bucket:\n  path_map: [%q]\n", root+"="+ws)), 0o644); err != nil {
		return err
	}
	w, err := triage.Discover(ws)
	if err != nil {
		return err
	}
	t := w.Target("fuzz_ide")
	corpus := t.CorpusDir()
	if err := os.MkdirAll(corpus, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewSource(5))
	for i := range n {
		b := make([]byte, 1+rng.Intn(48))
		rng.Read(b)
		if err := os.WriteFile(filepath.Join(corpus, fmt.Sprintf("in%05d", i)), b, 0o644); err != nil {
			return err
		}
	}
	crashers := 0
	arts, _ := filepath.Glob(filepath.Join(filepath.Join(root, "vm/devices/storage/ide/fuzz/artifacts/fuzz_ide"), "crash-*"))
	for _, a := range arts {
		data, err := os.ReadFile(a)
		if err != nil {
			return err
		}
		os.WriteFile(filepath.Join(corpus, filepath.Base(a)), data, 0o644)
		crashers++
	}
	bin := filepath.Join(tmp, "triage")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/triage").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	cfg := triage.DefaultConfig()
	w.Configure(cfg)
	covBin := t.BinaryPath("coverage")
	fmt.Printf("corpus: %d inputs (%d random, %d crashing), fuzz_ide coverage binary %s\n", n+crashers, n, crashers, covBin)

	// triage coverage.
	start := time.Now()
	cmd := exec.Command(bin, "coverage", "--no-build", "--progress", "never", "--log-level", "warn", "--format", "json", ws, "fuzz_ide")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("triage coverage: %v\n%s", err, stderr.String())
	}
	triageWall := time.Since(start)
	var out []struct {
		Report struct {
			Scopes []struct {
				Scope   string `json:"scope"`
				Figures struct {
					Lines struct{ Found, Hit int } `json:"lines"`
				} `json:"figures"`
			} `json:"scopes"`
		} `json:"report"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil || len(out) != 1 {
		return fmt.Errorf("triage coverage output: %v", err)
	}
	triageLines := ""
	for _, s := range out[0].Report.Scopes {
		if s.Scope == "primary" {
			triageLines = fmt.Sprintf("%d/%d", s.Figures.Lines.Hit, s.Figures.Lines.Found)
		}
	}

	inputs, _ := filepath.Glob(filepath.Join(corpus, "*"))
	primary := []string{filepath.Join(root, "vm/devices/storage/ide/src/lib.rs"), filepath.Join(root, "vm/devices/storage/ide/src/ata.rs")}

	// One process per input.
	per := filepath.Join(tmp, "per-input")
	os.MkdirAll(per, 0o755)
	start = time.Now()
	for _, in := range inputs {
		c := exec.Command(covBin, "-artifact_prefix="+per+"/", in)
		c.Env = append(withoutEnv(os.Environ(), "RUST_BACKTRACE"), "LLVM_PROFILE_FILE="+filepath.Join(per, "%m_%p.profraw"))
		_ = c.Run()
	}
	perLines, err := mergeAndReport(per, covBin, primary)
	if err != nil {
		return err
	}
	perWall := time.Since(start)

	// cargo fuzz coverage's way: -merge=1 into an empty directory.
	mrg := filepath.Join(tmp, "merge")
	os.MkdirAll(filepath.Join(mrg, "out"), 0o755)
	start = time.Now()
	c := exec.Command(covBin, "-merge=1", "-artifact_prefix="+mrg+"/", filepath.Join(mrg, "out"), corpus)
	c.Env = append(withoutEnv(os.Environ(), "RUST_BACKTRACE"), "LLVM_PROFILE_FILE="+filepath.Join(mrg, "%m.profraw"))
	_ = c.Run()
	mergeLines, err := mergeAndReport(mrg, covBin, primary)
	if err != nil {
		return err
	}
	mergeWall := time.Since(start)

	fmt.Printf("triage coverage (incl. merge, export, report): %8.2fs  primary lines %s\n", triageWall.Seconds(), triageLines)
	fmt.Printf("one process per input (+ merge, report):        %8.2fs  primary lines %s\n", perWall.Seconds(), perLines)
	fmt.Printf("-merge=1 replay, cargo fuzz coverage (+ merge):  %8.2fs  primary lines %s\n", mergeWall.Seconds(), mergeLines)
	fmt.Printf("ratios: per-input / triage %.1f, merge-replay / triage %.2f\n", perWall.Seconds()/triageWall.Seconds(), mergeWall.Seconds()/triageWall.Seconds())
	return nil
}

// mergeAndReport merges dir's raw profiles and returns llvm-cov report's
// lines hit/found over the primary files.
func mergeAndReport(dir, bin string, files []string) (string, error) {
	raws, _ := filepath.Glob(filepath.Join(dir, "*.profraw"))
	if len(raws) == 0 {
		return "no profile", nil
	}
	list := filepath.Join(dir, "inputs.txt")
	os.WriteFile(list, []byte(strings.Join(raws, "\n")), 0o644)
	prof := filepath.Join(dir, "merged.profdata")
	if out, err := exec.Command("llvm-profdata-22", "merge", "-sparse", "-f", list, "-o", prof).CombinedOutput(); err != nil {
		return "", fmt.Errorf("merge: %v %s", err, out)
	}
	out, err := exec.Command("llvm-cov-22", append([]string{"report", bin, "-instr-profile=" + prof}, files...)...).Output()
	if err != nil {
		return "", err
	}
	found, missed := 0, 0
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 10 && strings.HasSuffix(f[0], ".rs") {
			a, _ := strconv.Atoi(f[7])
			b, _ := strconv.Atoi(f[8])
			found += a
			missed += b
		}
	}
	return fmt.Sprintf("%d/%d", found-missed, found), nil
}

// withoutEnv is env without the variable name.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
