//! Offline stand-in for the `libfuzzer-sys` crate.
//!
//! crates.io is not reachable where this fixture is built, so this crate
//! reproduces the parts of the real `libfuzzer-sys` that shape what a crash
//! looks like, which is all the triage tool ever sees:
//!
//! * `fuzz_target!` in its `&[u8]` and `Arbitrary` forms, generating the same
//!   symbols as the real macro (`rust_fuzzer_test_input` and a never-inlined
//!   `__libfuzzer_sys_run` inside `const _: () = { .. }`), so frames read
//!   `fuzz_x::_::__libfuzzer_sys_run` exactly as they do with the real crate;
//! * `Corpus::Keep` / `Corpus::Reject` (reject returns -1 to libFuzzer);
//! * `LLVMFuzzerInitialize` installs a panic hook that prints the panic with
//!   the default hook and then aborts, so a panic becomes SIGABRT and libFuzzer
//!   reports a "deadly signal" and writes a `crash-` artifact;
//! * an alternate signal stack with an `SA_ONSTACK` SIGSEGV handler. Under
//!   `#![no_main]` nobody installs std's stack-overflow handler and libFuzzer
//!   16's own SIGSEGV handler lacks `SA_ONSTACK`, so without this a stack
//!   overflow kills the process silently (exit 139, no artifact).
//!
//! libFuzzer itself is Debian's `libFuzzer.a` (see build.rs).

pub use arbitrary;

use std::panic;
use std::process;

/// Whether libFuzzer should add an input to the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corpus {
    /// Keep the input if it adds coverage.
    Keep,
    /// Never add the input to the corpus (e.g. it failed to decode).
    Reject,
}

impl From<()> for Corpus {
    fn from(_: ()) -> Self {
        Corpus::Keep
    }
}

impl Corpus {
    /// The return value libFuzzer expects from `LLVMFuzzerTestOneInput`.
    pub fn to_libfuzzer_code(self) -> i32 {
        match self {
            Corpus::Keep => 0,
            Corpus::Reject => -1,
        }
    }
}

#[allow(improper_ctypes)]
extern "Rust" {
    fn rust_fuzzer_test_input(input: &[u8]) -> i32;
}

/// libFuzzer's entry point. A panic that unwinds this far is turned into an
/// abort, as in the real crate.
#[no_mangle]
pub extern "C" fn LLVMFuzzerTestOneInput(data: *const u8, size: usize) -> i32 {
    let result = panic::catch_unwind(|| {
        let input: &[u8] = if size == 0 || data.is_null() {
            &[]
        } else {
            // SAFETY: libFuzzer passes a buffer of `size` readable bytes.
            unsafe { std::slice::from_raw_parts(data, size) }
        };
        // SAFETY: defined by the `fuzz_target!` expansion in the fuzz binary.
        unsafe { rust_fuzzer_test_input(input) }
    });
    match result {
        Ok(code) => code,
        Err(_) => process::abort(),
    }
}

/// Called by libFuzzer once, before any input and before libFuzzer installs
/// its own signal handlers (which it does not put over an existing one).
#[no_mangle]
pub extern "C" fn LLVMFuzzerInitialize(_argc: *const isize, _argv: *const *const *const u8) -> isize {
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        default_hook(info);
        process::abort();
    }));
    stack_overflow::install();
    0
}

/// Defines a fuzz target, like the real `libfuzzer_sys::fuzz_target!`.
#[macro_export]
macro_rules! fuzz_target {
    (|$bytes:ident| $body:expr) => {
        const _: () = {
            #[no_mangle]
            pub extern "Rust" fn rust_fuzzer_test_input(bytes: &[u8]) -> i32 {
                __libfuzzer_sys_run(bytes);
                0
            }

            // Never inlined so that every crash has a frame named after this
            // particular fuzz target, as in the real crate.
            #[inline(never)]
            fn __libfuzzer_sys_run($bytes: &[u8]) {
                $body
            }
        };
    };

    (|$data:ident: &[u8]| $body:expr) => {
        $crate::fuzz_target!(|$data| $body);
    };

    (|$data:ident: &[u8]| -> $rty:ty $body:block) => {
        const _: () = {
            #[no_mangle]
            pub extern "Rust" fn rust_fuzzer_test_input(bytes: &[u8]) -> i32 {
                let result = $crate::Corpus::from(__libfuzzer_sys_run(bytes));
                result.to_libfuzzer_code()
            }

            #[inline(never)]
            fn __libfuzzer_sys_run($data: &[u8]) -> $rty {
                $body
            }
        };
    };

    (|$data:ident: $dty:ty| $body:expr) => {
        $crate::fuzz_target!(|$data: $dty| -> () { $body });
    };

    (|$data:ident: $dty:ty| -> $rty:ty $body:block) => {
        const _: () = {
            #[no_mangle]
            pub extern "Rust" fn rust_fuzzer_test_input(bytes: &[u8]) -> i32 {
                use $crate::arbitrary::{Arbitrary, Unstructured};

                // Inputs too short to build the type are not interesting.
                if bytes.len() < <$dty as Arbitrary>::size_hint(0).0 {
                    return -1;
                }
                let u = Unstructured::new(bytes);
                let data = match <$dty as Arbitrary>::arbitrary_take_rest(u) {
                    Ok(d) => d,
                    Err(_) => return -1,
                };
                let result = $crate::Corpus::from(__libfuzzer_sys_run(data));
                result.to_libfuzzer_code()
            }

            #[inline(never)]
            fn __libfuzzer_sys_run($data: $dty) -> $rty {
                $body
            }
        };
    };
}

/// A SIGSEGV handler on an alternate stack that recognises a stack overflow
/// and reports it the way std's handler does, then aborts so libFuzzer writes
/// an artifact. Hand-written FFI for x86_64-unknown-linux-gnu because the
/// `libc` crate is not available offline.
mod stack_overflow {
    use std::ffi::c_void;

    const SIGSEGV: i32 = 11;
    const SIGBUS: i32 = 7;
    const SA_SIGINFO: i32 = 0x4;
    const SA_ONSTACK: i32 = 0x0800_0000;
    const ALT_STACK_SIZE: usize = 256 * 1024;
    // A frame can jump over the guard page; faults this far below the stack
    // bottom (or just above it) still count as an overflow.
    const GUARD_WINDOW: usize = 1 << 20;

    #[repr(C)]
    struct SigAction {
        sa_sigaction: usize,
        sa_mask: [u64; 16],
        sa_flags: i32,
        sa_restorer: usize,
    }

    #[repr(C)]
    struct StackT {
        ss_sp: *mut c_void,
        ss_flags: i32,
        ss_size: usize,
    }

    #[repr(C)]
    struct SigInfo {
        si_signo: i32,
        si_errno: i32,
        si_code: i32,
        _pad: i32,
        si_addr: usize,
    }

    extern "C" {
        fn sigaction(signum: i32, act: *const SigAction, old: *mut SigAction) -> i32;
        fn sigaltstack(ss: *const StackT, old: *mut StackT) -> i32;
        fn pthread_self() -> u64;
        fn pthread_getattr_np(thread: u64, attr: *mut [u64; 8]) -> i32;
        fn pthread_attr_getstack(attr: *const [u64; 8], addr: *mut *mut c_void, size: *mut usize) -> i32;
        fn pthread_attr_destroy(attr: *mut [u64; 8]) -> i32;
        fn write(fd: i32, buf: *const u8, count: usize) -> isize;
        fn abort() -> !;
    }

    static mut STACK_LOW: usize = 0;

    pub fn install() {
        unsafe {
            // A sanitizer runtime (ASan) already owns SIGSEGV and reports
            // stack overflows itself: leave it alone, as libFuzzer does.
            let mut old: SigAction = std::mem::zeroed();
            if sigaction(SIGSEGV, std::ptr::null(), &mut old) == 0
                && old.sa_flags & SA_SIGINFO != 0
                && old.sa_sigaction != 0
            {
                return;
            }

            let mut attr = [0u64; 8];
            if pthread_getattr_np(pthread_self(), &mut attr) == 0 {
                let mut addr: *mut c_void = std::ptr::null_mut();
                let mut size = 0usize;
                if pthread_attr_getstack(&attr, &mut addr, &mut size) == 0 {
                    STACK_LOW = addr as usize;
                }
                pthread_attr_destroy(&mut attr);
            }

            let alt: &'static mut [u8] = Box::leak(vec![0u8; ALT_STACK_SIZE].into_boxed_slice());
            let ss = StackT {
                ss_sp: alt.as_mut_ptr().cast(),
                ss_flags: 0,
                ss_size: ALT_STACK_SIZE,
            };
            sigaltstack(&ss, std::ptr::null_mut());

            let act = SigAction {
                sa_sigaction: handler as *const () as usize,
                sa_mask: [0; 16],
                sa_flags: SA_SIGINFO | SA_ONSTACK,
                sa_restorer: 0,
            };
            sigaction(SIGSEGV, &act, std::ptr::null_mut());
            sigaction(SIGBUS, &act, std::ptr::null_mut());
        }
    }

    fn say(msg: &[u8]) {
        unsafe {
            write(2, msg.as_ptr(), msg.len());
        }
    }

    extern "C" fn handler(_sig: i32, info: *mut SigInfo, _ctx: *mut c_void) {
        let addr = unsafe { (*info).si_addr };
        let low = unsafe { STACK_LOW };
        let in_guard = low != 0 && addr >= low.saturating_sub(GUARD_WINDOW) && addr < low + 4096 * 16;
        if in_guard {
            // The same two lines std's handler prints (Rust 1.95).
            say(b"\nthread '<unnamed>' has overflowed its stack\nfatal runtime error: stack overflow, aborting\n");
        } else {
            say(b"\nlibfuzzer-sys stand-in: SIGSEGV outside the stack guard, aborting\n");
        }
        unsafe { abort() }
    }
}
