//! The targets of one snapshot: what is probed, and who uses it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::{Check, TargetId};

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

    /// Every target's label, in id order.
    pub(super) fn labels(&self) -> impl Iterator<Item = &str> {
        self.labels.iter().map(String::as_str)
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
