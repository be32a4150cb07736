//! The reload sequence, in one place, and the only writer of the
//! snapshot.
//!
//! [`Reloader::reload`]:
//! 1. re-read `dnslb.toml` (when the server was started with one): keys
//!    that can change live take effect (log level, admin token, zones
//!    directory, GeoIP database, UDP payload size, TCP idle timeout, the
//!    reload keys); keys that need a restart are reported with their file
//!    position, in the log and in `/status`, never silently ignored; a
//!    file with errors keeps its previous values;
//! 2. build a new snapshot zone by zone (`snapshot::build`): health carries
//!    over by target key, and a zone whose new files have errors keeps its
//!    previous version;
//! 3. move the prober onto the new targets and table, apply the operator
//!    overrides, carry the counters, and swap, under the overrides lock.
//!
//! Every problem is logged as `FILE:LINE:COL: key: message` and recorded
//! for `/status` and `/metrics`; warnings (`FILE:LINE:COL: warning: ...`)
//! are logged whether the reload goes through or not. The reloader owns the [`SnapshotWriter`],
//! so nothing else can change what is served.
//!
//! Triggers ([`Trigger`]): SIGHUP (`signals`), file changes (`watch`) and
//! the admin API (`POST /reload`). Requests made while a reload runs are
//! merged into one more reload. Events use the log target `dnslb::reload`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::admin::CliSettings;
use crate::admin::TokenCell;
use crate::config::{Settings, load_settings};
use crate::diag::Diagnostics;
use crate::dns::fit::oversized_answers;
use crate::health::{Overrides, Prober};
use crate::metrics::{LastReload, Metrics};
use crate::snapshot::{Snapshot, SnapshotWriter, Sources, ZoneState, build_cancellable};

/// Log target of every reload event (tests and operators grep for it).
pub(super) const TARGET: &str = "dnslb::reload";

/// Why a reload was asked for; several merge into one reload.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Cause {
    Signal = 1,
    Files = 2,
    Admin = 4,
}

/// `"SIGHUP+file change"`: the causes in `bits`.
fn causes_text(bits: u8) -> String {
    let words = [
        (Cause::Signal, "SIGHUP"),
        (Cause::Files, "file change"),
        (Cause::Admin, "admin API"),
    ];
    let v: Vec<&str> = words
        .iter()
        .filter(|(c, _)| bits & *c as u8 != 0)
        .map(|(_, w)| *w)
        .collect();
    v.join("+")
}

/// Asks the reloader for a reload. Cheap to clone; never blocks; requests
/// made while one is pending merge with it.
#[derive(Clone, Default)]
pub(super) struct Trigger(Arc<(AtomicU8, Notify)>);

impl Trigger {
    pub(super) fn request(&self, cause: Cause) {
        self.0.0.fetch_or(cause as u8, Ordering::AcqRel);
        self.0.1.notify_one();
    }

    /// Wait for requests; returns their causes.
    async fn next(&self) -> u8 {
        loop {
            let bits = self.0.0.swap(0, Ordering::AcqRel);
            if bits != 0 {
                return bits;
            }
            self.0.1.notified().await;
        }
    }
}

/// What the file watcher watches, published after every reload.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct WatchSet {
    /// False when `reload_on_change = false`: watch nothing.
    pub(super) enabled: bool,
    pub(super) delay: std::time::Duration,
    pub(super) sources: Sources,
}

impl WatchSet {
    /// What to watch for `snap` served under `settings`: every file the
    /// snapshot was read from, `dnslb.toml` and the admin token file.
    pub(super) fn of(settings: &Settings, snap: &Snapshot) -> Self {
        let mut sources = snap.sources.clone();
        let abs = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        sources.files.extend(settings.file.iter().map(|p| abs(p)));
        sources
            .files
            .extend(settings.admin_token_file.iter().map(|p| abs(p)));
        WatchSet {
            enabled: settings.reload_on_change,
            delay: settings.reload_delay,
            sources,
        }
    }
}

/// The settings whose new values apply without a restart, through handles
/// into the running parts.
pub(super) struct Live {
    /// Replaces the log filter (`log_level`); `None` when `RUST_LOG` rules.
    pub(super) log_level: Option<super::SetLevel>,
    /// The admin API's token (`admin_token`, `admin_token_file`).
    pub(super) token: TokenCell,
    /// `DNSLB_ADMIN_TOKEN` is set: it keeps winning over the file.
    pub(super) token_from_env: bool,
    /// The admin API listens on a non-loopback address: a token is then
    /// required, so one cannot be removed by a reload.
    pub(super) token_required: bool,
}

/// What a reload needs: the settings in force and as started, the writer,
/// the prober to move, and the parts that take live settings.
pub(super) struct Reloader {
    /// The settings in force (restart-only keys as started).
    pub(super) settings: Settings,
    /// The settings the process started with (after the command line).
    pub(super) started: Settings,
    /// The command line's settings, applied over every re-read.
    pub(super) cli: CliSettings,
    pub(super) writer: SnapshotWriter,
    pub(super) prober: Arc<Prober>,
    /// Operator overrides, applied to every new table before the swap.
    pub(super) overrides: Arc<Overrides>,
    /// Counters: carried into every new snapshot; reloads counted.
    pub(super) metrics: Arc<Metrics>,
    pub(super) live: Live,
    /// The watcher's files, renewed after every reload.
    pub(super) watched: watch::Sender<WatchSet>,
    /// How long one reload may take ([`RELOAD_TIME_LIMIT`]).
    pub(super) time_limit: Duration,
    /// A reload stopped at its time limit whose build thread has not
    /// ended yet (blocked in a system call): no new build starts beside it.
    pub(super) stuck: Option<JoinHandle<Built>>,
}

/// Longest a reload may take before it is stopped and the previous
/// configuration kept. Each zone also has its own limit (two minutes,
/// `zone::records::Limits::max_time`); this bounds the whole reload, so a
/// file that blocks reading (a hung network file system) cannot wedge
/// reloads for good.
pub(super) const RELOAD_TIME_LIMIT: Duration = Duration::from_secs(600);

/// How long a stopped build gets to notice it was cancelled.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// What a build hands back: the snapshot (if any) and every diagnostic.
pub(super) type Built = (Option<Snapshot>, Diagnostics);

/// Sets the flag when dropped: a reload future dropped at shutdown stops
/// its build.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// How a bounded wait for a task ended.
enum Bounded<T> {
    /// It finished (or failed) in time, or within the grace after being
    /// cancelled.
    Done(Result<T, tokio::task::JoinError>),
    /// It did not finish even after being cancelled.
    Stuck(JoinHandle<T>),
}

/// Wait for `task` at most `limit`; then set `cancel` and wait at most
/// `grace` more.
async fn bounded<T>(
    mut task: JoinHandle<T>,
    cancel: &AtomicBool,
    limit: Duration,
    grace: Duration,
) -> Bounded<T> {
    if let Ok(r) = tokio::time::timeout(limit, &mut task).await {
        return Bounded::Done(r);
    }
    cancel.store(true, Ordering::Relaxed);
    match tokio::time::timeout(grace, &mut task).await {
        Ok(r) => Bounded::Done(r),
        Err(_) => Bounded::Stuck(task),
    }
}

/// Why a reload left the current snapshot in place.
#[derive(Debug, thiserror::Error)]
pub(super) enum ReloadError {
    #[error("{} error(s); nothing could be loaded", .0.len())]
    Invalid(Diagnostics),
    #[error("the reload task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(
        "the reload took longer than {} s and was stopped; still serving the previous configuration",
        .0.as_secs()
    )]
    TimedOut(Duration),
    #[error(
        "a reload stopped after {} s is still blocked reading a file; not starting another until it ends",
        .0.as_secs()
    )]
    StillRunning(Duration),
    #[error("health prober is gone: {0}")]
    Prober(#[from] crate::health::ProberError),
}

/// What a reload that replaced the snapshot found.
#[derive(Debug, Default)]
pub(super) struct Reloaded {
    /// Problems in the settings file or any zone's files.
    pub(super) errors: Vec<String>,
    /// Restart-only settings that changed.
    pub(super) restart_needed: Vec<String>,
    /// Zones serving their previous version, and zones not served.
    pub(super) previous: usize,
    pub(super) failed: usize,
}

impl Reloader {
    /// Re-read the settings, rebuild, reconcile the prober, swap. `cause`
    /// names the trigger in the log line.
    pub(super) async fn reload(&mut self, cause: &str) -> Result<Reloaded, ReloadError> {
        let started = Instant::now();
        let mut out = Reloaded::default();
        self.reread_settings(&mut out);
        tracing::debug!(
            target: TARGET,
            cause,
            dir = %self.settings.zones_dir.value.display(),
            "reload started"
        );
        let previous = self.writer.cell().load_full();
        if let Some(task) = &self.stuck {
            if !task.is_finished() {
                self.publish_watch(&previous);
                return Err(ReloadError::StillRunning(self.time_limit));
            }
            self.stuck = None;
        }
        let settings = self.settings.clone();
        let base = previous.clone();
        // Set when this reload is abandoned: past its time limit, or the
        // future dropped (shutdown). The build then stops at its next check.
        let cancel = Arc::new(AtomicBool::new(false));
        let _stop_on_drop = CancelOnDrop(cancel.clone());
        let flag = cancel.clone();
        // Off the async workers: building reads and parses every file.
        let task = tokio::task::spawn_blocking(move || {
            let mut diags = Diagnostics::new();
            let snap = build_cancellable(&settings, Some(&base), false, Some(&flag), &mut diags);
            if let Some(snap) = &snap {
                oversized_answers(snap, settings.udp_payload_size, &mut diags);
            }
            (snap, diags)
        });
        let built = match bounded(task, &cancel, self.time_limit, CANCEL_GRACE).await {
            Bounded::Done(r) => r?,
            Bounded::Stuck(task) => {
                // Still in a system call after its grace: a later reload
                // waits for it rather than run beside it.
                self.stuck = Some(task);
                self.publish_watch(&previous);
                return Err(ReloadError::TimedOut(self.time_limit));
            }
        };
        for w in built.1.warnings() {
            tracing::warn!(target: TARGET, "{}", w.as_warning());
        }
        let mut snap = match built {
            (Some(s), _) => s,
            (None, diags) => {
                self.publish_watch(&previous);
                return Err(ReloadError::Invalid(diags));
            }
        };
        out.errors.extend(snap.problems().map(ToString::to_string));
        for z in &snap.zone_status {
            match z.state {
                ZoneState::Loaded => {}
                ZoneState::Previous => out.previous += 1,
                ZoneState::Failed => out.failed += 1,
            }
        }
        let build_ms = started.elapsed().as_millis() as u64;
        // The prober rewrites surviving cells from its own state, then
        // writes only the new table; so the swap follows at once.
        self.prober
            .reconcile(snap.targets.probe_targets(), snap.health.clone())
            .await?;
        let (zones, lb_names) = (snap.zones.len(), snap.lb.len());
        self.metrics.adopt(&mut snap.counters);
        let snap = Arc::new(snap);
        // Under the overrides lock, so a change made meanwhile is applied
        // to this table too.
        self.overrides.with_list(|l| {
            crate::admin::endpoints::apply_overrides(l, &snap);
            self.writer.replace(snap.clone());
        });
        self.metrics.reloads.success();
        self.publish_watch(&snap);
        tracing::info!(
            target: TARGET,
            cause,
            zones,
            lb_names,
            build_ms,
            ms = started.elapsed().as_millis() as u64,
            "{}",
            if out.errors.is_empty() {
                "reloaded"
            } else {
                "reload incomplete"
            }
        );
        Ok(out)
    }

    /// Tell the watcher what to watch now: the snapshot's files, the
    /// settings file and the token file. Sent after every reload, even an
    /// unchanged set: the watcher then checks that each directory is still
    /// the one it watches (a directory replaced whole keeps its path).
    pub(super) fn publish_watch(&self, snap: &Snapshot) {
        self.watched
            .send_replace(WatchSet::of(&self.settings, snap));
    }

    /// Step 1: `dnslb.toml` again. Live keys go into `self.settings` (and
    /// the running parts); restart-only keys keep their start-up values
    /// and each change is reported; a file with errors changes nothing.
    fn reread_settings(&mut self, out: &mut Reloaded) {
        let Some(path) = self.settings.file.clone() else {
            return;
        };
        let mut diags = Diagnostics::new();
        let Some(mut new) = load_settings(&path, &mut diags) else {
            for d in diags.iter() {
                out.errors.push(d.to_string());
            }
            tracing::error!(
                target: TARGET,
                file = %path.display(),
                errors = diags.len(),
                "the settings file has errors; its previous values stay in force"
            );
            return;
        };
        self.cli.apply(&mut new);
        out.restart_needed = restart_only(&self.started, &mut new);
        self.apply_live(&new, out);
        self.settings = new;
    }

    /// Hand the live keys to the running parts.
    fn apply_live(&mut self, new: &Settings, out: &mut Reloaded) {
        if new.log_level != self.settings.log_level
            && let Some(set) = &self.live.log_level
        {
            match set(&new.log_level) {
                Ok(()) => {
                    tracing::info!(target: TARGET, level = %new.log_level, "log level changed")
                }
                Err(e) => out.errors.push(format!("log_level: {e}")),
            }
        }
        if !self.live.token_from_env && new.admin_token != self.settings.admin_token {
            match &new.admin_token {
                None if self.live.token_required => {
                    let at = position(new, "admin_token");
                    out.errors.push(format!(
                        "{at}admin_token: the admin API listens beyond loopback and needs a \
                         token; the token in force stays"
                    ));
                }
                t => {
                    self.live.token.store(t.clone().map(Arc::new));
                    tracing::warn!(
                        target: TARGET,
                        "admin token {}",
                        if t.is_some() { "replaced" } else { "removed" }
                    );
                }
            }
        }
    }
}

/// `FILE:LINE:COL: ` of `key` in the settings file, or `FILE: `.
fn position(s: &Settings, key: &str) -> String {
    let file = s
        .file
        .as_ref()
        .map_or_else(String::new, |f| f.display().to_string());
    match s.positions.get(key) {
        Some((l, c)) => format!("{file}:{l}:{c}: "),
        None if file.is_empty() => String::new(),
        None => format!("{file}: "),
    }
}

/// Put back in `new` the start-up value of every key that needs a restart
/// and say, for each that changed, where and to what.
fn restart_only(started: &Settings, new: &mut Settings) -> Vec<String> {
    let mut out = Vec::new();
    let mut note = |key: &str, was: String, now: String| {
        if was != now {
            out.push(format!(
                "{}{key}: changed to {now}; takes effect after a restart (still {was})",
                position(new, key)
            ));
        }
    };
    let list = |v: &[std::net::SocketAddr]| {
        let v: Vec<String> = v.iter().map(ToString::to_string).collect();
        format!("[{}]", v.join(", "))
    };
    let opt = |v: Option<String>| v.unwrap_or_else(|| "off".into());
    let secs = |d: std::time::Duration| format!("{} s", d.as_secs_f64());
    note("listen", list(&started.listen), list(&new.listen));
    note(
        "udp_workers",
        started.udp_workers.to_string(),
        new.udp_workers.to_string(),
    );
    note(
        "tcp_max_connections",
        started.tcp_max_connections.to_string(),
        new.tcp_max_connections.to_string(),
    );
    note(
        "tcp_max_connections_per_client",
        started.tcp_max_connections_per_client.to_string(),
        new.tcp_max_connections_per_client.to_string(),
    );
    note(
        "tcp_idle_timeout",
        secs(started.tcp_idle_timeout),
        secs(new.tcp_idle_timeout),
    );
    note(
        "tcp_write_timeout",
        secs(started.tcp_write_timeout),
        secs(new.tcp_write_timeout),
    );
    note(
        "log_format",
        crate::config::LogFormat::WORDS
            .word(started.log_format)
            .into(),
        crate::config::LogFormat::WORDS.word(new.log_format).into(),
    );
    note(
        "admin_listen",
        opt(started.admin_listen.map(|a| a.to_string())),
        opt(new.admin_listen.map(|a| a.to_string())),
    );
    note(
        "admin_state_file",
        opt(started
            .admin_state_file
            .as_ref()
            .map(|p| p.display().to_string())),
        opt(new
            .admin_state_file
            .as_ref()
            .map(|p| p.display().to_string())),
    );
    note(
        "[rrl]",
        format!("{:?}", started.rrl),
        format!("{:?}", new.rrl),
    );
    note(
        "probe_source_ipv4",
        opt(started.probe_source.ipv4.map(|a| a.to_string())),
        opt(new.probe_source.ipv4.map(|a| a.to_string())),
    );
    note(
        "probe_source_ipv6",
        opt(started.probe_source.ipv6.map(|a| a.to_string())),
        opt(new.probe_source.ipv6.map(|a| a.to_string())),
    );
    if started.cluster != new.cluster {
        out.push(format!(
            "{}[cluster]: changed; takes effect after a restart",
            position(new, "cluster")
        ));
    }
    // [cookies] holds secrets, which are never printed.
    if started.cookies != new.cookies {
        out.push(format!(
            "{}[cookies]: changed; takes effect after a restart",
            position(new, "cookies")
        ));
    }
    new.listen = started.listen.clone();
    new.udp_workers = started.udp_workers;
    new.tcp_max_connections = started.tcp_max_connections;
    new.tcp_max_connections_per_client = started.tcp_max_connections_per_client;
    new.tcp_idle_timeout = started.tcp_idle_timeout;
    new.tcp_write_timeout = started.tcp_write_timeout;
    new.log_format = started.log_format;
    new.admin_listen = started.admin_listen;
    new.admin_state_file = started.admin_state_file.clone();
    new.rrl = started.rrl;
    new.cookies = started.cookies.clone();
    new.probe_source = started.probe_source;
    new.cluster = started.cluster.clone();
    out
}

/// Reload for every request, one at a time, until `cancel` fires. A
/// reload running then is abandoned (its build told to stop): shutdown
/// never waits for one.
pub(super) async fn run(mut reloader: Reloader, trigger: Trigger, cancel: CancellationToken) {
    loop {
        let bits = tokio::select! {
            b = trigger.next() => b,
            _ = cancel.cancelled() => return,
        };
        let cause = causes_text(bits);
        let result = tokio::select! {
            r = reloader.reload(&cause) => r,
            _ = cancel.cancelled() => {
                tracing::info!(target: TARGET, cause, "shutting down: the reload in progress is abandoned");
                return;
            }
        };
        let mut last = LastReload {
            at: crate::metrics::unix_now(),
            cause: cause.clone(),
            ..LastReload::default()
        };
        match result {
            Ok(r) => {
                for e in &r.errors {
                    tracing::error!(target: TARGET, "{e}");
                }
                for w in &r.restart_needed {
                    tracing::warn!(target: TARGET, "{w}");
                }
                if !r.errors.is_empty() {
                    tracing::warn!(
                        target: TARGET,
                        cause,
                        errors = r.errors.len(),
                        zones_previous = r.previous,
                        zones_failed = r.failed,
                        "reload found errors: {} zone(s) keep their previous version, {} not served",
                        r.previous,
                        r.failed
                    );
                }
                last.outcome = if r.errors.is_empty() { "ok" } else { "partial" };
                last.errors = r.errors;
                last.restart_needed = r.restart_needed;
            }
            Err(e) => {
                reloader.metrics.reloads.failure();
                if let ReloadError::Invalid(diags) = &e {
                    for d in diags.iter() {
                        tracing::error!(target: TARGET, "{d}");
                        last.errors.push(d.to_string());
                    }
                } else {
                    last.errors.push(e.to_string());
                }
                tracing::error!(
                    target: TARGET,
                    cause,
                    error = %e,
                    "reload failed; still serving the previous configuration"
                );
                last.outcome = "failed";
            }
        }
        reloader.metrics.reloads.report(last);
    }
}

/// What start-up found, reported like a reload's.
pub(super) fn startup_report(snap: &Snapshot) -> LastReload {
    let errors: Vec<String> = snap.problems().map(ToString::to_string).collect();
    LastReload {
        at: crate::metrics::unix_now(),
        cause: "start-up".into(),
        outcome: if errors.is_empty() { "ok" } else { "partial" },
        errors,
        restart_needed: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_merge_into_one_request() {
        assert_eq!(causes_text(1), "SIGHUP");
        assert_eq!(causes_text(3), "SIGHUP+file change");
        assert_eq!(causes_text(6), "file change+admin API");
    }

    #[tokio::test]
    async fn requests_made_meanwhile_are_one_more_reload() {
        let t = Trigger::default();
        t.request(Cause::Files);
        t.request(Cause::Signal);
        assert_eq!(t.next().await, 3);
        t.request(Cause::Admin);
        assert_eq!(t.next().await, 4);
        let waiter = {
            let t = t.clone();
            tokio::spawn(async move { t.next().await })
        };
        tokio::task::yield_now().await;
        t.request(Cause::Signal);
        assert_eq!(waiter.await.unwrap(), 1);
    }

    /// A build past its time limit is told to stop and, when it does, its
    /// result is taken; one that ignores the flag (blocked in a system
    /// call) is left behind rather than waited for. Real time, tiny limits:
    /// paused time does not advance while a blocking task runs.
    #[tokio::test]
    async fn a_build_past_its_time_limit_is_cancelled_then_abandoned() {
        let ms = Duration::from_millis;
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = cancel.clone();
        let task = tokio::task::spawn_blocking(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(ms(1));
            }
            7
        });
        match bounded(task, &cancel, ms(50), ms(5000)).await {
            Bounded::Done(Ok(7)) => {}
            _ => panic!("a build that stops when told is waited for"),
        }
        assert!(cancel.load(Ordering::Relaxed));

        let cancel = AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let task = tokio::task::spawn_blocking(move || {
            let _ = rx.recv();
        });
        let Bounded::Stuck(task) = bounded(task, &cancel, ms(50), ms(50)).await else {
            panic!("a build that ignores the flag is left behind");
        };
        assert!(!task.is_finished());
        drop(tx);
        task.await.unwrap();

        // In time: the result, the flag untouched.
        let cancel = AtomicBool::new(false);
        let task = tokio::task::spawn_blocking(|| 1);
        assert!(matches!(
            bounded(task, &cancel, ms(5000), ms(50)).await,
            Bounded::Done(Ok(1))
        ));
        assert!(!cancel.load(Ordering::Relaxed));
    }

    #[test]
    fn restart_only_keys_are_named_with_their_line_and_kept() {
        let started = Settings::default();
        let text = "listen = [\"127.0.0.1:5400\"]\nlog_level = \"debug\"\nudp_workers = 3\n";
        let mut d = Diagnostics::new();
        let mut new =
            crate::config::settings::parse_settings(std::path::Path::new("d.toml"), text, &mut d)
                .unwrap();
        let notes = restart_only(&started, &mut new);
        assert_eq!(notes.len(), if started.udp_workers == 3 { 1 } else { 2 });
        assert!(
            notes[0].starts_with("d.toml:1:10: listen: changed to [127.0.0.1:5400]; takes effect after a restart (still [127.0.0.1:5353])"),
            "{notes:?}"
        );
        assert_eq!(new.listen, started.listen);
        assert_eq!(new.log_level, "debug", "live keys are left alone");
    }
}
