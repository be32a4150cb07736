//! `least_connections`: members that report less work per unit of weight
//! get more of the answers.
//!
//! An HTTP check may read a load figure from every probe response
//! (`load_header`, `load_json_pointer`, `load_body`); the prober keeps the
//! latest in the health table ([`HealthTable::load`]). What the figure
//! means is the check's `load_kind`:
//!
//! - `connections` (work in progress): a member of weight `w` reporting
//!   `L` gets an effective weight of `w / (1 + L / w)`, so shares are
//!   inversely proportional to one plus the load per unit of weight. Two
//!   members of weight 1 with 10 and 30 connections get 1/11 : 1/31 of
//!   the answers, 74 % : 26 %; members with the same load per unit of
//!   weight share by weight. (The one keeps an idle member finite.)
//! - `weight`: the reported figure replaces the configured weight, as
//!   PowerDNS's `pickselfweighted` does. A member reporting 0 is answered
//!   only when more addresses are asked than the others can give (or when
//!   all report 0: then the configured weights apply).
//!
//! A member without a figure (its check reads none, none has come yet, or
//! its figures stopped for 3 probes and went stale) counts with its
//! configured weight. A DNS answer is cached and serves many connections,
//! so the pick is proportional, never "always the least loaded": that
//! would send every resolver to one member until the next probe, then
//! every one to another (the herd NS1 and Cloudflare avoid the same way).
//! Draws are Efraimidis–Spirakis keys (`ln(u) / weight`): one pass, exact
//! proportions, distinct members.
//!
//! [`HealthTable::load`]: crate::health::HealthTable::load

use std::net::IpAddr;

use rand::Rng as _;

use super::PolicyRng;
use super::pool::{Candidates, Member};
use super::sample::{TopK, unit_open0};
use crate::health::LoadKind;

/// The weight `m` is drawn with, from its configured (tier) weight `w`
/// and its load figure.
#[inline]
pub fn effective_weight(m: &Member, w: u32, load: Option<f32>) -> f64 {
    let w = f64::from(w);
    match (m.load_kind, load) {
        (Some(LoadKind::Connections), Some(l)) => w / (1.0 + f64::from(l) / w),
        (Some(LoadKind::Weight), Some(l)) => f64::from(l),
        _ => w,
    }
}

/// Append up to `k` distinct candidate addresses to `out`: drawn by
/// effective weight; members whose effective weight is 0 (they report a
/// weight of 0) only fill what the others cannot, drawn by configured
/// weight.
pub(super) fn pick(c: &Candidates<'_>, k: usize, rng: &mut PolicyRng, out: &mut Vec<IpAddr>) {
    let table = c.health.table;
    let mut top = TopK::new(k);
    let mut positive = 0;
    for (m, w) in c.iter() {
        let e = effective_weight(m, w, table.load(m.target));
        if e > 0.0 {
            positive += 1;
            top.offer(unit_open0(rng.next_u64()).ln() / e, m.addr);
        }
    }
    top.drain_into(out);
    if positive >= k {
        return;
    }
    let mut rest = TopK::new(k - positive);
    for (m, w) in c.iter() {
        if effective_weight(m, w, table.load(m.target)) <= 0.0 {
            rest.offer(unit_open0(rng.next_u64()).ln() / f64::from(w), m.addr);
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
    use crate::health::LoadKind;

    fn member(i: u8, w: u32, kind: Option<LoadKind>) -> Member {
        let mut m = v4(i, w);
        m.load_kind = kind;
        m
    }

    fn shares(lb: &BalancedName, health: &HealthTable, n: usize) -> HashMap<IpAddr, f64> {
        let mut rng = PolicyRng::seed_from_u64(23);
        let mut out = Decision::default();
        let mut counts: HashMap<IpAddr, usize> = HashMap::new();
        for _ in 0..n {
            answer(lb, Family::V4, &client_v4(), health, &mut rng, &mut out);
            assert_eq!(out.reason, Reason("least_connections"));
            for a in &out.addrs {
                *counts.entry(*a).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|(a, c)| (a, c as f64 / n as f64))
            .collect()
    }

    fn close(got: &HashMap<IpAddr, f64>, i: u8, want: f64) {
        let g = got.get(&addr4(i)).copied().unwrap_or(0.0);
        // 40k draws: 4 sigma is under 0.01
        assert!(
            (g - want).abs() < 0.01,
            "member {i}: got {g}, want {want}: {got:?}"
        );
    }

    #[test]
    fn connections_shift_shares_by_load_per_weight() {
        let c = Some(LoadKind::Connections);
        let lb = name(
            Pick::LeastConnections,
            Answers::Count(1),
            vec![member(1, 1, c), member(2, 1, c), member(3, 2, c)],
        );
        let health = HealthTable::new(16, Status::Up);
        // No figures yet: configured weights, 1:1:2.
        let got = shares(&lb, &health, 40_000);
        close(&got, 1, 0.25);
        close(&got, 3, 0.5);
        // 10 and 30 connections at weight 1, 20 at weight 2 (10 per unit):
        // 1/11, 1/31 and 2/11.
        health.set_load(TargetId(1), Some(10.0));
        health.set_load(TargetId(2), Some(30.0));
        health.set_load(TargetId(3), Some(20.0));
        let total = 1.0 / 11.0 + 1.0 / 31.0 + 2.0 / 11.0;
        let got = shares(&lb, &health, 40_000);
        close(&got, 1, 1.0 / 11.0 / total);
        close(&got, 2, 1.0 / 31.0 / total);
        close(&got, 3, 2.0 / 11.0 / total);
        // Member 2's figures go stale: back to its configured weight 1
        // (as if idle), the others keep theirs.
        health.set_load(TargetId(2), None);
        let total = 1.0 / 11.0 + 1.0 + 2.0 / 11.0;
        let got = shares(&lb, &health, 40_000);
        close(&got, 2, 1.0 / total);
    }

    #[test]
    fn reported_weights_replace_configured_ones() {
        let w = Some(LoadKind::Weight);
        let lb = name(
            Pick::LeastConnections,
            Answers::Count(1),
            // .3's check reads no load: its configured weight counts
            vec![member(1, 5, w), member(2, 5, w), member(3, 2, None)],
        );
        let health = HealthTable::new(16, Status::Up);
        health.set_load(TargetId(1), Some(6.0));
        health.set_load(TargetId(2), Some(0.0));
        let got = shares(&lb, &health, 40_000);
        close(&got, 1, 0.75);
        close(&got, 2, 0.0);
        close(&got, 3, 0.25);
        // Every candidate reporting 0: the configured weights.
        health.set_status(TargetId(3), Status::Down);
        health.set_load(TargetId(1), Some(0.0));
        let got = shares(&lb, &health, 40_000);
        close(&got, 1, 0.5);
        close(&got, 2, 0.5);
    }

    #[test]
    fn several_answers_are_distinct() {
        let c = Some(LoadKind::Connections);
        let lb = name(
            Pick::LeastConnections,
            Answers::Count(2),
            vec![member(1, 1, c), member(2, 1, c), member(3, 1, c)],
        );
        let health = HealthTable::new(16, Status::Up);
        health.set_load(TargetId(1), Some(100.0));
        let mut rng = PolicyRng::seed_from_u64(5);
        let mut out = Decision::default();
        let mut with_1 = 0;
        for _ in 0..2_000 {
            answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
            assert_eq!(out.addrs.len(), 2);
            assert!(distinct(&out.addrs));
            with_1 += usize::from(out.addrs.contains(&addr4(1)));
        }
        assert!(
            with_1 < 100,
            "the loaded member is rarely among two: {with_1}"
        );
    }
}
