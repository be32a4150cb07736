//! LOC (RFC 1876) as BIND prints it.

use std::fmt::Write as _;

use super::*;

/// LOC (RFC 1876) as BIND prints it.
pub(super) fn loc_text(r: &mut Rd<'_>, o: &mut String) -> Result<(), WireError> {
    if r.u8()? != 0 {
        return Err("unknown LOC version".into());
    }
    let mut prec = [0u8; 3];
    for p in &mut prec {
        *p = r.u8()?;
        // BIND: a non-zero size or precision needs a mantissa of 1-9.
        if (*p >> 4) > 9 || (*p & 15) > 9 || (*p != 0 && *p >> 4 == 0) {
            return Err("bad LOC precision".into());
        }
    }
    let lat = i64::from(r.u32()?) - (1i64 << 31);
    let lon = i64::from(r.u32()?) - (1i64 << 31);
    let alt = i64::from(r.u32()?) - 10_000_000;
    if lat.abs() > 90 * 3_600_000 || lon.abs() > 180 * 3_600_000 {
        return Err("LOC angle out of range".into());
    }
    for (v, pos, neg) in [(lat, 'N', 'S'), (lon, 'E', 'W')] {
        let a = v.abs();
        let _ = write!(
            o,
            "{} {} {}.{:03} {} ",
            a / 3_600_000,
            a % 3_600_000 / 60_000,
            a % 60_000 / 1000,
            a % 1000,
            if v < 0 { neg } else { pos }
        );
    }
    let sign = if alt < 0 { "-" } else { "" };
    let _ = write!(o, "{sign}{}.{:02}m", alt.abs() / 100, alt.abs() % 100);
    for p in prec {
        let cm = u64::from(p >> 4) * 10u64.pow(u32::from(p & 15));
        if cm >= 100 {
            let _ = write!(o, " {}m", cm / 100);
        } else {
            let _ = write!(o, " 0.{cm:02}m");
        }
    }
    Ok(())
}
