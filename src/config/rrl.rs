//! `[rrl]` in `dnslb.toml`: response rate limiting (BIND's
//! `rate-limit` block, same names and defaults where they exist). Off by
//! default: every rate defaults to 0 (unlimited) and the per-kind rates to
//! `responses_per_second`.

use std::ops::Range;

use toml::Spanned;

use super::fields::{Cx, Fields};
use super::values;

/// File format: the `[rrl]` table, read key by key ([`super::fields`]).
#[derive(Debug, Default)]
pub struct RrlSpec {
    pub responses_per_second: Option<Spanned<i64>>,
    pub nodata_per_second: Option<Spanned<i64>>,
    pub nxdomains_per_second: Option<Spanned<i64>>,
    pub referrals_per_second: Option<Spanned<i64>>,
    pub errors_per_second: Option<Spanned<i64>>,
    pub window: Option<Spanned<i64>>,
    pub slip: Option<Spanned<i64>>,
    pub ipv4_prefix_length: Option<Spanned<i64>>,
    pub ipv6_prefix_length: Option<Spanned<i64>>,
    pub max_table_size: Option<Spanned<i64>>,
}

impl RrlSpec {
    /// Read `[rrl]`; bad values and unknown keys are reported into `cx`
    /// and read as absent.
    pub(crate) fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let spec = Self {
            responses_per_second: f.opt(cx, "responses_per_second"),
            nodata_per_second: f.opt(cx, "nodata_per_second"),
            nxdomains_per_second: f.opt(cx, "nxdomains_per_second"),
            referrals_per_second: f.opt(cx, "referrals_per_second"),
            errors_per_second: f.opt(cx, "errors_per_second"),
            window: f.opt(cx, "window"),
            slip: f.opt(cx, "slip"),
            ipv4_prefix_length: f.opt(cx, "ipv4_prefix_length"),
            ipv6_prefix_length: f.opt(cx, "ipv6_prefix_length"),
            max_table_size: f.opt(cx, "max_table_size"),
        };
        f.finish(cx);
        spec
    }
}

/// Validated `[rrl]`. Rates are responses per second per bucket; 0 leaves
/// that kind unlimited, and RRL is off when every rate is 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RrlSettings {
    pub responses_per_second: u32,
    pub nodata_per_second: u32,
    pub nxdomains_per_second: u32,
    pub referrals_per_second: u32,
    pub errors_per_second: u32,
    /// Seconds a bucket's debt may last (1..=3600).
    pub window: u32,
    /// Every `slip`-th limited response is sent truncated (0..=10).
    pub slip: u32,
    pub ipv4_prefix_length: u8,
    pub ipv6_prefix_length: u8,
    /// Buckets kept; 8 bytes each.
    pub max_table_size: usize,
}

impl Default for RrlSettings {
    fn default() -> Self {
        Self {
            responses_per_second: 0,
            nodata_per_second: 0,
            nxdomains_per_second: 0,
            referrals_per_second: 0,
            errors_per_second: 0,
            window: 15,
            slip: 2,
            ipv4_prefix_length: 24,
            ipv6_prefix_length: 56,
            max_table_size: 65536,
        }
    }
}

impl RrlSettings {
    /// Whether any response kind is limited.
    pub fn enabled(&self) -> bool {
        [
            self.responses_per_second,
            self.nodata_per_second,
            self.nxdomains_per_second,
            self.referrals_per_second,
            self.errors_per_second,
        ]
        .iter()
        .any(|&r| r > 0)
    }
}

/// Report through `err(span, key, message)`.
pub type ErrFn<'a> = dyn FnMut(Range<usize>, &str, String) + 'a;

/// `v` within `lo..=hi` ([`values::int_in`]), else an error at its span
/// naming `key`.
pub(super) fn int_in(
    v: &Option<Spanned<i64>>,
    key: &str,
    lo: i64,
    hi: i64,
    err: &mut ErrFn<'_>,
) -> Option<i64> {
    let v = v.as_ref()?;
    values::int_in(*v.get_ref(), lo..=hi)
        .map_err(|m| err(v.span(), key, m))
        .ok()
}

/// Validate `[rrl]`; every problem goes to `err`.
pub fn validate(spec: RrlSpec, err: &mut ErrFn<'_>) -> RrlSettings {
    let RrlSpec {
        responses_per_second,
        nodata_per_second,
        nxdomains_per_second,
        referrals_per_second,
        errors_per_second,
        window,
        slip,
        ipv4_prefix_length,
        ipv6_prefix_length,
        max_table_size,
    } = spec;
    let mut s = RrlSettings::default();
    let rate = |v: &Option<Spanned<i64>>, key: &str, err: &mut ErrFn<'_>| {
        int_in(v, key, 0, 1000, err).map(|n| n as u32)
    };
    if let Some(r) = rate(&responses_per_second, "rrl.responses_per_second", err) {
        s.responses_per_second = r;
    }
    let all = s.responses_per_second;
    s.nodata_per_second = rate(&nodata_per_second, "rrl.nodata_per_second", err).unwrap_or(all);
    s.nxdomains_per_second =
        rate(&nxdomains_per_second, "rrl.nxdomains_per_second", err).unwrap_or(all);
    s.referrals_per_second =
        rate(&referrals_per_second, "rrl.referrals_per_second", err).unwrap_or(all);
    s.errors_per_second = rate(&errors_per_second, "rrl.errors_per_second", err).unwrap_or(all);
    if let Some(n) = int_in(&window, "rrl.window", 1, 3600, err) {
        s.window = n as u32;
    }
    if let Some(n) = int_in(&slip, "rrl.slip", 0, 10, err) {
        s.slip = n as u32;
    }
    if let Some(n) = int_in(&ipv4_prefix_length, "rrl.ipv4_prefix_length", 0, 32, err) {
        s.ipv4_prefix_length = n as u8;
    }
    if let Some(n) = int_in(&ipv6_prefix_length, "rrl.ipv6_prefix_length", 0, 128, err) {
        s.ipv6_prefix_length = n as u8;
    }
    if let Some(n) = int_in(&max_table_size, "rrl.max_table_size", 1024, 1 << 24, err) {
        s.max_table_size = n as usize;
    }
    s
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::settings::parse_settings;
    use crate::diag::Diagnostics;

    #[test]
    fn per_kind_rates_default_to_responses_per_second() {
        let mut d = Diagnostics::new();
        let text = "[rrl]\nresponses_per_second = 10\nerrors_per_second = 0\n";
        let c = parse_settings(Path::new("s.toml"), text, &mut d).unwrap();
        let r = c.rrl;
        assert_eq!(
            (
                r.responses_per_second,
                r.nodata_per_second,
                r.nxdomains_per_second,
                r.referrals_per_second,
                r.errors_per_second
            ),
            (10, 10, 10, 10, 0)
        );
        assert!(r.enabled());
        assert!(!RrlSettings::default().enabled());
    }

    #[test]
    fn bad_values_and_unknown_keys_name_file_line_and_key() {
        let mut d = Diagnostics::new();
        let text = "[rrl]\nresponses_per_second = 5000\nwindow = 0\nslip = 11\nipv6_prefix_length = 129\nmax_table_size = 10\n";
        assert!(parse_settings(Path::new("s.toml"), text, &mut d).is_none());
        let s = d.to_string();
        for want in [
            "s.toml:2:24: rrl.responses_per_second: must be between 0 and 1000, got 5000",
            "s.toml:3:10: rrl.window: must be between 1 and 3600, got 0",
            "s.toml:4:8: rrl.slip: must be between 0 and 10, got 11",
            "s.toml:5:22: rrl.ipv6_prefix_length: must be between 0 and 128, got 129",
            "s.toml:6:18: rrl.max_table_size: must be between 1024 and 16777216, got 10",
        ] {
            assert!(s.contains(want), "missing {want:?} in:\n{s}");
        }
        let mut d = Diagnostics::new();
        assert!(parse_settings(Path::new("s.toml"), "[rrl]\nrate = 1\n", &mut d).is_none());
        assert!(d.to_string().contains("s.toml:2:1: "), "{d}");
        assert!(d.to_string().contains("unknown field `rate`"), "{d}");
    }
}
