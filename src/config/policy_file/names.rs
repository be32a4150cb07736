//! `[names.OWNER]` compiled into a load-balanced name: its policy, pools,
//! answer size, TTL and what to do when everything is down.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use hickory_proto::rr::Name;
use toml::Spanned;

use super::parse::Cx;
use super::spec::{AnswersSpec, NameSpec};
use crate::config::values::int_in;
use crate::policy::{
    Answers, Group, GroupPolicy, LbName, MAX_ANSWERS, OnAllDown, Policy, Pool, StickyPrefixes,
};
use crate::zone::name::{parse_owner, to_wire_lower};

/// Defaults, documented in `zones/example.test.toml`.
pub const DEFAULT_TTL: u32 = 30;
pub const MAX_TTL: i64 = 86_400;

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

pub(super) fn compile_name(
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

    let ttl = ttl
        .as_ref()
        .and_then(|t| {
            cx.check(
                t.span().start,
                key("ttl"),
                int_in(*t.get_ref(), 1..=MAX_TTL),
            )
        })
        .map_or(DEFAULT_TTL, |t| t as u32);
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
        v.and_then(|v| cx.check(v.span().start, key(k), int_in(*v.get_ref(), 0..=max)))
            .map_or(default, |p| p as u8)
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
