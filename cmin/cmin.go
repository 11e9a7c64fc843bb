// Package cmin minimizes one fuzz target's corpus with libFuzzer's merge
// and swaps the result in only once it is verified to keep the corpus's
// features and edges. Nothing is lost on the way: the merge writes a new
// directory beside the corpus, the old corpus is renamed aside and then
// kept in the store, and every step can be interrupted and re-run (the
// merge resumes from its control file; a half-done swap is finished or
// undone from the directories it left).
package cmin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fuzztriage/triage/internal/procrun"
)

// Request is one corpus to minimize.
type Request struct {
	Binary string
	// Corpus is the target's corpus directory.
	Corpus string
	// Work is this target's directory in the store: the merge control
	// file, the verification scratch, the crashes the merge met and the
	// previous corpus (Work/previous) live there.
	Work string
	// Flags are the target's libFuzzer options (-max_len, -dict...).
	Flags []string
	// Timeout bounds each merge (default 1h).
	Timeout time.Duration
	Env     []string
	// AfterMerge, when set, is called once the merge has written the new
	// corpus and before it is verified (tests interrupt there).
	AfterMerge func()
}

// Result says what happened.
type Result struct {
	Before, After int
	// Features and Edges of the old and new corpus, each measured the
	// same way (libFuzzer -merge=1 into an empty directory).
	FeaturesBefore, FeaturesAfter int
	EdgesBefore, EdgesAfter       int
	// Method is the merge flag used.
	Method string
	// Resumed says an interrupted minimization was picked up.
	Resumed string `json:",omitempty"`
	// Previous is where the old corpus is kept.
	Previous string
	// Crashes the merge met (inputs of the corpus that crash now).
	Crashes int
}

// Names of the directories beside the corpus and in Work.
func newDir(corpus string) string { return siblingDir(corpus, "cmin-new") }
func oldDir(corpus string) string { return siblingDir(corpus, "cmin-old") }
func siblingDir(corpus, what string) string {
	return filepath.Join(filepath.Dir(corpus), "."+filepath.Base(corpus)+"."+what)
}

// ErrNotVerified is returned (wrapped) when the merged corpus lost
// features or edges: the corpus is left as it was.
var ErrNotVerified = errors.New("the minimized corpus does not keep the corpus's coverage")

// Minimize runs the whole job, resuming whatever an earlier run left.
func Minimize(ctx context.Context, r Request) (*Result, error) {
	if r.Timeout == 0 {
		r.Timeout = time.Hour
	}
	res := &Result{}
	if err := os.MkdirAll(r.Work, 0o755); err != nil {
		return nil, err
	}
	newD, oldD := newDir(r.Corpus), oldDir(r.Corpus)
	// A swap cut short: the corpus renamed aside, the new one maybe not in.
	if _, err := os.Lstat(r.Corpus); errors.Is(err, os.ErrNotExist) {
		if isDir(oldD) && isDir(newD) && fileExists(filepath.Join(r.Work, verifiedMark)) {
			res.Resumed = "the swap (old corpus aside, verified new corpus not yet in place)"
			if err := os.Rename(newD, r.Corpus); err != nil {
				return nil, err
			}
			return res, finishSwap(r, res)
		}
		if isDir(oldD) {
			// Undo: the old corpus goes back, the minimization starts over.
			if err := os.Rename(oldD, r.Corpus); err != nil {
				return nil, err
			}
			res.Resumed = "an unverified swap was undone"
		} else {
			return nil, fmt.Errorf("corpus %s does not exist", r.Corpus)
		}
	}
	if isDir(oldD) {
		// The new corpus is in place; the old one had not reached the store.
		res.Resumed = "moving the old corpus into the store"
		return res, finishSwap(r, res)
	}
	control := filepath.Join(r.Work, "merge-control.txt")
	if isDir(newD) && fileExists(control) {
		if res.Resumed == "" {
			res.Resumed = "the merge, from its control file"
		}
	} else {
		// No control file: whatever is in newD is half a merge's copy.
		if err := os.RemoveAll(newD); err != nil {
			return nil, err
		}
		os.Remove(control)
		os.Remove(filepath.Join(r.Work, verifiedMark))
	}
	if err := os.MkdirAll(newD, 0o755); err != nil {
		return nil, err
	}
	res.Before = countFiles(r.Corpus)
	res.Method = mergeFlag(ctx, r)
	crashes := filepath.Join(r.Work, "crashes")
	if err := os.MkdirAll(crashes, 0o755); err != nil {
		return nil, err
	}
	if _, err := merge(ctx, r, []string{res.Method, "-merge_control_file=" + control, "-artifact_prefix=" + crashes + "/", newD, r.Corpus}); err != nil {
		return nil, err
	}
	res.Crashes = countFiles(crashes)
	if r.AfterMerge != nil {
		r.AfterMerge()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Verify: the same measurement of both corpora.
	var err error
	if res.FeaturesBefore, res.EdgesBefore, err = measure(ctx, r, r.Corpus); err != nil {
		return nil, err
	}
	if res.FeaturesAfter, res.EdgesAfter, err = measure(ctx, r, newD); err != nil {
		return nil, err
	}
	res.After = countFiles(newD)
	if res.FeaturesAfter < res.FeaturesBefore || res.EdgesAfter < res.EdgesBefore {
		return res, fmt.Errorf("%w: features %d -> %d, edges %d -> %d; %s is unchanged (the merged copy is %s)",
			ErrNotVerified, res.FeaturesBefore, res.FeaturesAfter, res.EdgesBefore, res.EdgesAfter, r.Corpus, newD)
	}
	if err := os.WriteFile(filepath.Join(r.Work, verifiedMark), []byte(fmt.Sprintf("features %d edges %d\n", res.FeaturesAfter, res.EdgesAfter)), 0o644); err != nil {
		return nil, err
	}
	// The swap: two renames in one directory; finishSwap moves the old
	// corpus into the store.
	if err := os.Rename(r.Corpus, oldD); err != nil {
		return nil, err
	}
	if err := os.Rename(newD, r.Corpus); err != nil {
		return nil, err
	}
	return res, finishSwap(r, res)
}

// verifiedMark in Work says the new corpus passed verification.
const verifiedMark = "verified"

// finishSwap moves the old corpus (renamed aside) into Work/previous,
// replacing the one an earlier minimization kept, and clears the state.
func finishSwap(r Request, res *Result) error {
	prev := filepath.Join(r.Work, "previous")
	res.Previous = prev
	if res.After == 0 {
		res.After = countFiles(r.Corpus)
	}
	if err := os.RemoveAll(prev); err != nil {
		return err
	}
	if err := os.Rename(oldDir(r.Corpus), prev); err != nil {
		// Another filesystem: copy, then remove the original.
		if err := copyDir(oldDir(r.Corpus), prev); err != nil {
			return fmt.Errorf("keeping the old corpus in %s: %w", prev, err)
		}
		if err := os.RemoveAll(oldDir(r.Corpus)); err != nil {
			return err
		}
	}
	os.Remove(filepath.Join(r.Work, "merge-control.txt"))
	os.Remove(filepath.Join(r.Work, verifiedMark))
	return nil
}

// mergeFlag is -set_cover_merge=1 where the linked libFuzzer has it (it
// keeps fewer files for the same features), else -merge=1.
func mergeFlag(ctx context.Context, r Request) string {
	res, err := procrun.Run(ctx, procrun.Spec{Path: r.Binary, Args: []string{"-help=1"}, Env: r.Env, Unset: []string{"RUST_BACKTRACE"}, Timeout: time.Minute})
	if err == nil && strings.Contains(string(res.Stderr)+string(res.Stdout), "set_cover_merge") {
		return "-set_cover_merge=1"
	}
	return "-merge=1"
}

var mergeOuterRE = regexp.MustCompile(`MERGE-OUTER: (\d+) new files with (\d+) new features added; (\d+) new coverage edges`)

// merge runs one libFuzzer merge and returns its output.
func merge(ctx context.Context, r Request, args []string) (string, error) {
	argv := append(append([]string{}, r.Flags...), args...)
	res, err := procrun.Run(ctx, procrun.Spec{Path: r.Binary, Args: argv, Dir: r.Work, Env: r.Env, Unset: []string{"RUST_BACKTRACE"},
		Timeout: r.Timeout, KillGrace: 5 * time.Second, OutputCap: 1 << 20})
	if err != nil {
		return "", err
	}
	if res.Canceled {
		return "", ctx.Err()
	}
	out := string(res.Stderr)
	if res.TimedOut || res.ExitCode != 0 || !mergeOuterRE.MatchString(out) {
		return "", fmt.Errorf("libFuzzer merge (%s %s) failed: exit status %d%s: %s", r.Binary, strings.Join(argv, " "), res.ExitCode,
			map[bool]string{true: " (timed out)"}[res.TimedOut], lastLines(out, 5))
	}
	return out, nil
}

// measure is a corpus's features and edges: -merge=1 into an empty scratch
// directory (which libFuzzer fills with the inputs it keeps; removed).
func measure(ctx context.Context, r Request, dir string) (features, edges int, err error) {
	scratch, err := os.MkdirTemp(r.Work, "measure-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(scratch)
	crashes := filepath.Join(scratch, "crashes")
	into := filepath.Join(scratch, "kept")
	for _, d := range []string{crashes, into} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return 0, 0, err
		}
	}
	out, err := merge(ctx, r, []string{"-merge=1", "-artifact_prefix=" + crashes + "/", into, dir})
	if err != nil {
		return 0, 0, err
	}
	m := mergeOuterRE.FindAllStringSubmatch(out, -1)
	last := m[len(m)-1]
	features, _ = strconv.Atoi(last[2])
	edges, _ = strconv.Atoi(last[3])
	return features, edges, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

func fileExists(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

func countFiles(dir string) int {
	n := 0
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		if e.Type().IsRegular() {
			n++
		}
	}
	return n
}

// copyDir copies the regular files of src into a new directory dst.
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	es, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range es {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
