//! `failover`: groups (pools) in priority order; answers come from the
//! first group with an available member of the queried family, picked with
//! the name's `group_policy`. The order is [`Order::Failover`](super::Order);
//! the choosing is [`super::groups`]; what is left here is how a failover
//! answer explains itself.

use super::Reason;

const GROUP_REASONS: [&str; 8] = [
    "failover: group 1",
    "failover: group 2",
    "failover: group 3",
    "failover: group 4",
    "failover: group 5",
    "failover: group 6",
    "failover: group 7",
    "failover: group 8",
];

/// Static reason naming the 0-based group `index`.
pub(super) fn reason(index: usize) -> Reason {
    Reason(
        GROUP_REASONS
            .get(index)
            .copied()
            .unwrap_or("failover: group 9 or later"),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rand::SeedableRng as _;

    use super::super::testutil::*;
    use super::super::*;
    use super::reason as group_reason;

    fn failover(inner: Pick, pools: Vec<Vec<Member>>) -> BalancedName {
        let groups = pools
            .into_iter()
            .enumerate()
            .map(|(i, ms)| Group::new(Arc::new(Pool::new(format!("g{i}"), ms))))
            .collect();
        BalancedName {
            name: "app".into(),
            ttl: 30,
            ttl_while_failing: None,
            answers: Answers::Count(1),
            order: Order::Failover,
            pick: inner,
            groups,
            on_all_down: OnAllDown::FailOpen,
        }
    }

    #[test]
    fn first_available_group_answers() {
        // Group 1: .1 .2 (+ v6 ::1); group 2: .3 .4; group 3: .5.
        let lb = failover(
            Pick::Weighted,
            vec![
                vec![v4(1, 1), v4(2, 1), v6(1, 1)],
                vec![v4(3, 1), v4(4, 1)],
                vec![v4(5, 1)],
            ],
        );
        let health = HealthTable::new(256, Status::Up);
        let mut rng = PolicyRng::seed_from_u64(5);
        let mut out = Decision::default();
        // (targets down, family, allowed answers, reason)
        let cases: &[(&[u32], Family, &[u8], &str)] = &[
            (&[], Family::V4, &[1, 2], "failover: group 1"),
            (&[1], Family::V4, &[2], "failover: group 1"),
            (&[1, 2], Family::V4, &[3, 4], "failover: group 2"),
            (&[1, 2, 3, 4], Family::V4, &[5], "failover: group 3"),
            (&[2, 3, 4], Family::V4, &[1], "failover: group 1"),
            (&[1, 2, 3, 4, 5], Family::V4, &[1, 2], "all down: fail open"),
            // AAAA: only group 1 has an IPv6 member; v4 health is irrelevant.
            (&[1, 2], Family::V6, &[], "failover: group 1"),
        ];
        for (down, family, allowed, why) in cases {
            for id in 0..256 {
                health.set_status(TargetId(id), Status::Up);
            }
            for id in *down {
                health.set_status(TargetId(*id), Status::Down);
            }
            for _ in 0..50 {
                answer(&lb, *family, &client_v4(), &health, &mut rng, &mut out);
                assert_eq!(out.reason, Reason(why), "down {down:?}");
                let kind = match *why {
                    "failover: group 1" => DecisionKind::Policy,
                    "all down: fail open" => DecisionKind::FailOpen,
                    _ => DecisionKind::Failover,
                };
                assert_eq!(out.kind, kind, "down {down:?}");
                assert_eq!(out.addrs.len(), 1);
                let ok = match family {
                    Family::V4 => allowed.iter().any(|&i| out.addrs[0] == addr4(i)),
                    Family::V6 => out.addrs[0] == addr6(1),
                };
                assert!(ok, "down {down:?}: got {:?}", out.addrs);
            }
        }
    }

    #[test]
    fn a_later_group_beats_draining_members_of_an_earlier_one() {
        let mut drained = v4(1, 1);
        drained.state = OperatorState::Drain;
        let lb = failover(Pick::RoundRobin, vec![vec![drained], vec![v4(2, 1)]]);
        let health = HealthTable::new(16, Status::Up);
        let mut rng = PolicyRng::seed_from_u64(5);
        let mut out = Decision::default();
        answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
        assert_eq!(
            (out.addrs.clone(), out.reason),
            (vec![addr4(2)], Reason("failover: group 2"))
        );
        health.set_status(TargetId(2), Status::Down);
        answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
        assert_eq!(
            (out.addrs.clone(), out.reason, out.kind),
            (vec![addr4(1)], reason::DRAIN_ONLY, DecisionKind::LastResort)
        );
    }

    #[test]
    fn group_policy_runs_inside_the_group() {
        let mut lb = failover(
            Pick::RoundRobin,
            vec![vec![v4(1, 1), v4(2, 1), v4(3, 1)], vec![v4(4, 1)]],
        );
        let health = HealthTable::new(16, Status::Up);
        let mut rng = PolicyRng::seed_from_u64(5);
        let mut out = Decision::default();
        let mut seen = Vec::new();
        for _ in 0..3 {
            answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
            seen.extend(out.addrs.iter().copied());
        }
        assert_eq!(seen, vec![addr4(1), addr4(2), addr4(3)]);
        lb.pick = Pick::Multivalue;
        lb.answers = Answers::All;
        answer(&lb, Family::V4, &client_v4(), &health, &mut rng, &mut out);
        let mut got = out.addrs.clone();
        got.sort();
        assert_eq!(got, vec![addr4(1), addr4(2), addr4(3)]);
    }

    #[test]
    fn reasons_name_the_group() {
        assert_eq!(group_reason(0), Reason("failover: group 1"));
        assert_eq!(group_reason(7), Reason("failover: group 8"));
        assert_eq!(group_reason(8), Reason("failover: group 9 or later"));
    }
}
