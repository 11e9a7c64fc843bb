package campaign

import (
	"regexp"
	"strconv"
	"strings"
)

// Status is one libFuzzer status line. Fork mode's parent prints
//
//	#311169: cov: 153 ft: 172 corp: 20 exec/s: 0 oom/timeout/crash: 0/0/1349 time: 40s job: 1350 dft_time: 0
//
// once per finished job; a single process prints
//
//	#635	REDUCE cov: 13 ft: 14 corp: 4/12b lim: 8 exec/s: 0 rss: 27Mb L: 4/4 MS: 1 EraseBytes-
//
// Fields a line does not have are zero.
type Status struct {
	// Execs is the line's #N: executions so far of this process (fork
	// mode: of all its jobs).
	Execs int64
	// Event is the single-process event (INITED, NEW, REDUCE, pulse,
	// DONE, RELOAD); empty in fork mode.
	Event    string
	Cov      int
	Features int
	Corpus   int
	ExecsSec int64
	// Fork mode only: the oom/timeout/crash counters, the seconds since
	// the parent started and the jobs started.
	OOMs, Timeouts, Crashes int
	Seconds                 int64
	Jobs                    int
	Fork                    bool
}

var (
	forkLineRE   = regexp.MustCompile(`^#(\d+): cov: (\d+) ft: (\d+) corp: (\d+) exec/s: (\d+) oom/timeout/crash: (\d+)/(\d+)/(\d+) time: (\d+)s job: (\d+)`)
	singleLineRE = regexp.MustCompile(`^#(\d+)\t(INITED|NEW|REDUCE|pulse|DONE|RELOAD)\s+(.*)$`)
	fieldRE      = regexp.MustCompile(`(cov|ft|corp|exec/s): (\d+)`)
	loadedRE     = regexp.MustCompile(`^INFO: Loaded (\d+) modules\s+\((\d+) inline 8-bit counters\)`)
)

// ParseStatus reads one line of libFuzzer's output; ok is false for any
// other line. Numbers too large for their field make the line not a
// status line rather than wrap.
func ParseStatus(line string) (s Status, ok bool) {
	line = strings.TrimRight(line, "\r\n")
	if m := forkLineRE.FindStringSubmatch(line); m != nil {
		n := make([]int64, len(m))
		for i := 1; i < len(m); i++ {
			v, err := strconv.ParseInt(m[i], 10, 64)
			if err != nil || v > maxCounter {
				return Status{}, false
			}
			n[i] = v
		}
		return Status{Execs: n[1], Cov: int(n[2]), Features: int(n[3]), Corpus: int(n[4]), ExecsSec: n[5],
			OOMs: int(n[6]), Timeouts: int(n[7]), Crashes: int(n[8]), Seconds: n[9], Jobs: int(n[10]), Fork: true}, true
	}
	m := singleLineRE.FindStringSubmatch(line)
	if m == nil {
		return Status{}, false
	}
	execs, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || execs > maxCounter {
		return Status{}, false
	}
	s = Status{Execs: execs, Event: m[2]}
	for _, f := range fieldRE.FindAllStringSubmatch(m[3], -1) {
		v, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || v > maxCounter {
			return Status{}, false
		}
		switch f[1] {
		case "cov":
			s.Cov = int(v)
		case "ft":
			s.Features = int(v)
		case "corp":
			s.Corpus = int(v)
		case "exec/s":
			s.ExecsSec = v
		}
	}
	return s, true
}

// maxCounter bounds every parsed number (2^40: a trillion executions),
// so sums over a campaign cannot overflow.
const maxCounter = 1 << 40

// ParseEdges reads libFuzzer's start-up line
//
//	INFO: Loaded 1 modules   (81 inline 8-bit counters): 81 [0x..., 0x...),
//
// and returns the instrumented edges (the counters) it reports.
func ParseEdges(output string) (edges int, ok bool) {
	total := 0
	for _, line := range strings.Split(output, "\n") {
		m := loadedRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		v, err := strconv.Atoi(m[2])
		if err != nil || v > maxCounter {
			continue
		}
		total += v
		ok = true
	}
	return total, ok
}
