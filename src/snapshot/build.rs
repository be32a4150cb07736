//! [`build`]: settings + zone files + policy files (+ the previous
//! snapshot, for health) → a new [`Snapshot`].

use std::sync::Arc;

use super::{Limits, Snapshot};
use crate::config::Settings;
use crate::diag::Diagnostics;
use crate::health::TargetRegistry;
use crate::policy::BalancedName;
use crate::zone::ZoneSet;

/// Build a complete snapshot from `settings`: zones, their policy files,
/// the target list and the health table; every problem goes to `diags`.
///
/// With a `previous` snapshot (a reload), the health table carries over
/// the previous status and RTT of every target that survives, by target
/// key (`TargetRegistry::carry_table`); without one, each target starts in
/// its check's initial state.
///
/// Returns `None` if anything failed (with `allow_partial`, only if nothing
/// loaded or a zone-independent setting is broken). A zone whose policy
/// file has errors is left out whole: half a zone would answer wrongly.
pub fn build(
    settings: &Settings,
    previous: Option<&Snapshot>,
    allow_partial: bool,
    diags: &mut Diagnostics,
) -> Option<Snapshot> {
    use crate::zone::{LoadOptions, load_zones_dir};

    let dir = &settings.zones_dir.value;
    let listing = match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).collect::<Vec<_>>(),
        Err(e) => {
            let msg = format!("cannot read zones directory {}: {e}", dir.display());
            settings.zones_dir.error(diags, "zones_dir", msg);
            return None;
        }
    };
    let opts = LoadOptions {
        include_root: Some(dir.clone()),
    };
    let mut zones = load_zones_dir(dir, &opts, diags);
    let geoip = match &settings.geoip_database {
        None => None,
        Some(path) => match crate::geoip::GeoDb::open(&path.value) {
            Ok(db) => Some(Arc::new(db)),
            Err(e) => {
                // Fatal even with allow_partial_zones: geolocation would
                // silently answer wrongly.
                path.error(diags, "geoip_database", e.to_string());
                return None;
            }
        },
    };
    let mut targets = TargetRegistry::new();
    let mut lb = Vec::new();
    orphan_policy_files(&listing, diags);
    zones.retain_mut(|zone| attach_policies(zone, &mut targets, &mut lb, diags));
    if zones.is_empty() || (!diags.is_empty() && !allow_partial) {
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
        targets,
        health,
        limits: Limits {
            udp_payload: settings.udp_payload_size,
        },
        geoip,
    })
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
            .flat_map(|g| g.pool.iter().map(|m| m.addr))
            .collect();
        (n.name.as_str(), addrs)
    });
    let zone_names = zones.zones().iter().map(|z| z.origin.to_ascii());
    crate::metrics::SnapshotCounters::new(zone_names, names)
}

/// A `NAME.toml` in the zones directory without a `NAME.zone` is a typo
/// waiting to bite: report it. `listing` is the directory's entries.
fn orphan_policy_files(listing: &[std::path::PathBuf], diags: &mut Diagnostics) {
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

/// Load `ZONE.toml` beside `zone` (if present) and attach its names.
/// Returns false when the zone must be left out.
fn attach_policies(
    zone: &mut crate::zone::Zone,
    targets: &mut TargetRegistry,
    lb: &mut Vec<BalancedName>,
    diags: &mut Diagnostics,
) -> bool {
    use crate::zone::AttachError;

    let path = zone.file.with_extension("toml");
    if !path.exists() {
        return true;
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            diags.error(
                &path,
                None,
                None,
                "",
                format!("cannot read policy file: {e}"),
            );
            return false;
        }
    };
    let before = diags.len();
    let Some(file) = crate::config::load_policy_file(&path, &text, &zone.origin, targets, diags)
    else {
        return false;
    };
    for entry in file.names {
        let idx = lb.len() as u32;
        match zone.attach_balanced(&entry.name, idx) {
            Ok(()) => lb.push(entry.lb),
            Err(e) => {
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
                    diags.error(&path, line, col, key.clone(), m);
                }
            }
        }
    }
    diags.len() == before
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
        assert_eq!(node.lb, Some(0));
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
                .starts_with("dnslb.toml:3:5: geoip_database: cannot open "),
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
}
