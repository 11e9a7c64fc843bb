// Package rustdemangle demangles Rust symbols, legacy (_ZN...17h<hash>E)
// and v0 (_R...), the way llvm-cxxfilt and rustc-demangle print them, and
// strips what changes from build to build (the legacy ::h<hash> suffix).
// symbolize.Demangle dispatches to it for Rust and to
// github.com/ianlancetaylor/demangle for C++.
//
// Why not github.com/ianlancetaylor/demangle for Rust: against
// llvm-cxxfilt it demangles 9 of the 90 legacy and 23 of the 1,134 v0
// symbols of fuzz_ide's release and ASan builds wrongly, and 77 of 1,004
// legacy and 32 of 2,220 v0 symbols of a larger set of fuzz binaries and
// crash logs; this package demangles all of them as llvm-cxxfilt does
// (TestMatchesLLVMCxxfilt measures both and fails when that changes). The
// failures have two causes:
//
//   - legacy: it takes an underscore after a length for a separator (one is
//     only in v0), so the identifier "_" of every `const _: () = { .. }`
//     block (fuzz_target! expands to one) becomes "" and
//     "__RUST_STD_INTERNAL_VAL" becomes "_RUST_STD_INTERNAL_VAL":
//     _ZN8fuzz_ide1_20__libfuzzer_sys_run17h0123456789abcdefE prints as
//     "fuzz_ide::::__libfuzzer_sys_run" instead of
//     "fuzz_ide::_::__libfuzzer_sys_run";
//   - v0: it reads a <decimal-number> greedily, so a zero-length
//     identifier (every closure: "NC...0") followed by a digit or by the
//     unit type 'u' fails to demangle ("...default_hook011FIRST_PANIC") or,
//     worse, silently drops a generic argument: "with_current_name::<{closure#0}, ()>"
//     printed without ", ()".
package rustdemangle
