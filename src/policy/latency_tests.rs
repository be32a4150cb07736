//! Tests of the latency and closest orders: the table at several prefix
//! lengths and by place, distance, the antimeridian and the poles,
//! unknown clients, tolerance sharing, bias, probe RTT, availability and
//! the ECS scope.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use rand::SeedableRng as _;

use super::super::testutil::*;
use super::super::*;
use super::*;
use crate::geoip::{Continent, Country, Location, LocationSource};

const MS: i64 = 1000;

/// A pool `name` at (lat, lon) with one IPv4 member 192.0.2.`i` (target
/// `i`) and one IPv6 member 2001:db8::`i` (target 100 + `i`).
fn site(name: &str, i: u8, at: Option<(f64, f64)>, weight: u32, bias_ms: i64) -> Arc<Pool> {
    Arc::new(Pool::new(name, [v4(i, 1), v6(i, 1)]).with_site(Site {
        coords: at.map(|(lat, lon)| Coords { lat, lon }),
        weight,
        bias_us: bias_ms * MS,
        bias_pct: 0,
    }))
}

/// Frankfurt, Ashburn, Tokyo.
fn world() -> Vec<Arc<Pool>> {
    vec![
        site("eu", 1, Some((50.11, 8.68)), 1, 0),
        site("us", 2, Some((39.04, -77.49)), 1, 0),
        site("ap", 3, Some((35.68, 139.65)), 1, 0),
    ]
}

fn row(key: RowKey, figures: &[(&str, u32)]) -> TableRow {
    TableRow {
        key,
        figures: figures
            .iter()
            .map(|&(p, ms)| (p.to_owned(), ms * 1000))
            .collect(),
    }
}

fn net(s: &str) -> RowKey {
    RowKey::Net(s.parse().unwrap())
}

fn table(rows: Vec<TableRow>) -> Arc<LatencyTable> {
    Arc::new(LatencyTable::new(rows, 0).unwrap())
}

fn latency_name(
    pools: Vec<Arc<Pool>>,
    table: Option<Arc<LatencyTable>>,
    tolerance: Tolerance,
    pick: Pick,
) -> BalancedName {
    named(Ranking::Latency, pools, table, tolerance, pick)
}

fn named(
    ranking: Ranking,
    pools: Vec<Arc<Pool>>,
    table: Option<Arc<LatencyTable>>,
    tolerance: Tolerance,
    pick: Pick,
) -> BalancedName {
    let groups: Box<[Group]> = pools.into_iter().map(Group::new).collect();
    let map = LatencyMap::new(
        ranking,
        Arc::default(),
        table,
        &groups,
        tolerance,
        DistanceModel::default(),
    );
    BalancedName {
        name: "fast".into(),
        ttl: 30,
        ttl_while_failing: None,
        answers: Answers::Count(1),
        order: Order::Latency(Arc::new(map)),
        pick,
        groups,
        on_all_down: OnAllDown::FailOpen,
    }
}

const NONE: Tolerance = Tolerance { us: 0, pct: 0 };

/// A client with ECS `ecs/source`, located by the database at `at` (the
/// block `prefix`), or unknown.
fn client(ecs: &str, source: u8, at: Option<(Location, u8)>) -> ClientInfo {
    let mut c = ClientInfo::new(
        "198.51.100.1".parse().unwrap(),
        Some(ClientSubnet {
            addr: ecs.parse().unwrap(),
            source_prefix: source,
        }),
    );
    c.location = Some(match at {
        Some((location, prefix)) => ClientLocation {
            location,
            region: None,
            source: LocationSource::Database,
            prefix,
        },
        None => ClientLocation {
            prefix: 8,
            ..ClientLocation::UNKNOWN
        },
    });
    c
}

fn place(country: &str, lat: f64, lon: f64) -> Location {
    let country = Country::from_code(country);
    Location {
        continent: country.and_then(|c| c.continent()),
        country,
        subdivision: None,
        coords: Coordinates::new(lat, lon),
    }
}

fn ask(lb: &BalancedName, family: Family, c: &ClientInfo, health: &HealthTable) -> Decision {
    let mut rng = PolicyRng::seed_from_u64(3);
    let mut out = Decision::default();
    answer(lb, family, c, health, &mut rng, &mut out);
    out
}

/// The pool names of `lb`'s ranking for `c`, best first.
fn ranking(lb: &BalancedName, c: &ClientInfo, health: &HealthTable) -> Vec<String> {
    let Order::Latency(map) = &lb.order else {
        panic!("a latency name")
    };
    map.rank(&lb.groups, c, Family::V4, health, Draw::Random(0))
        .estimates()
        .iter()
        .map(|e| lb.groups[usize::from(e.group)].pool.name.clone())
        .collect()
}

/// The query path's arc cosine is within 2.2e-8 rad of libm's everywhere
/// (0.14 m of arc), exact at -1 and 1, and the distances it gives match
/// those from precomputed client coordinates.
#[test]
fn the_fast_arc_cosine_is_within_a_metre() {
    let mut worst: f64 = 0.0;
    for i in 0..=200_000 {
        let x = f64::from(i) / 100_000.0 - 1.0;
        worst = worst.max((arc_cos(x) - x.acos()).abs());
    }
    assert!(worst < 2.5e-8, "{worst}");
    assert_eq!(arc_cos(1.0), 0.0);
    assert_eq!(arc_cos(-1.0), std::f64::consts::PI);
    assert!((arc_cos(0.0) - std::f64::consts::FRAC_PI_2).abs() < 2.5e-8);
    let tokyo = Coordinates::new(35.68, 139.65).unwrap();
    let frankfurt = UnitVector::new(50.11, 8.68);
    assert_eq!(
        UnitVector::of(&tokyo).km_to(frankfurt),
        UnitVector::new(35.68, 139.65).km_to(frankfurt)
    );
}

#[test]
fn distances_across_the_antimeridian_and_at_the_poles() {
    // Suva, Fiji and Apia, Samoa straddle 180°: about 1,150 km, not the
    // 39,000 km a naive longitude difference would give.
    let suva = Coords {
        lat: -18.14,
        lon: 178.44,
    };
    let apia = Coords {
        lat: -13.83,
        lon: -171.76,
    };
    let d = great_circle_km(suva, apia);
    assert!((d - 1_147.0).abs() < 10.0, "Suva-Apia {d} km");
    // The haversine formula agrees to the metre.
    let hav = {
        let (p1, p2) = (suva.lat.to_radians(), apia.lat.to_radians());
        let (dp, dl) = (p2 - p1, (apia.lon - suva.lon).to_radians());
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
    };
    assert!((d - hav).abs() < 0.001, "{d} vs {hav}");
    // Near the pole every longitude is close; pole to pole is half a turn.
    let n = |lon| Coords { lat: 90.0, lon };
    assert!(great_circle_km(n(0.0), n(135.0)) < 1e-6);
    let d = great_circle_km(
        n(-120.0),
        Coords {
            lat: 89.0,
            lon: 60.0,
        },
    );
    assert!((d - 111.195).abs() < 0.01, "{d}");
    let d = great_circle_km(
        n(0.0),
        Coords {
            lat: -90.0,
            lon: 0.0,
        },
    );
    assert!((d - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
    assert_eq!(great_circle_km(suva, suva), 0.0);
    // The model: 2 × 5,570 km × 1.5 / 200 km/ms = 83.55 ms.
    assert_eq!(DistanceModel::default().rtt_us(5_570.0), 83_550);
}

#[test]
fn distance_ranks_the_pools_for_a_located_client() {
    let lb = latency_name(world(), None, NONE, Pick::Weighted);
    let health = HealthTable::new(256, Status::Up);
    let cases = [
        ("GB", 51.5, -0.13, ["eu", "us", "ap"]),
        ("US", 37.77, -122.42, ["us", "ap", "eu"]),
        // Osaka: Frankfurt (9,300 km) is nearer than Ashburn (11,200)
        ("JP", 34.69, 135.5, ["ap", "eu", "us"]),
        // Fiji: Tokyo over the antimeridian is nearer than Ashburn
        ("FJ", -18.14, 178.44, ["ap", "us", "eu"]),
    ];
    for (country, lat, lon, want) in cases {
        let c = client("203.0.113.0", 24, Some((place(country, lat, lon), 20)));
        assert_eq!(ranking(&lb, &c, &health), want, "{country}");
        let d = ask(&lb, Family::V4, &c, &health);
        let first = lb
            .groups
            .iter()
            .position(|g| g.pool.name == want[0])
            .unwrap();
        assert_eq!(d.addrs, [addr4(first as u8 + 1)], "{country}");
        assert_eq!((d.reason, d.kind), (DISTANCE, DecisionKind::Policy));
        assert_eq!(d.ecs_scope, 20, "the database network decided");
    }
}

#[test]
fn table_rows_at_several_prefix_lengths_then_places_then_distance() {
    let t = table(vec![
        row(net("198.51.100.0/22"), &[("us", 30), ("eu", 90)]),
        row(net("198.51.100.0/24"), &[("eu", 10)]),
        row(net("198.51.100.128/25"), &[("ap", 5)]),
        row(
            RowKey::Country(Country::from_code("DE").unwrap()),
            &[("us", 2)],
        ),
        row(RowKey::Continent(Continent::EU), &[("ap", 1), ("eu", 50)]),
    ]);
    let lb = latency_name(world(), Some(t), NONE, Pick::Weighted);
    let health = HealthTable::new(256, Status::Up);
    let de = place("DE", 52.52, 13.4);
    // (ECS, location, ranking, scope)
    type Case<'a> = (&'a str, Option<(Location, u8)>, [&'a str; 3], u8);
    let cases: [Case<'_>; 6] = [
        // /24 row: eu 10; us 30 from the /22; ap from the EU row: 1. The
        // /24's block around .0 is a /25 (the /25 row splits it), and the
        // continent row counted, so the database's /16 too
        ("198.51.100.0", Some((de, 16)), ["ap", "eu", "us"], 25),
        // /25 row: ap 5, eu 10 from the /24, us 30 from the /22: all from
        // networks, so the location's /16 does not count
        ("198.51.100.200", Some((de, 16)), ["ap", "eu", "us"], 25),
        // /22 only: us 30, eu 90, ap from the continent row: 1 (the
        // /22's block around 198.51.101.0 is a /24)
        ("198.51.101.0", Some((de, 16)), ["ap", "us", "eu"], 24),
        // no network row: country DE us 2, continent EU ap 1 and eu 50
        ("192.0.2.0", Some((de, 16)), ["ap", "us", "eu"], 16),
        // nothing but distance: a client in Japan
        (
            "192.0.2.0",
            Some((place("JP", 35.0, 135.0), 16)),
            ["ap", "eu", "us"],
            16,
        ),
        // an unknown client: the configured order, scoped by the blocks
        // that said "unknown" (the table's miss /16 here, the lookup's /8)
        ("203.0.113.0", None, ["eu", "us", "ap"], 8),
    ];
    for (ecs, at, want, scope) in cases {
        let c = client(ecs, 32, at);
        assert_eq!(ranking(&lb, &c, &health), want, "{ecs}");
        let d = ask(&lb, Family::V4, &c, &health);
        assert_eq!(d.ecs_scope, scope, "{ecs}");
    }
    let d = ask(
        &lb,
        Family::V4,
        &client("198.51.100.0", 24, Some((de, 16))),
        &health,
    );
    assert_eq!((d.addrs.clone(), d.reason), (vec![addr4(3)], TABLE));
    let d = ask(&lb, Family::V4, &client("203.0.113.0", 24, None), &health);
    assert_eq!((d.addrs, d.reason), (vec![addr4(1)], UNPLACED));
}

#[test]
fn the_most_specific_row_is_per_pool_and_the_scope_is_the_network_that_decided() {
    let t = table(vec![row(net("10.1.0.0/16"), &[("us", 40)])]);
    // eu has no coordinates: no estimate unless a row gives one
    let mut pools = world();
    pools[0] = site("eu", 1, None, 1, 0);
    let lb = latency_name(pools, Some(t), NONE, Pick::Weighted);
    let health = HealthTable::new(256, Status::Up);
    let jp = place("JP", 35.0, 135.0);
    // us from the table (40 ms), ap by distance (0 km), eu: none, last
    let c = client("10.1.2.0", 24, Some((jp, 12)));
    assert_eq!(ranking(&lb, &c, &health), ["ap", "us", "eu"]);
    let d = ask(&lb, Family::V4, &c, &health);
    assert_eq!(
        (d.ecs_scope, d.reason),
        (16, DISTANCE),
        "max(/16 table, /12 place)"
    );
}

#[test]
fn tolerance_shares_by_pool_weight_and_the_rest_follow() {
    // Equidistant isn't easy on a sphere: use the table.
    let t = table(vec![row(
        net("192.0.2.0/24"),
        &[("eu", 20), ("us", 22), ("ap", 40)],
    )]);
    let pools = vec![
        site("eu", 1, None, 1, 0),
        site("us", 2, None, 3, 0),
        site("ap", 3, None, 1, 0),
    ];
    let tol = Tolerance { us: 5_000, pct: 0 };
    let lb = latency_name(pools, Some(t), tol, Pick::Weighted);
    let health = HealthTable::new(256, Status::Up);
    let c = client("192.0.2.0", 24, None);
    let mut rng = PolicyRng::seed_from_u64(11);
    let mut out = Decision::default();
    let mut counts: HashMap<IpAddr, u32> = HashMap::new();
    let n = 40_000;
    for _ in 0..n {
        answer(&lb, Family::V4, &c, &health, &mut rng, &mut out);
        assert_eq!(out.reason, TABLE_SHARED);
        *counts.entry(out.addrs[0]).or_default() += 1;
    }
    let share = |i| f64::from(counts.get(&addr4(i)).copied().unwrap_or(0)) / f64::from(n);
    assert!((share(1) - 0.25).abs() < 0.01, "{counts:?}");
    assert!((share(2) - 0.75).abs() < 0.01, "{counts:?}");
    assert_eq!(share(3), 0.0, "40 ms is outside 20 + 5");
    // eu's members go down: us alone in the band, no sharing
    health.set_status(TargetId(1), Status::Down);
    for _ in 0..200 {
        answer(&lb, Family::V4, &c, &health, &mut rng, &mut out);
        assert_eq!((out.addrs[0], out.reason), (addr4(2), TABLE));
    }
    // and the ranking tries eu's pool last
    assert_eq!(ranking(&lb, &c, &health), ["us", "ap", "eu"]);
    // A percentage tolerance: 100 % of 20 ms takes in ap at 40 ms.
    health.set_status(TargetId(1), Status::Up);
    let pct = Tolerance { us: 0, pct: 100 };
    let lb = latency_name(
        lb.groups.iter().map(|g| g.pool.clone()).collect(),
        Some(table(vec![row(
            net("192.0.2.0/24"),
            &[("eu", 20), ("us", 22), ("ap", 40)],
        )])),
        pct,
        Pick::Weighted,
    );
    let mut seen = std::collections::HashSet::new();
    for _ in 0..2_000 {
        answer(&lb, Family::V4, &c, &health, &mut rng, &mut out);
        seen.insert(out.addrs[0]);
    }
    assert_eq!(seen.len(), 3);
}

#[test]
fn bias_and_probe_rtt_shift_the_choice() {
    let t = table(vec![row(net("192.0.2.0/24"), &[("eu", 20), ("us", 30)])]);
    let pools = vec![site("eu", 1, None, 1, 0), site("us", 2, None, 1, 0)];
    let lb = latency_name(pools.clone(), Some(t.clone()), NONE, Pick::Weighted);
    let health = HealthTable::new(256, Status::Up);
    let c = client("192.0.2.0", 24, None);
    assert_eq!(ranking(&lb, &c, &health), ["eu", "us"]);
    // eu's probes slow to 15 ms (overloaded): 35 against 30
    health.set_rtt_us(TargetId(1), 15_000);
    assert_eq!(ranking(&lb, &c, &health), ["us", "eu"]);
    assert_eq!(ask(&lb, Family::V4, &c, &health).addrs, [addr4(2)]);
    // AAAA reads the IPv6 members' RTT (unmeasured): eu still first
    let d = ask(&lb, Family::V6, &c, &health);
    assert_eq!(d.addrs, [addr6(1)]);
    // us gets slower still; the mean over its members counts
    health.set_rtt_us(TargetId(2), 10_000);
    assert_eq!(ranking(&lb, &c, &health), ["eu", "us"], "35 against 40");
    // a bias of -10 ms on us takes it back
    let biased = vec![site("eu", 1, None, 1, 0), site("us", 2, None, 1, -10)];
    let lb = latency_name(biased, Some(t.clone()), NONE, Pick::Weighted);
    assert_eq!(ranking(&lb, &c, &health), ["us", "eu"], "35 against 30");
    let Order::Latency(map) = &lb.order else {
        unreachable!()
    };
    let r = map.rank(&lb.groups, &c, Family::V4, &health, Draw::Random(0));
    let us = r.estimates()[0];
    assert_eq!(
        (us.network_us, us.rtt_us, us.bias_us, us.total_us),
        (30_000, Some(10_000), -10_000, 30_000)
    );
}

#[test]
fn unavailable_pools_are_skipped_and_all_down_is_on_all_down() {
    let t = table(vec![row(
        net("192.0.2.0/24"),
        &[("eu", 20), ("us", 30), ("ap", 40)],
    )]);
    let mut lb = latency_name(world(), Some(t), NONE, Pick::Weighted);
    let health = HealthTable::new(256, Status::Up);
    let c = client("192.0.2.0", 24, None);
    health.set_status(TargetId(1), Status::Down);
    let d = ask(&lb, Family::V4, &c, &health);
    assert_eq!((d.addrs, d.kind), (vec![addr4(2)], DecisionKind::Failover));
    for id in [2, 3] {
        health.set_status(TargetId(id), Status::Down);
    }
    lb.on_all_down = OnAllDown::ServFail;
    let d = ask(&lb, Family::V4, &c, &health);
    assert_eq!((d.outcome, d.reason), (Outcome::ServFail, reason::SERVFAIL));
    lb.on_all_down = OnAllDown::FailOpen;
    let d = ask(&lb, Family::V4, &c, &health);
    assert_eq!((d.addrs, d.reason), (vec![addr4(1)], reason::FAIL_OPEN));
}

#[test]
fn closest_uses_distance_and_route_53_bias() {
    // A client in Chicago: Ashburn 960 km, Frankfurt 6,960 km
    let chicago = place("US", 41.88, -87.63);
    let c = client("192.0.2.0", 24, Some((chicago, 18)));
    let health = HealthTable::new(256, Status::Up);
    let lb = named(Ranking::Closest, world(), None, NONE, Pick::Weighted);
    assert_eq!(ranking(&lb, &c, &health), ["us", "eu", "ap"]);
    let d = ask(&lb, Family::V4, &c, &health);
    assert_eq!(
        (d.addrs, d.reason, d.ecs_scope),
        (vec![addr4(2)], CLOSEST, 18)
    );
    // bias 90 on Frankfurt: 6,960 × 0.1 = 696 km beats Ashburn; -90 on
    // Ashburn instead: 960 × 1.9 = 1,824, still nearer than 6,960
    let mut pools = world();
    pools[0] = Arc::new(Pool::new("eu", [v4(1, 1)]).with_site(Site {
        bias_pct: 90,
        ..pools[0].site
    }));
    let lb = named(Ranking::Closest, pools, None, NONE, Pick::Weighted);
    assert_eq!(ranking(&lb, &c, &health)[0], "eu");
    let mut pools = world();
    pools[1] = Arc::new(Pool::new("us", [v4(2, 1)]).with_site(Site {
        bias_pct: -90,
        ..pools[1].site
    }));
    let lb = named(Ranking::Closest, pools, None, NONE, Pick::Weighted);
    assert_eq!(ranking(&lb, &c, &health)[0], "us");
    // not located: the configured order
    let d = ask(&lb, Family::V4, &client("192.0.2.0", 24, None), &health);
    assert_eq!((d.addrs, d.reason), (vec![addr4(1)], CLOSEST_UNPLACED));
    // closest ignores the table and probe RTTs
    health.set_rtt_us(TargetId(2), 500_000);
    let t = table(vec![row(net("192.0.2.0/24"), &[("eu", 1)])]);
    let lb = named(Ranking::Closest, world(), Some(t), NONE, Pick::Weighted);
    assert_eq!(ranking(&lb, &c, &health)[0], "us");
}

/// Under a sticky pick the pool among equals is drawn from the client
/// network: the same network gets the same pool for A and AAAA and every
/// time, and the scope covers the network hashed.
#[test]
fn a_sticky_pick_draws_the_pool_from_the_client_network() {
    let t = table(vec![row(
        net("192.0.2.0/24"),
        &[("eu", 20), ("us", 21), ("ap", 22)],
    )]);
    let tol = Tolerance { us: 5_000, pct: 0 };
    let sticky = Pick::Sticky(StickyPrefixes { v4: 28, v6: 56 });
    let lb = latency_name(world(), Some(t), tol, sticky);
    let health = HealthTable::new(256, Status::Up);
    let mut pools: HashMap<IpAddr, usize> = HashMap::new();
    for n in 0..64u8 {
        let c = client(&format!("192.0.2.{}", (n % 16) * 16), 32, None);
        let a = ask(&lb, Family::V4, &c, &health);
        let aaaa = ask(&lb, Family::V6, &c, &health);
        let again = ask(&lb, Family::V4, &c, &health);
        assert_eq!(a.addrs, again.addrs);
        let i = a.addrs[0];
        let IpAddr::V4(v4) = i else { panic!() };
        assert_eq!(
            aaaa.addrs,
            [addr6(v4.octets()[3])],
            "same pool, same endpoint"
        );
        assert_eq!(a.ecs_scope, 28, "the sticky network decided among equals");
        *pools.entry(i).or_default() += 1;
    }
    assert_eq!(pools.len(), 3, "networks spread over the pools: {pools:?}");
}

#[test]
fn a_name_without_estimates_keeps_the_configured_order_and_scope_zero() {
    let pools = vec![site("eu", 1, None, 1, 0), site("us", 2, None, 1, 0)];
    let lb = latency_name(pools, None, NONE, Pick::Weighted);
    let Order::Latency(map) = &lb.order else {
        unreachable!()
    };
    assert!(!map.needs_location() && !map.can_estimate());
    assert!(lb.order.locator().is_none());
    let health = HealthTable::new(256, Status::Up);
    let mut c = client("192.0.2.0", 24, None);
    c.location = None;
    let d = ask(&lb, Family::V4, &c, &health);
    assert_eq!(
        (d.addrs, d.ecs_scope, d.reason),
        (vec![addr4(1)], 0, UNPLACED)
    );
    health.set_status(TargetId(1), Status::Down);
    let d = ask(&lb, Family::V4, &c, &health);
    assert_eq!(d.addrs, [addr4(2)]);
}

#[test]
fn ipv4_mapped_clients_are_scoped_in_ipv6_terms() {
    let t = table(vec![row(
        net("192.0.2.0/24"),
        &[("eu", 20), ("us", 30), ("ap", 40)],
    )]);
    let lb = latency_name(world(), Some(t), NONE, Pick::Weighted);
    let health = HealthTable::new(256, Status::Up);
    let c = client("::ffff:192.0.2.0", 120, None);
    let d = ask(&lb, Family::V4, &c, &health);
    assert_eq!((d.addrs, d.ecs_scope), (vec![addr4(1)], 120));
}

/// `dnslb explain` names what gave the ECS scope: the table's networks
/// only when there is a table, the placing network when the location
/// counted, and the sticky client network when it drew among equals.
#[test]
fn explain_names_only_the_sources_that_set_the_scope() {
    let health = HealthTable::new(256, Status::Up);
    let london = Some((place("GB", 51.5, -0.13), 20));
    let scope_line = |lb: &BalancedName, c: &ClientInfo| {
        crate::policy::explain::explain(lb, &health, c)
            .lines()
            .find(|l| l.contains("ECS scope"))
            .unwrap()
            .trim()
            .to_owned()
    };
    // No table: the distance decided.
    let lb = latency_name(world(), None, NONE, Pick::Weighted);
    assert_eq!(
        scope_line(&lb, &client("198.51.100.0", 24, london)),
        "ECS scope: /20 (the network that placed the client: /20; the query's source /24)"
    );
    // A table network knows every pool: the location did not count.
    let t = table(vec![row(
        net("198.51.100.0/25"),
        &[("eu", 9), ("us", 70), ("ap", 200)],
    )]);
    let lb = latency_name(world(), Some(t.clone()), NONE, Pick::Weighted);
    assert_eq!(
        scope_line(&lb, &client("198.51.100.0", 24, london)),
        "ECS scope: /24 (the table network: /25; the query's source /24)"
    );
    // The table knows only some pools: both counted.
    let partial = table(vec![row(net("198.51.100.0/25"), &[("eu", 9)])]);
    let lb = latency_name(world(), Some(partial), NONE, Pick::Weighted);
    assert_eq!(
        scope_line(&lb, &client("198.51.100.0", 24, london)),
        "ECS scope: /24 (the table network and the network that placed the client: /25; the query's source /24)"
    );
    // Closest: distance alone.
    let lb = named(Ranking::Closest, world(), None, NONE, Pick::Weighted);
    assert_eq!(
        scope_line(&lb, &client("198.51.100.0", 24, london)),
        "ECS scope: /20 (the network that placed the client: /20; the query's source /24)"
    );
    // Sticky among equals: the client network drew.
    let even = table(vec![row(
        net("198.51.100.0/25"),
        &[("eu", 20), ("us", 20), ("ap", 20)],
    )]);
    let sticky = Pick::Sticky(StickyPrefixes { v4: 28, v6: 56 });
    let lb = latency_name(world(), Some(even), NONE, sticky);
    assert_eq!(
        scope_line(&lb, &client("198.51.100.0", 32, london)),
        "ECS scope: /28 (the table network and the sticky client network: /28; the query's source /32)"
    );
    // ... and explain shows the pool that network really gets.
    let mut seen = std::collections::HashSet::new();
    for n in 0..8u8 {
        let c = client(&format!("198.51.100.{}", n * 16), 32, london);
        let IpAddr::V4(got) = ask(&lb, Family::V4, &c, &health).addrs[0] else {
            panic!()
        };
        let pool = ["eu", "us", "ap"][usize::from(got.octets()[3]) - 1];
        seen.insert(pool);
        let text = crate::policy::explain::explain(&lb, &health, &c);
        assert!(
            text.contains(&format!("  A: pool {pool}, ")),
            "answered from {pool}, explained as\n{text}"
        );
    }
    assert!(seen.len() > 1, "the networks spread: {seen:?}");
}
