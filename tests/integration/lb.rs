//! Load-balanced names through the real binary: each test writes a policy
//! file (`lb.test.toml`) beside the [`LB_TEST`] zone, starts `dnslb serve`
//! and asks it with hickory's client over UDP, as a resolver would (TCP and
//! raw packets where the transport or the wire size is the point). The
//! policies' selection rules, `on_all_down`, ECS scopes, `dnslb check` and
//! `dnslb explain` on policy files, and SIGHUP reloads of them.
//!
//! Endpoints here are documentation addresses that are never contacted
//! (no check), except in the `on_all_down` tests, whose TCP checks aim at
//! closed ports on 127.0.1.x: nothing else in the suite uses that network.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::{
    LB_TEST, NEG_SOA_LB, Resolver, addrs_of, ecs_scope, ip, ips, lb_name, lb_setup, pool,
};
use crate::harness::{Setup, run};

const A: RecordType = RecordType::A;
const AAAA: RecordType = RecordType::AAAA;

// ---------------------------------------------------------------------
// policies

/// Weights 1:2:3:4, one answer each: 1,000 draws show shares of 10, 20, 30
/// and 40 %. Pearson's chi-square with 3 degrees of freedom: P(X² > 30.66)
/// = 1e-6 when the shares are right, so this fails by chance once in a
/// million runs (a fixed ±5-point band per share would fail about once in
/// 500: 40 % ± 5 is only 3.2 standard deviations). It catches gross skew:
/// equal shares give X² ≈ 302, a member never drawn at least 100. Subtle
/// skew (weights 2:3:4:5, X² ≈ 28 on average) is for the seeded unit tests.
#[tokio::test]
async fn weighted_shares_follow_the_weights() {
    const DRAWS: usize = 1000;
    const CRITICAL: f64 = 30.66;
    let mut policy = pool(
        "p",
        &[
            ("192.0.2.1", "weight = 1"),
            ("192.0.2.2", "weight = 2"),
            ("192.0.2.3", "weight = 3"),
            ("192.0.2.4", "weight = 4"),
        ],
    );
    policy.push_str(&lb_name("www", "weighted", "p", ""));
    let setup = lb_setup("lb-weighted", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let mut counts: BTreeMap<IpAddr, usize> = BTreeMap::new();
    for _ in 0..DRAWS {
        let a = r.addrs("www.lb.test.", A).await;
        assert_eq!(a.len(), 1, "answers = 1: {a:?}");
        *counts.entry(a[0]).or_default() += 1;
    }
    let mut chi2 = 0.0;
    for (i, weight) in [1.0, 2.0, 3.0, 4.0].into_iter().enumerate() {
        let expected = DRAWS as f64 * weight / 10.0;
        let got = counts
            .remove(&ip(&format!("192.0.2.{}", i + 1)))
            .unwrap_or(0) as f64;
        chi2 += (got - expected).powi(2) / expected;
    }
    assert!(counts.is_empty(), "addresses outside the pool: {counts:?}");
    assert!(
        chi2 < CRITICAL,
        "shares do not follow weights 1:2:3:4 (chi-square {chi2:.1} >= {CRITICAL})"
    );
}

/// Weight 0 is standby, `down` is never answered, `drain` is a last resort:
/// with a live weighted member, only it answers; without one, the weight-0
/// member; with nothing else, the drained one.
#[tokio::test]
async fn standby_down_and_drain_members_wait_their_turn() {
    let mut policy = pool(
        "tiers",
        &[
            ("192.0.2.1", ""),
            ("192.0.2.2", "weight = 0"),
            ("192.0.2.3", "state = \"down\""),
            ("192.0.2.4", "state = \"drain\""),
        ],
    );
    policy.push_str(&pool(
        "standby",
        &[
            ("192.0.2.1", "state = \"down\""),
            ("192.0.2.2", "weight = 0"),
            ("192.0.2.4", "state = \"drain\""),
        ],
    ));
    policy.push_str(&pool(
        "drained",
        &[
            ("192.0.2.1", "state = \"down\""),
            ("192.0.2.4", "state = \"drain\""),
        ],
    ));
    policy.push_str(&lb_name("one", "weighted", "tiers", ""));
    policy.push_str(&lb_name("all", "weighted", "tiers", "answers = \"all\""));
    policy.push_str(&lb_name(
        "standby",
        "weighted",
        "standby",
        "answers = \"all\"",
    ));
    policy.push_str(&lb_name(
        "drained",
        "weighted",
        "drained",
        "answers = \"all\"",
    ));
    let setup = lb_setup("lb-tiers", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    for i in 0..100 {
        assert_eq!(
            r.addrs("one.lb.test.", A).await,
            [ip("192.0.2.1")],
            "query {i}: only the weighted member while it is available"
        );
    }
    for _ in 0..20 {
        assert_eq!(r.addrs("all.lb.test.", A).await, [ip("192.0.2.1")]);
        assert_eq!(
            r.addrs("standby.lb.test.", A).await,
            [ip("192.0.2.2")],
            "weight 0 answers when no weighted member is available, before drain"
        );
        assert_eq!(
            r.addrs("drained.lb.test.", A).await,
            [ip("192.0.2.4")],
            "drain answers when nothing else is available"
        );
    }
}

/// `answers = 2`: two distinct available members per reply; `"all"`:
/// every available member, and never the one forced down.
#[tokio::test]
async fn answers_count_and_all() {
    let mut policy = pool(
        "p",
        &[
            ("192.0.2.1", ""),
            ("192.0.2.2", ""),
            ("192.0.2.3", ""),
            ("192.0.2.4", ""),
            ("192.0.2.5", "state = \"down\""),
        ],
    );
    policy.push_str(&lb_name("two", "weighted", "p", "answers = 2"));
    policy.push_str(&lb_name("every", "weighted", "p", "answers = \"all\""));
    let setup = lb_setup("lb-answers", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let available = ips(&["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
    let mut seen = BTreeSet::new();
    // Each member is in a reply with probability 1/2: all four show up in
    // 50 replies but with probability 1 - 4 * 2^-50.
    for _ in 0..50 {
        let a = r.addrs("two.lb.test.", A).await;
        let set: BTreeSet<_> = a.iter().copied().collect();
        assert_eq!(
            (a.len(), set.len()),
            (2, 2),
            "two distinct addresses: {a:?}"
        );
        assert!(set.is_subset(&available), "{a:?}");
        seen.extend(set);
    }
    assert_eq!(seen, available, "every available member is drawn sometimes");
    for _ in 0..10 {
        let a = r.addrs("every.lb.test.", A).await;
        assert_eq!(a.len(), 4, "no duplicates: {a:?}");
        assert_eq!(a.into_iter().collect::<BTreeSet<_>>(), available);
    }
}

/// Round robin, one answer: over 4·N queries each of 4 members leads N
/// times, and every 4 consecutive answers hold all 4 (a rotation).
#[tokio::test]
async fn round_robin_rotates_through_every_member() {
    const N: usize = 25;
    let members = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"];
    let mut policy = pool("p", &members.map(|a| (a, "")));
    policy.push_str(&lb_name("rr", "round_robin", "p", ""));
    policy.push_str(&lb_name("rr2", "round_robin", "p", "answers = 2"));
    let setup = lb_setup("lb-rr", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let mut seq = Vec::new();
    for _ in 0..4 * N {
        let a = r.addrs("rr.lb.test.", A).await;
        assert_eq!(a.len(), 1, "{a:?}");
        seq.push(a[0]);
    }
    for m in members {
        let n = seq.iter().filter(|&&a| a == ip(m)).count();
        assert_eq!(n, N, "{m} answered {n} times in {}: {seq:?}", 4 * N);
    }
    for (i, w) in seq.windows(4).enumerate() {
        let set: BTreeSet<_> = w.iter().collect();
        assert_eq!(
            set.len(),
            4,
            "answers {i}..{}: not a rotation: {w:?}",
            i + 4
        );
    }
    // two at a time, the cursor moving by one: each answer starts with the
    // previous answer's second address, so the first address (the one most
    // clients use) visits every member
    let mut prev = r.addrs("rr2.lb.test.", A).await;
    for _ in 0..8 {
        let a = r.addrs("rr2.lb.test.", A).await;
        assert_eq!(a.len(), 2, "{a:?}");
        assert_ne!(a[0], a[1]);
        assert_eq!(a[0], prev[1], "{prev:?} then {a:?}");
        prev = a;
    }
}

#[tokio::test]
async fn multivalue_all_answers_every_member() {
    let mut policy = pool(
        "p",
        &[
            ("192.0.2.1", "weight = 1"),
            ("192.0.2.2", "weight = 5"),
            ("192.0.2.3", "weight = 0"),
            ("192.0.2.4", "state = \"down\""),
        ],
    );
    policy.push_str(&lb_name("mv", "multivalue", "p", "answers = \"all\""));
    let setup = lb_setup("lb-mv", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    for _ in 0..20 {
        let a = r.addrs("mv.lb.test.", A).await;
        assert_eq!(a.len(), 2, "{a:?}");
        assert_eq!(
            a.into_iter().collect::<BTreeSet<_>>(),
            ips(&["192.0.2.1", "192.0.2.2"]),
            "every weighted member (weight-0 standby and down excluded)"
        );
    }
}

/// Failover answers from the first group only, even when asked for every
/// address; with the first group forced down, from the second.
#[tokio::test]
async fn failover_uses_the_first_group_with_a_member_up() {
    let mut policy = pool("primary", &[("192.0.2.1", ""), ("192.0.2.2", "")]);
    policy.push_str(&pool("secondary", &[("198.51.100.1", "")]));
    policy.push_str(&pool(
        "primary_down",
        &[
            ("192.0.2.1", "state = \"down\""),
            ("192.0.2.2", "state = \"down\""),
        ],
    ));
    let failover = |owner: &str, first: &str, extra: &str| {
        format!(
            "[names.{owner}]\npolicy = \"failover\"\ngroups = [\"{first}\", \"secondary\"]\n{extra}\n"
        )
    };
    policy.push_str(&failover("app", "primary", ""));
    policy.push_str(&failover("appall", "primary", "answers = \"all\""));
    policy.push_str(&failover("app2", "primary_down", ""));
    let setup = lb_setup("lb-failover", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let primary = ips(&["192.0.2.1", "192.0.2.2"]);
    let mut seen = BTreeSet::new();
    for _ in 0..50 {
        let a = r.addrs("app.lb.test.", A).await;
        assert_eq!(a.len(), 1, "{a:?}");
        assert!(
            primary.contains(&a[0]),
            "answer from outside the first group: {a:?}"
        );
        seen.insert(a[0]);
        assert_eq!(r.addr_set("appall.lb.test.", A).await, primary);
        assert_eq!(r.addrs("app2.lb.test.", A).await, [ip("198.51.100.1")]);
    }
    // group_policy defaults to weighted, 1:1: both members, but with
    // probability 2^-49
    assert_eq!(seen, primary);
}

/// Sticky: a client network keeps its member; networks spread over the
/// members; the ECS scope is the sticky prefix, never wider than the
/// source; without ECS the resolver's address decides.
#[tokio::test]
async fn sticky_keeps_a_client_network_on_one_member() {
    let members = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"];
    let v6 = ["2001:db8::1", "2001:db8::2", "2001:db8::3"];
    let both: Vec<_> = members.iter().chain(&v6).map(|a| (*a, "")).collect();
    let mut policy = pool("p", &both);
    policy.push_str(&lb_name("shop", "sticky", "p", ""));
    policy.push_str(&lb_name("shopall", "sticky", "p", "answers = \"all\""));
    policy.push_str(&lb_name("www", "weighted", "p", ""));
    let setup = lb_setup("lb-sticky", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let all = ips(&members);
    let q = "shop.lb.test.";

    // one /24, 100 times: one member, scope 24
    let net = ip("198.51.100.0");
    let mut got = BTreeSet::new();
    for _ in 0..100 {
        let m = r.query_ecs(q, A, net, 24).await;
        assert_eq!(ecs_scope(&m), Some(24), "scope for a /24\n{}", describe(&m));
        let a = addrs_of(&m);
        assert_eq!(a.len(), 1, "{}", describe(&m));
        got.insert(a[0]);
    }
    assert_eq!(got.len(), 1, "one /24 got several members: {got:?}");
    let member = *got.first().unwrap();
    assert!(all.contains(&member));

    // hosts of that /24, sent as /32: the same member, scope 24 (the
    // answer holds for the whole /24)
    for host in ["198.51.100.7", "198.51.100.200"] {
        let m = r.query_ecs(q, A, ip(host), 32).await;
        assert_eq!(addrs_of(&m), [member], "{host}/32\n{}", describe(&m));
        assert_eq!(ecs_scope(&m), Some(24), "{host}/32\n{}", describe(&m));
    }

    // 64 other /24s: every member wins some (the hash is fixed, so this
    // either always holds or never does)
    let mut spread: BTreeMap<IpAddr, usize> = BTreeMap::new();
    for i in 0..64u8 {
        let m = r.query_ecs(q, A, IpAddr::from([10, 0, i, 0]), 24).await;
        let a = addrs_of(&m);
        assert_eq!(a.len(), 1, "{}", describe(&m));
        *spread.entry(a[0]).or_default() += 1;
    }
    assert_eq!(
        spread.keys().copied().collect::<BTreeSet<_>>(),
        all,
        "64 networks did not reach every member: {spread:?}"
    );

    // a /16 source: the scope is never wider than the source, and the
    // answer is stable
    let first = r.query_ecs(q, A, ip("10.1.0.0"), 16).await;
    for _ in 0..10 {
        let m = r.query_ecs(q, A, ip("10.1.0.0"), 16).await;
        let scope = ecs_scope(&m).expect("ECS echoed");
        assert!(
            scope <= 16,
            "scope /{scope} is longer than the /16 source prefix\n{}",
            describe(&m)
        );
        assert_eq!(addrs_of(&m), addrs_of(&first));
    }

    // a /0 source reveals nothing: the answer holds for everyone (scope 0)
    let m = r.query_ecs(q, A, ip("0.0.0.0"), 0).await;
    assert_eq!(ecs_scope(&m), Some(0), "{}", describe(&m));
    assert_eq!(addrs_of(&m).len(), 1, "{}", describe(&m));

    // no ECS: the resolver's address (127.0.0.1) decides, every time
    let first = r.addrs(q, A).await;
    assert_eq!(first.len(), 1);
    for _ in 0..20 {
        assert_eq!(r.addrs(q, A).await, first, "no ECS: not stable");
    }

    // IPv6 clients: sticky_v6_prefix (56) is the scope for a /56 source,
    // a /48 source gets at most 48
    let net6 = ip("2001:db8:aa:bb00::");
    let first = r.query_ecs(q, AAAA, net6, 56).await;
    assert_eq!(addrs_of(&first).len(), 1, "{}", describe(&first));
    assert!(ips(&v6).contains(&addrs_of(&first)[0]));
    for _ in 0..20 {
        let m = r.query_ecs(q, AAAA, net6, 56).await;
        assert_eq!(ecs_scope(&m), Some(56), "{}", describe(&m));
        assert_eq!(addrs_of(&m), addrs_of(&first), "one /56, two members");
    }
    let m = r.query_ecs(q, AAAA, ip("2001:db8:aa::"), 48).await;
    let scope = ecs_scope(&m).expect("ECS echoed");
    assert!(
        scope <= 48,
        "scope /{scope} for a /48 source\n{}",
        describe(&m)
    );

    // answers that do not depend on the client: scope 0 (a sticky name
    // answering every member, a weighted name)
    for name in ["shopall.lb.test.", "www.lb.test."] {
        let m = r.query_ecs(name, A, net, 24).await;
        assert_eq!(ecs_scope(&m), Some(0), "{name}\n{}", describe(&m));
        assert!(!addrs_of(&m).is_empty(), "{name}\n{}", describe(&m));
    }
}

/// Rendezvous hashing: forcing one member down moves only the networks
/// that were on it; every other network keeps its member (README: "removing
/// one of N members moves only the clients that were on it").
#[tokio::test]
async fn sticky_moves_only_the_clients_of_a_removed_member() {
    let members = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"];
    let policy_with = |down: Option<&str>| {
        let list: Vec<_> = members
            .iter()
            .map(|&a| {
                (
                    a,
                    if Some(a) == down {
                        "state = \"down\""
                    } else {
                        ""
                    },
                )
            })
            .collect();
        format!("{}{}", pool("p", &list), lb_name("shop", "sticky", "p", ""))
    };
    let setup = lb_setup("lb-sticky-remap", &policy_with(None));
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let nets: Vec<IpAddr> = (0..64u8).map(|i| IpAddr::from([10, 0, i, 0])).collect();
    let mut before = Vec::new();
    for &n in &nets {
        let a = addrs_of(&r.query_ecs("shop.lb.test.", A, n, 24).await);
        assert_eq!(a.len(), 1);
        before.push(a[0]);
    }
    // the hash is fixed: a second server (a restart, or a second dnslb of
    // the deployment) maps every network the same way
    {
        let other = setup.serve();
        let r2 = Resolver::new(other.addr).await;
        for (&n, &was) in nets.iter().zip(&before) {
            let a = addrs_of(&r2.query_ecs("shop.lb.test.", A, n, 24).await);
            assert_eq!(a, [was], "{n}/24 on another server");
        }
    }
    let gone = ip(members[2]);
    let moved = before.iter().filter(|&&m| m == gone).count();
    assert!(moved > 0, "no network was on {gone}: {before:?}");

    setup.write_policy("lb.test", &policy_with(Some(members[2])));
    assert!(srv.reload());
    for (&n, &was) in nets.iter().zip(&before) {
        let now = addrs_of(&r.query_ecs("shop.lb.test.", A, n, 24).await);
        assert_eq!(now.len(), 1);
        if was == gone {
            assert_ne!(now[0], gone, "{n}/24 still on the member forced down");
        } else {
            assert_eq!(now[0], was, "{n}/24 moved from {was} though {gone} left");
        }
    }
}

/// A pool mixing families answers A from its IPv4 members and AAAA from
/// its IPv6 ones; an AAAA query at an IPv4-only name is NODATA.
#[tokio::test]
async fn a_and_aaaa_come_from_their_own_family() {
    let mut policy = pool(
        "mixed",
        &[
            ("192.0.2.1", ""),
            ("2001:db8::1", ""),
            ("192.0.2.2", ""),
            ("2001:db8::2", ""),
        ],
    );
    policy.push_str(&pool("v4", &[("192.0.2.1", ""), ("192.0.2.2", "")]));
    policy.push_str(&lb_name("dual", "weighted", "mixed", "answers = \"all\""));
    policy.push_str(&lb_name("v4only", "weighted", "v4", "answers = \"all\""));
    let setup = lb_setup("lb-family", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    for _ in 0..10 {
        let m = r.query("dual.lb.test.", A).await;
        assert!(
            m.answers.iter().all(|rr| rr.record_type() == A),
            "{}",
            describe(&m)
        );
        assert_eq!(
            addrs_of(&m).into_iter().collect::<BTreeSet<_>>(),
            ips(&["192.0.2.1", "192.0.2.2"])
        );
        let m = r.query("dual.lb.test.", AAAA).await;
        assert!(
            m.answers.iter().all(|rr| rr.record_type() == AAAA),
            "{}",
            describe(&m)
        );
        assert_eq!(
            addrs_of(&m).into_iter().collect::<BTreeSet<_>>(),
            ips(&["2001:db8::1", "2001:db8::2"])
        );
    }
    assert_eq!(r.addrs("v4only.lb.test.", A).await.len(), 2);
    let m = r.query("v4only.lb.test.", AAAA).await;
    Want {
        rcode: ResponseCode::NoError,
        aa: true,
        answers: &[],
        authority: &[NEG_SOA_LB],
        additional: Some(&[]),
    }
    .check(&m, "v4only AAAA");
}

/// Other types at a load-balanced name come from the zone file, and a
/// CNAME to it ends with the policy's address (with the policy's TTL).
#[tokio::test]
async fn zone_data_and_cnames_around_a_load_balanced_name() {
    let mut policy = pool("one", &[("192.0.2.1", "")]);
    policy.push_str(&lb_name("www", "weighted", "one", ""));
    let setup = lb_setup("lb-zone-data", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let ok = |answers| Want {
        rcode: ResponseCode::NoError,
        aa: true,
        answers,
        authority: &[],
        additional: None,
    };
    // hickory renders TXT strings unquoted
    ok(&["www.lb.test. 300 IN TXT zone data"])
        .check(&r.query("www.lb.test.", RecordType::TXT).await, "www TXT");
    ok(&["www.lb.test. 300 IN MX 10 mail.lb.test."])
        .check(&r.query("www.lb.test.", RecordType::MX).await, "www MX");
    ok(&["www.lb.test. 30 IN A 192.0.2.1"]).check(&r.query("www.lb.test.", A).await, "www A");
    ok(&[
        "alias.lb.test. 300 IN CNAME www.lb.test.",
        "www.lb.test. 30 IN A 192.0.2.1",
    ])
    .check(&r.query("alias.lb.test.", A).await, "alias A");
    // the CNAME's target has no IPv6 member: CNAME, then NODATA
    Want {
        rcode: ResponseCode::NoError,
        aa: true,
        answers: &["alias.lb.test. 300 IN CNAME www.lb.test."],
        authority: &[NEG_SOA_LB],
        additional: None,
    }
    .check(&r.query("alias.lb.test.", AAAA).await, "alias AAAA");
}

/// Load-balanced names as part of the zone tree: at the apex (beside the
/// SOA and NS), below an empty non-terminal, with names under them that do
/// not exist; asked in mixed case, over TCP, and with ANY (README: over UDP
/// one RRset, the policy's addresses; over TCP every RRset).
#[tokio::test]
async fn load_balanced_names_in_the_zone_tree() {
    let mut policy = pool("one", &[("192.0.2.1", "")]);
    policy.push_str(&pool("two", &[("192.0.2.2", "")]));
    policy.push_str(&lb_name("\"@\"", "weighted", "two", ""));
    policy.push_str(&lb_name("www", "weighted", "one", ""));
    policy.push_str(&lb_name("\"a.b\"", "weighted", "one", ""));
    let setup = lb_setup("lb-tree", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    const NOERROR: ResponseCode = ResponseCode::NoError;
    let want = |answers: &'static [&'static str], authority: &'static [&'static str], rcode| Want {
        rcode,
        aa: true,
        answers,
        authority,
        additional: None,
    };
    want(&["lb.test. 30 IN A 192.0.2.2"], &[], NOERROR)
        .check(&r.query("lb.test.", A).await, "apex A");
    want(
        &["lb.test. 300 IN SOA ns1.lb.test. hostmaster.lb.test. 1 7200 3600 1209600 60"],
        &[],
        NOERROR,
    )
    .check(&r.query("lb.test.", RecordType::SOA).await, "apex SOA");
    want(&["lb.test. 300 IN NS ns1.lb.test."], &[], NOERROR)
        .check(&r.query("lb.test.", RecordType::NS).await, "apex NS");
    want(&["a.b.lb.test. 30 IN A 192.0.2.1"], &[], NOERROR)
        .check(&r.query("a.b.lb.test.", A).await, "a.b A");
    // b exists only as the parent of a.b: NODATA, not NXDOMAIN
    want(&[], &[NEG_SOA_LB], NOERROR).check(&r.query("b.lb.test.", A).await, "b A");
    want(&[], &[NEG_SOA_LB], ResponseCode::NXDomain)
        .check(&r.query("x.www.lb.test.", A).await, "x.www A");
    want(&[], &[NEG_SOA_LB], ResponseCode::NXDomain)
        .check(&r.query("nothere.lb.test.", A).await, "nothere A");
    assert_eq!(
        r.addrs("WwW.Lb.TeSt.", A).await,
        [ip("192.0.2.1")],
        "mixed case"
    );

    let m = ask(Proto::Tcp, srv.addr, "www.lb.test.", A).await;
    want(&["www.lb.test. 30 IN A 192.0.2.1"], &[], NOERROR).check(&m, "www A over TCP");
    let m = ask(Proto::Udp, srv.addr, "www.lb.test.", RecordType::ANY).await;
    want(&["www.lb.test. 30 IN A 192.0.2.1"], &[], NOERROR).check(&m, "www ANY over UDP");
    let m = ask(Proto::Tcp, srv.addr, "www.lb.test.", RecordType::ANY).await;
    assert_eq!(
        rrs_sorted(&m.answers),
        [
            "www.lb.test. 30 IN A 192.0.2.1",
            "www.lb.test. 300 IN MX 10 mail.lb.test.",
            "www.lb.test. 300 IN TXT zone data",
        ],
        "www ANY over TCP\n{}",
        describe(&m)
    );
}

/// The answer's TTL is the name's `ttl`, 30 when unset; both ends of the
/// allowed range work.
#[tokio::test]
async fn answer_ttl_is_the_names_ttl() {
    let mut policy = pool(
        "p",
        &[("192.0.2.1", ""), ("192.0.2.2", ""), ("2001:db8::1", "")],
    );
    policy.push_str(&lb_name("dflt", "weighted", "p", "answers = \"all\""));
    policy.push_str(&lb_name(
        "short",
        "round_robin",
        "p",
        "answers = \"all\"\nttl = 1",
    ));
    policy.push_str(&lb_name(
        "long",
        "multivalue",
        "p",
        "answers = \"all\"\nttl = 86400",
    ));
    policy.push_str(&lb_name("st", "sticky", "p", "ttl = 77"));
    let setup = lb_setup("lb-ttl", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    for (owner, ttl, n4) in [
        ("dflt", 30, 2),
        ("short", 1, 2),
        ("long", 86400, 2),
        ("st", 77, 1),
    ] {
        for t in [A, AAAA] {
            let q = format!("{owner}.lb.test.");
            let m = r.query(&q, t).await;
            let want = if t == A { n4 } else { 1 };
            assert_eq!(m.answers.len(), want, "{q} {t}\n{}", describe(&m));
            for rr in &m.answers {
                assert_eq!(rr.ttl, ttl, "{q} {t}\n{}", describe(&m));
            }
        }
    }
}

// ---------------------------------------------------------------------
// on_all_down

/// A port nothing listens on at `ip` (a loopback address no other test
/// uses): bound once by us to learn a free number, then closed.
pub fn closed_port(ip: IpAddr) -> u16 {
    let l = std::net::TcpListener::bind((ip, 0)).expect("bind a loopback port");
    l.local_addr().unwrap().port()
}

/// Every member down, by health checks that meet closed ports (TCP,
/// `initial_state = "down"`, so no waiting: they are down before the first
/// probe and stay down after it). `state = "down"` members are never
/// answered, not even when failing open.
#[tokio::test]
async fn on_all_down_modes() {
    let port = closed_port(ip("127.0.1.1"));
    let mut policy = format!(
        "[checks.closed]\nkind = \"tcp\"\nport = {port}\ninterval = 0.2\ntimeout = 0.1\nfall = 1\nrise = 1\ninitial_state = \"down\"\n"
    );
    let checked = "check = \"closed\"";
    policy.push_str(&pool(
        "dead",
        &[("127.0.1.1", checked), ("127.0.1.2", checked)],
    ));
    policy.push_str(&pool("dead_sorry", &[("127.0.1.3", checked)]));
    policy.push_str(&pool("sorry", &[("192.0.2.99", "")]));
    policy.push_str(&pool(
        "partly_forced",
        &[("192.0.2.1", "state = \"down\""), ("127.0.1.4", checked)],
    ));
    policy.push_str(&pool(
        "forced",
        &[
            ("192.0.2.1", "state = \"down\""),
            ("192.0.2.2", "state = \"down\""),
        ],
    ));
    let all = "answers = \"all\"\non_all_down";
    policy.push_str(&lb_name(
        "all",
        "weighted",
        "dead",
        &format!("{all} = \"all\""),
    ));
    policy.push_str(&lb_name(
        "empty",
        "weighted",
        "dead",
        &format!("{all} = \"empty\""),
    ));
    policy.push_str(&lb_name(
        "servfail",
        "weighted",
        "dead",
        &format!("{all} = \"servfail\""),
    ));
    policy.push_str(&lb_name(
        "fallback",
        "weighted",
        "dead",
        &format!("{all} = \"fallback\"\nfallback_pool = \"sorry\""),
    ));
    policy.push_str(&lb_name(
        "fallback-dead",
        "weighted",
        "dead",
        &format!("{all} = \"fallback\"\nfallback_pool = \"dead_sorry\""),
    ));
    policy.push_str(&lb_name(
        "partly-forced",
        "weighted",
        "partly_forced",
        &format!("{all} = \"all\""),
    ));
    policy.push_str(&lb_name(
        "forced",
        "weighted",
        "forced",
        &format!("{all} = \"all\""),
    ));
    let setup = lb_setup("lb-all-down", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let nodata = |ctx: &str, m: &Message| {
        Want {
            rcode: ResponseCode::NoError,
            aa: true,
            answers: &[],
            authority: &[NEG_SOA_LB],
            additional: Some(&[]),
        }
        .check(m, ctx)
    };
    // Ask before and after the probes have had time to run (several
    // intervals): the outcome must not change.
    for round in 0..2 {
        if round == 1 {
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        }
        let ctx = |n: &str| format!("round {round}: {n}");
        assert_eq!(
            r.addr_set("all.lb.test.", A).await,
            ips(&["127.0.1.1", "127.0.1.2"]),
            "{}: fail open",
            ctx("all")
        );
        nodata(&ctx("empty"), &r.query("empty.lb.test.", A).await);
        let m = r.query("servfail.lb.test.", A).await;
        assert_eq!(
            m.metadata.response_code,
            ResponseCode::ServFail,
            "{}\n{}",
            ctx("servfail"),
            describe(&m)
        );
        assert!(m.answers.is_empty(), "{}", describe(&m));
        // no IPv6 member at all is NODATA, not "all down"
        nodata(
            &ctx("servfail AAAA"),
            &r.query("servfail.lb.test.", AAAA).await,
        );
        assert_eq!(
            r.addrs("fallback.lb.test.", A).await,
            [ip("192.0.2.99")],
            "{}",
            ctx("fallback")
        );
        assert_eq!(
            r.addrs("fallback-dead.lb.test.", A).await,
            [ip("127.0.1.3")],
            "{}: the fallback pool fails open too",
            ctx("fallback_dead")
        );
        assert_eq!(
            r.addrs("partly-forced.lb.test.", A).await,
            [ip("127.0.1.4")],
            "{}: forced down is not failed open",
            ctx("partly_forced")
        );
        nodata(&ctx("forced"), &r.query("forced.lb.test.", A).await);
    }
}

// ---------------------------------------------------------------------
// dnslb check and explain on policy files

/// The diagnostics of `stderr` about files of `setup`, one per line.
fn diagnostics<'a>(setup: &Setup, stderr: &'a str) -> Vec<&'a str> {
    let dir = setup.policy_file("x");
    let dir = dir.parent().unwrap().display().to_string();
    stderr.lines().filter(|l| l.starts_with(&dir)).collect()
}

/// A policy file with three errors, at known lines and columns.
const BAD_POLICY: &str = r#"[pools.p]
members = [ { address = "192.0.2.10", weight = 1001 } ]
[pools.q]
members = [ { address = "192.0.2.11" } ]
[names.a]
policy = "weighted"
pool = "nope"
[names.b]
policy = "weighted"
pool = "q"
colour = "blue"
"#;

/// `www` has an A record in [`DUP_ZONE`].
const DUP_POLICY: &str = "[pools.q]\nmembers = [ { address = \"192.0.2.11\" } ]\n[names.www]\npolicy = \"weighted\"\npool = \"q\"\n";
const DUP_ZONE: &str = "$TTL 300\n@ IN SOA ns h 1 7200 3600 1209600 60\n  IN NS ns\nns IN A 192.0.2.1\nwww IN A 192.0.2.2\n";

/// (file, `LINE:COL: key.path: ` right after the file name, text the
/// message must contain) for every error of [`BAD_POLICY`].
const BAD_POLICY_ERRORS: &[(&str, &str)] = &[
    (
        "2:48: pools.p.members[0].weight: ",
        "must be between 0 and 1000, got 1001",
    ),
    ("7:8: names.a.pool: ", "unknown pool \"nope\""),
    ("11:1: names.b", "colour"),
];

#[track_caller]
fn assert_has_diag(diags: &[&str], prefix: &str, text: &str, stderr: &str) {
    assert!(
        diags
            .iter()
            .any(|d| d.starts_with(prefix) && d.contains(text)),
        "missing `{prefix}... {text}` in:\n{stderr}"
    );
}

/// `dnslb check` prints every policy-file error with its file, line (and,
/// from the TOML parser, column and key path), and exits 1.
#[test]
fn check_reports_every_policy_file_error() {
    let setup = Setup::new(
        "lb-check",
        &[("lb.test", LB_TEST), ("dup.test", DUP_ZONE)],
        "",
    );
    setup.write_policy("lb.test", BAD_POLICY);
    setup.write_policy("dup.test", DUP_POLICY);
    let out = setup.check();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{}", out.stderr);
    let diags = diagnostics(&setup, &out.stderr);
    let bad = setup.policy_file("lb.test").display().to_string();
    for (at, text) in BAD_POLICY_ERRORS {
        assert_has_diag(&diags, &format!("{bad}:{at}"), text, &out.stderr);
    }
    let dup = setup.policy_file("dup.test").display().to_string();
    assert_has_diag(
        &diags,
        &format!("{dup}:3:"),
        "www.dup.test. also has A records",
        &out.stderr,
    );
    assert_eq!(diags.len(), 4, "exactly four errors:\n{}", out.stderr);
    // the server refuses to start on the same files
    let (status, stderr) = setup.serve_expecting_failure();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert_eq!(diagnostics(&setup, &stderr).len(), 4, "{stderr}");
}

/// One file holding all four mistakes: the zone conflict must be reported
/// along with the TOML errors (STYLE.md: errors are all collected before
/// failing).
#[test]
fn check_reports_a_zone_conflict_beside_other_errors_in_one_file() {
    let zone = format!("{LB_TEST}dup IN A 192.0.2.1\n");
    let setup = Setup::new("lb-check-one", &[("lb.test", &zone)], "");
    let policy = format!("{BAD_POLICY}[names.dup]\npolicy = \"weighted\"\npool = \"q\"\n");
    setup.write_policy("lb.test", &policy);
    let out = setup.check();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{}", out.stderr);
    let diags = diagnostics(&setup, &out.stderr);
    let file = setup.policy_file("lb.test").display().to_string();
    for (at, text) in BAD_POLICY_ERRORS {
        assert_has_diag(&diags, &format!("{file}:{at}"), text, &out.stderr);
    }
    assert_has_diag(
        &diags,
        &format!("{file}:12:"),
        "dup.lb.test. also has A records",
        &out.stderr,
    );
}

/// README: TOML errors read `FILE:LINE:COL: key.path: message`; the column
/// of a name conflict is that of the name inside `[names.www]`.
#[test]
fn zone_conflict_error_has_a_column() {
    let setup = Setup::new("lb-check-col", &[("dup.test", DUP_ZONE)], "");
    setup.write_policy("dup.test", DUP_POLICY);
    let out = setup.check();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{}", out.stderr);
    let dup = setup.policy_file("dup.test").display().to_string();
    assert_has_diag(
        &diagnostics(&setup, &out.stderr),
        &format!("{dup}:3:8: names.www: "),
        "also has A records",
        &out.stderr,
    );
}

/// `dnslb explain` prints the answer and the policy, exits 0, and agrees
/// with what the server answers (sticky is deterministic: same ECS, same
/// member).
#[tokio::test]
async fn explain_shows_the_answer_and_the_policy() {
    let mut policy = pool("one", &[("192.0.2.1", "name = \"web-a\"")]);
    policy.push_str(&pool(
        "p",
        &[
            ("192.0.2.1", ""),
            ("192.0.2.2", ""),
            ("192.0.2.3", ""),
            ("192.0.2.4", "state = \"down\""),
        ],
    ));
    policy.push_str(&lb_name("www", "weighted", "one", "ttl = 45"));
    policy.push_str(&lb_name("shop", "sticky", "p", ""));
    let setup = lb_setup("lb-explain", &policy);
    let config = setup.config().display().to_string();
    let explain = |args: &[&str]| {
        let mut a: Vec<String> = vec!["explain".into()];
        a.extend(args.iter().map(|s| s.to_string()));
        a.extend(["--config".into(), config.clone()]);
        let out = run(&a);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: stderr:\n{}",
            out.stderr
        );
        out.stdout
    };
    let text = explain(&["www.lb.test", "A", "--client", "192.0.2.7"]);
    for want in [
        ";; query: www.lb.test. A from 192.0.2.7",
        "aa: true",
        ";; ANSWER\nwww.lb.test. 45 IN A 192.0.2.1\n",
        ";; POLICY\n",
        "policy weighted, ttl 45, answers 1, on_all_down all",
        "pool one",
        "web-a",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }

    let text = explain(&[
        "shop.lb.test",
        "A",
        "--client",
        "192.0.2.7",
        "--ecs",
        "198.51.100.0/24",
    ]);
    for want in [";; ecs scope: /24", "policy sticky", "192.0.2.4", "down"] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let m = r
        .query_ecs("shop.lb.test.", A, ip("198.51.100.0"), 24)
        .await;
    let served = rrs(&m.answers);
    assert_eq!(served.len(), 1, "{}", describe(&m));
    assert!(
        text.contains(&format!(";; ANSWER\n{}\n", served[0])),
        "explain and the server disagree: served {served:?}, explain says:\n{text}"
    );
}

/// SIGHUP reloads the policy file: new weights and members are answered
/// at once; a broken file is refused and the previous policy stays.
#[tokio::test]
async fn reload_follows_the_policy_file_and_keeps_it_on_errors() {
    let v1 = format!(
        "{}{}",
        pool(
            "p",
            &[("192.0.2.1", "weight = 1"), ("192.0.2.2", "weight = 0")]
        ),
        lb_name("www", "weighted", "p", "answers = \"all\"")
    );
    let setup = lb_setup("lb-reload", &v1);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    assert_eq!(r.addrs("www.lb.test.", A).await, [ip("192.0.2.1")]);

    // weights swapped, one member added
    let v2 = format!(
        "{}{}",
        pool(
            "p",
            &[
                ("192.0.2.1", "weight = 0"),
                ("192.0.2.2", "weight = 1"),
                ("192.0.2.3", "weight = 1"),
            ]
        ),
        lb_name("www", "weighted", "p", "answers = \"all\"")
    );
    setup.write_policy("lb.test", &v2);
    assert!(srv.reload(), "a valid policy file was not reloaded");
    let v2_answer = ips(&["192.0.2.2", "192.0.2.3"]);
    assert_eq!(r.addr_set("www.lb.test.", A).await, v2_answer);

    // an unknown key: refused, said so, v2 keeps answering
    setup.write_policy("lb.test", &format!("{v2}colour = \"blue\"\n"));
    assert!(!srv.reload(), "a broken policy file was loaded");
    assert!(srv.log_count("colour") >= 1, "the error is logged");
    for _ in 0..5 {
        assert_eq!(r.addr_set("www.lb.test.", A).await, v2_answer);
    }

    // no policy file at all: www is plain zone data again (TXT and MX,
    // no address: NODATA)
    std::fs::remove_file(setup.policy_file("lb.test")).unwrap();
    assert!(srv.reload(), "removing the policy file was refused");
    let m = r.query("www.lb.test.", A).await;
    Want {
        rcode: ResponseCode::NoError,
        aa: true,
        answers: &[],
        authority: &[NEG_SOA_LB],
        additional: Some(&[]),
    }
    .check(&m, "www A without a policy file");
}

/// `answers = "all"` over 40 members (~660 bytes of answers) does not fit
/// a 512-byte UDP reply. A load-balanced answer is ours to size: UDP gets
/// as many distinct members as fit (no TC, so no retry over TCP), and the
/// whole set comes over TCP and with EDNS (1232).
#[test]
fn a_large_answer_set_is_cut_to_what_fits_not_truncated() {
    let members: Vec<String> = (1..=40).map(|i| format!("192.0.2.{i}")).collect();
    let list: Vec<(&str, &str)> = members.iter().map(|a| (a.as_str(), "")).collect();
    let all: BTreeSet<IpAddr> = members.iter().map(|a| ip(a)).collect();
    for policy in ["multivalue", "weighted", "round_robin"] {
        let text = format!(
            "{}{}",
            pool("big", &list),
            lb_name("big", policy, "big", "answers = \"all\"")
        );
        let setup = lb_setup(&format!("lb-fit-{policy}"), &text);
        let srv = setup.serve();
        let q = encode(&query_msg("big.lb.test.", A));
        let mut seen = BTreeSet::new();
        for _ in 0..5 {
            let r = exchange(Proto::Udp, srv.addr, &q);
            assert!(r.len() <= 512, "{} bytes", r.len());
            assert_eq!(flags_of(&r) & TC, 0, "{policy}: TC set");
            let m = decode(&r);
            let got: BTreeSet<IpAddr> = addrs_of(&m).into_iter().collect();
            // (512 - 12 - 17) / 16: 30 records of 16 bytes.
            assert_eq!(got.len(), 30, "{policy}\n{}", describe(&m));
            assert_eq!(m.answers.len(), 30, "{policy}: duplicates");
            assert!(got.is_subset(&all));
            seen.extend(got);
        }
        // A random subset (rotating, for round robin) each time.
        assert!(seen.len() > 30, "{policy}: always the same subset");
        for (proto, packet) in [
            (Proto::Tcp, q.clone()),
            (Proto::Udp, encode(&query_msg_edns("big.lb.test.", A, 1232))),
        ] {
            let r = exchange(proto, srv.addr, &packet);
            assert_eq!(flags_of(&r) & TC, 0, "{proto:?}: TC");
            let m = decode(&r);
            let got: BTreeSet<IpAddr> = addrs_of(&m).into_iter().collect();
            assert_eq!(got, all, "{policy} {proto:?}\n{}", describe(&m));
            assert_eq!(m.answers.len(), 40, "{proto:?}: duplicates");
        }
    }
}

/// A pool bigger than a whole TCP message (5,000 IPv6 members: 140 kB of
/// answers) still answers, over TCP with as many as fit in 65,535 bytes.
#[test]
fn a_pool_larger_than_a_tcp_message_answers_what_fits() {
    let members: Vec<String> = (1..=5000).map(|i| format!("2001:db8::{i:x}")).collect();
    let list: Vec<(&str, &str)> = members.iter().map(|a| (a.as_str(), "")).collect();
    let text = format!(
        "{}{}",
        pool("huge", &list),
        lb_name("huge", "weighted", "huge", "answers = \"all\"")
    );
    let setup = lb_setup("lb-huge", &text);
    let srv = setup.serve();
    let r = exchange(
        Proto::Tcp,
        srv.addr,
        &encode(&query_msg("huge.lb.test.", AAAA)),
    );
    assert_eq!(flags_of(&r) & TC, 0);
    let m = decode(&r);
    let got: BTreeSet<IpAddr> = addrs_of(&m).into_iter().collect();
    // (65535 - 12 - 18) / 28 = 2339 records.
    assert_eq!(got.len(), 2339, "{} answers", m.answers.len());
    assert_eq!(m.answers.len(), 2339);
    let r = exchange(
        Proto::Udp,
        srv.addr,
        &encode(&query_msg("huge.lb.test.", AAAA)),
    );
    assert_eq!(flags_of(&r) & TC, 0);
    assert_eq!(counts_of(&r)[1], 17); // (512 - 30) / 28
}

/// `dnslb check` warns (and still succeeds) when a name's answer can never
/// fit a UDP reply, naming the policy file, the name and the counts.
#[test]
fn check_warns_about_answers_that_never_fit() {
    let members: Vec<String> = (1..=100).map(|i| format!("192.0.2.{i}")).collect();
    let list: Vec<(&str, &str)> = members.iter().map(|a| (a.as_str(), "")).collect();
    let text = format!(
        "{}{}{}",
        pool("big", &list),
        lb_name("big", "multivalue", "big", "answers = \"all\""),
        lb_name("small", "multivalue", "big", "answers = 8"),
    );
    let setup = lb_setup("lb-check-fit", &text);
    let out = setup.check();
    assert!(out.status.success(), "{}", out.stderr);
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(": warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    let w = warnings[0];
    // FILE:LINE:COL of the `big` in `[names.big]`, in the form of every
    // other warning.
    let line = text
        .lines()
        .position(|l| l.starts_with("[names.big]"))
        .unwrap()
        + 1;
    let want = format!(
        "lb.test.toml:{line}:8: warning: names.big: answers of up to 100 IPv4 members never fit a UDP reply"
    );
    assert!(w.contains(&want), "{w}\nwanted {want}");
    assert!(w.contains("at most 72 fit in 1232 bytes"), "{w}");
    assert!(w.contains("30 without EDNS"), "{w}");
}
