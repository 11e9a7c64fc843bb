package triage

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fuzztriage/triage/store"
)

// Artifact is one input file in a target's artifact directory.
type Artifact struct {
	Target string             `json:"target" yaml:"target"`
	Path   string             `json:"path" yaml:"path"`
	Kind   store.ArtifactKind `json:"kind" yaml:"kind"`
	Size   int64              `json:"size" yaml:"size"`
	// Skip says why the entry is not an input to triage ("" for regular,
	// visible files); its Kind is then ArtifactOther.
	Skip string `json:"skip,omitempty" yaml:"skip,omitempty"`
}

// Artifacts lists the entries of the target's artifact directory, sorted
// by name: regular files by the kind their name says, anything else
// (directories, links, devices, hidden files) with Skip saying why it is
// not read. A missing directory is not an error (no crash yet).
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
		a := Artifact{Target: t.Name, Path: filepath.Join(t.ArtifactDir(), e.Name()), Kind: store.ArtifactOther}
		switch {
		case strings.HasPrefix(e.Name(), "."):
			a.Skip = "hidden file"
		case e.Type()&fs.ModeSymlink != 0:
			a.Skip = "a symbolic link (never followed)"
		case !e.Type().IsRegular():
			a.Skip = "not a regular file"
		default:
			info, err := e.Info()
			if err != nil {
				a.Skip = err.Error()
				break
			}
			a.Kind, a.Size = store.KindOfArtifact(e.Name()), info.Size()
		}
		out = append(out, a)
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
