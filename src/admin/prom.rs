//! `GET /metrics`: the Prometheus text format (0.0.4), produced by
//! `prometheus-client` from values read at scrape time.
//!
//! The query path only bumps atomics ([`crate::metrics`]); a scrape copies
//! them, with the prober's per-target report and the reload counters, into
//! a [`Scrape`] that `prometheus-client` encodes as a [`Collector`]. Zero
//! rows of the transport × qtype × rcode product are left out to keep the
//! output short; every other series is always present.

use std::collections::{HashMap, HashSet};
use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::health::{TargetKey, TargetReport};
use crate::metrics::{QTYPES, RCODES, TRANSPORTS};
use crate::snapshot::Snapshot;

type Labels = Vec<(&'static str, String)>;

/// One metric family: name (without `_total`), help, type, rows.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    counter: bool,
    rows: Vec<(Labels, f64)>,
}

/// Every value of one scrape, owned, ready to encode.
#[derive(Debug, Default)]
pub struct Scrape {
    families: Vec<Family>,
}

impl Scrape {
    fn counter(&mut self, name: &'static str, help: &'static str, rows: Vec<(Labels, f64)>) {
        self.families.push(Family {
            name,
            help,
            counter: true,
            rows,
        });
    }

    fn gauge(&mut self, name: &'static str, help: &'static str, rows: Vec<(Labels, f64)>) {
        self.families.push(Family {
            name,
            help,
            counter: false,
            rows,
        });
    }

    /// The Prometheus text.
    pub fn render(self) -> Result<String, fmt::Error> {
        let mut reg = Registry::default();
        reg.register_collector(Box::new(self));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &reg)?;
        Ok(out)
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        for f in &self.families {
            let ty = if f.counter {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            let mut m = encoder.encode_descriptor(f.name, f.help, None, ty)?;
            for (labels, v) in &f.rows {
                let fam = m.encode_family(labels)?;
                if f.counter {
                    ConstCounter::new(*v as u64).encode(fam)?;
                } else {
                    ConstGauge::new(*v).encode(fam)?;
                }
            }
        }
        Ok(())
    }
}

/// Everything a scrape reads besides the snapshot.
pub struct ScrapeInputs<'a> {
    pub reports: &'a [TargetReport],
    pub reloads: (u64, u64, Option<f64>),
    /// Problems found by every load so far.
    pub reload_errors: u64,
    pub overrides: usize,
    pub ready: bool,
    /// Cluster mode's shared state, when on.
    pub fleet: Option<&'a crate::health::Fleet>,
}

fn l(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// Collect every metric of the running server.
pub fn scrape(snap: &Snapshot, inp: &ScrapeInputs<'_>) -> Scrape {
    let mut s = Scrape::default();
    let q = &snap.counters.queries;
    let mut rows = Vec::new();
    for (t, tn) in TRANSPORTS.iter().enumerate() {
        for (qt, qn) in QTYPES.iter().enumerate() {
            for (r, rn) in RCODES.iter().enumerate() {
                let v = q.get(t, qt, r);
                if v > 0 {
                    rows.push((
                        l(&[("transport", tn), ("qtype", qn), ("rcode", rn)]),
                        v as f64,
                    ));
                }
            }
        }
    }
    s.counter(
        "dnslb_queries",
        "Queries answered, by transport, query type and response code.",
        rows,
    );
    s.counter(
        "dnslb_ecs_queries",
        "Queries that carried an EDNS Client Subnet option (RFC 7871).",
        vec![(vec![], q.ecs() as f64)],
    );
    let mut rows = Vec::new();
    for z in snap.counters.zones.iter() {
        for (r, v) in z.by_rcode().into_iter().enumerate() {
            if v > 0 || r == 0 {
                rows.push((l(&[("zone", &z.zone), ("rcode", RCODES[r])]), v as f64));
            }
        }
    }
    s.counter(
        "dnslb_zone_queries",
        "Queries that landed in a zone, by response code.",
        rows,
    );
    let mut rows = Vec::new();
    for a in snap.counters.answers.iter() {
        let counts = a.by_decision();
        for kind in crate::policy::DecisionKind::ALL {
            rows.push((
                l(&[("name", &a.name), ("decision", kind.as_str())]),
                counts[kind as usize] as f64,
            ));
        }
    }
    s.counter(
        "dnslb_answers",
        "Policy answers of a load-balanced name, by decision: policy (the first available group), failover (a later group), last_resort (only weight-0 or draining members), fail_open, fallback, nodata, servfail.",
        rows,
    );
    let samples = snap
        .counters
        .answers
        .iter()
        .map(|a| (l(&[("name", &a.name)]), a.samples() as f64))
        .collect();
    s.counter(
        "dnslb_answers_sampled",
        "Policy answers of a load-balanced name that were sampled for answer shares (about 1 in 16.5).",
        samples,
    );
    let mut rows = Vec::new();
    for a in snap.counters.answers.iter() {
        for (addr, v) in a.per_addr() {
            rows.push((
                l(&[("name", &a.name), ("address", &addr.to_string())]),
                v as f64,
            ));
        }
    }
    s.counter(
        "dnslb_answer_sample_addresses",
        "Sampled policy answers of a load-balanced name that held this address: their ratios are the answer shares.",
        rows,
    );
    endpoints(&mut s, snap, inp.reports, inp.fleet);
    members(&mut s, snap);
    let (ok, failed, last) = inp.reloads;
    s.counter(
        "dnslb_reloads",
        "Successful loads of the configuration (start-up included).",
        vec![(vec![], ok as f64)],
    );
    s.counter(
        "dnslb_reload_failures",
        "Reloads that failed and kept the previous configuration serving.",
        vec![(vec![], failed as f64)],
    );
    s.counter(
        "dnslb_reload_errors",
        "Problems (FILE:LINE: key: message) found by loads and reloads; each is logged.",
        vec![(vec![], inp.reload_errors as f64)],
    );
    let mut states = Vec::new();
    let mut errors = Vec::new();
    for z in &snap.zone_status {
        let file = z.file.display().to_string();
        for st in [
            crate::snapshot::ZoneState::Loaded,
            crate::snapshot::ZoneState::Previous,
            crate::snapshot::ZoneState::Failed,
        ] {
            states.push((
                l(&[("zone", &z.origin), ("file", &file), ("state", st.as_str())]),
                if z.state == st { 1.0 } else { 0.0 },
            ));
        }
        errors.push((
            l(&[("zone", &z.origin), ("file", &file)]),
            z.errors.len() as f64,
        ));
    }
    s.gauge(
        "dnslb_zone_state",
        "How each zone file of the zones directory loaded: state loaded, previous (its files have errors; the version before is served) or failed (not served); 1 for its state.",
        states,
    );
    s.gauge(
        "dnslb_zone_errors",
        "Errors in a zone's files (zone file, $INCLUDEs, policy file) at the last load.",
        errors,
    );
    s.gauge(
        "dnslb_config_errors",
        "Errors in the configuration as last loaded (every zone's files and the rest); 0 when clean.",
        vec![(vec![], snap.problems().count() as f64)],
    );
    s.gauge(
        "dnslb_last_reload_success_timestamp_seconds",
        "Unix time of the last successful load.",
        vec![(vec![], last.unwrap_or(0.0))],
    );
    s.gauge(
        "dnslb_zones",
        "Zones served.",
        vec![(vec![], snap.zones.len() as f64)],
    );
    s.gauge(
        "dnslb_lb_names",
        "Load-balanced names served.",
        vec![(vec![], snap.lb.len() as f64)],
    );
    s.gauge(
        "dnslb_overrides",
        "Operator overrides in force.",
        vec![(vec![], inp.overrides as f64)],
    );
    s.gauge(
        "dnslb_ready",
        "1 when zones are loaded and served (as /readyz).",
        vec![(vec![], if inp.ready { 1.0 } else { 0.0 })],
    );
    if let Some(f) = inp.fleet {
        cluster(&mut s, f);
    }
    s.gauge(
        "dnslb_build_info",
        "Version of the running dnslb.",
        vec![(l(&[("version", env!("CARGO_PKG_VERSION"))]), 1.0)],
    );
    s
}

/// Cluster mode's series (present only in cluster mode).
fn cluster(s: &mut Scrape, f: &crate::health::Fleet) {
    use std::sync::atomic::Ordering::Relaxed;
    let st = f.store();
    s.gauge(
        "dnslb_cluster_connected",
        "1 while the cluster store is reachable and peers' observations count; 0: this instance decides alone.",
        vec![(vec![], if st.connected { 1.0 } else { 0.0 })],
    );
    s.gauge(
        "dnslb_cluster_nodes",
        "Live instances in the cluster, this one included (0 while disconnected).",
        vec![(vec![], st.nodes.len() as f64)],
    );
    s.counter(
        "dnslb_cluster_disconnects",
        "Times the cluster store connection was lost or could not be made.",
        vec![(vec![], st.disconnects as f64)],
    );
    s.counter(
        "dnslb_cluster_observations_published",
        "Own observations written to the cluster store (changes and refreshes).",
        vec![(vec![], f.published.load(Relaxed) as f64)],
    );
    s.counter(
        "dnslb_cluster_events",
        "Cluster store events applied (peers' observations, nodes, overrides).",
        vec![(vec![], f.events.load(Relaxed) as f64)],
    );
}

/// Per pool member: the operator override in force. Members of several
/// pools can share an address and a check (one target, one health cell),
/// but not an override: so these rows are per member, labelled as
/// `/status` names it (zone, pool, member name, address).
fn members(s: &mut Scrape, snap: &Snapshot) {
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    for e in super::endpoints::catalogue(snap) {
        let m = e.member;
        let zone = format!("{}.", e.zone.trim_end_matches('.'));
        let addr = m.addr.to_string();
        let name = m.label.clone().unwrap_or_default();
        let check = m.check.clone().unwrap_or_default();
        // Unnamed members of one pool may share an address (with
        // different checks, say): keep label sets unique.
        let mut check_label = check.clone();
        let mut n = 2;
        while !seen.insert((
            zone.clone(),
            e.pool,
            name.clone(),
            addr.clone(),
            check_label.clone(),
        )) {
            check_label = format!("{check} ({n})");
            n += 1;
        }
        let state = m.forced.forced().map_or("auto", |f| f.as_str());
        rows.push((
            l(&[
                ("zone", &zone),
                ("pool", e.pool),
                ("member", &name),
                ("address", &addr),
                ("check", &check_label),
                ("state", state),
            ]),
            1.0,
        ));
    }
    s.gauge(
        "dnslb_endpoint_forced",
        "Operator override of a pool member (state auto, up, down or drain): always 1.",
        rows,
    );
}

/// Per-target gauges: health, probe facts.
fn endpoints(
    s: &mut Scrape,
    snap: &Snapshot,
    reports: &[TargetReport],
    fleet: Option<&crate::health::Fleet>,
) {
    let by_key: HashMap<&TargetKey, &TargetReport> = reports.iter().map(|r| (&r.key, r)).collect();
    let mut seen = HashSet::new();
    let mut up = Vec::new();
    let mut last_probe = Vec::new();
    let mut interval = Vec::new();
    let mut rtt = Vec::new();
    let mut fails = Vec::new();
    let mut changes = Vec::new();
    let mut probes = Vec::new();
    let mut failures = Vec::new();
    // Cluster mode: this instance's own view, and the vantage points.
    let (mut own_up, mut seen_by, mut seen_up) = (Vec::new(), Vec::new(), Vec::new());
    for (id, key) in snap.targets.iter() {
        let addr = key.addr.to_string();
        let check = key.check.as_ref().map_or("", |c| c.name.as_str());
        let probe = key.check.as_ref().map_or(String::new(), |c| {
            std::net::SocketAddr::new(c.probe_address.unwrap_or(key.addr), c.port).to_string()
        });
        // Two checks of one address may share a name and port (different
        // paths, say): keep label sets unique, as Prometheus requires.
        let mut check_label = check.to_string();
        let mut n = 2;
        while !seen.insert((addr.clone(), check_label.clone(), probe.clone())) {
            check_label = format!("{check} ({n})");
            n += 1;
        }
        let base = l(&[
            ("address", &addr),
            ("check", &check_label),
            ("probe", &probe),
        ]);
        let status = snap.health.status(id);
        let Some(c) = &key.check else {
            continue;
        };
        interval.push((base.clone(), c.interval.as_secs_f64()));
        up.push((
            base.clone(),
            if status == crate::health::Status::Up {
                1.0
            } else {
                0.0
            },
        ));
        if let Some(us) = snap.health.rtt_us(id) {
            rtt.push((base.clone(), us as f64 / 1e6));
        }
        if let Some(r) = by_key.get(key) {
            if let Some(t) = r.last_probe {
                last_probe.push((base.clone(), super::status::unix(t)));
            }
            fails.push((base.clone(), r.consecutive_failures as f64));
            changes.push((base.clone(), r.changes as f64));
            probes.push((base.clone(), r.probes as f64));
            failures.push((base.clone(), r.failures as f64));
            if fleet.is_some() {
                let own = r.status == crate::health::Status::Up;
                own_up.push((base.clone(), if own { 1.0 } else { 0.0 }));
            }
        }
        if let Some(v) = fleet.and_then(|f| f.verdict(&crate::health::fleet_key(key)?)) {
            seen_by.push((base.clone(), f64::from(v.observers)));
            seen_up.push((base.clone(), f64::from(v.up)));
        }
    }
    if fleet.is_some() {
        s.gauge(
            "dnslb_endpoint_own_up",
            "Cluster mode: this instance's own view of an endpoint (its rise/fall state): 1 up, 0 down.",
            own_up,
        );
        s.gauge(
            "dnslb_endpoint_vantage_points",
            "Cluster mode: live instances whose views of an endpoint the decision counts.",
            seen_by,
        );
        s.gauge(
            "dnslb_endpoint_vantage_points_up",
            "Cluster mode: of those, the ones that see the endpoint up.",
            seen_up,
        );
    }
    s.gauge(
        "dnslb_endpoint_up",
        "Probed health of an endpoint: 1 up, 0 down (cluster mode: the fleet's decision).",
        up,
    );
    s.gauge(
        "dnslb_endpoint_last_probe_timestamp_seconds",
        "Unix time the last probe of an endpoint finished.",
        last_probe,
    );
    s.gauge(
        "dnslb_endpoint_check_interval_seconds",
        "Seconds between probe starts of an endpoint (its check's interval): a probe should finish at least this often.",
        interval,
    );
    s.gauge(
        "dnslb_endpoint_probe_rtt_seconds",
        "Smoothed duration of successful probes.",
        rtt,
    );
    s.gauge(
        "dnslb_endpoint_consecutive_failures",
        "Failed probes in a row.",
        fails,
    );
    s.counter(
        "dnslb_endpoint_state_changes",
        "Up/down flips of an endpoint since probing started.",
        changes,
    );
    s.counter("dnslb_endpoint_probes", "Probes sent.", probes);
    let inconclusive: u64 = reports.iter().map(|r| r.inconclusive).sum();
    s.counter(
        "dnslb_prober_inconclusive_probes",
        "Probes skipped, or timeouts not held against their target, because the prober ran late (starved of CPU): not counted as failures; alert when it grows.",
        vec![(l(&[]), inconclusive as f64)],
    );
    s.counter(
        "dnslb_endpoint_probe_failures",
        "Probes that failed.",
        failures,
    );
}
