//! The immutable snapshot of everything served.
//!
//! Config, zones, compiled load-balanced names and the target list compile
//! into one `Snapshot`. Reload builds a new one off the hot path, validates
//! it completely, then swaps it in with one atomic store; on any error the
//! old one keeps serving. The health table hangs off the snapshot (its cells
//! are atomics written only by the prober), so a query can never pair one
//! snapshot's target ids with another's health table.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::health::{HealthTable, TargetRegistry};
use crate::policy::LbName;
use crate::zone::ZoneSet;

/// Answering limits fixed at load time.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Our EDNS UDP payload size: advertised, and the most we send (RFC 6891
    /// §6.2.5; 1232 avoids IP fragmentation, per DNS Flag Day 2020).
    pub udp_payload: u16,
}

impl Default for Limits {
    fn default() -> Self {
        Self { udp_payload: 1232 }
    }
}

#[derive(Debug)]
pub struct Snapshot {
    pub zones: ZoneSet,
    /// Load-balanced names; `zone::Node::lb` indexes into this.
    pub lb: Vec<LbName>,
    pub targets: TargetRegistry,
    pub health: Arc<HealthTable>,
    pub limits: Limits,
    /// The GeoIP database, when configured.
    pub geoip: Option<Arc<crate::geoip::GeoDb>>,
    /// Counters the query path bumps, indexed like `zones` and `lb`.
    pub counters: crate::metrics::SnapshotCounters,
}

/// The one shared, atomically swapped pointer to the current snapshot.
pub type SharedSnapshot = Arc<ArcSwap<Snapshot>>;

/// Build a complete snapshot from `cfg`: zones, their policy files, the
/// target list and a fresh health table; every problem goes to `diags`.
/// Returns `None` if anything failed (with `allow_partial`, only if nothing
/// loaded or a zone-independent setting is broken). A zone whose policy file
/// has errors is left out whole: half a zone would answer wrongly.
pub fn build(
    cfg: &crate::config::ServerConfig,
    allow_partial: bool,
    diags: &mut crate::config::Diagnostics,
) -> Option<Snapshot> {
    use crate::zone::{LoadOptions, load_zones_dir};

    let opts = LoadOptions {
        include_root: Some(cfg.zones_dir.clone()),
    };
    if let Err(e) = std::fs::read_dir(&cfg.zones_dir) {
        cfg.error_at_key(
            diags,
            "zones_dir",
            &cfg.zones_dir,
            format!(
                "cannot read zones directory {}: {e}",
                cfg.zones_dir.display()
            ),
        );
        return None;
    }
    let mut zones = load_zones_dir(&cfg.zones_dir, &opts, diags);
    let geoip = cfg
        .geoip_database
        .as_ref()
        .and_then(|p| crate::geoip::open(p, cfg, diags).map(Arc::new));
    if cfg.geoip_database.is_some() && geoip.is_none() {
        // A configured database that cannot be read is fatal even with
        // allow_partial_zones: geolocation would silently answer wrongly.
        return None;
    }
    let mut targets = TargetRegistry::new();
    let mut lb = Vec::new();
    orphan_policy_files(&cfg.zones_dir, diags);
    zones.retain_mut(|zone| attach_policies(zone, &mut targets, &mut lb, diags));
    if zones.is_empty() || (!diags.is_empty() && !allow_partial) {
        return None;
    }
    // Each target starts in its check's initial_state; the prober takes over.
    let health = Arc::new(HealthTable::for_targets(targets.iter()).with_labels(&targets));
    let zones = ZoneSet::new(zones);
    let counters = counters_for(&zones, &lb);
    Some(Snapshot {
        zones,
        counters,
        lb,
        targets,
        health,
        limits: Limits {
            udp_payload: cfg.udp_payload_size,
        },
        geoip,
    })
}

/// Fresh counters for every zone and load-balanced name (every address a
/// name can answer with, fallback pool included).
fn counters_for(zones: &ZoneSet, lb: &[LbName]) -> crate::metrics::SnapshotCounters {
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
/// waiting to bite: report it.
fn orphan_policy_files(dir: &std::path::Path, diags: &mut crate::config::Diagnostics) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let zone_file = p.with_extension("zone");
        if !zone_file.exists() {
            diags.error(
                &p,
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
    lb: &mut Vec<LbName>,
    diags: &mut crate::config::Diagnostics,
) -> bool {
    use crate::zone::name::{display, to_wire_lower};
    use crate::zone::rtype;

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
    let Some(file) = crate::config::load_policy_file(&path, &text, targets, diags) else {
        return false;
    };
    for entry in file.names {
        let key = format!("names.{}", entry.owner);
        let (line, col) = (Some(entry.line), Some(entry.col));
        let name = crate::zone::load::parse_name(&entry.owner, &zone.origin);
        let name = match name {
            Ok(n) => n,
            Err(e) => {
                diags.error(&path, line, col, key, format!("invalid name: {e}"));
                continue;
            }
        };
        if !zone.origin.zone_of(&name) {
            diags.error(
                &path,
                line,
                col,
                key,
                format!("{name} is outside the zone {}", zone.origin),
            );
            continue;
        }
        let wire = to_wire_lower(&name);
        // Below (or at) a delegation the parent does not answer.
        let mut i = 0usize;
        let mut delegated = false;
        while wire[i..].len() > zone.origin_wire.len() {
            if zone.node(&wire[i..]).is_some_and(|n| n.cut) {
                diags.error(
                    &path,
                    line,
                    col,
                    key.clone(),
                    format!(
                        "{name} is at or below the delegation {}",
                        display(&wire[i..])
                    ),
                );
                delegated = true;
                break;
            }
            i += wire[i] as usize + 1;
        }
        if delegated {
            continue;
        }
        if let Some(node) = zone.node(&wire) {
            for (t, what) in [
                (rtype::A, "A"),
                (rtype::AAAA, "AAAA"),
                (rtype::CNAME, "CNAME"),
            ] {
                if node.rrset(t).is_some() {
                    diags.error(
                        &path,
                        line,
                        col,
                        key.clone(),
                        format!(
                            "{name} also has {what} records in {}; a load-balanced name takes A/AAAA from its policy only, and cannot be a CNAME",
                            zone.file.display()
                        ),
                    );
                }
            }
        }
        let mut compiled = entry.lb;
        compiled.name = name.to_ascii();
        let idx = lb.len() as u32;
        lb.push(compiled);
        zone.ensure_node(&wire).lb = Some(idx);
    }
    diags.len() == before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Diagnostics, ServerConfig};
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
        let cfg = ServerConfig {
            zones_dir: dir.clone(),
            ..ServerConfig::default()
        };
        let mut d = Diagnostics::new();
        let s = build(&cfg, false, &mut d);
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
