//! [`Tolerance`]: how close to the best counts as "as good", so traffic is
//! shared instead of stampeding onto whatever measured a hair faster.

use std::fmt;

/// Values within `us` microseconds or `pct` percent of the best, whichever
/// is wider, count as equally good. Used by the latency order (between
/// pools, `tolerance_ms` / `tolerance_pct`) and the least-response-time
/// pick (between members, `rtt_tolerance_ms` / `rtt_tolerance_pct`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tolerance {
    /// Absolute slack in microseconds.
    pub us: u32,
    /// Relative slack, percent of the best value (0 when the best is not
    /// positive).
    pub pct: u16,
}

impl Tolerance {
    /// The worst value still as good as `best` (microseconds).
    #[inline]
    pub fn limit(self, best: i64) -> i64 {
        let rel = best.max(0).saturating_mul(i64::from(self.pct)) / 100;
        best.saturating_add(rel.max(i64::from(self.us)))
    }
}

impl fmt::Display for Tolerance {
    /// `5 ms or 10 %`, `1 ms`, `20 %`, `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = f64::from(self.us) / 1000.0;
        match (self.us, self.pct) {
            (0, 0) => f.write_str("none"),
            (_, 0) => write!(f, "{ms} ms"),
            (0, p) => write!(f, "{p} %"),
            (_, p) => write!(f, "{ms} ms or {p} %"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wider_of_the_two_bounds() {
        let t = Tolerance { us: 5_000, pct: 10 };
        assert_eq!(t.limit(20_000), 25_000, "5 ms beats 10 % of 20 ms");
        assert_eq!(t.limit(100_000), 110_000, "10 % of 100 ms beats 5 ms");
        assert_eq!(t.limit(-3_000), 2_000, "a negative best has no percent");
        let none = Tolerance { us: 0, pct: 0 };
        assert_eq!(none.limit(7), 7);
        assert_eq!(t.to_string(), "5 ms or 10 %");
        assert_eq!(Tolerance { us: 500, pct: 0 }.to_string(), "0.5 ms");
        assert_eq!(Tolerance { us: 0, pct: 20 }.to_string(), "20 %");
        assert_eq!(none.to_string(), "none");
    }
}
