//! A toy IDE controller whose state is shaped like OpenVMM's: the device sits
//! behind `Arc<CloseableMutex<IdeDevice>>` and holds the wrapper types an
//! engineer must walk through in lldb (Arc, Mutex, RwLock, RefCell, Cell,
//! UnsafeCell, Rc, Box, Vec, arrays, String, Option, Result, tagged and
//! niche-optimized enums). `IdeDevice::new_fixture` fixes the values the lldb
//! tests read back at the crash. Planted bugs are marked `// BUG(<id>)`.

pub mod ata;

use arbitrary::Arbitrary;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::rc::Rc;
use std::sync::{Arc, Mutex, RwLock};

/// A mutex that can be closed, after OpenVMM's `CloseableMutex`: the lock only
/// guards a "closed" flag and the value lives beside it in an `UnsafeCell`,
/// so the path to the value is decided by this type's own fields.
pub struct CloseableMutex<T> {
    mutex: Mutex<bool>,
    value: UnsafeCell<T>,
}

impl<T> CloseableMutex<T> {
    pub fn new(value: T) -> Self {
        Self {
            mutex: Mutex::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` on the value with the lock held; a closed mutex skips it.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let closed = self.mutex.lock().unwrap();
        if *closed {
            return None;
        }
        // SAFETY: the lock is held for the whole call, so access is exclusive.
        let result = f(unsafe { &mut *self.value.get() });
        drop(closed);
        Some(result)
    }

    pub fn close(&self) {
        *self.mutex.lock().unwrap() = true;
    }
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtaCommand {
    ReadSectors,
    WriteSectors,
    ReadDma,
    Identify,
    Nop,
    Other(u8),
}

impl AtaCommand {
    pub fn opcode(self) -> u8 {
        match self {
            AtaCommand::ReadSectors => 0x20,
            AtaCommand::WriteSectors => 0x30,
            AtaCommand::ReadDma => 0xc8,
            AtaCommand::Identify => 0xec,
            AtaCommand::Nop => 0x00,
            AtaCommand::Other(op) => op,
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum IdeAction {
    Select { channel: bool, drive: bool },
    SetSectorCount(u8),
    SetLba(u32),
    Command(AtaCommand),
    ProgramPrd { entries: u8 },
    StartBusMaster,
    ReadStatus,
    Reset,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Media {
    Cd { tracks: u8 },
    Dvd { layers: u8 },
}

#[derive(Debug)]
pub struct AtapiDrive {
    pub media: Option<Media>,
    pub sense_key: u8,
}

#[derive(Debug)]
pub struct HardDrive {
    pub serial: String,
    pub cylinders: u16,
    pub heads: u8,
    pub sectors_per_track: u8,
}

#[derive(Debug)]
pub enum DiskDrive {
    HardDevice(HardDrive),
    OpticalDevice(Box<AtapiDrive>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    Idle,
    Busy { command: u8, remaining: u32 },
    Error(u8),
}

#[derive(Debug, Clone, Copy)]
pub struct EnlightenedWrite {
    pub gpa: u64,
    pub len: u32,
}

/// The eight ATA task-file registers, by register number.
#[derive(Debug, Default)]
pub struct TaskFile {
    pub bytes: [u8; 8],
}

const REG_SECTOR_COUNT: usize = 2;
const REG_DEVICE: usize = 6;
const REG_COMMAND: usize = 7;

#[derive(Debug)]
pub enum IdeError {
    Aborted { command: u8 },
    NoMedia,
    Io(String),
}

#[derive(Debug)]
pub struct Channel {
    pub index: u8,
    pub drives: [Option<DiskDrive>; 2],
    pub state: ChannelState,
    pub enlightened_write: Option<EnlightenedWrite>,
    pub last_result: Result<u32, IdeError>,
    pub regs: TaskFile,
}

#[derive(Debug, Clone, Copy)]
pub struct PrdEntry {
    pub addr: u32,
    pub len: u16,
    pub last: bool,
}

#[derive(Debug)]
pub struct BusMaster {
    pub prd_table: Option<Vec<PrdEntry>>,
    pub active: bool,
    pub status: u8,
}

#[derive(Debug)]
pub struct HostAdapter {
    pub name: String,
    pub irq: u8,
}

#[derive(Debug)]
pub struct DeviceConfig {
    pub model: String,
    pub max_sectors: u32,
    pub pio_only: bool,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub commands: u64,
    pub resets: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Command { channel: u8, command: u8 },
    Reset,
    Irq(u32),
}

/// A PIO command waiting for its data phase.
#[derive(Debug)]
pub struct PendingCommand {
    pub channel: u8,
    pub command: u8,
    pub sectors: u32,
    /// The status the command left while its data phase is pending.
    pub status: IdeStatus,
}

pub struct IdeDevice {
    pub name: String,
    pub channels: [Channel; 2],
    pub bus_master: Arc<Mutex<BusMaster>>,
    pub host: Arc<Mutex<Option<HostAdapter>>>,
    pub dma_engine: Arc<Mutex<Option<HostAdapter>>>,
    pub config: RwLock<DeviceConfig>,
    pub stats: RefCell<Stats>,
    pub irq_count: Cell<u32>,
    pub event_log: Rc<RefCell<Vec<Event>>>,
    pub pending: Option<Box<PendingCommand>>,
    selected_channel: usize,
    pub collisions: WrapperCollisions,
}

impl IdeDevice {
    /// The device every fuzz input starts from; the lldb tests expect these values.
    pub fn new_fixture() -> Self {
        let primary = Channel {
            index: 0,
            drives: [
                Some(DiskDrive::HardDevice(HardDrive {
                    serial: "TRIAGE-0001".to_string(),
                    cylinders: 1024,
                    heads: 16,
                    sectors_per_track: 63,
                })),
                None,
            ],
            state: ChannelState::Idle,
            enlightened_write: None,
            last_result: Ok(0x50),
            regs: TaskFile::default(),
        };
        let secondary = Channel {
            index: 1,
            drives: [
                Some(DiskDrive::OpticalDevice(Box::new(AtapiDrive {
                    media: Some(Media::Cd { tracks: 3 }),
                    sense_key: 0,
                }))),
                None,
            ],
            state: ChannelState::Error(0x04),
            enlightened_write: Some(EnlightenedWrite { gpa: 0x1000, len: 512 }),
            last_result: Err(IdeError::NoMedia),
            regs: TaskFile::default(),
        };
        Self {
            name: "ide0".to_string(),
            channels: [primary, secondary],
            bus_master: Arc::new(Mutex::new(BusMaster {
                prd_table: None,
                active: false,
                status: 0x04,
            })),
            host: Arc::new(Mutex::new(Some(HostAdapter {
                name: "pci0".to_string(),
                irq: 14,
            }))),
            dma_engine: Arc::new(Mutex::new(None)),
            config: RwLock::new(DeviceConfig {
                model: "TRIAGE-IDE".to_string(),
                max_sectors: 256,
                pio_only: false,
            }),
            stats: RefCell::new(Stats::default()),
            irq_count: Cell::new(0),
            event_log: Rc::new(RefCell::new(Vec::new())),
            pending: None,
            selected_channel: 0,
            collisions: WrapperCollisions::new_fixture(),
        }
    }

    pub fn handle(&mut self, action: &IdeAction) -> u8 {
        match *action {
            IdeAction::Select { channel, drive } => {
                self.selected_channel = channel as usize;
                let regs = &mut self.channels[self.selected_channel].regs.bytes;
                regs[REG_DEVICE] = (regs[REG_DEVICE] & !0x10) | ((drive as u8) << 4);
                0
            }
            IdeAction::SetSectorCount(n) => {
                self.channels[self.selected_channel].regs.bytes[REG_SECTOR_COUNT] = n;
                0
            }
            IdeAction::SetLba(lba) => {
                let regs = &mut self.channels[self.selected_channel].regs.bytes;
                regs[3..6].copy_from_slice(&lba.to_le_bytes()[..3]);
                0
            }
            IdeAction::Command(cmd) => self.execute_command(cmd),
            IdeAction::ProgramPrd { entries } => {
                let table = (0..entries.max(1))
                    .map(|i| PrdEntry {
                        addr: 0x10_0000 + i as u32 * 0x1000,
                        len: 0x1000,
                        last: i + 1 == entries.max(1),
                    })
                    .collect();
                self.bus_master.lock().unwrap().prd_table = Some(table);
                0
            }
            IdeAction::StartBusMaster => {
                let mut bm = self.bus_master.lock().unwrap();
                if bm.prd_table.is_some() {
                    bm.active = true;
                }
                bm.status
            }
            IdeAction::ReadStatus => {
                if let Some(pending) = self.pending.take() {
                    self.complete(&pending);
                }
                self.status()
            }
            IdeAction::Reset => {
                self.reset();
                0
            }
        }
    }

    fn status(&self) -> u8 {
        match self.channels[self.selected_channel].state {
            ChannelState::Idle => 0x50,
            ChannelState::Busy { .. } => 0x80,
            ChannelState::Error(_) => 0x51,
        }
    }

    fn selected_drive(&self) -> usize {
        (self.channels[self.selected_channel].regs.bytes[REG_DEVICE] >> 4 & 1) as usize
    }

    fn execute_command(&mut self, cmd: AtaCommand) -> u8 {
        let ch = self.selected_channel;
        let opcode = cmd.opcode();
        self.channels[ch].regs.bytes[REG_COMMAND] = opcode;
        self.event_log.borrow_mut().push(Event::Command {
            channel: ch as u8,
            command: opcode,
        });
        self.stats.borrow_mut().commands += 1;

        let drive = self.selected_drive();
        let is_hard_drive = matches!(self.channels[ch].drives[drive], Some(DiskDrive::HardDevice(_)));
        if !is_hard_drive || self.pending.is_some() {
            self.channels[ch].state = ChannelState::Error(0x04);
            return 0x51;
        }
        let count = self.channels[ch].regs.bytes[REG_SECTOR_COUNT];
        let sectors = if count == 0 { 256 } else { count as u32 };
        match cmd {
            AtaCommand::ReadSectors | AtaCommand::WriteSectors => {
                let status = IdeStatus::DRQ | IdeStatus::DSC | IdeStatus::DRDY;
                self.pending = Some(Box::new(PendingCommand {
                    channel: ch as u8,
                    command: opcode,
                    sectors,
                    status,
                }));
                self.channels[ch].state = ChannelState::Busy {
                    command: opcode,
                    remaining: sectors,
                };
                status.bits()
            }
            AtaCommand::ReadDma => {
                self.channels[ch].state = ChannelState::Busy {
                    command: opcode,
                    remaining: sectors,
                };
                self.start_dma(ch);
                self.raise_irq();
                0x50
            }
            AtaCommand::Identify | AtaCommand::Nop | AtaCommand::Other(_) => {
                self.raise_irq();
                0x50
            }
        }
    }

    fn start_dma(&mut self, ch: usize) {
        let bm = self.bus_master.lock().unwrap();
        let taskfile: &[u8] = &self.channels[ch].regs.bytes;
        let remaining = match self.channels[ch].state {
            ChannelState::Busy { remaining, .. } => remaining,
            _ => 0,
        };
        if bm.prd_table.is_none() {
            let drive = taskfile[REG_DEVICE] as u32; let drive = (drive >> 4 & 1) as u8; // shadows on purpose (triage debug picks the inner one)
            panic!("READ DMA without a PRD table: channel {ch} drive {drive} with {remaining} sectors pending"); // BUG(ide-dma-no-prd)
        }
        drop(bm);
        self.channels[ch].state = ChannelState::Idle;
    }

    fn raise_irq(&self) {
        let n = self.irq_count.get().wrapping_add(1);
        self.irq_count.set(n);
        self.event_log.borrow_mut().push(Event::Irq(n));
    }

    fn complete(&self, pending: &PendingCommand) {
        #[allow(unused_variables)] // read by lldb at the panic below
        let status = std::hint::black_box(pending.status);
        let mut stats = self.stats.borrow_mut(); // BUG(ide-stats-borrow)
        stats.commands += 1;
        drop(stats);
        self.event_log.borrow_mut().push(Event::Command {
            channel: pending.channel,
            command: pending.command,
        });
    }

    fn reset(&mut self) {
        let pending = self.pending.take();
        let mut stats = self.stats.borrow_mut();
        stats.resets += 1;
        self.event_log.borrow_mut().push(Event::Reset);
        if let Some(pending) = pending {
            // Completing on reset records into `stats`, which is still borrowed.
            self.complete(&pending);
        }
        drop(stats);
        for channel in &mut self.channels {
            if let ChannelState::Busy { .. } = channel.state {
                channel.state = ChannelState::Idle;
            }
        }
    }
}

bitflags::bitflags! {
    /// The ATA status register, as the guide decodes it by hand (0x58 is
    /// DRQ | DSC | DRDY).
    pub struct IdeStatus: u8 {
        const ERR = 0x01;
        const IDX = 0x02;
        const CORR = 0x04;
        const DRQ = 0x08;
        const DSC = 0x10;
        const DF = 0x20;
        const DRDY = 0x40;
        const BSY = 0x80;
    }
}

/// Device state whose field names are those of std wrappers' own fields
/// (Mutex's `inner` and `data`, Cell's `value`, Arc's `ptr`, atomics' `v`):
/// a path through the wrappers around it must step by the DWARF types,
/// never by name.
#[derive(Debug, Clone, Copy)]
pub struct Shadowing {
    pub inner: u32,
    pub data: u32,
    pub value: u32,
    pub ptr: u32,
    pub v: u32,
}

impl Shadowing {
    const fn numbered(base: u32) -> Self {
        Self { inner: base + 1, data: base + 2, value: base + 3, ptr: base + 4, v: base + 5 }
    }
}

/// `Shadowing` behind each kind of wrapper (10s, 20s, ... tell them apart).
pub struct WrapperCollisions {
    pub arc_mutex: Arc<Mutex<Shadowing>>,
    pub rc_refcell: Rc<RefCell<Shadowing>>,
    pub arc_rwlock: Arc<RwLock<Shadowing>>,
    pub cell: Cell<Shadowing>,
    pub boxed_unsafe: Box<UnsafeCell<Shadowing>>,
    pub closeable: CloseableMutex<Shadowing>,
}

impl WrapperCollisions {
    pub fn new_fixture() -> Self {
        Self {
            arc_mutex: Arc::new(Mutex::new(Shadowing::numbered(10))),
            rc_refcell: Rc::new(RefCell::new(Shadowing::numbered(20))),
            arc_rwlock: Arc::new(RwLock::new(Shadowing::numbered(30))),
            cell: Cell::new(Shadowing::numbered(40)),
            boxed_unsafe: Box::new(UnsafeCell::new(Shadowing::numbered(50))),
            closeable: CloseableMutex::new(Shadowing::numbered(60)),
        }
    }
}
