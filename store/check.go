package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// CheckStore verifies a store is complete and consistent: every record
// parses strictly with the current schema; every bucketed artifact is a
// member of its bucket's record and every member has an artifact record;
// member counts, representatives and minimized inputs match; no temporary
// file of an interrupted write is left. It returns one problem per line
// (nil when the store is sound). Buckets whose records were never written
// (a run killed before regrouping) are reported; the next run writes them.
func CheckStore(dir string) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	s, err := OpenExisting(dir)
	if err != nil {
		return []string{err.Error()}
	}
	defer s.Close()
	arts, bad, err := s.LoadArtifacts()
	if err != nil {
		return []string{err.Error()}
	}
	for _, e := range bad {
		add("%v", e)
	}
	buckets, bad, err := s.LoadBuckets()
	if err != nil {
		return append(problems, err.Error())
	}
	for _, e := range bad {
		add("%v", e)
	}
	members := map[string]map[string]bool{}
	for sha, r := range arts {
		if r.malformed {
			continue
		}
		if r.Reproductions[Release] == nil {
			add("artifact %s: no release reproduction", sha)
		}
		if r.Bucket == nil {
			if r.Status != NotReproducible {
				add("artifact %s: %s but no bucket", sha, r.Status)
			}
			continue
		}
		if members[r.Bucket.ID] == nil {
			members[r.Bucket.ID] = map[string]bool{}
		}
		members[r.Bucket.ID][sha] = true
	}
	for id, want := range members {
		b := buckets[id]
		if b == nil {
			add("bucket %s: %d artifact records point to it but it has no record", id, len(want))
			continue
		}
		if b.malformed {
			continue
		}
		got := map[string]bool{}
		for _, m := range b.Members {
			got[m.SHA1] = true
			if !want[m.SHA1] {
				add("bucket %s: member %s has no artifact record in this bucket", id, m.SHA1)
			}
		}
		for sha := range want {
			if !got[sha] {
				add("bucket %s: artifact %s is not listed as a member", id, sha)
			}
		}
		if b.MemberCount != len(b.Members) {
			add("bucket %s: member_count %d but %d members", id, b.MemberCount, len(b.Members))
		}
		if len(b.Members) > 0 && b.Representative.SHA1 != b.Members[0].SHA1 {
			add("bucket %s: representative %s is not the first member", id, b.Representative.SHA1)
		}
		if m := b.Minimized; m != nil {
			checkMinimized(add, "bucket "+id, filepath.Join(dir, m.Path), m)
		}
	}
	for id, b := range buckets {
		if !b.malformed && b.Fixed != nil && len(b.Members) > 0 {
			add("bucket %s: fixed but lists %d members", id, len(b.Members))
		}
		if !b.malformed && members[id] == nil && len(b.Members) > 0 {
			add("bucket %s: lists %d members but no artifact record points to it", id, len(b.Members))
		}
	}
	for sha, r := range arts {
		if r.Minimized != nil {
			checkMinimized(add, "artifact "+sha, filepath.Join(dir, r.Minimized.Path), r.Minimized)
		}
	}
	// Leftovers of interrupted atomic writes (outside tmp/, which the next
	// run empties).
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && d.Name() == DirTmp {
			return filepath.SkipDir
		}
		if strings.Contains(d.Name(), ".tmp-") {
			add("leftover temporary file %s", path)
		}
		return nil
	})
	sort.Strings(problems)
	return problems
}

func checkMinimized(add func(string, ...any), who, path string, m *MinimizedInput) {
	sha, size, err := FileSHA1(path)
	if err != nil {
		add("%s: minimized input: %v", who, err)
		return
	}
	if sha != m.SHA1 || size != m.Size {
		add("%s: minimized input %s is %s (%d bytes), record says %s (%d bytes)", who, path, sha, size, m.SHA1, m.Size)
	}
	if m.Size > m.FromSize {
		add("%s: minimized input is larger (%d) than its original (%d)", who, m.Size, m.FromSize)
	}
}
