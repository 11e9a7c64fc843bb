//! A battery device driven by structured actions (an `Arbitrary` input).

use arbitrary::Arbitrary;

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Query {
    ChargeLevel,
    Status,
    RemainingMinutes,
}

#[derive(Arbitrary, Debug, Clone)]
pub enum BatteryAction {
    Attach { design_mwh: u16 },
    Detach,
    Charge(u16),
    Discharge(u16),
    ProgramRateTable([u16; 4]),
    Query(Query),
}

#[derive(Debug)]
pub struct Pack {
    pub design_mwh: u32,
    pub remaining_mwh: u32,
}

#[derive(Debug, Default)]
pub struct Battery {
    pack: Option<Pack>,
    rate_table: Option<[u16; 4]>,
    /// Remaining capacity samples, newest last.
    history: Vec<u32>,
    reports: u32,
}

impl Battery {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn handle(&mut self, action: &BatteryAction) -> u32 {
        match action {
            BatteryAction::Attach { design_mwh } => {
                let design = (*design_mwh as u32).max(1);
                self.pack = Some(Pack {
                    design_mwh: design,
                    remaining_mwh: design / 2,
                });
                self.sample();
                0
            }
            BatteryAction::Detach => {
                self.pack = None;
                0
            }
            BatteryAction::Charge(mwh) => {
                if let Some(pack) = self.pack.as_mut() {
                    pack.remaining_mwh = pack.remaining_mwh.saturating_add(*mwh as u32).min(pack.design_mwh);
                    self.sample();
                }
                0
            }
            BatteryAction::Discharge(mwh) => {
                if let Some(pack) = self.pack.as_mut() {
                    pack.remaining_mwh = pack.remaining_mwh.saturating_sub(*mwh as u32);
                    self.sample();
                }
                0
            }
            BatteryAction::ProgramRateTable(table) => {
                self.rate_table = Some(*table);
                0
            }
            BatteryAction::Query(Query::ChargeLevel) => self.charge_level(),
            BatteryAction::Query(Query::Status) => self.report_status(),
            BatteryAction::Query(Query::RemainingMinutes) => self.remaining_minutes(),
        }
    }

    fn sample(&mut self) {
        if let Some(pack) = &self.pack {
            if self.history.len() >= 16 {
                self.history.remove(0);
            }
            self.history.push(pack.remaining_mwh);
        }
    }

    /// Percent charged. Assumes a pack is attached.
    fn charge_level(&self) -> u32 {
        let pack = self.pack.as_ref().unwrap(); // BUG(battery-unwrap-pack)
        pack.remaining_mwh * 100 / pack.design_mwh
    }

    /// The newest sample, for the status report. Assumes one was taken, which
    /// is true only until the first detach-and-query with an empty history.
    fn report_status(&mut self) -> u32 {
        self.reports += 1;
        if self.reports > 1 {
            let newest = self.history.last().copied().unwrap(); // BUG(battery-unwrap-history)
            return newest;
        }
        0
    }

    fn remaining_minutes(&self) -> u32 {
        let Some(pack) = &self.pack else { return 0 };
        let table = self
            .rate_table
            .expect("battery rate table must be programmed before a runtime query"); // BUG(battery-expect-rate)
        let rate = table.iter().map(|&r| r as u32).max().unwrap_or(0).max(1);
        pack.remaining_mwh * 60 / rate
    }
}
