package triage

import (
	"strings"
	"testing"
)

// FuzzParseConfig: triage.yaml is user text; any bytes give a config or an
// error naming the file, never a panic, and an accepted config is valid.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("jobs: 4\nbuild:\n  preset: xtask\n"))
	f.Add([]byte("reproduce:\n  tries: 5\n  timeout: 90s\n  env: [A=1]\n"))
	f.Add([]byte("build:\n  release: [make, \"{target}\"]\n  dev: [\"{workspace}/b\", --dev]\n  preset: custom\n"))
	f.Add([]byte("minimize: {mode: all, budget: 1m}\nlldb: {enabled: false}\n"))
	f.Add([]byte("bucket:\n  ignore_frames: ['^my::assert']\n  frames: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("ws/triage.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "ws/triage.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if c.Reproduce.Tries < 1 || c.JobCount() < 1 || c.Store == "" || c.Build.Mode == "" || c.Minimize.Mode == "" {
			t.Fatalf("accepted config with unusable values: %+v", c)
		}
		if err := c.validate("again"); err != nil {
			t.Fatalf("accepted config fails validation after defaults: %v", err)
		}
	})
}
