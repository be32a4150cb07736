//! The prober: one task per unique target, and a supervisor that starts,
//! stops, reconciles and restarts them.
//!
//! Shape (tokio-rs/mini-redis, hickory-dns `shutdown_gracefully`): the
//! supervisor owns a `JoinSet` of target tasks and selects on the
//! cancellation token, commands from the [`Prober`] handle, task exits and a
//! watchdog tick. Each target task selects on its own child token as well as
//! its sleep, runs each probe as a separate task (so a panic is a failed
//! probe, not a dead loop) bounded by the check's `timeout`, and feeds the
//! result to the target's [`Machine`].
//!
//! A target's state (machine, counters, RTT, last error) lives in a shared
//! `Slot`, not in its task, so a restarted task and a reload both keep it.
//! The slot also says which `HealthTable` cells to write; a reload re-points
//! it at the new snapshot's table under the slot's lock, so a state change
//! racing with a reload cannot be lost: whichever runs second writes the
//! current state into the new table. After `reconcile` the old table is no
//! longer written, so the caller swaps in the new snapshot right after.
//!
//! The watchdog restarts a task that ended unexpectedly (a panic outside the
//! probe) or whose heartbeat is older than `2 × interval + timeout +
//! watchdog period` (stuck on something the probe timeout does not cover).
//! A restarted task waits one interval before probing, which throttles a
//! task that dies every time.

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::{SmallRng, SysRng};
use rand::{RngExt, SeedableRng};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinError, JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::check::Check;
use super::clock::{Clock, TokioClock};
use super::probe::{NetProbe, Probe, ProbeError, Success};
use super::state::{Flip, Machine};
use super::{HealthTable, Status, TargetKey};
use crate::policy::TargetId;

/// Weight of a new RTT sample in the moving average: about the last five
/// probes count, so one slow probe moves it but does not own it.
pub const RTT_ALPHA: f64 = 0.3;

/// How the prober runs. `Default` is what the server uses.
#[derive(Clone)]
pub struct ProberOptions {
    /// Performs probes; [`NetProbe`] by default.
    pub probe: Arc<dyn Probe>,
    /// Source of time and sleeps; [`TokioClock`] by default.
    pub clock: Arc<dyn Clock>,
    /// How often the watchdog looks for dead or stuck tasks; default 1 s.
    pub watchdog_period: Duration,
    /// Seed for the start-up jitter; `None` (default) seeds from the OS.
    pub seed: Option<u64>,
}

impl Default for ProberOptions {
    fn default() -> Self {
        Self {
            probe: Arc::new(NetProbe::new()),
            clock: Arc::new(TokioClock),
            watchdog_period: Duration::from_secs(1),
            seed: None,
        }
    }
}

impl fmt::Debug for ProberOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProberOptions")
            .field("clock", &self.clock)
            .field("watchdog_period", &self.watchdog_period)
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProberError {
    #[error("the prober has stopped")]
    Stopped,
    #[error("the prober's supervisor panicked: {0}")]
    Panicked(String),
}

/// What the prober knows about one target, for the admin view and tests.
#[derive(Debug, Clone)]
pub struct TargetReport {
    pub key: TargetKey,
    /// Cells of the current table this target writes.
    pub ids: Vec<TargetId>,
    /// Where probes go (`probe_address` or the endpoint, and the port).
    pub probe_addr: SocketAddr,
    pub status: Status,
    /// Consecutive results against `status` so far.
    pub streak: u32,
    pub rtt_us: Option<u32>,
    pub last_error: Option<ProbeError>,
    pub last_success: Option<Success>,
    pub probes: u64,
    pub failures: u64,
    /// Times the watchdog restarted this target's task.
    pub restarts: u32,
    /// Failed probes in a row (0 after a success).
    pub consecutive_failures: u32,
    /// Wall-clock time of the last finished probe.
    pub last_probe: Option<std::time::SystemTime>,
    /// Wall-clock time of the last up/down flip.
    pub last_change: Option<std::time::SystemTime>,
    /// Up/down flips since probing started.
    pub changes: u64,
}

/// Handle to a running prober. Dropping it leaves the prober running until
/// its cancellation token fires; [`Prober::join`] waits for that.
#[derive(Debug)]
pub struct Prober {
    tx: mpsc::Sender<Command>,
    supervisor: JoinHandle<()>,
}

enum Command {
    Reconcile {
        targets: Vec<(TargetId, TargetKey)>,
        table: Arc<HealthTable>,
        done: oneshot::Sender<()>,
    },
    Report {
        reply: oneshot::Sender<Vec<TargetReport>>,
    },
}

/// Start probing `targets` (one task per unique key with a check) and
/// writing their state into `table`. Targets without a check are set up and
/// left alone. Every task has started, with a random first delay within its
/// interval, when this returns; initial states are already in `table`.
/// Must be called inside a tokio runtime. Stops when `cancel` fires.
pub fn spawn_prober(
    targets: Vec<(TargetId, TargetKey)>,
    table: Arc<HealthTable>,
    cancel: CancellationToken,
    options: ProberOptions,
) -> Prober {
    let ProberOptions {
        probe,
        clock,
        watchdog_period,
        seed,
    } = options;
    let rng = match seed {
        Some(s) => SmallRng::seed_from_u64(s),
        None => SmallRng::try_from_rng(&mut SysRng).unwrap_or_else(|_| {
            // No OS randomness: jitter from the clock is still jitter.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            SmallRng::seed_from_u64(nanos)
        }),
    };
    let epoch = clock.now();
    let mut sup = Supervisor {
        probe,
        clock,
        cancel,
        watchdog_period: watchdog_period.max(Duration::from_millis(1)),
        rng,
        epoch,
        entries: HashMap::new(),
        owners: HashMap::new(),
        tasks: JoinSet::new(),
    };
    sup.reconcile(targets, table);
    let (tx, rx) = mpsc::channel(4);
    let supervisor = tokio::spawn(sup.run(rx));
    Prober { tx, supervisor }
}

impl Prober {
    /// Switch to a new target list and table (a reload). Targets whose key
    /// survives keep their task, state, counters and RTT, whatever their
    /// new ids; their current state is written into `table` before this
    /// returns. Removed targets stop being probed; new ones start in their
    /// check's initial state with a jittered first probe. From here on only
    /// `table` is written, so swap in the snapshot that holds it next.
    pub async fn reconcile(
        &self,
        targets: Vec<(TargetId, TargetKey)>,
        table: Arc<HealthTable>,
    ) -> Result<(), ProberError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Reconcile {
                targets,
                table,
                done,
            })
            .await
            .map_err(|_| ProberError::Stopped)?;
        wait.await.map_err(|_| ProberError::Stopped)
    }

    /// One report per probed target, in no particular order.
    pub async fn report(&self) -> Result<Vec<TargetReport>, ProberError> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send(Command::Report { reply })
            .await
            .map_err(|_| ProberError::Stopped)?;
        wait.await.map_err(|_| ProberError::Stopped)
    }

    /// Wait until the prober has stopped (after its token was cancelled) and
    /// every target task has ended.
    pub async fn join(self) -> Result<(), ProberError> {
        self.supervisor
            .await
            .map_err(|e| ProberError::Panicked(panic_message(e)))
    }
}

struct Supervisor {
    probe: Arc<dyn Probe>,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
    watchdog_period: Duration,
    rng: SmallRng,
    epoch: Instant,
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

impl Supervisor {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
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

    fn reconcile(&mut self, targets: Vec<(TargetId, TargetKey)>, table: Arc<HealthTable>) {
        let mut order: Vec<TargetKey> = Vec::new();
        let mut wanted: HashMap<TargetKey, Vec<TargetId>> = HashMap::new();
        for (id, key) in targets {
            if key.check.is_none() {
                // Nothing to probe: always up.
                table.set_status(id, Status::Up);
                continue;
            }
            match wanted.entry(key) {
                MapEntry::Occupied(mut o) => o.get_mut().push(id),
                MapEntry::Vacant(v) => {
                    order.push(v.key().clone());
                    v.insert(vec![id]);
                }
            }
        }
        self.entries.retain(|key, e| {
            let keep = wanted.contains_key(key);
            if !keep {
                e.token.cancel();
                e.task.abort();
                tracing::debug!(addr = %e.slot.addr, check = %e.slot.check.name, "stopped probing removed target");
            }
            keep
        });
        for key in order {
            let ids = wanted.remove(&key).unwrap_or_default();
            if let Some(e) = self.entries.get(&key) {
                e.slot.retarget(ids, table.clone());
                continue;
            }
            let Some(check) = key.check.clone() else {
                continue;
            };
            let addr = SocketAddr::new(check.probe_address.unwrap_or(key.addr), check.port);
            let slot = Arc::new(Slot {
                key: key.clone(),
                check: check.clone(),
                addr,
                epoch: self.epoch,
                beat_us: AtomicU64::new(0),
                state: Mutex::new(SlotState {
                    machine: Machine::new(check.initial_state, check.rise, check.fall),
                    rtt_us: None,
                    last_error: None,
                    last_success: None,
                    ids: Vec::new(),
                    table: table.clone(),
                    probes: 0,
                    failures: 0,
                    restarts: 0,
                    consecutive_failures: 0,
                    last_probe: None,
                    last_change: None,
                    changes: 0,
                }),
            });
            slot.retarget(ids, table.clone());
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
        tracing::error!(addr = %slot.addr, check = %slot.check.name, "probe task {why}; restarting it");
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

/// Shared state of one probed target.
struct Slot {
    key: TargetKey,
    check: Arc<Check>,
    addr: SocketAddr,
    epoch: Instant,
    /// Last sign of life of the target's task, µs after `epoch`.
    beat_us: AtomicU64,
    state: Mutex<SlotState>,
}

struct SlotState {
    machine: Machine,
    /// Moving average of successful probe durations.
    rtt_us: Option<f64>,
    last_error: Option<ProbeError>,
    last_success: Option<Success>,
    /// Where to publish: these cells of this table.
    ids: Vec<TargetId>,
    table: Arc<HealthTable>,
    probes: u64,
    failures: u64,
    restarts: u32,
    consecutive_failures: u32,
    last_probe: Option<std::time::SystemTime>,
    last_change: Option<std::time::SystemTime>,
    changes: u64,
}

impl SlotState {
    fn publish(&self) {
        let status = self.machine.status();
        for &id in &self.ids {
            self.table.set_status(id, status);
            if let Some(rtt) = self.rtt_us {
                self.table
                    .set_rtt_us(id, rtt.round().min(u32::MAX as f64) as u32);
            }
        }
    }
}

impl Slot {
    /// The state, even if a panic poisoned the lock: every update leaves it
    /// consistent, so the data is still good.
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn beat(&self, now: Instant) {
        let us = now.saturating_duration_since(self.epoch).as_micros() as u64;
        self.beat_us.store(us, Ordering::Relaxed);
    }

    fn last_beat(&self) -> Instant {
        self.epoch + Duration::from_micros(self.beat_us.load(Ordering::Relaxed))
    }

    /// A task beats before each sleep (at most one interval) and before
    /// each probe (at most one timeout); twice that plus a watchdog period
    /// of silence means it is stuck.
    fn stalled(&self, now: Instant, watchdog_period: Duration) -> bool {
        let limit = 2 * self.check.interval + self.check.timeout + watchdog_period;
        now.saturating_duration_since(self.last_beat()) > limit
    }

    fn retarget(&self, ids: Vec<TargetId>, table: Arc<HealthTable>) {
        let mut st = self.lock();
        st.ids = ids;
        st.table = table;
        st.publish();
    }

    fn record(&self, result: Result<Success, ProbeError>, elapsed: Duration) {
        let mut st = self.lock();
        st.probes += 1;
        let now = std::time::SystemTime::now();
        st.last_probe = Some(now);
        let flip = match &result {
            Ok(s) => {
                let sample = elapsed.as_micros() as f64;
                st.rtt_us = Some(match st.rtt_us {
                    None => sample,
                    Some(old) => old + RTT_ALPHA * (sample - old),
                });
                st.last_success = Some(*s);
                st.consecutive_failures = 0;
                st.machine.observe(true)
            }
            Err(e) => {
                st.failures += 1;
                st.consecutive_failures += 1;
                st.last_error = Some(e.clone());
                st.machine.observe(false)
            }
        };
        if flip.is_some() {
            st.changes += 1;
            st.last_change = Some(now);
        }
        st.publish();
        let (streak, threshold) = (st.machine.streak(), st.machine.threshold());
        let used_by = flip.map(|_| {
            st.ids
                .first()
                .map_or(String::new(), |&id| st.table.label(id).to_owned())
        });
        drop(st);
        self.log(
            flip,
            &result,
            streak,
            threshold,
            used_by.as_deref().unwrap_or(""),
        );
    }

    fn log(
        &self,
        flip: Option<Flip>,
        result: &Result<Success, ProbeError>,
        streak: u32,
        threshold: u32,
        used_by: &str,
    ) {
        let (addr, endpoint, check) = (self.addr, self.key.addr, &self.check.name);
        match (flip, result) {
            (Some(f), Err(e)) => tracing::warn!(
                %addr, %endpoint, pool = used_by, %check, from = %f.from, to = %f.to, reason = %e,
                "health {} -> {} after {} failed probes in a row", f.from, f.to, self.check.fall
            ),
            (Some(f), Ok(s)) => tracing::info!(
                %addr, %endpoint, pool = used_by, %check, from = %f.from, to = %f.to, reason = %s,
                "health {} -> {} after {} good probes in a row", f.from, f.to, self.check.rise
            ),
            (None, Err(e)) => tracing::debug!(
                %addr, %check, error = %e, "probe failed ({streak}/{threshold} toward a change)"
            ),
            (None, Ok(_)) => {}
        }
    }

    fn report(&self) -> TargetReport {
        let st = self.lock();
        TargetReport {
            key: self.key.clone(),
            ids: st.ids.clone(),
            probe_addr: self.addr,
            status: st.machine.status(),
            streak: st.machine.streak(),
            rtt_us: st.rtt_us.map(|r| r.round() as u32),
            last_error: st.last_error.clone(),
            last_success: st.last_success,
            probes: st.probes,
            failures: st.failures,
            restarts: st.restarts,
            consecutive_failures: st.consecutive_failures,
            last_probe: st.last_probe,
            last_change: st.last_change,
            changes: st.changes,
        }
    }
}

/// One target's loop: wait, probe (bounded by the timeout), record, repeat.
async fn run_target(
    slot: Arc<Slot>,
    probe: Arc<dyn Probe>,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
    first_delay: Duration,
) {
    let (interval, timeout) = (slot.check.interval, slot.check.timeout);
    let mut next = clock.now() + first_delay;
    slot.beat(clock.now());
    if !pause(&*clock, &cancel, next).await {
        return;
    }
    // After the first wait, so a prepare that panics is retried at most
    // once an interval.
    let target = probe.prepare(&slot.check, slot.addr);
    loop {
        let started = clock.now();
        slot.beat(started);
        // Its own task: a panic becomes this probe's failure, and dropping
        // the set aborts a probe that outlived its timeout.
        let mut one = JoinSet::new();
        one.spawn(target.probe());
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            r = one.join_next() => match r {
                Some(Ok(r)) => r,
                Some(Err(e)) => Err(ProbeError::Panicked(panic_message(e))),
                None => Err(ProbeError::Panicked("probe task vanished".into())),
            },
            _ = clock.sleep_until(started + timeout) => Err(ProbeError::Timeout(timeout)),
        };
        drop(one);
        let now = clock.now();
        slot.record(result, now.saturating_duration_since(started));
        // Fixed cadence from the first probe; skip ticks already missed.
        next += interval;
        while next <= now {
            next += interval;
        }
        slot.beat(now);
        if !pause(&*clock, &cancel, next).await {
            return;
        }
    }
}

/// Sleep until `until`; false if cancelled first.
async fn pause(clock: &dyn Clock, cancel: &CancellationToken, until: Instant) -> bool {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => false,
        _ = clock.sleep_until(until) => true,
    }
}

fn panic_message(e: JoinError) -> String {
    if !e.is_panic() {
        return "cancelled".into();
    }
    let p = e.into_panic();
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".into()
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::health::TargetRegistry;
    use crate::health::check::CheckKind;
    use crate::health::clock::manual::ManualClock;
    use crate::health::probe::{ProbeFuture, TargetProbe};
    use crate::health::testutil::{LOCALHOST, Reply, TestServer, check, http, key};

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);

    /// What a scripted probe does.
    #[derive(Clone, Debug)]
    enum Act {
        Ok,
        /// Succeed after this much time on the script's clock.
        Take(Duration),
        Fail,
        Hang,
        Panic,
    }

    #[derive(Default)]
    struct ScriptState {
        /// Results of each target's probes, cycled; default all `Ok`.
        plans: HashMap<SocketAddr, Vec<Act>>,
        /// Every probe start: target and time since the script began.
        starts: Vec<(SocketAddr, Duration)>,
        /// `prepare` panics this many more times for a target.
        prepare_panics: HashMap<SocketAddr, u32>,
        /// `prepare` blocks its thread this long, once, for a target.
        prepare_blocks: HashMap<SocketAddr, Duration>,
    }

    /// A [`Probe`] whose results the test decides; no network at all.
    #[derive(Clone)]
    struct Script {
        clock: Arc<dyn Clock>,
        start: Instant,
        st: Arc<Mutex<ScriptState>>,
    }

    impl Script {
        fn new(clock: Arc<dyn Clock>) -> Self {
            Self {
                start: clock.now(),
                clock,
                st: Default::default(),
            }
        }

        fn plan(&self, addr: SocketAddr, acts: Vec<Act>) {
            self.st.lock().unwrap().plans.insert(addr, acts);
        }

        fn starts_of(&self, addr: SocketAddr) -> Vec<Duration> {
            let st = self.st.lock().unwrap();
            st.starts
                .iter()
                .filter(|(a, _)| *a == addr)
                .map(|(_, t)| *t)
                .collect()
        }
    }

    impl Probe for Script {
        fn prepare(&self, _check: &Arc<Check>, addr: SocketAddr) -> Box<dyn TargetProbe> {
            let (panic, block) = {
                let mut st = self.st.lock().unwrap();
                let panic = match st.prepare_panics.get_mut(&addr) {
                    Some(n) if *n > 0 => {
                        *n -= 1;
                        true
                    }
                    _ => false,
                };
                (panic, st.prepare_blocks.remove(&addr))
            };
            if let Some(d) = block {
                // Stuck, without taking the worker's other tasks with it.
                tokio::task::block_in_place(|| std::thread::sleep(d));
            }
            assert!(!panic, "scripted prepare panic");
            Box::new(ScriptTarget {
                script: self.clone(),
                addr,
            })
        }
    }

    struct ScriptTarget {
        script: Script,
        addr: SocketAddr,
    }

    impl TargetProbe for ScriptTarget {
        fn probe(&self) -> ProbeFuture {
            let s = &self.script;
            let at = s.clock.now() - s.start;
            let act = {
                let mut st = s.st.lock().unwrap();
                let n = st.starts.iter().filter(|(a, _)| *a == self.addr).count();
                st.starts.push((self.addr, at));
                let plan = st.plans.get(&self.addr).cloned().unwrap_or(vec![Act::Ok]);
                plan[n % plan.len()].clone()
            };
            let clock = s.clock.clone();
            Box::pin(async move {
                match act {
                    Act::Ok => Ok(Success::Status(200)),
                    Act::Take(d) => {
                        clock.sleep_until(clock.now() + d).await;
                        Ok(Success::Status(200))
                    }
                    Act::Fail => Err(ProbeError::Status(500)),
                    Act::Hang => std::future::pending().await,
                    Act::Panic => panic!("scripted probe panic"),
                }
            })
        }
    }

    /// Endpoint 127.0.0.`i` (scripted probes never connect to it).
    fn ip(i: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, i))
    }

    /// Where the probes of [`tcp_key`]`(i, …)` go.
    fn at(i: u8) -> SocketAddr {
        SocketAddr::new(ip(i), 9)
    }

    /// A tcp check on port 9, interval 1 s, timeout 0.5 s, rise 2, fall 3.
    fn tcp_key(i: u8, f: impl FnOnce(&mut Check)) -> TargetKey {
        let mut c = check(CheckKind::Tcp, 9);
        c.interval = SEC;
        c.timeout = 500 * MS;
        f(&mut c);
        key(ip(i), c)
    }

    fn options(clock: Arc<dyn Clock>, script: &Script) -> ProberOptions {
        ProberOptions {
            probe: Arc::new(script.clone()),
            clock,
            watchdog_period: SEC,
            seed: Some(7),
        }
    }

    async fn report_of(p: &Prober, addr: SocketAddr) -> TargetReport {
        p.report()
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.probe_addr == addr)
            .expect("target is probed")
    }

    thread_local! {
        static LOG_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }

    /// Log lines emitted on this thread (the test's current-thread runtime
    /// runs the whole prober there). One global subscriber feeds per-thread
    /// buffers: scoped `set_default` subscribers race with other test
    /// threads over tracing's global max level and lose events.
    struct Logs;

    struct ThreadBuf;

    impl io::Write for ThreadBuf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            LOG_BUF.with(|buf| buf.borrow_mut().extend_from_slice(b));
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Logs {
        fn capture() -> Self {
            static INSTALL: std::sync::Once = std::sync::Once::new();
            INSTALL.call_once(|| {
                let sub = tracing_subscriber::fmt()
                    .with_writer(|| ThreadBuf)
                    .with_ansi(false)
                    .with_max_level(tracing::Level::INFO)
                    .finish();
                tracing::subscriber::set_global_default(sub)
                    .expect("no other global subscriber in lib tests");
            });
            LOG_BUF.with(|buf| buf.borrow_mut().clear());
            Logs
        }

        fn text(&self) -> String {
            LOG_BUF.with(|buf| String::from_utf8_lossy(&buf.borrow()).into_owned())
        }
    }

    /// The production clock on tokio's paused time: the deadline rule, the
    /// return after `rise`, and flapping inside the thresholds, all with
    /// `TokioClock` rather than the manual test clock.
    #[tokio::test(start_paused = true)]
    async fn paused_tokio_time_down_up_and_no_flapping() {
        let clock: Arc<dyn Clock> = Arc::new(crate::health::clock::TokioClock);
        let script = Script::new(clock.clone());
        script.plan(at(2), vec![Act::Hang]);
        let k = tcp_key(2, |_| {});
        let id = TargetId(0);
        let table = Arc::new(HealthTable::for_targets([(id, &k)]));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            vec![(id, k)],
            table.clone(),
            cancel.clone(),
            options(clock.clone(), &script),
        );
        let step = 10 * MS;
        let t0 = tokio::time::Instant::now();
        let wait_for = |want: Status| {
            let table = table.clone();
            async move {
                while table.status(id) != want {
                    assert!(t0.elapsed() < 30 * SEC, "never became {want}");
                    tokio::time::sleep(step).await;
                }
                t0.elapsed()
            }
        };

        let down = wait_for(Status::Down).await;
        // interval × fall + timeout (1 s × 3 + 0.5 s), to the polling step;
        // and not before the third probe can have timed out.
        assert!(down <= 3 * SEC + 500 * MS + step, "down after {down:?}");
        assert!(down >= 2 * SEC + 500 * MS, "down too early: {down:?}");
        assert_eq!(script.starts_of(at(2)).len(), 3);

        script.plan(at(2), vec![Act::Ok]);
        let up = wait_for(Status::Up).await;
        assert!(
            up - down <= 2 * SEC + step,
            "rise × interval: {:?}",
            up - down
        );

        // Every other probe fails: fall = 3 is never reached, so it stays up.
        script.plan(at(2), vec![Act::Fail, Act::Ok]);
        let before = script.starts_of(at(2)).len();
        let until = tokio::time::Instant::now() + 20 * SEC;
        while tokio::time::Instant::now() < until {
            assert_eq!(
                table.status(id),
                Status::Up,
                "flapped at {:?}",
                t0.elapsed()
            );
            tokio::time::sleep(step).await;
        }
        assert!(
            script.starts_of(at(2)).len() - before >= 19,
            "probes kept running"
        );

        cancel.cancel();
        prober.join().await.unwrap();
    }

    #[tokio::test]
    async fn dead_target_goes_down_within_interval_times_fall_plus_timeout() {
        let logs = Logs::capture();
        let clock = Arc::new(ManualClock::new());
        let script = Script::new(clock.clone());
        script.plan(at(1), vec![Act::Hang]);
        let k = tcp_key(1, |_| {});
        let id = TargetId(0);
        let table = Arc::new(HealthTable::for_targets([(id, &k)]));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            vec![(id, k)],
            table.clone(),
            cancel.clone(),
            options(clock.clone(), &script),
        );
        let step = 10 * MS;

        let down = clock
            .advance_until(step, 10 * SEC, || table.status(id) == Status::Down)
            .await
            .expect("goes down");
        // interval × fall + timeout
        assert!(down <= 3 * SEC + 500 * MS, "down after {down:?}");
        let starts = script.starts_of(at(1));
        assert_eq!(starts.len(), 3, "{starts:?}");
        assert!(starts[0] < SEC, "first probe jittered within one interval");
        assert_eq!(starts[1] - starts[0], SEC);
        assert_eq!(starts[2] - starts[1], SEC);
        // Down exactly when the third probe timed out (to the step).
        let third_timeout = starts[2] + 500 * MS;
        assert!(down >= third_timeout && down < third_timeout + step);
        let r = report_of(&prober, at(1)).await;
        assert_eq!(r.last_error, Some(ProbeError::Timeout(500 * MS)));
        assert_eq!((r.probes, r.failures, r.rtt_us), (3, 3, None));
        assert_eq!((r.consecutive_failures, r.changes), (3, 1));
        assert!(r.last_change.is_some() && r.last_probe >= r.last_change);

        script.plan(at(1), vec![Act::Ok]);
        let up = clock
            .advance_until(step, 10 * SEC, || table.status(id) == Status::Up)
            .await
            .expect("comes back");
        let starts = script.starts_of(at(1));
        assert_eq!(starts.len(), 5, "rise = 2 successes: {starts:?}");
        assert!(up >= starts[4] && up < starts[4] + step);
        assert!(up - down <= 2 * SEC, "rise × interval");
        let r = report_of(&prober, at(1)).await;
        assert_eq!((r.consecutive_failures, r.changes), (0, 2));

        let text = logs.text();
        assert_eq!(text.matches("health up -> down").count(), 1, "{text}");
        assert_eq!(text.matches("health down -> up").count(), 1, "{text}");
        for field in [
            "addr=127.0.0.1:9",
            "check=web",
            "reason=timeout after 0.5 s",
            "reason=status 200",
        ] {
            assert!(text.contains(field), "{field:?} missing from {text}");
        }
        cancel.cancel();
        prober.join().await.unwrap();
    }

    #[tokio::test]
    async fn flapping_within_thresholds_changes_nothing() {
        let logs = Logs::capture();
        let clock = Arc::new(ManualClock::new());
        let script = Script::new(clock.clone());
        let up = tcp_key(1, |c| c.fall = 2);
        let down = tcp_key(2, |c| {
            c.rise = 2;
            c.initial_state = Status::Down;
        });
        script.plan(at(1), vec![Act::Fail, Act::Ok]);
        script.plan(at(2), vec![Act::Ok, Act::Fail]);
        let targets = vec![(TargetId(0), up), (TargetId(1), down)];
        let table = Arc::new(HealthTable::new(2, Status::Up));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            targets,
            table.clone(),
            cancel.clone(),
            options(clock.clone(), &script),
        );
        assert_eq!(
            table.status(TargetId(1)),
            Status::Down,
            "initial state written at start"
        );
        for _ in 0..60 {
            clock.advance(SEC).await;
            assert_eq!(table.status(TargetId(0)), Status::Up);
            assert_eq!(table.status(TargetId(1)), Status::Down);
        }
        for i in [1, 2] {
            let r = report_of(&prober, at(i)).await;
            assert!(r.probes >= 59, "{r:?}");
            assert!(r.failures >= 29, "{r:?}");
        }
        assert!(!logs.text().contains("health "), "{}", logs.text());
        cancel.cancel();
        prober.join().await.unwrap();
    }

    #[tokio::test]
    async fn rtt_is_a_moving_average_of_successful_probes() {
        let clock = Arc::new(ManualClock::new());
        let script = Script::new(clock.clone());
        script.plan(
            at(1),
            vec![
                Act::Take(100 * MS),
                Act::Take(200 * MS),
                Act::Fail,
                Act::Take(400 * MS),
            ],
        );
        let id = TargetId(0);
        let table = Arc::new(HealthTable::new(1, Status::Up));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            vec![(id, tcp_key(1, |_| {}))],
            table.clone(),
            cancel.clone(),
            options(clock.clone(), &script),
        );
        assert_eq!(table.rtt_us(id), None, "unknown before the first probe");
        // (completed probes, expected average in µs): 100 ms, then
        // 100 + 0.3 × (200 − 100), a failure leaves it, then
        // 130 + 0.3 × (400 − 130).
        for (n, want) in [(1, 100_000), (2, 130_000), (3, 130_000), (4, 211_000)] {
            clock
                .advance_until(MS, 5 * SEC, || script.starts_of(at(1)).len() == n)
                .await
                .expect("probe started");
            // Past the longest probe (0.4 s), short of the next (1 s on).
            clock.advance(500 * MS).await;
            let r = report_of(&prober, at(1)).await;
            assert_eq!(r.probes, n as u64);
            assert_eq!(table.rtt_us(id), Some(want), "after {n} probes");
            assert_eq!(r.rtt_us, Some(want));
        }
        cancel.cancel();
        prober.join().await.unwrap();
    }

    #[tokio::test]
    async fn initial_down_needs_rise_successes() {
        let clock = Arc::new(ManualClock::new());
        let script = Script::new(clock.clone());
        let k = tcp_key(1, |c| {
            c.rise = 3;
            c.initial_state = Status::Down;
        });
        let table = Arc::new(HealthTable::new(1, Status::Up));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            vec![(TargetId(0), k)],
            table.clone(),
            cancel.clone(),
            options(clock.clone(), &script),
        );
        for (probes, want) in [
            (0, Status::Down),
            (1, Status::Down),
            (2, Status::Down),
            (3, Status::Up),
        ] {
            clock
                .advance_until(10 * MS, 5 * SEC, || script.starts_of(at(1)).len() == probes)
                .await
                .expect("probe ran");
            assert_eq!(table.status(TargetId(0)), want, "after {probes} probes");
        }
        cancel.cancel();
        prober.join().await.unwrap();
    }

    #[tokio::test]
    async fn first_probes_are_spread_over_one_interval() {
        let clock = Arc::new(ManualClock::new());
        let script = Script::new(clock.clone());
        let targets: Vec<_> = (1..=20)
            .map(|i| (TargetId(i as u32 - 1), tcp_key(i, |_| {})))
            .collect();
        let table = Arc::new(HealthTable::new(20, Status::Up));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            targets,
            table,
            cancel.clone(),
            options(clock.clone(), &script),
        );
        clock.advance(999 * MS).await;
        let mut firsts = Vec::new();
        for i in 1..=20 {
            let s = script.starts_of(at(i));
            assert_eq!(s.len(), 1, "target {i}: {s:?}");
            firsts.push(s[0]);
        }
        firsts.sort();
        firsts.dedup();
        assert!(firsts.len() >= 15, "{firsts:?}");
        assert!(
            firsts[firsts.len() - 1] - firsts[0] >= 500 * MS,
            "{firsts:?}"
        );
        // Then each keeps its own phase.
        clock.advance(SEC).await;
        for i in 1..=20 {
            let s = script.starts_of(at(i));
            assert_eq!(s.len(), 2, "target {i}: {s:?}");
            assert_eq!(s[1] - s[0], SEC);
        }
        cancel.cancel();
        prober.join().await.unwrap();
    }

    #[tokio::test]
    async fn a_panicking_probe_fails_only_its_own_target() {
        let clock = Arc::new(ManualClock::new());
        let script = Script::new(clock.clone());
        script.plan(at(1), vec![Act::Panic]);
        let targets = vec![
            (TargetId(0), tcp_key(1, |_| {})),
            (TargetId(1), tcp_key(2, |_| {})),
        ];
        let table = Arc::new(HealthTable::new(2, Status::Up));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            targets,
            table.clone(),
            cancel.clone(),
            options(clock.clone(), &script),
        );
        clock.advance(10 * SEC).await;
        let a = report_of(&prober, at(1)).await;
        assert_eq!(
            a.last_error,
            Some(ProbeError::Panicked("scripted probe panic".into()))
        );
        assert!(a.probes >= 9, "{a:?}");
        assert_eq!(a.restarts, 0, "the loop survives a probe panic");
        assert_eq!(table.status(TargetId(0)), Status::Down);
        let b = report_of(&prober, at(2)).await;
        assert!(b.probes >= 9 && b.failures == 0, "{b:?}");
        assert_eq!(table.status(TargetId(1)), Status::Up);
        cancel.cancel();
        prober.join().await.unwrap();
    }

    #[tokio::test]
    async fn a_task_that_dies_is_restarted() {
        let clock = Arc::new(ManualClock::new());
        let script = Script::new(clock.clone());
        script.plan(at(1), vec![Act::Fail]);
        script.st.lock().unwrap().prepare_panics.insert(at(1), 2);
        let targets = vec![
            (TargetId(0), tcp_key(1, |_| {})),
            (TargetId(1), tcp_key(2, |_| {})),
        ];
        let table = Arc::new(HealthTable::new(2, Status::Up));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            targets,
            table.clone(),
            cancel.clone(),
            options(clock.clone(), &script),
        );
        clock.advance(10 * SEC).await;
        let a = report_of(&prober, at(1)).await;
        assert_eq!(a.restarts, 2, "{a:?}");
        // Two lost intervals to the dead tasks, then probing as usual.
        assert!((6..=8).contains(&a.probes), "{a:?}");
        assert_eq!(table.status(TargetId(0)), Status::Down);
        let b = report_of(&prober, at(2)).await;
        assert_eq!(b.restarts, 0);
        assert!(b.probes >= 9, "{b:?}");
        cancel.cancel();
        prober.join().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_task_is_restarted_by_the_watchdog() {
        // Real time: the stuck task blocks a worker thread, which a virtual
        // clock on a single thread cannot survive.
        let clock: Arc<dyn Clock> = Arc::new(TokioClock);
        let script = Script::new(clock.clone());
        let fast = |c: &mut Check| {
            c.interval = 100 * MS;
            c.timeout = 50 * MS;
        };
        script
            .st
            .lock()
            .unwrap()
            .prepare_blocks
            .insert(at(1), 1500 * MS);
        let targets = vec![
            (TargetId(0), tcp_key(1, fast)),
            (TargetId(1), tcp_key(2, fast)),
        ];
        let table = Arc::new(HealthTable::new(2, Status::Up));
        let cancel = CancellationToken::new();
        let mut opts = options(clock, &script);
        opts.watchdog_period = 50 * MS;
        let prober = spawn_prober(targets, table, cancel.clone(), opts);
        // Silence limit: 2 × 100 ms + 50 ms + 50 ms after the last beat.
        tokio::time::sleep(1000 * MS).await;
        let a = report_of(&prober, at(1)).await;
        assert!(a.restarts >= 1, "{a:?}");
        assert!(a.probes >= 2, "the replacement probes: {a:?}");
        let b = report_of(&prober, at(2)).await;
        assert_eq!(b.restarts, 0, "{b:?}");
        assert!(b.probes >= 5, "{b:?}");
        cancel.cancel();
        prober.join().await.unwrap();
    }

    #[tokio::test]
    async fn reconcile_keeps_state_by_key_and_stops_removed_targets() {
        let clock = Arc::new(ManualClock::new());
        let script = Script::new(clock.clone());
        let (a, b, c, d) = (
            tcp_key(1, |c| c.fall = 2),
            tcp_key(2, |_| {}),
            tcp_key(3, |_| {}),
            tcp_key(4, |_| {}),
        );
        script.plan(at(1), vec![Act::Fail]);
        let mut old_reg = TargetRegistry::new();
        for k in [&a, &b, &c] {
            old_reg.intern(k.clone());
        }
        let old = Arc::new(HealthTable::for_targets(old_reg.iter()));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            old_reg.to_targets(),
            old.clone(),
            cancel.clone(),
            options(clock.clone(), &script),
        );
        let a_old = old_reg.id_of(&a).unwrap();
        clock
            .advance_until(10 * MS, 10 * SEC, || old.status(a_old) == Status::Down)
            .await
            .expect("a goes down");
        let a_before = report_of(&prober, at(1)).await;

        // Reload: b and a swap ids, c goes, d comes.
        let mut new_reg = TargetRegistry::new();
        for k in [&b, &a, &d] {
            new_reg.intern(k.clone());
        }
        let (a_new, b_new, d_new) = (
            new_reg.id_of(&a).unwrap(),
            new_reg.id_of(&b).unwrap(),
            new_reg.id_of(&d).unwrap(),
        );
        assert_ne!(a_new, a_old);
        // A table that knows nothing: the prober writes what it knows.
        let new = Arc::new(HealthTable::new(3, Status::Up));
        prober
            .reconcile(new_reg.to_targets(), new.clone())
            .await
            .unwrap();
        assert_eq!(new.status(a_new), Status::Down, "state carried by key");
        assert_eq!(new.status(b_new), Status::Up);
        assert_eq!(new.status(d_new), Status::Up);
        let c_probes = script.starts_of(at(3)).len();
        let d_probes = script.starts_of(at(4)).len();
        assert_eq!(d_probes, 0, "new target starts after its jitter");

        script.plan(at(2), vec![Act::Fail]);
        clock.advance(10 * SEC).await;
        assert_eq!(
            script.starts_of(at(3)).len(),
            c_probes,
            "removed target no longer probed"
        );
        assert!(script.starts_of(at(4)).len() >= 9);
        let reports = prober.report().await.unwrap();
        assert_eq!(reports.len(), 3);
        let a_after = report_of(&prober, at(1)).await;
        assert_eq!(a_after.ids, vec![a_new]);
        assert!(
            a_after.probes >= a_before.probes + 9,
            "counters continue: {a_before:?} {a_after:?}"
        );
        assert_eq!(a_after.restarts, 0, "same task");
        // b's fall lands in the new table only.
        assert_eq!(new.status(b_new), Status::Down);
        assert_eq!(old.status(old_reg.id_of(&b).unwrap()), Status::Up);
        cancel.cancel();
        prober.join().await.unwrap();
    }

    #[tokio::test]
    async fn one_probe_per_unique_target_and_unchecked_targets_stay_up() {
        let clock = Arc::new(ManualClock::new());
        let script = Script::new(clock.clone());
        script.plan(at(1), vec![Act::Fail]);
        let k = tcp_key(1, |_| {});
        let unchecked = TargetKey {
            addr: ip(5),
            check: None,
        };
        let targets = vec![
            (TargetId(0), k.clone()),
            (TargetId(1), k),
            (TargetId(2), unchecked),
        ];
        let table = Arc::new(HealthTable::new(3, Status::Down));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            targets,
            table.clone(),
            cancel.clone(),
            options(clock.clone(), &script),
        );
        assert_eq!(table.status(TargetId(2)), Status::Up);
        clock.advance(10 * SEC).await;
        let n = script.starts_of(at(1)).len();
        assert!(
            (9..=10).contains(&n),
            "one probe per interval, not two: {n}"
        );
        assert_eq!(table.status(TargetId(0)), Status::Down);
        assert_eq!(table.status(TargetId(1)), Status::Down);
        assert_eq!(table.status(TargetId(2)), Status::Up);
        let reports = prober.report().await.unwrap();
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].ids, vec![TargetId(0), TargetId(1)]);
        cancel.cancel();
        prober.join().await.unwrap();
    }

    #[tokio::test]
    async fn cancel_stops_every_task() {
        let clock = Arc::new(ManualClock::new());
        let script = Script::new(clock.clone());
        script.plan(at(2), vec![Act::Hang]);
        let targets = vec![
            (TargetId(0), tcp_key(1, |_| {})),
            (TargetId(1), tcp_key(2, |_| {})),
        ];
        let table = Arc::new(HealthTable::new(2, Status::Up));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            targets,
            table,
            cancel.clone(),
            options(clock.clone(), &script),
        );
        clock.advance(3 * SEC).await;
        cancel.cancel();
        ManualClock::settle().await;
        assert_eq!(prober.report().await.unwrap_err(), ProberError::Stopped);
        prober.join().await.unwrap();
        let n = script.st.lock().unwrap().starts.len();
        assert!(n >= 4);
        clock.advance(10 * SEC).await;
        assert_eq!(script.st.lock().unwrap().starts.len(), n);
    }

    fn fast_http(port: u16) -> Check {
        let mut c = check(CheckKind::Http(http()), port);
        c.interval = 100 * MS;
        c.timeout = 50 * MS;
        c
    }

    /// Poll `cond` on the real clock; the time it took, or a panic after `limit`.
    async fn wait_for(what: &str, limit: Duration, cond: impl Fn() -> bool) -> Duration {
        let t0 = Instant::now();
        while !cond() {
            assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
            tokio::time::sleep(5 * MS).await;
        }
        t0.elapsed()
    }

    #[tokio::test]
    async fn dead_http_target_goes_down_and_comes_back_on_the_real_clock() {
        // interval 0.1 s, timeout 0.05 s, rise 2, fall 3.
        let srv = TestServer::start(Reply::Http(200, "ok")).await;
        let id = TargetId(0);
        let k = key(LOCALHOST, fast_http(srv.addr.port()));
        let table = Arc::new(HealthTable::for_targets([(id, &k)]));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            vec![(id, k)],
            table.clone(),
            cancel.clone(),
            ProberOptions::default(),
        );
        let ok = || table.status(id) == Status::Up;
        let down = || table.status(id) == Status::Down;
        // The bound: interval × fall + timeout = 0.35 s, plus slack for a
        // busy machine. It cannot be faster than fall probes (≥ 0.2 s).
        let bound = 1500 * MS;
        wait_for("first probes", 2 * SEC, || table.rtt_us(id).is_some()).await;
        assert!(ok());

        srv.set(Reply::Http(500, "broken"));
        let t = wait_for("down on 500", bound, down).await;
        assert!(
            t >= 150 * MS,
            "went down after {t:?}: fewer than fall probes?"
        );
        assert_eq!(
            only_report(&prober).await.last_error,
            Some(ProbeError::Status(500))
        );
        srv.set(Reply::Http(200, "ok"));
        let t = wait_for("up again", bound, ok).await;
        assert!(t >= 50 * MS, "came up after {t:?}: fewer than rise probes?");

        srv.set(Reply::Hang);
        wait_for("down on timeout", bound, down).await;
        assert_eq!(
            only_report(&prober).await.last_error,
            Some(ProbeError::Timeout(50 * MS))
        );
        srv.set(Reply::Http(200, "ok"));
        wait_for("up again", bound, ok).await;

        srv.stop().await;
        wait_for("down when refused", bound, down).await;
        assert_eq!(
            only_report(&prober).await.last_error,
            Some(ProbeError::Refused)
        );
        cancel.cancel();
        prober.join().await.unwrap();
    }

    async fn only_report(p: &Prober) -> TargetReport {
        let mut r = p.report().await.unwrap();
        assert_eq!(r.len(), 1);
        r.pop().unwrap()
    }

    #[tokio::test]
    async fn tcp_check_follows_probe_address_and_port() {
        // The server listens on 127.0.0.1 only; the endpoint is 127.0.0.2,
        // so a probe that ignored probe_address would be refused.
        let srv = TestServer::start(Reply::Close).await;
        let mut c = check(CheckKind::Tcp, srv.addr.port());
        c.interval = 100 * MS;
        c.timeout = 50 * MS;
        c.probe_address = Some(LOCALHOST);
        let id = TargetId(0);
        let k = key(ip(2), c);
        let table = Arc::new(HealthTable::for_targets([(id, &k)]));
        let cancel = CancellationToken::new();
        let prober = spawn_prober(
            vec![(id, k)],
            table.clone(),
            cancel.clone(),
            ProberOptions::default(),
        );
        wait_for("connected", 2 * SEC, || table.rtt_us(id).is_some()).await;
        let r = only_report(&prober).await;
        assert_eq!(r.probe_addr, srv.addr);
        assert_eq!(r.last_success, Some(Success::Connected));
        assert_eq!(r.failures, 0);
        srv.stop().await;
        wait_for("down when refused", 1500 * MS, || {
            table.status(id) == Status::Down
        })
        .await;
        assert_eq!(
            only_report(&prober).await.last_error,
            Some(ProbeError::Refused)
        );
        cancel.cancel();
        prober.join().await.unwrap();
    }
}
