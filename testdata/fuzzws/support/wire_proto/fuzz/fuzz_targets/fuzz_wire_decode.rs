//! Decodes arbitrary bytes as a wire_proto message. Decode errors are kept
//! in the corpus: a partly valid message is a stepping stone to a deeper one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = std::hint::black_box(wire_proto::decode_message(data));
});
