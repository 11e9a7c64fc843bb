package report

import (
	"fmt"
	"strings"

	"github.com/fuzztriage/triage/coverage"
)

// CoveragePage is what a target's coverage page template sees.
type CoveragePage struct {
	Target string
	Report *coverage.Report
	// Plot is the primary scope's line coverage over the recorded runs.
	Plot    *LineChart
	Classes []coverage.GapClass
	// GapCounts are the gaps per class.
	GapCounts map[string]int
	Files     []CoverageFileView
	Problems  []string
}

// CoverageFileView is one file's source view.
type CoverageFileView struct {
	Path    string
	Scope   coverage.Scope
	Figures coverage.Figures
	Lines   []CoverageLine
	// Missing says why there is no source view.
	Missing string
}

// CoverageLine is one source line: its count ("" where it is not
// executable) and, uncovered, its gap's class.
type CoverageLine struct {
	N     int
	Text  string
	Count string
	Class string
}

// maxSourceView bounds the lines of one file's view.
const maxSourceView = 5000

func (s *Snapshot) coveragePage(ct CoverageTarget) CoveragePage {
	p := CoveragePage{Target: ct.Target, Classes: coverage.GapClasses, GapCounts: map[string]int{}}
	if ct.Detail != nil {
		p.Report = ct.Detail.Report
		classOf := map[string]map[int]string{}
		for _, g := range p.Report.Gaps {
			p.GapCounts[g.Class]++
			if classOf[g.File] == nil {
				classOf[g.File] = map[int]string{}
			}
			for l := g.StartLine; l <= g.EndLine; l++ {
				classOf[g.File][l] = g.Class
			}
		}
		for _, f := range p.Report.Files {
			if f.Scope != coverage.Primary && f.Scope != coverage.Secondary {
				continue
			}
			v := CoverageFileView{Path: f.Path, Scope: f.Scope, Figures: f.Figures}
			_, abs := s.sources.resolve(f.Path)
			text := []string(nil)
			if abs != "" {
				text = s.sources.lines(abs)
			}
			switch {
			case len(text) == 0:
				v.Missing = "the source is not in the workspace"
			case len(text) > maxSourceView:
				v.Missing = fmt.Sprintf("%d lines: too long to show", len(text))
			default:
				counts := ct.Detail.Counts[f.Path]
				for i, t := range text {
					l := CoverageLine{N: i + 1, Text: strings.TrimRight(t, "\r")}
					if c, ok := counts[i+1]; ok {
						l.Count = fmt.Sprint(c)
						if c == 0 {
							l.Class = classOf[f.Path][i+1]
							if l.Class == "" {
								l.Class = "uncovered"
							}
						}
					}
					v.Lines = append(v.Lines, l)
				}
			}
			p.Files = append(p.Files, v)
		}
	}
	p.Plot = historyPlot(ct)
	return p
}

// historyPlot draws the primary scope's line coverage of each record.
func historyPlot(ct CoverageTarget) *LineChart {
	h := ct.History
	if len(h) == 0 {
		return nil
	}
	ch := newLineChart("history-"+ct.Target, "Primary-scope line coverage of "+ct.Target+" over the recorded runs (percent)")
	x := func(i int) float64 {
		if len(h) == 1 {
			return chartLeft + (plotW-chartLeft)/2
		}
		return round1(chartLeft + float64(i)/float64(len(h)-1)*(plotW-chartLeft-10))
	}
	y := func(v float64) float64 { return round1(chartTop + plotH - v/100*plotH) }
	for v := 0; v <= 100; v += 20 {
		ch.Ticks = append(ch.Ticks, Tick{X1: chartLeft, X2: plotW, Y: y(float64(v)), TextX: chartLeft - 4, TextY: y(float64(v)) + 4, Text: fmt.Sprint(v)})
	}
	var pts strings.Builder
	for i, r := range h {
		fmt.Fprintf(&pts, "%g,%g ", x(i), y(r.PrimaryLines))
		if i == 0 || i == len(h)-1 || len(h) <= 6 {
			ch.XLabels = append(ch.XLabels, Label{X: x(i), Y: chartTop + plotH + 16, Text: r.Time.UTC().Format("01-02 15:04")})
		}
	}
	ch.Series = []Series{{Name: "primary lines %", Color: palette[4], Points: strings.TrimSpace(pts.String())}}
	if len(h) > 0 && h[len(h)-1].Goal > 0 {
		g := y(h[len(h)-1].Goal)
		ch.Series = append(ch.Series, Series{Name: fmt.Sprintf("goal %.0f%%", h[len(h)-1].Goal), Color: palette[2], Points: fmt.Sprintf("%g,%g %g,%g", chartLeft, g, float64(plotW), g)})
	}
	return ch
}
