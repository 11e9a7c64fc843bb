// Package store is the record directory every command reads and the
// pipeline writes (default <workspace>/.triage): the records and their
// schema, the lock, and the one way anything is written into it.
//
// Layout:
//
//	lock                              held (flock) by a running run/watch, or a command that writes
//	artifacts/<sha1>.yaml             one ArtifactRecord per input ever triaged
//	buckets/<id>/bucket.yaml          one BucketRecord per bucket
//	buckets/<id>/minimized            the bucket's verified minimized input
//	buckets/<id>/lldb-<profile>.lldb  the lldb command file ...
//	buckets/<id>/lldb-<profile>.txt   ... and its transcript
//	minimized/<sha1>                  inputs minimized with --minimize all
//	runs/<UTC timestamp>.yaml         one RunRecord per finished run
//	report/                           the report commands' state and diffs
//	tmp/                              scratch (emptied when the lock is taken)
//
// Every write is atomic (temp file in the same directory, fsync, rename,
// fsync of the directory), confined to the store (os.Root) and never through
// a symbolic link: a store whose directories or lock are links is refused
// with an error naming the path. A record is validated against its schema on
// read (strict YAML, schema_version, required fields and values); one that
// fails is reported by path and never overwritten.
package store

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fuzztriage/triage/internal/atomicfile"
)

// Store is an open record directory.
type Store struct {
	// Dir is the store's absolute path.
	Dir  string
	root *os.Root
	lock *os.File
}

// Store subdirectories.
const (
	DirArtifacts = "artifacts"
	DirBuckets   = "buckets"
	DirRuns      = "runs"
	DirMinimized = "minimized"
	DirReport    = "report"
	DirTmp       = "tmp"
	// DirSessions holds the lldb sessions that were also an input's
	// reproduction run (a timeout's or an OOM's run under lldb), by input
	// and build: a bucket's findings may point there.
	DirSessions = "sessions"
	lockName    = "lock"
)

// lockPatience is how long Lock waits for a held lock.
const lockPatience = 2 * time.Second

var (
	// ErrLocked says another triage command holds the store.
	ErrLocked = errors.New("store is locked by another triage command")
	// ErrNoStore says the store directory does not exist (nothing was
	// triaged yet).
	ErrNoStore = errors.New("no triage store")
	// ErrSymlink says a path of the store is a symbolic link.
	ErrSymlink = atomicfile.ErrSymlink
)

// Open opens the store at dir, creating it and its subdirectories when
// missing. A store directory, subdirectory or lock that is a symbolic link
// is an error (ErrSymlink) naming it.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Lstat(abs); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("store %s %w", abs, ErrSymlink)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("store %s: %w", abs, err)
	}
	s, err := open(abs)
	if err != nil {
		return nil, err
	}
	for _, sub := range []string{DirArtifacts, DirBuckets, DirRuns, DirMinimized, DirTmp} {
		if err := atomicfile.MkdirIn(s.root, sub); err != nil {
			s.Close()
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	return s, nil
}

// OpenExisting opens a store for reading: ErrNoStore when it does not
// exist. Nothing is created.
func OpenExisting(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(filepath.Join(abs, DirBuckets)); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w at %s (run `triage run` first)", ErrNoStore, abs)
	}
	return open(abs)
}

func open(abs string) (*Store, error) {
	if fi, err := os.Lstat(abs); err != nil {
		return nil, fmt.Errorf("store %s: %w", abs, err)
	} else if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("store %s %w", abs, ErrSymlink)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", abs, err)
	}
	return &Store{Dir: abs, root: root}, nil
}

// Close releases the lock (if held) and the store's directory handle.
func (s *Store) Close() {
	s.Unlock()
	if s.root != nil {
		s.root.Close()
		s.root = nil
	}
}

// Lock takes the store's lock, waiting a moment for a holder that is
// going away. The lock is an flock on <store>/lock, so the kernel
// releases it when the holder dies, even by SIGKILL; the file holds the
// holder's pid for people. Taking it empties tmp/ and removes temporary
// files of interrupted writes.
func (s *Store) Lock() error { return s.LockWait(context.Background(), lockPatience) }

// LockWait is Lock waiting up to wait for a holder to finish.
func (s *Store) LockWait(ctx context.Context, wait time.Duration) error {
	if s.lock != nil {
		return nil
	}
	if err := atomicfile.CheckNoLinks(s.root, lockName); err != nil {
		return fmt.Errorf("store lock: %w", err)
	}
	// O_NOFOLLOW: a lock that became a link since the check is refused too.
	f, err := s.root.OpenFile(lockName, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("store lock %s: %w", s.Path(lockName), err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("store lock %s: not a regular file", s.Path(lockName))
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return fmt.Errorf("store lock %s: %w", s.Path(lockName), err)
		}
		if time.Now().After(deadline) {
			holder, _ := io.ReadAll(io.LimitReader(f, 200))
			f.Close()
			return fmt.Errorf("%w (%s; holder: %s)", ErrLocked, s.Path(lockName), strings.TrimSpace(string(holder)))
		}
		select {
		case <-ctx.Done():
			f.Close()
			return context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("pid %d since %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339))), 0)
	s.lock = f
	// Scratch and half-written temp files of a killed command are garbage
	// now that we hold the lock.
	_ = s.root.RemoveAll(DirTmp)
	_ = atomicfile.MkdirIn(s.root, DirTmp)
	_ = fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && isTempName(d.Name()) {
			_ = s.root.Remove(p)
		}
		return nil
	})
	return nil
}

// Locked says this Store holds the lock.
func (s *Store) Locked() bool { return s.lock != nil }

// Unlock releases the lock.
func (s *Store) Unlock() {
	if s.lock != nil {
		_ = syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
		s.lock.Close()
		s.lock = nil
	}
}

// WithLock runs fn holding the lock (waiting up to wait for it), and
// releases it after.
func (s *Store) WithLock(ctx context.Context, wait time.Duration, fn func() error) error {
	if err := s.LockWait(ctx, wait); err != nil {
		return err
	}
	defer s.Unlock()
	return fn()
}

func isTempName(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-")
}

// Path is the absolute path of a store-relative path.
func (s *Store) Path(rel string) string { return filepath.Join(s.Dir, filepath.FromSlash(rel)) }

// TmpDir is scratch space inside the store (same filesystem, so renames
// from it are atomic).
func (s *Store) TmpDir() string { return s.Path(DirTmp) }

// MkdirTemp makes a new scratch directory under tmp/.
func (s *Store) MkdirTemp(pattern string) (string, error) {
	if err := atomicfile.MkdirIn(s.root, DirTmp); err != nil {
		return "", err
	}
	return os.MkdirTemp(s.TmpDir(), pattern)
}

// ArtifactRecordPath is where an input's record lives.
func (s *Store) ArtifactRecordPath(sha string) string {
	return s.Path(path.Join(DirArtifacts, sha+".yaml"))
}

// BucketDir is a bucket's directory.
func (s *Store) BucketDir(id string) string { return s.Path(path.Join(DirBuckets, id)) }

// BucketRecordPath is a bucket's record.
func (s *Store) BucketRecordPath(id string) string {
	return s.Path(path.Join(DirBuckets, id, "bucket.yaml"))
}

// SessionDir is where the lldb session that reproduced an input on a build
// keeps its files.
func (s *Store) SessionDir(sha string, prof Profile) string {
	return s.Path(path.Join(DirSessions, sha, string(prof)))
}

// MinimizedPath is where --minimize all puts an input's minimized form.
func (s *Store) MinimizedPath(sha string) string { return s.Path(path.Join(DirMinimized, sha)) }

// Rel is path relative to the store, for records; a path outside the
// store comes back unchanged.
func (s *Store) Rel(p string) string {
	if r, err := filepath.Rel(s.Dir, p); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return filepath.ToSlash(r)
	}
	return p
}

// relOf turns an absolute path inside the store, or a store-relative one,
// into a store-relative slash path; a path outside the store is an error.
func (s *Store) relOf(p string) (string, error) {
	if !filepath.IsAbs(p) {
		return path.Clean(filepath.ToSlash(p)), nil
	}
	r, err := filepath.Rel(s.Dir, p)
	if err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return "", fmt.Errorf("%s is outside the store %s (refusing to write it)", p, s.Dir)
	}
	return filepath.ToSlash(r), nil
}

// WriteFile replaces a file of the store (absolute path inside the store,
// or store-relative) atomically; never through a symbolic link, never
// outside the store.
func (s *Store) WriteFile(p string, data []byte) error {
	rel, err := s.relOf(p)
	if err != nil {
		return err
	}
	return atomicfile.WriteIn(s.root, rel, data)
}

// Mkdir creates a directory of the store (and its parents), refusing
// symbolic links on the way.
func (s *Store) Mkdir(p string) error {
	rel, err := s.relOf(p)
	if err != nil {
		return err
	}
	return atomicfile.MkdirIn(s.root, rel)
}

// PrepareOutput makes a store path ready for another program (lldb,
// libFuzzer) to write: its directory exists and is no link, and whatever
// is at the path is removed unless it is a regular file (a link planted
// there would otherwise be followed by that program).
func (s *Store) PrepareOutput(p string) error {
	rel, err := s.relOf(p)
	if err != nil {
		return err
	}
	if err := atomicfile.MkdirIn(s.root, path.Dir(rel)); err != nil {
		return err
	}
	fi, err := s.root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return s.root.Remove(rel)
	}
	return nil
}

// ReadFile reads a file of the store (confined to it).
func (s *Store) ReadFile(p string) ([]byte, error) {
	rel, err := s.relOf(p)
	if err != nil {
		return nil, err
	}
	return s.root.ReadFile(rel)
}

// MalformedError is a record that cannot be read or fails its schema; it
// is reported, never overwritten.
type MalformedError struct {
	Path string
	Err  error
}

func (e *MalformedError) Error() string { return fmt.Sprintf("malformed record %s: %v", e.Path, e.Err) }
func (e *MalformedError) Unwrap() error { return e.Err }

// MissingError is a record that other records name but that is not there
// (a bucket directory deleted while artifact records still point to it).
type MissingError struct {
	Path string
	Why  string
}

func (e *MissingError) Error() string { return fmt.Sprintf("missing record %s: %s", e.Path, e.Why) }

// Record is what every store record implements: its schema version and a
// check of its required fields and values.
type Record interface {
	schema() int
	// Validate checks required fields and values beyond what strict YAML
	// decoding checks (types, unknown fields).
	Validate() error
}

// ReadRecord decodes a YAML record strictly, checks its schema version and
// validates it. Errors other than a missing file are *MalformedError.
func (s *Store) ReadRecord(p string, v Record) error {
	data, err := s.ReadFile(p)
	if err != nil {
		return err
	}
	return DecodeRecord(s.Path(mustRel(s, p)), data, v)
}

func mustRel(s *Store, p string) string {
	r, err := s.relOf(p)
	if err != nil {
		return p
	}
	return r
}

// DecodeRecord is ReadRecord on bytes already read; path names them in
// errors.
func DecodeRecord(path string, data []byte, v Record) error {
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
	if err := v.Validate(); err != nil {
		return &MalformedError{Path: path, Err: err}
	}
	return nil
}

// MarshalYAML encodes a record the way every store file is written
// (two-space indent).
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
// errors (by path) and as placeholders marked malformed: the input counts
// as recorded, so nothing overwrites the damaged record.
func (s *Store) LoadArtifacts() (map[string]*ArtifactRecord, []error, error) {
	entries, err := fs.ReadDir(s.root.FS(), DirArtifacts)
	if err != nil {
		return nil, nil, fmt.Errorf("store %s: %w", s.Path(DirArtifacts), err)
	}
	out := map[string]*ArtifactRecord{}
	var bad []error
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".yaml") || strings.HasPrefix(name, ".") {
			continue
		}
		sha := strings.TrimSuffix(name, ".yaml")
		p := s.Path(path.Join(DirArtifacts, name))
		if !sha1Name.MatchString(sha) {
			bad = append(bad, &MalformedError{Path: p, Err: errors.New("file name is not <sha1>.yaml")})
			continue
		}
		var r ArtifactRecord
		err := s.ReadRecord(p, &r)
		if err == nil && r.SHA1 != sha {
			err = &MalformedError{Path: p, Err: fmt.Errorf("sha1 field %q does not match the file name", r.SHA1)}
		}
		if err != nil {
			bad = append(bad, err)
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
	if !sha1Name.MatchString(r.SHA1) {
		return fmt.Errorf("artifact record: sha1 %q is not 40 hex digits", r.SHA1)
	}
	r.SchemaVersion = SchemaVersion
	data, err := MarshalYAML(r)
	if err != nil {
		return err
	}
	return s.WriteFile(s.ArtifactRecordPath(r.SHA1), data)
}

// LoadBuckets reads every bucket record; malformed ones come back as errors
// and as placeholder records marked malformed (never written). Bucket
// directories without a record (a run killed before writing it) are
// skipped: the next run writes them from the artifact records.
func (s *Store) LoadBuckets() (map[string]*BucketRecord, []error, error) {
	entries, err := fs.ReadDir(s.root.FS(), DirBuckets)
	if err != nil {
		return nil, nil, fmt.Errorf("store %s: %w", s.Path(DirBuckets), err)
	}
	out := map[string]*BucketRecord{}
	var bad []error
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := s.BucketRecordPath(e.Name())
		if e.Type()&fs.ModeSymlink != 0 || !e.IsDir() {
			bad = append(bad, &MalformedError{Path: s.BucketDir(e.Name()), Err: errors.New("not a directory")})
			out[e.Name()] = &BucketRecord{ID: e.Name(), malformed: true}
			continue
		}
		var r BucketRecord
		err := s.ReadRecord(p, &r)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil && r.ID != e.Name() {
			err = &MalformedError{Path: p, Err: fmt.Errorf("id field %q does not match the directory name", r.ID)}
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
	if !ValidBucketID(r.ID) {
		return fmt.Errorf("bucket record: id %q is not a bucket id", r.ID)
	}
	r.SchemaVersion = SchemaVersion
	data, err := MarshalYAML(r)
	if err != nil {
		return err
	}
	return s.WriteFile(s.BucketRecordPath(r.ID), data)
}

// WriteRun writes a run record atomically; its name is its start time.
func (s *Store) WriteRun(r *RunRecord) (string, error) {
	r.SchemaVersion = SchemaVersion
	data, err := MarshalYAML(r)
	if err != nil {
		return "", err
	}
	p := s.Path(path.Join(DirRuns, r.Started.UTC().Format("20060102T150405.000000000Z")+".yaml"))
	return p, s.WriteFile(p, data)
}

// Runs lists the run records' paths, oldest first.
func (s *Store) Runs() ([]string, error) {
	entries, err := fs.ReadDir(s.root.FS(), DirRuns)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, s.Path(path.Join(DirRuns, e.Name())))
		}
	}
	sort.Strings(out)
	return out, nil
}

// LoadRun reads one run record.
func (s *Store) LoadRun(p string) (*RunRecord, error) {
	var r RunRecord
	if err := s.ReadRecord(p, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// LookupBucket reads one bucket record.
func (s *Store) LookupBucket(id string) (*BucketRecord, error) {
	var b BucketRecord
	if err := s.ReadRecord(s.BucketRecordPath(id), &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// FileSHA1 hashes a file's content.
func FileSHA1(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha1.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// BytesSHA1 hashes data.
func BytesSHA1(data []byte) string {
	sum := sha1.Sum(data)
	return hex.EncodeToString(sum[:])
}
