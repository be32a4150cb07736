//! `[names.OWNER]` compiled into a load-balanced name: its policy, pools
//! (or geo rules, `super::geo`), answer size, TTL and what to do when
//! everything is down.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use hickory_proto::rr::Name;
use toml::Spanned;

use super::geo::{Rules, compile_rules};
use super::latency::LatencySection;
use super::parse::Cx;
use super::spec::{AnswersSpec, GeoRulesSpec, NameSpec};
use crate::config::fields::BadKeys;
use crate::config::values::{float_in, int_in, one_of};
use crate::geoip::CustomNets;
use crate::policy::geo::GeoMap;
use crate::policy::latency::{LatencyMap, MAX_POOLS, Ranking};
use crate::policy::{
    AllDownMode, Answers, BalancedName, Group, MAX_ANSWERS, OnAllDown, Order, Pick, Policy, Pool,
    StickyPrefixes, Tolerance,
};
use crate::zone::name::{parse_owner, to_wire_lower};

/// Defaults, documented in `zones/example.test.toml`.
pub const DEFAULT_TTL: u32 = 30;
pub const MAX_TTL: i64 = 86_400;
/// `tolerance_ms` / `tolerance_pct` of a latency name: pools within 5 ms
/// or 10 % of the best estimate are as good.
pub(super) const DEFAULT_TOLERANCE: Tolerance = Tolerance { us: 5_000, pct: 10 };
/// `rtt_tolerance_ms` / `rtt_tolerance_pct`: members within 1 ms or 20 %
/// of the fastest probe RTT are as fast.
pub(super) const DEFAULT_RTT_TOLERANCE: Tolerance = Tolerance { us: 1_000, pct: 20 };
/// Largest tolerance in milliseconds (10 s).
pub(super) const MAX_TOLERANCE_MS: f64 = 10_000.0;
/// Largest tolerance in percent.
pub(super) const MAX_TOLERANCE_PCT: f64 = 1_000.0;

/// The owner of `[names.OWNER]` as a name in `origin`'s zone, by the zone
/// files' own rule ([`parse_owner`]); `None` after reporting it. Rejects a
/// wildcard (a load-balanced name is one name) and a second spelling of a
/// name already seen (names compare case-insensitively, and `www` is
/// `www.ZONE.`).
pub(super) fn owner_name(
    cx: &mut Cx<'_>,
    owner: &Spanned<String>,
    path: &str,
    origin: &Name,
    seen: &mut HashMap<Box<[u8]>, String>,
) -> Option<Name> {
    let at = owner.span().start;
    let written = owner.get_ref().as_str();
    let name = match parse_owner(written, origin) {
        Ok(n) => n,
        Err(p) => {
            cx.error(at, path, format!("owner name {written:?} {p}"));
            return None;
        }
    };
    if name.is_wildcard() {
        cx.error(
            at,
            path,
            format!("owner name {written:?} is a wildcard; a load-balanced name is one name"),
        );
        return None;
    }
    match seen.entry(to_wire_lower(&name)) {
        Entry::Occupied(first) => {
            cx.error(
                at,
                path,
                format!(
                    "same name as {} (DNS names are case-insensitive)",
                    first.get()
                ),
            );
            None
        }
        Entry::Vacant(v) => {
            v.insert(path.to_owned());
            Some(name)
        }
    }
}

/// What a name may refer to in its policy file: the pools (`None` for a
/// broken one), the custom networks (`None` when `[geo]` is broken) and
/// `[latency]` (`None` when broken); broken ones are already reported.
pub(super) struct FileCx<'a> {
    pub(super) pools: &'a HashMap<&'a str, Option<Arc<Pool>>>,
    pub(super) nets: Option<&'a Arc<CustomNets>>,
    pub(super) latency: Option<&'a LatencySection>,
}

/// `[names.OWNER]` → a load-balanced name; `None` after reporting any
/// error.
pub(super) fn compile_name(
    cx: &mut Cx<'_>,
    owner: &str,
    base: &str,
    spec: &NameSpec,
    name_key: &Spanned<String>,
    file: &FileCx<'_>,
) -> Option<BalancedName> {
    let (pools, nets) = (file.pools, file.nets);
    let NameSpec {
        policy,
        pool,
        groups,
        group_policy,
        ttl,
        ttl_while_failing,
        answers,
        on_all_down,
        fallback_pool,
        sticky_v4_prefix,
        sticky_v6_prefix,
        tolerance_ms,
        tolerance_pct,
        rtt_tolerance_ms,
        rtt_tolerance_pct,
        geo,
        bad,
    } = spec;
    let before = cx.diags.len();
    let n = NameCx {
        base,
        header: name_key.span().start,
        pools,
        policy: policy.as_ref().map_or("", |p| p.get_ref()),
        bad,
    };
    // A missing or mistyped policy is already reported: the rules that
    // depend on it stay quiet, the others still run.
    let kind = policy.as_ref().and_then(|policy| {
        cx.check(
            policy.span().start,
            n.key("policy"),
            one_of("policy", &Policy::WORDS, policy.get_ref()),
        )
    });
    let ttl = ttl
        .as_ref()
        .and_then(|t| {
            let r = int_in(*t.get_ref(), 1..=MAX_TTL);
            cx.check(t.span().start, n.key("ttl"), r)
        })
        .map_or(DEFAULT_TTL, |t| t as u32);
    let ttl_while_failing = ttl_while_failing.as_ref().and_then(|t| {
        let r = int_in(*t.get_ref(), 0..=i64::from(ttl));
        cx.check(t.span().start, n.key("ttl_while_failing"), r)
            .map(|t| t as u32)
    });
    let answers = answers
        .as_ref()
        .map_or(Answers::Count(1), |a| answer_count(cx, &n, a));
    let mut group_pools = n.group_pools(cx, kind, pool.as_ref(), groups.as_ref());
    let rules = n.geo_rules(cx, kind, geo.as_ref(), nets.map(|n| &**n));
    let pick = n.pick(
        cx,
        kind,
        group_policy.as_ref(),
        [sticky_v4_prefix.as_ref(), sticky_v6_prefix.as_ref()],
        [rtt_tolerance_ms.as_ref(), rtt_tolerance_pct.as_ref()],
    );
    let on_all_down = n.on_all_down(cx, on_all_down.as_ref(), fallback_pool.as_ref());
    let tolerance = n.tolerance(cx, kind, [tolerance_ms.as_ref(), tolerance_pct.as_ref()]);
    if matches!(kind, Some(Policy::Latency | Policy::Closest)) && group_pools.len() > MAX_POOLS {
        let at = groups.as_ref().map_or(n.header, |g| g.span().start);
        cx.error(
            at,
            n.key("groups"),
            format!(
                "{} pools; a {} name ranks at most {MAX_POOLS}",
                group_pools.len(),
                n.policy
            ),
        );
    }

    if cx.diags.len() != before || bad.any() {
        return None;
    }
    let mut geo_rules = None;
    if let Some(Policy::Geo) = kind {
        let r = rules?;
        group_pools = r.pools;
        geo_rules = Some(r.rules);
    }
    let written_groups = groups;
    let groups: Box<[Group]> = group_pools.into_iter().map(Group::new).collect();
    if groups.is_empty() {
        // A referenced pool failed validation; that error is already out.
        return None;
    }
    let order = match kind? {
        Policy::Failover => Order::Failover,
        Policy::Geo => Order::Geo(Arc::new(GeoMap::new(nets?.clone(), geo_rules?))),
        p @ (Policy::Latency | Policy::Closest) => {
            let section = file.latency?;
            let ranking = if p == Policy::Latency {
                Ranking::Latency
            } else {
                Ranking::Closest
            };
            let map = LatencyMap::new(
                ranking,
                nets?.clone(),
                section.table.clone(),
                &groups,
                tolerance,
                section.model,
            );
            if !map.can_estimate() {
                cx.warn(
                    n.header,
                    base,
                    format!(
                        "no pool of this {p} name has lat/lon{}: every client gets the pools in \
                         `groups` order",
                        if p == Policy::Latency {
                            " and the file has no [latency] table"
                        } else {
                            ""
                        }
                    ),
                );
            } else {
                // Some pools can be estimated and this one never: it always
                // comes last, which is rarely what the operator meant.
                let entries = written_groups
                    .as_ref()
                    .map_or(&[][..], |g| g.get_ref().as_slice());
                for (i, entry) in entries.iter().enumerate() {
                    if !map.blind(i) {
                        continue;
                    }
                    let why = if p == Policy::Closest {
                        "has no lat/lon: this closest name ranks it after every pool with \
                         coordinates, for every client"
                    } else if map.table().is_some() {
                        "has no lat/lon and no figure in the [latency] table: this latency name \
                         ranks it after every pool it can estimate, for every client"
                    } else {
                        "has no lat/lon and no [latency] table: this latency name ranks it after \
                         every pool it can estimate, for every client"
                    };
                    // Members' lat/lon are labels; say so when that is
                    // where the operator put the coordinates.
                    let hint = if groups[i].pool.iter().any(|m| m.coords.is_some()) {
                        " (its members' lat/lon are labels only: give the pool's own lat/lon)"
                    } else {
                        ""
                    };
                    cx.warn(
                        entry.span().start,
                        format!("{base}.groups[{i}]"),
                        format!("pool {:?} {why}{hint}", entry.get_ref()),
                    );
                }
            }
            Order::Latency(Arc::new(map))
        }
        Policy::Weighted
        | Policy::RoundRobin
        | Policy::Multivalue
        | Policy::Sticky
        | Policy::LeastResponseTime
        | Policy::LeastConnections => Order::Single,
    };
    Some(BalancedName {
        name: owner.to_owned(),
        ttl,
        ttl_while_failing,
        answers,
        order,
        pick,
        groups,
        on_all_down: on_all_down?,
    })
}

/// `answers`: 1..=64 or `"all"`.
fn answer_count(cx: &mut Cx<'_>, n: &NameCx<'_>, a: &Spanned<AnswersSpec>) -> Answers {
    match a.get_ref() {
        AnswersSpec::Count(c) if (1..=MAX_ANSWERS as i64).contains(c) => Answers::Count(*c as u8),
        AnswersSpec::Word(w) if w == "all" => Answers::All,
        other => {
            let got = match other {
                AnswersSpec::Count(c) => c.to_string(),
                AnswersSpec::Word(w) => format!("{w:?}"),
            };
            cx.error(
                a.span().start,
                n.key("answers"),
                format!("must be between 1 and {MAX_ANSWERS} or \"all\", got {got}"),
            );
            Answers::Count(1)
        }
    }
}

/// What the key groups of one `[names.X]` need to know about it.
pub(super) struct NameCx<'a> {
    /// `names.X`
    base: &'a str,
    /// Offset of the `X` in `[names.X]`, for errors about missing keys.
    header: usize,
    pools: &'a HashMap<&'a str, Option<Arc<Pool>>>,
    /// The policy word as written, for messages.
    policy: &'a str,
    /// Keys whose values were mistyped (already reported).
    bad: &'a BadKeys,
}

impl NameCx<'_> {
    pub(super) fn key(&self, k: &str) -> String {
        format!("{}.{k}", self.base)
    }

    /// The pool `r` names, reported against the full key `path` when
    /// there is none.
    pub(super) fn pool(
        &self,
        cx: &mut Cx<'_>,
        r: &Spanned<String>,
        path: &str,
    ) -> Option<Arc<Pool>> {
        match self.pools.get(r.get_ref().as_str()) {
            Some(p) => p.clone(),
            None => {
                cx.error(
                    r.span().start,
                    path,
                    format!("unknown pool {:?}", r.get_ref()),
                );
                None
            }
        }
    }

    /// `[names.X.geo]`: required for policy geo, rejected for the others.
    fn geo_rules(
        &self,
        cx: &mut Cx<'_>,
        kind: Option<Policy>,
        geo: Option<&GeoRulesSpec>,
        nets: Option<&CustomNets>,
    ) -> Option<Rules> {
        let policy = self.policy;
        match (kind, geo) {
            // Written, but not a table: already reported.
            (Some(Policy::Geo), None) if self.bad.has("geo") => None,
            (Some(Policy::Geo), None) => {
                cx.error(
                    self.header,
                    self.key("geo"),
                    "required for policy geo: the rules, [names.X.geo]",
                );
                None
            }
            (Some(Policy::Geo), Some(g)) => compile_rules(cx, self, g, nets),
            (Some(_), Some(g)) => {
                cx.error(
                    g.at,
                    self.key("geo"),
                    format!("only for policy geo, not {policy}"),
                );
                None
            }
            (None, _) | (Some(_), None) => None,
        }
    }

    /// The pool `r` names; `None` (reported) when there is none.
    fn resolve(&self, cx: &mut Cx<'_>, r: &Spanned<String>, k: &str) -> Option<Arc<Pool>> {
        match self.pools.get(r.get_ref().as_str()) {
            Some(p) => p.clone(),
            None => {
                cx.error(
                    r.span().start,
                    self.key(k),
                    format!("unknown pool {:?}", r.get_ref()),
                );
                None
            }
        }
    }

    /// `pool` (every policy but failover) or `groups` (failover): the
    /// name's groups in file order.
    fn group_pools(
        &self,
        cx: &mut Cx<'_>,
        kind: Option<Policy>,
        pool: Option<&Spanned<String>>,
        groups: Option<&Spanned<Vec<Spanned<String>>>>,
    ) -> Vec<Arc<Pool>> {
        let policy = self.policy;
        match kind {
            Some(Policy::Geo) => {
                for (k, at) in [
                    ("pool", pool.map(|p| p.span().start)),
                    ("groups", groups.map(|g| g.span().start)),
                ] {
                    if let Some(at) = at {
                        cx.error(
                            at,
                            self.key(k),
                            "not used by policy geo; the rules in [names.X.geo] name the pools",
                        );
                    }
                }
                return Vec::new();
            }
            Some(p @ (Policy::Failover | Policy::Latency | Policy::Closest)) => {
                if let Some(pl) = pool {
                    cx.error(
                        pl.span().start,
                        self.key("pool"),
                        format!("not used by policy {p}; list the pools in `groups`"),
                    );
                }
                if groups.is_none() && !self.bad.has("groups") {
                    cx.error(
                        self.header,
                        self.key("groups"),
                        format!("required for policy {p}"),
                    );
                }
            }
            Some(_) => {
                if let Some(g) = groups {
                    cx.error(
                        g.span().start,
                        self.key("groups"),
                        format!("only for policies failover, latency and closest, not {policy}"),
                    );
                }
                if pool.is_none() && !self.bad.has("pool") {
                    cx.error(
                        self.header,
                        self.key("pool"),
                        format!("required for policy {policy}"),
                    );
                }
            }
            None => {}
        }
        let mut out = Vec::new();
        if let Some(p) = pool {
            out.extend(self.resolve(cx, p, "pool"));
        }
        if let Some(g) = groups {
            if g.get_ref().is_empty() {
                cx.error(
                    g.span().start,
                    self.key("groups"),
                    "needs at least one pool",
                );
            }
            let mut seen = HashSet::new();
            for (i, r) in g.get_ref().iter().enumerate() {
                if !seen.insert(r.get_ref().as_str()) {
                    cx.error(
                        r.span().start,
                        format!("{}.groups[{i}]", self.base),
                        format!("pool {:?} is listed twice", r.get_ref()),
                    );
                }
                out.extend(self.resolve(cx, r, &format!("groups[{i}]")));
            }
        }
        out
    }

    /// The pick inside the answering group: the policy itself, or
    /// `group_policy` for the policies that order pools; its settings
    /// (sticky's prefixes, least response time's tolerance), each key
    /// refused when the pick does not use it.
    fn pick(
        &self,
        cx: &mut Cx<'_>,
        kind: Option<Policy>,
        group_policy: Option<&Spanned<String>>,
        [v4, v6]: [Option<&Spanned<i64>>; 2],
        [tol_ms, tol_pct]: [Option<&Spanned<f64>>; 2],
    ) -> Pick {
        let policy = self.policy;
        let ordered = kind.is_some_and(Policy::orders_groups);
        // The pick's own policy word; `None` when unknown (reported).
        let picked = match group_policy {
            None if ordered => Some(Policy::Weighted),
            None => kind,
            Some(gp) => {
                if kind.is_some_and(|k| !k.orders_groups()) {
                    cx.error(
                        gp.span().start,
                        self.key("group_policy"),
                        format!(
                            "only for policies failover, geo, latency and closest, not {policy}"
                        ),
                    );
                }
                let r = one_of("group policy", &Policy::GROUP_WORDS, gp.get_ref());
                cx.check(gp.span().start, self.key("group_policy"), r)
            }
        };
        // A key of one pick given to another: say which picks take it.
        let only_for = |cx: &mut Cx<'_>, at: usize, k: &str, wanted: Policy| {
            let Some(p) = picked.filter(|p| *p != wanted) else {
                return;
            };
            let msg = if ordered {
                format!("only with group_policy = \"{wanted}\", not {p}")
            } else {
                format!("only for policy {wanted}, not {policy}")
            };
            cx.error(at, self.key(k), msg);
        };
        let prefix = |cx: &mut Cx<'_>, v: Option<&Spanned<i64>>, max: i64, k: &str, default: u8| {
            let Some(v) = v else { return default };
            only_for(cx, v.span().start, k, Policy::Sticky);
            cx.check(v.span().start, self.key(k), int_in(*v.get_ref(), 0..=max))
                .map_or(default, |p| p as u8)
        };
        let defaults = StickyPrefixes::default();
        let sticky = StickyPrefixes {
            v4: prefix(cx, v4, 32, "sticky_v4_prefix", defaults.v4),
            v6: prefix(cx, v6, 128, "sticky_v6_prefix", defaults.v6),
        };
        let tolerance = Tolerance {
            us: tol_ms.map_or(DEFAULT_RTT_TOLERANCE.us, |v| {
                only_for(
                    cx,
                    v.span().start,
                    "rtt_tolerance_ms",
                    Policy::LeastResponseTime,
                );
                let r = float_in(*v.get_ref(), 0.0..=MAX_TOLERANCE_MS, " ms");
                cx.check(v.span().start, self.key("rtt_tolerance_ms"), r)
                    .map_or(0, |ms| (ms * 1000.0).round() as u32)
            }),
            pct: tol_pct.map_or(DEFAULT_RTT_TOLERANCE.pct, |v| {
                only_for(
                    cx,
                    v.span().start,
                    "rtt_tolerance_pct",
                    Policy::LeastResponseTime,
                );
                let r = float_in(*v.get_ref(), 0.0..=MAX_TOLERANCE_PCT, " %");
                cx.check(v.span().start, self.key("rtt_tolerance_pct"), r)
                    .map_or(0, |p| p.round() as u16)
            }),
        };
        match picked {
            Some(Policy::RoundRobin) => Pick::RoundRobin,
            Some(Policy::Multivalue) => Pick::Multivalue,
            Some(Policy::Sticky) => Pick::Sticky(sticky),
            Some(Policy::LeastResponseTime) => Pick::LeastResponseTime(tolerance),
            Some(Policy::LeastConnections) => Pick::LeastConnections,
            Some(
                Policy::Weighted
                | Policy::Failover
                | Policy::Geo
                | Policy::Latency
                | Policy::Closest,
            )
            | None => Pick::Weighted,
        }
    }

    /// `tolerance_ms` and `tolerance_pct`: latency names only.
    fn tolerance(
        &self,
        cx: &mut Cx<'_>,
        kind: Option<Policy>,
        [ms, pct]: [Option<&Spanned<f64>>; 2],
    ) -> Tolerance {
        let policy = self.policy;
        let mut read = |v: Option<&Spanned<f64>>, k: &str, max: f64, unit: &str| {
            let v = v?;
            if kind.is_some_and(|p| p != Policy::Latency) {
                cx.error(
                    v.span().start,
                    self.key(k),
                    format!("only for policy latency, not {policy}"),
                );
            }
            cx.check(
                v.span().start,
                self.key(k),
                float_in(*v.get_ref(), 0.0..=max, unit),
            )
        };
        let d = DEFAULT_TOLERANCE;
        Tolerance {
            us: read(ms, "tolerance_ms", MAX_TOLERANCE_MS, " ms")
                .map_or(d.us, |ms| (ms * 1000.0).round() as u32),
            pct: read(pct, "tolerance_pct", MAX_TOLERANCE_PCT, " %")
                .map_or(d.pct, |p| p.round() as u16),
        }
    }

    /// `on_all_down` and `fallback_pool`; `None` after an error.
    fn on_all_down(
        &self,
        cx: &mut Cx<'_>,
        mode: Option<&Spanned<String>>,
        fallback_pool: Option<&Spanned<String>>,
    ) -> Option<OnAllDown> {
        let word = match mode {
            None if self.bad.has("on_all_down") => None,
            None => Some(AllDownMode::FailOpen),
            Some(s) => {
                let r = one_of("mode", &AllDownMode::WORDS, s.get_ref());
                cx.check(s.span().start, self.key("on_all_down"), r)
            }
        };
        let out = match word? {
            AllDownMode::FailOpen => Some(OnAllDown::FailOpen),
            AllDownMode::Empty => Some(OnAllDown::Empty),
            AllDownMode::ServFail => Some(OnAllDown::ServFail),
            AllDownMode::Fallback => match fallback_pool {
                None if self.bad.has("fallback_pool") => None,
                None => {
                    let at = mode.map_or(self.header, |s| s.span().start);
                    cx.error(
                        at,
                        self.key("fallback_pool"),
                        "required with on_all_down = \"fallback\"",
                    );
                    None
                }
                Some(fb) => self
                    .resolve(cx, fb, "fallback_pool")
                    .map(|p| OnAllDown::Fallback(Group::new(p))),
            },
        };
        if let Some(fb) = fallback_pool
            && word.is_some_and(|w| w != AllDownMode::Fallback)
        {
            cx.error(
                fb.span().start,
                self.key("fallback_pool"),
                "only used with on_all_down = \"fallback\"",
            );
        }
        out
    }
}
