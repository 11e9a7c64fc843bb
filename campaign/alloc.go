package campaign

import (
	"fmt"
	"math"
	"sort"
	"strconv"
)

// WeightClass is a named weight of triage.yaml's campaign.targets.<name>.weight.
type WeightClass struct {
	Name   string
	Weight float64
	// Examples are the fuzzing guide's targets of the class.
	Examples string
}

// WeightClasses is the fuzzing guide's rule of thumb for a 112-core
// campaign, as weights: heavy fuzzers got 20 cores, medium 15, light 7-10.
var WeightClasses = []WeightClass{
	{Name: "heavy", Weight: 20, Examples: "storvsp, ide, nvme, nvram: whole devices with queues and state machines"},
	{Name: "medium", Weight: 15, Examples: "cmos_rtc: a device with a small register file"},
	{Name: "light", Weight: 8, Examples: "diagnostics, scsi_buffers: parsers and buffers"},
}

// ParseWeight reads a weight: a class name or a positive number.
func ParseWeight(s string) (float64, error) {
	for _, c := range WeightClasses {
		if c.Name == s {
			return c.Weight, nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		names := ""
		for i, c := range WeightClasses {
			if i > 0 {
				names += ", "
			}
			names += c.Name
		}
		return 0, fmt.Errorf("weight %q is neither a positive number nor one of %s", s, names)
	}
	return v, nil
}

// Demand is one target asking for cores.
type Demand struct {
	Name   string
	Weight float64
}

// MeasuredScale is the class a target of average measured complexity
// weighs as: measured weights (instrumented edges) are scaled so that their
// mean is a medium target's weight, which puts them on the classes' scale
// when some targets have a weight in triage.yaml and others are measured.
const MeasuredScale = "medium"

// ScaleMeasured rescales the measured demands (measured[i]) onto the
// classes' scale (see MeasuredScale). Among measured targets alone the
// split does not change.
func ScaleMeasured(demands []Demand, measured []bool) {
	sum, n := 0.0, 0
	for i, d := range demands {
		if measured[i] {
			sum += d.Weight
			n++
		}
	}
	if n == 0 || sum <= 0 {
		return
	}
	unit, _ := ParseWeight(MeasuredScale)
	for i := range demands {
		if measured[i] {
			demands[i].Weight = math.Round(demands[i].Weight*unit*float64(n)/sum*100) / 100
		}
	}
}

// Allocate splits cores among the demands in proportion to their
// weights, each getting at least one (with fewer cores than targets, the
// cores are oversubscribed and every target still runs). The split is
// the largest-remainder method, ties broken by name, so that the same
// weights always give the same cores.
func Allocate(cores int, demands []Demand) map[string]int {
	out := map[string]int{}
	if len(demands) == 0 {
		return out
	}
	if cores < len(demands) {
		for _, d := range demands {
			out[d.Name] = 1
		}
		return out
	}
	total := 0.0
	for _, d := range demands {
		total += d.Weight
	}
	type share struct {
		name  string
		ideal float64
	}
	shares := make([]share, len(demands))
	used := 0
	for i, d := range demands {
		ideal := float64(cores) / float64(len(demands))
		if total > 0 {
			ideal = float64(cores) * d.Weight / total
		}
		shares[i] = share{d.Name, ideal}
		out[d.Name] = max(1, int(math.Floor(ideal)))
		used += out[d.Name]
	}
	// The floor leaves cores over; a raise to one may have taken too many.
	sort.Slice(shares, func(i, j int) bool {
		ri := shares[i].ideal - float64(out[shares[i].name])
		rj := shares[j].ideal - float64(out[shares[j].name])
		if ri != rj {
			return ri > rj
		}
		return shares[i].name < shares[j].name
	})
	for i := 0; used < cores; i = (i + 1) % len(shares) {
		out[shares[i].name]++
		used++
	}
	for i := len(shares) - 1; used > cores; i-- {
		if i < 0 {
			i = len(shares) - 1
		}
		if out[shares[i].name] > 1 {
			out[shares[i].name]--
			used--
		}
	}
	return out
}
