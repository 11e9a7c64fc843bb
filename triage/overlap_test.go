package triage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

// TestBucketWorkOverlapsReproduction runs the pipeline on the fixture's real
// inputs of four bugs (a hang, an OOM, two panics) with -j 2 and
// reads its own event log: the first lldb session of the first bucket
// starts before the last artifact's first reproduction ends. A run with
// -j 1 (one slot: every first run before any bucket work) on another copy
// gives the same buckets, members, representatives, verdicts, minimized
// representatives and debugged inputs.
func TestBucketWorkOverlapsReproduction(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline twice on the fixture")
	}
	needLLDB(t)
	targets := []string{"fuzz_wire_decode", "fuzz_ide"}
	// A hang, an OOM and the two IDE panics: slow kinds first, then
	// crashes whose buckets are minimized.
	bugs := []string{"wire-skip-loop", "wire-packed-oom", "ide-dma-no-prd", "ide-stats-borrow"}

	overlapped := fixture.BuiltCopy(t)
	keepBug(t, overlapped, bugs...)
	var events bytes.Buffer
	log := logrus.New()
	log.SetOutput(&events)
	log.SetLevel(logrus.DebugLevel)
	log.SetFormatter(&logrus.JSONFormatter{})
	cfg := testConfig()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rec, err := Run(ctx, discover(t, overlapped), Options{Config: cfg, Stages: DefaultStages(), Targets: targets, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Failures) != 0 || rec.Artifacts.Triaged == 0 {
		t.Fatalf("run: %+v, failures %+v", rec.Artifacts, rec.Failures)
	}

	// The event log, in the order it was written.
	firstSession, lastTriaged, triaged := -1, -1, 0
	sc := bufio.NewScanner(&events)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for i := 0; sc.Scan(); i++ {
		var ev struct {
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, sc.Text())
		}
		switch ev.Msg {
		case "lldb session started":
			if firstSession < 0 {
				firstSession = i
			}
		case "triaged":
			lastTriaged = i
			triaged++
		}
	}
	if triaged != rec.Artifacts.Triaged || firstSession < 0 {
		t.Fatalf("event log: %d triaged events for %d inputs, first lldb session at event %d", triaged, rec.Artifacts.Triaged, firstSession)
	}
	if firstSession > lastTriaged {
		t.Errorf("the first lldb session started (event %d) after the last first reproduction ended (event %d): no overlap", firstSession, lastTriaged)
	}
	t.Logf("first lldb session at event %d, last first reproduction ended at event %d, run phases %v", firstSession, lastTriaged, rec.PhaseMS)

	sequential := fixture.BuiltCopy(t)
	keepBug(t, sequential, bugs...)
	cfg1 := testConfig()
	cfg1.Jobs = 1
	rec1 := runPipeline(t, sequential, cfg1, targets...)
	if len(rec1.Failures) != 0 {
		t.Fatalf("sequential run: failures %+v", rec1.Failures)
	}
	got, want := runOutcomeOf(t, cfg.StoreDir(overlapped)), runOutcomeOf(t, cfg1.StoreDir(sequential))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the overlapped run's results differ from the sequential run's:\n got %+v\nwant %+v", got, want)
	}
	if len(got.Buckets) < 2 {
		t.Errorf("%d buckets: the workload should have several", len(got.Buckets))
	}
}

// runOutcome is what a run decided, without times and paths: what must not
// depend on the order work was done in.
type runOutcome struct {
	Inputs  map[string]string // sha1 -> status and bucket
	Buckets map[string]bucketOutcome
}

type bucketOutcome struct {
	Members         []string
	Representative  string
	Minimized       string
	Reproducibility map[store.Profile]store.Reproducibility
	Debugged        map[store.Profile]string // profile -> input sha1 and stop kind
}

func runOutcomeOf(t *testing.T, dir string) runOutcome {
	t.Helper()
	arts, buckets := loadStore(t, dir)
	out := runOutcome{Inputs: map[string]string{}, Buckets: map[string]bucketOutcome{}}
	for sha, r := range arts {
		s := string(r.Status)
		if r.Bucket != nil {
			s += " " + r.Bucket.ID
		}
		out.Inputs[sha] = s
	}
	for id, b := range buckets {
		bo := bucketOutcome{Representative: b.Representative.SHA1, Reproducibility: b.Reproducibility, Debugged: map[store.Profile]string{}}
		for _, m := range b.Members {
			bo.Members = append(bo.Members, m.SHA1)
		}
		sort.Strings(bo.Members)
		// The minimized bytes are libFuzzer's pick among inputs of the bug,
		// and -minimize_crash does not repeat itself (three runs one after
		// the other on one input, same -seed, gave three inputs); what must
		// agree is that the representative was minimized, verified, and is
		// what lldb ran.
		if m := b.Minimized; m != nil {
			bo.Minimized = fmt.Sprintf("from %s, verified %v, no larger: %v", m.From, m.Verified, m.Size <= m.FromSize)
		}
		for prof, f := range b.LLDB {
			in := f.Input
			if b.Minimized != nil && in == b.Minimized.SHA1 {
				in = "the minimized input"
			}
			bo.Debugged[prof] = in + " " + string(f.StopKind) + " " + f.Error
		}
		out.Buckets[id] = bo
	}
	return out
}
