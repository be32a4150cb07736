//! RDATA presentation format → wire format, for every type BIND 9 reads in
//! a master file, plus the RFC 3597 generic form (`\# LEN HEX`) for any type.
//!
//! Each type's grammar and checks follow its RFC and what `named-compilezone`
//! 9.18 accepts (the differential test in `tests/integration/zonefile.rs`
//! holds the two side by side). Names are written uncompressed in their
//! zone-file case; only the RFC 1035 types mark them compressible (RFC 3597
//! §4). Base64 and hex fields may be split by white space and are one value.
//!
//! Not read in presentation form (RFC 3597 generic form only, said so in the
//! error): the UINFO/UID/GID/UNSPEC family (BIND has no text form for them) and
//! NULL (no presentation form, RFC 1035 §3.3.10).
//! Refused outright: DNAME (dnslb does not synthesize CNAMEs, RFC 6672) and
//! the meta types that never live in a zone (OPT, TKEY, TSIG, IXFR, AXFR,
//! MAILA, MAILB, ANY).

use super::encoding::{base32hex_decode, base64_decode, hex_decode, parse_time};
use super::lexer::{Tok, decode_string};
use super::name::parse_name_text;
use super::rtype;

mod dnssec;
mod loc;
mod obsolete;
mod other;
mod svcb;

pub use super::mnemonics::{
    CERT_TYPE_NAMES, DIGEST_NAMES, SECALG_NAMES, SVC_KEYS, TYPE_NAMES, is_meta, type_from_text,
    type_name,
};
pub use other::check_naptr_regexp;
pub use svcb::{svc_key_from_text, svc_key_name};

/// A parse error, at the line of the token it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdError {
    pub line: u32,
    pub message: String,
}

/// Encoded RDATA: wire bytes and compressible name positions. (The target
/// of CNAME/NS/MX/SRV/PTR is read from the wire when the zone is stored.)
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub wire: Vec<u8>,
    pub names: Vec<(u16, u16)>,
}

/// The token cursor of one record's RDATA.
struct Cx<'a> {
    src: &'a [u8],
    toks: &'a [Tok],
    i: usize,
    origin: &'a [u8],
    /// Line for errors after the last token.
    end_line: u32,
    out: Encoded,
}

type R<T> = Result<T, RdError>;

/// Parse the RDATA tokens of one record of type `t` into wire form.
/// `origin` completes relative names; `line` is the record's line, used for
/// errors about missing fields.
pub fn parse_rdata(t: u16, src: &[u8], toks: &[Tok], origin: &[u8], line: u32) -> R<Encoded> {
    let end_line = toks.last().map_or(line, |t| t.line);
    let mut cx = Cx {
        src,
        toks,
        i: 0,
        origin,
        end_line,
        out: Encoded::default(),
    };
    if t == 3 || t == 4 {
        return Err(RdError {
            line,
            message: "MD and MF are obsolete (RFC 973); use MX".into(),
        });
    }
    if let Some(first) = toks.first()
        && !first.quoted
        && first.raw(src) == b"\\#"
    {
        cx.i = 1;
        cx.generic(t)?;
    } else {
        cx.typed(t)?;
    }
    if let Some(tok) = cx.toks.get(cx.i) {
        return Err(RdError {
            line: tok.line,
            message: format!(
                "extra text {:?} after the RDATA",
                String::from_utf8_lossy(tok.raw(src))
            ),
        });
    }
    if cx.out.wire.len() > u16::MAX as usize {
        return Err(RdError {
            line,
            message: "RDATA longer than 65535 octets".into(),
        });
    }
    Ok(cx.out)
}

pub(crate) fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0')))
}

/// TTL-style period: seconds, or units `1w2d3h4m5s` (any case), as BIND.
pub fn parse_period(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_decimal(s) {
        return Some(v);
    }
    let mut total: u64 = 0;
    let mut cur: Option<u64> = None;
    for &c in s {
        if c.is_ascii_digit() {
            cur = Some(
                cur.unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(u64::from(c - b'0'))?,
            );
        } else {
            let mult = match c.to_ascii_lowercase() {
                b's' => 1,
                b'm' => 60,
                b'h' => 3600,
                b'd' => 86400,
                b'w' => 604_800,
                _ => return None,
            };
            total = total.checked_add(cur.take()?.checked_mul(mult)?)?;
        }
    }
    if let Some(c) = cur {
        total = total.checked_add(c)?;
    }
    (total <= u64::from(u32::MAX)).then_some(total)
}

impl<'a> Cx<'a> {
    fn err_at<T>(&self, line: u32, message: impl Into<String>) -> R<T> {
        Err(RdError {
            line,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<Tok> {
        self.toks.get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }

    fn next(&mut self, what: &str) -> R<Tok> {
        match self.toks.get(self.i) {
            Some(&t) => {
                self.i += 1;
                Ok(t)
            }
            None => self.err_at(self.end_line, format!("missing {what}")),
        }
    }

    /// An unquoted field (numbers, mnemonics, addresses, encodings).
    fn word(&mut self, what: &str) -> R<(Tok, &'a [u8])> {
        let t = self.next(what)?;
        if t.quoted {
            return self.err_at(t.line, format!("{what} must not be quoted"));
        }
        Ok((t, t.raw(self.src)))
    }

    fn bad<T>(&self, t: Tok, what: &str, why: &str) -> R<T> {
        self.err_at(
            t.line,
            format!(
                "bad {what} {:?}: {why}",
                String::from_utf8_lossy(t.raw(self.src))
            ),
        )
    }

    fn number(&mut self, what: &str, max: u64) -> R<u64> {
        let (t, w) = self.word(what)?;
        match parse_decimal(w) {
            Some(v) if v <= max => Ok(v),
            Some(_) => self.bad(t, what, &format!("must be at most {max}")),
            None => self.bad(t, what, "not a decimal number"),
        }
    }

    fn u8(&mut self, what: &str) -> R<u8> {
        let v = self.number(what, 255)? as u8;
        self.out.wire.push(v);
        Ok(v)
    }

    fn u16(&mut self, what: &str) -> R<u16> {
        let v = self.number(what, 65535)? as u16;
        self.out.wire.extend_from_slice(&v.to_be_bytes());
        Ok(v)
    }

    fn u32(&mut self, what: &str) -> R<u32> {
        let v = self.number(what, u64::from(u32::MAX))? as u32;
        self.out.wire.extend_from_slice(&v.to_be_bytes());
        Ok(v)
    }

    /// A 32-bit period that may use TTL units (SOA timers, RRSIG TTL).
    fn period(&mut self, what: &str) -> R<u32> {
        let (t, w) = self.word(what)?;
        match parse_period(w) {
            Some(v) if v <= u64::from(u32::MAX) => {
                self.out.wire.extend_from_slice(&(v as u32).to_be_bytes());
                Ok(v as u32)
            }
            _ => self.bad(t, what, "not a number of seconds (units w d h m s allowed)"),
        }
    }

    /// A u8 or u16 given as a number or a mnemonic from `table`.
    fn mnemonic<T: Copy + Into<u64> + TryFrom<u64>>(
        &mut self,
        what: &str,
        table: &[(T, &str)],
        max: u64,
    ) -> R<T> {
        let (t, w) = self.word(what)?;
        if let Some(&(v, _)) = table
            .iter()
            .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(w))
        {
            return Ok(v);
        }
        match parse_decimal(w) {
            Some(v) if v <= max => T::try_from(v).or_else(|_| self.bad(t, what, "out of range")),
            _ => self.bad(t, what, "not a number or a known mnemonic"),
        }
    }

    fn secalg(&mut self) -> R<u8> {
        let v = self.mnemonic("algorithm", SECALG_NAMES, 255)?;
        self.out.wire.push(v);
        Ok(v)
    }

    /// A type in a type field (RRSIG/SIG type covered, DSYNC): a
    /// mnemonic, `TYPEnnn`, or, as BIND reads it (and prints an unknown
    /// type covered by a SIG), a bare number.
    fn rrtype(&mut self, what: &str) -> R<u16> {
        let (t, w) = self.word(what)?;
        match type_from_text(w).or_else(|| parse_decimal(w).and_then(|v| u16::try_from(v).ok())) {
            Some(v) => {
                self.out.wire.extend_from_slice(&v.to_be_bytes());
                Ok(v)
            }
            None => self.bad(t, what, "unknown type"),
        }
    }

    /// A domain name; `compress` marks it compressible (RFC 1035 types).
    fn name(&mut self, what: &str, compress: bool) -> R<Vec<u8>> {
        let (t, w) = self.word(what)?;
        let n = match parse_name_text(w, self.origin) {
            Ok(n) => n,
            Err(e) => return self.bad(t, what, &e),
        };
        if compress {
            let pos = self.out.wire.len() as u16;
            self.out.names.push((pos, n.len() as u16));
        }
        self.out.wire.extend_from_slice(&n);
        Ok(n)
    }

    fn target(&mut self, what: &str, compress: bool) -> R<()> {
        self.name(what, compress).map(drop)
    }

    /// One <character-string>, quoted or not, escapes decoded, length-prefixed.
    fn string(&mut self, what: &str) -> R<()> {
        let t = self.next(what)?;
        self.string_tok(t, what)
    }

    fn string_tok(&mut self, t: Tok, what: &str) -> R<()> {
        let at = self.out.wire.len();
        self.out.wire.push(0);
        if let Err(e) = decode_string(t.raw(self.src), &mut self.out.wire) {
            return self.bad(t, what, &e);
        }
        let len = self.out.wire.len() - at - 1;
        if len > 255 {
            return self.bad(t, what, "character-string longer than 255 octets");
        }
        self.out.wire[at] = len as u8;
        Ok(())
    }

    /// One or more character-strings to the end (TXT and friends).
    fn strings(&mut self, what: &str) -> R<()> {
        self.string(what)?;
        while let Some(t) = self.peek() {
            self.i += 1;
            self.string_tok(t, what)?;
        }
        Ok(())
    }

    /// The remaining unquoted tokens, concatenated (base64 and hex fields
    /// may be split by white space).
    fn joined(&mut self, what: &str, min_tokens: usize) -> R<Vec<u8>> {
        let mut s = Vec::new();
        let mut n = 0;
        while let Some(t) = self.peek() {
            if t.quoted {
                return self.err_at(t.line, format!("{what} must not be quoted"));
            }
            s.extend_from_slice(t.raw(self.src));
            self.i += 1;
            n += 1;
        }
        if n < min_tokens {
            return self.err_at(self.end_line, format!("missing {what}"));
        }
        Ok(s)
    }

    fn base64_rest(&mut self, what: &str, min_tokens: usize) -> R<()> {
        let line = self.peek().map_or(self.end_line, |t| t.line);
        let s = self.joined(what, min_tokens)?;
        base64_decode(&s, &mut self.out.wire).or_else(|e| self.err_at(line, format!("{what}: {e}")))
    }

    fn hex_rest(&mut self, what: &str, min_tokens: usize) -> R<usize> {
        let line = self.peek().map_or(self.end_line, |t| t.line);
        let s = self.joined(what, min_tokens)?;
        let before = self.out.wire.len();
        hex_decode(&s, &mut self.out.wire)
            .or_else(|e| self.err_at(line, format!("{what}: {e}")))?;
        Ok(self.out.wire.len() - before)
    }

    fn ipv4(&mut self, what: &str) -> R<()> {
        let (t, w) = self.word(what)?;
        match std::str::from_utf8(w)
            .ok()
            .and_then(|s| s.parse::<std::net::Ipv4Addr>().ok())
        {
            Some(a) => {
                self.out.wire.extend_from_slice(&a.octets());
                Ok(())
            }
            None => self.bad(t, what, "not an IPv4 address"),
        }
    }

    fn ipv6(&mut self, what: &str) -> R<()> {
        let (t, w) = self.word(what)?;
        match std::str::from_utf8(w)
            .ok()
            .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
        {
            Some(a) => {
                self.out.wire.extend_from_slice(&a.octets());
                Ok(())
            }
            None => self.bad(t, what, "not an IPv6 address"),
        }
    }

    /// RFC 3597 §5: `\# LEN HEX`; for types we know, the data must be a
    /// valid RDATA of that type (as BIND checks).
    fn generic(&mut self, t: u16) -> R<()> {
        let len = self.number("generic RDATA length", 65535)? as usize;
        let line = self.peek().map_or(self.end_line, |t| t.line);
        let got = self.hex_rest("generic RDATA", usize::from(len > 0))?;
        if got != len {
            return self.err_at(
                line,
                format!("generic RDATA length is {len} but {got} octets follow"),
            );
        }
        if t == rtype::DNAME || is_meta(t) {
            return self.typed(t);
        }
        if let Err(e) = super::present::check_wire(t, &self.out.wire) {
            return self.err_at(
                line,
                format!("generic RDATA is not a valid {}: {e}", tname(t)),
            );
        }
        // Names in generic RDATA are never compressed (RFC 3597 §4); the
        // targets, read from the wire, still serve chasing and additional
        // data.
        if let Some(positions) = super::present::compressible_names(t, &self.out.wire) {
            self.out.names = positions;
        }
        Ok(())
    }

    fn typed(&mut self, t: u16) -> R<()> {
        let unsupported =
            |cx: &Self, why: &str| -> R<()> { cx.err_at(cx.end_line, why.to_string()) };
        match t {
            rtype::A => self.ipv4("address")?,
            rtype::AAAA => self.ipv6("address")?,
            rtype::NS | rtype::CNAME | rtype::PTR => self.target("name", true)?,
            7..=9 => {
                self.name("name", true)?;
            }
            rtype::SOA => {
                self.name("primary server (MNAME)", true)?;
                self.name("mailbox (RNAME)", true)?;
                self.u32("serial")?;
                for what in ["refresh", "retry", "expire", "minimum"] {
                    self.period(what)?;
                }
            }
            rtype::MX => {
                self.u16("preference")?;
                self.target("exchange", true)?;
            }
            14 => {
                self.name("responsible mailbox", true)?;
                self.name("error mailbox", true)?;
            }
            rtype::HINFO => {
                self.string("CPU")?;
                self.string("OS")?;
            }
            rtype::TXT | 56 | 99 | 258 | 261 | 262 => self.strings("text")?,
            17 => {
                self.name("mailbox", false)?;
                self.name("TXT name", false)?;
            }
            18 | 21 | 36 => {
                self.u16("preference")?;
                self.name("host", false)?;
            }
            19 => {
                let t = self.next("PSDN address")?;
                let raw = t.raw(self.src);
                let mut v = Vec::new();
                let _ = decode_string(raw, &mut v);
                if v.len() < 4 || !v.iter().all(u8::is_ascii_digit) {
                    return self.bad(t, "PSDN address", "must be at least 4 decimal digits");
                }
                self.string_tok(t, "PSDN address")?;
            }
            20 => {
                self.string("ISDN address")?;
                if !self.at_end() {
                    self.string("subaddress")?;
                }
            }
            11 => self.wks()?,
            22 => self.nsap()?,
            23 => {
                self.name("name", false)?;
            }
            24 | rtype::RRSIG => self.rrsig()?,
            25 | 48 | 57 | 60 => self.dnskey(t)?,
            30 => self.nxt()?,
            34 => self.atma()?,
            38 => self.a6()?,
            40 => self.sink()?,
            259 => self.doa()?,
            26 => {
                self.u16("preference")?;
                self.name("MAP822", false)?;
                self.name("MAPX400", false)?;
            }
            27 => {
                for what in ["longitude", "latitude", "altitude"] {
                    self.string(what)?;
                }
            }
            29 => self.loc()?,
            31 | 32 => {
                self.hex_rest("data", 1)?;
            }
            rtype::SRV => {
                self.u16("priority")?;
                self.u16("weight")?;
                self.u16("port")?;
                self.target("target", false)?;
            }
            35 => self.naptr()?,
            37 => {
                let ct = self.mnemonic("certificate type", CERT_TYPE_NAMES, 65535)?;
                self.out.wire.extend_from_slice(&ct.to_be_bytes());
                self.u16("key tag")?;
                self.secalg()?;
                self.base64_rest("certificate", 1)?;
            }
            rtype::DNAME => {
                return unsupported(
                    self,
                    "DNAME is not supported: dnslb does not synthesize CNAMEs from DNAME (RFC 6672); use CNAME records",
                );
            }
            42 => self.apl()?,
            rtype::DS | 59 | 32768 | 32769 => self.ds(t)?,
            44 => {
                self.u8("algorithm")?;
                let fp = self.u8("fingerprint type")?;
                let line = self.peek().map_or(self.end_line, |t| t.line);
                // Other fingerprint types may be empty (BIND).
                let n = self.hex_rest("fingerprint", 0)?;
                let want = match fp {
                    1 => Some(20),
                    2 => Some(32),
                    _ => None,
                };
                if let Some(w) = want
                    && n != w
                {
                    return self.err_at(
                        line,
                        format!("fingerprint type {fp} needs {w} octets, got {n}"),
                    );
                }
            }
            45 => self.ipseckey()?,
            rtype::NSEC => self.nsec()?,
            49 | 61 | 67 | 68 => self.base64_rest("data", 1)?,
            50 | 51 => self.nsec3(t)?,
            52 | 53 => {
                self.u8("certificate usage")?;
                self.u8("selector")?;
                self.u8("matching type")?;
                self.hex_rest("certificate association data", 1)?;
            }
            55 => self.hip()?,
            58 => {
                self.name("previous name", false)?;
                self.name("next name", false)?;
            }
            62 => {
                self.u32("SOA serial")?;
                self.u16("flags")?;
                self.bitmap()?;
            }
            63 => {
                self.u32("serial")?;
                self.u8("scheme")?;
                let alg = self.u8("hash algorithm")?;
                let line = self.peek().map_or(self.end_line, |t| t.line);
                let n = self.hex_rest("digest", 1)?;
                let ok = match alg {
                    1 => n == 48,
                    2 => n == 64,
                    _ => n >= 12,
                };
                if !ok {
                    return self.err_at(
                        line,
                        format!(
                            "digest of {n} octets is the wrong length for hash algorithm {alg}"
                        ),
                    );
                }
            }
            64 | 65 => self.svcb()?,
            66 => {
                self.rrtype("RR type")?;
                let s = self.mnemonic("scheme", &[(1u8, "NOTIFY")], 255)?;
                self.out.wire.push(s);
                self.u16("port")?;
                self.name("target", false)?;
            }
            104 | 106 => {
                self.u16("preference")?;
                self.l64()?;
            }
            105 => {
                self.u16("preference")?;
                self.ipv4("locator")?;
            }
            107 => {
                self.u16("preference")?;
                self.name("FQDN", false)?;
            }
            108 => self.eui(6)?,
            109 => self.eui(8)?,
            256 => {
                self.u16("priority")?;
                self.u16("weight")?;
                let t = self.next("target")?;
                if !t.quoted {
                    return self.bad(t, "target", "must be a quoted string");
                }
                if let Err(e) = decode_string(t.raw(self.src), &mut self.out.wire) {
                    return self.bad(t, "target", &e);
                }
            }
            257 => self.caa()?,
            260 => self.amtrelay()?,
            _ if is_meta(t) => {
                return unsupported(
                    self,
                    &format!("{} is a meta type and cannot appear in a zone", tname(t)),
                );
            }
            _ if type_name(t).is_some() => {
                return unsupported(
                    self,
                    &format!(
                        "{} records are read only in the RFC 3597 generic form (\\# LENGTH HEX)",
                        tname(t)
                    ),
                );
            }
            _ => {
                return unsupported(
                    self,
                    &format!(
                        "{} has no presentation format: write it as \\# LENGTH HEX (RFC 3597)",
                        tname(t)
                    ),
                );
            }
        }
        Ok(())
    }
}

fn tname(t: u16) -> String {
    type_name(t).map_or_else(|| format!("TYPE{t}"), str::to_string)
}

#[cfg(test)]
#[path = "rdata_tests.rs"]
mod tests;
