package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"gopkg.in/yaml.v3"
)

// TestSARIFValidates emits the shared store as SARIF and validates it
// against the official SARIF 2.1.0 schema (go-sarif's copy), checks the
// parse loses nothing, and that each result points at the panic location
// bugs.yaml gives.
func TestSARIFValidates(t *testing.T) {
	gs := sharedStore(t)
	snap, err := Load(gs.root, gs.store)
	if err != nil {
		t.Fatal(err)
	}
	bugs := snap.Bugs()
	rep, err := SARIF(snap, bugs)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteSARIF(&out, rep); err != nil {
		t.Fatal(err)
	}
	parsed, err := sarif.FromBytes(out.Bytes(), sarif.WithStrictValidation())
	if err != nil {
		t.Fatalf("our SARIF does not parse: %v", err)
	}
	if err := parsed.Validate(); err != nil {
		t.Fatalf("our SARIF does not validate against the 2.1.0 schema: %v", err)
	}
	// What was validated is what we wrote: re-encoding the parsed log
	// gives the same JSON (no field dropped by the parse).
	var again bytes.Buffer
	if err := parsed.PrettyWrite(&again); err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the SARIF log changes when parsed and re-encoded: validation did not see all of it")
	}

	if len(parsed.Runs) != 1 || len(parsed.Runs[0].Results) != len(bugs) {
		t.Fatalf("want 1 run with %d results", len(bugs))
	}
	run := parsed.Runs[0]
	if run.Tool.Driver.Name == nil || *run.Tool.Driver.Name != "triage" {
		t.Errorf("tool name %v", run.Tool.Driver.Name)
	}
	rules := map[string]bool{}
	for _, r := range run.Tool.Driver.Rules {
		rules[*r.ID] = true
	}
	for _, res := range run.Results {
		id := res.PartialFingerprints[SARIFFingerprint]
		bugID := gs.bugOf[id]
		if bugID == "" {
			t.Errorf("result with fingerprint %q is no bucket of the store", id)
			continue
		}
		if res.RuleID == nil || !rules[*res.RuleID] || int(res.RuleIndex) < 0 || *run.Tool.Driver.Rules[res.RuleIndex].ID != *res.RuleID {
			t.Errorf("%s: rule %v index %d does not match the rules", bugID, res.RuleID, res.RuleIndex)
		}
		bug := gs.manifest.Bug(bugID)
		if bug.Message == "" {
			continue // timeouts, OOMs, stack overflows: no panic location
		}
		if len(res.Locations) == 0 {
			t.Errorf("%s: no location", bugID)
			continue
		}
		pl := res.Locations[0].PhysicalLocation
		if pl == nil || pl.ArtifactLocation == nil || pl.ArtifactLocation.URI == nil || *pl.ArtifactLocation.URI != bug.File ||
			pl.ArtifactLocation.URIBaseID == nil || *pl.ArtifactLocation.URIBaseID != SARIFSrcRoot || pl.Region == nil || pl.Region.StartLine == nil || *pl.Region.StartLine != bug.Line {
			t.Errorf("%s: location %+v, want %s:%d under %s", bugID, pl, bug.File, bug.Line, SARIFSrcRoot)
		}
		if res.Message == nil || res.Message.Text == nil || *res.Message.Text == "" {
			t.Errorf("%s: no message", bugID)
		}
	}
}

// TestExportJSONAndYAML checks the export round-trips with its documented
// field names and agrees between the two formats.
func TestExportJSONAndYAML(t *testing.T) {
	gs := sharedStore(t)
	snap, err := Load(gs.root, gs.store)
	if err != nil {
		t.Fatal(err)
	}
	e := BuildExport(snap, snap.Bugs(), time.Unix(1700000000, 0))
	var js, ys bytes.Buffer
	if err := e.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := e.WriteYAML(&ys); err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromYAML map[string]any
	if err := json.Unmarshal(js.Bytes(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(ys.Bytes(), &fromYAML); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []map[string]any{fromJSON, fromYAML} {
		if v, _ := doc["schema_version"].(float64); v != ExportSchemaVersion {
			if iv, _ := doc["schema_version"].(int); iv != ExportSchemaVersion {
				t.Errorf("schema_version %v", doc["schema_version"])
			}
		}
		buckets, _ := doc["buckets"].([]any)
		if len(buckets) != len(gs.bugOf) {
			t.Fatalf("%d buckets exported, want %d", len(buckets), len(gs.bugOf))
		}
		first := buckets[0].(map[string]any)
		for _, field := range []string{"id", "key", "title", "target", "kind", "first_seen", "last_seen", "member_count", "members", "status", "reproducibility", "frames", "representative", "commands"} {
			if _, ok := first[field]; !ok {
				t.Errorf("exported bucket lacks field %q", field)
			}
		}
	}
	var back Export
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Buckets) != len(e.Buckets) || back.Buckets[0].ID != e.Buckets[0].ID || back.Buckets[0].Title != e.Buckets[0].Title {
		t.Error("the JSON export does not decode back into Export")
	}
}
