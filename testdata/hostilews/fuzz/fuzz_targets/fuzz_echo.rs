//! The hostile-input fixture's fuzz target, with the two entry points
//! libFuzzer calls written out (no libfuzzer-sys): a panic prints its report
//! and aborts, as libfuzzer-sys's hook does.
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
    echo::handle(input);
    0
}
