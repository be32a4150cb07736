//! Endpoint health: the table the query path reads, and the prober that
//! writes it.
//!
//! The table is a flat array indexed by [`TargetId`], one atomic cell per
//! target, so the query path reads it without locks. Only the prober writes.
//!
//! - [`check`]: `[checks.NAME]` validated into a [`Check`] ([`validate_check`]).
//! - [`state`]: the pure rise/fall state machine.
//! - [`probe`]: one HTTP(S) or TCP probe.
//! - [`prober`]: tasks, scheduling, watchdog and reload ([`spawn_prober`]).
//! - [`clock`]: injected time, so timing tests run on virtual time.

pub mod check;
pub mod clock;
pub mod overrides;
pub mod probe;
pub mod prober;
pub mod spec;
pub mod state;
#[cfg(test)]
mod testutil;

pub use check::{Check, CheckKind, HttpCheck, HttpMethod, StatusSet, TlsCheck, validate_check};
pub use overrides::{Forced, Overrides};
pub use probe::{NetProbe, Probe, ProbeError, Success};
pub use prober::{Prober, ProberError, ProberOptions, TargetReport, spawn_prober};
pub use spec::{CheckSpec, StatusSpec};

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use crate::policy::TargetId;

/// Probe-derived state of one target.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Up,
    Down,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Up => "up",
            Status::Down => "down",
        })
    }
}

/// Per-target health cells, written by the prober (status, RTT) and by
/// operator overrides (forced state, [`Overrides`]).
///
/// One byte per target holds both the probed status (bit 0: down) and the
/// forced state (bits 1-2: none, up, down, drain), so the query path reads
/// both with one load; each writer changes only its own bits.
#[derive(Debug)]
pub struct HealthTable {
    status: Box<[AtomicU8]>,
    /// Smoothed probe response time in microseconds; 0 = unknown.
    rtt_us: Box<[AtomicU32]>,
    /// Who uses each target ("web-a in example.test pools.web"), for logs.
    labels: Box<[Box<str>]>,
}

impl HealthTable {
    /// A table of `n` targets, all in `initial` state.
    pub fn new(n: usize, initial: Status) -> Self {
        Self {
            status: (0..n).map(|_| AtomicU8::new(encode(initial))).collect(),
            rtt_us: (0..n).map(|_| AtomicU32::new(0)).collect(),
            labels: Box::new([]),
        }
    }

    /// Attach the registry's usage labels (for state-change logs).
    pub fn with_labels(mut self, targets: &TargetRegistry) -> Self {
        self.labels = targets.labels.iter().map(|l| l.as_str().into()).collect();
        self
    }

    /// Who uses target `id`, or "" when unknown.
    pub fn label(&self, id: TargetId) -> &str {
        self.labels.get(id.0 as usize).map_or("", |l| l)
    }

    /// A table for `targets`, each in its check's `initial_state`; targets
    /// without a check are up. Sized to the largest id.
    pub fn for_targets<'a>(targets: impl IntoIterator<Item = (TargetId, &'a TargetKey)>) -> Self {
        let targets: Vec<_> = targets.into_iter().collect();
        let n = targets.iter().map(|(id, _)| id.0 as usize + 1).max();
        let t = Self::new(n.unwrap_or(0), Status::Up);
        for (id, key) in targets {
            if let Some(c) = &key.check {
                t.set_status(id, c.initial_state);
            }
        }
        t
    }

    /// A table for `new_targets` that keeps, by [`TargetKey`], the status
    /// and RTT `old` has for `old_targets` (ids may differ between the two).
    /// New keys start as [`HealthTable::for_targets`] would. A running
    /// [`Prober`] rewrites surviving cells from its own state in
    /// [`Prober::reconcile`], so a flip racing with the reload is not lost.
    pub fn carry_over<'a>(
        old: &HealthTable,
        old_targets: &TargetRegistry,
        new_targets: impl IntoIterator<Item = (TargetId, &'a TargetKey)>,
    ) -> Self {
        let new_targets: Vec<_> = new_targets.into_iter().collect();
        let t = Self::for_targets(new_targets.iter().copied());
        for (id, key) in new_targets {
            if let Some(old_id) = old_targets.id_of(key) {
                t.set_status(id, old.status(old_id));
                if let Some(rtt) = old.rtt_us(old_id) {
                    t.set_rtt_us(id, rtt);
                }
            }
        }
        t
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

    /// Probed status and forced state, read together (one atomic load).
    /// A target outside the table is up and not forced.
    #[inline]
    pub fn cell(&self, id: TargetId) -> Cell {
        Cell(
            self.status
                .get(id.0 as usize)
                .map_or(0, |c| c.load(Ordering::Relaxed)),
        )
    }

    /// The operator's forced state of `id`, if any.
    pub fn forced(&self, id: TargetId) -> Option<Forced> {
        self.cell(id).forced()
    }

    /// Force `id` (or clear with `None`); the probed status is kept.
    pub fn set_forced(&self, id: TargetId, f: Option<Forced>) {
        if let Some(c) = self.status.get(id.0 as usize) {
            let bits = Forced::encode(f) << 1;
            let _ = c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some((v & 1) | bits)
            });
        }
    }

    #[inline]
    pub fn is_up(&self, id: TargetId) -> bool {
        self.status(id) == Status::Up
    }

    /// Set the probed status; the forced state is kept.
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
/// status and the forced state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Cell(u8);

impl Cell {
    #[inline]
    pub fn status(self) -> Status {
        decode(self.0)
    }

    #[inline]
    pub fn is_up(self) -> bool {
        self.0 & 1 == 0
    }

    /// True when an operator override is in force (cheaper than
    /// [`Cell::forced`] on the query path).
    #[inline]
    pub fn is_forced(self) -> bool {
        self.0 > 1
    }

    /// Up as far as `mask` cares: `mask` 1 reads the probed status, 0
    /// ignores it (failing open). One AND on the query path.
    #[inline]
    pub fn up_under(self, mask: u8) -> bool {
        self.0 & mask & 1 == 0
    }

    #[inline]
    pub fn forced(self) -> Option<Forced> {
        Forced::decode(self.0 >> 1)
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

/// Identity of a probed target: one probe per unique (address, check).
/// `check: None` is an endpoint nobody probes: always up.
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
    labels: Vec<String>,
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
        self.labels.push(String::new());
        self.index.insert(key, id);
        id
    }

    /// Record that `what` (an endpoint in a pool) uses target `id`.
    pub fn note_use(&mut self, id: TargetId, what: &str) {
        if let Some(l) = self.labels.get_mut(id.0 as usize) {
            // Keep log lines bounded when one target serves many pools.
            if l.len() < 200 {
                if !l.is_empty() {
                    l.push_str(", ");
                }
                l.push_str(what);
            }
        }
    }

    /// Who uses target `id`, as noted.
    pub fn label(&self, id: TargetId) -> &str {
        self.labels.get(id.0 as usize).map_or("", String::as_str)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The id `key` was given, if it was interned.
    pub fn id_of(&self, key: &TargetKey) -> Option<TargetId> {
        self.index.get(key).copied()
    }

    /// Owned `(id, key)` pairs, as [`spawn_prober`] and
    /// [`Prober::reconcile`] take them.
    pub fn to_targets(&self) -> Vec<(TargetId, TargetKey)> {
        self.iter().map(|(id, k)| (id, k.clone())).collect()
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

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::health::testutil::{check, key};

    fn k(i: u8, initial: Status) -> TargetKey {
        let mut c = check(CheckKind::Tcp, 9);
        c.initial_state = initial;
        key(IpAddr::V4(Ipv4Addr::new(192, 0, 2, i)), c)
    }

    #[test]
    fn for_targets_uses_each_checks_initial_state() {
        let unchecked = TargetKey {
            addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
            check: None,
        };
        let mut reg = TargetRegistry::new();
        let a = reg.intern(k(1, Status::Down));
        let b = reg.intern(k(2, Status::Up));
        let c = reg.intern(unchecked);
        let t = HealthTable::for_targets(reg.iter());
        assert_eq!(t.len(), 3);
        assert_eq!(t.status(a), Status::Down);
        assert_eq!(t.status(b), Status::Up);
        assert_eq!(t.status(c), Status::Up);
        assert_eq!(t.rtt_us(a), None);
    }

    #[test]
    fn carry_over_follows_keys_not_ids() {
        let (a, b, c) = (k(1, Status::Up), k(2, Status::Up), k(3, Status::Down));
        let mut old_reg = TargetRegistry::new();
        let a_old = old_reg.intern(a.clone());
        let b_old = old_reg.intern(b.clone());
        let old = HealthTable::for_targets(old_reg.iter());
        old.set_status(a_old, Status::Down);
        old.set_rtt_us(a_old, 1234);
        old.set_rtt_us(b_old, 99);

        let mut new_reg = TargetRegistry::new();
        let c_new = new_reg.intern(c);
        let b_new = new_reg.intern(b);
        let a_new = new_reg.intern(a);
        assert_ne!(a_new, a_old);
        let new = HealthTable::carry_over(&old, &old_reg, new_reg.iter());
        assert_eq!(new.len(), 3);
        assert_eq!(
            (new.status(a_new), new.rtt_us(a_new)),
            (Status::Down, Some(1234))
        );
        assert_eq!(
            (new.status(b_new), new.rtt_us(b_new)),
            (Status::Up, Some(99))
        );
        // New key: its check's initial state, nothing measured.
        assert_eq!((new.status(c_new), new.rtt_us(c_new)), (Status::Down, None));
    }

    #[test]
    fn registry_dedups_by_key_ignoring_the_check_name() {
        let mut reg = TargetRegistry::new();
        let a = k(1, Status::Up);
        let mut renamed = (**a.check.as_ref().unwrap()).clone();
        renamed.name = "other".into();
        let same = TargetKey {
            addr: a.addr,
            check: Some(Arc::new(renamed)),
        };
        let id = reg.intern(a.clone());
        assert_eq!(reg.intern(same), id);
        assert_eq!(reg.id_of(&a), Some(id));
        assert_eq!(reg.to_targets(), vec![(id, a)]);
    }
}
