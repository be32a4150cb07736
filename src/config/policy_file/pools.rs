//! `[pools.NAME]` compiled into a [`Pool`]: member addresses, weights,
//! operator states and checks, each member interned as a health target.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::parse::{Cx, key_path};
use super::spec::{MemberSpec, PoolSpec};
use crate::config::values::{float_in, int_in, non_empty, one_of};
use crate::health::{Check, ForcedCell, TargetKey, TargetRegistry};
use crate::policy::{Coords, Member, OperatorState, Pool, Site};
use crate::words::Words;

pub const DEFAULT_WEIGHT: u32 = 1;
pub const MAX_WEIGHT: i64 = 1000;

/// `check_family` of a dual-stack member: which of its addresses the
/// check probes. Either way the endpoint has one health state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum CheckFamily {
    V4,
    V6,
    /// Both; down when either fails.
    Both,
}

const CHECK_FAMILIES: Words<CheckFamily> = Words(&[
    ("v4", CheckFamily::V4),
    ("v6", CheckFamily::V6),
    ("both", CheckFamily::Both),
]);

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
    let PoolSpec {
        members,
        lat,
        lon,
        weight,
        bias_ms,
        bias,
        bad,
    } = spec;
    let base = key_path("pools", name);
    let before = cx.diags.len();
    let site = site(cx, &base, [lat, lon], weight, bias_ms, bias, bad);
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
                let keys = [(&m.address, "address"), (&m.address6, "address6")];
                for (a, (written, key)) in member.addrs().zip(keys) {
                    if let Some(first) = seen.insert(a, i)
                        && let Some(written) = written
                    {
                        cx.error(
                            written.span().start,
                            format!("{path}.{key}"),
                            format!("{a} is already members[{first}] of this pool"),
                        );
                        ok = false;
                    }
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
    let site = site.filter(|_| cx.diags.len() == before && !bad.any());
    (ok && site.is_some()).then(|| Pool::new(name, out).with_site(site.unwrap_or_default()))
}

/// Largest `bias_ms`, either way: 10 s.
pub(super) const MAX_BIAS_MS: f64 = 10_000.0;

/// The pool-level keys: where it is and how latency and closest names
/// treat it. `None` after reporting an error.
fn site(
    cx: &mut Cx<'_>,
    base: &str,
    [lat, lon]: [&Option<toml::Spanned<f64>>; 2],
    weight: &Option<toml::Spanned<i64>>,
    bias_ms: &Option<toml::Spanned<f64>>,
    bias: &Option<toml::Spanned<i64>>,
    bad: &crate::config::fields::BadKeys,
) -> Option<Site> {
    let key = |k: &str| format!("{base}.{k}");
    let coords = coords(cx, &key, lat, lon, bad);
    let defaults = Site::default();
    let weight = weight.as_ref().map_or(Some(defaults.weight), |w| {
        cx.check(
            w.span().start,
            key("weight"),
            int_in(*w.get_ref(), 1..=MAX_WEIGHT),
        )
        .map(|w| w as u32)
    });
    let bias_us = bias_ms.as_ref().map_or(Some(0), |b| {
        let r = float_in(*b.get_ref(), -MAX_BIAS_MS..=MAX_BIAS_MS, " ms");
        cx.check(b.span().start, key("bias_ms"), r)
            .map(|ms| (ms * 1000.0).round() as i64)
    });
    let bias_pct = bias.as_ref().map_or(Some(0), |b| {
        cx.check(b.span().start, key("bias"), int_in(*b.get_ref(), -99..=99))
            .map(|b| b as i8)
    });
    Some(Site {
        coords: coords?,
        weight: weight?,
        bias_us: bias_us?,
        bias_pct: bias_pct?,
    })
}

/// `lat` and `lon`, both or neither, in range; `Some(None)` when neither
/// is written, `None` after an error.
fn coords(
    cx: &mut Cx<'_>,
    key: &dyn Fn(&str) -> String,
    lat: &Option<toml::Spanned<f64>>,
    lon: &Option<toml::Spanned<f64>>,
    bad: &crate::config::fields::BadKeys,
) -> Option<Option<Coords>> {
    let mut degrees = |v: &Option<toml::Spanned<f64>>, max: f64, k: &str| {
        let v = v.as_ref()?;
        cx.check(
            v.span().start,
            key(k),
            float_in(*v.get_ref(), -max..=max, ""),
        )
    };
    let (lat_v, lon_v) = (degrees(lat, 90.0, "lat"), degrees(lon, 180.0, "lon"));
    match (lat, lon) {
        _ if bad.has("lat") || bad.has("lon") => None,
        (Some(_), Some(_)) => Some(Some(Coords {
            lat: lat_v?,
            lon: lon_v?,
        })),
        (None, None) => Some(None),
        (Some(l), None) => {
            cx.error(l.span().start, key("lon"), "required with lat");
            None
        }
        (None, Some(l)) => {
            cx.error(l.span().start, key("lat"), "required with lon");
            None
        }
    }
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
        address6,
        weight,
        name,
        region,
        lat,
        lon,
        check,
        check_family,
        state,
        bad,
    } = spec;
    let before = cx.diags.len();
    let key = |k: &str| format!("{path}.{k}");

    // Missing or mistyped: already reported by the reader; the member's
    // other keys are still checked.
    let mut unicast = |v: &Option<toml::Spanned<String>>, k: &str| {
        let v = v.as_ref()?;
        match v.get_ref().parse::<IpAddr>() {
            Ok(a) if not_unicast(a).is_some() => {
                let why = not_unicast(a).unwrap_or_default();
                cx.error(
                    v.span().start,
                    key(k),
                    format!("{a} is not a unicast address ({why})"),
                );
                None
            }
            Ok(a) => Some(a),
            Err(_) => {
                cx.error(
                    v.span().start,
                    key(k),
                    format!("invalid IP address {:?}", v.get_ref()),
                );
                None
            }
        }
    };
    let addr = unicast(address, "address");
    let addr6 = unicast(address6, "address6");
    // A dual-stack endpoint: `address` IPv4, `address6` IPv6.
    if let (Some(a6), Some(w)) = (addr6, address6)
        && !a6.is_ipv6()
    {
        cx.error(
            w.span().start,
            key("address6"),
            format!("{a6} is not an IPv6 address; address6 is the endpoint's IPv6 address"),
        );
    }
    if let (Some(a), Some(w), Some(_)) = (addr, address, address6)
        && !a.is_ipv4()
    {
        cx.error(
            w.span().start,
            key("address"),
            format!(
                "{a} is not an IPv4 address; with address6, address is the endpoint's IPv4 address"
            ),
        );
    }
    let family = match check_family {
        None => Some(CheckFamily::V4),
        Some(f) => {
            if address6.is_none() && !bad.has("address6") {
                cx.error(
                    f.span().start,
                    key("check_family"),
                    "only for a dual-stack member (with address6)",
                );
            }
            let r = one_of("check family", &CHECK_FAMILIES, f.get_ref());
            cx.check(f.span().start, key("check_family"), r)
        }
    };
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
    let coords = coords(cx, &key, lat, lon, bad).flatten();
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

    let (addr, check_ref, family) = (addr?, check_ref?, family?);
    if cx.diags.len() != before || bad.any() {
        return None;
    }
    // The addresses probed: the endpoint's, or for a dual-stack one the
    // checked family's (both: two probes, one health state).
    let probed: &[IpAddr] = match (addr6, family) {
        (None, _) => &[addr],
        (Some(_), CheckFamily::V4) => &[addr],
        (Some(a6), CheckFamily::V6) => &[a6],
        (Some(a6), CheckFamily::Both) => &[addr, a6],
    };
    // Who uses the target, for the prober's state-change lines.
    let zone = cx.path.file_stem().and_then(|f| f.to_str()).unwrap_or("");
    let used = match &label {
        Some(l) => format!("{l} in {zone} {pool}"),
        None => format!("{zone} {pool}"),
    };
    let mut ids = probed.iter().map(|&a| {
        let id = targets.intern(TargetKey {
            addr: a,
            check: check_ref.clone(),
        });
        targets.note_use(id, &used);
        id
    });
    let (target, also) = (ids.next()?, ids.next());
    Some(Member {
        addr,
        other: addr6,
        target,
        also,
        weight,
        state,
        label,
        region,
        coords,
        check: check.as_ref().map(|c| c.get_ref().clone()),
        load_kind: check_ref.as_ref().and_then(|c| c.load()).map(|l| l.kind),
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
