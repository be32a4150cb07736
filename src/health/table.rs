//! The health table: one atomic cell per target, read by the query path
//! without locks and written only by the prober.

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

/// Per-target health cells, written only by the prober. Status and RTT
/// only: who uses a target is the registry's business
/// ([`TargetRegistry::label`](super::TargetRegistry::label)), handed to the prober with the targets.
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

    /// Current status; a target outside the table counts as up (fail open).
    #[inline]
    pub fn status(&self, id: TargetId) -> Status {
        match self.status.get(id.0 as usize) {
            Some(c) => decode(c.load(Ordering::Relaxed)),
            None => Status::Up,
        }
    }

    #[inline]
    pub fn is_up(&self, id: TargetId) -> bool {
        self.status(id) == Status::Up
    }

    pub fn set_status(&self, id: TargetId, s: Status) {
        if let Some(c) = self.status.get(id.0 as usize) {
            c.store(encode(s), Ordering::Relaxed);
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

fn encode(s: Status) -> u8 {
    match s {
        Status::Up => 0,
        Status::Down => 1,
    }
}

fn decode(v: u8) -> Status {
    if v == 1 { Status::Down } else { Status::Up }
}
