//! Drives the IDE controller with structured actions while it is held the way
//! OpenVMM holds it: `Arc<CloseableMutex<IdeDevice>>`.
#![no_main]

use ide::{CloseableMutex, IdeAction, IdeDevice};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|actions: Vec<IdeAction>| {
    let ide_device = Arc::new(CloseableMutex::new(IdeDevice::new_fixture()));
    let mut status = 0u8;
    for action in &actions {
        status ^= ide_device.with(|dev| dev.handle(action)).unwrap_or(0);
    }
    ide_device.close();
    std::hint::black_box(status);
});
