package triage

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

// helperEnv makes the test binary act as a `triage run` process (see
// TestMain), so the kill test can SIGKILL a real run.
const helperEnv = "TRIAGE_TEST_PIPELINE_WS"

// helperFullEnv makes that run do every step (dev builds, lldb) on the
// target it names.
const helperFullEnv = "TRIAGE_TEST_PIPELINE_FULL"

func TestMain(m *testing.M) {
	if ws := os.Getenv(helperEnv); ws != "" {
		os.Exit(helperRun(ws))
	}
	os.Exit(m.Run())
}

// killTargets are the targets the kill test triages: two crash-only
// targets (24 inputs, 7 buckets; no multi-second timeouts), so runs are
// short and the kills land in every phase.
var killTargets = []string{"fuzz_chipset_cmos_rtc", "fuzz_chipset_battery"}

func killConfig() *Config {
	c := quickConfig()
	c.Reproduce.Tries = 2
	return c
}

func helperRun(root string) int {
	ws, err := Discover(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	last := ""
	progress := func(p Progress) {
		if p.Phase != last {
			last = p.Phase
			fmt.Fprintf(os.Stderr, "phase %s\n", p.Phase)
		}
	}
	cfg, targets := killConfig(), killTargets
	if target := os.Getenv(helperFullEnv); target != "" {
		// Every step: dev builds, lldb sessions.
		cfg, targets = testConfig(), []string{target}
	}
	_, err = Run(context.Background(), ws, Options{Config: cfg, Stages: DefaultStages(), Targets: targets, Progress: progress})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestKillAtRandomPointsLosesNothing SIGKILLs a real run (reproducing,
// bucketing, minimizing) at random moments, 24 times, restarting it each
// time; after every kill every record on disk must still parse, and the
// run that finally completes must leave a complete, consistent store equal
// to what one uninterrupted run produces.
func TestKillAtRandomPointsLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts real runs")
	}
	// The reference: one uninterrupted run.
	ref := fixture.BuiltCopy(t)
	runPipeline(t, ref, killConfig(), killTargets...)
	refArts, refBuckets := loadStore(t, killConfig().StoreDir(ref))

	root := fixture.BuiltCopy(t)
	before := snapshotArtifacts(t, root)
	storeDir := killConfig().StoreDir(root)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	const kills = 24
	killed, completed := 0, 0
	phases := map[string]int{}
runs:
	for killed < kills {
		// A cycle of three: start from an empty store and kill while the
		// inputs are reproduced (a short phase that a kill at a random
		// moment of the whole run rarely hits); resume and kill while the
		// buckets are worked on; resume and kill at any moment.
		aim := []string{"reproduce", "buckets", ""}[killed%3]
		if aim == "reproduce" {
			if err := os.RemoveAll(storeDir); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+root)
		stderrPipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var stderr strings.Builder
		phaseSeen := make(chan string, 16)
		copied := make(chan struct{})
		go func() {
			defer close(copied)
			sc := bufio.NewScanner(stderrPipe)
			for sc.Scan() {
				mu.Lock()
				stderr.WriteString(sc.Text() + "\n")
				mu.Unlock()
				if p, ok := strings.CutPrefix(sc.Text(), "phase "); ok {
					select {
					case phaseSeen <- p:
					default:
					}
				}
			}
		}()
		done := make(chan error, 1)
		go func() {
			<-copied
			done <- cmd.Wait()
		}()
		var delay time.Duration
		var timer <-chan time.Time
		if aim != "" {
			delay = time.Duration(rng.Int63n(int64(400 * time.Millisecond)))
		} else {
			delay = time.Duration(rng.Int63n(int64(1500 * time.Millisecond)))
			timer = time.After(delay)
		}
	wait:
		for {
			select {
			case err := <-done:
				if err != nil {
					mu.Lock()
					msg := stderr.String()
					mu.Unlock()
					t.Fatalf("run failed: %v\n%s\nprocesses holding the lock: %s", err, msg, lockHolders(storeDir))
				}
				// A run that finished on its own after earlier kills must
				// leave the store the uninterrupted run leaves; then start a
				// new cycle from an empty store so kills land everywhere.
				requireSameStore(t, storeDir, refArts, refBuckets)
				completed++
				if err := os.RemoveAll(storeDir); err != nil {
					t.Fatal(err)
				}
				continue runs
			case p := <-phaseSeen:
				if p == aim {
					timer = time.After(delay)
				}
				continue
			case <-timer:
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
			// Bucket work runs beside the first runs, so progress lines
			// of both phases interleave: a kill after the first bucket's
			// work began counts as one in the buckets phase.
			phase := "start"
			mu.Lock()
			for _, l := range strings.Split(stderr.String(), "\n") {
				if p, ok := strings.CutPrefix(l, "phase "); ok && phase != "buckets" {
					phase = p
				}
			}
			mu.Unlock()
			phases[phase]++
			break wait
		}
		// Nothing the run started outlives it: fuzz binaries, their
		// minimizer's `sh -c` children, lldb and lldb-server.
		if left := waitNoSurvivors(root, 5*time.Second); len(left) > 0 {
			t.Fatalf("after kill %d (at %s) these processes of the run survive:\n%s", killed, delay, strings.Join(left, "\n"))
		}
		// Whatever was written must be readable: atomic writes only.
		s := openStore(t, storeDir)
		if _, bad, err := s.LoadArtifacts(); err != nil || len(bad) > 0 {
			t.Fatalf("after kill %d (at %s): %v %v", killed, delay, err, bad)
		}
		if _, bad, err := s.LoadBuckets(); err != nil || len(bad) > 0 {
			t.Fatalf("after kill %d (at %s): %v %v", killed, delay, err, bad)
		}
	}
	t.Logf("%d runs killed at random points (by phase: %v); %d runs completed after kills", killed, phases, completed)
	if phases["reproduce"] == 0 || phases["buckets"] == 0 {
		t.Errorf("kills by phase %v: want kills while only reproducing and after bucket work began", phases)
	}

	// The final, uninterrupted run completes the store.
	final := runPipeline(t, root, killConfig(), killTargets...)
	if final.Artifacts.Failed != 0 || len(final.Failures) != 0 {
		t.Fatalf("final run: %+v %+v", final.Artifacts, final.Failures)
	}
	requireSameStore(t, storeDir, refArts, refBuckets)
	_, buckets := loadStore(t, storeDir)
	// Every bucket was reported as new by some completed run (at least
	// once: a run killed after writing its run record but before marking
	// its buckets reports them again).
	reported := map[string]bool{}
	st, err := store.OpenExisting(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, _ := st.Runs()
	for _, p := range runs {
		r, err := st.LoadRun(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range r.NewBuckets {
			reported[b.ID] = true
		}
	}
	var missing []string
	for id := range buckets {
		if !reported[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("buckets never reported as new by any run: %v", missing)
	}
	if after := snapshotArtifacts(t, root); !reflect.DeepEqual(before, after) {
		t.Error("artifacts changed")
	}
}

// requireSameStore checks a store is sound and holds what the
// uninterrupted reference run produced.
func requireSameStore(t *testing.T, storeDir string, refArts map[string]*store.ArtifactRecord, refBuckets map[string]*store.BucketRecord) {
	t.Helper()
	requireStoreSound(t, storeDir)
	arts, buckets := loadStore(t, storeDir)
	if got, want := sortedKeys(arts), sortedKeys(refArts); !reflect.DeepEqual(got, want) {
		t.Fatalf("artifact records %v, want %v", got, want)
	}
	for sha, r := range arts {
		if (r.Bucket == nil) != (refArts[sha].Bucket == nil) || (r.Bucket != nil && r.Bucket.ID != refArts[sha].Bucket.ID) {
			t.Errorf("%s: bucket %+v, uninterrupted run says %+v", sha, r.Bucket, refArts[sha].Bucket)
		}
	}
	if got, want := sortedKeys(buckets), sortedKeys(refBuckets); !reflect.DeepEqual(got, want) {
		t.Fatalf("buckets %v, want %v", got, want)
	}
	for id, b := range buckets {
		rb := refBuckets[id]
		if b.MemberCount != rb.MemberCount || b.Representative.SHA1 != rb.Representative.SHA1 {
			t.Errorf("bucket %s: %d members rep %s; uninterrupted: %d rep %s", id, b.MemberCount, b.Representative.SHA1, rb.MemberCount, rb.Representative.SHA1)
		}
		if b.Minimized == nil || !b.Minimized.Verified || b.Minimized.From != b.Representative.SHA1 {
			t.Errorf("bucket %s: minimization missing after the kills: %+v", id, b.Minimized)
		}
		if b.ReportedMembers != b.MemberCount {
			t.Errorf("bucket %s: reported %d of %d members", id, b.ReportedMembers, b.MemberCount)
		}
	}
}

// lockHolders lists the processes with the store's lock file open, for a
// failure message.
func lockHolders(storeDir string) string {
	lock := filepath.Join(storeDir, "lock")
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		if target, err := os.Readlink(fd); err == nil && target == lock {
			pid := strings.Split(fd, "/")[2]
			cmdline, _ := os.ReadFile("/proc/" + pid + "/cmdline")
			stat, _ := os.ReadFile("/proc/" + pid + "/stat")
			out = append(out, pid+" "+strings.ReplaceAll(string(cmdline), "\x00", " ")+" | "+string(stat))
		}
	}
	return strings.Join(out, "\n")
}

// survivors lists live processes (not this test process) whose command
// line or working directory is inside root: everything a run on that
// workspace starts names it (binaries, inputs, store scratch directories).
func survivors(root string) []string {
	self := os.Getpid()
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid := filepath.Base(d)
		if pid == fmt.Sprint(self) {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			continue // a zombie holds nothing
		}
		cmdline, _ := os.ReadFile(d + "/cmdline")
		cwd, _ := os.Readlink(d + "/cwd")
		if strings.Contains(string(cmdline), root) || strings.HasPrefix(cwd, root) {
			out = append(out, pid+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}

// waitNoSurvivors waits up to d for survivors(root) to be empty, and
// returns (and kills) what is left.
func waitNoSurvivors(root string, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		left := survivors(root)
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			for _, l := range left {
				var pid int
				fmt.Sscan(l, &pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKillLeavesNoOrphan SIGKILLs full runs (dev builds and lldb on) at
// random moments: while a hang is reproduced (fuzz_wire_decode's timeouts
// come first), and while buckets are minimized, reproduced on the dev
// build and debugged (fuzz_chipset_cmos_rtc). Every process a run started
// dies with it, grandchildren included (the minimizer's `sh -c` children,
// lldb-server and its inferior).
func TestKillLeavesNoOrphan(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real runs")
	}
	needLLDB(t)
	root := fixture.BuiltCopy(t)
	storeDir := testConfig().StoreDir(root)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for i, c := range []struct{ target, phase string }{
		{"fuzz_wire_decode", "reproduce"}, {"fuzz_chipset_cmos_rtc", "buckets"}, {"fuzz_chipset_cmos_rtc", "buckets"},
		{"fuzz_wire_decode", "reproduce"}, {"fuzz_chipset_cmos_rtc", "buckets"}, {"fuzz_chipset_cmos_rtc", "buckets"},
	} {
		if err := os.RemoveAll(storeDir); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), helperEnv+"="+root, helperFullEnv+"="+c.target)
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		reached := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				if sc.Text() == "phase "+c.phase {
					close(reached)
					break
				}
			}
			_, _ = io.Copy(io.Discard, stderr)
		}()
		select {
		case <-reached:
		case <-time.After(2 * time.Minute):
			t.Fatalf("kill %d: the run never reached phase %s", i, c.phase)
		}
		time.Sleep(time.Duration(rng.Int63n(int64(2 * time.Second))))
		running := survivors(root)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if left := waitNoSurvivors(root, 5*time.Second); len(left) > 0 {
			t.Fatalf("kill %d: these processes of the run survive:\n%s\n(running at the kill:\n%s)", i, strings.Join(left, "\n"), strings.Join(running, "\n"))
		}
		t.Logf("kill %d (%s, %s): %d processes of the run were running; none survived:\n%s", i, c.target, c.phase, len(running), strings.Join(running, "\n"))
	}
}
