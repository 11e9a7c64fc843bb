package rustdemangle

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ianlancetaylor/demangle"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
)

// The v0 demangler never panics, stays within its output bound and only
// accepts symbols it can print.
func FuzzDemangleV0(f *testing.F) {
	for _, s := range []string{
		"_RNvNtCsi4IsKQVxMg0_3std7process5abort",
		"_RNvMNtCsbxndacfFXcl_7chipset7batteryNtB2_7Battery6handle",
		"_RNCNvCslm8E4AONM0q_13libfuzzer_sys20LLVMFuzzerInitialize0B3_",
		"_RNvNCNKNvNtNtCsi4IsKQVxMg0_3std2io5stdio14OUTPUT_CAPTURE0023___RUST_STD_INTERNAL_VAL",
		"_RINvNtNtCsi4IsKQVxMg0_3std3sys9backtrace26___rust_end_short_backtraceNCNvNtB6_9panicking13panic_handler0zEB6_",
		"_RINvNvNtCsi4IsKQVxMg0_3std9panicking12catch_unwind7do_callNCNvCslm8E4AONM0q_13libfuzzer_sys22LLVMFuzzerTestOneInput0lEBY_",
		"_RNvXs5_NtCsd4VYFwevHkG_4core3fmtRDG0_NtB7_5Debug4fmtEL_NtB7_5Debug3fmt",
		"_RINvCs1234_3foo3barKj8_Kb1_Kc41_KRe616263_KAj1_j2_EKTm3_bn1_EKVNtB2_3BarS1xj1_ENKpE",
		"_RNvCsgStHSCytQ6I_7mycrate4u30_3fooba_4bar",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := V0(s)
		if err != nil {
			return
		}
		if len(d) > v0MaxOutput {
			t.Fatalf("output of %d bytes", len(d))
		}
		if !utf8.ValidString(d) {
			t.Fatalf("invalid UTF-8 output %q", d)
		}
	})
}

// llvmCxxfilt is the reference demangler (rustc's LLVM's, or the closest
// installed).
func llvmCxxfilt(t *testing.T) string {
	for _, p := range []string{"/usr/lib/llvm-22/bin/llvm-cxxfilt", "/usr/lib/llvm-19/bin/llvm-cxxfilt", "/usr/lib/llvm-16/bin/llvm-cxxfilt"} {
		if _, err := procrun.Run(context.Background(), procrun.Spec{Path: p, Args: []string{"--version"}, Timeout: time.Minute, Leaf: true}); err == nil {
			return p
		}
	}
	t.Skip("no llvm-cxxfilt installed (scripts/setup installs it)")
	return ""
}

var cloneSuffix = regexp.MustCompile(` \(\.[0-9A-Za-z_.]+\)$`)

// rust demangles one Rust symbol with this package, hash stripped and
// escapes decoded as llvm-cxxfilt's output is compared.
func rust(s string) (string, bool) {
	if strings.HasPrefix(s, "_R") {
		d, err := V0(s)
		return d, err == nil
	}
	d, ok := Legacy(s)
	return StripHash(DecodeEscapes(d)), ok
}

// Every Rust symbol of the fixture's release (legacy) and ASan (v0)
// builds demangles as llvm-cxxfilt prints it; github.com/ianlancetaylor/
// demangle does not (the package comment says where it goes wrong), and
// this test keeps the count of how often.
func TestMatchesLLVMCxxfilt(t *testing.T) {
	var syms []string
	for _, s := range fixture.MangledSymbols(t) {
		if _, ok := rust(s); ok {
			syms = append(syms, s)
		}
	}
	if len(syms) < 1000 {
		t.Fatalf("only %d Rust symbols", len(syms))
	}
	res, err := procrun.Run(context.Background(), procrun.Spec{
		Path: llvmCxxfilt(t), Stdin: []byte(strings.Join(syms, "\n") + "\n"), Timeout: time.Minute, Leaf: true,
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("llvm-cxxfilt: %v %s", err, res.Stderr)
	}
	ref := strings.Split(strings.TrimRight(string(res.Stdout), "\n"), "\n")
	if len(ref) != len(syms) {
		t.Fatalf("llvm-cxxfilt printed %d lines for %d symbols", len(ref), len(syms))
	}
	legacy, v0, theirLegacy, theirV0 := 0, 0, 0, 0
	for i, s := range syms {
		// llvm-cxxfilt shows a clone suffix (".0", ".llvm.123") as " (.0)":
		// the name is what is compared.
		want := StripHash(DecodeEscapes(cloneSuffix.ReplaceAllString(ref[i], "")))
		ours, _ := rust(s)
		if ours != want {
			t.Errorf("%s:\n  ours         %s\n  llvm-cxxfilt %s", s, ours, want)
		}
		theirs, err := demangle.ToString(s, demangle.LLVMStyle)
		wrong := err != nil || StripHash(DecodeEscapes(theirs)) != want
		if strings.HasPrefix(s, "_R") {
			v0++
			if wrong {
				theirV0++
			}
		} else {
			legacy++
			if wrong {
				theirLegacy++
			}
		}
	}
	t.Logf("%d legacy and %d v0 symbols agree with llvm-cxxfilt; ianlancetaylor/demangle gets %d legacy and %d v0 wrong", legacy, v0, theirLegacy, theirV0)
	if theirLegacy == 0 || theirV0 == 0 {
		t.Errorf("ianlancetaylor/demangle now gets every symbol right (%d legacy, %d v0): the package comment's reason is gone", legacy, v0)
	}
}
