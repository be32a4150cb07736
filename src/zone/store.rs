//! How a zone is held in memory: a few large blocks, not an object per
//! name and record.
//!
//! A zone of 1,000,000 records held as `FxHashMap<Box<[u8]>, Node>` with a
//! `Vec` of RRsets per node and boxed wire, name positions and targets per
//! RDATA took 324 bytes per record resident, and every reload left more
//! behind (glibc kept the freed small blocks: 316 MB, then 628, then 925 MB
//! after two reloads; docs/PERFORMANCE.md). Here a zone is:
//!
//! - `bytes`: every owner name (lowercase uncompressed wire) and every
//!   RDATA entry, back to back;
//! - `nodes`: a hash table of one 16-byte [`NodeRec`] per name (empty
//!   non-terminals too), hashed (FxHash) by owner name and compared
//!   against `bytes` (hashbrown's `HashTable`: the keys live in `bytes`);
//! - `sets`: one 12-byte [`SetRec`] per RRset; a node's RRsets are
//!   contiguous and in type order.
//!
//! An RDATA entry is `len: u16`, `n: u8`, `n` × (`start: u16`, `len: u16`)
//! for its compressible names (RFC 3597 §4: the RFC 1035 types), the wire
//! RDATA (names in their zone-file case), and, for types with a target
//! (NS, CNAME, PTR, MX, SRV; see [`has_target`]), the target's length
//! (`u8`, 0 when the RDATA holds no valid name) and a flag (`u8`): 0 when
//! the name in the wire is lowercase already and serves as the target, 1
//! when a lowercase copy of that many bytes follows. Integers are
//! little-endian.
//!
//! The query path gets small `Copy` views ([`Node`], [`Rrset`], [`Rdata`])
//! borrowing from the zone; nothing is allocated to answer.

use std::hash::Hasher as _;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

use super::rtype;

/// Marks "no load-balanced name" in [`NodeRec::lb`].
const NO_LB: u32 = u32::MAX;

/// One name of the zone.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NodeRec {
    /// Offset of the lowercase wire owner in `bytes`.
    name: u32,
    name_len: u8,
    /// NS records below the apex: a delegation point.
    cut: bool,
    /// How many RRsets, from `sets[first]`.
    nsets: u16,
    first: u32,
    /// Index into the snapshot's load-balanced names, or [`NO_LB`].
    lb: u32,
}

/// One RRset.
#[derive(Debug, Clone, Copy)]
pub(super) struct SetRec {
    rtype: u16,
    /// RDATA entries, from `bytes[data]` on.
    count: u16,
    ttl: u32,
    data: u32,
}

/// The storage of one zone (see the module doc). Built by [`StoreBuilder`],
/// read through [`Node`], [`Rrset`] and [`Rdata`].
#[derive(Debug, Clone, Default)]
pub(super) struct Store {
    bytes: Vec<u8>,
    nodes: HashTable<NodeRec>,
    sets: Vec<SetRec>,
    /// A copy of the apex's record (its name is the first bytes of
    /// `bytes`): every query starts there, so it costs no hash lookup.
    apex: NodeRec,
}

/// Types whose RDATA names a target (CNAME chasing, additional data).
pub fn has_target(t: u16) -> bool {
    target_at(t).is_some()
}

/// Where the target name starts in the RDATA of type `t`.
#[inline(always)]
fn target_at(t: u16) -> Option<usize> {
    match t {
        rtype::NS | rtype::CNAME | rtype::PTR => Some(0),
        rtype::MX => Some(2),
        rtype::SRV => Some(6),
        _ => None,
    }
}

#[inline(always)]
fn hash(name: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(name);
    h.finish()
}

#[inline(always)]
fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

#[inline(always)]
fn name_in<'b>(bytes: &'b [u8], n: &NodeRec) -> &'b [u8] {
    &bytes[n.name as usize..][..n.name_len as usize]
}

impl Store {
    /// The node of `name` (lowercase wire).
    #[inline(always)]
    fn find(&self, name: &[u8]) -> Option<&NodeRec> {
        let bytes = &self.bytes[..];
        self.nodes.find(hash(name), |n| {
            n.name_len as usize == name.len() && name_in(bytes, n) == name
        })
    }

    /// The apex.
    #[inline(always)]
    pub(super) fn apex(&self) -> Node<'_> {
        Node {
            store: self,
            rec: &self.apex,
        }
    }

    /// Refresh the copy of the apex's record.
    fn copy_apex(&mut self) {
        let name = &self.bytes[..self.apex.name_len as usize];
        if let Some(rec) = self.find(name) {
            self.apex = *rec;
        }
    }

    #[inline(always)]
    pub(super) fn node(&self, name: &[u8]) -> Option<Node<'_>> {
        let rec = self.find(name)?;
        Some(Node { store: self, rec })
    }

    /// Every node, in no particular order.
    pub(super) fn nodes(&self) -> impl Iterator<Item = Node<'_>> {
        self.nodes.iter().map(move |rec| Node { store: self, rec })
    }

    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// The node of `name` (lowercase wire, inside the zone whose apex is
    /// `apex_len` bytes long), created with its missing ancestors as empty
    /// nodes if need be.
    pub(super) fn ensure(&mut self, name: &[u8], apex_len: usize) -> &mut NodeRec {
        if self.find(name).is_none() {
            // Ancestors first, so a parent always exists before its child.
            let next = name[0] as usize + 1;
            if name.len() > apex_len && next < name.len() {
                self.ensure(&name[next..], apex_len);
            }
            let off = self.bytes.len() as u32;
            self.bytes.extend_from_slice(name);
            let rec = NodeRec {
                name: off,
                name_len: name.len() as u8,
                cut: false,
                nsets: 0,
                first: 0,
                lb: NO_LB,
            };
            let bytes = &self.bytes;
            self.nodes
                .insert_unique(hash(name), rec, |n| hash(name_in(bytes, n)));
        }
        let bytes = &self.bytes[..];
        self.nodes
            .find_mut(hash(name), |n| name_in(bytes, n) == name)
            .expect("inserted above")
    }

    /// Make `name` (created as in [`Store::ensure`]) answer A/AAAA from
    /// the load-balanced name `lb`.
    pub(super) fn set_lb(&mut self, name: &[u8], apex_len: usize, lb: u32) {
        self.ensure(name, apex_len).lb = lb;
        if name.len() == apex_len {
            self.copy_apex();
        }
    }

    /// Give back what growing left unused.
    fn shrink(&mut self) {
        self.bytes.shrink_to_fit();
        self.sets.shrink_to_fit();
        let bytes = &self.bytes;
        self.nodes.shrink_to_fit(|n| hash(name_in(bytes, n)));
    }

    /// Bytes held by the three blocks (their capacity), for the load log.
    pub(super) fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.nodes.capacity() * (std::mem::size_of::<NodeRec>() + 1)
            + self.sets.capacity() * std::mem::size_of::<SetRec>()
    }
}

/// Fills a [`Store`]: nodes in any order, but all RRsets of one owner
/// one after the other (the loader sorts records by owner, then type).
#[derive(Debug)]
pub(super) struct StoreBuilder {
    store: Store,
    apex_len: usize,
    /// Offset and length of the owner receiving RRsets, and the type of
    /// its last one.
    open: Option<(u32, u8, u16)>,
}

/// Why an RRset could not be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The zone's storage passed 4 GiB (offsets are 32 bits).
    TooLarge,
    /// More than 65,535 records in one RRset.
    TooManyRecords,
    /// More than 65,535 RRsets at one name.
    TooManyTypes,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TooLarge => "the zone is larger than 4 GiB in memory",
            Self::TooManyRecords => "more than 65535 records in one RRset",
            Self::TooManyTypes => "more than 65535 RRsets at one name",
        })
    }
}

impl StoreBuilder {
    /// A store with the apex `apex` (lowercase wire) as node 0.
    pub(super) fn new(apex: &[u8]) -> Self {
        let mut store = Store::default();
        store.ensure(apex, apex.len());
        store.apex.name_len = apex.len() as u8;
        Self {
            store,
            apex_len: apex.len(),
            open: None,
        }
    }

    /// Add the RRset `rtype` at `owner` (lowercase wire, in the zone): its
    /// TTL and RDATA entries as (wire, compressible name positions: 4 bytes
    /// each, start and length as u16 LE). Sets of one owner come one after
    /// the other, types ascending.
    pub(super) fn add_set<'a>(
        &mut self,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        rdatas: impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<(), StoreError> {
        let count = u16::try_from(rdatas.len()).map_err(|_| StoreError::TooManyRecords)?;
        if let Some((at, len, last)) = self.open
            && &self.store.bytes[at as usize..][..len as usize] == owner
        {
            debug_assert!(last < rtype, "RRsets of one owner in type order");
        }
        let data = self.store.bytes.len();
        for (wire, names) in rdatas {
            self.push_rdata(rtype, wire, names)?;
        }
        if self.store.sets.len() >= u32::MAX as usize {
            return Err(StoreError::TooLarge);
        }
        let set = self.store.sets.len() as u32;
        self.store.sets.push(SetRec {
            rtype,
            count,
            ttl,
            data: u32::try_from(data).map_err(|_| StoreError::TooLarge)?,
        });
        let rec = self.store.ensure(owner, self.apex_len);
        if rec.nsets == 0 {
            rec.first = set;
        }
        // One set per type: at most 65,536 (TYPE0..TYPE65535).
        rec.nsets = rec.nsets.checked_add(1).ok_or(StoreError::TooManyTypes)?;
        self.open = Some((rec.name, rec.name_len, rtype));
        Ok(())
    }

    fn push_rdata(&mut self, t: u16, wire: &[u8], names: &[u8]) -> Result<(), StoreError> {
        let b = &mut self.store.bytes;
        let len = u16::try_from(wire.len()).map_err(|_| StoreError::TooLarge)?;
        b.extend_from_slice(&len.to_le_bytes());
        b.push((names.len() / 4) as u8);
        b.extend_from_slice(names);
        b.extend_from_slice(wire);
        if let Some(at) = target_at(t) {
            let n = wire
                .get(at..)
                .and_then(super::name::wire_name_len)
                .unwrap_or(0);
            let name = &wire[at.min(wire.len())..at.min(wire.len()) + n];
            let lower = !name.iter().any(u8::is_ascii_uppercase);
            b.push(n as u8);
            b.push(u8::from(!lower));
            if !lower {
                b.extend(name.iter().map(u8::to_ascii_lowercase));
            }
        }
        if b.len() > u32::MAX as usize {
            return Err(StoreError::TooLarge);
        }
        Ok(())
    }

    /// Mark `owner` a delegation point.
    pub(super) fn set_cut(&mut self, owner: &[u8]) {
        self.store.ensure(owner, self.apex_len).cut = true;
    }

    pub(super) fn finish(mut self) -> Store {
        self.store.shrink();
        self.store.copy_apex();
        self.store
    }
}

/// A name of a zone: its RRsets, whether it is a cut, its load-balanced
/// name. A view into the zone's storage; `Copy`.
#[derive(Clone, Copy)]
pub struct Node<'z> {
    store: &'z Store,
    rec: &'z NodeRec,
}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &super::name::display(self.name()))
            .field("cut", &self.rec.cut)
            .field("lb", &self.lb())
            .field(
                "rrsets",
                &self.rrsets().map(|s| s.rtype()).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<'z> Node<'z> {
    /// The owner, lowercase uncompressed wire.
    #[inline(always)]
    pub fn name(&self) -> &'z [u8] {
        name_in(&self.store.bytes, self.rec)
    }

    /// NS records below the apex: a delegation point.
    #[inline(always)]
    pub fn cut(&self) -> bool {
        self.rec.cut
    }

    /// Index into the snapshot's load-balanced names: A/AAAA come from it.
    #[inline(always)]
    pub fn lb(&self) -> Option<u32> {
        (self.rec.lb != NO_LB).then_some(self.rec.lb)
    }

    /// The RRsets, in type order.
    #[inline(always)]
    pub fn rrsets(&self) -> impl Iterator<Item = Rrset<'z>> + 'z {
        let store = self.store;
        let first = self.rec.first as usize;
        store.sets[first..first + self.rec.nsets as usize]
            .iter()
            .map(move |rec| Rrset { store, rec })
    }

    /// The RRset of type `rtype`, if any.
    #[inline(always)]
    pub fn rrset(&self, rtype: u16) -> Option<Rrset<'z>> {
        let first = self.rec.first as usize;
        let sets = &self.store.sets[first..first + self.rec.nsets as usize];
        for rec in sets {
            if rec.rtype == rtype {
                return Some(Rrset {
                    store: self.store,
                    rec,
                });
            }
            if rec.rtype > rtype {
                break;
            }
        }
        None
    }

    /// No RRsets: an empty non-terminal, unless a load-balanced name.
    pub fn has_records(&self) -> bool {
        self.rec.nsets > 0
    }

    /// Neither records nor a load-balanced name: an empty non-terminal.
    pub fn is_empty(&self) -> bool {
        self.rec.nsets == 0 && self.rec.lb == NO_LB
    }
}

/// All records of one type at one name. A view; `Copy`.
#[derive(Clone, Copy)]
pub struct Rrset<'z> {
    store: &'z Store,
    rec: &'z SetRec,
}

impl std::fmt::Debug for Rrset<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rrset")
            .field("rtype", &self.rtype())
            .field("ttl", &self.ttl())
            .field("rdatas", &self.rdatas().collect::<Vec<_>>())
            .finish()
    }
}

impl<'z> Rrset<'z> {
    #[inline(always)]
    pub fn rtype(&self) -> u16 {
        self.rec.rtype
    }

    #[inline(always)]
    pub fn ttl(&self) -> u32 {
        self.rec.ttl
    }

    /// How many records.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.rec.count as usize
    }

    /// Never true for a stored RRset; for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.rec.count == 0
    }

    /// The records, in the order served.
    #[inline(always)]
    pub fn rdatas(&self) -> Rdatas<'z> {
        Rdatas {
            rest: &self.store.bytes[self.rec.data as usize..],
            left: self.rec.count,
            target_at: target_at(self.rec.rtype).map_or(u8::MAX, |a| a as u8),
        }
    }

    /// Lowercase wire names this RRset points at, in RDATA order: the
    /// target of CNAME, NS, MX, SRV, PTR (CNAME chasing, additional data).
    #[inline(always)]
    pub fn targets(&self) -> impl Iterator<Item = &'z [u8]> + 'z {
        let mut it = self.rdatas();
        std::iter::from_fn(move || {
            loop {
                let (_, target) = it.entry()?;
                if target.is_some() {
                    return target;
                }
            }
        })
    }

    /// The first record's target (a CNAME's).
    #[inline(always)]
    pub fn first_target(&self) -> Option<&'z [u8]> {
        self.rdatas().entry().and_then(|(_, t)| t)
    }
}

/// One RDATA in wire form. A view; `Copy`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rdata<'z> {
    /// Uncompressed wire RDATA, names in their zone-file case.
    pub wire: &'z [u8],
    /// 4 bytes per compressible name: start, length (u16 LE each).
    names: &'z [u8],
}

impl std::fmt::Debug for Rdata<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rdata")
            .field("wire", &self.wire)
            .field("names", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

impl<'z> Rdata<'z> {
    /// RDATA without compressible names (tests, and records a policy chose).
    pub fn plain(wire: &'z [u8]) -> Self {
        Self { wire, names: &[] }
    }

    /// `(start, len)` in [`Rdata::wire`] of each domain name that may be
    /// compressed (RFC 3597 §4: only the RFC 1035 types).
    #[inline(always)]
    pub fn names(&self) -> impl Iterator<Item = (u16, u16)> + 'z {
        self.names
            .chunks_exact(4)
            .map(|c| (u16_at(c, 0), u16_at(c, 2)))
    }
}

/// The records of one RRset, read in order.
#[derive(Clone)]
pub struct Rdatas<'z> {
    /// From the next entry on.
    rest: &'z [u8],
    left: u16,
    /// Where the target starts in the wire; `u8::MAX`: no target.
    target_at: u8,
}

impl<'z> Rdatas<'z> {
    /// The next entry and its target (for the types that have one).
    #[inline(always)]
    fn entry(&mut self) -> Option<(Rdata<'z>, Option<&'z [u8]>)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (head, rest) = self.rest.split_at(3);
        let len = u16::from_le_bytes([head[0], head[1]]) as usize;
        let (names, rest) = rest.split_at(4 * head[2] as usize);
        let (wire, mut rest) = rest.split_at(len);
        let mut target = None;
        if self.target_at != u8::MAX {
            let (t, after) = rest.split_at(2);
            let tl = t[0] as usize;
            rest = after;
            if t[1] == 0 {
                target = wire
                    .get(self.target_at as usize..)
                    .map(|w| &w[..tl.min(w.len())]);
            } else {
                let (copy, after) = rest.split_at(tl);
                target = Some(copy);
                rest = after;
            }
            target = target.filter(|t| !t.is_empty());
        }
        self.rest = rest;
        Some((Rdata { wire, names }, target))
    }
}

impl<'z> Iterator for Rdatas<'z> {
    type Item = Rdata<'z>;

    #[inline(always)]
    fn next(&mut self) -> Option<Rdata<'z>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (head, rest) = self.rest.split_at(3);
        let len = u16::from_le_bytes([head[0], head[1]]) as usize;
        let (names, rest) = rest.split_at(4 * head[2] as usize);
        let (wire, mut rest) = rest.split_at(len);
        if self.target_at != u8::MAX {
            // Skip the target: its length and flag, and a copy if any.
            let (t, after) = rest.split_at(2);
            rest = if t[1] == 0 {
                after
            } else {
                &after[t[0] as usize..]
            };
        }
        self.rest = rest;
        Some(Rdata { wire, names })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left as usize, Some(self.left as usize))
    }
}

impl ExactSizeIterator for Rdatas<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    const APEX: &[u8] = b"\x01t\x00";

    #[test]
    fn sets_rdatas_and_targets_read_back() {
        let mut b = StoreBuilder::new(APEX);
        let owner = b"\x01a\x01b\x01t\x00";
        // MX with a mixed-case exchange: the target is a lowercase copy;
        // the second one is lowercase already and points into the wire.
        let mx1 = b"\x00\x0a\x02Mx\x01t\x00";
        let mx2 = b"\x00\x14\x02mx\x01t\x00";
        let names = [2u8, 0, 6, 0];
        b.add_set(
            owner,
            rtype::A,
            60,
            [(&[192, 0, 2, 1][..], &[][..])].into_iter(),
        )
        .unwrap();
        b.add_set(
            owner,
            rtype::MX,
            300,
            [(&mx1[..], &names[..]), (&mx2[..], &names[..])].into_iter(),
        )
        .unwrap();
        let s = b.finish();
        let n = s.node(owner).unwrap();
        assert_eq!(n.name(), owner);
        assert!(!n.cut() && n.lb().is_none() && n.has_records());
        assert_eq!(
            n.rrsets().map(|r| r.rtype()).collect::<Vec<_>>(),
            [rtype::A, rtype::MX]
        );
        assert!(n.rrset(rtype::AAAA).is_none());
        let mx = n.rrset(rtype::MX).unwrap();
        assert_eq!((mx.ttl(), mx.len()), (300, 2));
        let rds: Vec<Rdata<'_>> = mx.rdatas().collect();
        assert_eq!(rds[0].wire, mx1);
        assert_eq!(rds[1].wire, mx2);
        assert_eq!(rds[0].names().collect::<Vec<_>>(), [(2, 6)]);
        let targets: Vec<&[u8]> = mx.targets().collect();
        assert_eq!(targets, [&b"\x02mx\x01t\x00"[..], &b"\x02mx\x01t\x00"[..]]);
        assert_eq!(
            n.rrset(rtype::A).unwrap().rdatas().next().unwrap().wire,
            [192, 0, 2, 1]
        );
        // The ancestor exists as an empty non-terminal.
        let ent = s.node(b"\x01b\x01t\x00").unwrap();
        assert!(ent.is_empty());
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn nodes_added_later_are_found() {
        let mut s = StoreBuilder::new(APEX).finish();
        let mut names = Vec::new();
        for i in 0..1000u32 {
            let label = format!("n{i}");
            let mut w = vec![label.len() as u8];
            w.extend_from_slice(label.as_bytes());
            w.extend_from_slice(APEX);
            names.push(w);
        }
        for (i, w) in names.iter().enumerate() {
            s.set_lb(w, APEX.len(), i as u32);
        }
        for (i, w) in names.iter().enumerate() {
            assert_eq!(s.node(w).and_then(|n| n.lb()), Some(i as u32));
        }
        assert!(s.node(b"\x02zz\x01t\x00").is_none());
    }
}
