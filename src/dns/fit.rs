//! Load-balanced answers that can never fit a reply, for `dnslb check`.
//!
//! The engine answers a load-balanced name with as many available members
//! as fit the reply (see `Ctx::write_lb`), so an oversized pool never
//! truncates; but an operator who wrote `answers = "all"` over 200 members
//! should know that resolvers only ever see a subset. This finds the names
//! whose largest possible answer exceeds a UDP reply (our EDNS payload
//! size, and 512 bytes without EDNS) or even a TCP message.

use std::path::Path;

use crate::diag::Diagnostics;
use crate::policy::{BalancedName, Family, OnAllDown};
use crate::snapshot::Snapshot;

/// Bytes of a reply before the answers: header, the question (owner + type
/// and class), and an OPT with a cookie for EDNS replies.
fn overhead(owner_wire_len: usize, edns: bool) -> usize {
    12 + owner_wire_len + 4 + if edns { 11 + 4 + 24 } else { 0 }
}

/// How many addresses of `family` fit in a reply of `limit` bytes.
pub fn fitting(owner_wire_len: usize, family: Family, limit: usize, edns: bool) -> usize {
    let per = 12 + if family == Family::V4 { 4 } else { 16 };
    limit.saturating_sub(overhead(owner_wire_len, edns)) / per
}

/// The most addresses of `family` one answer of `lb` may carry.
fn largest_answer(lb: &BalancedName, family: Family) -> usize {
    let fallback = match &lb.on_all_down {
        OnAllDown::Fallback(g) => g.pool.members(family).len(),
        _ => 0,
    };
    let biggest = lb
        .groups
        .iter()
        .map(|g| g.pool.members(family).len())
        .chain([fallback])
        .max()
        .unwrap_or(0);
    biggest.min(lb.answers.limit())
}

/// One warning into `diags` per name and family whose largest answer does
/// not fit a UDP reply of `udp_payload` bytes, at the name's `[names.X]`
/// table: "FILE:LINE:COL: warning: names.NAME: answers of up to ...".
pub fn oversized_answers(snap: &Snapshot, udp_payload: u16, diags: &mut Diagnostics) {
    for (i, lb) in snap.lb.iter().enumerate() {
        // The owner's wire length from its display form ("a.b." → 5 bytes).
        let wire_len = lb.name.trim_end_matches('.').len() + 2;
        for family in [Family::V4, Family::V6] {
            let n = largest_answer(lb, family);
            let udp = fitting(wire_len, family, usize::from(udp_payload), true);
            if n <= udp {
                continue;
            }
            let plain = fitting(wire_len, family, 512, false);
            let tcp = fitting(wire_len, family, usize::from(u16::MAX), false);
            let fam = if family == Family::V4 { "IPv4" } else { "IPv6" };
            let mut w = format!(
                "answers of up to {n} {fam} members never fit a UDP reply: \
                 at most {udp} fit in {udp_payload} bytes (udp_payload_size), {plain} without EDNS"
            );
            if n > tcp {
                w.push_str(&format!(", {tcp} over TCP"));
            }
            w.push_str("; each reply carries a subset");
            match snap.declared.get(i) {
                Some(d) => diags.warn(&d.file, Some(d.line), Some(d.col), d.key.clone(), w),
                // A snapshot built in code: no file to point at.
                None => diags.warn(Path::new(""), None, None, format!("names.{}", lb.name), w),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_counts_match_the_engine() {
        // big.lb.test. (13 bytes of wire name), no EDNS: (512 - 29) / 16.
        assert_eq!(fitting(13, Family::V4, 512, false), 30);
        // huge.lb.test. over TCP, IPv6: (65535 - 30) / 28.
        assert_eq!(fitting(14, Family::V6, 65535, false), 2339);
        assert_eq!(fitting(300, Family::V4, 100, true), 0);
    }
}
