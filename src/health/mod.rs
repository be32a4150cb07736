//! Endpoint health: the table the query path reads, and (later) the prober
//! that writes it.
//!
//! The table is a flat array indexed by [`TargetId`], one atomic cell per
//! target, so the query path reads it without locks. Only the prober writes.

use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use crate::policy::TargetId;

/// Probe-derived state of one target.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Up,
    Down,
}

/// Per-target health cells, written only by the prober.
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

pub mod spec;

pub use spec::{CheckSpec, StatusSpec};

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

/// A validated health check, shared by every endpoint that references it.
/// Equality and hashing cover every field, so two pools that name the same
/// address with identical checks share one probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Check {
    /// The check's name in its policy file (for logs only, not identity).
    pub name: String,
    pub spec_debug: String,
}

/// Identity of a probed target: one probe per unique (address, check).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetKey {
    pub addr: IpAddr,
    pub check: Option<Arc<Check>>,
}

/// Targets of one snapshot, numbered densely from 0 in order of first use.
#[derive(Debug, Default)]
pub struct TargetRegistry {
    keys: Vec<TargetKey>,
    index: HashMap<TargetKey, TargetId>,
}

impl TargetRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of `key`, allocating the next one on first use.
    pub fn intern(&mut self, key: TargetKey) -> TargetId {
        if let Some(id) = self.index.get(&key) {
            return *id;
        }
        let id = TargetId(self.keys.len() as u32);
        self.keys.push(key.clone());
        self.index.insert(key, id);
        id
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn get(&self, id: TargetId) -> Option<&TargetKey> {
        self.keys.get(id.0 as usize)
    }

    pub fn iter(&self) -> impl Iterator<Item = (TargetId, &TargetKey)> {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| (TargetId(i as u32), k))
    }
}
