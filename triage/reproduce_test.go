package triage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/symbolize"
)

func TestReproFlags(t *testing.T) {
	ws := discover(t, fixture.Root())
	wire := ws.Target("fuzz_wire_decode") // options: -rss_limit_mb=512 -timeout=5
	cmos := ws.Target("fuzz_chipset_cmos_rtc")
	def := DefaultConfig().Reproduce
	cases := []struct {
		t    *Target
		kind store.ArtifactKind
		rc   ReproduceConfig
		want []string
	}{
		{wire, store.ArtifactCrash, def, []string{"-rss_limit_mb=512", "-timeout=5"}},
		{wire, store.ArtifactOOM, def, []string{"-rss_limit_mb=512"}},
		{cmos, store.ArtifactCrash, def, []string{"-timeout=5"}},
		{cmos, store.ArtifactOOM, def, []string{"-rss_limit_mb=1024"}},
		{wire, store.ArtifactTimeout, ReproduceConfig{LibFuzzerTimeout: 2}, []string{"-rss_limit_mb=512", "-timeout=2"}},
		{wire, store.ArtifactOOM, ReproduceConfig{RSSLimitMB: 256, LibFuzzerTimeout: 2}, []string{"-rss_limit_mb=256"}},
	}
	for _, c := range cases {
		if got := ReproFlags(c.t, c.kind, &c.rc); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s %+v: %q, want %q", c.t.Name, c.kind, c.rc, got, c.want)
		}
	}
}

// TestReproduceKinds runs real artifacts of every kind through Reproduce.
func TestReproduceKinds(t *testing.T) {
	root := fixture.Root()
	fixture.Build(t, root)
	ws := discover(t, root)
	cfg := testConfig()
	ctx := context.Background()
	run := func(target, file string, rc func(*ReproduceConfig)) *store.Reproduction {
		t.Helper()
		c := *cfg
		if rc != nil {
			rc(&c.Reproduce)
		}
		tg := ws.Target(target)
		path := fixture.ArtifactPath(root, target, file)
		o := runOptionsFor(&c, DefaultStages(), tg, store.Release, tg.BinaryPath(store.Release), store.KindOfArtifact(file), t.TempDir())
		rep, err := Reproduce(ctx, o, path)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}

	crash := run("fuzz_chipset_cmos_rtc", "crash-259bd2715e046640643bd39d1349b1e7c133f008", nil)
	if crash.Status != store.Reproducible || crash.Tries != 2 || crash.Crashes != 2 || crash.Outcome != store.OutcomeCrash || crash.ExitCode != 77 {
		t.Errorf("crash: %+v", crash)
	}
	if !crash.Detail[0].Backtrace || crash.Detail[1].Backtrace {
		t.Errorf("only the reference try should run with a backtrace: %+v", crash.Detail)
	}
	if crash.Trace == nil || crash.Trace.Kind != symbolize.KindRustPanic || len(crash.Trace.Frames) == 0 ||
		!strings.HasPrefix(crash.Trace.Message, "index out of bounds") {
		t.Errorf("crash trace %+v", crash.Trace)
	}

	oom := run("fuzz_wire_decode", "oom-1b1cc679f0eeac58271170b12ddd636c1588060f", nil)
	if oom.Status != store.Reproducible || oom.Outcome != store.OutcomeOOM || oom.ExitCode != 71 || oom.Trace.Kind != symbolize.KindOOM {
		t.Errorf("oom: %+v", oom)
	}

	to := run("fuzz_wire_decode", "timeout-7692e7cfd3f34a4a38274e354ff86823c998d980", nil)
	if to.Status != store.Reproducible || to.Outcome != store.OutcomeTimeout || to.ExitCode != 70 || to.Trace.Kind != symbolize.KindTimeout {
		t.Errorf("timeout: %+v", to)
	}

	// A hang past our wall clock: killed, and still the timeout it is.
	hang := run("fuzz_wire_decode", "timeout-7692e7cfd3f34a4a38274e354ff86823c998d980", func(rc *ReproduceConfig) {
		rc.LibFuzzerTimeout = 60
		rc.Timeout = Duration(700 * time.Millisecond)
	})
	if hang.Status != store.Reproducible || hang.Outcome != store.OutcomeHang || hang.Trace.Kind != symbolize.KindTimeout {
		t.Errorf("hang: %+v", hang)
	}

	// An input that does not crash: every try runs, none crashes.
	clean := filepath.Join(t.TempDir(), "crash-clean")
	os.WriteFile(clean, []byte{0, 1}, 0o644)
	tg := ws.Target("fuzz_chipset_cmos_rtc")
	o := runOptionsFor(cfg, DefaultStages(), tg, store.Release, tg.BinaryPath(store.Release), store.ArtifactCrash, t.TempDir())
	nc, err := Reproduce(ctx, o, clean)
	if err != nil {
		t.Fatal(err)
	}
	if nc.Status != store.NotReproducible || nc.Tries != 3 || nc.Crashes != 0 || nc.Outcome != store.OutcomeNoCrash || nc.Rate != 0 {
		t.Errorf("clean input: %+v", nc)
	}
}

// TestMinimizeCatchesDrift minimizes an input whose libFuzzer minimization
// drifts to another bug of the same function (battery-expect-rate's input
// shrinks into battery-unwrap-pack when nothing checks): the result must
// still be the first bug, smaller, with the drift counted as rejected.
func TestMinimizeCatchesDrift(t *testing.T) {
	if testing.Short() {
		t.Skip("minimizes with libFuzzer")
	}
	root := fixture.BuiltCopy(t)
	ws := discover(t, root)
	cfg := testConfig()
	const target = "fuzz_chipset_battery"
	m, _ := fixture.LoadManifest(fixture.Root())
	bug := m.Bug("battery-expect-rate")
	var input string
	var size int64
	for _, in := range bug.Inputs {
		p := fixture.ArtifactPath(root, target, in.File)
		st, _ := os.Stat(p)
		if st.Size() > size {
			input, size = p, st.Size()
		}
	}
	before, _ := os.ReadFile(input)
	out := filepath.Join(t.TempDir(), "min")
	rep, err := MinimizeInput(context.Background(), ws, cfg, DefaultStages(), target, input, out)
	if err != nil {
		t.Fatal(err)
	}
	mz := rep.Minimized
	if mz == nil || !mz.Verified || mz.Size >= size || mz.Path != out {
		t.Fatalf("minimized %+v from %d bytes", mz, size)
	}
	if mz.Rejected == 0 || len(mz.RejectedBuckets) == 0 {
		t.Errorf("no candidate was rejected (%+v): the drift this input shows was not caught", mz)
	}
	again, err := ReproduceInput(context.Background(), ws, cfg, DefaultStages(), target, out, []store.Profile{store.Release})
	if err != nil {
		t.Fatal(err)
	}
	if again.Bucket == nil || again.Bucket.ID != rep.Bucket.ID || again.Reproductions[store.Release].Status != store.Reproducible {
		t.Errorf("the minimized input lands in %+v, want %s", again.Bucket, rep.Bucket.ID)
	}
	if after, _ := os.ReadFile(input); string(after) != string(before) {
		t.Error("the input was modified")
	}

	// A non-crashing input has nothing to minimize.
	clean := filepath.Join(t.TempDir(), "clean")
	os.WriteFile(clean, nil, 0o644)
	if _, err := MinimizeInput(context.Background(), ws, cfg, DefaultStages(), target, clean, ""); err != ErrNoCrash {
		t.Errorf("minimizing a clean input: %v, want ErrNoCrash", err)
	}
}

// TestReproduceFromALargeProcess: a fuzz binary started by a triage that
// holds a lot of memory still sees only its own RSS. Linux hands the
// forking process's RSS high-water mark to the child's getrusage maxrss,
// which libFuzzer's -rss_limit_mb check reads: started straight from a
// process of 600 MiB, the fixture's hang reported out-of-memory at a limit
// of 512 MiB.
func TestReproduceFromALargeProcess(t *testing.T) {
	root := fixture.Root()
	fixture.Build(t, root)
	ws := discover(t, root)
	tg := ws.Target("fuzz_wire_decode")
	ballast := make([]byte, 600<<20)
	for i := 0; i < len(ballast); i += 4096 {
		ballast[i] = 1
	}
	o := &RunOptions{Binary: tg.BinaryPath(store.Release), Flags: []string{"-timeout=2", "-rss_limit_mb=512"},
		Timeout: time.Minute, RustBacktrace: "1"}
	res, err := RunOnce(context.Background(), o, fixture.ArtifactPath(root, "fuzz_wire_decode", "timeout-7692e7cfd3f34a4a38274e354ff86823c998d980"), true)
	runtime.KeepAlive(ballast)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != store.OutcomeTimeout {
		t.Errorf("outcome %s (exit %d), want timeout:\n%s", res.Outcome, res.ExitCode, tailText(string(res.Log), 600))
	}
}

// TestStacklessKindsUnderLLDB: a hang and an RSS overflow without a
// sanitizer print no stack; their first try runs under lldb, which gives
// both the verdict and the frames the key is made of.
func TestStacklessKindsUnderLLDB(t *testing.T) {
	root, tg, m := wireDecodeWithLLDB(t)
	cfg := testConfig()
	for _, id := range []string{"wire-skip-loop", "wire-resync-loop", "wire-packed-oom", "wire-dict-oom"} {
		b := m.Bug(id)
		kind := store.KindOfArtifact(b.Inputs[0].File)
		o := runOptionsFor(cfg, DefaultStages(), tg, store.Release, tg.BinaryPath(store.Release), kind, t.TempDir())
		rep, err := Reproduce(context.Background(), o, fixture.ArtifactPath(root, tg.Name, b.Inputs[0].File))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Status != store.Reproducible || rep.ExitCode != b.ExitCode || rep.StackFrom != "lldb" || !rep.Detail[0].LLDB {
			t.Errorf("%s: status %s exit %d stack from %q, first try under lldb %v; want reproducible, exit %d, from lldb",
				id, rep.Status, rep.ExitCode, rep.StackFrom, rep.Detail[0].LLDB, b.ExitCode)
			continue
		}
		top := ""
		for _, f := range rep.Trace.Frames {
			if f.Category.InApp() {
				top = f.Normalized
				break
			}
		}
		if symbolize.ShortName(top) != symbolize.ShortName(b.Function) {
			t.Errorf("%s: top in-app frame %q, want %q", id, top, b.Function)
		}
	}
}

// TestStacklessIDsAgreeAcrossBuilds: each of the fixture's two hangs, two
// RSS overflows and its stack overflow keys the same on the release, dev
// and ASan builds (lldb's stack where the log has none, the sanitizer's stack
// where it has one), and the two of a kind keep apart.
func TestStacklessIDsAgreeAcrossBuilds(t *testing.T) {
	builds := map[string][]string{"release": nil, "dev": {"--dev"}, "asan": fixture.ASanArgs(fixture.Root())}
	root, tg, m := wireDecodeWithLLDB(t, builds["release"], builds["dev"], builds["asan"])
	cfg := testConfig()
	cfg.LLDB.Timeout = Duration(2 * time.Minute)
	ids := map[string]string{} // bug -> release id
	for _, id := range []string{"wire-skip-loop", "wire-resync-loop", "wire-packed-oom", "wire-dict-oom", "wire-name-recursion"} {
		b := m.Bug(id)
		input := fixture.ArtifactPath(root, tg.Name, b.Inputs[0].File)
		for _, name := range []string{"release", "dev", "asan"} {
			bin := fixture.BinaryPath(t, root, tg.Name, builds[name]...)
			o := runOptionsFor(cfg, DefaultStages(), tg, store.Release, bin, store.KindOfArtifact(b.Inputs[0].File), t.TempDir())
			o.Tries = 1
			if b.Kind == "stack-overflow" {
				o.Tries = 2 // a crash- input: its second try runs under lldb
			}
			rep, err := Reproduce(context.Background(), o, input)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != store.Reproducible {
				t.Errorf("%s on %s: %s (%s, exit %d, stack from %q, tries %+v)\n%s", id, name, rep.Status, rep.Outcome, rep.ExitCode, rep.StackFrom, rep.Detail, tailText(rep.Log, 3000))
				continue
			}
			ref, err := DedupeBucket(rep.Trace, BucketRequest{Target: tg.Name, Binary: bin, Config: &cfg.Bucket})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s on %s: %s %s (stack from %s)", id, name, ref.ID, ref.Key, rep.StackFrom)
			if name == "release" {
				for other, oid := range ids {
					if oid == ref.ID {
						t.Errorf("%s and %s share bucket %s", id, other, ref.ID)
					}
				}
				ids[id] = ref.ID
			} else if ref.ID != ids[id] {
				t.Errorf("%s: %s build keys %s (%s), release %s", id, name, ref.ID, ref.Key, ids[id])
			}
		}
	}
}

// lldb losing its process ("exited with status = -1 ... lost connection",
// seen on a loaded machine, twice in a row) cannot be caused on demand: a
// wrapper reports it for its first runs and then runs the real lldb-19.
// Lost runs are retried up to lostProcessRuns in all; the real run then
// gives the stack. Always lost, the input is still reproduced, plainly,
// with the reason named.
func TestLLDBLostProcessRetried(t *testing.T) {
	root, tg, m := wireDecodeWithLLDB(t)
	b := m.Bug("wire-resync-loop")
	input := fixture.ArtifactPath(root, tg.Name, b.Inputs[0].File)
	for _, lose := range []int{lostProcessRuns - 1, lostProcessRuns} {
		dir := t.TempDir()
		count, wrapper := filepath.Join(dir, "count"), filepath.Join(dir, "lldb")
		script := fmt.Sprintf(`#!/bin/sh
echo "x $(grep -ho -- '-timeout=[0-9]*' "$@" 2>/dev/null | head -1)" >>'%s'
if [ "$(wc -l <'%s')" -le %d ]; then
  echo '(lldb) run'
  echo 'Process 4242 launched: (x86_64)'
  echo 'Process 4242 exited with status = -1 (0xffffffff) lost connection'
  exit 0
fi
exec /usr/bin/lldb-19 "$@"
`, count, count, lose)
		if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := testConfig()
		cfg.LLDB.Binary = wrapper
		o := runOptionsFor(cfg, DefaultStages(), tg, store.Release, fixture.BinaryPath(t, root, tg.Name), store.KindOfArtifact(b.Inputs[0].File), t.TempDir())
		o.Tries = 1
		rep, err := Reproduce(context.Background(), o, input)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(count)
		runs := strings.Count(string(data), "x")
		t.Logf("lost %d: %d lldb runs, %s, stack from %q", lose, runs, rep.Status, rep.StackFrom)
		if rep.Status != store.Reproducible || rep.Outcome != store.OutcomeTimeout {
			t.Errorf("lost %d: %s %s", lose, rep.Status, rep.Outcome)
		}
		switch {
		case lose < lostProcessRuns && (runs != lose+1 || rep.StackFrom != "lldb"):
			t.Errorf("lldb lost the process %d times: %d runs, stack from %q; want %d runs and lldb's stack", lose, runs, rep.StackFrom, lose+1)
		case lose == lostProcessRuns && (runs != lostProcessRuns || !strings.Contains(rep.StackFrom, "lldb lost the process")):
			t.Errorf("lldb always lost the process: %d runs, stack from %q; want %d runs and the reason", runs, rep.StackFrom, lostProcessRuns)
		}
		// Each run after a lost one gets a slower alarm: twice the
		// timeout of the run before.
		prev := 0
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			n, err := strconv.Atoi(strings.TrimPrefix(l, "x -timeout="))
			if err != nil || (prev != 0 && n != 2*prev) {
				t.Errorf("the runs' libFuzzer timeouts do not double:\n%s", data)
				break
			}
			prev = n
		}
	}
}

// wireDecodeWithLLDB is the fixture's root, its fuzz_wire_decode target
// (the stack-less kinds' target) and its bug manifest, for tests that run
// lldb-19 (skipped without it). Each of builds is one fixture build's
// arguments; none means the release build.
func wireDecodeWithLLDB(t *testing.T, builds ...[]string) (string, *Target, *fixture.Manifest) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/lldb-19"); err != nil {
		t.Skip("lldb-19 is not installed")
	}
	root := fixture.Root()
	if len(builds) == 0 {
		builds = [][]string{nil}
	}
	for _, args := range builds {
		fixture.Build(t, root, args...)
	}
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, discover(t, root).Target("fuzz_wire_decode"), m
}
