//! The admin API's wiring: what `serve` prepares before binding (address,
//! token, overrides), binding the listener, and the command-line clients
//! (`dnslb status | drain | undrain | force`).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;

use crate::admin::client::{Choices, Endpoint, describe_change, render_status};
use crate::cli::{AdminArgs, StatusArgs};
use crate::config::AdminToken;
use crate::config::Settings;
use crate::config::settings::parse_admin_listen;
use crate::health::Overrides;

fn endpoint(a: &AdminArgs) -> anyhow::Result<Endpoint> {
    Endpoint::resolve(&Choices {
        admin: a.admin.clone(),
        token: a.token.clone(),
        token_file: a.token_file.clone(),
        config: a.config.clone(),
    })
}

/// `dnslb status`: the running server's `/status`, as text or JSON.
pub(super) fn status(a: &StatusArgs) -> anyhow::Result<i32> {
    let v = endpoint(&a.admin)?.status()?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", render_status(&v));
    }
    Ok(0)
}

/// `dnslb drain|undrain|force`: one `POST /overrides`.
pub(super) fn force(a: &AdminArgs, target: &str, state: &str) -> anyhow::Result<i32> {
    let v = endpoint(a)?.force(target, state)?;
    println!("{}", describe_change(&v));
    Ok(0)
}

/// The admin API's parts prepared before serving: its listen address,
/// token and overrides (errors here refuse start-up).
pub(super) struct AdminSetup {
    pub(super) listen: Option<SocketAddr>,
    /// `admin_listen` came from the command line or the config file (not
    /// the built-in default): failing to bind it is then fatal.
    pub(super) explicit: bool,
    pub(super) token: Option<AdminToken>,
    pub(super) overrides: Arc<Overrides>,
}

impl AdminSetup {
    pub(super) fn prepare(cfg: &Settings, listen_arg: Option<&str>) -> anyhow::Result<Self> {
        let listen = match listen_arg {
            Some(a) => parse_admin_listen(a).map_err(|m| anyhow::anyhow!("--admin-listen: {m}"))?,
            None => cfg.admin_listen,
        };
        let explicit = listen_arg.is_some() || cfg.positions.contains_key("admin_listen");
        let token = crate::admin::effective_token(cfg.admin_token.clone())?;
        if let Some(a) = listen {
            crate::admin::check_listen(a, token.as_ref())?;
        }
        let overrides = match &cfg.admin_state_file {
            Some(f) => Overrides::load(f)?,
            None => Overrides::in_memory(),
        };
        Ok(Self {
            listen,
            explicit,
            token,
            overrides: Arc::new(overrides),
        })
    }

    /// Bind the admin listener, before DNS, so a taken port fails start-up
    /// before anything answers. A configured address that cannot be bound
    /// stops start-up; the built-in default (127.0.0.1:8053) taken by
    /// something else only costs the admin API, not DNS service.
    pub(super) async fn bind(&self) -> anyhow::Result<Option<tokio::net::TcpListener>> {
        let Some(a) = self.listen else {
            return Ok(None);
        };
        match tokio::net::TcpListener::bind(a).await {
            Ok(l) => {
                tracing::info!("admin listening on http {}", l.local_addr()?);
                if self.overrides.file().is_none() {
                    tracing::info!(
                        "admin_state_file is not set: operator overrides last until exit"
                    );
                }
                Ok(Some(l))
            }
            Err(e) if !self.explicit => {
                tracing::warn!(
                    error = %e,
                    "admin API off: cannot bind the default admin address {a} (set admin_listen to use another)"
                );
                Ok(None)
            }
            Err(e) => Err(e).with_context(|| {
                format!("binding the admin API on {a} (set admin_listen = \"\" to turn it off)")
            }),
        }
    }
}
