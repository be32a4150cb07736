//! Cluster mode end to end: a real etcd on loopback and three real dnslb
//! instances (built with `--features cluster`) probing the same endpoints
//! from three source addresses (`probe_source_ipv4`), while the endpoints
//! refuse some of those sources. Checks what docs/OPERATIONS.md ("A fleet
//! of instances") promises:
//!
//! - one instance that cannot reach an endpoint does not withdraw it: all
//!   three keep answering the same set;
//! - when a majority cannot reach it, all three drop it, even the one
//!   that can;
//! - a drain set through one instance's admin API applies on all three,
//!   and so does its removal through another;
//! - an instance whose store connection is cut (a TCP proxy the test
//!   controls) decides alone (logged once, `/status`, metrics), refuses
//!   overrides meanwhile, and rejoins when the proxy is back;
//! - a killed instance's observations expire with its lease.
//!
//! Needs Debian's `etcd-server` (`#[ignore = "needs etcd"]`, run by CI
//! with `--include-ignored`). Addresses: endpoints 127.0.30.1-3, probe
//! sources 127.0.30.101-103; every wait is bounded.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};

use crate::admin::{get, metric, post, status};
use crate::fixtures::{LB_TEST, Resolver, ip, ips, lb_name, pool};
use crate::harness::{Setup, TempDir, TestServer};
use crate::health::{Behaviour, Endpoint};

const WWW: &str = "www.lb.test.";
const E1: &str = "127.0.30.1";
const E2: &str = "127.0.30.2";
const E3: &str = "127.0.30.3";
/// Probe sources of instances a, b and c.
const SRC: [&str; 3] = ["127.0.30.101", "127.0.30.102", "127.0.30.103"];
/// The lease of each instance's observations, seconds.
const LEASE: u64 = 3;

/// A free loopback TCP port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// etcd on loopback, in a scratch data directory, killed on drop.
struct Etcd {
    child: Child,
    client: SocketAddr,
    _dir: TempDir,
}

impl Etcd {
    fn start() -> Self {
        let dir = TempDir::new("etcd");
        let (client, peer) = (free_port(), free_port());
        let c = format!("http://127.0.0.1:{client}");
        let p = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let child = Command::new("etcd")
            .args(["--name", "itest", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &c, "--advertise-client-urls", &c])
            .args([
                "--listen-peer-urls",
                &p,
                "--initial-advertise-peer-urls",
                &p,
            ])
            .args(["--initial-cluster", &format!("itest={p}")])
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd (Debian etcd-server)");
        let etcd = Self {
            child,
            client: format!("127.0.0.1:{client}").parse().unwrap(),
            _dir: dir,
        };
        // Ready when /health says so (etcd's HTTP gateway on the client port).
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("{c}/health");
        loop {
            let ok = std::net::TcpStream::connect_timeout(&etcd.client, Duration::from_millis(200))
                .is_ok()
                && http_get_blocking(&url).is_some_and(|b| b.contains("\"health\":\"true\""));
            if ok {
                return etcd;
            }
            assert!(
                Instant::now() < deadline,
                "etcd did not become healthy in 20 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `url` with a plain HTTP/1.0 request (no client library needed
/// outside the runtime).
fn http_get_blocking(url: &str) -> Option<String> {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s =
        std::net::TcpStream::connect_timeout(&host.parse().ok()?, Duration::from_secs(1)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A TCP proxy to etcd that the test can cut (every open connection
/// closed, new ones closed at once) and restore.
struct Proxy {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    /// Bumped by `cut`: connections of an older generation close.
    generation: Arc<tokio::sync::watch::Sender<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(to: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(tokio::sync::watch::channel(0u64).0);
        let (c, g) = (cut.clone(), generation.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if c.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut gen_rx = g.subscribe();
                let born = *gen_rx.borrow();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(to).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = gen_rx.wait_for(|g| *g != born) => {}
                    }
                });
            }
        });
        Self {
            addr,
            cut,
            generation,
            task,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One instance's setup: lb.test with the three endpoints, checked over
/// HTTP every 0.3 s, and `[cluster]` pointing at `store`.
fn instance(tag: &str, node: &str, source: &str, store: SocketAddr, port: u16) -> Setup {
    instance_in(tag, node, source, store, port, "", "")
}

/// [`instance`] with extra top-level settings, in cluster `itest-PID{suffix}`.
fn instance_in(
    tag: &str,
    node: &str,
    source: &str,
    store: SocketAddr,
    port: u16,
    top: &str,
    suffix: &str,
) -> Setup {
    let config = format!(
        "probe_source_ipv4 = \"{source}\"\n{top}\n[cluster]\nendpoints = [\"http://{store}\"]\n\
         node = \"{node}\"\nname = \"itest-{pid}{suffix}\"\nlease_ttl = {LEASE}\ntimeout = 1.0\n\
         refresh_interval = 5.0\n",
        pid = std::process::id()
    );
    let setup = Setup::new(tag, &[("lb.test", LB_TEST)], &config);
    let policy = [
        format!(
            "[checks.web]\nkind = \"http\"\nport = {port}\npath = \"/health\"\n\
             interval = 0.3\ntimeout = 0.25\nfall = 2\nrise = 2\n"
        ),
        pool(
            "web",
            &[
                (E1, "check = \"web\", name = \"e1\""),
                (E2, "check = \"web\", name = \"e2\""),
                (E3, "check = \"web\", name = \"e3\""),
            ],
        ),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat();
    setup.write_policy("lb.test", &policy);
    setup
}

/// Ask every resolver until each answers exactly `want`; fail after `limit`.
async fn all_answer(what: &str, rs: &[&Resolver], want: &BTreeSet<IpAddr>, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let mut got = Vec::new();
        for r in rs {
            got.push(r.addr_set(WWW, RecordType::A).await);
        }
        if got.iter().all(|g| g == want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?}; want {want:?}, answers {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The endpoint object of `addr` in a `/status` document.
fn endpoint<'a>(doc: &'a Value, addr: &str) -> &'a Value {
    doc["names"][0]["pools"][0]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["address"] == addr)
        .unwrap_or_else(|| panic!("{addr} in {doc:#}"))
}

/// The nodes whose views of `addr` the instance lists.
fn viewers(doc: &Value, addr: &str) -> Vec<String> {
    endpoint(doc, addr)["fleet"]["views"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["node"].as_str().unwrap().to_string())
        .collect()
}

/// Wait until `srv`'s `/status` satisfies `cond`; fail after `limit`.
async fn status_until(
    what: &str,
    srv: &TestServer,
    limit: Duration,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let doc = status(srv).await;
        if cond(&doc) {
            return doc;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?}; cluster {:#}\n{}",
            doc["cluster"],
            srv.log_tail(20)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs etcd (Debian etcd-server)"]
async fn three_instances_decide_together() {
    let etcd = Etcd::start();
    let proxy = Proxy::start(etcd.client).await;
    let src: Vec<IpAddr> = SRC.iter().map(|s| ip(s)).collect();
    // e1: c cannot reach it. e2: b and c cannot. e3: everyone can.
    let e1 = Endpoint::start(E1, 0, Behaviour::RefuseFrom(vec![src[2]]));
    let port = e1.port();
    let _e2 = Endpoint::start(E2, port, Behaviour::RefuseFrom(vec![src[1], src[2]]));
    let _e3 = Endpoint::start(E3, port, Behaviour::Reply(200, "ok"));

    let sa = instance("cluster-a", "a", SRC[0], etcd.client, port);
    let sb = instance("cluster-b", "b", SRC[1], etcd.client, port);
    let sc = instance("cluster-c", "c", SRC[2], proxy.addr, port);
    let a = sa.serve();
    let b = sb.serve();
    let c = sc.serve();
    let (ra, rb, rc) = (
        Resolver::new(a.addr).await,
        Resolver::new(b.addr).await,
        Resolver::new(c.addr).await,
    );
    let limit = Duration::from_secs(15);

    // One instance cannot reach e1: still answered by all three. Two of
    // three cannot reach e2: withdrawn by all three, a included.
    all_answer(
        "e1 kept, e2 dropped",
        &[&ra, &rb, &rc],
        &ips(&[E1, E3]),
        limit,
    )
    .await;
    let doc = status_until("three views of e1", &a, limit, |d| {
        endpoint(d, E1)["fleet"]["observers"] == 3 && endpoint(d, E2)["fleet"]["observers"] == 3
    })
    .await;
    let cl = &doc["cluster"];
    assert_eq!(cl["node"], "a");
    assert_eq!(cl["connected"], true);
    assert_eq!(cl["nodes"], serde_json::json!(["a", "b", "c"]));
    let f1 = &endpoint(&doc, E1)["fleet"];
    assert_eq!(
        (f1["decision"].as_str(), f1["up"].as_u64()),
        (Some("up"), Some(2))
    );
    assert_eq!(f1["views"][0]["node"], "a");
    assert_eq!(f1["views"][0]["self"], true);
    let c_view = f1["views"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["node"] == "c")
        .unwrap();
    assert_eq!(c_view["health"], "down");
    let f2 = &endpoint(&doc, E2)["fleet"];
    assert_eq!(
        (f2["decision"].as_str(), f2["up"].as_u64()),
        (Some("down"), Some(1))
    );
    assert_eq!(endpoint(&doc, E2)["health"], "down");
    let out = crate::harness::run(&["status".into(), "--admin".into(), a.admin_url()]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("cluster: node a, connected")
            && out.stdout.contains("3 instance(s): a, b, c"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("fleet: 2 of 3 see it up (needs 2): a* up, b up, c down"),
        "{}",
        out.stdout
    );
    let (_, m) = get(&a, "/metrics").await;
    assert_eq!(metric(&m, "dnslb_cluster_connected"), Some(1.0));
    assert_eq!(metric(&m, "dnslb_cluster_nodes"), Some(3.0));
    // c's own view of e1 is down; the fleet's decision, which it serves, up.
    status_until("c sees three views", &c, limit, |d| {
        endpoint(d, E1)["fleet"]["observers"] == 3
    })
    .await;
    let (_, m) = get(&c, "/metrics").await;
    let e1_labels = format!("{{address=\"{E1}\",check=\"web\",probe=\"{E1}:{port}\"}}");
    let series = |name: &str| metric(&m, &format!("{name}{e1_labels}"));
    assert_eq!(series("dnslb_endpoint_own_up"), Some(0.0), "{m}");
    assert_eq!(series("dnslb_endpoint_up"), Some(1.0), "{m}");
    assert_eq!(series("dnslb_endpoint_vantage_points"), Some(3.0), "{m}");
    assert_eq!(series("dnslb_endpoint_vantage_points_up"), Some(2.0), "{m}");

    // A drain set on a applies on all three; removed through b, it is
    // gone from all three.
    let (code, body) = post(&a, "e3", "drain").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["shared"], true);
    all_answer("drain on a", &[&ra, &rb, &rc], &ips(&[E1]), limit).await;
    let (code, body) = post(&b, "lb.test/web/e3", "auto").await;
    assert_eq!(code, 200, "{body}");
    all_answer("undrain on b", &[&ra, &rb, &rc], &ips(&[E1, E3]), limit).await;

    // c loses the store: it decides alone (e1 and e2 down from where it
    // stands), says so once, and refuses overrides meanwhile; a and b
    // drop its observations when its lease expires, and agree still.
    proxy.cut();
    let doc = status_until("c disconnected", &c, limit, |d| {
        d["cluster"]["connected"] == false
    })
    .await;
    assert!(
        doc["cluster"]["last_error"].is_string(),
        "{:#}",
        doc["cluster"]
    );
    all_answer("c alone", &[&rc], &ips(&[E3]), limit).await;
    let (_, m) = get(&c, "/metrics").await;
    assert_eq!(metric(&m, "dnslb_cluster_connected"), Some(0.0));
    let (code, body) = post(&c, "e3", "drain").await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("cluster store is unreachable"),
        "{body}"
    );
    status_until("c's observations expired on a", &a, limit, |d| {
        viewers(d, E1) == ["a", "b"] && d["cluster"]["nodes"] == serde_json::json!(["a", "b"])
    })
    .await;
    all_answer("a and b without c", &[&ra, &rb], &ips(&[E1, E3]), limit).await;
    // Several reconnection attempts later, still one warning.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        c.log_count("cluster store unreachable"),
        1,
        "{}",
        c.log_tail(30)
    );
    proxy.restore();
    status_until("c rejoined", &c, limit, |d| {
        d["cluster"]["connected"] == true && viewers(d, E1).len() == 3
    })
    .await;
    all_answer(
        "c back in the fleet",
        &[&ra, &rb, &rc],
        &ips(&[E1, E3]),
        limit,
    )
    .await;
    assert_eq!(c.log_count("joined the cluster"), 2, "{}", c.log_tail(30));

    // b dies without leaving: its observations expire with its lease.
    // Then e1 is 1 of 2 (a up, c down) and e2 1 of 2: both dropped.
    let t0 = Instant::now();
    drop(b);
    status_until("b's observations expired", &a, limit, |d| {
        viewers(d, E1) == ["a", "c"] && d["cluster"]["nodes"] == serde_json::json!(["a", "c"])
    })
    .await;
    assert!(
        t0.elapsed() >= Duration::from_secs(LEASE - 1),
        "b's keys went before its lease could expire: {:?}",
        t0.elapsed()
    );
    all_answer("without b", &[&ra, &rc], &ips(&[E3]), limit).await;

    // A new cluster (a fresh prefix, as after turning cluster mode on or
    // rebuilding etcd): the first instance seeds the store with the drain
    // from its state file, and the next one takes it from the store.
    let sd = instance_in(
        "cluster-d",
        "d",
        SRC[0],
        etcd.client,
        port,
        "admin_state_file = \"state\"\n",
        "-seed",
    );
    std::fs::write(
        sd.dir().join("state"),
        "[[override]]\nendpoint = \"lb.test/web/e3\"\nstate = \"drain\"\nsince = 1\n",
    )
    .unwrap();
    let d = sd.serve();
    assert!(
        d.wait_for_log("seeded it with this instance's 1 override(s)", limit),
        "{}",
        d.log_tail(20)
    );
    let se = instance_in("cluster-e", "e", SRC[1], etcd.client, port, "", "-seed");
    let e = se.serve();
    let re = Resolver::new(e.addr).await;
    all_answer("the seeded drain on e", &[&re], &ips(&[E1]), limit).await;
    let (_, list) = get(&e, "/overrides").await;
    assert!(
        list.contains("lb.test/web/e3") && list.contains("drain"),
        "{list}"
    );
    assert_eq!(e.log_count("seeded it with"), 0);
}
