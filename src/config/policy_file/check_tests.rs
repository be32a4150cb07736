//! Tests of [`super::validate_check`]: defaults, every bad value at its
//! line, the cross-field rules.

use std::collections::BTreeMap;

use super::*;
use crate::diag::Diagnostics;
use crate::health::{CheckKind, HttpMethod, TlsCheck};
use std::path::Path;

/// A diagnostic as `(line, key, message)`.
type Diag = (u32, String, String);

/// Validate every check of `text`; returns the checks that passed and
/// the diagnostics.
fn load(text: &str) -> (BTreeMap<String, Check>, Vec<Diag>) {
    let path = Path::new("p.toml");
    let mut diags = Diagnostics::new();
    let mut cx = super::super::parse::Cx::new(path, text, &mut diags);
    let file = super::super::parse::parse(&mut cx).expect("test TOML parses");
    let mut ok = BTreeMap::new();
    for e in &file.checks {
        let name = e.name.get_ref();
        let spec = e.spec.as_ref().expect("a table");
        if let Some(c) = validate_check(&mut cx, name, spec) {
            ok.insert(name.clone(), c);
        }
    }
    let d = diags
        .into_vec()
        .into_iter()
        .map(|d| (d.line.unwrap(), d.key, d.message))
        .collect();
    (ok, d)
}

#[test]
fn defaults() {
    let (ok, d) = load("[checks.a]\nkind = \"http\"\n[checks.b]\nkind = \"tcp\"\nport = 22\n");
    assert!(d.is_empty(), "{d:?}");
    let a = &ok["a"];
    assert_eq!(a.port, 80);
    assert_eq!(a.interval, Duration::from_secs(5));
    assert_eq!(a.timeout, Duration::from_secs(2));
    assert_eq!((a.rise, a.fall), (2, 3));
    assert_eq!(a.initial_state, Status::Up);
    assert_eq!(a.probe_address, None);
    let CheckKind::Http(h) = &a.kind else {
        panic!("http")
    };
    assert_eq!(h.tls, None);
    assert_eq!(h.method, HttpMethod::Get);
    assert_eq!(h.path, "/");
    assert_eq!(h.host, None);
    assert!(h.expect_status.contains(200) && h.expect_status.contains(399));
    assert!(!h.expect_status.contains(199) && !h.expect_status.contains(400));
    assert_eq!(h.user_agent, DEFAULT_USER_AGENT);
    assert_eq!(ok["b"].kind, CheckKind::Tcp);
    assert_eq!(ok["b"].port, 22);
}

#[test]
fn https_defaults_and_full_spec() {
    let text = r#"
[checks.s]
kind = "https"
host = "www.example.test:8443"
interval = 0.5
timeout = 0.25
rise = 1
fall = 100
initial_state = "down"
method = "head"
path = "/healthz?full=1"
probe_address = "::1"
tls_verify = false
expect_status = [204, "300-302", "418"]
headers = { "X-Probe" = "dnslb" }
user_agent = "probe/1"
[checks.t]
kind = "https"
tls_server_name = "Api.Example.Test"
"#;
    let (ok, d) = load(text);
    assert!(d.is_empty(), "{d:?}");
    let s = &ok["s"];
    assert_eq!(s.port, 443);
    assert_eq!(s.interval, Duration::from_millis(500));
    assert_eq!(s.timeout, Duration::from_millis(250));
    assert_eq!((s.rise, s.fall), (1, 100));
    assert_eq!(s.initial_state, Status::Down);
    assert_eq!(s.probe_address, Some("::1".parse().unwrap()));
    let CheckKind::Http(h) = &s.kind else {
        panic!("http")
    };
    assert_eq!(
        h.tls,
        Some(TlsCheck {
            server_name: Some("www.example.test".into()),
            verify: false
        })
    );
    assert_eq!(h.method, HttpMethod::Head);
    assert_eq!(h.path, "/healthz?full=1");
    assert_eq!(
        h.expect_status.ranges(),
        &[(204, 204), (300, 302), (418, 418)]
    );
    assert_eq!(h.headers, vec![("x-probe".into(), "dnslb".into())]);
    assert_eq!(h.user_agent, "probe/1");
    let CheckKind::Http(t) = &ok["t"].kind else {
        panic!("http")
    };
    assert_eq!(
        t.tls,
        Some(TlsCheck {
            server_name: Some("api.example.test".into()),
            verify: true
        })
    );
}

#[test]
fn host_header_forms() {
    for ok in [
        "www.example.test",
        "www.example.test:8443",
        "127.0.0.1",
        "127.0.0.1:80",
        "[::1]",
        "[::1]:8080",
        "a_b.example",
    ] {
        assert!(is_host_header(ok), "{ok}");
    }
    for bad in [
        "",
        "a:b:c",
        "::1",
        "[::1",
        "[nope]:80",
        "host:0",
        "host:99999",
        "bad host",
        "-x.example",
    ] {
        assert!(!is_host_header(bad), "{bad}");
    }
}

#[test]
fn host_that_is_an_address_gives_no_server_name() {
    let (ok, d) = load("[checks.s]\nkind = \"https\"\nhost = \"[2001:db8::1]:443\"\n");
    assert!(d.is_empty(), "{d:?}");
    let CheckKind::Http(h) = &ok["s"].kind else {
        panic!("http")
    };
    assert_eq!(h.tls.as_ref().unwrap().server_name, None);
}

#[test]
fn every_bad_value_is_reported_at_its_line() {
    let text = r#"[checks.web]
kind = "http"
port = 0
probe_address = "db.example"
interval = 0.01
timeout = -1.0
rise = 0
fall = 101
initial_state = "sideways"
method = "POST"
path = "health"
host = "a b"
tls_server_name = "x.test"
tls_verify = false
expect_status = [99, "300-200", "abc", 600]
body_contains = ""
headers = { "bad name" = "v", Host = "h", "X-Ok" = "line\nbreak" }
user_agent = ""
"#;
    let (ok, d) = load(text);
    assert!(ok.is_empty());
    let want: &[(u32, &str, &str)] = &[
        (3, "checks.web.port", "must be between 1 and 65535, got 0"),
        (
            4,
            "checks.web.probe_address",
            "not an IP address: \"db.example\"",
        ),
        (
            5,
            "checks.web.interval",
            "must be between 0.05 and 3600 seconds, got 0.01",
        ),
        (
            6,
            "checks.web.timeout",
            "must be between 0.01 and 3600 seconds, got -1",
        ),
        (7, "checks.web.rise", "must be between 1 and 100, got 0"),
        (8, "checks.web.fall", "must be between 1 and 100, got 101"),
        (
            9,
            "checks.web.initial_state",
            "unknown initial state \"sideways\", expected up or down",
        ),
        (
            10,
            "checks.web.method",
            "unknown method \"POST\", expected GET or HEAD",
        ),
        (11, "checks.web.path", "got \"health\""),
        (
            12,
            "checks.web.host",
            "not a host name or host:port, got \"a b\"",
        ),
        (
            13,
            "checks.web.tls_server_name",
            "only valid for https checks",
        ),
        (14, "checks.web.tls_verify", "only valid for https checks"),
        (
            15,
            "checks.web.expect_status[0]",
            "status must be between 100 and 599, got 99",
        ),
        (15, "checks.web.expect_status[1]", "\"300-200\""),
        (15, "checks.web.expect_status[2]", "\"abc\""),
        (
            15,
            "checks.web.expect_status[3]",
            "status must be between 100 and 599, got 600",
        ),
        (
            16,
            "checks.web.body_contains",
            "must be between 1 and 2048 bytes long, got 0",
        ),
        (17, "checks.web.headers.Host", "use the host key"),
        (
            17,
            "checks.web.headers.X-Ok",
            "not a valid header value: \"line\\nbreak\"",
        ),
        (
            17,
            "checks.web.headers.bad name",
            "not a header name: \"bad name\"",
        ),
        (
            18,
            "checks.web.user_agent",
            "not a valid header value: \"\"",
        ),
    ];
    assert_eq!(d.len(), want.len(), "{d:#?}");
    for ((line, key, msg), (wl, wk, wm)) in d.iter().zip(want) {
        assert_eq!((*line, key.as_str()), (*wl, *wk), "{msg}");
        assert!(msg.contains(wm), "{key}: {msg:?} lacks {wm:?}");
    }
}

/// A probe address must be one a probe can connect to; an IPv4-mapped
/// IPv6 address can be.
#[test]
fn probe_address_must_be_unicast() {
    let text = "[checks.a]\nkind = \"tcp\"\nport = 1\nprobe_address = \"255.255.255.255\"\n\
                [checks.b]\nkind = \"tcp\"\nport = 1\nprobe_address = \"ff02::1\"\n\
                [checks.c]\nkind = \"tcp\"\nport = 1\nprobe_address = \"::ffff:127.0.0.1\"\n";
    let (ok, d) = load(text);
    assert_eq!(ok.keys().collect::<Vec<_>>(), ["c"]);
    assert_eq!(
        d,
        vec![
            (
                4,
                "checks.a.probe_address".to_string(),
                "255.255.255.255 is not a unicast address (the broadcast address)".to_string()
            ),
            (
                8,
                "checks.b.probe_address".to_string(),
                "ff02::1 is not a unicast address (a multicast address)".to_string()
            ),
        ]
    );
}

#[test]
fn timeout_must_be_below_interval() {
    let text = "[checks.a]\nkind = \"tcp\"\nport = 1\ntimeout = 6.0\n\
                [checks.b]\nkind = \"tcp\"\nport = 1\ninterval = 1.0\ntimeout = 1.0\n\
                [checks.c]\nkind = \"tcp\"\nport = 1\ninterval = 1.0\n";
    let (ok, d) = load(text);
    assert!(ok.is_empty());
    assert_eq!(
        d,
        vec![
            (
                4,
                "checks.a.timeout".to_string(),
                "timeout 6 s must be less than interval 5 s".to_string()
            ),
            (
                9,
                "checks.b.timeout".to_string(),
                "timeout 1 s must be less than interval 1 s".to_string()
            ),
            // Default timeout 2 s against interval 1 s: points at interval.
            (
                13,
                "checks.c.timeout".to_string(),
                "timeout 2 s must be less than interval 1 s".to_string()
            ),
        ]
    );
}

#[test]
fn kind_and_kind_specific_rules() {
    let text = r#"[checks.a]
kind = "udp"
[checks.b]
kind = "tcp"
[checks.c]
kind = "tcp"
port = 9
path = "/"
headers = { X = "y" }
[checks.d]
kind = "http"
method = "HEAD"
body_contains = "ok"
[checks.e]
kind = "https"
tls_server_name = "10.0.0.1"
[checks.f]
kind = "https"
tls_server_name = "-bad-.test"
[checks.g]
kind = "http"
expect_status = []
port = 70000
"#;
    let (ok, d) = load(text);
    assert!(ok.is_empty(), "{ok:?}");
    let got: Vec<(u32, &str)> = d.iter().map(|(l, k, _)| (*l, k.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (2, "checks.a.kind"),
            (4, "checks.b.port"),
            (8, "checks.c.path"),
            (9, "checks.c.headers"),
            (13, "checks.d.body_contains"),
            (16, "checks.e.tls_server_name"),
            (19, "checks.f.tls_server_name"),
            (23, "checks.g.port"),
            (22, "checks.g.expect_status"),
        ]
    );
    assert!(d[0].2.contains("\"udp\""), "{}", d[0].2);
    assert_eq!(d[1].2, "a tcp check needs a port");
    assert_eq!(d[7].2, "must be between 1 and 65535, got 70000");
}

#[test]
fn identity_ignores_the_name() {
    let (ok, d) = load(
        "[checks.a]\nkind = \"tcp\"\nport = 9\n[checks.b]\nkind = \"tcp\"\nport = 9\n\
         [checks.c]\nkind = \"tcp\"\nport = 10\n",
    );
    assert!(d.is_empty());
    assert_eq!(ok["a"], ok["b"]);
    assert_ne!(ok["a"], ok["c"]);
    let mut set = std::collections::HashSet::new();
    set.insert(ok["a"].clone());
    assert!(set.contains(&ok["b"]));
    assert!(!set.contains(&ok["c"]));
}

#[test]
fn load_feedback_keys() {
    use crate::health::{LoadFeedback, LoadKind, LoadSource};
    let text = r#"
[checks.h]
kind = "http"
load_header = "X-Load"
[checks.j]
kind = "https"
load_json_pointer = "/stats/active~1conns"
load_kind = "weight"
[checks.b]
kind = "http"
load_body = true
[checks.none]
kind = "http"
load_body = false
"#;
    let (ok, d) = load(text);
    assert!(d.is_empty(), "{d:?}");
    let fb = |n: &str| ok[n].load().cloned();
    assert_eq!(
        fb("h"),
        Some(LoadFeedback {
            source: LoadSource::Header("x-load".into()),
            kind: LoadKind::Connections
        })
    );
    assert_eq!(
        fb("j"),
        Some(LoadFeedback {
            source: LoadSource::JsonPointer("/stats/active~1conns".into()),
            kind: LoadKind::Weight
        })
    );
    assert_eq!(fb("b").map(|l| l.source), Some(LoadSource::Body));
    assert_eq!(fb("none"), None);
    // the load settings are part of a check's identity
    assert_ne!(ok["h"], ok["b"]);

    let bad = r#"
[checks.a]
kind = "http"
load_header = "X Load"
[checks.b]
kind = "http"
load_header = "x-load"
load_body = true
[checks.c]
kind = "http"
method = "HEAD"
load_json_pointer = "/n"
[checks.d]
kind = "http"
load_json_pointer = "n"
[checks.e]
kind = "http"
load_json_pointer = "/a~2"
[checks.f]
kind = "http"
load_kind = "weight"
[checks.g]
kind = "http"
load_header = "x-load"
load_kind = "cpu"
[checks.t]
kind = "tcp"
port = 9
load_header = "x-load"
"#;
    let (ok, d) = load(bad);
    assert!(ok.is_empty(), "{:?}", ok.keys());
    let got: Vec<(u32, &str, &str)> = d
        .iter()
        .map(|(l, k, m)| (*l, k.as_str(), m.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (4, "checks.a.load_header", "not a header name: \"X Load\""),
            (
                8,
                "checks.b.load_body",
                "give one of load_header, load_json_pointer, load_body, not load_header and load_body"
            ),
            (
                12,
                "checks.c.load_json_pointer",
                "a HEAD response has no body to read a load figure from; use method \"GET\""
            ),
            (
                15,
                "checks.d.load_json_pointer",
                "not a JSON pointer (RFC 6901: \"/key/0/inner\", ~0 for ~ and ~1 for /), got \"n\""
            ),
            (
                18,
                "checks.e.load_json_pointer",
                "not a JSON pointer (RFC 6901: \"/key/0/inner\", ~0 for ~ and ~1 for /), got \"/a~2\""
            ),
            (
                21,
                "checks.f.load_kind",
                "only with load_header, load_json_pointer or load_body"
            ),
            (
                25,
                "checks.g.load_kind",
                "unknown load kind \"cpu\", expected connections or weight"
            ),
            (
                29,
                "checks.t.load_header",
                "only valid for http and https checks"
            ),
        ]
    );
}
