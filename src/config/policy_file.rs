//! The per-zone policy file (`zones/ZONE.toml`): health checks, pools of
//! endpoints and the load-balanced names that use them.
//!
//! Two layers, as STYLE.md asks: the `*Spec` types are the file format
//! (serde, `deny_unknown_fields`, every value `Spanned` so errors can point
//! at it), and [`load_policy_file`] validates them into the runtime types of
//! [`crate::policy`]. Validation reports every problem it finds, each as
//! `FILE:LINE:COL: key.path: message`, and never clamps a value.
//!
//! The document is parsed once into toml's spanned tree, then each entry
//! (`checks.X`, `pools.X`, `names.X`) is deserialized on its own. Parsing
//! the whole file into one struct was rejected: serde stops at the first
//! unknown key, and one typo would hide every other error in the file.
//!
//! Cross-checks against the zone file (a name outside the zone, an A, AAAA
//! or CNAME beside a load-balanced name) belong to the caller, which gets
//! each name's owner as written and its line.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::diag::Diagnostics;
use crate::health::{Check, CheckSpec, TargetKey, TargetRegistry, validate_check};
use crate::policy::{
    Answers, Coords, Group, GroupPolicy, LbName, MAX_ANSWERS, Member, OnAllDown, OperatorState,
    Policy, Pool, StickyPrefixes,
};

// ---- file format -------------------------------------------------------

/// `[pools.NAME]`: a named set of endpoints.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    /// The endpoints; at least one. IPv4 and IPv6 may be mixed.
    pub members: Spanned<Vec<Spanned<MemberSpec>>>,
}

/// One endpoint of a pool (an inline table in `members`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    /// IPv4 or IPv6 address answered in A or AAAA records.
    pub address: Spanned<String>,
    /// 0..=1000; default 1. 0 = standby: answered only when no member with
    /// weight > 0 is available.
    pub weight: Option<Spanned<i64>>,
    /// The operator's label for the endpoint (logs, explain).
    pub name: Option<Spanned<String>>,
    /// Free-form region, for geo policies.
    pub region: Option<Spanned<String>>,
    /// Latitude in degrees, -90..=90; requires `lon`.
    pub lat: Option<Spanned<f64>>,
    /// Longitude in degrees, -180..=180; requires `lat`.
    pub lon: Option<Spanned<f64>>,
    /// Name of a `[checks.NAME]` table; default: no probe (counts as up).
    pub check: Option<Spanned<String>>,
    /// `auto` (default), `up`, `down` or `drain`.
    pub state: Option<Spanned<String>>,
}

/// `[names.OWNER]`: a load-balanced name.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NameSpec {
    /// `weighted`, `round_robin`, `multivalue`, `failover` or `sticky`.
    pub policy: Spanned<String>,
    /// The pool to answer from; every policy but failover.
    pub pool: Option<Spanned<String>>,
    /// Failover only: pools in priority order.
    pub groups: Option<Spanned<Vec<Spanned<String>>>>,
    /// Failover only: `weighted` (default), `round_robin` or `multivalue`.
    pub group_policy: Option<Spanned<String>>,
    /// TTL of the answers, 1..=86400; default 30.
    pub ttl: Option<Spanned<i64>>,
    /// Addresses per answer: 1..=64 or `"all"`; default 1.
    pub answers: Option<Spanned<AnswersSpec>>,
    /// `all` (default), `empty`, `servfail` or `fallback`.
    pub on_all_down: Option<Spanned<String>>,
    /// The pool answering when everything is down; iff `on_all_down = "fallback"`.
    pub fallback_pool: Option<Spanned<String>>,
    /// Sticky only: client IPv4 network length, 0..=32; default 24.
    pub sticky_v4_prefix: Option<Spanned<i64>>,
    /// Sticky only: client IPv6 network length, 0..=128; default 56.
    pub sticky_v6_prefix: Option<Spanned<i64>>,
}

/// `answers`: an integer or the word `all`.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswersSpec {
    Count(i64),
    Word(String),
}

impl<'de> Deserialize<'de> for AnswersSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AnswersSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or \"all\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AnswersSpec, E> {
                Ok(AnswersSpec::Count(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AnswersSpec, E> {
                Ok(AnswersSpec::Count(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AnswersSpec, E> {
                Ok(AnswersSpec::Word(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

// ---- validated result --------------------------------------------------

/// A validated policy file.
#[derive(Debug)]
pub struct PolicyFile {
    /// Load-balanced names in file order.
    pub names: Vec<NameEntry>,
}

/// One load-balanced name and where it was declared.
#[derive(Debug)]
pub struct NameEntry {
    /// The owner as written: relative to the zone origin, `@` for the apex,
    /// or absolute with a trailing dot (the caller checks it is in the zone).
    pub owner: String,
    /// 1-based line and column of its `[names.X]` table (of the `X`), for
    /// the caller's cross-checks against the zone file.
    pub line: u32,
    pub col: u32,
    pub lb: LbName,
}

/// Defaults, documented in `zones/example.test.toml`.
pub const DEFAULT_TTL: u32 = 30;
pub const MAX_TTL: i64 = 86_400;
pub const DEFAULT_WEIGHT: u32 = 1;
pub const MAX_WEIGHT: i64 = 1000;

/// Load one policy file. Every problem goes to `diags`. The result holds
/// the names that compiled, even when others did not, so the caller can
/// still cross-check them against the zone and report everything at once;
/// a file that added any diagnostic must not be served. `None` only when
/// the file is not valid TOML.
///
/// Members are interned in `targets` as they validate, so a file that is
/// then rejected leaves ids behind: the registry belongs to the snapshot
/// being built, which is dropped with the file.
pub fn load_policy_file(
    path: &Path,
    text: &str,
    targets: &mut TargetRegistry,
    diags: &mut Diagnostics,
) -> Option<PolicyFile> {
    let mut local = Diagnostics::new();
    let mut cx = Cx {
        path,
        text,
        diags: &mut local,
    };
    let file = compile(&mut cx, targets);
    // Report in file order, whatever order the checks ran in.
    let mut found = local.into_vec();
    found.sort_by_key(|d| (d.line, d.col));
    for d in found {
        diags.push(d);
    }
    file
}

fn compile(cx: &mut Cx<'_>, targets: &mut TargetRegistry) -> Option<PolicyFile> {
    let lines = crate::diag::LineIndex::new(cx.text);
    let file = parse(cx)?;

    let mut checks: HashMap<&str, Option<Arc<Check>>> = HashMap::new();
    for e in &file.checks {
        let check = e
            .spec
            .as_ref()
            .and_then(|s| validate_check(e.name.get_ref(), s, cx.path, cx.text, cx.diags))
            .map(Arc::new);
        checks.insert(e.name.get_ref(), check);
    }
    let mut pools: HashMap<&str, Option<Arc<Pool>>> = HashMap::new();
    for e in &file.pools {
        let pool = e
            .spec
            .as_ref()
            .and_then(|s| compile_pool(cx, e.name.get_ref(), s, &checks, targets));
        pools.insert(e.name.get_ref(), pool.map(Arc::new));
    }
    let mut names = Vec::with_capacity(file.names.len());
    let mut seen: HashMap<String, String> = HashMap::new();
    for e in &file.names {
        let owner = e.name.get_ref();
        let path = key_path("names", owner);
        check_owner(cx, &e.name, &path, &mut seen);
        if let Some(lb) = e
            .spec
            .as_ref()
            .and_then(|s| compile_name(cx, owner, &path, s, &e.name, &pools))
        {
            names.push(NameEntry {
                owner: owner.clone(),
                line: lines.line_col(e.name.span().start).0,
                col: lines.line_col(e.name.span().start).1,
                lb,
            });
        }
    }
    Some(PolicyFile { names })
}

// ---- parsing -----------------------------------------------------------

struct Cx<'a> {
    path: &'a Path,
    text: &'a str,
    diags: &'a mut Diagnostics,
}

impl Cx<'_> {
    fn error(&mut self, offset: usize, key: impl Into<String>, message: impl Into<String>) {
        self.diags
            .error_at_offset(self.path, self.text, offset, key, message);
    }
}

/// One `section.NAME` entry; `spec` is `None` when it failed to
/// deserialize (already reported), so references to it stay quiet.
struct Entry<T> {
    name: Spanned<String>,
    spec: Option<T>,
}

struct FileSpec {
    checks: Vec<Entry<CheckSpec>>,
    pools: Vec<Entry<PoolSpec>>,
    names: Vec<Entry<NameSpec>>,
}

const SECTIONS: &str = "expected one of `checks`, `pools`, `names`";

fn parse(cx: &mut Cx<'_>) -> Option<FileSpec> {
    let (doc, errors) = DeTable::parse_recoverable(cx.text);
    if !errors.is_empty() {
        // A damaged document would only produce follow-on noise.
        for e in errors {
            let at = e.span().map_or(0, |s| s.start);
            cx.error(at, "", e.message());
        }
        return None;
    }
    let mut file = FileSpec {
        checks: Vec::new(),
        pools: Vec::new(),
        names: Vec::new(),
    };
    for (key, value) in in_file_order(doc.into_inner()) {
        match key.get_ref().as_ref() {
            "checks" => section(cx, "checks", value, &mut file.checks),
            "pools" => section(cx, "pools", value, &mut file.pools),
            "names" => section(cx, "names", value, &mut file.names),
            other => cx.error(
                key.span().start,
                key_path("", other),
                format!("unknown key, {SECTIONS}"),
            ),
        }
    }
    Some(file)
}

type DeEntry<'i> = (Spanned<std::borrow::Cow<'i, str>>, Spanned<DeValue<'i>>);

/// Table entries sorted by position, so errors come out in file order.
fn in_file_order(t: DeTable<'_>) -> Vec<DeEntry<'_>> {
    let mut v: Vec<_> = t.into_iter().collect();
    v.sort_by_key(|(k, _)| k.span().start);
    v
}

/// Deserialize every entry of a `[section]` table on its own.
fn section<'i, T: Deserialize<'i>>(
    cx: &mut Cx<'_>,
    section: &str,
    value: Spanned<DeValue<'i>>,
    out: &mut Vec<Entry<T>>,
) {
    let at = value.span().start;
    let DeValue::Table(table) = value.into_inner() else {
        cx.error(at, section, "must be a table");
        return;
    };
    for (key, value) in in_file_order(table) {
        let name = Spanned::new(key.span(), key.into_inner().into_owned());
        let base = key_path(section, name.get_ref());
        let fallback_at = value.span().start;
        let tree = value.get_ref().clone();
        let spec = match T::deserialize(ValueDeserializer::from(value)) {
            Ok(spec) => Some(spec),
            Err(e) => {
                let at = e.span().map_or(fallback_at, |s| s.start);
                let mut path = base;
                refine_path(&mut path, &tree, at);
                cx.error(at, path, e.message());
                None
            }
        };
        out.push(Entry { name, spec });
    }
}

/// Extend `path` down to the innermost value of `v` that contains `at`, so
/// `pools.web: unknown field` becomes `pools.web.members[2]: unknown field`.
fn refine_path(path: &mut String, v: &DeValue<'_>, at: usize) {
    match v {
        DeValue::Table(t) => {
            if let Some((k, v)) = t.iter().find(|(_, v)| v.span().contains(&at)) {
                path.push('.');
                path.push_str(k.get_ref());
                refine_path(path, v.get_ref(), at);
            }
        }
        DeValue::Array(a) => {
            if let Some((i, v)) = a.iter().enumerate().find(|(_, v)| v.span().contains(&at)) {
                path.push_str(&format!("[{i}]"));
                refine_path(path, v.get_ref(), at);
            }
        }
        _ => {}
    }
}

/// `section.name`, quoting names that are not TOML bare keys (`names."@"`).
fn key_path(section: &str, name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let name = if bare {
        name.to_owned()
    } else {
        format!("{name:?}")
    };
    if section.is_empty() {
        name
    } else {
        format!("{section}.{name}")
    }
}

// ---- validation --------------------------------------------------------

fn compile_pool(
    cx: &mut Cx<'_>,
    name: &str,
    spec: &PoolSpec,
    checks: &HashMap<&str, Option<Arc<Check>>>,
    targets: &mut TargetRegistry,
) -> Option<Pool> {
    let PoolSpec { members } = spec;
    let base = key_path("pools", name);
    if members.get_ref().is_empty() {
        cx.error(
            members.span().start,
            format!("{base}.members"),
            "a pool needs at least one member",
        );
        return None;
    }
    let mut ok = true;
    let mut out = Vec::with_capacity(members.get_ref().len());
    let mut seen: HashMap<IpAddr, usize> = HashMap::new();
    for (i, m) in members.get_ref().iter().enumerate() {
        let path = format!("{base}.members[{i}]");
        match compile_member(cx, &path, m.get_ref(), checks, targets) {
            Some(member) => {
                if let Some(first) = seen.insert(member.addr, i) {
                    cx.error(
                        m.get_ref().address.span().start,
                        format!("{path}.address"),
                        format!("{} is already members[{first}] of this pool", member.addr),
                    );
                    ok = false;
                }
                out.push(member);
            }
            None => ok = false,
        }
    }
    ok.then(|| Pool::new(name, out))
}

fn compile_member(
    cx: &mut Cx<'_>,
    path: &str,
    spec: &MemberSpec,
    checks: &HashMap<&str, Option<Arc<Check>>>,
    targets: &mut TargetRegistry,
) -> Option<Member> {
    let MemberSpec {
        address,
        weight,
        name,
        region,
        lat,
        lon,
        check,
        state,
    } = spec;
    let before = cx.diags.len();

    let addr = match address.get_ref().parse::<IpAddr>() {
        Ok(a) if a.is_unspecified() || a.is_multicast() => {
            cx.error(
                address.span().start,
                format!("{path}.address"),
                format!("{a} is not a unicast address"),
            );
            None
        }
        Ok(a) => Some(a),
        Err(_) => {
            cx.error(
                address.span().start,
                format!("{path}.address"),
                format!("invalid IP address {:?}", address.get_ref()),
            );
            None
        }
    };
    let weight = int_in(cx, weight.as_ref(), 0, MAX_WEIGHT, path, "weight")
        .map_or(DEFAULT_WEIGHT, |w| w as u32);
    let state = match state {
        None => OperatorState::Auto,
        Some(s) => match s.get_ref().as_str() {
            "auto" => OperatorState::Auto,
            "up" => OperatorState::Up,
            "down" => OperatorState::Down,
            "drain" => OperatorState::Drain,
            other => {
                cx.error(
                    s.span().start,
                    format!("{path}.state"),
                    format!("unknown state {other:?}, expected auto, up, down or drain"),
                );
                OperatorState::Auto
            }
        },
    };
    let label = non_empty(cx, name.as_ref(), path, "name");
    let region = non_empty(cx, region.as_ref(), path, "region");
    let lat_v = float_in(cx, lat.as_ref(), 90.0, path, "lat");
    let lon_v = float_in(cx, lon.as_ref(), 180.0, path, "lon");
    let coords = match (lat, lon) {
        (Some(_), Some(_)) => lat_v.zip(lon_v).map(|(lat, lon)| Coords { lat, lon }),
        (None, None) => None,
        (Some(l), None) => {
            cx.error(l.span().start, format!("{path}.lon"), "required with lat");
            None
        }
        (None, Some(l)) => {
            cx.error(l.span().start, format!("{path}.lat"), "required with lon");
            None
        }
    };
    let check_ref = match check {
        None => Some(None),
        Some(c) => match checks.get(c.get_ref().as_str()) {
            Some(Some(check)) => Some(Some(check.clone())),
            // Defined but broken: already reported.
            Some(None) => None,
            None => {
                cx.error(
                    c.span().start,
                    format!("{path}.check"),
                    format!("unknown check {:?}", c.get_ref()),
                );
                None
            }
        },
    };

    let (addr, check_ref) = (addr?, check_ref?);
    if cx.diags.len() != before {
        return None;
    }
    let target = targets.intern(TargetKey {
        addr,
        check: check_ref,
    });
    let zone = cx.path.file_stem().and_then(|f| f.to_str()).unwrap_or("");
    let pool_path = path.split(".members").next().unwrap_or(path);
    let used = match &label {
        Some(l) => format!("{l} in {zone} {pool_path}"),
        None => format!("{zone} {pool_path}"),
    };
    targets.note_use(target, &used);
    Some(Member {
        addr,
        target,
        weight,
        state,
        label,
        region,
        coords,
        check: check.as_ref().map(|c| c.get_ref().clone()),
    })
}

/// A DNS owner as written: `@`, or labels of letters, digits, `-` and `_`
/// (relative, or absolute with a trailing dot). Also rejects a second
/// spelling of an owner already seen (names compare case-insensitively).
fn check_owner(
    cx: &mut Cx<'_>,
    owner: &Spanned<String>,
    path: &str,
    seen: &mut HashMap<String, String>,
) {
    let at = owner.span().start;
    let name = owner.get_ref().as_str();
    if name != "@" {
        let body = name.strip_suffix('.').unwrap_or(name);
        let problem = if body.is_empty() {
            Some("is empty".to_owned())
        } else if body.len() > 253 {
            Some("is longer than 253 characters".to_owned())
        } else {
            body.split('.').find_map(|label| {
                if label.is_empty() {
                    Some("has an empty label".to_owned())
                } else if label.len() > 63 {
                    Some(format!("has a label longer than 63 characters: {label:?}"))
                } else if !label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    Some(format!(
                        "has a character other than a letter, digit, '-' or '_' in {label:?}"
                    ))
                } else {
                    None
                }
            })
        };
        if let Some(p) = problem {
            cx.error(at, path, format!("owner name {name:?} {p}"));
            return;
        }
    }
    let folded = name.to_ascii_lowercase();
    if let Some(first) = seen.get(&folded) {
        cx.error(
            at,
            path,
            format!("same name as {first} (DNS names are case-insensitive)"),
        );
    } else {
        seen.insert(folded, path.to_owned());
    }
}

fn compile_name(
    cx: &mut Cx<'_>,
    owner: &str,
    base: &str,
    spec: &NameSpec,
    name_key: &Spanned<String>,
    pools: &HashMap<&str, Option<Arc<Pool>>>,
) -> Option<LbName> {
    let NameSpec {
        policy,
        pool,
        groups,
        group_policy,
        ttl,
        answers,
        on_all_down,
        fallback_pool,
        sticky_v4_prefix,
        sticky_v6_prefix,
    } = spec;
    let before = cx.diags.len();
    let header = name_key.span().start;
    let key = |k: &str| format!("{base}.{k}");

    #[derive(Copy, Clone, PartialEq)]
    enum Kind {
        Weighted,
        RoundRobin,
        Multivalue,
        Failover,
        Sticky,
    }
    let kind = match policy.get_ref().as_str() {
        "weighted" => Some(Kind::Weighted),
        "round_robin" => Some(Kind::RoundRobin),
        "multivalue" => Some(Kind::Multivalue),
        "failover" => Some(Kind::Failover),
        "sticky" => Some(Kind::Sticky),
        other => {
            cx.error(
                policy.span().start,
                key("policy"),
                format!(
                    "unknown policy {other:?}, expected weighted, round_robin, multivalue, failover or sticky"
                ),
            );
            None
        }
    };
    let policy_name = policy.get_ref().as_str();

    let ttl = int_in(cx, ttl.as_ref(), 1, MAX_TTL, base, "ttl").map_or(DEFAULT_TTL, |t| t as u32);
    let answers = match answers {
        None => Answers::Count(1),
        Some(a) => match a.get_ref() {
            AnswersSpec::Count(n) if (1..=MAX_ANSWERS as i64).contains(n) => {
                Answers::Count(*n as u8)
            }
            AnswersSpec::Word(w) if w == "all" => Answers::All,
            other => {
                let got = match other {
                    AnswersSpec::Count(n) => n.to_string(),
                    AnswersSpec::Word(w) => format!("{w:?}"),
                };
                cx.error(
                    a.span().start,
                    key("answers"),
                    format!("must be between 1 and {MAX_ANSWERS} or \"all\", got {got}"),
                );
                Answers::Count(1)
            }
        },
    };

    // Pool references: `pool` for every policy but failover, `groups` for it.
    let resolve = |cx: &mut Cx<'_>, r: &Spanned<String>, k: &str| -> Option<Arc<Pool>> {
        match pools.get(r.get_ref().as_str()) {
            Some(p) => p.clone(),
            None => {
                cx.error(
                    r.span().start,
                    key(k),
                    format!("unknown pool {:?}", r.get_ref()),
                );
                None
            }
        }
    };
    let mut group_pools: Vec<Arc<Pool>> = Vec::new();
    match kind {
        Some(Kind::Failover) => {
            if let Some(p) = pool {
                cx.error(
                    p.span().start,
                    key("pool"),
                    "not used by policy failover; list the pools in `groups`",
                );
            }
            if groups.is_none() {
                cx.error(header, key("groups"), "required for policy failover");
            }
        }
        Some(_) => {
            if let Some(g) = groups {
                cx.error(
                    g.span().start,
                    key("groups"),
                    format!("only for policy failover, not {policy_name}"),
                );
            }
            if pool.is_none() {
                cx.error(
                    header,
                    key("pool"),
                    format!("required for policy {policy_name}"),
                );
            }
        }
        None => {}
    }
    if let Some(p) = pool {
        group_pools.extend(resolve(cx, p, "pool"));
    }
    if let Some(g) = groups {
        if g.get_ref().is_empty() {
            cx.error(g.span().start, key("groups"), "needs at least one pool");
        }
        let mut seen = HashSet::new();
        for (i, r) in g.get_ref().iter().enumerate() {
            if !seen.insert(r.get_ref().as_str()) {
                cx.error(
                    r.span().start,
                    format!("{base}.groups[{i}]"),
                    format!("pool {:?} is listed twice", r.get_ref()),
                );
            }
            group_pools.extend(resolve(cx, r, &format!("groups[{i}]")));
        }
    }

    let group_policy = match group_policy {
        None => GroupPolicy::Weighted,
        Some(gp) => {
            if kind.is_some_and(|k| k != Kind::Failover) {
                cx.error(
                    gp.span().start,
                    key("group_policy"),
                    format!("only for policy failover, not {policy_name}"),
                );
            }
            match gp.get_ref().as_str() {
                "weighted" => GroupPolicy::Weighted,
                "round_robin" => GroupPolicy::RoundRobin,
                "multivalue" => GroupPolicy::Multivalue,
                other => {
                    cx.error(
                        gp.span().start,
                        key("group_policy"),
                        format!("unknown group policy {other:?}, expected weighted, round_robin or multivalue"),
                    );
                    GroupPolicy::Weighted
                }
            }
        }
    };

    let prefix = |cx: &mut Cx<'_>, v: Option<&Spanned<i64>>, max: i64, k: &str, default: u8| {
        if let Some(v) = v
            && kind.is_some_and(|k| k != Kind::Sticky)
        {
            cx.error(
                v.span().start,
                key(k),
                format!("only for policy sticky, not {policy_name}"),
            );
        }
        int_in(cx, v, 0, max, base, k).map_or(default, |p| p as u8)
    };
    let defaults = StickyPrefixes::default();
    let sticky = StickyPrefixes {
        v4: prefix(
            cx,
            sticky_v4_prefix.as_ref(),
            32,
            "sticky_v4_prefix",
            defaults.v4,
        ),
        v6: prefix(
            cx,
            sticky_v6_prefix.as_ref(),
            128,
            "sticky_v6_prefix",
            defaults.v6,
        ),
    };

    let on_all_down = match on_all_down.as_ref().map(|s| (s, s.get_ref().as_str())) {
        None | Some((_, "all")) => Some(OnAllDown::FailOpen),
        Some((_, "empty")) => Some(OnAllDown::Empty),
        Some((_, "servfail")) => Some(OnAllDown::ServFail),
        Some((s, "fallback")) => match fallback_pool {
            None => {
                cx.error(
                    s.span().start,
                    key("fallback_pool"),
                    "required with on_all_down = \"fallback\"",
                );
                None
            }
            Some(fb) => {
                resolve(cx, fb, "fallback_pool").map(|p| OnAllDown::Fallback(Group::new(p)))
            }
        },
        Some((s, other)) => {
            cx.error(
                s.span().start,
                key("on_all_down"),
                format!("unknown mode {other:?}, expected all, empty, servfail or fallback"),
            );
            None
        }
    };
    if let Some(fb) = fallback_pool
        && on_all_down
            .as_ref()
            .is_some_and(|m| !matches!(m, OnAllDown::Fallback(_)))
    {
        cx.error(
            fb.span().start,
            key("fallback_pool"),
            "only used with on_all_down = \"fallback\"",
        );
    }

    if cx.diags.len() != before {
        return None;
    }
    let policy = match kind? {
        Kind::Weighted => Policy::Weighted,
        Kind::RoundRobin => Policy::RoundRobin,
        Kind::Multivalue => Policy::Multivalue,
        Kind::Failover => Policy::Failover(group_policy),
        Kind::Sticky => Policy::Sticky(sticky),
    };
    let groups: Box<[Group]> = group_pools.into_iter().map(Group::new).collect();
    if groups.is_empty() {
        // A referenced pool failed validation; that error is already out.
        return None;
    }
    Some(LbName {
        name: owner.to_owned(),
        ttl,
        answers,
        policy,
        groups,
        on_all_down: on_all_down?,
    })
}

/// An optional integer within `lo..=hi`; reports and returns `None` when out
/// of range.
fn int_in(
    cx: &mut Cx<'_>,
    v: Option<&Spanned<i64>>,
    lo: i64,
    hi: i64,
    base: &str,
    k: &str,
) -> Option<i64> {
    let v = v?;
    let n = *v.get_ref();
    if (lo..=hi).contains(&n) {
        Some(n)
    } else {
        cx.error(
            v.span().start,
            format!("{base}.{k}"),
            format!("must be between {lo} and {hi}, got {n}"),
        );
        None
    }
}

fn float_in(
    cx: &mut Cx<'_>,
    v: Option<&Spanned<f64>>,
    max: f64,
    base: &str,
    k: &str,
) -> Option<f64> {
    let v = v?;
    let x = *v.get_ref();
    if (-max..=max).contains(&x) {
        Some(x)
    } else {
        cx.error(
            v.span().start,
            format!("{base}.{k}"),
            format!("must be between {} and {max}, got {x}", -max),
        );
        None
    }
}

fn non_empty(cx: &mut Cx<'_>, v: Option<&Spanned<String>>, base: &str, k: &str) -> Option<String> {
    let v = v?;
    if v.get_ref().trim().is_empty() {
        cx.error(v.span().start, format!("{base}.{k}"), "must not be empty");
        None
    } else {
        Some(v.get_ref().clone())
    }
}

#[cfg(test)]
mod tests {
    use crate::diag::line_col;
    use std::net::IpAddr;
    use std::path::Path;

    use rand::SeedableRng as _;

    use super::*;
    use crate::health::{HealthTable, Status};
    use crate::policy::{ClientInfo, Decision, Family, PolicyRng, answer, reason};

    const EXAMPLE: &str = include_str!("../../zones/example.test.toml");
    const EXAMPLE_PATH: &str = "zones/example.test.toml";

    fn load(text: &str) -> (Option<PolicyFile>, Vec<String>, TargetRegistry) {
        let mut targets = TargetRegistry::new();
        let mut diags = Diagnostics::new();
        let file = load_policy_file(Path::new("t.toml"), text, &mut targets, &mut diags);
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
        let file = load_policy_file(Path::new(EXAMPLE_PATH), EXAMPLE, &mut targets, &mut diags);
        assert!(diags.is_empty(), "{diags}");
        let file = file.unwrap();
        let got: Vec<(&str, u32, &str)> = file
            .names
            .iter()
            .map(|n| (n.owner.as_str(), n.line, n.lb.policy.as_str()))
            .collect();
        let want: Vec<(&str, u32, &str)> = [
            ("www", "weighted"),
            ("rr", "round_robin"),
            ("mv", "multivalue"),
            ("app", "failover"),
            ("shop", "sticky"),
            ("v4only", "weighted"),
        ]
        .into_iter()
        .map(|(o, p)| (o, line_of(EXAMPLE, &format!("[names.{o}]")), p))
        .collect();
        assert_eq!(got, want);
        // One target per unique (address, check): 23 members, all distinct.
        assert_eq!(targets.len(), 23);
    }

    #[test]
    fn example_probes_only_loopback() {
        // `cargo run` probes every checked endpoint: never a real network.
        let mut targets = TargetRegistry::new();
        let mut diags = Diagnostics::new();
        load_policy_file(Path::new(EXAMPLE_PATH), EXAMPLE, &mut targets, &mut diags).unwrap();
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
        let file =
            load_policy_file(Path::new(EXAMPLE_PATH), EXAMPLE, &mut targets, &mut diags).unwrap();
        let health = HealthTable::new(targets.len(), Status::Up);
        let client = ClientInfo {
            resolver: "198.51.100.1".parse().unwrap(),
            ecs: None,
        };
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
        assert_eq!(f.policy, Policy::Failover(GroupPolicy::Multivalue));
        let groups: Vec<&str> = f.groups.iter().map(|g| g.pool.name.as_str()).collect();
        assert_eq!(groups, ["q", "p"]);
        assert_eq!((f.answers, f.ttl), (Answers::All, 86400));
        assert!(matches!(&f.on_all_down, OnAllDown::Fallback(g) if g.pool.name == "p"));
        let s = &file.names[1].lb;
        assert_eq!(s.policy, Policy::Sticky(StickyPrefixes { v4: 0, v6: 128 }));
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

    /// Where to insert an unknown key into every table of a document:
    /// (byte offset, text, table path, 1-based line the key lands on).
    fn unknown_key_spots(text: &str) -> Vec<(usize, String, String, u32)> {
        fn walk(
            text: &str,
            path: &str,
            v: &DeValue<'_>,
            out: &mut Vec<(usize, String, String, u32)>,
        ) {
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
                // The section tables and `headers` are maps whose keys are
                // names the operator picks, not fields.
                let free_form = segments == 2 || p.ends_with(".headers");
                if let (DeValue::Table(_), false) = (child.get_ref(), free_form) {
                    let span = child.span();
                    let spot = match text.as_bytes()[span.start] {
                        b'{' => (span.start + 1, " bogus_key = 1,".to_owned()),
                        b'[' => (span.end, "\nbogus_key = 1".to_owned()),
                        _ => panic!(
                            "{p}: neither a [header] nor an {{inline}} table; extend this test"
                        ),
                    };
                    let line = line_col(text, span.start).0
                        + u32::from(text.as_bytes()[span.start] == b'[');
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
        assert_eq!(kinds(|p| p.starts_with(".pools.") && !p.contains('[')), 7);
        assert_eq!(kinds(|p| p.starts_with(".pools.") && p.ends_with(']')), 23);
        assert_eq!(kinds(|p| p.starts_with(".names.")), 6);
        for (at, insert, table, line) in spots {
            let mut text = EXAMPLE.to_owned();
            text.insert_str(at, &insert);
            let errs = errors(&text);
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
                    "t.toml:4:15: pools.p.members[1].address: 0.0.0.0 is not a unicast address",
                    "t.toml:6:15: pools.p.members[3].address: 192.0.2.1 is already members[2] of this pool",
                ],
            ),
            (
                format!("{pool}[names.www]\npolicy = \"random\"\npool = \"p\"\n"),
                &["t.toml:4:10: names.www.policy: unknown policy \"random\", expected weighted, round_robin, multivalue, failover or sticky"],
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
                    "t.toml:6:10: names.a.groups: only for policy failover, not weighted",
                    "t.toml:7:8: names.b.groups: required for policy failover",
                    "t.toml:11:8: names.c.pool: not used by policy failover; list the pools in `groups`",
                    "t.toml:12:16: names.c.groups[1]: unknown pool \"nope\"",
                    "t.toml:12:24: names.c.groups[2]: pool \"p\" is listed twice",
                    "t.toml:13:8: names.d.pool: required for policy sticky",
                ],
            ),
            (
                format!("{pool}[names.a]\npolicy = \"failover\"\ngroups = []\ngroup_policy = \"sticky\"\n[names.b]\npolicy = \"weighted\"\npool = \"p\"\ngroup_policy = \"weighted\"\n"),
                &[
                    "t.toml:5:10: names.a.groups: needs at least one pool",
                    "t.toml:6:16: names.a.group_policy: unknown group policy \"sticky\", expected weighted, round_robin or multivalue",
                    "t.toml:10:16: names.b.group_policy: only for policy failover, not weighted",
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
                    "t.toml:3:8: names.\"a..b\": owner name \"a..b\" has an empty label",
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
                    "t.toml:3:1: checks.c: unknown field `bogus`, expected one of `kind`, `port`, `probe_address`, `interval`, `timeout`, `rise`, `fall`, `initial_state`, `method`, `path`, `host`, `tls_server_name`, `tls_verify`, `expect_status`, `body_contains`, `headers`, `user_agent`",
                    "t.toml:5:37: pools.p.members[0]: unknown field `color`, expected one of `address`, `weight`, `name`, `region`, `lat`, `lon`, `check`, `state`",
                    "t.toml:9:1: names.www: unknown field `wieght`, expected one of `policy`, `pool`, `groups`, `group_policy`, `ttl`, `answers`, `on_all_down`, `fallback_pool`, `sticky_v4_prefix`, `sticky_v6_prefix`",
                    "t.toml:10:2: extra: unknown key, expected one of `checks`, `pools`, `names`",
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
}
