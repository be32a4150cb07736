//! `sticky`: the same client network keeps the same member.
//!
//! Rendezvous (highest-random-weight) hashing: every candidate gets a score
//! hashed from (client network, member address) and the highest scores win.
//! A member leaving the candidate set moves only the clients whose winner it
//! was; every other client's scores are untouched. Weights use the
//! logarithmic method (score `ln(u)/w`, Schindelhauer and Schomaker), so a
//! member of weight 2 wins twice as many networks as one of weight 1 and
//! minimal remapping still holds. A consistent-hash ring was rejected: it
//! needs virtual nodes to balance and a table rebuilt per health change.
//!
//! The hash is fixed (splitmix64 finaliser with a constant seed), not
//! seeded per process, so a client keeps its member across restarts and
//! across servers of the same deployment. Changing it remaps everyone; a
//! test pins its output.
//!
//! The client network is the ECS address when present, else the resolver's,
//! IPv4-mapped IPv6 taken as IPv4, truncated to `sticky_v4_prefix` /
//! `sticky_v6_prefix`. The ECS scope returned is that prefix in the ECS
//! option's family, never wider than the ECS source prefix.
//!
//! A dual-stack endpoint is scored by its IPv4 address for A and AAAA
//! alike ([`Member::endpoint_key`](super::Member::endpoint_key)), so a
//! client network asking both gets the same load balancer: a score does
//! not depend on the family, so the endpoint with the top score over both
//! families' candidates wins the A and the AAAA answer when it has both
//! addresses. In a pool that mixes single- and dual-stack endpoints, a
//! client whose top endpoint has only one family gets, for the other, the
//! best endpoint that has it. (Hashing over the dual-stack endpoints only
//! would make every client consistent, but would starve single-stack
//! endpoints of any client while a dual-stack one is up.)
//! Single-address members are scored by their address, as before.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::pool::Candidates;
use super::sample::{TopK, unit_open0};
use super::{ClientInfo, ClientSubnet};
use crate::geoip::canonical_shift;

/// Prefix lengths that define "the same client network".
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StickyPrefixes {
    /// 0..=32; default 24.
    pub v4: u8,
    /// 0..=128; default 56.
    pub v6: u8,
}

impl Default for StickyPrefixes {
    fn default() -> Self {
        Self { v4: 24, v6: 56 }
    }
}

impl StickyPrefixes {
    fn for_addr(self, a: IpAddr) -> u8 {
        match a {
            IpAddr::V4(_) => self.v4.min(32),
            IpAddr::V6(_) => self.v6.min(128),
        }
    }
}

/// Append up to `k` candidate addresses for this client to `out`; returns
/// the ECS scope prefix to answer with.
pub(super) fn pick(
    c: &Candidates<'_>,
    p: StickyPrefixes,
    client: &ClientInfo,
    k: usize,
    out: &mut Vec<IpAddr>,
) -> u8 {
    if k >= c.scan.count {
        // Everyone gets every candidate: the answer does not depend on the
        // client, so a cache may share it (scope 0).
        c.push_all(out);
        return 0;
    }
    let (net, scope) = client_network(client, p);
    let client_hash = hash_addr(net);
    let mut top = TopK::new(k);
    for (m, w) in c.iter() {
        top.offer(score(client_hash, m.endpoint_key(), w), m.addr);
    }
    top.drain_into(out);
    scope
}

/// A hash of the client's network and the ECS scope that goes with it:
/// what the latency order draws a pool from under a sticky pick.
pub(super) fn client_hash(client: &ClientInfo, p: StickyPrefixes) -> (u64, u8) {
    let (net, scope) = client_network(client, p);
    (hash_addr(net), scope)
}

/// The client's network and the ECS scope that goes with it. An IPv4
/// client is IPv4 however it was written: a dual-stack socket reports IPv4
/// resolvers as `::ffff:a.b.c.d`, and a resolver may send ECS family 2 with
/// a mapped address. The scope is in the ECS option's own family (the
/// /24 of `::ffff:192.0.2.0/120` is /120), never past its source prefix.
fn client_network(client: &ClientInfo, p: StickyPrefixes) -> (IpAddr, u8) {
    match client.ecs {
        Some(ClientSubnet {
            addr,
            source_prefix,
        }) => {
            let (addr, shift) = canonical_shift(addr);
            let prefix = p.for_addr(addr);
            (truncate(addr, prefix), (prefix + shift).min(source_prefix))
        }
        None => {
            let (addr, _) = canonical_shift(client.resolver);
            (truncate(addr, p.for_addr(addr)), 0)
        }
    }
}

fn truncate(a: IpAddr, prefix: u8) -> IpAddr {
    match a {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::from(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// Fixed seed: part of the on-the-wire behaviour, see the module docs.
const SEED: u64 = 0x6a09_e667_f3bc_c908;

#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of an address that tells the families apart.
#[inline]
fn hash_addr(a: IpAddr) -> u64 {
    let (tag, bits) = match a {
        IpAddr::V4(v4) => (4, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (6, u128::from(v6)),
    };
    mix64(mix64(mix64(SEED ^ tag) ^ (bits >> 64) as u64) ^ bits as u64)
}

/// Rendezvous score of `member` for a client: higher wins.
#[inline]
fn score(client_hash: u64, member: IpAddr, weight: u32) -> f64 {
    let h = mix64(client_hash ^ hash_addr(member).rotate_left(29));
    unit_open0(h).ln() / f64::from(weight)
}

#[cfg(test)]
#[path = "sticky_tests.rs"]
mod tests;
