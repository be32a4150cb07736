//! Wiring: load, serve, reload, shut down. The top layer: it may use
//! everything below, and nothing below uses it.
//!
//! Start-up loads and validates everything into one snapshot; on any error
//! it prints every diagnostic and refuses to start (unless the settings
//! allow partial zones). SIGHUP asks `reload` to rebuild the snapshot off
//! the hot path and swap it in only if it is clean; SIGINT/SIGTERM stop
//! every task through one cancellation token.
//!
//! - `admin`: the admin API's set-up and its command-line clients.
//! - `reload`: the reload sequence and the only snapshot writer.
//! - `signals`: SIGHUP → reload requests; SIGINT/SIGTERM → stop.
//! - `explain`: `dnslb explain`, the engine on a synthetic query.
//! - `memory`: fixes glibc's mmap threshold so freed zone memory goes
//!   back to the system (a re-execution at start-up, `serve` only).

mod admin;
mod explain;
mod memory;
mod reload;
mod signals;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command, ConfigArg, Engine, ExplainArgs, GeoipCommand, ServeArgs};
use crate::config::{LogFormat, Settings, load_settings, load_settings_partial};
use crate::diag::{Diagnostics, Located};
use crate::health::{ProberOptions, spawn_prober};
use crate::server::{tcp, udp};
use crate::snapshot::{SnapshotCell, SnapshotWriter};
use crate::zone::Zone;

/// Entry point of the binary; returns the process exit code.
pub fn main(cli: Cli) -> anyhow::Result<i32> {
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(args) => {
            memory::fix_malloc_threshold();
            serve(args)
        }
        Command::Check(args) => Ok(check(&args)),
        Command::Explain(args) => explain(&args),
        Command::Geoip(cmd) => geoip(cmd),
        Command::Zone(crate::cli::ZoneCommand::Dump(args)) => zone_dump(&args),
        Command::Status(a) => admin::status(&a),
        Command::Drain(a) => admin::force(&a.admin, &a.endpoint, "drain"),
        Command::Undrain(a) => admin::force(&a.admin, &a.endpoint, "auto"),
        Command::Force(a) => admin::force(&a.admin, &a.endpoint, &a.state),
    }
}

fn load_config(arg: &ConfigArg, diags: &mut Diagnostics) -> Option<Settings> {
    match &arg.config {
        Some(p) => load_settings(p, diags),
        None => Some(quickstart_config()),
    }
}

/// The built-in defaults (no `--config`): zones/ on 127.0.0.1:5353, and
/// the project's example GeoIP database when it is there, so the quickstart
/// geolocates offline. A config file gets exactly the database it names.
fn quickstart_config() -> Settings {
    let mut cfg = Settings::default();
    let db = std::path::Path::new(crate::geoip::tool::EXAMPLE_DB);
    if db.is_file() {
        cfg.geoip_database = Some(Located::default_value(db.to_owned()));
    }
    cfg
}

/// `dnslb geoip build|lookup`.
fn geoip(cmd: GeoipCommand) -> anyhow::Result<i32> {
    use crate::geoip::{GeoDb, tool};
    match cmd {
        GeoipCommand::Build { source, out } => Ok(tool::build_command(&source, &out)),
        GeoipCommand::Lookup { ip, db, config } => {
            let path = match db {
                Some(p) => p,
                None => {
                    let mut diags = Diagnostics::new();
                    let Some(cfg) = load_config(&config, &mut diags) else {
                        print_diags(&diags);
                        bail!("invalid configuration ({} error(s))", diags.len());
                    };
                    cfg.geoip_database
                        .map_or_else(|| tool::EXAMPLE_DB.into(), |p| p.value)
                }
            };
            let (text, found) = tool::lookup(&GeoDb::open_undecoded(&path)?, ip);
            print!("{text}");
            Ok(if found { 0 } else { 1 })
        }
    }
}

/// [`load_config`], with bad values left at their defaults, so the zones
/// can still be checked and every error of every file printed in one run
/// (`None` only when the file is unreadable or not TOML). The caller must
/// refuse to serve when `diags` is not empty.
fn load_config_partial(arg: &ConfigArg, diags: &mut Diagnostics) -> Option<Settings> {
    match &arg.config {
        Some(p) => load_settings_partial(p, diags),
        None => Some(quickstart_config()),
    }
}

/// Print every diagnostic, ordered by file then line: warnings first,
/// then errors.
fn print_diags(diags: &Diagnostics) {
    let key = |a: &&crate::diag::Diagnostic| (a.file.clone(), a.line, a.col);
    let mut warnings: Vec<_> = diags.warnings().collect();
    warnings.sort_by_key(key);
    for w in warnings {
        eprintln!("{}", w.as_warning());
    }
    let mut all: Vec<_> = diags.iter().collect();
    all.sort_by_key(key);
    for d in all {
        eprintln!("{d}");
    }
}

/// Log every warning (the server is running: they go where its log goes).
fn log_warnings(diags: &Diagnostics) {
    for w in diags.warnings() {
        tracing::warn!("{}", w.as_warning());
    }
}

/// `dnslb check`: every rule `serve` applies before it binds a socket.
fn check(args: &ConfigArg) -> i32 {
    let mut diags = Diagnostics::new();
    let built = load_config_partial(args, &mut diags).and_then(|cfg| {
        // The admin API's rules: a token off loopback, the state file.
        let _ = admin::AdminSetup::prepare(&cfg, false, &mut diags);
        let snap = crate::snapshot::build(&cfg, None, false, &mut diags)?;
        crate::dns::fit::oversized_answers(&snap, cfg.udp_payload_size, &mut diags);
        Some(snap)
    });
    let ok = built.is_some();
    print_diags(&diags);
    if ok && diags.is_empty() {
        println!("ok");
        0
    } else {
        eprintln!("{} error(s)", diags.len().max(1));
        1
    }
}

/// Changes the log level of the running process (`log_level` on reload).
type SetLevel = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// Start logging to stderr. Returns how to change the level later, unless
/// `RUST_LOG` decides it (then it stays as the environment says).
fn init_tracing(cfg: &Settings) -> Option<SetLevel> {
    use tracing_subscriber::EnvFilter;
    let from_env = EnvFilter::try_from_default_env().ok();
    let fixed = from_env.is_some();
    let filter = from_env.unwrap_or_else(|| EnvFilter::new(&cfg.log_level));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    macro_rules! start {
        ($b:expr) => {{
            let b = $b.with_filter_reloading();
            let handle = b.reload_handle();
            let set: SetLevel = Box::new(move |level: &str| {
                handle
                    .reload(EnvFilter::new(level))
                    .map_err(|e| e.to_string())
            });
            b.try_init().ok().map(|()| set)
        }};
    }
    let set = match cfg.log_format {
        LogFormat::Text => start!(b),
        LogFormat::Json => start!(b.json()),
    };
    set.filter(|_| !fixed)
}

/// [`print_diags`], or with `log_format = "json"` each diagnostic as one
/// JSON log line (target `dnslb::config`; fields `file`, `line`, `col`,
/// `key` beside the message), so a log pipeline that parses every line
/// gets start-up errors too.
fn report_diags(diags: &Diagnostics, json: bool) {
    if !json {
        print_diags(diags);
        return;
    }
    let key = |a: &&crate::diag::Diagnostic| (a.file.clone(), a.line, a.col);
    let mut warnings: Vec<_> = diags.warnings().collect();
    warnings.sort_by_key(key);
    for d in warnings {
        tracing::warn!(target: "dnslb::config", file = %d.file.display(), line = d.line, col = d.col, key = %d.key, "{d}");
    }
    let mut all: Vec<_> = diags.iter().collect();
    all.sort_by_key(key);
    for d in all {
        tracing::error!(target: "dnslb::config", file = %d.file.display(), line = d.line, col = d.col, key = %d.key, "{d}");
    }
}

/// `dnslb serve`. Once the settings file is read, logging starts in its
/// `log_format`: with `json`, every start-up error (each diagnostic, and
/// the error that ends start-up) is a JSON log line, not plain text.
fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    let mut json = false;
    match serve_logged(args, &mut json) {
        Err(e) if json => {
            tracing::error!(target: "dnslb", "{e:#}");
            Ok(1)
        }
        r => r,
    }
}

fn serve_logged(args: ServeArgs, json: &mut bool) -> anyhow::Result<i32> {
    let mut diags = Diagnostics::new();
    let cli = admin::CliSettings::new(&args.listen, args.admin_listen.as_deref())?;
    let Some(mut cfg) = load_config_partial(&args.config, &mut diags) else {
        print_diags(&diags);
        bail!("invalid configuration ({} error(s))", diags.len());
    };
    let set_level = init_tracing(&cfg);
    *json = cfg.log_format == LogFormat::Json;
    cli.apply(&mut cfg);
    let admin = admin::AdminSetup::prepare(&cfg, args.admin_listen.is_some(), &mut diags);
    let Some(admin) = admin.filter(|_| diags.is_empty()) else {
        // Still read the zones, so one start-up prints every error.
        let _ = crate::snapshot::build(&cfg, None, false, &mut diags);
        report_diags(&diags, *json);
        bail!("invalid configuration ({} error(s))", diags.len());
    };
    check_probe_source(&cfg)?;
    let started = std::time::Instant::now();
    let snap = crate::snapshot::build(&cfg, None, cfg.allow_partial_zones, &mut diags);
    if let Some(snap) = &snap {
        crate::dns::fit::oversized_answers(snap, cfg.udp_payload_size, &mut diags);
    }
    if diags.is_empty() {
        log_warnings(&diags);
    } else {
        report_diags(&diags, *json);
    }
    let Some(mut snap) = snap else {
        bail!(
            "refusing to start: {} error(s) in {} (set allow_partial_zones = true to serve the zones that load)",
            diags.len(),
            cfg.zones_dir.value.display()
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
        names = snap.zones.zones().iter().map(Zone::node_count).sum::<usize>(),
        zone_bytes = snap.zones.zones().iter().map(Zone::heap_bytes).sum::<usize>(),
        lb_names = snap.lb.len(),
        targets = snap.targets.len(),
        geoip = %snap.geoip.as_deref().map_or_else(|| "none".to_owned(), |g| g.to_string()),
        ms = started.elapsed().as_millis() as u64,
        dir = %cfg.zones_dir.value.display(),
        "loaded"
    );
    let (_, writer) = SnapshotCell::new(snap);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("dnslb")
        .build()
        .context("starting the async runtime")?;
    metrics
        .reloads
        .report(reload::startup_report(&writer.cell().load()));
    let parts = Parts {
        cli,
        writer,
        engine: args.engine,
        admin,
        metrics,
        set_level,
    };
    let served = rt.block_on(run(cfg, parts));
    // Dropping the runtime would wait for every blocking task: a reload
    // abandoned at shutdown may still be reading a file. Give it a moment
    // to notice it was cancelled, then leave without it.
    rt.shutdown_timeout(SHUTDOWN_GRACE);
    served?;
    Ok(0)
}

/// How long shutdown waits for blocking work still running (a reload's
/// build, told to stop) before the process exits anyway.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// What `serve` prepared for [`run`].
struct Parts {
    cli: admin::CliSettings,
    /// Goes to the reloader.
    writer: SnapshotWriter,
    engine: Engine,
    admin: admin::AdminSetup,
    metrics: Arc<crate::metrics::Metrics>,
    set_level: Option<SetLevel>,
}

/// Serve until SIGINT/SIGTERM, then stop accepting, answer what is in
/// flight, stop the probes, and return.
async fn run(cfg: Settings, parts: Parts) -> anyhow::Result<()> {
    let Parts {
        cli,
        writer,
        engine,
        admin,
        metrics,
        set_level,
    } = parts;
    // Signal handlers first: a HUP or TERM right after "listening on" must
    // find them installed (the default action would kill the process).
    let (hup, mut stop_signal) = signals::Signals::install()?.split();
    let shared = writer.cell().clone();
    let cancel = CancellationToken::new();
    let admin_listener = admin.bind().await?;
    // Watches exist before "listening on": every change after that reloads.
    let first_watch = reload::WatchSet::of(&cfg, &shared.load());
    let armed = watch::arm(&first_watch);
    let stop = Arc::new(AtomicBool::new(false));
    let mut udp_threads = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let rrl = rrl_from(&cfg);
    let cookies = cookies_from(&cfg, &mut tasks, &cancel);
    let defenses = crate::server::Defenses {
        rrl: rrl.clone(),
        cookies: cookies.clone(),
    };
    if rrl.is_some() && engine == Engine::Hickory {
        tracing::warn!("[rrl] does not apply with --engine hickory");
    }
    let mut hickory = (engine == Engine::Hickory).then(|| {
        hickory_server::Server::new(crate::server::hickory::Handler {
            snap: shared.clone(),
            cookies: cookies.clone(),
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
            udp_threads.extend(udp::start(
                udp_socks,
                shared.clone(),
                defenses.clone(),
                stop.clone(),
            )?);
            let limits = tcp::TcpLimits {
                idle_timeout: cfg.tcp_idle_timeout,
                write_timeout: cfg.tcp_write_timeout,
                max_connections: cfg.tcp_max_connections,
                max_connections_per_client: cfg.tcp_max_connections_per_client,
            };
            tasks.spawn(tcp::serve(
                tcp_listener,
                shared.clone(),
                limits,
                cookies.clone(),
                cancel.clone(),
            ));
        }
        tracing::info!("listening on udp {bound_udp}");
        tracing::info!("listening on tcp {tcp_addr}");
    }

    // Cluster mode: the fleet the prober decides with, filled by the
    // store client below.
    let fleet = cfg
        .cluster
        .as_ref()
        .map(|c| Arc::new(crate::health::Fleet::new(c.node.clone(), c.quorum)));
    // Probing starts now, for every target, not on first query.
    let first = shared.load_full();
    let prober = Arc::new(spawn_prober(
        first.targets.probe_targets(),
        first.health.clone(),
        cancel.child_token(),
        ProberOptions {
            probe: Arc::new(crate::health::NetProbe::with_source(cfg.probe_source)),
            fleet: fleet.clone(),
            ..ProberOptions::default()
        },
    ));
    drop(first);
    let store = start_cluster(&cfg, fleet.as_ref(), &admin, &shared, &mut tasks, &cancel);
    let ready = Arc::new(AtomicBool::new(true));
    let trigger = reload::Trigger::default();
    if let Some(listener) = admin_listener {
        let state = crate::admin::AdminState::new(
            shared.clone(),
            prober.clone(),
            admin.overrides.clone(),
            metrics.clone(),
            ready.clone(),
            admin.token.clone(),
        );
        let mut state = state;
        let t = trigger.clone();
        state.reload = Some(Arc::new(move || t.request(reload::Cause::Admin)));
        state.fleet = fleet.clone();
        state.store = store;
        state.explain = Some(Arc::new(|snap, q| {
            let qtype = q.qtype.as_deref().unwrap_or("A");
            explain::explain(snap, &q.name, qtype, q.client, q.ecs).map_err(|e| format!("{e:#}"))
        }));
        let token = cancel.child_token();
        tasks.spawn(async move {
            if let Err(e) = crate::admin::serve(listener, state, token).await {
                tracing::error!(error = %e, "admin API stopped");
            }
        });
    }
    let (watched, watch_set) = tokio::sync::watch::channel(first_watch);
    let token_required = admin.listen.is_some_and(|a| !a.ip().is_loopback());
    let reloader = reload::Reloader {
        settings: cfg.clone(),
        started: cfg.clone(),
        cli,
        writer,
        prober: prober.clone(),
        overrides: admin.overrides.clone(),
        metrics: metrics.clone(),
        live: reload::Live {
            log_level: set_level,
            token: admin.token.clone(),
            token_from_env: admin.token_from_env,
            token_required,
        },
        watched,
        time_limit: reload::RELOAD_TIME_LIMIT,
        stuck: None,
    };
    reloader.publish_watch(&shared.load());
    tasks.spawn(reload::run(reloader, trigger.clone(), cancel.clone()));
    tasks.spawn(watch::run(
        armed,
        watch_set,
        trigger.clone(),
        cancel.clone(),
    ));
    tasks.spawn(hup.forward(trigger, cancel.clone()));
    stop_signal.wait().await;
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
    if let Some(r) = &rrl {
        let c = r.stats.counts();
        tracing::info!(
            dropped = c.dropped.iter().sum::<u64>(),
            slipped = c.slipped.iter().sum::<u64>(),
            cookie_exempt = c.cookie_exempt,
            "response rate limiting totals"
        );
    }
    Ok(())
}

/// Start cluster mode's store client when `[cluster]` is set; the override
/// store the admin API writes through.
#[cfg(feature = "cluster")]
fn start_cluster(
    cfg: &Settings,
    fleet: Option<&Arc<crate::health::Fleet>>,
    admin: &admin::AdminSetup,
    shared: &crate::snapshot::SharedSnapshot,
    tasks: &mut tokio::task::JoinSet<()>,
    cancel: &CancellationToken,
) -> Option<Arc<dyn crate::health::overrides::OverrideStore>> {
    let (c, fleet) = (cfg.cluster.as_ref()?, fleet?);
    let snap = shared.clone();
    let apply: crate::cluster::ApplyOverrides =
        Arc::new(move |l| crate::admin::endpoints::apply_overrides(l, &snap.load()));
    tracing::info!(
        target: crate::cluster::LOG_TARGET,
        node = %c.node,
        cluster = %c.name,
        store = %c.endpoints.join(","),
        healthy_above = c.quorum.fraction(),
        "cluster mode: sharing observations and overrides through etcd"
    );
    let handle = crate::cluster::spawn(
        c.clone(),
        fleet.clone(),
        admin.overrides.clone(),
        apply,
        cancel.child_token(),
        tasks,
    );
    Some(handle)
}

/// Without the `cluster` feature `[cluster]` is refused when the settings
/// are read, so there is nothing to start.
#[cfg(not(feature = "cluster"))]
fn start_cluster(
    _cfg: &Settings,
    _fleet: Option<&Arc<crate::health::Fleet>>,
    _admin: &admin::AdminSetup,
    _shared: &crate::snapshot::SharedSnapshot,
    _tasks: &mut tokio::task::JoinSet<()>,
    _cancel: &CancellationToken,
) -> Option<Arc<dyn crate::health::overrides::OverrideStore>> {
    None
}

/// `probe_source_ipv4` / `probe_source_ipv6` must be addresses of this
/// host: binding one (UDP, port 0: no packet is sent) proves it.
fn check_probe_source(cfg: &Settings) -> anyhow::Result<()> {
    let s = cfg.probe_source;
    let all = [
        ("probe_source_ipv4", s.ipv4.map(std::net::IpAddr::V4)),
        ("probe_source_ipv6", s.ipv6.map(std::net::IpAddr::V6)),
    ];
    for (key, addr) in all {
        let Some(a) = addr else { continue };
        if let Err(e) = std::net::UdpSocket::bind((a, 0)) {
            let at = match (&cfg.file, cfg.positions.get(key)) {
                (Some(f), Some((l, c))) => format!("{}:{l}:{c}: ", f.display()),
                (Some(f), None) => format!("{}: ", f.display()),
                _ => String::new(),
            };
            bail!("{at}{key}: {a} is not an address of this host: {e}");
        }
    }
    Ok(())
}

/// The cookie jar `[cookies]` asks for, if any. A random secret (no
/// configured one) is replaced every `secret_rotation` by a task in
/// `tasks`, the previous one staying accepted (RFC 9018 §5).
fn cookies_from(
    cfg: &Settings,
    tasks: &mut tokio::task::JoinSet<()>,
    cancel: &CancellationToken,
) -> Option<Arc<crate::dns::cookie::CookieJar>> {
    use crate::dns::cookie::{CookieJar, Secrets};
    let c = &cfg.cookies;
    if !c.enabled {
        return None;
    }
    let random = c.secrets.is_empty();
    let secrets = match c.secrets.as_slice() {
        [] => Secrets {
            current: rand::random(),
            previous: None,
        },
        [current, rest @ ..] => Secrets {
            current: *current,
            previous: rest.first().copied(),
        },
    };
    let jar = Arc::new(CookieJar::new(secrets, c.require));
    if random {
        let (j, every, cancel) = (jar.clone(), c.secret_rotation, cancel.clone());
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => j.rotate(rand::random()),
                    _ = cancel.cancelled() => return,
                }
            }
        });
    }
    Some(jar)
}

/// The UDP rate limiter `[rrl]` asks for, if any.
fn rrl_from(cfg: &Settings) -> Option<Arc<crate::dns::rrl::Rrl>> {
    use crate::dns::rrl::{Params, Rrl};
    let r = &cfg.rrl;
    if r.enabled() {
        tracing::info!(
            responses_per_second = r.responses_per_second,
            nodata_per_second = r.nodata_per_second,
            nxdomains_per_second = r.nxdomains_per_second,
            referrals_per_second = r.referrals_per_second,
            errors_per_second = r.errors_per_second,
            window = r.window,
            slip = r.slip,
            "response rate limiting on (UDP)"
        );
    }
    r.enabled().then(|| {
        Arc::new(Rrl::new(
            Params {
                rates: [
                    r.responses_per_second,
                    r.nodata_per_second,
                    r.nxdomains_per_second,
                    r.referrals_per_second,
                    r.errors_per_second,
                ],
                window: r.window,
                slip: r.slip,
                ipv4_prefix: r.ipv4_prefix_length,
                ipv6_prefix: r.ipv6_prefix_length,
                table_size: r.max_table_size,
            },
            rand::random(),
        ))
    })
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

/// `dnslb zone dump FILE|ORIGIN`: load one zone file as `serve` would
/// (`$INCLUDE` relative to the zones directory, or to FILE's directory when
/// no config is given) and print it (`zone::dump`).
fn zone_dump(args: &crate::cli::ZoneDumpArgs) -> anyhow::Result<i32> {
    use crate::zone::{LoadOptions, load_zone_file, name};
    let mut diags = Diagnostics::new();
    let file = std::path::PathBuf::from(&args.zone);
    let (path, root) = if args.config.config.is_none() && file.is_file() {
        let root = file
            .parent()
            .map_or_else(|| ".".into(), |p| p.to_path_buf());
        (file, root)
    } else {
        let Some(cfg) = load_config(&args.config, &mut diags) else {
            print_diags(&diags);
            return Ok(1);
        };
        let dir = &cfg.zones_dir.value;
        let path = if file.is_file() {
            file
        } else {
            dir.join(format!("{}.zone", args.zone.trim_end_matches('.')))
        };
        (path, dir.clone())
    };
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let origin_text = args.origin.clone().unwrap_or(stem);
    let origin = name::parse_owner(
        &format!("{}.", origin_text.trim_end_matches('.')),
        &hickory_proto::rr::Name::root(),
    )
    .map_err(|e| anyhow::anyhow!("origin {origin_text:?} {e}"))?;
    let opts = LoadOptions {
        include_root: Some(root),
        ..LoadOptions::default()
    };
    let text = match crate::zone::load::read_regular_file(&path, opts.limits.max_bytes) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: cannot read zone file: {e}", path.display());
            return Ok(1);
        }
    };
    let zone = load_zone_file(&path, text, &origin, &opts, &mut diags);
    print_diags(&diags);
    let Some(zone) = zone else {
        eprintln!("{} error(s)", diags.len().max(1));
        return Ok(1);
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    print!("{}", crate::zone::dump::dump(&zone, now));
    Ok(0)
}

fn explain(args: &ExplainArgs) -> anyhow::Result<i32> {
    if args.live {
        let api = crate::admin::client::Endpoint::resolve(&crate::admin::client::Choices {
            admin: args.admin.clone(),
            token: args.token.clone(),
            token_file: args.token_file.clone(),
            config: args.config.config.clone(),
        })?;
        let text = api.explain(&args.name, &args.qtype, args.client, args.ecs)?;
        println!(
            ";; live: the snapshot, health and overrides of the server at {}",
            api.base
        );
        print!("{text}");
        return Ok(0);
    }
    let mut diags = Diagnostics::new();
    let snap = load_config(&args.config, &mut diags)
        .and_then(|cfg| crate::snapshot::build(&cfg, None, false, &mut diags));
    let Some(snap) = snap else {
        print_diags(&diags);
        bail!(
            "cannot explain: the configuration has {} error(s)",
            diags.len()
        );
    };
    let text = explain::explain(&snap, &args.name, &args.qtype, args.client, args.ecs)?;
    print!("{text}");
    Ok(0)
}
