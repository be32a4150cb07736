//! One connection to the store, and the loop that makes a new one after
//! any failure.
//!
//! A session:
//! 1. connects, and reuses the previous lease if it is still alive (a
//!    short outage then leaves this node's keys in place and the other
//!    instances notice nothing) or grants a new one of `lease_ttl`;
//! 2. registers `nodes/NODE` on the lease, only if no other live lease
//!    holds that name (two instances with one name would overwrite each
//!    other's observations);
//! 3. publishes every own observation and deletes own keys it no longer
//!    has, in transactions of at most [`BATCH`] operations; in a new (or
//!    wiped) store, one without the `meta` key, the first instance also
//!    writes its own overrides;
//! 4. reads the whole prefix (peers' observations, nodes, overrides) and
//!    watches it from the next revision, so no event falls between;
//! 5. then loops: state changes go out at once (batched over
//!    [`DEBOUNCE`]), every view again each `refresh_interval`, a lease
//!    keep-alive each third of `lease_ttl`; watch events update the
//!    fleet and the overrides.
//!
//! Any error, a watch that ends or is cancelled (compaction), or no
//! keep-alive answer for a whole `lease_ttl` ends the session: the fleet
//! decides alone (logged once per outage) and a new session starts after
//! a back-off of 0.5 s doubling up to a third of `lease_ttl`. Every
//! request is bounded by `timeout`.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, PutOptions, Txn, TxnOp,
    WatchOptions,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::model::{self, Entry};
use super::{LOG_TARGET, Shared};
use crate::health::fleet::View;
use crate::health::overrides::{Override, Selector};

/// Operations per transaction (etcd's default `--max-txn-ops` is 128).
const BATCH: usize = 64;

/// How long state changes gather before they are written together.
const DEBOUNCE: Duration = Duration::from_millis(50);

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
enum StoreError {
    #[error("{0}")]
    Client(#[from] etcd_client::Error),
    #[error("{what}: no answer within {secs} s")]
    Timeout { what: &'static str, secs: f64 },
    #[error(
        "the node name {0:?} is held by another live instance (or by this one's previous run, \
         until its lease expires); node names must be unique"
    )]
    NodeTaken(String),
    #[error("{0}")]
    Lost(String),
}

/// `fut`, bounded by `t`.
async fn within<T>(
    t: Duration,
    what: &'static str,
    fut: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(t, fut).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(StoreError::Timeout {
            what,
            secs: t.as_secs_f64(),
        }),
    }
}

/// Sessions, one after the other, until `cancel` fires.
pub(super) async fn run(sh: Arc<Shared>, cancel: CancellationToken) {
    let mut lease: Option<i64> = None;
    let floor = Duration::from_millis(500);
    let ceiling = (sh.settings.lease_ttl / 3).max(floor);
    let mut backoff = floor;
    // Whether the current outage was logged at warn already.
    let mut told = false;
    loop {
        let mut joined = false;
        let r = session(&sh, &mut lease, &cancel, &mut joined).await;
        sh.set_client(None);
        let e = match r {
            Ok(()) => return,
            Err(e) => e,
        };
        if cancel.is_cancelled() {
            return;
        }
        if joined {
            told = false;
            backoff = floor;
        }
        let msg = e.to_string();
        if !told {
            tracing::warn!(
                target: LOG_TARGET,
                error = %msg,
                "cluster store unreachable: deciding from this instance's own observations until it is back"
            );
            told = true;
        } else {
            tracing::debug!(target: LOG_TARGET, error = %msg, "cluster store still unreachable");
        }
        sh.fleet.disconnect(msg);
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(ceiling);
    }
}

async fn session(
    sh: &Shared,
    lease: &mut Option<i64>,
    cancel: &CancellationToken,
    joined: &mut bool,
) -> Result<(), StoreError> {
    let s = &sh.settings;
    let t = s.timeout;
    let node = sh.fleet.node().to_string();
    let prefix = s.prefix();
    let opts = ConnectOptions::new()
        .with_connect_timeout(t)
        // HTTP/2 pings find a dead connection the kernel does not report.
        .with_keep_alive(s.lease_ttl / 3, t)
        .with_keep_alive_while_idle(true)
        // A member cut off from its etcd quorum refuses rather than serve
        // a watch that would stall silently.
        .with_require_leader(true);
    let mut client = within(t, "connect", Client::connect(&s.endpoints, Some(opts))).await?;

    // 1. The lease: the previous one if it is still alive.
    let ttl = s.lease_ttl.as_secs() as i64;
    let reused = match *lease {
        Some(id) => {
            within(t, "lease check", client.lease_time_to_live(id, None))
                .await?
                .ttl()
                > 0
        }
        None => false,
    };
    let id = match (*lease, reused) {
        (Some(id), true) => id,
        _ => within(t, "lease grant", client.lease_grant(ttl, None))
            .await?
            .id(),
    };
    *lease = Some(id);

    // 2. The node's registration, unless another lease holds the name.
    let nkey = model::node_key(&prefix, &node);
    let put = TxnOp::put(
        nkey.clone(),
        model::node_value(&node, sh.started),
        Some(PutOptions::new().with_lease(id)),
    );
    let txn = Txn::new()
        .when([Compare::create_revision(nkey.clone(), CompareOp::Equal, 0)])
        .and_then([put.clone()])
        .or_else([TxnOp::get(nkey.clone(), None)]);
    let r = within(t, "node registration", client.txn(txn)).await?;
    if !r.succeeded() {
        let holder = within(t, "node registration", client.get(nkey.clone(), None)).await?;
        match holder.kvs().first() {
            Some(kv) if kv.lease() == id => {}
            None => {
                // Expired meanwhile: take it.
                let txn = Txn::new()
                    .when([Compare::create_revision(nkey.clone(), CompareOp::Equal, 0)])
                    .and_then([put]);
                if !within(t, "node registration", client.txn(txn))
                    .await?
                    .succeeded()
                {
                    return Err(StoreError::NodeTaken(node));
                }
            }
            Some(_) => return Err(StoreError::NodeTaken(node)),
        }
    }

    // 3. Every own observation; own keys not probed any more go.
    let stale_before = sh.fleet.take_pending();
    let mine = model::obs_prefix(&prefix, &node);
    let held = within(
        t,
        "read own keys",
        client.get(
            mine.clone(),
            Some(GetOptions::new().with_prefix().with_keys_only()),
        ),
    )
    .await?;
    let views = sh.fleet.own_views();
    let have: std::collections::HashSet<String> = views
        .iter()
        .map(|(k, _)| model::obs_key(&prefix, &node, k))
        .collect();
    let mut ops: Vec<TxnOp> = held
        .kvs()
        .iter()
        .filter_map(|kv| kv.key_str().ok())
        .filter(|k| !have.contains(*k))
        .map(|k| TxnOp::delete(k, None))
        .collect();
    ops.extend(views.iter().map(|(k, v)| put_obs(&prefix, &node, k, v, id)));
    if let Err(e) = write(&mut client, t, ops).await {
        sh.fleet
            .restore_pending(stale_before.into_iter().map(|(k, _)| k));
        return Err(e);
    }
    sh.fleet
        .published
        .fetch_add(views.len() as u64, Ordering::Relaxed);

    // A new or wiped store: seed it with this instance's overrides (from
    // its state file), so losing the store does not undo drains.
    seed(sh, &mut client, &prefix, &node).await?;

    // 4. Everything under the prefix, then the watch from the next revision.
    let all = within(
        t,
        "read",
        client.get(prefix.clone(), Some(GetOptions::new().with_prefix())),
    )
    .await?;
    let rev = all.header().map_or(0, |h| h.revision());
    let mut peers: HashMap<String, HashMap<Arc<str>, View>> = HashMap::new();
    let mut nodes: Vec<String> = Vec::new();
    let mut overrides: BTreeMap<Selector, Override> = BTreeMap::new();
    for kv in all.kvs() {
        let Ok(key) = kv.key_str() else { continue };
        match model::parse_key(&prefix, key) {
            Entry::Node(n) => nodes.push(n),
            Entry::Obs { node: n, target } if n != node => match model::parse_obs(kv.value()) {
                Ok(v) => {
                    peers.entry(n).or_default().insert(Arc::from(target), v);
                }
                Err(e) => bad_value(key, &e),
            },
            Entry::Override(sel) => match model::parse_override(sel.clone(), kv.value()) {
                Ok(o) => {
                    overrides.insert(sel, o);
                }
                Err(e) => bad_value(key, &e),
            },
            Entry::Obs { .. } | Entry::Other => {}
        }
    }
    nodes.sort();
    nodes.dedup();
    let mut watch = within(
        t,
        "watch",
        client.watch(
            prefix.clone(),
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(rev + 1),
            ),
        ),
    )
    .await?;
    let (mut keeper, mut alive) =
        within(t, "lease keep-alive", client.lease_keep_alive(id)).await?;

    let peer_count = peers.len();
    sh.fleet.connect(peers, nodes);
    sh.apply_overrides(overrides.values().cloned().collect());
    sh.set_client(Some(client.clone()));
    *joined = true;
    tracing::info!(
        target: LOG_TARGET,
        node = %node,
        lease = format_args!("{id:x}"),
        reused,
        peers = peer_count,
        published = views.len(),
        "joined the cluster: {} other instance(s) publishing observations",
        peer_count
    );

    // 5. The loop.
    let every = s.lease_ttl / 3;
    let mut keepalive = tokio::time::interval_at(Instant::now() + every, every);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut refresh =
        tokio::time::interval_at(Instant::now() + s.refresh_interval, s.refresh_interval);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_alive = Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => {
                // Leave at once rather than after lease_ttl: the others
                // stop counting this instance's observations now.
                let _ = within(t, "lease revoke", client.lease_revoke(id)).await;
                *lease = None;
                tracing::info!(target: LOG_TARGET, node = %node, "left the cluster");
                return Ok(());
            }
            _ = sh.fleet.own_changed() => {
                tokio::time::sleep(DEBOUNCE).await;
                let changes = sh.fleet.take_pending();
                let n = changes.len() as u64;
                let keys: Vec<Arc<str>> = changes.iter().map(|(k, _)| k.clone()).collect();
                let ops = changes
                    .iter()
                    .map(|(k, v)| match v {
                        Some(v) => put_obs(&prefix, &node, k, v, id),
                        None => TxnOp::delete(model::obs_key(&prefix, &node, k), None),
                    })
                    .collect();
                if let Err(e) = write(&mut client, t, ops).await {
                    sh.fleet.restore_pending(keys);
                    return Err(e);
                }
                sh.fleet.published.fetch_add(n, Ordering::Relaxed);
            }
            _ = refresh.tick() => {
                let views = sh.fleet.own_views();
                let ops = views.iter().map(|(k, v)| put_obs(&prefix, &node, k, v, id)).collect();
                write(&mut client, t, ops).await?;
                sh.fleet.published.fetch_add(views.len() as u64, Ordering::Relaxed);
            }
            _ = keepalive.tick() => {
                if last_alive.elapsed() >= s.lease_ttl {
                    return Err(StoreError::Lost(format!(
                        "no lease keep-alive answer for {} s",
                        s.lease_ttl.as_secs()
                    )));
                }
                within(t, "lease keep-alive", keeper.keep_alive()).await?;
            }
            m = alive.message() => match m? {
                Some(r) if r.ttl() > 0 => last_alive = Instant::now(),
                Some(_) => return Err(StoreError::Lost("the lease expired".into())),
                None => return Err(StoreError::Lost("the keep-alive stream ended".into())),
            },
            m = watch.message() => {
                let Some(resp) = m? else {
                    return Err(StoreError::Lost("the watch ended".into()));
                };
                if resp.canceled() {
                    return Err(StoreError::Lost(format!(
                        "the watch was cancelled ({}); reading everything again",
                        if resp.compact_revision() > 0 { "compacted" } else { resp.cancel_reason() }
                    )));
                }
                apply_events(sh, &prefix, &node, resp.events(), &mut overrides);
            }
        }
    }
}

/// Write the `meta` key and this instance's overrides, if no instance did
/// before (the `meta` key is absent). Only one instance can win the
/// transaction; the others then take the store's list.
async fn seed(
    sh: &Shared,
    client: &mut Client,
    prefix: &str,
    node: &str,
) -> Result<(), StoreError> {
    let t = sh.settings.timeout;
    let meta = model::meta_key(prefix);
    let mine = sh.overrides.list();
    let mut puts: Vec<TxnOp> = mine
        .iter()
        .map(|o| {
            TxnOp::put(
                model::override_key(prefix, &o.endpoint),
                model::override_value(o.state, o.since, node),
                None,
            )
        })
        .collect();
    let rest = puts.split_off(puts.len().min(BATCH - 1));
    let mut first = vec![TxnOp::put(
        meta.clone(),
        model::meta_value(node, std::time::SystemTime::now()),
        None,
    )];
    first.extend(puts);
    let txn = Txn::new()
        .when([Compare::create_revision(meta, CompareOp::Equal, 0)])
        .and_then(first);
    if !within(t, "seed", client.txn(txn)).await?.succeeded() {
        return Ok(());
    }
    write(client, t, rest).await?;
    tracing::info!(
        target: LOG_TARGET,
        overrides = mine.len(),
        "a new cluster store: seeded it with this instance's {} override(s)",
        mine.len()
    );
    Ok(())
}

/// Apply one watch response's events to the fleet and the overrides.
fn apply_events(
    sh: &Shared,
    prefix: &str,
    me: &str,
    events: &[etcd_client::Event],
    overrides: &mut BTreeMap<Selector, Override>,
) {
    let (mut peers_changed, mut overrides_changed) = (false, false);
    for ev in events {
        let Some(kv) = ev.kv() else { continue };
        let Ok(key) = kv.key_str() else { continue };
        let put = ev.event_type() == EventType::Put;
        sh.fleet.events.fetch_add(1, Ordering::Relaxed);
        match model::parse_key(prefix, key) {
            Entry::Node(n) => {
                if n != me || put {
                    sh.fleet.node_seen(&n, put);
                }
            }
            Entry::Obs { node, target } if node != me => {
                let view = if put {
                    match model::parse_obs(kv.value()) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            bad_value(key, &e);
                            None
                        }
                    }
                } else {
                    None
                };
                sh.fleet.peer(&node, &target, view);
                peers_changed = true;
            }
            Entry::Override(sel) => {
                overrides_changed = true;
                if !put {
                    overrides.remove(&sel);
                    continue;
                }
                match model::parse_override(sel.clone(), kv.value()) {
                    Ok(o) => {
                        overrides.insert(sel, o);
                    }
                    Err(e) => {
                        bad_value(key, &e);
                        overrides.remove(&sel);
                    }
                }
            }
            Entry::Obs { .. } | Entry::Other => {}
        }
    }
    if peers_changed {
        sh.fleet.peers_updated();
    }
    if overrides_changed {
        sh.apply_overrides(overrides.values().cloned().collect());
    }
}

fn put_obs(prefix: &str, node: &str, key: &str, v: &View, lease: i64) -> TxnOp {
    TxnOp::put(
        model::obs_key(prefix, node, key),
        model::obs_value(v),
        Some(PutOptions::new().with_lease(lease)),
    )
}

/// Write `ops` in transactions of at most [`BATCH`].
async fn write(client: &mut Client, t: Duration, ops: Vec<TxnOp>) -> Result<(), StoreError> {
    let mut ops = ops.into_iter().peekable();
    while ops.peek().is_some() {
        let chunk: Vec<TxnOp> = ops.by_ref().take(BATCH).collect();
        within(t, "publish", client.txn(Txn::new().and_then(chunk))).await?;
    }
    Ok(())
}

fn bad_value(key: &str, e: &str) {
    tracing::warn!(target: LOG_TARGET, key, error = e, "ignoring a value in the cluster store this version cannot read");
}
