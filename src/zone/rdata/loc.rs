//! LOC RDATA (RFC 1876 §3): degrees, minutes, seconds, altitude and
//! precisions in meters.

use super::*;

impl<'a> Cx<'a> {
    /// LOC (RFC 1876 §3): `d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m]
    /// [siz[m] [hp[m] [vp[m]]]]`.
    pub(super) fn loc(&mut self) -> R<()> {
        let lat = self.loc_angle(b'N', b'S', 90)?;
        let lon = self.loc_angle(b'E', b'W', 180)?;
        let (t, w) = self.word("altitude")?;
        let alt = match parse_meters(w, true) {
            Some(cm) if (-10_000_000..=4_284_967_295).contains(&cm) => cm,
            _ => {
                return self.bad(
                    t,
                    "altitude",
                    "not meters between -100000.00 and 42849672.95",
                );
            }
        };
        let mut prec = [0x12u8, 0x16, 0x13]; // 1m, 10000m, 10m
        for (i, what) in ["size", "horizontal precision", "vertical precision"]
            .into_iter()
            .enumerate()
        {
            if self.at_end() {
                break;
            }
            let (t, w) = self.word(what)?;
            match parse_meters(w, false).and_then(loc_prec) {
                Some(p) => prec[i] = p,
                None => return self.bad(t, what, "not meters between 0 and 90000000.00"),
            }
        }
        let o = &mut self.out.wire;
        o.push(0);
        o.extend_from_slice(&prec);
        o.extend_from_slice(&lat.to_be_bytes());
        o.extend_from_slice(&lon.to_be_bytes());
        o.extend_from_slice(&((alt + 10_000_000) as u32).to_be_bytes());
        Ok(())
    }

    pub(super) fn loc_angle(&mut self, pos: u8, neg: u8, max_deg: u64) -> R<u32> {
        let (t, w) = self.word("degrees")?;
        let Some(deg) = parse_decimal(w).filter(|&d| d <= max_deg) else {
            return self.bad(t, "degrees", &format!("must be 0 to {max_deg}"));
        };
        let mut ms: u64 = deg * 3_600_000;
        let mut fields = 0;
        loop {
            let (t, w) = self.word("hemisphere")?;
            if w.len() == 1 && (w[0].eq_ignore_ascii_case(&pos) || w[0].eq_ignore_ascii_case(&neg))
            {
                if ms > max_deg * 3_600_000 {
                    return self.bad(t, "angle", "out of range");
                }
                let v = ms as i64;
                let v = if w[0].eq_ignore_ascii_case(&neg) {
                    -v
                } else {
                    v
                };
                return Ok((v + (1i64 << 31)) as u32);
            }
            fields += 1;
            match fields {
                1 => match parse_decimal(w).filter(|&m| m < 60) {
                    Some(m) => ms += m * 60_000,
                    None => return self.bad(t, "minutes", "must be 0 to 59"),
                },
                2 => match parse_fixed(w, 3).filter(|&s| (0..60_000).contains(&s)) {
                    Some(s) => ms += s as u64,
                    None => return self.bad(t, "seconds", "must be 0 to 59.999"),
                },
                _ => return self.bad(t, "hemisphere", "expected N, S, E or W"),
            }
        }
    }
}

/// Meters with up to two decimals, optional trailing `m`, as centimeters.
pub(super) fn parse_meters(w: &[u8], signed: bool) -> Option<i64> {
    let w = w
        .strip_suffix(b"m")
        .or_else(|| w.strip_suffix(b"M"))
        .unwrap_or(w);
    let (neg, w) = match w.strip_prefix(b"-") {
        Some(r) if signed => (true, r),
        Some(_) => return None,
        None => (false, w),
    };
    let v = parse_fixed(w, 2)?;
    Some(if neg { -v } else { v })
}

/// `INT[.FRAC]` with at most `places` fraction digits, scaled by 10^places.
pub(super) fn parse_fixed(w: &[u8], places: u32) -> Option<i64> {
    let (int, frac) = match w.iter().position(|&c| c == b'.') {
        Some(p) => (&w[..p], &w[p + 1..]),
        None => (w, &[][..]),
    };
    if frac.len() > places as usize || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let i = if int.is_empty() {
        0
    } else {
        parse_decimal(int)? as i64
    };
    let mut f = if frac.is_empty() {
        0
    } else {
        parse_decimal(frac)? as i64
    };
    for _ in frac.len()..places as usize {
        f *= 10;
    }
    i.checked_mul(10i64.pow(places))?.checked_add(f)
}

/// RFC 1876 precision byte (mantissa << 4 | exponent) for centimeters.
pub(super) fn loc_prec(cm: i64) -> Option<u8> {
    if !(0..=9_000_000_000).contains(&cm) {
        return None;
    }
    let mut exp = 0u8;
    let mut v = cm;
    // BIND keeps the leading digit and drops the rest.
    while v >= 10 && exp < 9 {
        v /= 10;
        exp += 1;
    }
    if v > 9 {
        return None;
    }
    Some(((v as u8) << 4) | exp)
}
