//! The admin API of the real binary: every route, token enforcement,
//! overrides that change answers at once and survive reload and restart,
//! the CLI commands, and the status page in a real (headless) browser.
//!
//! Endpoints live on 127.0.20.x (this file's /24, see health.rs). The
//! browser test needs Debian's `chromium`: `#[ignore = "needs chromium"]`,
//! run by CI with `--include-ignored`, where a missing browser fails it.

use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::fixtures::lb_setup;
use crate::fixtures::{Resolver, ips, lb_name, pool};
use crate::harness::{CmdOutput, TestServer, run};
use crate::health::{Behaviour, Endpoint};

const WWW: &str = "www.lb.test.";
const TOKEN: &str = "test-token-0123456789";

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

pub(crate) async fn get(srv: &TestServer, path: &str) -> (u16, String) {
    let r = http()
        .get(format!("{}{path}", srv.admin_url()))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

pub(crate) async fn status(srv: &TestServer) -> Value {
    let (code, body) = get(srv, "/status").await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// `POST /overrides {"endpoint", "state"}` without a token: (status, JSON body).
pub(crate) async fn post(srv: &TestServer, endpoint: &str, state: &str) -> (u16, Value) {
    let r = http()
        .post(format!("{}/overrides", srv.admin_url()))
        .header("content-type", "application/json")
        .body(serde_json::json!({"endpoint": endpoint, "state": state}).to_string())
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    (
        code,
        serde_json::from_str(&r.text().await.unwrap()).unwrap(),
    )
}

/// The endpoint object of `addr` under name `name` in a `/status` document.
fn endpoint<'a>(doc: &'a Value, name: &str, addr: &str) -> &'a Value {
    doc["names"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["name"] == name)
        .flat_map(|n| n["pools"].as_array().unwrap())
        .flat_map(|p| p["endpoints"].as_array().unwrap())
        .find(|e| e["address"] == addr)
        .unwrap_or_else(|| panic!("{addr} under {name} in {doc:#}"))
}

fn check(port: u16) -> String {
    format!(
        "[checks.web]\nkind = \"http\"\nport = {port}\npath = \"/health\"\ninterval = 0.5\ntimeout = 0.4\nfall = 2\nrise = 2\n"
    )
}

/// Two named members (one checked at `web`), one unnamed, weighted.
fn policy(web: &Endpoint) -> String {
    [
        check(web.port()),
        pool(
            "web",
            &[
                ("127.0.20.1", "check = \"web\", name = \"web-a\""),
                ("192.0.2.2", "name = \"web-b\""),
                ("192.0.2.3", ""),
            ],
        ),
        lb_name("www", "multivalue", "web", "answers = \"all\""),
    ]
    .concat()
}

pub(crate) async fn wait_for(what: &str, limit: Duration, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_answers() {
    let web = Endpoint::start("127.0.20.1", 0, Behaviour::Reply(200, "ok"));
    let setup = lb_setup("admin-routes", &policy(&web));
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    wait_for("first probes", Duration::from_secs(5), async || {
        web.requests() >= 2
    })
    .await;
    let all = ips(&["127.0.20.1", "192.0.2.2", "192.0.2.3"]);
    for _ in 0..3 {
        assert_eq!(r.addr_set(WWW, RecordType::A).await, all);
    }
    let _ = r.query("nope.lb.test.", RecordType::A).await;

    assert_eq!(get(&srv, "/healthz").await, (200, "ok\n".into()));
    assert_eq!(get(&srv, "/readyz").await, (200, "ready\n".into()));
    let (code, body) = get(&srv, "/no/such/route").await;
    assert_eq!(code, 404, "{body}");

    let (code, m) = get(&srv, "/metrics").await;
    assert_eq!(code, 200);
    let q = |s: &str| metric(&m, s).unwrap_or_else(|| panic!("{s} missing:\n{m}"));
    assert!(q(r#"dnslb_queries_total{transport="udp",qtype="A",rcode="NOERROR"}"#) >= 3.0);
    assert_eq!(
        q(r#"dnslb_queries_total{transport="udp",qtype="A",rcode="NXDOMAIN"}"#),
        1.0
    );
    assert!(q(r#"dnslb_zone_queries_total{zone="lb.test.",rcode="NOERROR"}"#) >= 3.0);
    // Answers are sampled (a worker's first answer always is).
    assert!(q(r#"dnslb_answers_sampled_total{name="www.lb.test."}"#) >= 1.0);
    let addr3 = r#"dnslb_answer_sample_addresses_total{name="www.lb.test.",address="192.0.2.3"}"#;
    assert_eq!(
        q(addr3),
        q(r#"dnslb_answers_sampled_total{name="www.lb.test."}"#)
    );
    assert_eq!(
        q(r#"dnslb_answers_total{name="www.lb.test.",decision="policy"}"#),
        3.0
    );
    assert_eq!(
        q(r#"dnslb_answers_total{name="www.lb.test.",decision="fail_open"}"#),
        0.0
    );
    assert_eq!(q("dnslb_ecs_queries_total"), 0.0);
    let probe = format!(
        "address=\"127.0.20.1\",check=\"web\",probe=\"127.0.20.1:{}\"",
        web.port()
    );
    assert_eq!(q(&format!("dnslb_endpoint_up{{{probe}}}")), 1.0);
    // One endpoint on an idle machine: the prober keeps time.
    assert_eq!(q("dnslb_prober_inconclusive_probes_total"), 0.0);
    assert_eq!(
        q(&format!("dnslb_endpoint_check_interval_seconds{{{probe}}}")),
        0.5
    );
    assert_eq!(
        q(&format!("dnslb_endpoint_consecutive_failures{{{probe}}}")),
        0.0
    );
    assert!(q(&format!("dnslb_endpoint_probe_rtt_seconds{{{probe}}}")) > 0.0);
    assert!(
        q(&format!(
            "dnslb_endpoint_last_probe_timestamp_seconds{{{probe}}}"
        )) > 1.7e9
    );
    assert_eq!(
        q(
            r#"dnslb_endpoint_forced{zone="lb.test.",pool="web",member="web-a",address="127.0.20.1",check="web",state="auto"}"#
        ),
        1.0
    );
    assert_eq!(q("dnslb_reloads_total"), 1.0);
    assert_eq!(q("dnslb_reload_failures_total"), 0.0);
    assert!(q("dnslb_last_reload_success_timestamp_seconds") > 1.7e9);
    assert_eq!(q("dnslb_ready"), 1.0);

    let doc = status(&srv).await;
    assert_eq!(doc["ready"], true);
    assert_eq!(doc["zones"][0]["zone"], "lb.test.");
    let a = endpoint(&doc, WWW, "127.0.20.1");
    assert_eq!(a["name"], "web-a");
    assert_eq!(a["endpoint"], "lb.test/web/web-a");
    assert_eq!(
        (&a["health"], &a["availability"]),
        (&"up".into(), &"available".into())
    );
    assert_eq!(a["check"], "web");
    assert!(a["rtt_ms"].as_f64().unwrap() > 0.0);
    assert!(a["forced"].is_null() && a["last_error"].is_null());
    // multivalue "all": every answer holds every address, a third each.
    assert!(doc["names"][0]["answer_samples"].as_u64().unwrap() >= 1);
    let share = a["answer_share"].as_f64().unwrap();
    assert!((share - 1.0 / 3.0).abs() < 1e-9, "{share}");
    let c = endpoint(&doc, WWW, "192.0.2.3");
    assert_eq!(
        (&c["health"], &c["endpoint"]),
        (&"unchecked".into(), &"192.0.2.3".into())
    );

    // The page: a shell with its script and style served beside it, under
    // a CSP that allows no inline script or style.
    let r = http()
        .get(format!("{}/", srv.admin_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for want in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(want), "{want} in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    let page = r.text().await.unwrap();
    assert!(page.contains("<title>dnslb status</title>"), "{page}");
    assert!(
        page.contains("<script src=\"/page.js\" defer></script>")
            && page.contains("<link rel=\"stylesheet\" href=\"/page.css\">"),
        "{page}"
    );
    // Nothing inline: no script body, style element or attribute, handler.
    assert!(
        !page.contains("<style") && !page.contains(" style="),
        "{page}"
    );
    assert_eq!(page.matches("<script").count(), 1, "{page}");
    assert!(
        !page.contains(" onclick=") && !page.contains(" onload="),
        "{page}"
    );
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "no external assets"
    );
    for (path, ty, want) in [
        ("/page.js", "text/javascript", "fetch(\"/status\""),
        ("/page.css", "text/css", ".badge"),
    ] {
        let r = http()
            .get(format!("{}{path}", srv.admin_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(ty),
            "{path}"
        );
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert!(r.text().await.unwrap().contains(want), "{path}");
    }

    let (code, body) = get(&srv, "/overrides").await;
    assert_eq!((code, body.as_str()), (200, r#"{"overrides":[]}"#));

    // The endpoint goes down: health, error and change time follow.
    web.close();
    wait_for("down in /status", Duration::from_secs(5), async || {
        endpoint(&status(&srv).await, WWW, "127.0.20.1")["health"] == "down"
    })
    .await;
    let doc = status(&srv).await;
    let a = endpoint(&doc, WWW, "127.0.20.1");
    assert_eq!(a["availability"], "down");
    assert!(a["last_error"].as_str().unwrap().contains("refused"), "{a}");
    assert!(a["last_change"].as_f64().unwrap() > 1.7e9);
    assert!(a["consecutive_failures"].as_u64().unwrap() >= 2);
    assert_eq!(a["state_changes"], 1);
    let (_, m) = get(&srv, "/metrics").await;
    assert_eq!(
        metric(&m, &format!("dnslb_endpoint_up{{{probe}}}")),
        Some(0.0)
    );
    assert_eq!(
        metric(
            &m,
            &format!("dnslb_endpoint_state_changes_total{{{probe}}}")
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn overrides_change_answers_at_once_and_survive_reload_and_restart() {
    let web = Endpoint::start("127.0.20.11", 0, Behaviour::Reply(200, "ok"));
    let policy = policy(&web).replace("127.0.20.1\"", "127.0.20.11\"");
    let setup = lb_setup("admin-overrides", &policy);
    let state = setup.config().with_file_name("admin_state");
    let cfg = std::fs::read_to_string(setup.config()).unwrap();
    std::fs::write(
        setup.config(),
        format!("{cfg}admin_state_file = \"admin_state\"\n"),
    )
    .unwrap();
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let all = ips(&["127.0.20.11", "192.0.2.2", "192.0.2.3"]);
    assert_eq!(r.addr_set(WWW, RecordType::A).await, all);

    // Down by member name: gone from the very next answer.
    let (code, v) = post(&srv, "web-b", "down").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["endpoint"], "lb.test/web/web-b");
    assert_eq!(
        (&v["previous"], &v["state"], &v["persisted"]),
        (&"auto".into(), &"down".into(), &true.into())
    );
    assert_eq!(
        r.addr_set(WWW, RecordType::A).await,
        ips(&["127.0.20.11", "192.0.2.3"])
    );
    assert!(srv.wait_for_log(
        "operator override: lb.test/web/web-b auto -> down",
        Duration::from_secs(5)
    ));
    assert_eq!(
        srv.log_count("operator override: lb.test/web/web-b auto -> down"),
        1
    );
    // Setting it again changes nothing and logs nothing.
    let (_, v) = post(&srv, "lb.test/web/web-b", "down").await;
    assert_eq!(v["changed"], false);
    assert_eq!(srv.log_count("operator override:"), 1);

    // Drain by address: answered only when nothing else is.
    assert_eq!(post(&srv, "192.0.2.3", "drain").await.0, 200);
    assert_eq!(r.addr_set(WWW, RecordType::A).await, ips(&["127.0.20.11"]));
    // Forced up beats a failing check.
    assert_eq!(post(&srv, "127.0.20.11", "up").await.0, 200);
    web.close();
    wait_for("probed down", Duration::from_secs(5), async || {
        endpoint(&status(&srv).await, WWW, "127.0.20.11")["health"] == "down"
    })
    .await;
    let doc = status(&srv).await;
    let a = endpoint(&doc, WWW, "127.0.20.11");
    assert_eq!(
        (&a["health"], &a["forced"], &a["availability"]),
        (&"down".into(), &"up".into(), &"available".into())
    );
    assert_eq!(r.addr_set(WWW, RecordType::A).await, ips(&["127.0.20.11"]));
    assert_eq!(doc["overrides"].as_array().unwrap().len(), 3);

    // Errors: unknown, ambiguous, bad state, not JSON, cross-origin.
    let (code, v) = post(&srv, "web-zz", "down").await;
    assert_eq!(code, 404, "{v}");
    let (code, v) = post(&srv, "192.0.2.2", "sideways").await;
    assert_eq!(code, 400, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("expected one of up, down, drain, auto")
    );
    let url = format!("{}/overrides", srv.admin_url());
    let body = r#"{"endpoint":"192.0.2.2","state":"down"}"#;
    let form = http()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 415);
    let cross = http()
        .post(&url)
        .header("content-type", "application/json")
        .header("origin", "http://attacker.example")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status().as_u16(), 403);
    let rebound = http()
        .get(format!("{}/status", srv.admin_url()))
        .header("host", "attacker.example:8053")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status().as_u16(), 403);

    // The state file holds all three.
    let text = std::fs::read_to_string(&state).unwrap();
    for want in [
        "endpoint = \"lb.test/web/web-b\"\nstate = \"down\"",
        "endpoint = \"192.0.2.3\"\nstate = \"drain\"",
        "endpoint = \"127.0.20.11\"\nstate = \"up\"",
    ] {
        assert!(text.contains(want), "{want:?} in\n{text}");
    }

    // SIGHUP: the new health table gets the overrides before it serves.
    web.open();
    assert!(srv.reload());
    assert_eq!(r.addr_set(WWW, RecordType::A).await, ips(&["127.0.20.11"]));
    assert_eq!(status(&srv).await["overrides"].as_array().unwrap().len(), 3);
    let (_, m) = get(&srv, "/metrics").await;
    assert_eq!(metric(&m, "dnslb_reloads_total"), Some(2.0));

    // Restart: the state file brings them back before the first answer.
    drop(srv);
    let srv = setup.serve();
    assert!(srv.wait_for_log(
        "operator overrides in force from the admin state file",
        Duration::from_secs(1)
    ));
    let r = Resolver::new(srv.addr).await;
    assert_eq!(r.addr_set(WWW, RecordType::A).await, ips(&["127.0.20.11"]));
    for (e, s) in [("web-b", "auto"), ("192.0.2.3", "auto")] {
        assert_eq!(post(&srv, e, s).await.0, 200);
    }
    assert_eq!(r.addr_set(WWW, RecordType::A).await, all);
    // The server's stderr is read on a thread of its own: a line may
    // arrive a moment after the reply that follows it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while srv.log_count("operator override:") < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(srv.log_count("operator override:"), 2);
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(
        !text.contains("192.0.2.3") && text.contains("127.0.20.11"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_names_list_their_candidates() {
    let policy = [
        pool("a", &[("192.0.2.1", "name = \"edge\"")]),
        pool("b", &[("192.0.2.2", "name = \"edge\"")]),
        lb_name("www", "weighted", "a", ""),
        lb_name("api", "weighted", "b", ""),
    ]
    .concat();
    let setup = lb_setup("admin-ambiguous", &policy);
    let srv = setup.serve();
    let (code, v) = post(&srv, "edge", "drain").await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(
        v["candidates"],
        serde_json::json!(["lb.test/a/edge", "lb.test/b/edge"])
    );
    assert_eq!(post(&srv, "b/edge", "drain").await.0, 200);
    assert_eq!(post(&srv, "192.0.2.9", "drain").await.0, 404);
}

/// What stops `serve` at start-up stops `check` too, so an operator who
/// checks before a restart is not surprised by the restart: the admin
/// listener without a token, a probe source that is not this host's, an
/// admin state file that does not parse or whose directory is missing.
/// And `serve` proves the state file can be written before it answers, so
/// a wrong path fails there, not at the first drain (HTTP 500).
#[test]
fn check_refuses_what_start_up_refuses() {
    let policy = [
        pool("p", &[("192.0.2.1", "")]),
        lb_name("www", "weighted", "p", ""),
    ]
    .concat();
    let setup = lb_setup("admin-check-startup", &policy);
    let base = std::fs::read_to_string(setup.config()).unwrap();
    let check_with = |extra: &str| -> CmdOutput {
        std::fs::write(setup.config(), format!("{base}{extra}")).unwrap();
        setup.check()
    };
    let line = base.lines().count() + 1;
    let file = setup.config().display().to_string();

    let out = check_with("admin_listen = \"0.0.0.0:0\"\n");
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "admin_listen 0.0.0.0:0 is not a loopback address, and no admin token is set"
        ),
        "{}",
        out.stderr
    );

    let out = check_with("probe_source_ipv4 = \"192.0.2.1\"\n");
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{file}:{line}:21: probe_source_ipv4: 192.0.2.1 is not an address of this host"
        )),
        "{}",
        out.stderr
    );

    std::fs::write(
        setup.config().with_file_name("st"),
        "[[override]]\nendpoint = \"192.0.2.1\"\nstate = \"of\"\n",
    )
    .unwrap();
    let out = check_with("admin_state_file = \"st\"\n");
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "st:3:9: override[0].state: expected one of up, down, drain, auto; got \"of\""
        ),
        "{}",
        out.stderr
    );

    let out = check_with("admin_state_file = \"missing/st\"\n");
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    let want = format!(
        "{file}:{line}:20: admin_state_file: the directory {} does not exist",
        setup.config().with_file_name("missing").display()
    );
    assert!(out.stderr.contains(&want), "{want}\n{}", out.stderr);
    let (st, err) = setup.serve_expecting_failure();
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(err.contains(&want), "{want}\n{err}");

    let out = check_with("admin_state_file = \"st2\"\n");
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "ok");
}

/// `dnslb explain www` (a relative name, as PowerDNS and BIND tools
/// complete with a zone) is read as `www.`: the reply is REFUSED, and the
/// text says the name is in no zone and which zones there are.
#[test]
fn explain_says_when_a_name_is_in_no_zone() {
    let policy = [
        pool("p", &[("192.0.2.1", "")]),
        lb_name("www", "weighted", "p", ""),
    ]
    .concat();
    let setup = lb_setup("explain-no-zone", &policy);
    let cfg = setup.config().display().to_string();
    let out = run(&[
        "explain".into(),
        "www".into(),
        "--client".into(),
        "192.0.2.7".into(),
        "--config".into(),
        cfg.clone(),
    ]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains("Refused"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains(";; www. is in no zone dnslb serves (names are read as absolute: give the full name, as in www.lb.test.); zones: lb.test."),
        "{}",
        out.stdout
    );
    let out = run(&[
        "explain".into(),
        "www.lb.test".into(),
        "--client".into(),
        "192.0.2.7".into(),
        "--config".into(),
        cfg,
    ]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(!out.stdout.contains("in no zone"), "{}", out.stdout);
}

/// `dnslb reload` (as `gdnsdctl reload-zones`, `knotc reload`): asks for
/// a reload, waits for it, prints its outcome and errors, and exits 1
/// unless everything loaded.
#[test]
fn reload_command_waits_and_reports_the_outcome() {
    let policy = [
        pool("p", &[("192.0.2.1", "")]),
        lb_name("www", "weighted", "p", ""),
    ]
    .concat();
    let setup = lb_setup("admin-reload-cmd", &policy);
    // Only the command reloads: no file-change reload races it.
    let cfg = std::fs::read_to_string(setup.config()).unwrap();
    std::fs::write(setup.config(), format!("{cfg}reload_on_change = false\n")).unwrap();
    let srv = setup.serve();
    let reload = || run(&["reload".into(), "--admin".into(), srv.admin_url()]);
    let out = reload();
    assert_eq!(out.status.code(), Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("reload ok"), "{}", out.stdout);
    setup.write_policy(
        "lb.test",
        &[
            pool("p", &[("192.0.2.1", "")]),
            lb_name("www", "weighted", "p", "ttl = 0"),
        ]
        .concat(),
    );
    let out = reload();
    assert_eq!(out.status.code(), Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("reload partial"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("names.www.ttl: must be between 1 and 86400, got 0"),
        "{}",
        out.stdout
    );
    // Nobody listening: a clear error, exit 1.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(&[
        "reload".into(),
        "--admin".into(),
        format!("http://127.0.0.1:{port}"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("cannot reach the dnslb admin API"),
        "{}",
        out.stderr
    );
}

#[test]
fn non_loopback_listener_needs_a_token() {
    let policy = [
        pool("p", &[("192.0.2.1", "")]),
        lb_name("www", "weighted", "p", ""),
    ]
    .concat();
    let setup = lb_setup("admin-token-required", &policy);
    let (st, err) = setup.serve_expecting_failure_with(&["--admin-listen", "0.0.0.0:0"]);
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains("admin_listen 0.0.0.0:0 is not a loopback address, and no admin token is set"),
        "{err}"
    );
    // An admin address that is taken stops start-up when it was asked for.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = taken.local_addr().unwrap().to_string();
    let (st, err) = setup.serve_expecting_failure_with(&["--admin-listen", &at]);
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("binding the admin API on {at}")),
        "{err}"
    );
    // A bad state file refuses start-up too, naming file and line.
    let cfg = std::fs::read_to_string(setup.config()).unwrap();
    std::fs::write(setup.config(), format!("{cfg}admin_state_file = \"st\"\n")).unwrap();
    std::fs::write(
        setup.config().with_file_name("st"),
        "[[override]]\nendpoint = \"192.0.2.1\"\nstate = \"of\"\n",
    )
    .unwrap();
    let (st, err) = setup.serve_expecting_failure();
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "st:3:9: override[0].state: expected one of up, down, drain, auto; got \"of\""
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_guards_everything_but_liveness() {
    let policy = [
        pool("p", &[("192.0.2.1", "name = \"one\"")]),
        lb_name("www", "weighted", "p", ""),
    ]
    .concat();
    let setup = lb_setup("admin-token", &policy);
    let tokfile = setup.config().with_file_name("token");
    std::fs::write(&tokfile, format!("{TOKEN}\n")).unwrap();
    let cfg = std::fs::read_to_string(setup.config()).unwrap();
    std::fs::write(
        setup.config(),
        format!("{cfg}admin_token_file = \"token\"\n"),
    )
    .unwrap();
    // Any address: a token makes a wildcard listener acceptable.
    let srv = setup.serve_with(&["--admin-listen", "0.0.0.0:0"]);
    let port = srv.admin.unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    for path in ["/healthz", "/readyz", "/", "/page.js", "/page.css"] {
        let r = http().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    for path in ["/status", "/metrics", "/overrides"] {
        let r = http().get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"dnslb\"");
        let r = http()
            .get(format!("{base}{path}"))
            .bearer_auth("wrong-token-0123456789")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{path}");
        let r = http()
            .get(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    let body = r#"{"endpoint":"one","state":"drain"}"#;
    let r = http()
        .post(format!("{base}/overrides"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // The CLI: without the token refused, with --token-file or -c it works.
    let admin = ["--admin".to_string(), base.clone()];
    let out = cli(&[&["status".into()], &admin[..]].concat());
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    let out = cli(&[
        &[
            "drain".into(),
            "one".into(),
            "--token-file".into(),
            tokfile.display().to_string(),
        ],
        &admin[..],
    ]
    .concat());
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        "lb.test/p/one: auto -> drain (1 pool member(s)); not persisted: admin_state_file is not set"
    );
    let out = cli(&[
        "status".into(),
        "--admin".into(),
        base.clone(),
        "-c".into(),
        setup.config().display().to_string(),
    ]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.contains("lb.test/p/one") && out.stdout.contains("drain"),
        "{}",
        out.stdout
    );
}

/// `DNSLB_ADMIN_TOKEN` beats the config's token; a bad one refuses start-up.
#[tokio::test(flavor = "multi_thread")]
async fn the_token_from_the_environment_wins() {
    const ENV: &str = "env-token-0123456789abcdef";
    let setup = crate::harness::Setup::new(
        "admin-env-token",
        &[(
            "lb.test",
            "$TTL 60\n@ IN SOA ns h 1 7200 3600 1209600 60\n  IN NS ns\nns IN A 192.0.2.1\n",
        )],
        &format!("admin_token = \"{TOKEN}\""),
    );
    let srv = setup.serve_env(&[], &[("DNSLB_ADMIN_TOKEN", Some(ENV))]);
    let with = async |token: Option<&str>| {
        let mut req = http().get(format!("{}/status", srv.admin_url()));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().status().as_u16()
    };
    assert_eq!(with(Some(ENV)).await, 200);
    assert_eq!(
        with(Some(TOKEN)).await,
        401,
        "the config's token is overridden"
    );
    assert_eq!(with(None).await, 401);
    // The CLI takes it from the environment too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dnslb"))
        .args(["status", "--admin", &srv.admin_url()])
        .env("DNSLB_ADMIN_TOKEN", ENV)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (st, err) = setup.serve_expecting_failure_env(&[], &[("DNSLB_ADMIN_TOKEN", "short")]);
    assert!(!st.success());
    assert!(
        err.contains("DNSLB_ADMIN_TOKEN: the token must be at least 16 characters"),
        "{err}"
    );
}

fn cli(args: &[String]) -> CmdOutput {
    run(args)
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_commands() {
    let policy = [
        pool("p", &[("192.0.2.1", "name = \"one\""), ("192.0.2.2", "")]),
        lb_name("www", "multivalue", "p", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("admin-cli", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let admin = ["--admin".to_string(), srv.admin_url()];
    let with = |args: &[&str]| -> CmdOutput {
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.extend(admin.iter().cloned());
        cli(&a)
    };
    let out = with(&["drain", "one"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout.starts_with("lb.test/p/one: auto -> drain"),
        "{}",
        out.stdout
    );
    assert_eq!(r.addr_set(WWW, RecordType::A).await, ips(&["192.0.2.2"]));
    let out = with(&["force", "192.0.2.2", "down"]);
    assert!(
        out.stdout.starts_with("192.0.2.2: auto -> down"),
        "{}",
        out.stdout
    );
    // Only the drained member is left: it answers.
    assert_eq!(r.addr_set(WWW, RecordType::A).await, ips(&["192.0.2.1"]));
    let out = with(&["status"]);
    assert!(out.status.success(), "{}", out.stderr);
    for want in [
        "www.lb.test.  policy multivalue",
        "lb.test/p/one",
        "192.0.2.2",
        "forced down",
        "draining",
    ] {
        assert!(out.stdout.contains(want), "{want:?} in\n{}", out.stdout);
    }
    let out = with(&["status", "--json"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["overrides"].as_array().unwrap().len(), 2);
    // explain --live sees the server's overrides; from the files it cannot.
    let q = ["explain", WWW, "A", "--client", "192.0.2.77"];
    let live = with(&[&q[..], &["--live"]].concat());
    assert!(live.status.success(), "{}", live.stderr);
    for want in [";; live", "forced down", "forced drain", "192.0.2.1"] {
        assert!(live.stdout.contains(want), "{want:?} in\n{}", live.stdout);
    }
    let mut offline: Vec<String> = q.iter().map(|s| s.to_string()).collect();
    offline.extend(["--config".into(), setup.config().display().to_string()]);
    let offline = cli(&offline);
    assert!(offline.status.success(), "{}", offline.stderr);
    assert!(!offline.stdout.contains("forced"), "{}", offline.stdout);
    let bad = with(&[
        "explain",
        "www.lb.test.",
        "BOGUS",
        "--client",
        "192.0.2.77",
        "--live",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stderr.contains("bad query type"), "{}", bad.stderr);
    let out = with(&["undrain", "one"]);
    assert!(
        out.stdout.starts_with("lb.test/p/one: drain -> auto"),
        "{}",
        out.stdout
    );
    let out = with(&["force", "192.0.2.2", "auto"]);
    assert!(out.status.success());
    assert_eq!(
        r.addr_set(WWW, RecordType::A).await,
        ips(&["192.0.2.1", "192.0.2.2"])
    );
    let out = with(&["drain", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("404") && out.stderr.contains("no pool member is named"),
        "{}",
        out.stderr
    );
    // Nobody listening: a clear error, exit 1.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = cli(&[
        "status".into(),
        "--admin".into(),
        format!("127.0.0.1:{port}"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("cannot reach the dnslb admin API"),
        "{}",
        out.stderr
    );
}

/// The page in Debian's headless chromium, which enforces the page's
/// Content-Security-Policy (no inline script or style): the served script
/// runs, fetches `/status` and draws an endpoint that went down as down, a
/// recovered endpoint's last error muted, a geo name's pools by their
/// rules, a zone's error text and the settings waiting for a restart.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs chromium"]
async fn status_page_in_a_real_browser() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chromium is not installed (apt-get install chromium); .ci/run installs it");
    let web = Endpoint::start("127.0.20.21", 0, Behaviour::Reply(200, "ok"));
    let flap = Endpoint::start("127.0.20.22", 0, Behaviour::Reply(200, "ok"));
    let policy = [
        policy(&web).replace("127.0.20.1\"", "127.0.20.21\""),
        check(flap.port()).replace("checks.web", "checks.flap"),
        pool(
            "flap",
            &[("127.0.20.22", "check = \"flap\", name = \"flap-a\"")],
        ),
        "[geo]\nnets = [{ net = \"10.20.0.0/16\", region = \"office\" }]\n".into(),
        "[names.near]\npolicy = \"geo\"\n[names.near.geo]\n\
         regions = { office = [\"flap\", \"web\"] }\ndefault = [\"web\"]\n"
            .into(),
    ]
    .concat();
    let setup = lb_setup("admin-browser", &policy);
    let srv = setup.serve();
    assert_eq!(post(&srv, "web-b", "drain").await.0, 200);
    web.close();
    flap.close();
    wait_for("down in /status", Duration::from_secs(5), async || {
        let doc = status(&srv).await;
        endpoint(&doc, WWW, "127.0.20.21")["health"] == "down"
            && endpoint(&doc, "near.lb.test.", "127.0.20.22")["health"] == "down"
    })
    .await;
    flap.open();
    wait_for("flap up again", Duration::from_secs(5), async || {
        let doc = status(&srv).await;
        let e = endpoint(&doc, "near.lb.test.", "127.0.20.22");
        e["health"] == "up" && e["consecutive_failures"] == 0 && e["last_error"].is_string()
    })
    .await;
    // A policy-file error keeps the previous version; a restart-only key.
    let cfg = std::fs::read_to_string(setup.config()).unwrap();
    std::fs::write(setup.config(), format!("{cfg}tcp_max_connections = 7\n")).unwrap();
    setup.write_policy(
        "lb.test",
        &format!(
            "{policy}{}",
            lb_name("broken", "weighted", "web", "ttl = 0")
        ),
    );
    srv.signal("HUP");
    wait_for(
        "previous version kept",
        Duration::from_secs(10),
        async || {
            let doc = status(&srv).await;
            doc["zones"][0]["state"] == "previous"
                && !doc["reloads"]["last"]["restart_needed"]
                    .as_array()
                    .unwrap()
                    .is_empty()
        },
    )
    .await;
    let profile = crate::harness::TempDir::new("chromium-profile");
    let url = format!("{}/", srv.admin_url());
    let out = tokio::task::spawn_blocking({
        let profile = profile.path().to_path_buf();
        move || {
            std::process::Command::new(chromium)
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    "--virtual-time-budget=10000",
                    "--timeout=30000",
                ])
                .arg(format!("--user-data-dir={}", profile.display()))
                .arg("--dump-dom")
                .arg(&url)
                .output()
                .expect("run chromium")
        }
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-loaded=\"1\""),
        "the page script did not render /status; stderr:\n{}\nDOM:\n{dom}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = |addr: &str| -> String {
        let at = dom
            .find(&format!("<tr data-address=\"{addr}\""))
            .unwrap_or_else(|| panic!("no row for {addr} in\n{dom}"));
        dom[at..at + dom[at..].find("</tr>").unwrap()].to_string()
    };
    let down = row("127.0.20.21");
    assert!(
        down.contains("data-health=\"down\"") && down.contains("data-availability=\"down\""),
        "{down}"
    );
    assert!(
        down.contains(">down</span>") && down.contains("connection refused"),
        "{down}"
    );
    let drained = row("192.0.2.2");
    assert!(
        drained.contains("data-forced=\"drain\"") && drained.contains("forced drain"),
        "{drained}"
    );
    assert!(drained.contains(">restore</button>"), "{drained}");
    let up = row("192.0.2.3");
    assert!(
        up.contains("data-availability=\"available\"") && up.contains(">drain</button>"),
        "{up}"
    );
    // Recovered: its last error is there, muted.
    let recovered = row("127.0.20.22");
    assert!(
        recovered.contains("data-health=\"up\"")
            && recovered.contains("class=\"stale\" data-stale=\"1\">resolved: connection refused"),
        "{recovered}"
    );
    // Geo pools by the rules that list them.
    for label in [
        ">pool flap (geo: region office)</div>",
        ">pool web (geo: region office (2nd), default)</div>",
    ] {
        assert!(dom.contains(label), "{label} in\n{dom}");
    }
    // Names with one trailing dot.
    assert!(dom.contains("<h2>near.lb.test.</h2>"), "{dom}");
    assert!(!dom.contains(".."), "doubled dots in\n{dom}");
    // The zone's error text and the setting waiting for a restart.
    let section = |marker: &str| -> String {
        let at = dom
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker} in\n{dom}"));
        dom[at..at + dom[at..].find("</div>").unwrap()].to_string()
    };
    let zone = section("data-zone=\"lb.test.\"");
    assert!(
        zone.contains("the previous version is served")
            && zone.contains("names.broken.ttl: must be between 1 and 86400, got 0"),
        "{zone}"
    );
    let restart = section("id=\"restart-needed\"");
    assert!(
        restart.contains("tcp_max_connections: changed to 7; takes effect after a restart"),
        "{restart}"
    );
}

/// An override by member name applies to that member only, even when
/// other pools have a member with the same address (and so the same
/// health cell); an address override applies to every member with the
/// address but never brings back a member its file says is `down`
/// (break-ops `override_spread.sh`).
#[tokio::test(flavor = "multi_thread")]
async fn member_overrides_stay_on_their_member() {
    let policy = [
        pool(
            "m1",
            &[
                ("192.0.2.5", "name = \"m1a\""),
                ("192.0.2.51", "name = \"m1b\""),
            ],
        ),
        pool(
            "m2",
            &[
                ("192.0.2.5", "name = \"m2a\", state = \"drain\""),
                ("192.0.2.51", "name = \"m2b\""),
            ],
        ),
        pool(
            "m3",
            &[
                ("192.0.2.5", "name = \"m3a\", state = \"down\""),
                ("192.0.2.51", "name = \"m3b\", state = \"up\""),
            ],
        ),
        lb_name("m1", "multivalue", "m1", "answers = \"all\""),
        lb_name("m2", "multivalue", "m2", "answers = \"all\""),
        lb_name("m3", "multivalue", "m3", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("admin-member-overrides", &policy);
    let srv = setup.serve();
    let r = Resolver::new(srv.addr).await;
    let state = |doc: &Value, name: &str, addr: &str| -> (String, String) {
        let e = endpoint(doc, name, addr);
        (
            e["state"].as_str().unwrap().to_string(),
            e["availability"].as_str().unwrap().to_string(),
        )
    };
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());

    // Drain m1a by name: only m1a.
    let (code, v) = post(&srv, "m1a", "drain").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["matches"], 1, "{v}");
    let doc = status(&srv).await;
    assert_eq!(
        state(&doc, "m1.lb.test.", "192.0.2.5"),
        s("drain", "draining")
    );
    assert_eq!(
        state(&doc, "m2.lb.test.", "192.0.2.5"),
        s("drain", "draining")
    );
    assert!(endpoint(&doc, "m2.lb.test.", "192.0.2.5")["forced"].is_null());
    assert_eq!(state(&doc, "m3.lb.test.", "192.0.2.5"), s("down", "down"));
    assert!(endpoint(&doc, "m3.lb.test.", "192.0.2.5")["forced"].is_null());
    assert_eq!(
        r.addr_set("m1.lb.test.", RecordType::A).await,
        ips(&["192.0.2.51"])
    );
    assert_eq!(
        r.addr_set("m3.lb.test.", RecordType::A).await,
        ips(&["192.0.2.51"])
    );

    // Force m3b down by name: m1b and m2b keep answering.
    assert_eq!(post(&srv, "m3b", "down").await.0, 200);
    assert_eq!(
        r.addr_set("m1.lb.test.", RecordType::A).await,
        ips(&["192.0.2.51"])
    );
    assert_eq!(
        r.addr_set("m2.lb.test.", RecordType::A).await,
        ips(&["192.0.2.51"])
    );
    // m3: m3a is down in its file, m3b forced down: nothing, never m3a.
    assert_eq!(r.addr_set("m3.lb.test.", RecordType::A).await, ips(&[]));

    // By address: every member with it, except the one its file keeps down.
    let (code, v) = post(&srv, "192.0.2.5", "up").await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["matches"], 1,
        "m1a has its own override, m3a is down in its file: {v}"
    );
    let doc = status(&srv).await;
    assert_eq!(
        state(&doc, "m1.lb.test.", "192.0.2.5"),
        s("drain", "draining")
    );
    assert_eq!(
        state(&doc, "m2.lb.test.", "192.0.2.5"),
        s("up", "available")
    );
    assert_eq!(endpoint(&doc, "m2.lb.test.", "192.0.2.5")["forced"], "up");
    assert_eq!(state(&doc, "m3.lb.test.", "192.0.2.5"), s("down", "down"));
    assert_eq!(r.addr_set("m3.lb.test.", RecordType::A).await, ips(&[]));
    let ov = doc["overrides"].as_array().unwrap();
    let matches = |e: &str| ov.iter().find(|o| o["endpoint"] == e).unwrap()["matches"].clone();
    assert_eq!(matches("192.0.2.5"), 1);
    assert_eq!(matches("lb.test/m1/m1a"), 1);
    // Clearing m1a's own override hands it to the address override.
    assert_eq!(post(&srv, "m1a", "auto").await.0, 200);
    let doc = status(&srv).await;
    assert_eq!(
        state(&doc, "m1.lb.test.", "192.0.2.5"),
        s("up", "available")
    );
    // A member override on the file-down member itself does apply.
    assert_eq!(post(&srv, "m3a", "up").await.0, 200);
    assert_eq!(
        r.addr_set("m3.lb.test.", RecordType::A).await,
        ips(&["192.0.2.5"])
    );
}

/// Slowloris (break-ops `admin_slowloris.sh`): connections that send a
/// request head one byte at a time, as many as the server admits, do not
/// lock anyone out of `/healthz`, `/readyz` or `/metrics`, and each is
/// closed once its head has taken longer than the head deadline.
#[tokio::test(flavor = "multi_thread")]
async fn trickling_connections_do_not_lock_out_the_api() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let policy = [
        pool("p", &[("192.0.2.1", "")]),
        lb_name("www", "weighted", "p", ""),
    ]
    .concat();
    let setup = lb_setup("admin-slowloris", &policy);
    let srv = setup.serve();
    let admin = srv.admin.unwrap();
    let mut held = Vec::new();
    for _ in 0..80 {
        let mut c = tokio::net::TcpStream::connect(admin).await.unwrap();
        c.write_all(b"GET /status HTTP/1.1\r\n").await.unwrap();
        held.push(c);
    }
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    for path in ["/healthz", "/readyz", "/metrics"] {
        let t0 = Instant::now();
        let r = quick
            .get(format!("{}{path}", srv.admin_url()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path} with 80 trickling connections open: {e}"));
        assert_eq!(r.status().as_u16(), 200, "{path}");
        assert!(t0.elapsed() < Duration::from_secs(3), "{path}");
    }
    // Keep trickling: the whole head must arrive within the deadline (5 s),
    // however steadily its bytes come; the server then closes.
    let t0 = Instant::now();
    let mut open = held.len();
    while open > 0 && t0.elapsed() < Duration::from_secs(9) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        open = 0;
        for c in &mut held {
            if c.write_all(b"X").await.is_ok() {
                let mut b = [0u8; 512];
                match tokio::time::timeout(Duration::from_millis(1), c.read(&mut b)).await {
                    Ok(Ok(0) | Err(_)) => {}
                    _ => open += 1,
                }
            }
        }
    }
    assert_eq!(
        open,
        0,
        "trickling connections still open after {:?}",
        t0.elapsed()
    );
    assert!(
        t0.elapsed() > Duration::from_secs(4),
        "closed before the head deadline"
    );
}

/// Every error is JSON with a message: a method a route does not take is
/// 405 with `Allow` (not 415: the method is checked before the body), an
/// oversized body is 413, an unknown route 404; echoed input is cut short;
/// and the `Bearer` scheme is case-insensitive (RFC 9110 §11.1).
#[tokio::test(flavor = "multi_thread")]
async fn errors_are_json_and_methods_are_checked_first() {
    let policy = [
        pool("p", &[("192.0.2.1", "name = \"one\"")]),
        lb_name("www", "weighted", "p", ""),
    ]
    .concat();
    let setup = lb_setup("admin-errors", &policy);
    let cfg = std::fs::read_to_string(setup.config()).unwrap();
    std::fs::write(setup.config(), format!("{cfg}admin_token = \"{TOKEN}\"\n")).unwrap();
    let srv = setup.serve();
    let url = |p: &str| format!("{}{p}", srv.admin_url());
    let json_error = async |r: reqwest::Response| -> (u16, reqwest::header::HeaderMap, String) {
        let code = r.status().as_u16();
        let headers = r.headers().clone();
        let ct = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = r.text().await.unwrap();
        assert!(ct.starts_with("application/json"), "{code} {ct}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        let msg = v["error"].as_str().unwrap_or_else(|| panic!("{body}"));
        assert!(!msg.is_empty());
        (code, headers, msg.to_string())
    };
    let c = http();
    for (method, path, allow) in [
        ("DELETE", "/overrides", "GET,HEAD,POST"),
        ("OPTIONS", "/overrides", "GET,HEAD,POST"),
        ("PUT", "/reload", "POST"),
        ("POST", "/status", "GET,HEAD"),
    ] {
        let r = c
            .request(method.parse().unwrap(), url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let (code, headers, msg) = json_error(r).await;
        assert_eq!(code, 405, "{method} {path}: {msg}");
        assert_eq!(headers["allow"].to_str().unwrap().replace(' ', ""), allow);
        assert!(msg.contains(method) && msg.contains(path), "{msg}");
    }
    let (code, _, _) = json_error(
        c.get(url("/no/such"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 404);
    // Too big a body (the limit is 64 KiB): 413, JSON. Just over the
    // limit, so the client has written it all before the server answers
    // and closes (a body of megabytes races that close: a reset on write).
    let big = format!(
        r#"{{"endpoint": "{}", "state": "drain"}}"#,
        "a".repeat(70 * 1024)
    );
    let r = c
        .post(url("/overrides"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    let (code, _, msg) = json_error(r).await;
    assert_eq!(code, 413, "{msg}");
    // A long endpoint is not echoed whole.
    let long = format!(
        r#"{{"endpoint": "{}", "state": "drain"}}"#,
        "b".repeat(30_000)
    );
    let r = c
        .post(url("/overrides"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(long)
        .send()
        .await
        .unwrap();
    let (code, _, msg) = json_error(r).await;
    assert_eq!(code, 404);
    assert!(
        msg.len() < 300 && msg.contains("bbbb"),
        "{} bytes: {}",
        msg.len(),
        &msg[..200]
    );
    let r = c
        .post(url("/overrides"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"endpoint": "one", "state": "{}"}}"#,
            "c".repeat(30_000)
        ))
        .send()
        .await
        .unwrap();
    let (code, _, msg) = json_error(r).await;
    assert_eq!(code, 400);
    assert!(msg.len() < 300, "{} bytes", msg.len());
    // A long name to explain is quoted cut short too.
    let r = c
        .get(url(&format!(
            "/explain?name={}&client=192.0.2.1",
            "d".repeat(5000)
        )))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let (code, _, msg) = json_error(r).await;
    assert_eq!(code, 400);
    assert!(
        msg.len() < 300 && msg.contains("dddd"),
        "{} bytes: {msg:.300}",
        msg.len()
    );
    // 401 and 403 are JSON too; the scheme is case-insensitive.
    let (code, _, _) = json_error(c.get(url("/status")).send().await.unwrap()).await;
    assert_eq!(code, 401);
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = c
            .get(url("/status"))
            .header("authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{scheme}");
    }
    // POST /reload: no type and no body is fine (curl -X POST); a form is not.
    let r = c
        .post(url("/reload"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    for form in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
    ] {
        let r = c
            .post(url("/reload"))
            .bearer_auth(TOKEN)
            .header("content-type", form)
            .body("a=b")
            .send()
            .await
            .unwrap();
        let (code, _, msg) = json_error(r).await;
        assert_eq!(code, 415, "{form}: {msg}");
    }
    let r = c
        .post(url("/reload"))
        .bearer_auth(TOKEN)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(json_error(r).await.0, 403);
}

/// `dnslb_endpoint_forced{zone, pool, member, address}` → its `state` label,
/// every row of a `/metrics` text.
fn forced_rows(text: &str) -> std::collections::BTreeMap<(String, String, String, String), String> {
    let mut rows = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("dnslb_endpoint_forced{") else {
            continue;
        };
        let (labels, value) = rest.rsplit_once("} ").unwrap();
        assert_eq!(value.parse::<f64>().ok(), Some(1.0), "{line}");
        // Label values here hold no quotes or backslashes.
        let mut map = std::collections::HashMap::new();
        for pair in labels.split("\",") {
            let (k, v) = pair.split_once("=\"").unwrap();
            map.insert(k.to_string(), v.trim_end_matches('"').to_string());
        }
        let key = (
            map["zone"].clone(),
            map["pool"].clone(),
            map["member"].clone(),
            map["address"].clone(),
        );
        assert!(rows.insert(key, map["state"].clone()).is_none(), "{line}");
    }
    rows
}

/// The same shape from `/status`: each pool member once (members of a pool
/// two names use appear under both, with the same `forced`).
fn forced_docs(
    doc: &Value,
) -> std::collections::BTreeMap<(String, String, String, String), String> {
    let mut rows = std::collections::BTreeMap::new();
    for n in doc["names"].as_array().unwrap() {
        let zone = n["zone"].as_str().unwrap().to_string();
        for p in n["pools"].as_array().unwrap() {
            for e in p["endpoints"].as_array().unwrap() {
                let key = (
                    zone.clone(),
                    p["pool"].as_str().unwrap().to_string(),
                    e["name"].as_str().unwrap_or("").to_string(),
                    e["address"].as_str().unwrap().to_string(),
                );
                let state = e["forced"].as_str().unwrap_or("auto").to_string();
                if let Some(old) = rows.insert(key.clone(), state.clone()) {
                    assert_eq!(old, state, "{key:?} twice in /status");
                }
            }
        }
    }
    rows
}

/// break-ops `override_spread.sh`, metrics side: `dnslb_endpoint_forced`
/// says for every pool member what `/status` says (`forced`), whichever
/// form the override takes (MEMBER, POOL/MEMBER, ZONE/POOL/MEMBER, an
/// address shared by pools, an address of an unnamed member, one on a
/// member its file keeps down), after `auto`, a reload and a restart.
#[tokio::test(flavor = "multi_thread")]
async fn forced_metric_agrees_with_status() {
    let policy = [
        pool(
            "m1",
            &[
                ("192.0.2.5", "name = \"m1a\""),
                ("192.0.2.51", "name = \"m1b\""),
                ("192.0.2.52", ""),
            ],
        ),
        pool(
            "m2",
            &[
                ("192.0.2.5", "name = \"m2a\", state = \"drain\""),
                ("192.0.2.51", "name = \"m2b\""),
            ],
        ),
        pool(
            "m3",
            &[
                ("192.0.2.5", "name = \"m3a\", state = \"down\""),
                ("192.0.2.53", "name = \"m3b\""),
            ],
        ),
        lb_name("m1", "multivalue", "m1", "answers = \"all\""),
        lb_name("m1b", "weighted", "m1", ""),
        lb_name("m2", "multivalue", "m2", "answers = \"all\""),
        lb_name("m3", "multivalue", "m3", "answers = \"all\""),
    ]
    .concat();
    let setup = lb_setup("admin-forced-metric", &policy);
    let cfg = std::fs::read_to_string(setup.config()).unwrap();
    std::fs::write(setup.config(), format!("{cfg}admin_state_file = \"st\"\n")).unwrap();
    let agree = async |srv: &TestServer, step: &str| {
        let (code, text) = get(srv, "/metrics").await;
        assert_eq!(code, 200);
        let metric = forced_rows(&text);
        let doc = forced_docs(&status(srv).await);
        assert_eq!(metric.len(), 7, "{step}: {metric:#?}");
        assert_eq!(metric, doc, "{step}");
        metric
    };
    let key = |pool: &str, member: &str, addr: &str| {
        (
            "lb.test.".to_string(),
            pool.to_string(),
            member.to_string(),
            addr.to_string(),
        )
    };
    let srv = setup.serve();
    agree(&srv, "start").await;
    for (endpoint, state) in [
        ("m1a", "drain"),
        ("m2/m2b", "down"),
        ("lb.test/m3/m3b", "up"),
        ("192.0.2.5", "up"),
        ("192.0.2.52", "down"),
        ("192.0.2.51", "drain"),
    ] {
        let (code, v) = post(&srv, endpoint, state).await;
        assert_eq!(code, 200, "{endpoint}: {v}");
        agree(&srv, &format!("{endpoint} {state}")).await;
    }
    let m = agree(&srv, "all").await;
    assert_eq!(m[&key("m1", "m1a", "192.0.2.5")], "drain");
    assert_eq!(m[&key("m2", "m2a", "192.0.2.5")], "up");
    assert_eq!(m[&key("m3", "m3a", "192.0.2.5")], "auto", "file down");
    assert_eq!(m[&key("m1", "", "192.0.2.52")], "down");
    assert_eq!(m[&key("m2", "m2b", "192.0.2.51")], "down");
    assert_eq!(m[&key("m1", "m1b", "192.0.2.51")], "drain");
    assert_eq!(m[&key("m3", "m3b", "192.0.2.53")], "up");
    // Clearing one hands the member to its address override.
    assert_eq!(post(&srv, "m1a", "auto").await.0, 200);
    let m = agree(&srv, "m1a auto").await;
    assert_eq!(m[&key("m1", "m1a", "192.0.2.5")], "up");
    assert!(srv.reload());
    let before = agree(&srv, "reload").await;
    drop(srv);
    let srv = setup.serve();
    assert_eq!(agree(&srv, "restart").await, before);
}

/// Every admin key is in the shipped `dnslb.toml`, with its default said
/// in its comment block (and `admin_listen` set to it).
#[test]
fn admin_keys_are_documented_with_defaults() {
    let text = std::fs::read_to_string(crate::harness::repo_root().join("dnslb.toml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for key in [
        "admin_listen",
        "admin_token",
        "admin_token_file",
        "admin_state_file",
    ] {
        let at = lines
            .iter()
            .position(|l| l.trim_start_matches("# ").starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("{key} is not in dnslb.toml"));
        // The comment block above the key (up to a blank line).
        let block: Vec<&str> = lines[..at]
            .iter()
            .rev()
            .take_while(|l| l.starts_with('#'))
            .copied()
            .collect();
        let block = block.join(" ");
        assert!(block.contains("default"), "{key}: no default in {block:?}");
    }
    assert!(text.contains("\nadmin_listen = \"127.0.0.1:8053\"\n"));
    assert!(text.contains("Default \"127.0.0.1:8053\""));
}

/// A geo name's pools in `/status` (and so the page and `dnslb status`)
/// by the rules that list them, not as failover groups.
#[tokio::test(flavor = "multi_thread")]
async fn geo_pools_are_labelled_by_their_rules() {
    let policy = [
        pool("a", &[("192.0.2.1", "")]),
        pool("b", &[("192.0.2.2", "")]),
        pool("c", &[("192.0.2.3", "")]),
        "[geo]\nnets = [{ net = \"10.20.0.0/16\", region = \"office\" }, \
         { net = \"10.30.0.0/16\", region = \"lab\" }]\n"
            .into(),
        "[names.near]\npolicy = \"geo\"\n[names.near.geo]\n\
         regions = { office = [\"a\", \"b\"], lab = [\"b\", \"a\"] }\ndefault = [\"b\"]\n"
            .into(),
        "[names.www]\npolicy = \"failover\"\ngroups = [\"a\", \"c\"]\n".into(),
    ]
    .concat();
    let setup = lb_setup("admin-geo-roles", &policy);
    let srv = setup.serve();
    let doc = status(&srv).await;
    let roles = |name: &str| -> Vec<(String, String)> {
        let n = doc["names"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {doc:#}"));
        n["pools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["pool"].as_str().unwrap().to_string(),
                    p["role"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        roles("near.lb.test."),
        [
            s("a", "geo: region office, region lab (2nd)"),
            s("b", "geo: region office (2nd), region lab, default"),
        ]
    );
    assert_eq!(
        roles("www.lb.test."),
        [s("a", "group 1"), s("c", "group 2")]
    );
}

/// A dual-stack member checked over both families goes down when its
/// IPv6 probe fails while its IPv4 one passes: /status says why (the
/// failing probe's error, with its address), not "down" with no error,
/// and `explain --live` shows each address's probe state.
#[tokio::test]
async fn status_says_which_probe_of_a_dual_stack_member_fails() {
    let web = Endpoint::start("127.0.32.1", 0, Behaviour::Reply(200, "ok"));
    // Nothing listens on [::1]:PORT: that probe is refused.
    let policy = format!(
        "{}{}{}",
        check(web.port()),
        pool(
            "p",
            &[(
                "127.0.32.1",
                "address6 = \"::1\", check = \"web\", check_family = \"both\""
            )]
        ),
        lb_name("www", "weighted", "p", "on_all_down = \"empty\""),
    );
    let srv = lb_setup("status-both", &policy).serve();
    const WWW: &str = "www.lb.test.";
    wait_for("down in /status", Duration::from_secs(8), async || {
        endpoint(&status(&srv).await, WWW, "127.0.32.1")["health"] == "down"
    })
    .await;
    let doc = status(&srv).await;
    let e = endpoint(&doc, WWW, "127.0.32.1");
    assert_eq!(
        (e["address6"].as_str(), e["availability"].as_str()),
        (Some("::1"), Some("down"))
    );
    let err = e["last_error"]
        .as_str()
        .unwrap_or_else(|| panic!("no last_error: {e}"));
    assert!(err.contains("[::1]:") && err.contains("refused"), "{err}");
    let out = run(&[
        "explain".to_owned(),
        WWW.to_owned(),
        "A".to_owned(),
        "--client".to_owned(),
        "127.0.0.1".to_owned(),
        "--live".to_owned(),
        "--admin".to_owned(),
        srv.admin_url(),
    ]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(
        out.stdout
            .contains("health down (check web: 127.0.32.1 up, ::1 down)"),
        "{}",
        out.stdout
    );
}

/// /status gives each pool of a latency or closest name what it is ranked
/// by, not "pool" (which means a name's one pool).
#[tokio::test]
async fn status_shows_what_latency_and_closest_pools_are_ranked_by() {
    let policy = format!(
        "{}lat = 50.11\nlon = 8.68\nbias_ms = -2.5\nweight = 3\nbias = 20\n{}[names.fast]\npolicy = \"latency\"\ngroups = [\"eu\", \"lab\"]\n[names.near]\npolicy = \"closest\"\ngroups = [\"eu\", \"lab\"]\n",
        pool("eu", &[("127.0.33.1", "")]),
        pool("lab", &[("127.0.33.2", "")]),
    );
    let srv = lb_setup("status-latency", &policy).serve();
    let doc = status(&srv).await;
    let roles = |name: &str| -> Vec<String> {
        doc["names"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {doc:#}"))["pools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{}: {}",
                    p["pool"].as_str().unwrap(),
                    p["role"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        roles("fast.lb.test."),
        [
            "eu: latency: lat 50.11 lon 8.68, weight 3, bias_ms -2.5",
            "lab: latency: no lat/lon, weight 1, bias_ms 0"
        ]
    );
    assert_eq!(
        roles("near.lb.test."),
        [
            "eu: closest: lat 50.11 lon 8.68, bias 20",
            "lab: closest: no lat/lon, bias 0"
        ]
    );
}
