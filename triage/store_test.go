package triage

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestStoreLockExcludesSecondRun(t *testing.T) {
	dir := t.TempDir()
	a, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Lock(); err != nil {
		t.Fatal(err)
	}
	b, _ := OpenStore(dir)
	err = b.Lock()
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("second lock: %v, want ErrLocked naming the holder", err)
	}
	a.Unlock()
	if err := b.Lock(); err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	b.Unlock()
}

func TestStoreRoundTripAndMalformed(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	good := &ArtifactRecord{SHA1: strings.Repeat("a", 40), Path: "x/crash-a", Size: 3, Kind: ArtifactCrash,
		Target: "t", FirstSeen: now, Triaged: now, Status: Reproducible,
		Bucket: &BucketRef{ID: "v1-abc", Key: "k"}}
	if err := s.WriteArtifact(good); err != nil {
		t.Fatal(err)
	}
	badSHA := strings.Repeat("b", 40)
	badPath := s.ArtifactRecordPath(badSHA)
	if err := os.WriteFile(badPath, []byte("schema_version: 1\nsha1: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknown := strings.Repeat("c", 40)
	os.WriteFile(s.ArtifactRecordPath(unknown), []byte("schema_version: 1\nsha1: "+unknown+"\nsurprise: 1\n"), 0o644)
	future := strings.Repeat("d", 40)
	os.WriteFile(s.ArtifactRecordPath(future), []byte("schema_version: 99\nsha1: "+future+"\n"), 0o644)

	recs, bad, err := s.LoadArtifacts()
	if err != nil {
		t.Fatal(err)
	}
	if got := recs[good.SHA1]; got == nil || got.Bucket == nil || got.Bucket.ID != "v1-abc" || !got.FirstSeen.Equal(now) || got.SchemaVersion != SchemaVersion {
		t.Errorf("round trip: %+v", got)
	}
	if len(bad) != 3 {
		t.Fatalf("malformed reported: %v, want 3", bad)
	}
	joined := ""
	for _, e := range bad {
		var me *MalformedError
		if !errors.As(e, &me) {
			t.Errorf("%v is not a MalformedError", e)
		}
		joined += e.Error() + "\n"
	}
	for _, want := range []string{badPath, "field surprise not found", "schema_version 99"} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors lack %q:\n%s", want, joined)
		}
	}
	// A malformed record counts as recorded and is never overwritten.
	if recs[badSHA] == nil {
		t.Fatal("malformed record's sha1 not kept as recorded")
	}
	before, _ := os.ReadFile(badPath)
	if err := s.WriteArtifact(recs[badSHA]); err == nil {
		t.Error("overwrote a malformed record")
	}
	after, _ := os.ReadFile(badPath)
	if string(before) != string(after) {
		t.Error("malformed record changed")
	}
}
