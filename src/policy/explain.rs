//! `dnslb explain`: a load-balanced name as text, with the health the
//! server would act on right now, for one client (geo names depend on it). Pure: it reads the health table and
//! formats; nothing is picked, so no RNG and no cursor moves.

use std::fmt::Write as _;

use crate::health::HealthTable;

use super::geo::GeoMap;
use super::groups::{Choice, choose};
use super::latency::{Draw, Estimate, LatencyMap, MAX_POOLS, Ranking, RowKey, Source};
use super::pool::{Health, Tier, cell_of, scan, state_of, tier_of};
use super::{
    BalancedName, ClientInfo, Family, Group, Member, OnAllDown, OperatorState, Order, Ordered, Pick,
};
use crate::geoip::ClientLocation;

/// Describe `lb` for `client`: policy, settings, where each family would
/// be answered from for this client (and, for a geo name, which rule
/// matched, the pools tried and the ECS scope), and every member with
/// weight, state, health and standing. A geo order needs
/// `client.location` (the caller locates the client as the engine does).
pub fn explain(lb: &BalancedName, health: &HealthTable, client: &ClientInfo) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        s,
        "{}: policy {}, ttl {}{}, answers {}, on_all_down {}",
        lb.name,
        lb.describe_policy(),
        lb.ttl,
        lb.ttl_while_failing
            .map_or(String::new(), |t| format!(" ({t} while a check fails)")),
        lb.answers,
        lb.on_all_down
    );
    if let Order::Geo(map) = &lb.order {
        geo_client(&mut s, lb, map, client);
    }
    for (family, rr) in [(Family::V4, "A"), (Family::V6, "AAAA")] {
        let _ = writeln!(s, "  {rr}: {}", serving(lb, family, health, client));
    }
    if let Order::Latency(map) = &lb.order {
        latency_client(&mut s, lb, map, health, client);
    }
    if let Order::Geo(map) = &lb.order {
        let _ = writeln!(s, "  rules (most specific first):");
        let mut rules: Vec<_> = map.rules().iter().collect();
        rules.sort_by_key(|r| r.key);
        for r in rules {
            let _ = writeln!(
                s,
                "    {}: {}",
                r.key.describe(map.nets()),
                pool_names(lb, r.own())
            );
        }
    }
    let failover = lb.order.is_failover();
    let sites = matches!(lb.order, Order::Latency(_));
    for (i, g) in lb.groups.iter().enumerate() {
        if failover {
            let _ = writeln!(s, "  group {}: pool {}", i + 1, g.pool.name);
        } else if sites {
            let site = g.pool.site;
            let at = site.coords.map_or("no lat/lon".to_owned(), |c| {
                format!("lat {} lon {}", c.lat, c.lon)
            });
            let _ = writeln!(
                s,
                "  pool {} ({at}, weight {}, bias_ms {}, bias {})",
                g.pool.name,
                site.weight,
                site.bias_us as f64 / 1000.0,
                site.bias_pct
            );
        } else {
            let _ = writeln!(s, "  pool {}", g.pool.name);
        }
        members(&mut s, g, health);
    }
    if let OnAllDown::Fallback(g) = &lb.on_all_down {
        let _ = writeln!(s, "  fallback pool {}", g.pool.name);
        members(&mut s, g, health);
    }
    s
}

/// A geo name's view of this client: the rule that matched, what is tried
/// after it, and the ECS scope.
fn geo_client(s: &mut String, lb: &BalancedName, map: &GeoMap, client: &ClientInfo) {
    let at = client.location.unwrap_or(ClientLocation::UNKNOWN);
    match map.rule_for(&at) {
        Some(i) => {
            let r = &map.rules()[i];
            let mut line = format!(
                "  rule: {} -> {}",
                r.key.describe(map.nets()),
                pool_names(lb, r.own())
            );
            if !r.then_default().is_empty() {
                let _ = write!(line, "; then default: {}", pool_names(lb, r.then_default()));
            }
            let _ = writeln!(s, "{line}");
        }
        None => {
            let _ = writeln!(s, "  rule: none matches and there is no default: NODATA");
        }
    }
    let scope = match client.ecs {
        Some(e) if !map.needs_location() => format!(
            "/0 (every client gets the same rules), source /{}",
            e.source_prefix
        ),
        Some(e) => format!(
            "/{} (the network that placed the client is /{}, the query's source /{})",
            at.prefix.min(e.source_prefix),
            at.prefix,
            e.source_prefix
        ),
        None => "none (no ECS option with a source prefix above 0 in the query)".to_owned(),
    };
    let _ = writeln!(s, "  ECS scope: {scope}");
}

/// `us-west, us-east` for positions in the name's groups.
fn pool_names(lb: &BalancedName, positions: &[u16]) -> String {
    positions
        .iter()
        .filter_map(|&p| lb.groups.get(usize::from(p)))
        .map(|g| g.pool.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each family's ranking of a latency or closest name for this client:
/// every pool's estimate, where it came from, the RTT and bias added,
/// the tolerance band, and the ECS scope.
fn latency_client(
    s: &mut String,
    lb: &BalancedName,
    map: &LatencyMap,
    health: &HealthTable,
    client: &ClientInfo,
) {
    let latency = map.ranking() == Ranking::Latency;
    for (family, rr) in [(Family::V4, "A"), (Family::V6, "AAAA")] {
        if lb.groups.iter().all(|g| g.pool.members(family).is_empty()) {
            continue;
        }
        let ranked = map.rank(&lb.groups, client, family, health, draw(lb, client));
        let _ = writeln!(
            s,
            "  {} for this client ({rr}), best first:",
            if latency { "estimates" } else { "distances" }
        );
        let mut est = ranked.estimates().to_vec();
        // The draw among equals is per query: list the band by estimate.
        est[..ranked.band].sort_by_key(|e| (e.total_us, e.group));
        for e in &est {
            let group = &lb.groups[usize::from(e.group)];
            if group.pool.members(family).is_empty() {
                // Never an answer for this family: not worth a line.
                continue;
            }
            let pool = &group.pool.name;
            let source = match e.source {
                Source::Table(r) => map
                    .table()
                    .and_then(|t| t.rows().get(r as usize))
                    .map_or_else(
                        || "table".to_owned(),
                        |row| format!("table row {}", row.key.describe(map.nets())),
                    ),
                Source::Distance => format!("distance {:.0} km", e.km.unwrap_or(0.0)),
                Source::None => "none (configured order)".to_owned(),
            };
            let standing = if e.available {
                "available"
            } else {
                "no available member"
            };
            let line = if !latency {
                match e.source {
                    Source::None => format!("{source}; {standing}"),
                    _ => format!(
                        "{source}, bias {} -> {:.0} km; {standing}",
                        lb.groups[usize::from(e.group)].pool.site.bias_pct,
                        e.network_us as f64 / 1000.0
                    ),
                }
            } else if e.source == Source::None {
                format!("{source}; {standing}")
            } else {
                format!(
                    "{source}: {} + rtt {} + bias {} = {}; {standing}",
                    ms(e.network_us),
                    e.rtt_us.map_or("-".to_owned(), |r| ms(i64::from(r))),
                    ms(e.bias_us),
                    ms(e.total_us)
                )
            };
            let _ = writeln!(s, "    {pool:<16} {line}");
        }
        if latency
            && let Some(best) = est
                .first()
                .filter(|e| e.available && e.source != Source::None)
        {
            let limit = map.tolerance().limit(best.total_us);
            let band: Vec<String> = est[..ranked.band]
                .iter()
                .map(|e| {
                    let g = &lb.groups[usize::from(e.group)].pool;
                    format!("{} (weight {})", g.name, g.site.weight)
                })
                .collect();
            let share = if ranked.band > 1 {
                match lb.pick {
                    Pick::Sticky(_) => "; one drawn by weight from the client network",
                    _ => "; one drawn by weight per query",
                }
            } else {
                ""
            };
            let _ = writeln!(
                s,
                "    tolerance {} of the best: up to {}: {}{share}",
                map.tolerance(),
                ms(limit),
                band.join(", ")
            );
        }
        let decided = scope_sources(lb, map, &est, ranked.band);
        let scope = match client.ecs {
            None => "none (no ECS option with a source prefix above 0 in the query)".to_owned(),
            Some(e) => format!(
                "/{} ({decided}: /{}; the query's source /{})",
                ranked.scope.min(e.source_prefix),
                ranked.scope,
                e.source_prefix
            ),
        };
        let _ = writeln!(s, "    ECS scope: {scope}");
    }
}

/// The draw among equally good pools that a query from `client` makes:
/// from the client network under a sticky pick (as the answer path does,
/// so explain shows the pool the client really gets), else any one.
fn draw(lb: &BalancedName, client: &ClientInfo) -> Draw {
    match lb.pick {
        Pick::Sticky(p) => {
            let (hash, scope) = super::sticky::client_hash(client, p);
            Draw::Client { hash, scope }
        }
        _ => Draw::Random(0),
    }
}

/// What set a latency or closest ranking's ECS scope, as the ranking
/// computes it: the table's networks whenever there is a table (a client
/// outside them is decided by the gap it is in), the network that placed
/// the client when some pool's figure did not come from a table network,
/// and the sticky client network when it drew among equally good pools.
fn scope_sources(lb: &BalancedName, map: &LatencyMap, est: &[Estimate], band: usize) -> String {
    let by_net = |e: &Estimate| match e.source {
        Source::Table(r) => map
            .table()
            .and_then(|t| t.rows().get(r as usize))
            .is_some_and(|row| matches!(row.key, RowKey::Net(_))),
        _ => false,
    };
    let mut parts = Vec::new();
    if map.table().is_some() {
        parts.push("the table network");
    }
    if map.needs_location() && !est.iter().all(by_net) {
        parts.push("the network that placed the client");
    }
    if band > 1 && matches!(lb.pick, Pick::Sticky(_)) {
        parts.push("the sticky client network");
    }
    if parts.is_empty() {
        return "nothing about the client".to_owned();
    }
    parts.join(" and ")
}

/// Microseconds as `12.4 ms`.
fn ms(us: i64) -> String {
    let v = us as f64 / 1000.0;
    if v.fract() == 0.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

/// Where a query of `family` from `client` would be answered from now.
fn serving(lb: &BalancedName, family: Family, health: &HealthTable, client: &ClientInfo) -> String {
    let mut buf = [0u16; MAX_POOLS];
    let order = lb.order.order(
        &lb.groups,
        client,
        family,
        health,
        || draw(lb, client),
        &mut buf,
    );
    let mut text = match choose(order, family, Health::probed(health)) {
        Choice::NoMembers if order.indices() == Some(&[]) => {
            return "no rule for this client (NODATA)".into();
        }
        Choice::NoMembers => "no members of this family (NODATA)".into(),
        Choice::Found { index, cands, .. } => {
            let from = if lb.order.is_failover() {
                format!("group {} (pool {})", index + 1, lb.groups[index].pool.name)
            } else {
                format!("pool {}", lb.groups[index].pool.name)
            };
            let standing = match cands.scan.tier {
                Tier::LiveWeighted => "available",
                Tier::LiveZero => "weight-0 standby",
                Tier::DrainWeighted | Tier::DrainZero => "draining",
            };
            format!("{from}, {} {standing} member(s)", cands.scan.count)
        }
        Choice::AllDown => match &lb.on_all_down {
            OnAllDown::FailOpen => "all down: fail open (every member not forced down)".into(),
            OnAllDown::Empty => "all down: empty answer (NODATA)".into(),
            OnAllDown::ServFail => "all down: SERVFAIL".into(),
            OnAllDown::Fallback(g) => match choose(
                Ordered::in_file_order(std::slice::from_ref(g)),
                family,
                Health::probed(health),
            ) {
                Choice::Found { .. } => format!("all down: fallback pool {}", g.pool.name),
                Choice::NoMembers => format!(
                    "all down: fallback pool {} has no members of this family (NODATA)",
                    g.pool.name
                ),
                Choice::AllDown => {
                    format!("all down: fallback pool {} fails open", g.pool.name)
                }
            },
        },
    };
    match &lb.order {
        Order::Geo(_) => {
            let _ = write!(text, "; tried {}", tried(order, family, health));
        }
        Order::Latency(_) => {
            let _ = write!(text, "; ranked {}", tried(order, family, health));
        }
        _ => {}
    }
    text
}

/// The pools of `order` as the chooser walks them, each with its state
/// for `family`, up to the first with a live weighted member.
fn tried(order: Ordered<'_>, family: Family, health: &HealthTable) -> String {
    let mut parts = Vec::new();
    for (_, g) in order.iter() {
        let ms = g.pool.members(family);
        let state = if ms.is_empty() {
            "no members of this family"
        } else {
            match scan(ms, Health::probed(health)) {
                None => "all down",
                Some(sc) => match sc.tier {
                    Tier::LiveWeighted => "available",
                    Tier::LiveZero => "weight-0 standby only",
                    Tier::DrainWeighted | Tier::DrainZero => "draining only",
                },
            }
        };
        parts.push(format!("{} ({state})", g.pool.name));
        if state == "available" {
            break;
        }
    }
    if parts.is_empty() {
        "nothing".into()
    } else {
        parts.join(", ")
    }
}

fn members(s: &mut String, g: &Group, health: &HealthTable) {
    for m in g.pool.iter() {
        let _ = writeln!(s, "    {}", member_line(m, health));
    }
}

fn member_line(m: &Member, health: &HealthTable) -> String {
    let addr = match m.other {
        Some(o) => format!("{} + {o}", m.addr),
        None => m.addr.to_string(),
    };
    let mut line = format!("{addr:<39} weight {:<4} state {:<5}", m.weight, m.state);
    match &m.check {
        Some(c) => {
            let h = if cell_of(m, health).is_up() {
                "up"
            } else {
                "down"
            };
            match (m.also, m.other) {
                // check_family = "both": two probes, one health state;
                // say which address's probes fail.
                (Some(also), Some(other)) => {
                    let word = |up: bool| if up { "up" } else { "down" };
                    let _ = write!(
                        line,
                        " health {h:<4} (check {c}: {} {}, {other} {})",
                        m.addr,
                        word(health.cell(m.target).is_up()),
                        word(health.cell(also).is_up())
                    );
                }
                _ => {
                    let _ = write!(line, " health {h:<4} (check {c})");
                }
            }
        }
        None => line.push_str(" health -    (no check)"),
    }
    if let Some((f, by)) = m.forced.get() {
        let _ = write!(line, " forced {f} (by {})", by.as_str());
    }
    let standing = match tier_of(m, Health::probed(health)) {
        Some(Tier::LiveWeighted) => "available",
        Some(Tier::LiveZero) => "standby (weight 0)",
        Some(Tier::DrainWeighted | Tier::DrainZero) => "draining",
        None if state_of(m) == OperatorState::Down => "down (operator)",
        None => "down (health)",
    };
    let _ = write!(line, " -> {standing}");
    if let Some(l) = &m.label {
        let _ = write!(line, "; name {l}");
    }
    if let Some(r) = &m.region {
        let _ = write!(line, "; region {r}");
    }
    if let Some(c) = m.coords {
        let _ = write!(line, "; lat {} lon {}", c.lat, c.lon);
    }
    if let Some(rtt) = health.rtt_us(m.target) {
        let _ = write!(line, "; rtt {} ms", f64::from(rtt) / 1000.0);
    }
    if let Some(kind) = m.load_kind {
        match health.load(m.target) {
            Some(l) => {
                let _ = write!(line, "; load {l} ({})", kind.as_str());
            }
            None => {
                let _ = write!(
                    line,
                    "; load - ({}, none reported: configured weight)",
                    kind.as_str()
                );
            }
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::testutil::*;
    use super::super::*;
    use super::*;

    #[test]
    fn describes_policy_members_and_health() {
        let mut a = v4(1, 2);
        a.check = Some("web".into());
        a.label = Some("lb-a".into());
        a.region = Some("eu-west".into());
        a.coords = Some(Coords {
            lat: 48.8,
            lon: 2.3,
        });
        let mut b = v4(2, 1);
        b.state = OperatorState::Drain;
        let mut c = v6(1, 3);
        c.state = OperatorState::Down;
        let mut lb = name(Pick::Weighted, Answers::Count(1), vec![a, b, c]);
        lb.on_all_down = OnAllDown::Fallback(Group::new(Arc::new(Pool::new("sorry", [v4(9, 1)]))));
        let health = HealthTable::new(256, Status::Up);
        health.set_status(TargetId(1), Status::Down);
        let text = explain(&lb, &health, &client_v4());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "www: policy weighted, ttl 30, answers 1, on_all_down fallback (pool sorry)"
        );
        assert_eq!(lines[1], "  A: pool web, 1 draining member(s)");
        assert_eq!(
            lines[2],
            "  AAAA: all down: fallback pool sorry has no members of this family (NODATA)"
        );
        assert_eq!(lines[3], "  pool web");
        assert!(lines[4].starts_with("    192.0.2.1 "), "{}", lines[4]);
        assert!(
            lines[4].ends_with("weight 2    state auto  health down (check web) -> down (health); name lb-a; region eu-west; lat 48.8 lon 2.3"),
            "{}",
            lines[4]
        );
        assert!(
            lines[5].ends_with("state drain health -    (no check) -> draining"),
            "{}",
            lines[5]
        );
        assert!(
            lines[6].contains("2001:db8::1") && lines[6].ends_with("-> down (operator)"),
            "{}",
            lines[6]
        );
        assert_eq!(lines[7], "  fallback pool sorry");
        assert!(lines[8].contains("192.0.2.9") && lines[8].ends_with("-> available"));
        assert_eq!(lines.len(), 9);
    }

    /// A dual-stack member checked over both families is down when either
    /// probe fails; explain says which address's probes fail.
    #[test]
    fn a_member_checked_over_both_families_shows_each_probe() {
        let mut a = v4(1, 1);
        a.other = Some(addr6(1));
        a.also = Some(TargetId(101));
        a.check = Some("web".into());
        let lb = name(Pick::Weighted, Answers::Count(1), vec![a]);
        let health = HealthTable::new(256, Status::Up);
        health.set_status(TargetId(101), Status::Down);
        let text = explain(&lb, &health, &client_v4());
        assert!(
            text.contains(
                "health down (check web: 192.0.2.1 up, 2001:db8::1 down) -> down (health)"
            ),
            "{text}"
        );
    }
}
