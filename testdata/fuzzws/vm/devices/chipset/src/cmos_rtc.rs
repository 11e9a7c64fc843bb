//! A CMOS real-time clock reached through index/data I/O ports.

/// Index port: selects the register the data port reads or writes.
pub const PORT_INDEX: u16 = 0x70;
/// Data port: reads or writes the selected register.
pub const PORT_DATA: u16 = 0x71;
/// Test port: advances the clock by the written number of seconds.
pub const PORT_TICK: u16 = 0x72;

const REG_SECONDS: usize = 0x00;
const REG_STATUS_A: usize = 0x0a;
const REG_STATUS_B: usize = 0x0b;
const CMOS_RAM_SIZE: usize = 64;

pub struct CmosRtc {
    ram: [u8; CMOS_RAM_SIZE],
    index: u8,
    periodic_ns: u64,
}

impl Default for CmosRtc {
    fn default() -> Self {
        Self::new()
    }
}

impl CmosRtc {
    pub fn new() -> Self {
        let mut ram = [0u8; CMOS_RAM_SIZE];
        ram[REG_STATUS_A] = 0x26;
        ram[REG_STATUS_B] = 0x02;
        Self {
            ram,
            index: 0,
            periodic_ns: 0,
        }
    }

    pub fn io_write(&mut self, port: u16, val: u8) {
        match port {
            PORT_INDEX => self.index = val,
            PORT_DATA => self.write_register(val),
            PORT_TICK => self.advance_clock(val),
            _ => {}
        }
    }

    pub fn io_read(&self, port: u16) -> u8 {
        match port {
            PORT_DATA => self.ram[self.index as usize % CMOS_RAM_SIZE],
            PORT_INDEX => self.index,
            _ => 0xff,
        }
    }

    /// Two different planted bugs live in this one function.
    fn write_register(&mut self, val: u8) {
        let reg = self.index as usize;
        if reg == REG_STATUS_A {
            // Bits 6-4 select the divider chain; 0b010 is the normal 32 kHz
            // time base. The periodic rate (bits 3-0) of 0 means "off", but
            // the period is computed before that is checked.
            let divider_on = val & 0x70 == 0x20;
            let rate = (val & 0x0f) as u64;
            if divider_on && val & 0x80 != 0 {
                let hz = 65536 / (1u64 << rate) / rate; // BUG(cmos-div-zero)
                self.periodic_ns = 1_000_000_000 / hz.max(1);
            }
            self.ram[REG_STATUS_A] = val & 0x7f;
            return;
        }
        self.ram[reg] = val; // BUG(cmos-index-oob)
    }

    /// Adds seconds to the clock, carrying into minutes. The seconds register
    /// is binary, not BCD, when status B bit 2 is set.
    fn advance_clock(&mut self, seconds: u8) {
        let binary = self.ram[REG_STATUS_B] & 0x04 != 0;
        let now = self.ram[REG_SECONDS];
        if binary {
            let total = now + seconds; // BUG(cmos-add-overflow)
            self.ram[REG_SECONDS] = total % 60;
        } else {
            let secs = (now >> 4) as u32 * 10 + (now & 0x0f) as u32 + seconds as u32;
            let secs = secs % 60;
            self.ram[REG_SECONDS] = ((secs / 10) << 4) as u8 | (secs % 10) as u8;
        }
    }
}
