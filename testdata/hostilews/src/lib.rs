//! The crate under test of the hostile-input fixture: each input picks one
//! way to fail, and most take their text or size from the input itself.

use std::io::Write;

/// Runs one input: its first byte picks the behaviour.
pub fn handle(data: &[u8]) {
    match data.split_first() {
        Some((b'P', rest)) => echo_panic(rest),
        Some((b'F', rest)) => flood(rest),
        Some((b'N', rest)) => binary_output(rest),
        Some((b'I', rest)) => {
            std::hint::black_box(index_table(rest));
        }
        _ => {}
    }
}

/// Panics with the input as the message: Markdown, HTML, ANSI escapes and
/// NUL bytes reach the crash report as they are.
fn echo_panic(rest: &[u8]) {
    let msg = String::from_utf8_lossy(rest);
    panic!("{}", msg); // BUG(echo-message)
}

/// Writes N MiB (N from the input, in units of 64 MiB when the second byte
/// is 'G') to stderr, then panics: the crash report comes after the flood.
fn flood(rest: &[u8]) {
    let n = rest.first().copied().unwrap_or(1) as usize;
    let unit = if rest.get(1) == Some(&b'G') { 64 } else { 1 };
    let mut line = vec![b'.'; 1023];
    line.push(b'\n');
    let stderr = std::io::stderr();
    let mut out = stderr.lock();
    for _ in 0..n * unit * 1024 {
        let _ = out.write_all(&line);
    }
    drop(out);
    panic!("after {} MiB of output", n * unit); // BUG(echo-flood)
}

/// Writes the input's bytes (NUL, invalid UTF-8, escapes) to stderr, then
/// panics.
fn binary_output(rest: &[u8]) {
    let _ = std::io::stderr().write_all(rest);
    let _ = std::io::stderr().write_all(b"\n");
    panic!("after {} bytes of binary output", rest.len()); // BUG(echo-binary)
}

/// Indexes a table of four entries by the input: an ordinary bug of a
/// crate at the workspace root.
fn index_table(rest: &[u8]) -> u8 {
    let table = [1u8, 2, 3, 4];
    let i = rest.first().copied().unwrap_or(0) as usize;
    table[i] // BUG(echo-index)
}
