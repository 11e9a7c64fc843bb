package campaign

import (
	"testing"

	"github.com/fuzztriage/triage/store"
)

func samples(ft ...int) []store.CampaignSample {
	var out []store.CampaignSample
	for i, f := range ft {
		out = append(out, store.CampaignSample{T: float64(10 * i), Execs: int64(1000 * i), Ft: f})
	}
	return out
}

// Each check fires on the figures it is about and stays quiet on a
// healthy target.
func TestHealthChecks(t *testing.T) {
	healthy := store.CampaignTarget{Name: "healthy", ExecsPerSec: 5000, Jobs: 100, Reported: store.FuzzerCounts{Crashes: 2}, Edges: 800, CovEnd: 400,
		MaxLen: 64, CorpusAfter: 40, CorpusAtMaxLen: 1,
		Samples: samples(10, 20, 30, 40, 50, 60, 70, 80, 90, 100)}
	sick := store.CampaignTarget{Name: "sick", ExecsPerSec: 100, Jobs: 100, Reported: store.FuzzerCounts{Crashes: 60, Timeouts: 8, OOMs: 4}, Edges: 800, CovEnd: 20,
		Artifacts: map[store.ArtifactKind]int{store.ArtifactSlowUnit: 2}, MaxLen: 64, CorpusAfter: 40, CorpusAtMaxLen: 12,
		Samples: samples(10, 20, 30, 40, 50, 60, 70, 70, 70, 70)}
	other := healthy
	other.Name = "other"
	got := Health([]store.CampaignTarget{healthy, sick, other})
	fired := map[string]bool{}
	for _, h := range got {
		if h.Target != "sick" {
			t.Errorf("healthy target flagged: %+v", h)
		}
		if h.Detail == "" || h.Advice == "" {
			t.Errorf("finding without detail or advice: %+v", h)
		}
		fired[h.Check] = true
	}
	for _, c := range HealthChecks {
		if !fired[c.Name] {
			t.Errorf("check %s did not fire on the sick target (findings: %+v)", c.Name, got)
		}
	}
}
