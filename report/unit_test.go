package report

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

// TestHexDumpMatchesHexdump compares HexDump with the real `hexdump -C -v`.
func TestHexDumpMatchesHexdump(t *testing.T) {
	bin := "/usr/bin/hexdump"
	if _, err := os.Stat(bin); err != nil {
		t.Fatal("hexdump (bsdextrautils) is needed to check the hex dump format: ", err)
	}
	for _, data := range [][]byte{
		{},
		{0},
		[]byte("AB\x00\x01hello world, this is more than 16"),
		bytes.Repeat([]byte{0xff, 0x7f, 0x20, 'a'}, 8), // exactly 32 bytes
		[]byte("0123456789abcdefX"),
	} {
		path := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := procrun.Run(context.Background(), procrun.Spec{Path: bin, Args: []string{"-C", "-v", path}, Timeout: 10 * time.Second})
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("hexdump: %v %s", err, res.Stderr)
		}
		want := string(res.Stdout)
		if len(data) == 0 {
			want = "00000000\n" // hexdump prints nothing for an empty file but the offset line
			if string(res.Stdout) == "" {
				want = ""
			}
		}
		got := HexDump(data)
		if len(data) == 0 && want == "" {
			got = strings.TrimPrefix(got, "00000000\n")
		}
		if got != want {
			t.Errorf("%q:\nhexdump -C:\n%s\nHexDump:\n%s", data, want, got)
		}
	}
}

func TestTemplateFuncs(t *testing.T) {
	code := Funcs["code"].(func(string) string)
	fence := Funcs["fence"].(func(string) string)
	cell := Funcs["cell"].(func(string) string)
	for in, want := range map[string]string{
		"plain":                          "`plain`",
		"called `Option::unwrap()` on a": "`` called `Option::unwrap()` on a ``",
		"``x``":                          "``` ``x`` ```",
		"":                               "``",
		"a\n# heading":                   "`a\\n# heading`",
	} {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
	if got := fence("a ```` b"); got != "`````" {
		t.Errorf("fence = %q", got)
	}
	if got := fence("none"); got != "```" {
		t.Errorf("fence = %q", got)
	}
	if got := cell("a|b\nc"); got != `a\|b\\nc` {
		t.Errorf("cell = %q", got)
	}
	if got := collapseBlankLines("a\n\n\n\nb\n```\n\n\n```\n\n"); got != "a\n\nb\n```\n\n\n```\n" {
		t.Errorf("collapseBlankLines = %q", got)
	}
}

// TestUserTemplate renders a user's template with the same data, and a
// template error names the bucket and the file.
func TestUserTemplate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "mine.tmpl")
	if err := os.WriteFile(good, []byte("{{.Title}} [{{.Status}}] {{code .ID}} {{len .Members}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, err := LoadTemplate(good)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	b := &Bug{ID: "v1-0123456789ab", Title: "rust-panic in f: boom", Status: StatusNew, Members: []Input{{}, {}}}
	if err := tm.Render(&buf, b); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "rust-panic in f: boom [new] `v1-0123456789ab` 2\n" {
		t.Errorf("got %q", buf.String())
	}
	bad := filepath.Join(dir, "bad.tmpl")
	if err := os.WriteFile(bad, []byte("{{.NoSuchField}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	tm, err = LoadTemplate(bad)
	if err != nil {
		t.Fatal(err)
	}
	err = tm.Render(&buf, b)
	if err == nil || !strings.Contains(err.Error(), "v1-0123456789ab") || !strings.Contains(err.Error(), bad) {
		t.Errorf("error %v does not name the bucket and the template", err)
	}
	if _, err := LoadTemplate(filepath.Join(dir, "missing.tmpl")); err == nil {
		t.Error("a missing template loads")
	}
	unparsable := filepath.Join(dir, "unparsable.tmpl")
	os.WriteFile(unparsable, []byte("{{if}}"), 0o644)
	if _, err := LoadTemplate(unparsable); err == nil || !strings.Contains(err.Error(), unparsable) {
		t.Errorf("parse error %v does not name the file", err)
	}
}

// TestStateRoundTripAndErrors: the state survives save and load, and a
// damaged file is reported by path and never overwritten.
func TestStateRoundTripAndErrors(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := LoadState(dir)
	if err != nil || len(st.Buckets) != 0 {
		t.Fatalf("empty store: %v %v", st, err)
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	st.Buckets["v1-aaaaaaaaaaaa"] = &BucketState{Status: StatusFixed, Members: 3, FirstDiff: now, FixedAt: &now, FixedBinary: "abc",
		History:      []Event{{At: now, Event: "new", Members: 3}, {At: now, Event: "fixed", Members: 3, Detail: "x"}},
		Verification: &triage.Verification{At: now, Binary: "abc", Verdict: triage.VerdictFixed, Inputs: []triage.InputCheck{{Role: "representative", SHA1: "s", Path: "p", Status: "not-reproducible"}}}}
	st.LastDiff = &now
	if err := st.Save(s, now); err != nil {
		t.Fatal(err)
	}
	back, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Buckets, st.Buckets) || !back.LastDiff.Equal(now) {
		t.Errorf("round trip:\n%+v\n%+v", back.Buckets["v1-aaaaaaaaaaaa"], st.Buckets["v1-aaaaaaaaaaaa"])
	}
	for name, text := range map[string]string{
		"unknown field":  "schema_version: 1\nbuckets: {}\nsurprise: 1\n",
		"wrong version":  "schema_version: 2\nbuckets: {}\n",
		"bad status":     "schema_version: 1\nbuckets:\n  v1-x: {status: closed}\n",
		"not yaml":       "{{{",
		"empty":          "",
		"null bucket":    "schema_version: 1\nbuckets:\n  v1-x:\n",
		"wrong type":     "schema_version: 1\nbuckets: [1, 2]\n",
		"bad time":       "schema_version: 1\nupdated: yesterday\nbuckets: {}\n",
		"negative count": "schema_version: 1\nbuckets:\n  v1-x: {status: open, members: nope}\n",
	} {
		if err := os.WriteFile(StatePath(dir), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadState(dir)
		var me *store.MalformedError
		if !errors.As(err, &me) || me.Path != StatePath(dir) {
			t.Errorf("%s: error %v, want a MalformedError naming %s", name, err, StatePath(dir))
		}
		// Marking refuses to touch it.
		snap := &Snapshot{StoreDir: dir, Buckets: map[string]*store.BucketRecord{"v1-x": {ID: "v1-x", MemberCount: 1}}}
		if err := MarkReported(context.Background(), snap, []string{"v1-x"}, 0, now); err == nil {
			t.Errorf("%s: MarkReported overwrote a malformed state", name)
		}
		if data, _ := os.ReadFile(StatePath(dir)); string(data) != text {
			t.Errorf("%s: the malformed state was changed", name)
		}
	}
}

// TestMarkReportedWaitsForTheLock: a running pipeline's lock makes
// marking wait, then fail after --lock-wait; once released it works.
func TestMarkReportedWaitsForTheLock(t *testing.T) {
	dir := t.TempDir()
	holder, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Lock(); err != nil {
		t.Fatal(err)
	}
	snap := &Snapshot{StoreDir: dir, Buckets: map[string]*store.BucketRecord{"v1-x": {ID: "v1-x", MemberCount: 2}}}
	err = MarkReported(context.Background(), snap, []string{"v1-x"}, 200*time.Millisecond, time.Now())
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("with the lock held: %v", err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		holder.Unlock()
	}()
	if err := MarkReported(context.Background(), snap, []string{"v1-x"}, 10*time.Second, time.Now()); err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b := st.Buckets["v1-x"]; b == nil || b.Reported == nil || b.Reported.Members != 2 || !b.FirstDiff.IsZero() {
		t.Errorf("state after marking: %+v", b)
	}
}

// FuzzLoadState: the state file is YAML a person may edit; no input may
// crash the loader, and whatever loads saves and loads back the same.
func FuzzLoadState(f *testing.F) {
	f.Add([]byte("schema_version: 1\nbuckets: {}\n"))
	f.Add([]byte("schema_version: 1\nlast_diff: 2030-01-01T00:00:00Z\nbuckets:\n  v1-a: {status: fixed, members: 2, first_diff: 2030-01-01T00:00:00Z, history: [{at: 2030-01-01T00:00:00Z, event: new, members: 2}]}\n"))
	f.Add([]byte("schema_version: 1\nbuckets:\n  v1-a: {status: regressed, regressions: 3, changed_to: [v1-b]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.MkdirAll(StateDir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(StatePath(dir), data, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := LoadState(dir)
		if err != nil {
			return
		}
		s, err := store.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := st.Save(s, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		again, err := LoadState(dir)
		if err != nil {
			t.Fatalf("saved state does not load: %v", err)
		}
		if len(again.Buckets) != len(st.Buckets) {
			t.Fatalf("round trip lost buckets")
		}
	})
}

func TestSourceResolve(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "vm", "src", "lib.rs")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("one\ntwo  \nthree\n"), 0o644)
	c := newSourceCache(root)
	for _, in := range []string{"vm/src/lib.rs", p, "/elsewhere/checkout/vm/src/lib.rs", "/rustc/abc/vm/src/lib.rs"} {
		rel, abs := c.resolve(in)
		if rel != "vm/src/lib.rs" || abs != p {
			t.Errorf("resolve(%q) = %q, %q", in, rel, abs)
		}
	}
	if rel, abs := c.resolve("/rustc/abc/library/core/src/panicking.rs"); rel != "" || abs != "" {
		t.Errorf("a toolchain path resolved to %q %q", rel, abs)
	}
	if got := c.line(p, 2); got != "two" {
		t.Errorf("line 2 = %q", got)
	}
	ctx := c.context(p, 1, 1)
	if len(ctx) != 2 || !ctx[0].Current || ctx[1].Text != "two" {
		t.Errorf("context %+v", ctx)
	}
}
