package triage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/store"
)

// An interrupted campaign (SIGINT in the CLI) stops its fuzzers, triages
// nothing more, and still writes its record, saying it was stopped.
func TestFuzzInterruptedWritesRecord(t *testing.T) {
	root := fixture.BuiltCopy(t)
	ws := discover(t, root)
	cfg := quickConfig()
	ws.Configure(cfg)
	opts := FuzzOptions{Options: Options{Config: cfg, Stages: DefaultStages(), Targets: []string{"fuzz_chipset_battery", "fuzz_ide"}},
		Duration: 10 * time.Minute, Cores: 2, Triage: TriageAfter, Cmin: true}
	plan, err := PlanCampaign(context.Background(), ws, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(3*time.Second, cancel)
	begin := time.Now()
	rec, err := Fuzz(ctx, ws, plan, opts)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(begin); el > time.Minute {
		t.Errorf("the interrupted campaign took %s to stop", el)
	}
	if !strings.HasPrefix(rec.Stopped, "interrupted") || len(rec.Targets) != 2 {
		t.Fatalf("record: stopped %q, %d targets", rec.Stopped, len(rec.Targets))
	}
	for _, tg := range rec.Targets {
		if tg.Execs == 0 || tg.CorpusAfterCmin != 0 {
			t.Errorf("%s: execs %d, cmin after an interrupt %d", tg.Name, tg.Execs, tg.CorpusAfterCmin)
		}
	}
	st, err := store.Open(cfg.StoreDir(root))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	paths, err := st.Campaigns()
	if err != nil || len(paths) != 1 {
		t.Fatalf("records %v %v", paths, err)
	}
	back, err := st.LoadCampaign(paths[0])
	if err != nil || back.Stopped != rec.Stopped {
		t.Fatalf("record read back: %v %+v", err, back)
	}
	if runs, _ := st.Runs(); len(runs) != 0 {
		t.Errorf("an interrupted campaign triaged: %v", runs)
	}
	if left, _ := os.ReadDir(filepath.Join(st.CampaignDir(rec.Started), "tmp")); len(left) > 0 {
		t.Errorf("fork mode's temporary files left: %v", left)
	}
}
