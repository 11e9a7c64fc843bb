package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/fuzztriage/triage/store"
)

// CampaignPage is what a campaign page template sees.
type CampaignPage struct {
	Name    string
	Record  *store.CampaignRecord
	Targets []CampaignTargetView
}

// CampaignTargetView is one target's row and plot.
type CampaignTargetView struct {
	T         store.CampaignTarget
	Artifacts string
	Plot      *LineChart
}

// LineChart is an inline SVG line plot, laid out in Go.
type LineChart struct {
	ID, Label     string
	Width, Height int
	AxisX, AxisY  float64
	Series        []Series
	Ticks         []Tick
	XLabels       []Label
}

// Series is one polyline: its points as SVG "x,y x,y ...".
type Series struct {
	Name, Color, Points string
}

const (
	plotW = 640
	plotH = 180.0
)

// newLineChart is an empty plot of the pages' size and margins.
func newLineChart(id, label string) *LineChart {
	return &LineChart{ID: id, Label: label, Width: plotW, Height: int(chartTop + plotH + chartBottom), AxisX: chartLeft, AxisY: chartTop + plotH}
}

// campaignPage lays out a campaign's page.
func campaignPage(c Campaign) CampaignPage {
	p := CampaignPage{Name: c.Name, Record: c.Record}
	for _, t := range c.Record.Targets {
		var arts []string
		for _, k := range store.ArtifactKinds {
			if n := t.Artifacts[k]; n > 0 {
				arts = append(arts, fmt.Sprintf("%s %d", k, n))
			}
		}
		p.Targets = append(p.Targets, CampaignTargetView{T: t, Artifacts: strings.Join(arts, ", "), Plot: coveragePlot(t)})
	}
	return p
}

// coveragePlot draws a target's coverage (cov) and features (ft) against
// the seconds since the campaign started, on one scale.
func coveragePlot(t store.CampaignTarget) *LineChart {
	s := t.Samples
	if len(s) == 0 {
		return nil
	}
	top := 1
	for _, x := range s {
		top = max(top, x.Cov, x.Ft)
	}
	step := niceStep(top)
	top = int(math.Ceil(float64(top)/float64(step))) * step
	tMax := max(s[len(s)-1].T, 1)
	ch := newLineChart(t.Name, "Coverage (cov) and features (ft) of "+t.Name+" over the campaign's seconds")
	x := func(sec float64) float64 { return round1(chartLeft + sec/tMax*(plotW-chartLeft-10)) }
	y := func(v int) float64 { return round1(chartTop + plotH - float64(v)/float64(top)*plotH) }
	for v := 0; v <= top; v += step {
		ch.Ticks = append(ch.Ticks, Tick{X1: chartLeft, X2: plotW, Y: y(v), TextX: chartLeft - 4, TextY: y(v) + 4, Text: fmt.Sprint(v)})
	}
	for i := 0; i <= 4; i++ {
		sec := tMax * float64(i) / 4
		ch.XLabels = append(ch.XLabels, Label{X: x(sec), Y: chartTop + plotH + 16, Text: fmt.Sprintf("%.0fs", sec)})
	}
	var cov, ft strings.Builder
	for _, p := range s {
		fmt.Fprintf(&cov, "%g,%g ", x(p.T), y(p.Cov))
		fmt.Fprintf(&ft, "%g,%g ", x(p.T), y(p.Ft))
	}
	ch.Series = []Series{{Name: "cov", Color: palette[0], Points: strings.TrimSpace(cov.String())}, {Name: "ft", Color: palette[1], Points: strings.TrimSpace(ft.String())}}
	return ch
}
