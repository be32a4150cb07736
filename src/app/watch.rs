//! File-watch reload: a change to any file the snapshot was read from
//! (zone files, `$INCLUDE`s, policy files and their nets files, the GeoIP
//! database), to `dnslb.toml` or the admin token file, or a new zone or
//! policy file in the zones directory, asks the reloader for one reload
//! once the files have been quiet for `reload_delay` (a burst of writes is
//! one reload).
//!
//! `notify` watches the directories that hold those files, not the files:
//! editors and deployment tools replace a file by renaming a new one over
//! it, which a watch on the old file would miss. Events are filtered by
//! path; a name starting with `..` in a watched directory also counts, for
//! the symbolic-link swap of a Kubernetes ConfigMap mount. The set is
//! renewed after every reload ([`super::reload::WatchSet`]).
//!
//! A watch follows a directory's inode, not its name: when the directory
//! itself is replaced (`mv zones zones.old; mv zones.new zones`) the old
//! watch keeps reporting the old directory. So each watched directory's
//! identity (device and inode) is kept, and checked again after every
//! reload, when an event concerns the directory itself, and every
//! [`DIR_CHECK`]: a directory that was replaced is watched anew (its old
//! watch removed) and a reload is asked for, since its files may differ; a
//! directory that disappeared is reported, and picked up again when it is
//! back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::reload::{Cause, TARGET, Trigger, WatchSet};

/// The longest a steady stream of changes can hold a reload back.
const MAX_HOLD: Duration = Duration::from_secs(10);

/// How often the watched directories' identities are checked, besides
/// after every reload and on events about the directories themselves.
const DIR_CHECK: Duration = Duration::from_secs(2);

/// A directory's identity: device and inode (on other platforms, only
/// that it exists).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct DirId(u64, u64);

fn dir_id(dir: &Path) -> Option<DirId> {
    let m = std::fs::metadata(dir).ok().filter(|m| m.is_dir())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        Some(DirId(m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        Some(DirId(0, 0))
    }
}

/// The directories registered with the watcher, by path: the identity
/// they had when registered, or `None` while missing.
type Watched = BTreeMap<PathBuf, Option<DirId>>;

/// Does a change of `path` matter to `set`?
fn matters(path: &Path, set: &WatchSet) -> bool {
    if set.sources.files.contains(path) {
        return true;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let parent = path.parent().unwrap_or(Path::new(""));
    if name.starts_with("..") {
        return set.sources.dirs.contains(parent)
            || set.sources.files.iter().any(|f| f.parent() == Some(parent));
    }
    set.sources.dirs.contains(parent) && (name.ends_with(".zone") || name.ends_with(".toml"))
}

/// The directories to watch for `set`.
fn dirs_of(set: &WatchSet) -> BTreeSet<PathBuf> {
    if !set.enabled {
        return BTreeSet::new();
    }
    let files = set.sources.files.iter().filter_map(|f| f.parent());
    set.sources
        .dirs
        .iter()
        .cloned()
        .chain(files.map(Path::to_path_buf))
        .collect()
}

/// A watcher with its directories already registered.
pub(super) struct Armed {
    watcher: Option<notify::RecommendedWatcher>,
    events: mpsc::UnboundedReceiver<notify::Result<notify::Event>>,
    watched: Watched,
}

/// Register the watches for `set` now, before the server says it is
/// listening: a change made after start-up was announced must not fall in
/// a window before the watches exist.
pub(super) fn arm(set: &WatchSet) -> Armed {
    let (tx, events) = mpsc::unbounded_channel();
    let mut watched = Watched::new();
    let watcher = match notify::recommended_watcher(move |ev| {
        let _ = tx.send(ev);
    }) {
        Ok(mut w) => {
            rewatch(&mut w, &mut watched, set);
            Some(w)
        }
        Err(e) => {
            tracing::warn!(target: TARGET, error = %e, "cannot watch files: reloads only on SIGHUP");
            None
        }
    };
    Armed {
        watcher,
        events,
        watched,
    }
}

/// Watch until `cancel`, asking `trigger` for a reload after each settled
/// burst of changes.
pub(super) async fn run(
    armed: Armed,
    mut set: watch::Receiver<WatchSet>,
    trigger: Trigger,
    cancel: CancellationToken,
) {
    let Armed {
        watcher,
        events: mut rx,
        mut watched,
    } = armed;
    let Some(mut watcher) = watcher else {
        return;
    };
    let mut current = set.borrow_and_update().clone();
    rewatch(&mut watcher, &mut watched, &current);
    let mut check = tokio::time::interval(DIR_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When a change was seen: when the burst began, and the deadline.
    let mut pending: Option<(Instant, Instant)> = None;
    loop {
        let sleep = async {
            match pending {
                Some((_, at)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        // A file changed, or a directory was replaced (or is back) outside
        // a reload, so its files may differ from what is served: reload
        // once things are quiet.
        let mut settle = false;
        tokio::select! {
            _ = cancel.cancelled() => return,
            changed = set.changed() => {
                if changed.is_err() {
                    return;
                }
                // After every reload, even when the set is the same: the
                // reload may have read a directory that replaced the one
                // watched.
                current = set.borrow_and_update().clone();
                rewatch(&mut watcher, &mut watched, &current);
            }
            _ = check.tick() => {
                settle = rewatch(&mut watcher, &mut watched, &current);
            }
            ev = rx.recv() => {
                let Some(ev) = ev else { return };
                let ev = match ev {
                    Ok(ev) => ev,
                    Err(e) => {
                        tracing::debug!(target: TARGET, error = %e, "file watch error");
                        continue;
                    }
                };
                if matches!(ev.kind, EventKind::Access(_)) || !current.enabled {
                    continue;
                }
                if ev.paths.iter().any(|p| watched.contains_key(p)) {
                    // The directory itself moved or was deleted.
                    settle = rewatch(&mut watcher, &mut watched, &current);
                } else if let Some(p) = ev.paths.iter().find(|p| matters(p, &current)) {
                    if pending.is_none() {
                        tracing::debug!(target: TARGET, path = %p.display(), "file changed");
                    }
                    settle = true;
                }
            }
            _ = sleep => {
                pending = None;
                trigger.request(Cause::Files);
            }
        }
        if settle {
            let now = Instant::now();
            let began = pending.map_or(now, |(b, _)| b);
            let at = (now + current.delay).min(began + MAX_HOLD);
            pending = Some((began, at));
        }
    }
}

/// Watch exactly the directories `set` needs, each as it is now: a
/// directory whose identity changed since it was registered (replaced by
/// a rename) is registered again, its old watch removed first; one that
/// disappeared is reported once. True when a directory was replaced or
/// came back, so its files may have changed.
fn rewatch(w: &mut impl notify::Watcher, watched: &mut Watched, set: &WatchSet) -> bool {
    let want = dirs_of(set);
    let gone: Vec<PathBuf> = watched
        .keys()
        .filter(|d| !want.contains(*d))
        .cloned()
        .collect();
    for dir in gone {
        if watched.remove(&dir).flatten().is_some() {
            let _ = w.unwatch(&dir);
        }
    }
    let mut replaced = false;
    for dir in want {
        let now = dir_id(&dir);
        let before = watched.get(&dir).copied();
        match (before, now) {
            (Some(Some(a)), Some(b)) if a == b => continue,
            (_, None) => {
                if let Some(Some(_)) = before {
                    tracing::warn!(
                        target: TARGET,
                        dir = %dir.display(),
                        "watched directory {} is gone: changes are not seen until it is back \
                         (what was loaded keeps being served)",
                        dir.display()
                    );
                    let _ = w.unwatch(&dir);
                }
                watched.insert(dir, None);
                continue;
            }
            (Some(Some(_)), Some(_)) => {
                tracing::warn!(
                    target: TARGET,
                    dir = %dir.display(),
                    "watched directory {} was replaced: watching the new one",
                    dir.display()
                );
                // The old watch follows the old directory: drop it first.
                let _ = w.unwatch(&dir);
                replaced = true;
            }
            (Some(None), Some(_)) => {
                tracing::warn!(
                    target: TARGET,
                    dir = %dir.display(),
                    "watched directory {} is back",
                    dir.display()
                );
                replaced = true;
            }
            (None, Some(_)) => {}
        }
        match w.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                watched.insert(dir, now);
            }
            Err(e) => {
                tracing::debug!(target: TARGET, dir = %dir.display(), error = %e, "cannot watch");
                watched.insert(dir, None);
            }
        }
    }
    replaced
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set() -> WatchSet {
        let mut s = WatchSet {
            enabled: true,
            delay: Duration::from_millis(100),
            ..WatchSet::default()
        };
        s.sources.dirs.insert("/z".into());
        s.sources.files.insert("/z/a.test.zone".into());
        s.sources.files.insert("/z/inc/hosts".into());
        s.sources.files.insert("/etc/dnslb/dnslb.toml".into());
        s
    }

    #[test]
    fn which_changes_matter() {
        let s = set();
        for yes in [
            "/z/a.test.zone",
            "/z/inc/hosts",
            "/z/new.test.zone",
            "/z/new.test.toml",
            "/etc/dnslb/dnslb.toml",
            "/etc/dnslb/..data",
            "/z/..2024_01_01",
        ] {
            assert!(matters(Path::new(yes), &s), "{yes}");
        }
        for no in [
            "/z/.a.test.zone.swp",
            "/z/a.test.zone~",
            "/z/inc/other",
            "/etc/dnslb/admin_state",
            "/elsewhere/x.zone",
        ] {
            assert!(!matters(Path::new(no), &s), "{no}");
        }
        let dirs: Vec<_> = dirs_of(&s).into_iter().collect();
        assert_eq!(
            dirs,
            [PathBuf::from("/etc/dnslb"), "/z".into(), "/z/inc".into()]
        );
        let off = WatchSet {
            enabled: false,
            ..s
        };
        assert!(dirs_of(&off).is_empty());
    }
}
