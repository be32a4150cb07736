//! What this instance knows of the fleet in cluster mode: its own
//! observations (to publish), the live peers' observations (to decide
//! with), and the store connection's state. Shared by the prober (which
//! records its own observations and asks for decisions), the cluster
//! module (which publishes and watches through the store) and the admin
//! API (which shows every view). No I/O here: the store is `crate::cluster`'s.
//!
//! The prober's state machine stays as it is; the health cell it writes is
//! `quorum.decide(own observation, live peers' observations)`
//! ([`super::quorum`]). While the store is unreachable, peers are dropped
//! and the decision is the instance's own (as without cluster mode).
//!
//! Targets are named across instances by [`fleet_key`]: the endpoint's
//! address and a hash of what its check asks and accepts, never a
//! per-snapshot [`super::TargetId`]. Instances with different policy files
//! combine only the targets they share.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::Hasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::sync::Notify;

use super::check::CheckKind;
use super::quorum::{Observation, Quorum, Verdict};
use super::{Status, TargetKey};

/// One vantage point's view of one target: its state machine's state, its
/// probe RTT and when it last probed.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub obs: Observation,
    /// Smoothed probe RTT, microseconds.
    pub rtt_us: Option<u32>,
    /// When the last probe finished.
    pub last_probe: Option<SystemTime>,
    /// The check's name in the policy file (for people; not identity).
    pub check: Arc<str>,
}

/// A view as `/status` lists it: whose, and what.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeView {
    pub node: String,
    /// This instance's own view.
    pub own: bool,
    pub view: View,
}

/// The store connection as `/status` and `/metrics` show it.
#[derive(Clone, Debug, Default)]
pub struct StoreState {
    pub connected: bool,
    /// When the current state began.
    pub since: Option<SystemTime>,
    /// The last error talking to the store (kept after reconnecting).
    pub last_error: Option<String>,
    /// Times the connection was lost (or never made) since start.
    pub disconnects: u64,
    /// Live instances, this one included while connected, by node name.
    pub nodes: Vec<String>,
}

/// The identity of a probed target across instances: `ADDR/HASH`, where
/// HASH is 16 hex digits of SipHash-2-4 (keys 0, 0) over what the probe
/// asks and accepts: kind, port, `probe_address`, `timeout`, and for HTTP
/// the scheme, TLS server name and verification, method, path, `Host`,
/// accepted statuses, `body_contains` and headers. `interval`, `rise`,
/// `fall`, `initial_state`, `user_agent` (it carries the version) and the
/// check's name are left out, so instances that differ only in how fast
/// they flip, or run different versions, still combine. `None` for an
/// endpoint without a check (always up, never shared).
pub fn fleet_key(key: &TargetKey) -> Option<String> {
    let c = key.check.as_ref()?;
    let mut text = format!(
        "port={};probe={};timeout_us={};",
        c.port,
        c.probe_address
            .map_or_else(|| "-".into(), |a| a.to_string()),
        c.timeout.as_micros()
    );
    match &c.kind {
        CheckKind::Tcp => text.push_str("kind=tcp;"),
        CheckKind::Http(h) => {
            text.push_str("kind=http;");
            match &h.tls {
                None => text.push_str("tls=-;"),
                Some(t) => text.push_str(&format!(
                    "tls={}:{};",
                    t.server_name.as_deref().unwrap_or("-"),
                    t.verify
                )),
            }
            let ranges: Vec<String> = h
                .expect_status
                .ranges()
                .iter()
                .map(|(a, b)| format!("{a}-{b}"))
                .collect();
            text.push_str(&format!(
                "method={};path={:?};host={:?};expect={};body={:?};",
                h.method.as_str(),
                h.path,
                h.host,
                ranges.join(","),
                h.body_contains
            ));
            for (k, v) in &h.headers {
                text.push_str(&format!("header={k:?}:{v:?};"));
            }
        }
    }
    let mut hasher = siphasher::sip::SipHasher24::new_with_keys(0, 0);
    hasher.write(text.as_bytes());
    Some(format!("{}/{:016x}", key.addr, hasher.finish()))
}

/// Own observation of one target.
#[derive(Debug)]
struct Own {
    view: View,
    /// The last verdict, for the log line of a change the fleet caused.
    decided: Option<Status>,
}

#[derive(Debug, Default)]
struct Inner {
    own: HashMap<Arc<str>, Own>,
    /// Probed targets per key: two checks of one address that differ only
    /// in timing share a key (and a view).
    users: HashMap<Arc<str>, u32>,
    /// Own keys to publish (present in `own`) or delete (absent).
    pending: BTreeSet<Arc<str>>,
    /// node → key → view, live peers only (never this node).
    peers: HashMap<String, HashMap<Arc<str>, View>>,
    store: StoreState,
}

/// The fleet as this instance sees it. See the module doc.
#[derive(Debug)]
pub struct Fleet {
    node: String,
    quorum: Quorum,
    inner: Mutex<Inner>,
    connected: AtomicBool,
    own_changed: Notify,
    peers_changed: Notify,
    /// Observations written to the store.
    pub published: AtomicU64,
    /// Store events (peers' observations, overrides, nodes) applied.
    pub events: AtomicU64,
}

impl Fleet {
    /// A fleet view for node `node` deciding with `quorum`, not connected.
    pub fn new(node: impl Into<String>, quorum: Quorum) -> Self {
        let node = node.into();
        Self {
            inner: Mutex::new(Inner {
                store: StoreState {
                    since: Some(SystemTime::now()),
                    ..StoreState::default()
                },
                ..Inner::default()
            }),
            node,
            quorum,
            connected: AtomicBool::new(false),
            own_changed: Notify::new(),
            peers_changed: Notify::new(),
            published: AtomicU64::new(0),
            events: AtomicU64::new(0),
        }
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    pub fn quorum(&self) -> Quorum {
        self.quorum
    }

    /// Whether peers' observations count now.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update leaves the maps consistent: a panic elsewhere does
        // not make the data bad.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ----- the prober's side

    /// Record this instance's view of `key` and decide its state. A view
    /// is published once it has a probe result, and again whenever its
    /// state or failing bit changes (not for RTT alone: the periodic
    /// refresh carries that). Returns the verdict and, when the fleet
    /// changed the decided state, the previous one (for a log line).
    pub fn observe(&self, key: &Arc<str>, view: View) -> (Verdict, Option<Status>) {
        let connected = self.is_connected();
        let mut g = self.lock();
        let inner = &mut *g;
        let probed = view.last_probe.is_some();
        let publish = match inner.own.get(key) {
            None => probed,
            Some(old) => probed && (old.view.obs != view.obs || old.view.last_probe.is_none()),
        };
        let verdict = decide(self.quorum, connected, &inner.peers, key, view.obs);
        let entry = inner.own.entry(key.clone()).or_insert(Own {
            view: view.clone(),
            decided: None,
        });
        entry.view = view;
        let before = entry.decided.replace(verdict.status);
        let flipped = before.filter(|b| *b != verdict.status);
        if publish {
            inner.pending.insert(key.clone());
            drop(g);
            self.own_changed.notify_one();
        }
        (verdict, flipped)
    }

    /// A target with `key` is probed here from now on (paired with
    /// [`Fleet::forget`]).
    pub fn adopt(&self, key: &Arc<str>) {
        *self.lock().users.entry(key.clone()).or_default() += 1;
    }

    /// A target with `key` is no longer probed here: once no other target
    /// shares the key, its observation is withdrawn.
    pub fn forget(&self, key: &str) {
        let mut g = self.lock();
        if let Some(n) = g.users.get_mut(key) {
            *n = n.saturating_sub(1);
            if *n > 0 {
                return;
            }
            g.users.remove(key);
        }
        if let Some((k, _)) = g.own.remove_entry(key) {
            g.pending.insert(k);
            drop(g);
            self.own_changed.notify_one();
        }
    }

    /// Resolves when a peer's observation or the connection changed, so
    /// every cell must be decided again.
    pub async fn peers_changed(&self) {
        self.peers_changed.notified().await;
    }

    // ----- the publisher's side

    /// Resolves when own observations wait to be published.
    pub async fn own_changed(&self) {
        self.own_changed.notified().await;
    }

    /// Take the pending changes: `(key, Some(view))` to write, `(key,
    /// None)` to delete.
    pub fn take_pending(&self) -> Vec<(Arc<str>, Option<View>)> {
        let mut g = self.lock();
        let keys = std::mem::take(&mut g.pending);
        keys.into_iter()
            .map(|k| {
                let v = g.own.get(&k).map(|o| o.view.clone());
                (k, v)
            })
            .collect()
    }

    /// Put keys back after a failed write, so they go out after the
    /// reconnection (which republishes everything anyway).
    pub fn restore_pending(&self, keys: impl IntoIterator<Item = Arc<str>>) {
        self.lock().pending.extend(keys);
    }

    /// Every own observation that has a probe result (a full publish).
    pub fn own_views(&self) -> Vec<(Arc<str>, View)> {
        let g = self.lock();
        let mut v: Vec<_> = g
            .own
            .iter()
            .filter(|(_, o)| o.view.last_probe.is_some())
            .map(|(k, o)| (k.clone(), o.view.clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Connected to the store, with these live peers' observations
    /// (this node's own entries are ignored) and live nodes.
    pub fn connect(&self, peers: HashMap<String, HashMap<Arc<str>, View>>, nodes: Vec<String>) {
        {
            let mut g = self.lock();
            g.peers = peers;
            g.peers.remove(&self.node);
            g.store.connected = true;
            g.store.since = Some(SystemTime::now());
            g.store.nodes = nodes;
            self.connected.store(true, Ordering::Release);
        }
        self.peers_changed.notify_one();
    }

    /// The store is unreachable: decide alone from now on. `error` says why.
    pub fn disconnect(&self, error: String) {
        {
            let mut g = self.lock();
            let was = g.store.connected;
            g.peers.clear();
            if was || g.store.last_error.is_none() {
                g.store.disconnects += 1;
                g.store.since = Some(SystemTime::now());
            }
            g.store.connected = false;
            g.store.nodes.clear();
            g.store.last_error = Some(error);
            self.connected.store(false, Ordering::Release);
        }
        self.peers_changed.notify_one();
    }

    /// A peer's observation of `key` was written (`Some`) or removed.
    /// Call [`Fleet::peers_updated`] after a batch.
    pub fn peer(&self, node: &str, key: &str, view: Option<View>) {
        if node == self.node {
            return;
        }
        let mut g = self.lock();
        match view {
            Some(v) => {
                g.peers
                    .entry(node.to_string())
                    .or_default()
                    .insert(Arc::from(key), v);
            }
            None => {
                if let Some(m) = g.peers.get_mut(node) {
                    m.remove(key);
                    if m.is_empty() {
                        g.peers.remove(node);
                    }
                }
            }
        }
    }

    /// A node joined (`true`) or left.
    pub fn node_seen(&self, node: &str, live: bool) {
        let mut g = self.lock();
        let nodes = &mut g.store.nodes;
        let pos = nodes.binary_search_by(|n| n.as_str().cmp(node));
        match (pos, live) {
            (Err(i), true) => nodes.insert(i, node.to_string()),
            (Ok(i), false) => {
                nodes.remove(i);
            }
            _ => {}
        }
    }

    /// Peers' observations changed: decide every target again.
    pub fn peers_updated(&self) {
        self.peers_changed.notify_one();
    }

    // ----- the admin API's side

    /// The store connection's state.
    pub fn store(&self) -> StoreState {
        self.lock().store.clone()
    }

    /// Every live view of `key`, this instance's first, then by node.
    pub fn views(&self, key: &str) -> Vec<NodeView> {
        let g = self.lock();
        let mut out = Vec::new();
        if let Some(o) = g.own.get(key) {
            out.push(NodeView {
                node: self.node.clone(),
                own: true,
                view: o.view.clone(),
            });
        }
        let peers: BTreeMap<&String, &View> = g
            .peers
            .iter()
            .filter_map(|(n, m)| Some((n, m.get(key)?)))
            .collect();
        for (n, v) in peers {
            out.push(NodeView {
                node: n.clone(),
                own: false,
                view: v.clone(),
            });
        }
        out
    }

    /// The verdict for `key` now (own observation plus live peers), if
    /// this instance probes it.
    pub fn verdict(&self, key: &str) -> Option<Verdict> {
        let connected = self.is_connected();
        let g = self.lock();
        let own = g.own.get(key)?;
        Some(decide(self.quorum, connected, &g.peers, key, own.view.obs))
    }
}

fn decide(
    quorum: Quorum,
    connected: bool,
    peers: &HashMap<String, HashMap<Arc<str>, View>>,
    key: &str,
    own: Observation,
) -> Verdict {
    if !connected {
        return quorum.decide(own, []);
    }
    quorum.decide(
        own,
        peers.values().filter_map(|m| m.get(key)).map(|v| v.obs),
    )
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use super::*;
    use crate::health::testutil::{check, http, key};

    fn view(status: Status, probed: bool) -> View {
        View {
            obs: Observation {
                status,
                failing: false,
            },
            rtt_us: Some(900),
            last_probe: probed.then(SystemTime::now),
            check: "web".into(),
        }
    }

    #[test]
    fn keys_name_what_is_probed_not_how_often() {
        let addr: IpAddr = "192.0.2.1".parse().unwrap();
        let base = check(CheckKind::Http(http()), 80);
        let k = |c: crate::health::Check| fleet_key(&key(addr, c)).unwrap();
        let a = k(base.clone());
        assert!(
            a.starts_with("192.0.2.1/") && a.len() == "192.0.2.1/".len() + 16,
            "{a}"
        );
        // Stable across builds and runs: a fixed hash of a fixed text.
        assert_eq!(a, k(base.clone()));
        let mut slower = base.clone();
        slower.interval = Duration::from_secs(30);
        slower.rise = 5;
        slower.fall = 7;
        slower.name = "renamed".into();
        slower.initial_state = Status::Down;
        assert_eq!(k(slower), a);
        let mut other_path = base.clone();
        if let CheckKind::Http(h) = &mut other_path.kind {
            h.path = "/other".into();
        }
        assert_ne!(k(other_path), a);
        let mut other_port = base.clone();
        other_port.port = 81;
        assert_ne!(k(other_port), a);
        assert_ne!(k(check(CheckKind::Tcp, 80)), a);
        let unchecked = TargetKey { addr, check: None };
        assert_eq!(fleet_key(&unchecked), None);
    }

    #[test]
    fn alone_or_disconnected_the_own_view_decides() {
        let f = Fleet::new("a", Quorum::default());
        let k: Arc<str> = "192.0.2.1/00".into();
        let (v, _) = f.observe(&k, view(Status::Down, true));
        assert_eq!((v.status, v.observers), (Status::Down, 1));
        // Peers are ignored until connected.
        f.peer("b", &k, Some(view(Status::Up, true)));
        f.peer("c", &k, Some(view(Status::Up, true)));
        assert_eq!(f.verdict(&k).unwrap().status, Status::Down);
        let mut peers = HashMap::new();
        for n in ["b", "c", "a"] {
            let mut m = HashMap::new();
            m.insert(k.clone(), view(Status::Up, true));
            peers.insert(n.to_string(), m);
        }
        f.connect(peers, vec!["a".into(), "b".into(), "c".into()]);
        let v = f.verdict(&k).unwrap();
        // Our own entry in the store is not counted twice.
        assert_eq!((v.status, v.up, v.observers), (Status::Up, 2, 3));
        let (v, flipped) = f.observe(&k, view(Status::Down, true));
        assert_eq!((v.status, flipped), (Status::Up, Some(Status::Down)));
        let views = f.views(&k);
        assert_eq!(views.len(), 3);
        assert!(views[0].own && views[0].node == "a");
        f.disconnect("store gone".into());
        assert_eq!(f.verdict(&k).unwrap().status, Status::Down);
        assert_eq!(f.views(&k).len(), 1);
        let st = f.store();
        assert!(!st.connected && st.nodes.is_empty());
        assert_eq!(st.last_error.as_deref(), Some("store gone"));
        assert_eq!(st.disconnects, 1);
    }

    #[test]
    fn only_changes_with_a_probe_result_are_published() {
        let f = Fleet::new("a", Quorum::default());
        let k: Arc<str> = "192.0.2.1/00".into();
        f.observe(&k, view(Status::Up, false));
        assert!(f.take_pending().is_empty(), "no probe yet: no opinion");
        assert!(f.own_views().is_empty());
        f.observe(&k, view(Status::Up, true));
        let p = f.take_pending();
        assert_eq!(p.len(), 1);
        assert!(p[0].1.is_some());
        // Same state, new RTT: nothing to publish.
        let mut v = view(Status::Up, true);
        v.rtt_us = Some(5000);
        f.observe(&k, v);
        assert!(f.take_pending().is_empty());
        f.observe(&k, view(Status::Down, true));
        assert_eq!(f.take_pending().len(), 1);
        // Two targets share the key: the first to go keeps the view.
        f.adopt(&k);
        f.adopt(&k);
        f.forget(&k);
        assert!(f.take_pending().is_empty());
        assert_eq!(f.own_views().len(), 1);
        f.forget(&k);
        let p = f.take_pending();
        assert_eq!((p.len(), p[0].1.is_none()), (1, true));
        assert!(f.own_views().is_empty());
    }

    #[test]
    fn peer_events_and_nodes() {
        let f = Fleet::new("a", Quorum::default());
        f.connect(HashMap::new(), vec!["a".into()]);
        let k: Arc<str> = "192.0.2.1/00".into();
        f.observe(&k, view(Status::Up, true));
        f.peer("b", &k, Some(view(Status::Down, true)));
        f.node_seen("b", true);
        f.node_seen("b", true);
        assert_eq!(f.store().nodes, ["a", "b"]);
        // 1 of 2: not more than half.
        assert_eq!(f.verdict(&k).unwrap().status, Status::Down);
        f.peer("b", &k, None);
        f.node_seen("b", false);
        assert_eq!(f.verdict(&k).unwrap().status, Status::Up);
        assert_eq!(f.store().nodes, ["a"]);
        // Our own node's events are ignored.
        f.peer("a", &k, Some(view(Status::Down, true)));
        assert_eq!(f.verdict(&k).unwrap().observers, 1);
    }
}
