package triage

import (
	"fmt"
	"strings"

	"github.com/fuzztriage/triage/store"
)

// bucketQuestions are the questions about a bucket's representative that
// its record answers (store.Answer), each with how its answer is read from
// the records: which run gave it. A run can answer several (a timeout's run
// under lldb gives its verdict and its stack; a finished dev session gives
// the dev verdict and the dev findings).
var bucketQuestions = []struct {
	Question string
	Build    store.Profile
	Answer   func(b *store.BucketRecord, rep *store.ArtifactRecord) string
}{
	{"reproduces", store.Release, reproducedBy(store.Release)},
	{"stack", store.Release, stackFrom},
	{"minimized input", store.Release, minimizedBy},
	{"lldb findings", store.Release, foundBy(store.Release)},
	{"reproduces", store.Dev, reproducedBy(store.Dev)},
	{"lldb findings", store.Dev, foundBy(store.Dev)},
}

// bucketAnswers lists the answered questions of a bucket.
func bucketAnswers(b *store.BucketRecord, rep *store.ArtifactRecord) []store.Answer {
	if rep == nil || rep.Malformed() {
		return nil
	}
	var out []store.Answer
	for _, q := range bucketQuestions {
		if run := q.Answer(b, rep); run != "" {
			out = append(out, store.Answer{Question: q.Question, Build: q.Build, Run: run})
		}
	}
	return out
}

// reproducedBy names the runs that gave a build's verdict.
func reproducedBy(prof store.Profile) func(*store.BucketRecord, *store.ArtifactRecord) string {
	return func(_ *store.BucketRecord, rep *store.ArtifactRecord) string {
		r := rep.Reproductions[prof]
		if r == nil {
			return ""
		}
		if strings.HasPrefix(r.ConfirmedBy, "one run: the lldb session") {
			return r.ConfirmedBy
		}
		under := 0
		for _, t := range r.Detail {
			if t.LLDB {
				under++
			}
		}
		runs := plural(r.Tries, "run")
		if under > 0 {
			runs += fmt.Sprintf(" (%d under lldb)", under)
		}
		s := fmt.Sprintf("%s of %s: %d crashed the same way", runs, rep.Path, r.Crashes)
		if r.ConfirmedBy != "" {
			s += "; confirmed by " + r.ConfirmedBy
		}
		return s
	}
}

// stackFrom names the run whose stack the key was made of.
func stackFrom(_ *store.BucketRecord, rep *store.ArtifactRecord) string {
	r := rep.Reproductions[store.Release]
	if r == nil {
		return ""
	}
	switch {
	case r.StackFrom == "lldb":
		for i, t := range r.Detail {
			if t.LLDB {
				return fmt.Sprintf("run %d of the release reproduction, under lldb (the same run as its verdict)", i+1)
			}
		}
		return "a run under lldb"
	case r.StackFrom != "" && r.StackFrom != "log":
		return r.StackFrom
	case len(rep.Frames) > 0:
		return "the crash log of run 1 of the release reproduction"
	}
	return ""
}

// minimizedBy names the minimization that gave the debugged input.
func minimizedBy(b *store.BucketRecord, rep *store.ArtifactRecord) string {
	m := b.Minimized
	if m == nil || m.From != rep.SHA1 {
		return ""
	}
	return fmt.Sprintf("%s of -minimize_crash, every candidate re-run and keyed (%d kept, %d rejected): %d to %d bytes",
		plural(m.Rounds, "round"), m.Accepted, m.Rejected, m.FromSize, m.Size)
}

// foundBy names the lldb session of a build.
func foundBy(prof store.Profile) func(*store.BucketRecord, *store.ArtifactRecord) string {
	return func(b *store.BucketRecord, rep *store.ArtifactRecord) string {
		f := b.LLDB[prof]
		if f == nil || f.Error != "" {
			return ""
		}
		s := "lldb session " + f.Transcript
		if f.Exit != nil {
			s += fmt.Sprintf(" (one run: it also gave the %s verdict, exit %d)", prof, *f.Exit)
		}
		if f.Input != rep.SHA1 {
			s += ", on the minimized input"
		}
		return s
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
