//! Drives the battery device with a structured list of actions.
#![no_main]

use chipset::battery::{Battery, BatteryAction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|actions: Vec<BatteryAction>| {
    let mut battery = Battery::new();
    let mut total = 0u64;
    for action in &actions {
        total += battery.handle(action) as u64;
    }
    std::hint::black_box(total);
});
