//! The pure up/down state machine of one target: no I/O, no time.
//!
//! A target flips only after N consecutive results that disagree with its
//! current state: `fall` failures take an up target down, `rise` successes
//! bring a down target up. A result that agrees with the current state resets
//! the count, so a lone failure (or success) inside the thresholds changes
//! nothing: no flapping. This is gdnsd's `gdnsd_mon_state_updater`
//! (src/plugins/mon.c) and pingora's `Health::observe_health`, reduced to one
//! counter because only the disagreeing streak matters.
//!
//! `initial_state` is just the starting point: the first result does not get
//! a shortcut, so an `initial_state = "down"` target with `rise = 2` needs two
//! successes like any other down target. (gdnsd instead trusts the very first
//! result; rejected so that one lucky probe at start-up cannot put a target
//! into service.)

use super::Status;

/// A state change produced by [`Machine::observe`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Flip {
    pub from: Status,
    pub to: Status,
}

/// Up/down state with rise/fall thresholds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    status: Status,
    /// Consecutive results that disagree with `status`.
    streak: u32,
    rise: u32,
    fall: u32,
}

impl Machine {
    /// A machine in `initial` state. Thresholds below 1 are treated as 1
    /// (validation rejects them before this point).
    pub fn new(initial: Status, rise: u32, fall: u32) -> Self {
        Self {
            status: initial,
            streak: 0,
            rise: rise.max(1),
            fall: fall.max(1),
        }
    }

    pub fn status(&self) -> Status {
        self.status
    }

    /// Consecutive results so far that disagree with the current state; a
    /// flip happens when this reaches [`Machine::threshold`].
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// Results needed to leave the current state: `fall` when up, `rise`
    /// when down.
    pub fn threshold(&self) -> u32 {
        match self.status {
            Status::Up => self.fall,
            Status::Down => self.rise,
        }
    }

    /// Feed one probe result; returns the flip if this result caused one.
    pub fn observe(&mut self, ok: bool) -> Option<Flip> {
        let agrees = ok == (self.status == Status::Up);
        if agrees {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        if self.streak < self.threshold() {
            return None;
        }
        let from = self.status;
        self.status = if ok { Status::Up } else { Status::Down };
        self.streak = 0;
        Some(Flip {
            from,
            to: self.status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `results` ('+' success, '-' failure) and return the status after
    /// each one, as a string of 'U'/'D'.
    fn run(m: &mut Machine, results: &str) -> String {
        results
            .chars()
            .map(|c| {
                m.observe(c == '+');
                match m.status() {
                    Status::Up => 'U',
                    Status::Down => 'D',
                }
            })
            .collect()
    }

    #[test]
    fn table_of_sequences() {
        // (initial, rise, fall, results, expected status after each result)
        let cases = [
            (Status::Up, 2, 3, "---", "UUD"),
            (Status::Up, 2, 3, "--+--+--", "UUUUUUUU"),
            (Status::Up, 2, 3, "---++", "UUDDU"),
            (Status::Up, 2, 3, "---+-++", "UUDDDDU"),
            (Status::Up, 1, 1, "-+-+", "DUDU"),
            (Status::Down, 2, 3, "+", "D"),
            (Status::Down, 2, 3, "++", "DU"),
            (Status::Down, 2, 3, "+-+-+-", "DDDDDD"),
            (Status::Down, 3, 1, "++-+++", "DDDDDU"),
            (Status::Up, 2, 100, &"-".repeat(99), &"U".repeat(99)),
        ];
        for (initial, rise, fall, results, want) in cases {
            let mut m = Machine::new(initial, rise, fall);
            assert_eq!(
                run(&mut m, results),
                want,
                "initial {initial:?} rise {rise} fall {fall} results {results}"
            );
        }
    }

    #[test]
    fn observe_reports_the_flip_once() {
        let mut m = Machine::new(Status::Up, 2, 2);
        assert_eq!(m.observe(false), None);
        assert_eq!(m.streak(), 1);
        assert_eq!(
            m.observe(false),
            Some(Flip {
                from: Status::Up,
                to: Status::Down
            })
        );
        assert_eq!(m.streak(), 0);
        assert_eq!(m.observe(false), None);
        assert_eq!(m.observe(true), None);
        assert_eq!(
            m.observe(true),
            Some(Flip {
                from: Status::Down,
                to: Status::Up
            })
        );
    }

    #[test]
    fn agreeing_result_resets_the_streak() {
        let mut m = Machine::new(Status::Up, 2, 3);
        m.observe(false);
        m.observe(false);
        assert_eq!(m.streak(), 2);
        m.observe(true);
        assert_eq!(m.streak(), 0);
        assert_eq!(m.threshold(), 3);
    }

    #[test]
    fn flapping_never_flips_when_thresholds_exceed_one() {
        for initial in [Status::Up, Status::Down] {
            let mut m = Machine::new(initial, 2, 2);
            for i in 0..1000 {
                assert_eq!(m.observe(i % 2 == 0), None);
            }
            assert_eq!(m.status(), initial);
        }
    }
}
