//! Broken zone files: `dnslb check` and `dnslb serve` report every error
//! with its file and line, serve refuses to start unless
//! `allow_partial_zones` is set, and then serves the zones that loaded.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::harness::{Setup, repo_root, run};

const HEAD: &str = "$TTL 300\n@ IN SOA ns hostmaster 1 7200 3600 1209600 60\n  IN NS ns\n";

/// Two clean zones (one with out-of-zone data) and three broken ones.
fn broken_setup(tag: &str, config: &str) -> Setup {
    let outside = format!(
        "{HEAD}ns IN A 192.0.2.3\nwww.elsewhere.example. IN A 192.0.2.4\nok IN A 192.0.2.5\nalso.outside.org. IN TXT \"x\"\n"
    );
    let cname = format!("{HEAD}ns IN A 192.0.2.6\nwww IN CNAME ns\nwww IN TXT \"beside\"\n");
    let syntax =
        format!("{HEAD}ns IN A 192.0.2.7\nbad IN A 999.1.1.1\nworse IN MX ten mail\n$FOO bar\n");
    Setup::new(
        tag,
        &[
            ("good.test", &format!("{HEAD}ns IN A 192.0.2.1\n")),
            (
                "nosoa.test",
                "$TTL 300\n@ IN NS ns.nosoa.test.\nns IN A 192.0.2.2\n",
            ),
            ("outside.test", &outside),
            ("cname.test", &cname),
            ("syntax.test", &syntax),
        ],
        config,
    )
}

/// (zone, line, text the message must contain), for every error in
/// [`broken_setup`] that belongs to a line.
const LINE_ERRORS: &[(&str, u32, &str)] = &[
    (
        "cname.test",
        6,
        "www.cname.test. has a CNAME beside other data (TXT)",
    ),
    ("syntax.test", 5, "A record"),
    ("syntax.test", 6, "MX record"),
    ("syntax.test", 7, "$FOO"),
];
/// Every error, the missing SOA included.
const ERROR_COUNT: usize = 5;

/// Out-of-zone data is dropped with a warning, as BIND does; the zone loads.
const WARNINGS: &[(&str, u32, &str)] = &[
    (
        "outside.test",
        5,
        "warning: ignoring out-of-zone data (www.elsewhere.example. is outside the zone outside.test.)",
    ),
    (
        "outside.test",
        7,
        "warning: ignoring out-of-zone data (also.outside.org. is outside the zone outside.test.)",
    ),
];

/// The lines of `stderr` that are errors about files of `setup` (warnings,
/// `FILE:LINE: warning: ...`, are printed in the same list).
fn diagnostics<'a>(setup: &Setup, stderr: &'a str) -> Vec<&'a str> {
    let dir = setup.zone_file("x");
    let dir = dir.parent().unwrap().display().to_string();
    stderr
        .lines()
        .filter(|l| l.starts_with(&dir) && !l.contains(": warning: "))
        .collect()
}

#[track_caller]
fn assert_every_error_reported(setup: &Setup, stderr: &str) {
    let diags = diagnostics(setup, stderr);
    for (zone, line, text) in LINE_ERRORS {
        let prefix = format!("{}:{line}: ", setup.zone_file(zone).display());
        assert!(
            diags
                .iter()
                .any(|d| d.starts_with(&prefix) && d.contains(text)),
            "missing `{prefix}... {text}` in:\n{stderr}"
        );
    }
    let nosoa = setup.zone_file("nosoa.test").display().to_string();
    assert!(
        diags
            .iter()
            .any(|d| d.starts_with(&nosoa) && d.contains("no SOA record")),
        "missing the no-SOA error for {nosoa} in:\n{stderr}"
    );
    assert_eq!(diags.len(), ERROR_COUNT, "one line per error:\n{stderr}");
    let good = setup.zone_file("good.test").display().to_string();
    assert!(
        !stderr.contains(&good),
        "the good zone has no errors:\n{stderr}"
    );
}

#[test]
fn check_reports_every_zone_error_with_file_and_line() {
    let setup = broken_setup("check-broken", "");
    let out = setup.check();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{}", out.stderr);
    assert!(!out.stdout.contains("ok"), "stdout: {}", out.stdout);
    assert_every_error_reported(&setup, &out.stderr);
    assert!(
        out.stderr.contains(&format!("{ERROR_COUNT} error(s)")),
        "{}",
        out.stderr
    );
    for (zone, line, text) in WARNINGS {
        let want = format!("{}:{line}: {text}", setup.zone_file(zone).display());
        assert!(
            out.stderr.contains(&want),
            "missing `{want}` in:\n{}",
            out.stderr
        );
    }
}

/// The brief's contract: every error printed as `FILE:LINE: message`. A
/// missing SOA has no line of its own; the apex's first record (or line 1)
/// would do.
#[test]
fn missing_soa_error_has_a_line() {
    let setup = broken_setup("check-nosoa-line", "");
    let out = setup.check();
    let nosoa = setup.zone_file("nosoa.test").display().to_string();
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with(&nosoa))
        .unwrap_or_else(|| panic!("no error for {nosoa}:\n{}", out.stderr));
    let rest = &line[nosoa.len()..];
    let num: String = rest
        .strip_prefix(':')
        .unwrap_or("")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert!(!num.is_empty(), "no line number in `{line}`");
}

#[test]
fn serve_refuses_broken_zones_and_prints_every_error() {
    let setup = broken_setup("serve-broken", "");
    let (status, stderr) = setup.serve_expecting_failure();
    assert_eq!(status.code(), Some(1), "stderr:\n{stderr}");
    assert_every_error_reported(&setup, &stderr);
    assert!(stderr.contains("refusing to start"), "{stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[tokio::test]
async fn allow_partial_zones_serves_the_zones_that_load() {
    let setup = broken_setup("serve-partial", "allow_partial_zones = true");
    let srv = setup.serve();
    // the errors are still printed at start-up
    assert_every_error_reported(&setup, &srv.startup_log.join("\n"));
    for p in BOTH {
        let m = ask(p, srv.addr, "good.test.", RecordType::SOA).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{p:?}");
        assert!(m.metadata.authoritative);
        assert_eq!(m.answers.len(), 1, "{}", describe(&m));
        // a zone with any error is not served at all, not even its good part
        let m = ask(p, srv.addr, "ns.outside.test.", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{p:?}");
        for q in ["nosoa.test.", "ns.cname.test.", "ns.syntax.test."] {
            let m = ask(p, srv.addr, q, RecordType::A).await;
            assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{p:?} {q}");
        }
    }
}

#[test]
fn check_accepts_the_shipped_config() {
    let cfg = repo_root().join("dnslb.toml");
    let out = run(&["check".into(), "--config".into(), cfg.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", out.stderr);
    assert_eq!(out.stdout.trim(), "ok");
}

/// Unknown keys and out-of-range values are errors with FILE:LINE:COL.
#[test]
fn check_rejects_unknown_config_keys_and_bad_values() {
    let setup = Setup::new(
        "check-config",
        &[("good.test", &format!("{HEAD}ns IN A 192.0.2.1\n"))],
        "udp_payload_sise = 1232",
    );
    let out = setup.check();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{}", out.stderr);
    let cfg = setup.config().display().to_string();
    assert!(
        out.stderr.contains(&format!("{cfg}:2:1: ")) && out.stderr.contains("udp_payload_sise"),
        "{}",
        out.stderr
    );

    let setup = Setup::new(
        "check-config-range",
        &[("good.test", &format!("{HEAD}ns IN A 192.0.2.1\n"))],
        "tcp_max_connections = 0\nudp_payload_size = 100",
    );
    let out = setup.check();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{}", out.stderr);
    let cfg = setup.config().display().to_string();
    for (line, key) in [(2, "tcp_max_connections"), (3, "udp_payload_size")] {
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with(&format!("{cfg}:{line}:")) && l.contains(key)),
            "no {key} error on line {line}:\n{}",
            out.stderr
        );
    }
}

/// "Prints every error", across files and within one: an unknown key in
/// `dnslb.toml` beside bad values, a broken zone file and the errors of
/// its own policy file (a mistyped weight beside another member's range
/// error, an unknown key beside a bad value) all come out of one `check`
/// run, and `serve` prints the same list and refuses to start.
#[test]
fn check_prints_every_error_of_every_file() {
    let zone = format!("{HEAD}ns IN A 192.0.2.1\nbad IN A 999.1.1.1\n");
    let setup = Setup::new(
        "check-every-file",
        &[("broken.test", &zone)],
        "listne = [\"127.0.0.1:53\"]\nudp_payload_size = 100\n",
    );
    setup.write_policy(
        "broken.test",
        "[pools.p]\nmembers = [\n  { address = \"192.0.2.1\", weight = 1.5 },\n  { address = \"192.0.2.2\", weight = 5000 },\n]\n\
         [names.www]\npolicy = \"weighted\"\npool = \"p\"\nwieght = 2\nttl = 0\n",
    );
    let cfg = setup.config().display().to_string();
    let zone = setup.zone_file("broken.test").display().to_string();
    let policy = setup.policy_file("broken.test").display().to_string();
    let want = [
        format!("{cfg}:2:1: unknown field `listne`"),
        format!("{cfg}:3:20: udp_payload_size: must be between 512 and 4096, got 100"),
        format!("{policy}:3:37: pools.p.members[0].weight: invalid type: floating point `1.5`"),
        format!("{policy}:4:37: pools.p.members[1].weight: must be between 0 and 1000, got 5000"),
        format!("{policy}:9:1: names.www: unknown field `wieght`"),
        format!("{policy}:10:7: names.www.ttl: must be between 1 and 86400, got 0"),
        format!("{zone}:5: "),
    ];
    let out = setup.check();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{}", out.stderr);
    let (status, serve_stderr) = setup.serve_expecting_failure();
    assert_eq!(status.code(), Some(1), "stderr:\n{serve_stderr}");
    for stderr in [&out.stderr, &serve_stderr] {
        for w in &want {
            assert!(
                stderr.lines().any(|l| l.starts_with(w.as_str())),
                "missing `{w}` in:\n{stderr}"
            );
        }
        assert!(
            stderr.contains(&format!("{} error(s)", want.len())),
            "{stderr}"
        );
    }
}
