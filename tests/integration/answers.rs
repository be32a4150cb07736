//! Answer semantics through hickory's client over UDP and TCP: apex SOA,
//! negative answers (RFC 2308), REFUSED outside our zones, CNAME handling
//! (RFC 1034 §4.3.2, RFC 6604), delegations, case (RFC 4343), nested zones.

use hickory_proto::op::{DnsRequestOptions, Query, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::*;

const NOERROR: ResponseCode = ResponseCode::NoError;
const NXDOMAIN: ResponseCode = ResponseCode::NXDomain;

#[tokio::test]
async fn soa_at_apex_is_authoritative_and_copies_rd() {
    let setup = standard("apex-soa", "");
    let srv = setup.serve();
    for p in BOTH {
        for rd in [false, true] {
            let q = Query::query(name("example.test."), RecordType::SOA);
            let m = ask_with(p, srv.addr, q, opts(rd)).await;
            let ctx = format!("{p:?} rd={rd}");
            Want {
                rcode: NOERROR,
                aa: true,
                answers: &[SOA_EXAMPLE],
                authority: &[],
                additional: None,
            }
            .check(&m, &ctx);
            assert_eq!(m.metadata.recursion_desired, rd, "{ctx}: RD not copied");
        }
    }
}

/// RFC 4035 §3.1.6: CD is copied; AD is never set (we do not sign).
#[test]
fn cd_is_copied_and_ad_never_set() {
    let setup = standard("cd-bit", "");
    let srv = setup.serve();
    for p in BOTH {
        for cd in [false, true] {
            let mut m = query_msg("www.example.test.", RecordType::A);
            m.metadata.checking_disabled = cd;
            m.metadata.authentic_data = true;
            let r = exchange(p, srv.addr, &encode(&m));
            assert_eq!(flags_of(&r) & CD != 0, cd, "{p:?}: CD not copied");
            assert_eq!(flags_of(&r) & 0x0020, 0, "{p:?}: AD set");
        }
    }
}

#[tokio::test]
async fn nxdomain_has_the_soa_with_the_negative_ttl() {
    let setup = standard("nxdomain", "");
    let srv = setup.serve();
    for p in BOTH {
        // MINIMUM (300) below the SOA TTL (3600): 300.
        let m = ask(p, srv.addr, "nothere.example.test.", RecordType::A).await;
        Want {
            rcode: NXDOMAIN,
            aa: true,
            answers: &[],
            authority: &[NEG_SOA_EXAMPLE],
            additional: Some(&[]),
        }
        .check(&m, &format!("{p:?} nothere.example.test"));
        // SOA TTL (60) below MINIMUM (900): 60.
        let m = ask(p, srv.addr, "a.b.nothere.other.test.", RecordType::TXT).await;
        Want {
            rcode: NXDOMAIN,
            aa: true,
            answers: &[],
            authority: &[NEG_SOA_OTHER],
            additional: Some(&[]),
        }
        .check(&m, &format!("{p:?} a.b.nothere.other.test"));
    }
}

#[tokio::test]
async fn nodata_is_noerror_with_the_soa() {
    let setup = standard("nodata", "");
    let srv = setup.serve();
    for p in BOTH {
        for (q, t) in [
            ("www.example.test.", RecordType::MX),
            ("ns1.example.test.", RecordType::AAAA),
            ("example.test.", RecordType::SRV),
            ("host.other.test.", RecordType::TXT),
        ] {
            let m = ask(p, srv.addr, q, t).await;
            let soa = if q.ends_with("other.test.") {
                NEG_SOA_OTHER
            } else {
                NEG_SOA_EXAMPLE
            };
            Want {
                rcode: NOERROR,
                aa: true,
                answers: &[],
                authority: &[soa],
                additional: Some(&[]),
            }
            .check(&m, &format!("{p:?} {q} {t}"));
        }
    }
}

/// RFC 8020 / RFC 4592 §2.2.2: a name that exists only because something
/// lives below it answers NODATA; a sibling that does not exist is NXDOMAIN.
#[tokio::test]
async fn empty_non_terminals_are_nodata_not_nxdomain() {
    let setup = standard("ent", "");
    let srv = setup.serve();
    for p in BOTH {
        for q in ["b.ent.example.test.", "ent.example.test."] {
            let m = ask(p, srv.addr, q, RecordType::TXT).await;
            Want {
                rcode: NOERROR,
                aa: true,
                answers: &[],
                authority: &[NEG_SOA_EXAMPLE],
                additional: Some(&[]),
            }
            .check(&m, &format!("{p:?} {q}"));
        }
        let m = ask(p, srv.addr, "c.ent.example.test.", RecordType::TXT).await;
        assert_eq!(m.metadata.response_code, NXDOMAIN, "{}", describe(&m));
        let m = ask(p, srv.addr, "a.b.ent.example.test.", RecordType::TXT).await;
        assert_eq!(m.answers.len(), 1, "{}", describe(&m));
    }
}

#[tokio::test]
async fn names_outside_every_zone_are_refused() {
    let setup = standard("refused", "");
    let srv = setup.serve();
    for p in BOTH {
        for q in ["www.example.net.", "test.", "ample.test.", "xexample.test."] {
            for rd in [false, true] {
                let m = ask_with(p, srv.addr, Query::query(name(q), RecordType::A), opts(rd)).await;
                let ctx = format!("{p:?} {q} rd={rd}");
                Want {
                    rcode: ResponseCode::Refused,
                    aa: false,
                    answers: &[],
                    authority: &[],
                    additional: Some(&[]),
                }
                .check(&m, &ctx);
                assert_eq!(m.metadata.recursion_desired, rd, "{ctx}: RD not copied");
            }
        }
    }
}

#[tokio::test]
async fn cname_chain_is_followed_within_our_zones() {
    let setup = standard("cname-chain", "");
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "chain.example.test.", RecordType::A).await;
        Want {
            rcode: NOERROR,
            aa: true,
            answers: &[
                "chain.example.test. 3600 IN CNAME alias.example.test.",
                "alias.example.test. 3600 IN CNAME www.example.test.",
                "www.example.test. 3600 IN A 192.0.2.80",
            ],
            authority: &[],
            additional: None,
        }
        .check(&m, &format!("{p:?} chain A"));
        // The target is in another zone we serve: followed there too.
        let m = ask(p, srv.addr, "xzone.example.test.", RecordType::A).await;
        Want {
            rcode: NOERROR,
            aa: true,
            answers: &[
                "xzone.example.test. 3600 IN CNAME host.other.test.",
                "host.other.test. 60 IN A 192.0.2.251",
            ],
            authority: &[],
            additional: None,
        }
        .check(&m, &format!("{p:?} xzone A"));
    }
}

#[tokio::test]
async fn cname_to_an_outside_name_returns_just_the_cname() {
    let setup = standard("cname-outside", "");
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "outside.example.test.", RecordType::A).await;
        Want {
            rcode: NOERROR,
            aa: true,
            answers: &["outside.example.test. 3600 IN CNAME www.example.net."],
            authority: &[],
            additional: Some(&[]),
        }
        .check(&m, &format!("{p:?}"));
    }
}

/// RFC 6604 §2.1: the RCODE is that of the last name in the chain.
#[tokio::test]
async fn cname_to_a_missing_name_is_nxdomain_with_the_cname() {
    let setup = standard("cname-nx", "");
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "dangling.example.test.", RecordType::A).await;
        Want {
            rcode: NXDOMAIN,
            aa: true,
            answers: &["dangling.example.test. 3600 IN CNAME nothere.example.test."],
            authority: &[NEG_SOA_EXAMPLE],
            additional: Some(&[]),
        }
        .check(&m, &format!("{p:?}"));
    }
}

#[tokio::test]
async fn qtype_cname_returns_the_cname_itself() {
    let setup = standard("cname-qtype", "");
    let srv = setup.serve();
    for p in BOTH {
        for q in [
            "alias.example.test.",
            "chain.example.test.",
            "loop1.example.test.",
        ] {
            let m = ask(p, srv.addr, q, RecordType::CNAME).await;
            assert_eq!(m.metadata.response_code, NOERROR, "{}", describe(&m));
            assert!(m.metadata.authoritative, "{}", describe(&m));
            assert_eq!(
                m.answers.len(),
                1,
                "{p:?} {q}: only the CNAME\n{}",
                describe(&m)
            );
            assert_eq!(m.answers[0].record_type(), RecordType::CNAME);
            assert_eq!(m.answers[0].name, name(q));
        }
    }
}

/// A loop must end in a reply, not a hang or a crash.
#[tokio::test]
async fn cname_loop_terminates() {
    let setup = standard("cname-loop", "");
    let mut srv = setup.serve();
    for p in BOTH {
        for q in ["loop1.example.test.", "self.example.test."] {
            let m = ask(p, srv.addr, q, RecordType::A).await;
            let d = describe(&m);
            assert_eq!(m.metadata.response_code, NOERROR, "{p:?} {q}\n{d}");
            assert!(!m.answers.is_empty(), "{p:?} {q}\n{d}");
            assert!(
                m.answers
                    .iter()
                    .all(|r| r.record_type() == RecordType::CNAME),
                "{p:?} {q}: a loop has only CNAMEs\n{d}"
            );
        }
    }
    assert!(srv.is_running());
}

#[tokio::test]
async fn cname_loop_answer_has_no_duplicate_records() {
    let setup = standard("cname-loop-dup", "");
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "loop1.example.test.", RecordType::A).await;
        // RFC 2181 §5: identical RRs are one RR; servers suppress duplicates.
        Want {
            rcode: NOERROR,
            aa: true,
            answers: &[
                "loop1.example.test. 3600 IN CNAME loop2.example.test.",
                "loop2.example.test. 3600 IN CNAME loop1.example.test.",
            ],
            authority: &[],
            additional: None,
        }
        .check(&m, &format!("{p:?} loop1"));
        let m = ask(p, srv.addr, "self.example.test.", RecordType::A).await;
        assert_eq!(
            rrs(&m.answers),
            ["self.example.test. 3600 IN CNAME self.example.test."],
            "{p:?} self"
        );
    }
}

/// RFC 1034 §4.3.2 step 3b: at or below a zone cut the answer is a
/// referral: NS in authority, glue in additional, AA clear.
#[tokio::test]
async fn delegation_is_a_referral_with_glue() {
    let setup = standard("referral", "");
    let srv = setup.serve();
    for p in BOTH {
        for (q, t) in [
            ("deleg.example.test.", RecordType::A),
            ("www.deleg.example.test.", RecordType::A),
            ("a.b.deleg.example.test.", RecordType::MX),
            // glue is not authoritative data: below the cut too
            ("ns.deleg.example.test.", RecordType::A),
            // the parent is not authoritative for the NS at the cut
            ("deleg.example.test.", RecordType::NS),
        ] {
            let m = ask(p, srv.addr, q, t).await;
            Want {
                rcode: NOERROR,
                aa: false,
                answers: &[],
                authority: &[
                    "deleg.example.test. 3600 IN NS ns.deleg.example.test.",
                    "deleg.example.test. 3600 IN NS ns.other.test.",
                ],
                additional: Some(&[
                    "ns.deleg.example.test. 3600 IN A 192.0.2.99",
                    "ns.deleg.example.test. 3600 IN AAAA 2001:db8::99",
                ]),
            }
            .check(&m, &format!("{p:?} {q} {t}"));
        }
    }
}

/// RFC 1034 §4.3.2: after a CNAME (step 3a) the lookup restarts at step 1
/// for the target; a target below a cut in our zone is a referral (step
/// 3b): the CNAME in the answer, the cut's NS in authority, glue in
/// additional. AA stays set: it speaks for the question's name.
#[tokio::test]
async fn cname_into_a_delegation_includes_the_referral() {
    let setup = standard("cname-deleg", "");
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "todeleg.example.test.", RecordType::A).await;
        Want {
            rcode: NOERROR,
            aa: true,
            answers: &["todeleg.example.test. 3600 IN CNAME www.deleg.example.test."],
            authority: &[
                "deleg.example.test. 3600 IN NS ns.deleg.example.test.",
                "deleg.example.test. 3600 IN NS ns.other.test.",
            ],
            additional: Some(&[
                "ns.deleg.example.test. 3600 IN A 192.0.2.99",
                "ns.deleg.example.test. 3600 IN AAAA 2001:db8::99",
            ]),
        }
        .check(&m, &format!("{p:?} todeleg A"));
    }
}

/// RFC 4035 §3.1.4.1: DS lives on the parent side of the cut, where the
/// parent is authoritative; without DS data that is NODATA with its SOA.
#[tokio::test]
async fn ds_at_the_cut_is_answered_by_the_parent() {
    let setup = standard("ds-cut", "");
    let srv = setup.serve();
    for p in BOTH {
        // a delegation inside example.test, and the apex of the nested
        // zone sub.example.test that we also serve: both the parent's.
        for q in ["deleg.example.test.", "sub.example.test."] {
            let m = ask(p, srv.addr, q, RecordType::DS).await;
            Want {
                rcode: NOERROR,
                aa: true,
                answers: &[],
                authority: &[NEG_SOA_EXAMPLE],
                additional: Some(&[]),
            }
            .check(&m, &format!("{p:?} {q} DS"));
        }
    }
}

/// When the parent zone we serve has no NS for a child zone we also serve
/// (the shipped example is set up like this), DS at the child's apex must
/// not be NXDOMAIN: that would deny the child zone and, to a resolver
/// following RFC 8020, everything below it, while its SOA answers NOERROR.
#[tokio::test]
async fn ds_at_a_nested_apex_without_delegation_is_not_nxdomain() {
    let setup = crate::harness::Setup::new(
        "ds-nodeleg",
        &[
            (
                "parent.test",
                "$TTL 300\n@ IN SOA ns h 1 7200 3600 1209600 60\n  IN NS ns\nns IN A 192.0.2.1\n",
            ),
            (
                "child.parent.test",
                "$TTL 300\n@ IN SOA ns.parent.test. h 1 7200 3600 1209600 60\n  IN NS ns.parent.test.\n  IN A 192.0.2.2\n",
            ),
        ],
        "",
    );
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "child.parent.test.", RecordType::SOA).await;
        assert_eq!(
            m.metadata.response_code,
            NOERROR,
            "{p:?} SOA\n{}",
            describe(&m)
        );
        let m = ask(p, srv.addr, "child.parent.test.", RecordType::DS).await;
        let d = describe(&m);
        assert_eq!(m.metadata.response_code, NOERROR, "{p:?} DS\n{d}");
        assert!(m.metadata.authoritative, "{p:?} DS\n{d}");
        assert!(m.answers.is_empty(), "{p:?} DS\n{d}");
        assert_eq!(m.authorities.len(), 1, "{p:?} DS: an SOA\n{d}");
    }
}

/// RFC 4343: matching ignores ASCII case; the question comes back exactly
/// as sent (resolvers using 0x20 randomization check it byte for byte).
#[test]
fn question_is_echoed_with_the_clients_case() {
    let setup = standard("case-raw", "");
    let srv = setup.serve();
    for p in BOTH {
        let q = question("WwW.ExAmPlE.TeSt", 1);
        let r = exchange(p, srv.addr, &packet(7, 0, [1, 0, 0, 0], &q));
        assert_eq!(rcode_of(&r), 0, "{p:?}");
        assert_ne!(flags_of(&r) & AA, 0, "{p:?}: AA");
        assert_eq!(
            &r[12..12 + q.len()],
            &q[..],
            "{p:?}: question not echoed byte for byte"
        );
        let m = decode(&r);
        assert_eq!(
            rrs(&m.answers),
            ["WwW.ExAmPlE.TeSt. 3600 IN A 192.0.2.80"],
            "{p:?}"
        );
        assert!(
            m.answers[0].name.eq_case(&name("WwW.ExAmPlE.TeSt.")),
            "{p:?}: answer owner should carry the query's case"
        );
        // Negative answers too. (Names from the zone may come back in the
        // query's case: compression matches suffixes case-insensitively, as
        // BIND's does, so only the question is compared byte for byte.)
        let q = question("NoThErE.eXaMpLe.TEST", 1);
        let r = exchange(p, srv.addr, &packet(8, 0, [1, 0, 0, 0], &q));
        assert_eq!(rcode_of(&r), 3, "{p:?}: NXDOMAIN");
        assert_eq!(&r[12..12 + q.len()], &q[..], "{p:?}");
        let auth = rrs(&decode(&r).authorities);
        assert_eq!(auth.len(), 1, "{p:?}");
        assert_eq!(
            auth[0].to_lowercase(),
            NEG_SOA_EXAMPLE.to_lowercase(),
            "{p:?}"
        );
    }
}

/// hickory's UDP client with case randomization rejects a reply whose
/// question case differs from what it sent.
#[tokio::test]
async fn case_randomizing_client_accepts_the_replies() {
    let setup = standard("case-0x20", "");
    let srv = setup.serve();
    for q in [
        "www.example.test.",
        "chain.example.test.",
        "nothere.example.test.",
        "host.sub.example.test.",
        "www.deleg.example.test.",
    ] {
        let mut o = DnsRequestOptions::default();
        o.case_randomization = true;
        let m = ask_with(
            Proto::Udp,
            srv.addr,
            Query::query(name(q), RecordType::A),
            o,
        )
        .await;
        assert_ne!(m.metadata.response_code, ResponseCode::Refused, "{q}");
    }
}

#[tokio::test]
async fn nested_zone_the_most_specific_wins() {
    let setup = standard("nested", "");
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "sub.example.test.", RecordType::SOA).await;
        Want {
            rcode: NOERROR,
            aa: true,
            answers: &[SOA_SUB],
            authority: &[],
            additional: None,
        }
        .check(&m, &format!("{p:?} sub SOA"));
        // not a referral from the parent's cut: the child answers
        let m = ask(p, srv.addr, "sub.example.test.", RecordType::A).await;
        Want {
            rcode: NOERROR,
            aa: true,
            answers: &["sub.example.test. 300 IN A 192.0.2.200"],
            authority: &[],
            additional: None,
        }
        .check(&m, &format!("{p:?} sub A"));
        let m = ask(p, srv.addr, "host.sub.example.test.", RecordType::AAAA).await;
        Want {
            rcode: NOERROR,
            aa: true,
            answers: &["host.sub.example.test. 300 IN AAAA 2001:db8::200"],
            authority: &[],
            additional: None,
        }
        .check(&m, &format!("{p:?} host.sub AAAA"));
        // negative answers carry the child's SOA
        let m = ask(p, srv.addr, "nothere.sub.example.test.", RecordType::A).await;
        Want {
            rcode: NXDOMAIN,
            aa: true,
            answers: &[],
            authority: &[NEG_SOA_SUB],
            additional: Some(&[]),
        }
        .check(&m, &format!("{p:?} nothere.sub"));
        // and the parent still answers for itself
        let m = ask(p, srv.addr, "www.example.test.", RecordType::A).await;
        assert_eq!(
            rrs(&m.answers),
            ["www.example.test. 3600 IN A 192.0.2.80"],
            "{p:?}"
        );
    }
}

/// RFC 1034 §4.3.2 step 6: addresses of MX/NS targets we serve go in the
/// additional section.
#[tokio::test]
async fn mx_and_ns_targets_get_additional_addresses() {
    let setup = standard("additional", "");
    let srv = setup.serve();
    for p in BOTH {
        let m = ask(p, srv.addr, "example.test.", RecordType::MX).await;
        Want {
            rcode: NOERROR,
            aa: true,
            answers: &["example.test. 3600 IN MX 10 mail.example.test."],
            authority: &[],
            additional: Some(&[
                "mail.example.test. 3600 IN A 192.0.2.25",
                "mail.example.test. 3600 IN AAAA 2001:db8::25",
            ]),
        }
        .check(&m, &format!("{p:?} MX"));
        let m = ask(p, srv.addr, "example.test.", RecordType::NS).await;
        Want {
            rcode: NOERROR,
            aa: true,
            answers: &[
                "example.test. 3600 IN NS ns1.example.test.",
                "example.test. 3600 IN NS ns2.other.test.",
            ],
            authority: &[],
            additional: Some(&["ns1.example.test. 3600 IN A 192.0.2.53"]),
        }
        .check(&m, &format!("{p:?} NS"));
    }
}
