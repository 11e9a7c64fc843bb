//! The hostile-input fixture's second fuzz target: the same crate behind a
//! framing byte (the payload's length), so one bug of the crate is reached
//! through two harnesses. Entry points written out as in fuzz_echo.rs.
#![no_main]

use std::os::raw::c_int;

#[no_mangle]
pub extern "C" fn LLVMFuzzerInitialize(_argc: *const c_int, _argv: *const *const *const u8) -> c_int {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::abort();
    }));
    0
}

#[no_mangle]
pub extern "C" fn LLVMFuzzerTestOneInput(data: *const u8, size: usize) -> c_int {
    let input = if size == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(data, size) } };
    // A frame: a length byte, then that many bytes of payload.
    if let Some((&len, rest)) = input.split_first() {
        if rest.len() == len as usize {
            echo::handle(rest);
        }
    }
    0
}
