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

/// Per-target health cells, written by the prober (status, RTT, load
/// figure). Status, RTT and load only: who uses a target is the registry's business
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
    /// The load figure the endpoint reports in its probe responses, as
    /// `f32` bits; [`NO_LOAD`] = none (never reported, or stale).
    load: Box<[AtomicU32]>,
}

/// The bits of a load cell with no figure (a NaN no parser produces).
const NO_LOAD: u32 = u32::MAX;

impl HealthTable {
    /// A table of `n` targets, all in `initial` state.
    pub fn new(n: usize, initial: Status) -> Self {
        Self {
            status: (0..n).map(|_| AtomicU8::new(encode(initial))).collect(),
            rtt_us: (0..n).map(|_| AtomicU32::new(0)).collect(),
            load: (0..n).map(|_| AtomicU32::new(NO_LOAD)).collect(),
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

    /// The load figure `id` reports (connections, or a weight: its
    /// check's [`LoadKind`](super::LoadKind)), when it reports one and has
    /// not gone stale. Never negative or NaN.
    #[inline]
    pub fn load(&self, id: TargetId) -> Option<f32> {
        match self.load.get(id.0 as usize)?.load(Ordering::Relaxed) {
            NO_LOAD => None,
            bits => Some(f32::from_bits(bits)),
        }
    }

    /// Set (or clear with `None`) the load figure of `id`. A negative,
    /// infinite or NaN figure clears it.
    pub fn set_load(&self, id: TargetId, v: Option<f32>) {
        if let Some(c) = self.load.get(id.0 as usize) {
            let bits = match v {
                Some(x) if x.is_finite() && x >= 0.0 => x.to_bits(),
                _ => NO_LOAD,
            };
            c.store(bits, Ordering::Relaxed);
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

    /// This cell, down or failing also when `other` is: two checks of one
    /// endpoint, one health state.
    #[inline]
    pub fn with_failures_of(self, other: Cell) -> Cell {
        Cell(self.0 | (other.0 & Self::FAILING_BITS))
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
