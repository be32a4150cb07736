//! What the tests serve and how they ask: zone files (the tests' own; the
//! shipped example under `zones/` may change for documentation reasons, and
//! each record here is for a case named beside it), policy-file builders,
//! and a [`Resolver`] that queries like one.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use hickory_net::client::Client;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::xfer::{DnsHandle, FirstAnswer};
use hickory_proto::op::{DnsRequest, Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};

use crate::dns::{Proto, assert_reply_basics, client, describe, name, opts};
use crate::harness::Setup;

/// The main zone. SOA TTL 3600, MINIMUM 300: negative answers carry 300.
pub const EXAMPLE_TEST: &str = r#"; integration-test zone
$ORIGIN example.test.
$TTL 3600
@        IN SOA  ns1.example.test. hostmaster.example.test. (
                 2024010101 ; serial
                 7200 3600 1209600
                 300 )      ; minimum: negative TTL
         IN NS   ns1
         IN NS   ns2.other.test.
         IN MX   10 mail
         IN A    192.0.2.1
         IN TXT  "apex"
ns1      IN A    192.0.2.53
mail     IN A    192.0.2.25
         IN AAAA 2001:db8::25
www      IN A    192.0.2.80
         IN AAAA 2001:db8::80
         IN TXT  "www"

; CNAME cases (RFC 1034 §3.6.2, §4.3.2; RFC 6604)
alias    IN CNAME www
chain    IN CNAME alias
xzone    IN CNAME host.other.test.
outside  IN CNAME www.example.net.
dangling IN CNAME nothere
todeleg  IN CNAME www.deleg
loop1    IN CNAME loop2
loop2    IN CNAME loop1
self     IN CNAME self

; a wildcard CNAME: synthesized, then followed
*.wc     IN CNAME www

; empty non-terminals: b.ent and ent exist only as ancestors of a.b.ent
a.b.ent  IN TXT  "deep"

; delegation with in-bailiwick glue and one out-of-zone server
deleg    IN NS   ns.deleg
         IN NS   ns.other.test.
ns.deleg IN A    192.0.2.99
         IN AAAA 2001:db8::99

; the parent side of the nested zone sub.example.test
sub      IN NS   ns1.example.test.
"#;

/// Nested zone: the most specific zone answers below sub.example.test.
pub const SUB_EXAMPLE_TEST: &str = r#"$ORIGIN sub.example.test.
$TTL 300
@     IN SOA  ns1.example.test. hostmaster.example.test. 7 7200 3600 1209600 60
      IN NS   ns1.example.test.
      IN A    192.0.2.200
host  IN AAAA 2001:db8::200
"#;

/// A second top zone. SOA TTL 60 < MINIMUM 900: negative answers carry 60.
pub const OTHER_TEST: &str = r#"$ORIGIN other.test.
@     60 IN SOA ns.other.test. admin.other.test. 1 7200 3600 1209600 900
      60 IN NS  ns
ns    60 IN A   192.0.2.250
host  60 IN A   192.0.2.251
"#;

/// The example zone of RFC 4592 §2.2.1, verbatim but for the SOA and SRV
/// RDATA the RFC leaves as placeholders.
pub const RFC4592_EXAMPLE: &str = r#"$ORIGIN example.
example.                 3600 IN  SOA   ns.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
example.                 3600     NS    ns.example.com.
example.                 3600     NS    ns.example.net.
*.example.               3600     TXT   "this is a wildcard"
*.example.               3600     MX    10 host1.example.
sub.*.example.           3600     TXT   "this is not a wildcard"
host1.example.           3600     A     192.0.2.1
_ssh._tcp.host1.example. 3600     SRV   0 0 22 host1.example.
_ssh._tcp.host2.example. 3600     SRV   0 0 22 host2.example.
subdel.example.          3600     NS    ns.example.com.
subdel.example.          3600     NS    ns.example.net.
"#;

/// TXT RRsets sized around the limits: `big` (8 × 100 octets, ~950 bytes
/// on the wire) exceeds 512 but fits 1232; `huge` (16 × 100, ~1850 bytes)
/// exceeds our 1232 cap too.
pub fn sizes_zone() -> String {
    let mut z = String::from(
        "$ORIGIN size.test.\n$TTL 300\n@ IN SOA ns.size.test. h.size.test. 1 7200 3600 1209600 60\n  IN NS ns\nns IN A 192.0.2.9\n",
    );
    for (owner, n) in [("big", 8), ("huge", 16)] {
        for i in 0..n {
            let s: String = std::iter::repeat_n(char::from(b'a' + i as u8), 100).collect();
            z.push_str(&format!("{owner} IN TXT \"{s}\"\n"));
        }
    }
    z
}

/// Records in `big` and `huge`.
pub const BIG_COUNT: usize = 8;
pub const HUGE_COUNT: usize = 16;

/// Every fixture zone in one server: example.test, sub.example.test,
/// other.test, the RFC 4592 example and size.test.
pub fn standard(tag: &str, config: &str) -> Setup {
    let sizes = sizes_zone();
    Setup::new(
        tag,
        &[
            ("example.test", EXAMPLE_TEST),
            ("sub.example.test", SUB_EXAMPLE_TEST),
            ("other.test", OTHER_TEST),
            ("example", RFC4592_EXAMPLE),
            ("size.test", &sizes),
        ],
        config,
    )
}

/// The SOA of example.test as an answer, and as negative-answer authority
/// (TTL = min(3600, MINIMUM 300)).
pub const SOA_EXAMPLE: &str = "example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300";
pub const NEG_SOA_EXAMPLE: &str = "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300";
/// other.test: min(SOA TTL 60, MINIMUM 900) = 60.
pub const NEG_SOA_OTHER: &str =
    "other.test. 60 IN SOA ns.other.test. admin.other.test. 1 7200 3600 1209600 900";
/// sub.example.test: min(300, 60) = 60.
pub const SOA_SUB: &str = "sub.example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 7 7200 3600 1209600 60";
pub const NEG_SOA_SUB: &str =
    "sub.example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 7 7200 3600 1209600 60";
/// The RFC 4592 zone: min(3600, 300) = 300.
pub const NEG_SOA_RFC4592: &str =
    "example. 300 IN SOA ns.example.com. hostmaster.example.com. 1 7200 3600 1209600 300";

/// The zone of the load-balancing and health tests; each test writes its
/// own policy file (`lb.test.toml`) beside it. `www` carries TXT and MX
/// (other types at a load-balanced name come from here) and `alias` points
/// at it. SOA TTL 300, MINIMUM 60: negative answers carry 60.
pub const LB_TEST: &str = r#"$ORIGIN lb.test.
$TTL 300
@      IN SOA   ns1 hostmaster 1 7200 3600 1209600 60
       IN NS    ns1
ns1    IN A     192.0.2.53
www    IN TXT   "zone data"
       IN MX    10 mail
mail   IN A     192.0.2.25
alias  IN CNAME www
"#;

/// lb.test's SOA as negative-answer authority: min(300, 60).
pub const NEG_SOA_LB: &str =
    "lb.test. 60 IN SOA ns1.lb.test. hostmaster.lb.test. 1 7200 3600 1209600 60";

/// A scratch directory serving [`LB_TEST`] with `policy` as its policy file.
pub fn lb_setup(tag: &str, policy: &str) -> Setup {
    let setup = Setup::new(tag, &[("lb.test", LB_TEST)], "");
    setup.write_policy("lb.test", policy);
    setup
}

// ---------------------------------------------------------------------
// a resolver and policy-file builders, for the lb and health tests

/// One UDP client for many queries, as a resolver keeps one socket.
pub struct Resolver {
    client: Client<TokioRuntimeProvider>,
}

impl Resolver {
    pub async fn new(addr: SocketAddr) -> Self {
        Self {
            client: client(Proto::Udp, addr).await,
        }
    }

    async fn send(&self, m: Message, what: &str) -> Message {
        let reply = self
            .client
            .send(DnsRequest::new(m, opts(false)))
            .first_answer()
            .await
            .unwrap_or_else(|e| panic!("{what}: no answer: {e}"))
            .into_message();
        assert_reply_basics(&reply);
        reply
    }

    /// `qname IN rtype` with EDNS, no ECS.
    pub async fn query(&self, qname: &str, rtype: RecordType) -> Message {
        self.send(request(qname, rtype, None), &format!("{qname} {rtype}"))
            .await
    }

    /// The same with an ECS option for `net/source` (host bits clear).
    pub async fn query_ecs(
        &self,
        qname: &str,
        rtype: RecordType,
        net: IpAddr,
        source: u8,
    ) -> Message {
        let what = format!("{qname} {rtype} ecs {net}/{source}");
        self.send(request(qname, rtype, Some((net, source))), &what)
            .await
    }

    /// The addresses of a NOERROR, authoritative reply, in answer order.
    pub async fn addrs(&self, qname: &str, rtype: RecordType) -> Vec<IpAddr> {
        let m = self.query(qname, rtype).await;
        assert_eq!(
            m.metadata.response_code,
            ResponseCode::NoError,
            "{qname} {rtype}\n{}",
            describe(&m)
        );
        assert!(
            m.metadata.authoritative,
            "{qname} {rtype}: AA\n{}",
            describe(&m)
        );
        addrs_of(&m)
    }

    /// [`Self::addrs`] as a set.
    pub async fn addr_set(&self, qname: &str, rtype: RecordType) -> BTreeSet<IpAddr> {
        self.addrs(qname, rtype).await.into_iter().collect()
    }
}

pub fn request(qname: &str, rtype: RecordType, ecs: Option<(IpAddr, u8)>) -> Message {
    let mut m = Message::new(0, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(name(qname), rtype));
    let mut e = Edns::new();
    e.set_max_payload(1232).set_version(0);
    if let Some((net, source)) = ecs {
        e.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(net, source, 0)));
    }
    m.set_edns(e);
    m
}

/// Addresses of the A and AAAA records of the answer section, in order.
pub fn addrs_of(m: &Message) -> Vec<IpAddr> {
    m.answers.iter().filter_map(|r| r.data.ip_addr()).collect()
}

/// The ECS scope prefix of a reply, if it carries the option.
pub fn ecs_scope(m: &Message) -> Option<u8> {
    match m.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(cs) => Some(cs.scope_prefix()),
        _ => None,
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|e| panic!("bad address {s:?}: {e}"))
}

pub fn ips(list: &[&str]) -> BTreeSet<IpAddr> {
    list.iter().map(|s| ip(s)).collect()
}

/// A `[pools.NAME]` table from `(address, extra keys)` pairs.
pub fn pool(name: &str, members: &[(&str, &str)]) -> String {
    let mut s = format!("[pools.{name}]\nmembers = [\n");
    for (addr, extra) in members {
        if extra.is_empty() {
            s.push_str(&format!("  {{ address = \"{addr}\" }},\n"));
        } else {
            s.push_str(&format!("  {{ address = \"{addr}\", {extra} }},\n"));
        }
    }
    s.push_str("]\n");
    s
}

/// A `[names.OWNER]` table with `policy`, `pool` and extra lines.
pub fn lb_name(owner: &str, policy: &str, pool: &str, extra: &str) -> String {
    format!("[names.{owner}]\npolicy = \"{policy}\"\npool = \"{pool}\"\n{extra}\n")
}
