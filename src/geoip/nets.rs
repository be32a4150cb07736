//! Longest-prefix match over IPv4 and IPv6 networks, for operators' own
//! networks (CIDR → region) and any other per-prefix table read per query.
//!
//! Built once from `(network, value)` pairs, then read-only. The networks of
//! each family are flattened into sorted, disjoint address intervals, each
//! carrying the most specific network covering it (or none); a lookup is one
//! binary search over a plain `Vec` of interval starts, and allocates
//! nothing.
//!
//! The prefix length returned with a result is the one ECS scope needs
//! (RFC 7871 §7.2.1): the length of the widest network around the address
//! on which the table's answer is the same. It equals the matched network's
//! length unless a more specific network is nested inside it, in which case
//! it is longer — exactly what a MaxMind DB lookup reports for the same data
//! (its search tree splits around nested networks), and the same rule gdnsd
//! applies to its `nets` maps. For an address no network covers it is the
//! width of the uncovered block, so a "no match" answer can be scoped too.
//!
//! A binary trie (what MaxMind DBs use) or the `prefix-trie` crate were the
//! alternatives: both walk one node per bit, up to 128 dependent loads for
//! IPv6, where the interval search does about log2(networks) cache-friendly
//! comparisons and needs no per-node storage.
//!
//! IPv4-mapped IPv6 (`::ffff:0:0/96`) counts as IPv4, in networks and in
//! lookups, and prefix lengths are then given in IPv4 terms. An IPv6 network
//! shorter than /96 that spans `::ffff:0:0/96` applies to IPv6 addresses
//! only: IPv4 clients are looked up in the IPv4 table.

use std::fmt;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Why a table could not be built. `index` is the entry's position in the
/// input, so the caller can name the file and line it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The same network twice (after IPv4-mapped normalisation).
    #[error("network {net} is listed twice (entries {first} and {index})")]
    Duplicate {
        net: IpNet,
        first: usize,
        index: usize,
    },
    /// Bits set beyond the prefix, e.g. `10.0.0.1/8`: almost always a typo.
    #[error("network {net} has bits set beyond its /{} prefix (did you mean {}?)", net.prefix_len(), net.trunc())]
    HostBits { net: IpNet, index: usize },
}

/// A longest-prefix-match table from networks to values of type `T`.
#[derive(Clone)]
pub struct NetTable<T> {
    values: Vec<T>,
    nets: Vec<IpNet>,
    v4: Intervals<u32>,
    v6: Intervals<u128>,
}

/// No value: the interval is not covered by any network.
const NONE: u32 = u32::MAX;

/// Disjoint intervals covering the whole family: interval `i` is
/// `[starts[i], starts[i + 1])` and maps to `slots[i]` (an index into
/// `values`, or [`NONE`]). `starts[0]` is always 0.
#[derive(Clone, Debug)]
struct Intervals<A> {
    starts: Vec<A>,
    slots: Vec<u32>,
}

/// The two address widths, so one flattening and one lookup serve both.
trait Addr: Copy + Ord + fmt::Debug {
    const BITS: u32;
    const ZERO: Self;
    fn xor(self, o: Self) -> Self;
    fn leading_zeros(self) -> u32;
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Self;
    /// Last address of the network starting at `self` with `prefix` bits.
    fn last(self, prefix: u8) -> Self;
}

impl Addr for u32 {
    const BITS: u32 = 32;
    const ZERO: Self = 0;
    fn xor(self, o: Self) -> Self {
        self ^ o
    }
    fn leading_zeros(self) -> u32 {
        u32::leading_zeros(self)
    }
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Self {
        self - 1
    }
    fn last(self, prefix: u8) -> Self {
        self | u32::MAX.checked_shr(prefix as u32).unwrap_or(0)
    }
}

impl Addr for u128 {
    const BITS: u32 = 128;
    const ZERO: Self = 0;
    fn xor(self, o: Self) -> Self {
        self ^ o
    }
    fn leading_zeros(self) -> u32 {
        u128::leading_zeros(self)
    }
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Self {
        self - 1
    }
    fn last(self, prefix: u8) -> Self {
        self | u128::MAX.checked_shr(prefix as u32).unwrap_or(0)
    }
}

impl<A: Addr> Intervals<A> {
    /// Flatten `(start, prefix, value index)` networks, which must be
    /// distinct; any two CIDR networks are nested or disjoint.
    fn build(mut nets: Vec<(A, u8, u32)>) -> Self {
        // Wider networks first at the same start, so the stack below always
        // holds a chain of nested networks, innermost on top.
        nets.sort_unstable_by_key(|&(s, p, _)| (s, p));
        // Interval starts and their slots; a later start at the same
        // address replaces the earlier one.
        let mut out: Vec<(A, u32)> = vec![(A::ZERO, NONE)];
        fn set<A: Addr>(out: &mut Vec<(A, u32)>, at: A, slot: u32) {
            match out.last_mut() {
                Some(last) if last.0 == at => last.1 = slot,
                _ => out.push((at, slot)),
            }
        }
        // Open networks, innermost last: (last address, value index).
        // Closing one starts its parent's (or no one's) interval again.
        fn close<A: Addr>(stack: &mut Vec<(A, u32)>, out: &mut Vec<(A, u32)>, before: Option<A>) {
            while let Some(&(end, _)) = stack.last() {
                if before.is_some_and(|b| end >= b) {
                    break;
                }
                stack.pop();
                if let Some(next) = end.succ() {
                    set(out, next, stack.last().map_or(NONE, |t| t.1));
                }
            }
        }
        let mut stack: Vec<(A, u32)> = Vec::new();
        for (start, prefix, idx) in nets {
            close(&mut stack, &mut out, Some(start));
            set(&mut out, start, idx);
            stack.push((start.last(prefix), idx));
        }
        close(&mut stack, &mut out, None);
        // Merge neighbours with the same slot (a gap closing onto a gap).
        out.dedup_by(|b, a| a.1 == b.1);
        let (starts, slots) = out.into_iter().unzip();
        Self { starts, slots }
    }

    /// The slot covering `a` and the prefix length of the widest aligned
    /// block around `a` inside that interval.
    #[inline]
    fn find(&self, a: A) -> (u32, u8) {
        // starts[0] == 0, so the partition point is at least 1.
        let i = self.starts.partition_point(|&s| s <= a) - 1;
        let start = self.starts[i];
        // The block of length p around a starts at or after `start` iff p
        // keeps the first bit where a and start-1 differ; it ends at or
        // before the next start iff p keeps the first bit where a and
        // next-start differ. See the module docs for why this is the scope.
        let low = if start == A::ZERO {
            0
        } else {
            a.xor(start.pred()).leading_zeros() + 1
        };
        let high = match self.starts.get(i + 1) {
            Some(&next) => a.xor(next).leading_zeros() + 1,
            None => 0,
        };
        (self.slots[i], low.max(high).min(A::BITS) as u8)
    }
}

/// The address as a table key: IPv4-mapped IPv6 becomes IPv4.
#[inline]
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

/// [`canonical`], and the shift that turns a prefix length of the
/// canonical address back into one of the address as written: 96 for an
/// IPv4-mapped address (its IPv4 /n is the IPv6 /96+n), else 0. Geo and
/// sticky both see an IPv4 client as IPv4 however the resolver wrote it,
/// and scope the answer in the family the query's ECS option used (RFC
/// 7871 §6: SCOPE PREFIX-LENGTH counts bits of that ADDRESS).
#[inline]
pub fn canonical_shift(ip: IpAddr) -> (IpAddr, u8) {
    let c = canonical(ip);
    (c, if c.is_ipv4() && ip.is_ipv6() { 96 } else { 0 })
}

/// The network as a table key: a network inside `::ffff:0:0/96` becomes
/// the IPv4 network it maps.
pub fn canonical_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(n) if n.prefix_len() >= 96 => match n.network().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, n.prefix_len() - 96)
                .map(IpNet::V4)
                .unwrap_or(net),
            None => net,
        },
        _ => net,
    }
}

impl<T> NetTable<T> {
    /// Build the table. Networks may nest (the longest prefix wins);
    /// the same network twice, or a network with host bits set, is an error
    /// naming the entries' indices. Every error is reported, in input order.
    pub fn build(entries: impl IntoIterator<Item = (IpNet, T)>) -> Result<Self, Vec<NetError>> {
        let mut values = Vec::new();
        let mut nets = Vec::new();
        let mut errors = Vec::new();
        for (index, (net, value)) in entries.into_iter().enumerate() {
            if net.trunc() != net {
                errors.push(NetError::HostBits { net, index });
            }
            nets.push(canonical_net(net.trunc()));
            values.push(value);
        }
        let mut order: Vec<usize> = (0..nets.len()).collect();
        order.sort_by_key(|&i| (nets[i], i));
        for w in order.windows(2) {
            if nets[w[0]] == nets[w[1]] {
                errors.push(NetError::Duplicate {
                    net: nets[w[1]],
                    first: w[0],
                    index: w[1],
                });
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|e| match e {
                NetError::Duplicate { index, .. } | NetError::HostBits { index, .. } => *index,
            });
            return Err(errors);
        }
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for (i, n) in nets.iter().enumerate() {
            match n {
                IpNet::V4(n) => v4.push((n.network().to_bits(), n.prefix_len(), i as u32)),
                IpNet::V6(n) => v6.push((n.network().to_bits(), n.prefix_len(), i as u32)),
            }
        }
        Ok(Self {
            values,
            nets,
            v4: Intervals::build(v4),
            v6: Intervals::build(v6),
        })
    }

    /// The value of the longest network containing `ip` (IPv4-mapped
    /// addresses as IPv4), with the scope prefix length (module docs);
    /// `None` when no network contains it.
    #[inline]
    pub fn get(&self, ip: IpAddr) -> Option<(&T, u8)> {
        match self.lookup(ip) {
            (Some(v), p) => Some((v, p)),
            (None, _) => None,
        }
    }

    /// Like [`get`](Self::get), but also gives the prefix length of the
    /// uncovered block on a miss, in the family of the (canonical) address.
    #[inline]
    pub fn lookup(&self, ip: IpAddr) -> (Option<&T>, u8) {
        let (slot, prefix) = match canonical(ip) {
            IpAddr::V4(a) => self.v4.find(a.to_bits()),
            IpAddr::V6(a) => self.v6.find(a.to_bits()),
        };
        (self.values.get(slot as usize), prefix)
    }

    /// The matched network itself (as given, normalised), for explain.
    pub fn network_of(&self, ip: IpAddr) -> Option<IpNet> {
        let slot = match canonical(ip) {
            IpAddr::V4(a) => self.v4.find(a.to_bits()).0,
            IpAddr::V6(a) => self.v6.find(a.to_bits()).0,
        };
        self.nets.get(slot as usize).copied()
    }

    /// Number of networks.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// No networks at all: every lookup misses with prefix 0.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The networks (normalised) and values, in input order.
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &T)> {
        self.nets.iter().copied().zip(self.values.iter())
    }
}

impl<T> Default for NetTable<T> {
    fn default() -> Self {
        Self::build(std::iter::empty()).unwrap_or_else(|_| unreachable!("empty input"))
    }
}

impl<T: fmt::Debug> fmt::Debug for NetTable<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The network of prefix `len` containing `ip` (already canonical).
pub fn network_around(ip: IpAddr, len: u8) -> IpNet {
    match ip {
        IpAddr::V4(a) => IpNet::V4(Ipv4Net::new_assert(a, len.min(32)).trunc()),
        IpAddr::V6(a) => IpNet::V6(Ipv6Net::new_assert(a, len.min(128)).trunc()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn table(nets: &[(&str, &'static str)]) -> NetTable<&'static str> {
        NetTable::build(nets.iter().map(|(n, v)| (net(n), *v))).unwrap()
    }

    #[test]
    fn longest_prefix_wins_and_scope_is_the_constant_block() {
        let t = table(&[
            ("10.0.0.0/8", "a"),
            ("10.1.0.0/16", "b"),
            ("10.1.2.0/24", "c"),
            ("2001:db8::/32", "v6"),
            ("2001:db8:1::/48", "v6b"),
        ]);
        for (addr, want, prefix) in [
            ("10.1.2.3", Some("c"), 24),
            ("10.1.3.3", Some("b"), 24), // 10.1.2.0/24 is nested in 10.1.2.0/23
            ("10.1.128.1", Some("b"), 17), // 10.1.128.0/17 is free of nested nets
            ("10.0.0.1", Some("a"), 16), // 10.0.0.0/16 sits beside 10.1.0.0/16
            ("10.200.0.1", Some("a"), 9),
            ("11.0.0.1", None, 8),
            ("0.0.0.1", None, 5),
            ("255.255.255.255", None, 1),
            ("2001:db8:1::5", Some("v6b"), 48),
            ("2001:db8:2::5", Some("v6"), 47),
            ("2001:db9::", None, 32),
            ("::1", None, 3),
        ] {
            let (v, p) = t.lookup(ip(addr));
            assert_eq!((v.copied(), p), (want, prefix), "{addr}");
        }
        assert_eq!(t.network_of(ip("10.1.3.3")), Some(net("10.1.0.0/16")));
        assert_eq!(t.network_of(ip("11.0.0.1")), None);
    }

    #[test]
    fn ipv4_mapped_is_ipv4_both_ways() {
        let t = table(&[
            ("::ffff:192.0.2.0/120", "mapped"),
            ("198.51.100.0/24", "plain"),
        ]);
        assert_eq!(t.get(ip("192.0.2.7")), Some((&"mapped", 24)));
        assert_eq!(t.get(ip("::ffff:192.0.2.7")), Some((&"mapped", 24)));
        assert_eq!(t.get(ip("::ffff:198.51.100.1")), Some((&"plain", 24)));
        // not IPv4-mapped: IPv4-compatible ::/96 stays IPv6
        assert_eq!(t.get(ip("::198.51.100.1")), None);
        assert_eq!(t.iter().next().map(|e| e.0), Some(net("192.0.2.0/24")));
        // a short IPv6 network does not catch IPv4 clients
        let t = table(&[("::/0", "all6")]);
        assert_eq!(t.get(ip("::ffff:1.2.3.4")), None);
        assert_eq!(t.get(ip("1.2.3.4")), None);
        assert_eq!(t.get(ip("2001:db8::1")), Some((&"all6", 0)));
    }

    #[test]
    fn whole_space_and_host_routes() {
        let t = table(&[
            ("0.0.0.0/0", "all"),
            ("255.255.255.255/32", "top"),
            ("0.0.0.0/32", "zero"),
        ]);
        assert_eq!(t.get(ip("0.0.0.0")), Some((&"zero", 32)));
        assert_eq!(t.get(ip("0.0.0.1")), Some((&"all", 32)));
        assert_eq!(t.get(ip("0.0.0.2")), Some((&"all", 31)));
        assert_eq!(t.get(ip("128.0.0.0")), Some((&"all", 2)));
        assert_eq!(t.get(ip("255.255.255.255")), Some((&"top", 32)));
        assert_eq!(t.get(ip("255.255.255.254")), Some((&"all", 32)));
        let t = table(&[
            ("::/0", "all"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "top"),
        ]);
        assert_eq!(
            t.get(ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")),
            Some((&"top", 128))
        );
        assert_eq!(t.get(ip("::")), Some((&"all", 1)));
        let empty: NetTable<()> = NetTable::default();
        assert_eq!(empty.lookup(ip("1.2.3.4")), (None, 0));
        assert_eq!(empty.lookup(ip("2001:db8::")), (None, 0));
        assert!(empty.is_empty());
    }

    #[test]
    fn duplicates_and_host_bits_are_errors() {
        let e = NetTable::build([
            (net("10.0.0.0/8"), 1),
            (net("10.0.0.1/8"), 2),
            (net("192.0.2.0/24"), 3),
            (net("::ffff:192.0.2.0/120"), 4),
        ])
        .unwrap_err();
        assert_eq!(
            e,
            vec![
                NetError::HostBits {
                    net: net("10.0.0.1/8"),
                    index: 1
                },
                NetError::Duplicate {
                    net: net("10.0.0.0/8"),
                    first: 0,
                    index: 1
                },
                NetError::Duplicate {
                    net: net("192.0.2.0/24"),
                    first: 2,
                    index: 3
                },
            ]
        );
        assert_eq!(
            e[0].to_string(),
            "network 10.0.0.1/8 has bits set beyond its /8 prefix (did you mean 10.0.0.0/8?)"
        );
        assert_eq!(
            e[2].to_string(),
            "network 192.0.2.0/24 is listed twice (entries 2 and 3)"
        );
    }

    /// The naive answer: the longest network containing `a`.
    fn naive(nets: &[(u32, u8)], a: u32) -> Option<usize> {
        nets.iter()
            .enumerate()
            .filter(|(_, (s, p))| a >= *s && a <= s.last(*p))
            .max_by_key(|(_, (_, p))| *p)
            .map(|(i, _)| i)
    }

    /// Is the answer the same on the whole block [b, b_last]? It is unless
    /// some network overlaps the block without containing it.
    fn constant(nets: &[(u32, u8)], b: u32, b_last: u32) -> bool {
        nets.iter().all(|&(s, p)| {
            let e = s.last(p);
            e < b || s > b_last || (s <= b && e >= b_last)
        })
    }

    fn block(a: u32, p: u8) -> (u32, u32) {
        let mask = u32::MAX.checked_shl(32 - p as u32).unwrap_or(0);
        (a & mask, (a & mask).last(p))
    }

    proptest! {
        /// Against a scan of every network: the same value, and the prefix
        /// is the widest block around the address with one answer.
        #[test]
        fn matches_a_naive_scan(
            raw in prop::collection::vec((any::<u32>(), 0u8..=32), 0..40),
            probes in prop::collection::vec(any::<u32>(), 1..40),
        ) {
            // Keep the networks inside 10.0.0.0/8 half the time, so they nest.
            let mut nets: Vec<(u32, u8)> = Vec::new();
            for (i, (a, p)) in raw.into_iter().enumerate() {
                let (a, p) = if i % 2 == 0 { ((a & 0x00FF_FFFF) | 0x0A00_0000, p.max(8)) } else { (a, p) };
                let s = block(a, p).0;
                if !nets.contains(&(s, p)) {
                    nets.push((s, p));
                }
            }
            let t = NetTable::build(nets.iter().enumerate().map(|(i, &(s, p))| {
                (IpNet::V4(Ipv4Net::new(Ipv4Addr::from_bits(s), p).unwrap()), i)
            })).unwrap();
            let mut probes = probes;
            for &(s, p) in &nets {
                probes.extend([s, s.last(p), s.wrapping_sub(1), s.last(p).wrapping_add(1)]);
            }
            for a in probes {
                let (v, p) = t.lookup(IpAddr::V4(Ipv4Addr::from_bits(a)));
                prop_assert_eq!(v.copied(), naive(&nets, a), "value at {}", Ipv4Addr::from_bits(a));
                let (b, e) = block(a, p);
                prop_assert!(constant(&nets, b, e), "/{} around {} is not constant", p, Ipv4Addr::from_bits(a));
                if p > 0 {
                    let (b, e) = block(a, p - 1);
                    prop_assert!(!constant(&nets, b, e), "/{} around {} is constant too", p - 1, Ipv4Addr::from_bits(a));
                }
                if let Some(i) = v {
                    prop_assert!(p >= nets[*i].1);
                }
            }
        }

        /// IPv6 agrees with IPv4 on the same networks shifted to the top bits.
        #[test]
        fn ipv6_mirrors_ipv4(
            raw in prop::collection::vec((any::<u32>(), 0u8..=32), 0..20),
            probes in prop::collection::vec(any::<u32>(), 1..20),
        ) {
            let mut nets: Vec<(u32, u8)> = Vec::new();
            for (a, p) in raw {
                let s = block(a, p).0;
                if !nets.contains(&(s, p)) {
                    nets.push((s, p));
                }
            }
            let v4 = NetTable::build(nets.iter().enumerate().map(|(i, &(s, p))| {
                (IpNet::V4(Ipv4Net::new(Ipv4Addr::from_bits(s), p).unwrap()), i)
            })).unwrap();
            let v6 = NetTable::build(nets.iter().enumerate().map(|(i, &(s, p))| {
                (IpNet::V6(Ipv6Net::new(Ipv6Addr::from_bits((s as u128) << 96), p).unwrap()), i)
            })).unwrap();
            for a in probes {
                let (x, px) = v4.lookup(IpAddr::V4(Ipv4Addr::from_bits(a)));
                let (y, py) = v6.lookup(IpAddr::V6(Ipv6Addr::from_bits(((a as u128) << 96) | 0x1234)));
                prop_assert_eq!(x, y);
                // boundaries sit on whole /32s of IPv6 too
                prop_assert_eq!(px, py);
            }
        }
    }
}
