//! The geo order through the engine, socketless: the shipped example zone
//! (`cdn.example.test`, its `[geo]` networks and nets file) with the
//! example database, queried with and without ECS from IPv4, IPv6 and
//! IPv4-mapped resolvers. Each case checks the answer and the ECS scope.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};

use super::{Transport, Worker};
use crate::config::Settings;
use crate::diag::{Diagnostics, Located};
use crate::snapshot::{Snapshot, build};

fn example() -> Snapshot {
    let settings = Settings {
        geoip_database: Some(Located::default_value("geoip/example.mmdb".into())),
        ..Settings::default()
    };
    let mut diags = Diagnostics::new();
    let snap = build(&settings, None, false, &mut diags);
    assert_eq!(diags.warnings().count(), 0);
    snap.unwrap_or_else(|| panic!("{diags}"))
}

/// Ask `cdn.example.test.` from resolver `from`, with ECS `ecs` (address,
/// source prefix) when given; `Err` for a reply with another rcode.
fn ask(
    snap: &Snapshot,
    rtype: RecordType,
    from: &str,
    ecs: Option<(&str, u8)>,
) -> (Vec<IpAddr>, Option<u8>) {
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("cdn.example.test.").unwrap(),
        rtype,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    if let Some((net, source)) = ecs {
        e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
            net.parse().unwrap(),
            source,
            0,
        )));
    }
    m.set_edns(e);
    let mut out = Vec::new();
    let src = SocketAddr::new(from.parse().unwrap(), 5300);
    assert!(Worker::new(3).respond(snap, &m.to_vec().unwrap(), src, Transport::Udp, &mut out));
    let r = Message::from_vec(&out).unwrap();
    assert_eq!(r.metadata.response_code, ResponseCode::NoError);
    let addrs = r
        .answers
        .iter()
        .filter_map(|rr| match &rr.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    let scope = match r.edns.as_ref().and_then(|e| e.option(EdnsCode::Subnet)) {
        Some(EdnsOption::Subnet(cs)) => Some(cs.scope_prefix()),
        _ => None,
    };
    (addrs, scope)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const US_WEST: &str = "127.0.1.1";
const US_EAST: &str = "127.0.1.2";
const EU: &str = "127.0.2.1";
const AP: &str = "127.0.3.1";
const LAB: &str = "127.0.9.1";

/// Every rule level, custom networks over the database, unknown clients,
/// and the scope of each answer.
#[test]
fn each_rule_level_answers_with_its_scope() {
    let s = example();
    let far = "192.0.2.1"; // a resolver the database puts in California
    // (ECS, answer, scope)
    let cases: &[(&str, u8, &str, u8)] = &[
        // subdivision US-CA (database 192.0.2.0/26, source /24: scope 24)
        ("192.0.2.0", 24, US_WEST, 24),
        // US-NY: no subdivision rule, country US
        ("192.0.2.64", 26, US_EAST, 26),
        ("192.0.2.65", 32, US_EAST, 26),
        // CA-ON: country CA
        ("192.0.2.128", 25, US_EAST, 25),
        // GB (198.51.100.0/25 in the database): continent EU
        ("198.51.100.0", 24, EU, 24),
        ("198.51.100.0", 25, EU, 25),
        ("198.51.100.7", 32, EU, 25),
        // DE, continent EU
        ("198.51.100.128", 26, EU, 26),
        // the custom office network beats the database's Netherlands
        ("198.51.100.192", 26, US_WEST, 26),
        ("198.51.100.200", 32, US_WEST, 26),
        // JP and AU: continents AS and OC
        ("203.0.113.0", 24, AP, 24),
        ("203.0.113.192", 26, AP, 26),
        // private: never placed by the database; the default, scoped to 10/8
        ("10.1.0.0", 16, US_EAST, 8),
        // loopback is the lab (custom network 127/8)
        ("127.0.0.0", 8, LAB, 8),
    ];
    for &(net, source, want, scope) in cases {
        let got = ask(&s, RecordType::A, far, Some((net, source)));
        assert_eq!(got, (vec![ip(want)], Some(scope)), "ECS {net}/{source}");
    }
}

#[test]
fn ipv6_and_ipv4_mapped_clients() {
    let s = example();
    // IE (2001:db8:1000::/36): EU; AAAA from the rule's second pool, the
    // first (eu-central) has no IPv6 member
    assert_eq!(
        ask(&s, RecordType::A, "::1", Some(("2001:db8:1000::", 48))),
        (vec![ip(EU)], Some(36))
    );
    assert_eq!(
        ask(&s, RecordType::AAAA, "::1", Some(("2001:db8:1000::", 48))),
        (vec![ip("::1")], Some(36))
    );
    // the nets file's lab network inside the database's US /32
    assert_eq!(
        ask(&s, RecordType::A, "::1", Some(("2001:db8:ffff::", 56))),
        (vec![ip(LAB)], Some(48))
    );
    // BR (2001:db8:2000::/36): South America has no rule: the default
    assert_eq!(
        ask(&s, RecordType::A, "::1", Some(("2001:db8:2000::", 40))),
        (vec![ip(US_EAST)], Some(36))
    );
    // an IPv4-mapped resolver is located as IPv4 (DE), no ECS
    assert_eq!(
        ask(&s, RecordType::A, "::ffff:198.51.100.130", None),
        (vec![ip(EU)], None)
    );
    // IPv4-mapped in ECS (family 2) is located as IPv4 (JP,
    // 203.0.113.0/25) and scoped in IPv6 terms: 96 + 25, capped at the
    // source
    assert_eq!(
        ask(&s, RecordType::A, "::1", Some(("::ffff:203.0.113.0", 120))),
        (vec![ip(AP)], Some(120))
    );
    assert_eq!(
        ask(&s, RecordType::A, "::1", Some(("::ffff:203.0.113.0", 128))),
        (vec![ip(AP)], Some(121))
    );
}

#[test]
fn without_ecs_the_resolver_is_located_and_no_ecs_comes_back() {
    let s = example();
    assert_eq!(
        ask(&s, RecordType::A, "127.0.0.1", None),
        (vec![ip(LAB)], None)
    );
    assert_eq!(ask(&s, RecordType::A, "::1", None), (vec![ip(LAB)], None));
    assert_eq!(
        ask(&s, RecordType::A, "192.0.2.1", None),
        (vec![ip(US_WEST)], None)
    );
    assert_eq!(
        ask(&s, RecordType::A, "203.0.113.9", None),
        (vec![ip(AP)], None)
    );
    // source prefix 0: "do not use my address" (RFC 7871 §7.1.2): the
    // resolver is located, scope 0
    assert_eq!(
        ask(&s, RecordType::A, "203.0.113.9", Some(("0.0.0.0", 0))),
        (vec![ip(AP)], Some(0))
    );
    assert_eq!(
        ask(&s, RecordType::A, "127.0.0.1", Some(("::", 0))),
        (vec![ip(LAB)], Some(0))
    );
}

#[test]
fn static_names_keep_scope_zero_beside_geo_names() {
    let s = example();
    let mut m = Message::new(7, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("mail.example.test.").unwrap(),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.options_mut().insert(EdnsOption::Subnet(ClientSubnet::new(
        ip("192.0.2.0"),
        24,
        0,
    )));
    m.set_edns(e);
    let mut out = Vec::new();
    let src = SocketAddr::from(([127, 0, 0, 1], 5300));
    assert!(Worker::new(3).respond(&s, &m.to_vec().unwrap(), src, Transport::Udp, &mut out));
    let r = Message::from_vec(&out).unwrap();
    let Some(EdnsOption::Subnet(cs)) = r.edns.as_ref().unwrap().option(EdnsCode::Subnet) else {
        panic!("no ECS")
    };
    assert_eq!(cs.scope_prefix(), 0);
}
