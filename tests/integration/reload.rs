//! Reloads of the real binary: zone by zone (a broken zone keeps its
//! previous version while the others reload; a zone that never loaded is
//! picked up once fixed), on file changes without a signal, of
//! `dnslb.toml` (live keys apply, restart-only keys are reported), through
//! the admin API; queries keep being answered throughout; and shutdown
//! answers the queries in flight.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::admin::{get, http, metric, status};
use crate::dns::*;
use crate::harness::{Reload, Setup, TestServer};

fn zone(serial: u32, www: u8) -> String {
    format!(
        "$TTL 60\n@ IN SOA ns h {serial} 7200 3600 1209600 60\n  IN NS ns\nns IN A 192.0.2.1\nwww IN A 192.0.2.{www}\n"
    )
}

/// www's A record and a CNAME beside it: an error on line 5.
const BROKEN: &str = "$TTL 60\n@ IN SOA ns h 9 7200 3600 1209600 60\n  IN NS ns\nns IN A 192.0.2.1\nwww IN A 192.0.2.99\nwww IN CNAME ns\n";

/// The A records of `www.ZONE` as `ADDR` strings (empty: no answer).
fn www(addr: SocketAddr, zone: &str) -> Vec<String> {
    let r = exchange(
        Proto::Udp,
        addr,
        &encode(&query_msg(&format!("www.{zone}."), RecordType::A)),
    );
    let m = decode(&r);
    m.answers
        .iter()
        .filter_map(|r| r.data.ip_addr().map(|a| a.to_string()))
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn zone_doc<'a>(doc: &'a serde_json::Value, zone: &str) -> &'a serde_json::Value {
    doc["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["zone"] == zone)
        .unwrap_or_else(|| panic!("{zone} in {doc:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn zones_reload_one_by_one() {
    let setup = Setup::new(
        "reload-zones",
        &[("a.test", &zone(1, 10)), ("b.test", &zone(1, 20))],
        "reload_on_change = false",
    );
    let srv = setup.serve();
    assert_eq!(www(srv.addr, "a.test"), ["192.0.2.10"]);
    assert_eq!(www(srv.addr, "b.test"), ["192.0.2.20"]);

    // a changes, b breaks: a's new data, b's old data, b's error named.
    std::fs::write(setup.zone_file("a.test"), zone(2, 11)).unwrap();
    std::fs::write(setup.zone_file("b.test"), BROKEN).unwrap();
    assert_eq!(srv.reload_outcome(), Reload::Partial);
    assert_eq!(www(srv.addr, "a.test"), ["192.0.2.11"]);
    assert_eq!(www(srv.addr, "b.test"), ["192.0.2.20"]);
    let file = setup.zone_file("b.test").display().to_string();
    assert!(
        srv.log_count(&format!("{file}:6: ")) >= 1,
        "FILE:LINE of the error"
    );
    let doc = status(&srv).await;
    let b = zone_doc(&doc, "b.test.");
    assert_eq!(
        (b["state"].as_str(), b["serial"].as_u64()),
        (Some("previous"), Some(1))
    );
    assert!(
        b["errors"][0]
            .as_str()
            .unwrap()
            .starts_with(&format!("{file}:6: ")),
        "{b}"
    );
    assert_eq!(zone_doc(&doc, "a.test.")["state"], "loaded");
    assert_eq!(doc["reloads"]["last"]["outcome"], "partial");
    let (_, m) = get(&srv, "/metrics").await;
    let state = |z: &str, f: &str, st: &str| {
        let series = format!("dnslb_zone_state{{zone=\"{z}\",file=\"{f}\",state=\"{st}\"}}");
        metric(&m, &series).unwrap_or_else(|| panic!("{series} in\n{m}"))
    };
    assert_eq!(state("b.test.", &file, "previous"), 1.0);
    assert_eq!(state("b.test.", &file, "loaded"), 0.0);
    assert!(metric(&m, "dnslb_reload_errors_total").unwrap() >= 1.0);
    assert_eq!(metric(&m, "dnslb_config_errors"), Some(1.0));

    // Fixed: b reloads too.
    std::fs::write(setup.zone_file("b.test"), zone(3, 21)).unwrap();
    assert_eq!(srv.reload_outcome(), Reload::Clean);
    assert_eq!(www(srv.addr, "b.test"), ["192.0.2.21"]);
    let doc = status(&srv).await;
    assert_eq!(zone_doc(&doc, "b.test.")["state"], "loaded");
    assert_eq!(doc["reloads"]["last"]["outcome"], "ok");

    // A new zone that is broken is not served; fixed, it is.
    std::fs::write(setup.zone_file("c.test"), BROKEN).unwrap();
    assert_eq!(srv.reload_outcome(), Reload::Partial);
    let r = decode(&exchange(
        Proto::Udp,
        srv.addr,
        &encode(&query_msg("www.c.test.", RecordType::A)),
    ));
    assert_eq!(r.response_code, hickory_proto::op::ResponseCode::Refused);
    assert_eq!(zone_doc(&status(&srv).await, "c.test.")["state"], "failed");
    std::fs::write(setup.zone_file("c.test"), zone(1, 30)).unwrap();
    assert_eq!(srv.reload_outcome(), Reload::Clean);
    assert_eq!(www(srv.addr, "c.test"), ["192.0.2.30"]);
}

/// A broken policy file keeps the zone's previous names (and their health
/// and counters); the zone file beside it is not half-applied either.
#[test]
fn a_broken_policy_file_keeps_its_zone_as_it_was() {
    let policy = |addr: &str| {
        format!(
            "[pools.p]\nmembers = [{{ address = \"{addr}\" }}]\n\n[names.lb]\npolicy = \"weighted\"\npool = \"p\"\n"
        )
    };
    let setup = Setup::new(
        "reload-policy",
        &[("p.test", &zone(1, 10)), ("q.test", &zone(1, 20))],
        "reload_on_change = false",
    );
    setup.write_policy("p.test", &policy("192.0.2.50"));
    let srv = setup.serve();
    assert_eq!(www(srv.addr, "p.test"), ["192.0.2.10"]);
    let lb = |srv: &TestServer| {
        let r = exchange(
            Proto::Udp,
            srv.addr,
            &encode(&query_msg("lb.p.test.", RecordType::A)),
        );
        rrs(&decode(&r).answers)
    };
    assert_eq!(lb(&srv), ["lb.p.test. 30 IN A 192.0.2.50"]);

    std::fs::write(setup.zone_file("p.test"), zone(2, 11)).unwrap();
    std::fs::write(setup.zone_file("q.test"), zone(2, 21)).unwrap();
    setup.write_policy(
        "p.test",
        &format!("{}colour = \"blue\"\n", policy("192.0.2.51")),
    );
    assert_eq!(srv.reload_outcome(), Reload::Partial);
    assert!(srv.log_count("colour") >= 1, "the error is logged");
    assert_eq!(lb(&srv), ["lb.p.test. 30 IN A 192.0.2.50"]);
    assert_eq!(
        www(srv.addr, "p.test"),
        ["192.0.2.10"],
        "the zone file waits too"
    );
    assert_eq!(
        www(srv.addr, "q.test"),
        ["192.0.2.21"],
        "other zones reload"
    );

    setup.write_policy("p.test", &policy("192.0.2.51"));
    assert_eq!(srv.reload_outcome(), Reload::Clean);
    assert_eq!(lb(&srv), ["lb.p.test. 30 IN A 192.0.2.51"]);
    assert_eq!(www(srv.addr, "p.test"), ["192.0.2.11"]);
}

/// With `allow_partial_zones`, a zone that fails at start-up is served
/// once it is fixed, by the next reload.
#[test]
fn a_zone_broken_at_start_up_is_picked_up_when_fixed() {
    let setup = Setup::new(
        "reload-startup-broken",
        &[("a.test", &zone(1, 10)), ("b.test", BROKEN)],
        "allow_partial_zones = true\nreload_on_change = false",
    );
    let srv = setup.serve();
    assert_eq!(www(srv.addr, "a.test"), ["192.0.2.10"]);
    let refused = |srv: &TestServer| {
        let r = exchange(
            Proto::Udp,
            srv.addr,
            &encode(&query_msg("www.b.test.", RecordType::A)),
        );
        rcode_of(&r) == 5
    };
    assert!(refused(&srv));
    std::fs::write(setup.zone_file("b.test"), zone(2, 20)).unwrap();
    assert_eq!(srv.reload_outcome(), Reload::Clean);
    assert_eq!(www(srv.addr, "b.test"), ["192.0.2.20"]);
}

/// Without a signal: a changed zone file, `$INCLUDE`, policy file or a new
/// zone file reloads by itself, once per burst of writes.
#[test]
fn file_changes_reload_without_a_signal() {
    let setup = Setup::new(
        "reload-watch",
        &[(
            "w.test",
            "$TTL 60\n@ IN SOA ns h 1 7200 3600 1209600 60\n  IN NS ns\nns IN A 192.0.2.1\n$INCLUDE hosts.inc\n",
        )],
        "reload_delay = 0.2",
    );
    let inc = setup.dir().join("zones").join("hosts.inc");
    std::fs::write(&inc, "www IN A 192.0.2.10\n").unwrap();
    let srv = setup.serve();
    assert_eq!(www(srv.addr, "w.test"), ["192.0.2.10"]);
    let watched = |srv: &TestServer| {
        srv.log_lines("dnslb::reload: reloaded")
            .iter()
            .filter(|l| l.contains("file change"))
            .count()
    };

    // A burst of writes to the included file: one reload, the last data.
    for i in 11..=15 {
        std::fs::write(&inc, format!("www IN A 192.0.2.{i}\n")).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_until("the include is reloaded", Duration::from_secs(10), || {
        www(srv.addr, "w.test") == ["192.0.2.15"]
    });
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(watched(&srv), 1, "one reload for the burst");

    // Replaced by rename, as editors and deploy tools do.
    let tmp = setup.dir().join("zones").join(".hosts.inc.new");
    std::fs::write(&tmp, "www IN A 192.0.2.16\n").unwrap();
    std::fs::rename(&tmp, &inc).unwrap();
    wait_until("the renamed include", Duration::from_secs(10), || {
        www(srv.addr, "w.test") == ["192.0.2.16"]
    });

    // A new zone file.
    std::fs::write(setup.zone_file("n.test"), zone(1, 40)).unwrap();
    wait_until("the new zone", Duration::from_secs(10), || {
        exchange(
            Proto::Udp,
            srv.addr,
            &encode(&query_msg("www.n.test.", RecordType::A)),
        )
        .get(3)
        .is_some_and(|f| f & 0xF == 0)
    });
    assert_eq!(www(srv.addr, "n.test"), ["192.0.2.40"]);

    // A policy file.
    setup.write_policy(
        "n.test",
        "[pools.p]\nmembers = [{ address = \"192.0.2.77\" }]\n\n[names.lb]\npolicy = \"weighted\"\npool = \"p\"\n",
    );
    wait_until("the new policy file", Duration::from_secs(10), || {
        let r = exchange(
            Proto::Udp,
            srv.addr,
            &encode(&query_msg("lb.n.test.", RecordType::A)),
        );
        rrs(&decode(&r).answers) == ["lb.n.test. 30 IN A 192.0.2.77"]
    });
}

/// The zones directory replaced whole (`mv zones zones.old; mv zones.new
/// zones`, a common deploy step; break-ops `dir_swap_watch.sh`): after the
/// SIGHUP that loads it, edits in the new directory reload by themselves,
/// and edits in the old one do not. A swap without a signal is picked up
/// too, and a watched directory that disappears is reported.
#[test]
fn a_swapped_zones_directory_is_watched_again() {
    let setup = Setup::new(
        "reload-dirswap",
        &[("a.test", &zone(1, 10))],
        "reload_delay = 0.2",
    );
    let srv = setup.serve();
    let zones = setup.dir().join("zones");
    let swap = |name: &str, serial: u32, www: u8| {
        let new = setup.dir().join(format!("zones.{name}"));
        std::fs::create_dir(&new).unwrap();
        std::fs::write(new.join("a.test.zone"), zone(serial, www)).unwrap();
        std::fs::rename(&zones, setup.dir().join(format!("zones.old-{name}"))).unwrap();
        std::fs::rename(&new, &zones).unwrap();
    };
    swap("v2", 2, 11);
    assert!(srv.reload());
    assert_eq!(www(srv.addr, "a.test"), ["192.0.2.11"]);
    // An edit in the new directory reloads without a signal.
    std::fs::write(zones.join("a.test.zone"), zone(3, 12)).unwrap();
    wait_until(
        "the edit in the new directory",
        Duration::from_secs(10),
        || www(srv.addr, "a.test") == ["192.0.2.12"],
    );
    // The old directory is not watched any more.
    let reloads = srv.log_count("dnslb::reload: reloaded");
    std::fs::write(
        setup.dir().join("zones.old-v2").join("a.test.zone"),
        zone(9, 99),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(srv.log_count("dnslb::reload: reloaded"), reloads);
    assert_eq!(www(srv.addr, "a.test"), ["192.0.2.12"]);

    // Swapped without a signal: seen, reloaded, and watched in turn.
    swap("v3", 4, 13);
    wait_until(
        "the swapped directory, no signal",
        Duration::from_secs(10),
        || www(srv.addr, "a.test") == ["192.0.2.13"],
    );
    std::fs::write(zones.join("a.test.zone"), zone(5, 14)).unwrap();
    wait_until("an edit after that", Duration::from_secs(10), || {
        www(srv.addr, "a.test") == ["192.0.2.14"]
    });

    // Gone: a warning names it, the zones keep being served.
    std::fs::rename(&zones, setup.dir().join("zones.gone")).unwrap();
    assert!(
        srv.wait_for_log("is gone", Duration::from_secs(10)),
        "{}",
        srv.log_tail(20)
    );
    assert_eq!(www(srv.addr, "a.test"), ["192.0.2.14"]);
}

/// `reload_on_change = false`: files are read on SIGHUP only.
#[test]
fn watching_can_be_turned_off() {
    let setup = Setup::new(
        "reload-nowatch",
        &[("a.test", &zone(1, 10))],
        "reload_on_change = false\nreload_delay = 0.1",
    );
    let srv = setup.serve();
    std::fs::write(setup.zone_file("a.test"), zone(2, 11)).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(www(srv.addr, "a.test"), ["192.0.2.10"]);
    assert_eq!(srv.reload_outcome(), Reload::Clean);
    assert_eq!(www(srv.addr, "a.test"), ["192.0.2.11"]);
}

/// `dnslb.toml` is read again: live keys apply, restart-only keys are
/// reported with their line and keep their running value, and a broken
/// file keeps its previous values while the zones still reload.
#[tokio::test(flavor = "multi_thread")]
async fn the_settings_file_is_read_again() {
    let setup = Setup::new(
        "reload-settings",
        &[("a.test", &zone(1, 10))],
        "reload_on_change = false\nlog_level = \"info\"",
    );
    let srv = setup.serve_env(&[], &[("RUST_LOG", None)]);
    let payload = |srv: &TestServer| {
        let r = exchange(
            Proto::Udp,
            srv.addr,
            &encode(&query_msg_edns("www.a.test.", RecordType::A, 4096)),
        );
        raw_opt(&r).expect("OPT").0
    };
    assert_eq!(payload(&srv), 1232);
    let (code, _) = get(&srv, "/status").await;
    assert_eq!(code, 200, "no token yet");

    let cfg = setup.config();
    std::fs::write(
        &cfg,
        "zones_dir = \"zones\"\nreload_on_change = false\ntcp_max_connections = 7\nlisten = [\"127.0.0.1:1\"]\nudp_payload_size = 1400\nlog_level = \"debug\"\nadmin_token = \"reloaded-token-0123456789\"\n",
    )
    .unwrap();
    assert_eq!(srv.reload_outcome(), Reload::Clean);
    assert_eq!(payload(&srv), 1400, "udp_payload_size is live");
    let cfgs = cfg.display().to_string();
    let restart = format!(
        "{cfgs}:3:23: tcp_max_connections: changed to 7; takes effect after a restart (still 1024)"
    );
    assert!(srv.log_count(&restart) == 1, "{restart}");
    // `--listen` on the command line wins over the file, now as at start.
    assert_eq!(srv.log_count("listen: changed"), 0);
    assert_eq!(
        www(srv.addr, "a.test"),
        ["192.0.2.10"],
        "still on its address"
    );
    let (code, _) = get(&srv, "/status").await;
    assert_eq!(code, 401, "admin_token is live");
    let doc: serde_json::Value = serde_json::from_str(
        &http()
            .get(format!("{}/status", srv.admin_url()))
            .bearer_auth("reloaded-token-0123456789")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(doc["reloads"]["last"]["restart_needed"][0], restart);
    // log_level is live: the reloader's debug lines now show.
    std::fs::write(setup.zone_file("a.test"), zone(2, 12)).unwrap();
    assert_eq!(srv.reload_outcome(), Reload::Clean);
    assert!(
        srv.log_count(" DEBUG ") >= 1,
        "debug lines after log_level = debug"
    );

    // A broken settings file: named, its previous values stay, zones reload.
    std::fs::write(
        &cfg,
        "zones_dir = \"zones\"\nreload_on_change = false\nudp_payload_size = 99\n",
    )
    .unwrap();
    std::fs::write(setup.zone_file("a.test"), zone(3, 13)).unwrap();
    let outcome = srv.reload_outcome();
    assert_eq!(outcome, Reload::Partial, "{}", srv.log_tail(30));
    assert!(
        srv.log_count(&format!(
            "{cfgs}:3:20: udp_payload_size: must be between 512 and 4096, got 99"
        )) >= 1
    );
    assert_eq!(payload(&srv), 1400);
    assert_eq!(www(srv.addr, "a.test"), ["192.0.2.13"]);
}

/// `POST /reload` reloads like SIGHUP does.
#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_asks_for_a_reload() {
    let setup = Setup::new(
        "reload-admin",
        &[("a.test", &zone(1, 10))],
        "reload_on_change = false",
    );
    let srv = setup.serve();
    std::fs::write(setup.zone_file("a.test"), zone(2, 11)).unwrap();
    let r = http()
        .post(format!("{}/reload", srv.admin_url()))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    assert!(srv.wait_for_log("admin API", Duration::from_secs(10)));
    wait_until("reloaded", Duration::from_secs(10), || {
        www(srv.addr, "a.test") == ["192.0.2.11"]
    });
}

/// Queries sent without pause while the zones reload (good, broken, good
/// again) are all answered, each with the old or the new data.
#[test]
fn no_query_fails_because_of_a_reload() {
    let setup = Setup::new(
        "reload-load",
        &[("a.test", &zone(1, 10)), ("b.test", &zone(1, 20))],
        "reload_delay = 0.1",
    );
    let srv = setup.serve();
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, bad) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let clients: Vec<_> = [Proto::Udp, Proto::Tcp]
        .into_iter()
        .map(|proto| {
            let (stop, sent, bad, addr) = (stop.clone(), sent.clone(), bad.clone(), srv.addr);
            std::thread::spawn(move || {
                let q = encode(&query_msg("www.a.test.", RecordType::A));
                let deadline = Instant::now() + Duration::from_secs(30);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    sent.fetch_add(1, Ordering::Relaxed);
                    let ok = exchange_within(proto, addr, &q, Duration::from_secs(2))
                        .is_some_and(|r| rcode_of(&r) == 0 && counts_of(&r)[1] == 1);
                    if !ok {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for round in 0..6u32 {
        let text = if round == 2 {
            BROKEN.to_string()
        } else {
            zone(round + 2, 10 + round as u8)
        };
        std::fs::write(setup.zone_file("a.test"), text).unwrap();
        std::fs::write(setup.zone_file("b.test"), zone(round + 2, 20)).unwrap();
        srv.reload_outcome();
    }
    // And reloads by the watcher alone, no signal.
    for www in [40u8, 41, 42] {
        std::fs::write(setup.zone_file("a.test"), zone(100 + u32::from(www), www)).unwrap();
        let want = format!("192.0.2.{www}");
        wait_until("the watcher's reload", Duration::from_secs(10), || {
            self::www(srv.addr, "a.test") == [want.as_str()]
        });
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let (sent, bad) = (sent.load(Ordering::Relaxed), bad.load(Ordering::Relaxed));
    assert!(sent >= 20, "only {sent} queries sent");
    assert_eq!(bad, 0, "{bad} of {sent} queries failed during reloads");
}

/// SIGTERM: nothing new is accepted, a query already arriving over TCP is
/// still answered, idle connections close, and the process exits 0.
#[test]
fn shutdown_answers_the_query_in_flight() {
    let setup = Setup::new("shutdown-inflight", &[("a.test", &zone(1, 10))], "");
    let mut srv = setup.serve();
    let msg = encode(&query_msg("www.a.test.", RecordType::A));
    let framed = frame(&msg);
    let mut busy = TcpStream::connect(srv.addr).unwrap();
    let mut idle = TcpStream::connect(srv.addr).unwrap();
    busy.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Half a query, then the signal, then the rest.
    busy.write_all(&framed[..7]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    srv.signal("TERM");
    assert!(srv.wait_for_log("shutting down", Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(300));
    busy.write_all(&framed[7..]).unwrap();
    let reply = read_frame(&mut busy).expect("the query in flight is answered");
    assert_eq!(
        rrs(&decode(&reply).answers),
        ["www.a.test. 60 IN A 192.0.2.10"]
    );
    let mut buf = [0u8; 1];
    assert_eq!(idle.read(&mut buf).ok(), Some(0), "idle connection closed");
    let st = srv
        .wait_exit(Duration::from_secs(10))
        .expect("exits after the queries in flight");
    assert_eq!(st.code(), Some(0));
    assert!(
        TcpStream::connect_timeout(&srv.addr, Duration::from_secs(1)).is_err(),
        "nothing is accepted any more"
    );
}
