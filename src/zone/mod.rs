//! Zones: master files loaded into an immutable, query-ready form.
//!
//! Each [`Zone`] maps lowercased wire names to [`Node`]s. Every ancestor of
//! a name with data exists as a node too (empty non-terminals answer NODATA,
//! not NXDOMAIN). RDATA is encoded once, at load, into wire form with the
//! positions of compressible names recorded, so the query path only copies.
//!
//! The zone rules live here and nowhere else: `lookup` ([`ZoneSet::locate`]:
//! where a name lands — node, wildcard, referral, NXDOMAIN — and
//! [`Zone::attach_balanced`]), and [`name::parse_owner`], the one owner
//! parser. Zone is pure data and lookup: it imports only `diag`.

pub mod load;
mod lookup;
pub mod name;

use std::path::PathBuf;

use hickory_proto::rr::Name;
use rustc_hash::FxHashMap;

pub use load::{LoadOptions, load_zone_file, load_zone_file_with_includes, load_zones_dir};
pub use lookup::{AttachError, Found};

/// RR type codes the engine treats specially.
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const DNAME: u16 = 39;
    pub const OPT: u16 = 41;
    pub const DS: u16 = 43;
    pub const RRSIG: u16 = 46;
    pub const NSEC: u16 = 47;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const ANY: u16 = 255;
}

/// One RDATA in wire form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rdata {
    /// Uncompressed wire RDATA, names in their zone-file case.
    pub wire: Box<[u8]>,
    /// `(start, len)` of each domain name inside `wire` that may be
    /// compressed (RFC 3597 §4: only the RFC 1035 types).
    pub names: Box<[(u16, u16)]>,
}

/// All records of one type at one name.
#[derive(Debug, Clone)]
pub struct Rrset {
    pub rtype: u16,
    pub ttl: u32,
    pub rdatas: Box<[Rdata]>,
    /// Lowercased wire names this RRset points at, in RDATA order: the
    /// target of CNAME, NS, MX, SRV, PTR. Used for CNAME chasing and
    /// additional-section processing.
    pub targets: Box<[Box<[u8]>]>,
}

/// A name in a zone.
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// RRsets sorted by type code.
    pub rrsets: Vec<Rrset>,
    /// NS records below the apex: a delegation point.
    pub cut: bool,
    /// Index into the snapshot's load-balanced names: A/AAAA come from it.
    pub lb: Option<u32>,
}

impl Node {
    pub fn rrset(&self, rtype: u16) -> Option<&Rrset> {
        self.rrsets
            .binary_search_by_key(&rtype, |r| r.rtype)
            .ok()
            .map(|i| &self.rrsets[i])
    }

    /// A node with neither records nor a load-balanced name: an empty
    /// non-terminal.
    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty() && self.lb.is_none()
    }
}

/// One authoritative zone.
#[derive(Debug, Clone)]
pub struct Zone {
    pub origin: Name,
    pub origin_wire: Box<[u8]>,
    pub file: PathBuf,
    pub nodes: FxHashMap<Box<[u8]>, Node>,
    /// TTL of negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    pub neg_ttl: u32,
    /// The SOA serial. Not read yet: the admin status view will show it.
    pub serial: u32,
    /// Position in its [`ZoneSet`] (set by [`ZoneSet::new`]; the query
    /// path counts per zone by it).
    pub index: u32,
}

impl Zone {
    #[inline]
    pub fn apex(&self) -> &Node {
        &self.nodes[&self.origin_wire]
    }

    #[inline]
    pub fn soa(&self) -> &Rrset {
        self.apex()
            .rrset(rtype::SOA)
            .expect("loader guarantees an apex SOA")
    }

    #[inline]
    pub fn node(&self, wire_lower: &[u8]) -> Option<&Node> {
        self.nodes.get(wire_lower)
    }

    /// Insert `wire` and every missing ancestor down to the apex; returns the node.
    pub fn ensure_node(&mut self, wire: &[u8]) -> &mut Node {
        let mut i = 0usize;
        while i < wire.len() && wire[i..].len() > self.origin_wire.len() {
            let suffix = &wire[i..];
            if !self.nodes.contains_key(suffix) {
                self.nodes.insert(suffix.into(), Node::default());
            }
            i += wire[i] as usize + 1;
        }
        self.nodes.entry(wire.into()).or_default()
    }
}

/// Every zone served, found by the most specific origin.
#[derive(Debug, Clone, Default)]
pub struct ZoneSet {
    zones: Vec<Zone>,
    by_origin: FxHashMap<Box<[u8]>, u32>,
}

impl ZoneSet {
    pub fn new(mut zones: Vec<Zone>) -> Self {
        for (i, z) in zones.iter_mut().enumerate() {
            z.index = i as u32;
        }
        let by_origin = zones
            .iter()
            .enumerate()
            .map(|(i, z)| (z.origin_wire.clone(), i as u32))
            .collect();
        Self { zones, by_origin }
    }

    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    pub fn len(&self) -> usize {
        self.zones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The zone with the longest origin that is a suffix of `qname` (lowercase
    /// wire), and the index in `offs` of the label where that origin starts.
    #[inline]
    pub fn find(&self, qname: &[u8], offs: &[u8]) -> Option<(&Zone, usize)> {
        for (k, &o) in offs.iter().enumerate() {
            if let Some(&zi) = self.by_origin.get(&qname[o as usize..]) {
                return Some((&self.zones[zi as usize], k));
            }
        }
        None
    }
}
