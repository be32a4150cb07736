//! Wildcards, checked against the worked examples of RFC 4592 §2.2.1 on
//! the RFC's own example zone (fixtures::RFC4592_EXAMPLE).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::*;

/// "The following responses would be synthesized from one of the wildcards
/// in the zone": the owner is the query name, never `*.example.`.
#[tokio::test]
async fn wildcard_synthesizes_the_query_name() {
    let setup = standard("wild-match", "");
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "host3.example.", RecordType::MX).await;
        Want {
            rcode: ResponseCode::NoError,
            aa: true,
            answers: &["host3.example. 3600 IN MX 10 host1.example."],
            authority: &[],
            // the MX target's address, from the zone (RFC 1034 §4.3.2 step 6)
            additional: Some(&["host1.example. 3600 IN A 192.0.2.1"]),
        }
        .check(&m, &format!("{p:?} host3.example. MX"));

        // "because bar.example. does not exist, but the wildcard does"
        let m = ask(p, srv.addr, "foo.bar.example.", RecordType::TXT).await;
        Want {
            rcode: ResponseCode::NoError,
            aa: true,
            answers: &["foo.bar.example. 3600 IN TXT this is a wildcard"],
            authority: &[],
            additional: Some(&[]),
        }
        .check(&m, &format!("{p:?} foo.bar.example. TXT"));
    }
}

/// "QNAME=host3.example. QTYPE=A ... no error, but no data because there
/// is no A RR set at '*.example.'"
#[tokio::test]
async fn wildcard_without_the_type_is_nodata() {
    let setup = standard("wild-nodata", "");
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "host3.example.", RecordType::A).await;
        Want {
            rcode: ResponseCode::NoError,
            aa: true,
            answers: &[],
            authority: &[NEG_SOA_RFC4592],
            additional: Some(&[]),
        }
        .check(&m, &format!("{p:?} host3.example. A"));
    }
}

/// "The following responses would not be synthesized from any of the
/// wildcards in the zone", each for the RFC's stated reason.
#[tokio::test]
async fn wildcard_does_not_match_where_rfc4592_says_it_does_not() {
    let setup = standard("wild-nomatch", "");
    let srv = setup.serve();
    let nodata = |ctx: String| {
        move |m: &hickory_proto::op::Message| {
            Want {
                rcode: ResponseCode::NoError,
                aa: true,
                answers: &[],
                authority: &[NEG_SOA_RFC4592],
                additional: Some(&[]),
            }
            .check(m, &ctx)
        }
    };
    let nxdomain = |ctx: String| {
        move |m: &hickory_proto::op::Message| {
            Want {
                rcode: ResponseCode::NXDomain,
                aa: true,
                answers: &[],
                authority: &[NEG_SOA_RFC4592],
                additional: Some(&[]),
            }
            .check(m, &ctx)
        }
    };
    for p in BOTH {
        // "because host1.example. exists"
        let m = ask(p, srv.addr, "host1.example.", RecordType::MX).await;
        nodata(format!("{p:?} host1.example. MX"))(&m);
        // "because sub.*.example. exists"
        let m = ask(p, srv.addr, "sub.*.example.", RecordType::MX).await;
        nodata(format!("{p:?} sub.*.example. MX"))(&m);
        // "because _tcp.host1.example. exists (without data)"
        let m = ask(p, srv.addr, "_telnet._tcp.host1.example.", RecordType::SRV).await;
        nxdomain(format!("{p:?} _telnet._tcp.host1.example. SRV"))(&m);
        // "because *.example. exists": the closest encloser is *.example.,
        // whose own wildcard *.*.example. does not exist
        let m = ask(p, srv.addr, "ghost.*.example.", RecordType::MX).await;
        nxdomain(format!("{p:?} ghost.*.example. MX"))(&m);
        // empty non-terminals block the wildcard too (RFC 4592 §2.2.2)
        for q in ["_tcp.host1.example.", "host2.example."] {
            let m = ask(p, srv.addr, q, RecordType::TXT).await;
            nodata(format!("{p:?} {q} TXT"))(&m);
        }
    }
}

/// "because subdel.example. exists (and is a zone cut)": a referral.
#[tokio::test]
async fn wildcard_does_not_reach_below_a_zone_cut() {
    let setup = standard("wild-cut", "");
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "host.subdel.example.", RecordType::A).await;
        Want {
            rcode: ResponseCode::NoError,
            aa: false,
            answers: &[],
            authority: &[
                "subdel.example. 3600 IN NS ns.example.com.",
                "subdel.example. 3600 IN NS ns.example.net.",
            ],
            additional: Some(&[]),
        }
        .check(&m, &format!("{p:?} host.subdel.example. A"));
    }
}

/// Names that exist answer from their own data, the asterisk label
/// included when it is asked for literally (RFC 4592 §2.1.1).
#[tokio::test]
async fn existing_names_answer_for_themselves() {
    let setup = standard("wild-literal", "");
    let srv = setup.serve();
    for p in BOTH {
        for (q, t, want) in [
            (
                "sub.*.example.",
                RecordType::TXT,
                "sub.*.example. 3600 IN TXT this is not a wildcard",
            ),
            (
                "*.example.",
                RecordType::TXT,
                "*.example. 3600 IN TXT this is a wildcard",
            ),
            (
                "_ssh._tcp.host2.example.",
                RecordType::SRV,
                "_ssh._tcp.host2.example. 3600 IN SRV 0 0 22 host2.example.",
            ),
        ] {
            let m = ask(p, srv.addr, q, t).await;
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
            assert!(m.metadata.authoritative, "{}", describe(&m));
            assert_eq!(rrs(&m.answers), [want], "{p:?} {q} {t}\n{}", describe(&m));
        }
    }
}

/// The synthesized owner keeps the query's case, like any answer.
#[test]
fn synthesized_owner_keeps_the_query_case() {
    let setup = standard("wild-case", "");
    let srv = setup.serve();
    for p in BOTH {
        let q = question("HoSt3.ExAmPlE", 15);
        let r = exchange(p, srv.addr, &packet(9, 0, [1, 0, 0, 0], &q));
        let m = decode(&r);
        assert_eq!(m.answers.len(), 1, "{p:?}\n{}", describe(&m));
        assert!(
            m.answers[0].name.eq_case(&name("HoSt3.ExAmPlE.")),
            "{p:?}: owner {}",
            m.answers[0].name
        );
    }
}

/// A wildcard CNAME is synthesized at the query name and then followed
/// like any CNAME (RFC 4592 §4.2 leaves CNAME at a wildcard in force).
#[tokio::test]
async fn wildcard_cname_is_synthesized_and_followed() {
    let setup = standard("wild-cname", "");
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "anything.wc.example.test.", RecordType::A).await;
        Want {
            rcode: ResponseCode::NoError,
            aa: true,
            answers: &[
                "anything.wc.example.test. 3600 IN CNAME www.example.test.",
                "www.example.test. 3600 IN A 192.0.2.80",
            ],
            authority: &[],
            additional: None,
        }
        .check(&m, &format!("{p:?} anything.wc A"));
        // two labels below: still the same wildcard (closest encloser wc)
        let m = ask(p, srv.addr, "a.b.wc.example.test.", RecordType::TXT).await;
        Want {
            rcode: ResponseCode::NoError,
            aa: true,
            answers: &[
                "a.b.wc.example.test. 3600 IN CNAME www.example.test.",
                "www.example.test. 3600 IN TXT www",
            ],
            authority: &[],
            additional: None,
        }
        .check(&m, &format!("{p:?} a.b.wc TXT"));
    }
}
