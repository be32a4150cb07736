//! Cluster mode: several dnslb instances share their health observations
//! and operator overrides through etcd, and each decides a target's state
//! by quorum over the live instances' observations (docs/OPERATIONS.md, "A
//! fleet of instances"). The only place the etcd client appears; built
//! with the `cluster` cargo feature.
//!
//! - [`model`]: the keys and JSON values in etcd (the data model).
//! - `session`: one connection's life: lease, registration, full publish,
//!   read, watch, keep-alives, delta publishes; and the reconnect loop.
//! - this file: [`spawn`] and the [`Cluster`] handle, which writes
//!   overrides for the admin API ([`OverrideStore`]).
//!
//! What is decided where: the prober records this instance's observations
//! in the shared [`Fleet`] and writes the fleet's decision into the health
//! table; this module only moves observations and overrides between the
//! [`Fleet`], the [`Overrides`] and the store. The query path never waits
//! on it: it reads the health table as always. When the store cannot be
//! reached, [`Fleet::disconnect`] drops the peers' observations, so each
//! instance decides from its own until the store is back (logged once,
//! `dnslb_cluster_connected` 0, `cluster.connected: false` in `/status`).

pub mod model;
mod session;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use crate::config::ClusterSettings;
use crate::health::Fleet;
use crate::health::overrides::{Forced, Override, OverrideStore, Overrides, Selector, unix_now};

/// Log target of every cluster event.
pub const LOG_TARGET: &str = "dnslb::cluster";

/// Applies an override list to the snapshot in service (the wiring layer
/// provides it: `admin::endpoints::apply_overrides` on the current
/// snapshot).
pub type ApplyOverrides = Arc<dyn Fn(&[Override]) + Send + Sync>;

/// What the session shares with the handle.
struct Shared {
    settings: ClusterSettings,
    fleet: Arc<Fleet>,
    overrides: Arc<Overrides>,
    apply: ApplyOverrides,
    /// The connected client, for override writes; `None` while the store
    /// is unreachable.
    client: Mutex<Option<etcd_client::Client>>,
    started: SystemTime,
}

impl Shared {
    fn client(&self) -> Option<etcd_client::Client> {
        self.client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_client(&self, c: Option<etcd_client::Client>) {
        *self.client.lock().unwrap_or_else(|e| e.into_inner()) = c;
    }

    /// Make the store's override list the one in force here.
    fn apply_overrides(&self, list: Vec<Override>) {
        let apply = self.apply.clone();
        self.overrides
            .replace_all(list, "the cluster store", move |l| apply(l));
    }
}

/// The running cluster client: its task publishes and watches; the
/// handle writes overrides.
pub struct Cluster {
    shared: Arc<Shared>,
}

/// Start cluster mode: a task (in `tasks`) that connects to the store,
/// publishes `fleet`'s own observations, watches the others' and the
/// overrides, and reconnects after any failure, until `cancel` fires (then
/// it revokes its lease, so the other instances drop its observations at
/// once instead of after `lease_ttl`).
pub fn spawn(
    settings: ClusterSettings,
    fleet: Arc<Fleet>,
    overrides: Arc<Overrides>,
    apply: ApplyOverrides,
    cancel: CancellationToken,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Arc<Cluster> {
    let shared = Arc::new(Shared {
        settings,
        fleet,
        overrides,
        apply,
        client: Mutex::new(None),
        started: SystemTime::now(),
    });
    tasks.spawn(session::run(shared.clone(), cancel));
    Arc::new(Cluster { shared })
}

impl OverrideStore for Cluster {
    fn put<'a>(
        &'a self,
        endpoint: &'a Selector,
        state: Option<Forced>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let sh = &self.shared;
            let Some(mut client) = sh.client() else {
                return Err(
                    "the cluster store is unreachable, so the override was not set (it must \
                     reach every instance); try again when /status shows cluster.connected"
                        .into(),
                );
            };
            let prefix = sh.settings.prefix();
            let key = model::override_key(&prefix, endpoint);
            let t = sh.settings.timeout;
            let r = match state {
                Some(s) => {
                    let value = model::override_value(s, unix_now(), sh.fleet.node());
                    tokio::time::timeout(t, client.put(key, value, None))
                        .await
                        .map(|r| r.map(drop))
                }
                None => tokio::time::timeout(t, client.delete(key, None))
                    .await
                    .map(|r| r.map(drop)),
            };
            match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(format!("the cluster store refused the override: {e}")),
                Err(_) => Err(format!(
                    "the cluster store did not answer within {} s; the override may or may not \
                     be set: check GET /overrides",
                    t.as_secs_f64()
                )),
            }
        })
    }
}
