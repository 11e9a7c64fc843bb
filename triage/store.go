package triage

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fuzztriage/triage/internal/atomicfile"
)

// Store is the record directory (default <workspace>/.triage):
//
//	lock                              held (flock) by a running run/watch
//	artifacts/<sha1>.yaml             one ArtifactRecord per input ever triaged
//	buckets/<id>/bucket.yaml          one BucketRecord per bucket
//	buckets/<id>/minimized            the bucket's verified minimized input
//	buckets/<id>/lldb-<profile>.lldb  the lldb command file ...
//	buckets/<id>/lldb-<profile>.txt   ... and its transcript
//	minimized/<sha1>                  inputs minimized with --minimize all
//	runs/<UTC timestamp>.yaml         one RunRecord per finished run
//	tmp/                              scratch (emptied when a run starts)
//
// Every write is atomic (temp file in the same directory, fsync, rename,
// fsync of the directory), so a run killed at any point leaves each record
// either old or new, never torn. A record that does not parse is reported by
// path and never overwritten.
type Store struct {
	Dir  string
	lock *os.File
}

// Store subdirectories.
const (
	storeArtifacts = "artifacts"
	storeBuckets   = "buckets"
	storeRuns      = "runs"
	storeMinimized = "minimized"
	storeTmp       = "tmp"
)

// lockPatience is how long Lock waits for a held lock.
const lockPatience = 2 * time.Second

// ErrLocked says another run holds the store.
var ErrLocked = errors.New("store is locked by another triage run")

// OpenStore creates the store's directories if needed.
func OpenStore(dir string) (*Store, error) {
	for _, sub := range []string{"", storeArtifacts, storeBuckets, storeRuns, storeMinimized, storeTmp} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("store %s: %w", dir, err)
		}
	}
	return &Store{Dir: dir}, nil
}

// Lock takes the store's lock without waiting. The lock is an flock on
// <store>/lock, so the kernel releases it when the holder dies, even by
// SIGKILL; the file holds the holder's pid for people.
func (s *Store) Lock() error {
	path := filepath.Join(s.Dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("store lock: %w", err)
	}
	// A run killed a moment ago can hold the lock for a moment longer
	// (its last child between fork and exec still shares the descriptor),
	// so wait briefly before calling the store taken.
	deadline := time.Now().Add(lockPatience)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return fmt.Errorf("store lock %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			holder, _ := io.ReadAll(f)
			f.Close()
			return fmt.Errorf("%w (%s; holder: %s)", ErrLocked, path, strings.TrimSpace(string(holder)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))), 0)
	s.lock = f
	// Scratch and half-written temp files of a killed run are garbage now
	// that we hold the lock.
	tmp := filepath.Join(s.Dir, storeTmp)
	_ = os.RemoveAll(tmp)
	_ = os.MkdirAll(tmp, 0o755)
	_ = filepath.WalkDir(s.Dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".tmp-") {
			_ = os.Remove(path)
		}
		return nil
	})
	return nil
}

// Unlock releases the lock.
func (s *Store) Unlock() {
	if s.lock != nil {
		_ = syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
		s.lock.Close()
		s.lock = nil
	}
}

// TmpDir is scratch space inside the store (same filesystem, so renames
// from it are atomic).
func (s *Store) TmpDir() string { return filepath.Join(s.Dir, storeTmp) }

// ArtifactRecordPath is where an input's record lives.
func (s *Store) ArtifactRecordPath(sha string) string {
	return filepath.Join(s.Dir, storeArtifacts, sha+".yaml")
}

// BucketDir is a bucket's directory.
func (s *Store) BucketDir(id string) string { return filepath.Join(s.Dir, storeBuckets, id) }

// BucketRecordPath is a bucket's record.
func (s *Store) BucketRecordPath(id string) string {
	return filepath.Join(s.BucketDir(id), "bucket.yaml")
}

// MinimizedPath is where --minimize all puts an input's minimized form.
func (s *Store) MinimizedPath(sha string) string {
	return filepath.Join(s.Dir, storeMinimized, sha)
}

// Rel is path relative to the store, for records.
func (s *Store) Rel(path string) string {
	if r, err := filepath.Rel(s.Dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// MalformedError is a record that cannot be read; it is reported, never
// overwritten.
type MalformedError struct {
	Path string
	Err  error
}

func (e *MalformedError) Error() string { return fmt.Sprintf("malformed record %s: %v", e.Path, e.Err) }
func (e *MalformedError) Unwrap() error { return e.Err }

// readRecord decodes a YAML record strictly and checks its schema version.
func readRecord(path string, v interface{ schema() int }) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return decodeRecord(path, data, v)
}

// decodeRecord is readRecord on bytes already read; path names them in
// errors.
func decodeRecord(path string, data []byte, v interface{ schema() int }) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty file")
		}
		return &MalformedError{Path: path, Err: err}
	}
	if got := v.schema(); got != SchemaVersion {
		return &MalformedError{Path: path, Err: fmt.Errorf("schema_version %d, this triage reads %d", got, SchemaVersion)}
	}
	return nil
}

// MarshalYAML encodes a record the way every store file is written
// (two-space indent), for the readers of the store that also write to it.
func MarshalYAML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var sha1Name = regexp.MustCompile(`^[0-9a-f]{40}$`)

// LoadArtifacts reads every artifact record. Malformed ones come back as
// errors (by path) and are left alone.
func (s *Store) LoadArtifacts() (map[string]*ArtifactRecord, []error, error) {
	dir := filepath.Join(s.Dir, storeArtifacts)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	out := map[string]*ArtifactRecord{}
	var bad []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".yaml") || strings.HasPrefix(name, ".") {
			continue
		}
		sha := strings.TrimSuffix(name, ".yaml")
		path := filepath.Join(dir, name)
		if !sha1Name.MatchString(sha) {
			bad = append(bad, &MalformedError{Path: path, Err: errors.New("file name is not <sha1>.yaml")})
			continue
		}
		var r ArtifactRecord
		if err := readRecord(path, &r); err != nil {
			bad = append(bad, err)
			// The sha1 is known from the name: the input counts as recorded
			// so nothing overwrites the damaged record.
			out[sha] = &ArtifactRecord{SHA1: sha, malformed: true}
			continue
		}
		if r.SHA1 != sha {
			bad = append(bad, &MalformedError{Path: path, Err: fmt.Errorf("sha1 field %q does not match the file name", r.SHA1)})
			out[sha] = &ArtifactRecord{SHA1: sha, malformed: true}
			continue
		}
		out[sha] = &r
	}
	return out, bad, nil
}

// WriteArtifact writes an artifact record atomically.
func (s *Store) WriteArtifact(r *ArtifactRecord) error {
	if r.malformed {
		return fmt.Errorf("refusing to overwrite malformed record %s", s.ArtifactRecordPath(r.SHA1))
	}
	r.SchemaVersion = SchemaVersion
	data, err := MarshalYAML(r)
	if err != nil {
		return err
	}
	return atomicfile.Write(s.ArtifactRecordPath(r.SHA1), data)
}

// LoadBuckets reads every bucket record; malformed ones come back as errors
// and as placeholder records marked malformed (never written).
func (s *Store) LoadBuckets() (map[string]*BucketRecord, []error, error) {
	dir := filepath.Join(s.Dir, storeBuckets)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	out := map[string]*BucketRecord{}
	var bad []error
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := s.BucketRecordPath(e.Name())
		var r BucketRecord
		err := readRecord(path, &r)
		if errors.Is(err, os.ErrNotExist) {
			continue // a bucket dir whose record was never written: rebuilt from artifacts
		}
		if err == nil && r.ID != e.Name() {
			err = &MalformedError{Path: path, Err: fmt.Errorf("id field %q does not match the directory name", r.ID)}
		}
		if err != nil {
			bad = append(bad, err)
			out[e.Name()] = &BucketRecord{ID: e.Name(), malformed: true}
			continue
		}
		out[r.ID] = &r
	}
	return out, bad, nil
}

// WriteBucket writes a bucket record atomically.
func (s *Store) WriteBucket(r *BucketRecord) error {
	if r.malformed {
		return fmt.Errorf("refusing to overwrite malformed record %s", s.BucketRecordPath(r.ID))
	}
	r.SchemaVersion = SchemaVersion
	data, err := MarshalYAML(r)
	if err != nil {
		return err
	}
	return atomicfile.Write(s.BucketRecordPath(r.ID), data)
}

// WriteRun writes a run record atomically; its name is its start time.
func (s *Store) WriteRun(r *RunRecord) (string, error) {
	r.SchemaVersion = SchemaVersion
	data, err := MarshalYAML(r)
	if err != nil {
		return "", err
	}
	path := filepath.Join(s.Dir, storeRuns, r.Started.UTC().Format("20060102T150405.000000000Z")+".yaml")
	return path, atomicfile.Write(path, data)
}

// Runs lists the run records' paths, oldest first.
func (s *Store) Runs() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.Dir, storeRuns))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(s.Dir, storeRuns, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// LoadRun reads one run record.
func LoadRun(path string) (*RunRecord, error) {
	var r RunRecord
	if err := readRecord(path, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// FileSHA1 hashes a file's content.
func FileSHA1(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha1.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// bytesSHA1 hashes data.
func bytesSHA1(data []byte) string {
	sum := sha1.Sum(data)
	return hex.EncodeToString(sum[:])
}
