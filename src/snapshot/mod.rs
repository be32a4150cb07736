//! The immutable snapshot of everything served.
//!
//! Settings, zones, compiled load-balanced names and the target list
//! compile into one [`Snapshot`] ([`build`]). A reload builds a new one off
//! the hot path from the files and the previous snapshot (for health), then
//! swaps it in with one atomic store; on any error the old one keeps
//! serving. The health table hangs off the snapshot (its cells are atomics
//! written only by the prober), so a query can never pair one snapshot's
//! target ids with another's health table.
//!
//! [`SnapshotCell`] is read by everyone and written through the one
//! [`SnapshotWriter`] made with it, which the reloader (`app::reload`) owns
//! (routinator's `SharedHistory`: public read, one writer).

mod build;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::{ArcSwap, Guard};

use crate::diag::Diagnostic;
use crate::health::{HealthTable, TargetRegistry};
use crate::policy::BalancedName;
use crate::zone::{Zone, ZoneSet};

pub use build::{build, build_cancellable};

/// Answering limits fixed at load time (so a reload changes them).
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

/// Where a load-balanced name was declared: its policy file, the line and
/// column of its `[names.X]` table, and its key (`names.X`). For messages
/// about the compiled name found after loading (`dnslb check` warnings).
#[derive(Debug, Clone)]
pub struct Declared {
    pub file: std::path::PathBuf,
    pub line: u32,
    pub col: u32,
    pub key: String,
}

impl std::fmt::Display for Declared {
    /// `FILE:LINE:COL: names.X`, the diagnostics' prefix.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.col,
            self.key
        )
    }
}

/// Everything one query is answered from.
#[derive(Debug)]
pub struct Snapshot {
    pub zones: ZoneSet,
    /// Load-balanced names; `zone::Node::lb` indexes into this.
    pub lb: Vec<BalancedName>,
    /// Where each of `lb` was declared (same index); empty for snapshots
    /// built in code.
    pub declared: Vec<Declared>,
    pub targets: TargetRegistry,
    pub health: Arc<HealthTable>,
    pub limits: Limits,
    /// The GeoIP database, when configured. Opened (and so checked) on
    /// every load; the engine locates clients in it (after the name's
    /// custom networks) for names whose order needs a location.
    pub geoip: Option<Arc<crate::geoip::GeoDb>>,
    /// Counters the query path bumps, indexed like `zones` and `lb`.
    pub counters: crate::metrics::SnapshotCounters,
    /// Every file this snapshot was read from: what a reload watches.
    pub sources: Sources,
    /// Every zone file of the zones directory and how its last load went,
    /// in file name order (zones that failed included).
    pub zone_status: Vec<ZoneStatus>,
    /// Problems of the last load that belong to no zone (a policy file
    /// without its zone file, a GeoIP database that would not open).
    pub errors: Vec<Diagnostic>,
}

impl Snapshot {
    /// The zone loaded from the zone file `file`, if it is served.
    pub fn zone_by_file(&self, file: &Path) -> Option<&Zone> {
        self.zones.zones().iter().find(|z| z.file == file)
    }

    /// Problems found by the load that built this snapshot, zone and
    /// otherwise.
    pub fn problems(&self) -> impl Iterator<Item = &Diagnostic> {
        (self.zone_status.iter().flat_map(|z| z.errors.iter())).chain(self.errors.iter())
    }
}

/// The files a snapshot was built from, as absolute paths (symbolic links
/// not resolved): a change to any of them, or a new zone or policy file in
/// one of `dirs`, is a reason to reload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// Zone files, `$INCLUDE`s (also missing ones), policy files, the nets
    /// files they name (also missing ones), the GeoIP database.
    pub files: BTreeSet<PathBuf>,
    /// The zones directory (new `*.zone` and `*.toml` files).
    pub dirs: BTreeSet<PathBuf>,
}

/// How a zone file fared in the load that built the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    /// Its files are clean and what they say is served.
    Loaded,
    /// Its files have errors; the version of the previous snapshot is
    /// still served.
    Previous,
    /// Its files have errors and there is no earlier version: not served
    /// (tried again on the next reload).
    Failed,
}

impl ZoneState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loaded => "loaded",
            Self::Previous => "previous",
            Self::Failed => "failed",
        }
    }
}

/// One zone file of the zones directory.
#[derive(Debug, Clone)]
pub struct ZoneStatus {
    /// The zone file (`NAME.zone`).
    pub file: PathBuf,
    /// The zone it holds (`NAME.`), from the file name; empty when the
    /// file name is not a valid zone name.
    pub origin: String,
    pub state: ZoneState,
    /// Problems in the zone file, its `$INCLUDE`s, its policy file or the
    /// policy file's nets file.
    pub errors: Vec<Diagnostic>,
}

/// The current snapshot, swapped atomically. Readers call [`load`]
/// (lock-free, once per query or batch); the only way to change it is the
/// [`SnapshotWriter`] returned with it by [`SnapshotCell::new`].
///
/// [`load`]: SnapshotCell::load
#[derive(Debug)]
pub struct SnapshotCell(ArcSwap<Snapshot>);

/// The shared handle every listener holds.
pub type SharedSnapshot = Arc<SnapshotCell>;

impl SnapshotCell {
    /// A cell holding `first`, and the one writer for it.
    pub fn new(first: Snapshot) -> (SharedSnapshot, SnapshotWriter) {
        let cell = Arc::new(SnapshotCell(ArcSwap::from_pointee(first)));
        (cell.clone(), SnapshotWriter(cell))
    }

    /// The current snapshot, for the duration of one query or batch.
    #[inline]
    pub fn load(&self) -> Guard<Arc<Snapshot>> {
        self.0.load()
    }

    /// The current snapshot, to keep beyond one query (a reload's base).
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }
}

/// The right to replace the snapshot. Not `Clone`: whoever owns it is the
/// single writer (the reloader).
#[derive(Debug)]
pub struct SnapshotWriter(SharedSnapshot);

impl SnapshotWriter {
    /// Make `next` the snapshot every following query sees.
    pub fn replace(&self, next: Arc<Snapshot>) {
        self.0.0.store(next);
    }

    /// The cell this writer writes.
    pub fn cell(&self) -> &SharedSnapshot {
        &self.0
    }
}
