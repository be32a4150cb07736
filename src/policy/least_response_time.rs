//! `least_response_time`: members whose health probes answer fastest.
//!
//! The prober keeps a moving average of each endpoint's probe round-trip
//! time ([`HealthTable::rtt_us`](crate::health::HealthTable::rtt_us)). The
//! members within the name's `rtt_tolerance` of the fastest count as
//! equally fast and are drawn by weight (Efraimidis–Spirakis keys, as the
//! weighted pick does for several answers), so a few microseconds of
//! difference do not send every client to one member; when more answers
//! are asked than are that fast, the rest follow in order of RTT.
//!
//! A member without a measurement (no check, or no successful probe yet)
//! is not known to be fast: it is picked only after the measured ones, or
//! by weight like everyone else when no member of the group is measured.
//! The answer does not depend on the client (ECS scope 0).

use std::net::IpAddr;

use rand::Rng as _;

use super::PolicyRng;
use super::Tolerance;
use super::pool::{Candidates, Member};
use super::sample::{TopK, unit_open0};
use super::weighted;

/// The RTT the pick works with: the endpoint's smoothed probe RTT in µs.
#[inline]
pub(super) fn rtt_of(c: &Candidates<'_>, m: &Member) -> Option<u32> {
    c.health.table.rtt_us(m.target)
}

/// Append up to `k` candidate addresses to `out`: the fast ones by weight,
/// then the others by RTT.
pub(super) fn pick(
    c: &Candidates<'_>,
    tol: Tolerance,
    k: usize,
    rng: &mut PolicyRng,
    out: &mut Vec<IpAddr>,
) {
    let best = c.iter().filter_map(|(m, _)| rtt_of(c, m)).min();
    let Some(best) = best else {
        return weighted::pick(c, k, rng, out);
    };
    let limit = tol.limit(i64::from(best));
    let mut fast = TopK::new(k);
    let mut found = 0;
    for (m, w) in c.iter() {
        if rtt_of(c, m).is_some_and(|r| i64::from(r) <= limit) {
            fast.offer(unit_open0(rng.next_u64()).ln() / f64::from(w), m.addr);
            found += 1;
        }
    }
    fast.drain_into(out);
    if found >= k {
        return;
    }
    // Fewer fast members than answers: the slower ones, fastest first
    // (unmeasured last, in pool order).
    let mut rest = TopK::new(k - found);
    for (m, _) in c.iter() {
        match rtt_of(c, m) {
            Some(r) if i64::from(r) <= limit => {}
            Some(r) => rest.offer(-f64::from(r), m.addr),
            None => rest.offer(f64::MIN, m.addr),
        }
    }
    rest.drain_into(out);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::SeedableRng as _;

    use super::super::testutil::*;
    use super::super::*;

    fn lrt(tol: Tolerance, answers: Answers, members: Vec<Member>) -> BalancedName {
        name(Pick::LeastResponseTime(tol), answers, members)
    }

    fn shares(lb: &BalancedName, health: &HealthTable, n: usize) -> HashMap<IpAddr, f64> {
        let mut rng = PolicyRng::seed_from_u64(17);
        let mut out = Decision::default();
        let mut counts: HashMap<IpAddr, usize> = HashMap::new();
        for _ in 0..n {
            answer(lb, Family::V4, &client_v4(), health, &mut rng, &mut out);
            assert_eq!(out.ecs_scope, 0);
            for a in &out.addrs {
                *counts.entry(*a).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|(a, c)| (a, c as f64 / n as f64))
            .collect()
    }

    const MS: u32 = 1000;

    #[test]
    fn the_fastest_within_tolerance_share_by_weight() {
        let tol = Tolerance { us: MS, pct: 20 };
        // .1 10 ms w1, .2 11.5 ms w3 (within 20 %), .3 30 ms, .4 unmeasured
        let lb = lrt(
            tol,
            Answers::Count(1),
            vec![v4(1, 1), v4(2, 3), v4(3, 5), v4(4, 5)],
        );
        let health = HealthTable::new(16, Status::Up);
        health.set_rtt_us(TargetId(1), 10 * MS);
        health.set_rtt_us(TargetId(2), 11 * MS + 500);
        health.set_rtt_us(TargetId(3), 30 * MS);
        let got = shares(&lb, &health, 40_000);
        assert!((got[&addr4(1)] - 0.25).abs() < 0.01, "{got:?}");
        assert!((got[&addr4(2)] - 0.75).abs() < 0.01, "{got:?}");
        assert!(!got.contains_key(&addr4(3)) && !got.contains_key(&addr4(4)));

        // The probes of .3 get faster: now it is alone at the top.
        health.set_rtt_us(TargetId(3), 2 * MS);
        let got = shares(&lb, &health, 2_000);
        assert_eq!(got.get(&addr4(3)), Some(&1.0), "{got:?}");
        // A down member is not a candidate, however fast.
        health.set_status(TargetId(3), Status::Down);
        let got = shares(&lb, &health, 4_000);
        assert!(!got.contains_key(&addr4(3)));
        assert!((got[&addr4(2)] - 0.75).abs() < 0.03, "{got:?}");
    }

    #[test]
    fn more_answers_than_fast_members_follow_rtt_order() {
        let tol = Tolerance { us: 0, pct: 0 };
        let lb = lrt(
            tol,
            Answers::Count(4),
            vec![v4(1, 1), v4(2, 1), v4(3, 1), v4(4, 1), v4(5, 1)],
        );
        let health = HealthTable::new(16, Status::Up);
        for (id, ms) in [(1, 40), (2, 5), (3, 20), (5, 10)] {
            health.set_rtt_us(TargetId(id), ms * MS);
        }
        let mut rng = PolicyRng::seed_from_u64(1);
        let mut out = Decision::default();
        answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
        assert_eq!(out.addrs, [addr4(2), addr4(5), addr4(3), addr4(1)]);
        let lb = lrt(
            tol,
            Answers::All,
            lb.groups[0].pool.iter().cloned().collect(),
        );
        answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
        assert_eq!(
            out.addrs,
            [addr4(2), addr4(5), addr4(3), addr4(1), addr4(4)],
            "unmeasured last"
        );
    }

    #[test]
    fn nothing_measured_is_weighted() {
        let lb = lrt(
            Tolerance { us: MS, pct: 20 },
            Answers::Count(1),
            vec![v4(1, 1), v4(2, 3)],
        );
        let health = HealthTable::new(16, Status::Up);
        let got = shares(&lb, &health, 40_000);
        assert!((got[&addr4(2)] - 0.75).abs() < 0.01, "{got:?}");
        let mut rng = PolicyRng::seed_from_u64(1);
        let mut out = Decision::default();
        answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
        assert_eq!(out.reason, Reason("least_response_time"));
    }
}
