//! Talking to the server: hickory's real client over UDP and TCP for
//! ordinary queries, and raw sockets with hand-built packets for the edge
//! cases a client library will not send (malformed headers, two OPT
//! records, bad ECS), plus helpers to read replies at the wire level.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use hickory_net::client::Client;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_net::xfer::{DnsHandle, FirstAnswer};
use hickory_proto::op::{DnsRequest, DnsRequestOptions, Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, Record, RecordType};

/// How long a raw exchange waits for a reply that should come.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(3);

/// Transport a query goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Udp,
    Tcp,
}

pub const BOTH: [Proto; 2] = [Proto::Udp, Proto::Tcp];

/// A name exactly as written: `from_ascii` keeps case (`from_str` goes
/// through IDNA, which lowercases).
pub fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap_or_else(|e| panic!("bad name {s:?}: {e}"))
}

// ---------------------------------------------------------------------
// hickory client

/// A connected hickory client; its background task runs on the test's runtime.
pub async fn client(proto: Proto, addr: SocketAddr) -> Client<TokioRuntimeProvider> {
    match proto {
        Proto::Udp => {
            let conn = UdpClientStream::builder(addr, TokioRuntimeProvider::default())
                .with_timeout(Some(REPLY_TIMEOUT))
                .build();
            let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(conn);
            tokio::spawn(bg);
            client
        }
        Proto::Tcp => {
            let (stream, handle) = TcpClientStream::new(
                addr,
                None,
                Some(REPLY_TIMEOUT),
                TokioRuntimeProvider::default(),
            );
            let stream = stream.await.expect("tcp connect");
            let (client, bg) =
                Client::<TokioRuntimeProvider>::with_timeout(stream, handle, REPLY_TIMEOUT);
            tokio::spawn(bg);
            client
        }
    }
}

/// Options as a resolver would send them: EDNS on (hickory's default
/// payload), RD as given.
pub fn opts(rd: bool) -> DnsRequestOptions {
    let mut o = DnsRequestOptions::default();
    o.recursion_desired = rd;
    o
}

/// Send `query` with `options` through hickory's client; the decoded reply.
pub async fn ask_with(
    proto: Proto,
    addr: SocketAddr,
    query: Query,
    options: DnsRequestOptions,
) -> Message {
    let c = client(proto, addr).await;
    let q = format!("{} {:?} {:?}", query.name(), query.query_type(), proto);
    c.send(DnsRequest::from_query(query, options))
        .first_answer()
        .await
        .unwrap_or_else(|e| panic!("{q}: no answer: {e}"))
        .into_message()
}

/// `name IN rtype`, RD clear, EDNS on, through hickory's client.
pub async fn ask(proto: Proto, addr: SocketAddr, qname: &str, rtype: RecordType) -> Message {
    ask_with(proto, addr, Query::query(name(qname), rtype), opts(false)).await
}

// ---------------------------------------------------------------------
// raw packets

/// A query message: id 0x4242, RD clear, no EDNS.
pub fn query_msg(qname: &str, rtype: RecordType) -> Message {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(name(qname), rtype));
    m
}

/// The same with an OPT record advertising `payload`.
pub fn query_msg_edns(qname: &str, rtype: RecordType, payload: u16) -> Message {
    let mut m = query_msg(qname, rtype);
    let mut e = Edns::new();
    e.set_max_payload(payload).set_version(0);
    m.set_edns(e);
    m
}

pub fn encode(m: &Message) -> Vec<u8> {
    m.to_vec().expect("encode query")
}

pub fn decode(raw: &[u8]) -> Message {
    Message::from_vec(raw).unwrap_or_else(|e| panic!("reply does not decode ({e}): {raw:02x?}"))
}

/// A hand-built query packet: header with the given counts, then `body`.
pub fn packet(id: u16, flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + body.len());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        p.extend_from_slice(&c.to_be_bytes());
    }
    p.extend_from_slice(body);
    p
}

/// Wire form of a question: name (uncompressed), type, class IN.
pub fn question(qname: &str, rtype: u16) -> Vec<u8> {
    let mut q = wire_name(qname);
    q.extend_from_slice(&rtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}

/// Uncompressed wire form of a dotted name, case kept.
pub fn wire_name(n: &str) -> Vec<u8> {
    let mut w = Vec::new();
    for l in n.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        w.push(l.len() as u8);
        w.extend_from_slice(l.as_bytes());
    }
    w.push(0);
    w
}

/// An OPT pseudo-record: root owner, payload, TTL (ext-rcode, version, DO|Z), options.
pub fn opt_rr(payload: u16, ttl: u32, options: &[u8]) -> Vec<u8> {
    let mut o = vec![0, 0, 41];
    o.extend_from_slice(&payload.to_be_bytes());
    o.extend_from_slice(&ttl.to_be_bytes());
    o.extend_from_slice(&(options.len() as u16).to_be_bytes());
    o.extend_from_slice(options);
    o
}

/// One EDNS option: code, length, data.
pub fn edns_option(code: u16, data: &[u8]) -> Vec<u8> {
    let mut o = code.to_be_bytes().to_vec();
    o.extend_from_slice(&(data.len() as u16).to_be_bytes());
    o.extend_from_slice(data);
    o
}

/// Send `packet` and wait up to `wait` for one reply. UDP: one datagram
/// from a fresh socket. TCP: a fresh connection, one framed message.
/// `None` when nothing came back (or the connection closed first).
pub fn exchange_within(
    proto: Proto,
    addr: SocketAddr,
    packet: &[u8],
    wait: Duration,
) -> Option<Vec<u8>> {
    match proto {
        Proto::Udp => {
            let s = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
            s.set_read_timeout(Some(wait)).unwrap();
            s.send_to(packet, addr).expect("udp send");
            let mut buf = vec![0u8; 65535];
            loop {
                match s.recv_from(&mut buf) {
                    Ok((n, from)) if from == addr => return Some(buf[..n].to_vec()),
                    Ok(_) => continue,
                    Err(_) => return None,
                }
            }
        }
        Proto::Tcp => {
            let mut s = TcpStream::connect_timeout(&addr, wait).expect("tcp connect");
            s.set_read_timeout(Some(wait)).unwrap();
            s.write_all(&frame(packet)).expect("tcp send");
            read_frame(&mut s)
        }
    }
}

/// [`exchange_within`] with the normal reply timeout, for packets that must
/// get an answer.
pub fn exchange(proto: Proto, addr: SocketAddr, packet: &[u8]) -> Vec<u8> {
    exchange_within(proto, addr, packet, REPLY_TIMEOUT)
        .unwrap_or_else(|| panic!("{proto:?}: no reply to {packet:02x?}"))
}

/// A message with its RFC 1035 §4.2.2 two-byte length prefix.
pub fn frame(msg: &[u8]) -> Vec<u8> {
    let mut f = (msg.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(msg);
    f
}

/// Read one length-prefixed message; `None` on EOF, reset or timeout.
pub fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut msg).ok()?;
    Some(msg)
}

// ---------------------------------------------------------------------
// reading replies at the wire level

pub const QR: u16 = 0x8000;
pub const AA: u16 = 0x0400;
pub const TC: u16 = 0x0200;
pub const RD: u16 = 0x0100;
pub const RA: u16 = 0x0080;
pub const CD: u16 = 0x0010;

pub fn id_of(raw: &[u8]) -> u16 {
    u16::from_be_bytes([raw[0], raw[1]])
}

pub fn flags_of(raw: &[u8]) -> u16 {
    u16::from_be_bytes([raw[2], raw[3]])
}

/// RCODE in the header (the low 4 bits only).
pub fn rcode_of(raw: &[u8]) -> u16 {
    flags_of(raw) & 0xF
}

pub fn opcode_of(raw: &[u8]) -> u16 {
    (flags_of(raw) >> 11) & 0xF
}

/// QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT.
pub fn counts_of(raw: &[u8]) -> [u16; 4] {
    let c = |i: usize| u16::from_be_bytes([raw[i], raw[i + 1]]);
    [c(4), c(6), c(8), c(10)]
}

fn skip_name(p: &[u8], mut i: usize) -> usize {
    loop {
        let l = p[i] as usize;
        if l & 0xC0 == 0xC0 {
            return i + 2;
        }
        i += 1 + l;
        if l == 0 {
            return i;
        }
    }
}

/// The OPT record of a reply as sent: (CLASS = payload size, TTL, RDATA).
/// Read straight from the bytes so nothing a decoder normalizes is lost.
pub fn raw_opt(raw: &[u8]) -> Option<(u16, u32, Vec<u8>)> {
    let [qd, an, ns, ar] = counts_of(raw);
    let mut i = 12;
    for _ in 0..qd {
        i = skip_name(raw, i) + 4;
    }
    for _ in 0..(an + ns) {
        i = skip_name(raw, i);
        let rdlen = u16::from_be_bytes([raw[i + 8], raw[i + 9]]) as usize;
        i += 10 + rdlen;
    }
    let mut found = None;
    for _ in 0..ar {
        i = skip_name(raw, i);
        let ty = u16::from_be_bytes([raw[i], raw[i + 1]]);
        let class = u16::from_be_bytes([raw[i + 2], raw[i + 3]]);
        let ttl = u32::from_be_bytes([raw[i + 4], raw[i + 5], raw[i + 6], raw[i + 7]]);
        let rdlen = u16::from_be_bytes([raw[i + 8], raw[i + 9]]) as usize;
        if ty == 41 {
            assert!(found.is_none(), "two OPT records in a reply: {raw:02x?}");
            found = Some((class, ttl, raw[i + 10..i + 10 + rdlen].to_vec()));
        }
        i += 10 + rdlen;
    }
    assert_eq!(i, raw.len(), "trailing bytes after the last record");
    found
}

// ---------------------------------------------------------------------
// describing messages

/// Records of a section in presentation form ("name ttl class type rdata"),
/// in message order. Display includes the TTL, which `Record`'s `==` ignores.
pub fn rrs(section: &[Record]) -> Vec<String> {
    section.iter().map(|r| r.to_string()).collect()
}

/// The same, sorted, for sections whose order carries no meaning.
pub fn rrs_sorted(section: &[Record]) -> Vec<String> {
    let mut v = rrs(section);
    v.sort();
    v
}

/// A dig-like rendering of everything a reply says, for comparisons that
/// print readably when they fail.
pub fn describe(m: &Message) -> String {
    let h = &m.metadata;
    let mut s = format!(
        "id={} {:?} op={:?} rcode={:?} flags:{}{}{}{}{}{}\n",
        h.id,
        h.message_type,
        h.op_code,
        h.response_code,
        if h.authoritative { " aa" } else { "" },
        if h.truncation { " tc" } else { "" },
        if h.recursion_desired { " rd" } else { "" },
        if h.recursion_available { " ra" } else { "" },
        if h.authentic_data { " ad" } else { "" },
        if h.checking_disabled { " cd" } else { "" },
    );
    for q in &m.queries {
        let _ = writeln!(
            s,
            "Q {} {:?} {:?}",
            q.name().to_ascii(),
            q.query_class(),
            q.query_type()
        );
    }
    for (tag, sec) in [
        ("AN", &m.answers),
        ("NS", &m.authorities),
        ("AR", &m.additionals),
    ] {
        for r in rrs(sec) {
            let _ = writeln!(s, "{tag} {r}");
        }
    }
    match &m.edns {
        Some(e) => {
            let _ = writeln!(
                s,
                "OPT payload={} version={} do={} z={:#x} rcode_high={} options={:?}",
                e.max_payload(),
                e.version(),
                e.flags().dnssec_ok,
                e.flags().z,
                e.rcode_high(),
                e.options()
            );
        }
        None => s.push_str("no OPT\n"),
    }
    s
}

/// Assertions every reply to a query must pass: it is a response, and it
/// never offers recursion (RFC 1035 §4.1.1: we are authoritative only).
#[track_caller]
pub fn assert_reply_basics(m: &Message) {
    let d = describe(m);
    assert_eq!(m.metadata.message_type, MessageType::Response, "{d}");
    assert!(!m.metadata.recursion_available, "RA set:\n{d}");
}

/// A query in a class other than IN (CH for version.bind).
pub fn query_class(qname: &str, rtype: RecordType, class: DNSClass) -> Query {
    let mut q = Query::query(name(qname), rtype);
    q.set_query_class(class);
    q
}

/// What a reply must say: RCODE, AA, and its sections. Answers compare in
/// order (a CNAME chain reads top-down); authority and additional compare
/// as sets. `additional: None` leaves the additional section unchecked.
pub struct Want<'a> {
    pub rcode: hickory_proto::op::ResponseCode,
    pub aa: bool,
    pub answers: &'a [&'a str],
    pub authority: &'a [&'a str],
    pub additional: Option<&'a [&'a str]>,
}

impl Want<'_> {
    /// Check `m` against this, plus [`assert_reply_basics`]; `ctx` names
    /// the query and transport in the failure message.
    #[track_caller]
    pub fn check(&self, m: &Message, ctx: &str) {
        assert_reply_basics(m);
        let d = describe(m);
        assert_eq!(m.metadata.response_code, self.rcode, "{ctx}: rcode\n{d}");
        assert_eq!(m.metadata.authoritative, self.aa, "{ctx}: AA\n{d}");
        assert!(!m.metadata.truncation, "{ctx}: TC\n{d}");
        assert_eq!(rrs(&m.answers), self.answers, "{ctx}: answer section\n{d}");
        let mut auth: Vec<String> = self.authority.iter().map(|s| s.to_string()).collect();
        auth.sort();
        assert_eq!(
            rrs_sorted(&m.authorities),
            auth,
            "{ctx}: authority section\n{d}"
        );
        if let Some(add) = self.additional {
            let mut add: Vec<String> = add.iter().map(|s| s.to_string()).collect();
            add.sort();
            assert_eq!(
                rrs_sorted(&m.additionals),
                add,
                "{ctx}: additional section\n{d}"
            );
        }
    }
}
