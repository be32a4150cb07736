//! The supervisor task: owns every target task, applies reloads
//! (`reconcile`), restarts tasks that died or went silent, and stops them
//! all on cancellation.

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::RngExt;
use rand::rngs::SmallRng;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::target::{
    LOG_TARGET, Overload, Slot, SlotState, TargetReport, panic_message, run_target,
};
use crate::health::clock::Clock;
use crate::health::fleet::{Fleet, fleet_key};
use crate::health::probe::Probe;
use crate::health::state::Machine;
use crate::health::{HealthTable, ProbeTarget, Status, TargetId, TargetKey};

/// What the [`super::Prober`] handle asks of the supervisor.
pub(super) enum Command {
    Reconcile {
        targets: Vec<ProbeTarget>,
        table: Arc<HealthTable>,
        done: oneshot::Sender<()>,
    },
    Report {
        reply: oneshot::Sender<Vec<TargetReport>>,
    },
}

pub(super) struct Supervisor {
    probe: Arc<dyn Probe>,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
    watchdog_period: Duration,
    rng: SmallRng,
    epoch: Instant,
    /// Shared by every target: the prober-wide overload count and warning.
    overload: Arc<Overload>,
    /// Cluster mode: decisions take the fleet's observations into account.
    fleet: Option<Arc<Fleet>>,
    entries: HashMap<TargetKey, Entry>,
    /// Which target each live task belongs to (also old, aborted ones).
    owners: HashMap<tokio::task::Id, TargetKey>,
    tasks: JoinSet<()>,
}

struct Entry {
    slot: Arc<Slot>,
    task: AbortHandle,
    token: CancellationToken,
}

/// What a target whose check was edited keeps from the target it
/// replaces. Editing any setting of a check (even its `timeout`) makes its
/// endpoints new keys; started again from `initial_state`, an endpoint
/// down during an outage would be answered again until `fall` probes
/// failed. So a new key takes the state of the removed key with the same
/// endpoint address and check name, when that pairing is unique on both
/// sides (two zones may each have a check of that name); the new
/// thresholds apply from the next result.
#[derive(Clone)]
struct Inherited {
    status: Status,
    rtt_us: Option<f64>,
    last_success: Option<crate::health::probe::Success>,
    last_probe: Option<std::time::SystemTime>,
    last_change: Option<std::time::SystemTime>,
}

impl Inherited {
    fn of(slot: &Slot) -> Self {
        let st = slot.lock();
        Self {
            status: st.machine.status(),
            rtt_us: st.rtt_us,
            last_success: st.last_success,
            last_probe: st.last_probe,
            last_change: st.last_change,
        }
    }
}

/// (endpoint address, check name) of a probed key.
fn by_name(key: &TargetKey) -> Option<(IpAddr, String)> {
    key.check.as_ref().map(|c| (key.addr, c.name.clone()))
}

impl Supervisor {
    pub(super) fn new(
        probe: Arc<dyn Probe>,
        clock: Arc<dyn Clock>,
        cancel: CancellationToken,
        watchdog_period: Duration,
        rng: SmallRng,
        fleet: Option<Arc<Fleet>>,
    ) -> Self {
        let epoch = clock.now();
        Self {
            fleet,
            probe,
            clock,
            cancel,
            watchdog_period: watchdog_period.max(Duration::from_millis(1)),
            rng,
            epoch,
            overload: Arc::default(),
            entries: HashMap::new(),
            owners: HashMap::new(),
            tasks: JoinSet::new(),
        }
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut rx_open = true;
        let mut next_watch = self.clock.now() + self.watchdog_period;
        loop {
            tokio::select! {
                biased;
                _ = self.cancel.cancelled() => break,
                cmd = rx.recv(), if rx_open => match cmd {
                    Some(Command::Reconcile { targets, table, done }) => {
                        self.reconcile(targets, table);
                        let _ = done.send(());
                    }
                    Some(Command::Report { reply }) => {
                        let _ = reply.send(self.entries.values().map(|e| e.slot.report()).collect());
                    }
                    // The handle is gone: keep probing until cancelled.
                    None => rx_open = false,
                },
                Some(res) = self.tasks.join_next_with_id() => self.on_exit(res),
                _ = peers_changed(self.fleet.as_deref()) => {
                    for e in self.entries.values() {
                        e.slot.republish();
                    }
                }
                _ = self.clock.sleep_until(next_watch) => {
                    self.watchdog();
                    next_watch += self.watchdog_period;
                }
            }
        }
        // Tasks watch the same token and are ending already; abort covers
        // one stuck in a poll.
        self.tasks.shutdown().await;
    }

    pub(super) fn reconcile(&mut self, targets: Vec<ProbeTarget>, table: Arc<HealthTable>) {
        let mut order: Vec<TargetKey> = Vec::new();
        // Per key: its cells, and the label of the first.
        let mut wanted: HashMap<TargetKey, (Vec<TargetId>, Arc<str>)> = HashMap::new();
        for ProbeTarget { id, key, label } in targets {
            if key.check.is_none() {
                // Nothing to probe: always up.
                table.set_status(id, Status::Up);
                continue;
            }
            match wanted.entry(key) {
                MapEntry::Occupied(mut o) => o.get_mut().0.push(id),
                MapEntry::Vacant(v) => {
                    order.push(v.key().clone());
                    v.insert((vec![id], label));
                }
            }
        }
        // A check whose settings were edited is a new key; its endpoint
        // keeps the old key's state (see `Inherited`).
        let mut gone: HashMap<(IpAddr, String), Option<Inherited>> = HashMap::new();
        for (key, e) in &self.entries {
            if let (false, Some(n)) = (wanted.contains_key(key), by_name(key)) {
                gone.entry(n)
                    .and_modify(|v| *v = None)
                    .or_insert_with(|| Some(Inherited::of(&e.slot)));
            }
        }
        let mut fresh: HashMap<(IpAddr, String), u32> = HashMap::new();
        for key in order.iter().filter(|k| !self.entries.contains_key(*k)) {
            if let Some(n) = by_name(key) {
                *fresh.entry(n).or_default() += 1;
            }
        }
        self.entries.retain(|key, e| {
            let keep = wanted.contains_key(key);
            if !keep {
                if let Some((fleet, k)) = &e.slot.fleet {
                    fleet.forget(k);
                }
                e.token.cancel();
                e.task.abort();
                tracing::debug!(target: LOG_TARGET, addr = %e.slot.addr, check = %e.slot.check.name, "stopped probing removed target");
            }
            keep
        });
        for key in order {
            let (ids, label) = wanted.remove(&key).unwrap_or_default();
            if let Some(e) = self.entries.get(&key) {
                e.slot.retarget(ids, label, table.clone());
                continue;
            }
            let Some(check) = key.check.clone() else {
                continue;
            };
            let addr = SocketAddr::new(check.probe_address.unwrap_or(key.addr), check.port);
            let inherited = by_name(&key)
                .filter(|n| fresh.get(n) == Some(&1))
                .and_then(|n| gone.remove(&n).flatten());
            if let Some(i) = &inherited {
                tracing::debug!(target: LOG_TARGET, %addr, check = %check.name, status = %i.status, "check edited: the target keeps its state");
            }
            let i = inherited.unwrap_or(Inherited {
                status: check.initial_state,
                rtt_us: None,
                last_success: None,
                last_probe: None,
                last_change: None,
            });
            let slot = Arc::new(Slot {
                key: key.clone(),
                check: check.clone(),
                addr,
                epoch: self.epoch,
                overload: self.overload.clone(),
                beat_us: AtomicU64::new(0),
                fleet: self
                    .fleet
                    .as_ref()
                    .and_then(|f| Some((f.clone(), Arc::from(fleet_key(&key)?)))),
                state: Mutex::new(SlotState {
                    machine: Machine::new(i.status, check.rise, check.fall),
                    rtt_us: i.rtt_us,
                    load: None,
                    load_misses: 0,
                    load_stale: false,
                    last_error: None,
                    last_success: i.last_success,
                    ids: Vec::new(),
                    label: label.clone(),
                    table: table.clone(),
                    probes: 0,
                    failures: 0,
                    inconclusive: 0,
                    restarts: 0,
                    consecutive_failures: 0,
                    last_probe: i.last_probe,
                    last_change: i.last_change,
                    changes: 0,
                }),
            });
            if let Some((fleet, k)) = &slot.fleet {
                fleet.adopt(k);
            }
            slot.retarget(ids, label, table.clone());
            // Spread first probes over one interval so start-up and reloads
            // do not send every probe at once.
            let max = check.interval.as_micros().max(1) as u64;
            let jitter = Duration::from_micros(self.rng.random_range(0..max));
            let (task, token) = self.spawn(&slot, jitter);
            self.entries.insert(key, Entry { slot, task, token });
        }
    }

    fn spawn(
        &mut self,
        slot: &Arc<Slot>,
        first_delay: Duration,
    ) -> (AbortHandle, CancellationToken) {
        let token = self.cancel.child_token();
        slot.beat(self.clock.now());
        let task = self.tasks.spawn(run_target(
            slot.clone(),
            self.probe.clone(),
            self.clock.clone(),
            token.clone(),
            first_delay,
        ));
        self.owners.insert(task.id(), slot.key.clone());
        (task, token)
    }

    fn on_exit(&mut self, res: Result<(tokio::task::Id, ()), JoinError>) {
        let (id, err) = match res {
            Ok((id, ())) => (id, None),
            Err(e) => (e.id(), Some(e)),
        };
        let Some(key) = self.owners.remove(&id) else {
            return;
        };
        let Some(entry) = self.entries.get(&key) else {
            return; // removed by a reconcile
        };
        if entry.task.id() != id || entry.token.is_cancelled() || self.cancel.is_cancelled() {
            return; // an old task the watchdog replaced, or shutting down
        }
        let why = match err {
            Some(e) if e.is_panic() => format!("panicked: {}", panic_message(e)),
            Some(_) => "was aborted".to_string(),
            None => "returned".to_string(),
        };
        let slot = entry.slot.clone();
        tracing::error!(target: LOG_TARGET, addr = %slot.addr, check = %slot.check.name, "probe task {why}; restarting it");
        self.restart(&key);
    }

    fn watchdog(&mut self) {
        let now = self.clock.now();
        let stuck: Vec<TargetKey> = self
            .entries
            .iter()
            .filter(|(_, e)| e.slot.stalled(now, self.watchdog_period))
            .map(|(k, _)| k.clone())
            .collect();
        for key in stuck {
            if let Some(e) = self.entries.get(&key) {
                let silent = now.saturating_duration_since(e.slot.last_beat());
                tracing::error!(
                    target: LOG_TARGET,
                    addr = %e.slot.addr,
                    check = %e.slot.check.name,
                    "probe task silent for {:.1} s; restarting it",
                    silent.as_secs_f64()
                );
            }
            self.restart(&key);
        }
    }

    /// Replace a target's task, keeping its slot; the new task waits one
    /// interval before its first probe.
    fn restart(&mut self, key: &TargetKey) {
        let Some(e) = self.entries.get(key) else {
            return;
        };
        e.token.cancel();
        e.task.abort();
        let slot = e.slot.clone();
        slot.lock().restarts += 1;
        let (task, token) = self.spawn(&slot, slot.check.interval);
        if let Some(e) = self.entries.get_mut(key) {
            e.task = task;
            e.token = token;
        }
    }
}

/// Resolves when the fleet's peers changed; never without a fleet.
async fn peers_changed(fleet: Option<&Fleet>) {
    match fleet {
        Some(f) => f.peers_changed().await,
        None => std::future::pending().await,
    }
}
