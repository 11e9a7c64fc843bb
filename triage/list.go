package triage

import (
	"os"

	"github.com/fuzztriage/triage/store"
)

// BinaryStatus says where a profile's binary is and whether it exists.
type BinaryStatus struct {
	Path  string `json:"path" yaml:"path"`
	Built bool   `json:"built" yaml:"built"`
}

// TargetSummary is one line of `triage list`.
type TargetSummary struct {
	Target    `yaml:",inline"`
	Binaries  map[store.Profile]BinaryStatus `json:"binaries" yaml:"binaries"`
	Corpus    int                            `json:"corpus" yaml:"corpus"`
	Artifacts map[store.ArtifactKind]int     `json:"artifacts" yaml:"artifacts"`
}

// Summarize describes every target of the workspace.
func Summarize(ws *Workspace) ([]TargetSummary, error) {
	out := make([]TargetSummary, 0, len(ws.Targets))
	for _, t := range ws.Targets {
		s := TargetSummary{
			Target:    *t,
			Binaries:  map[store.Profile]BinaryStatus{},
			Artifacts: map[store.ArtifactKind]int{},
		}
		for _, p := range store.Profiles {
			path := t.BinaryPath(p)
			st, err := os.Stat(path)
			s.Binaries[p] = BinaryStatus{Path: path, Built: err == nil && st.Mode().IsRegular()}
		}
		n, err := t.CorpusSize()
		if err != nil {
			return nil, err
		}
		s.Corpus = n
		arts, err := t.Artifacts()
		if err != nil {
			return nil, err
		}
		for _, a := range arts {
			if a.Skip == "" {
				s.Artifacts[a.Kind]++
			}
		}
		out = append(out, s)
	}
	return out, nil
}
