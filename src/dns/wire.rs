//! Query parsing straight from the packet, without allocation.
//!
//! Only what answering needs is extracted: header fields, the one question
//! (qname kept both as sent and lowercased), and the OPT record with its
//! Client Subnet option. Anything malformed maps to a [`ParseError`] that the
//! engine turns into a drop or FORMERR; nothing here panics on any input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::cookie::{OPT_COOKIE, QueryCookie};

use crate::zone::name::MAX_NAME_LEN;
use crate::zone::rtype;

pub const HEADER_LEN: usize = 12;
/// EDNS option code of Client Subnet (RFC 7871).
pub const OPT_ECS: u16 = 8;

/// The question's name: as sent (for echoing case), lowercased (for lookups),
/// and the offsets of its labels.
#[derive(Clone)]
pub struct QName {
    pub lower: [u8; MAX_NAME_LEN],
    pub len: usize,
    pub offs: [u8; 128],
    pub nlabels: usize,
}

impl QName {
    pub fn lower(&self) -> &[u8] {
        &self.lower[..self.len]
    }

    pub fn offs(&self) -> &[u8] {
        &self.offs[..self.nlabels]
    }
}

/// The Client Subnet option of a query (RFC 7871 §6).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ecs {
    pub family: u16,
    pub source: u8,
    pub scope: u8,
    /// The address bytes as sent (`ceil(source/8)` of them).
    pub addr: [u8; 16],
    pub addr_len: u8,
}

impl Ecs {
    pub fn ip(&self) -> IpAddr {
        match self.family {
            1 => {
                let mut a = [0u8; 4];
                a[..self.addr_len as usize].copy_from_slice(&self.addr[..self.addr_len as usize]);
                IpAddr::V4(Ipv4Addr::from(a))
            }
            _ => IpAddr::V6(Ipv6Addr::from(self.addr)),
        }
    }
}

/// The OPT pseudo-record of a query (RFC 6891 §6.1).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    pub ecs: Option<Ecs>,
}

/// The position of a well-formed COOKIE option's data in the query packet.
/// A position rather than the bytes: the option is read only when cookies
/// are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieAt {
    pub start: u16,
    pub len: u8,
}

impl CookieAt {
    /// The option parsed out of `packet` (the one it was found in).
    pub fn read(self, packet: &[u8]) -> Option<QueryCookie> {
        let start = usize::from(self.start);
        QueryCookie::parse(packet.get(start..start + usize::from(self.len))?)
    }
}

/// Where a query's TSIG record (RFC 8945 §4.2) sits in the packet: the
/// offsets of its owner (the key name), of its algorithm name, and of the
/// Time Signed and Fudge fields (8 octets), and its Original ID. Offsets
/// rather than bytes: the record is read only to build the NOTAUTH/BADKEY
/// reply, and names in it may be compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TsigAt {
    pub key: u16,
    pub algorithm: u16,
    pub time_fudge: u16,
    pub original_id: u16,
}

/// A parsed query.
pub struct Query {
    pub id: u16,
    pub opcode: u8,
    pub rd: bool,
    pub cd: bool,
    pub qname: QName,
    /// Byte range of the question in the packet (name + type + class);
    /// empty for a query with no question and a COOKIE option, which asks
    /// only for a server cookie (RFC 7873 §5.4).
    pub question: (usize, usize),
    pub qtype: u16,
    pub qclass: u16,
    pub edns: Option<Edns>,
    /// Where the OPT's first COOKIE option sits (RFC 7873 §5.2: later ones
    /// are ignored); its length is already checked. Beside `edns` rather
    /// than in it: `Edns` is copied per query and stays small.
    pub cookie: Option<CookieAt>,
    /// The TSIG record, when the query is signed (always the last record
    /// of the additional section; anywhere else is FORMERR).
    pub tsig: Option<TsigAt>,
}

/// Why a packet could not be answered normally.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not worth a reply: shorter than a header, or a response (QR=1).
    Drop,
    /// Answer FORMERR. `question` is the question's byte range when it parsed.
    FormErr {
        question: Option<(usize, usize)>,
        edns: bool,
    },
    /// Opcode other than QUERY: answer NOTIMP. `edns`: the query had an
    /// OPT record, so the reply carries one (RFC 6891 §6.1.1).
    NotImp {
        question: Option<(usize, usize)>,
        edns: bool,
    },
}

#[inline]
fn u16_at(p: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(i)?, *p.get(i + 1)?]))
}

/// Skip a possibly compressed name; returns the offset after it.
fn skip_name(p: &[u8], mut i: usize) -> Option<usize> {
    let mut total = 0usize;
    loop {
        let len = *p.get(i)? as usize;
        match len & 0xC0 {
            0x00 => {
                i += 1;
                if len == 0 {
                    return Some(i);
                }
                total += len + 1;
                if total > MAX_NAME_LEN || i + len > p.len() {
                    return None;
                }
                i += len;
            }
            0xC0 => {
                p.get(i + 1)?;
                return Some(i + 2);
            }
            _ => return None,
        }
    }
}

/// Parse an uncompressed question name starting at `i`.
fn parse_qname(p: &[u8], start: usize, q: &mut QName) -> Option<usize> {
    // First walk the label lengths, then copy the whole name once and
    // lowercase it in place (length octets are < 0x40, untouched by ASCII
    // lowercasing).
    let mut i = start;
    let mut n = 0usize;
    q.nlabels = 0;
    loop {
        let len = *p.get(i)? as usize;
        if len & 0xC0 != 0 {
            // Compression in a question has nothing earlier to point to;
            // extended label types are obsolete (RFC 6891 §5).
            return None;
        }
        if q.nlabels >= q.offs.len() {
            return None;
        }
        q.offs[q.nlabels] = n as u8;
        q.nlabels += 1;
        n += len + 1;
        if n > MAX_NAME_LEN {
            return None;
        }
        i += len + 1;
        if len == 0 {
            break;
        }
    }
    let name = p.get(start..i)?;
    q.lower[..n].copy_from_slice(name);
    q.lower[..n].make_ascii_lowercase();
    q.len = n;
    Some(i)
}

/// Header-only view used for error replies.
pub fn header_id_flags(p: &[u8]) -> Option<(u16, u16)> {
    Some((u16_at(p, 0)?, u16_at(p, 2)?))
}

/// Parse a query packet.
///
/// Every section is walked, even when the question already makes the query
/// an error, so that an error reply carries an OPT whenever the query had
/// one (RFC 6891 §6.1.1). Errors, in order: opcode other than QUERY
/// (NOTIMP); a question count other than 1 (FORMERR; 0 only for a cookie
/// request, RFC 7873 §5.4); a malformed section, an OPT or TSIG outside the
/// additional section, a second OPT (RFC 6891 §6.1.1), a TSIG that is not
/// the last record (RFC 8945 §5.2) or a malformed OPT of version 0 (all
/// FORMERR).
pub fn parse_query(p: &[u8], q: &mut Query) -> Result<(), ParseError> {
    if p.len() < HEADER_LEN {
        return Err(ParseError::Drop);
    }
    let flags = u16_at(p, 2).unwrap_or(0);
    if flags & 0x8000 != 0 {
        return Err(ParseError::Drop);
    }
    q.id = u16_at(p, 0).unwrap_or(0);
    q.opcode = ((flags >> 11) & 0xF) as u8;
    q.rd = flags & 0x0100 != 0;
    q.cd = flags & 0x0010 != 0;
    q.edns = None;
    q.cookie = None;
    q.tsig = None;
    let qd = u16_at(p, 4).unwrap_or(0);
    let an = u16_at(p, 6).unwrap_or(0);
    let ns = u16_at(p, 8).unwrap_or(0);
    let ar = u16_at(p, 10).unwrap_or(0);

    let mut question = None;
    let mut i = HEADER_LEN;
    if qd == 1
        && let Some(end) = parse_qname(p, i, &mut q.qname)
        && let (Some(t), Some(c)) = (u16_at(p, end), u16_at(p, end + 2))
    {
        q.qtype = t;
        q.qclass = c;
        question = Some((i, end + 4));
        i = end + 4;
    }
    // QDCOUNT 0 is allowed only to ask for a server cookie (RFC 7873
    // §5.4); whether the OPT has one is known after the sections.
    let cookie_only = (qd == 0 && q.opcode == 0).then_some((HEADER_LEN, HEADER_LEN));
    let qrange = question.or(cookie_only);
    if qrange.is_none() {
        // Not answerable, but the rest is still read for the OPT.
        i = skip_questions(p, HEADER_LEN, qd).unwrap_or(p.len());
    }

    // Answer and authority sections of a query carry nothing we use; they
    // still have to be well formed. `saw_opt` remembers an OPT in the
    // additional section even when it is malformed, or the query is bad
    // for another reason: the error reply then carries an OPT (RFC 6891
    // §6.1.1, §7). `misplaced`: a record where RFC 6891 or RFC 8945 does
    // not allow it; the walk goes on to find the OPT.
    let mut saw_opt = false;
    let mut misplaced = false;
    let sections = (|| -> Option<()> {
        for _ in 0..(an as usize + ns as usize) {
            let after_name = skip_name(p, i)?;
            let rtype = u16_at(p, after_name)?;
            misplaced |= rtype == rtype::OPT || rtype == rtype::TSIG;
            i = skip_rr(p, i)?;
        }
        for k in 0..ar {
            let name_start = i;
            let after_name = skip_name(p, i)?;
            let rtype = u16_at(p, after_name)?;
            let end = skip_rr(p, i)?;
            if rtype == rtype::OPT {
                if saw_opt {
                    // RFC 6891 §6.1.1: more than one OPT is FORMERR.
                    misplaced = true;
                }
                saw_opt = true;
                if after_name != name_start + 1 || p[name_start] != 0 {
                    misplaced = true;
                } else if q.edns.is_none() {
                    match parse_opt(p, after_name) {
                        Some((edns, cookie)) => {
                            q.edns = Some(edns);
                            q.cookie = cookie;
                        }
                        None => misplaced = true,
                    }
                }
            } else if rtype == rtype::TSIG {
                // RFC 8945 §5.2: the last record, and only one.
                match parse_tsig(p, name_start, after_name, end) {
                    Some(t) if k + 1 == ar => q.tsig = Some(t),
                    _ => misplaced = true,
                }
            }
            i = end;
        }
        Some(())
    })();
    if q.opcode != 0 {
        return Err(ParseError::NotImp {
            question: qrange,
            edns: saw_opt,
        });
    }
    let Some(qrange) = qrange else {
        return Err(ParseError::FormErr {
            question: None,
            edns: saw_opt,
        });
    };
    q.question = qrange;
    if sections.is_none() || misplaced {
        return Err(ParseError::FormErr {
            question: Some(qrange),
            edns: saw_opt,
        });
    }
    if qrange.1 == qrange.0 {
        q.qtype = 0;
        q.qclass = 0;
        if q.cookie.is_none() {
            return Err(ParseError::FormErr {
                question: None,
                edns: saw_opt,
            });
        }
    }
    if qrange.1 > qrange.0 && is_meta_qtype(q.qtype) {
        return Err(meta_qtype(q.qtype, qrange, saw_opt));
    }
    Ok(())
}

/// OPT and 128-255, the range of meta-TYPEs and QTYPEs (RFC 6895 §3.1),
/// other than the three we answer: IXFR, AXFR (REFUSED) and ANY.
#[inline]
fn is_meta_qtype(t: u16) -> bool {
    t == rtype::OPT || ((128..=254).contains(&t) && t != rtype::IXFR && t != rtype::AXFR)
}

/// The error for a meta QTYPE, as BIND 9 answers: NOTIMP for MAILA and
/// MAILB (RFC 1035 §3.2.3: "mailbox-related records", obsolete), FORMERR for
/// the rest, which only ever travel beside a question (OPT, TKEY, TSIG) or
/// are not QTYPEs at all (RFC 9824 §3.5: NXNAME is FORMERR).
#[cold]
fn meta_qtype(t: u16, qrange: (usize, usize), edns: bool) -> ParseError {
    const MAILB: u16 = 253;
    const MAILA: u16 = 254;
    if t == MAILA || t == MAILB {
        ParseError::NotImp {
            question: Some(qrange),
            edns,
        }
    } else {
        ParseError::FormErr {
            question: Some(qrange),
            edns,
        }
    }
}

/// Skip `n` questions (names may be compressed); the offset after them.
fn skip_questions(p: &[u8], mut i: usize, n: u16) -> Option<usize> {
    for _ in 0..n {
        i = skip_name(p, i)? + 4;
        if i > p.len() {
            return None;
        }
    }
    Some(i)
}

/// Check a TSIG record (RFC 8945 §4.2): class ANY, and RDATA that holds an
/// algorithm name, Time Signed, Fudge, a MAC of MAC Size octets, Original
/// ID, Error and Other Data of Other Len octets, exactly. `start` is the
/// owner's offset, `i` the TYPE's, `end` the record's end.
fn parse_tsig(p: &[u8], start: usize, i: usize, end: usize) -> Option<TsigAt> {
    if u16_at(p, i + 2)? != 255 {
        return None;
    }
    let algorithm = i + 10;
    let time_fudge = skip_name(p, algorithm)?;
    let mac_len = usize::from(u16_at(p, time_fudge + 8)?);
    let after_mac = time_fudge + 10 + mac_len;
    let original_id = u16_at(p, after_mac)?;
    let other_len = usize::from(u16_at(p, after_mac + 4)?);
    if after_mac + 6 + other_len != end {
        return None;
    }
    Some(TsigAt {
        key: u16::try_from(start).ok()?,
        algorithm: u16::try_from(algorithm).ok()?,
        time_fudge: u16::try_from(time_fudge).ok()?,
        original_id,
    })
}

/// Copy the possibly compressed name at `at` into `out` as uncompressed
/// wire; returns its length. At most 255 octets and 64 pointers (a loop
/// ends there), as RFC 1035 §4.1.4 allows only earlier targets in practice.
pub fn read_name(p: &[u8], mut at: usize, out: &mut [u8; MAX_NAME_LEN]) -> Option<usize> {
    let mut n = 0;
    let mut hops = 0;
    loop {
        let len = usize::from(*p.get(at)?);
        match len & 0xC0 {
            0x00 => {
                if n + len + 1 > MAX_NAME_LEN {
                    return None;
                }
                out[n..n + len + 1].copy_from_slice(p.get(at..at + len + 1)?);
                n += len + 1;
                if len == 0 {
                    return Some(n);
                }
                at += len + 1;
            }
            0xC0 => {
                hops += 1;
                if hops > 64 {
                    return None;
                }
                at = usize::from(u16_at(p, at)? & 0x3FFF);
            }
            _ => return None,
        }
    }
}

/// Skip one resource record starting at its owner name.
fn skip_rr(p: &[u8], i: usize) -> Option<usize> {
    let j = skip_name(p, i)?;
    let rdlen = u16_at(p, j + 8)? as usize;
    let end = j + 10 + rdlen;
    (end <= p.len()).then_some(end)
}

/// Parse an OPT RR's fixed part and options; `i` points at its TYPE.
fn parse_opt(p: &[u8], i: usize) -> Option<(Edns, Option<CookieAt>)> {
    let udp_size = u16_at(p, i + 2)?;
    let ttl_hi = u16_at(p, i + 4)?;
    let ttl_lo = u16_at(p, i + 6)?;
    let rdlen = u16_at(p, i + 8)? as usize;
    let rdata_at = i + 10;
    let rdata = p.get(rdata_at..rdata_at + rdlen)?;
    let mut edns = Edns {
        udp_size,
        version: (ttl_hi & 0xFF) as u8,
        dnssec_ok: ttl_lo & 0x8000 != 0,
        ecs: None,
    };
    let mut cookie = None;
    if edns.version != 0 {
        // RFC 6891 §6.1.3: the version is checked first; the options of a
        // version we do not speak are not ours to judge (BADVERS follows).
        return Some((edns, None));
    }
    let mut j = 0;
    while j < rdata.len() {
        let code = u16_at(rdata, j)?;
        let len = u16_at(rdata, j + 2)? as usize;
        let data = rdata.get(j + 4..j + 4 + len)?;
        if code == OPT_ECS {
            if edns.ecs.is_some() {
                return None;
            }
            edns.ecs = Some(parse_ecs(data)?);
        } else if code == OPT_COOKIE && cookie.is_none() {
            // Malformed: FORMERR (RFC 7873 §5.2.2).
            QueryCookie::parse(data)?;
            cookie = Some(CookieAt {
                start: u16::try_from(rdata_at + j + 4).ok()?,
                len: len as u8,
            });
        }
        j += 4 + len;
    }
    Some((edns, cookie))
}

/// RFC 7871 §6 and §7.2.1 (a malformed option is FORMERR): family 1 or 2,
/// source prefix within the family, SCOPE PREFIX-LENGTH 0 ("In queries, it
/// MUST be set to 0", §6), exactly `ceil(source/8)` address bytes, no bits
/// set beyond the source prefix. The caller rejects an option whose length
/// runs past the OPT RDATA.
fn parse_ecs(d: &[u8]) -> Option<Ecs> {
    let family = u16_at(d, 0)?;
    let source = *d.get(2)?;
    let scope = *d.get(3)?;
    let max = match family {
        1 => 32,
        2 => 128,
        _ => return None,
    };
    if source > max || scope != 0 {
        return None;
    }
    let need = (source as usize).div_ceil(8);
    let addr = &d[4..];
    if addr.len() != need {
        return None;
    }
    if source % 8 != 0 && need > 0 {
        let mask = 0xFFu8 >> (source % 8);
        if addr[need - 1] & mask != 0 {
            return None;
        }
    }
    let mut a = [0u8; 16];
    a[..need].copy_from_slice(addr);
    Some(Ecs {
        family,
        source,
        scope,
        addr: a,
        addr_len: need as u8,
    })
}

impl Default for Query {
    fn default() -> Self {
        Self {
            id: 0,
            opcode: 0,
            rd: false,
            cd: false,
            qname: QName {
                lower: [0; MAX_NAME_LEN],
                len: 0,
                offs: [0; 128],
                nlabels: 0,
            },
            question: (0, 0),
            qtype: 0,
            qclass: 0,
            edns: None,
            cookie: None,
            tsig: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], qtype: u16, extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&arcount.to_be_bytes());
        p.extend_from_slice(name);
        p.extend_from_slice(&qtype.to_be_bytes());
        p.extend_from_slice(&1u16.to_be_bytes());
        p.extend_from_slice(extra);
        p
    }

    fn opt(options: &[u8]) -> Vec<u8> {
        let mut o = vec![0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0];
        o.extend_from_slice(&(options.len() as u16).to_be_bytes());
        o.extend_from_slice(options);
        o
    }

    #[test]
    fn parses_question_and_lowercases() {
        let p = query(b"\x03WwW\x04Test\x00", 1, &[], 0);
        let mut q = Query::default();
        parse_query(&p, &mut q).unwrap();
        assert_eq!(q.qname.lower(), b"\x03www\x04test\x00");
        assert_eq!(q.qname.offs(), &[0, 4, 9]);
        assert_eq!((q.id, q.qtype, q.qclass, q.rd), (0x1234, 1, 1, true));
        assert!(q.edns.is_none());
    }

    #[test]
    fn parses_edns_and_ecs() {
        let ecs = [0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2];
        let p = query(b"\x01a\x00", 1, &opt(&ecs), 1);
        let mut q = Query::default();
        parse_query(&p, &mut q).unwrap();
        let e = q.edns.unwrap();
        assert_eq!((e.udp_size, e.version, e.dnssec_ok), (1232, 0, true));
        let s = e.ecs.unwrap();
        assert_eq!(
            (s.family, s.source, s.ip()),
            (1, 24, "192.0.2.0".parse::<IpAddr>().unwrap())
        );
    }

    #[test]
    fn rejects_bad_ecs_and_double_opt() {
        let mut q = Query::default();
        // bits beyond the source prefix (/23 with the 24th bit set)
        let p = query(
            b"\x01a\x00",
            1,
            &opt(&[0, 8, 0, 7, 0, 1, 23, 0, 192, 0, 3]),
            1,
        );
        assert!(matches!(
            parse_query(&p, &mut q),
            Err(ParseError::FormErr { .. })
        ));
        // wrong address length
        let p = query(
            b"\x01a\x00",
            1,
            &opt(&[0, 8, 0, 8, 0, 1, 24, 0, 192, 0, 2, 0]),
            1,
        );
        assert!(matches!(
            parse_query(&p, &mut q),
            Err(ParseError::FormErr { .. })
        ));
        // every other malformed option (RFC 7871 §6, §7.2.1)
        for (what, ecs) in [
            (
                "non-zero scope in a query",
                &[0, 8, 0, 7, 0, 1, 24, 24, 192, 0, 2][..],
            ),
            ("non-zero scope, source 0", &[0, 8, 0, 4, 0, 1, 0, 1][..]),
            ("unknown family", &[0, 8, 0, 5, 0, 3, 8, 0, 10][..]),
            ("family 0", &[0, 8, 0, 4, 0, 0, 0, 0][..]),
            (
                "IPv4 source /33",
                &[0, 8, 0, 9, 0, 1, 33, 0, 192, 0, 2, 0, 0][..],
            ),
            (
                "IPv6 source /129",
                &[
                    0, 8, 0, 21, 0, 2, 129, 0, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
                    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
                ][..],
            ),
            (
                "IPv6 address bytes short",
                &[0, 8, 0, 8, 0, 2, 48, 0, 0x20, 0x01, 0x0d, 0xb8][..],
            ),
            ("truncated fixed part", &[0, 8, 0, 3, 0, 1, 24][..]),
            (
                "option longer than the OPT RDATA",
                &[0, 8, 0, 10, 0, 1, 24, 0, 192, 0][..],
            ),
            (
                "IPv6 bits beyond /47",
                &[0, 8, 0, 10, 0, 2, 47, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 1][..],
            ),
        ] {
            let p = query(b"\x01a\x00", 1, &opt(ecs), 1);
            assert!(
                matches!(
                    parse_query(&p, &mut q),
                    Err(ParseError::FormErr { edns: true, .. })
                ),
                "{what}"
            );
        }
        // and well-formed edge cases parse
        for ecs in [
            &[0, 8, 0, 4, 0, 1, 0, 0][..],
            &[0, 8, 0, 4, 0, 2, 0, 0][..],
            &[0, 8, 0, 8, 0, 1, 32, 0, 192, 0, 2, 1][..],
            &[0, 8, 0, 10, 0, 2, 47, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0][..],
        ] {
            let p = query(b"\x01a\x00", 1, &opt(ecs), 1);
            assert!(parse_query(&p, &mut q).is_ok(), "{ecs:?}");
        }
        let mut two = opt(&[]);
        two.extend(opt(&[]));
        let p = query(b"\x01a\x00", 1, &two, 2);
        assert!(matches!(
            parse_query(&p, &mut q),
            Err(ParseError::FormErr { .. })
        ));
    }

    #[test]
    fn drops_short_and_responses_and_fuzz_never_panics() {
        let mut q = Query::default();
        assert_eq!(parse_query(&[0; 11], &mut q), Err(ParseError::Drop));
        let mut p = query(b"\x01a\x00", 1, &[], 0);
        p[2] |= 0x80;
        assert_eq!(parse_query(&p, &mut q), Err(ParseError::Drop));
        // every truncation and a byte flip at every position must not panic
        let base = query(
            b"\x03www\x04test\x00",
            1,
            &opt(&[0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2]),
            1,
        );
        for n in 0..base.len() {
            let _ = parse_query(&base[..n], &mut q);
            for v in [0u8, 0x3f, 0xc0, 0xff] {
                let mut m = base.clone();
                m[n] = v;
                let _ = parse_query(&m, &mut q);
            }
        }
    }
}
