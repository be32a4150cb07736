//! [`build`]: settings + zone files + policy files (+ the previous
//! snapshot, for health and for zones whose new files have errors) → a
//! new [`Snapshot`].
//!
//! Zone by zone, like BIND, NSD and Knot: each zone file of the zones
//! directory is loaded with its `$INCLUDE`s and its policy file into its
//! own target registry, and joins the snapshot only when all of them are
//! clean. On a reload, a zone whose new files have errors keeps the
//! version the previous snapshot served (its names moved onto the new
//! snapshot's targets), and the errors are recorded in
//! [`Snapshot::zone_status`] for the logs, `/status` and `/metrics`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hickory_proto::rr::Name;

use super::{Declared, Limits, Snapshot, Sources, ZoneState, ZoneStatus};
use crate::config::Settings;
use crate::diag::Diagnostics;
use crate::health::{TargetId, TargetRegistry};
use crate::policy::{BalancedName, Order, Pool};
use crate::zone::{LoadOptions, Zone, ZoneSet, load_zone_files};

/// Build a complete snapshot from `settings`: zones, their policy files,
/// the target list and the health table; every problem goes to `diags`.
///
/// Without a `previous` snapshot (start-up) every zone starts fresh and
/// each target starts in its check's initial state. Returns `None` if
/// anything failed; with `allow_partial`, only if no zone loaded or a
/// zone-independent setting is broken (the zones directory, the GeoIP
/// database). A zone whose files have errors is left out whole: half a
/// zone would answer wrongly.
///
/// With a `previous` snapshot (a reload) the health table carries over the
/// status and RTT of every target that survives, by target key, and a
/// zone whose files have errors keeps its previous version, or stays out
/// if it had none (it is tried again on the next reload). A GeoIP
/// database that cannot be opened keeps the previous one. `None` only when
/// the zones directory cannot be read or holds no zone file.
pub fn build(
    settings: &Settings,
    previous: Option<&Snapshot>,
    allow_partial: bool,
    diags: &mut Diagnostics,
) -> Option<Snapshot> {
    build_cancellable(settings, previous, allow_partial, None, diags)
}

/// [`build`], stopped early when `cancel` is set (a reload past its time
/// limit, or a shutdown): the zone being read stops at its next check,
/// no further file is read, and the build returns `None` with an error
/// saying so.
pub fn build_cancellable(
    settings: &Settings,
    previous: Option<&Snapshot>,
    allow_partial: bool,
    cancel: Option<&Arc<AtomicBool>>,
    diags: &mut Diagnostics,
) -> Option<Snapshot> {
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let dir = &settings.zones_dir.value;
    let before = diags.len();
    let listing = match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut l: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            l.sort();
            l
        }
        Err(e) => {
            let msg = format!("cannot read zones directory {}: {e}", dir.display());
            settings.zones_dir.error(diags, "zones_dir", msg);
            return None;
        }
    };
    let mut sources = Sources::default();
    sources.dirs.insert(absolute(dir));
    let opts = LoadOptions {
        include_root: Some(dir.clone()),
        cancel: cancel.cloned(),
        ..LoadOptions::default()
    };
    // Each file's errors come back with it, for its zone's status.
    let mut scratch = Diagnostics::new();
    let zone_files = load_zone_files(dir, &listing, &opts, &mut scratch);
    if zone_files.is_empty() {
        extend(diags, scratch);
        return None;
    }
    let mut errors = Diagnostics::new();
    // Zone files whose names are not zone names belong to no zone.
    for d in scratch.iter() {
        if !zone_files.iter().any(|f| f.errors.contains(d)) {
            errors.push(d.clone());
        }
    }
    // The zone files' warnings (out-of-zone data, ...) go out as they are.
    for w in scratch.warnings() {
        diags.push_warning(w.clone());
    }
    let geoip = match &settings.geoip_database {
        None => None,
        Some(path) => {
            sources.files.insert(absolute(&path.value));
            match crate::geoip::GeoDb::open(&path.value) {
                Ok(db) => Some(Arc::new(db)),
                Err(e) => {
                    path.error(&mut errors, "geoip_database", e.to_string());
                    // Start-up: fatal even with allow_partial_zones, as
                    // geolocation would silently answer wrongly. Reload:
                    // the database in service stays, if there is one.
                    match previous.and_then(|p| p.geoip.clone()) {
                        Some(db) => Some(db),
                        None => {
                            extend(diags, errors);
                            return None;
                        }
                    }
                }
            }
        }
    };
    orphan_policy_files(&listing, &mut errors);
    let has_db = geoip.is_some();
    let mut targets = TargetRegistry::new();
    let mut lb = Vec::new();
    let mut declared = Vec::new();
    let mut zones = Vec::new();
    let mut zone_status = Vec::new();
    for f in zone_files {
        if cancelled() {
            diags.error(
                dir,
                None,
                None,
                "",
                "the reload was stopped (past its time limit, or shutting down) before it read every zone",
            );
            return None;
        }
        let mut zd = Diagnostics::new();
        for d in &f.errors {
            zd.push(d.clone());
        }
        let policy = f.path.with_extension("toml");
        let policy = listing.contains(&policy).then_some(policy);
        sources.files.extend(f.files.iter().map(|p| absolute(p)));
        sources.files.extend(policy.iter().map(|p| absolute(p)));
        let path = &f.path;
        let origin = f.origin.clone();
        let loaded = attach_policy(
            f.zone,
            &origin,
            policy.as_deref(),
            lb.len(),
            has_db,
            &mut sources,
            &mut zd,
        );
        let state = match loaded {
            Some((zone, names, local, decl)) if zd.is_empty() => {
                zones.push(zone);
                adopt_names(names, &local, &mut targets, &mut lb);
                declared.extend(decl);
                ZoneState::Loaded
            }
            _ => match previous.and_then(|p| p.zone_by_file(path).map(|z| (p, z))) {
                Some((p, old)) => {
                    zones.push(carry_zone(old, p, &mut targets, &mut lb, &mut declared));
                    ZoneState::Previous
                }
                None => ZoneState::Failed,
            },
        };
        zone_status.push(ZoneStatus {
            file: path.clone(),
            origin: origin.to_ascii(),
            state,
            errors: zd.iter().cloned().collect(),
        });
        extend(diags, zd);
    }
    if cancelled() {
        // The last zone read may have stopped half-way: nothing is swapped.
        diags.error(
            dir,
            None,
            None,
            "",
            "the reload was stopped (past its time limit, or shutting down)",
        );
        return None;
    }
    let errors = errors.into_vec();
    for d in &errors {
        diags.push(d.clone());
    }
    let clean = diags.len() == before;
    if previous.is_none() && (zones.is_empty() || (!clean && !allow_partial)) {
        return None;
    }
    if zones.is_empty() {
        // A reload where no zone loaded and none had a previous version:
        // keep serving what is served.
        return None;
    }
    let health = Arc::new(match previous {
        Some(p) => targets.carry_table(&p.targets, &p.health),
        None => targets.fresh_table(),
    });
    let zones = ZoneSet::new(zones);
    let counters = counters_for(&zones, &lb);
    Some(Snapshot {
        zones,
        counters,
        lb,
        declared,
        targets,
        health,
        limits: Limits {
            udp_payload: settings.udp_payload_size,
        },
        geoip,
        sources,
        zone_status,
        errors,
    })
}

/// Move `more`'s errors and warnings into `diags`.
fn extend(diags: &mut Diagnostics, more: Diagnostics) {
    let (errors, warnings) = more.into_parts();
    for d in errors {
        diags.push(d);
    }
    for w in warnings {
        diags.push_warning(w);
    }
}

/// `p` made absolute without resolving symbolic links, so the watcher
/// sees the names an operator (or a Kubernetes ConfigMap mount) uses.
pub(super) fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Load the policy file beside a zone (`policy`; `None`: there is none)
/// into a target registry of its own and attach its names at `first_lb`,
/// `first_lb + 1`, … (where [`adopt_names`] puts them). The policy file is
/// checked even when the zone file failed (`zone` is `None`), so one load
/// reports every problem of the zone. `has_db`: a GeoIP database is
/// configured (geo rules on countries and the like need one). The files
/// the policy file names (its nets file) go to `sources`. Every problem
/// goes to `diags`; the result is only usable when `diags` stayed empty.
fn attach_policy(
    zone: Option<Zone>,
    origin: &Name,
    policy: Option<&Path>,
    first_lb: usize,
    has_db: bool,
    sources: &mut Sources,
    diags: &mut Diagnostics,
) -> Option<(Zone, Vec<BalancedName>, TargetRegistry, Vec<Declared>)> {
    let mut local = TargetRegistry::new();
    let file = match policy {
        None => None,
        // A FIFO or a device is refused at once, not waited on (a reload
        // must never hang on one).
        Some(policy) => match crate::files::read_text(policy, crate::files::FileKind::POLICY) {
            Ok(text) => {
                let (file, named) = crate::config::load_policy_file_reading(
                    policy, &text, origin, &mut local, diags,
                );
                sources.files.extend(named.iter().map(|p| absolute(p)));
                if file.as_ref().is_some_and(|f| f.declared == 0) {
                    // Most often a file caught half-written (empty or cut
                    // short): served, it would drop every load-balanced
                    // name of the zone.
                    diags.error(
                        policy,
                        Some(1),
                        Some(1),
                        "names",
                        "the policy file defines no load-balanced name: it needs at least \
                         one [names.NAME] table (is it empty or cut short?); delete the \
                         file if the zone has none",
                    );
                }
                for entry in file.iter().flat_map(|f| &f.names) {
                    geo_without_database(policy, entry, has_db, diags);
                    latency_without_database(policy, entry, has_db, diags);
                }
                file
            }
            Err(e) => {
                let (line, col, message) = e.in_file("policy file");
                diags.error(policy, line, col, "", message);
                None
            }
        },
    };
    let mut zone = zone?;
    let mut names = Vec::new();
    let mut declared = Vec::new();
    let (entries, failed) = file.map_or_else(Default::default, |f| (f.names, f.failed));
    let policy_path = policy.unwrap_or(Path::new(""));
    // A name with errors of its own is still checked against the zone's
    // records, so every error shows in one run.
    for at in &failed {
        if let Err(e) = zone.check_balanced(&at.name) {
            attach_error(policy_path, &zone, at, e, diags);
        }
    }
    for entry in entries {
        let policy = policy_path;
        match zone.attach_balanced(&entry.name, (first_lb + names.len()) as u32) {
            Ok(()) => {
                declared.push(Declared {
                    file: policy.to_path_buf(),
                    line: entry.line,
                    col: entry.col,
                    key: format!("names.{}", entry.owner),
                });
                names.push(entry.lb);
            }
            Err(e) => {
                let at = crate::config::NameAt {
                    owner: entry.owner,
                    name: entry.name,
                    line: entry.line,
                    col: entry.col,
                };
                attach_error(policy, &zone, &at, e, diags);
            }
        }
    }
    Some((zone, names, local, declared))
}

/// Report a geo name with subdivision, country or continent rules when no
/// GeoIP database is configured (`has_db` false). Decided: an error, not a
/// quiet fallback to the default rule for every client.
fn geo_without_database(
    path: &Path,
    entry: &crate::config::NameEntry,
    has_db: bool,
    diags: &mut Diagnostics,
) {
    if !has_db && matches!(&entry.lb.order, Order::Geo(map) if map.needs_database()) {
        diags.error(
            path,
            Some(entry.line),
            Some(entry.col),
            format!("names.{}.geo", entry.owner),
            "has subdivision, country or continent rules, but no GeoIP database is \
             configured (geoip_database in the server settings); without one only \
             custom networks and the default rule can match",
        );
    }
}

/// Warn about a latency or closest name that would place clients with a
/// GeoIP database when none is configured: only the latency table's
/// network rows and custom networks (with coordinates, or a region) can
/// place them then. A warning, not an error as for geo: the network rows
/// still work, and a shared table may carry rows only some servers use.
fn latency_without_database(
    path: &Path,
    entry: &crate::config::NameEntry,
    has_db: bool,
    diags: &mut Diagnostics,
) {
    if !has_db && matches!(&entry.lb.order, Order::Latency(map) if map.needs_location()) {
        diags.warn(
            path,
            Some(entry.line),
            Some(entry.col),
            format!("names.{}", entry.owner),
            "no GeoIP database is configured (geoip_database in the server settings): \
             only the latency table's network rows and custom networks place clients; \
             the others get the pools in `groups` order",
        );
    }
}

fn attach_error(
    policy: &Path,
    zone: &Zone,
    entry: &crate::config::NameAt,
    e: crate::zone::AttachError,
    diags: &mut Diagnostics,
) {
    use crate::zone::AttachError;
    let key = format!("names.{}", entry.owner);
    let (line, col) = (Some(entry.line), Some(entry.col));
    let name = entry.name.to_ascii();
    let file = zone.file.display();
    let messages = match e {
        AttachError::HasAddresses { types } => types
            .iter()
            .map(|what| {
                format!(
                    "{name} also has {what} records in {file}; a load-balanced \
                     name takes A/AAAA from its policy only, and cannot be a CNAME"
                )
            })
            .collect(),
        AttachError::OutsideZone { zone } => {
            vec![format!("{name} is outside the zone {zone}")]
        }
        AttachError::BelowCut { cut } => {
            vec![format!("{name} is at or below the delegation {cut}")]
        }
    };
    for m in messages {
        diags.error(policy, line, col, key.clone(), m);
    }
}

/// Move a zone's names, compiled against `local`, onto the snapshot's
/// registry: intern each target (with who uses it) and point the pools at
/// the snapshot's ids. The names go to the end of `lb`, where the zone
/// attached them.
fn adopt_names(
    mut names: Vec<BalancedName>,
    local: &TargetRegistry,
    targets: &mut TargetRegistry,
    lb: &mut Vec<BalancedName>,
) {
    let ids: Vec<TargetId> = local
        .iter()
        .map(|(id, key)| {
            let g = targets.intern(key.clone());
            targets.note_use(g, local.label(id));
            g
        })
        .collect();
    let identity = ids.iter().enumerate().all(|(i, g)| g.0 as usize == i);
    if !identity {
        let mut pools = PoolMap::default();
        for n in &mut names {
            for p in n.pools_mut() {
                *p = pools.get(p, &ids);
            }
        }
    }
    lb.extend(names);
}

/// Pools re-pointed at new target ids, once per shared pool.
#[derive(Default)]
struct PoolMap(HashMap<*const Pool, Arc<Pool>>);

impl PoolMap {
    fn get(&mut self, p: &Arc<Pool>, ids: &[TargetId]) -> Arc<Pool> {
        self.0
            .entry(Arc::as_ptr(p))
            .or_insert_with(|| Arc::new(p.with_targets(&mut |t| ids[t.0 as usize])))
            .clone()
    }
}

/// The previous snapshot's version of a zone, for the new snapshot: its
/// names re-numbered into `lb` and their targets interned in `targets`
/// (labels kept), so health carries over by key as for any other zone.
fn carry_zone(
    old: &Zone,
    prev: &Snapshot,
    targets: &mut TargetRegistry,
    lb: &mut Vec<BalancedName>,
    declared: &mut Vec<Declared>,
) -> Zone {
    let mut zone = old.clone();
    let mut ids: HashMap<TargetId, TargetId> = HashMap::new();
    let mut pools = HashMap::<*const Pool, Arc<Pool>>::new();
    let mut nodes: Vec<(&[u8], u32)> = old
        .nodes()
        .filter_map(|n| Some((n.name(), n.lb()?)))
        .collect();
    // In the previous order, so names keep their relative order.
    nodes.sort_by_key(|&(_, i)| i);
    for (key, old_idx) in nodes {
        let Some(name) = prev.lb.get(old_idx as usize) else {
            continue;
        };
        let mut remap = |t: TargetId| {
            *ids.entry(t).or_insert_with(|| {
                let key = prev
                    .targets
                    .get(t)
                    .expect("a member's target is registered");
                let g = targets.intern(key.clone());
                targets.note_use(g, prev.targets.label(t));
                g
            })
        };
        let copy = name.with_pools(&mut |p| {
            pools
                .entry(Arc::as_ptr(p))
                .or_insert_with(|| Arc::new(p.with_targets(&mut remap)))
                .clone()
        });
        zone.renumber_balanced(key, lb.len() as u32);
        lb.push(copy);
        declared.push(
            prev.declared
                .get(old_idx as usize)
                .cloned()
                .unwrap_or_else(|| Declared {
                    file: old.file.with_extension("toml"),
                    line: 0,
                    col: 0,
                    key: format!("names.{}", name.name),
                }),
        );
    }
    zone
}

/// Fresh counters for every zone and load-balanced name (every address a
/// name can answer with, fallback pool included).
fn counters_for(zones: &ZoneSet, lb: &[BalancedName]) -> crate::metrics::SnapshotCounters {
    use crate::policy::OnAllDown;
    let names = lb.iter().map(|n| {
        let fallback = match &n.on_all_down {
            OnAllDown::Fallback(g) => Some(g),
            _ => None,
        };
        let addrs = (n.groups.iter().chain(fallback))
            .flat_map(|g| g.pool.iter().flat_map(|m| m.addrs()))
            .collect();
        (n.name.as_str(), addrs)
    });
    let zone_names = zones.zones().iter().map(|z| z.origin.to_ascii());
    crate::metrics::SnapshotCounters::new(zone_names, names)
}

/// A `NAME.toml` in the zones directory without a `NAME.zone` is a typo
/// waiting to bite: report it. `listing` is the directory's entries.
fn orphan_policy_files(listing: &[PathBuf], diags: &mut Diagnostics) {
    for p in listing {
        if p.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let zone_file = p.with_extension("zone");
        if !zone_file.exists() {
            diags.error(
                p,
                None,
                None,
                "",
                format!(
                    "policy file without a zone file: {} does not exist",
                    zone_file.display()
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Located;
    use std::path::PathBuf;

    fn dir_with(files: &[(&str, &str)]) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "dnslb-snap-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        for (n, t) in files {
            std::fs::write(d.join(n), t).unwrap();
        }
        d
    }

    const ZONE: &str = "$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nstatic A 192.0.2.2\nalias CNAME ns\nsub NS ns.sub\nns.sub A 192.0.2.3\nwww TXT \"x\"\n";
    const POOL: &str = "[pools.p]\nmembers = [{ address = \"192.0.2.9\" }]\n";

    fn build_dir(files: &[(&str, &str)]) -> (Option<Snapshot>, Diagnostics) {
        let dir = dir_with(files);
        let cfg = Settings {
            zones_dir: Located::default_value(dir.clone()),
            ..Settings::default()
        };
        let mut d = Diagnostics::new();
        let s = build(&cfg, None, false, &mut d);
        let _ = std::fs::remove_dir_all(dir);
        (s, d)
    }

    #[test]
    fn attaches_names_beside_zone_data() {
        let pol = format!("{POOL}[names.www]\npolicy = \"weighted\"\npool = \"p\"\n");
        let (s, d) = build_dir(&[("t.test.zone", ZONE), ("t.test.toml", &pol)]);
        let s = s.unwrap_or_else(|| panic!("{d}"));
        assert_eq!(s.lb.len(), 1);
        assert_eq!(s.lb[0].name, "www.t.test.");
        let z = &s.zones.zones()[0];
        let node = z.node(b"\x03www\x01t\x04test\x00").unwrap();
        assert_eq!(node.lb(), Some(0));
        assert!(node.rrset(crate::zone::rtype::TXT).is_some());
        assert_eq!(s.targets.len(), 1);
        assert_eq!(s.health.len(), 1);
    }

    #[test]
    fn rejects_conflicts_with_the_zone_file() {
        let pol = format!(
            "{POOL}[names.static]\npolicy = \"weighted\"\npool = \"p\"\n\n[names.alias]\npolicy = \"weighted\"\npool = \"p\"\n\n[names.\"x.sub\"]\npolicy = \"weighted\"\npool = \"p\"\n\n[names.\"www.other.test.\"]\npolicy = \"weighted\"\npool = \"p\"\n"
        );
        let (s, d) = build_dir(&[("t.test.zone", ZONE), ("t.test.toml", &pol)]);
        assert!(s.is_none());
        let text = d.to_string();
        assert!(
            text.contains("t.test.toml:3:8: names.static: static.t.test. also has A records"),
            "{text}"
        );
        assert!(
            text.contains("t.test.toml:7:8: names.alias: alias.t.test. also has CNAME records"),
            "{text}"
        );
        assert!(text.contains("t.test.toml:11:8: names.x.sub: x.sub.t.test. is at or below the delegation sub.t.test."), "{text}");
        assert!(
            text.contains(
                "t.test.toml:15:8: names.www.other.test.: www.other.test. is outside the zone t.test."
            ),
            "{text}"
        );
        assert_eq!(d.len(), 4, "{text}");
    }

    #[test]
    fn unreadable_paths_point_at_their_settings_key() {
        let dir = dir_with(&[("t.test.zone", ZONE)]);
        let at = |line| Some((PathBuf::from("dnslb.toml"), Some((line, 5))));
        let cfg = Settings {
            zones_dir: Located {
                value: dir.clone(),
                at: at(2),
            },
            geoip_database: Some(Located {
                value: dir.join("missing.mmdb"),
                at: at(3),
            }),
            ..Settings::default()
        };
        let mut d = Diagnostics::new();
        assert!(
            build(&cfg, None, true, &mut d).is_none(),
            "fatal even when partial"
        );
        assert!(
            d.to_string()
                .starts_with("dnslb.toml:3:5: geoip_database: cannot open GeoIP database "),
            "{d}"
        );
        let cfg = Settings {
            zones_dir: Located {
                value: dir.join("nope"),
                at: at(2),
            },
            ..Settings::default()
        };
        let mut d = Diagnostics::new();
        assert!(build(&cfg, None, false, &mut d).is_none());
        assert!(
            d.to_string()
                .starts_with("dnslb.toml:2:5: zones_dir: cannot read zones directory "),
            "{d}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn policy_file_without_zone_is_an_error() {
        let (s, d) = build_dir(&[("t.test.zone", ZONE), ("typo.test.toml", POOL)]);
        assert!(s.is_none());
        assert!(
            d.to_string()
                .contains("typo.test.toml: policy file without a zone file"),
            "{d}"
        );
    }

    /// `t.test..zone` (the zone name with its trailing dot) is refused
    /// with the file name to use; `..zone` stays the root zone.
    #[test]
    fn a_zone_file_name_ending_in_a_dot_says_what_to_name_it() {
        let (s, d) = build_dir(&[("t.test..zone", ZONE)]);
        assert!(s.is_none());
        assert!(
            d.to_string().contains(
                "t.test..zone: file name \"t.test.\" ends in a dot: name the zone file t.test.zone"
            ),
            "{d}"
        );
    }

    /// A policy file without names (empty, or cut short) is an error
    /// naming it.
    #[test]
    fn a_policy_file_without_names_is_an_error() {
        let (s, d) = build_dir(&[("t.test.zone", ZONE), ("t.test.toml", POOL)]);
        assert!(s.is_none());
        assert!(
            d.to_string()
                .contains("t.test.toml:1:1: names: the policy file defines no load-balanced name"),
            "{d}"
        );
    }

    /// A name whose entry has errors is still checked against the zone's
    /// records: both errors in one run, not one per fix.
    #[test]
    fn a_name_with_errors_still_meets_the_zone() {
        let pol = format!("{POOL}[names.static]\npolicy = \"weighted\"\npool = \"p\"\nttl = 0\n");
        let (s, d) = build_dir(&[("t.test.zone", ZONE), ("t.test.toml", &pol)]);
        assert!(s.is_none());
        let got: Vec<String> = d
            .iter()
            .map(|d| format!("{}:{}", d.key, d.message))
            .collect();
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(
            got[0].starts_with("names.static.ttl:must be between 1"),
            "{got:#?}"
        );
        assert!(
            got[1].starts_with("names.static:static.t.test. also has A records"),
            "{got:#?}"
        );
    }

    #[test]
    fn zone_errors_do_not_hide_policy_errors() {
        let bad_zone = format!("{ZONE}bad A 192.0.2.300\n");
        let pol = "[pools.p]\nmembers = [{ address = \"192.0.2.9\", weight = 5000 }]\n\
                   [names.www]\npolicy = \"weighted\"\npool = \"nope\"\n";
        let (s, d) = build_dir(&[("t.test.zone", &bad_zone), ("t.test.toml", pol)]);
        assert!(s.is_none());
        let got: Vec<String> = d
            .iter()
            .map(|d| {
                let file = d.file.file_name().unwrap().to_string_lossy().into_owned();
                // The same diagnostic, named by file name only (the
                // directory is a temporary one).
                crate::diag::Diagnostic {
                    file: file.into(),
                    ..d.clone()
                }
                .to_string()
            })
            .collect();
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(got[0].starts_with("t.test.zone:10:"), "{got:#?}");
        assert_eq!(
            got[1..],
            [
                "t.test.toml:2:46: pools.p.members[0].weight: must be between 0 and 1000, got 5000",
                "t.test.toml:5:8: names.www.pool: unknown pool \"nope\"",
            ]
        );
    }
}
