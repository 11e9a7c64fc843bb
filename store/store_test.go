package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// goodArtifact is a complete artifact record.
func goodArtifact(sha string, now time.Time) *ArtifactRecord {
	return &ArtifactRecord{SchemaVersion: SchemaVersion, SHA1: sha, Path: "x/crash-" + sha, Size: 3, Kind: ArtifactCrash,
		Target: "t", FirstSeen: now, Triaged: now, Status: Reproducible,
		Reproductions: map[Profile]*Reproduction{Release: {Profile: Release, Status: Reproducible, Tries: 2, Crashes: 2, Outcome: OutcomeCrash}},
		Crash:         &CrashRecord{Kind: "rust-panic", Message: "boom"},
		Bucket:        &BucketRef{ID: "v1-0123456789ab", Key: "k"}}
}

func goodBucket(id string, now time.Time) *BucketRecord {
	m := MemberInfo{SHA1: strings.Repeat("a", 40), Path: "x/crash-a", Size: 3}
	return &BucketRecord{SchemaVersion: SchemaVersion, ID: id, Key: "k", Target: "t", Kind: "rust-panic", Title: "t", FirstSeen: now, LastSeen: now,
		MemberCount: 1, Members: []MemberInfo{m}, Representative: m}
}

func TestStoreLockExcludesSecondCommand(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	b, _ := Open(dir)
	defer b.Close()
	err = b.LockWait(context.Background(), 100*time.Millisecond)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("second lock: %v, want ErrLocked naming the holder", err)
	}
	a.Unlock()
	if err := b.Lock(); err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
}

func TestStoreRoundTripAndMalformed(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Second)
	good := goodArtifact(strings.Repeat("a", 40), now)
	if err := s.WriteArtifact(good); err != nil {
		t.Fatal(err)
	}
	write := func(sha, text string) string {
		p := s.ArtifactRecordPath(sha)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badSHA := strings.Repeat("b", 40)
	badPath := write(badSHA, "schema_version: 1\nsha1: [unclosed\n")
	unknown := strings.Repeat("c", 40)
	write(unknown, "schema_version: 1\nsha1: "+unknown+"\nsurprise: 1\n")
	future := strings.Repeat("d", 40)
	write(future, "schema_version: 99\nsha1: "+future+"\n")
	// A record cut short that still parses: the schema check catches it.
	truncated := strings.Repeat("e", 40)
	full, _ := MarshalYAML(goodArtifact(truncated, now))
	cut := string(full[:strings.Index(string(full), "status:")])
	write(truncated, cut)

	recs, bad, err := s.LoadArtifacts()
	if err != nil {
		t.Fatal(err)
	}
	if got := recs[good.SHA1]; got == nil || got.Bucket == nil || got.Bucket.ID != "v1-0123456789ab" || !got.FirstSeen.Equal(now) || got.SchemaVersion != SchemaVersion || got.Malformed() {
		t.Errorf("round trip: %+v", got)
	}
	if len(bad) != 4 {
		t.Fatalf("malformed reported: %v, want 4", bad)
	}
	joined := ""
	for _, e := range bad {
		var me *MalformedError
		if !errors.As(e, &me) {
			t.Errorf("%v is not a MalformedError", e)
		}
		joined += e.Error() + "\n"
	}
	for _, want := range []string{badPath, "field surprise not found", "schema_version 99", s.ArtifactRecordPath(truncated) + ": status \"\" is not"} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors lack %q:\n%s", want, joined)
		}
	}
	// A malformed record counts as recorded and is never overwritten.
	for _, sha := range []string{badSHA, truncated} {
		if recs[sha] == nil || !recs[sha].Malformed() {
			t.Fatalf("malformed record %s not kept as recorded", sha)
		}
		before, _ := os.ReadFile(s.ArtifactRecordPath(sha))
		if err := s.WriteArtifact(recs[sha]); err == nil {
			t.Error("overwrote a malformed record")
		}
		after, _ := os.ReadFile(s.ArtifactRecordPath(sha))
		if string(before) != string(after) {
			t.Error("malformed record changed")
		}
	}
}

// Every required field of a record is checked on read.
func TestValidateNamesWhatIsWrong(t *testing.T) {
	now := time.Now().UTC()
	for name, c := range map[string]struct {
		mutate func(a *ArtifactRecord, b *BucketRecord)
		want   string
	}{
		"no path":        {func(a *ArtifactRecord, b *BucketRecord) { a.Path = "" }, "path is missing"},
		"bad kind":       {func(a *ArtifactRecord, b *BucketRecord) { a.Kind = "weird" }, `kind "weird"`},
		"no release":     {func(a *ArtifactRecord, b *BucketRecord) { delete(a.Reproductions, Release) }, "reproductions.release is missing"},
		"crash missing":  {func(a *ArtifactRecord, b *BucketRecord) { a.Crash = nil }, "crash is missing"},
		"bad bucket id":  {func(a *ArtifactRecord, b *BucketRecord) { a.Bucket.ID = "../../etc" }, `bucket.id "../../etc"`},
		"member count":   {func(a *ArtifactRecord, b *BucketRecord) { b.MemberCount = 5 }, "member_count 5 but 1 members"},
		"representative": {func(a *ArtifactRecord, b *BucketRecord) { b.Representative.SHA1 = "x" }, "is not the first member"},
		"bucket no key":  {func(a *ArtifactRecord, b *BucketRecord) { b.Key = "" }, "key is missing"},
		"minimized escape": {func(a *ArtifactRecord, b *BucketRecord) {
			b.Minimized = &MinimizedInput{Path: "../../x", SHA1: a.SHA1, From: a.SHA1}
		}, "not a path inside the store"},
	} {
		a := goodArtifact(strings.Repeat("a", 40), now)
		b := goodBucket("v1-0123456789ab", now)
		if a.Validate() != nil || b.Validate() != nil {
			t.Fatalf("good records fail: %v %v", a.Validate(), b.Validate())
		}
		c.mutate(a, b)
		err := errors.Join(a.Validate(), b.Validate())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

// A store whose lock, bucket directory or store directory is a symbolic
// link is refused: nothing is written through it.
func TestStoreRefusesSymlinks(t *testing.T) {
	now := time.Now().UTC()
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T) {
		t.Helper()
		if data, _ := os.ReadFile(victim); string(data) != "precious" {
			t.Fatalf("the file outside the store changed: %q", data)
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 1 {
			t.Fatalf("something was written outside the store: %v", entries)
		}
	}
	t.Run("lock", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Symlink(victim, filepath.Join(dir, "lock")); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Lock(); !errors.Is(err, ErrSymlink) {
			t.Fatalf("lock through a link: %v", err)
		}
		check(t)
	})
	t.Run("buckets", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Symlink(outside, filepath.Join(dir, DirBuckets)); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(dir); !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), filepath.Join(dir, DirBuckets)) {
			t.Fatalf("open with a linked buckets/: %v", err)
		}
		check(t)
	})
	t.Run("bucket dir", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := os.Symlink(outside, s.BucketDir("v1-0123456789ab")); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteBucket(goodBucket("v1-0123456789ab", now)); !errors.Is(err, ErrSymlink) {
			t.Fatalf("write through a linked bucket dir: %v", err)
		}
		check(t)
	})
	t.Run("record file", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		a := goodArtifact(strings.Repeat("a", 40), now)
		if err := os.Symlink(victim, s.ArtifactRecordPath(a.SHA1)); err != nil {
			t.Fatal(err)
		}
		// The link is replaced, not written through.
		if err := s.WriteArtifact(a); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Lstat(s.ArtifactRecordPath(a.SHA1)); fi.Mode()&os.ModeSymlink != 0 {
			t.Fatal("the record is still a link")
		}
		check(t)
	})
	t.Run("store dir", func(t *testing.T) {
		link := filepath.Join(t.TempDir(), "store")
		if err := os.Symlink(outside, link); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(link); !errors.Is(err, ErrSymlink) {
			t.Fatalf("open a linked store: %v", err)
		}
		check(t)
	})
	t.Run("outside", func(t *testing.T) {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, p := range []string{victim, "../x", "buckets/../../x"} {
			if err := s.WriteFile(p, []byte("x")); err == nil {
				t.Errorf("wrote %s outside the store", p)
			}
		}
		check(t)
	})
}

// FuzzDecodeRecord: records come from other machines and may be damaged;
// decoding any bytes gives a valid record or a MalformedError naming the
// path, never a panic, and an accepted record writes and reads back equal.
func FuzzDecodeRecord(f *testing.F) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, r := range []Record{goodArtifact(strings.Repeat("a", 40), now), goodBucket("v1-0123456789ab", now), &RunRecord{SchemaVersion: SchemaVersion, Started: now, Finished: now}} {
		data, _ := MarshalYAML(r)
		f.Add(data)
	}
	f.Add([]byte("schema_version: 1\nsha1: " + strings.Repeat("a", 40) + "\nstatus: reproducible\nreproductions:\n  release: {tries: 2, crashes: 2}\n"))
	f.Add([]byte("schema_version: 1\nid: v1-abc\nmembers: [{sha1: x, size: 3}]\nlldb: {dev: {stop: x, variables: [{name: a}]}}\n"))
	f.Add([]byte("schema_version: 1\nnew_buckets: [{id: v1-a}]\nfailures: [{stage: build, error: x}]\n"))
	f.Add([]byte("schema_version: 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, mk := range []func() Record{
			func() Record { return &ArtifactRecord{} },
			func() Record { return &BucketRecord{} },
			func() Record { return &RunRecord{} },
		} {
			v := mk()
			err := DecodeRecord("store/x.yaml", data, v)
			if err != nil {
				var me *MalformedError
				if !errors.As(err, &me) || me.Path != "store/x.yaml" {
					t.Fatalf("error %v is not a MalformedError naming the path", err)
				}
				continue
			}
			if v.schema() != SchemaVersion || v.Validate() != nil {
				t.Fatalf("accepted an invalid record: %v", v.Validate())
			}
			again, err := MarshalYAML(v)
			if err != nil {
				t.Fatal(err)
			}
			w := mk()
			if err := DecodeRecord("again.yaml", again, w); err != nil {
				t.Fatalf("a record that loaded does not load after writing: %v\n%s", err, again)
			}
		}
	})
}
