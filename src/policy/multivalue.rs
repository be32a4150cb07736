//! `multivalue`: up to `answers` available members, uniformly at random
//! and in random order (Route 53's multivalue answer). Weights do not skew
//! the choice, but weight 0 and `drain` still rank last like everywhere.
//!
//! A uniform subset comes from reservoir sampling (Algorithm R) straight
//! into the answer buffer, then a shuffle, because the reservoir's order is
//! biased towards pool order.

use std::net::IpAddr;

use rand::RngExt as _;

use super::PolicyRng;
use super::pool::Candidates;
use super::sample::shuffle;

/// Append up to `k` distinct candidate addresses to `out`, in random order.
pub(super) fn pick(c: &Candidates<'_>, k: usize, rng: &mut PolicyRng, out: &mut Vec<IpAddr>) {
    let start = out.len();
    if k >= c.scan.count {
        c.push_all(out);
    } else {
        for (i, (m, _)) in c.iter().enumerate() {
            if i < k {
                out.push(m.addr);
            } else {
                let j = rng.random_range(0..=i);
                if j < k {
                    out[start + j] = m.addr;
                }
            }
        }
    }
    shuffle(&mut out[start..], rng);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::SeedableRng as _;

    use super::super::testutil::*;
    use super::super::*;

    #[test]
    fn subset_is_uniform_and_ignores_weights() {
        let members = vec![v4(1, 1), v4(2, 10), v4(3, 100), v4(4, 1000)];
        let lb = name(Pick::Multivalue, Answers::Count(2), members);
        let health = HealthTable::new(16, Status::Up);
        let mut rng = PolicyRng::seed_from_u64(11);
        let mut out = Decision::default();
        let mut counts: HashMap<IpAddr, usize> = HashMap::new();
        let mut first: HashMap<IpAddr, usize> = HashMap::new();
        let n = 40_000;
        for _ in 0..n {
            answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
            assert_eq!(out.addrs.len(), 2);
            assert!(distinct(&out.addrs));
            assert_eq!(out.reason, Reason("multivalue"));
            *first.entry(out.addrs[0]).or_default() += 1;
            for a in &out.addrs {
                *counts.entry(*a).or_default() += 1;
            }
        }
        for i in 1..=4 {
            // Each member is in a 2-of-4 subset half the time, and first a quarter.
            let share = counts[&addr4(i)] as f64 / n as f64;
            assert!((share - 0.5).abs() < 0.01, "{i}: {share}");
            let lead = first[&addr4(i)] as f64 / n as f64;
            assert!((lead - 0.25).abs() < 0.01, "{i}: {lead}");
        }
    }

    #[test]
    fn all_returns_every_available_member() {
        let members = vec![v4(1, 1), v4(2, 1), v4(3, 1), v6(1, 1)];
        let lb = name(Pick::Multivalue, Answers::All, members);
        let health = HealthTable::new(256, Status::Up);
        health.set_status(TargetId(2), Status::Down);
        let mut rng = PolicyRng::seed_from_u64(2);
        let mut out = Decision::default();
        answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
        let mut got = out.addrs.clone();
        got.sort();
        assert_eq!(got, vec![addr4(1), addr4(3)]);
    }
}
