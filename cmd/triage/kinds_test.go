package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fuzztriage/triage/crashkind"
	"github.com/fuzztriage/triage/dedupe"
	"github.com/fuzztriage/triage/symbolize"
)

// kindsCorpus is symbolize/testdata/kinds: a log for every kind of the
// table, with what `triage symbolize` must make of it.
const kindsCorpus = "../../symbolize/testdata/kinds"

type kindsExpect struct {
	Logs []kindsCase `yaml:"logs"`
}

type kindsCase struct {
	File string `yaml:"file"`
	Kind string `yaml:"kind"`
	// Stack is the crash stack's first function ("" for a placeholder).
	Stack string `yaml:"stack"`
	// State is the top three in-app frames, ClusterFuzz's crash state.
	State []string `yaml:"state"`
	// Reports are the kinds of every report, for logs with several.
	Reports []string `yaml:"reports,omitempty"`
	Key     string   `yaml:"key,omitempty"`
}

// TestKindsCorpus runs `triage symbolize --format json` on every log of
// the corpus and checks its kind, crash stack, state and bucket key, and
// `--all` on logs with several reports; and checks every kind of the
// table has a log.
func TestKindsCorpus(t *testing.T) {
	path := filepath.Join(kindsCorpus, "expect.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var exp kindsExpect
	if err := yaml.Unmarshal(data, &exp); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	covered := map[string]bool{}
	for i := range exp.Logs {
		c := &exp.Logs[i]
		covered[c.Kind] = true
		for _, k := range c.Reports {
			covered[k] = true
		}
		t.Run(c.File, func(t *testing.T) {
			log := filepath.Join(kindsCorpus, c.File)
			code, out, errb := runCLI(t, "symbolize", log, "--format", "json")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errb)
			}
			var tr symbolize.Trace
			if err := json.Unmarshal([]byte(out), &tr); err != nil {
				t.Fatal(err)
			}
			if string(tr.Kind) != c.Kind {
				t.Errorf("kind %q, want %q", tr.Kind, c.Kind)
			}
			stack := ""
			if len(tr.Frames) > 0 {
				stack = tr.Frames[0].Function
			}
			if c.Stack != "" && stack != c.Stack || c.Stack == "" && len(tr.Frames) > 0 && stack != "" {
				t.Errorf("crash stack starts at %q, want %q", stack, c.Stack)
			}
			if got := crashState(tr.Frames); !slices.Equal(got, c.State) && !(len(got) == 0 && len(c.State) == 0) {
				t.Errorf("state %q, want %q", got, c.State)
			}
			key := dedupe.KeyFor(&tr, dedupe.Options{Target: "fuzz_x"}).String()
			if *update {
				c.Key = key
			} else if key != c.Key {
				t.Errorf("key %q, want %q", key, c.Key)
			}
			if len(c.Reports) > 0 {
				code, out, errb := runCLI(t, "symbolize", "--all", "--format", "json", log)
				if code != 0 {
					t.Fatalf("--all: exit %d: %s", code, errb)
				}
				var all []symbolize.Trace
				if err := json.Unmarshal([]byte(out), &all); err != nil {
					t.Fatal(err)
				}
				var kinds []string
				for j, r := range all {
					kinds = append(kinds, string(r.Kind))
					if r.Crash != (j == len(all)-1) {
						t.Errorf("--all: report %d crash=%v", j+1, r.Crash)
					}
				}
				if !slices.Equal(kinds, c.Reports) {
					t.Errorf("--all: kinds %q, want %q", kinds, c.Reports)
				}
			}
		})
	}
	for _, k := range crashkind.All() {
		if !covered[string(k.Kind)] {
			t.Errorf("no log of kind %s in %s", k.Kind, kindsCorpus)
		}
	}
	if *update {
		out, err := yaml.Marshal(&exp)
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := strings.Cut(string(data), "logs:")
		if err := os.WriteFile(path, append([]byte(head), out...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// crashState is the top three in-app frames' functions.
func crashState(frames []symbolize.Frame) []string {
	var out []string
	for _, f := range frames {
		if f.Category.InApp() && f.Function != "" {
			out = append(out, f.Function)
			if len(out) == 3 {
				break
			}
		}
	}
	return out
}
