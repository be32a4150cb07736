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
//! truncated to `sticky_v4_prefix` / `sticky_v6_prefix`. The ECS scope
//! returned is that prefix, never wider than the ECS source prefix.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::pool::Candidates;
use super::sample::{TopK, unit_open0};
use super::{ClientInfo, ClientSubnet};

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
        top.offer(score(client_hash, m.addr, w), m.addr);
    }
    top.drain_into(out);
    scope
}

/// The client's network and the ECS scope that goes with it.
fn client_network(client: &ClientInfo, p: StickyPrefixes) -> (IpAddr, u8) {
    match client.ecs {
        Some(ClientSubnet {
            addr,
            source_prefix,
        }) => {
            let prefix = p.for_addr(addr);
            (truncate(addr, prefix), prefix.min(source_prefix))
        }
        None => {
            // A dual-stack socket reports IPv4 resolvers as ::ffff:a.b.c.d.
            let addr = client.resolver.to_canonical();
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
mod tests {
    use std::collections::HashMap;

    use rand::SeedableRng as _;

    use super::super::testutil::*;
    use super::super::*;
    use super::*;

    fn v4net(bits: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(bits))
    }

    fn sticky(members: Vec<Member>, answers: Answers) -> BalancedName {
        name(Pick::Sticky(StickyPrefixes::default()), answers, members)
    }

    fn ask(lb: &BalancedName, health: &HealthTable, client: &ClientInfo) -> Decision {
        // A different RNG each time: sticky must not depend on it.
        let mut rng =
            PolicyRng::seed_from_u64(u64::from(client.resolver.to_canonical().is_ipv4()) ^ 99);
        let mut out = Decision::default();
        answer(lb, Family::V4, client, health, &mut rng, &mut out);
        out
    }

    #[test]
    fn truncation_and_scope_table() {
        let p = StickyPrefixes::default();
        let ecs = |a: &str, s: u8| ClientInfo {
            ecs: Some(ClientSubnet {
                addr: a.parse().unwrap(),
                source_prefix: s,
            }),
            ..client_v4()
        };
        let res = |a: &str| ClientInfo {
            resolver: a.parse().unwrap(),
            ..client_v4()
        };
        let cases = [
            (res("198.51.100.77"), "198.51.100.0", 0),
            (res("::ffff:198.51.100.77"), "198.51.100.0", 0),
            (res("2001:db8:aa:bbcc::1"), "2001:db8:aa:bb00::", 0),
            (ecs("203.0.113.0", 24), "203.0.113.0", 24),
            (ecs("203.0.113.128", 25), "203.0.113.0", 24),
            (ecs("203.0.0.0", 16), "203.0.0.0", 16),
            (ecs("0.0.0.0", 0), "0.0.0.0", 0),
            (ecs("2001:db8:aa:bb00::", 64), "2001:db8:aa:bb00::", 56),
            (ecs("2001:db8::", 32), "2001:db8::", 32),
        ];
        for (client, net, scope) in cases {
            let want: IpAddr = net.parse().unwrap();
            assert_eq!(client_network(&client, p), (want, scope), "{client:?}");
        }
        let narrow = StickyPrefixes { v4: 0, v6: 128 };
        assert_eq!(
            client_network(&res("198.51.100.77"), narrow),
            ("0.0.0.0".parse().unwrap(), 0)
        );
        assert_eq!(
            client_network(&res("2001:db8::1"), narrow),
            ("2001:db8::1".parse().unwrap(), 0)
        );
    }

    #[test]
    fn hash_is_pinned() {
        // Changing these remaps every sticky client after an upgrade.
        let got = [
            hash_addr("192.0.2.1".parse().unwrap()),
            hash_addr("2001:db8::1".parse().unwrap()),
        ];
        assert_eq!(
            got,
            [0x4434_7261_64ea_93ed, 0xf370_45a2_b552_5862],
            "{got:#x?}"
        );
        // And what that means for clients: /24s → member of 192.0.2.1..=4.
        let lb = sticky((1..=4).map(|i| v4(i, 1)).collect(), Answers::Count(1));
        let health = HealthTable::new(16, Status::Up);
        let picks: Vec<u8> = (0..12u32)
            .map(|i| {
                let c = ClientInfo {
                    resolver: v4net(0xcb00_7100 + (i << 24)),
                    ..client_v4()
                };
                match ask(&lb, &health, &c).addrs[0] {
                    IpAddr::V4(a) => a.octets()[3],
                    IpAddr::V6(_) => 0,
                }
            })
            .collect();
        assert_eq!(picks, [3, 2, 1, 2, 1, 2, 1, 3, 2, 1, 3, 2]);
    }

    #[test]
    fn same_network_same_member_and_scope_follows_ecs() {
        let lb = sticky((1..=5).map(|i| v4(i, 1)).collect(), Answers::Count(1));
        let health = HealthTable::new(16, Status::Up);
        let a = ask(&lb, &health, &resolver("198.51.100.1"));
        let b = ask(&lb, &health, &resolver("198.51.100.200"));
        assert_eq!(a.addrs.len(), 1);
        assert_eq!(a.addrs, b.addrs);
        assert_eq!((a.ecs_scope, a.reason), (0, Reason("sticky")));
        let with_ecs = ClientInfo {
            ecs: Some(ClientSubnet {
                addr: "198.51.100.0".parse().unwrap(),
                source_prefix: 24,
            }),
            ..resolver("203.0.113.9")
        };
        let c = ask(&lb, &health, &with_ecs);
        assert_eq!(c.addrs, a.addrs, "ECS network decides, not the resolver");
        assert_eq!(c.ecs_scope, 24);
        let narrow_ecs = ClientInfo {
            ecs: Some(ClientSubnet {
                addr: "198.51.0.0".parse().unwrap(),
                source_prefix: 16,
            }),
            ..resolver("203.0.113.9")
        };
        assert_eq!(ask(&lb, &health, &narrow_ecs).ecs_scope, 16);
    }

    #[test]
    fn spreads_by_weight() {
        let lb = sticky(vec![v4(1, 1), v4(2, 2), v4(3, 1)], Answers::Count(1));
        let health = HealthTable::new(16, Status::Up);
        let mut counts: HashMap<IpAddr, usize> = HashMap::new();
        let n = 20_000u32;
        for i in 0..n {
            let net = v4net(0x0a00_0000 + (i << 8));
            let d = ask(
                &lb,
                &health,
                &ClientInfo {
                    resolver: net,
                    ..client_v4()
                },
            );
            *counts.entry(d.addrs[0]).or_default() += 1;
        }
        for (i, want) in [(1, 0.25), (2, 0.5), (3, 0.25)] {
            let share = counts[&addr4(i)] as f64 / f64::from(n);
            assert!((share - want).abs() < 0.02, "{i}: {share}");
        }
    }

    #[test]
    fn removing_a_member_moves_only_its_clients() {
        let lb = sticky(
            (1..=6).map(|i| v4(i, u32::from(i % 3 + 1))).collect(),
            Answers::Count(1),
        );
        let health = HealthTable::new(16, Status::Up);
        let clients: Vec<ClientInfo> = (0..3000u32)
            .map(|i| ClientInfo {
                resolver: v4net(0xc000_0000 ^ ((i * 7919) << 8)),
                ..client_v4()
            })
            .collect();
        let before: Vec<IpAddr> = clients
            .iter()
            .map(|c| ask(&lb, &health, c).addrs[0])
            .collect();
        health.set_status(TargetId(4), Status::Down);
        let mut moved = 0;
        for (c, was) in clients.iter().zip(&before) {
            let now = ask(&lb, &health, c).addrs[0];
            assert_ne!(now, addr4(4));
            if *was == addr4(4) {
                moved += 1;
            } else {
                assert_eq!(now, *was, "{c:?} moved off a healthy member");
            }
        }
        assert!(moved > 100, "member 4 had too few clients to test: {moved}");
    }

    #[test]
    fn all_candidates_answer_in_pool_order_with_scope_zero() {
        let lb = sticky(vec![v4(1, 1), v4(2, 1)], Answers::Count(3));
        let health = HealthTable::new(16, Status::Up);
        let with_ecs = ClientInfo {
            ecs: Some(ClientSubnet {
                addr: "198.51.100.0".parse().unwrap(),
                source_prefix: 24,
            }),
            ..client_v4()
        };
        let d = ask(&lb, &health, &with_ecs);
        assert_eq!((d.addrs, d.ecs_scope), (vec![addr4(1), addr4(2)], 0));
    }

    #[test]
    fn several_answers_are_stable_and_distinct() {
        let lb = sticky((1..=6).map(|i| v4(i, 1)).collect(), Answers::Count(2));
        let health = HealthTable::new(16, Status::Up);
        for i in 0..200u32 {
            let c = ClientInfo {
                resolver: v4net(0x0a00_0000 + (i << 8)),
                ..client_v4()
            };
            let a = ask(&lb, &health, &c).addrs;
            assert_eq!(a.len(), 2);
            assert!(distinct(&a));
            assert_eq!(a, ask(&lb, &health, &c).addrs);
        }
    }
}
