//! `round_robin`: members in turn, `answers` at a time.
//!
//! Each query takes a ticket from the name's atomic cursor (per family) and
//! starts the rotation at `ticket % candidates`, so with `n` candidates each
//! one leads exactly once in every `n` consecutive answers and appears in
//! `answers` of them. The cursor advances by one, not by `answers`, so the
//! first address — the one many clients use — rotates over every member.
//! No lock: `fetch_add` is the whole synchronisation, as in pingora's
//! round-robin selection.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::pool::Candidates;

/// Append up to `k` candidate addresses to `out`, in rotation order.
pub(super) fn pick(c: &Candidates<'_>, cursor: &AtomicUsize, k: usize, out: &mut Vec<IpAddr>) {
    let n = c.scan.count;
    if n == 0 {
        return;
    }
    let take = k.min(n);
    let start = cursor.fetch_add(1, Ordering::Relaxed) % n;
    let before = out.len();
    out.extend(c.iter().skip(start).take(take).map(|(m, _)| m.addr));
    let rest = take - (out.len() - before);
    out.extend(c.iter().take(start.min(rest)).map(|(m, _)| m.addr));
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use rand::SeedableRng as _;

    use super::super::testutil::*;
    use super::super::*;

    #[test]
    fn rotates_one_at_a_time() {
        let lb = name(
            Pick::RoundRobin,
            Answers::Count(1),
            vec![v4(1, 1), v4(2, 1), v4(3, 1)],
        );
        let health = HealthTable::new(16, Status::Up);
        let mut rng = PolicyRng::seed_from_u64(0);
        let mut out = Decision::default();
        let mut seen = Vec::new();
        for _ in 0..6 {
            answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
            assert_eq!(out.reason, Reason("round_robin"));
            seen.extend(out.addrs.iter().copied());
        }
        let [a, b, c] = [addr4(1), addr4(2), addr4(3)];
        assert_eq!(seen, vec![a, b, c, a, b, c]);
    }

    #[test]
    fn several_answers_wrap_around() {
        let lb = name(
            Pick::RoundRobin,
            Answers::Count(2),
            vec![v4(1, 1), v4(2, 1), v4(3, 1)],
        );
        let health = HealthTable::new(16, Status::Up);
        let mut rng = PolicyRng::seed_from_u64(0);
        let mut out = Decision::default();
        let [a, b, c] = [addr4(1), addr4(2), addr4(3)];
        for want in [vec![a, b], vec![b, c], vec![c, a], vec![a, b]] {
            answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
            assert_eq!(out.addrs, want);
        }
    }

    #[test]
    fn fair_over_every_window_and_skips_down_members() {
        let members: Vec<_> = (1..=5).map(|i| v4(i, u32::from(i))).collect();
        let health = HealthTable::new(16, Status::Up);
        health.set_status(TargetId(3), Status::Down);
        let mut rng = PolicyRng::seed_from_u64(0);
        let mut out = Decision::default();
        for k in [1u8, 2, 3] {
            let lb = name(Pick::RoundRobin, Answers::Count(k), members.clone());
            let mut counts: HashMap<IpAddr, usize> = HashMap::new();
            // 4 candidates, 4 * 25 queries: each appears exactly k * 25 times.
            for _ in 0..100 {
                answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
                assert!(distinct(&out.addrs));
                for a in &out.addrs {
                    *counts.entry(*a).or_default() += 1;
                }
            }
            assert_eq!(counts.len(), 4, "k={k}: {counts:?}");
            assert!(!counts.contains_key(&addr4(3)));
            assert!(
                counts.values().all(|&c| c == usize::from(k) * 25),
                "k={k}: {counts:?}"
            );
        }
    }

    #[test]
    fn families_rotate_independently() {
        let lb = name(
            Pick::RoundRobin,
            Answers::Count(1),
            vec![v4(1, 1), v4(2, 1), v6(1, 1), v6(2, 1)],
        );
        let health = HealthTable::new(256, Status::Up);
        let mut rng = PolicyRng::seed_from_u64(0);
        let mut out = Decision::default();
        let mut got = Vec::new();
        for family in [Family::V4, Family::V6, Family::V6, Family::V4] {
            answer(&lb, family, &client_v4(), &health, &mut rng, &mut out);
            got.extend(out.addrs.iter().copied());
        }
        assert_eq!(got, vec![addr4(1), addr6(1), addr6(2), addr4(2)]);
    }
}
