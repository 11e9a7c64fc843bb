//! Validation of PIO data transfers decoded from raw bytes.

pub const SECTOR_SIZE: usize = 512;
pub const WRITE_SECTORS: u8 = 0x30;

#[derive(Debug)]
pub struct PioTransfer {
    pub command: u8,
    pub sector_count: u16,
    pub payload: Vec<u8>,
}

/// `[command, count_lo, count_hi, payload...]`.
pub fn parse_transfer(data: &[u8]) -> Option<PioTransfer> {
    let (&command, rest) = data.split_first()?;
    if rest.len() < 2 {
        return None;
    }
    let sector_count = u16::from_le_bytes([rest[0], rest[1]]);
    Some(PioTransfer {
        command,
        sector_count,
        payload: rest[2..].to_vec(),
    })
}

/// Checks a write transfer before it reaches the disk. Sector counts above
/// 8 are rejected as unsupported; the payload length is then asserted, which
/// is the planted bug: a guest controls both numbers.
pub fn validate(t: &PioTransfer) -> bool {
    if t.command != WRITE_SECTORS || t.sector_count == 0 || t.sector_count > 8 {
        return false;
    }
    assert_eq!( // BUG(ata-assert-transfer)
        t.payload.len(),
        t.sector_count as usize * SECTOR_SIZE,
        "PIO write payload does not match the sector count"
    );
    true
}

/// A count of the transfers a harness run saw. It holds one of each kind of
/// code `triage coverage` tells apart when it is not reached (the tests
/// assert each marked line's class).
pub struct TransferLog {
    pub transfers: u32,
}

impl core::fmt::Debug for TransferLog {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TransferLog({} transfers)", self.transfers) // COVERAGE(inspect-debug)
    }
}

/// Counts a parsed transfer; a SET FEATURES with the vendor's magic sector
/// count is counted twice.
pub fn record(log: &mut TransferLog, t: &PioTransfer) -> u32 {
    log.transfers += 1;
    if t.payload.len() > isize::MAX as usize {
        unreachable!("a Vec never holds more than isize::MAX bytes") // COVERAGE(error-handling)
    }
    if t.command == 0xEF && t.sector_count == 0xC0DE {
        log.transfers += 1; // COVERAGE(reachable)
    }
    log.transfers
}

/// Saves the log for a snapshot; the harness never snapshots.
pub fn save(log: &TransferLog) -> Vec<u8> {
    log.transfers.to_le_bytes().to_vec() // COVERAGE(structural)
}
