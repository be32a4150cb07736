//! Answer semantics: RFC 1034 §4.3.2 lookup, RFC 2308 negative answers,
//! RFC 4592 wildcards, RFC 6891 EDNS, RFC 7871 Client Subnet, RFC 8482 ANY.
//!
//! One [`Worker`] per listener task holds the reusable buffers and the RNG;
//! [`Worker::respond`] is the whole query path after the socket.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::cookie::{self, CookieJar, REPLY_COOKIE_LEN, Verdict};
use super::wire::{self, Edns, ParseError, Query};
use super::writer::{Full, Owner, Section, Writer};
use crate::geoip::locate_client;
use crate::metrics::NO_ZONE;
use crate::policy::{self, ClientInfo, ClientSubnet, Decision, Family, Outcome};
use crate::snapshot::Snapshot;
use crate::zone::name::label_offsets;
use crate::zone::{Found, Node, Rrset, Zone, rtype};

pub const RCODE_NOERROR: u16 = 0;
pub const RCODE_FORMERR: u16 = 1;
pub const RCODE_SERVFAIL: u16 = 2;
pub const RCODE_NXDOMAIN: u16 = 3;
pub const RCODE_NOTIMP: u16 = 4;
pub const RCODE_REFUSED: u16 = 5;
/// RFC 8945 §5.2.2: the query's TSIG key is not one we know.
pub const RCODE_NOTAUTH: u16 = 9;
/// TSIG error BADKEY (RFC 8945 §5.2.2).
const TSIG_BADKEY: u16 = 17;
/// Extended RCODE 16 (RFC 6891 §6.1.3): upper 8 bits go in the OPT TTL.
pub const RCODE_BADVERS: u16 = 16;

/// QCLASS `*` (RFC 1035 §3.2.5).
const QCLASS_ANY: u16 = 255;

const FLAG_QR: u16 = 0x8000;
const FLAG_AA: u16 = 0x0400;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const FLAG_CD: u16 = 0x0010;

/// Longest CNAME chain followed inside our zones.
const MAX_CHAIN: usize = 12;
/// Most names collected for additional-section processing.
const MAX_ADDITIONAL: usize = 16;

/// How the query arrived: UDP answers are limited to the client's EDNS
/// payload size (RFC 6891 §6.2.5) and get one RRset for ANY (RFC 8482 §4.2);
/// TCP answers may use 64 KiB and every RRset.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Per-task query state: buffers, RNG, and the policy decision, reused
/// across queries so the steady state allocates nothing.
pub struct Worker {
    query: Query,
    decision: Decision,
    rng: SmallRng,
    /// Which copy of the snapshot's counters this worker bumps.
    shard: usize,
    /// Answer sampling: (answers left until the next sample, LCG state).
    sample: (u32, u32),
    /// DNS cookie secrets and policy; `None`: COOKIE options are ignored.
    cookies: Option<Arc<CookieJar>>,
    /// The last query answered carried a valid server cookie.
    cookie_valid: bool,
}

impl Default for Worker {
    fn default() -> Self {
        Self::new(rand::random())
    }
}

/// What the lookup produced, before EDNS and the header are added.
#[derive(Debug, Clone, Copy)]
struct Res {
    rcode: u16,
    aa: bool,
    tc: bool,
    ecs_scope: u8,
}

impl Worker {
    pub fn new(seed: u64) -> Self {
        Self {
            query: Query::default(),
            decision: Decision::default(),
            rng: SmallRng::seed_from_u64(seed),
            shard: crate::metrics::next_shard(),
            sample: (1, seed as u32 | 1),
            cookies: None,
            cookie_valid: false,
        }
    }

    /// Count one answered query in the snapshot's counters.
    #[inline]
    fn count(&self, snap: &Snapshot, t: Transport, qtype: u16, rcode: u16, zone: u32, ecs: bool) {
        let t = match t {
            Transport::Udp => 0,
            Transport::Tcp => 1,
        };
        snap.counters.query(self.shard, zone, t, qtype, rcode, ecs);
    }

    /// [`Self::count`] for the rare replies made before the lookup
    /// (malformed or unsupported queries), out of line.
    #[cold]
    #[inline(never)]
    fn count_error(&self, snap: &Snapshot, t: Transport, qtype: u16, rcode: u16, ecs: bool) {
        self.count(snap, t, qtype, rcode, NO_ZONE, ecs);
    }

    /// Answer DNS cookies (RFC 7873, RFC 9018) with `jar`'s secrets.
    pub fn with_cookies(mut self, jar: Option<Arc<CookieJar>>) -> Self {
        self.cookies = jar;
        self
    }

    /// Replace the cookie secrets (a worker reused across listeners).
    pub fn set_cookies(&mut self, jar: Option<Arc<CookieJar>>) {
        self.cookies = jar;
    }

    /// Whether the query last answered by [`Self::respond`] carried a valid
    /// server cookie: its source address is proven (RFC 7873 §1).
    pub fn cookie_valid(&self) -> bool {
        self.cookie_valid
    }

    /// The OPT of an error reply to the query just parsed: our payload
    /// size, the DO bit copied, and our COOKIE option when cookies are on
    /// and the query's COOKIE option parsed (RFC 7873 §5.2).
    #[cold]
    #[inline(never)]
    fn error_opt(
        &self,
        snap: &Snapshot,
        packet: &[u8],
        src: SocketAddr,
        dnssec_ok: bool,
    ) -> ErrorOpt {
        let cookie = match (&self.cookies, self.query.cookie) {
            (Some(jar), Some(at)) => cookie_verdict(jar, packet, at, src).map(|v| v.option),
            _ => None,
        };
        ErrorOpt {
            payload: snap.limits.udp_payload,
            dnssec_ok,
            cookie,
        }
    }

    /// Answer `packet` from `src` into `out`. Returns false when the packet
    /// gets no reply at all (too short for a header, or a response).
    pub fn respond(
        &mut self,
        snap: &Snapshot,
        packet: &[u8],
        src: SocketAddr,
        transport: Transport,
        out: &mut Vec<u8>,
    ) -> bool {
        self.cookie_valid = false;
        let parsed = wire::parse_query(packet, &mut self.query);
        // The DO bit is copied when the OPT parsed (RFC 3225 §3).
        let dnssec_ok = self.query.edns.is_some_and(|e| e.dnssec_ok);
        match parsed {
            Ok(()) => {}
            Err(ParseError::Drop) => return false,
            Err(ParseError::NotImp { question, edns }) => {
                let opt = edns.then(|| self.error_opt(snap, packet, src, dnssec_ok));
                error_reply(packet, question, RCODE_NOTIMP, opt, out);
                self.count_error(snap, transport, 0, RCODE_NOTIMP, false);
                return true;
            }
            Err(ParseError::FormErr { question, edns }) => {
                let opt = edns.then(|| self.error_opt(snap, packet, src, dnssec_ok));
                error_reply(packet, question, RCODE_FORMERR, opt, out);
                self.count_error(snap, transport, 0, RCODE_FORMERR, false);
                return true;
            }
        }
        if let Some(t) = self.query.tsig
            && self.query.edns.is_none_or(|e| e.version == 0)
        {
            tsig_badkey(
                packet,
                &self.query,
                t,
                transport,
                snap.limits.udp_payload,
                out,
            );
            let qtype = self.query.qtype;
            self.count_error(snap, transport, qtype, RCODE_NOTAUTH, false);
            return true;
        }
        let q = &self.query;
        let edns = q.edns;
        let cookie = match (&self.cookies, q.cookie) {
            (Some(jar), Some(at)) => cookie_verdict(jar, packet, at, src),
            _ => None,
        };
        self.cookie_valid = cookie.is_some_and(|v| v.valid);
        let limit = match (transport, edns) {
            (Transport::Tcp, _) => u16::MAX as usize,
            (Transport::Udp, None) => 512,
            (Transport::Udp, Some(e)) => {
                (e.udp_size.max(512)).min(snap.limits.udp_payload.max(512)) as usize
            }
        };
        let opt_len = edns.map_or(0, |e| 11 + e.ecs.map_or(0, |s| 8 + s.addr_len as usize))
            + cookie.map_or(0, |_| 4 + REPLY_COOKIE_LEN);
        let mut w = Writer::new(out, limit.saturating_sub(opt_len));
        let question = &packet[q.question.0..q.question.1];
        if !question.is_empty() && w.question(question).is_err() {
            // A question that cannot fit even alone (only over tiny limits).
            error_reply(packet, None, RCODE_FORMERR, None, w.buf);
            let (qtype, ecs) = (q.qtype, edns.is_some_and(|e| e.ecs.is_some()));
            self.count_error(snap, transport, qtype, RCODE_FORMERR, ecs);
            return true;
        }
        let after_question = w.mark();

        let plain = |rcode| Res {
            rcode,
            aa: false,
            tc: false,
            ecs_scope: 0,
        };
        let mut zone = NO_ZONE;
        let res = if edns.is_some_and(|e| e.version > 0) {
            plain(RCODE_BADVERS)
        } else if question.is_empty() {
            // Only a server cookie was asked for (RFC 7873 §5.4).
            plain(RCODE_NOERROR)
        } else if transport == Transport::Udp
            && cookie.is_some_and(|v| !v.valid)
            && self.cookies.as_ref().is_some_and(|j| j.require)
        {
            // RFC 7873 §5.2.3 choice 2: no answer until the client proves
            // its address with the cookie it gets here.
            plain(cookie::RCODE_BADCOOKIE)
        } else {
            let client = ClientInfo::new(
                src.ip(),
                edns.and_then(|e| e.ecs).and_then(|s| {
                    // Source prefix 0 means "do not use my address" (RFC
                    // 7871 §7.1.2): answer as without ECS, from the
                    // resolver's address, with scope 0.
                    (s.source > 0).then(|| ClientSubnet {
                        addr: s.ip(),
                        source_prefix: s.source,
                    })
                }),
            );
            let mut ctx = Ctx {
                snap,
                w: &mut w,
                client,
                transport,
                qtype: q.qtype,
                decision: &mut self.decision,
                rng: &mut self.rng,
                additional: [None; 3],
                ecs_scope: 0,
                shard: self.shard,
                zone: NO_ZONE,
                sample: &mut self.sample,
            };
            if q.qclass != 1 && q.qclass != QCLASS_ANY {
                Res {
                    rcode: RCODE_REFUSED,
                    aa: false,
                    tc: false,
                    ecs_scope: 0,
                }
            } else if q.qtype == rtype::AXFR || q.qtype == rtype::IXFR {
                // Zone transfers are not offered.
                Res {
                    rcode: RCODE_REFUSED,
                    aa: false,
                    tc: false,
                    ecs_scope: 0,
                }
            } else {
                let res = ctx.resolve(&q.qname.lower[..q.qname.len], q.qname.offs());
                zone = ctx.zone;
                res
            }
        };
        let mut tc = res.tc;
        let mut rcode = res.rcode;
        if tc {
            // RFC 2181 §9: required data did not fit; send the question only.
            w.rollback(after_question);
        }
        if rcode == RCODE_SERVFAIL {
            w.rollback(after_question);
        }
        if let Some(e) = edns {
            w.set_limit(limit);
            let ck = cookie.as_ref().map(|v: &Verdict| &v.option);
            if write_opt(&mut w, e, rcode, res.ecs_scope, snap.limits.udp_payload, ck).is_err() {
                w.rollback(after_question);
                tc = true;
                let _ = write_opt(&mut w, e, rcode, res.ecs_scope, snap.limits.udp_payload, ck);
            }
        }
        let (qtype, ecs) = (q.qtype, edns.is_some_and(|e| e.ecs.is_some()));
        self.count(snap, transport, qtype, rcode, zone, ecs);
        if rcode > 0xF {
            rcode &= 0xF;
        }
        let mut flags = FLAG_QR | ((q.opcode as u16) << 11) | rcode;
        // We hold class IN only, so a QCLASS=* answer is the IN lookup's,
        // relayed: "responses to QCLASS=* queries can never be
        // authoritative" (RFC 1034 §3.7.1). NXDOMAIN and its SOA stay, as
        // a resolver relays a negative answer (RFC 2308 §2.1).
        if res.aa && q.qclass != QCLASS_ANY {
            flags |= FLAG_AA;
        }
        if tc {
            flags |= FLAG_TC;
        }
        if q.rd {
            flags |= FLAG_RD;
        }
        if q.cd {
            flags |= FLAG_CD;
        }
        w.finish_header(q.id, flags);
        true
    }
}

/// The verdict on the COOKIE option at `at` of `packet`. Out of line: most
/// queries carry no cookie, and keeping this out of `respond` keeps the
/// lookup inlined there.
#[inline(never)]
fn cookie_verdict(
    jar: &CookieJar,
    packet: &[u8],
    at: wire::CookieAt,
    src: SocketAddr,
) -> Option<Verdict> {
    let c = at.read(packet)?;
    Some(jar.verdict(&c, src.ip(), cookie::unix_now()))
}

/// OPT record of the reply (RFC 6891 §6.1.2): our payload size, version 0,
/// the DO bit copied (RFC 3225 §3), the extended RCODE, the ECS option
/// echoed with our scope (RFC 7871 §7.2.1), and our COOKIE option (RFC 7873
/// §5.2). Other options are not echoed.
fn write_opt(
    w: &mut Writer<'_>,
    e: Edns,
    rcode: u16,
    scope: u8,
    payload: u16,
    cookie: Option<&[u8; REPLY_COOKIE_LEN]>,
) -> Result<(), Full> {
    w.section(Section::Additional);
    let ext = ((rcode >> 4) & 0xFF) as u32;
    let ttl = (ext << 24) | if e.dnssec_ok { 0x8000 } else { 0 };
    let mut rdata = [0u8; 24 + 4 + REPLY_COOKIE_LEN];
    let mut n = 0;
    if let Some(s) = e.ecs {
        let len = 4 + s.addr_len as usize;
        rdata[0..2].copy_from_slice(&wire::OPT_ECS.to_be_bytes());
        rdata[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        rdata[4..6].copy_from_slice(&s.family.to_be_bytes());
        rdata[6] = s.source;
        rdata[7] = scope.min(if s.family == 1 { 32 } else { 128 });
        rdata[8..8 + s.addr_len as usize].copy_from_slice(&s.addr[..s.addr_len as usize]);
        n = 4 + len;
    }
    if let Some(c) = cookie {
        rdata[n..n + 2].copy_from_slice(&cookie::OPT_COOKIE.to_be_bytes());
        rdata[n + 2..n + 4].copy_from_slice(&(REPLY_COOKIE_LEN as u16).to_be_bytes());
        rdata[n + 4..n + 4 + REPLY_COOKIE_LEN].copy_from_slice(c);
        n += 4 + REPLY_COOKIE_LEN;
    }
    w.put(&[0])?;
    w.put_u16(rtype::OPT)?;
    w.put_u16(payload)?;
    w.put_u32(ttl)?;
    w.put_u16(n as u16)?;
    w.put(&rdata[..n])?;
    w.counts.ar += 1;
    Ok(())
}

/// The OPT of a FORMERR/NOTIMP reply.
struct ErrorOpt {
    /// Our UDP payload size.
    payload: u16,
    /// The query's DO bit, copied (RFC 3225 §3; clear when the OPT did not
    /// parse).
    dnssec_ok: bool,
    /// Our COOKIE option, when the query's parsed (RFC 7873 §5.2).
    cookie: Option<[u8; REPLY_COOKIE_LEN]>,
}

/// FORMERR/NOTIMP reply: header echo, the question if it parsed, and an
/// OPT without other options when the query had an OPT, even a malformed
/// one (RFC 6891 §6.1.1, §7).
fn error_reply(
    packet: &[u8],
    question: Option<(usize, usize)>,
    rcode: u16,
    opt: Option<ErrorOpt>,
    out: &mut Vec<u8>,
) {
    let (id, qflags) = wire::header_id_flags(packet).unwrap_or((0, 0));
    let mut w = Writer::new(out, u16::MAX as usize);
    if let Some((a, b)) = question
        && b > a
    {
        let _ = w.question(&packet[a..b]);
    }
    if let Some(o) = opt {
        let bare = Edns {
            udp_size: o.payload,
            version: 0,
            dnssec_ok: o.dnssec_ok,
            ecs: None,
        };
        let _ = write_opt(&mut w, bare, rcode, 0, o.payload, o.cookie.as_ref());
    }
    let flags = FLAG_QR | (qflags & (0x7800 | FLAG_RD | FLAG_CD)) | rcode;
    w.finish_header(id, flags);
}

/// The reply to a TSIG-signed query: dnslb holds no TSIG keys, so every
/// key is unknown. NOTAUTH with a TSIG record carrying error BADKEY,
/// unsigned (MAC Size 0, RFC 8945 §5.2.2, §5.3.2): the key and algorithm
/// names, Time Signed, Fudge and Original ID copied from the query, as
/// Knot, NSD and BIND answer. The question is echoed, and an OPT goes
/// before the TSIG, which stays last (RFC 8945 §5.1). A reply over the UDP
/// limit keeps the header and question with TC set.
#[cold]
#[inline(never)]
fn tsig_badkey(
    packet: &[u8],
    q: &Query,
    t: wire::TsigAt,
    transport: Transport,
    payload: u16,
    out: &mut Vec<u8>,
) {
    let limit = match (transport, q.edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, None) => 512,
        (Transport::Udp, Some(e)) => usize::from(e.udp_size.max(512).min(payload.max(512))),
    };
    let mut w = Writer::new(out, limit);
    let question = &packet[q.question.0..q.question.1];
    let mut tc = !question.is_empty() && w.question(question).is_err();
    let after_question = w.mark();
    let written = (|| -> Result<(), Full> {
        if let Some(e) = q.edns {
            let bare = Edns {
                udp_size: payload,
                version: 0,
                dnssec_ok: e.dnssec_ok,
                ecs: None,
            };
            write_opt(&mut w, bare, RCODE_NOTAUTH, 0, payload, None)?;
        }
        let mut name = [0u8; crate::zone::name::MAX_NAME_LEN];
        let n = wire::read_name(packet, usize::from(t.key), &mut name).ok_or(Full)?;
        w.put(&name[..n])?;
        w.put_u16(rtype::TSIG)?;
        w.put_u16(QCLASS_ANY)?;
        w.put_u32(0)?;
        let n = wire::read_name(packet, usize::from(t.algorithm), &mut name).ok_or(Full)?;
        let at = usize::from(t.time_fudge);
        let time_fudge = packet.get(at..at + 8).ok_or(Full)?;
        w.put_u16((n + 8 + 2 + 2 + 2 + 2) as u16)?;
        w.put(&name[..n])?;
        w.put(time_fudge)?;
        w.put_u16(0)?;
        w.put_u16(t.original_id)?;
        w.put_u16(TSIG_BADKEY)?;
        w.put_u16(0)?;
        w.counts.ar += 1;
        Ok(())
    })();
    if written.is_err() {
        w.rollback(after_question);
        tc = true;
    }
    let mut flags = FLAG_QR | ((q.opcode as u16) << 11) | RCODE_NOTAUTH;
    if tc {
        flags |= FLAG_TC;
    }
    if q.rd {
        flags |= FLAG_RD;
    }
    if q.cd {
        flags |= FLAG_CD;
    }
    w.finish_header(q.id, flags);
}

struct Ctx<'s, 'w, 'b> {
    snap: &'s Snapshot,
    w: &'w mut Writer<'b>,
    client: ClientInfo,
    transport: Transport,
    qtype: u16,
    decision: &'w mut Decision,
    rng: &'w mut SmallRng,
    /// The answered NS, MX and SRV RRsets whose targets get addresses in
    /// additional: one for a plain query, up to one of each type for ANY.
    additional: [Option<Rrset<'s>>; 3],
    ecs_scope: u8,
    /// The worker's counter shard.
    shard: usize,
    /// Index of the zone the question landed in, for the counters.
    zone: u32,
    /// The worker's answer sampling state.
    sample: &'w mut (u32, u32),
}

impl<'s> Ctx<'s, '_, '_> {
    fn res(&self, rcode: u16, aa: bool, tc: bool) -> Res {
        Res {
            rcode,
            aa,
            tc,
            ecs_scope: self.ecs_scope,
        }
    }

    /// Where `name` (lowercase wire, with label offsets) lands.
    #[inline]
    fn locate(&self, name: &[u8], offs: &[u8]) -> Option<Found<'s>> {
        self.snap.zones.locate(name, offs, self.qtype == rtype::DS)
    }

    // Inlined into its one caller, `respond` (a separate call cost ~40
    // instructions per query in spills and the call itself).
    #[inline(always)]
    fn resolve(&mut self, qname: &'s [u8], offs: &[u8]) -> Res {
        // The question's name stays in the worker; the chase continues with
        // names borrowed from the snapshot.
        let first = self.locate(qname, offs);
        let Some(first) = first else {
            return self.res(RCODE_REFUSED, false, false);
        };
        let (Found::Node(z, _)
        | Found::Wildcard(z, _)
        | Found::Referral(z, ..)
        | Found::NxDomain(z)) = first;
        self.zone = z.index;
        self.w.section(Section::Answer);
        let mut found = first;
        let mut owner = Owner::At(12);
        let mut chain = 0usize;
        // Names already answered for, to stop CNAME loops without repeating
        // records (RFC 2181 §5: no duplicate RRs).
        // Initialized on the first CNAME only: most answers have none.
        let mut seen: Option<[&[u8]; MAX_CHAIN + 1]> = None;
        loop {
            let outcome = match found {
                Found::Referral(zone, cut, node) => {
                    let r = self.referral(zone, cut, node);
                    // After a CNAME the answer so far is ours (AA); the
                    // referral tells the resolver where to go next
                    // (RFC 1034 §4.3.2 step 3b).
                    return Res {
                        aa: chain > 0 || r.aa,
                        ..r
                    };
                }
                Found::NxDomain(zone) => {
                    return self.negative(zone, RCODE_NXDOMAIN);
                }
                Found::Node(zone, node) | Found::Wildcard(zone, node) => {
                    self.answer_node(zone, node, owner)
                }
            };
            match outcome {
                Step::Done(res) => return res,
                Step::Chase(target) => {
                    chain += 1;
                    let seen = seen.get_or_insert_with(|| {
                        let mut a: [&[u8]; MAX_CHAIN + 1] = [&[]; MAX_CHAIN + 1];
                        a[0] = qname;
                        a
                    });
                    if chain > MAX_CHAIN || seen[..chain].contains(&target) {
                        return self.finish(RCODE_NOERROR, true);
                    }
                    seen[chain] = target;
                    let mut toffs = [0u8; 128];
                    let n = label_offsets(target, &mut toffs);
                    match self.locate(target, &toffs[..n]) {
                        Some(f) => {
                            found = f;
                            owner = Owner::Name(target);
                        }
                        // Target outside our zones: the resolver continues.
                        None => return self.finish(RCODE_NOERROR, true),
                    }
                }
            }
        }
    }

    /// Positive or NODATA answer at an existing node.
    fn answer_node(&mut self, zone: &'s Zone, node: Node<'s>, owner: Owner<'s>) -> Step<'s> {
        let qtype = self.qtype;
        if qtype == rtype::ANY {
            return Step::Done(self.answer_any(zone, node, owner));
        }
        if let (Some(lb), true) = (node.lb(), qtype == rtype::A || qtype == rtype::AAAA) {
            let family = if qtype == rtype::A {
                Family::V4
            } else {
                Family::V6
            };
            return Step::Done(self.answer_lb(zone, lb, family, owner));
        }
        if let Some(set) = node.rrset(qtype) {
            if self.write_set(owner, set).is_err() {
                return Step::Done(self.res(RCODE_NOERROR, true, true));
            }
            self.note_targets(set);
            return Step::Done(self.finish(RCODE_NOERROR, true));
        }
        // RRSIG, NSEC and KEY may live beside a CNAME (RFC 2181 §10.1,
        // RFC 4035 §2.5, RFC 3007 §4.4): a query for one is answered at
        // the CNAME's owner, data or NODATA, and not chased (as BIND and
        // Knot).
        let beside_cname = matches!(qtype, rtype::RRSIG | rtype::NSEC | 25);
        if let Some(cname) = node.rrset(rtype::CNAME).filter(|_| !beside_cname) {
            if self.write_set(owner, cname).is_err() {
                return Step::Done(self.res(RCODE_NOERROR, true, true));
            }
            if let Some(t) = cname.first_target() {
                return Step::Chase(t);
            }
        }
        Step::Done(self.negative(zone, RCODE_NOERROR))
    }

    /// RFC 8482: over UDP one RRset (the first by type, or the policy's
    /// addresses), over TCP every RRset at the name.
    fn answer_any(&mut self, zone: &'s Zone, node: Node<'s>, owner: Owner<'s>) -> Res {
        let all = self.transport == Transport::Tcp;
        let mut wrote = false;
        if let Some(lb) = node.lb() {
            for fam in [Family::V4, Family::V6] {
                if wrote && !all {
                    break;
                }
                match self.write_lb(lb, fam, owner) {
                    Err(Full) => return self.res(RCODE_NOERROR, true, true),
                    Ok(n) => wrote |= n > 0,
                }
            }
        }
        for set in node.rrsets() {
            if wrote && !all {
                break;
            }
            if node.lb().is_some() && (set.rtype() == rtype::A || set.rtype() == rtype::AAAA) {
                continue;
            }
            if self.write_set(owner, set).is_err() {
                return self.res(RCODE_NOERROR, true, true);
            }
            self.note_targets(set);
            wrote = true;
        }
        if !wrote {
            return self.negative(zone, RCODE_NOERROR);
        }
        self.finish(RCODE_NOERROR, true)
    }

    #[inline(always)]
    fn write_set(&mut self, owner: Owner<'_>, set: Rrset<'_>) -> Result<(), Full> {
        let (t, ttl) = (set.rtype(), set.ttl());
        for rd in set.rdatas() {
            self.w.rr(owner, t, ttl, &rd)?;
        }
        Ok(())
    }

    /// Write the policy's addresses; returns how many.
    ///
    /// A load-balanced answer is ours to size: the policy picks at most as
    /// many addresses as the reply has room for, and every one that fits is
    /// written, so a big pool answers with a subset instead of TC. Full
    /// only when not even one address fits.
    fn write_lb(&mut self, lb: u32, family: Family, owner: Owner<'_>) -> Result<usize, Full> {
        let Some(name) = self.snap.lb.get(lb as usize) else {
            return Ok(0);
        };
        // Only names whose answer depends on where the client is pay for
        // the lookup (custom networks, then the GeoIP database).
        if let Some(nets) = name.order.locator() {
            let db = self.snap.geoip.as_deref();
            let at = locate_client(nets, db, self.client.effective_addr());
            self.client.location = Some(at);
        }
        // Each record takes at least a 2-byte owner pointer, 10 bytes of
        // type, class, TTL and length, and the address.
        let per = 12 + if family == Family::V4 { 4 } else { 16 };
        let room = self.w.limit().saturating_sub(self.w.len()) / per;
        policy::answer_bounded(
            name,
            family,
            &self.client,
            &self.snap.health,
            self.rng,
            self.decision,
            room,
        );
        if let Some(ecs) = self.client.ecs {
            // Never more specific than what the resolver revealed.
            let scope = self.decision.ecs_scope.min(ecs.source_prefix);
            self.ecs_scope = self.ecs_scope.max(scope);
        }
        let counters = &self.snap.counters;
        counters.decided(self.shard, lb, self.decision.kind as usize);
        if self.decision.outcome == Outcome::ServFail {
            return Ok(0);
        }
        // Which addresses answered is sampled, about one answer in 16.5 at
        // random gaps of 1..=32: finding each address's counter on every
        // query would cost more than the rest of the counting together.
        if self.sample.0 <= 1 {
            sample_answer(self.sample, self.snap, self.shard, lb, &self.decision.addrs);
        } else {
            self.sample.0 -= 1;
        }
        let ttl = self.decision.ttl;
        let mut wrote = 0;
        for addr in &self.decision.addrs {
            let m = self.w.mark();
            let r = match addr {
                IpAddr::V4(a) => self.w.rr_raw(owner, rtype::A, ttl, &a.octets()),
                IpAddr::V6(a) => self.w.rr_raw(owner, rtype::AAAA, ttl, &a.octets()),
            };
            if r.is_err() {
                self.w.rollback(m);
                break;
            }
            wrote += 1;
        }
        if wrote == 0 && !self.decision.addrs.is_empty() {
            return Err(Full);
        }
        Ok(wrote)
    }

    fn answer_lb(&mut self, zone: &'s Zone, lb: u32, family: Family, owner: Owner<'_>) -> Res {
        match self.write_lb(lb, family, owner) {
            Err(Full) => self.res(RCODE_NOERROR, true, true),
            Ok(_) if self.decision.outcome == Outcome::ServFail => {
                self.res(RCODE_SERVFAIL, false, false)
            }
            Ok(0) => self.negative(zone, RCODE_NOERROR),
            Ok(_) => self.finish(RCODE_NOERROR, true),
        }
    }

    /// NXDOMAIN or NODATA: the zone's SOA in authority with the negative
    /// TTL, min(SOA TTL, SOA MINIMUM) (RFC 2308 §3, §5).
    fn negative(&mut self, zone: &'s Zone, rcode: u16) -> Res {
        self.w.section(Section::Authority);
        let soa = zone.soa();
        if self
            .w
            .rr(
                Owner::Name(&zone.origin_wire),
                rtype::SOA,
                zone.neg_ttl,
                &soa.rdatas().next().expect("an SOA has one record"),
            )
            .is_err()
        {
            return self.res(rcode, true, true);
        }
        self.res(rcode, true, false)
    }

    /// Delegation: NS of the cut in authority, glue in additional, AA clear.
    fn referral(&mut self, zone: &'s Zone, cut: &'s [u8], node: Node<'s>) -> Res {
        let Some(ns) = node.rrset(rtype::NS) else {
            return self.res(RCODE_SERVFAIL, false, false);
        };
        self.w.section(Section::Authority);
        for rd in ns.rdatas() {
            if self
                .w
                .rr(Owner::Name(cut), rtype::NS, ns.ttl(), &rd)
                .is_err()
            {
                return self.res(RCODE_NOERROR, false, true);
            }
        }
        self.w.section(Section::Additional);
        // Glue of in-domain servers (at or below the cut) is required
        // (RFC 9471 §3.1): without it the delegation cannot be followed,
        // so it goes first and sets TC when it does not fit. Sibling glue
        // is optional (§3.2): it fills what room is left.
        for in_domain in [true, false] {
            for t in ns.targets() {
                if at_or_below(t, cut) != in_domain {
                    continue;
                }
                let Some(n) = zone.node(t) else { continue };
                for ty in [rtype::A, rtype::AAAA] {
                    if let Some(set) = n.rrset(ty) {
                        let m = self.w.mark();
                        if self.write_set(Owner::Name(t), set).is_err() {
                            self.w.rollback(m);
                            if in_domain {
                                return self.res(RCODE_NOERROR, false, true);
                            }
                        }
                    }
                }
            }
        }
        self.res(RCODE_NOERROR, false, false)
    }

    fn note_targets(&mut self, set: Rrset<'s>) {
        let slot = match set.rtype() {
            rtype::NS => 0,
            rtype::MX => 1,
            rtype::SRV => 2,
            _ => return,
        };
        self.additional[slot] = Some(set);
    }

    /// Positive answer done: add addresses of NS/MX/SRV targets we serve
    /// (RFC 1034 §4.3.2 step 6), each target once however many records
    /// name it (two MX of one host, a host both NS and MX under ANY), as
    /// BIND. Optional data: dropped if it does not fit.
    fn finish(&mut self, rcode: u16, aa: bool) -> Res {
        self.w.section(Section::Additional);
        let sets = self.additional;
        let targets = sets.iter().flatten().flat_map(|set| set.targets());
        let mut done: [&[u8]; MAX_ADDITIONAL] = [&[]; MAX_ADDITIONAL];
        for (i, t) in targets.take(MAX_ADDITIONAL).enumerate() {
            done[i] = t;
            if done[..i].iter().any(|d| d.eq_ignore_ascii_case(t)) {
                continue;
            }
            let mut offs = [0u8; 128];
            let n = label_offsets(t, &mut offs);
            let Some((zone, _)) = self.snap.zones.find(t, &offs[..n]) else {
                continue;
            };
            let Some(node) = zone.node(t) else { continue };
            for ty in [rtype::A, rtype::AAAA] {
                if let Some(set) = node.rrset(ty) {
                    let m = self.w.mark();
                    if self.write_set(Owner::Name(t), set).is_err() {
                        self.w.rollback(m);
                    }
                }
            }
        }
        self.res(rcode, aa, false)
    }
}

/// Whether the wire name `name` is `apex` or below it, label by label
/// (not a byte suffix: `xb.test.` is not below `b.test.`), ignoring ASCII
/// case.
fn at_or_below(name: &[u8], apex: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() && name.len() - i > apex.len() {
        i += 1 + usize::from(name[i]);
    }
    name.get(i..)
        .is_some_and(|rest| rest.eq_ignore_ascii_case(apex))
}

/// Count a sampled answer and draw the gap to the next sample (1..=32).
/// Out of line and cold: it runs for about one answer in 16.5.
#[cold]
#[inline(never)]
fn sample_answer(
    sample: &mut (u32, u32),
    snap: &Snapshot,
    shard: usize,
    lb: u32,
    addrs: &[IpAddr],
) {
    sample.1 = sample.1.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
    sample.0 = 1 + (sample.1 >> 27);
    snap.counters.answered(shard, lb, addrs);
}

enum Step<'s> {
    Done(Res),
    Chase(&'s [u8]),
}

#[cfg(test)]
mod tests {
    use super::at_or_below;

    #[test]
    fn at_or_below_goes_by_labels() {
        let b = b"\x01b\x04test\x00";
        assert!(at_or_below(b, b));
        assert!(at_or_below(b"\x02ns\x01B\x04TEST\x00", b));
        assert!(!at_or_below(b"\x02xb\x04test\x00", b), "a byte suffix only");
        assert!(
            !at_or_below(b"\x03a\x01b\x04test\x00", b),
            "0x01 inside a label"
        );
        assert!(!at_or_below(b"\x04test\x00", b));
    }
}
