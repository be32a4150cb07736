//! RDATA wire format → presentation format, as BIND 9 prints it
//! (`named-compilezone -s full`): absolute names with BIND's escapes, quoted
//! character-strings, base64 and hex split every 56 characters, mnemonics
//! where BIND uses them. `zone dump` prints with this, and RFC 3597 generic
//! RDATA of a known type is checked with it (a `\#` A record of 3 octets is
//! an error, as in BIND).

use std::fmt::Write as _;

use super::encoding::{base32hex_encode, base64_encode, format_time, hex_encode};
use super::name::{lower, push_text, wire_name_len};
use super::rdata::{CERT_TYPE_NAMES, SECALG_NAMES, svc_key_name, type_name};
use super::rtype;

mod loc;
mod svcb;

use loc::loc_text;
pub use svcb::check_svc_value;
use svcb::svcb_text;

/// BIND's line width for base64 and hex fields in `-s full` output.
const WIDTH: usize = 56;

/// Why wire RDATA is not a valid RDATA of its type.
pub type WireError = String;

struct Rd<'a> {
    d: &'a [u8],
    i: usize,
}

impl<'a> Rd<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let s = self
            .d
            .get(self.i..self.i + n)
            .ok_or_else(|| "RDATA too short".to_string())?;
        self.i += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn name(&mut self) -> Result<&'a [u8], WireError> {
        let n = wire_name_len(&self.d[self.i..]).ok_or_else(|| "bad domain name".to_string())?;
        self.take(n)
    }
    fn string(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u8()? as usize;
        self.take(n)
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.d[self.i..];
        self.i = self.d.len();
        s
    }
    fn done(&self) -> Result<(), WireError> {
        if self.i == self.d.len() {
            Ok(())
        } else {
            Err("trailing octets after the RDATA".into())
        }
    }
}

/// Append a character-string in quotes, escaping `"` and `\` and writing
/// bytes outside printable ASCII as `\DDD`.
pub fn push_string(s: &[u8], out: &mut String) {
    out.push('"');
    push_string_body(s, out);
    out.push('"');
}

fn push_string_body(s: &[u8], out: &mut String) {
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

fn push_type(t: u16, out: &mut String) {
    match type_name(t) {
        Some(n) => out.push_str(n),
        None => {
            let _ = write!(out, "TYPE{t}");
        }
    }
}

fn mnemonic<T: PartialEq + Copy + std::fmt::Display>(v: T, table: &[(T, &str)], out: &mut String) {
    match table.iter().find(|(c, _)| *c == v) {
        Some((_, n)) => out.push_str(n),
        None => {
            let _ = write!(out, "{v}");
        }
    }
}

fn push_ipv6(b: &[u8], out: &mut String) {
    let mut a = [0u8; 16];
    a.copy_from_slice(b);
    let addr = std::net::Ipv6Addr::from(a);
    // inet_ntop writes the deprecated IPv4-compatible form ::a.b.c.d.
    if a[..12].iter().all(|&x| x == 0) && (a[12] != 0 || a[13] != 0) {
        let _ = write!(out, "::{}.{}.{}.{}", a[12], a[13], a[14], a[15]);
    } else {
        let _ = write!(out, "{addr}");
    }
}

/// An RFC 4034 §4.1.2 type bitmap (NSEC, NSEC3, CSYNC): windows in
/// ascending order, 1 to 32 octets each, the last octet of each non-zero
/// (BIND rejects a zero one). `allow_empty`: no window at all is valid
/// (NSEC3, CSYNC; an NSEC always has its own RRSIG and NSEC bits).
fn bitmap(r: &mut Rd<'_>, out: &mut String, allow_empty: bool) -> Result<(), WireError> {
    if !allow_empty && r.i == r.d.len() {
        return Err("empty type bitmap".into());
    }
    let mut last_window: Option<u8> = None;
    while r.i < r.d.len() {
        let window = r.u8()?;
        let len = r.u8()? as usize;
        if len == 0 || len > 32 || last_window.is_some_and(|w| w >= window) {
            return Err("bad type bitmap".into());
        }
        last_window = Some(window);
        let bits = r.take(len)?;
        if bits[len - 1] == 0 {
            return Err("type bitmap window ends in a zero octet".into());
        }
        for (i, &byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    out.push(' ');
                    push_type(u16::from(window) * 256 + (i * 8 + bit) as u16, out);
                }
            }
        }
    }
    Ok(())
}

/// Check that `wire` is a valid RDATA of type `t`, as BIND checks RDATA
/// from the wire (and RFC 3597 generic RDATA): what `rdata_text` prints,
/// plus that a PRIVATEDNS (253) key of KEY, DNSKEY, CDNSKEY or RKEY starts
/// with an uncompressed domain name (RFC 4034 appendix A.1.1). BIND does
/// not check that in presentation form, so `zone dump` prints such a key.
pub fn check_wire(t: u16, wire: &[u8]) -> Result<(), WireError> {
    rdata_text(t, wire, 0)?;
    if matches!(t, 25 | 48 | 57 | 60)
        && wire.get(3) == Some(&253)
        && wire.len() > 4
        && wire_name_len(&wire[4..]).is_none()
    {
        return Err("a PRIVATEDNS key does not start with a domain name".into());
    }
    Ok(())
}

/// Presentation text of the RDATA of type `t`; `now` (seconds since the
/// epoch) places RRSIG times. Types without a presentation printer come out
/// in the RFC 3597 generic form.
pub fn rdata_text(t: u16, wire: &[u8], now: i64) -> Result<String, WireError> {
    let mut out = String::new();
    let mut r = Rd { d: wire, i: 0 };
    let o = &mut out;
    match t {
        rtype::A => {
            let a = r.take(4)?;
            let _ = write!(o, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        }
        rtype::AAAA => push_ipv6(r.take(16)?, o),
        rtype::NS | rtype::CNAME | rtype::PTR | 3 | 4 | 7 | 8 | 9 | 23 => push_text(r.name()?, o),
        rtype::SOA => {
            push_text(r.name()?, o);
            o.push(' ');
            push_text(r.name()?, o);
            let v: Vec<u32> = (0..5).map(|_| r.u32()).collect::<Result<_, _>>()?;
            for x in v {
                let _ = write!(o, " {x}");
            }
        }
        14 | 17 | 58 => {
            push_text(r.name()?, o);
            o.push(' ');
            push_text(r.name()?, o);
        }
        rtype::MX | 18 | 21 | 36 | 107 => {
            let _ = write!(o, "{} ", r.u16()?);
            push_text(r.name()?, o);
        }
        rtype::HINFO => {
            push_string(r.string()?, o);
            o.push(' ');
            push_string(r.string()?, o);
        }
        // X25 (RFC 1183 §3.1): one string of at least 4 digits (BIND).
        19 => {
            let s = r.string()?;
            if s.len() < 4 || !s.iter().all(u8::is_ascii_digit) {
                return Err("a PSDN address is at least 4 digits".into());
            }
            push_string(s, o);
        }
        rtype::TXT | 56 | 99 | 258 | 261 | 262 | 20 | 27 => {
            let mut n = 0;
            while r.i < wire.len() {
                if n > 0 {
                    o.push(' ');
                }
                push_string(r.string()?, o);
                n += 1;
            }
            let ok = match t {
                20 => n == 1 || n == 2,
                27 => n == 3,
                _ => n >= 1,
            };
            if !ok {
                return Err("wrong number of character-strings".into());
            }
        }
        11 => {
            let a = r.take(4)?;
            let proto = r.u8()?;
            let _ = write!(o, "{}.{}.{}.{} {proto}", a[0], a[1], a[2], a[3]);
            let bits = r.rest();
            if bits.last() == Some(&0) || bits.len() > 8192 {
                return Err("bad WKS bitmap (a zero last octet, or past port 65535)".into());
            }
            for (i, &b) in bits.iter().enumerate() {
                for bit in 0..8 {
                    if b & (0x80 >> bit) != 0 {
                        let _ = write!(o, " {}", i * 8 + bit);
                    }
                }
            }
        }
        22 => {
            let d = r.rest();
            if d.is_empty() {
                return Err("empty NSAP".into());
            }
            o.push_str("0x");
            for b in d {
                let _ = write!(o, "{b:02x}");
            }
        }
        24 | rtype::RRSIG => {
            let covered = r.u16()?;
            // BIND prints an unknown type covered by a SIG as a number.
            if t == 24 && (covered == 0 || type_name(covered).is_none()) {
                let _ = write!(o, "{covered}");
            } else {
                push_type(covered, o);
            }
            let alg = r.u8()?;
            let labels = r.u8()?;
            let ttl = r.u32()?;
            let exp = r.u32()?;
            let inc = r.u32()?;
            let tag = r.u16()?;
            let _ = write!(
                o,
                " {alg} {labels} {ttl} {} {} {tag} ",
                format_time(exp, now),
                format_time(inc, now)
            );
            push_text(r.name()?, o);
            let sig = r.rest();
            if sig.is_empty() {
                return Err("empty signature".into());
            }
            o.push(' ');
            base64_encode(sig, WIDTH, o);
        }
        // KEY, DNSKEY, CDNSKEY, RKEY (RFC 2535 §3.1, RFC 4034 §2.1): a
        // KEY with both no-key flag bits set has no key, every other key
        // has one; PRIVATEDNS (253) keys start with a domain name (RFC
        // 4034 appendix A.1.1, checked in `check_wire`); RKEY flags are zero
        // (draft-reid-dnsext-rkey).
        25 | 48 | 57 | 60 => {
            let flags = r.u16()?;
            let _ = write!(o, "{flags} {} {}", r.u8()?, r.u8()?);
            if t == 57 && flags != 0 {
                return Err("RKEY flags must be zero".into());
            }
            let key = r.rest();
            if t == 25 && flags & 0xC000 == 0xC000 {
                if !key.is_empty() {
                    return Err("a KEY flagged as having no key has key data".into());
                }
            } else {
                if key.is_empty() {
                    return Err("empty key".into());
                }
                o.push(' ');
                base64_encode(key, WIDTH, o);
            }
        }
        26 => {
            let _ = write!(o, "{} ", r.u16()?);
            push_text(r.name()?, o);
            o.push(' ');
            push_text(r.name()?, o);
        }
        // LOC (RFC 1876 §2): only version 0 has a text form.
        29 if wire.first().is_some_and(|&v| v != 0) => return Ok(generic(wire)),
        29 => loc_text(&mut r, o)?,
        31 | 32 => {
            let d = r.rest();
            if d.is_empty() {
                return Err("empty data".into());
            }
            hex_encode(d, WIDTH, o);
        }
        rtype::SRV => {
            let _ = write!(o, "{} {} {} ", r.u16()?, r.u16()?, r.u16()?);
            push_text(r.name()?, o);
        }
        35 => {
            let _ = write!(o, "{} {} ", r.u16()?, r.u16()?);
            push_string(r.string()?, o);
            o.push(' ');
            push_string(r.string()?, o);
            o.push(' ');
            let re = r.string()?;
            super::rdata::check_naptr_regexp(re).map_err(str::to_string)?;
            push_string(re, o);
            o.push(' ');
            push_text(r.name()?, o);
        }
        37 => {
            mnemonic(r.u16()?, CERT_TYPE_NAMES, o);
            let _ = write!(o, " {} ", r.u16()?);
            mnemonic(r.u8()?, SECALG_NAMES, o);
            let c = r.rest();
            if c.is_empty() {
                return Err("empty certificate".into());
            }
            o.push(' ');
            base64_encode(c, WIDTH, o);
        }
        // APL (RFC 3123 §4): the address part has no trailing zero octet;
        // an item of an unknown family is valid, and BIND then prints the
        // whole RDATA in the generic form.
        42 => {
            let mut first = true;
            let mut unknown_family = false;
            while r.i < wire.len() {
                let afi = r.u16()?;
                let prefix = r.u8()?;
                let nl = r.u8()?;
                let len = (nl & 0x7F) as usize;
                let addr = r.take(len)?;
                if addr.last() == Some(&0) {
                    return Err("APL address part ends in a zero octet".into());
                }
                if afi != 1 && afi != 2 {
                    unknown_family = true;
                    continue;
                }
                if !first {
                    o.push(' ');
                }
                first = false;
                if nl & 0x80 != 0 {
                    o.push('!');
                }
                match afi {
                    1 if len <= 4 && prefix <= 32 => {
                        let mut a = [0u8; 4];
                        a[..len].copy_from_slice(addr);
                        let _ = write!(o, "1:{}/{prefix}", std::net::Ipv4Addr::from(a));
                    }
                    2 if len <= 16 && prefix <= 128 => {
                        let mut a = [0u8; 16];
                        a[..len].copy_from_slice(addr);
                        o.push_str("2:");
                        push_ipv6(&a, o);
                        let _ = write!(o, "/{prefix}");
                    }
                    _ => return Err("bad APL item".into()),
                }
            }
            if unknown_family {
                return Ok(generic(wire));
            }
        }
        rtype::DS | 59 | 32768 | 32769 => {
            let digest_type = {
                let (tag, alg, dt) = (r.u16()?, r.u8()?, r.u8()?);
                let _ = write!(o, "{tag} {alg} {dt}");
                dt
            };
            let d = r.rest();
            if d.is_empty() {
                return Err("empty digest".into());
            }
            // SHA-1, SHA-256, SHA-384 digests have their hash's length
            // (RFC 3658, RFC 4509, RFC 6605).
            if let Some(n) = digest_len(digest_type)
                && d.len() != n
            {
                return Err(format!("a digest of type {digest_type} is {n} octets"));
            }
            o.push(' ');
            hex_encode(d, WIDTH, o);
        }
        // SSHFP (RFC 4255, RFC 6594): SHA-1 and SHA-256 fingerprints have
        // their hash's length; other types any, even none (as BIND).
        44 => {
            let (alg, fp_type) = (r.u8()?, r.u8()?);
            let _ = write!(o, "{alg} {fp_type}");
            let d = r.rest();
            let want = match fp_type {
                1 => Some(20),
                2 => Some(32),
                _ => None,
            };
            if want.is_some_and(|n| n != d.len()) {
                return Err("fingerprint of the wrong length for its type".into());
            }
            if !d.is_empty() {
                o.push(' ');
                hex_encode(d, WIDTH, o);
            }
        }
        45 => {
            let prec = r.u8()?;
            let gt = r.u8()?;
            let alg = r.u8()?;
            let _ = write!(o, "{prec} {gt} {alg} ");
            match gt {
                0 => o.push('.'),
                1 => {
                    let a = r.take(4)?;
                    let _ = write!(o, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
                }
                2 => push_ipv6(r.take(16)?, o),
                3 => push_text(r.name()?, o),
                _ => return Err("bad gateway type".into()),
            }
            let k = r.rest();
            if k.is_empty() {
                return Err("empty public key".into());
            }
            o.push(' ');
            base64_encode(k, WIDTH, o);
        }
        rtype::NSEC => {
            push_text(r.name()?, o);
            bitmap(&mut r, o, false)?;
        }
        49 | 61 | 67 | 68 => {
            let d = r.rest();
            if d.is_empty() {
                return Err("empty data".into());
            }
            base64_encode(d, WIDTH, o);
        }
        50 | 51 => {
            let _ = write!(o, "{} {} {} ", r.u8()?, r.u8()?, r.u16()?);
            let salt = r.string()?;
            if salt.is_empty() {
                o.push('-');
            } else {
                hex_encode(salt, 0, o);
            }
            if t == 50 {
                let h = r.string()?;
                if h.is_empty() {
                    return Err("empty next hashed owner name".into());
                }
                o.push(' ');
                if r.d[0] == 1 && h.len() != 20 {
                    return Err("a SHA-1 next hashed owner name is 20 octets".into());
                }
                base32hex_encode(h, o);
                bitmap(&mut r, o, true)?;
            }
        }
        52 | 53 => {
            let _ = write!(o, "{} {} {} ", r.u8()?, r.u8()?, r.u8()?);
            let d = r.rest();
            if d.is_empty() {
                return Err("empty certificate association data".into());
            }
            hex_encode(d, WIDTH, o);
        }
        55 => {
            let hl = r.u8()? as usize;
            let alg = r.u8()?;
            let pl = r.u16()? as usize;
            let hit = r.take(hl)?;
            let pk = r.take(pl)?;
            if hl == 0 || pl == 0 {
                return Err("empty HIT or key".into());
            }
            let _ = write!(o, "{alg} ");
            hex_encode(hit, 0, o);
            o.push(' ');
            base64_encode(pk, 0, o);
            while r.i < wire.len() {
                o.push(' ');
                push_text(r.name()?, o);
            }
        }
        62 => {
            let _ = write!(o, "{} {}", r.u32()?, r.u16()?);
            bitmap(&mut r, o, true)?;
        }
        63 => {
            let serial = r.u32()?;
            let scheme = r.u8()?;
            let alg = r.u8()?;
            let d = r.rest();
            let ok = match alg {
                1 => d.len() == 48,
                2 => d.len() == 64,
                _ => d.len() >= 12,
            };
            if !ok {
                return Err("digest of the wrong length".into());
            }
            let _ = write!(o, "{serial} {scheme} {alg} ");
            hex_encode(d, WIDTH, o);
        }
        64 | 65 => svcb_text(&mut r, o)?,
        66 => {
            push_type(r.u16()?, o);
            o.push(' ');
            mnemonic(r.u8()?, &[(1u8, "NOTIFY")], o);
            let _ = write!(o, " {} ", r.u16()?);
            push_text(r.name()?, o);
        }
        104 | 106 => {
            let _ = write!(
                o,
                "{} {:x}:{:x}:{:x}:{:x}",
                r.u16()?,
                r.u16()?,
                r.u16()?,
                r.u16()?,
                r.u16()?
            );
        }
        105 => {
            let p = r.u16()?;
            let a = r.take(4)?;
            let _ = write!(o, "{p} {}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        }
        108 | 109 => {
            let n = if t == 108 { 6 } else { 8 };
            let b = r.take(n)?;
            for (i, x) in b.iter().enumerate() {
                if i > 0 {
                    o.push('-');
                }
                let _ = write!(o, "{x:02x}");
            }
        }
        256 => {
            let _ = write!(o, "{} {} ", r.u16()?, r.u16()?);
            push_string(r.rest(), o);
        }
        257 => {
            let flags = r.u8()?;
            let tag = r.string()?;
            if tag.is_empty() || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return Err("bad CAA tag".into());
            }
            let _ = write!(o, "{flags} {} ", String::from_utf8_lossy(tag));
            push_string(r.rest(), o);
        }
        260 => {
            let prec = r.u8()?;
            let b = r.u8()?;
            let rt = b & 0x7F;
            let _ = write!(o, "{prec} {} {rt} ", b >> 7);
            match rt {
                0 => o.push('.'),
                1 => {
                    let a = r.take(4)?;
                    let _ = write!(o, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
                }
                2 => push_ipv6(r.take(16)?, o),
                3 => push_text(r.name()?, o),
                // RFC 8777 §4.2.3: unknown relay types have no text form.
                _ => return Ok(generic(wire)),
            }
        }
        // A6 (RFC 2874 §3.1.1): prefix length, the address suffix in
        // 16 - prefix/8 octets (bits inside the prefix zero), the prefix
        // name unless the prefix length is 0.
        38 => {
            let prefix = r.u8()?;
            if prefix > 128 {
                return Err("A6 prefix length over 128".into());
            }
            let _ = write!(o, "{prefix}");
            if prefix < 128 {
                let skip = usize::from(prefix / 8);
                let suffix = r.take(16 - skip)?;
                if suffix[0] & !(0xFFu8 >> (prefix % 8)) != 0 {
                    return Err("A6 address suffix has bits inside the prefix".into());
                }
                let mut a = [0u8; 16];
                a[skip..].copy_from_slice(suffix);
                o.push(' ');
                push_ipv6(&a, o);
            }
            if prefix > 0 {
                o.push(' ');
                push_text(r.name()?, o);
            }
        }
        // NXT (RFC 2535 §5.2): the next name and a bitmap of types 1-127;
        // bit 0 (an extended bitmap) must be clear, no trailing zero octet.
        30 => {
            push_text(r.name()?, o);
            let bits = r.rest();
            if bits.len() > 16
                || bits.first().is_some_and(|b| b & 0x80 != 0)
                || bits.last() == Some(&0)
            {
                return Err("bad NXT bitmap".into());
            }
            for (i, &byte) in bits.iter().enumerate() {
                for bit in 0..8 {
                    if byte & (0x80 >> bit) != 0 {
                        // Unknown types as numbers, as BIND prints them.
                        let t = (i * 8 + bit) as u16;
                        match type_name(t) {
                            Some(n) => {
                                let _ = write!(o, " {n}");
                            }
                            None => {
                                let _ = write!(o, " {t}");
                            }
                        }
                    }
                }
            }
        }
        // ATMA (ATM Forum AF-DANS-0152.000): format 0 is an AESA in hex,
        // format 1 an E.164 number (digits); other formats have no text
        // form.
        34 => {
            let format = r.u8()?;
            let d = r.rest();
            if d.is_empty() {
                return Err("empty ATM address".into());
            }
            match format {
                0 => {
                    for b in d {
                        let _ = write!(o, "{b:02x}");
                    }
                }
                1 if d.iter().all(u8::is_ascii_digit) => {
                    o.push('+');
                    o.push_str(&String::from_utf8_lossy(d));
                }
                1 => return Err("an E.164 ATM address is digits only".into()),
                _ => return Ok(generic(wire)),
            }
        }
        // SINK (draft-eastlake-kitchen-sink): meaning, coding, subcoding,
        // then data in base64.
        40 => {
            let _ = write!(o, "{} {} {}", r.u8()?, r.u8()?, r.u8()?);
            let d = r.rest();
            if !d.is_empty() {
                o.push(' ');
                base64_encode(d, WIDTH, o);
            }
        }
        // DOA (draft-durand-doa-over-dns): enterprise, type, location,
        // media type string, data in base64 or `-`.
        259 => {
            let _ = write!(o, "{} {} {} ", r.u32()?, r.u32()?, r.u8()?);
            push_string(r.string()?, o);
            let d = r.rest();
            o.push(' ');
            if d.is_empty() {
                o.push('-');
            } else {
                base64_encode(d, 0, o);
            }
        }
        _ => {
            generic_text(wire, o);
            return Ok(out);
        }
    }
    r.done()?;
    Ok(out)
}

/// The RFC 3597 §5 generic form of valid RDATA that has no text form in
/// its type's grammar (BIND's `ISC_R_NOTIMPLEMENTED` from `totext`).
fn generic(wire: &[u8]) -> String {
    let mut s = String::new();
    generic_text(wire, &mut s);
    s
}

/// Digest length of a DS digest type BIND checks: SHA-1 (1), SHA-256 (2),
/// SHA-384 (4).
fn digest_len(digest_type: u8) -> Option<usize> {
    match digest_type {
        1 => Some(20),
        2 => Some(32),
        4 => Some(48),
        _ => None,
    }
}

/// RFC 3597 §5 generic form: `\# LEN HEX`.
pub fn generic_text(wire: &[u8], o: &mut String) {
    let _ = write!(o, "\\# {}", wire.len());
    if !wire.is_empty() {
        o.push(' ');
        hex_encode(wire, WIDTH, o);
    }
}

/// The lowercased target name of CNAME/NS/PTR/MX/SRV RDATA, for chasing and
/// additional-section processing.
pub fn target_of(t: u16, wire: &[u8]) -> Option<Box<[u8]>> {
    let at = match t {
        rtype::NS | rtype::CNAME | rtype::PTR => 0,
        rtype::MX => 2,
        rtype::SRV => 6,
        _ => return None,
    };
    let n = wire_name_len(wire.get(at..)?)?;
    Some(lower(&wire[at..at + n]))
}

/// Positions of the compressible names (RFC 1035 types, RFC 3597 §4) in
/// valid wire RDATA of type `t`; `None` for types without any.
pub fn compressible_names(t: u16, wire: &[u8]) -> Option<Vec<(u16, u16)>> {
    let mut out = Vec::new();
    let mut at = match t {
        rtype::MX => 2,
        rtype::NS | rtype::CNAME | rtype::PTR | rtype::SOA | 3 | 4 | 7 | 8 | 9 | 14 => 0,
        _ => return None,
    };
    let count = if matches!(t, rtype::SOA | 14) { 2 } else { 1 };
    for _ in 0..count {
        let n = wire_name_len(wire.get(at..)?)?;
        out.push((at as u16, n as u16));
        at += n;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svcb_text_and_checks() {
        let svcb = b"\x00\x01\x00\x00\x01\x00\x03\x02h2\x00\x03\x00\x02\x01\xbb";
        assert_eq!(rdata_text(65, svcb, 0).unwrap(), "1 . alpn=\"h2\" port=443");
        let bad_order = b"\x00\x01\x00\x00\x03\x00\x02\x01\xbb\x00\x01\x00\x03\x02h2";
        assert!(rdata_text(65, bad_order, 0).is_err());
        let bad_mandatory = b"\x00\x01\x00\x00\x00\x00\x02\x00\x00";
        assert!(rdata_text(65, bad_mandatory, 0).is_err());
    }

    #[test]
    fn generic_and_targets() {
        assert_eq!(rdata_text(65280, &[1, 2, 3], 0).unwrap(), "\\# 3 010203");
        assert!(check_wire(rtype::A, &[1, 2, 3]).is_err());
        assert_eq!(
            target_of(rtype::MX, b"\x00\x0a\x02MX\x00").as_deref(),
            Some(&b"\x02mx\x00"[..])
        );
        assert_eq!(compressible_names(rtype::SOA, b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), Some(vec![(0, 1), (1, 1)]));
    }
}
