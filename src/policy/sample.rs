//! Sampling helpers shared by the picks: top-k selection on the stack,
//! uniform floats for exponential keys, an allocation-free shuffle.

use std::net::IpAddr;

use super::MAX_ANSWERS;

/// The `k` highest keys seen, kept sorted on the stack (k ≤ [`MAX_ANSWERS`]).
///
/// Used by weighted sampling (random keys) and sticky hashing (hashed keys).
/// A binary heap would be O(log k) per insert, but k is 1–3 in practice and a
/// sorted array also yields the output in rank order for free.
pub struct TopK {
    items: [(f64, IpAddr); MAX_ANSWERS],
    len: usize,
    k: usize,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        Self {
            items: [(0.0, IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)); MAX_ANSWERS],
            len: 0,
            k: k.min(MAX_ANSWERS),
        }
    }

    /// Keep `addr` if `key` is among the `k` highest so far. Ties keep the
    /// earlier entry, so results do not depend on anything but input order.
    #[inline]
    pub fn offer(&mut self, key: f64, addr: IpAddr) {
        if self.k == 0 {
            return;
        }
        if self.len == self.k {
            if key <= self.items[self.len - 1].0 {
                return;
            }
            self.len -= 1;
        }
        let mut i = self.len;
        while i > 0 && self.items[i - 1].0 < key {
            self.items[i] = self.items[i - 1];
            i -= 1;
        }
        self.items[i] = (key, addr);
        self.len += 1;
    }

    /// Append the kept addresses, highest key first.
    pub fn drain_into(&self, out: &mut Vec<IpAddr>) {
        out.extend(self.items[..self.len].iter().map(|&(_, a)| a));
    }
}

/// A uniform float in (0, 1] from 53 random bits: never 0, so `ln` is finite.
#[inline]
pub fn unit_open0(bits: u64) -> f64 {
    ((bits >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Shuffle `s` in place (Fisher–Yates) without allocating.
pub fn shuffle(s: &mut [IpAddr], rng: &mut super::PolicyRng) {
    use rand::RngExt as _;
    for i in (1..s.len()).rev() {
        let j = rng.random_range(0..=i);
        s.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_highest_in_order() {
        let a = |i: u8| IpAddr::from([192, 0, 2, i]);
        let mut t = TopK::new(3);
        for (key, i) in [(0.5, 1), (0.9, 2), (0.1, 3), (0.7, 4), (0.95, 5), (0.7, 6)] {
            t.offer(key, a(i));
        }
        let mut out = Vec::new();
        t.drain_into(&mut out);
        assert_eq!(out, vec![a(5), a(2), a(4)]);
        let mut t = TopK::new(0);
        t.offer(1.0, a(1));
        out.clear();
        t.drain_into(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn unit_open0_is_in_range() {
        assert!(unit_open0(0) > 0.0);
        assert_eq!(unit_open0(u64::MAX), 1.0);
    }
}
