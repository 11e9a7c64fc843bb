package report

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fuzztriage/triage/internal/atomicfile"
	"github.com/fuzztriage/triage/internal/inert"
	"github.com/fuzztriage/triage/templates"
)

// SiteData is what the index page template sees.
type SiteData struct {
	Workspace string
	Store     string
	Generated time.Time
	Bugs      []*Bug
	Runs      []Run
	Inputs    int
	Open      int
	Fixed     int
	Chart     *Chart
	Campaigns []Campaign
	Coverage  []CoverageTarget
	Problems  []string
}

// BucketPage is what a bucket page template sees.
type BucketPage struct {
	Bug      *Bug
	Chart    *Chart
	Markdown string
	// Known are the buckets with a page (ChangedTo may name others).
	Known map[string]bool
}

// Chart is an inline SVG bar chart, laid out in Go so the template only
// draws it.
type Chart struct {
	ID, Label     string
	Width, Height int
	AxisX, AxisY  float64
	Bars          []Bar
	Ticks         []Tick
	XLabels       []Label
	Legend        []LegendItem
}

// Bar is one rectangle; Bucket names the bucket it counts.
type Bar struct {
	X, Y, W, H float64
	Color      string
	Bucket     string
	Tip        string
}

// Tick is a horizontal grid line with its value.
type Tick struct {
	X1, X2, Y, TextX, TextY float64
	Text                    string
}

// Label is a text label.
type Label struct {
	X, Y float64
	Text string
}

// LegendItem names a color.
type LegendItem struct {
	Color, Text, Link string
}

// palette is Tableau's 10 colors, then 10 lighter ones.
var palette = []string{
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
	"#a0cbe8", "#ffbe7d", "#ff9d9a", "#86bcb6", "#8cd17d", "#f1ce63", "#d4a6c8", "#fabfd2", "#d7b5a6", "#79706e",
}

const (
	chartLeft   = 40.0
	chartTop    = 10.0
	chartBottom = 24.0
	chartPlotH  = 180.0
)

// crashChart stacks, for each run, the members each bucket gained.
// bugs gives the stacking order (and colors, by position).
func crashChart(id, label string, runs []Run, bugs []*Bug, counts map[string][]int, linkPrefix string) *Chart {
	if len(runs) == 0 {
		return nil
	}
	totals := make([]int, len(runs))
	for _, b := range bugs {
		for i, n := range counts[b.ID] {
			totals[i] += n
		}
	}
	top := 0
	for _, t := range totals {
		top = max(top, t)
	}
	step := niceStep(top)
	ymax := int(math.Ceil(float64(max(top, 1))/float64(step))) * step
	slot := math.Max(14, math.Min(60, 720/float64(len(runs))))
	barW := slot * 0.7
	c := &Chart{ID: id, Label: label, Width: int(chartLeft + slot*float64(len(runs)) + 10), Height: int(chartTop + chartPlotH + chartBottom)}
	c.AxisX, c.AxisY = chartLeft, chartTop+chartPlotH
	scale := chartPlotH / float64(ymax)
	for v := 0; v <= ymax; v += step {
		y := c.AxisY - float64(v)*scale
		c.Ticks = append(c.Ticks, Tick{X1: chartLeft, X2: float64(c.Width), Y: round1(y), TextX: chartLeft - 4, TextY: round1(y + 4), Text: strconv.Itoa(v)})
	}
	labelEvery := int(math.Ceil(36 / slot))
	for i, r := range runs {
		x := chartLeft + slot*float64(i) + (slot-barW)/2
		y := c.AxisY
		for bi, b := range bugs {
			n := 0
			if cs := counts[b.ID]; i < len(cs) {
				n = cs[i]
			}
			if n == 0 {
				continue
			}
			h := float64(n) * scale
			y -= h
			c.Bars = append(c.Bars, Bar{X: round1(x), Y: round1(y), W: round1(barW), H: round1(h), Color: palette[bi%len(palette)], Bucket: b.ID,
				Tip: fmt.Sprintf("%s: %d new %s in run %s (%s)", b.ID, n, pluralWord(n, "crash", "crashes"), r.Name, b.Title)})
		}
		if i%labelEvery == 0 {
			c.XLabels = append(c.XLabels, Label{X: round1(chartLeft + slot*float64(i) + slot/2), Y: c.AxisY + 16, Text: "#" + strconv.Itoa(i+1) + " " + r.Record.Started.UTC().Format("01-02")})
		}
	}
	if linkPrefix != "" {
		for bi, b := range bugs {
			c.Legend = append(c.Legend, LegendItem{Color: palette[bi%len(palette)], Text: b.ID, Link: linkPrefix + b.ID + ".html"})
		}
	}
	return c
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// niceStep picks a grid step giving at most about 5 lines.
func niceStep(top int) int {
	for _, s := range []int{1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000} {
		if top <= s*5 {
			return s
		}
	}
	return int(math.Pow(10, math.Ceil(math.Log10(float64(top)/5))))
}

// WriteSite writes the static HTML summary into dir: index.html, and per
// bucket buckets/<id>.html and buckets/<id>.md (the Markdown report).
// It returns the files written.
func WriteSite(snap *Snapshot, dir string, md *Template, now time.Time) ([]string, error) {
	set, err := htmlTemplates()
	if err != nil {
		return nil, err
	}
	bugs := snap.Bugs()
	counts := snap.CrashesPerRun()
	data := SiteData{Workspace: snap.Root, Store: snap.StoreDir, Generated: now, Bugs: bugs, Runs: snap.Runs, Campaigns: snap.Campaigns, Coverage: snap.Coverage}
	for _, p := range snap.Problems {
		data.Problems = append(data.Problems, p.Error())
	}
	for _, b := range bugs {
		data.Inputs += b.MemberCount
		switch b.Status {
		case StatusFixed, StatusChanged:
			data.Fixed++
		default:
			data.Open++
		}
	}
	// Stack the biggest buckets at the bottom, with the first colors.
	order := append([]*Bug(nil), bugs...)
	sort.SliceStable(order, func(i, j int) bool { return order[i].MemberCount > order[j].MemberCount })
	data.Chart = crashChart("crashes-per-run", "New crashes per bucket in each recorded run", snap.Runs, order, counts, "buckets/")

	var written []string
	write := func(rel string, content []byte) error {
		p := filepath.Join(dir, rel)
		if strings.HasSuffix(rel, ".html") {
			content = htmlControls(content)
		}
		if err := atomicfile.Write(p, content); err != nil {
			return err
		}
		written = append(written, p)
		return nil
	}
	var buf bytes.Buffer
	if err := set.ExecuteTemplate(&buf, templates.SummaryHTML, data); err != nil {
		return nil, fmt.Errorf("rendering index.html: %w", err)
	}
	if err := write("index.html", buf.Bytes()); err != nil {
		return nil, err
	}
	for _, c := range snap.Campaigns {
		buf.Reset()
		if err := set.ExecuteTemplate(&buf, templates.CampaignHTML, campaignPage(c)); err != nil {
			return nil, fmt.Errorf("rendering the page of campaign %s: %w", c.Name, err)
		}
		if err := write(filepath.Join("campaigns", c.Name+".html"), buf.Bytes()); err != nil {
			return nil, err
		}
	}
	for _, ct := range snap.Coverage {
		buf.Reset()
		if err := set.ExecuteTemplate(&buf, templates.CoverageHTML, snap.coveragePage(ct)); err != nil {
			return nil, fmt.Errorf("rendering the coverage page of %s: %w", ct.Target, err)
		}
		if err := write(filepath.Join("coverage", ct.Target+".html"), buf.Bytes()); err != nil {
			return nil, err
		}
	}
	known := map[string]bool{}
	for _, b := range bugs {
		known[b.ID] = true
	}
	for _, b := range bugs {
		var mdBuf bytes.Buffer
		if err := md.Render(&mdBuf, b); err != nil {
			return nil, err
		}
		if err := write(filepath.Join("buckets", b.ID+".md"), mdBuf.Bytes()); err != nil {
			return nil, err
		}
		colorIdx := 0
		for i, o := range order {
			if o.ID == b.ID {
				colorIdx = i
			}
		}
		one := []*Bug{b}
		ch := crashChart("bucket-crashes", "New crashes of "+b.ID+" in each recorded run", snap.Runs, one, counts, "")
		if ch != nil {
			for i := range ch.Bars {
				ch.Bars[i].Color = palette[colorIdx%len(palette)]
			}
		}
		buf.Reset()
		if err := set.ExecuteTemplate(&buf, templates.ReportHTML, BucketPage{Bug: b, Chart: ch, Markdown: b.ID + ".md", Known: known}); err != nil {
			return nil, fmt.Errorf("rendering the page of %s: %w", b.ID, err)
		}
		if err := write(filepath.Join("buckets", b.ID+".html"), buf.Bytes()); err != nil {
			return nil, err
		}
	}
	return written, nil
}

func htmlTemplates() (*template.Template, error) {
	set := template.New("site").Funcs(template.FuncMap(Funcs))
	for _, name := range []string{templates.SummaryHTML, templates.ReportHTML, templates.CampaignHTML, templates.CoverageHTML} {
		text, err := templates.Report(name)
		if err != nil {
			return nil, err
		}
		if _, err := set.New(name).Parse(text); err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
	}
	return set, nil
}

// htmlControls writes the control characters a page holds as text escapes
// (\x1b, \r, \u202e): html/template escapes markup, but a terminal escape
// sequence or a bidirectional override in an artifact's name would still
// reach the page. The templates themselves hold none; only data does.
func htmlControls(page []byte) []byte {
	s := string(page)
	if strings.IndexFunc(s, func(r rune) bool { return r != '\n' && r != '\t' && inert.IsControl(r) }) < 0 {
		return page
	}
	var b strings.Builder
	for _, r := range s {
		if r != '\n' && r != '\t' && inert.IsControl(r) {
			b.WriteString(inert.Line(string(r)))
			continue
		}
		b.WriteRune(r)
	}
	return []byte(b.String())
}
