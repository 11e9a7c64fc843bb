package campaign

import (
	"strings"
	"testing"
)

// The guide's 112-core campaign: its weight classes give back its split
// (heavy 20, medium 15, light 8), every core is used, and the one left over
// goes to the largest remainder.
func TestAllocateGuideCampaign(t *testing.T) {
	w := func(c string) float64 {
		v, err := ParseWeight(c)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	demands := []Demand{{"storvsp", w("heavy")}, {"ide", w("heavy")}, {"nvme", w("heavy")}, {"nvram", w("heavy")},
		{"cmos_rtc", w("medium")}, {"diagnostics", w("light")}, {"scsi_buffers", w("light")}}
	got := Allocate(112, demands)
	sum := 0
	for _, d := range demands {
		sum += got[d.Name]
	}
	if sum != 112 {
		t.Fatalf("allocated %d cores of 112: %v", sum, got)
	}
	for _, n := range []string{"storvsp", "ide", "nvme", "nvram"} {
		if got[n] < 20 || got[n] > 21 {
			t.Errorf("heavy %s got %d cores, want 20-21", n, got[n])
		}
	}
	if got["cmos_rtc"] != 15 {
		t.Errorf("medium got %d cores, want 15", got["cmos_rtc"])
	}
	for _, n := range []string{"diagnostics", "scsi_buffers"} {
		if got[n] < 7 || got[n] > 10 {
			t.Errorf("light %s got %d cores, want the guide's 7-10", n, got[n])
		}
	}
	// With one core left for triage the split is exactly the guide's.
	exact := Allocate(111, demands)
	for n, want := range map[string]int{"storvsp": 20, "ide": 20, "nvme": 20, "nvram": 20, "cmos_rtc": 15, "diagnostics": 8, "scsi_buffers": 8} {
		if exact[n] != want {
			t.Errorf("111 cores: %s got %d, want %d", n, exact[n], want)
		}
	}
	// Deterministic: the same weights, the same split.
	again := Allocate(112, demands)
	for k, v := range got {
		if again[k] != v {
			t.Errorf("second split differs for %s: %d vs %d", k, v, again[k])
		}
	}
}

func TestAllocateEdges(t *testing.T) {
	// A tiny target still gets a core; the big one gets the rest.
	got := Allocate(8, []Demand{{"big", 10000}, {"tiny", 1}})
	if got["tiny"] != 1 || got["big"] != 7 {
		t.Errorf("got %v, want tiny 1, big 7", got)
	}
	// Fewer cores than targets: everyone runs on one.
	got = Allocate(2, []Demand{{"a", 5}, {"b", 5}, {"c", 5}})
	for _, n := range []string{"a", "b", "c"} {
		if got[n] != 1 {
			t.Errorf("%s got %d cores with 2 cores for 3 targets, want 1", n, got[n])
		}
	}
	// Many small weights whose minimum of one exceeds their share.
	got = Allocate(5, []Demand{{"a", 100}, {"b", 1}, {"c", 1}, {"d", 1}})
	sum := 0
	for _, v := range got {
		sum += v
		if v < 1 {
			t.Errorf("a target got no core: %v", got)
		}
	}
	if sum != 5 || got["a"] != 2 {
		t.Errorf("got %v, want a 2 and the others 1", got)
	}
}

func TestParseWeight(t *testing.T) {
	for _, bad := range []string{"", "0", "-3", "huge", "NaN", "Inf", "1e400"} {
		if _, err := ParseWeight(bad); err == nil {
			t.Errorf("weight %q accepted", bad)
		} else if !strings.Contains(err.Error(), "heavy") {
			t.Errorf("error for %q does not list the classes: %v", bad, err)
		}
	}
	if v, err := ParseWeight("2.5"); err != nil || v != 2.5 {
		t.Errorf("2.5: %v %v", v, err)
	}
}

// Every weight class and health check is complete (rules are data).
func TestTablesComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range WeightClasses {
		if c.Name == "" || c.Weight <= 0 || c.Examples == "" || seen[c.Name] {
			t.Errorf("weight class %+v is incomplete or repeated", c)
		}
		seen[c.Name] = true
	}
	for _, h := range HealthChecks {
		if h.Name == "" || h.Means == "" || h.Advice == "" || h.Test == nil || seen[h.Name] {
			t.Errorf("health check %q is incomplete or repeated", h.Name)
		}
		seen[h.Name] = true
	}
	for _, k := range []string{"execs", "execs_per_sec", "cov, features", "corpus", "artifacts", "reported", "samples", "edges"} {
		if Method[k] == "" {
			t.Errorf("Method does not say how %s is obtained", k)
		}
	}
}

// Measured weights (edges) mixed with classes: the average measured
// target weighs as a medium one: a heavy target gets more than a
// measured one of less than average complexity.
func TestScaleMeasured(t *testing.T) {
	d := []Demand{{"ide", 20}, {"small", 81}, {"big", 333}}
	ScaleMeasured(d, []bool{false, true, true})
	if d[0].Weight != 20 || d[1].Weight+d[2].Weight != 30 || d[2].Weight <= d[1].Weight {
		t.Errorf("scaled %+v", d)
	}
	got := Allocate(28, d)
	if got["ide"] <= got["small"] || got["big"] <= got["small"] || got["ide"]+got["big"]+got["small"] != 28 {
		t.Errorf("split %v", got)
	}
	// Among measured targets alone the split is the edges' split.
	a := []Demand{{"x", 100}, {"y", 300}}
	want := Allocate(8, a)
	ScaleMeasured(a, []bool{true, true})
	if got := Allocate(8, a); got["x"] != want["x"] || got["y"] != want["y"] {
		t.Errorf("scaling changed a measured-only split: %v vs %v", got, want)
	}
}
