// Command campaign measures `triage fuzz` on a private copy of the fixture
// workspace (its built binaries shared through symlinks, its corpora and
// artifact directories empty).
//
// Overhead (the default): the campaign's fuzzers run by hand (the exact
// commands `triage fuzz` plans, started together, each to its
// -max_total_time) and then through `triage fuzz --triage off --cmin=false`
// on the same cores for the same time, from empty corpora both times; it
// prints the executions of each and their ratio.
//
// Planted (-planted): one `triage fuzz` campaign from empty corpora,
// triaged after it with one run per input (no lldb, dev build or
// minimization: the bucket of each input is what is counted), then the
// fixture's committed inputs are triaged into the same store the same way,
// which names the bucket of every planted bug; it prints which planted bugs
// the campaign found.
//
//	go run ./bench/campaign -seconds 60
//	go run ./bench/campaign -planted -seconds 600
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fuzztriage/triage/campaign"
	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

func main() {
	seconds := flag.Int("seconds", 60, "campaign length")
	cores := flag.Int("cores", runtime.NumCPU(), "cores")
	planted := flag.Bool("planted", false, "count the planted bugs a campaign finds instead of measuring overhead")
	targets := flag.String("targets", "", "comma-separated targets (default: all)")
	flag.Parse()
	var names []string
	if *targets != "" {
		names = strings.Split(*targets, ",")
	}
	var err error
	if *planted {
		err = plantedBugs(time.Duration(*seconds)*time.Second, *cores, names)
	} else {
		err = overhead(time.Duration(*seconds)*time.Second, *cores, names)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// workspace makes a fresh copy of the fixture with empty corpora and
// artifact directories, and builds bin/triage into dir.
func workspace(dir string) (ws, bin string, err error) {
	root := fixture.Root()
	ws = filepath.Join(dir, "fuzzws")
	if err := fixture.CopySources(root, ws); err != nil {
		return "", "", err
	}
	for _, rel := range []string{"target", "vm/devices/storage/ide/fuzz/target"} {
		if err := os.Symlink(filepath.Join(root, rel), filepath.Join(ws, rel)); err != nil {
			return "", "", err
		}
	}
	w, err := triage.Discover(ws)
	if err != nil {
		return "", "", err
	}
	for _, t := range w.Targets {
		for _, d := range []string{t.ArtifactDir(), t.CorpusDir()} {
			if err := os.RemoveAll(d); err != nil {
				return "", "", err
			}
		}
	}
	bin = filepath.Join(dir, "triage")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/triage").CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return ws, bin, nil
}

func fuzzArgs(ws string, d time.Duration, cores int, names []string, extra ...string) []string {
	args := append([]string{"fuzz", "--no-build", "--cores", fmt.Sprint(cores), "--duration", d.String(), "--progress", "never",
		"--log-level", "warn", "--format", "json"}, extra...)
	return append(append(args, ws), names...)
}

func runCampaign(bin string, args []string) (*store.CampaignRecord, error) {
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rec store.CampaignRecord
	if err := json.Unmarshal(stdout.Bytes(), &rec); err != nil {
		return nil, fmt.Errorf("triage fuzz (%v): no record: %v\n%s", runErr, err, stderr.String())
	}
	return &rec, nil
}

func overhead(d time.Duration, cores int, names []string) error {
	tmp, err := os.MkdirTemp("", "triage-bench-campaign-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// By hand: the planned commands, started together.
	handWS, bin, err := workspace(filepath.Join(tmp, "hand"))
	if err != nil {
		return err
	}
	w, err := triage.Discover(handWS)
	if err != nil {
		return err
	}
	cfg := triage.DefaultConfig()
	cfg.Build.Mode = triage.BuildNever
	w.Configure(cfg)
	plan, err := triage.PlanCampaign(context.Background(), w, triage.FuzzOptions{Options: triage.Options{Config: cfg, Targets: names},
		Duration: d, Cores: cores, Triage: triage.TriageOff})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var handExecs int64
	var wg sync.WaitGroup
	for _, pt := range plan.Targets {
		for _, dir := range []string{pt.Job.Corpus, pt.Job.Artifacts} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
		}
		argv := pt.Job.Command(d)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Dir = pt.Job.Dir
			// As triage fuzz runs them: RUST_BACKTRACE unset (set, even
			// empty, Rust captures a backtrace at every panic).
			cmd.Env = withoutEnv(os.Environ(), "RUST_BACKTRACE")
			stderr, _ := cmd.StderrPipe()
			if err := cmd.Start(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return
			}
			var last int64
			sc := bufio.NewScanner(stderr)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if s, ok := campaign.ParseStatus(sc.Text()); ok {
					last = s.Execs
				}
			}
			_ = cmd.Wait()
			mu.Lock()
			handExecs += last
			mu.Unlock()
		}()
	}
	start := time.Now()
	wg.Wait()
	handWall := time.Since(start)

	// Through triage fuzz, on a fresh copy.
	ws, _, err := workspace(filepath.Join(tmp, "triage"))
	if err != nil {
		return err
	}
	start = time.Now()
	rec, err := runCampaign(bin, fuzzArgs(ws, d, cores, names, "--triage", "off", "--cmin=false"))
	if err != nil {
		return err
	}
	triageWall := time.Since(start)
	var execs int64
	for _, t := range rec.Targets {
		execs += t.Execs
	}
	fmt.Printf("%d targets, %d cores, %s each way, from empty corpora\n", len(plan.Targets), cores, d)
	fmt.Printf("by hand:      %d execs in %s\n", handExecs, handWall.Round(time.Millisecond))
	fmt.Printf("triage fuzz:  %d execs in %s (record: %.0f exec/s over the fuzzers' time)\n", execs, triageWall.Round(time.Millisecond), float64(execs)/d.Seconds())
	fmt.Printf("ratio triage fuzz / by hand: %.3f\n", float64(execs)/float64(max(handExecs, 1)))
	return nil
}

func plantedBugs(d time.Duration, cores int, names []string) error {
	tmp, err := os.MkdirTemp("", "triage-bench-planted-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ws, bin, err := workspace(tmp)
	if err != nil {
		return err
	}
	start := time.Now()
	// Triage after the campaign, one run per input: a 10-minute campaign
	// writes tens of thousands of crash files, and what is counted here is
	// which planted bugs they hold, not the per-bucket work.
	quick := []string{"--triage", "after", "--cmin=false", "--no-lldb", "--no-dev", "--minimize", "off", "--tries", "1"}
	rec, err := runCampaign(bin, fuzzArgs(ws, d, cores, names, quick...))
	if err != nil {
		return err
	}
	campaignWall := time.Since(start)
	found := map[string]bool{}
	for _, b := range rec.NewBuckets {
		found[b.ID] = true
	}
	// The committed inputs name each planted bug's bucket.
	m, err := fixture.LoadManifest(fixture.Root())
	if err != nil {
		return err
	}
	w, err := triage.Discover(ws)
	if err != nil {
		return err
	}
	shaOf := map[string]string{} // bug id -> sha1 of its first committed input
	for _, b := range m.Bugs {
		t := w.Target(b.Target)
		if t == nil || (len(names) > 0 && !slices.Contains(names, b.Target)) {
			continue
		}
		src := fixture.ArtifactPath(fixture.Root(), b.Target, b.Inputs[0].File)
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		dst := filepath.Join(t.ArtifactDir(), filepath.Base(src))
		if err := os.MkdirAll(t.ArtifactDir(), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
		shaOf[b.ID] = store.BytesSHA1(data)
	}
	out, err := exec.Command(bin, append([]string{"run", "--no-build", "--progress", "never", "--log-level", "warn"}, append(quick[4:], ws)...)...).CombinedOutput()
	if err != nil && !strings.Contains(err.Error(), "exit status 1") {
		return fmt.Errorf("triage run: %v\n%s", err, out)
	}
	st, err := store.Open(filepath.Join(ws, ".triage"))
	if err != nil {
		return err
	}
	defer st.Close()
	arts, _, err := st.LoadArtifacts()
	if err != nil {
		return err
	}
	var ids []string
	for id := range shaOf {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	n := 0
	for _, id := range ids {
		a := arts[shaOf[id]]
		bucket := ""
		if a != nil && a.Bucket != nil {
			bucket = a.Bucket.ID
		}
		mark := "  missed"
		if bucket != "" && found[bucket] {
			mark = "  FOUND "
			n++
		}
		fmt.Printf("%s %-24s %s\n", mark, id, bucket)
	}
	var execs int64
	for _, t := range rec.Targets {
		execs += t.Execs
	}
	fmt.Printf("a %s campaign on %d cores (%s with triage and cmin, %d execs, %d new buckets) found %d of %d planted bugs\n",
		d, cores, campaignWall.Round(time.Second), execs, len(rec.NewBuckets), n, len(ids))
	return nil
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
