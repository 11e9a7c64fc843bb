//! Decodes a raw PIO transfer and validates it.
#![no_main]

use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|data: &[u8]| -> Corpus {
    let Some(transfer) = ide::ata::parse_transfer(data) else {
        return Corpus::Reject;
    };
    std::hint::black_box(ide::ata::validate(&transfer));
    let mut log = ide::ata::TransferLog { transfers: 0 };
    std::hint::black_box(ide::ata::record(&mut log, &transfer));
    Corpus::Keep
});
