//! The admin API's wiring: what `serve` prepares before binding (address,
//! token, overrides), binding the listener, and the command-line clients
//! (`dnslb status | drain | undrain | force`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::admin::TokenCell;
use crate::admin::client::{Choices, Endpoint, describe_change, render_status};
use crate::cli::{AdminArgs, StatusArgs};
use crate::config::Settings;
use crate::config::settings::parse_admin_listen;
use crate::diag::Diagnostics;
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

/// The command line's settings, applied over `dnslb.toml` at start-up and
/// again over every re-read of it.
#[derive(Debug, Clone, Default)]
pub(super) struct CliSettings {
    pub(super) listen: Vec<SocketAddr>,
    pub(super) admin_listen: Option<Option<SocketAddr>>,
}

impl CliSettings {
    pub(super) fn new(listen: &[SocketAddr], admin_listen: Option<&str>) -> anyhow::Result<Self> {
        if let Some((_, m)) = crate::config::settings::listen_conflicts(listen).first() {
            anyhow::bail!("--listen: {m}");
        }
        Ok(Self {
            listen: listen.to_vec(),
            admin_listen: admin_listen
                .map(|a| parse_admin_listen(a).map_err(|m| anyhow::anyhow!("--admin-listen: {m}")))
                .transpose()?,
        })
    }

    pub(super) fn apply(&self, cfg: &mut Settings) {
        if !self.listen.is_empty() {
            cfg.listen = self.listen.clone();
        }
        if let Some(a) = self.admin_listen {
            cfg.admin_listen = a;
        }
    }
}

/// `FILE:LINE:COL: key: message` at `key`'s position in the settings file
/// (no position when the file does not set it; no file for the built-in
/// settings, or for a command-line option).
fn key_error(cfg: &Settings, key: &str, diags: &mut Diagnostics, message: String) {
    let pos = cfg
        .positions
        .get(key.trim_start_matches('-').replace('-', "_").as_str());
    let file = match (&cfg.file, key.starts_with("--")) {
        (Some(f), false) => f.as_path(),
        _ => Path::new(""),
    };
    diags.error(file, pos.map(|p| p.0), pos.map(|p| p.1), key, message);
}

/// The overrides kept in the state file `file` (`admin_state_file`):
/// every parse error at its line in the state file; a file that cannot be
/// read, or a directory it could not be saved in, at the settings key.
fn state_file(cfg: &Settings, file: &Path, diags: &mut Diagnostics) -> Option<Overrides> {
    use crate::health::overrides::OverrideError;
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let key = "admin_state_file";
    if !dir.is_dir() {
        let m = format!(
            "the directory {} does not exist: operator overrides could not be saved",
            dir.display()
        );
        key_error(cfg, key, diags, m);
    } else if let Err(e) = nix::unistd::access(
        dir,
        nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK,
    ) {
        let m = format!(
            "cannot write in the directory {} ({}): operator overrides could not be saved",
            dir.display(),
            std::io::Error::from(e)
        );
        key_error(cfg, key, diags, m);
    }
    match Overrides::load(file) {
        Ok(o) => Some(o),
        Err(OverrideError::Invalid(d)) => {
            for e in d.into_vec() {
                diags.push(e);
            }
            None
        }
        // A bad byte: at its line in the state file itself.
        Err(OverrideError::Read {
            file: f,
            cause: cause @ crate::files::ReadError::NotUtf8 { .. },
        }) => {
            let (line, col, message) = cause.in_file("admin state file");
            diags.error(&f, line, col, "", message);
            None
        }
        Err(e) => {
            key_error(cfg, key, diags, e.to_string());
            None
        }
    }
}

/// The admin API's parts prepared before serving: its listen address,
/// token and overrides (errors here refuse start-up).
pub(super) struct AdminSetup {
    pub(super) listen: Option<SocketAddr>,
    /// `admin_listen` came from the command line or the config file (not
    /// the built-in default): failing to bind it is then fatal.
    pub(super) explicit: bool,
    /// The token in force, shared with the admin server and the reloader.
    pub(super) token: TokenCell,
    /// `DNSLB_ADMIN_TOKEN` is set: it wins over the settings, also on reload.
    pub(super) token_from_env: bool,
    pub(super) overrides: Arc<Overrides>,
}

impl AdminSetup {
    /// The admin API's parts, every rule `serve` applies before binding
    /// checked (`dnslb check` runs this too): a listener beyond loopback
    /// needs a token; the state file must be a regular file that parses,
    /// in a directory that exists and is writable (else every override
    /// would fail to save). Each problem goes to `diags`, at the settings
    /// key that caused it; `None` when there was any. `cfg` has the command
    /// line's `--admin-listen` applied already (`listen_arg` says whether
    /// it was given).
    pub(super) fn prepare(
        cfg: &Settings,
        listen_arg: bool,
        diags: &mut Diagnostics,
    ) -> Option<Self> {
        let before = diags.len();
        let listen = cfg.admin_listen;
        let explicit = listen_arg || cfg.positions.contains_key("admin_listen");
        let token_from_env = std::env::var_os(crate::admin::TOKEN_ENV).is_some();
        let token = match crate::admin::effective_token(cfg.admin_token.clone()) {
            Ok(t) => t,
            Err(e) => {
                diags.error(
                    Path::new(""),
                    None,
                    None,
                    crate::admin::TOKEN_ENV,
                    e.to_string(),
                );
                None
            }
        };
        let key = if listen_arg {
            "--admin-listen"
        } else {
            "admin_listen"
        };
        if let Some(a) = listen {
            if let Err(e) = crate::admin::check_listen(a, token.as_ref()) {
                key_error(cfg, key, diags, e.to_string());
            }
            // The admin API's TCP port beside a DNS listener's.
            let mut all = cfg.listen.clone();
            all.push(a);
            if crate::config::settings::listen_conflicts(&all)
                .iter()
                .any(|(i, _)| *i == all.len() - 1)
            {
                let m = format!("{a} is taken by a DNS listen address (listen)");
                key_error(cfg, key, diags, m);
            }
        }
        let overrides = match &cfg.admin_state_file {
            Some(f) => state_file(cfg, f, diags),
            None => Some(Overrides::in_memory()),
        };
        let overrides = overrides.filter(|_| diags.len() == before)?;
        Some(Self {
            listen,
            explicit,
            token: Arc::new(arc_swap::ArcSwapOption::from(token.map(Arc::new))),
            token_from_env,
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
