//! The endpoints of a snapshot as operators name them, and how an
//! operator's `ENDPOINT` (an address, `MEMBER`, `POOL/MEMBER` or
//! `ZONE/POOL/MEMBER`) resolves to an override [`Selector`].

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use crate::health::overrides::{MemberRef, Override, Selector};
use crate::policy::{BalancedName, Member, OnAllDown, OperatorState, Pool};
use crate::snapshot::Snapshot;

/// One pool member of one zone's policy file.
#[derive(Clone, Debug)]
pub struct Endpoint<'a> {
    /// Zone origin without the final dot, lowercase.
    pub zone: String,
    pub pool: &'a str,
    pub member: &'a Member,
    /// A dual-stack endpoint's IPv6 entry (`member` is its IPv4 one): an
    /// override is written to both.
    pub twin: Option<&'a Member>,
}

impl Endpoint<'_> {
    /// The member's `name`, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.member.label.as_deref()
    }

    pub fn member_ref(&self) -> MemberRef<'_> {
        MemberRef {
            addr: self.member.addr,
            other: self.member.other,
            zone: &self.zone,
            pool: self.pool,
            member: self.member.label.as_deref(),
            file_down: self.member.state == OperatorState::Down,
            cell: &self.member.forced,
            twin_cell: self.twin.map(|t| &t.forced),
        }
    }
}

/// Zone origin of every load-balanced name, by name index ("" if none).
pub fn zone_of_names(snap: &Snapshot) -> Vec<String> {
    let mut out = vec![String::new(); snap.lb.len()];
    for z in snap.zones.zones() {
        let origin = zone_key(&z.origin.to_ascii());
        for node in z.nodes() {
            if let Some(i) = node.lb()
                && let Some(slot) = out.get_mut(i as usize)
            {
                slot.clone_from(&origin);
            }
        }
    }
    out
}

/// `example.test.` → `example.test` (the form selectors use).
pub fn zone_key(origin: &str) -> String {
    let z = origin.trim_end_matches('.').to_ascii_lowercase();
    if z.is_empty() { ".".into() } else { z }
}

/// The pools of `name` in order: its groups, then its fallback pool.
pub fn pools_of(name: &BalancedName) -> Vec<(&'static str, usize, &Arc<Pool>)> {
    let mut out: Vec<_> = name
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| ("group", i, &g.pool))
        .collect();
    if let OnAllDown::Fallback(g) = &name.on_all_down {
        out.push(("fallback", 0, &g.pool));
    }
    out
}

/// Every pool member of the snapshot, once per (zone, pool, member).
pub fn catalogue(snap: &Snapshot) -> Vec<Endpoint<'_>> {
    let zones = zone_of_names(snap);
    let mut seen: BTreeSet<(String, *const Pool)> = BTreeSet::new();
    let mut out = Vec::new();
    for (i, name) in snap.lb.iter().enumerate() {
        let zone = &zones[i];
        for (_, _, pool) in pools_of(name) {
            if !seen.insert((zone.clone(), Arc::as_ptr(pool))) {
                continue;
            }
            for m in pool.iter() {
                out.push(Endpoint {
                    zone: zone.clone(),
                    pool: &pool.name,
                    member: m,
                    twin: pool.twin_of(m),
                });
            }
        }
    }
    out
}

/// Why an `ENDPOINT` did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// Nothing by that name or address.
    NotFound(String),
    /// Several members match; the candidates in canonical form.
    Ambiguous(Vec<String>),
}

/// Resolve what an operator typed. An address must be some member's
/// (either address of a dual-stack endpoint); a
/// member name may be given as `MEMBER`, `POOL/MEMBER` or
/// `ZONE/POOL/MEMBER` and must match exactly one member. An endpoint that
/// is overridden already resolves even when no member matches any more,
/// so a stale override can be cleared.
pub fn resolve(
    input: &str,
    endpoints: &[Endpoint<'_>],
    overrides: &[Override],
) -> Result<Selector, ResolveError> {
    if let Some(o) = overrides
        .iter()
        .find(|o| o.endpoint.to_string() == input.trim())
    {
        return Ok(o.endpoint.clone());
    }
    let input = input.trim();
    if let Ok(a) = input.parse::<IpAddr>() {
        return if endpoints
            .iter()
            .any(|e| e.member.addr == a || e.member.other == Some(a))
        {
            Ok(Selector::Addr(a))
        } else {
            Err(ResolveError::NotFound(format!(
                "no pool member has the address {a}"
            )))
        };
    }
    let parts: Vec<&str> = input.split('/').collect();
    let (zone, pool, member) = match parts[..] {
        [m] => (None, None, m),
        [p, m] => (None, Some(p), m),
        [z, p, m] => (Some(zone_key(z)), Some(p), m),
        _ => {
            return Err(ResolveError::NotFound(format!(
                "{} is not an address, MEMBER, POOL/MEMBER or ZONE/POOL/MEMBER",
                super::quote(input)
            )));
        }
    };
    let found: BTreeSet<(String, String, String)> = endpoints
        .iter()
        .filter(|e| e.name() == Some(member))
        .filter(|e| pool.is_none_or(|p| e.pool == p))
        .filter(|e| zone.as_ref().is_none_or(|z| &e.zone == z))
        .map(|e| (e.zone.clone(), e.pool.to_string(), member.to_string()))
        .collect();
    let mut found: Vec<_> = found.into_iter().collect();
    match found.len() {
        0 => Err(ResolveError::NotFound(format!(
            "no pool member is named {}",
            super::quote(input)
        ))),
        1 => {
            let (zone, pool, member) = found.remove(0);
            Ok(Selector::Member { zone, pool, member })
        }
        _ => Err(ResolveError::Ambiguous(
            found
                .into_iter()
                .map(|(z, p, m)| format!("{z}/{p}/{m}"))
                .collect(),
        )),
    }
}

/// Apply `list` to the snapshot's pool members (see
/// [`crate::health::overrides::apply`]).
pub fn apply_overrides(list: &[Override], snap: &Snapshot) {
    let endpoints = catalogue(snap);
    crate::health::overrides::apply(list, endpoints.iter().map(Endpoint::member_ref));
}

/// How many pool members `sel`'s override is in force for, with `list` in
/// force: an address override does not count members with their own
/// override or kept `down` by their file.
pub fn applies_to(sel: &Selector, list: &[Override], endpoints: &[Endpoint<'_>]) -> usize {
    crate::health::overrides::applies_to(sel, list, endpoints.iter().map(Endpoint::member_ref))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{Forced, TargetId};

    fn member(name: Option<&str>, addr: &str, t: u32) -> Member {
        let mut m = Member::new(addr.parse().unwrap(), TargetId(t), 1);
        m.label = name.map(Into::into);
        m
    }

    #[test]
    fn resolves_addresses_and_names() {
        let ms = [
            member(Some("web-a"), "192.0.2.1", 0),
            member(Some("web-b"), "192.0.2.2", 1),
            member(Some("web-a"), "192.0.2.3", 2),
            member(None, "192.0.2.4", 3),
        ];
        let ep = |zone: &str, pool, i: usize| Endpoint {
            zone: zone.into(),
            pool,
            member: &ms[i],
            twin: None,
        };
        let eps = [
            ep("a.test", "web", 0),
            ep("a.test", "web", 1),
            ep("b.test", "web", 2),
            ep("b.test", "api", 3),
        ];
        let sel = |s: &str| Selector::parse(s).unwrap();
        assert_eq!(resolve("192.0.2.4", &eps, &[]), Ok(sel("192.0.2.4")));
        assert!(matches!(
            resolve("192.0.2.9", &eps, &[]),
            Err(ResolveError::NotFound(_))
        ));
        assert_eq!(resolve("web-b", &eps, &[]), Ok(sel("a.test/web/web-b")));
        assert_eq!(
            resolve("web/web-a", &eps, &[]),
            Err(ResolveError::Ambiguous(vec![
                "a.test/web/web-a".into(),
                "b.test/web/web-a".into()
            ]))
        );
        assert_eq!(
            resolve("B.Test./web/web-a", &eps, &[]),
            Ok(sel("b.test/web/web-a"))
        );
        assert!(matches!(
            resolve("api/x", &eps, &[]),
            Err(ResolveError::NotFound(_))
        ));
        assert!(matches!(
            resolve("a/b/c/d", &eps, &[]),
            Err(ResolveError::NotFound(_))
        ));
        // A stale override still resolves, so it can be cleared.
        let stale = Override {
            endpoint: sel("c.test/gone/x"),
            state: Forced::Down,
            since: 0,
        };
        assert_eq!(
            resolve("c.test/gone/x", &eps, &[stale]),
            Ok(sel("c.test/gone/x"))
        );
    }
}
