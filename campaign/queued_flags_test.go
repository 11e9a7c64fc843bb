package campaign

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/procrun"
)

// Every entry of the table is complete, and none is a flag the runner
// sets itself or one that names a path.
func TestQueuedFlagsTableComplete(t *testing.T) {
	name := regexp.MustCompile(`^[a-z][a-z_]*$`)
	runnerSets := map[string]bool{}
	for _, f := range append(append([]string{}, DefaultFlags...), (&Job{}).Command(time.Second)[1:]...) {
		if n, _, ok := strings.Cut(strings.TrimPrefix(f, "-"), "="); ok {
			runnerSets[n] = true
		}
	}
	seen := map[string]bool{}
	for _, r := range QueuedFlags {
		switch {
		case !name.MatchString(r.Name):
			t.Errorf("%+v: the name is not a libFuzzer flag name", r)
		case seen[r.Name]:
			t.Errorf("%s is listed twice", r.Name)
		case r.Min > r.Max || r.Min < 0:
			t.Errorf("%s: bounds %d..%d", r.Name, r.Min, r.Max)
		case r.Why == "":
			t.Errorf("%s: no reason", r.Name)
		case runnerSets[r.Name]:
			t.Errorf("%s is set by the campaign runner", r.Name)
		}
		seen[r.Name] = true
	}
	if len(runnerSets) < 6 {
		t.Fatalf("the runner's own flags were not found: %v", runnerSets)
	}
}

func TestCheckQueuedFlags(t *testing.T) {
	for _, r := range QueuedFlags {
		ok := []string{fmt.Sprintf("-%s=%d", r.Name, r.Min), fmt.Sprintf("-%s=%d", r.Name, r.Max)}
		if err := CheckQueuedFlags(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
		if err := CheckQueuedFlags([]string{fmt.Sprintf("-%s=%d", r.Name, r.Max+1)}); err == nil {
			t.Errorf("%s above its bound was accepted", r.Name)
		}
	}
	for _, bad := range []string{
		"-dict=/etc/passwd", "-artifact_prefix=/tmp/x/", "-exact_artifact_path=/tmp/x", "-fork=64",
		"-max_total_time=1", "-ignore_crashes=0", "-close_fd_mask=3", "-max_len=1e3", "-max_len=-1",
		"max_len=3", "-max_len", "-max_len=3\n-dict=x", "-max_len= 3", "-runs=0",
	} {
		err := CheckQueuedFlags([]string{"-max_len=64", bad})
		var qe *QueuedFlagError
		if !errors.As(err, &qe) || qe.Flag != bad || !strings.Contains(err.Error(), "cannot go to a worker") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := CheckQueuedFlags(nil); err != nil {
		t.Error(err)
	}
}

// libFuzzer itself knows every listed flag: a fixture fuzzer given them
// all warns about none.
func TestQueuedFlagsAreLibFuzzers(t *testing.T) {
	j := fixtureJob(t, "fuzz_wire_decode", 1)
	args := []string{"-runs=0"}
	for _, r := range QueuedFlags {
		v := r.Max
		if r.Name == "timeout" || r.Name == "rss_limit_mb" || r.Name == "malloc_limit_mb" || r.Name == "report_slow_units" {
			v = r.Min + 100 // a real limit, not 0 (off) or a day
		}
		args = append(args, fmt.Sprintf("-%s=%d", r.Name, v))
	}
	res, err := procrun.Run(context.Background(), procrun.Spec{Path: j.Binary, Args: args, Dir: j.Dir, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Stdout) + string(res.Stderr)
	if strings.Contains(out, "unrecognized flag") || res.ExitCode != 0 {
		t.Fatalf("exit %d:\n%s", res.ExitCode, out)
	}
	if !strings.Contains(out, "-seed=") && !strings.Contains(out, "Seed:") {
		t.Fatalf("libFuzzer did not start:\n%s", out)
	}
}
