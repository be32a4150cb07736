//! The targets of one snapshot: what is probed, and who uses it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::{Check, HealthTable, Status, TargetId};

/// Identity of a probed target: one probe per unique (address, check).
/// `check: None` is an endpoint nobody probes: always up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetKey {
    pub addr: IpAddr,
    pub check: Option<Arc<Check>>,
}

/// One target as the prober takes it: its cell, its identity, and who
/// uses it (for the state-change log lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTarget {
    pub id: TargetId,
    pub key: TargetKey,
    /// "web-a in example.test pools.web", or "" when unknown.
    pub label: Arc<str>,
}

impl From<(TargetId, TargetKey)> for ProbeTarget {
    /// A target nobody labelled (tests, tools).
    fn from((id, key): (TargetId, TargetKey)) -> Self {
        Self {
            id,
            key,
            label: "".into(),
        }
    }
}

/// Targets of one snapshot, numbered densely from 0 in order of first use,
/// with a label per target saying who uses it.
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

    /// The key of target `id`.
    pub fn get(&self, id: TargetId) -> Option<&TargetKey> {
        self.keys.get(id.0 as usize)
    }

    /// The id `key` was given, if it was interned.
    pub fn id_of(&self, key: &TargetKey) -> Option<TargetId> {
        self.index.get(key).copied()
    }

    /// Owned `(id, key)` pairs (tests compare registries with it).
    #[cfg(test)]
    pub(crate) fn to_targets(&self) -> Vec<(TargetId, TargetKey)> {
        self.iter().map(|(id, k)| (id, k.clone())).collect()
    }

    /// Every target with its label, as [`super::spawn_prober`] and
    /// [`super::Prober::reconcile`] take them.
    pub fn probe_targets(&self) -> Vec<ProbeTarget> {
        self.iter()
            .map(|(id, key)| ProbeTarget {
                id,
                key: key.clone(),
                label: self.label(id).into(),
            })
            .collect()
    }

    /// A health table for these targets, each in its check's initial
    /// state (start-up).
    pub fn fresh_table(&self) -> HealthTable {
        HealthTable::for_targets(self.iter())
    }

    /// A health table for these targets that keeps, by key, the status,
    /// RTT and load `old` holds for `old_targets` (a reload: ids may differ between
    /// the two). New keys start in their check's initial state.
    pub fn carry_table(&self, old_targets: &TargetRegistry, old: &HealthTable) -> HealthTable {
        HealthTable::carry_over(old, old_targets, self.iter())
    }

    pub fn iter(&self) -> impl Iterator<Item = (TargetId, &TargetKey)> {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| (TargetId(i as u32), k))
    }
}

/// Building a table for a snapshot's targets. Here rather than in `table`
/// so the table knows nothing of keys and registries (one-way: targets →
/// table).
impl HealthTable {
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

    /// A table for `new_targets` that keeps, by [`TargetKey`], the status,
    /// RTT and load `old` has for `old_targets` (ids may differ between the two).
    /// New keys start as [`HealthTable::for_targets`] would. A running
    /// [`Prober`](super::Prober) rewrites surviving cells from its own state in
    /// [`Prober::reconcile`](super::Prober::reconcile), so a flip racing with the reload is not lost.
    pub fn carry_over<'a>(
        old: &HealthTable,
        old_targets: &TargetRegistry,
        new_targets: impl IntoIterator<Item = (TargetId, &'a TargetKey)>,
    ) -> Self {
        let new_targets: Vec<_> = new_targets.into_iter().collect();
        let t = Self::for_targets(new_targets.iter().copied());
        // A key whose check was edited takes the state of the removed key
        // with the same address and check name, when that pairing is
        // unique on both sides (as the prober's reconcile does).
        let by_name = |k: &TargetKey| k.check.as_ref().map(|c| (k.addr, c.name.clone()));
        let new_keys: std::collections::HashSet<&TargetKey> =
            new_targets.iter().map(|(_, k)| *k).collect();
        let mut gone: HashMap<_, Option<TargetId>> = HashMap::new();
        for (old_id, key) in old_targets.iter() {
            if let (false, Some(n)) = (new_keys.contains(key), by_name(key)) {
                gone.entry(n)
                    .and_modify(|v| *v = None)
                    .or_insert(Some(old_id));
            }
        }
        let mut fresh: HashMap<_, u32> = HashMap::new();
        for (_, key) in &new_targets {
            if old_targets.id_of(key).is_none()
                && let Some(n) = by_name(key)
            {
                *fresh.entry(n).or_default() += 1;
            }
        }
        for (id, key) in new_targets {
            let old_id = old_targets.id_of(key).or_else(|| {
                let n = by_name(key).filter(|n| fresh.get(n) == Some(&1))?;
                gone.get(&n).copied().flatten()
            });
            if let Some(old_id) = old_id {
                t.set_status(id, old.status(old_id));
                if let Some(rtt) = old.rtt_us(old_id) {
                    t.set_rtt_us(id, rtt);
                }
                t.set_load(id, old.load(old_id));
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {

    use std::net::{IpAddr, Ipv4Addr};
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
        old.set_load(b_old, Some(12.5));

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
            (new.status(b_new), new.rtt_us(b_new), new.load(b_new)),
            (Status::Up, Some(99), Some(12.5))
        );
        assert_eq!(new.load(a_new), None);
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
