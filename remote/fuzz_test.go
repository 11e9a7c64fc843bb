package remote

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fuzztriage/triage/store"
)

// A worker's fuzz answer is untrusted: whatever it names, each file it
// brings lands directly in the corpus or artifact directory, named
// <sha1> or <kind>-<sha1>, and an entry that is not a SHA1 is refused.
func FuzzFuzzAnswerPlacements(f *testing.F) {
	sha := strings.Repeat("a1", 20)
	for _, seed := range []string{
		`{"corpus":["` + sha + `"],"artifacts":[{"name":"crash-x","sha1":"` + sha + `"}]}`,
		`{"artifacts":[{"name":"oom-` + sha + `","sha1":"` + sha + `"},{"name":"../../etc/passwd","sha1":"` + sha + `"}]}`,
		`{"corpus":["../` + sha + `"]}`,
		`{"artifacts":[{"name":"timeout-1","sha1":"` + sha + `/../x"}]}`,
		`{"artifacts":[{"name":"minimized-from-` + sha + `","sha1":"` + strings.ToUpper(sha) + `"}]}`,
	} {
		f.Add([]byte(seed))
	}
	corpus, artifacts := "/ws/fuzz/corpus/t", "/ws/fuzz/artifacts/t"
	var kinds []string
	for _, k := range store.ArtifactKinds {
		kinds = append(kinds, regexp.QuoteMeta(string(k)))
	}
	artifactName := regexp.MustCompile(`^(` + strings.Join(kinds, "|") + `)-[0-9a-f]{40}$`)
	f.Fuzz(func(t *testing.T, data []byte) {
		var a fuzzAnswer
		if json.Unmarshal(data, &a) != nil {
			return
		}
		files, err := a.placements(corpus, artifacts)
		if err != nil {
			if files != nil {
				t.Fatalf("an error with placements: %v", files)
			}
			return
		}
		if len(files) != len(a.Corpus)+len(a.Artifacts) {
			t.Fatalf("%d placements for %d corpus inputs and %d artifacts", len(files), len(a.Corpus), len(a.Artifacts))
		}
		for i, p := range files {
			if !sha1Hex.MatchString(p.sha) || filepath.Dir(filepath.Join(p.dir, p.name)) != p.dir {
				t.Fatalf("placement %+v", p)
			}
			if i < len(a.Corpus) {
				if p.dir != corpus || p.name != p.sha {
					t.Fatalf("corpus input placed as %+v", p)
				}
			} else if p.dir != artifacts || !artifactName.MatchString(p.name) || !strings.HasSuffix(p.name, "-"+p.sha) {
				t.Fatalf("artifact placed as %+v", p)
			}
		}
	})
}
