//! The prober: one task per unique target, and a supervisor that starts,
//! stops, reconciles and restarts them.
//!
//! Shape (tokio-rs/mini-redis, hickory-dns `shutdown_gracefully`): the
//! supervisor owns a `JoinSet` of target tasks and selects on the
//! cancellation token, commands from the [`Prober`] handle, task exits and a
//! watchdog tick. Each target task selects on its own child token as well as
//! its sleep, polls each probe itself under `catch_unwind` (so a panic is a
//! failed probe, not a dead loop, and no task is spawned per probe) bounded
//! by the check's `timeout`, and feeds the result to the target's
//! [`Machine`](crate::health::state::Machine).
//!
//! Overload ([`overload_slack`]): a probe due while the prober is starved of
//! CPU (it starts more than a tenth of its timeout late) is skipped, and a
//! timeout that fires that late, or while other probes run that late, is
//! not held against the target; both count
//! as *inconclusive* (`dnslb_prober_inconclusive_probes_total`, one warning a
//! minute). So a prober with more probes than its core can make probes every
//! target less often instead of marking healthy endpoints down.
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
//!
//! - this file: the handle ([`Prober`], [`spawn_prober`]) and its types;
//! - `supervisor`: the supervisor task (reconcile, exits, watchdog);
//! - `target`: one target's `Slot` and its probing loop.

mod supervisor;
mod target;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::{SmallRng, SysRng};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::clock::{Clock, TokioClock};
use super::probe::{NetProbe, Probe};
use super::{Fleet, HealthTable, ProbeTarget};
use supervisor::{Command, Supervisor};
use target::panic_message;
pub use target::{LOAD_STALE_PROBES, RTT_ALPHA, TargetReport, overload_slack};

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
    /// Cluster mode: decide each target with the fleet's observations
    /// ([`crate::health::fleet`]); `None` (default): this instance alone.
    pub fleet: Option<Arc<Fleet>>,
}

impl Default for ProberOptions {
    fn default() -> Self {
        Self {
            probe: Arc::new(NetProbe::new()),
            clock: Arc::new(TokioClock),
            watchdog_period: Duration::from_secs(1),
            seed: None,
            fleet: None,
        }
    }
}

impl fmt::Debug for ProberOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProberOptions")
            .field("clock", &self.clock)
            .field("watchdog_period", &self.watchdog_period)
            .field("seed", &self.seed)
            .field("fleet", &self.fleet.as_ref().map(|f| f.node()))
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

/// Handle to a running prober. Dropping it leaves the prober running until
/// its cancellation token fires; [`Prober::join`] waits for that.
#[derive(Debug)]
pub struct Prober {
    tx: mpsc::Sender<Command>,
    supervisor: JoinHandle<()>,
}

/// Start probing `targets` (one task per unique key with a check) and
/// writing their state into `table`. Each target's label says who uses it
/// in the state-change log lines. Targets without a check are set up and
/// left alone. Every task has started, with a random first delay within its
/// interval, when this returns; initial states are already in `table`.
/// Must be called inside a tokio runtime. Stops when `cancel` fires.
pub fn spawn_prober(
    targets: impl IntoIterator<Item = impl Into<ProbeTarget>>,
    table: Arc<HealthTable>,
    cancel: CancellationToken,
    options: ProberOptions,
) -> Prober {
    let ProberOptions {
        probe,
        clock,
        watchdog_period,
        seed,
        fleet,
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
    let mut sup = Supervisor::new(probe, clock, cancel, watchdog_period, rng, fleet);
    sup.reconcile(targets.into_iter().map(Into::into).collect(), table);
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
        targets: impl IntoIterator<Item = impl Into<ProbeTarget>>,
        table: Arc<HealthTable>,
    ) -> Result<(), ProberError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Reconcile {
                targets: targets.into_iter().map(Into::into).collect(),
                table,
                done,
            })
            .await
            .map_err(|_| ProberError::Stopped)?;
        wait.await.map_err(|_| ProberError::Stopped)
    }

    /// One report per probed target, in no particular order. Only tests
    /// call it today; the admin API's status view is built on it.
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
