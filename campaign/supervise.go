package campaign

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/store"
)

// Job is one fuzz target's share of a campaign.
type Job struct {
	Name   string
	Binary string
	// Flags are libFuzzer flags (the target's options, a dictionary, the
	// campaign's extra flags); they follow the defaults (DefaultFlags), so
	// they may override them, and precede what the supervisor must own
	// (-fork, -max_total_time, -artifact_prefix).
	Flags []string
	// Corpus and Artifacts are directories (Artifacts is libFuzzer's
	// -artifact_prefix).
	Corpus    string
	Artifacts string
	Cores     int
	// Env is extra environment ("K=V"); Dir the working directory.
	Env []string
	Dir string
	// Log receives the fuzzer's whole output (errors ignored).
	Log io.Writer
	// TmpRoot holds each fuzzer process's TMPDIR (fork mode keeps its
	// jobs' corpora and logs there), removed when the process ends, even
	// one that was killed. Default: the system's.
	TmpRoot string
}

// DefaultFlags are the fuzzing guide's campaign flags: keep fuzzing past
// crashes, timeouts and out-of-memory inputs (their files are written
// and triage takes them).
var DefaultFlags = []string{"-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1", "-print_final_stats=1"}

// Command is the argv of the job's fuzzer with left of the campaign to run.
func (j *Job) Command(left time.Duration) []string {
	argv := append([]string{j.Binary}, DefaultFlags...)
	argv = append(argv, j.Flags...)
	return append(argv, "-fork="+strconv.Itoa(max(j.Cores, 1)),
		"-max_total_time="+strconv.Itoa(int(math.Ceil(left.Seconds()))),
		"-artifact_prefix="+j.Artifacts+"/", j.Corpus)
}

// Supervision tunes how early ends are handled.
type Supervision struct {
	// MinLeft: an early end with less than this left is the end.
	MinLeft time.Duration
	// Backoff is the first wait before a restart; it doubles up to
	// MaxBackoff while the fuzzer keeps ending within FastFail of its
	// start, and GiveUp such ends in a row stop the target.
	Backoff    time.Duration
	MaxBackoff time.Duration
	FastFail   time.Duration
	GiveUp     int
	// Overrun is how long past its -max_total_time a fuzzer may take to
	// wrap up (its jobs finish) before it is killed.
	Overrun time.Duration
}

// DefaultSupervision suits campaigns of minutes to hours.
var DefaultSupervision = Supervision{MinLeft: 2 * time.Second, Backoff: time.Second, MaxBackoff: time.Minute,
	FastFail: 10 * time.Second, GiveUp: 5, Overrun: time.Minute}

// Progress is what a target's view shows after each status line.
type Progress struct {
	Target string
	// Execs over all processes; ExecsSec over the last status interval.
	Execs    int64
	ExecsSec float64
	Cov      int
	Features int
	Corpus   int
	Reported store.FuzzerCounts
	Restarts int
	Left     time.Duration
	// Ended says the target is done (Error says why it stopped early).
	Ended bool
	Error string
}

// supervisor runs one job's fuzzer until the deadline, restarting it.
type supervisor struct {
	job      *Job
	sup      Supervision
	start    time.Time // the campaign's
	deadline time.Time
	report   func(Progress)

	mu       sync.Mutex
	out      store.CampaignTarget
	doneEx   int64              // executions of finished processes
	doneRep  store.FuzzerCounts // their counters
	doneJobs int
	cur      Status
	haveCur  bool
	prevAt   time.Time
	prevEx   int64
	rate     float64
	runFor   time.Duration
	restarts int
}

func (s *supervisor) run(ctx context.Context) {
	backoff := s.sup.Backoff
	fast := 0
	for {
		left := time.Until(s.deadline)
		if left < s.sup.MinLeft || ctx.Err() != nil {
			break
		}
		argv := s.job.Command(left)
		if s.out.Command == nil {
			s.out.Command = argv
		}
		lines := &lineSplitter{fn: s.line}
		var tee io.Writer = lines
		if s.job.Log != nil {
			tee = io.MultiWriter(ignoreErrors{s.job.Log}, lines)
		}
		tmp, err := os.MkdirTemp(s.job.TmpRoot, "triage-fork-")
		if err != nil {
			s.fail(fmt.Sprintf("cannot make the fuzzer's temporary directory: %v", err))
			return
		}
		began := time.Now()
		res, err := procrun.Run(ctx, procrun.Spec{Path: argv[0], Args: argv[1:], Dir: s.job.Dir, Env: append(append([]string{}, s.job.Env...), "TMPDIR="+tmp),
			Unset: []string{"RUST_BACKTRACE"}, Timeout: left + s.sup.Overrun, KillGrace: 5 * time.Second, Tee: tee,
			OutputCap: 64 << 10})
		lines.flush()
		os.RemoveAll(tmp)
		ran := time.Since(began)
		s.endProcess(ran)
		if err != nil {
			s.fail(fmt.Sprintf("cannot run the fuzzer: %v", err))
			return
		}
		if ctx.Err() != nil || time.Until(s.deadline) < s.sup.MinLeft {
			break
		}
		// Ended early: record why, wait, start again for the time left.
		why := endReason(res)
		if ran < s.sup.FastFail {
			fast++
		} else {
			fast, backoff = 0, s.sup.Backoff
		}
		if fast >= s.sup.GiveUp {
			s.fail(fmt.Sprintf("the fuzzer ended %d times in a row within %s of its start; last: %s", fast, s.sup.FastFail, why))
			return
		}
		s.mu.Lock()
		s.out.Restarts = append(s.out.Restarts, store.Restart{At: time.Now().UTC(), Reason: why, Backoff: backoff.String()})
		s.restarts++
		s.mu.Unlock()
		s.emit(false)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.sup.MaxBackoff)
	}
	s.emit(true)
}

func (s *supervisor) fail(why string) {
	s.mu.Lock()
	s.out.Error = why
	s.mu.Unlock()
	s.emit(true)
}

// endReason says how a fuzzer that should still be running ended.
func endReason(res *procrun.Result) string {
	why := fmt.Sprintf("exit status %d", res.ExitCode)
	switch {
	case res.TimedOut:
		why = "did not end after its -max_total_time; killed"
	case res.Signal != 0:
		why = "killed by signal " + res.Signal.String()
	}
	if last := lastLine(res.Stderr); last != "" {
		why += ": " + last
	}
	return why
}

func lastLine(b []byte) string {
	b = bytes.TrimRight(b, "\n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}

// line takes one output line of the current process.
func (s *supervisor) line(l []byte) {
	st, ok := ParseStatus(string(l))
	if !ok {
		return
	}
	now := time.Now()
	s.mu.Lock()
	if !s.haveCur && s.out.Samples == nil {
		s.out.CovStart, s.out.FeaturesStart = st.Cov, st.Features
	}
	total := s.doneEx + st.Execs
	if !s.prevAt.IsZero() && now.Sub(s.prevAt) > 0 && total >= s.prevEx {
		// Fork mode's own exec/s reads 0 while jobs crash: the rate is the
		// executions' growth over time.
		s.rate = float64(total-s.prevEx) / now.Sub(s.prevAt).Seconds()
	}
	s.prevAt, s.prevEx = now, total
	s.cur, s.haveCur = st, true
	s.out.CovEnd, s.out.FeaturesEnd = max(s.out.CovEnd, st.Cov), max(s.out.FeaturesEnd, st.Features)
	s.out.Samples = append(s.out.Samples, store.CampaignSample{T: now.Sub(s.start).Seconds(), Execs: total, Cov: st.Cov, Ft: st.Features, Corpus: st.Corpus})
	if len(s.out.Samples) > 2*maxSamples {
		s.out.Samples = thin(s.out.Samples, maxSamples)
	}
	s.mu.Unlock()
	s.emit(false)
}

// maxSamples bounds a target's coverage-over-time samples in the record.
const maxSamples = 300

// thin keeps n samples evenly spread, the first and last included.
func thin(samples []store.CampaignSample, n int) []store.CampaignSample {
	if len(samples) <= n || n < 2 {
		return samples
	}
	out := make([]store.CampaignSample, 0, n)
	for i := range n {
		out = append(out, samples[i*(len(samples)-1)/(n-1)])
	}
	return out
}

// endProcess folds the finished process's counters into the totals.
func (s *supervisor) endProcess(ran time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runFor += ran
	if s.haveCur {
		s.doneEx += s.cur.Execs
		s.doneRep.OOMs += s.cur.OOMs
		s.doneRep.Timeouts += s.cur.Timeouts
		s.doneRep.Crashes += s.cur.Crashes
		s.doneJobs += s.cur.Jobs
	}
	s.cur, s.haveCur = Status{}, false
}

func (s *supervisor) snapshot() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := Progress{Target: s.job.Name, Execs: s.doneEx + s.cur.Execs, ExecsSec: s.rate, Cov: s.out.CovEnd, Features: s.out.FeaturesEnd,
		Corpus: s.cur.Corpus, Restarts: s.restarts, Left: max(0, time.Until(s.deadline)).Round(time.Second), Error: s.out.Error}
	p.Reported = store.FuzzerCounts{OOMs: s.doneRep.OOMs + s.cur.OOMs, Timeouts: s.doneRep.Timeouts + s.cur.Timeouts, Crashes: s.doneRep.Crashes + s.cur.Crashes}
	return p
}

func (s *supervisor) emit(ended bool) {
	if s.report == nil {
		return
	}
	p := s.snapshot()
	p.Ended = ended
	s.report(p)
}

// result is the target's figures once it has ended.
func (s *supervisor) result() store.CampaignTarget {
	p := s.snapshot()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.out
	out.Name, out.Binary, out.Cores = s.job.Name, s.job.Binary, s.job.Cores
	out.WallMS = s.runFor.Milliseconds()
	out.Execs, out.Reported = p.Execs, p.Reported
	out.Jobs = s.doneJobs + s.cur.Jobs
	if s.runFor > 0 {
		out.ExecsPerSec = math.Round(float64(p.Execs)/s.runFor.Seconds()*10) / 10
	}
	out.Samples = thin(out.Samples, maxSamples)
	return out
}

// lineSplitter hands complete lines to fn; a line longer than maxLine is
// cut (libFuzzer's lines are short; a target's own output may not be).
type lineSplitter struct {
	buf []byte
	fn  func([]byte)
}

const maxLine = 64 << 10

func (l *lineSplitter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLine - len(l.buf)
			l.buf = append(l.buf, p[:min(len(p), max(room, 0))]...)
			break
		}
		l.buf = append(l.buf, p[:min(i, max(maxLine-len(l.buf), 0))]...)
		l.fn(l.buf)
		l.buf = l.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (l *lineSplitter) flush() {
	if len(l.buf) > 0 {
		l.fn(l.buf)
		l.buf = l.buf[:0]
	}
}

// ignoreErrors keeps a failing log from stopping the output's readers.
type ignoreErrors struct{ w io.Writer }

func (i ignoreErrors) Write(p []byte) (int, error) {
	_, _ = i.w.Write(p)
	return len(p), nil
}
