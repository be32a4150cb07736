//! The latency parts of a policy file: `[latency]`, pool sites, latency
//! and closest names, and every mistake at its line and key.

use std::path::Path;

use super::*;
use crate::policy::latency::{LatencyMap, Ranking, RowKey};
use crate::policy::{Order, Tolerance};

fn origin() -> Name {
    Name::from_ascii("example.test.").unwrap()
}

/// Load `text` as `DIR/t.toml`; (file, errors, warnings, files named).
fn load_in(dir: &Path, text: &str) -> (Option<PolicyFile>, Vec<String>, Vec<String>, Vec<PathBuf>) {
    let mut targets = TargetRegistry::new();
    let mut diags = Diagnostics::new();
    let (file, named) = load_policy_file_reading(
        &dir.join("t.toml"),
        text,
        &origin(),
        &mut targets,
        &mut diags,
    );
    let strip = |s: String| s.replacen(&format!("{}/", dir.display()), "", 1);
    let errors = diags.iter().map(|d| strip(d.to_string())).collect();
    let warnings = diags
        .warnings()
        .map(|d| strip(d.as_warning().to_string()))
        .collect();
    (file, errors, warnings, named)
}

fn load(text: &str) -> (Option<PolicyFile>, Vec<String>, Vec<String>) {
    let (f, e, w, _) = load_in(Path::new("/nonexistent"), text);
    (f, e, w)
}

const POOLS: &str = r#"[pools.us]
members = [{ address = "192.0.2.1" }]
lat = 39.04
lon = -77.49
weight = 3
bias_ms = -2.5
[pools.eu]
members = [{ address = "192.0.2.2" }]
lat = 50.11
lon = 8.68
bias = 20
[pools.ap]
members = [{ address = "192.0.2.3" }]
"#;

fn map<'a>(file: &'a PolicyFile, owner: &str) -> &'a LatencyMap {
    let lb = &file.names.iter().find(|n| n.owner == owner).unwrap().lb;
    match &lb.order {
        Order::Latency(m) => m,
        other => panic!("{owner}: {other:?}"),
    }
}

#[test]
fn latency_and_closest_names_compile_with_their_sites() {
    let dir = std::env::temp_dir().join(format!("dnslb-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("t.latency.toml"),
        "rows = [\n  { net = \"198.51.100.0/24\", ms = { eu = 12, us = 80 } },\n  { country = \"JP\", ms = { ap = 6 } },\n]\n",
    )
    .unwrap();
    let text = format!(
        "{POOLS}[latency]\ntable = \"t.latency.toml\"\npath_factor = 2\n[names.fast]\npolicy = \"latency\"\ngroups = [\"eu\", \"us\", \"ap\"]\ntolerance_ms = 2\ntolerance_pct = 0\ngroup_policy = \"least_response_time\"\n[names.near]\npolicy = \"closest\"\ngroups = [\"us\", \"eu\"]\n[names.dflt]\npolicy = \"latency\"\ngroups = [\"us\"]\n"
    );
    let (file, errors, warnings, named) = load_in(&dir, &text);
    assert!(
        errors.is_empty() && warnings.is_empty(),
        "{errors:?} {warnings:?}"
    );
    assert_eq!(named, [dir.join("t.latency.toml")], "the table is watched");
    let file = file.unwrap();
    let fast = map(&file, "fast");
    assert_eq!(fast.ranking(), Ranking::Latency);
    assert_eq!(fast.tolerance(), Tolerance { us: 2_000, pct: 0 });
    assert_eq!(fast.model().path_factor, 2.0);
    assert!(
        fast.needs_location(),
        "pools with coordinates, a country row"
    );
    let rows = fast.table().unwrap().rows();
    assert_eq!(
        rows[1].key,
        RowKey::Country(crate::geoip::Country::from_code("JP").unwrap())
    );
    let lb = &file.names[0].lb;
    assert_eq!(
        lb.describe_policy(),
        "latency (group_policy least_response_time (tolerance 1 ms or 20 %), tolerance 2 ms, path factor 2)"
    );
    let sites: Vec<_> = lb.groups.iter().map(|g| g.pool.site).collect();
    assert_eq!((sites[1].weight, sites[1].bias_us), (3, -2_500));
    assert_eq!((sites[0].bias_pct, sites[2].coords), (20, None));
    assert_eq!(map(&file, "near").ranking(), Ranking::Closest);
    assert!(
        map(&file, "near").table().is_none(),
        "closest reads no table"
    );
    assert_eq!(
        map(&file, "dflt").tolerance(),
        Tolerance { us: 5_000, pct: 10 },
        "the defaults"
    );
    // An unreadable table is an error at its key; the path is still named.
    std::fs::remove_file(dir.join("t.latency.toml")).unwrap();
    let (file, errors, _, named) = load_in(&dir, &text);
    assert!(file.unwrap().names.is_empty());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("t.toml:15:9: latency.table: cannot read latency table "),
        "{errors:?}"
    );
    assert_eq!(named.len(), 1);
    // Errors inside the table point into it.
    std::fs::write(
        dir.join("t.latency.toml"),
        "rows = [{ country = \"JP\", ms = { asia = 6 } }]\n",
    )
    .unwrap();
    let (_, errors, _, _) = load_in(&dir, &text);
    assert_eq!(
        errors,
        [
            "t.latency.toml:1:34: rows[0].ms.asia: unknown pool \"asia\"; the policy file's pools are us, eu, ap"
        ]
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn each_latency_error_has_its_line_and_key() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[pools.p]\nmembers = [{ address = \"192.0.2.1\" }]\nlat = 91\nweight = 0\nbias_ms = 10001\nbias = 100\n[pools.q]\nmembers = [{ address = \"192.0.2.2\" }]\nlon = 5\n",
            &[
                "t.toml:3:7: pools.p.lat: must be between -90 and 90, got 91",
                "t.toml:3:7: pools.p.lon: required with lat",
                "t.toml:4:10: pools.p.weight: must be between 1 and 1000, got 0",
                "t.toml:5:11: pools.p.bias_ms: must be between -10000 and 10000 ms, got 10001",
                "t.toml:6:8: pools.p.bias: must be between -99 and 99, got 100",
                "t.toml:9:7: pools.q.lat: required with lon",
            ],
        ),
        (
            "[pools.p]\nmembers = [{ address = \"192.0.2.1\" }]\n[names.a]\npolicy = \"latency\"\npool = \"p\"\n[names.b]\npolicy = \"closest\"\ngroups = [\"p\"]\ntolerance_ms = 3\n[names.c]\npolicy = \"weighted\"\npool = \"p\"\ntolerance_pct = 5\n[names.d]\npolicy = \"latency\"\ngroups = [\"p\"]\ntolerance_ms = -1\n",
            &[
                "t.toml:3:8: names.a.groups: required for policy latency",
                "t.toml:5:8: names.a.pool: not used by policy latency; list the pools in `groups`",
                "t.toml:9:16: names.b.tolerance_ms: only for policy latency, not closest",
                "t.toml:13:17: names.c.tolerance_pct: only for policy latency, not weighted",
                "t.toml:17:16: names.d.tolerance_ms: must be between 0 and 10000 ms, got -1",
            ],
        ),
        (
            "[latency]\npath_factor = 0.5\ntable = 3\nextra = 1\n",
            &[
                "t.toml:2:15: latency.path_factor: must be between 1 and 5, got 0.5",
                "t.toml:3:9: latency.table: invalid type: integer `3`, expected a string",
                "t.toml:4:1: latency: unknown field `extra`, expected `table` or `path_factor`",
            ],
        ),
    ];
    for (text, want) in cases {
        let (_, errors, _) = load(text);
        assert_eq!(&errors, want, "--- text ---\n{text}");
    }
}

#[test]
fn a_latency_name_ranks_at_most_32_pools_and_warns_without_estimates() {
    let mut text = String::new();
    for i in 0..33 {
        text.push_str(&format!(
            "[pools.p{i}]\nmembers = [{{ address = \"192.0.2.{i}\" }}]\n"
        ));
    }
    let all: Vec<String> = (0..33).map(|i| format!("\"p{i}\"")).collect();
    let too_many = format!(
        "{text}[names.a]\npolicy = \"latency\"\ngroups = [{}]\n",
        all.join(", ")
    );
    let (_, errors, _) = load(&too_many);
    assert_eq!(
        errors,
        ["t.toml:69:10: names.a.groups: 33 pools; a latency name ranks at most 32"]
    );
    let few = format!("{text}[names.a]\npolicy = \"latency\"\ngroups = [\"p0\", \"p1\"]\n");
    let (file, errors, warnings) = load(&few);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(file.unwrap().names.len(), 1);
    assert_eq!(
        warnings,
        [
            "t.toml:67:8: warning: names.a: no pool of this latency name has lat/lon and the file has no [latency] table: every client gets the pools in `groups` order"
        ]
    );
}

#[test]
fn a_pool_nothing_can_estimate_is_warned_about_at_its_groups_entry() {
    // `ap` has no lat/lon: a closest name can only put it last, and so can
    // a latency name unless its table has a figure for it.
    let dir = std::env::temp_dir().join(format!("dnslb-latency-blind-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("t.latency"),
        "rows = [{ country = \"JP\", ms = { ap = 6 } }]\n",
    )
    .unwrap();
    let names = "[names.near]\npolicy = \"closest\"\ngroups = [\"us\", \"ap\", \"eu\"]\n[names.fast]\npolicy = \"latency\"\ngroups = [\"us\", \"ap\"]\n";
    let without_table = format!("{POOLS}{names}");
    let (file, errors, warnings) = load(&without_table);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(file.is_some());
    assert_eq!(
        warnings,
        [
            "t.toml:16:17: warning: names.near.groups[1]: pool \"ap\" has no lat/lon: this closest name ranks it after every pool with coordinates, for every client",
            "t.toml:19:17: warning: names.fast.groups[1]: pool \"ap\" has no lat/lon and no [latency] table: this latency name ranks it after every pool it can estimate, for every client",
        ]
    );
    // With a table that has a figure for `ap`, the latency name can
    // estimate it (for Japan); the closest name reads no table.
    let with_table = format!("{POOLS}[latency]\ntable = \"t.latency\"\n{names}");
    let (file, errors, warnings, _) = load_in(&dir, &with_table);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
    assert!(file.is_some());
    assert_eq!(
        warnings,
        [
            "t.toml:18:17: warning: names.near.groups[1]: pool \"ap\" has no lat/lon: this closest name ranks it after every pool with coordinates, for every client"
        ]
    );
    // Coordinates on the members only: the warning says where they go.
    let members_only = POOLS.replace(
        "members = [{ address = \"192.0.2.3\" }]",
        "members = [{ address = \"192.0.2.3\", lat = 35.68, lon = 139.65 }]",
    );
    let (_, errors, warnings) = load(&format!(
        "{members_only}[names.near]\npolicy = \"closest\"\ngroups = [\"us\", \"ap\"]\n"
    ));
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        warnings,
        [
            "t.toml:16:17: warning: names.near.groups[1]: pool \"ap\" has no lat/lon: this closest name ranks it after every pool with coordinates, for every client (its members' lat/lon are labels only: give the pool's own lat/lon)"
        ]
    );
}
