package triage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

// TestWatch runs the service with inotify and with polling: it triages
// what is there at start, picks up a new crash and a bad (non-crashing)
// input dropped in while it runs, survives a missing binary (the inputs
// are retried once the binary is back), and stops cleanly on cancel with
// the lock released and the store sound.
func TestWatch(t *testing.T) {
	for _, poll := range []bool{false, true} {
		name := "inotify"
		if poll {
			name = "poll"
		}
		t.Run(name, func(t *testing.T) { testWatch(t, poll) })
	}
}

func testWatch(t *testing.T, forcePoll bool) {
	root := fixture.BuiltCopy(t)
	cfg := quickConfig()
	cfg.Minimize.Mode = MinimizeOff
	cfg.Watch.Poll = Duration(150 * time.Millisecond)
	cfg.Watch.ForcePoll = forcePoll
	const cmos, ata = "fuzz_chipset_cmos_rtc", "fuzz_ata_taskfile"
	// The ata binary is missing at first.
	ideTarget := filepath.Join(root, "vm/devices/storage/ide/fuzz/target")
	if err := os.Remove(ideTarget); err != nil {
		t.Fatal(err)
	}

	passes := make(chan *store.RunRecord, 100)
	var busyPasses atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, root, WatchOptions{
			Options: Options{Config: cfg, Stages: DefaultStages(), Targets: []string{cmos, ata}},
			OnPass: func(r *store.RunRecord, err error) {
				if r != nil && !r.Idle() {
					busyPasses.Add(1)
				}
				passes <- r
			},
		})
	}()
	wait := func(what string, ok func(*store.RunRecord) bool) *store.RunRecord {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case r := <-passes:
				if r != nil && ok(r) {
					return r
				}
			case err := <-done:
				t.Fatalf("watch ended while waiting for %s: %v", what, err)
			case <-deadline:
				t.Fatalf("no pass %s within 60s", what)
			}
		}
	}
	ws := discover(t, root)
	cmosArts, _ := ws.Target(cmos).Artifacts()
	first := wait("triaging the initial inputs", func(r *store.RunRecord) bool { return r.Artifacts.Triaged > 0 })
	if first.Artifacts.Triaged != len(cmosArts) || first.Artifacts.Failed == 0 {
		t.Fatalf("first pass %+v: want %d triaged and the ata inputs failed", first.Artifacts, len(cmosArts))
	}

	// Another process (the store is locked) cannot run meanwhile.
	if _, err := Run(ctx, ws, Options{Config: cfg, Stages: DefaultStages()}); !errors.Is(err, store.ErrLocked) {
		t.Errorf("run during watch: %v, want ErrLocked", err)
	}

	// New inputs arrive: one crash, one that does not crash.
	data, _ := os.ReadFile(fixture.ArtifactPath(root, cmos, "crash-91e77f7069be1e9ae66115c194b8519e52763a0e"))
	addArtifact(t, root, cmos, "crash", append(append([]byte(nil), data...), 3, 0))
	addArtifact(t, root, cmos, "crash", []byte{1})
	wait("triaging the new inputs", func(r *store.RunRecord) bool {
		return r.Artifacts.Triaged == 2 && len(r.NotReproducible) == 1 && len(r.GrownBuckets) == 1
	})

	// The binary comes back: the retry triages the ata inputs.
	if err := os.Symlink(filepath.Join(fixture.Root(), "vm/devices/storage/ide/fuzz/target"), ideTarget); err != nil {
		t.Fatal(err)
	}
	ataArts, _ := ws.Target(ata).Artifacts()
	wait("retrying the failed inputs", func(r *store.RunRecord) bool { return r.Artifacts.Triaged == len(ataArts) && r.Artifacts.Failed == 0 })

	// A file that is not an input wakes the watcher; the pass finds
	// nothing to triage and writes no run record.
	if err := os.WriteFile(filepath.Join(ws.Target(cmos).ArtifactDir(), "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	wait("after a file that is not an input", func(r *store.RunRecord) bool { return r.Idle() })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch returned %v on cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not stop within 30s of cancel")
	}
	s, _ := store.Open(cfg.StoreDir(root))
	if err := s.Lock(); err != nil {
		t.Fatalf("lock after watch stopped: %v", err)
	}
	s.Unlock()
	requireStoreSound(t, cfg.StoreDir(root))
	runs, err := s.Runs()
	if err != nil {
		t.Fatal(err)
	}
	if int32(len(runs)) != busyPasses.Load() {
		t.Errorf("%d run records for %d passes that triaged or failed something", len(runs), busyPasses.Load())
	}
	for _, p := range runs {
		if r, err := s.LoadRun(p); err != nil || r.Idle() {
			t.Errorf("run record %s: %v; idle=%v", p, err, err == nil && r.Idle())
		}
	}
}
