//! Two small chipset devices with planted bugs, fuzzed by `chipset/fuzz`.
//! Every planted bug is marked `// BUG(<id>)` on the line that panics; the ids
//! are those of `testdata/fuzzws/bugs.yaml`.

pub mod battery;
pub mod cmos_rtc;
