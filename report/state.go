package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

// StateSchemaVersion versions report/state.yaml and report/diffs/*.yaml. It
// changes when a field changes meaning or goes away; a file of another
// version is reported, never overwritten.
const StateSchemaVersion = 1

// Bucket statuses across nights.
const (
	// StatusNew: no diff has seen the bucket yet (never stored).
	StatusNew = "new"
	// StatusOpen: the bucket's inputs still crash in it.
	StatusOpen = "open"
	// StatusFixed: its representative and minimized input no longer crash
	// on the current build.
	StatusFixed = "fixed"
	// StatusChanged: they crash, but in other buckets (ChangedTo).
	StatusChanged = "changed"
	// StatusRegressed: it was fixed (or changed) and came back: a new
	// member arrived or its inputs crash in it again. It stays regressed
	// until it is fixed again.
	StatusRegressed = "regressed"
)

// State is <store>/report/state.yaml: what the report commands know about
// each bucket beyond the pipeline's records. Only `triage diff` and
// `triage report` (when it marks buckets reported) write it, atomically,
// under the store's lock; nothing in it is ever dropped, so a bucket's
// history survives any number of runs.
type State struct {
	SchemaVersion int       `yaml:"schema_version"`
	Updated       time.Time `yaml:"updated"`
	// LastDiff is when the last recorded diff ran: the default baseline
	// of the next one.
	LastDiff *time.Time `yaml:"last_diff,omitempty"`
	// LastDiffRun is the newest run that diff covered.
	LastDiffRun string `yaml:"last_diff_run,omitempty"`
	// Buckets by id.
	Buckets map[string]*BucketState `yaml:"buckets"`
}

// BucketState is one bucket's state.
type BucketState struct {
	// Status is open, fixed, changed or regressed.
	Status string `yaml:"status"`
	// Members is the member count the last diff saw: the next diff's
	// baseline for "grown".
	Members int `yaml:"members"`
	// FirstDiff is when a diff first saw the bucket (and reported it new).
	FirstDiff time.Time `yaml:"first_diff"`
	// FixedAt is when a diff found it fixed or changed; FixedBinary the
	// SHA1 of the release binary it no longer crashed (in this bucket) on;
	// FixedRun the newest run then.
	FixedAt     *time.Time `yaml:"fixed_at,omitempty"`
	FixedBinary string     `yaml:"fixed_binary,omitempty"`
	FixedRun    string     `yaml:"fixed_run,omitempty"`
	// ChangedTo are the buckets its inputs landed in when it changed.
	ChangedTo []string `yaml:"changed_to,omitempty"`
	// RegressedAt is the last regression; Regressions counts them.
	RegressedAt *time.Time `yaml:"regressed_at,omitempty"`
	Regressions int        `yaml:"regressions,omitempty"`
	// Reported is set when `triage report` rendered (and marked) it.
	Reported *Reported `yaml:"reported,omitempty"`
	// Verification is the last re-run of its inputs on the current build.
	Verification *triage.Verification `yaml:"verification,omitempty"`
	// History lists every status change a diff saw, oldest first.
	History []Event `yaml:"history,omitempty"`
}

// Reported says when a bug report was rendered for a bucket and how many
// members it had then.
type Reported struct {
	At      time.Time `yaml:"at" json:"at"`
	Members int       `yaml:"members" json:"members"`
}

// Event is one thing that happened to a bucket.
type Event struct {
	At time.Time `yaml:"at" json:"at"`
	// Event is new, grown, fixed, changed, regressed or reported.
	Event   string `yaml:"event" json:"event"`
	Members int    `yaml:"members" json:"members"`
	Detail  string `yaml:"detail,omitempty" json:"detail,omitempty"`
}

// StateDir is <store>/report.
func StateDir(storeDir string) string { return filepath.Join(storeDir, "report") }

// StatePath is <store>/report/state.yaml.
func StatePath(storeDir string) string { return filepath.Join(StateDir(storeDir), "state.yaml") }

// LoadState reads the state (an empty one when there is none yet).
func LoadState(storeDir string) (*State, error) {
	path := StatePath(storeDir)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &State{SchemaVersion: StateSchemaVersion, Buckets: map[string]*BucketState{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := decodeStrict(data, &st); err != nil {
		return nil, &store.MalformedError{Path: path, Err: err}
	}
	if st.SchemaVersion != StateSchemaVersion {
		return nil, &store.MalformedError{Path: path, Err: fmt.Errorf("schema_version %d, this triage reads %d", st.SchemaVersion, StateSchemaVersion)}
	}
	if st.Buckets == nil {
		st.Buckets = map[string]*BucketState{}
	}
	for id, b := range st.Buckets {
		if b == nil {
			return nil, &store.MalformedError{Path: path, Err: fmt.Errorf("bucket %s: empty entry", id)}
		}
		switch b.Status {
		case StatusOpen, StatusFixed, StatusChanged, StatusRegressed:
		default:
			return nil, &store.MalformedError{Path: path, Err: fmt.Errorf("bucket %s: status %q is not open, fixed, changed or regressed", id, b.Status)}
		}
	}
	return &st, nil
}

func decodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty file")
		}
		return err
	}
	return nil
}

// Save writes the state atomically into the store. The caller holds the
// store's lock (see WithState).
func (st *State) Save(s *store.Store, now time.Time) error {
	st.SchemaVersion = StateSchemaVersion
	st.Updated = now.UTC()
	data, err := store.MarshalYAML(st)
	if err != nil {
		return err
	}
	return s.WriteFile(StatePath(s.Dir), data)
}

// WithState runs fn holding the store's lock (waiting up to wait for a
// running `triage run` or `watch`, or another report command, to release
// it), with the state as it is once the lock is held. Whatever fn decides
// from the state (which buckets are still unreported, what changed since
// the last diff) therefore holds until it returns: two commands at once
// take turns, and the second sees what the first recorded.
func WithState(ctx context.Context, storeDir string, wait time.Duration, fn func(s *store.Store, st *State) error) error {
	s, err := store.Open(storeDir)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.WithLock(ctx, wait, func() error {
		st, err := LoadState(storeDir)
		if err != nil {
			return err
		}
		return fn(s, st)
	})
}

// Unreported are the buckets of the snapshot that st does not record as
// reported, sorted by id.
func Unreported(snap *Snapshot, st *State) []string {
	var ids []string
	for _, id := range snap.IDs() {
		if bs := st.Buckets[id]; bs == nil || bs.Reported == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// ReportNew renders every bucket no earlier report rendered, and with mark
// records them as reported, all under the store's lock: however many run
// at once, each bucket is rendered by exactly one of them.
func ReportNew(ctx context.Context, snap *Snapshot, wait time.Duration, mark bool, now time.Time, render func(bugs []*Bug) error) (int, error) {
	n := 0
	err := WithState(ctx, snap.StoreDir, wait, func(s *store.Store, st *State) error {
		ids := Unreported(snap, st)
		n = len(ids)
		bugs := make([]*Bug, len(ids))
		for i, id := range ids {
			bugs[i] = snap.Bug(snap.Buckets[id])
		}
		if err := render(bugs); err != nil {
			return err
		}
		if !mark || len(ids) == 0 {
			return nil
		}
		markReported(snap, st, ids, now)
		if err := st.Save(s, now); err != nil {
			return fmt.Errorf("marking the reported buckets: %w", err)
		}
		snap.State = st
		return nil
	})
	return n, err
}

// MarkReported records, under the store's lock, that reports were
// rendered for the buckets, so `triage report --all-new` does not render
// them again.
func MarkReported(ctx context.Context, snap *Snapshot, ids []string, wait time.Duration, now time.Time) error {
	return WithState(ctx, snap.StoreDir, wait, func(s *store.Store, st *State) error {
		markReported(snap, st, ids, now)
		if err := st.Save(s, now); err != nil {
			return err
		}
		snap.State = st
		return nil
	})
}

// markReported records in st that reports were rendered for the buckets.
func markReported(snap *Snapshot, st *State, ids []string, now time.Time) {
	for _, id := range ids {
		b := snap.Buckets[id]
		if b == nil {
			continue
		}
		bs := st.Buckets[id]
		if bs == nil {
			// Reported before any diff saw it: it is open, and the
			// next diff still reports it new (FirstDiff unset).
			bs = &BucketState{Status: StatusOpen}
			st.Buckets[id] = bs
		}
		bs.Reported = &Reported{At: now.UTC(), Members: b.MemberCount}
		bs.History = append(bs.History, Event{At: now.UTC(), Event: "reported", Members: b.MemberCount})
	}
}
