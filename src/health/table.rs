//! The health table: one atomic cell per target, read by the query path
//! without locks and written only by the prober.

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use super::{TargetKey, TargetRegistry};
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
/// ([`TargetRegistry::label`]), handed to the prober with the targets.
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

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use std::net::IpAddr;
    use std::sync::Arc;

    use super::*;
    use crate::health::testutil::{check, key};
    use crate::health::{CheckKind, TargetKey, TargetRegistry};

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
