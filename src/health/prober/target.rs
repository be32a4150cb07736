//! One probed target: its shared `Slot` (state machine, counters, RTT,
//! where to publish) and the loop that probes it.

use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::JoinError;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::health::check::Check;
use crate::health::clock::Clock;
use crate::health::fleet::{Fleet, View};
use crate::health::probe::{Probe, ProbeError, Success};
use crate::health::quorum::Observation;
use crate::health::state::{Flip, Machine};
use crate::health::{HealthTable, Status, TargetId, TargetKey};

/// Log target of every prober event, whichever file emits it: operators
/// filter on it (`RUST_LOG=dnslb::health::prober=debug`).
pub(super) const LOG_TARGET: &str = "dnslb::health::prober";

/// Weight of a new RTT sample in the moving average: about the last five
/// probes count, so one slow probe moves it but does not own it.
pub const RTT_ALPHA: f64 = 0.3;

/// Probes in a row without a load figure (failed probes included) after
/// which a target's last figure is dropped: its pool member goes back to
/// its configured weight. Logged once when it happens, once when figures
/// come back.
pub const LOAD_STALE_PROBES: u32 = 3;

/// Prober-wide count of inconclusive probes (see [`overload_slack`]),
/// when a probe last ran late and when the last "prober overloaded"
/// warning went out. Times are µs after the slots' epoch plus one (0:
/// never), on the prober's clock.
#[derive(Default)]
pub(super) struct Overload {
    count: AtomicU64,
    last_late_us: AtomicU64,
    last_warning_us: AtomicU64,
}

/// At most one "prober overloaded" warning this often.
const OVERLOAD_WARNING_EVERY: Duration = Duration::from_secs(60);

/// `at` as µs after `epoch`, plus one (0 stays "never").
fn stamp(epoch: Instant, at: Instant) -> u64 {
    at.saturating_duration_since(epoch).as_micros() as u64 + 1
}

impl Overload {
    /// A probe ran late at `at`. True when that is worth a warning (none
    /// in the last [`OVERLOAD_WARNING_EVERY`]).
    fn saw_late(&self, epoch: Instant, at: Instant) -> bool {
        let now = stamp(epoch, at);
        self.last_late_us.fetch_max(now, Ordering::Relaxed);
        let last = self.last_warning_us.load(Ordering::Relaxed);
        (last == 0 || now >= last + OVERLOAD_WARNING_EVERY.as_micros() as u64)
            && self
                .last_warning_us
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Did any probe run late after `since`?
    fn late_since(&self, epoch: Instant, since: Instant) -> bool {
        self.last_late_us.load(Ordering::Relaxed) > stamp(epoch, since)
    }
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
    /// The load figure in force (checks that read one; `None` when none
    /// came yet or it went stale).
    pub load: Option<f32>,
    pub last_error: Option<ProbeError>,
    pub last_success: Option<Success>,
    pub probes: u64,
    pub failures: u64,
    /// Probes whose timeout fired too late to judge the target (the
    /// prober was starved of CPU; see [`overload_slack`]); not in `probes`.
    pub inconclusive: u64,
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

/// Shared state of one probed target.
pub(super) struct Slot {
    pub(super) key: TargetKey,
    pub(super) check: Arc<Check>,
    pub(super) addr: SocketAddr,
    pub(super) epoch: Instant,
    pub(super) overload: Arc<Overload>,
    /// Last sign of life of the target's task, µs after `epoch`.
    pub(super) beat_us: AtomicU64,
    /// Cluster mode: the fleet and this target's key in it.
    pub(super) fleet: Option<(Arc<Fleet>, Arc<str>)>,
    pub(super) state: Mutex<SlotState>,
}

pub(super) struct SlotState {
    pub(super) machine: Machine,
    /// Moving average of successful probe durations.
    pub(super) rtt_us: Option<f64>,
    /// The last load figure, until [`LOAD_STALE_PROBES`] probes in a row
    /// bring none.
    pub(super) load: Option<f32>,
    /// Probes in a row without a load figure.
    pub(super) load_misses: u32,
    /// The figures stopped and that was logged (cleared when one comes).
    pub(super) load_stale: bool,
    pub(super) last_error: Option<ProbeError>,
    pub(super) last_success: Option<Success>,
    /// Where to publish: these cells of this table.
    pub(super) ids: Vec<TargetId>,
    /// Who uses the target, for state-change lines; renewed by every
    /// reconcile, so it follows the current snapshot.
    pub(super) label: Arc<str>,
    pub(super) table: Arc<HealthTable>,
    pub(super) probes: u64,
    pub(super) failures: u64,
    pub(super) inconclusive: u64,
    pub(super) restarts: u32,
    pub(super) consecutive_failures: u32,
    pub(super) last_probe: Option<std::time::SystemTime>,
    pub(super) last_change: Option<std::time::SystemTime>,
    pub(super) changes: u64,
}

impl SlotState {
    /// Write the state into the table: this instance's own, or in cluster
    /// mode the fleet's decision over it and the live peers' (logged when
    /// the fleet changes it).
    pub(super) fn publish(&self, slot: &Slot) {
        let status = self.machine.status();
        // Up with failures toward `fall`: a flip may be near.
        let failing = status == Status::Up && self.machine.streak() > 0;
        let (status, failing) = match &slot.fleet {
            None => (status, failing),
            Some((fleet, key)) => {
                let view = View {
                    obs: Observation { status, failing },
                    rtt_us: self.rtt_us.map(|r| r.round().min(u32::MAX as f64) as u32),
                    last_probe: self.last_probe,
                    check: slot.check.name.as_str().into(),
                };
                let (v, flipped) = fleet.observe(key, view);
                if let Some(from) = flipped {
                    tracing::warn!(
                        target: LOG_TARGET,
                        addr = %slot.addr, endpoint = %slot.key.addr, pool = &*self.label,
                        check = %slot.check.name, from = %from, to = %v.status,
                        own = %status, up = v.up, observers = v.observers,
                        "fleet decision {from} -> {}: {} of {} vantage points see it up (this one: {status})",
                        v.status, v.up, v.observers
                    );
                }
                (v.status, v.failing)
            }
        };
        for &id in &self.ids {
            self.table.set_status(id, status);
            self.table.set_failing(id, failing);
            if let Some(rtt) = self.rtt_us {
                self.table
                    .set_rtt_us(id, rtt.round().min(u32::MAX as f64) as u32);
            }
            self.table.set_load(id, self.load);
        }
    }

    /// Follow the load figures of a check that reads them: keep the last
    /// one until [`LOAD_STALE_PROBES`] probes in a row bring none. Returns
    /// what to log: `Some(true)` when figures came back after going stale,
    /// `Some(false)` when they just went stale.
    fn observe_load(&mut self, result: &Result<Success, ProbeError>) -> Option<bool> {
        match result.as_ref().ok().and_then(Success::load) {
            Some(v) => {
                self.load = Some(v);
                self.load_misses = 0;
                std::mem::take(&mut self.load_stale).then_some(true)
            }
            None => {
                self.load_misses = self.load_misses.saturating_add(1);
                if self.load_misses >= LOAD_STALE_PROBES && !self.load_stale {
                    self.load = None;
                    self.load_stale = true;
                    return Some(false);
                }
                None
            }
        }
    }
}

impl Slot {
    /// The state, even if a panic poisoned the lock: every update leaves it
    /// consistent, so the data is still good.
    pub(super) fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn beat(&self, now: Instant) {
        let us = now.saturating_duration_since(self.epoch).as_micros() as u64;
        self.beat_us.store(us, Ordering::Relaxed);
    }

    pub(super) fn last_beat(&self) -> Instant {
        self.epoch + Duration::from_micros(self.beat_us.load(Ordering::Relaxed))
    }

    /// A task beats before each sleep (at most one interval) and before
    /// each probe (at most one timeout); twice that plus a watchdog period
    /// of silence means it is stuck.
    pub(super) fn stalled(&self, now: Instant, watchdog_period: Duration) -> bool {
        let limit = 2 * self.check.interval + self.check.timeout + watchdog_period;
        now.saturating_duration_since(self.last_beat()) > limit
    }

    pub(super) fn retarget(&self, ids: Vec<TargetId>, label: Arc<str>, table: Arc<HealthTable>) {
        let mut st = self.lock();
        st.ids = ids;
        st.label = label;
        st.table = table;
        st.publish(self);
    }

    /// Decide again and write the table (the fleet's peers changed).
    pub(super) fn republish(&self) {
        self.lock().publish(self);
    }

    pub(super) fn record(&self, result: Result<Success, ProbeError>, elapsed: Duration) {
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
        let load_change = match self.check.load() {
            Some(_) => st.observe_load(&result),
            None => None,
        };
        st.publish(self);
        let (streak, threshold) = (st.machine.streak(), st.machine.threshold());
        let used_by = st.label.clone();
        let load = st.load;
        drop(st);
        self.log(flip, &result, streak, threshold, &used_by);
        if let Some(back) = load_change {
            self.log_load(back, load, &result, &used_by);
        }
    }

    /// A probe that timed out while the prober ran `late` (its start or
    /// its timeout that much after time), too late to judge the target
    /// (see [`overload_slack`]): counted, the state is kept, and one
    /// warning a minute for the whole process says so.
    /// `ran_late`: this probe itself ran late (skipped, or its timeout
    /// fired late), which is what marks the prober overloaded; a timeout
    /// not trusted because others ran late does not extend that.
    pub(super) fn inconclusive(&self, late: Duration, now: Instant, ran_late: bool) {
        self.lock().inconclusive += 1;
        let o = &*self.overload;
        let skipped = o.count.fetch_add(1, Ordering::Relaxed) + 1;
        if !ran_late {
            return;
        }
        if o.saw_late(self.epoch, now) {
            tracing::warn!(
                target: LOG_TARGET,
                addr = %self.addr, check = %self.check.name, late_ms = late.as_millis() as u64,
                inconclusive_total = skipped,
                "prober overloaded: a probe ran {} ms late, so it was skipped or its timeout is not held against the target, and targets keep their state ({skipped} such probes so far); probe fewer endpoints, lengthen intervals or give dnslb more CPU",
                late.as_millis()
            );
        }
    }

    /// One line when a target's load figures stop (its members fall back
    /// to their configured weights) and one when they come back.
    fn log_load(
        &self,
        back: bool,
        load: Option<f32>,
        result: &Result<Success, ProbeError>,
        used_by: &str,
    ) {
        let (addr, endpoint, check) = (self.addr, self.key.addr, &self.check.name);
        let kind = self.check.load().map_or("", |l| l.kind.as_str());
        if back {
            tracing::info!(
                target: LOG_TARGET,
                %addr, %endpoint, pool = used_by, %check, load = load.unwrap_or_default(), kind,
                "load figures are back: balancing on the reported {kind}"
            );
        } else {
            let why = match result {
                Ok(s) => s.to_string(),
                Err(e) => e.to_string(),
            };
            tracing::warn!(
                target: LOG_TARGET,
                %addr, %endpoint, pool = used_by, %check, reason = %why, kind,
                "no load figure in {LOAD_STALE_PROBES} probes in a row: using the configured weight"
            );
        }
    }

    pub(super) fn log(
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
                target: LOG_TARGET,
                %addr, %endpoint, pool = used_by, %check, from = %f.from, to = %f.to, reason = %e,
                "health {} -> {} after {} failed probes in a row", f.from, f.to, self.check.fall
            ),
            (Some(f), Ok(s)) => tracing::info!(
                target: LOG_TARGET,
                %addr, %endpoint, pool = used_by, %check, from = %f.from, to = %f.to, reason = %s,
                "health {} -> {} after {} good probes in a row", f.from, f.to, self.check.rise
            ),
            (None, Err(e)) => tracing::debug!(
                target: LOG_TARGET,
                %addr, %check, error = %e, "probe failed ({streak}/{threshold} toward a change)"
            ),
            (None, Ok(_)) => {}
        }
    }

    pub(super) fn report(&self) -> TargetReport {
        let st = self.lock();
        TargetReport {
            key: self.key.clone(),
            ids: st.ids.clone(),
            probe_addr: self.addr,
            status: st.machine.status(),
            streak: st.machine.streak(),
            rtt_us: st.rtt_us.map(|r| r.round() as u32),
            load: st.load,
            last_error: st.last_error.clone(),
            last_success: st.last_success,
            probes: st.probes,
            failures: st.failures,
            inconclusive: st.inconclusive,
            restarts: st.restarts,
            consecutive_failures: st.consecutive_failures,
            last_probe: st.last_probe,
            last_change: st.last_change,
            changes: st.changes,
        }
    }
}

/// One target's loop: wait, probe (bounded by the timeout), record, repeat.
pub(super) async fn run_target(
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
        // How late this probe starts: a busy runtime runs every step of
        // the probe about this late too.
        let start_lag = started.saturating_duration_since(next);
        slot.beat(started);
        let slack = overload_slack(timeout);
        let deadline = started + timeout;
        let result = if start_lag > slack {
            // Shed load: a probe started this late would run late at
            // every step and time out for the prober's sake. Skipped, the
            // CPU goes to probes that start on time, and under overload
            // every target is probed less often instead of failing.
            None
        } else {
            // Polled in this task (no task per probe: at tens of thousands of
            // probes a second the spawn is a good part of the user time); a
            // panic is caught and becomes this probe's failure. The probe is
            // polled before its timeout: when this task runs late (a busy
            // CPU) and both are ready, the finished probe counts, so the
            // prober's own lateness does not mark endpoints down.
            let probe = AssertUnwindSafe(target.probe()).catch_unwind();
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                r = probe => Some(r.unwrap_or_else(|p| Err(ProbeError::Panicked(payload_message(&*p))))),
                _ = clock.sleep_until(deadline) => {
                    // A timeout that fires late says this process had no CPU
                    // for the probe: its answer may be waiting unread. So
                    // does any probe run late since this one's previous
                    // due time: the CPU was short while this one ran.
                    let late = clock.now().saturating_duration_since(deadline).max(start_lag);
                    let since = started.checked_sub(interval).unwrap_or(slot.epoch);
                    let shedding = slot.overload.late_since(slot.epoch, since);
                    (late <= slack && !shedding).then_some(Err(ProbeError::Timeout(timeout)))
                }
            }
        };
        let now = clock.now();
        match result {
            Some(result) => slot.record(result, now.saturating_duration_since(started)),
            None => {
                let late = now.saturating_duration_since(deadline).max(start_lag);
                slot.inconclusive(late, now, late > slack)
            }
        }
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

/// How late a probe may start, or its timeout fire, and a timeout still
/// count as the target's failure: a tenth of the timeout, at least 20 ms
/// (tokio's timer has 1 ms ticks; a busy but healthy runtime is a few
/// ms late). Later than that, the prober itself was starved of CPU (more
/// probes a second than its core can make, or a stalled host), and the
/// timeout says nothing about the target: the probe is *inconclusive*,
/// the target keeps its state, and the overload is counted and logged. A
/// timeout is also inconclusive when any probe ran that late since this
/// probe's previous due time (the CPU was short while it ran). Without this
/// an overloaded prober marks healthy endpoints down by the thousand.
pub fn overload_slack(timeout: Duration) -> Duration {
    (timeout / 10).max(Duration::from_millis(20))
}

/// Sleep until `until`; false if cancelled first.
async fn pause(clock: &dyn Clock, cancel: &CancellationToken, until: Instant) -> bool {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => false,
        _ = clock.sleep_until(until) => true,
    }
}

pub(super) fn panic_message(e: JoinError) -> String {
    if !e.is_panic() {
        return "cancelled".into();
    }
    payload_message(&*e.into_panic())
}

/// The text of a panic's payload.
fn payload_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic".into()
    }
}
