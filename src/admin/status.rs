//! `GET /status`: every load-balanced name → its pools → their endpoints,
//! with health, forced state, last error, last change, probe RTT and the
//! share of recent answers each endpoint got; plus the overrides in force.
//!
//! Times are Unix seconds (floats); RTTs are milliseconds. The shape is
//! documented in docs/OPERATIONS.md and is what `dnslb status` and the
//! status page read.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::endpoints::{pools_of, zone_key, zone_of_names};
use crate::health::fleet::NodeView;
use crate::health::overrides::Override;
use crate::health::{Fleet, Status, TargetKey, TargetReport, fleet_key};
use crate::policy::Member;
use crate::policy::pool::{Health, Tier, state_of, tier_of};
use crate::snapshot::Snapshot;

/// The whole `/status` document.
#[derive(Debug, Serialize)]
pub struct StatusDoc {
    pub version: &'static str,
    /// Unix seconds when the document was made.
    pub now: f64,
    pub ready: bool,
    /// Seconds over which `answer_share` is computed.
    pub share_window_seconds: f64,
    pub zones: Vec<ZoneDoc>,
    pub names: Vec<NameDoc>,
    pub overrides: Vec<OverrideDoc>,
    /// Where overrides are kept (`null`: memory only, lost on restart).
    pub state_file: Option<String>,
    pub reloads: ReloadDoc,
    /// Cluster mode's state (`null`: not in cluster mode).
    pub cluster: Option<ClusterDoc>,
}

/// Cluster mode: this instance, the store connection, the rule.
#[derive(Debug, Serialize)]
pub struct ClusterDoc {
    /// This instance's node name.
    pub node: String,
    /// Connected to the store: peers' observations count. `false`: this
    /// instance decides from its own observations only.
    pub connected: bool,
    /// When `connected` last changed (Unix seconds).
    pub since: Option<f64>,
    /// The last error talking to the store, if any.
    pub last_error: Option<String>,
    /// Times the store connection was lost (or could not be made).
    pub disconnects: u64,
    /// Live instances by node name (this one included while connected).
    pub nodes: Vec<String>,
    /// The decision rule in words.
    pub rule: String,
    pub healthy_above: f64,
    /// Own observations written to the store; store events applied.
    pub published: u64,
    pub events: u64,
}

/// Cluster mode: one endpoint's views and the decision.
#[derive(Debug, Serialize)]
pub struct FleetDoc {
    /// The decision in force here (also `health`).
    pub decision: &'static str,
    /// Live vantage points that see it up, of `observers`.
    pub up: u32,
    pub observers: u32,
    /// How many must see it up for it to be up.
    pub needed: u32,
    /// Every live instance's view, this one first.
    pub views: Vec<ViewDoc>,
}

/// One instance's view of one endpoint.
#[derive(Debug, Serialize)]
pub struct ViewDoc {
    pub node: String,
    /// This instance's own view.
    #[serde(rename = "self")]
    pub own: bool,
    /// Its own rise/fall state: "up" or "down".
    pub health: &'static str,
    /// Up, with failed probes toward `fall`.
    pub failing: bool,
    pub rtt_ms: Option<f64>,
    pub last_probe: Option<f64>,
}

/// One zone file of the zones directory.
#[derive(Debug, Serialize)]
pub struct ZoneDoc {
    pub zone: String,
    pub file: String,
    /// SOA serial of the version served (`null`: not served).
    pub serial: Option<u32>,
    /// "loaded" (its files are served as they are), "previous" (its files
    /// have errors; the version loaded before is served) or "failed"
    /// (errors and no earlier version: not served).
    pub state: &'static str,
    /// The errors in its zone file, `$INCLUDE`s and policy file.
    pub errors: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ReloadDoc {
    /// Loads that replaced the snapshot (start-up included).
    pub ok: u64,
    /// Reloads that changed nothing.
    pub failed: u64,
    pub last_success: Option<f64>,
    /// The last load or reload: when, why, how it went, what it found.
    pub last: Option<LastDoc>,
}

#[derive(Debug, Serialize)]
pub struct LastDoc {
    pub at: f64,
    pub cause: String,
    /// "ok", "partial" or "failed".
    pub outcome: &'static str,
    pub errors: Vec<String>,
    /// Settings changed in the file that need a restart to take effect.
    pub restart_needed: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct NameDoc {
    pub name: String,
    /// The zone it is in, fully qualified (`example.test.`).
    pub zone: String,
    pub policy: String,
    pub ttl: u32,
    /// `ttl_while_failing`: the TTL while a member's check fails or is down.
    pub ttl_while_failing: Option<u32>,
    pub answers: String,
    pub on_all_down: String,
    /// Answers sampled over the window (about 1 in 16.5 of this name's
    /// answers) that the endpoints' `answer_share` is computed from.
    pub answer_samples: u64,
    pub pools: Vec<PoolDoc>,
}

#[derive(Debug, Serialize)]
pub struct PoolDoc {
    pub pool: String,
    /// "pool" (the name's one pool), "group 1", "group 2", … in failover
    /// order, the geo rules that list it ("geo: country US, continent NA
    /// (2nd), default"), what a latency or closest name ranks it by
    /// ("latency: lat 50.11 lon 8.68, weight 1, bias_ms 0", "closest: no
    /// lat/lon"), or "fallback".
    pub role: String,
    pub endpoints: Vec<EndpointDoc>,
}

#[derive(Debug, Serialize)]
pub struct EndpointDoc {
    pub address: IpAddr,
    /// A dual-stack endpoint's IPv6 address (`address` is its IPv4 one);
    /// `null` for a single-address member.
    pub address6: Option<IpAddr>,
    /// The member's `name` in the policy file.
    pub name: Option<String>,
    /// `ZONE/POOL/MEMBER` when named, else the address: what to pass to
    /// `dnslb drain`.
    pub endpoint: String,
    pub weight: u32,
    /// `state` in the policy file.
    pub file_state: &'static str,
    /// Operator override in force for this member (`null`: none).
    pub forced: Option<&'static str>,
    /// Which override: "member" (one naming this member) or "address"
    /// (one of its address); `null` with `forced`.
    pub forced_by: Option<&'static str>,
    /// The state that applies: the override, else the file's.
    pub state: &'static str,
    /// Probed health: "up", "down", or "unchecked" (no check: always up).
    /// In cluster mode, the fleet's decision (`fleet` has the views).
    pub health: &'static str,
    /// What policies make of it: "available", "standby" (weight 0),
    /// "draining" or "down".
    pub availability: &'static str,
    pub check: Option<String>,
    /// Where probes go (ADDR:PORT).
    pub probe: Option<String>,
    pub last_error: Option<String>,
    pub last_change: Option<f64>,
    pub last_probe: Option<f64>,
    pub rtt_ms: Option<f64>,
    /// The load figure its check reads, while fresh (`null`: the check
    /// reads none, none came yet, or the figures went stale).
    pub load: Option<f32>,
    pub consecutive_failures: Option<u32>,
    pub state_changes: Option<u64>,
    /// This address's share of the addresses the name handed out over the
    /// window (sampled answers), 0..=1, summing to 1 over the name; `null`
    /// when no answer of the name was sampled meanwhile.
    pub answer_share: Option<f64>,
    /// Cluster mode: every instance's view and the decision (`null`
    /// otherwise, and for endpoints without a check).
    pub fleet: Option<FleetDoc>,
}

#[derive(Debug, Serialize)]
pub struct OverrideDoc {
    pub endpoint: String,
    pub state: &'static str,
    pub since: u64,
    /// Pool members it is in force for now (0: its endpoint is gone, or
    /// every member with its address has its own override or is `down`
    /// in its file).
    pub matches: usize,
}

pub fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Answer counts per (name, address), sampled every few seconds, so shares
/// cover a recent window instead of the whole uptime.
#[derive(Debug)]
pub struct Shares {
    window: Duration,
    samples: Mutex<VecDeque<(Instant, Counts)>>,
}

/// Per (name, address) the sampled answers holding it; per (name, None)
/// the sampled answers.
type Counts = HashMap<(Box<str>, Option<IpAddr>), u64>;

fn counts(snap: &Snapshot) -> Counts {
    let mut out = HashMap::new();
    for a in snap.counters.answers.iter() {
        out.insert((a.name.clone(), None), a.samples());
        for (addr, n) in a.per_addr() {
            out.insert((a.name.clone(), Some(addr)), n);
        }
    }
    out
}

impl Shares {
    /// Shares over about `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            samples: Mutex::new(VecDeque::new()),
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Take a sample now; drop those no longer needed (keep the newest one
    /// at least `window` old as the baseline).
    pub fn sample(&self, snap: &Snapshot) {
        self.sample_at(Instant::now(), counts(snap));
    }

    fn sample_at(&self, now: Instant, c: Counts) {
        let mut s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        s.push_back((now, c));
        while s.len() > 1 && now.duration_since(s[1].0) >= self.window {
            s.pop_front();
        }
    }

    /// Answers per (name, address) since the baseline sample (or since the
    /// counters started, before the first sample), and the seconds covered.
    fn recent(&self, snap: &Snapshot) -> (Counts, f64) {
        self.recent_at(Instant::now(), counts(snap))
    }

    /// The baseline is the newest sample at least `window` old *now* (else
    /// the oldest kept): with samples every 10 s the span is 60 to 70 s.
    /// (Chosen when sampling instead, a sample a millisecond short of the
    /// window kept the one before it for another period: up to 80 s.)
    fn recent_at(&self, at: Instant, mut now: Counts) -> (Counts, f64) {
        let s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let base = s
            .iter()
            .rev()
            .find(|(t, _)| at.saturating_duration_since(*t) >= self.window)
            .or_else(|| s.front());
        let covered = base.map_or(0.0, |(t, _)| at.saturating_duration_since(*t).as_secs_f64());
        if let Some((_, base)) = base {
            for (k, v) in now.iter_mut() {
                // A counter reset (address set changed) counts from zero.
                let b = base.get(k).copied().unwrap_or(0);
                *v = if *v >= b { *v - b } else { *v };
            }
        }
        (now, covered)
    }
}

/// Everything `/status` needs that is not in the snapshot.
pub struct Inputs<'a> {
    pub reports: &'a [TargetReport],
    pub overrides: &'a [Override],
    pub state_file: Option<String>,
    pub ready: bool,
    pub shares: &'a Shares,
    pub reloads: (u64, u64, Option<f64>),
    pub last: Option<crate::metrics::LastReload>,
    /// Cluster mode's shared state, when on.
    pub fleet: Option<&'a Fleet>,
}

/// Build the `/status` document.
pub fn build(snap: &Snapshot, inp: &Inputs<'_>) -> StatusDoc {
    let by_key: HashMap<&TargetKey, &TargetReport> =
        inp.reports.iter().map(|r| (&r.key, r)).collect();
    let (recent, covered) = inp.shares.recent(snap);
    let recent_samples: HashMap<&str, u64> = recent
        .iter()
        .filter(|((_, a), _)| a.is_none())
        .map(|((n, _), v)| (&**n, *v))
        .collect();
    let zones_of = zone_of_names(snap);
    let mut names = Vec::with_capacity(snap.lb.len());
    for (i, name) in snap.lb.iter().enumerate() {
        let total: u64 = recent
            .iter()
            .filter(|((n, a), _)| a.is_some() && **n == *name.name)
            .map(|(_, v)| *v)
            .sum();
        let samples = recent_samples.get(name.name.as_str()).copied().unwrap_or(0);
        let share = |addr: IpAddr| {
            (total > 0).then(|| {
                let n = recent
                    .get(&(name.name.as_str().into(), Some(addr)))
                    .copied()
                    .unwrap_or(0);
                n as f64 / total as f64
            })
        };
        let zone = &zones_of[i];
        let failover = name.order.is_failover();
        let pools = pools_of(name)
            .into_iter()
            .map(|(kind, idx, pool)| PoolDoc {
                pool: pool.name.clone(),
                role: match (kind, &name.order) {
                    ("fallback", _) => "fallback".into(),
                    (_, crate::policy::Order::Geo(map)) => geo_role(map, idx),
                    (_, crate::policy::Order::Latency(map)) => latency_role(map.ranking(), pool),
                    _ if failover => format!("group {}", idx + 1),
                    _ => "pool".into(),
                },
                endpoints: pool
                    .iter()
                    .map(|m| {
                        let shares = m.addrs().map(share).collect::<Option<Vec<f64>>>();
                        let share = shares.map(|s| s.iter().sum());
                        endpoint(snap, zone, &pool.name, m, &by_key, share, inp.fleet)
                    })
                    .collect(),
            })
            .collect();
        names.push(NameDoc {
            name: name.name.clone(),
            // As `zones[].zone` and the metrics' `zone` label name it.
            zone: if zone == "." {
                zone.clone()
            } else {
                format!("{zone}.")
            },
            policy: name.policy().to_string(),
            ttl: name.ttl,
            ttl_while_failing: name.ttl_while_failing,
            answers: name.answers.to_string(),
            on_all_down: name.on_all_down.to_string(),
            answer_samples: samples,
            pools,
        });
    }
    let endpoints = super::endpoints::catalogue(snap);
    let overrides = inp
        .overrides
        .iter()
        .map(|o| OverrideDoc {
            endpoint: o.endpoint.to_string(),
            state: o.state.as_str(),
            since: o.since,
            matches: super::endpoints::applies_to(&o.endpoint, inp.overrides, &endpoints),
        })
        .collect();
    StatusDoc {
        version: env!("CARGO_PKG_VERSION"),
        now: unix(SystemTime::now()),
        ready: inp.ready,
        share_window_seconds: covered,
        zones: snap
            .zone_status
            .iter()
            .map(|st| ZoneDoc {
                zone: st.origin.clone(),
                file: st.file.display().to_string(),
                serial: snap.zone_by_file(&st.file).map(|z| z.serial),
                state: st.state.as_str(),
                errors: st.errors.iter().map(ToString::to_string).collect(),
            })
            .collect(),
        names,
        overrides,
        state_file: inp.state_file.clone(),
        reloads: ReloadDoc {
            ok: inp.reloads.0,
            failed: inp.reloads.1,
            last_success: inp.reloads.2,
            last: inp.last.clone().map(|l| LastDoc {
                at: l.at,
                cause: l.cause,
                outcome: l.outcome,
                errors: l.errors,
                restart_needed: l.restart_needed,
            }),
        },
        cluster: inp.fleet.map(cluster_doc),
    }
}

fn cluster_doc(f: &Fleet) -> ClusterDoc {
    let st = f.store();
    let q = f.quorum();
    ClusterDoc {
        node: f.node().to_string(),
        connected: st.connected,
        since: st.since.map(unix),
        last_error: st.last_error,
        disconnects: st.disconnects,
        nodes: st.nodes,
        rule: format!(
            "up when more than {}% of the live instances that probe an endpoint see it up",
            q.fraction() * 100.0
        ),
        healthy_above: q.fraction(),
        published: f.published.load(std::sync::atomic::Ordering::Relaxed),
        events: f.events.load(std::sync::atomic::Ordering::Relaxed),
    }
}

fn fleet_doc(f: &Fleet, key: &TargetKey) -> Option<FleetDoc> {
    let k = fleet_key(key)?;
    let v = f.verdict(&k)?;
    let word = |s: Status| if s == Status::Up { "up" } else { "down" };
    Some(FleetDoc {
        decision: word(v.status),
        up: v.up,
        observers: v.observers,
        needed: f.quorum().needed(v.observers),
        views: f
            .views(&k)
            .into_iter()
            .map(|NodeView { node, own, view }| ViewDoc {
                node,
                own,
                health: word(view.obs.status),
                failing: view.obs.failing,
                rtt_ms: view.rtt_us.map(|us| f64::from(us) / 1000.0),
                last_probe: view.last_probe.map(unix),
            })
            .collect(),
    })
}

/// A geo name's pool `idx` by the rules that list it, as `PoolDoc::role`:
/// `geo: country US, continent NA (2nd), default`, with the pool's place
/// in a rule's list when it is not first (`geo: no rule` cannot happen
/// for a pool the loader took from the rules, but is said rather than
/// an empty list).
fn geo_role(map: &crate::policy::geo::GeoMap, idx: usize) -> String {
    let ordinal = |i: usize| {
        let n = i + 1;
        let suffix = match (n % 10, n % 100) {
            (_, 11..=13) => "th",
            (1, _) => "st",
            (2, _) => "nd",
            (3, _) => "rd",
            _ => "th",
        };
        format!("{n}{suffix}")
    };
    let keys: Vec<String> = map
        .rules()
        .iter()
        .filter_map(|r| {
            let at = r.own().iter().position(|&p| usize::from(p) == idx)?;
            let key = r.key.describe(map.nets());
            Some(if at == 0 {
                key
            } else {
                format!("{key} ({})", ordinal(at))
            })
        })
        .collect();
    if keys.is_empty() {
        "geo: no rule".into()
    } else {
        format!("geo: {}", keys.join(", "))
    }
}

/// The member's latest probe error; for a member checked over both
/// families, also its second probe's, with that probe's address (either
/// failing puts the endpoint down, and the operator must see which).
fn last_error(report: Option<&TargetReport>, also: Option<&TargetReport>) -> Option<String> {
    let own = report.and_then(|r| r.last_error.as_ref().map(|e| e.to_string()));
    let second = also.and_then(|r| {
        r.last_error
            .as_ref()
            .map(|e| format!("{}: {e}", r.probe_addr))
    });
    match (own, second) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

/// A latency or closest name's pool: what it is ranked by (`Site`).
fn latency_role(ranking: crate::policy::latency::Ranking, pool: &crate::policy::Pool) -> String {
    use crate::policy::latency::Ranking;
    let site = &pool.site;
    let at = match site.coords {
        Some(c) => format!("lat {} lon {}", c.lat, c.lon),
        None => "no lat/lon".to_owned(),
    };
    match ranking {
        Ranking::Latency => format!(
            "latency: {at}, weight {}, bias_ms {}",
            site.weight,
            site.bias_us as f64 / 1000.0
        ),
        Ranking::Closest => format!("closest: {at}, bias {}", site.bias_pct),
    }
}

fn endpoint(
    snap: &Snapshot,
    zone: &str,
    pool: &str,
    m: &Member,
    reports: &HashMap<&TargetKey, &TargetReport>,
    answer_share: Option<f64>,
    fleet: Option<&Fleet>,
) -> EndpointDoc {
    let status = crate::policy::pool::cell_of(m, &snap.health).status();
    let forced = m.forced.get();
    let key = snap.targets.get(m.target);
    let report = key.and_then(|k| reports.get(k)).copied();
    let checked = key.is_some_and(|k| k.check.is_some());
    // A dual-stack member checked over both families: its IPv6 probe.
    let also = m
        .also
        .and_then(|t| snap.targets.get(t))
        .and_then(|k| reports.get(k))
        .copied();
    let availability = match tier_of(m, Health::probed(&snap.health)) {
        Some(Tier::LiveWeighted) => "available",
        Some(Tier::LiveZero) => "standby",
        Some(Tier::DrainWeighted | Tier::DrainZero) => "draining",
        None => "down",
    };
    EndpointDoc {
        address: m.addr,
        address6: m.other,
        name: m.label.clone(),
        endpoint: match &m.label {
            Some(l) => format!("{}/{pool}/{l}", zone_key(zone)),
            None => m.addr.to_string(),
        },
        weight: m.weight,
        file_state: m.state.as_str(),
        forced: forced.map(|(f, _)| f.as_str()),
        forced_by: forced.map(|(_, by)| by.as_str()),
        state: state_of(m).as_str(),
        health: match (checked, status) {
            (false, _) => "unchecked",
            (true, Status::Up) => "up",
            (true, Status::Down) => "down",
        },
        availability,
        check: m.check.clone(),
        probe: report.map(|r| r.probe_addr.to_string()),
        last_error: last_error(report, also),
        last_change: report.and_then(|r| r.last_change.map(unix)),
        last_probe: report.and_then(|r| r.last_probe.map(unix)),
        rtt_ms: snap.health.rtt_us(m.target).map(|us| us as f64 / 1000.0),
        load: snap.health.load(m.target),
        consecutive_failures: report.map(|r| r.consecutive_failures),
        state_changes: report.map(|r| r.changes),
        answer_share,
        fleet: fleet.zip(key).and_then(|(f, k)| fleet_doc(f, k)),
    }
}

#[cfg(test)]
mod share_window_tests {
    use super::*;

    /// Samples every 10 s with a few milliseconds of scheduling jitter:
    /// the shares always cover 60 to 70 s, as `/status` documents.
    #[test]
    fn the_window_stays_between_60_and_70_seconds() {
        let shares = Shares::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let jitter = |k: u64| Duration::from_millis(k % 7);
        let mut seen = (f64::MAX, 0.0f64);
        for k in 0..40u64 {
            let at = t0 + Duration::from_secs(10 * k) + jitter(k);
            shares.sample_at(at, Counts::new());
            if k < 7 {
                continue;
            }
            for ms in [1, 2_500, 5_000, 9_000, 9_990] {
                let (_, covered) = shares.recent_at(at + Duration::from_millis(ms), Counts::new());
                seen = (seen.0.min(covered), seen.1.max(covered));
                assert!(
                    (60.0..=70.01).contains(&covered),
                    "sample {k} + {ms} ms: {covered} s"
                );
            }
        }
        assert!(seen.0 < 61.0 && seen.1 > 69.0, "{seen:?}");
    }
}
