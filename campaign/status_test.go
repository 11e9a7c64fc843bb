package campaign

import (
	"strings"
	"testing"
)

func TestParseStatus(t *testing.T) {
	cases := []struct {
		line string
		want Status
		ok   bool
	}{
		{"#311169: cov: 153 ft: 172 corp: 20 exec/s: 0 oom/timeout/crash: 0/14/1349 time: 40s job: 1350 dft_time: 0",
			Status{Execs: 311169, Cov: 153, Features: 172, Corpus: 20, OOMs: 0, Timeouts: 14, Crashes: 1349, Seconds: 40, Jobs: 1350, Fork: true}, true},
		{"#1829049: cov: 62 ft: 63 corp: 1 exec/s: 364294 oom/timeout/crash: 0/0/0 time: 5s job: 3 dft_time: 0",
			Status{Execs: 1829049, Cov: 62, Features: 63, Corpus: 1, ExecsSec: 364294, Seconds: 5, Jobs: 3, Fork: true}, true},
		{"#22\tNEW    cov: 10 ft: 11 corp: 2/4b lim: 4 exec/s: 0 rss: 27Mb L: 3/3 MS: 5 InsertByte-ChangeBinInt-",
			Status{Execs: 22, Event: "NEW", Cov: 10, Features: 11, Corpus: 2}, true},
		{"#1048576\tpulse  cov: 62 ft: 63 corp: 1/1b lim: 1 exec/s: 524288 rss: 27Mb",
			Status{Execs: 1048576, Event: "pulse", Cov: 62, Features: 63, Corpus: 1, ExecsSec: 524288}, true},
		{"#2\tINITED exec/s: 0 rss: 26Mb", Status{Execs: 2, Event: "INITED"}, true},
		{"INFO: -fork=2: fuzzing in separate process(s)", Status{}, false},
		{"==14535== ERROR: libFuzzer: deadly signal", Status{}, false},
		{"#99999999999999999999: cov: 1 ft: 1 corp: 1 exec/s: 0 oom/timeout/crash: 0/0/0 time: 1s job: 1", Status{}, false},
		{"thread 'main' panicked at #3: cov: 1", Status{}, false},
	}
	for _, c := range cases {
		got, ok := ParseStatus(c.line)
		if ok != c.ok || got != c.want {
			t.Errorf("ParseStatus(%q) = %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

func TestParseEdges(t *testing.T) {
	out := "INFO: Seed: 1\nINFO: Loaded 1 modules   (81 inline 8-bit counters): 81 [0x558e73053ff0, 0x558e73054041), \nINFO: Loaded 1 PC tables (81 PCs): 81 [0x1,0x2), \n"
	if n, ok := ParseEdges(out); !ok || n != 81 {
		t.Errorf("ParseEdges = %d, %v; want 81", n, ok)
	}
	if _, ok := ParseEdges("INFO: Seed: 1\n"); ok {
		t.Error("edges found in output without a Loaded line")
	}
}

// Status lines come from a fuzz target's process, which also prints
// whatever the code under test prints: any text must parse without a panic
// into either nothing or bounded figures.
func FuzzParseStatus(f *testing.F) {
	f.Add("#311169: cov: 153 ft: 172 corp: 20 exec/s: 0 oom/timeout/crash: 0/0/1349 time: 40s job: 1350 dft_time: 0")
	f.Add("#635\tREDUCE cov: 13 ft: 14 corp: 4/12b lim: 8 exec/s: 0 rss: 27Mb L: 4/4 MS: 1 EraseBytes-")
	f.Add("INFO: Loaded 1 modules   (81 inline 8-bit counters): 81 [0x1, 0x2), ")
	f.Fuzz(func(t *testing.T, line string) {
		s, ok := ParseStatus(line)
		if !ok {
			if s != (Status{}) {
				t.Fatalf("not a status line, yet figures: %+v", s)
			}
		} else {
			for _, v := range []int64{s.Execs, int64(s.Cov), int64(s.Features), int64(s.Corpus), s.ExecsSec, int64(s.OOMs), int64(s.Timeouts), int64(s.Crashes), s.Seconds, int64(s.Jobs)} {
				if v < 0 || v > maxCounter {
					t.Fatalf("figure %d out of range in %+v", v, s)
				}
			}
		}
		if n, ok := ParseEdges(line); ok && (n < 0 || n > maxCounter*int(strings.Count(line, "\n")+1)) {
			t.Fatalf("edges %d out of range", n)
		}
	})
}
