//! The geo order: rule levels, failover inside a rule then to the default
//! rule then `on_all_down`, NODATA without a rule, scope and reasons.

use std::sync::Arc;

use rand::SeedableRng as _;

use super::super::testutil::*;
use super::super::*;
use super::*;
use crate::geoip::{CustomPlace, Location, LocationSource};

/// Pools 0..=5, one IPv4 member each: 192.0.2.(10 + i), target 10 + i.
/// Pool 5 also has an IPv6 member.
const POOLS: [&str; 6] = ["us-west", "us-east", "eu", "ap", "lab", "ca"];

fn pools() -> Box<[Group]> {
    POOLS
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut ms = vec![v4(10 + i as u8, 1)];
            if i == 5 {
                ms.push(v6(15, 1));
            }
            Group::new(Arc::new(Pool::new(*n, ms)))
        })
        .collect()
}

fn nets() -> Arc<CustomNets> {
    Arc::new(
        CustomNets::new(
            [(
                "10.9.0.0/16".parse().unwrap(),
                CustomPlace::new(Some(RegionId(0)), Location::default()),
            )],
            vec!["lab".into()],
        )
        .unwrap(),
    )
}

fn sub(s: &str) -> Subdivision {
    Subdivision::from_code(s).unwrap()
}

fn cc(s: &str) -> Country {
    Country::from_code(s).unwrap()
}

/// US-CA → us-west, us-east; US → us-east, us-west; CA → ca; NA → us-east;
/// EU → eu; region lab → lab; default → eu, us-east.
fn rules(with_default: bool) -> Vec<(RuleKey, Vec<u16>)> {
    let mut r = vec![
        (RuleKey::Subdivision(sub("US-CA")), vec![0, 1]),
        (RuleKey::Country(cc("US")), vec![1, 0]),
        (RuleKey::Country(cc("CA")), vec![5]),
        (RuleKey::Continent(Continent::NA), vec![1]),
        (RuleKey::Continent(Continent::EU), vec![2]),
        (RuleKey::Continent(Continent::AS), vec![3]),
        (RuleKey::Region(RegionId(0)), vec![4]),
    ];
    if with_default {
        r.push((RuleKey::Default, vec![2, 1]));
    }
    r
}

fn geo_name(with_default: bool, on_all_down: OnAllDown) -> BalancedName {
    BalancedName {
        name: "cdn".into(),
        ttl: 30,
        ttl_while_failing: None,
        answers: Answers::Count(1),
        order: Order::Geo(Arc::new(GeoMap::new(nets(), rules(with_default)))),
        pick: Pick::Weighted,
        groups: pools(),
        on_all_down,
    }
}

/// A client located at `loc` by the database, network /`prefix`, with an
/// ECS /24.
fn at(loc: Location, prefix: u8) -> ClientInfo {
    let mut c = ClientInfo::new(
        "198.51.100.1".parse().unwrap(),
        Some(ClientSubnet {
            addr: "203.0.113.0".parse().unwrap(),
            source_prefix: 24,
        }),
    );
    c.location = Some(ClientLocation {
        location: CustomPlace::new(None, loc).location,
        region: None,
        source: LocationSource::Database,
        prefix,
    });
    c
}

fn place(
    subdivision: Option<&str>,
    country: Option<&str>,
    continent: Option<Continent>,
) -> Location {
    Location {
        continent,
        country: country.map(cc),
        subdivision: subdivision.map(sub),
        coords: None,
    }
}

fn answer_of(lb: &BalancedName, client: &ClientInfo, health: &HealthTable) -> Decision {
    let mut rng = PolicyRng::seed_from_u64(7);
    let mut out = Decision::default();
    answer(lb, Family::V4, client, health, &mut rng, &mut out);
    out
}

#[test]
fn the_most_specific_rule_wins() {
    let lb = geo_name(true, OnAllDown::FailOpen);
    let health = HealthTable::new(256, Status::Up);
    let region = {
        let mut c = at(place(Some("US-CA"), None, None), 16);
        if let Some(l) = c.location.as_mut() {
            l.region = Some(RegionId(0));
            l.source = LocationSource::Custom;
        }
        c
    };
    // (client, expected member, reason)
    let cases = [
        (region, 14, "geo: matched rule, pool 1"),
        (
            at(place(Some("US-CA"), None, None), 26),
            10,
            "geo: matched rule, pool 1",
        ),
        (
            at(place(Some("US-NY"), None, None), 26),
            11,
            "geo: matched rule, pool 1",
        ),
        (
            at(place(None, Some("MX"), None), 26),
            11,
            "geo: matched rule, pool 1",
        ),
        (
            at(place(None, Some("CA"), None), 26),
            15,
            "geo: matched rule, pool 1",
        ),
        (
            at(place(None, Some("DE"), None), 26),
            12,
            "geo: matched rule, pool 1",
        ),
        (
            at(place(None, None, Some(Continent::AS)), 26),
            13,
            "geo: matched rule, pool 1",
        ),
        // a continent without a rule, and an unknown client: the default
        (
            at(place(None, Some("BR"), None), 26),
            12,
            "geo: default rule, pool 1",
        ),
        (at(Location::default(), 8), 12, "geo: default rule, pool 1"),
        (
            ClientInfo::new("192.0.2.1".parse().unwrap(), None),
            12,
            "geo: default rule, pool 1",
        ),
    ];
    for (client, member, why) in cases {
        let d = answer_of(&lb, &client, &health);
        assert_eq!(d.addrs, [addr4(member)], "{:?}", client.location);
        assert_eq!(d.reason, Reason(why), "{:?}", client.location);
    }
}

#[test]
fn a_down_pool_passes_to_the_next_in_the_rule_then_to_the_default() {
    let lb = geo_name(true, OnAllDown::Empty);
    let health = HealthTable::new(256, Status::Up);
    let ca = at(place(Some("US-CA"), None, None), 26);
    let d = answer_of(&lb, &ca, &health);
    assert_eq!(
        (d.addrs, d.reason),
        (vec![addr4(10)], Reason("geo: matched rule, pool 1"))
    );
    health.set_status(TargetId(10), Status::Down);
    let d = answer_of(&lb, &ca, &health);
    assert_eq!(
        (d.addrs, d.reason),
        (vec![addr4(11)], Reason("geo: matched rule, pool 2"))
    );
    // us-west and us-east down: the default's eu (us-east is listed by the
    // rule already, so it is not tried twice)
    health.set_status(TargetId(11), Status::Down);
    let d = answer_of(&lb, &ca, &health);
    assert_eq!(
        (d.addrs, d.reason),
        (vec![addr4(12)], Reason("geo: default rule, pool 1"))
    );
    // everything the rule and the default list is down: on_all_down,
    // although other pools are up
    health.set_status(TargetId(12), Status::Down);
    let d = answer_of(&lb, &ca, &health);
    assert_eq!((d.addrs.len(), d.reason), (0, reason::EMPTY));
    // (ap and lab are up, but not in this client's order)
    // the default rule itself fails over inside its list
    let d = answer_of(&lb, &at(Location::default(), 8), &health);
    assert_eq!(d.reason, reason::EMPTY);
    health.set_status(TargetId(11), Status::Up);
    let d = answer_of(&lb, &at(Location::default(), 8), &health);
    assert_eq!(
        (d.addrs, d.reason),
        (vec![addr4(11)], Reason("geo: default rule, pool 2"))
    );
}

#[test]
fn fail_open_stays_inside_the_client_order() {
    let lb = geo_name(true, OnAllDown::FailOpen);
    let health = HealthTable::new(256, Status::Up);
    for t in [10, 11, 12] {
        health.set_status(TargetId(t), Status::Down);
    }
    let d = answer_of(&lb, &at(place(Some("US-CA"), None, None), 26), &health);
    assert_eq!((d.addrs, d.reason), (vec![addr4(10)], reason::FAIL_OPEN));
}

#[test]
fn no_rule_and_no_default_is_nodata() {
    let lb = geo_name(false, OnAllDown::FailOpen);
    let health = HealthTable::new(256, Status::Up);
    for client in [
        at(place(None, Some("BR"), None), 26),
        at(Location::default(), 8),
    ] {
        let d = answer_of(&lb, &client, &health);
        assert!(d.addrs.is_empty());
        assert_eq!(d.reason, NO_RULE);
        assert_eq!(d.outcome, Outcome::Answer, "NODATA, not SERVFAIL");
    }
    // a rule without pools of the family is NODATA too, for another reason
    let mut rng = PolicyRng::seed_from_u64(7);
    let mut out = Decision::default();
    let us = at(place(Some("US-CA"), None, None), 26);
    answer(&lb, Family::V6, &us, &health, &mut rng, &mut out);
    assert_eq!((out.addrs.len(), out.reason), (0, reason::NO_MEMBERS));
    // and one with: Canada's pool has an IPv6 member
    let ca = at(place(None, Some("CA"), None), 26);
    answer(&lb, Family::V6, &ca, &health, &mut rng, &mut out);
    assert_eq!(out.addrs, [addr6(15)]);
}

#[test]
fn the_scope_is_the_locating_network() {
    let lb = geo_name(true, OnAllDown::FailOpen);
    let health = HealthTable::new(256, Status::Up);
    for prefix in [0, 8, 20, 26, 32] {
        let d = answer_of(&lb, &at(place(Some("US-CA"), None, None), prefix), &health);
        assert_eq!(d.ecs_scope, prefix);
    }
    // only a default: no lookup, scope 0
    let only_default = GeoMap::new(nets(), vec![(RuleKey::Default, vec![0])]);
    assert!(!only_default.needs_location());
    assert!(!only_default.needs_database());
    let map = GeoMap::new(nets(), rules(true));
    assert!(map.needs_location() && map.needs_database());
    let regions_only = GeoMap::new(nets(), vec![(RuleKey::Region(RegionId(0)), vec![4])]);
    assert!(regions_only.needs_location() && !regions_only.needs_database());
}

#[test]
fn rule_lists_carry_the_default_tail_without_repeats() {
    let map = GeoMap::new(nets(), rules(true));
    let get = |k: RuleKey| map.rules().iter().find(|r| r.key == k).unwrap();
    let us_ca = get(RuleKey::Subdivision(sub("US-CA")));
    assert_eq!(
        (us_ca.own(), us_ca.then_default()),
        (&[0u16, 1][..], &[2u16][..])
    );
    let eu = get(RuleKey::Continent(Continent::EU));
    assert_eq!((eu.own(), eu.then_default()), (&[2u16][..], &[1u16][..]));
    let d = get(RuleKey::Default);
    assert_eq!((d.own(), d.then_default()), (&[2u16, 1][..], &[][..]));
    // the first rule of a key wins
    let twice = GeoMap::new(
        nets(),
        vec![
            (RuleKey::Country(cc("US")), vec![0]),
            (RuleKey::Country(cc("US")), vec![1]),
        ],
    );
    assert_eq!(twice.rules().len(), 1);
    assert_eq!(twice.rules()[0].own(), [0]);
}

#[test]
fn reasons_name_the_position() {
    assert_eq!(reason(0, 2), Reason("geo: matched rule, pool 1"));
    assert_eq!(reason(1, 2), Reason("geo: matched rule, pool 2"));
    assert_eq!(reason(2, 2), Reason("geo: default rule, pool 1"));
    assert_eq!(reason(0, 0), Reason("geo: default rule, pool 1"));
    assert_eq!(reason(9, 20), Reason("geo: matched rule, pool 9 or later"));
    assert_eq!(reason(30, 20), Reason("geo: default rule, pool 9 or later"));
}

#[test]
fn rule_keys_describe_themselves() {
    let n = nets();
    assert_eq!(RuleKey::Region(RegionId(0)).describe(&n), "region lab");
    assert_eq!(
        RuleKey::Subdivision(sub("US-CA")).describe(&n),
        "subdivision US-CA"
    );
    assert_eq!(RuleKey::Country(cc("US")).describe(&n), "country US");
    assert_eq!(
        RuleKey::Continent(Continent::NA).describe(&n),
        "continent NA"
    );
    assert_eq!(RuleKey::Default.describe(&n), "default");
}
