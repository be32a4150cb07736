//! Query types and classes with special handling: ANY (RFC 8482), zone
//! transfers (not offered), classes other than IN.

use std::collections::BTreeMap;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};

use crate::dns::*;
use crate::fixtures::*;

fn count_by_type(m: &Message) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for r in &m.answers {
        *c.entry(r.record_type().to_string()).or_default() += 1;
    }
    c
}

/// RFC 8482 §4.1: over UDP, one RRset (whole) is enough; over TCP we
/// return every RRset at the name.
#[tokio::test]
async fn any_is_one_rrset_over_udp_and_all_over_tcp() {
    let setup = standard("any", "");
    let srv = setup.serve();
    let tcp = ask(Proto::Tcp, srv.addr, "example.test.", RecordType::ANY).await;
    assert!(tcp.metadata.authoritative);
    let all = count_by_type(&tcp);
    let want: BTreeMap<String, usize> = [("A", 1), ("MX", 1), ("NS", 2), ("SOA", 1), ("TXT", 1)]
        .iter()
        .map(|(t, n)| (t.to_string(), *n))
        .collect();
    assert_eq!(all, want, "TCP ANY\n{}", describe(&tcp));

    let udp = ask(Proto::Udp, srv.addr, "example.test.", RecordType::ANY).await;
    assert_eq!(udp.metadata.response_code, ResponseCode::NoError);
    assert!(udp.metadata.authoritative);
    assert!(!udp.metadata.truncation);
    let one = count_by_type(&udp);
    assert_eq!(
        one.len(),
        1,
        "UDP ANY: exactly one RRset\n{}",
        describe(&udp)
    );
    let (t, n) = one.iter().next().unwrap();
    assert_eq!(Some(n), all.get(t), "UDP ANY: the {t} RRset is incomplete");

    // ANY at a name with nothing: NODATA; at a missing name: NXDOMAIN.
    for p in BOTH {
        let m = ask(p, srv.addr, "b.ent.example.test.", RecordType::ANY).await;
        Want {
            rcode: ResponseCode::NoError,
            aa: true,
            answers: &[],
            authority: &[NEG_SOA_EXAMPLE],
            additional: Some(&[]),
        }
        .check(&m, &format!("{p:?} ANY at an ENT"));
        let m = ask(p, srv.addr, "nothere.example.test.", RecordType::ANY).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    }
}

/// Zone transfers are not offered: REFUSED, over either transport.
#[tokio::test]
async fn zone_transfers_are_refused() {
    let setup = standard("axfr", "");
    let srv = setup.serve();
    for p in BOTH {
        for t in [RecordType::AXFR, RecordType::IXFR] {
            let r = exchange(p, srv.addr, &encode(&query_msg("example.test.", t)));
            let m = decode(&r);
            Want {
                rcode: ResponseCode::Refused,
                aa: false,
                answers: &[],
                authority: &[],
                additional: Some(&[]),
            }
            .check(&m, &format!("{p:?} {t}"));
        }
    }
}

/// We serve class IN only; CHAOS (e.g. version.bind) is REFUSED.
#[tokio::test]
async fn class_ch_is_refused() {
    let setup = standard("class-ch", "");
    let srv = setup.serve();
    for p in BOTH {
        for (q, t) in [
            ("version.bind.", RecordType::TXT),
            ("example.test.", RecordType::SOA),
        ] {
            let m = ask_with(p, srv.addr, query_class(q, t, DNSClass::CH), opts(false)).await;
            Want {
                rcode: ResponseCode::Refused,
                aa: false,
                answers: &[],
                authority: &[],
                additional: Some(&[]),
            }
            .check(&m, &format!("{p:?} {q} CH {t}"));
        }
    }
}
