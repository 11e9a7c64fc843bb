package dedupe

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/symbolize"
)

var update = flag.Bool("update", false, "rewrite testdata/golden-keys.yaml")

// goldenLog is one committed fixture log: testdata/logs/<variant>/<bug>.log
// is what the first committed input of <bug> printed on that build
// (RUST_BACKTRACE=1).
type goldenLog struct {
	path, variant, bug, target string
}

func goldenLogs(t testing.TB) []goldenLog {
	t.Helper()
	m, err := fixture.LoadManifest(fixture.Root())
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "logs", "*", "*.log"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no logs in testdata/logs: %v", err)
	}
	sort.Strings(files)
	var out []goldenLog
	for _, f := range files {
		bug := strings.TrimSuffix(filepath.Base(f), ".log")
		b := m.Bug(bug)
		if b == nil {
			t.Fatalf("%s: no bug %s in the manifest", f, bug)
		}
		out = append(out, goldenLog{path: f, variant: filepath.Base(filepath.Dir(f)), bug: bug, target: b.Target})
	}
	return out
}

func parseGolden(t testing.TB, g goldenLog) *symbolize.Trace {
	t.Helper()
	tr, err := symbolize.ParseFile(g.path)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

type goldenKey struct {
	Key string   `yaml:"key"`
	ID  BucketID `yaml:"id"`
}

// The keys of the committed logs are pinned: a change to the rules that
// changes an existing bucket id shows up here, and must come with a new
// KeyVersion (ids in the field would otherwise silently split).
// go test ./dedupe -run TestGoldenKeys -update rewrites the file.
func TestGoldenKeys(t *testing.T) {
	path := filepath.Join("testdata", "golden-keys.yaml")
	got := map[string]goldenKey{}
	for _, g := range goldenLogs(t) {
		k := KeyFor(parseGolden(t, g), Options{Target: g.target})
		got[filepath.ToSlash(strings.TrimPrefix(g.path, "testdata/logs/"))] = goldenKey{Key: k.String(), ID: k.ID()}
	}
	if *update {
		data, err := yaml.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		header := "# Bucket keys of testdata/logs (no binary: the site comes from the frames).\n# Regenerate: go test ./dedupe -run TestGoldenKeys -update\n"
		if err := os.WriteFile(path, append([]byte(header), data...), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]goldenKey{}
	if err := yaml.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: in the golden file, not in testdata/logs", name)
			continue
		}
		if g != w {
			t.Errorf("%s: key changed (bump KeyVersion if that is intended, then -update):\n got %s %s\nwant %s %s", name, g.ID, g.Key, w.ID, w.Key)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d logs, %d golden keys", len(got), len(want))
	}
}

var idForm = regexp.MustCompile(`^v1-[0-9a-f]{12}$`)

// FuzzKeyFromLog feeds arbitrary logs through the parser and the key: the
// key never panics, stays on one line, hashes to a well-formed id, and its
// message template is a fixed point of MessageTemplate.
func FuzzKeyFromLog(f *testing.F) {
	for _, g := range goldenLogs(f) {
		data, err := os.ReadFile(g.path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, log []byte) {
		tr, err := symbolize.Parse(log)
		if err != nil {
			return
		}
		for _, frames := range []int{0, 1, 3} {
			k := KeyFor(tr, Options{Frames: frames, Target: "t"})
			s := k.String()
			if strings.ContainsAny(s, "\n\r") {
				t.Fatalf("key spans lines: %q", s)
			}
			if !idForm.MatchString(string(k.ID())) {
				t.Fatalf("bad id %q", k.ID())
			}
			if k.Message != "" && k.Message != k.Kind && MessageTemplate(k.Message) != k.Message && !strings.HasSuffix(k.Message, "...") {
				t.Fatalf("template is not a fixed point: %q -> %q", k.Message, MessageTemplate(k.Message))
			}
		}
	})
}

// FuzzMessageTemplate: any text, no panic, idempotent, never longer than
// the cap, no digits left outside identifiers.
func FuzzMessageTemplate(f *testing.F) {
	for _, s := range []string{
		"index out of bounds: the len is 64 but the index is 175",
		"assertion `left == right` failed: PIO write payload does not match the sector count\n  left: 3\n right: 512",
		`called ` + "`Result::unwrap()`" + ` on an ` + "`Err`" + ` value: Utf8Error { valid_up_to: 3, error_len: Some(1) }`,
		`bad label "\x01\"abc" at 0x7ffd3a2b1c00 ['a', '\u{0}'] [1, 2, 3]`,
		"digest 3f2a9c0d51e7aa01 took 1.25s",
	} {
		f.Add(s)
	}
	digit := regexp.MustCompile(`(^|[^A-Za-z0-9_])[0-9]`)
	f.Fuzz(func(t *testing.T, msg string) {
		once := MessageTemplate(msg)
		if len(once) > maxMessageLen+3 {
			t.Fatalf("template of %d bytes", len(once))
		}
		if strings.HasSuffix(once, "...") {
			return
		}
		if twice := MessageTemplate(once); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", msg, once, twice)
		}
		// Digits may survive only inside words (u32, x86_64) and in
		// quoted text the rules could not delimit.
		if digit.MatchString(once) && !strings.ContainsAny(once, "\"'`") {
			t.Fatalf("digits left in %q (from %q)", once, msg)
		}
	})
}
