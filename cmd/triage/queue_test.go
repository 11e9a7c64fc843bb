package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/queue"
	"github.com/fuzztriage/triage/store"
)

// queueRunFlags: one target's inputs (three buckets of panics), with
// minimization and the release lldb session, no dev build.
var queueRunFlags = []string{"--no-build", "--no-dev", "--progress", "never", "--target", "fuzz_chipset_cmos_rtc"}

// outcomeLines is what a run decided, without times, paths and the bytes
// libFuzzer's minimizer picked (it does not repeat itself): one line per
// input and per bucket.
func outcomeLines(t *testing.T, ws string) []string {
	t.Helper()
	s, err := store.OpenExisting(filepath.Join(ws, ".triage"))
	if err != nil {
		t.Fatal(err)
	}
	arts, bad, err := s.LoadArtifacts()
	if err != nil || len(bad) > 0 {
		t.Fatalf("artifact records: %v %v", err, bad)
	}
	buckets, bad, err := s.LoadBuckets()
	if err != nil || len(bad) > 0 {
		t.Fatalf("bucket records: %v %v", err, bad)
	}
	var out []string
	for sha, r := range arts {
		b := ""
		if r.Bucket != nil {
			b = r.Bucket.ID
		}
		out = append(out, fmt.Sprintf("input %s %s %s", sha, r.Status, b))
	}
	for id, b := range buckets {
		var members []string
		for _, m := range b.Members {
			members = append(members, m.SHA1)
		}
		slices.Sort(members)
		min := "none"
		if m := b.Minimized; m != nil {
			min = fmt.Sprintf("from %s verified %v", m.From, m.Verified)
		}
		debugged := ""
		if f := b.LLDB[store.Release]; f != nil {
			// The stop without its address; the input as what it is.
			stop, _, _ := strings.Cut(f.Stop, " at ")
			debugged = fmt.Sprintf("%q on the minimized input %v, %d frames, error %q", stop, b.Minimized != nil && f.Input == b.Minimized.SHA1, len(f.Frames), f.Error)
		}
		out = append(out, fmt.Sprintf("bucket %s rep %s members %s minimized %s release %v lldb %s",
			id, b.Representative.SHA1, strings.Join(members, ","), min, b.Reproducibility[store.Release], debugged))
	}
	slices.Sort(out)
	return out
}

// freeLoopbackPort is a port nothing listens on right now.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a triage process of a test, its stderr kept and scanned.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  strings.Builder
	seen chan string // stderr lines, for waiting on one
	done chan struct{}
	err  error
}

func startTriage(t *testing.T, bin, name string, args ...string) *proc {
	t.Helper()
	return startProcess(t, name, exec.Command(bin, args...))
}

// startProcess starts cmd in its own process group with extra environment,
// killed (with its group) when the test ends.
func startProcess(t *testing.T, name string, cmd *exec.Cmd, env ...string) *proc {
	t.Helper()
	cmd.Env = append(os.Environ(), env...)
	p := &proc{name: name, cmd: cmd, seen: make(chan string, 4096), done: make(chan struct{})}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.seen <- sc.Text():
			default:
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	return p
}

// kill signals the process and its group (its fuzz binaries and lldb).
func (p *proc) kill(sig syscall.Signal) {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLine waits (at most d) for a stderr line matching re.
func (p *proc) waitLine(t *testing.T, re *regexp.Regexp, d time.Duration) string {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l := <-p.seen:
			if re.MatchString(l) {
				return l
			}
		case <-p.done:
			t.Fatalf("%s ended (%v) before printing %s:\n%s", p.name, p.err, re, p.stderr())
		case <-timeout:
			t.Fatalf("%s printed no %s within %s:\n%s", p.name, re, d, p.stderr())
		}
	}
}

// wait waits (at most d) for the process to end and returns its exit code.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%s did not end within %s:\n%s", p.name, d, p.stderr())
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("%s: %v", p.name, p.err)
	}
	return 0
}

var (
	jobStarted      = regexp.MustCompile(`"msg":"job started"`)
	committedField  = regexp.MustCompile(`"committed":(\d+)`)
	duplicatesField = regexp.MustCompile(`"duplicates":(\d+)`)
	queueListening  = regexp.MustCompile(`"msg":"queue listening`)
)

// TestQueueRunMatchesLocalRun: `triage run --queue embedded` with two
// worker processes gives the buckets, members, representatives, verdicts,
// minimized representatives and lldb stops of a local run on the same
// inputs, while one worker is SIGKILLed in the middle of a job: the job is
// redone by the other (after the ack wait) and every result is committed
// once.
func TestQueueRunMatchesLocalRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline twice with worker processes")
	}
	bin := buildTriage(t, t.TempDir())
	local := fixture.BuiltCopy(t)
	if code, out, errs := runCLI(t, append(append([]string{"run"}, queueRunFlags...), local)...); code != 1 {
		t.Fatalf("local run: exit %d\n%s\n%s", code, out, errs)
	}
	want := outcomeLines(t, local)

	queued := fixture.BuiltCopy(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	coord := startTriage(t, bin, "coordinator", append(append([]string{"run", "--log-format", "json", "--queue", "embedded",
		"--queue-listen", addr, "--queue-workers", "0", "--queue-ack-wait", "3"}, queueRunFlags...), queued)...)
	coord.waitLine(t, queueListening, time.Minute)
	url := "nats://" + addr
	// Worker A's checkout asks for 41 tries a run (20 runs of a crash at
	// the least): its jobs last seconds, so the SIGKILL lands inside one.
	slow := fixture.BuiltCopy(t)
	if err := os.WriteFile(filepath.Join(slow, "triage.yaml"), []byte("reproduce:\n  tries: 41\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	doomed := startTriage(t, bin, "worker A", "worker", "--log-format", "json", "--log-level", "debug", "--queue", url, "--name", "A", slow)
	doomed.waitLine(t, jobStarted, 2*time.Minute)
	// A holds a job now; B starts once A is gone, so A's job can only be
	// finished by B taking it over.
	doomed.kill(syscall.SIGKILL)
	doomed.wait(t, time.Minute)
	survivor := startTriage(t, bin, "worker B", "worker", "--log-format", "json", "--log-level", "debug", "--queue", url, "--name", "B", queued)
	if code := coord.wait(t, 5*time.Minute); code != 1 {
		t.Fatalf("queued run: exit %d, want 1 (new buckets)\n%s\nworker B:\n%s", code, coord.stderr(), survivor.stderr())
	}
	survivor.kill(syscall.SIGINT)
	survivor.wait(t, time.Minute)

	var m []string
	for _, l := range strings.Split(coord.stderr(), "\n") {
		if strings.Contains(l, `"msg":"queue results committed"`) {
			c, d := committedField.FindStringSubmatch(l), duplicatesField.FindStringSubmatch(l)
			if c != nil && d != nil {
				m = []string{l, c[1], d[1]}
			}
		}
	}
	if m == nil {
		t.Fatalf("the coordinator logged no commit counts:\n%s", coord.stderr())
	}
	if m[2] != "0" {
		t.Errorf("%s results were skipped as committed before (a job answered twice)", m[2])
	}
	got := outcomeLines(t, queued)
	inputs := 0
	for _, l := range got {
		if strings.HasPrefix(l, "input ") {
			inputs++
		}
	}
	if m[1] != fmt.Sprint(inputs) {
		t.Errorf("%s results committed for %d inputs", m[1], inputs)
	}
	t.Logf("committed %s results, %s duplicates; outcome:\n%s", m[1], m[2], strings.Join(got, "\n"))
	if !slices.Equal(got, want) {
		t.Errorf("the queued run decided otherwise than the local run:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if !strings.Contains(survivor.stderr(), `"delivery":2`) {
		t.Errorf("worker B never took over worker A's job (no second delivery in its log):\n%s", survivor.stderr())
	}
	if _, err := os.Stat(filepath.Join(queued, ".triage", "queue", "nats.lock")); err != nil {
		t.Errorf("the embedded queue did not store under the store: %v", err)
	}
}

var jobAnswered = regexp.MustCompile(`"msg":"job answered"`)

// TestQueueCoordinatorKilledAndRestarted: the coordinator (and its embedded
// server) is SIGKILLed once a worker answered some of its jobs; restarted
// on the same store and address, it finishes the run with the same worker
// (which reconnected by itself), and the store holds what a local run
// decides.
func TestQueueCoordinatorKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline with worker processes")
	}
	bin := buildTriage(t, t.TempDir())
	local := fixture.BuiltCopy(t)
	if code, out, errs := runCLI(t, append(append([]string{"run"}, queueRunFlags...), local)...); code != 1 {
		t.Fatalf("local run: exit %d\n%s\n%s", code, out, errs)
	}
	want := outcomeLines(t, local)

	queued := fixture.BuiltCopy(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	args := append(append([]string{"run", "--log-format", "json", "--queue", "embedded",
		"--queue-listen", addr, "--queue-workers", "0", "--queue-ack-wait", "3"}, queueRunFlags...), queued)
	first := startTriage(t, bin, "coordinator", args...)
	first.waitLine(t, queueListening, time.Minute)
	worker := startTriage(t, bin, "worker", "worker", "--log-format", "json", "--log-level", "debug", "--queue", "nats://"+addr, "--name", "W", queued)
	for i := 0; i < 3; i++ {
		worker.waitLine(t, jobAnswered, 2*time.Minute)
	}
	first.kill(syscall.SIGKILL)
	first.wait(t, time.Minute)

	second := startTriage(t, bin, "restarted coordinator", args...)
	if code := second.wait(t, 5*time.Minute); code != 0 && code != 1 {
		t.Fatalf("restarted coordinator: exit %d\n%s\nworker:\n%s", code, second.stderr(), worker.stderr())
	}
	worker.kill(syscall.SIGINT)
	worker.wait(t, time.Minute)
	finished := regexp.MustCompile(`"msg":"run finished".*"triaged":(\d+)`).FindStringSubmatch(second.stderr())
	if finished == nil || finished[1] == "0" {
		t.Errorf("the restarted coordinator triaged nothing (the first finished before its kill?):\n%s", second.stderr())
	} else {
		t.Logf("the restarted coordinator triaged %s inputs", finished[1])
	}
	if got := outcomeLines(t, queued); !slices.Equal(got, want) {
		t.Errorf("after the restart the store holds otherwise than a local run:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// TestQueueClusterLosesANode: a three-node JetStream cluster on loopback
// ports (each node a process with its own directory), streams and buckets
// with three replicas; one node is SIGKILLed after the worker answered a
// few jobs. The run completes and decides what a local run decides.
func TestQueueClusterLosesANode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster and the pipeline")
	}
	bin := buildTriage(t, t.TempDir())
	var clients, routes []string
	var nodes []queue.NodeOptions
	for i := 0; i < 3; i++ {
		c, r := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t)), fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
		clients, routes = append(clients, "nats://"+c), append(routes, "nats://"+r)
		nodes = append(nodes, queue.NodeOptions{Name: fmt.Sprint("n", i+1), Dir: t.TempDir(), Listen: c, Cluster: r})
	}
	var procs []*proc
	for _, no := range nodes {
		no.Routes = routes
		spec, _ := json.Marshal(no)
		p := startProcess(t, no.Name, exec.Command(os.Args[0], "-test.run", "^$"), nodeEnv+"="+string(spec))
		procs = append(procs, p)
	}

	local := fixture.BuiltCopy(t)
	if code, out, errs := runCLI(t, append(append([]string{"run"}, queueRunFlags...), local)...); code != 1 {
		t.Fatalf("local run: exit %d\n%s\n%s", code, out, errs)
	}
	want := outcomeLines(t, local)

	queued := fixture.BuiltCopy(t)
	url := strings.Join(clients, ",")
	coord := startTriage(t, bin, "coordinator", append(append([]string{"run", "--log-format", "json", "--queue", url,
		"--queue-replicas", "3", "--queue-workers", "0", "--queue-ack-wait", "3"}, queueRunFlags...), queued)...)
	worker := startTriage(t, bin, "worker", "worker", "--log-format", "json", "--log-level", "debug", "--queue", url, "--name", "W", queued)
	for i := 0; i < 3; i++ {
		worker.waitLine(t, jobAnswered, 3*time.Minute)
	}
	procs[0].kill(syscall.SIGKILL)
	procs[0].wait(t, time.Minute)
	if code := coord.wait(t, 5*time.Minute); code != 1 {
		t.Fatalf("coordinator: exit %d, want 1\n%s\nworker:\n%s", code, coord.stderr(), worker.stderr())
	}
	worker.kill(syscall.SIGINT)
	worker.wait(t, time.Minute)
	if got := outcomeLines(t, queued); !slices.Equal(got, want) {
		t.Errorf("with a node lost the run decided otherwise than a local run:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// TestServeWithAWorker: `triage serve` (embedded queue, listening on a
// loopback port, no worker of its own) and one worker process triage the
// workspace's inputs as a local run does; SIGINT stops the service with
// exit 0.
func TestServeWithAWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline with a worker process")
	}
	bin := buildTriage(t, t.TempDir())
	local := fixture.BuiltCopy(t)
	if code, out, errs := runCLI(t, append(append([]string{"run"}, queueRunFlags...), local)...); code != 1 {
		t.Fatalf("local run: exit %d\n%s\n%s", code, out, errs)
	}
	want := outcomeLines(t, local)

	served := fixture.BuiltCopy(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	serve := startTriage(t, bin, "serve", append(append([]string{"serve", "--log-format", "json", "--queue-listen", addr, "--queue-workers", "0"}, queueRunFlags...), served)...)
	serve.waitLine(t, queueListening, time.Minute)
	worker := startTriage(t, bin, "worker", "worker", "--log-format", "json", "--queue", "nats://"+addr, served)
	serve.waitLine(t, regexp.MustCompile(`"msg":"pass finished".*"triaged":12`), 3*time.Minute)
	serve.kill(syscall.SIGINT)
	if code := serve.wait(t, time.Minute); code != 0 {
		t.Errorf("serve stopped by SIGINT: exit %d\n%s", code, serve.stderr())
	}
	worker.kill(syscall.SIGINT)
	worker.wait(t, time.Minute)
	if got := outcomeLines(t, served); !slices.Equal(got, want) {
		t.Errorf("serve decided otherwise than a local run:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

// TestFuzzOnAWorker: `triage fuzz --queue` hands the campaign to a worker
// process running in a checkout of its own. The worker fuzzes from the
// coordinator's corpus (sent as blobs), and what it found comes back into
// the coordinator's workspace, each file named by the SHA1 of its bytes;
// the worker's checkout is left as it was; triage after the campaign
// buckets the crashes the worker found.
func TestFuzzOnAWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("fuzzes with a worker process")
	}
	bin := buildTriage(t, t.TempDir())
	ws := fixture.BuiltCopy(t)
	elsewhere := fixture.BuiltCopy(t)
	const target = "fuzz_chipset_cmos_rtc"
	rel := "vm/devices/chipset/fuzz"
	art, corpus := filepath.Join(ws, rel, "artifacts", target), filepath.Join(ws, rel, "corpus", target)
	os.RemoveAll(art)
	os.RemoveAll(filepath.Join(elsewhere, rel, "artifacts", target))
	if err := os.MkdirAll(corpus, 0o755); err != nil {
		t.Fatal(err)
	}
	seeds := map[string]string{"seed-one": "\x00\x01\x70", "seed-two": "\x71\x05"}
	for name, data := range seeds {
		if err := os.WriteFile(filepath.Join(corpus, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The campaign's flags go to the worker with the job.
	const maxLen = 16
	cfg := fmt.Sprintf("campaign:\n  flags: [\"-max_len=%d\"]\n", maxLen)
	if err := os.WriteFile(filepath.Join(ws, "triage.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	addr := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	coord := startTriage(t, bin, "fuzz", "fuzz", "--log-format", "json", "--no-build", "--cores", "1", "--duration", "8s",
		"--triage", "after", "--no-lldb", "--no-dev", "--minimize", "off", "--tries", "1", "--cmin=false", "--progress", "never",
		"--queue-listen", addr, "--queue-workers", "0", ws, target)
	coord.waitLine(t, queueListening, time.Minute)
	worker := startTriage(t, bin, "worker", "worker", "--log-format", "json", "--queue", "nats://"+addr, elsewhere)
	if code := coord.wait(t, 4*time.Minute); code != 1 {
		t.Fatalf("fuzz: exit %d, want 1 (new buckets)\n%s\nworker:\n%s", code, coord.stderr(), worker.stderr())
	}
	worker.kill(syscall.SIGINT)
	worker.wait(t, time.Minute)
	if !strings.Contains(worker.stderr(), `"kind":"fuzz"`) || !strings.Contains(worker.stderr(), fmt.Sprintf(`"flags":"-max_len=%d"`, maxLen)) {
		t.Errorf("the worker logged no fuzz job with the campaign's flags:\n%s", worker.stderr())
	}

	// What the worker found is here, named by its bytes.
	sha1Name := regexp.MustCompile(`^(crash|oom|timeout|leak|slow-unit)-([0-9a-f]{40})$`)
	files, err := os.ReadDir(art)
	if err != nil || len(files) == 0 {
		t.Fatalf("artifacts from the worker: %v %v", files, err)
	}
	for _, f := range files {
		m := sha1Name.FindStringSubmatch(f.Name())
		if m == nil {
			t.Errorf("artifact %s is not named <kind>-<sha1>", f.Name())
			continue
		}
		if sha, _, err := store.FileSHA1(filepath.Join(art, f.Name())); err != nil || sha != m[2] {
			t.Errorf("artifact %s holds bytes of SHA1 %s (%v)", f.Name(), sha, err)
		}
	}
	entries, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	grown := 0
	for _, e := range entries {
		if _, seed := seeds[e.Name()]; seed {
			continue
		}
		grown++
		if sha, size, err := store.FileSHA1(filepath.Join(corpus, e.Name())); err != nil || sha != e.Name() || size > maxLen {
			t.Errorf("corpus file %s holds %d bytes of SHA1 %s (%v); the fuzzer was given -max_len=%d", e.Name(), size, sha, err, maxLen)
		}
	}
	for name, data := range seeds {
		if got, err := os.ReadFile(filepath.Join(corpus, name)); err != nil || string(got) != data {
			t.Errorf("seed %s changed: %q %v", name, got, err)
		}
	}
	if grown == 0 {
		t.Errorf("the corpus did not grow: %d files", len(entries))
	}
	// The worker's checkout keeps nothing of the job.
	for _, dir := range []string{"artifacts", "corpus"} {
		if got, _ := os.ReadDir(filepath.Join(elsewhere, rel, dir, target)); len(got) != 0 {
			t.Errorf("the worker's checkout has %d files in its %s", len(got), dir)
		}
	}

	st, rec := loneCampaign(t, ws)
	if len(rec.Targets) != 1 {
		t.Fatalf("record: %+v", rec)
	}
	tg := rec.Targets[0]
	if tg.Error != "" || tg.Execs == 0 || tg.CovEnd == 0 || tg.Artifacts[store.ArtifactCrash] == 0 || tg.CorpusAfter < len(seeds)+grown {
		t.Errorf("target figures: %+v (corpus grew by %d)", tg, grown)
	}
	if len(rec.NewBuckets) == 0 || len(rec.Failures) != 0 {
		t.Errorf("new buckets %v, failures %v", rec.NewBuckets, rec.Failures)
	}
	// The fuzzer's output came back with its findings.
	logData, err := os.ReadFile(st.Path(tg.Log))
	if err != nil || !strings.Contains(string(logData), "oom/timeout/crash:") {
		t.Errorf("target log %s: %v (%d bytes)", tg.Log, err, len(logData))
	}
}

// TestFuzzCoordinatorKilledAndResumed: the coordinator of `triage fuzz
// --queue` (and its embedded server) is SIGKILLed while a worker fuzzes;
// restarted on the same store with the same plan it resumes that
// campaign: the worker's findings arrive, one campaign record is written.
func TestFuzzCoordinatorKilledAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("fuzzes with a worker process")
	}
	bin := buildTriage(t, t.TempDir())
	ws := fixture.BuiltCopy(t)
	const target = "fuzz_chipset_cmos_rtc"
	art := filepath.Join(ws, "vm/devices/chipset/fuzz/artifacts", target)
	os.RemoveAll(art)
	addr := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	args := []string{"fuzz", "--log-format", "json", "--no-build", "--cores", "1", "--duration", "10s",
		"--triage", "after", "--no-lldb", "--no-dev", "--minimize", "off", "--tries", "1", "--cmin=false", "--progress", "never",
		"--queue-listen", addr, "--queue-workers", "0", "--queue-ack-wait", "3", ws, target}
	first := startTriage(t, bin, "coordinator", args...)
	first.waitLine(t, queueListening, time.Minute)
	worker := startTriage(t, bin, "worker", "worker", "--log-format", "json", "--queue", "nats://"+addr, ws)
	worker.waitLine(t, regexp.MustCompile(`"msg":"fuzzing"`), time.Minute)
	first.kill(syscall.SIGKILL)
	first.wait(t, time.Minute)

	second := startTriage(t, bin, "restarted coordinator", args...)
	if code := second.wait(t, 4*time.Minute); code != 1 {
		t.Fatalf("restarted coordinator: exit %d, want 1 (new buckets)\n%s\nworker:\n%s", code, second.stderr(), worker.stderr())
	}
	worker.kill(syscall.SIGINT)
	worker.wait(t, time.Minute)
	if !strings.Contains(second.stderr(), "resuming the campaign") {
		t.Errorf("the restarted coordinator started another campaign:\n%s", second.stderr())
	}
	st, rec := loneCampaign(t, ws)
	if tg := rec.Targets[0]; tg.Error != "" || tg.Execs == 0 || tg.Artifacts[store.ArtifactCrash] == 0 {
		t.Errorf("target figures: %+v", tg)
	}
	if len(rec.NewBuckets) == 0 || len(rec.Failures) != 0 {
		t.Errorf("new buckets %v, failures %v", rec.NewBuckets, rec.Failures)
	}
	if files, err := os.ReadDir(art); err != nil || len(files) == 0 {
		t.Errorf("the worker's findings did not arrive: %v %v", files, err)
	}
	if q, err := st.QueuedCampaign(); q != nil || err != nil {
		t.Errorf("the campaign is still marked as running on workers: %+v %v", q, err)
	}
	t.Logf("the worker started the fuzz job %d times", strings.Count(worker.stderr(), `"msg":"job started"`))
}
