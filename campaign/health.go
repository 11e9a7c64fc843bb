package campaign

import (
	"fmt"
	"sort"

	"github.com/fuzztriage/triage/store"
)

// HealthCheck is one of the fuzzing guide's optimization principles made
// measurable: a test over a target's campaign figures, and the advice it
// points to.
type HealthCheck struct {
	Name string
	// Means says what the check measures, for the README and --help.
	Means  string
	Advice string
	// Test returns what it found (empty: nothing to say).
	Test func(t *store.CampaignTarget, all []store.CampaignTarget) string
}

// Thresholds of the health checks.
const (
	slowFraction     = 0.1  // exec/s below this fraction of the campaign's median
	plateauFraction  = 0.25 // no new features over this last part of the run
	plateauMinSample = 8    // status lines needed to judge a plateau
	failRate         = 0.1  // timeouts+OOMs per finished job
	crashRate        = 0.5  // crashing jobs per finished job
	shallowEdges     = 0.05 // coverage below this fraction of the edges
	maxLenFraction   = 0.1  // corpus inputs at -max_len
)

// HealthChecks are the checks, in the order they are reported.
var HealthChecks = []HealthCheck{
	{
		Name:   "slow",
		Means:  "exec/s far below the campaign's other targets (under a tenth of their median)",
		Advice: "Performance: smaller backing stores (32 KB RAM disks), fixed guest memory, always negotiate protocols.",
		Test: func(t *store.CampaignTarget, all []store.CampaignTarget) string {
			if len(all) < 2 || t.ExecsPerSec <= 0 {
				return ""
			}
			rates := make([]float64, 0, len(all))
			for _, o := range all {
				rates = append(rates, o.ExecsPerSec)
			}
			sort.Float64s(rates)
			med := rates[len(rates)/2]
			if t.ExecsPerSec < slowFraction*med {
				return fmt.Sprintf("%.0f exec/s against a median of %.0f", t.ExecsPerSec, med)
			}
			return ""
		},
	},
	{
		Name:   "plateau",
		Means:  "no new features over the last quarter of the run",
		Advice: "Coverage gaps: make setup parameters fuzzer-driven, allow 0-item configurations, extend the harness; find the gaps with triage coverage.",
		Test: func(t *store.CampaignTarget, _ []store.CampaignTarget) string {
			s := t.Samples
			if len(s) < plateauMinSample {
				return ""
			}
			last := s[len(s)-1]
			cut := last.T - plateauFraction*(last.T-s[0].T)
			// The last sample at or before the cut: features then and now.
			i := sort.Search(len(s), func(i int) bool { return s[i].T > cut }) - 1
			if i < 0 || s[i].Ft != last.Ft || last.T-s[i].T < 1 {
				return ""
			}
			return fmt.Sprintf("features stayed at %d from %.0f s to %.0f s", last.Ft, s[i].T, last.T)
		},
	},
	{
		Name:   "timeouts",
		Means:  "a tenth or more of the fuzzer's jobs ended in a timeout or an out-of-memory",
		Advice: "Slow and hanging inputs eat the budget: triage the timeout- and oom- artifacts, use small fixed-size backing stores.",
		Test: func(t *store.CampaignTarget, _ []store.CampaignTarget) string {
			jobs := jobsOf(t)
			bad := t.Reported.Timeouts + t.Reported.OOMs
			if jobs > 0 && float64(bad) >= failRate*float64(jobs) {
				return fmt.Sprintf("%d timeouts and %d OOMs in %d jobs", t.Reported.Timeouts, t.Reported.OOMs, jobs)
			}
			return ""
		},
	},
	{
		Name:   "crash-flood",
		Means:  "half or more of the jobs crashed",
		Advice: "A shallow bug ends most jobs before they go deep: fix it (its bucket is in the summary) so that fuzzing reaches further.",
		Test: func(t *store.CampaignTarget, _ []store.CampaignTarget) string {
			jobs := jobsOf(t)
			if jobs > 0 && float64(t.Reported.Crashes) >= crashRate*float64(jobs) {
				return fmt.Sprintf("%d of %d jobs crashed", t.Reported.Crashes, jobs)
			}
			return ""
		},
	},
	{
		Name:   "slow-units",
		Means:  "libFuzzer wrote slow-unit- inputs (-report_slow_units: an input ran for seconds)",
		Advice: "Performance: find what those inputs make slow (triage repro on a slow-unit- file); smaller backing stores, fixed guest memory.",
		Test: func(t *store.CampaignTarget, _ []store.CampaignTarget) string {
			if n := t.Artifacts[store.ArtifactSlowUnit]; n > 0 {
				return fmt.Sprintf("%d slow-unit- inputs", n)
			}
			return ""
		},
	},
	{
		Name:   "max-len",
		Means:  "a tenth or more of the corpus is -max_len bytes long: inputs want more room than they get",
		Advice: "Entropy efficiency: raise -max_len, or make every byte count (Arbitrary enums instead of ratio() calls, one arbitrary call per composite value).",
		Test: func(t *store.CampaignTarget, _ []store.CampaignTarget) string {
			if t.MaxLen > 0 && t.CorpusAtMaxLen >= 3 && float64(t.CorpusAtMaxLen) >= maxLenFraction*float64(t.CorpusAfter) {
				return fmt.Sprintf("%d of %d corpus inputs are %d bytes (-max_len)", t.CorpusAtMaxLen, t.CorpusAfter, t.MaxLen)
			}
			return ""
		},
	},
	{
		Name:   "shallow",
		Means:  "coverage under 5% of the instrumented edges: most inputs are rejected early",
		Advice: "Entropy efficiency and negotiation: always negotiate protocols, avoid overly constrained or unconstrained generation (Arbitrary enums, not ratio() calls).",
		Test: func(t *store.CampaignTarget, _ []store.CampaignTarget) string {
			if t.Edges > 0 && t.CovEnd > 0 && float64(t.CovEnd) < shallowEdges*float64(t.Edges) {
				return fmt.Sprintf("cov %d of %d edges", t.CovEnd, t.Edges)
			}
			return ""
		},
	},
}

// jobsOf is the fork jobs the target ran (at least the failures counted:
// a timed-out job prints no status line).
func jobsOf(t *store.CampaignTarget) int {
	return max(t.Jobs, t.Reported.Crashes+t.Reported.Timeouts+t.Reported.OOMs)
}

// Health runs every check on every target.
func Health(targets []store.CampaignTarget) []store.HealthFinding {
	var out []store.HealthFinding
	for i := range targets {
		for _, c := range HealthChecks {
			if d := c.Test(&targets[i], targets); d != "" {
				out = append(out, store.HealthFinding{Target: targets[i].Name, Check: c.Name, Detail: d, Advice: c.Advice})
			}
		}
	}
	return out
}
