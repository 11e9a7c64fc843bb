//! A small tag-length-value wire format with planted bugs, fuzzed by
//! `wire_proto/fuzz`. Planted bugs are marked `// BUG(<id>)`.
//!
//! A message is a sequence of records, each a tag byte followed by its body:
//! - `0x01` name: DNS-style labels, `0xC0 | hi, lo` is a pointer to another name
//! - `0x02` string: u16 little-endian length, then the bytes
//! - `0x03` bytes: u8 length, then the bytes
//! - `0x04` padding: bytes whose low nibble is a skip distance, ended by 0xFF
//! - `0x05` packed values: a varint count in MiB, then generated values
//! - `0x06` table: a varint entry count, each entry 4 KiB

#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    Truncated,
    UnknownTag(u8),
    BadLabel(u8),
    BadPointer(usize),
    TooLarge(u64),
}

#[derive(Debug, Default)]
pub struct Message {
    pub names: Vec<Vec<u8>>,
    pub strings: Vec<String>,
    pub blobs: Vec<Vec<u8>>,
    pub packed_bytes: usize,
    pub table_entries: usize,
}

const MAX_PACKED_MIB: u32 = 64;
const MAX_TABLE_ENTRIES: u32 = 4096;
const TABLE_ENTRY_SIZE: usize = 4096;

pub fn decode_message(buf: &[u8]) -> Result<Message, DecodeError> {
    let mut msg = Message::default();
    let mut pos = 0;
    while pos < buf.len() {
        let tag = buf[pos];
        pos += 1;
        pos = match tag {
            0x01 => {
                let (name, next) = read_name(buf, pos)?;
                msg.names.push(name);
                next
            }
            0x02 => decode_string(buf, pos, &mut msg)?,
            0x03 => decode_bytes(buf, pos, &mut msg)?,
            0x04 => skip_padding(buf, pos)?,
            0x05 => decode_packed(buf, pos, &mut msg)?,
            0x06 => reserve_table(buf, pos, &mut msg)?,
            other => decode_extension(other, buf, pos, &mut msg)?,
        };
    }
    Ok(msg)
}

/// Reads a name, following compression pointers. Nothing stops a pointer
/// from pointing at itself.
fn read_name(buf: &[u8], mut pos: usize) -> Result<(Vec<u8>, usize), DecodeError> {
    let mut name = Vec::new();
    loop {
        let len = *buf.get(pos).ok_or(DecodeError::Truncated)?;
        if len == 0 {
            return Ok((name, pos + 1));
        }
        if len & 0xc0 == 0xc0 {
            let lo = *buf.get(pos + 1).ok_or(DecodeError::Truncated)?;
            let target = ((len & 0x3f) as usize) << 8 | lo as usize;
            if target >= buf.len() {
                return Err(DecodeError::BadPointer(target));
            }
            let (suffix, _) = read_name(buf, target)?; // BUG(wire-name-recursion)
            name.extend_from_slice(&suffix);
            return Ok((name, pos + 2));
        }
        if len > 63 {
            return Err(DecodeError::BadLabel(len));
        }
        let label = buf.get(pos + 1..pos + 1 + len as usize).ok_or(DecodeError::Truncated)?;
        if !name.is_empty() {
            name.push(b'.');
        }
        name.extend_from_slice(label);
        pos += 1 + len as usize;
    }
}

/// Returns `len` bytes at `pos`. Callers check that the length header is
/// present but not that the body is: one bug, reached from two callers.
fn take_bytes(buf: &[u8], pos: usize, len: usize) -> &[u8] {
    &buf[pos..pos + len] // BUG(wire-take-bytes)
}

fn decode_string(buf: &[u8], pos: usize, msg: &mut Message) -> Result<usize, DecodeError> {
    let hdr = buf.get(pos..pos + 2).ok_or(DecodeError::Truncated)?;
    let len = u16::from_le_bytes([hdr[0], hdr[1]]) as usize;
    let body = take_bytes(buf, pos + 2, len);
    msg.strings.push(String::from_utf8_lossy(body).into_owned());
    Ok(pos + 2 + len)
}

fn decode_bytes(buf: &[u8], pos: usize, msg: &mut Message) -> Result<usize, DecodeError> {
    let len = *buf.get(pos).ok_or(DecodeError::Truncated)? as usize;
    let body = take_bytes(buf, pos + 1, len);
    msg.blobs.push(body.to_vec());
    Ok(pos + 1 + len)
}

/// Skips padding bytes; each byte's low nibble says how far to skip.
fn skip_padding(buf: &[u8], mut pos: usize) -> Result<usize, DecodeError> {
    loop {
        let b = *buf.get(pos).ok_or(DecodeError::Truncated)?;
        if b == 0xff {
            return Ok(pos + 1);
        }
        pos += (b & 0x0f) as usize; // BUG(wire-skip-loop): a zero nibble never advances
    }
}

/// A varint of at most 5 bytes (35 bits).
fn read_varint(buf: &[u8], mut pos: usize) -> Result<(u64, usize), DecodeError> {
    let mut value = 0u64;
    for shift in (0..35).step_by(7) {
        let b = *buf.get(pos).ok_or(DecodeError::Truncated)?;
        pos += 1;
        value |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Ok((value, pos));
        }
    }
    Ok((value, pos))
}

/// Generates `count` MiB of packed values. The size check truncates the
/// count to 32 bits, so counts of 2^32 MiB and more pass it.
fn decode_packed(buf: &[u8], pos: usize, msg: &mut Message) -> Result<usize, DecodeError> {
    let (mib, next) = read_varint(buf, pos)?;
    if mib as u32 > MAX_PACKED_MIB {
        return Err(DecodeError::TooLarge(mib));
    }
    let target = mib.saturating_mul(1 << 20);
    let mut values: Vec<u8> = Vec::new();
    while (values.len() as u64) < target {
        let grown = values.len() + (1 << 20);
        values.resize(grown, 0x5a); // BUG(wire-packed-oom)
    }
    msg.packed_bytes += std::hint::black_box(&values).len();
    Ok(next)
}

/// Reserves a table of `entries` 4 KiB entries, with the same truncating check.
fn reserve_table(buf: &[u8], pos: usize, msg: &mut Message) -> Result<usize, DecodeError> {
    let (entries, next) = read_varint(buf, pos)?;
    if entries as u32 > MAX_TABLE_ENTRIES {
        return Err(DecodeError::TooLarge(entries));
    }
    let table: Vec<[u8; TABLE_ENTRY_SIZE]> = Vec::with_capacity(entries as usize); // BUG(wire-alloc-huge)
    msg.table_entries += std::hint::black_box(&table).capacity();
    Ok(next)
}

/// Extension records, each introduced by its tag and the byte 0xA5 (so that
/// random bytes rarely reach them); every other tag is unknown:
/// - `0x07` resync: a step byte, then bytes skipped `step` at a time up to
///   the marker 0xAA
/// - `0x08` dictionary: a varint entry count, the entries generated
fn decode_extension(tag: u8, buf: &[u8], pos: usize, msg: &mut Message) -> Result<usize, DecodeError> {
    if buf.get(pos) != Some(&0xA5) {
        return Err(DecodeError::UnknownTag(tag));
    }
    match tag {
        0x07 => resync(buf, pos + 1),
        0x08 => expand_dictionary(buf, pos + 1, msg),
        other => Err(DecodeError::UnknownTag(other)),
    }
}

/// Skips to the byte after the next 0xAA marker, `step` bytes at a time.
fn resync(buf: &[u8], pos: usize) -> Result<usize, DecodeError> {
    let step = (*buf.get(pos).ok_or(DecodeError::Truncated)? & 3) as usize;
    let mut i = pos + 1;
    loop {
        match buf.get(i) {
            Some(&0xAA) => return Ok(i + 1),
            Some(_) => {}
            None => return Err(DecodeError::Truncated),
        }
        i += step; // BUG(wire-resync-loop): a zero step never advances
    }
}

/// Generates a dictionary of `count` entries. Nothing bounds the count.
fn expand_dictionary(buf: &[u8], pos: usize, msg: &mut Message) -> Result<usize, DecodeError> {
    let (count, next) = read_varint(buf, pos)?;
    let mut dict: Vec<u64> = Vec::new();
    for i in 0..count {
        dict.push(i); // BUG(wire-dict-oom)
    }
    msg.table_entries += std::hint::black_box(&dict).len();
    Ok(next)
}
