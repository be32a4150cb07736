//! The fleet's decision rule: one target's state from the observations of
//! every live vantage point (dnslb instance) that probes it. Pure: no I/O,
//! no time, no store.
//!
//! The rule is Route 53's: a target is **up when more than `healthy_above`
//! of the live vantage points see it up** (Route 53 uses 18 % of its
//! checkers; our default is 0.5, which is "down when at least half see it
//! down"). Each vantage point's observation is its own rise/fall state
//! machine's state ([`super::state`]), so one lost probe at one site moves
//! nothing. The instance's own observation always counts; with no live
//! peer the share is 0 or 1, so the decision is the instance's own state,
//! as without cluster mode (for every `healthy_above` below 1).
//!
//! The share is compared exactly, in parts per million, so 0.5 of 2 is
//! "not more than half" on every platform.
//!
//! `failing` (bit 3 of the health cell, "up, but a flip may be near",
//! which shortens the TTL with `ttl_while_failing`) is set when the target
//! is decided up while at least one vantage point sees it down or failing:
//! the fleet does not agree, so its answers should not be cached long.

use super::Status;

/// One vantage point's view of one target.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Observation {
    pub status: Status,
    /// Up, with failed probes toward `fall` (see [`super::HealthTable`]).
    pub failing: bool,
}

impl Observation {
    pub const UP: Observation = Observation {
        status: Status::Up,
        failing: false,
    };
    pub const DOWN: Observation = Observation {
        status: Status::Down,
        failing: false,
    };
}

/// The rule: up when the share of live vantage points that see a target
/// up is greater than `healthy_above`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Quorum {
    /// `healthy_above` in parts per million, 0..=990,000.
    ppm: u32,
}

/// Largest `healthy_above`: at 1.0 nothing could ever be up.
pub const MAX_HEALTHY_ABOVE: f64 = 0.99;

impl Default for Quorum {
    /// `healthy_above = 0.5`: down when at least half see it down.
    fn default() -> Self {
        Self { ppm: 500_000 }
    }
}

impl Quorum {
    /// `healthy_above` as a fraction, 0.0..=0.99 (the caller validates;
    /// values outside are clamped into it).
    pub fn healthy_above(fraction: f64) -> Self {
        let f = if fraction.is_nan() {
            0.5
        } else {
            fraction.clamp(0.0, MAX_HEALTHY_ABOVE)
        };
        Self {
            ppm: (f * 1e6).round() as u32,
        }
    }

    /// The threshold as a fraction.
    pub fn fraction(self) -> f64 {
        f64::from(self.ppm) / 1e6
    }

    /// Decide from `own` and the live peers' observations.
    pub fn decide(self, own: Observation, peers: impl IntoIterator<Item = Observation>) -> Verdict {
        let mut up = u32::from(own.status == Status::Up);
        let mut observers = 1u32;
        let mut dissent = own.status == Status::Down || own.failing;
        for p in peers {
            observers += 1;
            up += u32::from(p.status == Status::Up);
            dissent |= p.status == Status::Down || p.failing;
        }
        let is_up = u64::from(up) * 1_000_000 > u64::from(self.ppm) * u64::from(observers);
        Verdict {
            status: if is_up { Status::Up } else { Status::Down },
            failing: is_up && dissent,
            up,
            observers,
        }
    }

    /// How many of `n` live vantage points must see a target up for it to
    /// be up (for `/status` and the docs' tables).
    pub fn needed(self, n: u32) -> u32 {
        // Smallest k with k * 1e6 > ppm * n.
        let k = u64::from(self.ppm) * u64::from(n) / 1_000_000 + 1;
        k.min(u64::from(n).max(1)) as u32
    }
}

/// What [`Quorum::decide`] found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub status: Status,
    /// Decided up while some vantage point sees it down or failing.
    pub failing: bool,
    /// Vantage points that see it up.
    pub up: u32,
    /// Live vantage points counted, this instance included.
    pub observers: u32,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const U: Observation = Observation::UP;
    const D: Observation = Observation::DOWN;
    const F: Observation = Observation {
        status: Status::Up,
        failing: true,
    };

    #[test]
    fn table() {
        let half = Quorum::default();
        let r53 = Quorum::healthy_above(0.18);
        let all = Quorum::healthy_above(0.99);
        let any = Quorum::healthy_above(0.0);
        // (rule, own, peers, decided status, failing)
        let cases: &[(Quorum, Observation, &[Observation], Status, bool)] = &[
            // Alone: today's behaviour, whatever the rule.
            (half, U, &[], Status::Up, false),
            (half, D, &[], Status::Down, false),
            (half, F, &[], Status::Up, true),
            (all, U, &[], Status::Up, false),
            (any, D, &[], Status::Down, false),
            // Three instances, one cannot reach the target: still up
            // everywhere, but marked failing (the fleet disagrees).
            (half, D, &[U, U], Status::Up, true),
            (half, U, &[D, U], Status::Up, true),
            // A majority cannot reach it: down everywhere, even where
            // it answers.
            (half, U, &[D, D], Status::Down, false),
            (half, D, &[D, U], Status::Down, false),
            // Two instances that disagree: half is not more than half.
            (half, U, &[D], Status::Down, false),
            // Route 53's 18 %: one of five is enough.
            (r53, D, &[D, D, D, U], Status::Up, true),
            (r53, D, &[D, D, D, D], Status::Down, false),
            // 0.99: every vantage point must see it up.
            (all, U, &[U, U, D], Status::Down, false),
            (all, U, &[U, U, U], Status::Up, false),
            // 0: one vantage point is enough.
            (any, D, &[D, D, U], Status::Up, true),
            // Failing peers count as up, but make the answer "failing".
            (half, U, &[F, U], Status::Up, true),
        ];
        for (i, (q, own, peers, status, failing)) in cases.iter().enumerate() {
            let v = q.decide(*own, peers.iter().copied());
            assert_eq!(
                (v.status, v.failing),
                (*status, *failing),
                "case {i}: {q:?} {own:?} {peers:?}"
            );
            assert_eq!(v.observers as usize, peers.len() + 1, "case {i}");
        }
    }

    #[test]
    fn thresholds_are_exact() {
        // 0.5 of 2, 0.25 of 4, 0.2 of 5: "more than" the exact share.
        assert_eq!(Quorum::healthy_above(0.5).needed(2), 2);
        assert_eq!(Quorum::healthy_above(0.25).needed(4), 2);
        assert_eq!(Quorum::healthy_above(0.2).needed(5), 2);
        assert_eq!(Quorum::healthy_above(0.18).needed(100), 19);
        assert_eq!(Quorum::default().needed(3), 2);
        assert_eq!(Quorum::healthy_above(0.99).needed(3), 3);
        assert_eq!(Quorum::healthy_above(0.0).needed(7), 1);
        assert_eq!(Quorum::healthy_above(0.5).fraction(), 0.5);
        assert_eq!(Quorum::healthy_above(7.0).fraction(), MAX_HEALTHY_ABOVE);
    }

    fn obs() -> impl Strategy<Value = Observation> {
        (any::<bool>(), any::<bool>()).prop_map(|(up, failing)| Observation {
            status: if up { Status::Up } else { Status::Down },
            failing: up && failing,
        })
    }

    proptest! {
        /// Up exactly when more than the fraction of observers see it up,
        /// and `needed` agrees with `decide`.
        #[test]
        fn decision_follows_the_share(
            f in 0.0f64..=0.99,
            own in obs(),
            peers in proptest::collection::vec(obs(), 0..12),
        ) {
            let q = Quorum::healthy_above(f);
            let v = q.decide(own, peers.iter().copied());
            let up = std::iter::once(own).chain(peers.iter().copied())
                .filter(|o| o.status == Status::Up).count() as u32;
            prop_assert_eq!(v.up, up);
            prop_assert_eq!(v.status == Status::Up, up >= q.needed(v.observers));
            // Alone, the instance's own state decides.
            if peers.is_empty() {
                prop_assert_eq!(v.status, own.status);
                prop_assert_eq!(v.failing, own.failing);
            }
            // Unanimity decides whatever the threshold.
            if up == v.observers { prop_assert_eq!(v.status, Status::Up); }
            if up == 0 { prop_assert_eq!(v.status, Status::Down); }
            // Failing only when up.
            prop_assert!(!v.failing || v.status == Status::Up);
        }

        /// One more vantage point seeing it up never takes it down
        /// (monotone), and the peers' order does not matter.
        #[test]
        fn more_up_never_hurts(
            f in 0.0f64..=0.99,
            own in obs(),
            mut peers in proptest::collection::vec(obs(), 1..12),
            i in any::<prop::sample::Index>(),
        ) {
            let q = Quorum::healthy_above(f);
            let before = q.decide(own, peers.iter().copied());
            let mut reversed = peers.clone();
            reversed.reverse();
            prop_assert_eq!(before, q.decide(own, reversed));
            let k = i.index(peers.len());
            peers[k] = Observation::UP;
            let after = q.decide(own, peers.iter().copied());
            prop_assert!(!(before.status == Status::Up && after.status == Status::Down));
        }
    }
}
