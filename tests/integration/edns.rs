//! EDNS (RFC 6891, RFC 3225), Client Subnet (RFC 7871) and message size
//! limits (RFC 1035 §4.2.1, RFC 2181 §9), read straight from the reply
//! bytes so nothing a decoder normalizes can hide a mistake.

use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::*;

/// A query for `qname`/`qtype` with one OPT record (owner root).
fn edns_query(id: u16, qname: &str, qtype: u16, payload: u16, ttl: u32, options: &[u8]) -> Vec<u8> {
    let mut body = question(qname, qtype);
    body.extend(opt_rr(payload, ttl, options));
    packet(id, 0, [1, 0, 0, 1], &body)
}

#[tokio::test]
async fn opt_is_in_the_reply_only_when_the_query_had_one() {
    let setup = standard("opt-presence", "");
    let srv = setup.serve();
    for p in BOTH {
        for (q, t) in [
            ("example.test.", RecordType::SOA),
            ("nothere.example.test.", RecordType::A),
            ("www.example.net.", RecordType::A),
            ("deleg.example.test.", RecordType::A),
        ] {
            let plain = exchange(p, srv.addr, &encode(&query_msg(q, t)));
            assert_eq!(
                raw_opt(&plain),
                None,
                "{p:?} {q}: OPT without one in the query"
            );
            let with = exchange(p, srv.addr, &encode(&query_msg_edns(q, t, 1232)));
            let (payload, ttl, rdata) =
                raw_opt(&with).unwrap_or_else(|| panic!("{p:?} {q}: no OPT"));
            assert_eq!(payload, 1232, "{p:?} {q}: our payload size");
            assert_eq!(ttl, 0, "{p:?} {q}: ext-rcode 0, version 0, no flags");
            assert!(rdata.is_empty(), "{p:?} {q}: no options");
        }
        // and through hickory's client, which sends EDNS by default
        let m = ask(p, srv.addr, "example.test.", RecordType::SOA).await;
        let e = m.edns.as_ref().expect("OPT in reply");
        assert_eq!((e.max_payload(), e.version()), (1232, 0));
    }
}

/// RFC 6891 §6.2.3: the reply advertises our size whatever the query's.
#[test]
fn our_payload_size_is_advertised() {
    let setup = standard("opt-payload", "");
    let srv = setup.serve();
    for p in BOTH {
        for theirs in [512, 1232, 4096, 65535] {
            let r = exchange(
                p,
                srv.addr,
                &edns_query(1, "example.test.", 6, theirs, 0, &[]),
            );
            assert_eq!(
                raw_opt(&r).expect("OPT").0,
                1232,
                "{p:?} query payload {theirs}"
            );
        }
    }
    // a configured size is what we advertise
    let setup = standard("opt-payload-cfg", "udp_payload_size = 1400");
    let srv = setup.serve();
    let r = exchange(
        Proto::Udp,
        srv.addr,
        &edns_query(1, "example.test.", 6, 4096, 0, &[]),
    );
    assert_eq!(raw_opt(&r).expect("OPT").0, 1400);
}

/// RFC 6891 §6.1.3: a version we do not implement gets BADVERS (extended
/// RCODE 16: 1 in the OPT TTL's top byte, 0 in the header) and our highest
/// version, 0.
#[test]
fn edns_version_1_gets_badvers() {
    let setup = standard("badvers", "");
    let srv = setup.serve();
    for p in BOTH {
        let r = exchange(
            p,
            srv.addr,
            &edns_query(0x1111, "www.example.test.", 1, 1232, 1 << 16, &[]),
        );
        assert_eq!(id_of(&r), 0x1111);
        assert_eq!(rcode_of(&r), 0, "{p:?}: low 4 bits of 16");
        let (_, ttl, _) = raw_opt(&r).expect("OPT in BADVERS reply");
        assert_eq!(ttl >> 24, 1, "{p:?}: extended RCODE bits");
        assert_eq!((ttl >> 16) & 0xFF, 0, "{p:?}: our version");
        let [qd, an, ns, _] = counts_of(&r);
        assert_eq!((qd, an, ns), (1, 0, 0), "{p:?}: question only");
        let m = decode(&r);
        // 16 is both BADVERS and BADSIG to hickory's decoder: compare numbers
        assert_eq!(u16::from(m.metadata.response_code), 16, "{p:?}");
        assert!(!m.metadata.authoritative, "{p:?}: no AA on BADVERS");
    }
}

/// RFC 6891 §6.1.2: unknown options are ignored, not echoed; the Z flags
/// are not echoed; RFC 3225 §3: DO is copied back.
#[test]
fn unknown_options_and_flags_are_not_echoed_and_do_is_copied() {
    let setup = standard("opt-unknown", "");
    let srv = setup.serve();
    let unknown = edns_option(65001, b"\xab\xcd");
    for p in BOTH {
        // Z = 0x4000 (an undefined flag), DO clear, option 65001
        let r = exchange(
            p,
            srv.addr,
            &edns_query(2, "www.example.test.", 1, 1232, 0x4000, &unknown),
        );
        assert_eq!(rcode_of(&r), 0, "{p:?}");
        let (_, ttl, rdata) = raw_opt(&r).expect("OPT");
        assert_eq!(ttl, 0, "{p:?}: flags echoed");
        assert!(rdata.is_empty(), "{p:?}: option echoed: {rdata:02x?}");
        assert_eq!(decode(&r).answers.len(), 1, "{p:?}: still answered");
        // DO set, plus Z bits: DO alone comes back
        let r = exchange(
            p,
            srv.addr,
            &edns_query(3, "www.example.test.", 1, 1232, 0xC001, &unknown),
        );
        let (_, ttl, rdata) = raw_opt(&r).expect("OPT");
        assert_eq!(ttl, 0x8000, "{p:?}: DO copied, nothing else");
        assert!(rdata.is_empty(), "{p:?}");
    }
}

/// RFC 6891 §6.1.1: more than one OPT is FORMERR.
#[test]
fn two_opt_records_are_formerr() {
    let setup = standard("two-opt", "");
    let srv = setup.serve();
    for p in BOTH {
        let mut body = question("www.example.test", 1);
        body.extend(opt_rr(1232, 0, &[]));
        body.extend(opt_rr(1232, 0, &[]));
        let r = exchange(p, srv.addr, &packet(0x2222, 0, [1, 0, 0, 2], &body));
        assert_eq!(id_of(&r), 0x2222);
        assert_ne!(flags_of(&r) & QR, 0);
        assert_eq!(rcode_of(&r), 1, "{p:?}: FORMERR");
        assert_eq!(counts_of(&r)[1], 0, "{p:?}: no answers");
    }
}

fn ecs(family: u16, source: u8, scope: u8, addr: &[u8]) -> Vec<u8> {
    let mut d = family.to_be_bytes().to_vec();
    d.push(source);
    d.push(scope);
    d.extend_from_slice(addr);
    edns_option(8, &d)
}

/// RFC 7871 §7.2.1: the option comes back with FAMILY, SOURCE PREFIX and
/// ADDRESS as sent, and SCOPE 0 for data that does not vary by client.
#[test]
fn ecs_is_echoed_with_scope_zero_for_static_data() {
    let setup = standard("ecs-echo", "");
    let srv = setup.serve();
    for p in BOTH {
        for (family, source, addr) in [
            (1u16, 24u8, &[192u8, 0, 2][..]),
            (1, 32, &[198, 51, 100, 7][..]),
            (1, 0, &[][..]),
            (2, 56, &[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0x01][..]),
            (2, 0, &[][..]),
        ] {
            let opt = ecs(family, source, 0, addr);
            let r = exchange(
                p,
                srv.addr,
                &edns_query(4, "www.example.test.", 1, 1232, 0, &opt),
            );
            let ctx = format!("{p:?} family {family} /{source}");
            assert_eq!(rcode_of(&r), 0, "{ctx}");
            let (_, _, rdata) = raw_opt(&r).expect("OPT");
            assert_eq!(
                rdata, opt,
                "{ctx}: ECS option not echoed as sent with scope 0"
            );
        }
    }
}

/// RFC 7871 §7.2.1 and §6: a malformed option is FORMERR, with an OPT.
#[test]
fn malformed_ecs_is_formerr() {
    let setup = standard("ecs-bad", "");
    let srv = setup.serve();
    for p in BOTH {
        for (what, opt) in [
            // 192.0.3.0/23: the last address bit is beyond the prefix
            ("bits beyond the source prefix", ecs(1, 23, 0, &[192, 0, 3])),
            // /24 needs 3 address octets
            (
                "address longer than the prefix",
                ecs(1, 24, 0, &[192, 0, 2, 0]),
            ),
            ("address shorter than the prefix", ecs(1, 24, 0, &[192, 0])),
            ("prefix longer than IPv4", ecs(1, 33, 0, &[192, 0, 2, 0, 0])),
            ("prefix longer than IPv6", ecs(2, 129, 0, &[0x20; 17])),
            ("unknown family", ecs(3, 8, 0, &[10])),
            // §6: "In queries, it MUST be set to 0."
            ("non-zero scope in a query", ecs(1, 24, 24, &[192, 0, 2])),
            (
                "non-zero scope, IPv6",
                ecs(2, 32, 1, &[0x20, 0x01, 0x0d, 0xb8]),
            ),
            (
                "option shorter than its fixed part",
                edns_option(8, &[0, 1]),
            ),
            // the option claims 10 bytes; the OPT RDATA ends after 6
            (
                "option runs past the OPT RDATA",
                vec![0, 8, 0, 10, 0, 1, 24, 0, 192, 0],
            ),
        ] {
            let r = exchange(
                p,
                srv.addr,
                &edns_query(5, "www.example.test.", 1, 1232, 0, &opt),
            );
            assert_eq!(rcode_of(&r), 1, "{p:?} {what}: FORMERR");
            assert_eq!(counts_of(&r)[1], 0, "{p:?} {what}: no answers");
            assert!(raw_opt(&r).is_some(), "{p:?} {what}: no OPT in FORMERR");
        }
    }
}

/// RFC 6891 §7: "If there is a problem with processing the OPT record
/// itself [...] a FORMERR MUST be returned. If this occurs, the response
/// MUST include an OPT record."
#[test]
fn formerr_for_a_malformed_option_carries_an_opt() {
    let setup = standard("ecs-bad-opt", "");
    let srv = setup.serve();
    for p in BOTH {
        let opt = ecs(1, 23, 0, &[192, 0, 3]);
        let r = exchange(
            p,
            srv.addr,
            &edns_query(6, "www.example.test.", 1, 1232, 0, &opt),
        );
        assert_eq!(rcode_of(&r), 1, "{p:?}: FORMERR");
        assert!(raw_opt(&r).is_some(), "{p:?}: no OPT in FORMERR: {r:02x?}");
    }
}

/// A reply over 512 bytes to a query without EDNS: TC=1 over UDP, with
/// the question only (RFC 2181 §9: no partial RRsets).
#[test]
fn udp_without_edns_truncates_above_512() {
    let setup = standard("tc-512", "");
    let srv = setup.serve();
    let q = encode(&query_msg("big.size.test.", RecordType::TXT));
    let r = exchange(Proto::Udp, srv.addr, &q);
    assert!(r.len() <= 512, "reply of {} bytes", r.len());
    assert_ne!(flags_of(&r) & TC, 0, "TC not set");
    assert_eq!(counts_of(&r), [1, 0, 0, 0], "question only");
    assert_eq!(&r[12..], &q[12..], "question echoed");
    // a small answer is not truncated
    let r = exchange(
        Proto::Udp,
        srv.addr,
        &encode(&query_msg("www.example.test.", RecordType::A)),
    );
    assert_eq!(flags_of(&r) & TC, 0);
    // EDNS with a payload of 512 (or less) behaves the same
    for payload in [512, 100] {
        let r = exchange(
            Proto::Udp,
            srv.addr,
            &edns_query(7, "big.size.test.", 16, payload, 0, &[]),
        );
        assert!(
            r.len() <= 512,
            "payload {payload}: reply of {} bytes",
            r.len()
        );
        assert_ne!(flags_of(&r) & TC, 0, "payload {payload}: TC not set");
        assert!(
            raw_opt(&r).is_some(),
            "payload {payload}: RFC 6891 §7 minimal reply keeps OPT"
        );
    }
}

/// The same queries over TCP get everything (RFC 7766 §5).
#[test]
fn tcp_gets_the_full_answer() {
    let setup = standard("tc-tcp", "");
    let srv = setup.serve();
    for (q, n) in [
        ("big.size.test.", BIG_COUNT),
        ("huge.size.test.", HUGE_COUNT),
    ] {
        for msg in [
            query_msg(q, RecordType::TXT),
            query_msg_edns(q, RecordType::TXT, 512),
        ] {
            let r = exchange(Proto::Tcp, srv.addr, &encode(&msg));
            assert_eq!(flags_of(&r) & TC, 0, "{q}: TC over TCP");
            let m = decode(&r);
            assert_eq!(m.answers.len(), n, "{q}\n{}", describe(&m));
        }
    }
}

/// With EDNS, the client's buffer lifts the 512 limit up to our cap (1232
/// by default); beyond it, TC with the question and OPT only.
#[test]
fn edns_buffer_lifts_the_limit_up_to_our_cap() {
    let setup = standard("tc-edns", "");
    let srv = setup.serve();
    let r = exchange(
        Proto::Udp,
        srv.addr,
        &edns_query(8, "big.size.test.", 16, 4096, 0, &[]),
    );
    assert!(
        r.len() > 512 && r.len() <= 1232,
        "reply of {} bytes",
        r.len()
    );
    assert_eq!(flags_of(&r) & TC, 0, "big fits in 1232");
    assert_eq!(decode(&r).answers.len(), BIG_COUNT);

    let r = exchange(
        Proto::Udp,
        srv.addr,
        &edns_query(9, "huge.size.test.", 16, 4096, 0, &[]),
    );
    assert!(r.len() <= 1232, "reply of {} bytes over our cap", r.len());
    assert_ne!(flags_of(&r) & TC, 0, "huge does not fit in 1232");
    assert_eq!(counts_of(&r), [1, 0, 0, 1], "question and OPT only");
    assert!(raw_opt(&r).is_some());

    // a larger configured cap lets it through
    let setup = standard("tc-edns-4096", "udp_payload_size = 4096");
    let srv = setup.serve();
    let r = exchange(
        Proto::Udp,
        srv.addr,
        &edns_query(10, "huge.size.test.", 16, 4096, 0, &[]),
    );
    assert_eq!(flags_of(&r) & TC, 0, "huge fits in 4096");
    assert_eq!(decode(&r).answers.len(), HUGE_COUNT);
    // but never beyond what the client offered
    let r = exchange(
        Proto::Udp,
        srv.addr,
        &edns_query(11, "huge.size.test.", 16, 1232, 0, &[]),
    );
    assert!(
        r.len() <= 1232,
        "reply of {} bytes over the client's 1232",
        r.len()
    );
    assert_ne!(flags_of(&r) & TC, 0);
}
