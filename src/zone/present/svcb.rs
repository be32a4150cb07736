//! SVCB/HTTPS SvcParams in presentation form (RFC 9460 §2.1), and the
//! wire-form checks of each SvcParamValue.

use std::fmt::Write as _;

use super::*;

pub(super) fn svcb_text(r: &mut Rd<'_>, o: &mut String) -> Result<(), WireError> {
    let _ = write!(o, "{} ", r.u16()?);
    push_text(r.name()?, o);
    let mut last: Option<u16> = None;
    while r.i < r.d.len() {
        let key = r.u16()?;
        if last.is_some_and(|l| l >= key) {
            return Err("SvcParamKeys out of order or repeated".into());
        }
        last = Some(key);
        let len = r.u16()? as usize;
        let v = r.take(len)?;
        check_svc_value(key, v)?;
        o.push(' ');
        o.push_str(&svc_key_name(key));
        match key {
            0 => {
                o.push('=');
                for (i, k) in v.chunks(2).enumerate() {
                    if i > 0 {
                        o.push(',');
                    }
                    o.push_str(&svc_key_name(u16::from_be_bytes([k[0], k[1]])));
                }
            }
            1 => {
                o.push_str("=\"");
                let mut rr = Rd { d: v, i: 0 };
                let mut first = true;
                while rr.i < v.len() {
                    if !first {
                        o.push(',');
                    }
                    first = false;
                    for &b in rr.string()? {
                        match b {
                            b',' => o.push_str("\\\\,"),
                            b'\\' => o.push_str("\\\\\\\\"),
                            b'"' => o.push_str("\\\""),
                            0x21..=0x7e => o.push(b as char),
                            _ => {
                                let _ = write!(o, "\\{b:03}");
                            }
                        }
                    }
                }
                o.push('"');
            }
            2 | 8 => {}
            3 => {
                let _ = write!(o, "={}", u16::from_be_bytes([v[0], v[1]]));
            }
            4 => {
                o.push('=');
                for (i, a) in v.chunks(4).enumerate() {
                    if i > 0 {
                        o.push(',');
                    }
                    let _ = write!(o, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
                }
            }
            6 => {
                o.push('=');
                for (i, a) in v.chunks(16).enumerate() {
                    if i > 0 {
                        o.push(',');
                    }
                    push_ipv6(a, o);
                }
            }
            5 => {
                o.push('=');
                base64_encode(v, 0, o);
            }
            _ => {
                if !v.is_empty() {
                    o.push('=');
                    push_string(v, o);
                }
            }
        }
    }
    Ok(())
}

/// Check one SvcParamValue's wire form (RFC 9460 §7, RFC 9461, RFC 9540).
pub fn check_svc_value(key: u16, v: &[u8]) -> Result<(), WireError> {
    let ok = match key {
        0 => {
            !v.is_empty()
                && v.len().is_multiple_of(2)
                && v.chunks(2)
                    .map(|k| u16::from_be_bytes([k[0], k[1]]))
                    .try_fold(None, |last: Option<u16>, k| {
                        (k != 0 && last.is_none_or(|l| l < k)).then_some(Some(k))
                    })
                    .is_some()
        }
        1 => {
            let mut i = 0;
            let mut ok = !v.is_empty();
            while ok && i < v.len() {
                let l = v[i] as usize;
                ok = l > 0 && i + 1 + l <= v.len();
                i += 1 + l;
            }
            ok
        }
        2 | 8 => v.is_empty(),
        3 => v.len() == 2,
        4 => !v.is_empty() && v.len().is_multiple_of(4),
        6 => !v.is_empty() && v.len().is_multiple_of(16),
        5 => !v.is_empty(),
        7 => !v.is_empty() && std::str::from_utf8(v).is_ok(),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("bad value for SvcParamKey {}", svc_key_name(key)))
    }
}
