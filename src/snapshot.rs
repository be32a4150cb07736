//! The immutable snapshot of everything served.
//!
//! Config, zones, compiled load-balanced names and the target list compile
//! into one `Snapshot`. Reload builds a new one off the hot path, validates
//! it completely, then swaps it in with one atomic store; on any error the
//! old one keeps serving. The health table hangs off the snapshot (its cells
//! are atomics written only by the prober), so a query can never pair one
//! snapshot's target ids with another's health table.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::health::{HealthTable, TargetRegistry};
use crate::policy::LbName;
use crate::zone::ZoneSet;

/// Answering limits fixed at load time.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Our EDNS UDP payload size: advertised, and the most we send (RFC 6891
    /// §6.2.5; 1232 avoids IP fragmentation, per DNS Flag Day 2020).
    pub udp_payload: u16,
}

impl Default for Limits {
    fn default() -> Self {
        Self { udp_payload: 1232 }
    }
}

#[derive(Debug)]
pub struct Snapshot {
    pub zones: ZoneSet,
    /// Load-balanced names; `zone::Node::lb` indexes into this.
    pub lb: Vec<LbName>,
    pub targets: TargetRegistry,
    pub health: Arc<HealthTable>,
    pub limits: Limits,
    /// The GeoIP database, when configured.
    pub geoip: Option<Arc<crate::geoip::GeoDb>>,
}

impl Snapshot {
    /// A snapshot of static zones only, with no load-balanced names.
    pub fn from_zones(zones: ZoneSet, limits: Limits) -> Self {
        Self {
            zones,
            lb: Vec::new(),
            targets: TargetRegistry::new(),
            health: Arc::new(HealthTable::new(0, crate::health::Status::Up)),
            limits,
            geoip: None,
        }
    }
}

/// The one shared, atomically swapped pointer to the current snapshot.
pub type SharedSnapshot = Arc<ArcSwap<Snapshot>>;
