// Command queue measures the scale-out queue on this machine, in one
// invocation:
//
//  1. jobs/s of the queue itself: jobs submitted to an embedded JetStream
//     server, then taken by two workers connected over loopback TCP, each
//     answer stored, reported and committed once (no-op jobs, so what is
//     measured is the queue's own path);
//
//  2. the nightly on the fixture's committed artifacts, timed as a local
//     `triage run -j 2`, as `triage run --queue embedded` with two workers
//     in the process, and with one and with two `triage worker` processes
//     over loopback; for each queued run the time its jobs spent in queue
//     operations (the coordinator's count) against its wall time.
//
//     go run ./bench/queue                 # 5,000 jobs, then the four runs
//     go run ./bench/queue -jobs 20000 -runs=false
//
// The fixture's binaries must be built (scripts/setup does it).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/queue"
)

func main() {
	jobs := flag.Int("jobs", 5000, "no-op jobs for the throughput figure")
	runs := flag.Bool("runs", true, "also time the nightly locally and through the queue")
	flag.Parse()
	tmp, err := os.MkdirTemp("", "triage-bench-queue-*")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	if err := throughput(tmp, *jobs); err != nil {
		fail(err)
	}
	if *runs {
		if err := nightly(tmp); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/queue:", err)
	os.Exit(1)
}

func throughput(tmp string, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	q, err := queue.Open(ctx, queue.Options{Dir: filepath.Join(tmp, "queue"), Listen: "127.0.0.1:0", Create: true})
	if err != nil {
		return err
	}
	defer q.Close()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		sha := fmt.Sprintf("%040x", i)
		job := queue.Job{ID: queue.JobID("bench", sha), Kind: queue.KindTriage, Target: "t", BinaryDigest: "b", Input: sha, InputKind: "crash"}
		if _, err := q.Submit(ctx, job); err != nil {
			return err
		}
	}
	submit := time.Since(t0)
	var stats queue.CommitStats
	var answered atomic.Int64
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	t1 := time.Now()
	for w := 0; w < 2; w++ {
		wq, err := queue.Open(ctx, queue.Options{URL: q.ClientURL()})
		if err != nil {
			return err
		}
		defer wq.Close()
		go wq.Work(wctx, queue.WorkOptions{Name: fmt.Sprint("w", w)}, func(_ context.Context, j queue.Job) ([]byte, error) {
			answered.Add(1)
			return []byte(j.Input), nil
		})
	}
	go q.Results(wctx, func(context.Context, queue.Result, []byte) error { return nil }, &stats)
	for stats.Committed.Load() < int64(n) {
		if ctx.Err() != nil {
			return fmt.Errorf("%d of %d jobs committed in 10 minutes", stats.Committed.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	done := time.Since(t1)
	stop()
	fmt.Printf("queue: %d jobs\n", n)
	fmt.Printf("  submitted (one publish at a time, each acked)       %8.0f jobs/s\n", float64(n)/submit.Seconds())
	fmt.Printf("  taken, answered and committed (2 workers over TCP)  %8.0f jobs/s (answers run %d times, duplicates %d)\n",
		float64(n)/done.Seconds(), answered.Load(), stats.Duplicates.Load())
	fmt.Printf("  queue time per committed job                        %8.2f ms\n", float64(stats.QueueMicros.Load())/1000/float64(n))
	return nil
}

// nightly times the runs, each on a fresh copy of the fixture.
func nightly(tmp string) error {
	bin := filepath.Join(tmp, "triage")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/triage").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	type config struct {
		name    string
		args    []string
		workers int // worker processes
	}
	configs := []config{
		{name: "local, -j 2"},
		{name: "queue, 2 workers in the process", args: []string{"--queue", "embedded", "--queue-workers", "2"}},
		{name: "queue, 1 worker process", args: []string{"--queue", "embedded", "--queue-workers", "0"}, workers: 1},
		{name: "queue, 2 worker processes", args: []string{"--queue", "embedded", "--queue-workers", "0"}, workers: 2},
	}
	var local time.Duration
	fmt.Println()
	fmt.Println("nightly on the fixture's committed artifacts (2 cores)")
	for i, c := range configs {
		ws := filepath.Join(tmp, fmt.Sprintf("ws%d", i))
		if err := fixture.CopySources(fixture.Root(), ws); err != nil {
			return err
		}
		if err := fixture.LinkBuildOutput(ws); err != nil {
			return err
		}
		args := append([]string{"run", "--no-build", "-j", "2", "--progress", "never", "--log-format", "json", "--format", "json"}, c.args...)
		addr := ""
		if c.workers > 0 {
			addr = fmt.Sprintf("127.0.0.1:%d", freePort())
			args = append(args, "--queue-listen", addr)
		}
		cmd := exec.Command(bin, append(args, ws)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			return err
		}
		var workers []*exec.Cmd
		for w := 0; w < c.workers; w++ {
			wc := exec.Command(bin, "worker", "--queue", "nats://"+addr, "--log-level", "warn", ws)
			if err := wc.Start(); err != nil {
				return err
			}
			workers = append(workers, wc)
		}
		runErr := cmd.Wait()
		wall := time.Since(t0)
		for _, wc := range workers {
			_ = wc.Process.Signal(os.Interrupt)
			_ = wc.Wait()
		}
		var rec struct {
			Artifacts struct{ Triaged, Failed int }
			Failures  []struct{ Stage, Error string }
		}
		if err := json.Unmarshal(stdout.Bytes(), &rec); err != nil {
			return fmt.Errorf("%s: unreadable record (%v): %v\n%s", c.name, runErr, err, tail(stderr.String()))
		}
		line := fmt.Sprintf("  %-34s wall %6.1f s, %d inputs, %d failures", c.name, wall.Seconds(), rec.Artifacts.Triaged, len(rec.Failures))
		if i == 0 {
			local = wall
		} else {
			line += fmt.Sprintf(", wall / local %.2f", wall.Seconds()/local.Seconds())
			if ms, ok := queueMS(stderr.String()); ok {
				line += fmt.Sprintf(", queue operations %.2f s = %.2f%% of the wall time (2 slots)", ms/1000, 100*ms/1000/2/wall.Seconds())
			}
		}
		fmt.Println(line)
	}
	return nil
}

// queueMS reads the coordinator's "queue results committed" event.
func queueMS(log string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Msg     string  `json:"msg"`
			QueueMS float64 `json:"queue_ms"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Msg == "queue results committed" {
			return ev.QueueMS, true
		}
	}
	return 0, false
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}
