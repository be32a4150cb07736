//! The geo order through the real binary: rules at every level, custom
//! networks over the database, failover to the next pool and to the
//! default, NODATA without a default, ECS scopes, no ECS without ECS,
//! IPv6 and IPv4-mapped clients, reload of a nets file, `dnslb check`
//! and `dnslb explain`, `dig +subnet` against the quickstart, and the real
//! CC0 database.
//!
//! The database is the project's example (`geoip/example.mmdb`: the
//! documentation networks placed around the world, see
//! `geoip/example.source.toml`). Pool members are documentation addresses
//! that are only answered, never contacted (no checks); a pool is taken
//! down with `state = "down"`.

use std::net::IpAddr;
use std::process::Command;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::{Resolver, addrs_of, ecs_scope, ip};
use crate::harness::{DNSLB, Setup, TestServer, repo_root};

const A: RecordType = RecordType::A;
const AAAA: RecordType = RecordType::AAAA;

const GEO_ZONE: &str = "$ORIGIN geo.test.
$TTL 300
@    IN SOA ns1 hostmaster 1 7200 3600 1209600 60
     IN NS  ns1
ns1  IN A   192.0.2.53
";

/// geo.test's SOA as negative-answer authority: min(300, 60).
const NEG_SOA_GEO: &str =
    "geo.test. 60 IN SOA ns1.geo.test. hostmaster.geo.test. 1 7200 3600 1209600 60";

const POLICY: &str = r#"
[pools.west]
members = [{ address = "192.0.2.101" }]
[pools.east]
members = [{ address = "192.0.2.102" }, { address = "2001:db8::102" }]
[pools.eu]
members = [{ address = "192.0.2.103" }]
[pools.ap]
members = [{ address = "192.0.2.104" }]
[pools.office]
members = [{ address = "192.0.2.105" }]
[pools.world]
members = [{ address = "192.0.2.106" }, { address = "2001:db8::106" }]
[pools.gone]
members = [{ address = "192.0.2.107", state = "down" }]

[geo]
nets = [
  { net = "10.20.0.0/16", region = "office" },
  # the database says Netherlands (198.51.100.192/26)
  { net = "198.51.100.192/26", country = "US", subdivision = "US-CA" },
  { net = "2001:db8:ffff::/48", region = "office" },
]
nets_file = "geo.nets"

[names.www]
policy = "geo"
[names.www.geo]
regions = { office = ["office"], lab = ["office"] }
subdivisions = { "US-CA" = ["west", "east"] }
countries = { US = ["east"], JP = ["gone", "ap"], CA = ["gone"] }
continents = { EU = ["eu"], AS = ["ap"] }
default = ["world"]

[names.nodefault]
policy = "geo"
[names.nodefault.geo]
countries = { US = ["east"] }
"#;

const NETS_FILE: &str = "nets = [{ net = \"10.30.0.0/16\", region = \"lab\" }]\n";

fn example_db() -> String {
    format!(
        "geoip_database = {:?}",
        repo_root().join("geoip/example.mmdb")
    )
}

fn setup(tag: &str) -> Setup {
    let s = Setup::new(tag, &[("geo.test", GEO_ZONE)], &example_db());
    s.write_policy("geo.test", POLICY);
    std::fs::write(
        s.zone_file("geo.test").with_file_name("geo.nets"),
        NETS_FILE,
    )
    .unwrap();
    s
}

/// (addresses, ECS scope) of `www.geo.test` for the ECS `net/source`.
async fn www(r: &Resolver, rtype: RecordType, net: &str, source: u8) -> (Vec<IpAddr>, Option<u8>) {
    let m = r.query_ecs("www.geo.test.", rtype, ip(net), source).await;
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NoError,
        "{}",
        describe(&m)
    );
    (addrs_of(&m), ecs_scope(&m))
}

#[tokio::test]
async fn every_rule_level_with_its_scope() {
    let setup = setup("geo-levels");
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    // (ECS network, source, answer, scope)
    let cases: &[(&str, u8, &str, u8)] = &[
        // custom region (10.20/16), and one from the nets file (10.30/16)
        ("10.20.1.0", 24, "192.0.2.105", 16),
        ("10.30.0.0", 16, "192.0.2.105", 16),
        // subdivision US-CA (database 192.0.2.0/26)
        ("192.0.2.0", 24, "192.0.2.101", 24),
        ("192.0.2.0", 26, "192.0.2.101", 26),
        // US-NY: country US
        ("192.0.2.64", 26, "192.0.2.102", 26),
        // GB: continent EU (database 198.51.100.0/25)
        ("198.51.100.0", 24, "192.0.2.103", 24),
        ("198.51.100.1", 32, "192.0.2.103", 25),
        // a custom network beats the database's Netherlands
        ("198.51.100.192", 26, "192.0.2.101", 26),
        // JP: the rule's first pool is down, its second answers
        ("203.0.113.0", 24, "192.0.2.104", 24),
        // CA-ON: the rule's only pool is down: the default's
        ("192.0.2.128", 25, "192.0.2.106", 25),
        // AU: Oceania has no rule: the default
        ("203.0.113.192", 26, "192.0.2.106", 26),
        // private, not in the custom networks: unknown, the default, 10/8
        ("10.0.0.0", 16, "192.0.2.106", 12),
    ];
    for &(net, source, want, scope) in cases {
        let got = www(&r, A, net, source).await;
        assert_eq!(got, (vec![ip(want)], Some(scope)), "ECS {net}/{source}");
    }
}

#[tokio::test]
async fn ipv6_and_ipv4_mapped_clients() {
    let setup = setup("geo-v6");
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    // US-VA (2001:db8::/32 around the continents' /36s): country US; the
    // /36s nested in it split the database's tree, so 2001:db8::/36 is the
    // block that shares this answer
    assert_eq!(
        www(&r, AAAA, "2001:db8:100::", 40).await,
        (vec![ip("2001:db8::102")], Some(36))
    );
    // BR: the default, IPv6 member
    assert_eq!(
        www(&r, AAAA, "2001:db8:2000::", 48).await,
        (vec![ip("2001:db8::106")], Some(36))
    );
    // the custom office /48 inside the database's /32; the office pool has
    // no IPv6 member, so AAAA comes from the default rule's pool
    assert_eq!(
        www(&r, A, "2001:db8:ffff:1::", 64).await,
        (vec![ip("192.0.2.105")], Some(48))
    );
    assert_eq!(
        www(&r, AAAA, "2001:db8:ffff:1::", 64).await,
        (vec![ip("2001:db8::106")], Some(48))
    );
    // ECS family 2 with an IPv4-mapped address: located as IPv4 (US-CA,
    // 192.0.2.0/26), scoped in IPv6 terms (96 + 26), at most the source
    assert_eq!(
        www(&r, A, "::ffff:192.0.2.0", 120).await,
        (vec![ip("192.0.2.101")], Some(120))
    );
    assert_eq!(
        www(&r, A, "::ffff:192.0.2.0", 128).await,
        (vec![ip("192.0.2.101")], Some(122))
    );
}

#[tokio::test]
async fn no_ecs_locates_the_resolver_and_gets_no_ecs_back() {
    let setup = setup("geo-noecs");
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    // the resolver is 127.0.0.1: loopback, unknown: the default
    let m = r.query("www.geo.test.", A).await;
    assert_eq!(addrs_of(&m), [ip("192.0.2.106")]);
    assert!(m.edns.is_some(), "EDNS query, EDNS reply");
    assert_eq!(
        ecs_scope(&m),
        None,
        "no ECS in the query, none in the reply"
    );
    // source prefix 0: the resolver is located, scope 0
    assert_eq!(
        www(&r, A, "0.0.0.0", 0).await,
        (vec![ip("192.0.2.106")], Some(0))
    );
    // without EDNS at all
    let raw = exchange(
        Proto::Udp,
        srv.addr,
        &encode(&query_msg("www.geo.test.", A)),
    );
    let m = decode(&raw);
    assert_eq!(addrs_of(&m), [ip("192.0.2.106")]);
    assert!(m.edns.is_none());
}

#[tokio::test]
async fn no_rule_and_no_default_is_nodata_with_the_soa() {
    let setup = setup("geo-nodata");
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let m: Message = r
        .query_ecs("nodefault.geo.test.", A, ip("198.51.100.0"), 24)
        .await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert!(m.answers.is_empty(), "{}", describe(&m));
    assert_eq!(rrs(&m.authorities), [NEG_SOA_GEO]);
    assert_eq!(ecs_scope(&m), Some(24), "the answer depends on the network");
    let m = r
        .query_ecs("nodefault.geo.test.", A, ip("192.0.2.64"), 26)
        .await;
    assert_eq!(addrs_of(&m), [ip("192.0.2.102")]);
    // the server warned about it when it started, and check does
    assert!(
        srv.startup_log
            .iter()
            .any(|l| l.contains("warning: names.nodefault.geo: no default rule")),
        "{:#?}",
        srv.startup_log
    );
    let o = setup.check();
    assert!(o.status.success(), "{}", o.stderr);
    assert!(o.stdout.contains("ok"), "{}", o.stdout);
    assert!(
        o.stderr.contains("geo.test.toml:")
            && o.stderr
                .contains(": warning: names.nodefault.geo: no default rule"),
        "{}",
        o.stderr
    );
}

#[test]
fn country_rules_without_a_database_are_an_error() {
    let s = Setup::new("geo-nodb", &[("geo.test", GEO_ZONE)], "");
    s.write_policy("geo.test", POLICY);
    std::fs::write(
        s.zone_file("geo.test").with_file_name("geo.nets"),
        NETS_FILE,
    )
    .unwrap();
    let o = s.check();
    assert!(!o.status.success());
    for name in ["www", "nodefault"] {
        let want = format!(
            ": names.{name}.geo: has subdivision, country or continent rules, but no GeoIP database is configured"
        );
        assert!(o.stderr.contains(&want), "{want}\n{}", o.stderr);
    }
    // regions and a default alone need no database
    s.write_policy(
        "geo.test",
        "[pools.p]\nmembers = [{ address = \"192.0.2.1\" }]\n[pools.q]\nmembers = [{ address = \"192.0.2.2\" }]\n[geo]\nnets = [{ net = \"127.0.0.0/8\", region = \"here\" }]\n[names.www]\npolicy = \"geo\"\n[names.www.geo]\nregions = { here = [\"p\"] }\ndefault = [\"q\"]\n",
    );
    let o = s.check();
    assert!(o.status.success(), "{}", o.stderr);
}

/// Editing the nets file and SIGHUP moves clients; a broken nets file
/// fails the reload and the old networks keep answering.
#[tokio::test]
async fn a_reload_rereads_the_nets_file() {
    let setup = setup("geo-reload");
    let nets = setup.zone_file("geo.test").with_file_name("geo.nets");
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    assert_eq!(
        www(&r, A, "10.30.0.0", 16).await,
        (vec![ip("192.0.2.105")], Some(16))
    );
    std::fs::write(
        &nets,
        "nets = [{ net = \"10.31.0.0/16\", region = \"lab\" }]\n",
    )
    .unwrap();
    assert!(srv.reload());
    assert_eq!(
        www(&r, A, "10.30.0.0", 16).await,
        (vec![ip("192.0.2.106")], Some(16)),
        "10.30/16 is no longer the lab"
    );
    assert_eq!(www(&r, A, "10.31.0.0", 16).await.0, [ip("192.0.2.105")]);
    std::fs::write(
        &nets,
        "nets = [{ net = \"10.31.0.0/16\", region = \"lab\", country = \"QQ\" }]\n",
    )
    .unwrap();
    assert!(!srv.reload());
    assert!(
        srv.log_lines("geo.nets:1:")
            .iter()
            .any(|l| l.contains("nets[0].country: unknown country code \"QQ\"")),
        "the nets file's error is logged with its position"
    );
    assert_eq!(www(&r, A, "10.31.0.0", 16).await.0, [ip("192.0.2.105")]);
}

/// The nets file is among the files the server watches: editing it
/// reloads without a signal, as for zone and policy files.
#[tokio::test(flavor = "multi_thread")]
async fn editing_the_nets_file_reloads_without_a_signal() {
    let s = Setup::new(
        "geo-watch",
        &[("geo.test", GEO_ZONE)],
        &format!("{}\nreload_delay = 0.2", example_db()),
    );
    s.write_policy("geo.test", POLICY);
    let nets = s.zone_file("geo.test").with_file_name("geo.nets");
    std::fs::write(&nets, NETS_FILE).unwrap();
    let srv = s.serve();
    let r = Resolver::new(srv.addr).await;
    assert_eq!(www(&r, A, "10.31.0.0", 16).await.0, [ip("192.0.2.106")]);
    std::fs::write(
        &nets,
        "nets = [{ net = \"10.31.0.0/16\", region = \"lab\" }]\n",
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while www(&r, A, "10.31.0.0", 16).await.0 != [ip("192.0.2.105")] {
        assert!(
            std::time::Instant::now() < deadline,
            "the edited nets file was not reloaded within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        srv.log_lines("dnslb::reload: reloaded")
            .iter()
            .any(|l| l.contains("file change")),
        "reloaded by the watcher"
    );
}

/// `dnslb explain` says where the client is, from which source, the rule,
/// the pools tried and the scope.
#[test]
fn explain_shows_location_source_rule_pools_and_scope() {
    let root = repo_root();
    let explain = |args: &[&str]| {
        let mut a: Vec<String> = vec!["explain".into(), "cdn.example.test.".into()];
        a.extend(args.iter().map(|s| s.to_string()));
        let out = Command::new(DNSLB)
            .args(&a)
            .current_dir(&root)
            .output()
            .expect("run dnslb explain");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{a:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let out = explain(&["A", "--client", "192.0.2.1", "--ecs", "198.51.100.200/32"]);
    for want in [
        ";; ecs scope: /26",
        ";; CLIENT\naddress:  198.51.100.200 (ECS 198.51.100.200/32)\n",
        "location: continent=NA country=US subdivision=US-CA lat=37.39 lon=-122.08\n",
        "source:   custom network 198.51.100.192/26 (this answer holds for 198.51.100.192/26)\n",
        "policy geo (group_policy weighted), ttl 60, answers 1, on_all_down all\n",
        "  rule: subdivision US-CA -> us-west, us-east; then default: eu-central\n",
        "  ECS scope: /26 (the network that placed the client is /26, the query's source /32)\n",
        "  A: pool us-west, 1 available member(s); tried us-west (available)\n",
        "  AAAA: pool us-east, 1 available member(s); tried us-west (no members of this family), us-east (available)\n",
        "    subdivision US-CA: us-west, us-east\n",
        "    default: us-east, eu-central\n",
    ] {
        assert!(out.contains(want), "no {want:?} in\n{out}");
    }
    let out = explain(&["A", "--client", "192.0.2.1", "--ecs", "198.51.100.0/24"]);
    for want in [
        "source:   database geoip/example.mmdb (dnslb-Example-City, GeoIP2 schema), network 198.51.100.0/25\n",
        "  rule: continent EU -> eu-central, us-east\n",
        "  ECS scope: /24 (the network that placed the client is /25, the query's source /24)\n",
    ] {
        assert!(out.contains(want), "no {want:?} in\n{out}");
    }
    let out = explain(&["A", "--client", "10.1.2.3"]);
    for want in [
        "address:  10.1.2.3 (the resolver; no ECS)\n",
        "location: unknown\n",
        "source:   none: not in the custom networks or in geoip/example.mmdb (block 10.0.0.0/8); only a default rule can match\n",
        "  rule: default -> us-east, eu-central\n",
        "  ECS scope: none (no ECS option with a source prefix above 0 in the query)\n",
    ] {
        assert!(out.contains(want), "no {want:?} in\n{out}");
    }
}

// ---------------------------------------------------------------------
// dig

/// [`crate::harness::dig`] without recursion desired, as an operator
/// asks an authoritative server.
fn dig(port: u16, args: &[&str]) -> String {
    let args: Vec<&str> = std::iter::once("+norec")
        .chain(args.iter().copied())
        .collect();
    crate::harness::dig(port, &args)
}

/// The quickstart's `cdn.example.test` with `dig +subnet`, as the README
/// shows it: the answer changes with the subnet, the scope says for which
/// network it holds.
#[test]
#[ignore = "needs dig"]
fn dig_subnet_moves_the_answer() {
    let srv = TestServer::start(
        &["serve".into(), "--listen".into(), "127.0.0.1:0".into()],
        Some(&repo_root()),
    );
    let port = srv.addr.port();
    // (subnet, answer, CLIENT-SUBNET echoed with our scope)
    for (subnet, want, ecs) in [
        ("192.0.2.0/24", "127.0.1.1", "192.0.2.0/24/24"),
        ("192.0.2.64/26", "127.0.1.2", "192.0.2.64/26/26"),
        ("198.51.100.0/24", "127.0.2.1", "198.51.100.0/24/24"),
        ("198.51.100.192/26", "127.0.1.1", "198.51.100.192/26/26"),
        ("203.0.113.0/24", "127.0.3.1", "203.0.113.0/24/24"),
        ("10.0.0.0/8", "127.0.1.2", "10.0.0.0/8/8"),
        ("2001:db8:1000::/48", "127.0.2.1", "2001:db8:1000::/48/36"),
        ("2001:db8:ffff::/48", "127.0.9.1", "2001:db8:ffff::/48/48"),
        ("0.0.0.0/0", "127.0.9.1", "0.0.0.0/0/0"),
    ] {
        let out = dig(
            port,
            &[&format!("+subnet={subnet}"), "cdn.example.test", "A"],
        );
        assert!(out.contains("status: NOERROR"), "{subnet}: {out}");
        assert!(
            out.contains(&format!("cdn.example.test.\t60\tIN\tA\t{want}\n")),
            "{subnet}: want {want}\n{out}"
        );
        assert!(
            out.contains(&format!("; CLIENT-SUBNET: {ecs}\n")),
            "{subnet}: want {ecs}\n{out}"
        );
    }
    // no +subnet: the resolver (127.0.0.1) is the lab; no CLIENT-SUBNET
    let out = dig(port, &["cdn.example.test", "A"]);
    assert!(out.contains("IN\tA\t127.0.9.1\n"), "{out}");
    assert!(!out.contains("CLIENT-SUBNET"), "{out}");
    // AAAA from the IPv6 lab network: the lab pool has no IPv6 member, so
    // the default rule's pools follow: us-east's ::1
    let out = dig(
        port,
        &["+subnet=2001:db8:ffff::/48", "cdn.example.test", "AAAA"],
    );
    assert!(out.contains("IN\tAAAA\t::1\n"), "{out}");
    assert!(
        out.contains("; CLIENT-SUBNET: 2001:db8:ffff::/48/48\n"),
        "{out}"
    );
}

/// Every malformed ECS option (RFC 7871 §6, §7.2.1), sent by dig to the
/// geo name: FORMERR with an OPT, never an answer.
#[test]
#[ignore = "needs dig"]
fn dig_malformed_ecs_is_formerr() {
    let srv = TestServer::start(
        &["serve".into(), "--listen".into(), "127.0.0.1:0".into()],
        Some(&repo_root()),
    );
    let v6_129 = format!("00028100{}", "20".repeat(17));
    for (what, hex) in [
        ("non-zero scope in a query", "00011818c00002"),
        ("unknown family", "0003080a"),
        ("family 0", "00000000"),
        ("IPv4 source /33", "00012100c000020000"),
        ("IPv6 source /129", v6_129.as_str()),
        ("address shorter than the source prefix", "00011800c000"),
        ("address longer than the source prefix", "00011000c0000200"),
        ("bits set beyond the source prefix", "00011700c00003"),
        ("shorter than the fixed part", "0001"),
    ] {
        let out = dig(
            srv.addr.port(),
            &[&format!("+ednsopt=8:{hex}"), "cdn.example.test", "A"],
        );
        assert!(out.contains("status: FORMERR"), "{what}: {out}");
        assert!(out.contains("ANSWER: 0,"), "{what}: {out}");
        assert!(out.contains("OPT PSEUDOSECTION"), "{what}: no OPT\n{out}");
    }
    // and a well-formed one answers
    let out = dig(
        srv.addr.port(),
        &["+ednsopt=8:00011800c00002", "cdn.example.test", "A"],
    );
    assert!(out.contains("status: NOERROR"), "{out}");
}

// ---------------------------------------------------------------------
// the real CC0 database

/// The geo order on a real database (ip-location-db's country data, CC0,
/// fetched by `.ci/run`): networks of registries and public resolvers
/// that do not move. Fails, not skips, when the file is missing.
#[tokio::test]
#[ignore = "needs target/geoip-data/geo-whois-asn-country.mmdb, fetched by .ci/run"]
async fn real_database_end_to_end() {
    let db = repo_root().join("target/geoip-data/geo-whois-asn-country.mmdb");
    assert!(
        db.is_file(),
        "{} is missing (.ci/run fetches it)",
        db.display()
    );
    let s = Setup::new(
        "geo-real",
        &[("geo.test", GEO_ZONE)],
        &format!("geoip_database = {db:?}"),
    );
    s.write_policy(
        "geo.test",
        r#"[pools.nl]
members = [{ address = "192.0.2.1" }]
[pools.us]
members = [{ address = "192.0.2.2" }]
[pools.asia]
members = [{ address = "192.0.2.3" }]
[pools.rest]
members = [{ address = "192.0.2.4" }]
[names.www]
policy = "geo"
[names.www.geo]
countries = { NL = ["nl"], US = ["us"] }
continents = { AS = ["asia"] }
default = ["rest"]
"#,
    );
    let srv = s.serve();
    let r = Resolver::new(srv.addr).await;
    for (net, want) in [
        ("193.0.6.0", "192.0.2.1"),   // RIPE NCC, NL
        ("8.8.8.0", "192.0.2.2"),     // Google, US
        ("133.1.1.0", "192.0.2.3"),   // a Japanese university, AS
        ("200.160.2.0", "192.0.2.4"), // NIC.br, South America: the default
    ] {
        let (addrs, scope) = www(&r, A, net, 24).await;
        assert_eq!(addrs, [ip(want)], "{net}/24");
        assert!(
            scope.is_some_and(|p| (1..=24).contains(&p)),
            "{net}/24: scope {scope:?}"
        );
    }
    let (addrs, _) = www(&r, A, "2001:67c:2e8::", 48).await;
    assert_eq!(addrs, [ip("192.0.2.1")], "RIPE NCC over IPv6");
}

#[test]
fn check_of_the_shipped_example_is_clean() {
    // the example geo name has a default: check prints no warning
    let out = Command::new(DNSLB)
        .args(["check"])
        .current_dir(repo_root())
        .output()
        .expect("run dnslb check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
}
