//! The latency table file: measured round-trip times from client networks
//! and places to pools, named by a policy file's `[latency] table` and
//! compiled into a [`LatencyTable`] for its latency names.
//!
//! TOML with one key, `rows`, a list of inline tables; each row has
//! exactly one key saying which clients it is for, and `ms`, the expected
//! round-trip time to each pool it knows, in milliseconds:
//!
//! ```toml
//! rows = [
//!   { net = "198.51.100.0/24", ms = { eu-central = 12, us-east = 81 } },
//!   { region = "lab", ms = { lab = 0.3 } },
//!   { subdivision = "US-CA", ms = { us-west = 9, us-east = 64 } },
//!   { country = "JP", ms = { ap-northeast = 6, us-west = 105 } },
//!   { continent = "EU", ms = { eu-central = 18, us-east = 90 } },
//! ]
//! ```
//!
//! The most specific row with a figure for a pool gives that pool's
//! figure: the longest matching network, then region, subdivision,
//! country, continent. It is read like the policy file, key by key, so
//! every problem is reported at `FILE:LINE:COL: rows[N].key: message`:
//! an unknown pool (a typo would silently fall back to distance), a
//! network with host bits, an unknown code or region, a row given twice,
//! a figure outside 0..=60000 ms. Like a nets file it must be a regular
//! file of at most [`MAX_TABLE_BYTES`], and it is reloaded with its
//! policy file (SIGHUP, `POST /reload`, or a change to either file).
//!
//! How to make one: collect RTTs per client network and site (browser
//! beacons timing a small object from every site, RIPE Atlas or your own
//! probes from many networks), take a robust figure per (network, site)
//! such as the median, aggregate the networks that agree into wider
//! prefixes or countries, and write the rows; `bench/latency_table.py`
//! turns a CSV of `client,pool,ms` into this format.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;
use toml::de::DeValue;

use crate::config::fields::{Cx, Fields, named_entries, value_of};
use crate::config::places::{
    country_code, parse_net, subdivision_code, unknown_continent, unknown_country,
    unknown_subdivision,
};
use crate::config::values::float_in;
use crate::diag::LineIndex;
use crate::geoip::nets::canonical_net;
use crate::geoip::{Continent, CustomNets};
use crate::policy::latency::{LatencyTable, RowKey, TableRow};

/// Largest table file read: 64 MiB.
pub const MAX_TABLE_BYTES: u64 = 64 << 20;

/// Largest figure: a minute.
pub const MAX_MS: f64 = 60_000.0;

/// The row keys, most specific first.
const KEYS: [&str; 5] = ["net", "region", "subdivision", "country", "continent"];

/// Read and compile the table at `path` for a policy file whose pools are
/// `pools` and custom networks `nets` (`None`: its `[geo]` is broken, so
/// region rows are not checked). Every problem goes to `cx`'s diagnostics
/// against the table file, except that an unreadable file is reported at
/// `at` in the policy file (`cx`), against `key`.
pub(crate) fn load_latency_table(
    cx: &mut Cx<'_>,
    at: usize,
    key: &str,
    path: &Path,
    pools: &[&str],
    nets: Option<&CustomNets>,
) -> Option<Arc<LatencyTable>> {
    let kind = crate::files::FileKind {
        what: "latency table",
        max_bytes: MAX_TABLE_BYTES,
    };
    let text = match crate::files::read_text(path, kind) {
        Ok(t) => t,
        // A bad byte: at its line in the table itself.
        Err(e @ crate::files::ReadError::NotUtf8 { .. }) => {
            let (line, col, message) = e.in_file("latency table");
            cx.diags.error(path, line, col, "", message);
            return None;
        }
        Err(e) => {
            cx.error(
                at,
                key,
                format!("cannot read latency table {}: {e}", path.display()),
            );
            return None;
        }
    };
    let mut sub = Cx::new(path, &text, &mut *cx.diags);
    compile(&mut sub, pools, nets)
}

/// Check and compile the table text of `cx`; `None` after reporting any
/// problem (the policy file is then not served, as for any error in it).
pub(crate) fn compile(
    cx: &mut Cx<'_>,
    pools: &[&str],
    nets: Option<&CustomNets>,
) -> Option<Arc<LatencyTable>> {
    let before = cx.diags.len();
    let doc = cx.parse_document(cx.text)?;
    let mut root = Fields::root(doc);
    let list = root.list(cx, "rows", true);
    root.finish(cx);
    let lines = LineIndex::new(cx.text);
    let mut rows = Vec::new();
    let mut seen: HashMap<RowKey, u32> = HashMap::new();
    for (i, v) in list
        .map(Spanned::into_inner)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let key = format!("rows[{i}]");
        let Some(f) = Fields::new(cx, key.clone(), v) else {
            continue;
        };
        let at = f.at();
        let Some(row) = row(cx, &key, f, pools, nets) else {
            continue;
        };
        match seen.entry(canonical_key(row.key)) {
            Entry::Occupied(first) => {
                let msg = format!(
                    "{} already has a row (line {})",
                    row.key.describe(nets.unwrap_or(&CustomNets::default())),
                    first.get()
                );
                cx.error(at, key, msg);
            }
            Entry::Vacant(v) => {
                v.insert(lines.line_col(at).0);
                rows.push(row);
            }
        }
    }
    if cx.diags.len() != before {
        return None;
    }
    let regions = nets.map_or(0, |n| n.regions().len());
    match LatencyTable::new(rows, regions) {
        Ok(t) => Some(Arc::new(t)),
        // Every network was checked above; an error here would be ours.
        Err(errors) => {
            for e in errors {
                cx.error(0, "rows", e.to_string());
            }
            None
        }
    }
}

/// The same key for a network written as IPv4-mapped IPv6 and as IPv4.
fn canonical_key(k: RowKey) -> RowKey {
    match k {
        RowKey::Net(n) => RowKey::Net(canonical_net(n)),
        other => other,
    }
}

/// One row; `None` after reporting its problems.
fn row(
    cx: &mut Cx<'_>,
    key: &str,
    mut f: Fields<'_>,
    pools: &[&str],
    nets: Option<&CustomNets>,
) -> Option<TableRow> {
    let before = cx.diags.len();
    let at = f.at();
    let written: Vec<(&'static str, Spanned<String>)> = KEYS
        .iter()
        .filter_map(|&k| f.opt::<String>(cx, k).map(|v| (k, v)))
        .collect();
    let ms = f.take("ms");
    let ms_key = f.child("ms");
    let bad = f.finish(cx);
    let row_key = match written.as_slice() {
        [(k, v)] => row_key(cx, key, k, v, nets),
        [] if bad.any() => None,
        [] => {
            cx.error(
                at,
                key,
                "needs one of net, region, subdivision, country or continent: which clients the row is for",
            );
            None
        }
        [(first, _), (second, v), ..] => {
            cx.error(
                v.span().start,
                format!("{key}.{second}"),
                format!("a row is for one kind of client: {first} or {second}, not both"),
            );
            None
        }
    };
    let figures = match ms {
        None => {
            cx.error(at, key, "missing field `ms`");
            None
        }
        Some(v) => figures(cx, &ms_key, v, pools),
    };
    if cx.diags.len() != before {
        return None;
    }
    Some(TableRow {
        key: row_key?,
        figures: figures?.into_boxed_slice(),
    })
}

fn row_key(
    cx: &mut Cx<'_>,
    key: &str,
    kind: &str,
    v: &Spanned<String>,
    nets: Option<&CustomNets>,
) -> Option<RowKey> {
    let (s, at, path) = (
        v.get_ref().as_str(),
        v.span().start,
        format!("{key}.{kind}"),
    );
    let r = match kind {
        "net" => parse_net(s).map(RowKey::Net),
        "region" => match nets {
            // The policy file's [geo] is broken (already reported).
            None => return None,
            Some(n) => n.region(s).map(RowKey::Region).ok_or_else(|| {
                if n.regions().is_empty() {
                    format!(
                        "unknown region {s:?}: regions are declared by `region` in the custom \
                         networks of the policy file ([geo] nets or nets_file), and it has none"
                    )
                } else {
                    format!(
                        "unknown region {s:?}; the custom networks declare {}",
                        n.regions().join(", ")
                    )
                }
            }),
        },
        "subdivision" => subdivision_code(s)
            .map(RowKey::Subdivision)
            .ok_or_else(|| unknown_subdivision(s)),
        "country" => country_code(s)
            .map(RowKey::Country)
            .ok_or_else(|| unknown_country(s)),
        _ => Continent::from_code(s)
            .map(RowKey::Continent)
            .ok_or_else(|| unknown_continent(s)),
    };
    r.map_err(|m| cx.error(at, path, m)).ok()
}

/// `ms = { POOL = N, ... }`: each figure checked on its own.
fn figures(
    cx: &mut Cx<'_>,
    key: &str,
    v: Spanned<DeValue<'_>>,
    pools: &[&str],
) -> Option<Vec<(String, u32)>> {
    let at = v.span().start;
    let entries = named_entries(cx, key, v)?;
    if entries.is_empty() {
        cx.error(at, key, "needs at least one pool's figure");
        return None;
    }
    let mut out = Vec::with_capacity(entries.len());
    let mut ok = true;
    for (pool, value) in entries {
        let path = crate::config::fields::key_path(key, pool.get_ref());
        if !pools.contains(&pool.get_ref().as_str()) {
            let known = if pools.is_empty() {
                "the policy file has no pools".to_owned()
            } else {
                format!("the policy file's pools are {}", pools.join(", "))
            };
            cx.error(
                pool.span().start,
                path,
                format!("unknown pool {:?}; {known}", pool.get_ref()),
            );
            ok = false;
            continue;
        }
        let Some(ms) = value_of::<f64>(cx, path.clone(), value) else {
            ok = false;
            continue;
        };
        match cx.check(
            ms.span().start,
            path,
            float_in(*ms.get_ref(), 0.0..=MAX_MS, " ms"),
        ) {
            Some(ms) => out.push((pool.into_inner(), (ms * 1000.0).round() as u32)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::diag::Diagnostics;
    use crate::geoip::{CustomPlace, Location, RegionId};

    fn nets() -> CustomNets {
        CustomNets::new(
            [(
                "10.0.0.0/8".parse().unwrap(),
                CustomPlace::new(Some(RegionId(0)), Location::default()),
            )],
            vec!["lab".into()],
        )
        .unwrap()
    }

    fn load(text: &str) -> (Option<Arc<LatencyTable>>, Vec<String>) {
        let mut diags = Diagnostics::new();
        let mut cx = Cx::new(Path::new("t.latency.toml"), text, &mut diags);
        let nets = nets();
        let t = compile(&mut cx, &["us-east", "eu-central", "lab"], Some(&nets));
        (t, diags.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn every_kind_of_row() {
        let (t, errs) = load(
            r#"
rows = [
  { net = "198.51.100.0/24", ms = { eu-central = 12, us-east = 80.5 } },
  { region = "lab", ms = { lab = 0.25 } },
  { subdivision = "US-CA", ms = { us-east = 64 } },
  { country = "JP", ms = { us-east = 150 } },
  { continent = "EU", ms = { eu-central = 18 } },
  { net = "::ffff:192.0.2.0/120", ms = { us-east = 1 } },
]
"#,
        );
        assert!(errs.is_empty(), "{errs:?}");
        let t = t.unwrap();
        let rows = t.rows();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].key, RowKey::Net("198.51.100.0/24".parse().unwrap()));
        assert_eq!(
            &*rows[0].figures,
            [
                ("eu-central".to_owned(), 12_000),
                ("us-east".to_owned(), 80_500)
            ]
        );
        assert_eq!(rows[1].key, RowKey::Region(RegionId(0)));
        assert_eq!(&*rows[1].figures, [("lab".to_owned(), 250)]);
        assert!(t.has_place_rows());
    }

    const EXAMPLE: &str = include_str!("../../zones/example.test.latency");
    const EXAMPLE_POOLS: [&str; 4] = ["us-east", "us-west", "eu-central", "ap-northeast"];

    fn load_example(text: &str) -> Vec<String> {
        let mut diags = Diagnostics::new();
        let mut cx = Cx::new(Path::new("example.test.latency"), text, &mut diags);
        compile(&mut cx, &EXAMPLE_POOLS, Some(&nets()));
        diags.iter().map(|d| d.to_string()).collect()
    }

    /// The shipped table loads, and an unknown key in any of its rows (or
    /// at the top) is an error pointing at it.
    #[test]
    fn the_example_table_rejects_unknown_keys_everywhere() {
        assert_eq!(load_example(EXAMPLE), Vec::<String>::new());
        let rows: Vec<usize> = EXAMPLE
            .match_indices("{ ")
            .map(|(i, _)| i)
            .filter(|&i| {
                EXAMPLE[..i]
                    .rfind('\n')
                    .is_some_and(|l| EXAMPLE[l..i].trim() == "")
            })
            .collect();
        assert_eq!(rows.len(), 4);
        let mut spots: Vec<(usize, &str)> =
            rows.iter().map(|&i| (i + 2, "bogus_key = 1, ")).collect();
        spots.push((0, "bogus_key = 1\n"));
        for (at, insert) in spots {
            let mut text = EXAMPLE.to_owned();
            text.insert_str(at, insert);
            let errors = load_example(&text);
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(
                errors[0].contains("unknown field `bogus_key`"),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn every_problem_at_its_place() {
        let text = r#"rows = [
  { net = "198.51.100.1/24", ms = { us-east = 1 } },
  { country = "QQ", ms = { us-east = 1 } },
  { country = "JP", continent = "AS", ms = { us-east = 1 } },
  { ms = { us-east = 1 } },
  { country = "DE", ms = { us-wset = 1, eu-central = -2, lab = "fast" } },
  { country = "FR" },
  { region = "office", ms = { lab = 1 } },
  { country = "GB", ms = {} },
  { continent = "XX", ms = { lab = 1 }, colour = "red" },
  { net = "192.0.2.0/24", ms = { lab = 60001 } },
  { country = "NL", ms = { lab = 1 } },
  { country = "NL", ms = { lab = 2 } },
]
extra = 1
"#;
        let (t, errs) = load(text);
        assert!(t.is_none());
        assert_eq!(
            errs,
            [
                "t.latency.toml:15:1: unknown field `extra`, expected `rows`",
                "t.latency.toml:2:11: rows[0].net: network 198.51.100.1/24 has bits set beyond its /24 prefix (did you mean 198.51.100.0/24?)",
                "t.latency.toml:3:15: rows[1].country: unknown country code \"QQ\" (ISO 3166-1 alpha-2, e.g. \"US\")",
                "t.latency.toml:4:33: rows[2].continent: a row is for one kind of client: country or continent, not both",
                "t.latency.toml:5:3: rows[3]: needs one of net, region, subdivision, country or continent: which clients the row is for",
                "t.latency.toml:6:28: rows[4].ms.us-wset: unknown pool \"us-wset\"; the policy file's pools are us-east, eu-central, lab",
                "t.latency.toml:6:54: rows[4].ms.eu-central: must be between 0 and 60000 ms, got -2",
                "t.latency.toml:6:64: rows[4].ms.lab: invalid type: string \"fast\", expected f64",
                "t.latency.toml:7:3: rows[5]: missing field `ms`",
                "t.latency.toml:8:14: rows[6].region: unknown region \"office\"; the custom networks declare lab",
                "t.latency.toml:9:26: rows[7].ms: needs at least one pool's figure",
                "t.latency.toml:10:41: rows[8]: unknown field `colour`, expected one of `net`, `region`, `subdivision`, `country`, `continent`, `ms`",
                "t.latency.toml:10:17: rows[8].continent: unknown continent code \"XX\", expected AF, AN, AS, EU, NA, OC or SA",
                "t.latency.toml:11:40: rows[9].ms.lab: must be between 0 and 60000 ms, got 60001",
                "t.latency.toml:13:3: rows[11]: country NL already has a row (line 12)",
            ]
        );
    }

    /// A key given twice in one table is a TOML syntax error; the message
    /// names the key, not only its place.
    #[test]
    fn a_key_given_twice_is_named() {
        let (t, errs) =
            load("rows = [\n  { net = \"192.0.2.0/24\", ms = { lab = 1, lab = 2 } },\n]\n");
        assert!(t.is_none());
        assert_eq!(
            errs,
            ["t.latency.toml:2:43: rows[0].ms.lab: duplicate key: first set on line 2"]
        );
    }

    /// bench/latency_table.py (the documented way to write a table from
    /// measurements) writes what this loader reads: medians per client
    /// network (an address counts for its /24), places, sibling networks
    /// with the same figures merged.
    #[test]
    fn the_generator_script_writes_a_loadable_table() {
        use std::io::Write;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/latency_table.py");
        let mut child = std::process::Command::new("python3")
            .arg(&script)
            .arg("-")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs bench/latency_table.py");
        let csv = "client,pool,ms\n\
                   198.51.100.7,eu-central,9\n\
                   198.51.100.9,eu-central,30\n\
                   198.51.100.10,eu-central,11\n\
                   198.51.101.3,eu-central,11\n\
                   198.51.100.7,us-east,76\n\
                   198.51.101.7,us-east,76\n\
                   # a comment\n\
                   country:jp,us-east,150\n\
                   region:lab,lab,0.25\n\
                   2001:db8:1000::1,eu-central,12\n";
        child
            .stdin
            .take()
            .unwrap()
            .write_all(csv.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let (t, errs) = load(&text);
        assert!(errs.is_empty(), "{errs:?}\n{text}");
        let keys: Vec<String> = t
            .unwrap()
            .rows()
            .iter()
            .map(|r| r.key.to_string())
            .collect();
        assert_eq!(
            keys,
            [
                "net 198.51.100.0/23",
                "net 2001:db8:1000::/48",
                "region #0",
                "country JP"
            ],
            "{text}"
        );
        assert!(text.contains("eu-central = 11, us-east = 76"), "{text}");
        // A bad line is named, and nothing is written.
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(out.stdout.is_empty());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("line 1: want client,pool,ms"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
