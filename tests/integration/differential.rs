//! Differential test: the same packets to our listeners and to
//! hickory-server's `Server` (`--engine hickory`, the reference path) must
//! get the same replies: header flags, RCODE, every section's records in
//! order, and the OPT record.
//!
//! Malformed queries that both paths answer alike are included (QDCOUNT
//! 0, a question cut short, qtype OPT, a malformed ECS option). Left out on
//! purpose, because hickory-server answers them before or around our
//! handler:
//! - two OPT records, or ANCOUNT/ARCOUNT beyond the packet: hickory's
//!   message decoder rejects the packet and hickory-server replies FORMERR
//!   itself, without the question; ours echoes the question.
//! - QDCOUNT 2: hickory decodes both questions and its response builder
//!   echoes them in our FORMERR; ours carries no question.
//! - QR=1 and packets shorter than a header: neither answers, so there is
//!   nothing to compare.
//!
//! Those are covered against our server alone in `malformed.rs` and
//! `edns.rs`.

use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::*;

/// The queries compared, as raw packets (same bytes to both servers).
fn queries() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = Vec::new();
    let plain: &[(&str, RecordType)] = &[
        ("example.test.", RecordType::SOA),
        ("WwW.ExAmPlE.TeSt.", RecordType::A),
        ("www.example.test.", RecordType::AAAA),
        ("www.example.test.", RecordType::MX),
        ("nothere.example.test.", RecordType::A),
        ("b.ent.example.test.", RecordType::TXT),
        ("www.example.net.", RecordType::A),
        ("chain.example.test.", RecordType::A),
        ("xzone.example.test.", RecordType::A),
        ("outside.example.test.", RecordType::A),
        ("dangling.example.test.", RecordType::A),
        ("alias.example.test.", RecordType::CNAME),
        ("loop1.example.test.", RecordType::A),
        ("deleg.example.test.", RecordType::A),
        ("www.deleg.example.test.", RecordType::AAAA),
        ("deleg.example.test.", RecordType::DS),
        ("sub.example.test.", RecordType::SOA),
        ("host.sub.example.test.", RecordType::AAAA),
        ("sub.example.test.", RecordType::DS),
        ("example.test.", RecordType::MX),
        ("host3.example.", RecordType::MX),
        ("host3.example.", RecordType::A),
        ("foo.bar.example.", RecordType::TXT),
        ("_telnet._tcp.host1.example.", RecordType::SRV),
        ("ghost.*.example.", RecordType::MX),
        ("host.subdel.example.", RecordType::A),
        ("example.test.", RecordType::ANY),
        ("example.test.", RecordType::AXFR),
        ("nothere.other.test.", RecordType::A),
        ("big.size.test.", RecordType::TXT),
    ];
    for (q, t) in plain {
        v.push((format!("{q} {t}"), encode(&query_msg(q, *t))));
        v.push((
            format!("{q} {t} +edns"),
            encode(&query_msg_edns(q, *t, 1232)),
        ));
    }
    let mut rd = query_msg("www.example.test.", RecordType::A);
    rd.metadata.recursion_desired = true;
    rd.metadata.checking_disabled = true;
    v.push(("RD+CD".into(), encode(&rd)));
    let mut body = question("example.test", 6);
    body.extend(opt_rr(1232, 0, &[]));
    let mut ch = body.clone();
    let n = ch.len() - 11 - 2;
    ch[n..n + 2].copy_from_slice(&3u16.to_be_bytes()); // class CH
    v.push(("class CH".into(), packet(1, 0, [1, 0, 0, 1], &ch)));
    let with_opt = |ttl: u32, opts: &[u8], payload: u16, name: &str, t: u16| {
        let mut b = question(name, t);
        b.extend(opt_rr(payload, ttl, opts));
        packet(0x0d0d, 0, [1, 0, 0, 1], &b)
    };
    v.push((
        "EDNS version 1".into(),
        with_opt(1 << 16, &[], 1232, "example.test", 6),
    ));
    v.push((
        "DO bit".into(),
        with_opt(0x8000, &[], 1232, "www.example.test", 1),
    ));
    v.push((
        "unknown option and Z flag".into(),
        with_opt(
            0x4000,
            &edns_option(65001, b"zz"),
            1232,
            "www.example.test",
            1,
        ),
    ));
    v.push((
        "ECS /24".into(),
        with_opt(
            0,
            &edns_option(8, &[0, 1, 24, 0, 192, 0, 2]),
            1232,
            "www.example.test",
            1,
        ),
    ));
    v.push((
        "huge, EDNS 4096".into(),
        with_opt(0, &[], 4096, "huge.size.test", 16),
    ));
    v.push((
        "malformed ECS".into(),
        with_opt(
            0,
            &edns_option(8, &[0, 1, 23, 0, 192, 0, 3]),
            1232,
            "www.example.test",
            1,
        ),
    ));
    v.push(("QDCOUNT 0".into(), packet(3, 0, [0, 0, 0, 0], &[])));
    let q = question("www.example.test", 1);
    v.push((
        "question cut short".into(),
        packet(4, 0, [1, 0, 0, 0], &q[..8]),
    ));
    v.push((
        "qtype OPT".into(),
        packet(5, 0, [1, 0, 0, 0], &question("www.example.test", 41)),
    ));
    v.push((
        "opcode STATUS".into(),
        packet(2, 2 << 11, [1, 0, 0, 0], &question("example.test", 6)),
    ));
    v
}

#[test]
fn hickory_engine_and_ours_give_the_same_answers() {
    let setup = standard("differential", "");
    let ours = setup.serve();
    let reference = setup.serve_hickory();
    let mut diffs = Vec::new();
    let mut compared = 0;
    for (what, pkt) in queries() {
        for p in BOTH {
            let a = exchange(p, ours.addr, &pkt);
            let b = exchange(p, reference.addr, &pkt);
            let (da, db) = (describe(&decode(&a)), describe(&decode(&b)));
            compared += 1;
            if da != db {
                diffs.push(format!(
                    "== {what} over {p:?}\n-- ours:\n{da}-- hickory-server:\n{db}"
                ));
            }
        }
    }
    assert!(compared >= 60, "{compared}");
    assert!(
        diffs.is_empty(),
        "{} of {compared} replies differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
