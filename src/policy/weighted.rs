//! `weighted`: distinct members drawn with probability proportional to
//! weight, without replacement.
//!
//! One answer (the common case) is a single draw over the cumulative weights
//! of the candidates: two passes, integer arithmetic, exact proportions.
//! Several answers use Efraimidis–Spirakis keys (`u^(1/w)`, compared as
//! `ln(u)/w`), which give the same distribution as repeated draws that each
//! remove the drawn member, in one pass with the best `k` kept on the stack.
//! A precomputed alias table was rejected: it would have to be rebuilt for
//! every combination of healthy members, and pools are small.

use std::net::IpAddr;

use rand::{Rng as _, RngExt as _};

use super::PolicyRng;
use super::pool::Candidates;
use super::sample::{TopK, shuffle, unit_open0};

/// Append up to `k` distinct candidate addresses to `out`.
#[inline]
pub(super) fn pick(c: &Candidates<'_>, k: usize, rng: &mut PolicyRng, out: &mut Vec<IpAddr>) {
    let start = out.len();
    if k >= c.scan.count {
        // Every candidate answers; only the order is left to chance.
        c.push_all(out);
        shuffle(&mut out[start..], rng);
    } else if k == 1 {
        let mut r = rng.random_range(0..c.scan.total);
        let mut last = None;
        for (m, w) in c.iter() {
            let w = u64::from(w);
            if r < w {
                out.push(m.addr);
                return;
            }
            r -= w;
            last = Some(m.addr);
        }
        // Only reachable if the prober flipped a target mid-pick.
        out.extend(last);
    } else {
        let mut top = TopK::new(k);
        for (m, w) in c.iter() {
            top.offer(unit_open0(rng.next_u64()).ln() / f64::from(w), m.addr);
        }
        top.drain_into(out);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::SeedableRng as _;

    use super::super::testutil::*;
    use super::super::*;

    /// Share of each address over `n` single-answer draws.
    fn shares(
        lb: &BalancedName,
        health: &HealthTable,
        family: Family,
        n: usize,
    ) -> HashMap<IpAddr, f64> {
        let mut rng = PolicyRng::seed_from_u64(7);
        let mut out = Decision::default();
        let mut counts: HashMap<IpAddr, usize> = HashMap::new();
        for _ in 0..n {
            answer(lb, family, &client_v4(), health, &mut rng, &mut out);
            for a in &out.addrs {
                *counts.entry(*a).or_default() += 1;
            }
        }
        counts
            .into_iter()
            .map(|(a, c)| (a, c as f64 / n as f64))
            .collect()
    }

    #[test]
    fn single_answer_shares_follow_weights() {
        // (weights, expected shares); one member of weight 0 never shows.
        let cases: &[(&[u32], &[f64])] = &[
            (&[1, 2, 3], &[1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0]),
            (&[1, 1], &[0.5, 0.5]),
            (&[10, 0, 30], &[0.25, 0.0, 0.75]),
            (&[1000, 1], &[1000.0 / 1001.0, 1.0 / 1001.0]),
        ];
        for (weights, want) in cases {
            let members: Vec<_> = weights
                .iter()
                .enumerate()
                .map(|(i, &w)| v4(i as u8 + 1, w))
                .collect();
            let addrs: Vec<IpAddr> = members.iter().map(|m| m.addr).collect();
            let lb = name(Pick::Weighted, Answers::Count(1), members);
            let health = HealthTable::new(16, Status::Up);
            let got = shares(&lb, &health, Family::V4, 60_000);
            for (a, w) in addrs.iter().zip(want.iter()) {
                let g = got.get(a).copied().unwrap_or(0.0);
                // 60k draws: 4 sigma is at most 0.0082.
                assert!(
                    (g - w).abs() < 0.0082,
                    "weights {weights:?}: {a} got {g}, want {w}"
                );
            }
        }
    }

    #[test]
    fn two_answers_match_sampling_without_replacement() {
        // Inclusion probability of i when drawing 2 without replacement:
        // p_i + sum_{j != i} p_j * w_i / (W - w_j).
        let weights = [1u32, 2, 3, 4];
        let total: f64 = weights.iter().map(|&w| f64::from(w)).sum();
        let members: Vec<_> = weights
            .iter()
            .enumerate()
            .map(|(i, &w)| v4(i as u8 + 1, w))
            .collect();
        let addrs: Vec<IpAddr> = members.iter().map(|m| m.addr).collect();
        let lb = name(Pick::Weighted, Answers::Count(2), members);
        let health = HealthTable::new(16, Status::Up);
        let n = 40_000;
        let got = shares(&lb, &health, Family::V4, n);
        for (i, a) in addrs.iter().enumerate() {
            let wi = f64::from(weights[i]);
            let mut p = wi / total;
            for (j, &wj) in weights.iter().enumerate() {
                if j != i {
                    p += f64::from(wj) / total * wi / (total - f64::from(wj));
                }
            }
            let g = got[a];
            assert!((g - p).abs() < 0.012, "{a}: got {g}, want {p}");
        }
    }

    #[test]
    fn answers_are_distinct_and_capped() {
        let members: Vec<_> = (1..=5).map(|i| v4(i, u32::from(i))).collect();
        let health = HealthTable::new(16, Status::Up);
        let mut rng = PolicyRng::seed_from_u64(1);
        let mut out = Decision::default();
        for (answers, want) in [
            (Answers::Count(1), 1),
            (Answers::Count(3), 3),
            (Answers::Count(9), 5),
            (Answers::All, 5),
        ] {
            let lb = name(Pick::Weighted, answers, members.clone());
            for _ in 0..200 {
                answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
                assert_eq!(out.addrs.len(), want, "{answers}");
                assert!(distinct(&out.addrs), "{:?}", out.addrs);
                assert_eq!(out.reason, Reason("weighted"));
                assert_eq!(out.ecs_scope, 0);
            }
        }
    }

    #[test]
    fn weight_zero_only_when_no_weighted_member_is_up() {
        let lb = name(
            Pick::Weighted,
            Answers::Count(1),
            vec![v4(1, 0), v4(2, 5), v4(3, 0)],
        );
        let health = HealthTable::new(16, Status::Up);
        let mut rng = PolicyRng::seed_from_u64(3);
        let mut out = Decision::default();
        for _ in 0..200 {
            answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
            assert_eq!(out.addrs, vec![addr4(2)]);
        }
        health.set_status(TargetId(2), Status::Down);
        let got = shares(&lb, &health, Family::V4, 4000);
        assert!((got[&addr4(1)] - 0.5).abs() < 0.04, "{got:?}");
        assert!((got[&addr4(3)] - 0.5).abs() < 0.04, "{got:?}");
        answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
        assert_eq!(out.reason, reason::WEIGHT_ZERO_ONLY);
    }
}
