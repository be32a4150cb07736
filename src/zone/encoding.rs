//! Binary-to-text codecs of master files: base64 (RFC 4648 §4), base32hex
//! without padding (RFC 5155 §3.3), hex, and the DNSSEC `YYYYMMDDHHMMSS`
//! time (RFC 4034 §3.2).
//!
//! Decoding is as strict as BIND 9: base64 needs its padding and zero
//! trailing bits, base32hex needs zero trailing bits, hex an even digit
//! count. Our own few lines rather than a crate: the strictness is the
//! point, and the encoders must split lines exactly as BIND prints them.

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32HEX: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

fn b64_val(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Decode base64 text (white space already removed) and append to `out`.
pub fn base64_decode(text: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    if !text.len().is_multiple_of(4) {
        return Err("bad base64: length is not a multiple of 4".into());
    }
    let groups = text.len() / 4;
    for (g, chunk) in text.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && g + 1 != groups) {
            return Err("bad base64: misplaced '='".into());
        }
        let mut v = 0u32;
        for &c in &chunk[..4 - pad] {
            let d = b64_val(c).ok_or_else(|| format!("bad base64 character {:?}", c as char))?;
            v = (v << 6) | d;
        }
        v <<= 6 * pad as u32;
        let bytes = v.to_be_bytes();
        let n = 3 - pad;
        // Bits below the last full octet must be zero (RFC 4648 §3.5).
        if pad > 0 && (v & ((1 << (8 * pad)) - 1)) != 0 {
            return Err("bad base64: non-zero trailing bits".into());
        }
        out.extend_from_slice(&bytes[1..1 + n]);
    }
    Ok(())
}

/// Base64 of `data`, with a space every `width` characters (0: no split).
pub fn base64_encode(data: &[u8], width: usize, out: &mut String) {
    let mut col = 0;
    let mut push = |c: u8, out: &mut String| {
        if width > 0 && col == width {
            out.push(' ');
            col = 0;
        }
        out.push(c as char);
        col += 1;
    };
    for chunk in data.chunks(3) {
        let mut b = [0u8; 3];
        b[..chunk.len()].copy_from_slice(chunk);
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                push(B64[((v >> (18 - 6 * i)) & 63) as usize], out);
            } else {
                push(b'=', out);
            }
        }
    }
}

/// Decode hex digits (white space already removed), appending to `out`.
pub fn hex_decode(text: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    if !text.len().is_multiple_of(2) {
        return Err("bad hex: odd number of digits".into());
    }
    for pair in text.chunks(2) {
        let hi = hex_val(pair[0])?;
        let lo = hex_val(pair[1])?;
        out.push((hi << 4) | lo);
    }
    Ok(())
}

fn hex_val(c: u8) -> Result<u8, String> {
    (c as char)
        .to_digit(16)
        .map(|d| d as u8)
        .ok_or_else(|| format!("bad hex digit {:?}", c as char))
}

/// Upper-case hex of `data`, a space every `width` characters (0: none).
pub fn hex_encode(data: &[u8], width: usize, out: &mut String) {
    const H: &[u8; 16] = b"0123456789ABCDEF";
    let mut col = 0;
    for &b in data {
        for c in [H[(b >> 4) as usize], H[(b & 15) as usize]] {
            if width > 0 && col == width {
                out.push(' ');
                col = 0;
            }
            out.push(c as char);
            col += 1;
        }
    }
}

/// Decode unpadded base32hex (either case), appending to `out`.
pub fn base32hex_decode(text: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    // Valid unpadded lengths leave 0, 2, 4, 5 or 7 characters in the last
    // group of 8; the unused low bits of the last character must be zero.
    if matches!(text.len() % 8, 1 | 3 | 6) {
        return Err("bad base32hex: impossible length".into());
    }
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &c in text {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'V' => c - b'A' + 10,
            b'a'..=b'v' => c - b'a' + 10,
            _ => return Err(format!("bad base32hex character {:?}", c as char)),
        };
        acc = (acc << 5) | u64::from(d);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if acc != 0 {
        return Err("bad base32hex: non-zero trailing bits".into());
    }
    Ok(())
}

/// Unpadded upper-case base32hex of `data`.
pub fn base32hex_encode(data: &[u8], out: &mut String) {
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &b in data {
        acc = (acc << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(B32HEX[((acc >> bits) & 31) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(B32HEX[((acc << (5 - bits)) & 31) as usize] as char);
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// An RRSIG time field: `YYYYMMDDHHMMSS` (UTC) or a plain number of
/// seconds, as a 32-bit serial (RFC 4034 §3.2).
pub fn parse_time(text: &[u8]) -> Result<u32, String> {
    let bad = || format!("bad time {:?}", String::from_utf8_lossy(text));
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    if text.len() != 14 {
        return std::str::from_utf8(text)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or_else(bad);
    }
    let n = |a: usize, b: usize| -> i64 {
        text[a..b]
            .iter()
            .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'))
    };
    let (y, mo, d, h, mi, s) = (n(0, 4), n(4, 6), n(6, 8), n(8, 10), n(10, 12), n(12, 14));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    // Any year 0-9999, before 1970 too, taken modulo 2^32 as BIND does
    // (RFC 4034 §3.1.5 times are serial numbers): BIND prints a time more
    // than 68 years from now as such a date, and reads it back.
    if !(1..=12).contains(&mo) || d < 1 || d > mdays[(mo - 1) as usize] {
        return Err(bad());
    }
    if h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    Ok(secs.rem_euclid(1 << 32) as u32)
}

/// `YYYYMMDDHHMMSS` of a 32-bit time, taking the instant within 68 years
/// of `now` (seconds since the epoch), as BIND prints it.
pub fn format_time(t: u32, now: i64) -> String {
    let mut full = i64::from(t) + (now - (now & 0xFFFF_FFFF));
    if full - now > i64::from(i32::MAX) {
        full -= 1 << 32;
    } else if now - full > i64::from(i32::MAX) {
        full += 1 << 32;
    }
    let (y, m, d) = civil_from_days(full.div_euclid(86400));
    let r = full.rem_euclid(86400);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        r / 3600,
        r % 3600 / 60,
        r % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_roundtrip_and_strictness() {
        let mut v = Vec::new();
        base64_decode(b"AAT+DQAA", &mut v).unwrap();
        assert_eq!(v, [0, 4, 254, 13, 0, 0]);
        let mut s = String::new();
        base64_encode(&v, 0, &mut s);
        assert_eq!(s, "AAT+DQAA");
        for bad in [&b"AA"[..], b"AB==", b"AA=A", b"A===", b"AA==AA=="] {
            assert!(base64_decode(bad, &mut Vec::new()).is_err(), "{bad:?}");
        }
        let mut s = String::new();
        base64_encode(&[0; 45], 56, &mut s);
        assert_eq!(s.split(' ').map(str::len).collect::<Vec<_>>(), [56, 4]);
    }

    #[test]
    fn base32hex_rules() {
        let mut v = Vec::new();
        base32hex_decode(b"2t7b4g4vsa5smi47k61mv5bv1a22bojr", &mut v).unwrap();
        assert_eq!(v.len(), 20);
        let mut s = String::new();
        base32hex_encode(&v, &mut s);
        assert_eq!(s, "2T7B4G4VSA5SMI47K61MV5BV1A22BOJR");
        for bad in [&b"0"[..], b"01", b"0123456"] {
            assert!(base32hex_decode(bad, &mut Vec::new()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(parse_time(b"20200101000000").unwrap(), 1_577_836_800);
        assert_eq!(parse_time(b"1577836800").unwrap(), 1_577_836_800);
        assert!(parse_time(b"20201301000000").is_err());
        // Before 1970 and after 2106, modulo 2^32 (BIND).
        assert_eq!(parse_time(b"19691231235959").unwrap(), u32::MAX);
        assert_eq!(parse_time(b"21060207062816").unwrap(), 0);
        assert_eq!(
            parse_time(b"19621125173144").unwrap(),
            parse_time(b"20990101000000").unwrap()
        );
        assert_eq!(parse_time(b"19000101000000").unwrap(), 2_085_978_496);
        assert_eq!(format_time(1_577_836_800, 1_700_000_000), "20200101000000");
    }
}
