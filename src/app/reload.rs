//! The reload sequence, in one place, and the only writer of the
//! snapshot.
//!
//! [`Reloader::reload`]: build a new snapshot from the files and the
//! current one (health carries over by target key), move the prober onto
//! its targets and table, then swap it in. Any error leaves the current
//! snapshot serving and is logged with every diagnostic. The reloader owns
//! the [`SnapshotWriter`], so nothing else can change what is served.
//!
//! Triggers send a cause into one channel that [`run`] consumes: SIGHUP
//! today (`signals`); a file watcher and the admin API will send into the
//! same channel. Events use the log target `dnslb::reload`.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::diag::Diagnostics;
use crate::health::{Overrides, Prober};
use crate::metrics::Metrics;
use crate::snapshot::{SnapshotWriter, build};

/// Log target of every reload event (tests and operators grep for it).
const TARGET: &str = "dnslb::reload";

/// What a reload needs: the settings it was started with, the writer, and
/// the prober to move.
pub(super) struct Reloader {
    /// `dnslb.toml` is read once at start-up; a reload re-reads the zones
    /// directory (zone and policy files) and the GeoIP database.
    pub(super) settings: Settings,
    pub(super) writer: SnapshotWriter,
    pub(super) prober: Arc<Prober>,
    /// Operator overrides, applied to every new table before the swap.
    pub(super) overrides: Arc<Overrides>,
    /// Counters: carried into every new snapshot; reloads counted.
    pub(super) metrics: Arc<Metrics>,
}

/// Why a reload left the current snapshot in place.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReloadError {
    #[error("{} error(s) in the new configuration", .0.len())]
    Invalid(Diagnostics),
    #[error("the reload task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("health prober is gone: {0}")]
    Prober(#[from] crate::health::ProberError),
}

impl Reloader {
    /// Rebuild, reconcile the prober, swap. `cause` names the trigger in
    /// the log line.
    pub(super) async fn reload(&self, cause: &str) -> Result<(), ReloadError> {
        let started = Instant::now();
        let previous = self.writer.cell().load_full();
        let settings = self.settings.clone();
        let base = previous.clone();
        // Off the async workers: building reads and parses every file.
        let built = tokio::task::spawn_blocking(move || {
            let mut diags = Diagnostics::new();
            let snap = build(&settings, Some(&base), false, &mut diags);
            (snap, diags)
        })
        .await?;
        let mut snap = match built {
            (Some(s), _) => s,
            (None, diags) => return Err(ReloadError::Invalid(diags)),
        };
        let build_ms = started.elapsed().as_millis() as u64;
        // The prober rewrites surviving cells from its own state, then
        // writes only the new table; so the swap follows at once.
        self.prober
            .reconcile(snap.targets.probe_targets(), snap.health.clone())
            .await?;
        let (zones, lb_names) = (snap.zones.len(), snap.lb.len());
        self.metrics.adopt(&mut snap.counters);
        // Under the overrides lock, so a change made meanwhile is applied
        // to this table too.
        self.overrides.with_list(|l| {
            crate::admin::endpoints::apply_overrides(l, &snap);
            self.writer.replace(Arc::new(snap));
        });
        self.metrics.reloads.success();
        tracing::info!(
            target: TARGET,
            cause,
            zones,
            lb_names,
            build_ms,
            ms = started.elapsed().as_millis() as u64,
            "reloaded"
        );
        Ok(())
    }
}

/// Reload for every cause received, one at a time, until `cancel` fires.
pub(super) async fn run(
    reloader: Reloader,
    mut causes: mpsc::Receiver<&'static str>,
    cancel: CancellationToken,
) {
    loop {
        let cause = tokio::select! {
            c = causes.recv() => match c {
                Some(c) => c,
                None => return,
            },
            _ = cancel.cancelled() => return,
        };
        let result = reloader.reload(cause).await;
        if result.is_err() {
            reloader.metrics.reloads.failure();
        }
        match result {
            Ok(()) => {}
            Err(ReloadError::Invalid(diags)) => {
                for d in diags.iter() {
                    tracing::error!(target: TARGET, "{d}");
                }
                tracing::error!(
                    target: TARGET,
                    cause,
                    errors = diags.len(),
                    "reload failed; still serving the previous configuration"
                );
            }
            Err(e) => tracing::error!(
                target: TARGET,
                cause,
                error = %e,
                "reload failed; still serving the previous configuration"
            ),
        }
    }
}
