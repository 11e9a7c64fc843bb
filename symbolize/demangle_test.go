package symbolize

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/rustdemangle"
)

func TestDemangle(t *testing.T) {
	tests := []struct{ in, want string }{
		// Rust legacy, v0 and C++ mangled names.
		{"_ZN10wire_proto14decode_message17h0123456789abcdefE", "wire_proto::decode_message"},
		{"_ZN10wire_proto14decode_message17h0123456789abcdefE.llvm.1234", "wire_proto::decode_message"},
		{"_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure$u7d$$u7d$$GT$17h0123456789abcdefE",
			"core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>"},
		{"_RNvNtCsi4IsKQVxMg0_3std7process5abort", "std::process::abort"},
		{"_RNvMNtCsbxndacfFXcl_7chipset7batteryNtB2_7Battery6handle", "<chipset::battery::Battery>::handle"},
		{"_RNCNvCslm8E4AONM0q_13libfuzzer_sys20LLVMFuzzerInitialize0B3_", "libfuzzer_sys::LLVMFuzzerInitialize::{closure#0}"},
		{"_ZN6fuzzer6Fuzzer15ExecuteCallbackEPKhm", "fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long)"},
		{"_ZN12_GLOBAL__N_117sha1_addUncountedEPNS_7sha1nfoEj", "(anonymous namespace)::sha1_addUncounted((anonymous namespace)::sha1nfo*, unsigned int)"},
		// lldb's half-demangled legacy names.
		{"_$LT$alloc..boxed..Box$LT$F$C$A$GT$$u20$as$u20$core..ops..function..Fn$LT$Args$GT$$GT$::call::hf9e6b35af4ca60b9",
			"<alloc::boxed::Box<F,A> as core::ops::function::Fn<Args>>::call"},
		{"core::ptr::drop_in_place$LT$ide..IdeDevice$GT$::h1111222233334444", "core::ptr::drop_in_place<ide::IdeDevice>"},
		{"libfuzzer_sys::LLVMFuzzerInitialize::_$u7b$$u7b$closure$u7d$$u7d$::h7a9e7eb14fc08fe5", "libfuzzer_sys::LLVMFuzzerInitialize::{{closure}}"},
		// Names a backtrace already demangled.
		{"chipset::battery::Battery::charge_level::hd436196484fd8535", "chipset::battery::Battery::charge_level"},
		{"<std[e28293b1aa0f68bd]::sys::stdio::unix::Stderr as std[e28293b1aa0f68bd]::io::Write>::write_fmt",
			"<std::sys::stdio::unix::Stderr as std::io::Write>::write_fmt"},
		{"__rustc[b7974e8690430dd9]::rust_begin_unwind", "__rustc::rust_begin_unwind"},
		// Left alone: C names, DWARF short names, arrays and slices, text.
		{"main", "main"},
		{"  __libc_start_call_main ", "__libc_start_call_main"},
		{"unwrap<&chipset::battery::Pack>", "unwrap<&chipset::battery::Pack>"},
		{"<[u8; 4] as core::fmt::Debug>::fmt", "<[u8; 4] as core::fmt::Debug>::fmt"},
		{"<[T] as core::ops::index::Index<I>>::index", "<[T] as core::ops::index::Index<I>>::index"},
		{"price$5", "price$5"},
		{"_Rust_is_not_mangled", "_Rust_is_not_mangled"},
		{"_ZN_broken", "_ZN_broken"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Demangle(tc.in); got != tc.want {
			t.Errorf("Demangle(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	// Each group: every spelling must normalize to the first entry.
	groups := [][]string{
		{"std::panicking::catch_unwind::do_call",
			"std::panicking::catch_unwind::do_call::<libfuzzer_sys::LLVMFuzzerTestOneInput::{closure#0}, i32>",
			"std::panicking::catch_unwind::do_call::h034b74a79dc9dad6",
			"std[e28293b1aa0f68bd]::panicking::catch_unwind::do_call::<libfuzzer_sys[8a8a0f861950f5b0]::LLVMFuzzerTestOneInput::{closure#0}, i32>"},
		{"do_call", "do_call<libfuzzer_sys::LLVMFuzzerTestOneInput::{closure_env#0}, i32>"},
		{"libfuzzer_sys::LLVMFuzzerInitialize::{closure}",
			"libfuzzer_sys::LLVMFuzzerInitialize::{{closure}}::hddaa5c63fd3fb194",
			"libfuzzer_sys::LLVMFuzzerInitialize::{closure#0}",
			"_RNCNvCslm8E4AONM0q_13libfuzzer_sys20LLVMFuzzerInitialize0B3_",
			"_ZN13libfuzzer_sys20LLVMFuzzerInitialize28_$u7b$$u7b$closure$u7d$$u7d$17h7a9e7eb14fc08fe5E",
			"libfuzzer_sys::LLVMFuzzerInitialize::_$u7b$$u7b$closure$u7d$$u7d$::h7a9e7eb14fc08fe5"},
		{"<alloc::boxed::Box as core::ops::function::Fn>::call",
			"<alloc::boxed::Box<F,A> as core::ops::function::Fn<Args>>::call::hf9e6b35af4ca60b9",
			"_$LT$alloc..boxed..Box$LT$F$C$A$GT$$u20$as$u20$core..ops..function..Fn$LT$Args$GT$$GT$::call::hf9e6b35af4ca60b9",
			"<alloc[fdfd2bd8633a6659]::boxed::Box<dyn for<'a, 'b> core[c1f1a4ba060b9bfa]::ops::function::Fn<(&'a std[e28293b1aa0f68bd]::panic::PanicHookInfo<'b>,), Output = ()> + core[c1f1a4ba060b9bfa]::marker::Sync + core[c1f1a4ba060b9bfa]::marker::Send> as core[c1f1a4ba060b9bfa]::ops::function::Fn<(&std[e28293b1aa0f68bd]::panic::PanicHookInfo,)>>::call"},
		{"chipset::battery::Battery::handle",
			"_RNvMNtCsbxndacfFXcl_7chipset7batteryNtB2_7Battery6handle",
			"chipset::battery::Battery::handle::h7d4f0b73d681b79e",
			"<chipset::battery::Battery>::handle"},
		{"<[T] as core::ops::index::Index>::index",
			"core::slice::index::<impl core::ops::index::Index<I> for [T]>::index",
			"<[T] as core::ops::index::Index<I>>::index"},
		{"<std::sys::backtrace::BacktraceLock::print::DisplayBacktrace as core::fmt::Display>::fmt",
			"<<std[e28293b1aa0f68bd]::sys::backtrace::BacktraceLock>::print::DisplayBacktrace as core[c1f1a4ba060b9bfa]::fmt::Display>::fmt"},
		{"fuzzer::Fuzzer::ExecuteCallback",
			"_ZN6fuzzer6Fuzzer15ExecuteCallbackEPKhm",
			"fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long)"},
		{"(anonymous namespace)::sha1_addUncounted", "_ZN12_GLOBAL__N_117sha1_addUncountedEPNS_7sha1nfoEj"},
		{"libfuzzer_sys::stack_overflow::STACK_LOW",
			"_ZN13libfuzzer_sys14stack_overflow9STACK_LOW17h083db5cd1fecfb9bE.0",
			"libfuzzer_sys::stack_overflow::STACK_LOW::h083db5cd1fecfb9b (.0)"},
		{"core::ptr::drop_in_place{shim:vtable}", "core::ptr::drop_in_place{{vtable.shim}}", "core::ptr::drop_in_place{shim:vtable#0}"},
		{"std::ostream::operator<<", "std::ostream::operator<<(int)"},
		{"<fn(u8) -> bool as core::ops::Fn>::call", "<fn(u8) -> bool as core::ops::Fn<(u8,)>>::call"},
		{"main", "main"},
	}
	for _, g := range groups {
		for _, in := range g {
			if got := Normalize(in); got != g[0] {
				t.Errorf("Normalize(%q) = %q, want %q", in, got, g[0])
			}
		}
	}
	// Different functions stay different.
	distinct := []string{
		"chipset::battery::Battery::charge_level", "chipset::battery::Battery::report_status",
		"wire_proto::decode_bytes", "wire_proto::decode_string",
		"<chipset::Foo as core::fmt::Debug>::fmt", "<chipset::Foo as core::fmt::Display>::fmt",
		"a::f::{closure}", "a::f",
	}
	seen := map[string]string{}
	for _, in := range distinct {
		n := Normalize(in)
		if prev, dup := seen[n]; dup {
			t.Errorf("%q and %q both normalize to %q", prev, in, n)
		}
		seen[n] = in
	}
}

func TestShortName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"chipset::cmos_rtc::CmosRtc::write_register", "write_register"},
		{"write_register", "write_register"},
		{"_ZN10wire_proto10take_bytes17h0123456789abcdefE", "take_bytes"},
		// The closure loses its parent: a release build names it "{closure#0}" alone.
		{"fuzz_ide::_::__libfuzzer_sys_run::{{closure}}", "{closure}"},
		{"<alloc::boxed::Box<F,A> as core::ops::function::Fn<Args>>::call", "call"},
		{"unwrap<&chipset::battery::Pack>", "unwrap"},
		{"{closure#0}", "{closure}"},
	}
	for _, tc := range tests {
		if got := ShortName(tc.in); got != tc.want {
			t.Errorf("ShortName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if IsQualified("write_register") || !IsQualified("wire_proto::take_bytes") || !IsQualified("<X as Y>::f") {
		t.Errorf("IsQualified wrong")
	}
}

// Every name in every captured log normalizes idempotently.
func TestNormalizeIdempotentOnCapturedLogs(t *testing.T) {
	n := 0
	for _, c := range loadLogIndex(t) {
		tr, err := ParseFile(filepath.Join(logsDir, c.File))
		if err != nil {
			t.Fatal(err)
		}
		for _, bt := range tr.Backtraces {
			for _, f := range bt.Frames {
				if f.Raw == "" {
					continue
				}
				n++
				if again := Normalize(f.Normalized); again != f.Normalized {
					t.Errorf("Normalize(%q) = %q: not idempotent (raw %q)", f.Normalized, again, f.Raw)
				}
				if Normalize(f.Raw) != f.Normalized {
					t.Errorf("Normalize(raw %q) = %q, frame has %q", f.Raw, Normalize(f.Raw), f.Normalized)
				}
			}
		}
	}
	if n < 1000 {
		t.Errorf("only %d named frames in the captured logs", n)
	}
}

var llvmCxxfilt = fixture.LLVMTool("llvm-cxxfilt")

// Demangle agrees with llvm-cxxfilt on every Rust and C++ symbol of the
// fixture binaries, up to what llvm-cxxfilt leaves undone on legacy Rust
// names (the ::h<hash> suffix and $u7b$-style escapes, which Demangle
// decodes in its output too).
func TestDemangleMatchesLLVMCxxfilt(t *testing.T) {
	syms := fixture.MangledSymbols(t)
	if len(syms) < 1000 {
		t.Fatalf("only %d symbols", len(syms))
	}
	res, err := procrun.Run(context.Background(), procrun.Spec{
		Path:    llvmCxxfilt,
		Stdin:   []byte(strings.Join(syms, "\n") + "\n"),
		Timeout: time.Minute,
	})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("llvm-cxxfilt: %v %s", err, res.Stderr)
	}
	out := strings.Split(strings.TrimRight(string(res.Stdout), "\n"), "\n")
	if len(out) != len(syms) {
		t.Fatalf("llvm-cxxfilt printed %d lines for %d symbols", len(out), len(syms))
	}
	rustBad, cxxBad, cxx := 0, 0, 0
	for i, s := range syms {
		ours := Demangle(s)
		theirs := Demangle(stripCloneSuffix(out[i]))
		_, isLegacyRust := rustdemangle.Legacy(s)
		isRust := strings.HasPrefix(s, "_R") || isLegacyRust
		if !isRust {
			cxx++
		} else if Normalize(s) != Normalize(out[i]) {
			t.Errorf("Normalize differs for %s: %q vs %q", s, Normalize(s), Normalize(out[i]))
		}
		if ours == theirs {
			continue
		}
		if isRust {
			rustBad++
			t.Errorf("%s:\n  ours         %s\n  llvm-cxxfilt %s", s, ours, theirs)
		} else {
			cxxBad++
			t.Logf("C++ %s:\n  ours         %.300s\n  llvm-cxxfilt %.300s", s, ours, theirs)
		}
	}
	// github.com/ianlancetaylor/demangle renders a few C++ lambdas inside
	// function templates differently from LLVM (libFuzzer's
	// ForEachNonZeroByte instances); those are tolerated, Rust is not.
	if cxxBad*200 > cxx {
		t.Errorf("%d of %d C++ symbols demangle differently", cxxBad, cxx)
	}
	t.Logf("%d symbols: %d Rust all agree (%d differ), %d of %d C++ differ", len(syms), len(syms)-cxx, rustBad, cxxBad, cxx)
}
