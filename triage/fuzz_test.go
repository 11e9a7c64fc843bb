package triage

import (
	"errors"
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

// FuzzDecodeRecord: records may be damaged on disk; decoding any bytes
// gives a record or a MalformedError naming the path, never a panic.
func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte("schema_version: 1\nsha1: " + strings.Repeat("a", 40) + "\nstatus: reproducible\nreproductions:\n  release: {tries: 2, crashes: 2}\n"))
	f.Add([]byte("schema_version: 1\nid: v1-abc\nmembers: [{sha1: x, size: 3}]\nlldb: {dev: {stop: x, variables: [{name: a}]}}\n"))
	f.Add([]byte("schema_version: 1\nnew_buckets: [{id: v1-a}]\nfailures: [{stage: build, error: x}]\n"))
	f.Add([]byte("schema_version: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, v := range []interface{ schema() int }{&ArtifactRecord{}, &BucketRecord{}, &RunRecord{}} {
			err := decodeRecord("store/x.yaml", data, v)
			if err == nil {
				if v.schema() != SchemaVersion {
					t.Fatalf("accepted schema %d", v.schema())
				}
				continue
			}
			var me *MalformedError
			if !errors.As(err, &me) || me.Path != "store/x.yaml" {
				t.Fatalf("error %v is not a MalformedError naming the path", err)
			}
		}
	})
}
