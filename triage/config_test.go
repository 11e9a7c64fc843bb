package triage

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c, err := LoadConfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.Store != ".triage" || c.Reproduce.Tries != 3 || c.Build.Mode != BuildAlways || c.Build.Preset != PresetAuto ||
		c.Minimize.Mode != MinimizeBuckets || c.LLDB.Binary != "lldb-19" || !*c.LLDB.Enabled || !*c.Reproduce.Dev ||
		c.Bucket.Frames != 0 || c.Reproduce.Timeout.D() != time.Minute || c.Retriage != RetriageNever {
		t.Errorf("defaults: %+v", c)
	}
	if c.StoreDir("/ws") != "/ws/.triage" {
		t.Errorf("store dir %s", c.StoreDir("/ws"))
	}
}

func TestConfigParses(t *testing.T) {
	dir := t.TempDir()
	text := `
schema_version: 1
store: state/triage
jobs: 4
retriage: changed-binary
build:
  preset: custom
  release: [make, "{target}"]
  dev: [make, "{target}-{profile}"]
  timeout: 5m
reproduce:
  tries: 5
  timeout: 90
  dev: false
lldb:
  enabled: false
minimize:
  mode: all
  budget: 2m
`
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte(text), 0o644)
	c, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.StoreDir("/ws") != "/ws/state/triage" || c.JobCount() != 4 || c.Build.Timeout.D() != 5*time.Minute ||
		c.Reproduce.Tries != 5 || c.Reproduce.Timeout.D() != 90*time.Second || *c.Reproduce.Dev || *c.LLDB.Enabled ||
		c.Minimize.Mode != MinimizeAll || c.Minimize.Budget.D() != 2*time.Minute || c.Minimize.Runs != 1000 {
		t.Errorf("parsed: %+v", c)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	cases := map[string]string{
		"bogus: 1\n":                         "bogus",
		"build:\n  preset: make\n":           "build.preset",
		"build:\n  release: [\"{oops}\"]\n":  "build.release",
		"build:\n  preset: custom\n":         "build.release",
		"reproduce:\n  tries: -1\n":          "reproduce.tries",
		"reproduce:\n  confirm: sometimes\n": "reproduce.confirm",
		"reproduce:\n  timeout: soon\n":      "soon",
		"minimize:\n  mode: some\n":          "minimize.mode",
		"jobs: -2\n":                         "jobs",
		"retriage: always\n":                 "retriage",
		"schema_version: 2\n":                "schema_version",
		"lldb:\n  binary: 3\n  colour: x\n":  "colour",
		"reproduce:\n  env: [NOEQUALS]\n":    "reproduce.env",
		"store: /var/triage\n":               "store",
		"store: ../elsewhere\n":              "store",
		"store: a/../../x\n":                 "store",
	}
	for text, want := range cases {
		_, err := ParseConfig("ws/triage.yaml", []byte(text))
		if err == nil {
			t.Errorf("%q: no error", text)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "ws/triage.yaml") {
			t.Errorf("%q: error %q does not name %q and the file", text, err, want)
		}
	}
}

// TestConfigExamples: every YAML example of docs/config.md loads, and the
// ones that name build commands resolve them.
func TestConfigExamples(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(data), "```yaml\n")[1:]
	if len(blocks) < 6 {
		t.Fatalf("docs/config.md has %d YAML examples, want one per layout", len(blocks))
	}
	for i, b := range blocks {
		text, _, ok := strings.Cut(b, "```")
		if !ok {
			t.Fatalf("example %d is not closed", i+1)
		}
		cfg, err := ParseConfig(fmt.Sprintf("docs/config.md example %d", i+1), []byte(text))
		if err != nil {
			t.Errorf("%v\n%s", err, text)
			continue
		}
		if cfg.Build.Preset == PresetCustom && (len(cfg.Build.Release) == 0 || cfg.Build.Binary == "") {
			t.Errorf("example %d: a custom build example shows its commands and where binaries land", i+1)
		}
	}
}
