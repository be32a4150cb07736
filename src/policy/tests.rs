//! Cross-policy tests of [`answer`]: family split, every `on_all_down`
//! mode, and property tests of the invariants every policy keeps.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use rand::SeedableRng as _;

use super::testutil::*;
use super::*;

/// The orders, as a copyable word (a geo order owns its map).
#[derive(Copy, Clone, Debug, PartialEq)]
enum O {
    Single,
    Failover,
    /// A geo map whose default rule lists every group in file order: for
    /// a client no other rule matches it must behave as failover.
    Geo,
}

impl O {
    fn order(self, groups: usize) -> Order {
        match self {
            O::Single => Order::Single,
            O::Failover => Order::Failover,
            O::Geo => Order::Geo(Arc::new(geo::GeoMap::new(
                Arc::default(),
                vec![
                    (
                        geo::RuleKey::Country(crate::geoip::Country::from_code("ZZ").unwrap()),
                        vec![0],
                    ),
                    (geo::RuleKey::Default, (0..groups as u16).collect()),
                ],
            ))),
        }
    }

    /// Groups after the first are tried in order.
    fn fails_over(self) -> bool {
        self != O::Single
    }
}

/// Every (order, pick) pair a policy file can name.
type Kind = (O, Pick);

const LRT: Pick = Pick::LeastResponseTime(Tolerance { us: 1000, pct: 20 });

const ALL_POLICIES: [Kind; 15] = [
    (O::Single, Pick::Weighted),
    (O::Single, Pick::RoundRobin),
    (O::Single, Pick::Multivalue),
    (O::Single, Pick::Sticky(StickyPrefixes { v4: 24, v6: 56 })),
    (O::Failover, Pick::Weighted),
    (O::Failover, Pick::RoundRobin),
    (O::Failover, Pick::Multivalue),
    (O::Geo, Pick::Weighted),
    (O::Geo, Pick::RoundRobin),
    (O::Geo, Pick::Multivalue),
    (O::Single, LRT),
    (O::Single, Pick::LeastConnections),
    (O::Failover, Pick::Sticky(StickyPrefixes { v4: 24, v6: 56 })),
    (O::Failover, Pick::LeastConnections),
    (O::Geo, LRT),
];

/// A one-pool name of `kind`.
fn one_pool(kind: Kind, answers: Answers, members: Vec<Member>) -> BalancedName {
    let mut lb = name(kind.1, answers, members);
    lb.order = kind.0.order(1);
    lb
}

fn ask(lb: &BalancedName, family: Family, health: &HealthTable) -> Decision {
    let mut rng = PolicyRng::seed_from_u64(17);
    let mut out = Decision::default();
    answer(lb, family, &client_v4(), health, &mut rng, &mut out);
    out
}

fn sorted(mut v: Vec<IpAddr>) -> Vec<IpAddr> {
    v.sort();
    v
}

#[test]
fn a_gets_v4_members_and_aaaa_gets_v6_members() {
    for policy in ALL_POLICIES {
        let lb = one_pool(
            policy,
            Answers::All,
            vec![v4(1, 1), v6(1, 1), v4(2, 3), v6(2, 2)],
        );
        let health = HealthTable::new(256, Status::Up);
        let d = ask(&lb, Family::V4, &health);
        assert_eq!(sorted(d.addrs), vec![addr4(1), addr4(2)], "{policy:?}");
        let d = ask(&lb, Family::V6, &health);
        assert_eq!(sorted(d.addrs), vec![addr6(1), addr6(2)], "{policy:?}");
        assert_eq!(d.ttl, 30);
    }
}

#[test]
fn no_member_of_the_family_is_nodata_not_all_down() {
    for policy in ALL_POLICIES {
        let mut lb = one_pool(policy, Answers::Count(1), vec![v4(1, 1), v4(2, 1)]);
        lb.on_all_down = OnAllDown::ServFail;
        let health = HealthTable::new(16, Status::Up);
        let d = ask(&lb, Family::V6, &health);
        assert_eq!(
            (d.addrs.len(), d.outcome, d.reason, d.kind),
            (0, Outcome::Answer, reason::NO_MEMBERS, DecisionKind::NoData),
            "{policy:?}"
        );
    }
}

fn sorry_pool(members: Vec<Member>) -> OnAllDown {
    OnAllDown::Fallback(Group::new(Arc::new(Pool::new("sorry", members))))
}

#[test]
fn every_on_all_down_mode() {
    // Pool: .1 (auto), .2 (auto), .3 (forced down). Every auto target down.
    // Fallback pool: .8 (auto), .9 (auto).
    let mut forced = v4(3, 1);
    forced.state = OperatorState::Down;
    let pool = || vec![v4(1, 1), v4(2, 1), forced.clone()];
    // (mode, fallback targets down, answers allowed, outcome, reason)
    type Case = (fn() -> OnAllDown, bool, &'static [u8], Outcome, Reason);
    let cases: &[Case] = &[
        (
            || OnAllDown::FailOpen,
            false,
            &[1, 2],
            Outcome::Answer,
            reason::FAIL_OPEN,
        ),
        (
            || OnAllDown::Empty,
            false,
            &[],
            Outcome::Answer,
            reason::EMPTY,
        ),
        (
            || OnAllDown::ServFail,
            false,
            &[],
            Outcome::ServFail,
            reason::SERVFAIL,
        ),
        (
            || sorry_pool(vec![v4(8, 1), v4(9, 1)]),
            false,
            &[8, 9],
            Outcome::Answer,
            reason::FALLBACK,
        ),
        (
            || sorry_pool(vec![v4(8, 1), v4(9, 1)]),
            true,
            &[8, 9],
            Outcome::Answer,
            reason::FALLBACK_FAIL_OPEN,
        ),
        (
            || {
                let mut m = v4(8, 1);
                m.state = OperatorState::Down;
                sorry_pool(vec![m])
            },
            false,
            &[],
            Outcome::Answer,
            reason::FALLBACK_FORCED_DOWN,
        ),
        (
            || sorry_pool(vec![v6(8, 1)]),
            false,
            &[],
            Outcome::Answer,
            reason::FALLBACK_NO_MEMBERS,
        ),
    ];
    for policy in ALL_POLICIES {
        for (mode, fallback_down, allowed, outcome, why) in cases {
            let mut lb = one_pool(policy, Answers::All, pool());
            lb.on_all_down = mode();
            let health = HealthTable::new(256, Status::Up);
            for id in [1, 2] {
                health.set_status(TargetId(id), Status::Down);
            }
            if *fallback_down {
                health.set_status(TargetId(8), Status::Down);
                health.set_status(TargetId(9), Status::Down);
            }
            let d = ask(&lb, Family::V4, &health);
            let want: Vec<IpAddr> = allowed.iter().map(|&i| addr4(i)).collect();
            assert_eq!(sorted(d.addrs), want, "{policy:?} {}", lb.on_all_down);
            assert_eq!((d.outcome, d.reason), (outcome.clone(), *why), "{policy:?}");
            let kind = match *why {
                reason::FAIL_OPEN => DecisionKind::FailOpen,
                reason::SERVFAIL => DecisionKind::ServFail,
                reason::FALLBACK | reason::FALLBACK_FAIL_OPEN => DecisionKind::Fallback,
                _ => DecisionKind::NoData,
            };
            assert_eq!(d.kind, kind, "{policy:?} {why:?}");
        }
    }
}

#[test]
fn fallback_uses_its_healthy_members_first() {
    let mut lb = name(Pick::Weighted, Answers::All, vec![v4(1, 1)]);
    lb.on_all_down = sorry_pool(vec![v4(8, 1), v4(9, 1)]);
    let health = HealthTable::new(16, Status::Up);
    health.set_status(TargetId(1), Status::Down);
    health.set_status(TargetId(9), Status::Down);
    let d = ask(&lb, Family::V4, &health);
    assert_eq!((d.addrs, d.reason), (vec![addr4(8)], reason::FALLBACK));
}

#[test]
fn fail_open_skips_forced_down_and_still_prefers_live_over_drain() {
    let mut forced = v4(1, 1);
    forced.state = OperatorState::Down;
    let mut drained = v4(2, 1);
    drained.state = OperatorState::Drain;
    let lb = name(
        Pick::Weighted,
        Answers::All,
        vec![forced, drained, v4(3, 1)],
    );
    let health = HealthTable::new(16, Status::Down);
    let d = ask(&lb, Family::V4, &health);
    assert_eq!((d.addrs, d.reason), (vec![addr4(3)], reason::FAIL_OPEN));

    let mut only_forced = v4(1, 1);
    only_forced.state = OperatorState::Down;
    let lb = name(Pick::Weighted, Answers::All, vec![only_forced]);
    let d = ask(&lb, Family::V4, &health);
    assert_eq!((d.addrs.len(), d.reason), (0, reason::FORCED_DOWN));
}

/// `ttl_while_failing`: the shorter TTL while any member of the family is
/// failing (up, latest probes failed) or down, whatever answers.
#[test]
fn ttl_shortens_while_a_member_is_failing() {
    let mut lb = name(
        Pick::Weighted,
        Answers::All,
        vec![v4(1, 1), v4(2, 1), v6(3, 1)],
    );
    lb.ttl_while_failing = Some(5);
    let health = HealthTable::new(16, Status::Up);
    assert_eq!(ask(&lb, Family::V4, &health).ttl, 30);
    health.set_failing(TargetId(2), true);
    let d = ask(&lb, Family::V4, &health);
    assert_eq!((d.ttl, d.addrs.len()), (5, 2), "failing, still answered");
    assert_eq!(ask(&lb, Family::V6, &health).ttl, 30, "other family");
    health.set_failing(TargetId(2), false);
    health.set_status(TargetId(1), Status::Down);
    assert_eq!(ask(&lb, Family::V4, &health).ttl, 5);
    health.set_status(TargetId(1), Status::Up);
    assert_eq!(ask(&lb, Family::V4, &health).ttl, 30);
    lb.ttl_while_failing = None;
    health.set_status(TargetId(1), Status::Down);
    assert_eq!(ask(&lb, Family::V4, &health).ttl, 30, "off by default");
}

#[test]
fn operator_up_overrides_failed_health() {
    let mut pinned = v4(1, 1);
    pinned.state = OperatorState::Up;
    let lb = name(Pick::Weighted, Answers::All, vec![pinned, v4(2, 1)]);
    let health = HealthTable::new(16, Status::Down);
    let d = ask(&lb, Family::V4, &health);
    assert_eq!(
        (d.addrs, d.reason, d.kind),
        (vec![addr4(1)], Reason("weighted"), DecisionKind::Policy)
    );
}

#[test]
fn decision_buffer_is_reused_without_growing() {
    let lb = name(
        Pick::Weighted,
        Answers::Count(2),
        (1..=8).map(|i| v4(i, 1)).collect(),
    );
    let health = HealthTable::new(16, Status::Up);
    let mut rng = PolicyRng::seed_from_u64(1);
    let mut out = Decision::default();
    let cap = out.addrs.capacity();
    for _ in 0..1000 {
        answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
    }
    assert_eq!(out.addrs.capacity(), cap);
}

// ---- properties ----

/// Independent statement of the availability ranking: lower is better.
fn oracle_rank(state: OperatorState, weight: u32, healthy: bool) -> Option<u8> {
    let base = match state {
        OperatorState::Down => return None,
        OperatorState::Up => 0,
        OperatorState::Auto if healthy => 0,
        OperatorState::Drain if healthy => 2,
        OperatorState::Auto | OperatorState::Drain => return None,
    };
    Some(base + u8::from(weight == 0))
}

#[derive(Clone, Debug)]
struct MemberCase {
    v6: bool,
    weight: u32,
    state: OperatorState,
    healthy: bool,
    /// Failover group (0 or 1); ignored by single-group policies.
    group: usize,
    /// Probe RTT in µs (least response time).
    rtt: Option<u32>,
    /// Reported load and what it means (least connections).
    load: Option<(f32, crate::health::LoadKind)>,
}

fn member_case() -> impl Strategy<Value = MemberCase> {
    let state = prop_oneof![
        4 => Just(OperatorState::Auto),
        1 => Just(OperatorState::Up),
        1 => Just(OperatorState::Down),
        1 => Just(OperatorState::Drain),
    ];
    let kind = prop_oneof![
        Just(crate::health::LoadKind::Connections),
        Just(crate::health::LoadKind::Weight)
    ];
    (
        any::<bool>(),
        0u32..4,
        state,
        prop::bool::weighted(0.7),
        0usize..2,
        prop::option::of(1u32..50_000),
        prop::option::of((prop_oneof![0u32..3, 0u32..100], kind)),
    )
        .prop_map(
            |(v6, weight, state, healthy, group, rtt, load)| MemberCase {
                v6,
                weight,
                state,
                healthy,
                group,
                rtt,
                load: load.map(|(l, k)| (l as f32, k)),
            },
        )
}

fn client_case() -> impl Strategy<Value = ClientInfo> {
    let ecs = prop::option::of((any::<u32>(), 0u8..=32).prop_map(|(bits, p)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0);
        ClientSubnet {
            addr: IpAddr::V4(Ipv4Addr::from(bits & mask)),
            source_prefix: p,
        }
    }));
    (any::<u32>(), ecs).prop_map(|(r, ecs)| ClientInfo::new(IpAddr::V4(Ipv4Addr::from(r)), ecs))
}

/// Build a name from cases; member `i` gets target `i` and a distinct address.
fn build(policy: Kind, answers: Answers, cases: &[MemberCase]) -> (BalancedName, HealthTable) {
    let health = HealthTable::new(cases.len(), Status::Up);
    let mut groups: [Vec<Member>; 2] = [Vec::new(), Vec::new()];
    for (i, c) in cases.iter().enumerate() {
        let addr = if c.v6 { addr6(i as u8) } else { addr4(i as u8) };
        let mut m = Member::new(addr, TargetId(i as u32), c.weight);
        m.state = c.state;
        if !c.healthy {
            health.set_status(m.target, Status::Down);
        }
        if let Some(r) = c.rtt {
            health.set_rtt_us(m.target, r);
        }
        if let Some((l, kind)) = c.load {
            health.set_load(m.target, Some(l));
            m.load_kind = Some(kind);
        }
        let g = if policy.0.fails_over() { c.group } else { 0 };
        groups[g].push(m);
    }
    let groups: Box<[Group]> = if policy.0.fails_over() {
        groups
            .into_iter()
            .enumerate()
            .map(|(i, ms)| Group::new(Arc::new(Pool::new(format!("g{i}"), ms))))
            .collect()
    } else {
        let [g0, _] = groups;
        Box::new([Group::new(Arc::new(Pool::new("p", g0)))])
    };
    let lb = BalancedName {
        name: "n".into(),
        ttl: 60,
        ttl_while_failing: None,
        answers,
        order: policy.0.order(groups.len()),
        pick: policy.1,
        groups,
        on_all_down: OnAllDown::FailOpen,
    };
    (lb, health)
}

/// The addresses a correct policy may answer with: the best-ranked
/// members of the family (first group holding that rank), else the
/// fail-open set.
fn oracle(policy: Kind, cases: &[MemberCase], family: Family) -> (HashSet<IpAddr>, bool) {
    let failover = policy.0.fails_over();
    let of_family: Vec<(usize, &MemberCase)> = cases
        .iter()
        .enumerate()
        .filter(|(_, c)| c.v6 == (family == Family::V6))
        .collect();
    let pick = |healthy_known: bool| -> HashSet<IpAddr> {
        let ranked: Vec<(u8, usize, usize)> = of_family
            .iter()
            .filter_map(|&(i, c)| {
                let healthy = !healthy_known || c.healthy;
                let g = if failover { c.group } else { 0 };
                oracle_rank(c.state, c.weight, healthy).map(|r| (r, g, i))
            })
            .collect();
        let Some(&(best_rank, _, _)) = ranked.iter().min_by_key(|(r, _, _)| *r) else {
            return HashSet::new();
        };
        let best_group = ranked
            .iter()
            .filter(|(r, _, _)| *r == best_rank)
            .map(|(_, g, _)| *g)
            .min()
            .unwrap_or(0);
        ranked
            .iter()
            .filter(|(r, g, _)| *r == best_rank && *g == best_group)
            .map(|&(_, _, i)| {
                if cases[i].v6 {
                    addr6(i as u8)
                } else {
                    addr4(i as u8)
                }
            })
            .collect()
    };
    let live = pick(true);
    if live.is_empty() {
        (pick(false), true)
    } else {
        (live, false)
    }
}

fn policy_case() -> impl Strategy<Value = Kind> {
    (0usize..ALL_POLICIES.len(), 0u8..=32, 0u8..=128).prop_map(|(i, v4p, v6p)| {
        match ALL_POLICIES[i] {
            (order, Pick::Sticky(_)) => (order, Pick::Sticky(StickyPrefixes { v4: v4p, v6: v6p })),
            p => p,
        }
    })
}

fn answers_case() -> impl Strategy<Value = Answers> {
    prop_oneof![3 => (1u8..=4).prop_map(Answers::Count), 1 => Just(Answers::All)]
}

proptest! {
    #![proptest_config(Config { cases: 512, rng_seed: RngSeed::Fixed(0x5eed), failure_persistence: None, ..Config::default() })]

    /// Every policy answers only with best-ranked members (never a down or
    /// drained member while a better one is available), with exactly
    /// min(answers, candidates) distinct addresses of the queried family,
    /// and an ECS scope no wider than the client sent.
    #[test]
    fn answers_only_best_available_distinct(
        cases in prop::collection::vec(member_case(), 0..10),
        policy in policy_case(),
        answers in answers_case(),
        v6 in any::<bool>(),
        client in client_case(),
        seed in any::<u64>(),
    ) {
        let family = if v6 { Family::V6 } else { Family::V4 };
        let (lb, health) = build(policy, answers, &cases);
        let (allowed, all_down) = oracle(policy, &cases, family);
        let mut rng = PolicyRng::seed_from_u64(seed);
        let mut out = Decision::default();
        for _ in 0..3 {
            answer(&lb, family, &client, &health, &mut rng, &mut out);
            prop_assert_eq!(&out.outcome, &Outcome::Answer);
            prop_assert_eq!(out.ttl, 60);
            prop_assert!(distinct(&out.addrs), "{:?}", out.addrs);
            prop_assert_eq!(out.addrs.len(), answers.limit().min(allowed.len()));
            for a in &out.addrs {
                prop_assert!(allowed.contains(a), "{} not in {:?}", a, allowed);
            }
            let family_present = cases.iter().any(|c| c.v6 == v6);
            if !family_present {
                prop_assert_eq!(out.reason, reason::NO_MEMBERS);
            } else if all_down {
                prop_assert!(out.reason == reason::FAIL_OPEN || out.reason == reason::FORCED_DOWN);
            }
            match (policy, client.ecs) {
                ((_, Pick::Sticky(_)), Some(ecs)) => prop_assert!(out.ecs_scope <= ecs.source_prefix),
                _ => prop_assert_eq!(out.ecs_scope, 0),
            }
        }
    }
}

proptest! {
    #![proptest_config(Config { cases: 16, rng_seed: RngSeed::Fixed(0xabc), failure_persistence: None, ..Config::default() })]

    /// Single-answer weighted shares match weights within 5 sigma.
    #[test]
    fn weighted_shares_match_weights(weights in prop::collection::vec(1u32..=20, 2..6), seed in any::<u64>()) {
        let members: Vec<Member> = weights.iter().enumerate().map(|(i, &w)| v4(i as u8 + 1, w)).collect();
        let lb = name(Pick::Weighted, Answers::Count(1), members);
        let health = HealthTable::new(16, Status::Up);
        let mut rng = PolicyRng::seed_from_u64(seed);
        let mut out = Decision::default();
        let n = 20_000;
        let mut counts: HashMap<IpAddr, u32> = HashMap::new();
        for _ in 0..n {
            answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
            *counts.entry(out.addrs[0]).or_default() += 1;
        }
        let total: u32 = weights.iter().sum();
        for (i, &w) in weights.iter().enumerate() {
            let p = f64::from(w) / f64::from(total);
            let got = f64::from(counts.get(&addr4(i as u8 + 1)).copied().unwrap_or(0)) / f64::from(n);
            let sigma = (p * (1.0 - p) / f64::from(n)).sqrt();
            prop_assert!((got - p).abs() < 5.0 * sigma, "weights {:?}: member {} got {}, want {}", weights, i, got, p);
        }
    }

    /// Sticky answers carry an ECS scope of the configured prefix, never
    /// wider than the client's source prefix, and 0 without ECS.
    #[test]
    fn sticky_scope_never_wider_than_sent(
        members in 2u8..8,
        v4p in 0u8..=32,
        v6p in 0u8..=128,
        client in client_case(),
        v6_ecs in prop::option::of((any::<u128>(), 0u8..=128)),
    ) {
        let mut client = client;
        if let Some((bits, p)) = v6_ecs {
            let mask = u128::MAX.checked_shl(128 - u32::from(p)).unwrap_or(0);
            client.ecs = Some(ClientSubnet { addr: IpAddr::from(std::net::Ipv6Addr::from(bits & mask)), source_prefix: p });
        }
        let prefixes = StickyPrefixes { v4: v4p, v6: v6p };
        let lb = name(Pick::Sticky(prefixes), Answers::Count(1), (1..=members).map(|i| v4(i, 1)).collect());
        let health = HealthTable::new(16, Status::Up);
        let mut out = Decision::default();
        answer(&lb, Family::V4, &client, &health, &mut PolicyRng::seed_from_u64(0), &mut out);
        prop_assert_eq!(out.addrs.len(), 1);
        let want = match client.ecs {
            None => 0,
            Some(ecs) => {
                let p = if ecs.addr.is_ipv4() { v4p } else { v6p };
                prop_assert!(out.ecs_scope <= ecs.source_prefix);
                p.min(ecs.source_prefix)
            }
        };
        prop_assert_eq!(out.ecs_scope, want);
    }

    /// Sticky: taking any one of N members out moves only its clients, and
    /// every other client keeps its member whatever the RNG.
    #[test]
    fn sticky_remaps_only_the_removed_members_clients(
        weights in prop::collection::vec(1u32..=5, 2..9),
        removed in any::<prop::sample::Index>(),
        nets in prop::collection::vec(any::<u32>(), 300),
    ) {
        let members: Vec<Member> = weights.iter().enumerate().map(|(i, &w)| v4(i as u8 + 1, w)).collect();
        let lb = name(Pick::Sticky(StickyPrefixes::default()), Answers::Count(1), members);
        let health = HealthTable::new(16, Status::Up);
        let gone = removed.index(weights.len()) as u8 + 1;
        let mut out = Decision::default();
        let mut pick = |h: &HealthTable, net: u32, seed: u64| {
            let c = ClientInfo { resolver: IpAddr::V4(Ipv4Addr::from(net)), ..client_v4() };
            answer(&lb, Family::V4, &c, h, &mut PolicyRng::seed_from_u64(seed), &mut out);
            out.addrs[0]
        };
        let before: Vec<IpAddr> = nets.iter().map(|&n| pick(&health, n, 1)).collect();
        health.set_status(TargetId(u32::from(gone)), Status::Down);
        for (&n, was) in nets.iter().zip(&before) {
            let now = pick(&health, n, 2);
            prop_assert_ne!(now, addr4(gone));
            if *was != addr4(gone) {
                prop_assert_eq!(now, *was);
            }
        }
    }
}
