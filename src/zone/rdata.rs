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
//! error): A6, NXT, SINK, ATMA, DOA, the UINFO/UID/GID/UNSPEC family, NULL.
//! Refused outright: DNAME (dnslb does not synthesize CNAMEs, RFC 6672) and
//! the meta types that never live in a zone (OPT, TKEY, TSIG, IXFR, AXFR,
//! MAILA, MAILB, ANY).

use super::encoding::{base32hex_decode, base64_decode, hex_decode, parse_time};
use super::lexer::{Tok, decode_string};
use super::name::{lower, parse_name_text};
use super::rtype;

/// RR type mnemonics BIND 9.18 knows, by code (RFC 6895 registry).
pub const TYPE_NAMES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (3, "MD"),
    (4, "MF"),
    (5, "CNAME"),
    (6, "SOA"),
    (7, "MB"),
    (8, "MG"),
    (9, "MR"),
    (10, "NULL"),
    (11, "WKS"),
    (12, "PTR"),
    (13, "HINFO"),
    (14, "MINFO"),
    (15, "MX"),
    (16, "TXT"),
    (17, "RP"),
    (18, "AFSDB"),
    (19, "X25"),
    (20, "ISDN"),
    (21, "RT"),
    (22, "NSAP"),
    (23, "NSAP-PTR"),
    (24, "SIG"),
    (25, "KEY"),
    (26, "PX"),
    (27, "GPOS"),
    (28, "AAAA"),
    (29, "LOC"),
    (30, "NXT"),
    (31, "EID"),
    (32, "NIMLOC"),
    (33, "SRV"),
    (34, "ATMA"),
    (35, "NAPTR"),
    (36, "KX"),
    (37, "CERT"),
    (38, "A6"),
    (39, "DNAME"),
    (40, "SINK"),
    (41, "OPT"),
    (42, "APL"),
    (43, "DS"),
    (44, "SSHFP"),
    (45, "IPSECKEY"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (49, "DHCID"),
    (50, "NSEC3"),
    (51, "NSEC3PARAM"),
    (52, "TLSA"),
    (53, "SMIMEA"),
    (55, "HIP"),
    (56, "NINFO"),
    (57, "RKEY"),
    (58, "TALINK"),
    (59, "CDS"),
    (60, "CDNSKEY"),
    (61, "OPENPGPKEY"),
    (62, "CSYNC"),
    (63, "ZONEMD"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (66, "DSYNC"),
    (67, "HHIT"),
    (68, "BRID"),
    (99, "SPF"),
    (100, "UINFO"),
    (101, "UID"),
    (102, "GID"),
    (103, "UNSPEC"),
    (104, "NID"),
    (105, "L32"),
    (106, "L64"),
    (107, "LP"),
    (108, "EUI48"),
    (109, "EUI64"),
    (249, "TKEY"),
    (250, "TSIG"),
    (251, "IXFR"),
    (252, "AXFR"),
    (253, "MAILB"),
    (254, "MAILA"),
    (255, "ANY"),
    (256, "URI"),
    (257, "CAA"),
    (258, "AVC"),
    (259, "DOA"),
    (260, "AMTRELAY"),
    (261, "RESINFO"),
    (262, "WALLET"),
    (32768, "TA"),
    (32769, "DLV"),
];

/// The mnemonic of a type, if it has one.
pub fn type_name(t: u16) -> Option<&'static str> {
    TYPE_NAMES
        .binary_search_by_key(&t, |&(c, _)| c)
        .ok()
        .map(|i| TYPE_NAMES[i].1)
}

/// A type from its mnemonic or `TYPEnnn` (RFC 3597 §5), case-insensitive.
pub fn type_from_text(s: &[u8]) -> Option<u16> {
    if let Some(&(c, _)) = TYPE_NAMES
        .iter()
        .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(s))
    {
        return Some(c);
    }
    if s.len() > 4 && s[..4].eq_ignore_ascii_case(b"TYPE") {
        return parse_decimal(&s[4..]).and_then(|v| u16::try_from(v).ok());
    }
    None
}

/// Meta types and types that cannot appear in a zone (RFC 6895 §3.1).
pub fn is_meta(t: u16) -> bool {
    matches!(t, 41 | 128..=255)
}

/// DNSSEC algorithm mnemonics (RFC 8624 registry, BIND's names).
pub const SECALG_NAMES: &[(u8, &str)] = &[
    (1, "RSAMD5"),
    (2, "DH"),
    (3, "DSA"),
    (4, "ECC"),
    (5, "RSASHA1"),
    (6, "NSEC3DSA"),
    (7, "NSEC3RSASHA1"),
    (8, "RSASHA256"),
    (10, "RSASHA512"),
    (12, "ECCGOST"),
    (13, "ECDSAP256SHA256"),
    (14, "ECDSAP384SHA384"),
    (15, "ED25519"),
    (16, "ED448"),
    (252, "INDIRECT"),
    (253, "PRIVATEDNS"),
    (254, "PRIVATEOID"),
];

/// CERT type mnemonics (RFC 4398 §2.1).
pub const CERT_TYPE_NAMES: &[(u16, &str)] = &[
    (1, "PKIX"),
    (2, "SPKI"),
    (3, "PGP"),
    (4, "IPKIX"),
    (5, "ISPKI"),
    (6, "IPGP"),
    (7, "ACPKIX"),
    (8, "IACPKIX"),
    (253, "URI"),
    (254, "OID"),
];

const DIGEST_NAMES: &[(u8, &str)] = &[
    (1, "SHA-1"),
    (1, "SHA1"),
    (2, "SHA-256"),
    (2, "SHA256"),
    (3, "GOST"),
    (4, "SHA-384"),
    (4, "SHA384"),
];

/// SVCB SvcParamKey names (RFC 9460 §14.3.2, RFC 9461, RFC 9540).
pub const SVC_KEYS: &[(u16, &str)] = &[
    (0, "mandatory"),
    (1, "alpn"),
    (2, "no-default-alpn"),
    (3, "port"),
    (4, "ipv4hint"),
    (5, "ech"),
    (6, "ipv6hint"),
    (7, "dohpath"),
    (8, "ohttp"),
];

/// A parse error, at the line of the token it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdError {
    pub line: u32,
    pub message: String,
}

/// Encoded RDATA: wire bytes, compressible name positions, and the target
/// name (lowercased) for CNAME/NS/MX/SRV/PTR chasing and additional data.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub wire: Vec<u8>,
    pub names: Vec<(u16, u16)>,
    pub target: Option<Box<[u8]>>,
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

fn parse_decimal(s: &[u8]) -> Option<u64> {
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

    fn rrtype(&mut self, what: &str) -> R<u16> {
        let (t, w) = self.word(what)?;
        match type_from_text(w) {
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
        let n = self.name(what, compress)?;
        self.out.target = Some(lower(&n));
        Ok(())
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

    /// NSEC/NSEC3/CSYNC type bitmap (RFC 4034 §4.1.2) from the remaining
    /// type mnemonics.
    fn bitmap(&mut self) -> R<()> {
        let mut types: Vec<u16> = Vec::new();
        while !self.at_end() {
            let (t, w) = self.word("type")?;
            match type_from_text(w) {
                Some(v) => types.push(v),
                None => return self.bad(t, "type in the bitmap", "unknown type"),
            }
        }
        types.sort_unstable();
        types.dedup();
        let mut i = 0;
        while i < types.len() {
            let window = (types[i] >> 8) as u8;
            let mut bits = [0u8; 32];
            let mut len = 0;
            while i < types.len() && (types[i] >> 8) as u8 == window {
                let low = (types[i] & 0xFF) as usize;
                bits[low / 8] |= 0x80 >> (low % 8);
                len = low / 8 + 1;
                i += 1;
            }
            self.out.wire.push(window);
            self.out.wire.push(len as u8);
            self.out.wire.extend_from_slice(&bits[..len]);
        }
        Ok(())
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
        // Names in generic RDATA are never compressed (RFC 3597 §4), but
        // the targets still matter for chasing and additional data.
        self.out.target = super::present::target_of(t, &self.out.wire);
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
                let n = self.hex_rest("fingerprint", 1)?;
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
            rtype::NSEC => {
                self.name("next name", false)?;
                self.bitmap()?;
            }
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

    /// WKS (RFC 1035 §3.4.2): address, protocol, port numbers. Protocol
    /// names other than tcp/udp and service names (which BIND looks up in
    /// /etc/services) are not read: give numbers.
    fn wks(&mut self) -> R<()> {
        self.ipv4("address")?;
        let p = self.mnemonic("protocol", &[(6u8, "tcp"), (17u8, "udp")], 255)?;
        self.out.wire.push(p);
        let mut bits = Vec::<u8>::new();
        while !self.at_end() {
            let port =
                self.number("port (service names are not read; give the number)", 65535)? as usize;
            if bits.len() <= port / 8 {
                bits.resize(port / 8 + 1, 0);
            }
            bits[port / 8] |= 0x80 >> (port % 8);
        }
        self.out.wire.extend_from_slice(&bits);
        Ok(())
    }

    fn nsap(&mut self) -> R<()> {
        let (t, w) = self.word("NSAP address")?;
        if w.len() < 3 || !w[..2].eq_ignore_ascii_case(b"0x") {
            return self.bad(t, "NSAP address", "must start with 0x");
        }
        let digits: Vec<u8> = w[2..].iter().copied().filter(|&c| c != b'.').collect();
        if digits.is_empty() {
            return self.bad(t, "NSAP address", "no digits");
        }
        hex_decode(&digits, &mut self.out.wire).or_else(|e| self.bad(t, "NSAP address", &e))
    }

    fn rrsig(&mut self) -> R<()> {
        self.rrtype("type covered")?;
        self.secalg()?;
        self.u8("labels")?;
        self.period("original TTL")?;
        for what in ["signature expiration", "signature inception"] {
            let (t, w) = self.word(what)?;
            match parse_time(w) {
                Ok(v) => self.out.wire.extend_from_slice(&v.to_be_bytes()),
                Err(e) => return self.bad(t, what, &e),
            }
        }
        self.u16("key tag")?;
        self.name("signer name", false)?;
        self.base64_rest("signature", 1)
    }

    fn dnskey(&mut self, t: u16) -> R<()> {
        let (tok, w) = self.word("flags")?;
        let flags = if w.len() > 2 && w[..2].eq_ignore_ascii_case(b"0x") {
            std::str::from_utf8(&w[2..])
                .ok()
                .and_then(|s| u16::from_str_radix(s, 16).ok())
        } else {
            parse_decimal(w).and_then(|v| u16::try_from(v).ok())
        };
        let Some(flags) = flags else {
            return self.bad(tok, "flags", "not a 16-bit number");
        };
        self.out.wire.extend_from_slice(&flags.to_be_bytes());
        self.u8("protocol")?;
        self.secalg()?;
        // KEY with the NOKEY bits (RFC 2535 §3.1.2) carries no key data.
        let nokey = t == 25 && flags & 0xC000 == 0xC000;
        if nokey {
            return Ok(());
        }
        self.base64_rest("public key", 1)
    }

    fn ds(&mut self, _t: u16) -> R<()> {
        self.u16("key tag")?;
        self.secalg()?;
        let d = self.mnemonic("digest type", DIGEST_NAMES, 255)?;
        self.out.wire.push(d);
        let line = self.peek().map_or(self.end_line, |t| t.line);
        let n = self.hex_rest("digest", 1)?;
        let want = match d {
            1 => Some(20),
            2 | 3 => Some(32),
            4 => Some(48),
            _ => None,
        };
        if let Some(w) = want
            && n != w
        {
            return self.err_at(line, format!("digest type {d} needs {w} octets, got {n}"));
        }
        Ok(())
    }

    fn nsec3(&mut self, t: u16) -> R<()> {
        self.u8("hash algorithm")?;
        self.u8("flags")?;
        self.u16("iterations")?;
        let (tok, w) = self.word("salt")?;
        let at = self.out.wire.len();
        self.out.wire.push(0);
        if w != b"-" {
            hex_decode(w, &mut self.out.wire).or_else(|e| self.bad(tok, "salt", &e))?;
            let n = self.out.wire.len() - at - 1;
            if n > 255 {
                return self.bad(tok, "salt", "longer than 255 octets");
            }
            self.out.wire[at] = n as u8;
        }
        if t == 51 {
            return Ok(());
        }
        let (tok, w) = self.word("next hashed owner name")?;
        let at = self.out.wire.len();
        self.out.wire.push(0);
        base32hex_decode(w, &mut self.out.wire)
            .or_else(|e| self.bad(tok, "next hashed owner name", &e))?;
        let n = self.out.wire.len() - at - 1;
        if self.out.wire[0] == 1 && n != 20 {
            return self.bad(tok, "next hashed owner name", "a SHA-1 hash is 20 octets");
        }
        if n == 0 || n > 255 {
            return self.bad(tok, "next hashed owner name", "must be 1 to 255 octets");
        }
        self.out.wire[at] = n as u8;
        self.bitmap()
    }

    fn ipseckey(&mut self) -> R<()> {
        self.u8("precedence")?;
        let gt = self.u8("gateway type")?;
        self.u8("algorithm")?;
        match gt {
            0 => {
                let (t, w) = self.word("gateway")?;
                if w != b"." {
                    return self.bad(t, "gateway", "must be '.' for gateway type 0");
                }
            }
            1 => self.ipv4("gateway")?,
            2 => self.ipv6("gateway")?,
            3 => {
                self.name("gateway", false)?;
            }
            _ => {
                let (t, _) = self.word("gateway")?;
                return self.bad(t, "gateway", "gateway type must be 0 to 3");
            }
        }
        self.base64_rest("public key", 1)
    }

    fn amtrelay(&mut self) -> R<()> {
        self.u8("precedence")?;
        let d = self.number("discovery optional bit", 1)? as u8;
        let rt = self.number("relay type", 127)? as u8;
        self.out.wire.push((d << 7) | rt);
        match rt {
            0 => {
                if let Some(t) = self.peek()
                    && t.raw(self.src) == b"."
                    && !t.quoted
                {
                    self.i += 1;
                }
            }
            1 => self.ipv4("relay")?,
            2 => self.ipv6("relay")?,
            3 => {
                self.name("relay", false)?;
            }
            _ => {
                self.hex_rest("relay", 0)?;
            }
        }
        Ok(())
    }

    fn hip(&mut self) -> R<()> {
        let alg = self.number("public key algorithm", 255)? as u8;
        let (t, w) = self.word("HIT")?;
        let mut hit = Vec::new();
        hex_decode(w, &mut hit).or_else(|e| self.bad(t, "HIT", &e))?;
        if hit.is_empty() || hit.len() > 255 {
            return self.bad(t, "HIT", "must be 1 to 255 octets");
        }
        let (t, w) = self.word("public key")?;
        let mut pk = Vec::new();
        base64_decode(w, &mut pk).or_else(|e| self.bad(t, "public key", &e))?;
        if pk.is_empty() || pk.len() > 65535 {
            return self.bad(t, "public key", "must not be empty");
        }
        self.out.wire.push(hit.len() as u8);
        self.out.wire.push(alg);
        self.out
            .wire
            .extend_from_slice(&(pk.len() as u16).to_be_bytes());
        self.out.wire.extend_from_slice(&hit);
        self.out.wire.extend_from_slice(&pk);
        while !self.at_end() {
            self.name("rendezvous server", false)?;
        }
        Ok(())
    }

    fn naptr(&mut self) -> R<()> {
        self.u16("order")?;
        self.u16("preference")?;
        self.string("flags")?;
        self.string("services")?;
        let t = self.next("regexp")?;
        let at = self.out.wire.len();
        self.string_tok(t, "regexp")?;
        if let Err(e) = check_naptr_regexp(&self.out.wire[at + 1..]) {
            return self.bad(t, "regexp", e);
        }
        self.name("replacement", false)?;
        Ok(())
    }

    fn caa(&mut self) -> R<()> {
        self.u8("flags")?;
        let (t, w) = self.word("tag")?;
        if w.is_empty() || w.len() > 255 || !w.iter().all(u8::is_ascii_alphanumeric) {
            return self.bad(
                t,
                "tag",
                "must be 1 to 255 letters and digits (RFC 8659 §4.1)",
            );
        }
        self.out.wire.push(w.len() as u8);
        self.out.wire.extend_from_slice(w);
        let t = self.next("value")?;
        if let Err(e) = decode_string(t.raw(self.src), &mut self.out.wire) {
            return self.bad(t, "value", &e);
        }
        Ok(())
    }

    fn eui(&mut self, n: usize) -> R<()> {
        let (t, w) = self.word("address")?;
        let parts: Vec<&[u8]> = w.split(|&c| c == b'-').collect();
        if parts.len() != n || parts.iter().any(|p| p.len() != 2) {
            return self.bad(t, "address", "must be hex octet pairs joined by '-'");
        }
        for p in parts {
            hex_decode(p, &mut self.out.wire).or_else(|e| self.bad(t, "address", &e))?;
        }
        Ok(())
    }

    fn l64(&mut self) -> R<()> {
        let (t, w) = self.word("locator")?;
        let parts: Vec<&[u8]> = w.split(|&c| c == b':').collect();
        if parts.len() != 4 || parts.iter().any(|p| p.is_empty() || p.len() > 4) {
            return self.bad(t, "locator", "must be four groups of 1 to 4 hex digits");
        }
        for p in parts {
            let v = std::str::from_utf8(p)
                .ok()
                .and_then(|s| u16::from_str_radix(s, 16).ok());
            match v {
                Some(v) => self.out.wire.extend_from_slice(&v.to_be_bytes()),
                None => return self.bad(t, "locator", "not hex"),
            }
        }
        Ok(())
    }

    fn apl(&mut self) -> R<()> {
        while !self.at_end() {
            let (t, w) = self.word("APL item")?;
            let (neg, w) = match w.strip_prefix(b"!") {
                Some(rest) => (true, rest),
                None => (false, w),
            };
            let text = std::str::from_utf8(w).unwrap_or("");
            let parsed = (|| {
                let (afi, rest) = text.split_once(':')?;
                let (addr, prefix) = rest.split_once('/')?;
                let afi: u16 = afi.parse().ok()?;
                let prefix: u8 = prefix.parse().ok()?;
                let bytes: Vec<u8> = match afi {
                    1 if prefix <= 32 => addr.parse::<std::net::Ipv4Addr>().ok()?.octets().to_vec(),
                    2 if prefix <= 128 => {
                        addr.parse::<std::net::Ipv6Addr>().ok()?.octets().to_vec()
                    }
                    _ => return None,
                };
                Some((afi, prefix, bytes))
            })();
            let Some((afi, prefix, mut bytes)) = parsed else {
                return self.bad(
                    t,
                    "APL item",
                    "expected [!]AFI:ADDRESS/PREFIX with AFI 1 or 2",
                );
            };
            while bytes.last() == Some(&0) {
                bytes.pop();
            }
            self.out.wire.extend_from_slice(&afi.to_be_bytes());
            self.out.wire.push(prefix);
            self.out.wire.push((u8::from(neg) << 7) | bytes.len() as u8);
            self.out.wire.extend_from_slice(&bytes);
        }
        Ok(())
    }

    /// LOC (RFC 1876 §3): `d1 [m1 [s1]] N|S d2 [m2 [s2]] E|W alt[m]
    /// [siz[m] [hp[m] [vp[m]]]]`.
    fn loc(&mut self) -> R<()> {
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

    fn loc_angle(&mut self, pos: u8, neg: u8, max_deg: u64) -> R<u32> {
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

    fn svcb(&mut self) -> R<()> {
        let prio = self.u16("priority")?;
        self.name("target", false)?;
        let _ = prio;
        let mut params: Vec<(u16, Vec<u8>, u32)> = Vec::new();
        while let Some(t) = self.peek() {
            self.i += 1;
            if t.quoted {
                return self.bad(t, "SvcParam", "a key must not be quoted");
            }
            let raw = t.raw(self.src);
            let (key_text, value_raw): (&[u8], Option<(&[u8], Tok)>) =
                match raw.iter().position(|&c| c == b'=') {
                    Some(p) => {
                        let rest = &raw[p + 1..];
                        if rest.is_empty() {
                            // `key="value"`: the lexer split off the quoted part.
                            match self.peek() {
                                Some(q) if q.quoted && q.start == t.end + 1 => {
                                    self.i += 1;
                                    (&raw[..p], Some((q.raw(self.src), q)))
                                }
                                _ => (&raw[..p], Some((rest, t))),
                            }
                        } else {
                            (&raw[..p], Some((rest, t)))
                        }
                    }
                    None => (raw, None),
                };
            let Some(key) = svc_key_from_text(key_text) else {
                return self.bad(t, "SvcParamKey", "unknown key");
            };
            let mut value = Vec::new();
            if let Some((v, vt)) = value_raw
                && let Err(e) = decode_string(v, &mut value)
            {
                return self.bad(vt, "SvcParamValue", &e);
            }
            let has_value = value_raw.is_some() && !value.is_empty();
            let wire = match svc_value(key, has_value, &value, key_text) {
                Ok(w) => w,
                Err(e) => return self.bad(t, "SvcParam", &e),
            };
            if params.iter().any(|(k, _, _)| *k == key) {
                return self.bad(t, "SvcParam", "duplicate key (RFC 9460 §2.2)");
            }
            params.push((key, wire, t.line));
        }
        params.sort_by_key(|p| p.0);
        // RFC 9460 §8: every key listed in mandatory must be present, and
        // mandatory must not list itself; no-default-alpn needs alpn.
        if let Some((_, m, line)) = params.iter().find(|p| p.0 == 0) {
            for k in m.chunks(2) {
                let k = u16::from_be_bytes([k[0], k[1]]);
                if !params.iter().any(|p| p.0 == k) {
                    return self.err_at(
                        *line,
                        format!(
                            "mandatory lists {} but the record has no such parameter",
                            svc_key_name(k)
                        ),
                    );
                }
            }
        }
        if let Some(p) = params.iter().find(|p| p.0 == 2)
            && !params.iter().any(|p| p.0 == 1)
        {
            return self.err_at(
                p.2,
                "no-default-alpn needs an alpn parameter (RFC 9460 §7.1.1)",
            );
        }
        for (k, v, _) in params {
            self.out.wire.extend_from_slice(&k.to_be_bytes());
            self.out
                .wire
                .extend_from_slice(&(v.len() as u16).to_be_bytes());
            self.out.wire.extend_from_slice(&v);
        }
        Ok(())
    }
}

fn tname(t: u16) -> String {
    type_name(t).map_or_else(|| format!("TYPE{t}"), str::to_string)
}

/// Parse a SvcParamKey name or `keyNNNNN`.
pub fn svc_key_from_text(s: &[u8]) -> Option<u16> {
    if let Some(&(k, _)) = SVC_KEYS.iter().find(|(_, n)| n.as_bytes() == s) {
        return Some(k);
    }
    let digits = s.strip_prefix(b"key")?;
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    let v = parse_decimal(digits)?;
    // 65535 is reserved (RFC 9460 §14.3.2).
    u16::try_from(v).ok().filter(|&v| v != 65535)
}

/// The name of a SvcParamKey, or `keyNNNNN`.
pub fn svc_key_name(k: u16) -> String {
    SVC_KEYS
        .iter()
        .find(|(c, _)| *c == k)
        .map_or_else(|| format!("key{k}"), |(_, n)| n.to_string())
}

/// Split a comma-separated value list (RFC 9460 Appendix A.1): `\,` is a
/// comma inside an item (after the first level of escapes was decoded).
fn value_list(v: &[u8]) -> Vec<Vec<u8>> {
    let mut items = vec![Vec::new()];
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\\' if i + 1 < v.len() => {
                items.last_mut().unwrap().push(v[i + 1]);
                i += 2;
            }
            b',' => {
                items.push(Vec::new());
                i += 1;
            }
            c => {
                items.last_mut().unwrap().push(c);
                i += 1;
            }
        }
    }
    items
}

/// Wire form of one SvcParamValue.
fn svc_value(key: u16, has_value: bool, v: &[u8], key_text: &[u8]) -> Result<Vec<u8>, String> {
    let generic = key_text.starts_with(b"key");
    let need = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
    let text = std::str::from_utf8(v).map_err(|_| "value is not ASCII".to_string());
    let mut out = Vec::new();
    if generic && key > 8 {
        out.extend_from_slice(v);
        return Ok(out);
    }
    if generic {
        // keyNNN for a known key: the value is its wire form, checked.
        out.extend_from_slice(v);
        super::present::check_svc_value(key, &out)?;
        return Ok(out);
    }
    match key {
        0 => {
            need(has_value, "mandatory needs a value")?;
            let mut keys = Vec::new();
            for item in value_list(v) {
                let k = svc_key_from_text(&item).ok_or_else(|| {
                    format!(
                        "mandatory lists unknown key {:?}",
                        String::from_utf8_lossy(&item)
                    )
                })?;
                if k == 0 {
                    return Err("mandatory must not list itself (RFC 9460 §8)".into());
                }
                if keys.contains(&k) {
                    return Err(format!("mandatory lists {} twice", svc_key_name(k)));
                }
                keys.push(k);
            }
            keys.sort_unstable();
            for k in keys {
                out.extend_from_slice(&k.to_be_bytes());
            }
        }
        1 => {
            need(has_value, "alpn needs a value")?;
            for item in value_list(v) {
                if item.is_empty() || item.len() > 255 {
                    return Err("alpn ids must be 1 to 255 octets".into());
                }
                out.push(item.len() as u8);
                out.extend_from_slice(&item);
            }
        }
        2 => need(!has_value, "no-default-alpn takes no value")?,
        3 => {
            need(has_value, "port needs a value")?;
            let p: u16 = text?
                .parse()
                .map_err(|_| "port must be 0 to 65535".to_string())?;
            out.extend_from_slice(&p.to_be_bytes());
        }
        4 | 6 => {
            need(has_value, "address hints need a value")?;
            for item in text?.split(',') {
                if key == 4 {
                    let a: std::net::Ipv4Addr = item
                        .parse()
                        .map_err(|_| format!("bad IPv4 address {item:?}"))?;
                    out.extend_from_slice(&a.octets());
                } else {
                    let a: std::net::Ipv6Addr = item
                        .parse()
                        .map_err(|_| format!("bad IPv6 address {item:?}"))?;
                    out.extend_from_slice(&a.octets());
                }
            }
        }
        5 => {
            need(has_value, "ech needs a value")?;
            base64_decode(v, &mut out).map_err(|e| format!("ech: {e}"))?;
        }
        7 => {
            need(has_value, "dohpath needs a value")?;
            std::str::from_utf8(v)
                .map_err(|_| "dohpath must be UTF-8 (RFC 9461 §5)".to_string())?;
            out.extend_from_slice(v);
        }
        8 => need(!has_value, "ohttp takes no value")?,
        _ => out.extend_from_slice(v),
    }
    Ok(out)
}

/// BIND's check of a NAPTR regexp field (RFC 3403 §4.1): empty, or
/// `DELIM ere DELIM repl DELIM [i]` with a delimiter that is not a digit,
/// backslash or newline, and back-references no higher than the number of
/// groups in the expression.
pub fn check_naptr_regexp(re: &[u8]) -> Result<(), &'static str> {
    if re.is_empty() {
        return Ok(());
    }
    let delim = re[0];
    if delim.is_ascii_digit() || delim == b'\\' || delim == b'\n' {
        return Err("the delimiter may not be a digit, backslash or newline");
    }
    let mut part = 0; // 0 expression, 1 replacement, 2 flags
    let mut groups = 0u32;
    let mut i = 1;
    while i < re.len() {
        let c = re[i];
        if c == 0 {
            return Err("contains a NUL octet");
        }
        if c == delim && part < 2 {
            part += 1;
            i += 1;
            continue;
        }
        match part {
            0 => {
                if c == b'\\' {
                    if i + 1 >= re.len() {
                        return Err("ends in a backslash");
                    }
                    i += 2;
                    continue;
                }
                if c == b'(' {
                    groups += 1;
                }
            }
            1 => {
                if c == b'\\' {
                    let Some(&n) = re.get(i + 1) else {
                        return Err("ends in a backslash");
                    };
                    if n.is_ascii_digit() && u32::from(n - b'0') > groups {
                        return Err("back-reference to a group that does not exist");
                    }
                    if n == b'0' {
                        return Err("back-reference \\0 is not allowed");
                    }
                    i += 2;
                    continue;
                }
            }
            _ => {
                if c != b'i' {
                    return Err("the only flag is 'i'");
                }
            }
        }
        i += 1;
    }
    if part < 2 {
        return Err("needs three delimiters");
    }
    Ok(())
}

/// Meters with up to two decimals, optional trailing `m`, as centimeters.
fn parse_meters(w: &[u8], signed: bool) -> Option<i64> {
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
fn parse_fixed(w: &[u8], places: u32) -> Option<i64> {
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
fn loc_prec(cm: i64) -> Option<u8> {
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

#[cfg(test)]
#[path = "rdata_tests.rs"]
mod tests;
