//! Packets a resolver would not send: other opcodes (NOTIMP), broken
//! questions (FORMERR), responses and runts (silence), and a bounded fuzz
//! run. Whatever arrives, the server answers the next good query.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::*;

/// Long enough that a reply would have arrived; "no reply" is only
/// asserted after this much silence.
const SILENCE: Duration = Duration::from_millis(800);

fn assert_serving(addr: SocketAddr) {
    for p in BOTH {
        let r = exchange(
            p,
            addr,
            &encode(&query_msg("www.example.test.", RecordType::A)),
        );
        assert_eq!(rcode_of(&r), 0, "{p:?}: server no longer answers");
        assert_eq!(decode(&r).answers.len(), 1);
    }
}

/// RFC 1035 §4.1.1: NOTIMP for kinds of query we do not support; the
/// header (ID, opcode, RD) and question are echoed.
#[test]
fn unknown_opcodes_get_notimp() {
    let setup = standard("notimp", "");
    let srv = setup.serve();
    let q = question("www.example.test", 1);
    for p in BOTH {
        for opcode in [1u16, 2, 4, 5, 6, 15] {
            let flags = (opcode << 11) | RD;
            let r = exchange(
                p,
                srv.addr,
                &packet(0x3300 + opcode, flags, [1, 0, 0, 0], &q),
            );
            let ctx = format!("{p:?} opcode {opcode}");
            assert_eq!(id_of(&r), 0x3300 + opcode, "{ctx}");
            assert_eq!(rcode_of(&r), 4, "{ctx}: NOTIMP");
            assert_eq!(opcode_of(&r), opcode, "{ctx}: opcode echoed");
            let f = flags_of(&r);
            assert_ne!(f & QR, 0, "{ctx}");
            assert_eq!(f & (AA | RA | TC), 0, "{ctx}: flags {f:#06x}");
            assert_ne!(f & RD, 0, "{ctx}: RD copied");
            assert_eq!(
                counts_of(&r)[1..],
                [0, 0, 0],
                "{ctx}: nothing but the question"
            );
        }
    }
}

/// RFC 6891 §6.1.1: "If an OPT record is present in a received request,
/// compliant responders MUST include an OPT record in their respective
/// responses." That holds for NOTIMP too.
#[test]
fn notimp_to_an_edns_query_carries_an_opt() {
    let setup = standard("notimp-opt", "");
    let srv = setup.serve();
    let mut body = question("www.example.test", 1);
    body.extend(opt_rr(1232, 0, &[]));
    for p in BOTH {
        let r = exchange(p, srv.addr, &packet(0x3400, 2 << 11, [1, 0, 0, 1], &body));
        assert_eq!(rcode_of(&r), 4, "{p:?}: NOTIMP");
        assert!(raw_opt(&r).is_some(), "{p:?}: no OPT in {r:02x?}");
    }
}

/// RFC 8945 §5.2.2: dnslb holds no TSIG keys, so a signed query gets
/// NOTAUTH with an unsigned TSIG record carrying BADKEY, last in additional
/// after the OPT, from both engines over UDP and TCP.
#[test]
fn tsig_signed_queries_get_notauth_badkey() {
    let setup = standard("tsig", "");
    let ours = setup.serve();
    let theirs = setup.serve_hickory();
    let mut tsig = vec![2, b'k', b'1', 0, 0, 250, 0, 255, 0, 0, 0, 0];
    let mut rdata = b"\x0bhmac-sha256\x00".to_vec();
    rdata.extend_from_slice(&[0, 0, 0x6b, 0x0d, 0x9c, 0xe2, 0x01, 0x2c, 0, 32]);
    rdata.extend_from_slice(&[0x55; 32]);
    rdata.extend_from_slice(&[0x36, 0x00, 0, 0, 0, 0]);
    tsig.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    tsig.extend_from_slice(&rdata);
    // The reply's TSIG: MAC Size 0, Original ID kept, Error 17 (BADKEY).
    let mut want = tsig[..12].to_vec();
    want.extend_from_slice(&[0, 13 + 8 + 8]);
    want.extend_from_slice(&rdata[..13 + 8]);
    want.extend_from_slice(&[0, 0, 0x36, 0x00, 0, 17, 0, 0]);
    let mut body = question("www.example.test", 1);
    body.extend(opt_rr(1232, 0, &[]));
    body.extend(&tsig);
    for srv in [&ours, &theirs] {
        for p in BOTH {
            let r = exchange(p, srv.addr, &packet(0x3600, RD, [1, 0, 0, 2], &body));
            assert_eq!(rcode_of(&r), 9, "{p:?}: NOTAUTH: {r:02x?}");
            assert_eq!(counts_of(&r), [1, 0, 0, 2], "{p:?}: question, OPT, TSIG");
            assert!(raw_opt(&r).is_some(), "{p:?}: OPT");
            assert!(r.ends_with(&want), "{p:?}: TSIG BADKEY last: {r:02x?}");
        }
    }
}

/// Queries we cannot make sense of get FORMERR with the ID echoed.
#[test]
fn malformed_queries_get_formerr() {
    let setup = standard("formerr", "");
    let srv = setup.serve();
    let good = question("www.example.test", 1);
    let mut two = good.clone();
    two.extend(question("mail.example.test", 1));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("QDCOUNT 0", packet(1, 0, [0, 0, 0, 0], &[])),
        ("QDCOUNT 2", packet(2, 0, [2, 0, 0, 0], &two)),
        ("name cut short", packet(3, 0, [1, 0, 0, 0], &good[..8])),
        (
            "type and class missing",
            packet(4, 0, [1, 0, 0, 0], &good[..good.len() - 4]),
        ),
        (
            "class cut short",
            packet(5, 0, [1, 0, 0, 0], &good[..good.len() - 1]),
        ),
        (
            "label runs past the end",
            packet(6, 0, [1, 0, 0, 0], b"\x3fwww"),
        ),
        (
            "compression pointer in the question",
            packet(7, 0, [1, 0, 0, 0], b"\xc0\x0c\x00\x01\x00\x01"),
        ),
        (
            "ARCOUNT beyond the packet",
            packet(8, 0, [1, 0, 0, 1], &good),
        ),
        (
            "ANCOUNT beyond the packet",
            packet(9, 0, [1, 1, 0, 0], &good),
        ),
        (
            "qtype OPT",
            packet(10, 0, [1, 0, 0, 0], &question("www.example.test", 41)),
        ),
    ];
    for p in BOTH {
        for (what, pkt) in &cases {
            let r = exchange(p, srv.addr, pkt);
            let ctx = format!("{p:?} {what}");
            assert_eq!(id_of(&r), id_of(pkt), "{ctx}: ID");
            assert_ne!(flags_of(&r) & QR, 0, "{ctx}: QR");
            assert_eq!(rcode_of(&r), 1, "{ctx}: FORMERR");
            assert_eq!(counts_of(&r)[1..], [0, 0, 0], "{ctx}: no records");
        }
    }
    assert_serving(srv.addr);
}

/// A response (QR=1) must not be answered (no reflection loops), nor a
/// packet too short for a header; the server keeps serving.
#[test]
fn responses_and_runts_get_no_reply() {
    let setup = standard("no-reply", "");
    let srv = setup.serve();
    let mut response = encode(&query_msg("www.example.test.", RecordType::A));
    response[2] |= 0x80;
    let runts: [&[u8]; 3] = [&[], &[0x12], &response[..11]];
    for pkt in runts.iter().copied().chain([&response[..]]) {
        assert_eq!(
            exchange_within(Proto::Udp, srv.addr, pkt, SILENCE),
            None,
            "UDP reply to {pkt:02x?}"
        );
    }
    // Over TCP, on one connection: none of these is answered, the next
    // real query is, first.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    for pkt in runts.iter().copied().chain([&response[..]]) {
        s.write_all(&frame(pkt)).unwrap();
    }
    let mut good = query_msg("www.example.test.", RecordType::A);
    good.metadata.id = 0x5151;
    s.write_all(&frame(&encode(&good))).unwrap();
    let r = read_frame(&mut s).expect("reply to the good query");
    assert_eq!(id_of(&r), 0x5151, "the first reply is to the good query");
    assert_serving(srv.addr);
}

/// A response hickory's decoder rejects (ANCOUNT beyond the packet) used to
/// get FORMERR from `--engine hickory` (hickory-server answers undecodable
/// messages itself); both engines now drop it over UDP (a kernel socket
/// filter drops every QR=1 datagram), and still answer queries.
#[test]
fn both_engines_drop_undecodable_responses() {
    let setup = standard("qr-garbage", "");
    let ours = setup.serve();
    let theirs = setup.serve_hickory();
    let mut body = question("www.example.test.", 1);
    body.extend_from_slice(&[0xde, 0xad]);
    let garbage = packet(0x5353, 0x8000, [1, 5, 0, 0], &body);
    let mut flipped = encode(&query_msg("www.example.test.", RecordType::A));
    flipped[2] |= 0x80;
    flipped[7] = 9; // ANCOUNT 9, no records
    for srv in [&ours, &theirs] {
        for pkt in [&garbage, &flipped] {
            assert_eq!(
                exchange_within(Proto::Udp, srv.addr, pkt, SILENCE),
                None,
                "UDP reply to {pkt:02x?}"
            );
        }
        assert_serving(srv.addr);
    }
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Valid queries of several shapes, the seeds of the mutations.
fn seeds() -> Vec<Vec<u8>> {
    let mut v = vec![
        encode(&query_msg("www.example.test.", RecordType::A)),
        encode(&query_msg_edns("huge.size.test.", RecordType::TXT, 4096)),
        encode(&query_msg_edns("host3.example.", RecordType::MX, 1232)),
        encode(&query_msg("chain.example.test.", RecordType::ANY)),
    ];
    let mut body = question("deleg.example.test", 1);
    body.extend(opt_rr(
        1232,
        0x8000,
        &[0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2, 0xfd, 0xe9, 0, 1, 0xab],
    ));
    v.push(packet(0x7777, 0, [1, 0, 0, 1], &body));
    v
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut p = seeds[rng.below(seeds.len())].clone();
    match rng.below(6) {
        // random bytes, random length
        0 => (0..rng.below(600)).map(|_| rng.next() as u8).collect(),
        // truncation
        1 => {
            p.truncate(rng.below(p.len() + 1));
            p
        }
        // a few byte flips; keep QR clear most of the time so it is parsed
        2 | 3 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(p.len());
                p[i] = rng.next() as u8;
            }
            if rng.below(4) != 0 {
                p[2] &= 0x7f;
            }
            p
        }
        // header counts set to random values
        4 => {
            let i = 4 + 2 * rng.below(4);
            p[i..i + 2].copy_from_slice(&(rng.next() as u16 % 8).to_be_bytes());
            p
        }
        // garbage appended, or a slice duplicated
        _ => {
            let extra: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            p.extend(extra);
            p
        }
    }
}

/// Every reply to whatever we send is a well-formed response to that ID.
fn check_reply(reply: &[u8], ctx: &str) -> Message {
    let m = Message::from_vec(reply)
        .unwrap_or_else(|e| panic!("{ctx}: undecodable reply ({e}): {reply:02x?}"));
    assert_ne!(flags_of(reply) & QR, 0, "{ctx}: reply without QR");
    assert_eq!(flags_of(reply) & RA, 0, "{ctx}: RA");
    m
}

/// 2,000 mutated or random packets over UDP and 400 over TCP: the server
/// survives, every reply it sends decodes, and it still answers.
#[test]
fn fuzzed_packets_do_not_kill_the_server() {
    let setup = standard("fuzz", "");
    let mut srv = setup.serve();
    let seeds = seeds();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);

    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let mut sent = std::collections::HashMap::new();
    let mut replies = 0usize;
    let mut buf = vec![0u8; 65535];
    let mut drain = |sent: &std::collections::HashMap<u16, Vec<u8>>, replies: &mut usize| {
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            let id = id_of(&buf[..n]);
            let ctx = format!("UDP reply to {:02x?}", sent.get(&id));
            check_reply(&buf[..n], &ctx);
            *replies += 1;
        }
    };
    for i in 0..2000u16 {
        let mut p = mutate(&mut rng, &seeds);
        if p.len() >= 2 {
            // unique IDs so a bad reply can be traced to its packet
            p[..2].copy_from_slice(&i.to_be_bytes());
        }
        sock.send_to(&p, srv.addr).unwrap();
        sent.insert(i, p);
        if i % 50 == 49 {
            drain(&sent, &mut replies);
        }
    }
    sock.set_read_timeout(Some(SILENCE)).unwrap();
    drain(&sent, &mut replies);
    assert!(replies > 200, "only {replies} replies to 2000 packets");
    assert!(srv.is_running(), "server died on UDP fuzz");

    // TCP: well-framed garbage on a few connections, each batch followed
    // by a good query whose reply must arrive.
    for conn in 0..4 {
        let mut s = TcpStream::connect(srv.addr).unwrap();
        s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        let mut stream = Vec::new();
        for _ in 0..100 {
            let mut p = mutate(&mut rng, &seeds);
            if p.len() >= 2 {
                p[..2].copy_from_slice(&0u16.to_be_bytes());
            }
            stream.extend(frame(&p));
        }
        let mut good = query_msg("www.example.test.", RecordType::A);
        good.metadata.id = 0xBEEF;
        stream.extend(frame(&encode(&good)));
        s.write_all(&stream).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = read_frame(&mut s)
                .unwrap_or_else(|| panic!("TCP connection {conn}: no reply to the good query"));
            let m = check_reply(&r, &format!("TCP connection {conn}"));
            if m.metadata.id == 0xBEEF {
                assert_eq!(m.answers.len(), 1);
                break;
            }
            assert!(Instant::now() < deadline);
        }
    }
    assert!(srv.is_running(), "server died on TCP fuzz");
    assert_serving(srv.addr);
}
