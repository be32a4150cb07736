//! A socketless battery for the engine: a snapshot built from zone text
//! (and one load-balanced name), queries built with hickory, answered by
//! [`Worker::respond`] directly, replies decoded with hickory. The RFC
//! cases here run in microseconds; the spawned-binary tests in
//! `tests/integration` check the same semantics through real sockets.
//! (hickory-dns keeps the same split: `zone_handler_battery` beside its
//! server tests.)

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use super::{Transport, Worker};
use crate::diag::Diagnostics;
use crate::health::TargetRegistry;
use crate::policy::{
    Answers, BalancedName, Group, Member, OnAllDown, Order, Pick, Pool, StickyPrefixes,
};
use crate::snapshot::{Limits, Snapshot};
use crate::zone::{LoadOptions, ZoneSet, load_zone_file};

/// SOA TTL 3600, MINIMUM 300: negative answers carry 300.
const PARENT: &str = "$ORIGIN t.test.\n$TTL 3600\n\
@ SOA ns1 host 1 7200 3600 1209600 300\n\
@ NS ns1\n\
ns1 A 192.0.2.53\n\
www A 192.0.2.80\n\
www AAAA 2001:db8::80\n\
mx MX 10 mail\n\
mail A 192.0.2.25\n\
alias CNAME www\n\
loop1 CNAME loop2\n\
loop2 CNAME loop1\n\
a.b.ent TXT \"deep\"\n\
*.wild A 192.0.2.42\n\
deleg NS ns.deleg\n\
ns.deleg A 192.0.2.99\n\
child NS ns1\n\
tolb CNAME lb\n\
*.wlb CNAME lb\n\
tonx CNAME nothere\n\
ext CNAME www.other.test.\n\
tochild CNAME nothere.child\n\
L3 CNAME L4\n\
l4 CNAME L3\n\
a.*.ew TXT \"under a wildcard that is an empty non-terminal\"\n\
*.ent2 TXT \"wild\"\n\
x.y.ent2 TXT \"x.y\"\n\
srv SRV 0 0 80 mail\n\
dup MX 10 mail\n\
dup MX 20 mail\n\
mx SRV 0 0 25 mail\n\
tc NS sib01\n\
sib01 A 192.0.2.101\n\
sib01 AAAA 2001:db8::101\n\
tc NS sib02\n\
sib02 A 192.0.2.102\n\
sib02 AAAA 2001:db8::102\n\
tc NS sib03\n\
sib03 A 192.0.2.103\n\
sib03 AAAA 2001:db8::103\n\
tc NS sib04\n\
sib04 A 192.0.2.104\n\
sib04 AAAA 2001:db8::104\n\
tc NS sib05\n\
sib05 A 192.0.2.105\n\
sib05 AAAA 2001:db8::105\n\
tc NS sib06\n\
sib06 A 192.0.2.106\n\
sib06 AAAA 2001:db8::106\n\
tc NS sib07\n\
sib07 A 192.0.2.107\n\
sib07 AAAA 2001:db8::107\n\
tc NS sib08\n\
sib08 A 192.0.2.108\n\
sib08 AAAA 2001:db8::108\n\
tc NS sib09\n\
sib09 A 192.0.2.109\n\
sib09 AAAA 2001:db8::109\n\
tc NS sib10\n\
sib10 A 192.0.2.110\n\
sib10 AAAA 2001:db8::110\n\
tc NS ns.tc\n\
ns.tc A 192.0.2.200\n\
ns.tc AAAA 2001:db8::200\n\
unk TYPE65280 \\# 2 abcd\n\
big TXT \"0123456789012345678901234567890123456789012345678901234567890123456789\"\n\
big TXT \"1123456789012345678901234567890123456789012345678901234567890123456789\"\n\
big TXT \"2123456789012345678901234567890123456789012345678901234567890123456789\"\n\
big TXT \"3123456789012345678901234567890123456789012345678901234567890123456789\"\n\
big TXT \"4123456789012345678901234567890123456789012345678901234567890123456789\"\n\
big TXT \"5123456789012345678901234567890123456789012345678901234567890123456789\"\n\
big TXT \"6123456789012345678901234567890123456789012345678901234567890123456789\"\n\
big TXT \"7123456789012345678901234567890123456789012345678901234567890123456789\"\n";

/// The delegated child, served too: DS for it comes from the parent. Its
/// SOA TTL (30) is below its MINIMUM (60): negative answers carry 30.
const CHILD: &str = "$ORIGIN child.t.test.\n$TTL 60\n\
@ 30 SOA ns1.t.test. host 1 7200 3600 1209600 60\n\
@ NS ns1.t.test.\n\
@ A 192.0.2.7\n";

/// The snapshot: both zones, and `lb.t.test.` balanced over two IPv4
/// members (no IPv6 member) with `pick`.
fn snapshot(pick: Pick) -> Snapshot {
    let opts = LoadOptions {
        include_root: None,
        ..LoadOptions::default()
    };
    let mut diags = Diagnostics::new();
    let mut zone = |file: &str, text: &str, origin: &str| {
        let origin = Name::from_ascii(origin).unwrap();
        load_zone_file(Path::new(file), text, &origin, &opts, &mut diags)
            .unwrap_or_else(|| panic!("{file}"))
    };
    let mut parent = zone("t.test.zone", PARENT, "t.test.");
    let child = zone("child.t.test.zone", CHILD, "child.t.test.");
    assert!(diags.is_empty(), "{diags}");
    let mut targets = TargetRegistry::new();
    let members = [1u8, 2].map(|i| {
        let addr = IpAddr::from([198, 51, 100, i]);
        let id = targets.intern(crate::health::TargetKey { addr, check: None });
        Member::new(addr, id, 1)
    });
    let lb = BalancedName {
        name: "lb.t.test.".into(),
        ttl: 30,
        ttl_while_failing: None,
        answers: Answers::All,
        order: Order::Single,
        pick,
        groups: Box::new([Group::new(Arc::new(Pool::new("p", members)))]),
        on_all_down: OnAllDown::FailOpen,
    };
    parent
        .attach_balanced(&Name::from_ascii("lb.t.test.").unwrap(), 0)
        .unwrap();
    let health = Arc::new(targets.fresh_table());
    Snapshot {
        zones: ZoneSet::new(vec![parent, child]),
        lb: vec![lb],
        declared: Vec::new(),
        targets,
        health,
        limits: Limits::default(),
        geoip: None,
        counters: Default::default(),
        sources: Default::default(),
        zone_status: Vec::new(),
        errors: Vec::new(),
    }
}

/// A query for `qname`/`rtype`, with EDNS (payload 1232) unless `edns` is
/// `None`, and an ECS option when given.
fn query(qname: &str, rtype: RecordType, edns: Option<Option<(IpAddr, u8)>>) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(qname).unwrap(), rtype));
    if let Some(ecs) = edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        if let Some((net, source)) = ecs {
            e.options_mut()
                .insert(EdnsOption::Subnet(ClientSubnet::new(net, source, 0)));
        }
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn respond(snap: &Snapshot, packet: &[u8], transport: Transport) -> Message {
    let mut out = Vec::new();
    let src = SocketAddr::from(([203, 0, 113, 1], 5300));
    assert!(Worker::new(7).respond(snap, packet, src, transport, &mut out));
    Message::from_vec(&out).unwrap()
}

fn ask(snap: &Snapshot, qname: &str, rtype: RecordType) -> Message {
    respond(snap, &query(qname, rtype, Some(None)), Transport::Udp)
}

/// Records of a section as `owner TTL type`, in order.
fn rrs(section: &[hickory_proto::rr::Record]) -> Vec<String> {
    section
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.ttl, r.record_type()))
        .collect()
}

/// rcode, AA, answer, authority, additional (OPT excluded).
type Shape = (ResponseCode, bool, Vec<String>, Vec<String>, Vec<String>);

fn shape(m: &Message) -> Shape {
    (
        m.metadata.response_code,
        m.metadata.authoritative,
        rrs(&m.answers),
        rrs(&m.authorities),
        rrs(&m.additionals),
    )
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

const NOERROR: ResponseCode = ResponseCode::NoError;
const NXDOMAIN: ResponseCode = ResponseCode::NXDomain;
const NEG: &str = "t.test. 300 SOA";

/// RFC 1034 §4.3.2 and RFC 2308: every answer kind, by its shape.
#[test]
fn answer_kinds() {
    let s = snapshot(Pick::Weighted);
    let cases: &[(&str, RecordType, Shape)] = &[
        // Positive, authoritative.
        (
            "www.t.test.",
            RecordType::A,
            (NOERROR, true, v(&["www.t.test. 3600 A"]), v(&[]), v(&[])),
        ),
        // Case is ignored in the lookup, kept in the answer (RFC 4343).
        (
            "WwW.T.test.",
            RecordType::AAAA,
            (NOERROR, true, v(&["WwW.T.test. 3600 AAAA"]), v(&[]), v(&[])),
        ),
        // NXDOMAIN: SOA with min(SOA TTL, MINIMUM) (RFC 2308 §3, §5).
        (
            "nothere.t.test.",
            RecordType::A,
            (NXDOMAIN, true, v(&[]), v(&[NEG]), v(&[])),
        ),
        // NODATA at a name with other types.
        (
            "www.t.test.",
            RecordType::MX,
            (NOERROR, true, v(&[]), v(&[NEG]), v(&[])),
        ),
        // An empty non-terminal exists: NODATA, not NXDOMAIN (RFC 4592 §2.2.2).
        (
            "b.ent.t.test.",
            RecordType::A,
            (NOERROR, true, v(&[]), v(&[NEG]), v(&[])),
        ),
        // Wildcard synthesis, owner = the query name (RFC 4592 §3.3.1).
        (
            "x.y.wild.t.test.",
            RecordType::A,
            (
                NOERROR,
                true,
                v(&["x.y.wild.t.test. 3600 A"]),
                v(&[]),
                v(&[]),
            ),
        ),
        // The wildcard's own parent is not covered by it.
        (
            "wild.t.test.",
            RecordType::A,
            (NOERROR, true, v(&[]), v(&[NEG]), v(&[])),
        ),
        // CNAME followed inside our zones (RFC 1034 §4.3.2 step 3a).
        (
            "alias.t.test.",
            RecordType::A,
            (
                NOERROR,
                true,
                v(&["alias.t.test. 3600 CNAME", "www.t.test. 3600 A"]),
                v(&[]),
                v(&[]),
            ),
        ),
        // A loop stops after each name once (RFC 2181 §5: no duplicates).
        (
            "loop1.t.test.",
            RecordType::A,
            (
                NOERROR,
                true,
                v(&["loop1.t.test. 3600 CNAME", "loop2.t.test. 3600 CNAME"]),
                v(&[]),
                v(&[]),
            ),
        ),
        // Additional addresses for MX targets we serve (step 6).
        (
            "mx.t.test.",
            RecordType::MX,
            (
                NOERROR,
                true,
                v(&["mx.t.test. 3600 MX"]),
                v(&[]),
                v(&["mail.t.test. 3600 A"]),
            ),
        ),
        // Referral: NS in authority, glue in additional, AA clear (step 3b).
        (
            "host.deleg.t.test.",
            RecordType::A,
            (
                NOERROR,
                false,
                v(&[]),
                v(&["deleg.t.test. 3600 NS"]),
                v(&["ns.deleg.t.test. 3600 A"]),
            ),
        ),
        // The child zone we also serve answers below its apex...
        (
            "child.t.test.",
            RecordType::A,
            (NOERROR, true, v(&["child.t.test. 60 A"]), v(&[]), v(&[])),
        ),
        // ...but DS lives at the parent side of the cut (RFC 4035 §3.1.4.1).
        (
            "child.t.test.",
            RecordType::DS,
            (NOERROR, true, v(&[]), v(&[NEG]), v(&[])),
        ),
        // DS of a delegation we do not serve: the parent's NODATA, not a referral.
        (
            "deleg.t.test.",
            RecordType::DS,
            (NOERROR, true, v(&[]), v(&[NEG]), v(&[])),
        ),
        // Not ours at all.
        (
            "www.other.test.",
            RecordType::A,
            (ResponseCode::Refused, false, v(&[]), v(&[]), v(&[])),
        ),
    ];
    for (qname, rtype, want) in cases {
        let m = ask(&s, qname, *rtype);
        assert_eq!(&shape(&m), want, "{qname} {rtype}");
        assert_eq!(m.metadata.id, 0x1234);
        assert!(m.edns.is_some(), "{qname}: OPT echoed (RFC 6891 §7)");
    }
}

/// Edge cases of RFC 1034 §4.3.2, RFC 2308 and RFC 4592, each checked
/// against Knot on the same zone.
#[test]
fn answer_edge_cases() {
    let s = snapshot(Pick::RoundRobin);
    let child_neg = "child.t.test. 30 SOA";
    let lb2 = ["lb.t.test. 30 A", "lb.t.test. 30 A"];
    let cases: &[(&str, RecordType, Shape)] = &[
        // A CNAME to a load-balanced name: the chain, then the policy's
        // addresses.
        (
            "tolb.t.test.",
            RecordType::A,
            (
                NOERROR,
                true,
                v(&["tolb.t.test. 3600 CNAME", lb2[0], lb2[1]]),
                v(&[]),
                v(&[]),
            ),
        ),
        // A wildcard CNAME to one (RFC 4592 §4.4: synthesized, then followed).
        (
            "x.wlb.t.test.",
            RecordType::A,
            (
                NOERROR,
                true,
                v(&["x.wlb.t.test. 3600 CNAME", lb2[0], lb2[1]]),
                v(&[]),
                v(&[]),
            ),
        ),
        // The target's family has no member: NODATA after the chain.
        (
            "tolb.t.test.",
            RecordType::AAAA,
            (
                NOERROR,
                true,
                v(&["tolb.t.test. 3600 CNAME"]),
                v(&[NEG]),
                v(&[]),
            ),
        ),
        // A CNAME to a missing name: the rcode is the last name's (RFC 6604
        // §2), with the SOA of the target's zone.
        (
            "tonx.t.test.",
            RecordType::A,
            (
                NXDOMAIN,
                true,
                v(&["tonx.t.test. 3600 CNAME"]),
                v(&[NEG]),
                v(&[]),
            ),
        ),
        // ...also in another zone we serve; SOA TTL below MINIMUM: the
        // negative TTL is the SOA's own (RFC 2308 §5).
        (
            "tochild.t.test.",
            RecordType::A,
            (
                NXDOMAIN,
                true,
                v(&["tochild.t.test. 3600 CNAME"]),
                v(&[child_neg]),
                v(&[]),
            ),
        ),
        (
            "nothere.child.t.test.",
            RecordType::A,
            (NXDOMAIN, true, v(&[]), v(&[child_neg]), v(&[])),
        ),
        // A CNAME out of our zones: the resolver continues (step 3a).
        (
            "ext.t.test.",
            RecordType::A,
            (
                NOERROR,
                true,
                v(&["ext.t.test. 3600 CNAME"]),
                v(&[]),
                v(&[]),
            ),
        ),
        // A loop written in mixed case still stops before repeating an RR
        // (RFC 2181 §5, RFC 4343: names compare without case).
        (
            "l3.t.test.",
            RecordType::A,
            (
                NOERROR,
                true,
                v(&["l3.t.test. 3600 CNAME", "L4.t.test. 3600 CNAME"]),
                v(&[]),
                v(&[]),
            ),
        ),
        // A wildcard that is an empty non-terminal still exists: NODATA for
        // the names it covers (RFC 4592 §2.2.1, §3.3.1)...
        (
            "q.ew.t.test.",
            RecordType::TXT,
            (NOERROR, true, v(&[]), v(&[NEG]), v(&[])),
        ),
        // ...and below a name under it: no wildcard there, NXDOMAIN.
        (
            "z.a.*.ew.t.test.",
            RecordType::TXT,
            (NXDOMAIN, true, v(&[]), v(&[NEG]), v(&[])),
        ),
        // An empty non-terminal blocks the wildcard above it (RFC 4592
        // §2.2.2): y.ent2 is NODATA, names below it NXDOMAIN.
        (
            "y.ent2.t.test.",
            RecordType::TXT,
            (NOERROR, true, v(&[]), v(&[NEG]), v(&[])),
        ),
        (
            "z.y.ent2.t.test.",
            RecordType::TXT,
            (NXDOMAIN, true, v(&[]), v(&[NEG]), v(&[])),
        ),
        (
            "z.ent2.t.test.",
            RecordType::TXT,
            (
                NOERROR,
                true,
                v(&["z.ent2.t.test. 3600 TXT"]),
                v(&[]),
                v(&[]),
            ),
        ),
        // A query for the wildcard's own name answers from it, literally.
        (
            "*.ent2.t.test.",
            RecordType::TXT,
            (
                NOERROR,
                true,
                v(&["*.ent2.t.test. 3600 TXT"]),
                v(&[]),
                v(&[]),
            ),
        ),
        // NS at the apex: authoritative, with its address (step 6).
        (
            "t.test.",
            RecordType::NS,
            (
                NOERROR,
                true,
                v(&["t.test. 3600 NS"]),
                v(&[]),
                v(&["ns1.t.test. 3600 A"]),
            ),
        ),
        // NS at a cut is the parent's referral, not an answer.
        (
            "deleg.t.test.",
            RecordType::NS,
            (
                NOERROR,
                false,
                v(&[]),
                v(&["deleg.t.test. 3600 NS"]),
                v(&["ns.deleg.t.test. 3600 A"]),
            ),
        ),
        // SRV targets get addresses too (RFC 2782).
        (
            "srv.t.test.",
            RecordType::SRV,
            (
                NOERROR,
                true,
                v(&["srv.t.test. 3600 SRV"]),
                v(&[]),
                v(&["mail.t.test. 3600 A"]),
            ),
        ),
        // An unknown type is served as any other (RFC 3597 §3).
        (
            "unk.t.test.",
            RecordType::Unknown(65280),
            (
                NOERROR,
                true,
                v(&["unk.t.test. 3600 Unknown"]),
                v(&[]),
                v(&[]),
            ),
        ),
    ];
    for (qname, rtype, want) in cases {
        let m = ask(&s, qname, *rtype);
        assert_eq!(&shape(&m), want, "{qname} {rtype}");
    }
}

/// A load-balanced name: addresses from its pool with its TTL; NODATA for
/// the family it has no member of; other types as any name without data.
#[test]
fn load_balanced_names() {
    let s = snapshot(Pick::RoundRobin);
    let m = ask(&s, "lb.t.test.", RecordType::A);
    assert_eq!(
        shape(&m),
        (
            NOERROR,
            true,
            v(&["lb.t.test. 30 A", "lb.t.test. 30 A"]),
            v(&[]),
            v(&[])
        )
    );
    for rtype in [RecordType::AAAA, RecordType::TXT] {
        let m = ask(&s, "lb.t.test.", rtype);
        assert_eq!(
            shape(&m),
            (NOERROR, true, v(&[]), v(&[NEG]), v(&[])),
            "{rtype}"
        );
    }
}

/// RFC 7871 §7.2.1: the scope is echoed, 0 for an answer that does not
/// depend on the client, the sticky prefix for one that does.
#[test]
fn ecs_scope_follows_the_pick() {
    let net = IpAddr::from([198, 51, 100, 0]);
    for (pick, want) in [
        (Pick::Weighted, 0),
        (Pick::Sticky(StickyPrefixes { v4: 20, v6: 56 }), 20),
    ] {
        let mut s = snapshot(pick);
        s.lb[0].answers = Answers::Count(1);
        let m = respond(
            &s,
            &query("lb.t.test.", RecordType::A, Some(Some((net, 24)))),
            Transport::Udp,
        );
        let Some(EdnsOption::Subnet(cs)) = m.edns.as_ref().unwrap().option(EdnsCode::Subnet) else {
            panic!("{pick:?}: no ECS in the reply")
        };
        assert_eq!(cs.scope_prefix(), want, "{pick:?}");
    }
}

/// RFC 8482: ANY over UDP gets one RRset, over TCP every RRset.
#[test]
fn any_is_minimal_over_udp_only() {
    let s = snapshot(Pick::Weighted);
    let q = query("www.t.test.", RecordType::ANY, Some(None));
    assert_eq!(respond(&s, &q, Transport::Udp).answers.len(), 1);
    assert_eq!(respond(&s, &q, Transport::Tcp).answers.len(), 2);
}

/// RFC 1035 §3.3.9, §3.3.11 and RFC 2782: NS, MX and SRV records cause
/// additional-section addresses for their targets, in an ANY answer too
/// (as Knot), and each target's addresses appear once however many
/// records name it (as BIND).
#[test]
fn additional_addresses_for_any_and_once_per_target() {
    let s = snapshot(Pick::Weighted);
    let mail = v(&["mail.t.test. 3600 A"]);
    let m = ask(&s, "dup.t.test.", RecordType::MX);
    assert_eq!(m.answers.len(), 2);
    assert_eq!(rrs(&m.additionals), mail, "two MX of one host");
    // Over UDP, ANY is one RRset (the apex NS) with its addresses.
    let q = query("t.test.", RecordType::ANY, Some(None));
    let m = respond(&s, &q, Transport::Udp);
    assert_eq!(rrs(&m.answers), v(&["t.test. 3600 NS"]));
    assert_eq!(rrs(&m.additionals), v(&["ns1.t.test. 3600 A"]));
    // Over TCP, every RRset: an MX and an SRV naming one host.
    let q = query("mx.t.test.", RecordType::ANY, Some(None));
    let m = respond(&s, &q, Transport::Tcp);
    assert_eq!(
        rrs(&m.answers),
        v(&["mx.t.test. 3600 MX", "mx.t.test. 3600 SRV"])
    );
    assert_eq!(rrs(&m.additionals), mail);
}

/// RFC 9471 §3: a referral must carry the glue of its in-domain name
/// servers, or set TC; sibling glue is optional. Over 512 octets, the
/// in-domain glue goes first and ten siblings' addresses fill what is left,
/// without TC.
#[test]
fn referral_keeps_in_domain_glue_before_sibling_glue() {
    let s = snapshot(Pick::Weighted);
    let q = query("www.tc.t.test.", RecordType::A, None);
    let m = respond(&s, &q, Transport::Udp);
    assert!(!m.metadata.truncation, "{m:?}");
    assert_eq!(m.authorities.len(), 11);
    let glue = rrs(&m.additionals);
    assert_eq!(
        &glue[..2],
        &v(&["ns.tc.t.test. 3600 A", "ns.tc.t.test. 3600 AAAA"])[..],
        "{glue:?}"
    );
    assert!(glue.len() < 22, "some sibling glue left out: {glue:?}");
}

/// RFC 1035 §4.2.1 and RFC 2181 §9: without EDNS a UDP reply is at most 512
/// octets; an RRset that does not fit sets TC and is left out whole. Over
/// TCP it fits.
#[test]
fn truncation() {
    let s = snapshot(Pick::Weighted);
    let udp = respond(
        &s,
        &query("big.t.test.", RecordType::TXT, None),
        Transport::Udp,
    );
    assert!(udp.metadata.truncation);
    assert!(udp.answers.is_empty());
    let tcp = respond(
        &s,
        &query("big.t.test.", RecordType::TXT, None),
        Transport::Tcp,
    );
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 8);
}

/// Refused outright: zone transfers (not offered) and classes other than IN.
#[test]
fn refused_requests() {
    let s = snapshot(Pick::Weighted);
    let axfr = ask(&s, "t.test.", RecordType::AXFR);
    assert_eq!(axfr.metadata.response_code, ResponseCode::Refused);
    let mut m = Message::new(9, MessageType::Query, OpCode::Query);
    let mut q = Query::query(Name::from_ascii("www.t.test.").unwrap(), RecordType::A);
    q.set_query_class(DNSClass::CH);
    m.add_query(q);
    let ch = respond(&s, &m.to_vec().unwrap(), Transport::Udp);
    assert_eq!(ch.metadata.response_code, ResponseCode::Refused);
}

/// RFC 6891 §6.1.3: an EDNS version we do not speak gets BADVERS, with our
/// OPT (version 0) and no answer.
#[test]
fn unknown_edns_version_is_badvers() {
    let s = snapshot(Pick::Weighted);
    let mut m = Message::new(5, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("www.t.test.").unwrap(),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232).set_version(1);
    m.set_edns(e);
    let r = respond(&s, &m.to_vec().unwrap(), Transport::Udp);
    // 16 is both BADVERS and BADSIG to hickory's decoder: compare numbers.
    assert_eq!(u16::from(r.metadata.response_code), 16);
    assert!(r.answers.is_empty());
    assert_eq!(r.edns.as_ref().map(|e| e.version()), Some(0));
}

/// RFC 4343 §4.1: the question comes back byte for byte, and the answer's
/// owner (a pointer to it) carries the client's case.
#[test]
fn question_case_is_echoed() {
    let s = snapshot(Pick::Weighted);
    let mut q = vec![0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    let question = b"\x03WwW\x01T\x04tEsT\x00\x00\x01\x00\x01";
    q.extend_from_slice(question);
    let mut out = Vec::new();
    let src = SocketAddr::from(([203, 0, 113, 1], 5300));
    assert!(Worker::new(1).respond(&s, &q, src, Transport::Udp, &mut out));
    assert_eq!(&out[12..12 + question.len()], &question[..]);
    let m = Message::from_vec(&out).unwrap();
    assert!(
        m.answers[0]
            .name
            .eq_case(&Name::from_ascii("WwW.T.tEsT.").unwrap())
    );
}

/// A question of class `class` (numeric), EDNS with a 1232-byte payload.
fn query_class(qname: &str, rtype: RecordType, class: u16) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    let mut q = Query::query(Name::from_ascii(qname).unwrap(), rtype);
    q.set_query_class(DNSClass::from(class));
    m.add_query(q);
    let mut e = Edns::new();
    e.set_max_payload(1232);
    m.set_edns(e);
    m.to_vec().unwrap()
}

/// RFC 1034 §3.7.1: "responses to QCLASS=* queries can never be
/// authoritative". The IN data answers, AA clear; a name the zone lacks
/// keeps NXDOMAIN (with the SOA it came from), AA clear too (as NSD; BIND
/// 9.18 answers FORMERR to every QCLASS=* query, Knot sets AA; README).
#[test]
fn qclass_any_is_never_authoritative() {
    let s = snapshot(Pick::Weighted);
    let cases: &[(&str, RecordType, Shape)] = &[
        (
            "www.t.test.",
            RecordType::A,
            (NOERROR, false, v(&["www.t.test. 3600 A"]), v(&[]), v(&[])),
        ),
        (
            "alias.t.test.",
            RecordType::A,
            (
                NOERROR,
                false,
                v(&["alias.t.test. 3600 CNAME", "www.t.test. 3600 A"]),
                v(&[]),
                v(&[]),
            ),
        ),
        (
            "www.t.test.",
            RecordType::MX,
            (NOERROR, false, v(&[]), v(&[NEG]), v(&[])),
        ),
        (
            "nothere.t.test.",
            RecordType::A,
            (NXDOMAIN, false, v(&[]), v(&[NEG]), v(&[])),
        ),
        (
            "lb.t.test.",
            RecordType::A,
            (
                NOERROR,
                false,
                v(&["lb.t.test. 30 A", "lb.t.test. 30 A"]),
                v(&[]),
                v(&[]),
            ),
        ),
        (
            "www.t.test.",
            RecordType::ANY,
            (NOERROR, false, v(&["www.t.test. 3600 A"]), v(&[]), v(&[])),
        ),
    ];
    for (qname, rtype, want) in cases {
        let m = respond(&s, &query_class(qname, *rtype, 255), Transport::Udp);
        assert_eq!(&shape(&m), want, "{qname} {rtype} class ANY");
        // The same question in class IN stays authoritative.
        let m = respond(&s, &query_class(qname, *rtype, 1), Transport::Udp);
        assert!(m.metadata.authoritative, "{qname} {rtype} class IN");
    }
}

/// Raw packet pieces for the malformed and signed queries below.
mod raw {
    pub(super) fn name(n: &str) -> Vec<u8> {
        let mut w = Vec::new();
        for l in n.trim_end_matches('.').split('.') {
            w.push(l.len() as u8);
            w.extend_from_slice(l.as_bytes());
        }
        w.push(0);
        w
    }

    /// Header with id 0x4242, `flags`, and the four counts.
    pub(super) fn header(flags: u16, counts: [u16; 4]) -> Vec<u8> {
        let mut h = vec![0x42, 0x42];
        h.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            h.extend_from_slice(&c.to_be_bytes());
        }
        h
    }

    /// A question `n` of type A, class IN.
    pub(super) fn question(n: &str) -> Vec<u8> {
        let mut q = name(n);
        q.extend_from_slice(&[0, 1, 0, 1]);
        q
    }

    /// An OPT record: payload 1232, `version`, DO clear, `options`.
    pub(super) fn opt(version: u8, options: &[u8]) -> Vec<u8> {
        let mut o = vec![0, 0, 41, 0x04, 0xd0, 0, version, 0, 0];
        o.extend_from_slice(&(options.len() as u16).to_be_bytes());
        o.extend_from_slice(options);
        o
    }

    /// A TSIG record (RFC 8945 §4.2) for key `key`, HMAC-SHA256, signed at
    /// `time`, fudge 300, a 32-octet MAC, Original ID `orig`, class `class`.
    pub(super) fn tsig(key: &str, time: u64, orig: u16, class: u16) -> Vec<u8> {
        let mut rdata = name("hmac-sha256");
        rdata.extend_from_slice(&time.to_be_bytes()[2..]);
        rdata.extend_from_slice(&300u16.to_be_bytes());
        rdata.extend_from_slice(&32u16.to_be_bytes());
        rdata.extend_from_slice(&[0xab; 32]);
        rdata.extend_from_slice(&orig.to_be_bytes());
        rdata.extend_from_slice(&[0, 0, 0, 0]);
        let mut r = name(key);
        r.extend_from_slice(&250u16.to_be_bytes());
        r.extend_from_slice(&class.to_be_bytes());
        r.extend_from_slice(&[0, 0, 0, 0]);
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(&rdata);
        r
    }

    /// The reply's flags and counts.
    pub(super) fn head(reply: &[u8]) -> (u16, [u16; 4]) {
        let u = |i: usize| u16::from_be_bytes([reply[i], reply[i + 1]]);
        (u(2), [u(4), u(6), u(8), u(10)])
    }
}

fn respond_raw(s: &Snapshot, packet: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let src = SocketAddr::from(([203, 0, 113, 1], 5300));
    assert!(Worker::new(7).respond(s, packet, src, Transport::Udp, &mut out));
    out
}

/// RFC 6891 §6.1.1: "If an OPT record is present in a received request,
/// compliant responders MUST include an OPT record in their respective
/// responses" — error replies too, however early the query went wrong.
#[test]
fn error_replies_carry_an_opt_when_the_query_had_one() {
    let s = snapshot(Pick::Weighted);
    let two = [raw::question("www.t.test."), raw::question("mx.t.test.")].concat();
    let compressed = [raw::question("www.t.test."), vec![0xc0, 12, 0, 1, 0, 1]].concat();
    let cases: &[(&str, Vec<u8>, u16)] = &[
        (
            "QDCOUNT 2",
            [raw::header(0, [2, 0, 0, 1]), two.clone(), raw::opt(0, &[])].concat(),
            1,
        ),
        (
            "opcode 9, QDCOUNT 0",
            [raw::header(9 << 11, [0, 0, 0, 1]), raw::opt(0, &[])].concat(),
            4,
        ),
        (
            "opcode 9, QDCOUNT 2",
            [raw::header(9 << 11, [2, 0, 0, 1]), two, raw::opt(0, &[])].concat(),
            4,
        ),
        (
            "QDCOUNT 0, no cookie",
            [raw::header(0, [0, 0, 0, 1]), raw::opt(0, &[])].concat(),
            1,
        ),
        (
            "QDCOUNT 2, the second name compressed",
            [raw::header(0, [2, 0, 0, 1]), compressed, raw::opt(0, &[])].concat(),
            1,
        ),
    ];
    for (what, packet, rcode) in cases {
        let out = respond_raw(&s, packet);
        let (flags, counts) = raw::head(&out);
        assert_eq!(flags & 0xF, *rcode, "{what}");
        assert_eq!(counts[3], 1, "{what}: the reply has an OPT");
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(m.edns.map(|e| e.version()), Some(0), "{what}");
        // The same query without the OPT gets no OPT back.
        let mut bare = packet[..packet.len() - 11].to_vec();
        bare[11] = 0;
        let (flags, counts) = raw::head(&respond_raw(&s, &bare));
        assert_eq!((flags & 0xF, counts[3]), (*rcode, 0), "{what}, no OPT");
    }
}

/// RFC 6891 §6.1.1: an OPT goes only in the additional section, once.
/// Anywhere else, or twice, is FORMERR (as Knot and NSD answer); the reply
/// has an OPT when the additional section had one.
#[test]
fn opt_outside_the_additional_section_is_formerr() {
    let s = snapshot(Pick::Weighted);
    let q = raw::question("www.t.test.");
    let opt = raw::opt(0, &[]);
    let cases: &[(&str, Vec<u8>, u16)] = &[
        (
            "OPT as the answer",
            [raw::header(0, [1, 1, 0, 0]), q.clone(), opt.clone()].concat(),
            0,
        ),
        (
            "OPT in authority",
            [raw::header(0, [1, 0, 1, 0]), q.clone(), opt.clone()].concat(),
            0,
        ),
        (
            "OPT in answer and in additional",
            [
                raw::header(0, [1, 1, 0, 1]),
                q.clone(),
                opt.clone(),
                opt.clone(),
            ]
            .concat(),
            1,
        ),
        (
            "two OPTs in additional",
            [
                raw::header(0, [1, 0, 0, 2]),
                q.clone(),
                opt.clone(),
                opt.clone(),
            ]
            .concat(),
            1,
        ),
    ];
    for (what, packet, ar) in cases {
        let (flags, counts) = raw::head(&respond_raw(&s, packet));
        assert_eq!((flags & 0xF, counts[1], counts[3]), (1, 0, *ar), "{what}");
    }
}

/// RFC 6891 §6.1.3: the version is checked first. A version-1 OPT whose
/// options would be malformed under version 0 gets BADVERS, not FORMERR
/// (Knot, NSD and BIND answer BADVERS).
#[test]
fn edns_version_is_checked_before_the_options() {
    let s = snapshot(Pick::Weighted);
    let bad_ecs = [0, 8, 0, 7, 0, 1, 24, 5, 192, 0, 2]; // scope 5 in a query
    let bad_cookie = [0, 10, 0, 3, 1, 2, 3]; // client cookie of 3 octets
    let overrun = [0, 8, 0, 40, 0, 1]; // option longer than the RDATA
    for (what, options) in [
        ("ECS", &bad_ecs[..]),
        ("COOKIE", &bad_cookie[..]),
        ("overrun", &overrun[..]),
    ] {
        let packet = [
            raw::header(0, [1, 0, 0, 1]),
            raw::question("www.t.test."),
            raw::opt(1, options),
        ]
        .concat();
        let out = respond_raw(&s, &packet);
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(u16::from(m.metadata.response_code), 16, "{what}");
        // The same option in a version-0 OPT is FORMERR.
        let packet = [
            raw::header(0, [1, 0, 0, 1]),
            raw::question("www.t.test."),
            raw::opt(0, options),
        ]
        .concat();
        assert_eq!(raw::head(&respond_raw(&s, &packet)).0 & 0xF, 1, "{what}");
    }
}

/// RFC 8945 §5.2.2: dnslb has no TSIG keys, so a signed query gets NOTAUTH
/// with a TSIG record carrying error BADKEY, unsigned (MAC Size 0,
/// §5.3.2), the key, algorithm, Time Signed, Fudge and Original ID copied
/// from the query, last in additional after the OPT (as Knot, NSD and BIND
/// answer). A TSIG anywhere but last in additional, or of a class other
/// than ANY, is FORMERR (§5.2, §4.2).
#[test]
fn tsig_signed_queries_get_notauth_badkey() {
    let s = snapshot(Pick::Weighted);
    let q = raw::question("www.t.test.");
    let time: u64 = 0x0000_6b0d_9ce2;
    let tsig = raw::tsig("k1.", time, 0x4242, 255);
    let want_rdata = {
        let mut r = raw::name("hmac-sha256");
        r.extend_from_slice(&time.to_be_bytes()[2..]);
        r.extend_from_slice(&[0x01, 0x2c, 0, 0, 0x42, 0x42, 0, 17, 0, 0]);
        r
    };
    let want_tail = {
        let mut t = raw::name("k1.");
        t.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0]);
        t.extend_from_slice(&(want_rdata.len() as u16).to_be_bytes());
        t.extend_from_slice(&want_rdata);
        t
    };
    for (edns, ar) in [(false, 1), (true, 2)] {
        let mut packet = [raw::header(0x0100, [1, 0, 0, ar]), q.clone()].concat();
        if edns {
            packet.extend(raw::opt(0, &[]));
        }
        packet.extend(&tsig);
        let out = respond_raw(&s, &packet);
        let (flags, counts) = raw::head(&out);
        assert_eq!(flags & 0xF, 9, "NOTAUTH (edns {edns})");
        assert_eq!(flags & 0x0400, 0, "not authoritative");
        assert_eq!(flags & 0x0100, 0x0100, "RD copied");
        assert_eq!(counts, [1, 0, 0, ar], "question, (OPT,) TSIG");
        assert_eq!(&out[12..12 + q.len()], &q[..], "question echoed");
        assert!(out.ends_with(&want_tail), "TSIG BADKEY last: {out:02x?}");
        if edns {
            let opt_at = 12 + q.len();
            assert_eq!(&out[opt_at..opt_at + 3], &[0, 0, 41], "OPT before TSIG");
        }
    }
    // A compressed key name is expanded in the reply.
    let mut packet = [raw::header(0, [1, 0, 0, 1]), q.clone()].concat();
    let mut ptsig = vec![0xc0, 16]; // "t.test." inside the question
    ptsig.extend_from_slice(&tsig[4..]);
    packet.extend(&ptsig);
    let out = respond_raw(&s, &packet);
    assert_eq!(raw::head(&out).0 & 0xF, 9);
    let mut tail = raw::name("t.test.");
    tail.extend_from_slice(&want_tail[4..]);
    assert!(out.ends_with(&tail), "{out:02x?}");

    let formerr: &[(&str, Vec<u8>)] = &[
        (
            "TSIG before the OPT",
            [
                raw::header(0, [1, 0, 0, 2]),
                q.clone(),
                tsig.clone(),
                raw::opt(0, &[]),
            ]
            .concat(),
        ),
        (
            "two TSIGs",
            [
                raw::header(0, [1, 0, 0, 2]),
                q.clone(),
                tsig.clone(),
                tsig.clone(),
            ]
            .concat(),
        ),
        (
            "TSIG in the answer",
            [raw::header(0, [1, 1, 0, 0]), q.clone(), tsig.clone()].concat(),
        ),
        (
            "TSIG of class IN",
            [
                raw::header(0, [1, 0, 0, 1]),
                q.clone(),
                raw::tsig("k1.", time, 1, 1),
            ]
            .concat(),
        ),
        ("TSIG RDATA cut short", {
            // Other Len gone; RDLENGTH (after "k1." and 8 octets) too.
            let mut t = tsig.clone();
            t.truncate(t.len() - 2);
            let rdlen = u16::from_be_bytes([t[12], t[13]]) - 2;
            t[12..14].copy_from_slice(&rdlen.to_be_bytes());
            [raw::header(0, [1, 0, 0, 1]), q.clone(), t].concat()
        }),
    ];
    for (what, packet) in formerr {
        let out = respond_raw(&s, packet);
        assert_eq!(raw::head(&out).0 & 0xF, 1, "{what}: {out:02x?}");
    }
}

/// Meta-TYPEs and QTYPEs other than ANY, AXFR and IXFR (RFC 6895 §3.1:
/// 128-255, and OPT) are not data to look up: MAILA and MAILB get NOTIMP,
/// the rest (TKEY and TSIG as a QTYPE, OPT, NXNAME and the unassigned
/// ones) FORMERR, as BIND 9 answers (RFC 9824 §3.5 requires FORMERR for
/// NXNAME). TYPE0 is a data type nobody holds: NODATA, as BIND and NSD.
/// Each error reply echoes the question and carries an OPT.
#[test]
fn meta_qtypes_are_not_looked_up() {
    let s = snapshot(Pick::Weighted);
    let formerr = ResponseCode::FormErr;
    let notimp = ResponseCode::NotImp;
    for (qtype, rcode) in [
        (41, formerr),
        (128, formerr),
        (200, formerr),
        (248, formerr),
        (249, formerr),
        (250, formerr),
        (253, notimp),
        (254, notimp),
    ] {
        let m = ask(&s, "www.t.test.", RecordType::from(qtype));
        assert_eq!(m.metadata.response_code, rcode, "TYPE{qtype}");
        assert!(!m.metadata.authoritative, "TYPE{qtype}");
        assert_eq!(m.queries.len(), 1, "TYPE{qtype}: question echoed");
        assert!(m.edns.is_some(), "TYPE{qtype}: OPT");
        assert!(
            m.answers.is_empty() && m.authorities.is_empty(),
            "TYPE{qtype}"
        );
    }
    for name in ["www.t.test.", "nothere.t.test."] {
        let m = ask(&s, name, RecordType::from(0));
        let want = if name.starts_with("www") {
            NOERROR
        } else {
            NXDOMAIN
        };
        assert_eq!(
            shape(&m),
            (want, true, v(&[]), v(&[NEG]), v(&[])),
            "{name} TYPE0"
        );
    }
    // ANY, AXFR and IXFR keep their meaning.
    assert_eq!(ask(&s, "www.t.test.", RecordType::ANY).answers.len(), 1);
    assert_eq!(
        ask(&s, "t.test.", RecordType::IXFR).metadata.response_code,
        ResponseCode::Refused
    );
}

/// RFC 7871 §7.2.1 with sticky: an IPv4 client network written as
/// IPv4-mapped IPv6 (family 2, `::ffff:a.b.c.0/120`) keeps the member the
/// same network gets as family 1 (`a.b.c.0/24`), with the scope in the
/// option's own family (/120 for the /24), not the IPv6 sticky prefix.
#[test]
fn sticky_treats_ipv4_mapped_ecs_as_ipv4() {
    let mut s = snapshot(Pick::Sticky(StickyPrefixes::default()));
    s.lb[0].answers = Answers::Count(1);
    let pick = |net: IpAddr, source: u8| {
        let m = respond(
            &s,
            &query("lb.t.test.", RecordType::A, Some(Some((net, source)))),
            Transport::Udp,
        );
        let Some(EdnsOption::Subnet(cs)) = m.edns.as_ref().unwrap().option(EdnsCode::Subnet) else {
            panic!("no ECS in the reply")
        };
        (m.answers[0].data.clone(), cs.scope_prefix())
    };
    let mut members = std::collections::HashSet::new();
    for i in 1..=24u8 {
        let v4 = IpAddr::from([10, i, i.wrapping_mul(7), 0]);
        let mapped =
            IpAddr::from(std::net::Ipv4Addr::from([10, i, i.wrapping_mul(7), 0]).to_ipv6_mapped());
        let (a, scope4) = pick(v4, 24);
        let (b, scope6) = pick(mapped, 120);
        assert_eq!(a, b, "{v4} and {mapped}");
        assert_eq!((scope4, scope6), (24, 120), "{v4}");
        members.insert(format!("{a:?}"));
    }
    assert_eq!(members.len(), 2, "24 networks spread over both members");
}

/// RFC 2181 §10.1, RFC 4035 §2.5: RRSIG, NSEC and KEY may sit beside a
/// CNAME, so a query for one of them at the CNAME's owner is answered
/// there (NODATA here) and the CNAME is not followed; other types still
/// chase it.
#[test]
fn dnssec_types_at_a_cname_are_not_chased() {
    let s = snapshot(Pick::Weighted);
    for t in [RecordType::RRSIG, RecordType::NSEC, RecordType::KEY] {
        for name in ["alias.t.test.", "loop1.t.test."] {
            assert_eq!(
                shape(&ask(&s, name, t)),
                (NOERROR, true, v(&[]), v(&[NEG]), v(&[])),
                "{name} {t}"
            );
        }
    }
    assert_eq!(
        rrs(&ask(&s, "alias.t.test.", RecordType::TXT).answers),
        v(&["alias.t.test. 3600 CNAME"])
    );
}

/// RFC 3225 §3: "The DO bit of the query MUST be copied in the response",
/// error replies included when their OPT parsed: NOTIMP for an opcode or a
/// MAILA question, FORMERR for a meta QTYPE or QDCOUNT 2.
#[test]
fn error_replies_copy_the_do_bit() {
    let s = snapshot(Pick::Weighted);
    let mut do_opt = raw::opt(0, &[]);
    do_opt[7] = 0x80;
    let typed = |t: u16| {
        let mut q = raw::name("www.t.test.");
        q.extend_from_slice(&t.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    };
    let two = [raw::question("www.t.test."), raw::question("mx.t.test.")].concat();
    let cases: &[(&str, Vec<u8>, u16)] = &[
        (
            "opcode UPDATE",
            [
                raw::header(5 << 11, [1, 0, 0, 1]),
                raw::question("www.t.test."),
                do_opt.clone(),
            ]
            .concat(),
            4,
        ),
        (
            "qtype MAILA",
            [raw::header(0, [1, 0, 0, 1]), typed(254), do_opt.clone()].concat(),
            4,
        ),
        (
            "qtype TKEY",
            [raw::header(0, [1, 0, 0, 1]), typed(249), do_opt.clone()].concat(),
            1,
        ),
        (
            "QDCOUNT 2",
            [raw::header(0, [2, 0, 0, 1]), two, do_opt.clone()].concat(),
            1,
        ),
    ];
    for (what, packet, rcode) in cases {
        let out = respond_raw(&s, packet);
        assert_eq!(raw::head(&out).0 & 0xF, *rcode, "{what}");
        let m = Message::from_vec(&out).unwrap();
        let e = m.edns.unwrap_or_else(|| panic!("{what}: no OPT"));
        assert!(e.flags().dnssec_ok, "{what}: DO copied");
        // DO clear in the query stays clear in the reply.
        let mut clear = packet.clone();
        let at = clear.len() - 4;
        clear[at] = 0;
        let m = Message::from_vec(&respond_raw(&s, &clear)).unwrap();
        assert!(!m.edns.unwrap().flags().dnssec_ok, "{what}: DO clear");
    }
}

/// RFC 7873 §5.2: a server with cookies on answers a request carrying a
/// well-formed COOKIE option with its COOKIE option: NOTIMP (an opcode, a
/// MAILA question) and FORMERR for a meta QTYPE included, as BIND answers,
/// so the client learns a server cookie from any reply.
#[test]
fn error_replies_carry_our_cookie() {
    use crate::dns::cookie::{CookieJar, Secrets};
    let s = snapshot(Pick::Weighted);
    let jar = std::sync::Arc::new(CookieJar::new(
        Secrets {
            current: [7; 16],
            previous: None,
        },
        false,
    ));
    let client_cookie = [0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8];
    let with_cookie = raw::opt(0, &client_cookie);
    let typed = |t: u16| {
        let mut q = raw::name("www.t.test.");
        q.extend_from_slice(&t.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    };
    let cases: &[(&str, Vec<u8>, u16)] = &[
        (
            "opcode NOTIFY",
            [
                raw::header(4 << 11, [1, 0, 0, 1]),
                raw::question("www.t.test."),
                with_cookie.clone(),
            ]
            .concat(),
            4,
        ),
        (
            "qtype MAILB",
            [
                raw::header(0, [1, 0, 0, 1]),
                typed(253),
                with_cookie.clone(),
            ]
            .concat(),
            4,
        ),
        (
            "qtype TSIG",
            [
                raw::header(0, [1, 0, 0, 1]),
                typed(250),
                with_cookie.clone(),
            ]
            .concat(),
            1,
        ),
    ];
    let src = SocketAddr::from(([203, 0, 113, 1], 5300));
    for (what, packet, rcode) in cases {
        let mut out = Vec::new();
        let mut worker = Worker::new(7).with_cookies(Some(jar.clone()));
        assert!(worker.respond(&s, packet, src, Transport::Udp, &mut out));
        assert_eq!(raw::head(&out).0 & 0xF, *rcode, "{what}");
        assert_eq!(raw::head(&out).1[3], 1, "{what}: an OPT");
        // The OPT is the last record; its RDATA ends the reply and holds
        // only our COOKIE: code 10, 24 octets, the client cookie first.
        let want = [&[0, 10, 0, 24][..], &client_cookie[4..]].concat();
        let at = out.len() - 28;
        assert_eq!(
            &out[at..at + 12],
            &want[..],
            "{what}: COOKIE echoed, {out:02x?}"
        );
    }
}
