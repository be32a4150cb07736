//! The health table: one atomic cell per target, read by the query path
//! without locks, written by the prober. (Operator overrides are per pool
//! member, not per target: [`ForcedCell`](super::overrides::ForcedCell).)

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use crate::words::Words;

/// Index of a probed endpoint in the [`HealthTable`]; handed out when a
/// snapshot is compiled, one per unique (address, check).
///
/// It lives here, below both the policies that read health and the prober
/// that writes it (pingora keeps `Backend` at the root for the same reason).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetId(pub u32);

/// Probe-derived state of one target.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Up,
    Down,
}

impl Status {
    /// `initial_state` in the file; also how logs print a status.
    pub const WORDS: Words<Status> = Words(&[("up", Status::Up), ("down", Status::Down)]);
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::WORDS.word(*self))
    }
}

/// Per-target health cells, written by the prober (status, RTT). Status
/// and RTT only: who uses a target is the registry's business
/// ([`TargetRegistry::label`](super::TargetRegistry::label)), handed to the
/// prober with the targets, and an operator's forced state belongs to each
/// pool member ([`ForcedCell`](super::overrides::ForcedCell)): members of
/// several pools share a target's health, not its overrides.
///
/// One byte per target holds the probed status (bit 0: down) and "up, but
/// its latest probes failed" (bit 1), so the query path reads them with one
/// load.
#[derive(Debug)]
pub struct HealthTable {
    status: Box<[AtomicU8]>,
    /// Smoothed probe response time in microseconds; 0 = unknown.
    rtt_us: Box<[AtomicU32]>,
}

impl HealthTable {
    /// A table of `n` targets, all in `initial` state.
    pub fn new(n: usize, initial: Status) -> Self {
        Self {
            status: (0..n).map(|_| AtomicU8::new(encode(initial))).collect(),
            rtt_us: (0..n).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.status.len()
    }

    pub fn is_empty(&self) -> bool {
        self.status.is_empty()
    }

    /// Current probed status; a target outside the table counts as up
    /// (fail open).
    #[inline]
    pub fn status(&self, id: TargetId) -> Status {
        self.cell(id).status()
    }

    /// Probed status and "failing", read together (one atomic load). A
    /// target outside the table is up.
    #[inline]
    pub fn cell(&self, id: TargetId) -> Cell {
        Cell(
            self.status
                .get(id.0 as usize)
                .map_or(0, |c| c.load(Ordering::Relaxed)),
        )
    }

    #[inline]
    pub fn is_up(&self, id: TargetId) -> bool {
        self.status(id) == Status::Up
    }

    /// Mark `id` as up but with its latest probes failing (on the way
    /// down), or clear that.
    pub fn set_failing(&self, id: TargetId, failing: bool) {
        if let Some(c) = self.status.get(id.0 as usize) {
            if failing {
                c.fetch_or(0b10, Ordering::Relaxed);
            } else {
                c.fetch_and(!0b10, Ordering::Relaxed);
            }
        }
    }

    /// Set the probed status; "failing" is kept.
    pub fn set_status(&self, id: TargetId, s: Status) {
        if let Some(c) = self.status.get(id.0 as usize) {
            match s {
                Status::Up => c.fetch_and(!1, Ordering::Relaxed),
                Status::Down => c.fetch_or(1, Ordering::Relaxed),
            };
        }
    }

    /// Smoothed response time in microseconds, when measured.
    pub fn rtt_us(&self, id: TargetId) -> Option<u32> {
        match self.rtt_us.get(id.0 as usize)?.load(Ordering::Relaxed) {
            0 => None,
            v => Some(v),
        }
    }

    pub fn set_rtt_us(&self, id: TargetId, v: u32) {
        if let Some(c) = self.rtt_us.get(id.0 as usize) {
            c.store(v.max(1), Ordering::Relaxed);
        }
    }
}

/// One target's health cell as read by [`HealthTable::cell`]: the probed
/// status and whether its latest probes failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Cell(u8);

impl Cell {
    /// The bit that decides availability: probed status (1: down).
    pub const DOWN_BIT: u8 = 0b01;
    /// Down (bit 0), or up with its latest probes failing (bit 1).
    pub const FAILING_BITS: u8 = 0b11;

    /// The health check is failing or down.
    #[inline]
    pub fn failing(self) -> bool {
        self.0 & Self::FAILING_BITS != 0
    }

    /// The raw byte: bit 0 down, bit 1 failing.
    #[inline]
    pub fn bits(self) -> u8 {
        self.0
    }

    #[inline]
    pub fn status(self) -> Status {
        decode(self.0)
    }

    #[inline]
    pub fn is_up(self) -> bool {
        self.0 & 1 == 0
    }
}

fn encode(s: Status) -> u8 {
    match s {
        Status::Up => 0,
        Status::Down => 1,
    }
}

fn decode(v: u8) -> Status {
    if v & 1 == 1 { Status::Down } else { Status::Up }
}
