//! Real resolvers in front: unbound, with a stub zone pointing
//! `example.test` at dnslb, answering clients the way a company's
//! recursive resolvers would. Checks what only a real cache shows: static
//! data and negative answers pass through, TTLs are what the zone and the
//! policy say, load-balanced shares follow the weights across many names,
//! a health change reaches clients once the TTL runs out, and ECS that
//! unbound forwards (`send-client-subnet`) reaches the policy (sticky and
//! the geo order), with the scope dnslb returns honoured by unbound's
//! subnet cache.
//!
//! unbound may send packets on its own (root priming), so every test runs
//! inside a network namespace of its own with only loopback up: the test
//! re-executes its own binary under `unshare -n` (it must run as root),
//! and inside starts dnslb and unbound, both on 127.0.0.1. unbound gets no
//! root hints to use (the namespace has no route), no trust anchor and no
//! validator module, and `test.` loses its built-in local zone (RFC 6761)
//! so the stub zone applies.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::dns::{Proto, decode, describe, encode, exchange, query_msg};
use crate::fixtures::{addrs_of, ip, lb_name, pool, request};
use crate::harness::{Setup, TempDir, TestServer};

/// Set in the re-executed test binary, inside the namespace.
const IN_NETNS: &str = "DNSLB_TEST_IN_NETNS";

/// Run the test `name` (its path in this binary) again inside a fresh
/// network namespace with loopback up, and fail with its output if it
/// fails there. Returns true when already inside: the caller then runs the
/// test body.
fn inside_netns(name: &str) -> bool {
    if std::env::var_os(IN_NETNS).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new("unshare")
        .args([
            "-n",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$@\"",
            "sh",
        ])
        .arg(exe)
        .args([name, "--exact", "--include-ignored", "--nocapture"])
        .env(IN_NETNS, "1")
        .stdin(Stdio::null())
        .output()
        .expect("run unshare (util-linux)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{name} inside `unshare -n` ({}):\n{text}",
        out.status
    );
    eprintln!("{text}");
    false
}

/// A running unbound, killed (by its PID) when dropped.
struct Unbound {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    _dir: TempDir,
}

impl Unbound {
    /// Start unbound on a free loopback port with a stub zone for
    /// `example.test` at `auth`, ECS sent to 127.0.0.1 (so to dnslb) and
    /// cached by scope, and wait until it answers.
    fn start(auth: SocketAddr) -> Self {
        let dir = TempDir::new("unbound");
        // A free port: bind, note, release (inside our own namespace).
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = format!(
            r#"server:
    interface: 127.0.0.1
    port: {port}
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "subnetcache iterator"
    send-client-subnet: 127.0.0.1
    client-subnet-always-forward: yes
    max-client-subnet-ipv4: 24
    max-client-subnet-ipv6: 56
    prefetch: no
    serve-expired: no
    local-zone: "test." nodefault
stub-zone:
    name: "example.test"
    stub-addr: {ip}@{aport}
"#,
            dir = dir.path().display(),
            ip = auth.ip(),
            aport = auth.port(),
        );
        let path = dir.path().join("unbound.conf");
        std::fs::write(&path, conf).unwrap();
        let mut child = Command::new("unbound")
            .arg("-d")
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn unbound");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (l2, err) = (log.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[unbound] {line}");
                l2.lock().unwrap().push(line);
            }
        });
        let u = Self {
            child,
            addr: SocketAddr::new(ip("127.0.0.1"), port),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let q = rd(request("example.test.", RecordType::SOA, None));
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let _ = s.send_to(&encode(&q), u.addr);
            let mut buf = [0u8; 4096];
            if s.recv_from(&mut buf).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "unbound did not answer within 15 s:\n{}",
                u.log.lock().unwrap().join("\n")
            );
        }
        u
    }

    /// `qname rtype` through unbound (RD set, EDNS, optional ECS).
    fn ask(&self, qname: &str, rtype: RecordType, ecs: Option<(IpAddr, u8)>) -> Message {
        let m = decode(&exchange(
            Proto::Udp,
            self.addr,
            &encode(&rd(request(qname, rtype, ecs))),
        ));
        assert!(m.metadata.recursion_available, "RA from unbound");
        m
    }

    /// The answer's addresses and the TTL of its A records, NOERROR.
    fn addrs(&self, qname: &str) -> (Vec<IpAddr>, u32) {
        let m = self.ask(qname, RecordType::A, None);
        assert_eq!(
            m.metadata.response_code,
            ResponseCode::NoError,
            "{qname}:\n{}",
            describe(&m)
        );
        let ttl = m.answers.iter().map(|r| r.ttl).min().unwrap_or(0);
        (addrs_of(&m), ttl)
    }
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rd(mut m: Message) -> Message {
    m.metadata.recursion_desired = true;
    m
}

const ZONE: &str = "$ORIGIN example.test.
$TTL 3600
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 127.0.0.1
static IN A 192.0.2.1
static IN TXT \"hello\"
alias IN CNAME static
";

/// dnslb serving [`ZONE`] with `policy` as its policy file.
fn dnslb(tag: &str, policy: &str) -> (Setup, TestServer) {
    let setup = Setup::new(tag, &[("example.test", ZONE)], "");
    setup.write_policy("example.test", policy);
    let srv = setup.serve();
    (setup, srv)
}

/// Static data, CNAMEs and NXDOMAIN pass through unbound with the zone's
/// TTLs; a cached answer counts down from them.
#[test]
#[ignore = "needs root, unshare, ip and unbound"]
fn static_data_and_ttls_through_unbound() {
    if !inside_netns("resolver::static_data_and_ttls_through_unbound") {
        return;
    }
    let policy = [
        pool("p", &[("192.0.2.10", "")]),
        lb_name("lb", "weighted", "p", "ttl = 120"),
    ]
    .concat();
    let (_setup, srv) = dnslb("res-static", &policy);
    let u = Unbound::start(srv.addr);

    let (a, ttl) = u.addrs("static.example.test.");
    assert_eq!(a, [ip("192.0.2.1")]);
    assert!((3599..=3600).contains(&ttl), "zone TTL 3600, got {ttl}");
    let m = u.ask("static.example.test.", RecordType::TXT, None);
    assert_eq!(m.answers.len(), 1, "{}", describe(&m));
    let (a, _) = u.addrs("alias.example.test.");
    assert_eq!(a, [ip("192.0.2.1")], "CNAME followed");

    let (a, ttl) = u.addrs("lb.example.test.");
    assert_eq!(a, [ip("192.0.2.10")]);
    assert!((119..=120).contains(&ttl), "policy ttl 120, got {ttl}");
    std::thread::sleep(Duration::from_millis(2100));
    let (_, later) = u.addrs("lb.example.test.");
    assert!(
        later < ttl && later >= 116,
        "from unbound's cache, counting down: {ttl} then {later}"
    );

    let m = u.ask("nope.example.test.", RecordType::A, None);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let soa = m
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::SOA)
        .unwrap_or_else(|| panic!("SOA for negative caching\n{}", describe(&m)));
    assert!(soa.ttl <= 300, "negative TTL: min(SOA TTL, minimum) = 300");
}

/// Weights 1:3 over 400 distinct names, each resolved once through
/// unbound: the shares follow the weights (3.7 standard deviations of
/// slack), and each name then stays on its cached member.
#[test]
#[ignore = "needs root, unshare, ip and unbound"]
fn weighted_shares_through_unbound() {
    if !inside_netns("resolver::weighted_shares_through_unbound") {
        return;
    }
    const NAMES: usize = 400;
    let mut policy = pool(
        "p",
        &[("192.0.2.10", "weight = 1"), ("192.0.2.11", "weight = 3")],
    );
    for i in 0..NAMES {
        policy.push_str(&lb_name(&format!("n{i}"), "weighted", "p", "ttl = 300"));
    }
    let (_setup, srv) = dnslb("res-shares", &policy);
    let u = Unbound::start(srv.addr);
    let mut first = Vec::new();
    let mut counts: BTreeMap<IpAddr, usize> = BTreeMap::new();
    for i in 0..NAMES {
        let (a, _) = u.addrs(&format!("n{i}.example.test."));
        assert_eq!(a.len(), 1, "answers = 1");
        *counts.entry(a[0]).or_default() += 1;
        first.push(a[0]);
    }
    let heavy = counts.get(&ip("192.0.2.11")).copied().unwrap_or(0) as f64 / NAMES as f64;
    assert!(
        (0.67..=0.83).contains(&heavy),
        "weight 3 of 4 should get ~75 %, got {counts:?}"
    );
    for (i, want) in first.iter().enumerate().take(50) {
        let (a, _) = u.addrs(&format!("n{i}.example.test."));
        assert_eq!(a, [*want], "n{i} from the cache");
    }
}

/// An endpoint that dies leaves the answers dnslb gives at once, and the
/// answers unbound gives once the cached RRset's TTL (2 s) runs out.
#[test]
#[ignore = "needs root, unshare, ip and unbound"]
fn health_change_reaches_clients_after_the_ttl() {
    if !inside_netns("resolver::health_change_reaches_clients_after_the_ttl") {
        return;
    }
    let listener = TcpListener::bind("127.0.5.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let policy = [
        format!(
            "[checks.c]\nkind = \"tcp\"\nport = {port}\ninterval = 0.2\ntimeout = 0.1\nfall = 2\nrise = 2\n"
        ),
        pool(
            "p",
            &[("127.0.5.1", "check = \"c\""), ("192.0.2.50", "")],
        ),
        lb_name("hc", "multivalue", "p", "answers = \"all\"\nttl = 2"),
    ]
    .concat();
    let (_setup, srv) = dnslb("res-health", &policy);
    let u = Unbound::start(srv.addr);
    let both = vec![ip("127.0.5.1"), ip("192.0.2.50")];
    let sorted = |mut v: Vec<IpAddr>| {
        v.sort();
        v
    };
    let (a, ttl) = u.addrs("hc.example.test.");
    assert_eq!(sorted(a), both);
    assert!(ttl <= 2, "ttl 2, got {ttl}");

    drop(listener);
    let t0 = Instant::now();
    // dnslb: within interval × fall + timeout (0.5 s), plus slack.
    loop {
        let m = decode(&exchange(
            Proto::Udp,
            srv.addr,
            &encode(&query_msg("hc.example.test.", RecordType::A)),
        ));
        if addrs_of(&m) == [ip("192.0.2.50")] {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "dnslb never saw it");
        std::thread::sleep(Duration::from_millis(20));
    }
    let down_at = t0.elapsed();
    // unbound: within the TTL after that (its copy may be up to 2 s old).
    loop {
        let (a, _) = u.addrs("hc.example.test.");
        if a == [ip("192.0.2.50")] {
            break;
        }
        assert!(
            t0.elapsed() < down_at + Duration::from_secs(2) + Duration::from_secs(2),
            "unbound still answers {a:?} {:?} after the change",
            t0.elapsed() - down_at
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("dnslb after {down_at:?}, unbound after {:?}", t0.elapsed());
}

/// ECS through unbound: `dig +subnet` to unbound, which forwards the
/// client subnet to dnslb (`send-client-subnet`); the sticky policy answers
/// per /24 with scope /24, and unbound caches per /24: each subnet gets the
/// member dnslb picks for it directly, and not one shared cached answer.
#[test]
#[ignore = "needs root, unshare, ip, unbound and dig"]
fn ecs_through_unbound_reaches_the_policy_and_scopes_the_cache() {
    if !inside_netns("resolver::ecs_through_unbound_reaches_the_policy_and_scopes_the_cache") {
        return;
    }
    let policy = [
        pool(
            "p",
            &[("192.0.2.61", ""), ("192.0.2.62", ""), ("192.0.2.63", "")],
        ),
        lb_name("sticky", "sticky", "p", "ttl = 300\nsticky_v4_prefix = 24"),
    ]
    .concat();
    let (_setup, srv) = dnslb("res-ecs", &policy);
    let u = Unbound::start(srv.addr);
    let mut distinct = std::collections::BTreeSet::new();
    for n in 1..=24u8 {
        let subnet = format!("10.{n}.7.0/24");
        // What dnslb itself picks for that subnet.
        let direct = decode(&exchange(
            Proto::Udp,
            srv.addr,
            &encode(&request(
                "sticky.example.test.",
                RecordType::A,
                Some((ip(&format!("10.{n}.7.0")), 24)),
            )),
        ));
        let want = addrs_of(&direct);
        // Twice through unbound: fetched, then from its subnet cache; a
        // client in the same /24 (another host) gets the same member.
        for client in [
            format!("10.{n}.7.0/24"),
            subnet.clone(),
            format!("10.{n}.7.99/32"),
        ] {
            let (got, scope) = dig_subnet(u.addr, "sticky.example.test", &client);
            assert_eq!(got, want, "{client} through unbound vs dnslb direct");
            assert_eq!(scope, Some(24), "{client}: scope /24 echoed by unbound");
        }
        distinct.insert(want[0]);
    }
    assert!(
        distinct.len() >= 2,
        "24 subnets all got {distinct:?}: ECS did not reach the policy"
    );
}

/// ECS through unbound to the geo order: each client /24 that unbound
/// forwards is located (custom network, database, or neither) and answered
/// from its rule's pool with the scope of the network that decided; unbound
/// caches each answer for that scope only, so an answer cached for one
/// place is never served to a client elsewhere, and a client inside a
/// cached /16 gets that network's answer.
#[test]
#[ignore = "needs root, unshare, ip, unbound and dig"]
fn ecs_through_unbound_reaches_the_geo_order() {
    if !inside_netns("resolver::ecs_through_unbound_reaches_the_geo_order") {
        return;
    }
    let policy = r#"
[pools.office]
members = [{ address = "192.0.2.105" }]
[pools.eu]
members = [{ address = "192.0.2.103" }]
[pools.ap]
members = [{ address = "192.0.2.104" }]
[pools.world]
members = [{ address = "192.0.2.106" }]

[geo]
nets = [{ net = "10.20.0.0/16", region = "office" }]

[names.geo]
policy = "geo"
ttl = 300
[names.geo.geo]
regions = { office = ["office"] }
continents = { EU = ["eu"], AS = ["ap"] }
default = ["world"]
"#;
    let db = format!(
        "geoip_database = {:?}",
        crate::harness::repo_root().join("geoip/example.mmdb")
    );
    let setup = Setup::new("res-geo", &[("example.test", ZONE)], &db);
    setup.write_policy("example.test", policy);
    let srv = setup.serve();
    let u = Unbound::start(srv.addr);
    // (client as dig sends it, answer, scope): in this order, so that each
    // answer is asked for while another place's answer sits in the cache.
    let cases: &[(&str, &str, u8)] = &[
        // GB in the example database (198.51.100.0/25 at /24 source)
        ("198.51.100.0/24", "192.0.2.103", 24),
        // JP: not the cached EU answer
        ("203.0.113.0/24", "192.0.2.104", 24),
        // the custom office network, scope its /16 ...
        ("10.20.1.0/24", "192.0.2.105", 16),
        // ... which covers another /24 of it, and a single host
        ("10.20.77.0/24", "192.0.2.105", 16),
        ("10.20.200.9/32", "192.0.2.105", 16),
        // 10/8 outside the office /16: unknown, the default, and a scope
        // (10.0.0.0/12) that does not cover the office
        ("10.0.5.0/24", "192.0.2.106", 12),
        ("10.20.9.0/24", "192.0.2.105", 16),
        // the EU answer again, from the cache
        ("198.51.100.0/24", "192.0.2.103", 24),
    ];
    for &(client, want, scope) in cases {
        let (got, got_scope) = dig_subnet(u.addr, "geo.example.test", client);
        assert_eq!(got, vec![ip(want)], "{client} through unbound");
        assert_eq!(got_scope, Some(scope), "{client}: scope echoed by unbound");
    }
}

/// `dig +subnet=CLIENT` through unbound: the A addresses and the scope of
/// the CLIENT-SUBNET option in the reply.
fn dig_subnet(server: SocketAddr, qname: &str, client: &str) -> (Vec<IpAddr>, Option<u8>) {
    let out = Command::new("dig")
        .args([
            &format!("@{}", server.ip()),
            "-p",
            &server.port().to_string(),
            &format!("+subnet={client}"),
            "+time=5",
            "+tries=2",
            qname,
            "A",
        ])
        .output()
        .expect("run dig");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("status: NOERROR"), "{text}");
    let mut addrs = Vec::new();
    let mut in_answer = false;
    let mut scope = None;
    for l in text.lines() {
        if l.starts_with(";; ANSWER SECTION") {
            in_answer = true;
            continue;
        }
        if l.is_empty() {
            in_answer = false;
        }
        if in_answer {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() == 5 && f[3] == "A" {
                addrs.push(ip(f[4]));
            }
        }
        // "; CLIENT-SUBNET: 10.1.7.0/24/24"
        if let Some(rest) = l.strip_prefix("; CLIENT-SUBNET: ") {
            scope = rest.rsplit('/').next().and_then(|s| s.trim().parse().ok());
        }
    }
    (addrs, scope)
}
