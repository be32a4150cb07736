//! `[pools.NAME]` compiled into a [`Pool`]: member addresses, weights,
//! operator states and checks, each member interned as a health target.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::parse::{Cx, key_path};
use super::spec::{MemberSpec, PoolSpec};
use crate::config::values::{float_in, int_in, non_empty, one_of};
use crate::health::{Check, ForcedCell, TargetKey, TargetRegistry};
use crate::policy::{Coords, Member, OperatorState, Pool};

pub const DEFAULT_WEIGHT: u32 = 1;
pub const MAX_WEIGHT: i64 = 1000;

/// Checks of the file by name; `None` for one that failed validation
/// (already reported, so references to it stay quiet).
pub(super) type Checks<'a> = HashMap<&'a str, Option<Arc<Check>>>;

/// Compile one pool; `None` after reporting any error in it.
pub(super) fn compile_pool(
    cx: &mut Cx<'_>,
    name: &str,
    spec: &PoolSpec,
    checks: &Checks<'_>,
    targets: &mut TargetRegistry,
) -> Option<Pool> {
    let PoolSpec { members } = spec;
    let base = key_path("pools", name);
    // Missing or not a list: already reported.
    let members = members.as_ref()?;
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
    // Names select members in the admin API (ZONE/POOL/MEMBER): unique.
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, m) in members.get_ref().iter().enumerate() {
        let path = format!("{base}.members[{i}]");
        // Not a table: already reported.
        let Some(m) = m else {
            ok = false;
            continue;
        };
        match compile_member(cx, &base, &path, m, checks, targets) {
            Some(member) => {
                if let Some(first) = seen.insert(member.addr, i)
                    && let Some(address) = &m.address
                {
                    cx.error(
                        address.span().start,
                        format!("{path}.address"),
                        format!("{} is already members[{first}] of this pool", member.addr),
                    );
                    ok = false;
                }
                if let Some(n) = &m.name
                    && let Some(first) = names.insert(n.get_ref(), i)
                {
                    cx.error(
                        n.span().start,
                        format!("{path}.name"),
                        format!(
                            "{:?} is already the name of members[{first}] of this pool: \
                             names select members in the admin API, so each must be unique",
                            n.get_ref()
                        ),
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

/// One member of the pool at key `pool` (`pools.web`); `path` is the
/// member's own key (`pools.web.members[2]`).
fn compile_member(
    cx: &mut Cx<'_>,
    pool: &str,
    path: &str,
    spec: &MemberSpec,
    checks: &Checks<'_>,
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
        bad,
    } = spec;
    let before = cx.diags.len();
    let key = |k: &str| format!("{path}.{k}");

    // Missing or mistyped: already reported by the reader; the member's
    // other keys are still checked.
    let addr = address
        .as_ref()
        .and_then(|address| match address.get_ref().parse::<IpAddr>() {
            Ok(a) if not_unicast(a).is_some() => {
                let why = not_unicast(a).unwrap_or_default();
                cx.error(
                    address.span().start,
                    key("address"),
                    format!("{a} is not a unicast address ({why})"),
                );
                None
            }
            Ok(a) => Some(a),
            Err(_) => {
                cx.error(
                    address.span().start,
                    key("address"),
                    format!("invalid IP address {:?}", address.get_ref()),
                );
                None
            }
        });
    let weight = weight
        .as_ref()
        .and_then(|w| {
            cx.check(
                w.span().start,
                key("weight"),
                int_in(*w.get_ref(), 0..=MAX_WEIGHT),
            )
        })
        .map_or(DEFAULT_WEIGHT, |w| w as u32);
    let state = state
        .as_ref()
        .and_then(|s| {
            let r = one_of("state", &OperatorState::WORDS, s.get_ref());
            cx.check(s.span().start, key("state"), r)
        })
        .unwrap_or(OperatorState::Auto);
    let mut text = |v: &Option<toml::Spanned<String>>, k: &str| {
        let v = v.as_ref()?;
        cx.check(v.span().start, key(k), non_empty(v.get_ref()))
            .map(str::to_owned)
    };
    let label = text(name, "name");
    let region = text(region, "region");
    let mut degrees = |v: &Option<toml::Spanned<f64>>, max: f64, k: &str| {
        let v = v.as_ref()?;
        cx.check(
            v.span().start,
            key(k),
            float_in(*v.get_ref(), -max..=max, ""),
        )
    };
    let lat_v = degrees(lat, 90.0, "lat");
    let lon_v = degrees(lon, 180.0, "lon");
    let coords = match (lat, lon) {
        (Some(_), Some(_)) => lat_v.zip(lon_v).map(|(lat, lon)| Coords { lat, lon }),
        (None, None) => None,
        (Some(l), None) => {
            cx.error(l.span().start, key("lon"), "required with lat");
            None
        }
        (None, Some(l)) => {
            cx.error(l.span().start, key("lat"), "required with lon");
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
                    key("check"),
                    format!("unknown check {:?}", c.get_ref()),
                );
                None
            }
        },
    };

    let (addr, check_ref) = (addr?, check_ref?);
    if cx.diags.len() != before || bad.any() {
        return None;
    }
    let target = targets.intern(TargetKey {
        addr,
        check: check_ref,
    });
    // Who uses the target, for the prober's state-change lines.
    let zone = cx.path.file_stem().and_then(|f| f.to_str()).unwrap_or("");
    let used = match &label {
        Some(l) => format!("{l} in {zone} {pool}"),
        None => format!("{zone} {pool}"),
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
        forced: ForcedCell::default(),
    })
}

/// Why `a` cannot be an endpoint that clients connect to, if it cannot:
/// the unspecified address, the IPv4 limited broadcast address, a
/// multicast address, or an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`
/// in an AAAA answer is no address a client can reach; write the IPv4
/// address, which is answered as A).
pub(super) fn not_unicast(a: IpAddr) -> Option<String> {
    match a {
        _ if a.is_unspecified() => Some("the unspecified address".into()),
        _ if a.is_multicast() => Some("a multicast address".into()),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("the broadcast address".into()),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(|v4| format!("an IPv4-mapped IPv6 address: write {v4}, which is answered as A")),
        IpAddr::V4(_) => None,
    }
}
