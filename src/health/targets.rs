//! The targets of one snapshot: what is probed, and who uses it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::{Check, HealthTable, TargetId};

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

    /// The id `key` was given, if it was interned.
    pub fn id_of(&self, key: &TargetKey) -> Option<TargetId> {
        self.index.get(key).copied()
    }

    /// Owned `(id, key)` pairs.
    pub fn to_targets(&self) -> Vec<(TargetId, TargetKey)> {
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

    /// A health table for these targets that keeps, by key, the status and
    /// RTT `old` holds for `old_targets` (a reload: ids may differ between
    /// the two). New keys start in their check's initial state.
    pub fn carry_table(&self, old_targets: &TargetRegistry, old: &HealthTable) -> HealthTable {
        HealthTable::carry_over(old, old_targets, self.iter())
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
