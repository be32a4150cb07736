//! Tests of the policy-file loader: the shipped example, every setting,
//! every error at its line and key, unknown keys in every table.

use std::net::IpAddr;
use std::path::Path;

use rand::SeedableRng as _;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::*;
use crate::diag::line_col;
use crate::health::{HealthTable, Status};
use crate::policy::{
    Answers, ClientInfo, Coords, Decision, Family, OnAllDown, OperatorState, Order, Pick,
    PolicyRng, StickyPrefixes, Tolerance, answer, reason,
};

const EXAMPLE: &str = include_str!("../../../zones/example.test.toml");
const EXAMPLE_PATH: &str = "zones/example.test.toml";

/// The zone of every test file.
fn origin() -> Name {
    Name::from_ascii("example.test.").unwrap()
}

fn load(text: &str) -> (Option<PolicyFile>, Vec<String>, TargetRegistry) {
    let mut targets = TargetRegistry::new();
    let mut diags = Diagnostics::new();
    let file = load_policy_file(
        Path::new("t.toml"),
        text,
        &origin(),
        &mut targets,
        &mut diags,
    );
    // None only for invalid TOML; otherwise the names that compiled.
    if file.is_none() {
        assert!(!diags.is_empty(), "None without a diagnostic");
    }
    (file, diags.iter().map(|d| d.to_string()).collect(), targets)
}

fn errors(text: &str) -> Vec<String> {
    load(text).1
}

/// 1-based line of the first line of `text` that is `needle`.
fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.trim_end() == needle)
        .unwrap_or_else(|| panic!("{needle:?} not in text")) as u32
        + 1
}

#[test]
fn example_loads_clean() {
    let mut targets = TargetRegistry::new();
    let mut diags = Diagnostics::new();
    let file = load_policy_file(
        Path::new(EXAMPLE_PATH),
        EXAMPLE,
        &origin(),
        &mut targets,
        &mut diags,
    );
    assert!(diags.is_empty(), "{diags}");
    assert_eq!(
        diags.warnings().count(),
        0,
        "the example warns about nothing"
    );
    let file = file.unwrap();
    let got: Vec<(&str, u32, &str)> = file
        .names
        .iter()
        .map(|n| (n.owner.as_str(), n.line, n.lb.policy().as_str()))
        .collect();
    let want: Vec<(&str, u32, &str)> = [
        ("www", "weighted"),
        ("rr", "round_robin"),
        ("mv", "multivalue"),
        ("app", "failover"),
        ("shop", "sticky"),
        ("v4only", "weighted"),
        ("cdn", "geo"),
        ("fast", "latency"),
        ("near", "closest"),
        ("api", "least_response_time"),
        ("jobs", "least_connections"),
    ]
    .into_iter()
    .map(|(o, p)| (o, line_of(EXAMPLE, &format!("[names.{o}]")), p))
    .collect();
    assert_eq!(got, want);
    // One target per unique (address, check): 28 members (one of them
    // dual-stack, checked over one family), all distinct.
    assert_eq!(targets.len(), 28);
}

#[test]
fn example_probes_only_loopback() {
    // `cargo run` probes every checked endpoint: never a real network.
    let mut targets = TargetRegistry::new();
    let mut diags = Diagnostics::new();
    load_policy_file(
        Path::new(EXAMPLE_PATH),
        EXAMPLE,
        &origin(),
        &mut targets,
        &mut diags,
    )
    .unwrap();
    let checked: Vec<IpAddr> = targets
        .iter()
        .filter(|(_, k)| k.check.is_some())
        .map(|(_, k)| k.addr)
        .collect();
    assert!(!checked.is_empty());
    assert!(checked.iter().all(|a| a.is_loopback()), "{checked:?}");
}

#[test]
fn example_answers() {
    let mut targets = TargetRegistry::new();
    let mut diags = Diagnostics::new();
    let file = load_policy_file(
        Path::new(EXAMPLE_PATH),
        EXAMPLE,
        &origin(),
        &mut targets,
        &mut diags,
    )
    .unwrap();
    let health = HealthTable::new(targets.len(), Status::Up);
    let client = ClientInfo::new("198.51.100.1".parse().unwrap(), None);
    let mut rng = PolicyRng::seed_from_u64(1);
    let mut out = Decision::default();
    let lb = |o: &str| &file.names.iter().find(|n| n.owner == o).unwrap().lb;
    answer(
        lb("v4only"),
        Family::V6,
        &client,
        &health,
        &mut rng,
        &mut out,
    );
    assert_eq!((out.addrs.len(), out.reason), (0, reason::NO_MEMBERS));
    answer(lb("www"), Family::V4, &client, &health, &mut rng, &mut out);
    assert!(out.addrs.len() == 1 && out.addrs[0].is_ipv4());
    answer(lb("mv"), Family::V6, &client, &health, &mut rng, &mut out);
    assert_eq!(out.addrs.len(), 2);
    answer(lb("app"), Family::V4, &client, &health, &mut rng, &mut out);
    assert_eq!(out.reason.0, "failover: group 1");
    assert_eq!(out.ttl, 20);
}

#[test]
fn one_target_per_address_and_check() {
    let text = r#"
[checks.a]
kind = "tcp"
port = 80
[checks.b]
kind = "tcp"
port = 81
[pools.p]
members = [
  { address = "127.0.0.1", check = "a" },
  { address = "127.0.0.2" },
]
[pools.q]
members = [
  { address = "127.0.0.1", check = "a" },
  { address = "127.0.0.2" },
  { address = "::1", weight = 0, state = "drain", lat = -33.9, lon = 151.2, region = "au", name = "syd" },
]
[pools.r]
members = [{ address = "127.0.0.1", check = "b" }]
[names."@"]
policy = "weighted"
pool = "p"
[names."www.example.test."]
policy = "round_robin"
pool = "q"
"#;
    let (file, errs, targets) = load(text);
    assert!(errs.is_empty(), "{errs:?}");
    // (127.0.0.1, a), (127.0.0.2, none), (::1, none), (127.0.0.1, b).
    assert_eq!(targets.len(), 4);
    let file = file.unwrap();
    let owners: Vec<&str> = file.names.iter().map(|n| n.owner.as_str()).collect();
    assert_eq!(owners, ["@", "www.example.test."]);
    let p = &file.names[0].lb.groups[0].pool;
    let q = &file.names[1].lb.groups[0].pool;
    let ids = |pool: &Pool| pool.iter().map(|m| m.target.0).collect::<Vec<_>>();
    assert_eq!(ids(p), [0, 1]);
    assert_eq!(ids(q), [0, 1, 2]);
    let syd = q.iter().last().unwrap();
    assert_eq!(
        (
            syd.weight,
            syd.state,
            syd.coords,
            syd.region.as_deref(),
            syd.label.as_deref()
        ),
        (
            0,
            OperatorState::Drain,
            Some(Coords {
                lat: -33.9,
                lon: 151.2
            }),
            Some("au"),
            Some("syd")
        )
    );
    assert_eq!(q.iter().next().unwrap().check.as_deref(), Some("a"));
    // Defaults.
    let lb = &file.names[0].lb;
    assert_eq!(
        (lb.ttl, lb.answers, lb.on_all_down.as_str()),
        (30, Answers::Count(1), "all")
    );
}

#[test]
fn compiles_every_setting() {
    let text = r#"
[pools.p]
members = [{ address = "192.0.2.1" }]
[pools.q]
members = [{ address = "192.0.2.2" }]
[names.f]
policy = "failover"
groups = ["q", "p"]
group_policy = "multivalue"
answers = "all"
ttl = 86400
on_all_down = "fallback"
fallback_pool = "p"
[names.s]
policy = "sticky"
pool = "p"
sticky_v4_prefix = 0
sticky_v6_prefix = 128
answers = 64
on_all_down = "servfail"
[names.e]
policy = "multivalue"
pool = "q"
on_all_down = "empty"
"#;
    let (file, errs, _) = load(text);
    assert!(errs.is_empty(), "{errs:?}");
    let file = file.unwrap();
    let f = &file.names[0].lb;
    assert!(f.order.is_failover());
    assert_eq!(f.pick, Pick::Multivalue);
    let groups: Vec<&str> = f.groups.iter().map(|g| g.pool.name.as_str()).collect();
    assert_eq!(groups, ["q", "p"]);
    assert_eq!((f.answers, f.ttl), (Answers::All, 86400));
    assert!(matches!(&f.on_all_down, OnAllDown::Fallback(g) if g.pool.name == "p"));
    let s = &file.names[1].lb;
    assert!(matches!(s.order, Order::Single));
    assert_eq!(s.pick, Pick::Sticky(StickyPrefixes { v4: 0, v6: 128 }));
    assert_eq!(
        (s.answers, s.on_all_down.as_str()),
        (Answers::Count(64), "servfail")
    );
    assert_eq!(file.names[2].lb.on_all_down.as_str(), "empty");
    assert_eq!(
        file.names.iter().map(|n| n.line).collect::<Vec<_>>(),
        [6, 14, 21]
    );
}

#[test]
fn compiles_the_load_aware_picks() {
    let text = r#"
[pools.p]
members = [{ address = "192.0.2.1" }]
[names.l]
policy = "least_response_time"
pool = "p"
rtt_tolerance_ms = 0.5
[names.d]
policy = "least_response_time"
pool = "p"
[names.c]
policy = "least_connections"
pool = "p"
[names.f]
policy = "failover"
groups = ["p"]
group_policy = "sticky"
sticky_v4_prefix = 20
[names.g]
policy = "failover"
groups = ["p"]
group_policy = "least_response_time"
rtt_tolerance_pct = 0
"#;
    let (file, errs, _) = load(text);
    assert!(errs.is_empty(), "{errs:?}");
    let picks: Vec<Pick> = file.unwrap().names.iter().map(|n| n.lb.pick).collect();
    assert_eq!(
        picks,
        [
            Pick::LeastResponseTime(Tolerance { us: 500, pct: 20 }),
            Pick::LeastResponseTime(Tolerance { us: 1000, pct: 20 }),
            Pick::LeastConnections,
            Pick::Sticky(StickyPrefixes { v4: 20, v6: 56 }),
            Pick::LeastResponseTime(Tolerance { us: 1000, pct: 0 }),
        ]
    );
}

/// Where to insert an unknown key into every table of a document:
/// (byte offset, text, table path, 1-based line the key lands on).
fn unknown_key_spots(text: &str) -> Vec<(usize, String, String, u32)> {
    fn walk(text: &str, path: &str, v: &DeValue<'_>, out: &mut Vec<(usize, String, String, u32)>) {
        let children: Vec<(String, &Spanned<DeValue<'_>>)> = match v {
            DeValue::Table(t) => t
                .iter()
                .map(|(k, v)| (format!("{path}.{}", k.get_ref()), v))
                .collect(),
            DeValue::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{path}[{i}]"), v))
                .collect(),
            _ => return,
        };
        for (p, child) in children {
            let segments = p.split('.').count();
            // The section tables, `headers` and the geo rule tables are
            // maps whose keys are names the operator picks, not fields
            // ([geo] is a table of fields).
            let rule_table = p.starts_with(".names.") && segments == 5 && p.contains(".geo.");
            let free_form = (segments == 2 && p != ".geo" && p != ".latency")
                || p.ends_with(".headers")
                || rule_table;
            if let (DeValue::Table(_), false) = (child.get_ref(), free_form) {
                let span = child.span();
                let spot = match text.as_bytes()[span.start] {
                    b'{' => (span.start + 1, " bogus_key = 1,".to_owned()),
                    b'[' => (span.end, "\nbogus_key = 1".to_owned()),
                    _ => {
                        panic!("{p}: neither a [header] nor an {{inline}} table; extend this test")
                    }
                };
                let line =
                    line_col(text, span.start).0 + u32::from(text.as_bytes()[span.start] == b'[');
                out.push((spot.0, spot.1, p.clone(), line));
            }
            walk(text, &p, child.get_ref(), out);
        }
    }
    let doc = DeTable::parse(text).unwrap().into_inner();
    let mut out = vec![(0, "bogus_key = 1\n".to_owned(), "(root)".to_owned(), 1)];
    walk(text, "", &DeValue::Table(doc), &mut out);
    out
}

/// Like hickory's `test_reject_unknown_fields`: an unknown key in any
/// table of the shipped example is an error pointing at that key.
#[test]
fn example_rejects_unknown_keys_in_every_table() {
    let spots = unknown_key_spots(EXAMPLE);
    let kinds = |pred: fn(&str) -> bool| spots.iter().filter(|(_, _, p, _)| pred(p)).count();
    assert_eq!(kinds(|p| p == "(root)"), 1);
    assert_eq!(kinds(|p| p.starts_with(".checks.")), 1);
    assert_eq!(kinds(|p| p.starts_with(".pools.") && !p.contains('[')), 12);
    assert_eq!(kinds(|p| p.starts_with(".pools.") && p.ends_with(']')), 28);
    assert_eq!(kinds(|p| p == ".geo"), 1);
    assert_eq!(kinds(|p| p == ".latency"), 1);
    assert_eq!(kinds(|p| p.starts_with(".geo.nets[")), 2);
    // 11 names, and the geo rules of one
    assert_eq!(kinds(|p| p.starts_with(".names.")), 12);
    for (at, insert, table, line) in spots {
        let mut text = EXAMPLE.to_owned();
        text.insert_str(at, &insert);
        // Beside the example, so its nets_file is found.
        let mut diags = Diagnostics::new();
        let path = Path::new("zones/t.toml");
        load_policy_file(
            path,
            &text,
            &origin(),
            &mut TargetRegistry::new(),
            &mut diags,
        );
        let errs: Vec<String> = diags
            .iter()
            .map(|d| d.to_string().replacen("zones/", "", 1))
            .collect();
        assert_eq!(errs.len(), 1, "{table}: {errs:?}");
        let e = &errs[0];
        assert!(e.contains("bogus_key"), "{table}: {e}");
        assert!(e.starts_with(&format!("t.toml:{line}:")), "{table}: {e}");
    }
}

/// Every error the loader knows, with where it must point. Lines and
/// columns are 1-based; the file is `t.toml`.
#[test]
fn each_error_has_its_line_and_key() {
    let pool = "[pools.p]\nmembers = [{ address = \"192.0.2.1\" }]\n";
    let cases: &[(String, &[&str])] = &[
        (
            // Duplicate keys by their full path, in an inline table of a
            // list, a table, a dotted key and a list of tables.
            "[pools.p]\nmembers = [{ address = \"192.0.2.1\", address = \"192.0.2.2\" }]\n\
             [names.www]\npolicy = \"weighted\"\nttl = 1\nttl = 2\n\
             [checks.c]\nkind = \"tcp\"\nx.port = 1\ny.port = 1\nx.port = 2\n"
                .into(),
            &[
                "t.toml:2:37: pools.p.members[0].address: duplicate key: first set on line 2",
                "t.toml:6:1: names.www.ttl: duplicate key: first set on line 5",
                "t.toml:11:3: checks.c.x.port: duplicate key: first set on line 9",
            ],
        ),
        (
            "[pools.p]\nmembers = [\n  { address = \"255.255.255.255\" },\n  { address = \"224.0.0.1\" },\n  { address = \"ff02::1\" },\n  { address = \"::ffff:192.0.2.1\" },\n  { address = \"::\" },\n]\n".into(),
            &[
                "t.toml:3:15: pools.p.members[0].address: 255.255.255.255 is not a unicast address (the broadcast address)",
                "t.toml:4:15: pools.p.members[1].address: 224.0.0.1 is not a unicast address (a multicast address)",
                "t.toml:5:15: pools.p.members[2].address: ff02::1 is not a unicast address (a multicast address)",
                "t.toml:6:15: pools.p.members[3].address: ::ffff:192.0.2.1 is not a unicast address (an IPv4-mapped IPv6 address: write 192.0.2.1, which is answered as A)",
                "t.toml:7:15: pools.p.members[4].address: :: is not a unicast address (the unspecified address)",
            ],
        ),
        (
            "[pools.p]\nmembers = [\n  { address = \"192.0.2.1\", name = \"a\" },\n  { address = \"192.0.2.2\", name = \"b\" },\n  { address = \"192.0.2.3\", name = \"a\" },\n]\n".into(),
            &[
                "t.toml:5:35: pools.p.members[2].name: \"a\" is already the name of members[0] of this pool: names select members in the admin API, so each must be unique",
            ],
        ),
        (
            "[checks.c]\nkind = \"http\"\nexpect_status = [200, 204.0, true, 99]\n".into(),
            &[
                "t.toml:3:23: checks.c.expect_status[1]: invalid type: floating point `204.0`, expected a status code like 204, or a range in quotes like \"200-299\"",
                "t.toml:3:30: checks.c.expect_status[2]: invalid type: boolean `true`, expected a status code like 204, or a range in quotes like \"200-299\"",
                "t.toml:3:36: checks.c.expect_status[3]: status must be between 100 and 599, got 99",
            ],
        ),
        (
            format!("{pool}[names.www]\npolicy = \"weighted\"\npool = \"nope\"\n"),
            &["t.toml:5:8: names.www.pool: unknown pool \"nope\""],
        ),
        (
            "[pools.p]\nmembers = [\n  { address = \"127.0.0.1\", check = \"nope\" },\n]\n".into(),
            &["t.toml:3:36: pools.p.members[0].check: unknown check \"nope\""],
        ),
        (
            "[pools.p]\nmembers = [\n  { address = \"192.0.2.1\", weight = 1001 },\n  { address = \"192.0.2.2\", weight = -1 },\n]\n".into(),
            &[
                "t.toml:3:37: pools.p.members[0].weight: must be between 0 and 1000, got 1001",
                "t.toml:4:37: pools.p.members[1].weight: must be between 0 and 1000, got -1",
            ],
        ),
        (
            "[pools.p]\nmembers = []\n".into(),
            &["t.toml:2:11: pools.p.members: a pool needs at least one member"],
        ),
        (
            "[pools.p]\nmembers = [\n  { address = \"192.0.2.300\" },\n  { address = \"0.0.0.0\" },\n  { address = \"192.0.2.1\" },\n  { address = \"192.0.2.1\" },\n]\n".into(),
            &[
                "t.toml:3:15: pools.p.members[0].address: invalid IP address \"192.0.2.300\"",
                "t.toml:4:15: pools.p.members[1].address: 0.0.0.0 is not a unicast address (the unspecified address)",
                "t.toml:6:15: pools.p.members[3].address: 192.0.2.1 is already members[2] of this pool",
            ],
        ),
        (
            format!("{pool}[names.www]\npolicy = \"random\"\npool = \"p\"\n"),
            &["t.toml:4:10: names.www.policy: unknown policy \"random\", expected weighted, round_robin, multivalue, failover, sticky, geo, least_response_time, least_connections, latency or closest"],
        ),
        (
            format!("{pool}[names.a]\npolicy = \"weighted\"\npool = \"p\"\nanswers = 0\n[names.b]\npolicy = \"weighted\"\npool = \"p\"\nanswers = 65\n[names.c]\npolicy = \"weighted\"\npool = \"p\"\nanswers = \"some\"\n"),
            &[
                "t.toml:6:11: names.a.answers: must be between 1 and 64 or \"all\", got 0",
                "t.toml:10:11: names.b.answers: must be between 1 and 64 or \"all\", got 65",
                "t.toml:14:11: names.c.answers: must be between 1 and 64 or \"all\", got \"some\"",
            ],
        ),
        (
            format!("{pool}[names.www]\npolicy = \"weighted\"\npool = \"p\"\nttl = 0\n[names.b]\npolicy = \"weighted\"\npool = \"p\"\nttl = 86401\n"),
            &[
                "t.toml:6:7: names.www.ttl: must be between 1 and 86400, got 0",
                "t.toml:10:7: names.b.ttl: must be between 1 and 86400, got 86401",
            ],
        ),
        (
            format!("{pool}[names.a]\npolicy = \"weighted\"\npool = \"p\"\non_all_down = \"fallback\"\n[names.b]\npolicy = \"weighted\"\npool = \"p\"\non_all_down = \"fallback\"\nfallback_pool = \"nope\"\n[names.c]\npolicy = \"weighted\"\npool = \"p\"\nfallback_pool = \"p\"\n[names.d]\npolicy = \"weighted\"\npool = \"p\"\non_all_down = \"sometimes\"\n"),
            &[
                "t.toml:6:15: names.a.fallback_pool: required with on_all_down = \"fallback\"",
                "t.toml:11:17: names.b.fallback_pool: unknown pool \"nope\"",
                "t.toml:15:17: names.c.fallback_pool: only used with on_all_down = \"fallback\"",
                "t.toml:19:15: names.d.on_all_down: unknown mode \"sometimes\", expected all, empty, servfail or fallback",
            ],
        ),
        (
            format!("{pool}[names.a]\npolicy = \"weighted\"\npool = \"p\"\ngroups = [\"p\"]\n[names.b]\npolicy = \"failover\"\n[names.c]\npolicy = \"failover\"\npool = \"p\"\ngroups = [\"p\", \"nope\", \"p\"]\n[names.d]\npolicy = \"sticky\"\n"),
            &[
                "t.toml:6:10: names.a.groups: only for policies failover, latency and closest, not weighted",
                "t.toml:7:8: names.b.groups: required for policy failover",
                "t.toml:11:8: names.c.pool: not used by policy failover; list the pools in `groups`",
                "t.toml:12:16: names.c.groups[1]: unknown pool \"nope\"",
                "t.toml:12:24: names.c.groups[2]: pool \"p\" is listed twice",
                "t.toml:13:8: names.d.pool: required for policy sticky",
            ],
        ),
        (
            format!("{pool}[names.a]\npolicy = \"failover\"\ngroups = []\ngroup_policy = \"random\"\n[names.b]\npolicy = \"weighted\"\npool = \"p\"\ngroup_policy = \"weighted\"\n"),
            &[
                "t.toml:5:10: names.a.groups: needs at least one pool",
                "t.toml:6:16: names.a.group_policy: unknown group policy \"random\", expected weighted, round_robin, multivalue, sticky, least_response_time or least_connections",
                "t.toml:10:16: names.b.group_policy: only for policies failover, geo, latency and closest, not weighted",
            ],
        ),
        (
            format!("{pool}[names.a]\npolicy = \"failover\"\ngroups = [\"p\"]\ngroup_policy = \"weighted\"\nsticky_v4_prefix = 20\nrtt_tolerance_ms = 2\n[names.b]\npolicy = \"least_response_time\"\npool = \"p\"\nrtt_tolerance_ms = -1\nrtt_tolerance_pct = 1001\n[names.c]\npolicy = \"sticky\"\npool = \"p\"\nrtt_tolerance_pct = 5\n"),
            &[
                "t.toml:7:20: names.a.sticky_v4_prefix: only with group_policy = \"sticky\", not weighted",
                "t.toml:8:20: names.a.rtt_tolerance_ms: only with group_policy = \"least_response_time\", not weighted",
                "t.toml:12:20: names.b.rtt_tolerance_ms: must be between 0 and 10000 ms, got -1",
                "t.toml:13:21: names.b.rtt_tolerance_pct: must be between 0 and 1000 %, got 1001",
                "t.toml:17:21: names.c.rtt_tolerance_pct: only for policy least_response_time, not sticky",
            ],
        ),
        (
            format!("{pool}[names.a]\npolicy = \"sticky\"\npool = \"p\"\nsticky_v4_prefix = 33\nsticky_v6_prefix = 129\n[names.b]\npolicy = \"sticky\"\npool = \"p\"\nsticky_v4_prefix = -1\n[names.c]\npolicy = \"weighted\"\npool = \"p\"\nsticky_v6_prefix = 48\n"),
            &[
                "t.toml:6:20: names.a.sticky_v4_prefix: must be between 0 and 32, got 33",
                "t.toml:7:20: names.a.sticky_v6_prefix: must be between 0 and 128, got 129",
                "t.toml:11:20: names.b.sticky_v4_prefix: must be between 0 and 32, got -1",
                "t.toml:15:20: names.c.sticky_v6_prefix: only for policy sticky, not weighted",
            ],
        ),
        (
            "[pools.p]\nmembers = [\n  { address = \"192.0.2.1\", state = \"maybe\", lat = 91, name = \"\" },\n  { address = \"192.0.2.2\", lon = 2.5 },\n]\n".into(),
            &[
                "t.toml:3:36: pools.p.members[0].state: unknown state \"maybe\", expected auto, up, down or drain",
                "t.toml:3:51: pools.p.members[0].lat: must be between -90 and 90, got 91",
                "t.toml:3:51: pools.p.members[0].lon: required with lat",
                "t.toml:3:62: pools.p.members[0].name: must not be empty",
                "t.toml:4:34: pools.p.members[1].lat: required with lon",
            ],
        ),
        (
            format!("{pool}[names.\"a..b\"]\npolicy = \"weighted\"\npool = \"p\"\n[names.WWW]\npolicy = \"weighted\"\npool = \"p\"\n[names.www]\npolicy = \"weighted\"\npool = \"p\"\n"),
            &[
                "t.toml:3:8: names.\"a..b\": owner name \"a..b\" is not a valid name: empty label",
                "t.toml:9:8: names.www: same name as names.WWW (DNS names are case-insensitive)",
            ],
        ),
        (
            format!("{pool}[names.www]\npolicy = \"weighted\"\npool = \"p\"\nttl = \"30\"\n"),
            &["t.toml:6:7: names.www.ttl: invalid type: string \"30\", expected i64"],
        ),
        (
            "[checks.c]\nkind = \"http\"\nbogus = 1\n[pools.p]\nmembers = [{ address = \"192.0.2.1\", color = \"red\" }]\n[names.www]\npolicy = \"weighted\"\npool = \"p\"\nwieght = 2\n[extra]\nx = 1\n".into(),
            &[
                "t.toml:3:1: checks.c: unknown field `bogus`, expected one of `kind`, `port`, `probe_address`, `interval`, `timeout`, `rise`, `fall`, `initial_state`, `method`, `path`, `host`, `tls_server_name`, `tls_verify`, `expect_status`, `body_contains`, `headers`, `user_agent`, `load_header`, `load_json_pointer`, `load_body`, `load_kind`",
                "t.toml:5:37: pools.p.members[0]: unknown field `color`, expected one of `address`, `address6`, `weight`, `name`, `region`, `lat`, `lon`, `check`, `check_family`, `state`",
                "t.toml:9:1: names.www: unknown field `wieght`, expected one of `policy`, `pool`, `groups`, `group_policy`, `ttl`, `ttl_while_failing`, `answers`, `on_all_down`, `fallback_pool`, `sticky_v4_prefix`, `sticky_v6_prefix`, `tolerance_ms`, `tolerance_pct`, `rtt_tolerance_ms`, `rtt_tolerance_pct`, `geo`",
                "t.toml:10:2: extra: unknown key, expected one of `checks`, `pools`, `names`, `geo`, `latency`",
            ],
        ),
        (
            "[pools.p]\nmembers = [{ address = \"192.0.2.1\" }\n[names.www]\npolicy = = 1\n".into(),
            &[],
        ),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = errors(text);
        if want.is_empty() {
            // Syntax errors: at least one, each with a line and column.
            assert!(!got.is_empty(), "{text}");
            for e in &got {
                assert!(e.starts_with("t.toml:") && e.split(':').count() >= 4, "{e}");
            }
            continue;
        }
        if &got != want {
            failures.push(format!(
                "--- text ---\n{text}--- got ---\n{}\n",
                got.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Owners follow the zone files' rule and compare as names: a relative and
/// an absolute spelling of one name collide, and a wildcard is refused.
#[test]
fn owners_are_names_of_the_zone() {
    let pool = "[pools.p]\nmembers = [{ address = \"192.0.2.1\" }]\n";
    let text = format!(
        "{pool}[names.www]\npolicy = \"weighted\"\npool = \"p\"\n\
         [names.\"WWW.example.test.\"]\npolicy = \"weighted\"\npool = \"p\"\n\
         [names.\"*.w\"]\npolicy = \"weighted\"\npool = \"p\"\n\
         [names.a_b]\npolicy = \"weighted\"\npool = \"p\"\n"
    );
    let (file, errs, _) = load(&text);
    assert_eq!(
        errs,
        [
            "t.toml:6:8: names.\"WWW.example.test.\": same name as names.www (DNS names are case-insensitive)",
            "t.toml:9:8: names.\"*.w\": owner name \"*.w\" is a wildcard; a load-balanced name is one name",
        ]
    );
    let names: Vec<String> = file
        .unwrap()
        .names
        .iter()
        .map(|n| n.name.to_ascii())
        .collect();
    assert_eq!(names, ["www.example.test.", "a_b.example.test."]);
}

/// Within one entry, every bad value is reported: a mistyped value
/// (`weight = 1.5`) does not hide its neighbours' range errors, an unknown
/// key does not hide the bad values beside it, and a mistyped value adds
/// no follow-on error ("required", "must be less than").
#[test]
fn every_error_of_an_entry_is_reported() {
    let pool = "[pools.p]\nmembers = [{ address = \"192.0.2.1\" }]\n";
    let cases: &[(String, &[&str])] = &[
        (
            "[pools.p]\nmembers = [\n  { address = \"192.0.2.1\", weight = 1.5 },\n  { address = \"192.0.2.2\", weight = 5000 },\n  { address = 5, weight = -1, colour = \"red\" },\n  \"192.0.2.4\",\n]\n".into(),
            &[
                "t.toml:3:37: pools.p.members[0].weight: invalid type: floating point `1.5`, expected i64",
                "t.toml:4:37: pools.p.members[1].weight: must be between 0 and 1000, got 5000",
                "t.toml:5:15: pools.p.members[2].address: invalid type: integer `5`, expected a string",
                "t.toml:5:27: pools.p.members[2].weight: must be between 0 and 1000, got -1",
                "t.toml:5:31: pools.p.members[2]: unknown field `colour`, expected one of `address`, `address6`, `weight`, `name`, `region`, `lat`, `lon`, `check`, `check_family`, `state`",
                "t.toml:6:3: pools.p.members[3]: invalid type: string \"192.0.2.4\", expected a map",
            ],
        ),
        (
            format!("{pool}[names.www]\npolicy = \"weighted\"\npool = \"p\"\nwieght = 2\nttl = 0\nanswers = \"some\"\n"),
            &[
                "t.toml:6:1: names.www: unknown field `wieght`, expected one of `policy`, `pool`, `groups`, `group_policy`, `ttl`, `ttl_while_failing`, `answers`, `on_all_down`, `fallback_pool`, `sticky_v4_prefix`, `sticky_v6_prefix`, `tolerance_ms`, `tolerance_pct`, `rtt_tolerance_ms`, `rtt_tolerance_pct`, `geo`",
                "t.toml:7:7: names.www.ttl: must be between 1 and 86400, got 0",
                "t.toml:8:11: names.www.answers: must be between 1 and 64 or \"all\", got \"some\"",
            ],
        ),
        (
            format!("{pool}[names.f]\npolicy = \"failover\"\ngroups = \"p\"\non_all_down = 3\nfallback_pool = \"p\"\n[names.g]\npool = \"p\"\nttl = 0\n"),
            &[
                "t.toml:5:10: names.f.groups: invalid type: string \"p\", expected a sequence",
                "t.toml:6:15: names.f.on_all_down: invalid type: integer `3`, expected a string",
                "t.toml:8:1: names.g: missing field `policy`",
                "t.toml:10:7: names.g.ttl: must be between 1 and 86400, got 0",
            ],
        ),
        (
            "[checks.c]\nkind = \"tcp\"\nport = \"80\"\ninterval = \"5\"\ntimeout = 9\nbogus = 1\nrise = 0\n[checks.d]\nport = 80\nfall = 0\n".into(),
            &[
                "t.toml:3:8: checks.c.port: invalid type: string \"80\", expected i64",
                "t.toml:4:12: checks.c.interval: invalid type: string \"5\", expected f64",
                "t.toml:6:1: checks.c: unknown field `bogus`, expected one of `kind`, `port`, `probe_address`, `interval`, `timeout`, `rise`, `fall`, `initial_state`, `method`, `path`, `host`, `tls_server_name`, `tls_verify`, `expect_status`, `body_contains`, `headers`, `user_agent`, `load_header`, `load_json_pointer`, `load_body`, `load_kind`",
                "t.toml:7:8: checks.c.rise: must be between 1 and 100, got 0",
                "t.toml:8:1: checks.d: missing field `kind`",
                "t.toml:10:8: checks.d.fall: must be between 1 and 100, got 0",
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let got = errors(text);
        if &got != want {
            failures.push(format!(
                "--- text ---\n{text}--- got ---\n{}\n",
                got.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A generated file with thousands of bad keys reports the first 1,000
/// (each at its own line: positions come from one line index, not a scan
/// from the start per error) and one line counting the rest, as zone files
/// stop at 1,000 errors.
#[test]
fn errors_per_file_are_capped_with_a_count_of_the_rest() {
    let n = 5000;
    let text: String = (0..n).map(|i| format!("k{i} = 1\n")).collect();
    let mut targets = TargetRegistry::new();
    let mut diags = Diagnostics::new();
    load_policy_file(
        Path::new("t.toml"),
        &text,
        &origin(),
        &mut targets,
        &mut diags,
    );
    let got: Vec<String> = diags.iter().map(|d| d.to_string()).collect();
    assert_eq!(got.len(), crate::diag::MAX_ERRORS_PER_FILE + 1);
    assert!(
        got[0].starts_with("t.toml:1:1: k0: unknown key"),
        "{}",
        got[0]
    );
    assert!(
        got[999].starts_with("t.toml:1000:1: k999: unknown key"),
        "{}",
        got[999]
    );
    assert_eq!(
        got[1000],
        "t.toml:1000:1: 4000 more errors not shown (at most 1000 are reported per file)"
    );
}

/// `address6` makes one dual-stack endpoint; `check_family` says which
/// address its check probes (both: two targets, one health state).
#[test]
fn dual_stack_members() {
    let text = r#"
[checks.c]
kind = "tcp"
port = 80
[pools.p]
members = [
  { address = "192.0.2.1", address6 = "2001:db8::1", check = "c" },
  { address = "192.0.2.2", address6 = "2001:db8::2", check = "c", check_family = "v6" },
  { address = "192.0.2.3", address6 = "2001:db8::3", check = "c", check_family = "both" },
  { address = "192.0.2.4" },
]
[names.www]
policy = "sticky"
pool = "p"
"#;
    let (file, errs, targets) = load(text);
    assert!(errs.is_empty(), "{errs:?}");
    let lb = &file.unwrap().names[0].lb;
    let pool = &lb.groups[0].pool;
    assert_eq!(pool.members(Family::V4).len(), 4);
    assert_eq!(pool.members(Family::V6).len(), 3);
    let probed = |id: crate::health::TargetId| targets.get(id).unwrap().addr.to_string();
    let m: Vec<&crate::policy::Member> = pool.iter().collect();
    assert_eq!(m.len(), 4);
    assert_eq!((probed(m[0].target), m[0].also), ("192.0.2.1".into(), None));
    assert_eq!(
        (probed(m[1].target), m[1].also),
        ("2001:db8::2".into(), None)
    );
    assert_eq!(probed(m[2].target), "192.0.2.3");
    assert_eq!(probed(m[2].also.unwrap()), "2001:db8::3");
    assert_eq!(m[2].other, Some("2001:db8::3".parse().unwrap()));
    assert_eq!(targets.len(), 5);

    let bad = r#"
[pools.p]
members = [
  { address = "2001:db8::1", address6 = "2001:db8::2" },
  { address = "192.0.2.1", address6 = "192.0.2.2" },
  { address = "192.0.2.3", check_family = "v6" },
  { address = "192.0.2.4", address6 = "2001:db8::4", check_family = "v5" },
  { address = "192.0.2.5", address6 = "2001:db8::4" },
  { address = "2001:db8::5" },
  { address = "192.0.2.6", address6 = "2001:db8::5" },
  { address = "192.0.2.7", address6 = "::ffff:192.0.2.7" },
]
"#;
    assert_eq!(
        errors(bad),
        [
            "t.toml:4:15: pools.p.members[0].address: 2001:db8::1 is not an IPv4 address; with address6, address is the endpoint's IPv4 address",
            "t.toml:5:39: pools.p.members[1].address6: 192.0.2.2 is not an IPv6 address; address6 is the endpoint's IPv6 address",
            "t.toml:6:43: pools.p.members[2].check_family: only for a dual-stack member (with address6)",
            "t.toml:7:69: pools.p.members[3].check_family: unknown check family \"v5\", expected v4, v6 or both",
            // members[4] repeats members[3]'s address6, but members[3] did
            // not compile: no follow-on error
            "t.toml:10:39: pools.p.members[6].address6: 2001:db8::5 is already members[5] of this pool",
            "t.toml:11:39: pools.p.members[7].address6: ::ffff:192.0.2.7 is not a unicast address (an IPv4-mapped IPv6 address: write 192.0.2.7, which is answered as A)",
        ]
    );
}
