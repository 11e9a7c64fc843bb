package templates

import (
	"embed"
	"fmt"
)

// The report templates (`triage report`, `triage html`); they have their
// own embed so that this file is all the report commands need here.
//
//go:embed report.md.tmpl report.html.tmpl summary.html.tmpl campaign.html.tmpl coverage.html.tmpl
var reportFiles embed.FS

// Names of the report templates.
const (
	// ReportMarkdown is the bug report `triage report` renders (text/template).
	ReportMarkdown = "report.md.tmpl"
	// ReportHTML is one bucket's page of `triage html` (html/template).
	ReportHTML = "report.html.tmpl"
	// SummaryHTML is the index page of `triage html` (html/template).
	SummaryHTML = "summary.html.tmpl"
	// CampaignHTML is a fuzzing campaign's page of `triage html`
	// (html/template).
	CampaignHTML = "campaign.html.tmpl"
	// CoverageHTML is a fuzz target's coverage page of `triage html`
	// (html/template).
	CoverageHTML = "coverage.html.tmpl"
)

// Report returns an embedded report template's text.
func Report(name string) (string, error) {
	data, err := reportFiles.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("no report template named %q", name)
	}
	return string(data), nil
}
