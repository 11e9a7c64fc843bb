package campaign

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

// fixtureJob is a job for one fixture target with fresh directories.
func fixtureJob(t *testing.T, target string, cores int, flags ...string) *Job {
	t.Helper()
	root := fixture.Root()
	fixture.Build(t, root)
	dir := t.TempDir()
	// A private copy of the binary: the test can find its processes by path.
	bin := filepath.Join(dir, target)
	data, err := os.ReadFile(fixture.BinaryPath(t, root, target))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return &Job{Name: target, Binary: bin, Corpus: filepath.Join(dir, "corpus"), Artifacts: filepath.Join(dir, "artifacts"),
		Cores: cores, Dir: dir, Flags: flags}
}

// processesOf lists live processes running binary.
func processesOf(binary string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && strings.TrimSuffix(exe, " (deleted)") == binary {
			out = append(out, pid)
		}
	}
	return out
}

// A short real campaign of two fixture targets: both fuzz, their status
// lines become figures and coverage over time, the crashes they find are
// counted by kind, and the fuzzers are gone when Run returns.
func TestCampaignRealTargets(t *testing.T) {
	cmos := fixtureJob(t, "fuzz_chipset_cmos_rtc", 1)
	battery := fixtureJob(t, "fuzz_chipset_battery", 1, "-max_len=256")
	tmp := t.TempDir()
	cmos.TmpRoot, battery.TmpRoot = tmp, tmp
	var reports int
	var last Progress
	got, err := Run(context.Background(), []*Job{cmos, battery}, Options{Duration: 5 * time.Second, Report: func(p Progress) {
		if p.Target == cmos.Name {
			reports++
			last = p
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		t.Logf("%s: execs %d (%.0f/s) cov %d->%d ft %d->%d corpus %d->%d artifacts %v reported %+v samples %d restarts %d jobs %d",
			r.Name, r.Execs, r.ExecsPerSec, r.CovStart, r.CovEnd, r.FeaturesStart, r.FeaturesEnd, r.CorpusBefore, r.CorpusAfter, r.Artifacts, r.Reported, len(r.Samples), len(r.Restarts), r.Jobs)
		if r.Execs <= 0 || r.ExecsPerSec <= 0 || r.CovEnd <= 0 || r.FeaturesEnd < r.CovEnd || len(r.Samples) == 0 || r.Jobs <= 0 {
			t.Errorf("%s: figures missing: %+v", r.Name, r)
		}
		if r.CorpusBefore != 0 || r.CorpusAfter == 0 || r.CorpusAfter != CountFiles(filepath.Join(filepath.Dir(r.Binary), "corpus")) {
			t.Errorf("%s: corpus %d -> %d", r.Name, r.CorpusBefore, r.CorpusAfter)
		}
		if r.Error != "" || len(r.Restarts) != 0 {
			t.Errorf("%s: stopped or restarted: %q %v", r.Name, r.Error, r.Restarts)
		}
		if len(r.Command) == 0 || !strings.Contains(strings.Join(r.Command, " "), "-fork=1 -max_total_time=5 ") {
			t.Errorf("%s: command %v", r.Name, r.Command)
		}
		for i := 1; i < len(r.Samples); i++ {
			if r.Samples[i].T < r.Samples[i-1].T || r.Samples[i].Execs < r.Samples[i-1].Execs {
				t.Fatalf("%s: samples go backwards at %d: %+v", r.Name, i, r.Samples[i-1:i+1])
			}
		}
	}
	// The fixture's cmos_rtc crashes within milliseconds: files by kind,
	// no more than the crashing jobs (one file per distinct input; a job
	// still running when the time is up may write its file after the
	// parent's last status line: at most one per core).
	c := got[0]
	files := 0
	ents, _ := os.ReadDir(cmos.Artifacts)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "crash-") {
			files++
		}
	}
	if c.Artifacts[store.ArtifactCrash] == 0 || c.Artifacts[store.ArtifactCrash] != files || c.Reported.Crashes < files-cmos.Cores {
		t.Errorf("cmos_rtc: %d crash files counted, %d on disk, %d reported", c.Artifacts[store.ArtifactCrash], files, c.Reported.Crashes)
	}
	if b := got[1]; b.MaxLen != 256 || b.CorpusAtMaxLen > b.CorpusAfter {
		t.Errorf("battery: max_len %d, %d of %d corpus inputs at it", b.MaxLen, b.CorpusAtMaxLen, b.CorpusAfter)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("fork mode's temporary directories left behind: %v", left)
	}
	if reports == 0 || !last.Ended {
		t.Errorf("live view: %d reports, last %+v", reports, last)
	}
	for _, j := range []*Job{cmos, battery} {
		if p := processesOf(j.Binary); len(p) > 0 {
			t.Errorf("%s: processes left after the campaign: %v", j.Name, p)
		}
	}
}

// A fuzzer that ends early is restarted for the time left with the reason
// recorded; one that keeps failing fast is given up on, and the other
// target runs its course regardless.
func TestCampaignRestartsAndGivesUp(t *testing.T) {
	// Not ignoring crashes: cmos_rtc's fuzzer ends at its first crash.
	crashy := fixtureJob(t, "fuzz_chipset_cmos_rtc", 1, "-ignore_crashes=0")
	steady := fixtureJob(t, "fuzz_ata_taskfile", 1, "-max_len=1")
	sup := Supervision{MinLeft: time.Second, Backoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, FastFail: time.Minute, GiveUp: 4, Overrun: 30 * time.Second}
	start := time.Now()
	got, err := Run(context.Background(), []*Job{crashy, steady}, Options{Duration: 6 * time.Second, Supervision: sup})
	if err != nil {
		t.Fatal(err)
	}
	c, s := got[0], got[1]
	if len(c.Restarts) != sup.GiveUp-1 {
		t.Errorf("crashing target restarted %d times, want %d: %+v", len(c.Restarts), sup.GiveUp-1, c.Restarts)
	}
	for _, r := range c.Restarts {
		if !strings.HasPrefix(r.Reason, "exit status 77") || r.Backoff == "" {
			t.Errorf("restart reason %q backoff %q, want libFuzzer's crash exit", r.Reason, r.Backoff)
		}
	}
	if !strings.Contains(c.Error, "4 times in a row") {
		t.Errorf("crashing target not given up on: %q", c.Error)
	}
	if s.Error != "" || len(s.Restarts) != 0 || s.Execs == 0 {
		t.Errorf("the other target was affected: %+v", s)
	}
	if el := time.Since(start); el < 5*time.Second {
		t.Errorf("campaign ended after %s, before its 6 s", el)
	}
}

// Cancelling the campaign (SIGINT in the CLI) stops every fuzzer at once
// and still returns the figures so far.
func TestCampaignInterrupted(t *testing.T) {
	a := fixtureJob(t, "fuzz_ide", 2)
	b := fixtureJob(t, "fuzz_chipset_battery", 1, "-max_len=256")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	begin := time.Now()
	got, err := Run(ctx, []*Job{a, b}, Options{Duration: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(begin); el > time.Minute {
		t.Errorf("stopping took %s", el)
	}
	for _, r := range got {
		if r.Execs == 0 || len(r.Restarts) != 0 {
			t.Errorf("%s: execs %d restarts %v", r.Name, r.Execs, r.Restarts)
		}
	}
	for _, j := range []*Job{a, b} {
		if p := processesOf(j.Binary); len(p) > 0 {
			t.Errorf("%s: processes left after the interrupt: %v", j.Name, p)
		}
	}
}
