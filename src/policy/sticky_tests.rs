//! Tests of the sticky pick: truncation and scope, the pinned hash, weights,
//! minimal remapping.

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
        // IPv4-mapped ECS (family 2) is the IPv4 network it maps, scoped in
        // the option's family: the /24 is /120, never past the source.
        (ecs("::ffff:203.0.113.0", 120), "203.0.113.0", 120),
        (ecs("::ffff:203.0.113.128", 121), "203.0.113.0", 120),
        (ecs("::ffff:203.0.0.0", 112), "203.0.0.0", 112),
        (ecs("::ffff:203.0.113.5", 128), "203.0.113.0", 120),
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

/// A dual-stack endpoint 192.0.2.`i` + 2001:db8::`i`, target `i`.
fn dual(i: u8, weight: u32) -> Member {
    let mut m = v4(i, weight);
    m.other = Some(addr6(i));
    m
}

/// The endpoint an answer names (its IPv4 address for a dual one).
fn endpoint_of(lb: &BalancedName, a: IpAddr) -> IpAddr {
    lb.groups[0]
        .pool
        .iter()
        .find(|m| m.addrs().any(|x| x == a))
        .map(|m| m.endpoint_key())
        .expect("answered from the pool")
}

/// The same client network gets the same load balancer for A and AAAA:
/// always in a pool of dual-stack endpoints, and in a mixed pool whenever
/// its top-scoring endpoint (over both families) is dual-stack.
#[test]
fn a_and_aaaa_name_the_same_dual_stack_endpoint() {
    let health = HealthTable::new(256, Status::Up);
    let pools: [Vec<Member>; 2] = [
        (1..=6).map(|i| dual(i, u32::from(i % 3 + 1))).collect(),
        vec![dual(1, 1), dual(2, 2), v4(3, 2), v6(4, 2), dual(5, 1)],
    ];
    for (k, members) in pools.into_iter().enumerate() {
        let lb = sticky(members, Answers::Count(1));
        let mut same = 0;
        for n in 0..600u32 {
            let c = ClientInfo {
                ecs: Some(ClientSubnet {
                    addr: v4net(n.wrapping_mul(0x9e37_79b9) & 0xffff_ff00),
                    source_prefix: 24,
                }),
                ..client_v4()
            };
            let mut out = Decision::default();
            let mut rng = PolicyRng::seed_from_u64(u64::from(n));
            answer(&lb, Family::V4, &c, &health, &mut rng, &mut out);
            let a = out.addrs[0];
            answer(&lb, Family::V6, &c, &health, &mut rng, &mut out);
            let aaaa = out.addrs[0];
            let (net, _) = client_network(&c, StickyPrefixes::default());
            let top = lb.groups[0]
                .pool
                .iter()
                .max_by(|x, y| {
                    let s = |m: &Member| score(hash_addr(net), m.endpoint_key(), m.weight);
                    s(x).total_cmp(&s(y))
                })
                .unwrap();
            if top.other.is_some() {
                assert_eq!(endpoint_of(&lb, a), top.endpoint_key(), "pool {k}, net {n}");
                assert_eq!(
                    endpoint_of(&lb, a),
                    endpoint_of(&lb, aaaa),
                    "pool {k}, net {n}"
                );
                same += 1;
            } else {
                assert_eq!(k, 1, "every endpoint of pool 0 is dual-stack");
            }
        }
        // pool 1: dual-stack endpoints hold half the weight
        assert!(
            same > 240,
            "pool {k}: {same} of 600 had a dual-stack winner"
        );
    }
}

/// Dual-stack endpoints share traffic by weight across the two families,
/// and leaving the pool moves only their clients, in both families.
#[test]
fn dual_stack_shares_and_remapping() {
    let members = vec![dual(1, 1), dual(2, 3)];
    let lb = sticky(members, Answers::Count(1));
    let health = HealthTable::new(16, Status::Up);
    let mut counts: HashMap<IpAddr, u32> = HashMap::new();
    for n in 0..8000u32 {
        let c = ClientInfo {
            resolver: v4net(n << 8),
            ..client_v4()
        };
        let d = {
            let mut out = Decision::default();
            answer(
                &lb,
                Family::V6,
                &c,
                &health,
                &mut PolicyRng::seed_from_u64(0),
                &mut out,
            );
            out
        };
        *counts.entry(d.addrs[0]).or_default() += 1;
    }
    let share2 = f64::from(counts[&addr6(2)]) / 8000.0;
    assert!((share2 - 0.75).abs() < 0.03, "{counts:?}");
}
