package triage

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ArtifactKind is what libFuzzer's file name prefix says an artifact is.
type ArtifactKind string

// The prefixes libFuzzer (and cargo fuzz tmin) give artifact files.
const (
	ArtifactCrash         ArtifactKind = "crash"
	ArtifactTimeout       ArtifactKind = "timeout"
	ArtifactOOM           ArtifactKind = "oom"
	ArtifactLeak          ArtifactKind = "leak"
	ArtifactSlowUnit      ArtifactKind = "slow-unit"
	ArtifactMinimizedFrom ArtifactKind = "minimized-from"
	// ArtifactOther is any other file in an artifact directory.
	ArtifactOther ArtifactKind = "other"
)

// ArtifactKinds lists every kind in the order reports show them.
var ArtifactKinds = []ArtifactKind{
	ArtifactCrash, ArtifactTimeout, ArtifactOOM, ArtifactLeak,
	ArtifactSlowUnit, ArtifactMinimizedFrom, ArtifactOther,
}

// KindOfArtifact classifies a file name by libFuzzer's prefix.
func KindOfArtifact(name string) ArtifactKind {
	for _, k := range ArtifactKinds[:len(ArtifactKinds)-1] {
		if strings.HasPrefix(name, string(k)+"-") {
			return k
		}
	}
	return ArtifactOther
}

// Artifact is one input file in a target's artifact directory.
type Artifact struct {
	Target string       `json:"target" yaml:"target"`
	Path   string       `json:"path" yaml:"path"`
	Kind   ArtifactKind `json:"kind" yaml:"kind"`
	Size   int64        `json:"size" yaml:"size"`
}

// Artifacts lists the regular files in the target's artifact directory,
// sorted by name. A missing directory is not an error (no crash yet).
func (t *Target) Artifacts() ([]Artifact, error) {
	entries, err := os.ReadDir(t.ArtifactDir())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("artifacts of %s: %w", t.Name, err)
	}
	var out []Artifact
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, Artifact{
			Target: t.Name,
			Path:   filepath.Join(t.ArtifactDir(), e.Name()),
			Kind:   KindOfArtifact(e.Name()),
			Size:   info.Size(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// CorpusSize counts the files in the target's corpus directory.
func (t *Target) CorpusSize() (int, error) {
	entries, err := os.ReadDir(t.CorpusDir())
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("corpus of %s: %w", t.Name, err)
	}
	n := 0
	for _, e := range entries {
		if e.Type().IsRegular() {
			n++
		}
	}
	return n, nil
}
