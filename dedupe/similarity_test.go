package dedupe

import (
	"strings"
	"testing"

	"github.com/fuzztriage/triage/symbolize"
)

func TestAlignFrames(t *testing.T) {
	p := SimilarityParams{}.withDefaults()
	same := strings.Fields("take_bytes decode_bytes decode_message __libfuzzer_sys_run")
	if s, m := alignFrames(same, same, p); s != 1 || len(m) != 4 {
		t.Errorf("identical stacks: %v %v", s, m)
	}
	// The two callers of one bug: everything but the caller matches.
	callers, _ := alignFrames(same, strings.Fields("take_bytes decode_string decode_message __libfuzzer_sys_run"), p)
	// Two bugs under one caller: only the callers match.
	siblings, _ := alignFrames(strings.Fields("charge_level handle __libfuzzer_sys_run"), strings.Fields("report_status handle __libfuzzer_sys_run"), p)
	if !(callers > siblings) {
		t.Errorf("a shared top frame must count more than shared callers: %v vs %v", callers, siblings)
	}
	if s, _ := alignFrames([]string{"a"}, []string{"b"}, p); s != 0 {
		t.Errorf("disjoint stacks: %v", s)
	}
}

func TestMessageSimilarity(t *testing.T) {
	s, common, onlyA, onlyB := messageSimilarity("unknown command \"<S>\" at offset <N>", "unknown command <N> at offset <N>")
	if s < 0.8 || s >= 1 || strings.Join(common, " ") != "unknown command at offset <N>" ||
		strings.Join(onlyA, " ") != `"<S>"` || strings.Join(onlyB, " ") != "<N>" {
		t.Errorf("got %v %q %q %q", s, common, onlyA, onlyB)
	}
	if s, _, _, _ := messageSimilarity("attempt to divide by zero", "index out of bounds: the len is <N> but the index is <N>"); s != 0 {
		t.Errorf("unrelated messages: %v", s)
	}
	if s, _, _, _ := messageSimilarity("", ""); s != 1 {
		t.Errorf("two empty messages: %v", s)
	}
}

func crash(name string, tr *symbolize.Trace, target string) Crash {
	return Crash{Name: name, Trace: tr, Options: Options{Target: target}}
}

// Cluster suggests merges for near-duplicates and explains them, and keeps
// the fixture's distinct-but-alike bugs apart.
func TestClusterSuggestions(t *testing.T) {
	cmos := func(msg string, line int) *symbolize.Trace {
		return panicTrace(msg, "vm/devices/chipset/src/cmos_rtc.rs", line,
			app("write_register", "./vm/devices/chipset/src/cmos_rtc.rs", line),
			app("io_write", "./vm/devices/chipset/src/cmos_rtc.rs", 42),
			fuzzTarget("__libfuzzer_sys_run", "./vm/devices/chipset/fuzz/fuzz_targets/fuzz_chipset_cmos_rtc.rs", 18))
	}
	battery := func(fn string, line int) *symbolize.Trace {
		return panicTrace("called `Option::unwrap()` on a `None` value", "vm/devices/chipset/src/battery.rs", line,
			app(fn, "./vm/devices/chipset/src/battery.rs", line),
			app("handle", "./vm/devices/chipset/src/battery.rs", 75),
			fuzzTarget("__libfuzzer_sys_run", "./vm/devices/chipset/fuzz/fuzz_targets/fuzz_chipset_battery.rs", 11))
	}
	// One bug whose message quotes input in two shapes the templates do not
	// unify (a string or a number): split exactly, suggested for merging.
	unknownCmd := func(arg string) *symbolize.Trace {
		return panicTrace("unknown command "+arg+" at offset 3", "vm/devices/chipset/src/cmos_rtc.rs", 90,
			app("parse_command", "./vm/devices/chipset/src/cmos_rtc.rs", 90),
			app("io_write", "./vm/devices/chipset/src/cmos_rtc.rs", 44))
	}
	timeoutPlain := &symbolize.Trace{Kind: symbolize.KindTimeout}
	timeoutASan := &symbolize.Trace{Kind: symbolize.KindTimeout, Frames: []symbolize.Frame{
		app("skip_padding", "/w/support/wire_proto/src/lib.rs", 112), app("decode_message", "/w/support/wire_proto/src/lib.rs", 48)}}

	crashes := []Crash{
		crash("oob", cmos("index out of bounds: the len is 64 but the index is 99", 72), "fuzz_chipset_cmos_rtc"),
		crash("div", cmos("attempt to divide by zero", 66), "fuzz_chipset_cmos_rtc"),
		crash("pack", battery("charge_level", 92), "fuzz_chipset_battery"),
		crash("history", battery("report_status", 101), "fuzz_chipset_battery"),
		crash("cmd-string", unknownCmd(`"ab"`), "fuzz_chipset_cmos_rtc"),
		crash("cmd-number", unknownCmd("17"), "fuzz_chipset_cmos_rtc"),
		crash("timeout-plain", timeoutPlain, "fuzz_wire_decode"),
		crash("timeout-asan", timeoutASan, "fuzz_wire_decode"),
		crash("timeout-other-target", &symbolize.Trace{Kind: symbolize.KindTimeout}, "fuzz_ide"),
	}
	buckets := Group(crashes)
	if len(buckets) != len(crashes) {
		t.Fatalf("%d buckets for %d distinct keys", len(buckets), len(crashes))
	}
	byName := map[string]BucketID{}
	for _, b := range buckets {
		byName[b.Representative] = b.ID
	}
	got := map[[2]BucketID]Suggestion{}
	for _, s := range Cluster(buckets, SimilarityParams{}) {
		got[[2]BucketID{s.A, s.B}] = s
		got[[2]BucketID{s.B, s.A}] = s
	}
	want := [][2]string{{"cmd-string", "cmd-number"}, {"timeout-plain", "timeout-asan"}}
	for _, w := range want {
		s, ok := got[[2]BucketID{byName[w[0]], byName[w[1]]}]
		if !ok {
			t.Errorf("no merge suggested for %s and %s", w[0], w[1])
			continue
		}
		if s.Similarity < 0.7 || len(s.Explanation.Notes)+len(s.Explanation.Matched) == 0 {
			t.Errorf("suggestion %s/%s without an explanation: %+v", w[0], w[1], s)
		}
	}
	if s := got[[2]BucketID{byName["cmd-string"], byName["cmd-number"]}]; len(s.Explanation.Matched) != 2 ||
		strings.Join(s.Explanation.OnlyA, " ")+"|"+strings.Join(s.Explanation.OnlyB, " ") != `"<S>"|<N>` &&
			strings.Join(s.Explanation.OnlyA, " ")+"|"+strings.Join(s.Explanation.OnlyB, " ") != `<N>|"<S>"` {
		t.Errorf("cmd explanation: %+v", s.Explanation)
	}
	if n := len(got) / 2; n != len(want) {
		for _, s := range Cluster(buckets, SimilarityParams{}) {
			t.Logf("suggested %s %s %.3f %+v", s.A, s.B, s.Similarity, s.Explanation)
		}
		t.Errorf("%d suggestions, want %d (distinct bugs must stay apart)", n, len(want))
	}
}
