//! Health checks against real endpoints: small HTTP/1.1 servers on
//! loopback that a test switches between answering well, answering badly,
//! hanging and not listening at all, while it watches the real `dnslb`
//! answer (or stop answering) with each endpoint.
//!
//! Every test owns one /24 of 127/8 (127.0.N.x, N = 2..=14; the lb tests
//! use 127.0.1.x), so endpoints of concurrent tests never meet, and every
//! endpoint of a test shares one port number (a check has one `port`).
//!
//! Timing uses the real clock. Checks run every 0.2 s; the only speed
//! asserted is the documented bound (a dead endpoint leaves the answers
//! within `interval × fall + timeout`, and returns within
//! `interval × rise + timeout`) plus [`SLACK`] for a loaded machine. Where
//! a test asserts that something does *not* change, the probe timeout is
//! kept well above what a loopback request takes, so a slow scheduler
//! cannot fake a failure.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::fixtures::{Resolver, ip, ips, lb_name, lb_setup, pool};
use crate::harness::TestServer;

/// Added to every documented bound for a shared, loaded machine.
const SLACK: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------
// a switchable endpoint

/// What an [`Endpoint`] does with a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Answer with this status and body.
    Reply(u16, &'static str),
    /// Read the request, answer nothing, keep the connection open (until
    /// the behaviour changes, the endpoint closes, or 10 s pass).
    Hang,
    /// 200 "ok" to odd-numbered requests, 500 to even ones.
    Alternate,
    /// 200 "ok" after this many milliseconds (a slow or loaded site).
    Slow(u64),
    /// 200 "ok" with this extra header line (`X-Load: 12`).
    Header(&'static str),
    /// 503 to requests from these source addresses, 200 "ok" to the rest
    /// (an endpoint that one vantage point cannot reach).
    RefuseFrom(Vec<IpAddr>),
}

struct Shared {
    behaviour: Mutex<Behaviour>,
    /// What the test asked for; the accept thread follows.
    want_open: AtomicBool,
    /// What the accept thread did.
    is_open: AtomicBool,
    stop: AtomicBool,
    /// Complete request heads read (a TCP probe sends none).
    requests: AtomicUsize,
    /// Status of every reply sent, in order.
    statuses: Mutex<Vec<u16>>,
    /// Every request head read (request line and headers), in order.
    heads: Mutex<Vec<String>>,
}

/// An HTTP/1.1 server on one loopback address that the test can switch
/// at run time, or close and reopen on the same port. Every connection
/// gets its own thread; replies close the connection (so do the probes,
/// which open a fresh connection each time).
pub struct Endpoint {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// Listen on `ip:port` (port 0: any free port).
    pub fn start(ip: &str, port: u16, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind((self::ip(ip), port))
            .unwrap_or_else(|e| panic!("bind {ip}:{port}: {e}"));
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            behaviour: Mutex::new(behaviour),
            want_open: AtomicBool::new(true),
            is_open: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            statuses: Mutex::new(Vec::new()),
            heads: Mutex::new(Vec::new()),
        });
        let sh = shared.clone();
        let thread = std::thread::spawn(move || accept_loop(addr, listener, sh));
        Self {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn set(&self, b: Behaviour) {
        *self.shared.behaviour.lock().unwrap() = b;
    }

    /// Stop listening (connections are refused from now on).
    pub fn close(&self) {
        self.shared.want_open.store(false, Ordering::SeqCst);
        // wake the blocking accept
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        self.wait_open(false);
    }

    /// Listen again on the same address and port.
    pub fn open(&self) {
        self.shared.want_open.store(true, Ordering::SeqCst);
        self.wait_open(true);
    }

    fn wait_open(&self, open: bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.shared.is_open.load(Ordering::SeqCst) != open {
            assert!(
                Instant::now() < deadline,
                "{}: still {} after 5 s",
                self.addr,
                if open { "closed" } else { "open" }
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Request heads read so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// The request heads read so far.
    pub fn heads(&self) -> Vec<String> {
        self.shared.heads.lock().unwrap().clone()
    }

    /// Statuses of the replies sent so far.
    pub fn statuses(&self) -> Vec<u16> {
        self.shared.statuses.lock().unwrap().clone()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(addr: SocketAddr, first: TcpListener, sh: Arc<Shared>) {
    let mut listener = Some(first);
    while !sh.stop.load(Ordering::SeqCst) {
        let want = sh.want_open.load(Ordering::SeqCst);
        match (&listener, want) {
            (Some(_), false) => {
                listener = None;
                sh.is_open.store(false, Ordering::SeqCst);
            }
            (None, true) => match TcpListener::bind(addr) {
                // std sets SO_REUSEADDR: the port is ours again at once
                Ok(l) => {
                    listener = Some(l);
                    sh.is_open.store(true, Ordering::SeqCst);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            },
            (None, false) => std::thread::sleep(Duration::from_millis(5)),
            (Some(l), true) => {
                // Blocking: a probe is served at once. close() and drop
                // connect once to wake it.
                if let Ok((s, _)) = l.accept()
                    && sh.want_open.load(Ordering::SeqCst)
                    && !sh.stop.load(Ordering::SeqCst)
                {
                    let sh = sh.clone();
                    std::thread::spawn(move || serve_one(s, &sh));
                }
            }
        }
    }
}

fn serve_one(mut s: TcpStream, sh: &Shared) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return, // a TCP probe, or a client that gave up
            Ok(n) if head.len() + n > 64 * 1024 => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    sh.heads
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&head).into_owned());
    let n = sh.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let behaviour = sh.behaviour.lock().unwrap().clone();
    let mut extra = String::new();
    let from = s.peer_addr().map(|a| a.ip()).ok();
    let (status, body) = match behaviour {
        Behaviour::RefuseFrom(list) if from.is_some_and(|f| list.contains(&f)) => (503, "refused"),
        Behaviour::RefuseFrom(_) => (200, "ok"),
        Behaviour::Reply(status, body) => (status, body),
        Behaviour::Alternate if n % 2 == 1 => (200, "ok"),
        Behaviour::Alternate => (500, "flap"),
        Behaviour::Slow(ms) => {
            std::thread::sleep(Duration::from_millis(ms));
            (200, "ok")
        }
        Behaviour::Header(line) => {
            extra = format!("{line}\r\n");
            (200, "ok")
        }
        Behaviour::Hang => {
            let t0 = Instant::now();
            while *sh.behaviour.lock().unwrap() == Behaviour::Hang
                && sh.want_open.load(Ordering::SeqCst)
                && !sh.stop.load(Ordering::SeqCst)
                && t0.elapsed() < Duration::from_secs(10)
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            return;
        }
    };
    sh.statuses.lock().unwrap().push(status);
    let reply = format!(
        "HTTP/1.1 {status} Test\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(reply.as_bytes());
}

// ---------------------------------------------------------------------
// policy files and waiting

/// `[checks.NAME]` with the short timings of these tests, plus `extra` lines.
pub fn check(name: &str, kind: &str, port: u16, extra: &str) -> String {
    let path = if kind == "tcp" {
        ""
    } else {
        "path = \"/health\"\n"
    };
    format!(
        "[checks.{name}]\nkind = \"{kind}\"\nport = {port}\n{path}interval = 0.2\ntimeout = 0.1\nfall = 2\nrise = 2\n{extra}\n"
    )
}

/// interval × fall + timeout (or × rise) for [`check`]'s defaults.
const WINDOW: Duration = Duration::from_millis(200 * 2 + 100);

/// Ask `qname` A every 20 ms until the answer set satisfies `want`; fail
/// after `limit`. Returns the time from `since` to the first such answer.
async fn wait_answer(
    r: &Resolver,
    qname: &str,
    since: Instant,
    limit: Duration,
    what: &str,
    want: impl Fn(&BTreeSet<IpAddr>) -> bool,
) -> Duration {
    loop {
        let got = r.addr_set(qname, RecordType::A).await;
        if want(&got) {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "{what}: not within {limit:?}; last answer {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait (at most `limit`) until `cond` holds.
async fn wait_until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The state-change lines for `endpoint` going `from` -> `to`.
fn changes(srv: &TestServer, endpoint: &str, from: &str, to: &str) -> Vec<String> {
    srv.log_lines(&format!("health {from} -> {to} "))
        .into_iter()
        .filter(|l| l.contains(&format!(" endpoint={endpoint} ")))
        .collect()
}

/// Exactly one `from -> to` line for `endpoint` (wait up to 2 s for it),
/// naming the pool and the check and giving a reason containing `reason`.
async fn assert_one_change(
    srv: &TestServer,
    endpoint: &str,
    (from, to): (&str, &str),
    pool: &str,
    reason: &str,
) {
    wait_until(
        &format!("log of {endpoint} {from} -> {to}"),
        Duration::from_secs(2),
        || !changes(srv, endpoint, from, to).is_empty(),
    )
    .await;
    let lines = changes(srv, endpoint, from, to);
    assert_eq!(lines.len(), 1, "one line per change: {lines:#?}");
    let l = &lines[0];
    for want in [
        format!("pool=\"{pool}\""),
        format!("from={from} to={to}"),
        format!("reason={reason}"),
    ] {
        assert!(l.contains(&want), "missing {want:?} in {l}");
    }
}

const WWW: &str = "www.lb.test.";

// ---------------------------------------------------------------------
// tests

/// Stopped server: out of the answers within interval × fall + timeout;
/// restarted: back after `rise` good probes. One log line per change.
#[tokio::test(flavor = "multi_thread")]
async fn dead_endpoint_leaves_and_returns_after_rise() {
    let web = Endpoint::start("127.0.2.1", 0, Behaviour::Reply(200, "ok"));
    let policy = [
        check("web", "http", web.port(), ""),
        pool(
            "web",
            &[
                ("127.0.2.1", "check = \"web\", name = \"web-a\""),
                ("192.0.2.1", ""),
            ],
        ),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("hc-dead", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let both = ips(&["127.0.2.1", "192.0.2.1"]);
    let rest = ips(&["192.0.2.1"]);
    wait_until("two probes", SLACK, || web.requests() >= 2).await;
    assert_eq!(r.addr_set(WWW, RecordType::A).await, both);

    let t0 = Instant::now();
    web.close();
    let took = wait_answer(&r, WWW, t0, WINDOW + SLACK, "dead endpoint leaves", |s| {
        *s == rest
    })
    .await;
    eprintln!("left after {took:?}");
    // and stays out
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(r.addr_set(WWW, RecordType::A).await, rest);
    }
    assert_one_change(
        &srv,
        "127.0.2.1",
        ("up", "down"),
        "web-a in lb.test pools.web",
        "connection refused",
    )
    .await;

    let before = web.requests();
    let t1 = Instant::now();
    web.open();
    let took = wait_answer(&r, WWW, t1, WINDOW + SLACK, "endpoint returns", |s| {
        *s == both
    })
    .await;
    eprintln!("back after {took:?}");
    let good = web.requests() - before;
    assert!(good >= 2, "back after {good} good probe(s), rise is 2");
    assert_one_change(
        &srv,
        "127.0.2.1",
        ("down", "up"),
        "web-a in lb.test pools.web",
        "status 200",
    )
    .await;
    assert_eq!(changes(&srv, "127.0.2.1", "up", "down").len(), 1);
}

/// A server that accepts and never answers: each probe times out.
#[tokio::test(flavor = "multi_thread")]
async fn hanging_endpoint_times_out_and_goes_down() {
    let web = Endpoint::start("127.0.3.1", 0, Behaviour::Reply(200, "ok"));
    let other = Endpoint::start("127.0.3.2", web.port(), Behaviour::Reply(200, "ok"));
    let policy = [
        check("web", "http", web.port(), ""),
        pool(
            "web",
            &[("127.0.3.1", "check = \"web\""), ("192.0.2.1", "")],
        ),
        pool("other", &[("127.0.3.2", "check = \"web\"")]),
        lb_name("other", "weighted", "other", "on_all_down = \"empty\""),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("hc-hang", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let both = ips(&["127.0.3.1", "192.0.2.1"]);
    wait_until("two probes", SLACK, || web.requests() >= 2).await;
    assert_eq!(r.addr_set(WWW, RecordType::A).await, both);

    let t0 = Instant::now();
    let before = web.requests();
    web.set(Behaviour::Hang);
    wait_answer(&r, WWW, t0, WINDOW + SLACK, "hung endpoint leaves", |s| {
        *s == ips(&["192.0.2.1"])
    })
    .await;
    assert!(
        web.requests() - before >= 2,
        "down after fewer than fall = 2 probes"
    );
    assert_one_change(
        &srv,
        "127.0.3.1",
        ("up", "down"),
        "lb.test pools.web",
        "timeout",
    )
    .await;

    // a hung probe holds up no other target: another endpoint still
    // leaves (and returns) within its window
    let t1 = Instant::now();
    other.close();
    wait_answer(
        &r,
        "other.lb.test.",
        t1,
        WINDOW + SLACK,
        "other leaves",
        |s| s.is_empty(),
    )
    .await;
    let t2 = Instant::now();
    other.open();
    wait_answer(
        &r,
        "other.lb.test.",
        t2,
        WINDOW + SLACK,
        "other returns",
        |s| !s.is_empty(),
    )
    .await;

    let t3 = Instant::now();
    web.set(Behaviour::Reply(200, "ok"));
    wait_answer(&r, WWW, t3, WINDOW + SLACK, "answering again", |s| {
        *s == both
    })
    .await;
}

/// `expect_status` and `body_contains`: a status outside the set, or a
/// body without the text, fails the probe; fixing it brings the endpoint
/// back. 302 is inside the default 200-399 but outside this check's set.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_status_or_missing_body_text_is_down() {
    let web = Endpoint::start("127.0.4.1", 0, Behaviour::Reply(200, "all healthy"));
    let policy = [
        check(
            "web",
            "http",
            web.port(),
            "expect_status = [\"200-203\"]\nbody_contains = \"healthy\"",
        ),
        pool(
            "web",
            &[("127.0.4.1", "check = \"web\""), ("192.0.2.1", "")],
        ),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("hc-status", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let both = ips(&["127.0.4.1", "192.0.2.1"]);
    let rest = ips(&["192.0.2.1"]);
    wait_until("two probes", SLACK, || web.requests() >= 2).await;
    assert_eq!(r.addr_set(WWW, RecordType::A).await, both);

    for (bad, reason) in [
        (Behaviour::Reply(500, "healthy"), "unexpected status 500"),
        (Behaviour::Reply(302, "healthy"), "unexpected status 302"),
        (
            Behaviour::Reply(200, "sick"),
            "body does not contain \"healthy\"",
        ),
    ] {
        let t0 = Instant::now();
        let before = web.requests();
        web.set(bad.clone());
        wait_answer(
            &r,
            WWW,
            t0,
            WINDOW + SLACK,
            &format!("{bad:?} leaves"),
            |s| *s == rest,
        )
        .await;
        let probes = web.requests() - before;
        assert!(
            probes >= 2,
            "{bad:?}: down after {probes} probe(s), fall is 2"
        );
        // The prober publishes the new state before it logs the change:
        // the line may trail the answer by a moment.
        let logged = |srv: &TestServer| {
            changes(srv, "127.0.4.1", "up", "down")
                .last()
                .is_some_and(|l| l.contains(&format!("reason={reason}")))
        };
        wait_until("the change is logged", SLACK, || logged(&srv)).await;
        // fixed, with another status of the set (203)
        let t1 = Instant::now();
        web.set(Behaviour::Reply(203, "healthy again"));
        wait_answer(
            &r,
            WWW,
            t1,
            WINDOW + SLACK,
            &format!("fixed after {bad:?}"),
            |s| *s == both,
        )
        .await;
    }
    assert_eq!(changes(&srv, "127.0.4.1", "up", "down").len(), 3);
    assert_eq!(changes(&srv, "127.0.4.1", "down", "up").len(), 3);
}

/// fall = 3 and a server failing every other probe: never three failures
/// in a row, so the endpoint stays in every answer. The timeout (0.25 s)
/// is far above a loopback request, so the good probes cannot time out
/// on a busy machine and turn flapping into three failures.
#[tokio::test(flavor = "multi_thread")]
async fn flapping_within_the_thresholds_changes_nothing() {
    let web = Endpoint::start("127.0.5.1", 0, Behaviour::Alternate);
    let policy = [
        format!(
            "[checks.web]\nkind = \"http\"\nport = {}\ninterval = 0.3\ntimeout = 0.25\nfall = 3\nrise = 2\n",
            web.port()
        ),
        pool("web", &[("127.0.5.1", "check = \"web\""), ("192.0.2.1", "")]),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("hc-flap", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let both = ips(&["127.0.5.1", "192.0.2.1"]);
    let t0 = Instant::now();
    let mut samples = 0;
    // until the server has failed 4 probes (8 requests), at most 10 s
    while web.requests() < 8 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "probes too slow: {:?}",
            web.statuses()
        );
        assert_eq!(
            r.addr_set(WWW, RecordType::A).await,
            both,
            "flapping endpoint left the answers after {:?}",
            web.statuses()
        );
        samples += 1;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let statuses = web.statuses();
    assert!(
        statuses.iter().filter(|&&s| s == 500).count() >= 4,
        "{statuses:?}"
    );
    assert!(samples >= 20, "only {samples} samples");
    assert!(changes(&srv, "127.0.5.1", "up", "down").is_empty());
}

/// Operator states against health: `up` answers while its check fails,
/// `down` stays out while healthy, `drain` answers only when the others
/// are down.
#[tokio::test(flavor = "multi_thread")]
async fn forced_states_override_health() {
    let failing = Endpoint::start("127.0.6.1", 0, Behaviour::Reply(500, "no"));
    let port = failing.port();
    let healthy_down = Endpoint::start("127.0.6.2", port, Behaviour::Reply(200, "ok"));
    let normal = Endpoint::start("127.0.6.3", port, Behaviour::Reply(200, "ok"));
    let main = Endpoint::start("127.0.6.4", port, Behaviour::Reply(200, "ok"));
    let drained = Endpoint::start("127.0.6.5", port, Behaviour::Reply(200, "ok"));
    let c = "check = \"web\"";
    let policy = [
        check("web", "http", port, ""),
        pool(
            "forced",
            &[
                ("127.0.6.1", &format!("{c}, state = \"up\"")),
                ("127.0.6.2", &format!("{c}, state = \"down\"")),
                ("127.0.6.3", c),
            ],
        ),
        pool(
            "drain",
            &[
                ("127.0.6.4", c),
                ("127.0.6.5", &format!("{c}, state = \"drain\"")),
            ],
        ),
        lb_name("forced", "multivalue", "forced", "answers = \"all\""),
        lb_name("drain", "multivalue", "drain", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("hc-forced", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    // every check has had its say: the failing one is down (logged), the
    // others have passed `rise` probes
    assert_one_change(
        &srv,
        "127.0.6.1",
        ("up", "down"),
        "lb.test pools.forced",
        "unexpected status 500",
    )
    .await;
    for e in [&healthy_down, &normal, &main, &drained] {
        wait_until("two good probes each", SLACK, || e.requests() >= 2).await;
    }
    for _ in 0..10 {
        assert_eq!(
            r.addr_set("forced.lb.test.", RecordType::A).await,
            ips(&["127.0.6.1", "127.0.6.3"]),
            "forced up answers while failing, forced down stays out while healthy"
        );
        assert_eq!(
            r.addr_set("drain.lb.test.", RecordType::A).await,
            ips(&["127.0.6.4"]),
            "drained while another member is up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t0 = Instant::now();
    main.set(Behaviour::Reply(500, "no"));
    wait_answer(
        &r,
        "drain.lb.test.",
        t0,
        WINDOW + SLACK,
        "drain takes over",
        |s| *s == ips(&["127.0.6.5"]),
    )
    .await;
    let t1 = Instant::now();
    main.set(Behaviour::Reply(200, "ok"));
    wait_answer(
        &r,
        "drain.lb.test.",
        t1,
        WINDOW + SLACK,
        "drain steps back",
        |s| *s == ips(&["127.0.6.4"]),
    )
    .await;
    assert!(changes(&srv, "127.0.6.2", "up", "down").is_empty());
}

/// TCP check: up while the port accepts connections, down when the
/// listener closes, up again when it reopens on the same port.
#[tokio::test(flavor = "multi_thread")]
async fn tcp_check_follows_the_listener() {
    let svc = Endpoint::start("127.0.7.1", 0, Behaviour::Reply(200, "ok"));
    let policy = [
        check("svc", "tcp", svc.port(), ""),
        pool(
            "svc",
            &[
                ("127.0.7.1", "check = \"svc\", name = \"db\""),
                ("192.0.2.1", ""),
            ],
        ),
        lb_name("www", "multivalue", "svc", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("hc-tcp", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let both = ips(&["127.0.7.1", "192.0.2.1"]);
    assert_eq!(r.addr_set(WWW, RecordType::A).await, both);

    let t0 = Instant::now();
    svc.close();
    wait_answer(&r, WWW, t0, WINDOW + SLACK, "closed listener leaves", |s| {
        *s == ips(&["192.0.2.1"])
    })
    .await;
    assert_one_change(
        &srv,
        "127.0.7.1",
        ("up", "down"),
        "db in lb.test pools.svc",
        "connection refused",
    )
    .await;
    let t1 = Instant::now();
    svc.open();
    wait_answer(
        &r,
        WWW,
        t1,
        WINDOW + SLACK,
        "reopened listener returns",
        |s| *s == both,
    )
    .await;
    assert_one_change(
        &srv,
        "127.0.7.1",
        ("down", "up"),
        "db in lb.test pools.svc",
        "connected",
    )
    .await;
    assert_eq!(svc.requests(), 0, "a TCP check sends no request");
}

/// Probing starts with the server, for every checked endpoint, before any
/// query: first probes are spread over one interval (0.2 s).
#[tokio::test(flavor = "multi_thread")]
async fn probes_start_at_startup_not_on_first_query() {
    let a = Endpoint::start("127.0.8.1", 0, Behaviour::Reply(200, "ok"));
    let b = Endpoint::start("127.0.8.2", a.port(), Behaviour::Reply(200, "ok"));
    let policy = [
        check("web", "http", a.port(), ""),
        pool(
            "web",
            &[
                ("127.0.8.1", "check = \"web\""),
                ("127.0.8.2", "check = \"web\""),
            ],
        ),
        lb_name("www", "weighted", "web", ""),
    ]
    .concat();
    let setup = lb_setup("hc-startup", &policy);
    let srv = setup.serve();
    let t0 = Instant::now();
    // no DNS query has been sent to this server
    wait_until(
        "a probe of each endpoint",
        Duration::from_millis(200) + SLACK,
        || a.requests() >= 1 && b.requests() >= 1,
    )
    .await;
    eprintln!("both probed {:?} after start-up", t0.elapsed());
    let r = Resolver::new(srv.addr).await;
    assert_eq!(r.addrs(WWW, RecordType::A).await.len(), 1);
}

/// `probe_address`: the endpoint's health is its management address's.
/// `initial_state = "down"`, so the endpoint can only come up through
/// probes of 127.0.9.9; its own address is never probed.
#[tokio::test(flavor = "multi_thread")]
async fn probe_address_decides_the_health() {
    let mgmt = Endpoint::start("127.0.9.9", 0, Behaviour::Reply(200, "ok"));
    let own = Endpoint::start("127.0.9.1", mgmt.port(), Behaviour::Reply(500, "not me"));
    let policy = [
        check(
            "mgmt",
            "http",
            mgmt.port(),
            "probe_address = \"127.0.9.9\"\ninitial_state = \"down\"",
        ),
        pool(
            "web",
            &[("127.0.9.1", "check = \"mgmt\""), ("192.0.2.1", "")],
        ),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("hc-probe-addr", &policy);
    let srv = setup.serve();
    let t0 = Instant::now();
    let r = Resolver::new(srv.addr).await;
    let both = ips(&["127.0.9.1", "192.0.2.1"]);
    // up after `rise` probes within the first interval or so
    wait_answer(
        &r,
        WWW,
        t0,
        WINDOW + SLACK,
        "up through the probe address",
        |s| *s == both,
    )
    .await;
    // The line is logged right after the table changes: it may still be on
    // its way through the log pipe when the answer already shows.
    wait_until("the state-change line", SLACK, || {
        !changes(&srv, "127.0.9.1", "down", "up").is_empty()
    })
    .await;
    let line = &changes(&srv, "127.0.9.1", "down", "up")[0];
    assert!(
        line.contains(&format!("addr=127.0.9.9:{}", mgmt.port())),
        "{line}"
    );

    let t1 = Instant::now();
    mgmt.close();
    wait_answer(
        &r,
        WWW,
        t1,
        WINDOW + SLACK,
        "down with the probe address",
        |s| *s == ips(&["192.0.2.1"]),
    )
    .await;
    assert_eq!(own.requests(), 0, "the endpoint's own address was probed");
}

/// The request a probe sends: method, path, Host, User-Agent and extra
/// headers as configured, or the documented defaults (HEAD here, Host
/// `address:port`, User-Agent `dnslb-health/VERSION`).
#[tokio::test(flavor = "multi_thread")]
async fn http_probe_sends_the_configured_request() {
    let custom = Endpoint::start("127.0.10.1", 0, Behaviour::Reply(200, "ok"));
    let port = custom.port();
    let plain = Endpoint::start("127.0.10.2", port, Behaviour::Reply(200, "ok"));
    let policy = [
        format!(
            "[checks.custom]\nkind = \"http\"\nport = {port}\npath = \"/status?full=1\"\nhost = \"www.example.test\"\nuser_agent = \"probe-test/1\"\ninterval = 0.2\ntimeout = 0.1\n[checks.custom.headers]\nX-Probe = \"dnslb\"\n"
        ),
        format!(
            "[checks.plain]\nkind = \"http\"\nport = {port}\nmethod = \"HEAD\"\ninterval = 0.2\ntimeout = 0.1\n"
        ),
        pool(
            "web",
            &[
                ("127.0.10.1", "check = \"custom\""),
                ("127.0.10.2", "check = \"plain\""),
            ],
        ),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("hc-request", &policy);
    let _srv = setup.serve();
    wait_until("a probe of each", SLACK, || {
        custom.requests() >= 1 && plain.requests() >= 1
    })
    .await;
    let lower = |h: &str| h.to_ascii_lowercase();
    let head = lower(&custom.heads()[0]);
    for want in [
        "get /status?full=1 http/1.1\r\n",
        "\r\nhost: www.example.test\r\n",
        "\r\nuser-agent: probe-test/1\r\n",
        "\r\nx-probe: dnslb\r\n",
    ] {
        assert!(head.contains(want), "missing {want:?} in {head:?}");
    }
    let head = lower(&plain.heads()[0]);
    for want in [
        "head / http/1.1\r\n".to_string(),
        format!("\r\nhost: 127.0.10.2:{port}\r\n"),
        format!(
            "\r\nuser-agent: dnslb-health/{}\r\n",
            env!("CARGO_PKG_VERSION")
        ),
    ] {
        assert!(head.contains(&want), "missing {want:?} in {head:?}");
    }
}

/// One probe per unique (address, check), however many pools and names
/// share it: over a measured stretch the endpoint sees at most one request
/// per interval (plus one for the edges), not one per pool.
#[tokio::test(flavor = "multi_thread")]
async fn a_shared_endpoint_is_probed_once() {
    let web = Endpoint::start("127.0.11.1", 0, Behaviour::Reply(200, "ok"));
    let c = "check = \"web\"";
    let policy = [
        check("web", "http", web.port(), ""),
        pool("a", &[("127.0.11.1", c), ("192.0.2.1", "")]),
        pool("b", &[("127.0.11.1", c), ("192.0.2.2", "")]),
        pool("c", &[("127.0.11.1", c)]),
        lb_name("www", "multivalue", "a", ""),
        lb_name("two", "weighted", "b", ""),
        lb_name("three", "round_robin", "c", ""),
    ]
    .concat();
    let setup = lb_setup("hc-shared", &policy);
    let _srv = setup.serve();
    wait_until("first probe", SLACK, || web.requests() >= 1).await;
    let (n0, t0) = (web.requests(), Instant::now());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (n, took) = (web.requests() - n0, t0.elapsed());
    let most = (took.as_secs_f64() / 0.2).floor() as usize + 1;
    assert!(n >= 1, "no probe in {took:?}");
    assert!(
        n <= most,
        "{n} requests in {took:?}: more than one probe per interval"
    );
}

/// SIGHUP: an endpoint that stays keeps its health (a down one does not
/// come back as `initial_state` up), a removed one is no longer probed, an
/// added one is, and a changed check is probed as changed.
#[tokio::test(flavor = "multi_thread")]
async fn reload_keeps_health_and_probes_the_new_set() {
    let kept = Endpoint::start("127.0.12.1", 0, Behaviour::Reply(200, "ok"));
    let port = kept.port();
    let removed = Endpoint::start("127.0.12.2", port, Behaviour::Reply(200, "ok"));
    let added = Endpoint::start("127.0.12.3", port, Behaviour::Reply(200, "ok"));
    let c = "check = \"web\"";
    let v1 = [
        check("web", "http", port, ""),
        pool(
            "web",
            &[("127.0.12.1", c), ("127.0.12.2", c), ("192.0.2.1", "")],
        ),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("hc-reload", &v1);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    wait_until("two probes each", SLACK, || {
        kept.requests() >= 2 && removed.requests() >= 2
    })
    .await;
    let t0 = Instant::now();
    kept.set(Behaviour::Reply(500, "down"));
    wait_answer(&r, WWW, t0, WINDOW + SLACK, "kept endpoint down", |s| {
        *s == ips(&["127.0.12.2", "192.0.2.1"])
    })
    .await;

    // v2: same check, 127.0.12.2 replaced by 127.0.12.3
    let v2 = [
        check("web", "http", port, ""),
        pool(
            "web",
            &[("127.0.12.1", c), ("127.0.12.3", c), ("192.0.2.1", "")],
        ),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat();
    setup.write_policy("lb.test", &v2);
    assert!(srv.reload());
    let removed_then = removed.requests();
    // at once: the down endpoint is still down, the new one starts up
    assert_eq!(
        r.addr_set(WWW, RecordType::A).await,
        ips(&["127.0.12.3", "192.0.2.1"]),
        "health not carried over the reload"
    );
    wait_until(
        "the added endpoint probed",
        Duration::from_millis(200) + SLACK,
        || added.requests() >= 1,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    // a probe already in flight at the reload may still land
    let late = removed.requests() - removed_then;
    assert!(
        late <= 1,
        "removed endpoint still probed: {late} requests after the reload"
    );
    assert_eq!(
        r.addr_set(WWW, RecordType::A).await,
        ips(&["127.0.12.3", "192.0.2.1"]),
        "kept endpoint came back without passing its check"
    );

    // v3: the check's path changes; the probes follow it, and the kept
    // endpoint comes up through the new check once it answers well
    let v3 = v2.replace("path = \"/health\"", "path = \"/v3\"");
    assert_ne!(v3, v2);
    setup.write_policy("lb.test", &v3);
    assert!(srv.reload());
    // Editing the check keeps each endpoint's state (by address and check
    // name): the down endpoint does not come back at initial_state.
    assert_eq!(
        r.addr_set(WWW, RecordType::A).await,
        ips(&["127.0.12.3", "192.0.2.1"]),
        "editing the check brought the down endpoint back"
    );
    wait_until(
        "a probe of the new path",
        Duration::from_millis(200) + SLACK,
        || kept.heads().iter().any(|h| h.starts_with("GET /v3 ")),
    )
    .await;
    let t1 = Instant::now();
    kept.set(Behaviour::Reply(200, "ok"));
    wait_answer(
        &r,
        WWW,
        t1,
        WINDOW + SLACK,
        "up through the changed check",
        |s| s.contains(&ip("127.0.12.1")),
    )
    .await;
}

/// Failover driven by health: the first group answers while any of its
/// members is up, the second once all of them are down, and the first
/// again as soon as one recovers.
#[tokio::test(flavor = "multi_thread")]
async fn failover_follows_health() {
    let p1 = Endpoint::start("127.0.13.1", 0, Behaviour::Reply(200, "ok"));
    let p2 = Endpoint::start("127.0.13.2", p1.port(), Behaviour::Reply(200, "ok"));
    let c = "check = \"web\"";
    let policy = [
        check("web", "http", p1.port(), ""),
        pool("primary", &[("127.0.13.1", c), ("127.0.13.2", c)]),
        pool("secondary", &[("192.0.2.1", "")]),
        "[names.app]\npolicy = \"failover\"\ngroups = [\"primary\", \"secondary\"]\nanswers = \"all\"\n"
            .to_string(),
    ]
    .concat();
    let setup = lb_setup("hc-failover", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let app = "app.lb.test.";
    assert_eq!(
        r.addr_set(app, RecordType::A).await,
        ips(&["127.0.13.1", "127.0.13.2"])
    );
    for (step, (endpoint, behaviour), want) in [
        (1, (&p1, Behaviour::Reply(500, "no")), ips(&["127.0.13.2"])),
        (2, (&p2, Behaviour::Reply(500, "no")), ips(&["192.0.2.1"])),
        (3, (&p1, Behaviour::Reply(200, "ok")), ips(&["127.0.13.1"])),
    ] {
        let t0 = Instant::now();
        endpoint.set(behaviour);
        let limit = WINDOW + SLACK;
        wait_answer(&r, app, t0, limit, &format!("step {step}"), |s| *s == want).await;
    }
}

/// After a SIGHUP the state-change lines still say who uses the endpoint
/// (`pool="..."`): the labels must survive the reload like the health does.
/// (Before the architecture step the carried-over table lost them and the
/// lines read `pool=""`.)
#[tokio::test(flavor = "multi_thread")]
async fn state_changes_after_a_reload_still_name_the_pool() {
    let web = Endpoint::start("127.0.14.1", 0, Behaviour::Reply(200, "ok"));
    let policy = [
        check("web", "http", web.port(), ""),
        pool(
            "web",
            &[
                ("127.0.14.1", "check = \"web\", name = \"web-a\""),
                ("192.0.2.1", ""),
            ],
        ),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("hc-label", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    wait_until("two probes", SLACK, || web.requests() >= 2).await;
    assert!(srv.reload());
    assert!(srv.reload(), "a second reload carries the labels on too");
    let t0 = Instant::now();
    web.close();
    wait_answer(&r, WWW, t0, WINDOW + SLACK, "dead endpoint leaves", |s| {
        *s == ips(&["192.0.2.1"])
    })
    .await;
    assert_one_change(
        &srv,
        "127.0.14.1",
        ("up", "down"),
        "web-a in lb.test pools.web",
        "connection refused",
    )
    .await;
}

/// `ttl_while_failing`: the short TTL from the first failed probe (before
/// the endpoint is declared down, `fall = 3`), through down, back to the
/// name's TTL once its probes pass again.
#[tokio::test]
async fn ttl_shortens_while_a_check_fails() {
    let web = Endpoint::start("127.0.4.60", 0, Behaviour::Reply(200, "ok"));
    let policy = [
        format!(
            "[checks.web]\nkind = \"http\"\nport = {}\npath = \"/health\"\ninterval = 0.2\ntimeout = 0.1\nfall = 3\nrise = 1\n",
            web.port()
        ),
        pool(
            "web",
            &[("127.0.4.60", "check = \"web\""), ("192.0.2.60", "")],
        ),
        lb_name(
            "www",
            "multivalue",
            "web",
            "answers = \"all\"\nttl = 60\nttl_while_failing = 5",
        ),
    ]
    .concat();
    let setup = lb_setup("hc-ttl", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let ttls = async |r: &Resolver| -> Vec<u32> {
        r.query(WWW, RecordType::A)
            .await
            .answers
            .iter()
            .map(|a| a.ttl)
            .collect()
    };
    wait_until("first probes", SLACK, || web.requests() >= 2).await;
    assert_eq!(ttls(&r).await, [60, 60]);
    web.set(Behaviour::Reply(500, "no"));
    let before = web.requests();
    // One failed probe: still answered, with the short TTL.
    wait_until("a failed probe", SLACK, || web.requests() > before).await;
    let deadline = Instant::now() + SLACK;
    let mut seen_failing = false;
    loop {
        let t = ttls(&r).await;
        if t == [5] {
            break; // down: only the other member, short TTL
        }
        assert!(t == [60, 60] || t == [5, 5], "{t:?}");
        // Failing but not yet down (fall = 3, 0.2 s apart): both answered.
        seen_failing |= t == [5, 5];
        assert!(Instant::now() < deadline, "never down: {t:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen_failing, "no short TTL before the endpoint went down");
    web.set(Behaviour::Reply(200, "ok"));
    let deadline = Instant::now() + SLACK;
    while ttls(&r).await != [60, 60] {
        assert!(Instant::now() < deadline, "the TTL did not come back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `probe_source_ipv4`: probes leave from that address. An endpoint that
/// answers 503 to 127.0.31.100 only is down for the instance probing from
/// there and up for one probing from the default source; a source that is
/// not this host's stops start-up with the key's line.
#[tokio::test(flavor = "multi_thread")]
async fn probes_leave_from_probe_source() {
    let e = Endpoint::start(
        "127.0.31.1",
        0,
        Behaviour::RefuseFrom(vec![ip("127.0.31.100")]),
    );
    let policy = [
        check("web", "http", e.port(), ""),
        pool(
            "web",
            &[("127.0.31.1", "check = \"web\""), ("192.0.2.7", "")],
        ),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat();
    let plain = lb_setup("probe-source-default", &policy);
    let sourced = crate::harness::Setup::new(
        "probe-source-set",
        &[("lb.test", crate::fixtures::LB_TEST)],
        "probe_source_ipv4 = \"127.0.31.100\"\n",
    );
    sourced.write_policy("lb.test", &policy);
    let (a, b) = (plain.serve(), sourced.serve());
    let (ra, rb) = (Resolver::new(a.addr).await, Resolver::new(b.addr).await);
    let t0 = Instant::now();
    let limit = WINDOW * 4 + SLACK;
    wait_answer(&rb, "www.lb.test.", t0, limit, "refused source", |s| {
        *s == ips(&["192.0.2.7"])
    })
    .await;
    wait_answer(&ra, "www.lb.test.", t0, limit, "default source", |s| {
        *s == ips(&["127.0.31.1", "192.0.2.7"])
    })
    .await;
    assert!(!changes(&b, "127.0.31.1", "up", "down").is_empty());
    assert!(changes(&a, "127.0.31.1", "up", "down").is_empty());

    let foreign = crate::harness::Setup::new(
        "probe-source-foreign",
        &[("lb.test", crate::fixtures::LB_TEST)],
        "\nprobe_source_ipv4 = \"192.0.2.200\"\n",
    );
    foreign.write_policy("lb.test", &policy);
    let (status, stderr) = foreign.serve_expecting_failure();
    assert!(!status.success());
    assert!(
        stderr.contains(
            "dnslb.toml:3:21: probe_source_ipv4: 192.0.2.200 is not an address of this host"
        ),
        "{stderr}"
    );
}
