//! The geo parts of a policy file: `[geo]` (the operator's own networks,
//! inline or in a `nets_file`) compiled into [`CustomNets`], and
//! `[names.OWNER.geo]` (rules) compiled into a [`GeoMap`].
//!
//! Codes are checked against ISO 3166 ([`crate::geoip::codes`]): an
//! unknown continent, country or subdivision is an error, as is a region
//! no custom network declares, so a typo cannot silently send a country to
//! the default rule. A geo name without a default rule loads with a
//! warning: clients no rule matches get NODATA.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;
use toml::Spanned;

use super::names::NameCx;
use super::parse::{Cx, key_path};
use super::spec::{
    GeoRulesSpec, GeoSpec, NetList, NetSpec, NetsFileSpec, PoolList, ReadSpec, RuleTable,
};
use crate::config::fields::Fields;
use crate::config::places::{
    country_code, parse_net, subdivision_code, unknown_continent, unknown_country,
    unknown_subdivision,
};
use crate::config::values::float_in;
use crate::geoip::nets::canonical_net;
use crate::geoip::{Continent, Coordinates, CustomNets, CustomPlace, Location, RegionId};
use crate::policy::Pool;
use crate::policy::geo::RuleKey;

/// Most custom regions one policy file may declare (they are `u16` ids).
pub(super) const MAX_REGIONS: usize = 4096;

/// Where one compiled network came from, to name both places of a
/// network listed twice.
struct Origin {
    file: PathBuf,
    line: u32,
}

/// `[geo]` → the file's custom networks. No `[geo]`: an empty table. The
/// nets file's path goes to `named` (read or not).
/// `None` after reporting an error, or for a `[geo]` that is not a table
/// (`Some(None)`, already reported): then the file is not served, and the
/// geo names' region rules are not checked against a broken table. Every
/// entry is checked, inline and in the nets file, whatever else is wrong.
pub(super) fn compile_nets(
    cx: &mut Cx<'_>,
    spec: Option<Option<&GeoSpec>>,
    named: &mut Vec<PathBuf>,
) -> Option<Arc<CustomNets>> {
    let spec = match spec {
        None => return Some(Arc::new(CustomNets::default())),
        Some(s) => s?,
    };
    let GeoSpec {
        nets,
        nets_file,
        bad,
    } = spec;
    let before = cx.diags.len();
    let mut regions = Regions::default();
    let mut entries: Vec<(IpNet, CustomPlace)> = Vec::new();
    let mut seen: HashMap<IpNet, Origin> = HashMap::new();
    if let Some(list) = nets {
        net_list(cx, "geo.nets", list, &mut regions, &mut entries, &mut seen);
    }
    if let Some(f) = nets_file {
        let path = cx.path.parent().unwrap_or(Path::new(".")).join(f.get_ref());
        named.push(path.clone());
        match read_nets_file(&path) {
            Ok(text) => {
                let mut sub = Cx::new(&path, &text, &mut *cx.diags);
                nets_file_entries(&mut sub, &mut regions, &mut entries, &mut seen);
            }
            Err(e) => cx.error(
                f.span().start,
                "geo.nets_file",
                format!("cannot read nets file {}: {e}", path.display()),
            ),
        }
    }
    if regions.names.len() > MAX_REGIONS {
        cx.error(
            nets.as_ref().map_or(0, |n| n.span().start),
            "geo",
            format!(
                "{} custom regions; at most {MAX_REGIONS} per policy file",
                regions.names.len()
            ),
        );
    }
    if cx.diags.len() != before || bad.any() {
        return None;
    }
    // Every network was checked above (host bits, duplicates), so the
    // table builds; an error here would be ours, reported rather than lost.
    match CustomNets::new(entries, regions.names) {
        Ok(t) => Some(Arc::new(t)),
        Err(errors) => {
            for e in errors {
                cx.error(0, "geo", e.to_string());
            }
            None
        }
    }
}

/// The text of a nets file: a regular file (a FIFO or device is refused,
/// not waited on, as every input file is) of at most 64 MiB (about a
/// million networks, [`crate::files::FileKind::NETS`]), in UTF-8.
fn read_nets_file(path: &Path) -> Result<String, String> {
    crate::files::read_text(path, crate::files::FileKind::NETS).map_err(|e| e.to_string())
}

/// The entries of a nets file (`nets = [...]`, read field by field like
/// the policy file), reported against it.
fn nets_file_entries(
    cx: &mut Cx<'_>,
    regions: &mut Regions,
    entries: &mut Vec<(IpNet, CustomPlace)>,
    seen: &mut HashMap<IpNet, Origin>,
) {
    let Some(doc) = cx.parse_document(cx.text) else {
        return;
    };
    let NetsFileSpec { nets, bad: _ } = NetsFileSpec::read(cx, Fields::root(doc));
    if let Some(list) = nets {
        net_list(cx, "nets", &list, regions, entries, seen);
    }
}

/// Every entry of a `nets` list at key `key`, checked on its own; the
/// good ones go to `entries`.
fn net_list(
    cx: &mut Cx<'_>,
    key: &str,
    list: &NetList,
    regions: &mut Regions,
    entries: &mut Vec<(IpNet, CustomPlace)>,
    seen: &mut HashMap<IpNet, Origin>,
) {
    for (i, n) in list.get_ref().iter().enumerate() {
        // Not a table: already reported.
        let Some(n) = n else { continue };
        let key = format!("{key}[{i}]");
        let line = cx.line_col(n.at).0;
        if let Some(e) = net_entry(cx, &key, n, regions) {
            let origin = Origin {
                file: cx.path.to_owned(),
                line,
            };
            if twice(cx, &key, n, e.0, origin, seen) {
                entries.push(e);
            }
        }
    }
}

/// Record `net`; false (reported) when it was listed before.
fn twice(
    cx: &mut Cx<'_>,
    key: &str,
    spec: &NetSpec,
    net: IpNet,
    origin: Origin,
    seen: &mut HashMap<IpNet, Origin>,
) -> bool {
    match seen.entry(canonical_net(net)) {
        Entry::Occupied(first) => {
            let f = first.get();
            cx.error(
                spec.net.as_ref().map_or(spec.at, |n| n.span().start),
                format!("{key}.net"),
                format!(
                    "network {net} is listed twice (first at {}:{})",
                    f.file.display(),
                    f.line
                ),
            );
            false
        }
        Entry::Vacant(v) => {
            v.insert(origin);
            true
        }
    }
}

/// Region names in order of first use: `RegionId(i)` is `names[i]`.
#[derive(Default)]
struct Regions {
    names: Vec<String>,
    ids: HashMap<String, RegionId>,
}

impl Regions {
    fn id(&mut self, name: &str) -> RegionId {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = RegionId(u16::try_from(self.names.len()).unwrap_or(u16::MAX));
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }
}

/// A region name: 1..=63 letters, digits, `-`, `_` or `.`.
fn is_region_name(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// One custom network; `None` after reporting its errors.
fn net_entry(
    cx: &mut Cx<'_>,
    key: &str,
    spec: &NetSpec,
    regions: &mut Regions,
) -> Option<(IpNet, CustomPlace)> {
    let NetSpec {
        at,
        net,
        region,
        continent,
        country,
        subdivision,
        lat,
        lon,
        bad,
    } = spec;
    let before = cx.diags.len();
    let k = |f: &str| format!("{key}.{f}");
    // Missing or mistyped: already reported; the other keys are still
    // checked.
    let parsed = net.as_ref().and_then(|net| {
        parse_net(net.get_ref())
            .map_err(|m| cx.error(net.span().start, k("net"), m))
            .ok()
    });
    let region = region.as_ref().and_then(|r| {
        if is_region_name(r.get_ref()) {
            Some(regions.id(r.get_ref()))
        } else {
            cx.error(
                r.span().start,
                k("region"),
                format!(
                    "region name {:?} must be 1 to 63 letters, digits, '-', '_' or '.'",
                    r.get_ref()
                ),
            );
            None
        }
    });
    let continent = continent.as_ref().and_then(|c| {
        let v = Continent::from_code(c.get_ref());
        if v.is_none() {
            cx.error(
                c.span().start,
                k("continent"),
                unknown_continent(c.get_ref()),
            );
        }
        v
    });
    let country = country.as_ref().and_then(|c| {
        let v = country_code(c.get_ref());
        if v.is_none() {
            cx.error(c.span().start, k("country"), unknown_country(c.get_ref()));
        }
        v
    });
    let subdivision = subdivision.as_ref().and_then(|s| {
        let v = subdivision_code(s.get_ref());
        match (v, country) {
            (None, _) => cx.error(
                s.span().start,
                k("subdivision"),
                unknown_subdivision(s.get_ref()),
            ),
            (Some(sd), Some(c)) if sd.country() != c => cx.error(
                s.span().start,
                k("subdivision"),
                format!("subdivision {sd} is not in country {c}"),
            ),
            _ => {}
        }
        v
    });
    if let (Some(cont), Some(c)) = (continent, country.or(subdivision.map(|s| s.country())))
        && c.continent().is_some_and(|x| x != cont)
    {
        let at = spec.continent.as_ref().map_or(0, |s| s.span().start);
        let of = c.continent().map_or_else(String::new, |x| x.to_string());
        cx.error(
            at,
            k("continent"),
            format!("country {c} is in continent {of}, not {cont}"),
        );
    }
    let mut degrees = |v: &Option<Spanned<f64>>, max: f64, f: &str| {
        let v = v.as_ref()?;
        cx.check(v.span().start, k(f), float_in(*v.get_ref(), -max..=max, ""))
    };
    let lat_v = degrees(lat, 90.0, "lat");
    let lon_v = degrees(lon, 180.0, "lon");
    let coords = match (lat, lon) {
        // A mistyped half is already reported.
        _ if bad.has("lat") || bad.has("lon") => None,
        (Some(l), Some(_)) => lat_v.zip(lon_v).and_then(|(a, o)| {
            let c = Coordinates::new(a, o);
            if c.is_none() {
                cx.error(
                    l.span().start,
                    k("lat"),
                    "lat 0, lon 0 is how databases write \"unknown\"; give a real place",
                );
            }
            c
        }),
        (None, None) => None,
        (Some(l), None) => {
            cx.error(l.span().start, k("lon"), "required with lat");
            None
        }
        (None, Some(l)) => {
            cx.error(l.span().start, k("lat"), "required with lon");
            None
        }
    };
    if spec.region.is_none()
        && spec.continent.is_none()
        && spec.country.is_none()
        && spec.subdivision.is_none()
        && lat.is_none()
        && lon.is_none()
        && !bad.any()
    {
        cx.error(
            net.as_ref().map_or(*at, |n| n.span().start),
            key,
            "says nothing about its clients: give region, continent, country, subdivision or lat/lon",
        );
    }
    if cx.diags.len() != before || bad.any() {
        return None;
    }
    let location = Location {
        continent,
        country,
        subdivision,
        coords,
    };
    Some((parsed?, CustomPlace::new(region, location)))
}

/// The pools of a geo name, in order of first use, and its rules as
/// positions into them.
pub(super) struct Rules {
    pub(super) pools: Vec<Arc<Pool>>,
    pub(super) rules: Vec<(RuleKey, Vec<u16>)>,
}

/// `[names.OWNER.geo]` → rules; `None` after reporting an error. `nets` is
/// `None` when the file's `[geo]` is broken (already reported): region
/// rules are then not checked.
pub(super) fn compile_rules(
    cx: &mut Cx<'_>,
    n: &NameCx<'_>,
    spec: &GeoRulesSpec,
    nets: Option<&CustomNets>,
) -> Option<Rules> {
    let GeoRulesSpec {
        at,
        regions,
        subdivisions,
        countries,
        continents,
        default,
        bad,
    } = spec;
    let before = cx.diags.len();
    let mut out = Rules {
        pools: Vec::new(),
        rules: Vec::new(),
    };
    let mut positions: HashMap<String, u16> = HashMap::new();
    let mut keys: HashMap<RuleKey, String> = HashMap::new();
    let base = n.key("geo");
    let levels: [(&str, &Option<RuleTable>); 4] = [
        ("regions", regions),
        ("subdivisions", subdivisions),
        ("countries", countries),
        ("continents", continents),
    ];
    for (level, table) in levels {
        let Some(table) = table else { continue };
        // in file order, so errors and groups follow what the operator wrote
        for (k, list) in table {
            let path = format!("{base}.{level}.{}", key_path("", k.get_ref()));
            let Some(key) = rule_key(cx, level, k, &path, nets) else {
                continue;
            };
            match keys.entry(key) {
                Entry::Occupied(first) => {
                    cx.error(
                        k.span().start,
                        path,
                        format!("{key} already has a rule ({})", first.get()),
                    );
                    continue;
                }
                Entry::Vacant(v) => {
                    v.insert(format!("{level}.{}", k.get_ref()));
                }
            }
            // A list that is not a list of strings: already reported.
            let Some(list) = list else { continue };
            if let Some(p) = pool_list(cx, n, list, &path, &mut positions, &mut out.pools) {
                out.rules.push((key, p));
            }
        }
    }
    match default {
        Some(list) => {
            let path = format!("{base}.default");
            if let Some(p) = pool_list(cx, n, list, &path, &mut positions, &mut out.pools) {
                out.rules.push((RuleKey::Default, p));
            }
        }
        // Written, but not a list of pool names: already reported.
        None if bad.any() => {}
        None => {
            let no_rules = [regions, subdivisions, countries, continents]
                .iter()
                .all(|t| t.as_ref().is_none_or(|t| t.is_empty()));
            if no_rules {
                cx.error(
                    *at,
                    base,
                    "needs at least one rule: regions, subdivisions, countries, continents or default",
                );
            } else {
                cx.warn(
                    *at,
                    base,
                    "no default rule: clients that no rule matches (unknown locations \
                     included) get an empty answer (NODATA); add default = [\"POOL\", ...]",
                );
            }
        }
    }
    (cx.diags.len() == before && !bad.any()).then_some(out)
}

/// The key of one rule, checked; `None` after reporting it.
fn rule_key(
    cx: &mut Cx<'_>,
    level: &str,
    k: &Spanned<String>,
    path: &str,
    nets: Option<&CustomNets>,
) -> Option<RuleKey> {
    let s = k.get_ref().as_str();
    let at = k.span().start;
    match level {
        "regions" => {
            let nets = nets?;
            match nets.region(s) {
                Some(r) => Some(RuleKey::Region(r)),
                None => {
                    let known = nets.regions();
                    let msg = if known.is_empty() {
                        format!(
                            "unknown region {s:?}: regions are declared by `region` in the \
                             custom networks ([geo] nets or nets_file), and this file has none"
                        )
                    } else {
                        format!(
                            "unknown region {s:?}; the custom networks declare {}",
                            known.join(", ")
                        )
                    };
                    cx.error(at, path, msg);
                    None
                }
            }
        }
        "subdivisions" => subdivision_code(s).map(RuleKey::Subdivision).or_else(|| {
            cx.error(at, path, unknown_subdivision(s));
            None
        }),
        "countries" => country_code(s).map(RuleKey::Country).or_else(|| {
            cx.error(at, path, unknown_country(s));
            None
        }),
        _ => Continent::from_code(s).map(RuleKey::Continent).or_else(|| {
            cx.error(at, path, unknown_continent(s));
            None
        }),
    }
}

/// A rule's pools as positions in the name's groups (added on first use);
/// `None` after reporting an error.
fn pool_list(
    cx: &mut Cx<'_>,
    n: &NameCx<'_>,
    list: &PoolList,
    path: &str,
    positions: &mut HashMap<String, u16>,
    pools: &mut Vec<Arc<Pool>>,
) -> Option<Vec<u16>> {
    if list.get_ref().is_empty() {
        cx.error(list.span().start, path, "needs at least one pool");
        return None;
    }
    let mut out = Vec::with_capacity(list.get_ref().len());
    let mut ok = true;
    for (i, r) in list.get_ref().iter().enumerate() {
        let name = r.get_ref();
        let item = format!("{path}[{i}]");
        if let Some(&p) = positions.get(name.as_str()) {
            if out.contains(&p) {
                cx.error(
                    r.span().start,
                    item,
                    format!("pool {name:?} is listed twice"),
                );
                ok = false;
            } else {
                out.push(p);
            }
            continue;
        }
        match n.pool(cx, r, &item) {
            Some(pool) => {
                let p = u16::try_from(pools.len()).unwrap_or(u16::MAX);
                pools.push(pool);
                positions.insert(name.clone(), p);
                out.push(p);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
#[path = "geo_tests.rs"]
mod tests;
