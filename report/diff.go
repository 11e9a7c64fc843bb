package report

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

// Diff is what changed across nights: written to report/diffs/<time>.yaml
// by every recorded `triage diff`, and printed by it.
type Diff struct {
	SchemaVersion int       `yaml:"schema_version" json:"schema_version"`
	At            time.Time `yaml:"at" json:"at"`
	// Since is the baseline the membership lists compare against.
	Since Baseline `yaml:"since" json:"since"`
	// Latest is the newest run record; Runs the runs since the baseline.
	Latest string   `yaml:"latest_run,omitempty" json:"latest_run,omitempty"`
	Runs   []string `yaml:"runs" json:"runs"`
	// Verified says the buckets' inputs were re-run on the current build
	// (without it, fixed, changed and regressed-by-rerun cannot be told).
	Verified bool `yaml:"verified" json:"verified"`

	// New buckets did not exist at the baseline.
	New []Change `yaml:"new" json:"new"`
	// Grown buckets have more members than at the baseline.
	Grown []Change `yaml:"grown" json:"grown"`
	// NotSeen buckets got no new member since the baseline (and are not
	// listed as fixed, changed, regressed or still fixed).
	NotSeen []Change `yaml:"not_seen" json:"not_seen"`
	// Fixed buckets' inputs stopped crashing on the current build.
	Fixed []Change `yaml:"fixed" json:"fixed"`
	// Changed buckets' inputs now crash in other buckets.
	Changed []Change `yaml:"changed" json:"changed"`
	// Regressed buckets were fixed or changed and are back.
	Regressed []Change `yaml:"regressed" json:"regressed"`
	// StillFixed buckets were fixed earlier and still are.
	StillFixed []Change `yaml:"still_fixed" json:"still_fixed"`
	// Failures are buckets that could not be verified (no binary, a build
	// that failed, inputs gone).
	Failures []string `yaml:"failures" json:"failures"`
	// Record is where this diff was written ("" for --dry-run).
	Record string `yaml:"-" json:"record,omitempty"`
}

// Baseline names what a diff compares against.
type Baseline struct {
	// Kind is "diff" (the last recorded diff), "run" (a run record) or
	// "start" (nothing: every bucket is new).
	Kind string     `yaml:"kind" json:"kind"`
	Run  string     `yaml:"run,omitempty" json:"run,omitempty"`
	At   *time.Time `yaml:"at,omitempty" json:"at,omitempty"`
}

// Change is one bucket in a diff list.
type Change struct {
	ID     string `yaml:"id" json:"id"`
	Title  string `yaml:"title" json:"title"`
	Target string `yaml:"target" json:"target"`
	// Members now, and how many arrived since the baseline.
	Members    int `yaml:"members" json:"members"`
	NewMembers int `yaml:"new_members" json:"new_members"`
	// Status after this diff.
	Status    string   `yaml:"status" json:"status"`
	ChangedTo []string `yaml:"changed_to,omitempty" json:"changed_to,omitempty"`
	Detail    string   `yaml:"detail,omitempty" json:"detail,omitempty"`
}

// DiffOptions configure a diff.
type DiffOptions struct {
	// Since is a run name (or unique prefix, or "latest") to compare
	// against; "" compares against the last recorded diff.
	Since string
	// Verify, when set, re-runs the buckets' inputs on the current build
	// (triage.VerifyBuckets: reproduction is the pipeline's job, not this
	// package's) to find fixed, changed and regressed buckets; it returns
	// a verification per bucket and the buckets it could not verify.
	Verify func(ctx context.Context, snap *Snapshot) (map[string]*triage.Verification, []string)
	// DryRun computes the diff without recording it.
	DryRun bool
	// LockWait is how long to wait for a running pipeline's lock.
	LockWait time.Duration
	Log      logrus.FieldLogger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// RunDiff compares the store with the baseline, verifies the buckets'
// inputs on the current build when asked, and (unless DryRun) records the
// result: the diff in report/diffs/ and each bucket's new state.
func RunDiff(ctx context.Context, root, storeDir string, o DiffOptions) (*Diff, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	log := o.Log
	if log == nil {
		l := logrus.New()
		l.SetOutput(discard{})
		log = l
	}
	snap, err := Load(root, storeDir)
	if err != nil {
		return nil, err
	}
	for _, p := range snap.Problems {
		log.Warn(p.Error())
	}
	var failures []string
	for _, d := range snap.Damaged {
		failures = append(failures, d.Error())
	}
	var since *Run
	if o.Since != "" {
		if since, err = snap.FindRun(o.Since); err != nil {
			return nil, err
		}
	}
	var checks map[string]*triage.Verification
	if o.Verify != nil {
		if snap.Workspace == nil {
			return nil, fmt.Errorf("cannot verify buckets: no workspace at %s", snap.Root)
		}
		var vf []string
		checks, vf = o.Verify(ctx, snap)
		failures = append(failures, vf...)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
	}
	at := now().UTC()
	var d *Diff
	apply := func(st *State) {
		d = computeDiff(snap, st, since, checks, at)
		d.Verified = o.Verify != nil
		d.Failures = append(d.Failures, failures...)
	}
	if o.DryRun {
		apply(snap.State)
		return d, nil
	}
	err = WithState(ctx, snap.StoreDir, o.LockWait, func(s *store.Store, st *State) error {
		apply(st)
		data, err := store.MarshalYAML(d)
		if err != nil {
			return err
		}
		path := filepath.Join(StateDir(snap.StoreDir), "diffs", at.Format("20060102T150405.000000000Z")+".yaml")
		if err := s.WriteFile(path, data); err != nil {
			return err
		}
		if err := st.Save(s, at); err != nil {
			return err
		}
		d.Record = path
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// computeDiff compares the snapshot with the baseline and applies the
// status transitions to st (mutating it).
func computeDiff(snap *Snapshot, st *State, since *Run, checks map[string]*triage.Verification, at time.Time) *Diff {
	d := &Diff{SchemaVersion: StateSchemaVersion, At: at, Runs: []string{}}
	var base map[string]int
	var from time.Time
	switch {
	case since != nil:
		from = since.Record.Finished
		base = snap.membersAt(from)
		d.Since = Baseline{Kind: "run", Run: since.Name, At: &from}
	case st.LastDiff != nil:
		from = *st.LastDiff
		base = map[string]int{}
		for id, bs := range st.Buckets {
			if !bs.FirstDiff.IsZero() {
				base[id] = bs.Members
			}
		}
		d.Since = Baseline{Kind: "diff", Run: st.LastDiffRun, At: &from}
	default:
		base = map[string]int{}
		d.Since = Baseline{Kind: "start"}
	}
	for _, r := range snap.Runs {
		if r.Record.Started.After(from) {
			d.Runs = append(d.Runs, r.Name)
		}
	}
	if r := snap.LatestRun(); r != nil {
		d.Latest = r.Name
	}
	for _, id := range snap.IDs() {
		b := snap.Buckets[id]
		now := b.MemberCount
		ch := Change{ID: id, Title: snap.Bug(b).Title, Target: b.Target, Members: now, NewMembers: max(0, now-base[id])}
		bs := st.Buckets[id]
		if bs == nil {
			bs = &BucketState{Status: StatusOpen}
			st.Buckets[id] = bs
		}
		event := func(name, detail string) {
			bs.History = append(bs.History, Event{At: at, Event: name, Members: now, Detail: detail})
		}
		if bs.FirstDiff.IsZero() {
			bs.FirstDiff = at
			event("new", "")
		}
		v := checks[id]
		if v != nil {
			bs.Verification = v
		}
		prior := bs.Status
		listed := false
		switch prior {
		case StatusFixed, StatusChanged:
			back := 0
			if bs.FixedAt != nil {
				back = snap.membersAfter(id, *bs.FixedAt)
			}
			alive := v != nil && (v.Verdict == triage.VerdictCrashes || v.Verdict == triage.VerdictSkipped)
			switch {
			case back > 0 || alive:
				bs.Status = StatusRegressed
				bs.RegressedAt = &at
				bs.Regressions++
				ch.Detail = regressionDetail(back, v)
				event("regressed", ch.Detail)
				ch.Status = bs.Status
				d.Regressed = append(d.Regressed, ch)
				listed = true
			case v != nil && v.Verdict == triage.VerdictChanged && prior == StatusFixed:
				bs.Status, bs.ChangedTo = StatusChanged, changedTo(v, id)
				ch.Status, ch.ChangedTo = bs.Status, bs.ChangedTo
				ch.Detail = "its inputs crash again, in another bucket"
				event("changed", ch.Detail)
				d.Changed = append(d.Changed, ch)
				listed = true
			default:
				ch.Status, ch.ChangedTo = bs.Status, bs.ChangedTo
				if bs.FixedAt != nil {
					ch.Detail = "since " + bs.FixedAt.UTC().Format(time.RFC3339)
				}
				d.StillFixed = append(d.StillFixed, ch)
				listed = true
			}
		default:
			if v != nil && v.Verdict == triage.VerdictFixed {
				bs.Status, bs.FixedAt, bs.FixedBinary, bs.FixedRun, bs.ChangedTo = StatusFixed, &at, v.Binary, d.Latest, nil
				ch.Status, ch.Detail = bs.Status, verifiedDetail(v)
				event("fixed", ch.Detail)
				d.Fixed = append(d.Fixed, ch)
				listed = true
			} else if v != nil && v.Verdict == triage.VerdictChanged {
				bs.Status, bs.FixedAt, bs.FixedBinary, bs.FixedRun, bs.ChangedTo = StatusChanged, &at, v.Binary, d.Latest, changedTo(v, id)
				ch.Status, ch.ChangedTo, ch.Detail = bs.Status, bs.ChangedTo, verifiedDetail(v)
				event("changed", ch.Detail)
				d.Changed = append(d.Changed, ch)
				listed = true
			}
		}
		if ch.Status == "" {
			ch.Status = bs.Status
		}
		switch {
		case base[id] == 0 && now > 0:
			d.New = append(d.New, ch)
		case now > base[id]:
			d.Grown = append(d.Grown, ch)
			event("grown", fmt.Sprintf("+%d members", now-base[id]))
		case !listed:
			d.NotSeen = append(d.NotSeen, ch)
		}
		bs.Members = now
	}
	st.LastDiff = &at
	st.LastDiffRun = d.Latest
	return d
}

// membersAfter counts a bucket's members first seen after t.
func (s *Snapshot) membersAfter(id string, t time.Time) int {
	n := 0
	for _, a := range s.Artifacts {
		if a.Bucket != nil && a.Bucket.ID == id && a.FirstSeen.After(t) {
			n++
		}
	}
	return n
}

func regressionDetail(back int, v *triage.Verification) string {
	switch {
	case back > 0 && v != nil && v.Verdict == triage.VerdictCrashes:
		return fmt.Sprintf("%d new members since it was fixed, and its inputs crash again on the current build", back)
	case back > 0:
		return fmt.Sprintf("%d new members since it was fixed", back)
	case v != nil && v.Verdict == triage.VerdictSkipped:
		return "a member triaged on the current build crashes in it"
	default:
		return "its inputs crash in it again on the current build"
	}
}

func verifiedDetail(v *triage.Verification) string {
	var parts []string
	for _, c := range v.Inputs {
		s := c.Role + " " + c.Status
		if c.Bucket != "" {
			s += " (" + c.Bucket + ")"
		}
		parts = append(parts, s)
	}
	b := v.Binary
	if len(b) > 12 {
		b = b[:12]
	}
	return fmt.Sprintf("on release binary %s: %s", b, joinComma(parts))
}

func joinComma(parts []string) string {
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += ", "
		}
		out += p
	}
	return out
}

func changedTo(v *triage.Verification, self string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range v.Inputs {
		if c.Bucket != "" && c.Bucket != self && !seen[c.Bucket] {
			seen[c.Bucket] = true
			out = append(out, c.Bucket)
		}
	}
	sort.Strings(out)
	return out
}
