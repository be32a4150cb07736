//! The server settings file (`dnslb.toml`): where to listen, where the
//! zones are, and transport limits. Every key is optional; defaults serve
//! `zones/` on 127.0.0.1:5353. The shipped `dnslb.toml` documents each key.
//!
//! [`SettingsSpec`] is the file format, read key by key
//! ([`crate::config::fields`]) so an unknown key does not hide the bad
//! values beside it; [`Settings`] is the validated result.
//! Paths that are only opened later (the zones directory, the GeoIP
//! database) keep their key's position ([`Located`]), so the snapshot
//! builder can point an error at the line that named them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::fields::{Cx, Fields};
use super::values::{float_in, int_in, one_of};
use crate::diag::{Diagnostics, LineIndex, Located};
use crate::words::Words;

/// File format: `dnslb.toml`. Every key optional.
#[derive(Debug, Default)]
pub struct SettingsSpec {
    pub listen: Option<Spanned<Vec<Spanned<String>>>>,
    pub zones_dir: Option<Spanned<String>>,
    pub geoip_database: Option<Spanned<String>>,
    pub allow_partial_zones: Option<Spanned<bool>>,
    pub udp_workers: Option<Spanned<i64>>,
    pub udp_payload_size: Option<Spanned<i64>>,
    pub tcp_idle_timeout: Option<Spanned<f64>>,
    pub tcp_max_connections: Option<Spanned<i64>>,
    pub tcp_max_connections_per_client: Option<Spanned<i64>>,
    pub tcp_write_timeout: Option<Spanned<f64>>,
    pub log_format: Option<Spanned<String>>,
    pub log_level: Option<Spanned<String>>,
    pub rrl: Option<super::rrl::RrlSpec>,
    pub cookies: Option<super::cookies::CookiesSpec>,
    pub admin_listen: Option<Spanned<String>>,
    pub admin_token: Option<Spanned<String>>,
    pub admin_token_file: Option<Spanned<String>>,
    pub admin_state_file: Option<Spanned<String>>,
    pub reload_on_change: Option<Spanned<bool>>,
    pub reload_delay: Option<Spanned<f64>>,
    pub probe_source_ipv4: Option<Spanned<String>>,
    pub probe_source_ipv6: Option<Spanned<String>>,
    pub cluster: Option<super::cluster::ClusterSpec>,
}

/// The admin API's bearer token. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    /// Shortest token accepted: a guessable token is no protection.
    pub const MIN_LEN: usize = 16;

    /// Validate `s` (trimmed of surrounding whitespace): at least
    /// [`AdminToken::MIN_LEN`] visible ASCII characters, no spaces, so it
    /// travels unchanged in an `Authorization: Bearer` header.
    pub fn new(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.len() < Self::MIN_LEN {
            return Err(format!(
                "the token must be at least {} characters, got {}",
                Self::MIN_LEN,
                t.len()
            ));
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("the token may only hold visible ASCII characters (no spaces)".into());
        }
        Ok(Self(t.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl SettingsSpec {
    /// Read the root table key by key; bad values and unknown keys are
    /// reported into `cx` and read as absent.
    fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let spec = Self {
            listen: f.opt(cx, "listen"),
            zones_dir: f.opt(cx, "zones_dir"),
            geoip_database: f.opt(cx, "geoip_database"),
            allow_partial_zones: f.opt(cx, "allow_partial_zones"),
            udp_workers: f.opt(cx, "udp_workers"),
            udp_payload_size: f.opt(cx, "udp_payload_size"),
            tcp_idle_timeout: f.opt(cx, "tcp_idle_timeout"),
            tcp_max_connections: f.opt(cx, "tcp_max_connections"),
            tcp_max_connections_per_client: f.opt(cx, "tcp_max_connections_per_client"),
            tcp_write_timeout: f.opt(cx, "tcp_write_timeout"),
            log_format: f.opt(cx, "log_format"),
            log_level: f.opt(cx, "log_level"),
            admin_listen: f.opt(cx, "admin_listen"),
            admin_token: f.opt(cx, "admin_token"),
            admin_token_file: f.opt(cx, "admin_token_file"),
            admin_state_file: f.opt(cx, "admin_state_file"),
            reload_on_change: f.opt(cx, "reload_on_change"),
            reload_delay: f.opt(cx, "reload_delay"),
            probe_source_ipv4: f.opt(cx, "probe_source_ipv4"),
            probe_source_ipv6: f.opt(cx, "probe_source_ipv6"),
            rrl: f.table(cx, "rrl").map(|t| super::rrl::RrlSpec::read(cx, t)),
            cookies: f
                .table(cx, "cookies")
                .map(|t| super::cookies::CookiesSpec::read(cx, t)),
            cluster: f
                .table(cx, "cluster")
                .map(|t| super::cluster::ClusterSpec::read(cx, t)),
        };
        f.finish(cx);
        spec
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `log_format` in the file.
    pub const WORDS: Words<LogFormat> = Words(&[("text", Self::Text), ("json", Self::Json)]);
}

/// `log_level` in the file: tracing's level names.
pub const LOG_LEVELS: Words<&str> = Words(&[
    ("error", "error"),
    ("warn", "warn"),
    ("info", "info"),
    ("debug", "debug"),
    ("trace", "trace"),
]);

/// Validated server settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the config came from (None: built-in defaults).
    pub file: Option<PathBuf>,
    pub listen: Vec<SocketAddr>,
    pub zones_dir: Located<PathBuf>,
    pub geoip_database: Option<Located<PathBuf>>,
    pub allow_partial_zones: bool,
    /// UDP sockets (SO_REUSEPORT), one thread each; 0 in the file = one per core.
    pub udp_workers: usize,
    pub udp_payload_size: u16,
    pub tcp_idle_timeout: Duration,
    pub tcp_max_connections: usize,
    /// Connections one client (IPv4 address or IPv6 /64) may hold.
    pub tcp_max_connections_per_client: usize,
    /// Longest wait for one TCP reply to be written.
    pub tcp_write_timeout: Duration,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Response rate limiting (`[rrl]`); off by default.
    pub rrl: super::RrlSettings,
    /// DNS Cookies (`[cookies]`); on by default.
    pub cookies: super::CookieSettings,
    /// Where the admin HTTP API listens; `None` turns it off.
    pub admin_listen: Option<SocketAddr>,
    /// Bearer token of the admin API (`admin_token` or the contents of
    /// `admin_token_file`; `DNSLB_ADMIN_TOKEN` in the environment wins).
    pub admin_token: Option<AdminToken>,
    /// The file `admin_token` was read from (`admin_token_file`), watched
    /// for changes like the other inputs.
    pub admin_token_file: Option<PathBuf>,
    /// Where operator overrides are kept across restarts; `None`: memory only.
    pub admin_state_file: Option<PathBuf>,
    /// Reload when a file dnslb read changes (zone, `$INCLUDE`, policy,
    /// GeoIP, this file, the token file), not only on SIGHUP.
    pub reload_on_change: bool,
    /// How long the files must stay quiet before that reload: a burst of
    /// writes is one reload.
    pub reload_delay: Duration,
    /// Where probes leave from (`probe_source_ipv4`, `probe_source_ipv6`);
    /// unset: the routing table's choice.
    pub probe_source: crate::health::ProbeSource,
    /// Cluster mode (`[cluster]`); `None`: this instance decides alone.
    pub cluster: Option<super::cluster::ClusterSettings>,
    /// 1-based (line, column) of every key the file sets, by key name: for
    /// problems found after parsing (a restart-only key changed by a
    /// reload; a configured admin address that cannot be bound).
    pub positions: std::collections::BTreeMap<&'static str, (u32, u32)>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:5353";
/// Default address of the admin API: loopback only.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8053";

impl Default for Settings {
    fn default() -> Self {
        Self {
            file: None,
            listen: vec![DEFAULT_LISTEN.parse().expect("valid default")],
            zones_dir: Located::default_value(PathBuf::from("zones")),
            geoip_database: None,
            allow_partial_zones: false,
            udp_workers: default_workers(),
            udp_payload_size: 1232,
            tcp_idle_timeout: Duration::from_secs(10),
            tcp_max_connections: 1024,
            tcp_max_connections_per_client: 64,
            tcp_write_timeout: Duration::from_secs(5),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            rrl: Default::default(),
            cookies: Default::default(),
            admin_listen: Some(DEFAULT_ADMIN_LISTEN.parse().expect("valid default")),
            admin_token: None,
            admin_token_file: None,
            admin_state_file: None,
            reload_on_change: true,
            reload_delay: Duration::from_millis(300),
            probe_source: Default::default(),
            cluster: None,
            positions: Default::default(),
        }
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Load and validate `path`; all problems go to `diags`. `None` when
/// there was any.
pub fn load_settings(path: &Path, diags: &mut Diagnostics) -> Option<Settings> {
    let before = diags.len();
    load_settings_partial(path, diags).filter(|_| diags.len() == before)
}

/// [`load_settings`], but a bad value is left at its default instead of
/// failing the whole file, so `check` and start-up can go on to report
/// the zones' errors too. `None` only when the file cannot be read or is
/// not TOML. Whoever serves must still refuse when `diags` grew.
pub fn load_settings_partial(path: &Path, diags: &mut Diagnostics) -> Option<Settings> {
    // A FIFO or a device is refused at once, not waited on.
    let text = match crate::files::read_text(path, crate::files::FileKind::SETTINGS) {
        Ok(t) => t,
        Err(e) => {
            let (line, col, message) = e.in_file("config file");
            diags.error(path, line, col, "", message);
            return None;
        }
    };
    parse_settings_partial(path, &text, diags)
}

/// Validate the text of the settings file `path`; all problems go to
/// `diags`. `None` when there was any.
pub fn parse_settings(path: &Path, text: &str, diags: &mut Diagnostics) -> Option<Settings> {
    let before = diags.len();
    parse_settings_partial(path, text, diags).filter(|_| diags.len() == before)
}

/// [`parse_settings`] with bad values left at their defaults (see
/// [`load_settings_partial`]).
pub fn parse_settings_partial(
    path: &Path,
    text: &str,
    diags: &mut Diagnostics,
) -> Option<Settings> {
    let mut local = Diagnostics::capped(crate::diag::MAX_ERRORS_PER_FILE);
    let cfg = validate_settings(path, text, &mut local);
    // In file order, whatever order the checks ran in.
    let mut found = local.into_vec();
    found.sort_by_key(|d| (d.line, d.col));
    for d in found {
        diags.push(d);
    }
    cfg
}

/// The settings with every good value of the file applied; the bad ones
/// are reported and left at their defaults.
fn validate_settings(path: &Path, text: &str, diags: &mut Diagnostics) -> Option<Settings> {
    // After a syntax error, what did parse still counts (a duplicate key
    // keeps its first value), so the zones are checked too; serving is
    // refused on the error anyway. The values' own errors are then left
    // out: in a damaged document they are mostly follow-on noise (`[rrl`
    // unclosed swallows the next key).
    let (doc, clean) = Cx::new(path, text, diags).parse_document_partial(text);
    let mut noise = Diagnostics::new();
    let diags = if clean { diags } else { &mut noise };
    let mut cx = Cx::new(path, text, diags);
    let spec = SettingsSpec::read(&mut cx, Fields::root(doc));
    let base = path.parent().unwrap_or(Path::new("."));
    let rel = |p: &str| -> PathBuf {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { base.join(p) }
    };
    let lines = LineIndex::new(text);
    let located = |value: PathBuf, pos: Option<usize>| Located {
        value,
        at: Some((path.to_path_buf(), pos.map(|p| lines.line_col(p)))),
    };
    let mut cfg = Settings {
        file: Some(path.to_path_buf()),
        ..Settings::default()
    };
    // A key the file does not set still belongs to this file, and its
    // default is relative to the file's directory, as a set value is.
    cfg.zones_dir = located(rel("zones"), None);
    let positions = key_positions(&spec, &lines);
    // Exhaustive destructuring: a new field cannot be silently ignored.
    let SettingsSpec {
        listen,
        zones_dir,
        geoip_database,
        allow_partial_zones,
        udp_workers,
        udp_payload_size,
        tcp_idle_timeout,
        tcp_max_connections,
        tcp_max_connections_per_client,
        tcp_write_timeout,
        log_format,
        log_level,
        rrl,
        cookies,
        admin_listen,
        admin_token,
        admin_token_file,
        admin_state_file,
        reload_on_change,
        reload_delay,
        probe_source_ipv4,
        probe_source_ipv6,
        cluster,
    } = spec;
    let mut err = |span: std::ops::Range<usize>, key: &str, msg: String| {
        let (line, col) = lines.line_col(span.start);
        diags.error(path, Some(line), Some(col), key, msg);
    };
    if let Some(l) = listen {
        let span = l.span();
        let mut addrs = Vec::new();
        let mut spans = Vec::new();
        let list = l.into_inner();
        let given = list.len();
        for a in list {
            match a.get_ref().parse::<SocketAddr>() {
                Ok(s) => {
                    addrs.push(s);
                    spans.push(a.span());
                }
                Err(_) => err(
                    a.span(),
                    "listen",
                    format!(
                        "{:?} is not an ADDR:PORT socket address (IPv6 as [::1]:53)",
                        a.get_ref()
                    ),
                ),
            }
        }
        if given == 0 {
            err(span, "listen", "must name at least one address".into());
        }
        for (i, m) in listen_conflicts(&addrs) {
            err(spans[i].clone(), "listen", m);
        }
        cfg.listen = addrs;
    }
    if let Some(z) = zones_dir {
        cfg.zones_dir = located(rel(z.get_ref()), Some(z.span().start));
    }
    if let Some(g) = geoip_database {
        cfg.geoip_database = Some(located(rel(g.get_ref()), Some(g.span().start)));
    }
    if let Some(b) = allow_partial_zones {
        cfg.allow_partial_zones = *b.get_ref();
    }
    if let Some(w) = udp_workers {
        match *w.get_ref() {
            0 => cfg.udp_workers = default_workers(),
            n @ 1..=256 => cfg.udp_workers = n as usize,
            n => err(
                w.span(),
                "udp_workers",
                format!("must be between 0 (one per core) and 256, got {n}"),
            ),
        }
    }
    if let Some(p) = udp_payload_size {
        match *p.get_ref() {
            n @ 512..=4096 => cfg.udp_payload_size = n as u16,
            n => err(
                p.span(),
                "udp_payload_size",
                format!("must be between 512 and 4096, got {n}"),
            ),
        }
    }
    if let Some(t) = tcp_idle_timeout {
        match float_in(*t.get_ref(), 0.1..=3600.0, " seconds") {
            Ok(v) => cfg.tcp_idle_timeout = Duration::from_secs_f64(v),
            Err(m) => err(t.span(), "tcp_idle_timeout", m),
        }
    }
    if let Some(c) = tcp_max_connections {
        match *c.get_ref() {
            n @ 1..=1_000_000 => cfg.tcp_max_connections = n as usize,
            n => err(
                c.span(),
                "tcp_max_connections",
                format!("must be between 1 and 1000000, got {n}"),
            ),
        }
    }
    if let Some(c) = tcp_max_connections_per_client {
        match int_in(*c.get_ref(), 1..=1_000_000) {
            Ok(n) => cfg.tcp_max_connections_per_client = n as usize,
            Err(m) => err(c.span(), "tcp_max_connections_per_client", m),
        }
    }
    if let Some(t) = tcp_write_timeout {
        match float_in(*t.get_ref(), 0.1..=3600.0, " seconds") {
            Ok(v) => cfg.tcp_write_timeout = Duration::from_secs_f64(v),
            Err(m) => err(t.span(), "tcp_write_timeout", m),
        }
    }
    if let Some(f) = log_format {
        match one_of("log format", &LogFormat::WORDS, f.get_ref()) {
            Ok(v) => cfg.log_format = v,
            Err(m) => err(f.span(), "log_format", m),
        }
    }
    if let Some(l) = log_level {
        match one_of("log level", &LOG_LEVELS, l.get_ref()) {
            Ok(v) => cfg.log_level = v.to_owned(),
            Err(m) => err(l.span(), "log_level", m),
        }
    }
    if let Some(a) = admin_listen {
        match parse_admin_listen(a.get_ref()) {
            Ok(v) => cfg.admin_listen = v,
            Err(m) => err(a.span(), "admin_listen", m),
        }
    }
    match (admin_token, admin_token_file) {
        (Some(t), Some(f)) => {
            let (span, key) = if f.span().start > t.span().start {
                (f.span(), "admin_token_file")
            } else {
                (t.span(), "admin_token")
            };
            err(
                span,
                key,
                "set admin_token or admin_token_file, not both".into(),
            );
        }
        (Some(t), None) => match AdminToken::new(t.get_ref()) {
            Ok(v) => cfg.admin_token = Some(v),
            Err(m) => err(t.span(), "admin_token", m),
        },
        (None, Some(f)) => {
            let p = rel(f.get_ref());
            cfg.admin_token_file = Some(p.clone());
            match crate::files::read_text(&p, crate::files::FileKind::ADMIN_TOKEN) {
                Ok(text) => match AdminToken::new(&text) {
                    Ok(v) => cfg.admin_token = Some(v),
                    Err(m) => err(
                        f.span(),
                        "admin_token_file",
                        format!("{}: {m}", p.display()),
                    ),
                },
                Err(e) => err(
                    f.span(),
                    "admin_token_file",
                    format!("cannot read {}: {e}", p.display()),
                ),
            }
        }
        (None, None) => {}
    }
    if let Some(f) = admin_state_file {
        if f.get_ref().is_empty() {
            err(
                f.span(),
                "admin_state_file",
                "must not be empty (leave the key out to keep overrides in memory only)".into(),
            );
        } else {
            cfg.admin_state_file = Some(rel(f.get_ref()));
        }
    }
    if let Some(b) = reload_on_change {
        cfg.reload_on_change = *b.get_ref();
    }
    if let Some(t) = reload_delay {
        match float_in(*t.get_ref(), 0.05..=60.0, " seconds") {
            Ok(v) => cfg.reload_delay = Duration::from_secs_f64(v),
            Err(m) => err(t.span(), "reload_delay", m),
        }
    }
    if let Some(a) = probe_source_ipv4 {
        match a.get_ref().parse::<std::net::Ipv4Addr>() {
            Ok(v) if !v.is_unspecified() && !v.is_multicast() && !v.is_broadcast() => {
                cfg.probe_source.ipv4 = Some(v)
            }
            _ => err(
                a.span(),
                "probe_source_ipv4",
                format!(
                    "{:?} is not a unicast IPv4 address of this host",
                    a.get_ref()
                ),
            ),
        }
    }
    if let Some(a) = probe_source_ipv6 {
        match a.get_ref().parse::<std::net::Ipv6Addr>() {
            Ok(v) if !v.is_unspecified() && !v.is_multicast() => cfg.probe_source.ipv6 = Some(v),
            _ => err(
                a.span(),
                "probe_source_ipv6",
                format!(
                    "{:?} is not a unicast IPv6 address of this host",
                    a.get_ref()
                ),
            ),
        }
    }
    cfg.positions = positions;
    if let Some(c) = cluster {
        cfg.cluster = super::cluster::validate(c, &mut err);
    }
    if let Some(r) = rrl {
        cfg.rrl = super::rrl::validate(r, &mut err);
    }
    let secret_file = cookies.and_then(|c| {
        let (settings, file) = super::cookies::validate(c, &mut err);
        cfg.cookies = settings;
        file
    });
    if let Some(f) = secret_file {
        let file = rel(f.get_ref());
        match crate::files::read_text(&file, crate::files::FileKind::COOKIE_SECRET) {
            Ok(text) => {
                cfg.cookies.secrets = super::cookies::parse_secret_file(&file, &text, diags)
            }
            Err(e @ crate::files::ReadError::NotUtf8 { .. }) => {
                let (line, col, message) = e.in_file("cookie secret file");
                diags.error(&file, line, col, "", message);
            }
            Err(e) => {
                let (line, col) = lines.line_col(f.span().start);
                diags.error(
                    path,
                    Some(line),
                    Some(col),
                    "cookies.secret_file",
                    format!("cannot read {}: {e}", file.display()),
                );
            }
        }
    }
    Some(cfg)
}

/// Where each key the file sets starts.
fn key_positions(
    spec: &SettingsSpec,
    lines: &LineIndex<'_>,
) -> std::collections::BTreeMap<&'static str, (u32, u32)> {
    fn at<T>(v: &Option<Spanned<T>>) -> Option<usize> {
        v.as_ref().map(|s| s.span().start)
    }
    let all = [
        ("listen", at(&spec.listen)),
        ("zones_dir", at(&spec.zones_dir)),
        ("geoip_database", at(&spec.geoip_database)),
        ("allow_partial_zones", at(&spec.allow_partial_zones)),
        ("udp_workers", at(&spec.udp_workers)),
        ("udp_payload_size", at(&spec.udp_payload_size)),
        ("tcp_idle_timeout", at(&spec.tcp_idle_timeout)),
        ("tcp_max_connections", at(&spec.tcp_max_connections)),
        (
            "tcp_max_connections_per_client",
            at(&spec.tcp_max_connections_per_client),
        ),
        ("tcp_write_timeout", at(&spec.tcp_write_timeout)),
        ("log_format", at(&spec.log_format)),
        ("log_level", at(&spec.log_level)),
        ("admin_listen", at(&spec.admin_listen)),
        ("admin_token", at(&spec.admin_token)),
        ("admin_token_file", at(&spec.admin_token_file)),
        ("admin_state_file", at(&spec.admin_state_file)),
        ("reload_on_change", at(&spec.reload_on_change)),
        ("reload_delay", at(&spec.reload_delay)),
        ("probe_source_ipv4", at(&spec.probe_source_ipv4)),
        ("probe_source_ipv6", at(&spec.probe_source_ipv6)),
        ("cluster", spec.cluster.as_ref().map(|c| c.at)),
    ];
    all.into_iter()
        .filter_map(|(k, off)| Some((k, lines.line_col(off?))))
        .collect()
}

/// Addresses of `listen` (or `--listen`) that would fail to bind because
/// an earlier one takes them: the same address twice, or an address beside
/// the wildcard of its family on the same port (TCP refuses both; IPv6
/// sockets are v6-only, so `[::]` and `0.0.0.0` do not collide). Port 0
/// picks a new port each time: never a conflict. Each as (index, message).
pub fn listen_conflicts(addrs: &[SocketAddr]) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        if a.port() == 0 {
            continue;
        }
        let earlier = addrs[..i].iter().find(|b| {
            b.port() == a.port()
                && b.is_ipv4() == a.is_ipv4()
                && (b.ip() == a.ip() || b.ip().is_unspecified() || a.ip().is_unspecified())
        });
        match earlier {
            Some(b) if b == a => out.push((i, format!("{a} is listed twice"))),
            Some(b) => out.push((
                i,
                format!("{a} and {b} cannot both be bound: a wildcard address takes its port on every address of its family"),
            )),
            None => {}
        }
    }
    out
}

/// `admin_listen` (and `--admin-listen`): `ADDR:PORT`, or `""` for off.
pub fn parse_admin_listen(s: &str) -> Result<Option<SocketAddr>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<SocketAddr>().map(Some).map_err(|_| {
        format!("{s:?} is not an ADDR:PORT socket address (IPv6 as [::1]:8053; \"\" turns the admin API off)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_example_is_valid_and_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dnslb.toml");
        let mut d = Diagnostics::new();
        let c = load_settings(&path, &mut d).unwrap_or_else(|| panic!("{d}"));
        let def = Settings::default();
        assert_eq!(c.listen, def.listen);
        assert_eq!(c.udp_payload_size, def.udp_payload_size);
        assert_eq!(c.tcp_idle_timeout, def.tcp_idle_timeout);
        assert_eq!(c.tcp_max_connections, def.tcp_max_connections);
        assert_eq!(
            c.tcp_max_connections_per_client,
            def.tcp_max_connections_per_client
        );
        assert_eq!(c.tcp_write_timeout, def.tcp_write_timeout);
        assert_eq!(c.rrl, def.rrl);
        assert_eq!(c.cookies, def.cookies);
        assert!(c.zones_dir.value.ends_with("zones"));
        // the one key set on purpose: the quickstart's example database
        let db = c.geoip_database.map(|d| d.value);
        assert!(db.is_some_and(|d| d.ends_with("geoip/example.mmdb") && d.is_file()));
        assert_eq!(c.admin_listen, def.admin_listen);
        assert_eq!(c.admin_token, def.admin_token);
        assert_eq!(c.admin_state_file, def.admin_state_file);
    }

    /// `zones_dir` is relative to the settings file's directory, whether
    /// set or left at its default (check_gaps.sh part 6).
    #[test]
    fn zones_dir_is_relative_to_the_settings_file() {
        let path = Path::new("/etc/dnslb/dnslb.toml");
        for (text, want) in [
            ("", "/etc/dnslb/zones"),
            ("zones_dir = \"z\"\n", "/etc/dnslb/z"),
            ("zones_dir = \"/srv/z\"\n", "/srv/z"),
        ] {
            let mut d = Diagnostics::new();
            let c = parse_settings(path, text, &mut d).unwrap_or_else(|| panic!("{d}"));
            assert_eq!(c.zones_dir.value, Path::new(want), "{text:?}");
        }
    }

    /// A duplicate key is a syntax error, but the rest of the file still
    /// counts, so `check` goes on to the zones with the right directory.
    #[test]
    fn a_syntax_error_keeps_the_rest_of_the_file() {
        let text = "zones_dir = \"z\"\nudp_workers = 1\nudp_workers = 2\n";
        let mut d = Diagnostics::new();
        let c = parse_settings_partial(Path::new("/x/s.toml"), text, &mut d).unwrap();
        assert_eq!(c.zones_dir.value, Path::new("/x/z"));
        assert_eq!(c.udp_workers, 1);
        assert_eq!(
            d.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["/x/s.toml:3:1: udp_workers: duplicate key: first set on line 2"]
        );
        let mut d = Diagnostics::new();
        assert!(parse_settings(Path::new("/x/s.toml"), text, &mut d).is_none());
        // A damaged document: its syntax errors, not their follow-on noise.
        let text = "zones_dir = \"z\"\n[rrl\nudp_workers = 2\n";
        let mut d = Diagnostics::new();
        let c = parse_settings_partial(Path::new("/x/s.toml"), text, &mut d).unwrap();
        assert_eq!(c.zones_dir.value, Path::new("/x/z"));
        assert_eq!(
            d.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["/x/s.toml:2:5: unclosed table, expected `]`"]
        );
    }

    #[test]
    fn admin_keys() {
        let mut d = Diagnostics::new();
        let def = Settings::default();
        assert_eq!(def.admin_listen, Some("127.0.0.1:8053".parse().unwrap()));
        assert!(def.admin_token.is_none() && def.admin_state_file.is_none());
        let text = "admin_listen = \"\"\nadmin_token = \"0123456789abcdef\"\nadmin_state_file = \"state/admin\"\n";
        let c = parse_settings(Path::new("/etc/dnslb/s.toml"), text, &mut d).unwrap();
        assert_eq!(c.admin_listen, None);
        assert_eq!(c.positions.get("admin_listen"), Some(&(1, 16)));
        assert_eq!(c.admin_token.as_ref().unwrap().as_str(), "0123456789abcdef");
        assert_eq!(
            format!("{:?}", c.admin_token),
            "Some(AdminToken(<redacted>))"
        );
        assert_eq!(
            c.admin_state_file,
            Some(PathBuf::from("/etc/dnslb/state/admin"))
        );

        let bad = "admin_listen = \"localhost\"\nadmin_token = \"short\"\nadmin_token_file = \"t\"\nadmin_state_file = \"\"\n";
        assert!(parse_settings(Path::new("s.toml"), bad, &mut d).is_none());
        let s = d.to_string();
        assert!(
            s.contains("s.toml:1:16: admin_listen: \"localhost\" is not an ADDR:PORT"),
            "{s}"
        );
        assert!(
            s.contains(
                "s.toml:3:20: admin_token_file: set admin_token or admin_token_file, not both"
            ),
            "{s}"
        );
        assert!(
            s.contains("s.toml:4:20: admin_state_file: must not be empty"),
            "{s}"
        );

        let mut d = Diagnostics::new();
        let bad = "admin_token = \"has a space in it, long enough\"\n";
        assert!(parse_settings(Path::new("s.toml"), bad, &mut d).is_none());
        assert!(
            d.to_string()
                .contains("s.toml:1:15: admin_token: the token may only hold visible ASCII"),
            "{d}"
        );
        let mut d = Diagnostics::new();
        let bad = "admin_token_file = \"no-such-token-file\"\n";
        assert!(parse_settings(Path::new("/nonexistent/s.toml"), bad, &mut d).is_none());
        assert!(
            d.to_string()
                .contains("admin_token_file: cannot read /nonexistent/no-such-token-file"),
            "{d}"
        );
    }

    #[test]
    fn every_bad_value_is_reported_with_its_line() {
        let text = "listen = [\"nope\"]\nudp_payload_size = 100\ntcp_idle_timeout = 0.0\nlog_format = \"xml\"\n";
        let mut d = Diagnostics::new();
        assert!(parse_settings(Path::new("s.toml"), text, &mut d).is_none());
        let s = d.to_string();
        assert!(s.contains("s.toml:1:11: listen: \"nope\" is not"), "{s}");
        assert!(
            s.contains("s.toml:2:20: udp_payload_size: must be between 512 and 4096, got 100"),
            "{s}"
        );
        assert!(s.contains("s.toml:3:"), "{s}");
        assert!(s.contains("s.toml:4:14: log_format:"), "{s}");
        assert_eq!(d.len(), 4);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let mut d = Diagnostics::new();
        assert!(parse_settings(Path::new("s.toml"), "listne = []\n", &mut d).is_none());
        assert!(d.to_string().starts_with("s.toml:1:1: "), "{d}");
        assert!(d.to_string().contains("unknown field `listne`"), "{d}");
    }

    /// An unknown key does not hide the bad values beside it, and a
    /// mistyped value does not hide the range errors of the others.
    #[test]
    fn unknown_keys_and_mistyped_values_hide_nothing() {
        let text = "listne = [\"127.0.0.1:53\"]\nudp_payload_size = 100\nudp_workers = \"4\"\ntcp_max_connections = 0\nlog_level = \"loud\"\n";
        let mut d = Diagnostics::new();
        assert!(parse_settings(Path::new("s.toml"), text, &mut d).is_none());
        let got: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            got,
            [
                "s.toml:1:1: unknown field `listne`, expected one of `listen`, `zones_dir`, `geoip_database`, `allow_partial_zones`, `udp_workers`, `udp_payload_size`, `tcp_idle_timeout`, `tcp_max_connections`, `tcp_max_connections_per_client`, `tcp_write_timeout`, `log_format`, `log_level`, `admin_listen`, `admin_token`, `admin_token_file`, `admin_state_file`, `reload_on_change`, `reload_delay`, `probe_source_ipv4`, `probe_source_ipv6`, `rrl`, `cookies`, `cluster`",
                "s.toml:2:20: udp_payload_size: must be between 512 and 4096, got 100",
                "s.toml:3:15: udp_workers: invalid type: string \"4\", expected i64",
                "s.toml:4:23: tcp_max_connections: must be between 1 and 1000000, got 0",
                "s.toml:5:13: log_level: unknown log level \"loud\", expected error, warn, info, debug or trace",
            ]
        );
    }
}
