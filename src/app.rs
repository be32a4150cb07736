//! Wiring: load, serve, reload, shut down.
//!
//! Start-up loads and validates everything into one [`Snapshot`]; on any
//! error it prints every diagnostic and refuses to start (unless the config
//! allows partial zones). SIGHUP rebuilds the snapshot off the hot path and
//! swaps it in only if it is clean; SIGINT/SIGTERM stop every task through
//! one cancellation token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, ConfigArg, Engine, ExplainArgs, ServeArgs};
use crate::config::{Diagnostics, LogFormat, ServerConfig, load_server_config};
use crate::health::{HealthTable, Prober, ProberOptions, spawn_prober};
use crate::server::{tcp, udp};
use crate::snapshot::SharedSnapshot;

/// Entry point of the binary; returns the process exit code.
pub fn main(cli: Cli) -> anyhow::Result<i32> {
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(args) => serve(args),
        Command::Check(args) => Ok(check(&args)),
        Command::Explain(args) => explain(&args),
        Command::Status(a) => admin_status(&a),
        Command::Drain(a) => admin_force(&a.admin, &a.endpoint, "drain"),
        Command::Undrain(a) => admin_force(&a.admin, &a.endpoint, "auto"),
        Command::Force(a) => admin_force(&a.admin, &a.endpoint, &a.state),
    }
}

fn admin_endpoint(a: &crate::cli::AdminArgs) -> anyhow::Result<crate::admin::client::Endpoint> {
    crate::admin::client::Endpoint::resolve(&crate::admin::client::Choices {
        admin: a.admin.clone(),
        token: a.token.clone(),
        token_file: a.token_file.clone(),
        config: a.config.clone(),
    })
}

/// `dnslb status`: the running server's `/status`, as text or JSON.
fn admin_status(a: &crate::cli::StatusArgs) -> anyhow::Result<i32> {
    let v = admin_endpoint(&a.admin)?.status()?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", crate::admin::client::render_status(&v));
    }
    Ok(0)
}

/// `dnslb drain|undrain|force`: one `POST /overrides`.
fn admin_force(a: &crate::cli::AdminArgs, endpoint: &str, state: &str) -> anyhow::Result<i32> {
    let v = admin_endpoint(a)?.force(endpoint, state)?;
    println!("{}", crate::admin::client::describe_change(&v));
    Ok(0)
}

/// The admin API's parts prepared before serving: its listen address,
/// token and overrides (errors here refuse start-up).
struct AdminSetup {
    listen: Option<SocketAddr>,
    /// `admin_listen` came from the command line or the config file (not
    /// the built-in default): failing to bind it is then fatal.
    explicit: bool,
    token: Option<crate::config::server::AdminToken>,
    overrides: Arc<crate::health::Overrides>,
}

impl AdminSetup {
    fn prepare(cfg: &ServerConfig, listen_arg: Option<&str>) -> anyhow::Result<Self> {
        let listen = match listen_arg {
            Some(a) => crate::config::server::parse_admin_listen(a)
                .map_err(|m| anyhow::anyhow!("--admin-listen: {m}"))?,
            None => cfg.admin_listen,
        };
        let explicit = listen_arg.is_some() || cfg.key_pos.contains_key("admin_listen");
        let token = crate::admin::effective_token(cfg.admin_token.clone())?;
        if let Some(a) = listen {
            crate::admin::check_listen(a, token.as_ref())?;
        }
        let overrides = match &cfg.admin_state_file {
            Some(f) => crate::health::Overrides::load(f)?,
            None => crate::health::Overrides::in_memory(),
        };
        Ok(Self {
            listen,
            explicit,
            token,
            overrides: Arc::new(overrides),
        })
    }
}

fn load_config(arg: &ConfigArg, diags: &mut Diagnostics) -> Option<ServerConfig> {
    match &arg.config {
        Some(p) => load_server_config(p, diags),
        None => Some(ServerConfig::default()),
    }
}

/// Print every diagnostic, ordered by file then line.
fn print_diags(diags: &Diagnostics) {
    let mut all: Vec<_> = diags.iter().collect();
    all.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    for d in all {
        eprintln!("{d}");
    }
}

fn check(args: &ConfigArg) -> i32 {
    let mut diags = Diagnostics::new();
    let ok = load_config(args, &mut diags)
        .and_then(|cfg| crate::snapshot::build(&cfg, false, &mut diags))
        .is_some();
    print_diags(&diags);
    if ok && diags.is_empty() {
        println!("ok");
        0
    } else {
        eprintln!("{} error(s)", diags.len().max(1));
        1
    }
}

fn init_tracing(cfg: &ServerConfig) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.log_level));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let _ = match cfg.log_format {
        LogFormat::Text => b.try_init(),
        LogFormat::Json => b.json().try_init(),
    };
}

fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    let mut diags = Diagnostics::new();
    let Some(mut cfg) = load_config(&args.config, &mut diags) else {
        print_diags(&diags);
        bail!("invalid configuration ({} error(s))", diags.len());
    };
    if !args.listen.is_empty() {
        cfg.listen = args.listen.clone();
    }
    init_tracing(&cfg);
    let admin = AdminSetup::prepare(&cfg, args.admin_listen.as_deref())?;
    let started = std::time::Instant::now();
    let snap = crate::snapshot::build(&cfg, cfg.allow_partial_zones, &mut diags);
    if !diags.is_empty() {
        print_diags(&diags);
    }
    let Some(mut snap) = snap else {
        bail!(
            "refusing to start: {} error(s) in {} (set allow_partial_zones = true to serve the zones that load)",
            diags.len(),
            cfg.zones_dir.display()
        );
    };
    let metrics = Arc::new(crate::metrics::Metrics::new());
    metrics.adopt(&mut snap.counters);
    metrics.reloads.success();
    admin
        .overrides
        .with_list(|l| crate::admin::endpoints::apply_overrides(l, &snap));
    if !admin.overrides.list().is_empty() {
        tracing::warn!(
            overrides = admin.overrides.list().len(),
            file = %admin.overrides.file().map_or(String::new(), |f| f.display().to_string()),
            "operator overrides in force from the admin state file"
        );
    }
    tracing::info!(
        zones = snap.zones.len(),
        lb_names = snap.lb.len(),
        targets = snap.targets.len(),
        ms = started.elapsed().as_millis() as u64,
        dir = %cfg.zones_dir.display(),
        "loaded"
    );
    let shared: SharedSnapshot = Arc::new(ArcSwap::from_pointee(snap));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("dnslb")
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run(cfg, shared, args.engine, admin, metrics))?;
    Ok(0)
}

/// Serve until SIGINT/SIGTERM.
async fn run(
    cfg: ServerConfig,
    shared: SharedSnapshot,
    engine: Engine,
    admin: AdminSetup,
    metrics: Arc<crate::metrics::Metrics>,
) -> anyhow::Result<()> {
    // Signal handlers first: a HUP or TERM right after "listening on" must
    // find them installed (the default action would kill the process).
    let signals = Signals::install()?;
    let cancel = CancellationToken::new();
    // The admin listener binds before DNS so a taken port fails start-up
    // before anything answers.
    // A configured address that cannot be bound stops start-up; the
    // built-in default (127.0.0.1:8053) taken by something else only costs
    // the admin API, not DNS service.
    let admin_listener = match admin.listen {
        Some(a) => match tokio::net::TcpListener::bind(a).await {
            Ok(l) => {
                tracing::info!("admin listening on http {}", l.local_addr()?);
                if admin.overrides.file().is_none() {
                    tracing::info!(
                        "admin_state_file is not set: operator overrides last until exit"
                    );
                }
                Some(l)
            }
            Err(e) if !admin.explicit => {
                tracing::warn!(
                    error = %e,
                    "admin API off: cannot bind the default admin address {a} (set admin_listen to use another)"
                );
                None
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("binding the admin API on {a} (set admin_listen = \"\" to turn it off)")
                });
            }
        },
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let mut udp_threads = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut hickory = (engine == Engine::Hickory).then(|| {
        hickory_server::Server::new(crate::server::hickory::Handler {
            snap: shared.clone(),
        })
    });
    for &addr in &cfg.listen {
        let workers = if hickory.is_some() {
            1
        } else {
            cfg.udp_workers
        };
        let (tcp_listener, udp_socks) = bind_pair(addr, workers)?;
        let tcp_addr = tcp_listener.local_addr()?;
        let bound_udp = udp_socks[0].local_addr()?;
        if let Some(server) = hickory.as_mut() {
            for sock in udp_socks {
                sock.set_read_timeout(None)?;
                sock.set_nonblocking(true)?;
                server.register_socket(tokio::net::UdpSocket::from_std(sock)?);
            }
            server.register_listener(tcp_listener, cfg.tcp_idle_timeout, 65535);
        } else {
            udp_threads.extend(udp::start(udp_socks, shared.clone(), stop.clone())?);
            let limits = tcp::TcpLimits {
                idle_timeout: cfg.tcp_idle_timeout,
                max_connections: cfg.tcp_max_connections,
            };
            tasks.spawn(tcp::serve(
                tcp_listener,
                shared.clone(),
                limits,
                cancel.clone(),
            ));
        }
        tracing::info!("listening on udp {bound_udp}");
        tracing::info!("listening on tcp {tcp_addr}");
    }

    // Probing starts now, for every target, not on first query.
    let first = shared.load_full();
    let prober = Arc::new(spawn_prober(
        first.targets.to_targets(),
        first.health.clone(),
        cancel.child_token(),
        ProberOptions::default(),
    ));
    drop(first);
    let ready = Arc::new(AtomicBool::new(true));
    if let Some(listener) = admin_listener {
        let state = crate::admin::AdminState::new(
            shared.clone(),
            prober.clone(),
            admin.overrides.clone(),
            metrics.clone(),
            ready.clone(),
            admin.token.clone(),
        );
        let token = cancel.child_token();
        tasks.spawn(async move {
            if let Err(e) = crate::admin::serve(listener, state, token).await {
                tracing::error!(error = %e, "admin API stopped");
            }
        });
    }
    let Signals {
        hup,
        mut stop_signals,
    } = signals;
    tasks.spawn(reload_on_hup(
        hup,
        cfg.clone(),
        shared.clone(),
        prober.clone(),
        cancel.clone(),
        (admin.overrides.clone(), metrics.clone()),
    ));
    stop_signals.wait().await;
    tracing::info!("shutting down");
    ready.store(false, Ordering::Relaxed);
    cancel.cancel();
    stop.store(true, Ordering::Relaxed);
    if let Some(mut server) = hickory {
        let _ = server.shutdown_gracefully().await;
    }
    while tasks.join_next().await.is_some() {}
    if let Ok(p) = Arc::try_unwrap(prober)
        && let Err(e) = p.join().await
    {
        tracing::warn!(error = %e, "health prober did not stop cleanly");
    }
    for h in udp_threads {
        let _ = tokio::task::spawn_blocking(move || h.join()).await;
    }
    Ok(())
}

/// Bind TCP and UDP on one address. With port 0, TCP picks a free port and
/// UDP takes the same number; if another socket holds that UDP port, try a
/// new pair rather than fail.
fn bind_pair(
    addr: SocketAddr,
    udp_workers: usize,
) -> anyhow::Result<(tokio::net::TcpListener, Vec<std::net::UdpSocket>)> {
    let mut attempts = 0;
    loop {
        let tcp_listener = tcp::bind(addr).with_context(|| format!("binding tcp {addr}"))?;
        let udp_addr = SocketAddr::new(addr.ip(), tcp_listener.local_addr()?.port());
        match udp::bind(udp_addr, udp_workers) {
            Ok(socks) => return Ok((tcp_listener, socks)),
            Err(e)
                if addr.port() == 0
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && attempts < 50 =>
            {
                attempts += 1;
            }
            Err(e) => return Err(e).with_context(|| format!("binding udp {udp_addr}")),
        }
    }
}

/// The process's signal streams, registered before serving starts.
struct Signals {
    hup: Hup,
    stop_signals: StopSignals,
}

#[cfg(unix)]
type Hup = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type Hup = ();

#[cfg(unix)]
struct StopSignals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(not(unix))]
struct StopSignals;

impl Signals {
    #[cfg(unix)]
    fn install() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            hup: signal(SignalKind::hangup()).context("installing the SIGHUP handler")?,
            stop_signals: StopSignals {
                int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
                term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            },
        })
    }

    #[cfg(not(unix))]
    fn install() -> anyhow::Result<Self> {
        Ok(Self {
            hup: (),
            stop_signals: StopSignals,
        })
    }
}

impl StopSignals {
    #[cfg(unix)]
    async fn wait(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }

    #[cfg(not(unix))]
    async fn wait(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// SIGHUP: rebuild the snapshot off the hot path; swap only a clean one.
#[cfg(unix)]
async fn reload_on_hup(
    mut hup: Hup,
    cfg: ServerConfig,
    shared: SharedSnapshot,
    prober: Arc<Prober>,
    cancel: CancellationToken,
    (overrides, metrics): (Arc<crate::health::Overrides>, Arc<crate::metrics::Metrics>),
) {
    loop {
        tokio::select! {
            _ = hup.recv() => {}
            _ = cancel.cancelled() => return,
        }
        let c = cfg.clone();
        let started = std::time::Instant::now();
        let built = tokio::task::spawn_blocking(move || {
            let mut d = Diagnostics::new();
            let s = crate::snapshot::build(&c, false, &mut d);
            (s, d)
        })
        .await;
        match built {
            Ok((Some(mut snap), _)) => {
                let build_ms = started.elapsed().as_millis() as u64;
                // Health carries over by target key; the prober rewrites
                // surviving cells from its own state, then writes only the
                // new table, so the swap follows at once.
                let old = shared.load_full();
                snap.health = Arc::new(HealthTable::carry_over(
                    &old.health,
                    &old.targets,
                    snap.targets.iter(),
                ));
                if let Err(e) = prober
                    .reconcile(snap.targets.to_targets(), snap.health.clone())
                    .await
                {
                    metrics.reloads.failure();
                    tracing::error!(error = %e, "health prober is gone; reload skipped");
                    continue;
                }
                let zones = snap.zones.len();
                metrics.adopt(&mut snap.counters);
                // Under the overrides lock, so a change made meanwhile is
                // applied to this table too.
                overrides.with_list(|l| {
                    crate::admin::endpoints::apply_overrides(l, &snap);
                    shared.store(Arc::new(snap));
                });
                metrics.reloads.success();
                tracing::info!(
                    zones,
                    lb_names = shared.load().lb.len(),
                    build_ms,
                    ms = started.elapsed().as_millis() as u64,
                    "reloaded"
                );
            }
            Ok((None, diags)) => {
                metrics.reloads.failure();
                for d in diags.iter() {
                    tracing::error!("{d}");
                }
                tracing::error!(
                    errors = diags.len(),
                    "reload failed; still serving the previous configuration"
                );
            }
            Err(e) => {
                metrics.reloads.failure();
                tracing::error!(error = %e, "reload task failed");
            }
        }
    }
}

#[cfg(not(unix))]
async fn reload_on_hup(
    _: Hup,
    _: ServerConfig,
    _: SharedSnapshot,
    _: Arc<Prober>,
    cancel: CancellationToken,
    _: (Arc<crate::health::Overrides>, Arc<crate::metrics::Metrics>),
) {
    cancel.cancelled().await;
}

fn explain(args: &ExplainArgs) -> anyhow::Result<i32> {
    let mut diags = Diagnostics::new();
    let snap = load_config(&args.config, &mut diags)
        .and_then(|cfg| crate::snapshot::build(&cfg, false, &mut diags));
    let Some(snap) = snap else {
        print_diags(&diags);
        bail!(
            "cannot explain: the configuration has {} error(s)",
            diags.len()
        );
    };
    let text = crate::explain::explain(&snap, &args.name, &args.qtype, args.client, args.ecs)?;
    print!("{text}");
    Ok(0)
}
