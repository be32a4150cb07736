//! Validated health checks: [`CheckSpec`] (file format) → [`Check`] (runtime).
//!
//! [`validate_check`] reports every bad value of a `[checks.NAME]` table into
//! the load's [`Diagnostics`] at its file position and keeps going, so one
//! `dnslb check` run shows them all. Out-of-range values are rejected, never
//! clamped, and cross-field rules (timeout < interval, `body_contains` needs a
//! body, HTTP keys only on HTTP checks) are checked here too.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::ops::{Range, RangeInclusive};
use std::path::Path;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use toml::Spanned;

use super::Status;
use super::spec::{CheckSpec, StatusSpec};
use crate::config::Diagnostics;

/// Accepted `interval` in seconds.
pub const INTERVAL_SECS: RangeInclusive<f64> = 0.05..=3600.0;
/// Accepted `timeout` in seconds (and it must also be below `interval`).
pub const TIMEOUT_SECS: RangeInclusive<f64> = 0.01..=3600.0;
/// Accepted `rise` and `fall`.
pub const THRESHOLD: RangeInclusive<i64> = 1..=100;
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_RISE: u32 = 2;
pub const DEFAULT_FALL: u32 = 3;
/// Sent as `User-Agent` unless `user_agent` says otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("dnslb-health/", env!("CARGO_PKG_VERSION"));
/// Longest accepted `path`, `host`, `body_contains` and header value.
const MAX_TEXT: usize = 2048;
/// Headers a check may not set through `headers`: `host` and `user-agent`
/// have their own keys; the framing headers would corrupt the request.
const RESERVED_HEADERS: [&str; 5] = [
    "host",
    "user-agent",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// A validated health check, shared by every endpoint that references it.
///
/// Equality and hashing cover every field except `name`, so two pools (or two
/// policy files) that probe the same address with identical settings share
/// one probe, and renaming a check keeps its targets' health on reload.
#[derive(Debug, Clone)]
pub struct Check {
    /// The check's name in its policy file, for logs only.
    pub name: String,
    pub kind: CheckKind,
    /// Port probed on the target address.
    pub port: u16,
    /// Probe this address instead of the endpoint's own.
    pub probe_address: Option<IpAddr>,
    /// Time between probe starts.
    pub interval: Duration,
    /// A probe not finished by then fails; always below `interval`.
    pub timeout: Duration,
    /// Consecutive successes that bring a down target up.
    pub rise: u32,
    /// Consecutive failures that take an up target down.
    pub fall: u32,
    /// State before the first `rise`/`fall` results.
    pub initial_state: Status,
}

impl PartialEq for Check {
    fn eq(&self, other: &Self) -> bool {
        let Check {
            name: _,
            kind,
            port,
            probe_address,
            interval,
            timeout,
            rise,
            fall,
            initial_state,
        } = self;
        *kind == other.kind
            && *port == other.port
            && *probe_address == other.probe_address
            && *interval == other.interval
            && *timeout == other.timeout
            && *rise == other.rise
            && *fall == other.fall
            && *initial_state == other.initial_state
    }
}

impl Eq for Check {}

impl Hash for Check {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let Check {
            name: _,
            kind,
            port,
            probe_address,
            interval,
            timeout,
            rise,
            fall,
            initial_state,
        } = self;
        kind.hash(state);
        port.hash(state);
        probe_address.hash(state);
        interval.hash(state);
        timeout.hash(state);
        rise.hash(state);
        fall.hash(state);
        initial_state.hash(state);
    }
}

/// What a probe does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CheckKind {
    /// Success = the TCP handshake completes.
    Tcp,
    /// An HTTP or HTTPS request; success = accepted status (and body).
    Http(HttpCheck),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpCheck {
    /// `Some` for `https`.
    pub tls: Option<TlsCheck>,
    pub method: HttpMethod,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Explicit `Host` header. Unset: the TLS server name when there is one,
    /// else the probed address (and port when not the scheme's default).
    pub host: Option<String>,
    pub expect_status: StatusSet,
    pub body_contains: Option<String>,
    /// Extra headers, names lowercased, in file order.
    pub headers: Vec<(String, String)>,
    pub user_agent: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsCheck {
    /// DNS name sent as SNI and verified in the certificate, from
    /// `tls_server_name` or else from `host`. `None`: connect by address, no
    /// SNI, and the certificate must name the IP address.
    pub server_name: Option<String>,
    pub verify: bool,
}

#[derive(Debug, Copy, Clone, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    Get,
    Head,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
        }
    }
}

/// Accepted HTTP status codes: a union of inclusive ranges.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatusSet(Vec<(u16, u16)>);

impl StatusSet {
    pub fn new(ranges: Vec<(u16, u16)>) -> Self {
        Self(ranges)
    }

    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| (lo..=hi).contains(&code))
    }

    pub fn ranges(&self) -> &[(u16, u16)] {
        &self.0
    }
}

impl Default for StatusSet {
    /// 200-399: success and redirects (redirects are not followed).
    fn default() -> Self {
        Self(vec![(200, 399)])
    }
}

/// Reports errors for one check into `diags`; knows where they are.
struct Ctx<'a> {
    name: &'a str,
    path: &'a Path,
    text: &'a str,
    diags: &'a mut Diagnostics,
    failed: bool,
}

impl Ctx<'_> {
    fn error(&mut self, key: &str, span: Range<usize>, message: impl Into<String>) {
        self.failed = true;
        let key = format!("checks.{}.{key}", self.name);
        self.diags
            .error_at_offset(self.path, self.text, span.start, key, message);
    }

    /// `key` is an HTTP-only setting used on a tcp check.
    fn http_only<T>(&mut self, key: &str, v: &Option<Spanned<T>>) {
        if let Some(v) = v {
            self.error(key, v.span(), "only valid for http and https checks");
        }
    }
}

/// Validate `[checks.NAME]` of the policy file `path` whose text is `text`.
/// Every problem goes into `diags`; `None` when there was at least one.
pub fn validate_check(
    name: &str,
    spec: &CheckSpec,
    path: &Path,
    text: &str,
    diags: &mut Diagnostics,
) -> Option<Check> {
    // Exhaustive, so a new spec field cannot be silently ignored.
    let CheckSpec {
        kind,
        port,
        probe_address,
        interval,
        timeout,
        rise,
        fall,
        initial_state,
        method,
        path: http_path,
        host,
        tls_server_name,
        tls_verify,
        expect_status,
        body_contains,
        headers,
        user_agent,
    } = spec;
    let mut cx = Ctx {
        name,
        path,
        text,
        diags,
        failed: false,
    };

    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Tcp,
        Http,
        Https,
    }
    let k = match kind.get_ref().as_str() {
        "tcp" => Some(Kind::Tcp),
        "http" => Some(Kind::Http),
        "https" => Some(Kind::Https),
        other => {
            cx.error(
                "kind",
                kind.span(),
                format!("unknown kind {other:?}; expected \"http\", \"https\" or \"tcp\""),
            );
            None
        }
    };

    let port = match (port, &k) {
        (Some(p), _) => match u16::try_from(*p.get_ref()) {
            Ok(v) if v >= 1 => Some(v),
            _ => {
                cx.error(
                    "port",
                    p.span(),
                    format!("must be 1..=65535, got {}", p.get_ref()),
                );
                None
            }
        },
        (None, Some(Kind::Http)) => Some(80),
        (None, Some(Kind::Https)) => Some(443),
        (None, Some(Kind::Tcp)) => {
            cx.error("port", kind.span(), "a tcp check needs a port");
            None
        }
        (None, None) => None,
    };

    let probe_address = probe_address
        .as_ref()
        .and_then(|a| match a.get_ref().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                cx.error(
                    "probe_address",
                    a.span(),
                    format!("not an IP address: {:?}", a.get_ref()),
                );
                None
            }
        });

    let interval = seconds(
        &mut cx,
        "interval",
        interval,
        INTERVAL_SECS,
        DEFAULT_INTERVAL,
    );
    let timeout = seconds(&mut cx, "timeout", timeout, TIMEOUT_SECS, DEFAULT_TIMEOUT);
    if let (Some(iv), Some(to)) = (interval, timeout)
        && to >= iv
    {
        // Point at whichever of the two the file sets; timeout first.
        let span = spec
            .timeout
            .as_ref()
            .map(|t| t.span())
            .or_else(|| spec.interval.as_ref().map(|i| i.span()))
            .unwrap_or_else(|| kind.span());
        cx.error(
            "timeout",
            span,
            format!(
                "timeout {} s must be less than interval {} s",
                to.as_secs_f64(),
                iv.as_secs_f64()
            ),
        );
    }
    let rise = threshold(&mut cx, "rise", rise, DEFAULT_RISE);
    let fall = threshold(&mut cx, "fall", fall, DEFAULT_FALL);
    let initial_state = match initial_state {
        None => Some(Status::Up),
        Some(s) => match s.get_ref().as_str() {
            "up" => Some(Status::Up),
            "down" => Some(Status::Down),
            other => {
                cx.error(
                    "initial_state",
                    s.span(),
                    format!("must be \"up\" or \"down\", got {other:?}"),
                );
                None
            }
        },
    };

    let http = match k {
        Some(Kind::Tcp) => {
            cx.http_only("method", method);
            cx.http_only("path", http_path);
            cx.http_only("host", host);
            cx.http_only("tls_server_name", tls_server_name);
            cx.http_only("tls_verify", tls_verify);
            cx.http_only("expect_status", expect_status);
            cx.http_only("body_contains", body_contains);
            cx.http_only("headers", headers);
            cx.http_only("user_agent", user_agent);
            None
        }
        Some(kind @ (Kind::Http | Kind::Https)) => {
            validate_http(&mut cx, spec, kind == Kind::Https).map(CheckKind::Http)
        }
        None => None,
    };
    let kind = match k {
        Some(Kind::Tcp) => Some(CheckKind::Tcp),
        _ => http,
    };

    if cx.failed {
        return None;
    }
    Some(Check {
        name: name.to_string(),
        kind: kind?,
        port: port?,
        probe_address,
        interval: interval?,
        timeout: timeout?,
        rise: rise?,
        fall: fall?,
        initial_state: initial_state?,
    })
}

/// The HTTP(S)-only keys. `None` after reporting any error.
fn validate_http(cx: &mut Ctx<'_>, spec: &CheckSpec, https: bool) -> Option<HttpCheck> {
    let mut ok = true;

    let method = match &spec.method {
        None => HttpMethod::Get,
        Some(m) => match m.get_ref().to_ascii_uppercase().as_str() {
            "GET" => HttpMethod::Get,
            "HEAD" => HttpMethod::Head,
            _ => {
                cx.error(
                    "method",
                    m.span(),
                    format!("must be \"GET\" or \"HEAD\", got {:?}", m.get_ref()),
                );
                ok = false;
                HttpMethod::Get
            }
        },
    };

    let path = match &spec.path {
        None => "/".to_string(),
        Some(p) => {
            let v = p.get_ref();
            let bad = !v.starts_with('/')
                || v.len() > MAX_TEXT
                || v.contains('#')
                || !v.bytes().all(|b| b.is_ascii_graphic());
            if bad {
                cx.error(
                    "path",
                    p.span(),
                    format!(
                        "must start with \"/\" and be at most {MAX_TEXT} visible ASCII characters \
                         without \"#\" (percent-encode the rest), got {v:?}"
                    ),
                );
                ok = false;
            }
            v.clone()
        }
    };

    let host = match &spec.host {
        None => None,
        Some(h) => {
            let v = h.get_ref();
            if !is_host_header(v) {
                cx.error(
                    "host",
                    h.span(),
                    format!("not a host name or host:port, got {v:?}"),
                );
                ok = false;
            }
            Some(v.clone())
        }
    };

    let tls = if https {
        let server_name = match &spec.tls_server_name {
            Some(n) => {
                let v = n.get_ref();
                if v.parse::<IpAddr>().is_ok() {
                    cx.error(
                        "tls_server_name",
                        n.span(),
                        format!(
                            "must be a DNS name, got the address {v:?}; leave it unset to \
                             connect and verify by address"
                        ),
                    );
                    ok = false;
                } else if !is_dns_name(v) {
                    cx.error(
                        "tls_server_name",
                        n.span(),
                        format!("not a valid DNS name: {v:?}"),
                    );
                    ok = false;
                }
                Some(v.to_ascii_lowercase())
            }
            None => host
                .as_deref()
                .map(host_without_port)
                .filter(|h| h.parse::<IpAddr>().is_err() && is_dns_name(h))
                .map(str::to_ascii_lowercase),
        };
        let verify = spec
            .tls_verify
            .as_ref()
            .map(|v| *v.get_ref())
            .unwrap_or(true);
        Some(TlsCheck {
            server_name,
            verify,
        })
    } else {
        if let Some(n) = &spec.tls_server_name {
            cx.error("tls_server_name", n.span(), "only valid for https checks");
            ok = false;
        }
        if let Some(v) = &spec.tls_verify {
            cx.error("tls_verify", v.span(), "only valid for https checks");
            ok = false;
        }
        None
    };

    let expect_status = match &spec.expect_status {
        None => StatusSet::default(),
        Some(list) => {
            if list.get_ref().is_empty() {
                cx.error(
                    "expect_status",
                    list.span(),
                    "must list at least one status",
                );
                ok = false;
            }
            let mut ranges = Vec::new();
            for entry in list.get_ref() {
                match status_range(entry.get_ref()) {
                    Ok(r) => ranges.push(r),
                    Err(msg) => {
                        cx.error("expect_status", entry.span(), msg);
                        ok = false;
                    }
                }
            }
            StatusSet::new(ranges)
        }
    };

    let body_contains = match &spec.body_contains {
        None => None,
        Some(b) => {
            let v = b.get_ref();
            if v.is_empty() || v.len() > MAX_TEXT {
                cx.error(
                    "body_contains",
                    b.span(),
                    format!("must be 1..={MAX_TEXT} bytes, got {} bytes", v.len()),
                );
                ok = false;
            } else if method == HttpMethod::Head {
                cx.error(
                    "body_contains",
                    b.span(),
                    format!("a HEAD response has no body to contain {v:?}; use method \"GET\""),
                );
                ok = false;
            }
            Some(v.clone())
        }
    };

    let mut headers = Vec::new();
    if let Some(map) = &spec.headers {
        for (hname, value) in map.get_ref() {
            let key = format!("headers.{hname}");
            match HeaderName::from_bytes(hname.as_bytes()) {
                Err(_) => {
                    cx.error(&key, value.span(), format!("not a header name: {hname:?}"));
                    ok = false;
                    continue;
                }
                Ok(n) if RESERVED_HEADERS.contains(&n.as_str()) => {
                    let hint = match n.as_str() {
                        "host" => "; use the host key",
                        "user-agent" => "; use the user_agent key",
                        _ => "",
                    };
                    cx.error(
                        &key,
                        value.span(),
                        format!("header {hname:?} cannot be set here{hint}"),
                    );
                    ok = false;
                }
                Ok(n) => {
                    if header_value_ok(value.get_ref()) {
                        headers.push((n.as_str().to_string(), value.get_ref().clone()));
                    } else {
                        cx.error(
                            &key,
                            value.span(),
                            format!("not a valid header value: {:?}", value.get_ref()),
                        );
                        ok = false;
                    }
                }
            }
        }
    }

    let user_agent = match &spec.user_agent {
        None => DEFAULT_USER_AGENT.to_string(),
        Some(u) => {
            if u.get_ref().is_empty() || !header_value_ok(u.get_ref()) {
                cx.error(
                    "user_agent",
                    u.span(),
                    format!("not a valid header value: {:?}", u.get_ref()),
                );
                ok = false;
            }
            u.get_ref().clone()
        }
    };

    ok.then_some(HttpCheck {
        tls,
        method,
        path,
        host,
        expect_status,
        body_contains,
        headers,
        user_agent,
    })
}

/// A duration key in seconds: default when absent, `None` after an error.
fn seconds(
    cx: &mut Ctx<'_>,
    key: &str,
    v: &Option<Spanned<f64>>,
    range: RangeInclusive<f64>,
    default: Duration,
) -> Option<Duration> {
    let Some(v) = v else { return Some(default) };
    let secs = *v.get_ref();
    // `contains` is false for NaN, and the range bounds exclude infinities.
    if range.contains(&secs) {
        Some(Duration::from_secs_f64(secs))
    } else {
        cx.error(
            key,
            v.span(),
            format!(
                "must be {}..={} seconds, got {secs}",
                range.start(),
                range.end()
            ),
        );
        None
    }
}

fn threshold(cx: &mut Ctx<'_>, key: &str, v: &Option<Spanned<i64>>, default: u32) -> Option<u32> {
    let Some(v) = v else { return Some(default) };
    let n = *v.get_ref();
    if THRESHOLD.contains(&n) {
        Some(n as u32)
    } else {
        cx.error(
            key,
            v.span(),
            format!(
                "must be {}..={}, got {n}",
                THRESHOLD.start(),
                THRESHOLD.end()
            ),
        );
        None
    }
}

/// One `expect_status` entry as an inclusive range of valid codes.
fn status_range(s: &StatusSpec) -> Result<(u16, u16), String> {
    let code = |n: i64| u16::try_from(n).ok().filter(|c| (100..=599).contains(c));
    match s {
        StatusSpec::Code(n) => code(*n)
            .map(|c| (c, c))
            .ok_or_else(|| format!("status must be 100..=599, got {n}")),
        // "200" alone is one code, as operators write it in lists of strings.
        StatusSpec::Range(r) if !r.contains('-') => r
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(code)
            .map(|c| (c, c))
            .ok_or_else(|| {
                format!("not a status code (100..=599) or range like \"200-299\": {r:?}")
            }),
        StatusSpec::Range(r) => {
            let parsed = r.split_once('-').and_then(|(lo, hi)| {
                let lo = code(lo.trim().parse().ok()?)?;
                let hi = code(hi.trim().parse().ok()?)?;
                (lo <= hi).then_some((lo, hi))
            });
            parsed.ok_or_else(|| {
                format!("not a status code (100..=599) or range like \"200-299\": {r:?}")
            })
        }
    }
}

fn host_without_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        // One colon: host:port. More: a bare IPv6 address.
        Some((name, _)) if !name.contains(':') => name,
        _ => h,
    }
}

/// A Host header value (RFC 9110 §7.2): a DNS name or IPv4 address, or an
/// IPv6 address in brackets, each with an optional `:port`.
fn is_host_header(v: &str) -> bool {
    let port_ok = |p: &str| p.parse::<u16>().is_ok_and(|p| p > 0);
    if v.len() > 255 {
        return false;
    }
    if let Some(rest) = v.strip_prefix('[') {
        let Some((addr, after)) = rest.split_once(']') else {
            return false;
        };
        return addr.parse::<std::net::Ipv6Addr>().is_ok()
            && (after.is_empty() || after.strip_prefix(':').is_some_and(port_ok));
    }
    let (h, port) = match v.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (v, None),
    };
    port.is_none_or(port_ok) && (h.parse::<std::net::Ipv4Addr>().is_ok() || is_dns_name(h))
}

/// RFC 1123 host name: dot-separated labels of letters, digits, `-` (and `_`,
/// which real certificates use), at most 253 characters.
fn is_dns_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn header_value_ok(v: &str) -> bool {
    v.len() <= MAX_TEXT && HeaderValue::from_str(v).is_ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct File {
        checks: BTreeMap<String, CheckSpec>,
    }

    /// A diagnostic as `(line, key, message)`.
    type Diag = (u32, String, String);

    /// Validate every check of `text`; returns the checks that passed and
    /// the diagnostics.
    fn load(text: &str) -> (BTreeMap<String, Check>, Vec<Diag>) {
        let file: File = toml::from_str(text).expect("test TOML parses");
        let mut diags = Diagnostics::new();
        let mut ok = BTreeMap::new();
        for (name, spec) in &file.checks {
            if let Some(c) = validate_check(name, spec, Path::new("p.toml"), text, &mut diags) {
                ok.insert(name.clone(), c);
            }
        }
        let d = diags
            .into_vec()
            .into_iter()
            .map(|d| (d.line.unwrap(), d.key, d.message))
            .collect();
        (ok, d)
    }

    #[test]
    fn defaults() {
        let (ok, d) = load("[checks.a]\nkind = \"http\"\n[checks.b]\nkind = \"tcp\"\nport = 22\n");
        assert!(d.is_empty(), "{d:?}");
        let a = &ok["a"];
        assert_eq!(a.port, 80);
        assert_eq!(a.interval, Duration::from_secs(5));
        assert_eq!(a.timeout, Duration::from_secs(2));
        assert_eq!((a.rise, a.fall), (2, 3));
        assert_eq!(a.initial_state, Status::Up);
        assert_eq!(a.probe_address, None);
        let CheckKind::Http(h) = &a.kind else {
            panic!("http")
        };
        assert_eq!(h.tls, None);
        assert_eq!(h.method, HttpMethod::Get);
        assert_eq!(h.path, "/");
        assert_eq!(h.host, None);
        assert!(h.expect_status.contains(200) && h.expect_status.contains(399));
        assert!(!h.expect_status.contains(199) && !h.expect_status.contains(400));
        assert_eq!(h.user_agent, DEFAULT_USER_AGENT);
        assert_eq!(ok["b"].kind, CheckKind::Tcp);
        assert_eq!(ok["b"].port, 22);
    }

    #[test]
    fn https_defaults_and_full_spec() {
        let text = r#"
[checks.s]
kind = "https"
host = "www.example.test:8443"
interval = 0.5
timeout = 0.25
rise = 1
fall = 100
initial_state = "down"
method = "head"
path = "/healthz?full=1"
probe_address = "::1"
tls_verify = false
expect_status = [204, "300-302", "418"]
headers = { "X-Probe" = "dnslb" }
user_agent = "probe/1"
[checks.t]
kind = "https"
tls_server_name = "Api.Example.Test"
"#;
        let (ok, d) = load(text);
        assert!(d.is_empty(), "{d:?}");
        let s = &ok["s"];
        assert_eq!(s.port, 443);
        assert_eq!(s.interval, Duration::from_millis(500));
        assert_eq!(s.timeout, Duration::from_millis(250));
        assert_eq!((s.rise, s.fall), (1, 100));
        assert_eq!(s.initial_state, Status::Down);
        assert_eq!(s.probe_address, Some("::1".parse().unwrap()));
        let CheckKind::Http(h) = &s.kind else {
            panic!("http")
        };
        assert_eq!(
            h.tls,
            Some(TlsCheck {
                server_name: Some("www.example.test".into()),
                verify: false
            })
        );
        assert_eq!(h.method, HttpMethod::Head);
        assert_eq!(h.path, "/healthz?full=1");
        assert_eq!(
            h.expect_status.ranges(),
            &[(204, 204), (300, 302), (418, 418)]
        );
        assert_eq!(h.headers, vec![("x-probe".into(), "dnslb".into())]);
        assert_eq!(h.user_agent, "probe/1");
        let CheckKind::Http(t) = &ok["t"].kind else {
            panic!("http")
        };
        assert_eq!(
            t.tls,
            Some(TlsCheck {
                server_name: Some("api.example.test".into()),
                verify: true
            })
        );
    }

    #[test]
    fn host_header_forms() {
        for ok in [
            "www.example.test",
            "www.example.test:8443",
            "127.0.0.1",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8080",
            "a_b.example",
        ] {
            assert!(is_host_header(ok), "{ok}");
        }
        for bad in [
            "",
            "a:b:c",
            "::1",
            "[::1",
            "[nope]:80",
            "host:0",
            "host:99999",
            "bad host",
            "-x.example",
        ] {
            assert!(!is_host_header(bad), "{bad}");
        }
    }

    #[test]
    fn host_that_is_an_address_gives_no_server_name() {
        let (ok, d) = load("[checks.s]\nkind = \"https\"\nhost = \"[2001:db8::1]:443\"\n");
        assert!(d.is_empty(), "{d:?}");
        let CheckKind::Http(h) = &ok["s"].kind else {
            panic!("http")
        };
        assert_eq!(h.tls.as_ref().unwrap().server_name, None);
    }

    #[test]
    fn every_bad_value_is_reported_at_its_line() {
        let text = r#"[checks.web]
kind = "http"
port = 0
probe_address = "db.example"
interval = 0.01
timeout = -1.0
rise = 0
fall = 101
initial_state = "sideways"
method = "POST"
path = "health"
host = "a b"
tls_server_name = "x.test"
tls_verify = false
expect_status = [99, "300-200", "abc", 600]
body_contains = ""
headers = { "bad name" = "v", Host = "h", "X-Ok" = "line\nbreak" }
user_agent = ""
"#;
        let (ok, d) = load(text);
        assert!(ok.is_empty());
        let want: &[(u32, &str, &str)] = &[
            (3, "checks.web.port", "must be 1..=65535, got 0"),
            (
                4,
                "checks.web.probe_address",
                "not an IP address: \"db.example\"",
            ),
            (
                5,
                "checks.web.interval",
                "must be 0.05..=3600 seconds, got 0.01",
            ),
            (
                6,
                "checks.web.timeout",
                "must be 0.01..=3600 seconds, got -1",
            ),
            (7, "checks.web.rise", "must be 1..=100, got 0"),
            (8, "checks.web.fall", "must be 1..=100, got 101"),
            (
                9,
                "checks.web.initial_state",
                "must be \"up\" or \"down\", got \"sideways\"",
            ),
            (
                10,
                "checks.web.method",
                "must be \"GET\" or \"HEAD\", got \"POST\"",
            ),
            (11, "checks.web.path", "got \"health\""),
            (
                12,
                "checks.web.host",
                "not a host name or host:port, got \"a b\"",
            ),
            (
                13,
                "checks.web.tls_server_name",
                "only valid for https checks",
            ),
            (14, "checks.web.tls_verify", "only valid for https checks"),
            (
                15,
                "checks.web.expect_status",
                "status must be 100..=599, got 99",
            ),
            (15, "checks.web.expect_status", "\"300-200\""),
            (15, "checks.web.expect_status", "\"abc\""),
            (
                15,
                "checks.web.expect_status",
                "status must be 100..=599, got 600",
            ),
            (
                16,
                "checks.web.body_contains",
                "must be 1..=2048 bytes, got 0 bytes",
            ),
            (17, "checks.web.headers.Host", "use the host key"),
            (
                17,
                "checks.web.headers.X-Ok",
                "not a valid header value: \"line\\nbreak\"",
            ),
            (
                17,
                "checks.web.headers.bad name",
                "not a header name: \"bad name\"",
            ),
            (
                18,
                "checks.web.user_agent",
                "not a valid header value: \"\"",
            ),
        ];
        assert_eq!(d.len(), want.len(), "{d:#?}");
        for ((line, key, msg), (wl, wk, wm)) in d.iter().zip(want) {
            assert_eq!((*line, key.as_str()), (*wl, *wk), "{msg}");
            assert!(msg.contains(wm), "{key}: {msg:?} lacks {wm:?}");
        }
    }

    #[test]
    fn timeout_must_be_below_interval() {
        let text = "[checks.a]\nkind = \"tcp\"\nport = 1\ntimeout = 6.0\n\
                    [checks.b]\nkind = \"tcp\"\nport = 1\ninterval = 1.0\ntimeout = 1.0\n\
                    [checks.c]\nkind = \"tcp\"\nport = 1\ninterval = 1.0\n";
        let (ok, d) = load(text);
        assert!(ok.is_empty());
        assert_eq!(
            d,
            vec![
                (
                    4,
                    "checks.a.timeout".to_string(),
                    "timeout 6 s must be less than interval 5 s".to_string()
                ),
                (
                    9,
                    "checks.b.timeout".to_string(),
                    "timeout 1 s must be less than interval 1 s".to_string()
                ),
                // Default timeout 2 s against interval 1 s: points at interval.
                (
                    13,
                    "checks.c.timeout".to_string(),
                    "timeout 2 s must be less than interval 1 s".to_string()
                ),
            ]
        );
    }

    #[test]
    fn kind_and_kind_specific_rules() {
        let text = r#"[checks.a]
kind = "udp"
[checks.b]
kind = "tcp"
[checks.c]
kind = "tcp"
port = 9
path = "/"
headers = { X = "y" }
[checks.d]
kind = "http"
method = "HEAD"
body_contains = "ok"
[checks.e]
kind = "https"
tls_server_name = "10.0.0.1"
[checks.f]
kind = "https"
tls_server_name = "-bad-.test"
[checks.g]
kind = "http"
expect_status = []
port = 70000
"#;
        let (ok, d) = load(text);
        assert!(ok.is_empty(), "{ok:?}");
        let got: Vec<(u32, &str)> = d.iter().map(|(l, k, _)| (*l, k.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (2, "checks.a.kind"),
                (4, "checks.b.port"),
                (8, "checks.c.path"),
                (9, "checks.c.headers"),
                (13, "checks.d.body_contains"),
                (16, "checks.e.tls_server_name"),
                (19, "checks.f.tls_server_name"),
                (23, "checks.g.port"),
                (22, "checks.g.expect_status"),
            ]
        );
        assert!(d[0].2.contains("\"udp\""), "{}", d[0].2);
        assert_eq!(d[1].2, "a tcp check needs a port");
        assert_eq!(d[7].2, "must be 1..=65535, got 70000");
    }

    #[test]
    fn identity_ignores_the_name() {
        let (ok, d) = load(
            "[checks.a]\nkind = \"tcp\"\nport = 9\n[checks.b]\nkind = \"tcp\"\nport = 9\n\
             [checks.c]\nkind = \"tcp\"\nport = 10\n",
        );
        assert!(d.is_empty());
        assert_eq!(ok["a"], ok["b"]);
        assert_ne!(ok["a"], ok["c"]);
        let mut set = std::collections::HashSet::new();
        set.insert(ok["a"].clone());
        assert!(set.contains(&ok["b"]));
        assert!(!set.contains(&ok["c"]));
    }
}
