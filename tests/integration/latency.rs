//! Latency and load against real endpoints: loopback HTTP servers that
//! answer their health probes fast or slowly, and report connection
//! counts in a header, while the real `dnslb` answers a latency name, a
//! least-connections name and dual-stack endpoints.
//!
//! Endpoints live on 127.0.30.x (this file's /24, see health.rs). Every
//! wait is bounded; the only speed asserted is that a change shows within
//! a generous limit.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::fixtures::{Resolver, addrs_of, ecs_scope, ip, lb_setup, pool};
use crate::health::{Behaviour, Endpoint};

const A: RecordType = RecordType::A;
const AAAA: RecordType = RecordType::AAAA;

/// An http check probing `/health` every 0.3 s (timeout 0.25 s), with
/// `extra` lines.
fn check(name: &str, port: u16, extra: &str) -> String {
    format!(
        "[checks.{name}]\nkind = \"http\"\nport = {port}\npath = \"/health\"\ninterval = 0.3\ntimeout = 0.25\nrise = 1\nfall = 3\n{extra}\n"
    )
}

/// `dnslb explain NAME A --client 127.0.0.1 --live` against `srv`: the
/// running server's own health, RTTs and load figures.
fn explain_live(srv: &crate::harness::TestServer, name: &str) -> String {
    let args: Vec<String> = [
        "explain",
        name,
        "A",
        "--client",
        "127.0.0.1",
        "--live",
        "--admin",
        &srv.admin_url(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = crate::harness::run(&args);
    assert!(out.status.success(), "{}", out.stderr);
    out.stdout
}

/// Ask `qname` until 20 answers in a row are `want` (while the RTT
/// averages cross, both pools are within the tolerance and share); fail
/// after `limit`.
async fn wait_settled(r: &Resolver, qname: &str, want: IpAddr, limit: Duration, what: &str) {
    let t0 = Instant::now();
    let mut in_a_row = 0;
    loop {
        let got = r.addrs(qname, A).await;
        if got.first() == Some(&want) {
            in_a_row += 1;
            if in_a_row == 20 {
                return;
            }
            continue;
        }
        in_a_row = 0;
        assert!(
            t0.elapsed() < limit,
            "{what}: not within {limit:?}; last answer {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two pools the latency table puts at the same distance from this
/// machine: the one whose probes answer faster gets the clients, and
/// when the two swap speeds, so do the answers.
#[tokio::test(flavor = "multi_thread")]
async fn the_latency_name_follows_probe_speed() {
    let fast = Endpoint::start("127.0.30.1", 0, Behaviour::Slow(0));
    let slow = Endpoint::start("127.0.30.2", fast.port(), Behaviour::Slow(150));
    let policy = format!(
        "{}{}{}[latency]\ntable = \"lb.test.latency\"\n[names.fast]\npolicy = \"latency\"\ngroups = [\"b\", \"a\"]\ntolerance_ms = 20\ntolerance_pct = 0\n",
        check("web", fast.port(), ""),
        pool("a", &[("127.0.30.1", "check = \"web\"")]),
        pool("b", &[("127.0.30.2", "check = \"web\"")]),
    );
    let s = lb_setup("latency-speed", &policy);
    // This machine (the resolver, no ECS) is 10 ms from both.
    std::fs::write(
        s.zone_file("lb.test").with_file_name("lb.test.latency"),
        "rows = [{ net = \"127.0.0.0/8\", ms = { a = 10, b = 10 } }]\n",
    )
    .unwrap();
    let srv = s.serve();
    let r = Resolver::new(srv.addr).await;
    let limit = Duration::from_secs(15);
    // Until both are measured the two are as good (a pool without an RTT
    // adds nothing): wait for a few probes of each.
    let t0 = Instant::now();
    while fast.requests() < 3 || slow.requests() < 3 {
        assert!(t0.elapsed() < limit, "probes did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // b is first in `groups`, but a answers its probes 150 ms sooner.
    wait_settled(
        &r,
        "fast.lb.test.",
        ip("127.0.30.1"),
        limit,
        "the fast pool",
    )
    .await;
    let m = r
        .query_ecs("fast.lb.test.", A, "127.0.0.0".parse().unwrap(), 24)
        .await;
    assert_eq!(
        (addrs_of(&m), ecs_scope(&m)),
        (vec![ip("127.0.30.1")], Some(8)),
        "the table's /8 decided"
    );
    // explain shows each pool's table figure with its measured RTT added,
    // and each member's RTT.
    let text = explain_live(&srv, "fast.lb.test.");
    let estimate = |pool: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{pool} ")) && l.contains("table row"))
            .unwrap_or_else(|| panic!("no estimate line for {pool} in\n{text}"))
            .to_owned()
    };
    let (a_line, b_line) = (estimate("a"), estimate("b"));
    for l in [&a_line, &b_line] {
        assert!(l.contains("table row net 127.0.0.0/8: 10 ms + rtt "), "{l}");
        assert!(!l.contains("rtt -"), "both pools measured: {l}");
    }
    let rtt_ms = |l: &str| -> f64 {
        let after = &l[l.find("+ rtt ").unwrap() + 6..];
        after.split(" ms").next().unwrap().parse().unwrap()
    };
    assert!(rtt_ms(&b_line) >= 150.0, "{b_line}");
    assert!(rtt_ms(&a_line) < rtt_ms(&b_line), "{text}");
    assert!(text.contains("; rtt "), "member RTTs in\n{text}");
    // Swap: a gets slow, b fast.
    fast.set(Behaviour::Slow(150));
    slow.set(Behaviour::Slow(0));
    wait_settled(
        &r,
        "fast.lb.test.",
        ip("127.0.30.2"),
        limit,
        "after the swap",
    )
    .await;
}

/// Shares of `n` single answers for `qname`.
async fn shares(r: &Resolver, qname: &str, n: usize) -> HashMap<IpAddr, f64> {
    let mut counts: HashMap<IpAddr, usize> = HashMap::new();
    for _ in 0..n {
        for a in r.addrs(qname, A).await {
            *counts.entry(a).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|(a, c)| (a, c as f64 / n as f64))
        .collect()
}

/// Members reporting 10 and 30 connections in a header get 1/11 : 1/31 of
/// the answers (74 % : 26 %, README "least_connections"); when they swap,
/// so do the shares; when they stop reporting, after 3 probes each falls
/// back to its configured weight (50 : 50), and says so once in the log.
#[tokio::test(flavor = "multi_thread")]
async fn reported_connections_set_the_shares() {
    let one = Endpoint::start("127.0.30.11", 0, Behaviour::Header("X-Load: 10"));
    let two = Endpoint::start("127.0.30.12", one.port(), Behaviour::Header("X-Load: 30"));
    let policy = format!(
        "{}{}[names.lc]\npolicy = \"least_connections\"\npool = \"p\"\n",
        check("web", one.port(), "load_header = \"X-Load\""),
        pool(
            "p",
            &[
                ("127.0.30.11", "check = \"web\""),
                ("127.0.30.12", "check = \"web\""),
            ]
        ),
    );
    let s = lb_setup("latency-load", &policy);
    let srv = s.serve();
    let r = Resolver::new(srv.addr).await;
    let (a, b) = (ip("127.0.30.11"), ip("127.0.30.12"));
    let want = (1.0 / 11.0) / (1.0 / 11.0 + 1.0 / 31.0);
    // 1,500 draws: 4 sigma is 0.045.
    let close = |got: &HashMap<IpAddr, f64>, addr: IpAddr, want: f64| {
        let g = got.get(&addr).copied().unwrap_or(0.0);
        (g - want).abs() < 0.045
    };
    // Wait (bounded) for both figures to be in use, then measure.
    let t0 = Instant::now();
    let mut got = shares(&r, "lc.lb.test.", 1500).await;
    while !close(&got, a, want) {
        assert!(t0.elapsed() < Duration::from_secs(20), "shares {got:?}");
        got = shares(&r, "lc.lb.test.", 1500).await;
    }
    assert!(close(&got, b, 1.0 - want), "{got:?}");
    // explain shows the pick's inputs: each member's load figure.
    let text = explain_live(&srv, "lc.lb.test.");
    for want in ["; load 10 (connections)", "; load 30 (connections)"] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }

    one.set(Behaviour::Header("X-Load: 30"));
    two.set(Behaviour::Header("X-Load: 10"));
    let t0 = Instant::now();
    let mut got = shares(&r, "lc.lb.test.", 1500).await;
    while !close(&got, b, want) {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "after the swap: {got:?}"
        );
        got = shares(&r, "lc.lb.test.", 1500).await;
    }

    // No figures any more: configured weights (1 : 1) after 3 probes.
    one.set(Behaviour::Reply(200, "ok"));
    two.set(Behaviour::Reply(200, "ok"));
    let line = "no load figure in 3 probes in a row: using the configured weight";
    let t0 = Instant::now();
    while srv.log_count(line) < 2 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{}",
            srv.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = shares(&r, "lc.lb.test.", 1500).await;
    assert!(close(&got, a, 0.5) && close(&got, b, 0.5), "{got:?}");
    let text = explain_live(&srv, "lc.lb.test.");
    let stale = "; load - (connections, none reported: configured weight)";
    assert_eq!(text.matches(stale).count(), 2, "{text}");
    // once per target, however many probes come without a figure
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(srv.log_count(line), 2, "{}", srv.log_tail(20));
    let lines = srv.log_lines(line);
    assert!(
        lines.iter().any(|l| l.contains("endpoint=127.0.30.11")),
        "{lines:#?}"
    );
}

/// Dual-stack endpoints under sticky: for every client network the A and
/// the AAAA answer name the same load balancer.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_network_gets_one_dual_stack_endpoint_for_a_and_aaaa() {
    let members: Vec<(String, String)> = (1..=5)
        .map(|i| {
            (
                format!("127.0.30.{}", 20 + i),
                format!("address6 = \"2001:db8:30::{i}\", weight = {}", i % 2 + 1),
            )
        })
        .collect();
    let members: Vec<(&str, &str)> = members
        .iter()
        .map(|(a, e)| (a.as_str(), e.as_str()))
        .collect();
    let policy = format!(
        "{}[names.shop]\npolicy = \"sticky\"\npool = \"p\"\n",
        pool("p", &members)
    );
    let s = lb_setup("latency-dual", &policy);
    let srv = s.serve();
    let r = Resolver::new(srv.addr).await;
    let mut seen = std::collections::HashSet::new();
    for n in 0..60u32 {
        let net: IpAddr = std::net::Ipv4Addr::from(0x0a00_0000 | (n << 8)).into();
        let a = r.query_ecs("shop.lb.test.", A, net, 24).await;
        let aaaa = r.query_ecs("shop.lb.test.", AAAA, net, 24).await;
        let (a, aaaa) = (addrs_of(&a), addrs_of(&aaaa));
        let (IpAddr::V4(v4), IpAddr::V6(v6)) = (a[0], aaaa[0]) else {
            panic!("{a:?} {aaaa:?}")
        };
        assert_eq!(
            u16::from(v4.octets()[3] - 20),
            v6.segments()[7],
            "net {net}: {v4} and {v6} are not one endpoint"
        );
        seen.insert(v4);
    }
    assert!(seen.len() >= 4, "client networks spread: {seen:?}");

    // Forced down by its IPv6 address, the endpoint leaves the A answers
    // too (one endpoint, one override), and comes back when it is lifted.
    let admin = |args: &[&str]| {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.extend(["--admin".to_string(), srv.admin_url()]);
        let out = crate::harness::run(&a);
        assert!(out.status.success(), "{a:?}: {}", out.stderr);
    };
    admin(&["force", "2001:db8:30::1", "down"]);
    let gone: IpAddr = ip("127.0.30.21");
    let gone6: IpAddr = "2001:db8:30::1".parse().unwrap();
    let mut a_seen = std::collections::HashSet::new();
    for n in 0..60u32 {
        let net: IpAddr = std::net::Ipv4Addr::from(0x0a00_0000 | (n << 8)).into();
        let a = addrs_of(&r.query_ecs("shop.lb.test.", A, net, 24).await);
        let aaaa = addrs_of(&r.query_ecs("shop.lb.test.", AAAA, net, 24).await);
        assert!(
            !a.contains(&gone) && !aaaa.contains(&gone6),
            "{a:?} {aaaa:?}"
        );
        a_seen.extend(a);
    }
    assert!(!a_seen.is_empty());
    admin(&["force", "2001:db8:30::1", "auto"]);
    let t0 = Instant::now();
    let mut back = false;
    while !back && t0.elapsed() < Duration::from_secs(10) {
        for n in 0..60u32 {
            let net: IpAddr = std::net::Ipv4Addr::from(0x0a00_0000 | (n << 8)).into();
            let aaaa = addrs_of(&r.query_ecs("shop.lb.test.", AAAA, net, 24).await);
            back |= aaaa.contains(&gone6);
        }
    }
    assert!(back, "2001:db8:30::1 never came back");
}

/// `dnslb explain` on the shipped latency name: each pool's estimate,
/// where it came from, the RTT and bias added, the tolerance band, the
/// scope; and on the closest name, the distances.
#[test]
fn explain_shows_each_pools_estimate_and_source() {
    let root = crate::harness::repo_root();
    let explain = |name: &str, args: &[&str]| {
        let mut a: Vec<String> = vec!["explain".into(), name.into()];
        a.extend(args.iter().map(|s| s.to_string()));
        let out = std::process::Command::new(crate::harness::DNSLB)
            .args(&a)
            .current_dir(&root)
            .output()
            .expect("run dnslb explain");
        assert!(
            out.status.success(),
            "{a:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = explain(
        "fast.example.test.",
        &["A", "--client", "192.0.2.1", "--ecs", "198.51.100.0/24"],
    );
    for want in [
        ";; ecs scope: /24",
        "fast.example.test. 60 IN A 127.0.2.1\n",
        "policy latency (group_policy weighted, tolerance 5 ms or 10 %, path factor 1.5)",
        "  A: pool eu-central, 1 available member(s); ranked eu-central (available)\n",
        "  estimates for this client (A), best first:\n",
        "    eu-central       table row net 198.51.100.0/25: 9 ms + rtt - + bias 0 ms = 9 ms; available\n",
        "    us-east          table row net 198.51.100.0/25: 76 ms + rtt - + bias 0 ms = 76 ms; available\n",
        "    us-west          distance 8617 km: 129.3 ms + rtt - + bias 0 ms = 129.3 ms; available\n",
        "    tolerance 5 ms or 10 % of the best: up to 14 ms: eu-central (weight 1)\n",
        "    ECS scope: /24 (the table network and the network that placed the client: /25; the query's source /24)\n",
        "  pool us-east (lat 39.04 lon -77.49, weight 2, bias_ms 0, bias 0)\n",
        "    127.0.1.2 + ::1 ",
    ] {
        assert!(out.contains(want), "no {want:?} in\n{out}");
    }
    // Unknown: the configured order.
    let out = explain("fast.example.test.", &["A", "--client", "10.1.2.3"]);
    for want in [
        "location: unknown\n",
        "only the latency table's network rows give estimates; the other pools follow the `groups` order\n",
        "    us-east          none (configured order); available\n",
        "fast.example.test. 60 IN A 127.0.1.2\n",
    ] {
        assert!(out.contains(want), "no {want:?} in\n{out}");
    }
    let out = explain(
        "near.example.test.",
        &["A", "--client", "192.0.2.1", "--ecs", "203.0.113.192/26"],
    );
    for want in [
        "policy closest (group_policy weighted)",
        "  distances for this client (A), best first:\n",
        "    ap-northeast     distance 7826 km, bias 0 -> 7826 km; available\n",
        "near.example.test. 60 IN A 127.0.3.1\n",
    ] {
        assert!(out.contains(want), "no {want:?} in\n{out}");
    }
}

/// bench/latency_table.py counts an IPv4-mapped client address
/// (`::ffff:198.51.100.8`, as a dual-stack socket logs IPv4 clients) for
/// its IPv4 network, not for `::/48`; its table loads in `dnslb check`.
#[test]
fn the_table_generator_counts_mapped_clients_as_ipv4() {
    let dir = std::env::temp_dir().join(format!("dnslb-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("beacons.csv");
    std::fs::write(
        &csv,
        "client,pool,ms\n198.51.100.7,eu-central,10\n::ffff:198.51.100.8,eu-central,12\n::ffff:198.51.100.9,eu-central,14\n2001:db8::1,us-east,80\n",
    )
    .unwrap();
    let out = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/bench/latency_table.py"
        ))
        .arg(&csv)
        .output()
        .expect("python3");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "{out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("{ net = \"198.51.100.0/24\", ms = { eu-central = 12 } }"),
        "{table}"
    );
    assert!(
        table.contains("{ net = \"2001:db8::/48\", ms = { us-east = 80 } }"),
        "{table}"
    );
    assert!(!table.contains("\"::/48\""), "{table}");
}
