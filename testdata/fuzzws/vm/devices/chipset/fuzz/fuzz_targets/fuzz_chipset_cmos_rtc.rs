//! Feeds (port, value) pairs to the CMOS RTC: each pair is two bytes, the
//! first selecting one of four ports (index, data, tick, read).
#![no_main]

use chipset::cmos_rtc::{CmosRtc, PORT_DATA, PORT_INDEX, PORT_TICK};
use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|data: &[u8]| -> Corpus {
    if data.len() % 2 != 0 {
        return Corpus::Reject;
    }
    let mut rtc = CmosRtc::new();
    let mut checksum = 0u8;
    for pair in data.chunks_exact(2) {
        let (sel, val) = (pair[0], pair[1]);
        match sel & 3 {
            0 => rtc.io_write(PORT_INDEX, val),
            1 => rtc.io_write(PORT_DATA, val),
            2 => rtc.io_write(PORT_TICK, val),
            _ => checksum ^= rtc.io_read(PORT_DATA),
        }
    }
    std::hint::black_box(checksum);
    Corpus::Keep
});
