//! Zones: master files loaded into an immutable, query-ready form.
//!
//! Each [`Zone`] maps lowercased wire names to [`Node`]s. Every ancestor of
//! a name with data exists as a node too (empty non-terminals answer NODATA,
//! not NXDOMAIN). RDATA is encoded once, at load, into wire form with the
//! positions of compressible names recorded, so the query path only copies.
//! A zone is held in a few large blocks (`store`: names and RDATA in one
//! byte arena, fixed-size node and RRset records, a hash table of `u32`
//! indices); [`Node`], [`Rrset`] and [`Rdata`] are `Copy` views into it.
//!
//! The zone rules live here and nowhere else: `lookup` ([`ZoneSet::locate`]:
//! where a name lands — node, wildcard, referral, NXDOMAIN — and
//! [`Zone::attach_balanced`]), and [`name::parse_owner`], the one owner
//! parser. Zone is pure data and lookup: it imports only `diag`.

pub mod assemble;
pub mod dump;
pub mod encoding;
pub mod lexer;
pub mod load;
mod lookup;
pub mod mnemonics;
pub mod name;
pub mod present;
pub mod rdata;
pub mod records;
mod store;

use std::path::PathBuf;

use hickory_proto::rr::Name;
use rustc_hash::FxHashMap;

pub use load::{LoadOptions, ZoneFile, load_zone_file, load_zone_files};
pub use lookup::{AttachError, Found};
pub use records::Limits;
pub use store::{Node, Rdata, Rdatas, Rrset, StoreError, has_target};

/// RR type codes the engine treats specially.
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const HINFO: u16 = 13;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const DNAME: u16 = 39;
    pub const OPT: u16 = 41;
    pub const DS: u16 = 43;
    pub const RRSIG: u16 = 46;
    pub const NSEC: u16 = 47;
    pub const TKEY: u16 = 249;
    pub const TSIG: u16 = 250;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const ANY: u16 = 255;
}

/// One authoritative zone: its names and records in a few large blocks
/// (see [`store`]), read through [`Node`], [`Rrset`] and [`Rdata`] views.
#[derive(Debug, Clone)]
pub struct Zone {
    pub origin: Name,
    pub origin_wire: Box<[u8]>,
    pub file: PathBuf,
    /// TTL of negative answers: min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
    pub neg_ttl: u32,
    /// The SOA serial (shown by the admin API's status).
    pub serial: u32,
    /// Position in its [`ZoneSet`] (set by [`ZoneSet::new`]; the query
    /// path counts per zone by it).
    pub index: u32,
    store: store::Store,
}

impl Zone {
    #[inline(always)]
    pub fn apex(&self) -> Node<'_> {
        self.store.apex()
    }

    pub fn soa(&self) -> Rrset<'_> {
        self.apex()
            .rrset(rtype::SOA)
            .expect("loader guarantees an apex SOA")
    }

    /// The node of `wire_lower` (lowercase uncompressed wire), if any.
    #[inline(always)]
    pub fn node(&self, wire_lower: &[u8]) -> Option<Node<'_>> {
        self.store.node(wire_lower)
    }

    /// Every node (empty non-terminals included), in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = Node<'_>> {
        self.store.nodes()
    }

    /// How many names (empty non-terminals included).
    pub fn node_count(&self) -> usize {
        self.store.len()
    }

    /// Bytes the zone's storage holds (capacity of its blocks).
    pub fn heap_bytes(&self) -> usize {
        self.store.heap_bytes()
    }

    /// Make `wire` (lowercase, in the zone) answer A/AAAA from the
    /// load-balanced name `lb`, creating it and its empty non-terminals.
    fn set_lb(&mut self, wire: &[u8], lb: u32) {
        self.store.set_lb(wire, self.origin_wire.len(), lb);
    }

    /// Point the load-balanced name at `wire` (a node that has one) to
    /// index `lb` of another snapshot's names: a reload keeping this zone
    /// from the previous snapshot renumbers its names.
    pub fn renumber_balanced(&mut self, wire: &[u8], lb: u32) {
        self.set_lb(wire, lb);
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
