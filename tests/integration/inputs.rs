//! Input files an operator gets wrong: a FIFO or a device where a file is
//! expected is refused at once (by `check`, at start-up, on reload), never
//! waited on or read without end; a reload can never hold up shutdown.
//! (tests/breaker/fifo_reload_wedge.sh and check_gaps.sh, as tests.)

use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::{LB_TEST, lb_name, lb_setup, pool};
use crate::harness::{Reload, Setup, run_bounded};

/// Long enough for a debug build on a loaded machine; a command that hangs
/// on a FIFO never finishes at all.
const LIMIT: Duration = Duration::from_secs(20);

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}

fn policy(ttl: u32) -> String {
    format!(
        "{}{}",
        pool("web", &[("192.0.2.10", "")]),
        lb_name("www", "weighted", "web", &format!("ttl = {ttl}"))
    )
}

/// TTL of www.lb.test's A answer (None: no A answer).
fn www_ttl(addr: std::net::SocketAddr) -> Option<u32> {
    let r = exchange(
        Proto::Udp,
        addr,
        &encode(&query_msg("www.lb.test.", RecordType::A)),
    );
    decode(&r)
        .answers
        .iter()
        .find(|r| r.data.ip_addr().is_some())
        .map(|r| r.ttl)
}

fn check_bounded(config: &Path) -> (bool, String) {
    let out = run_bounded(&["check", "--config", &config.display().to_string()], LIMIT);
    (out.status.success(), out.stderr)
}

/// `check` refuses a FIFO named as any file it reads, at once, with
/// `FILE: ... not a regular file (a FIFO)`.
#[test]
fn check_refuses_a_fifo_wherever_a_file_is_expected() {
    let setup = lb_setup("fifo-check", &policy(30));
    let dir = setup.dir();
    let fifo = dir.join("fifo");
    mkfifo(&fifo);

    // dnslb.toml itself.
    let (ok, err) = check_bounded(&fifo);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{}: cannot read config file: not a regular file (a FIFO)",
            fifo.display()
        )),
        "{err}"
    );

    // Files dnslb.toml names.
    for (key, table) in [("admin_token_file", ""), ("secret_file", "[cookies]\n")] {
        let cfg = dir.join(format!("{key}.toml"));
        std::fs::write(
            &cfg,
            format!("zones_dir = \"zones\"\n{table}{key} = \"fifo\"\n"),
        )
        .unwrap();
        let (ok, err) = check_bounded(&cfg);
        assert!(!ok, "{key}");
        assert!(err.contains("not a regular file (a FIFO)"), "{key}: {err}");
    }

    // A policy file.
    mkfifo(&setup.policy_file("lb.test"));
    let (ok, err) = check_bounded(&setup.config());
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{}: cannot read policy file: not a regular file (a FIFO)",
            setup.policy_file("lb.test").display()
        )),
        "{err}"
    );
}

/// `/dev/zero` (through a symbolic link) is refused, not read until memory
/// runs out.
#[test]
fn a_device_is_refused_not_read_to_the_end() {
    let setup = lb_setup("dev-zero", &policy(30));
    std::fs::remove_file(setup.policy_file("lb.test")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", setup.policy_file("lb.test")).unwrap();
    let (ok, err) = check_bounded(&setup.config());
    assert!(!ok);
    assert!(
        err.contains("cannot read policy file: not a regular file (a character device)"),
        "{err}"
    );
}

#[test]
fn geoip_build_refuses_a_fifo_source() {
    let setup = Setup::new("fifo-geoip", &[("lb.test", LB_TEST)], "");
    let fifo = setup.dir().join("source.toml");
    mkfifo(&fifo);
    let out = setup.dir().join("out.mmdb");
    let r = run_bounded(
        &[
            "geoip",
            "build",
            &fifo.display().to_string(),
            &out.display().to_string(),
        ],
        LIMIT,
    );
    assert!(!r.status.success());
    assert!(
        r.stderr.contains("not a regular file (a FIFO)"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
}

/// `serve` refuses a FIFO as `admin_state_file` instead of hanging before
/// it listens.
#[test]
fn serve_refuses_a_fifo_state_file() {
    let setup = Setup::new(
        "fifo-state",
        &[("lb.test", LB_TEST)],
        "admin_state_file = \"state\"",
    );
    mkfifo(&setup.dir().join("state"));
    // Bounded: the harness fails the test when serve does not exit.
    let (status, err) = setup.serve_expecting_failure();
    assert!(!status.success());
    assert!(err.contains("not a regular file (a FIFO)"), "{err}");
}

/// A FIFO put where the policy file was fails that zone's reload at once
/// (the zone keeps its previous version), later reloads work, and SIGTERM
/// still exits.
#[test]
fn a_fifo_policy_file_fails_the_reload_and_later_reloads_work() {
    let setup = lb_setup("fifo-reload", &policy(30));
    std::fs::write(
        setup.config(),
        "zones_dir = \"zones\"\nreload_on_change = false\n",
    )
    .unwrap();
    let mut srv = setup.serve();
    assert_eq!(www_ttl(srv.addr), Some(30));

    mkfifo(&setup.policy_file("lb.test"));
    assert_eq!(srv.reload_outcome(), Reload::Partial);
    assert_eq!(www_ttl(srv.addr), Some(30), "the previous version serves");
    assert!(
        srv.log_count("cannot read policy file: not a regular file (a FIFO)") >= 1,
        "{}",
        srv.log_tail(20)
    );

    std::fs::remove_file(setup.policy_file("lb.test")).unwrap();
    setup.write_policy("lb.test", &policy(31));
    assert_eq!(srv.reload_outcome(), Reload::Clean);
    assert_eq!(www_ttl(srv.addr), Some(31));

    srv.signal("TERM");
    let st = srv.wait_exit(Duration::from_secs(10));
    assert!(st.is_some_and(|s| s.success()), "exit 0 after SIGTERM");
}

/// SIGTERM during a long reload (a zone of a million records) exits at
/// once: the reload is abandoned, its build told to stop.
#[test]
fn sigterm_does_not_wait_for_a_running_reload() {
    let setup = Setup::new("long-reload", &[("lb.test", LB_TEST)], "");
    std::fs::write(
        setup.config(),
        "zones_dir = \"zones\"\nreload_on_change = false\n",
    )
    .unwrap();
    let mut srv = setup.serve_env(&[], &[("RUST_LOG", Some("info,dnslb::reload=debug"))]);
    let mut big = String::with_capacity(30 << 20);
    big.push_str(LB_TEST);
    for i in 0..1_500_000u32 {
        big.push_str(&format!("h{i} IN A 192.0.2.{}\n", i % 250 + 1));
    }
    std::fs::write(setup.zone_file("lb.test"), big).unwrap();
    srv.signal("HUP");
    assert!(
        srv.wait_for_log("reload started", Duration::from_secs(10)),
        "{}",
        srv.log_tail(10)
    );
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    srv.signal("TERM");
    // Reading the zone takes several seconds in a debug build; shutdown
    // waits at most a second for it.
    let st = srv.wait_exit(Duration::from_secs(4));
    assert!(
        st.is_some_and(|s| s.success()),
        "not exited (0) within 4 s of SIGTERM ({:?}):\n{}",
        sent.elapsed(),
        srv.log_tail(10)
    );
    assert_eq!(
        srv.log_count("dnslb::reload: reloaded"),
        0,
        "the reload did not finish"
    );
}

/// `check` applies every rule `serve` applies before binding a socket,
/// each error at its settings key; `serve` refuses the same files with the
/// same lines (check_gaps.sh part 4).
#[test]
fn check_refuses_what_serve_refuses() {
    let setup = lb_setup("check-serve", &policy(30));
    let dir = setup.dir();
    std::fs::create_dir_all(dir.join("st")).unwrap();
    std::fs::write(dir.join("st/bad"), "state = \"drain\"\n").unwrap();
    std::fs::write(
        dir.join("st/latin1"),
        b"[[override]]\nendpoint = \"caf\xe9\"\n",
    )
    .unwrap();
    let cases: [(&str, &str, bool); 7] = [
        (
            "admin_state_file = \"st/latin1\"\n",
            "st/latin1:2:16: admin state file is not UTF-8: the first invalid byte is here",
            true,
        ),
        (
            "admin_listen = \"0.0.0.0:8053\"\n",
            "dnslb.toml:2:16: admin_listen: admin_listen 0.0.0.0:8053 is not a loopback address, and no admin token is set",
            false, // the harness's --admin-listen replaces it for serve
        ),
        (
            "admin_state_file = \"st\"\n",
            "dnslb.toml:2:20: admin_state_file: ",
            true,
        ),
        (
            "admin_state_file = \"st/bad\"\n",
            "st/bad:1:1: state: unknown key, expected `override`",
            true,
        ),
        (
            "admin_state_file = \"no/such/dir/state\"\n",
            "dnslb.toml:2:20: admin_state_file: the directory ",
            true,
        ),
        (
            "listen = [\"127.0.0.1:5399\", \"127.0.0.1:5399\"]\n",
            "dnslb.toml:2:29: listen: 127.0.0.1:5399 is listed twice",
            false, // the harness's --listen replaces it for serve
        ),
        (
            "listen = [\"0.0.0.0:5399\", \"127.0.0.1:5399\"]\n",
            "dnslb.toml:2:27: listen: 127.0.0.1:5399 and 0.0.0.0:5399 cannot both be bound",
            false,
        ),
    ];
    for (line, want, serve_too) in cases {
        std::fs::write(setup.config(), format!("zones_dir = \"zones\"\n{line}")).unwrap();
        let (ok, err) = check_bounded(&setup.config());
        assert!(!ok, "check passed with {line:?}");
        assert!(err.contains(want), "{line:?}: no {want:?} in\n{err}");
        if serve_too {
            let (st, err) = setup.serve_expecting_failure();
            assert!(!st.success(), "{line:?}");
            assert!(err.contains(want), "serve, {line:?}: no {want:?} in\n{err}");
        }
    }
    // `--listen` given twice with one address: refused before binding.
    std::fs::write(setup.config(), "zones_dir = \"zones\"\n").unwrap();
    let (st, err) = setup.serve_expecting_failure_with(&[
        "--listen",
        "127.0.0.1:5399",
        "--listen",
        "127.0.0.1:5399",
    ]);
    assert!(!st.success());
    assert!(
        err.contains("--listen: 127.0.0.1:5399 is listed twice"),
        "{err}"
    );
    // The admin API on a DNS listener's port.
    std::fs::write(
        setup.config(),
        "zones_dir = \"zones\"\nlisten = [\"127.0.0.1:5399\"]\nadmin_listen = \"127.0.0.1:5399\"\n",
    )
    .unwrap();
    let (ok, err) = check_bounded(&setup.config());
    assert!(!ok);
    assert!(
        err.contains(
            "dnslb.toml:3:16: admin_listen: 127.0.0.1:5399 is taken by a DNS listen address"
        ),
        "{err}"
    );
}

/// A TOML syntax error in dnslb.toml does not stop the zones from being
/// checked: `check` and `serve` print the settings error (a duplicate key
/// with its key path) and the policy file's error in one run
/// (check_gaps.sh part 2).
#[test]
fn a_settings_syntax_error_does_not_hide_zone_errors() {
    let setup = lb_setup("syntax-and-zones", &policy(0));
    std::fs::write(
        setup.config(),
        "zones_dir = \"zones\"\nudp_workers = 1\nudp_workers = 2\nthis is not toml\n",
    )
    .unwrap();
    let (ok, err) = check_bounded(&setup.config());
    assert!(!ok);
    for want in [
        "dnslb.toml:3:1: udp_workers: duplicate key: first set on line 2",
        "dnslb.toml:4:",
        "lb.test.toml:",
        "names.www.ttl: must be between 1 and 86400, got 0",
    ] {
        assert!(err.contains(want), "no {want:?} in\n{err}");
    }
    let (st, err) = setup.serve_expecting_failure();
    assert!(!st.success());
    assert!(err.contains("names.www.ttl: must be between 1"), "{err}");
    assert!(err.contains("udp_workers: duplicate key"), "{err}");
}

/// A policy file caught empty or cut short (no `[names.X]` left) is an
/// error naming the file: `check` refuses it, and a reload keeps the zone's
/// previous version instead of dropping its load-balanced names
/// (reload_under_load.sh, truncated policy file).
#[test]
fn a_policy_file_without_names_is_an_error() {
    let setup = lb_setup("no-names", &policy(30));
    std::fs::write(
        setup.config(),
        "zones_dir = \"zones\"\nreload_on_change = false\n",
    )
    .unwrap();
    let srv = setup.serve();
    assert_eq!(www_ttl(srv.addr), Some(30));
    let want = "lb.test.toml:1:1: names: the policy file defines no load-balanced name";
    // Empty, then cut short after the pool.
    for text in [String::new(), pool("web", &[("192.0.2.10", "")])] {
        setup.write_policy("lb.test", &text);
        let (ok, err) = check_bounded(&setup.config());
        assert!(!ok, "{text:?}");
        assert!(err.contains(want), "{text:?}: no {want:?} in\n{err}");
        assert_eq!(srv.reload_outcome(), Reload::Partial);
        assert_eq!(www_ttl(srv.addr), Some(30), "the previous version serves");
    }
    assert!(srv.log_count(want) >= 2, "{}", srv.log_tail(20));
}

/// With `log_format = "json"`, start-up errors are JSON log lines too: each
/// diagnostic with its file, line and key, and the final error.
#[test]
fn startup_errors_are_json_when_the_log_is() {
    let setup = lb_setup("json-errors", &policy(0));
    std::fs::write(
        setup.config(),
        "zones_dir = \"zones\"\nlog_format = \"json\"\n",
    )
    .unwrap();
    let (st, err) = setup.serve_expecting_failure();
    assert_eq!(st.code(), Some(1), "{err}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l:?}\n{err}")))
        .collect();
    let diag = lines
        .iter()
        .find(|v| v["fields"]["key"] == "names.www.ttl")
        .unwrap_or_else(|| panic!("no diagnostic line in\n{err}"));
    assert_eq!(diag["level"], "ERROR");
    assert_eq!(diag["fields"]["line"], 8, "{diag}");
    assert!(
        diag["fields"]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("lb.test.toml")),
        "{diag}"
    );
    let last = lines.last().unwrap();
    assert!(
        last["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid configuration") || m.contains("refusing to start")),
        "{last}"
    );
}
