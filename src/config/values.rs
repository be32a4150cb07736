//! Value checks shared by every config loader, with one message form.
//!
//! Each check is a pure function returning the value or the message; the
//! loader reports the message at the key's position. Ranges read
//! `must be between LO and HI[ UNIT], got X`, keywords read
//! `unknown WHAT "X", expected a, b or c` (the list comes from the runtime
//! type's [`Words`] table). Values are rejected, never clamped.

use std::fmt::Display;
use std::ops::RangeInclusive;

use crate::words::Words;

/// `n` if it is in `range`.
pub fn int_in(n: i64, range: RangeInclusive<i64>) -> Result<i64, String> {
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(out_of_range(range, "", n))
    }
}

/// `x` if it is in `range` (NaN never is); `unit` follows the bounds in
/// the message (`" seconds"`, or `""`).
pub fn float_in(x: f64, range: RangeInclusive<f64>, unit: &str) -> Result<f64, String> {
    if range.contains(&x) {
        Ok(x)
    } else {
        Err(out_of_range(range, unit, Shown(x)))
    }
}

/// A float as written back in a message: plain, but in exponent form when
/// huge or tiny (`1e300`, not three hundred digits).
struct Shown(f64);

impl Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.0.abs();
        if a.is_finite() && a != 0.0 && !(1e-6..1e15).contains(&a) {
            write!(f, "{:e}", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// The one range message.
pub fn out_of_range<T: Display>(range: RangeInclusive<T>, unit: &str, got: impl Display) -> String {
    format!(
        "must be between {} and {}{unit}, got {got}",
        range.start(),
        range.end()
    )
}

/// `s` unless it is empty or only white space.
pub fn non_empty(s: &str) -> Result<&str, String> {
    if s.trim().is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(s)
    }
}

/// The keyword `got` from `words`; `what` names the kind of keyword in the
/// message (`policy`, `state`, `log format`).
pub fn one_of<T: Copy + PartialEq>(what: &str, words: &Words<T>, got: &str) -> Result<T, String> {
    words
        .parse(got)
        .ok_or_else(|| format!("unknown {what} {got:?}, expected {}", words.expected()))
}

/// A host name as HTTP and TLS use it (RFC 1123 §2.1): dot-separated
/// labels of letters, digits and `-` (and `_`, which real certificates
/// use), no label starting or ending with `-`, at most 253 characters, an
/// optional final dot. This is not the zone-file owner rule, which allows
/// any octet: that one is [`crate::zone::name::parse_owner`].
pub fn is_host_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_form() {
        assert_eq!(
            int_in(0, 1..=65535).unwrap_err(),
            "must be between 1 and 65535, got 0"
        );
        assert_eq!(int_in(7, 1..=65535), Ok(7));
        assert_eq!(
            float_in(0.01, 0.05..=3600.0, " seconds").unwrap_err(),
            "must be between 0.05 and 3600 seconds, got 0.01"
        );
        assert!(float_in(f64::NAN, 0.0..=1.0, "").is_err());
        // A huge or tiny figure is written back short.
        assert_eq!(
            float_in(1e300, 0.0..=60000.0, " ms").unwrap_err(),
            "must be between 0 and 60000 ms, got 1e300"
        );
        assert_eq!(
            float_in(-1e-300, 0.0..=1.0, "").unwrap_err(),
            "must be between 0 and 1, got -1e-300"
        );
        assert_eq!(
            float_in(-2.5, 0.0..=1.0, "").unwrap_err(),
            "must be between 0 and 1, got -2.5"
        );
        assert_eq!(
            float_in(91.0, -90.0..=90.0, "").unwrap_err(),
            "must be between -90 and 90, got 91"
        );
        assert_eq!(non_empty(" ").unwrap_err(), "must not be empty");
        let w = Words(&[("up", true), ("down", false)]);
        assert_eq!(
            one_of("initial state", &w, "sideways").unwrap_err(),
            "unknown initial state \"sideways\", expected up or down"
        );
        assert_eq!(one_of("initial state", &w, "down"), Ok(false));
    }

    #[test]
    fn host_names() {
        for ok in ["a", "www.example.test", "a_b.example", "x.test.", "a-b.c"] {
            assert!(is_host_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "-x.test",
            "x-.test",
            "a..b",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(!is_host_name(bad), "{bad}");
        }
    }
}
