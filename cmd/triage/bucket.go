package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/dedupe"
	"github.com/fuzztriage/triage/internal/inert"
	"github.com/fuzztriage/triage/symbolize"
	"github.com/fuzztriage/triage/triage"
)

func init() {
	register(&command{
		name:    "bucket",
		summary: "group crash logs into buckets (one bug, one bucket) and explain why",
		usage:   "[LOG|DIR|-]... | --explain LOG_A LOG_B",
		group:   "logs",
		help: `
Reads crash logs (what a fuzz binary prints when it runs one input: files,
directories of them, or - for stdin, the default), parses each and groups
them by bucket key: the crash kind, the panic message as a template
(numbers, addresses and quoted input replaced by placeholders) and the
function that panicked (std helpers such as unwrap, indexing and RefCell
borrows key on their caller), or the repeating cycle of a stack overflow,
or the top in-app frame of a timeout or OOM, or the fuzz target when the
log shows no stack (triage run takes such crashes' stacks from lldb; a log
alone cannot). Bucket ids are "v1-" and a hash of the key: no line
numbers, hashes, checkout directories or build paths enter it (a file is
named by its crate and its path inside the crate), so a bug keeps its id
across checkouts, release and dev builds, legacy and v0 mangling and edits
that move its line.

For each bucket it prints the count, the key, a representative log and the
members; then the pairs of buckets that look like one bug (similar frames
and message), with what made them similar. Buckets are never merged: the
suggestions are for a person to judge.

--workspace WORKSPACE names the crates of the logs' files from the
workspace's manifests (needed for a crate at the workspace root when there
is no --binary). --path-map OLD=NEW rewrites the logs' source paths first
(logs printed on another machine or checkout).

--binary BIN maps the panic location to its function through BIN's debug
info, which names the panicking function even where the release build
inlined it away (the log then shows only its caller); pass the binary the
logs came from, or one built from the same sources anywhere else: files
are matched by path, then by crate and path inside the crate, and the
logs whose panic location could not be mapped are listed. --target NAME names the fuzz target for logs without a
stack (default: BIN's file name).

--explain LOG_A LOG_B prints both keys, the fields where they differ and
the similarity with its reasons.

Exit codes: 0 every log bucketed (with --explain: the two logs share a
bucket); 1 some log could not be parsed or shows no crash (listed, the
rest still bucketed; with --explain: different buckets); 2 usage errors.

Examples:
  triage bucket logs/
  triage bucket --binary target/x86_64-unknown-linux-gnu/release/fuzz_wire_decode logs/*.log
  triage bucket --binary ./fuzz_echo --path-map /home/ci/src=$PWD ci-logs/
  fuzz_target crash-1234 2>&1 | triage bucket --target fuzz_target -
  triage bucket --format json logs/ | jq '.buckets[] | {id, count}'
  triage bucket --explain crash-a.log crash-b.log
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			format := addFormat(fs, "text", "text", "yaml", "json")
			frames := fs.Int("frames", 0, "frames in a key: the panic site plus N-1 callers, or the top N frames (0: per-kind default)")
			target := fs.String("target", "", "fuzz target name, the key of logs without a stack (default: the --binary file name)")
			binary := fs.String("binary", "", "fuzz binary the logs came from: maps panic locations to functions through its debug info")
			pathMap := fs.StringArray("path-map", nil, "rewrite the logs' source paths: `OLD=NEW` prefix substitution, applied before matching them to --binary (repeatable)")
			threshold := fs.Float64("threshold", 0, "similarity at or above which two buckets are suggested as one bug (0: default 0.7)")
			members := fs.Int("members", 10, "members listed per bucket in text output (0: all)")
			explain := fs.Bool("explain", false, "explain why two logs are or are not in one bucket")
			return func(ctx context.Context, a *app, args []string) error {
				if err := format.check(); err != nil {
					return err
				}
				if *frames < 0 {
					return usagef("--frames must be 0 or more, not %d", *frames)
				}
				if *threshold < 0 || *threshold > 1 {
					return usagef("--threshold must be between 0 and 1, not %v", *threshold)
				}
				opt := dedupe.Options{Frames: *frames, Target: *target}
				rw, err := triage.ParsePathMap(*pathMap)
				if err != nil {
					return usagef("--path-map: %v", err)
				}
				if a.g.workspaceSet {
					// The logs came from this workspace: its manifests name
					// the crates (a crate at the root too), and its
					// triage.yaml's path_map comes first.
					root, err := a.workspaceRoot(nil)
					if err != nil {
						return err
					}
					cfg, err := a.config(root)
					if err != nil {
						return err
					}
					ws, err := triage.Load(root, cfg)
					if err != nil {
						return usagef("--workspace %s: %v", root, err)
					}
					cfgMap, _ := triage.ParsePathMap(cfg.Bucket.PathMap) // validated with the config
					opt.Crates = ws.CrateMap(append(rw, cfgMap...))
				} else if len(rw) > 0 {
					opt.Crates = dedupe.NewCrateMap(nil, nil, rw)
				}
				if *binary != "" {
					if _, err := os.Stat(*binary); err != nil {
						return usagef("--binary: %v", err)
					}
					r, err := dedupe.ResolverFor(*binary)
					if err != nil {
						return fmt.Errorf("--binary %s: %w", *binary, err)
					}
					opt.Resolver = r
					if opt.Target == "" {
						opt.Target = filepath.Base(*binary)
					}
				}
				params := dedupe.SimilarityParams{Threshold: *threshold}
				if *explain {
					return explainLogs(a, args, opt, params, format.value)
				}
				return bucketLogs(a, args, opt, params, format.value, *members)
			}
		},
	})
}

// eachLog calls fn for each log the arguments name: files as given,
// directories walked (hidden entries skipped, sorted), "-" or nothing for
// stdin. Logs are read as they are parsed, one at a time.
func eachLog(a *app, args []string, fn func(name string, r io.Reader) error) (int, error) {
	if len(args) == 0 {
		args = []string{"-"}
	}
	n := 0
	stdinUsed := false
	for _, arg := range args {
		if arg == "-" {
			if stdinUsed {
				return n, usagef("stdin (-) given twice")
			}
			stdinUsed = true
			n++
			if err := fn("(stdin)", a.stdin); err != nil {
				return n, err
			}
			continue
		}
		st, err := os.Stat(arg)
		if errors.Is(err, os.ErrNotExist) {
			return n, usagef("%s does not exist", arg)
		}
		if err != nil {
			return n, err
		}
		var files []string
		if st.IsDir() {
			err := filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if p != arg && strings.HasPrefix(d.Name(), ".") {
					if d.IsDir() {
						return filepath.SkipDir
					}
					return nil
				}
				if d.Type().IsRegular() {
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				return n, err
			}
			sort.Strings(files)
		} else {
			files = []string{arg}
		}
		for _, name := range files {
			f, err := os.Open(name)
			if err != nil {
				return n, err
			}
			n++
			err = fn(name, f)
			f.Close()
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// parseLog parses one log as it is read; a log that shows no crash is an
// error here.
func parseLog(name string, r io.Reader) (*symbolize.Trace, error) {
	tr, err := symbolize.ParseReader(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if tr.Kind == symbolize.KindNone || tr.Kind == "" {
		return nil, fmt.Errorf("%s: the log shows no crash", name)
	}
	return tr, nil
}

type skippedLog struct {
	Log   string `json:"log" yaml:"log"`
	Error string `json:"error" yaml:"error"`
}

// bucketReport is `triage bucket`'s structured output.
type bucketReport struct {
	KeyVersion  int                 `json:"key_version" yaml:"key_version"`
	Logs        int                 `json:"logs" yaml:"logs"`
	Buckets     []dedupe.Bucket     `json:"buckets" yaml:"buckets"`
	Suggestions []dedupe.Suggestion `json:"suggestions" yaml:"suggestions"`
	Skipped     []skippedLog        `json:"skipped,omitempty" yaml:"skipped,omitempty"`
	// Unmapped are the logs whose panic location --binary could not map
	// (their site came from the frames).
	Unmapped []unmappedLog `json:"unmapped,omitempty" yaml:"unmapped,omitempty"`
}

// unmappedLog is a log whose panic location the binary's debug info could
// not map, and why.
type unmappedLog struct {
	Log   string `json:"log" yaml:"log"`
	Error string `json:"error" yaml:"error"`
}

func bucketLogs(a *app, args []string, opt dedupe.Options, params dedupe.SimilarityParams, format string, members int) error {
	rep := bucketReport{KeyVersion: dedupe.KeyVersion, Suggestions: []dedupe.Suggestion{}}
	// One log at a time: what is kept grows with buckets (a
	// representative trace each), not with logs. What is live is small
	// and each log's trace is garbage a moment later: collecting less
	// often trades a few MiB for a fifth of the CPU.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	var g dedupe.Grouper
	n, err := eachLog(a, args, func(name string, r io.Reader) error {
		tr, err := parseLog(name, r)
		if err != nil {
			a.log.Warnf("skipped: %v", inert.Line(err.Error()))
			rep.Skipped = append(rep.Skipped, skippedLog{Log: name, Error: err.Error()})
			return nil
		}
		k := g.Add(dedupe.Crash{Name: name, Trace: tr, Options: opt})
		a.log.Debugf("%s: %s", inert.Line(name), k.ID())
		if k.SiteError != "" {
			rep.Unmapped = append(rep.Unmapped, unmappedLog{Log: name, Error: k.SiteError})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return usagef("no logs found in %s", strings.Join(args, " "))
	}
	rep.Logs = n
	rep.Buckets = g.Buckets()
	if rep.Buckets == nil {
		rep.Buckets = []dedupe.Bucket{}
	}
	if s := dedupe.Cluster(rep.Buckets, params); s != nil {
		rep.Suggestions = s
	}
	if len(rep.Unmapped) > 0 {
		a.log.Warnf("--binary could not map the panic location of %d of %d logs; their sites come from the frames (first: %s: %s); --path-map OLD=NEW maps the logs' paths to the binary's",
			len(rep.Unmapped), n, inert.Line(rep.Unmapped[0].Log), inert.Line(rep.Unmapped[0].Error))
	}
	if format != "text" {
		if err := writeStructured(a.stdout, format, rep); err != nil {
			return err
		}
	} else {
		printBuckets(a.stdout, rep, members)
	}
	if len(rep.Skipped) > 0 {
		return exitError{code: exitFindings, err: fmt.Errorf("%d of %d logs skipped (see above)", len(rep.Skipped), n)}
	}
	return nil
}

func printBuckets(w io.Writer, rep bucketReport, members int) {
	fmt.Fprintf(w, "%d buckets from %d logs (key version %d)\n", len(rep.Buckets), rep.Logs, rep.KeyVersion)
	for _, b := range rep.Buckets {
		plural := "s"
		if b.Count == 1 {
			plural = ""
		}
		fmt.Fprintf(w, "\n%s  %d log%s\n", b.ID, b.Count, plural)
		fmt.Fprintf(w, "  key             %s\n", b.Key)
		fmt.Fprintf(w, "  representative  %s\n", b.Representative)
		if b.Parts.SiteFrom != "" && b.Parts.SiteFrom != "none" {
			fmt.Fprintf(w, "  site from       %s\n", b.Parts.SiteFrom)
		}
		fmt.Fprintf(w, "  members\n")
		for i, m := range b.Members {
			if members > 0 && i == members {
				fmt.Fprintf(w, "    ... and %d more (--members 0 lists all)\n", len(b.Members)-members)
				break
			}
			fmt.Fprintf(w, "    %s\n", m)
		}
	}
	if len(rep.Suggestions) > 0 {
		fmt.Fprintf(w, "\n%d suggested merges (buckets are never merged automatically):\n", len(rep.Suggestions))
		for _, s := range rep.Suggestions {
			fmt.Fprintf(w, "\n%s + %s  similarity %.2f\n", s.A, s.B, s.Similarity)
			printExplanation(w, "  ", s.Explanation)
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "\nskipped %s: %s\n", s.Log, s.Error)
	}
	for _, u := range rep.Unmapped {
		fmt.Fprintf(w, "\nnot mapped through --binary %s: %s\n", u.Log, u.Error)
	}
}

func printExplanation(w io.Writer, indent string, e dedupe.Explanation) {
	if !e.SameKind {
		for _, n := range e.Notes {
			fmt.Fprintf(w, "%s%s\n", indent, n)
		}
		return
	}
	fmt.Fprintf(w, "%sframes %.2f x message %.2f\n", indent, e.Frames, e.Message)
	for _, m := range e.Matched {
		fmt.Fprintf(w, "%s  frame %-28s A#%d B#%d  weight %.2f\n", indent, m.Function, m.A, m.B, m.Weight)
	}
	if len(e.FramesA)+len(e.FramesB) > 0 {
		fmt.Fprintf(w, "%s  frames A: %s\n", indent, frameList(e.FramesA))
		fmt.Fprintf(w, "%s  frames B: %s\n", indent, frameList(e.FramesB))
	}
	if len(e.CommonMessage) > 0 {
		fmt.Fprintf(w, "%s  message in common: %s\n", indent, strings.Join(e.CommonMessage, " "))
	}
	if len(e.OnlyA)+len(e.OnlyB) > 0 {
		fmt.Fprintf(w, "%s  message only in A: %s\n", indent, strings.Join(e.OnlyA, " "))
		fmt.Fprintf(w, "%s  message only in B: %s\n", indent, strings.Join(e.OnlyB, " "))
	}
	for _, n := range e.Notes {
		fmt.Fprintf(w, "%s  note: %s\n", indent, n)
	}
}

// explainSide is one log of an --explain.
type explainSide struct {
	Log    string          `json:"log" yaml:"log"`
	Bucket dedupe.BucketID `json:"bucket" yaml:"bucket"`
	Key    string          `json:"key" yaml:"key"`
	Parts  dedupe.Key      `json:"parts" yaml:"parts"`
}

type explainReport struct {
	A           explainSide        `json:"a" yaml:"a"`
	B           explainSide        `json:"b" yaml:"b"`
	SameBucket  bool               `json:"same_bucket" yaml:"same_bucket"`
	Differences []dedupe.FieldDiff `json:"differences" yaml:"differences"`
	Similarity  dedupe.Explanation `json:"similarity" yaml:"similarity"`
	Threshold   float64            `json:"threshold" yaml:"threshold"`
	Suggested   bool               `json:"suggested" yaml:"suggested"`
}

func explainLogs(a *app, args []string, opt dedupe.Options, params dedupe.SimilarityParams, format string) error {
	if len(args) != 2 {
		return usagef("--explain takes two logs, got %d", len(args))
	}
	var crashes []dedupe.Crash
	var sides [2]explainSide
	n, err := eachLog(a, args, func(name string, r io.Reader) error {
		tr, err := parseLog(name, r)
		if err != nil {
			return err
		}
		if len(crashes) < 2 {
			c := dedupe.Crash{Name: name, Trace: tr, Options: opt}
			k := c.Key()
			sides[len(crashes)] = explainSide{Log: name, Bucket: k.ID(), Key: k.String(), Parts: k}
			crashes = append(crashes, c)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n != 2 {
		return usagef("--explain takes two log files, not directories")
	}
	if params.Threshold == 0 {
		params.Threshold = 0.7
	}
	rep := explainReport{A: sides[0], B: sides[1], SameBucket: sides[0].Bucket == sides[1].Bucket,
		Differences: sides[0].Parts.Diff(sides[1].Parts), Similarity: dedupe.Similarity(crashes[0], crashes[1], params),
		Threshold: params.Threshold}
	rep.Suggested = !rep.SameBucket && rep.Similarity.Similarity >= params.Threshold
	if rep.Differences == nil {
		rep.Differences = []dedupe.FieldDiff{}
	}
	if format != "text" {
		if err := writeStructured(a.stdout, format, rep); err != nil {
			return err
		}
	} else {
		printExplain(a.stdout, rep)
	}
	if !rep.SameBucket {
		return exitError{code: exitFindings}
	}
	return nil
}

func printExplain(w io.Writer, rep explainReport) {
	for _, s := range []struct {
		label string
		side  explainSide
	}{{"A", rep.A}, {"B", rep.B}} {
		fmt.Fprintf(w, "%s  %s\n   bucket %s\n   key    %s\n", s.label, s.side.Log, s.side.Bucket, s.side.Key)
		if s.side.Parts.SiteFrom != "" && s.side.Parts.SiteFrom != "none" {
			fmt.Fprintf(w, "   site from %s\n", s.side.Parts.SiteFrom)
		}
	}
	fmt.Fprintln(w)
	if rep.SameBucket {
		fmt.Fprintln(w, "same bucket: every key field is equal")
	} else {
		fmt.Fprintln(w, "different buckets: the keys differ in")
		for _, d := range rep.Differences {
			fmt.Fprintf(w, "  %-9s A: %s\n  %-9s B: %s\n", d.Field, orNone(d.A), "", orNone(d.B))
		}
	}
	fmt.Fprintf(w, "\nsimilarity %.2f (suggestion threshold %.2f)", rep.Similarity.Similarity, rep.Threshold)
	switch {
	case rep.SameBucket:
		fmt.Fprintln(w)
	case rep.Suggested:
		fmt.Fprintln(w, ": suggested as one bug")
	default:
		fmt.Fprintln(w, ": not suggested")
	}
	printExplanation(w, "  ", rep.Similarity)
}

// frameList prints frames top first, runs of one function (a recursion)
// as "f (x32)".
func frameList(frames []string) string {
	if len(frames) == 0 {
		return "(no stack)"
	}
	var parts []string
	for i := 0; i < len(frames); {
		j := i + 1
		for j < len(frames) && frames[j] == frames[i] {
			j++
		}
		if j-i > 1 {
			parts = append(parts, fmt.Sprintf("%s (x%d)", frames[i], j-i))
		} else {
			parts = append(parts, frames[i])
		}
		i = j
	}
	return strings.Join(parts, " < ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
