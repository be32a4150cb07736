//! `[checks.NAME]` validated into a runtime [`Check`].
//!
//! [`validate_check`] reports every bad value of a check table into the
//! load's [`Diagnostics`] at its file position and keeps going, so one
//! `dnslb check` run shows them all. Out-of-range values are rejected, never
//! clamped, and cross-field rules (timeout < interval, `body_contains` needs a
//! body, HTTP keys only on HTTP checks) are checked here too.

use std::net::IpAddr;
use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use toml::Spanned;

use super::parse::Cx;
use super::spec::{CheckSpec, StatusSpec};
use crate::config::values::{float_in, int_in, is_host_name, one_of, out_of_range};
use crate::health::{
    Check, CheckKind, DEFAULT_USER_AGENT, HttpCheck, HttpMethod, LoadFeedback, LoadKind,
    LoadSource, Status, StatusSet, TlsCheck,
};
use crate::words::Words;

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

/// The `kind` words. A file-only distinction: at run time `http` and
/// `https` are one [`CheckKind::Http`] with or without TLS.
#[derive(PartialEq, Clone, Copy, Debug)]
enum Kind {
    Tcp,
    Http,
    Https,
}

const KINDS: Words<Kind> = Words(&[
    ("http", Kind::Http),
    ("https", Kind::Https),
    ("tcp", Kind::Tcp),
]);

/// Reports errors for one check into its file's [`Cx`].
struct Ctx<'a, 'f> {
    name: &'a str,
    file: &'a mut Cx<'f>,
    failed: bool,
}

impl Ctx<'_, '_> {
    fn error(&mut self, key: &str, span: Range<usize>, message: impl Into<String>) {
        self.failed = true;
        let key = format!("checks.{}.{key}", self.name);
        self.file.error(span.start, key, message);
    }

    /// The value of a [`crate::config::values`] check, or `None` after
    /// reporting its message.
    fn check<T>(&mut self, key: &str, span: Range<usize>, r: Result<T, String>) -> Option<T> {
        r.map_err(|m| self.error(key, span, m)).ok()
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
pub(super) fn validate_check(file: &mut Cx<'_>, name: &str, spec: &CheckSpec) -> Option<Check> {
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
        load_header,
        load_json_pointer,
        load_body,
        load_kind,
        bad,
    } = spec;
    let mut cx = Ctx {
        name,
        file,
        failed: false,
    };

    // A missing or mistyped kind is already reported; the kind-dependent
    // rules then stay quiet, the others still run.
    let k = kind
        .as_ref()
        .and_then(|kind| cx.check("kind", kind.span(), one_of("kind", &KINDS, kind.get_ref())));
    if kind.is_none() || bad.any() {
        cx.failed = true;
    }

    let port = match (port, &k, kind) {
        (Some(p), _, _) => cx
            .check("port", p.span(), int_in(*p.get_ref(), 1..=65535))
            .map(|v| v as u16),
        (None, _, _) if bad.has("port") => None,
        (None, Some(Kind::Http), _) => Some(80),
        (None, Some(Kind::Https), _) => Some(443),
        (None, Some(Kind::Tcp), Some(kind)) => {
            cx.error("port", kind.span(), "a tcp check needs a port");
            None
        }
        (None, _, _) => None,
    };

    let probe_address = probe_address
        .as_ref()
        .and_then(|a| match a.get_ref().parse::<IpAddr>() {
            // A probe may connect to a mapped address; to nothing else
            // that is not unicast.
            Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => Some(IpAddr::V6(v6)),
            Ok(ip) => match super::pools::not_unicast(ip) {
                None => Some(ip),
                Some(why) => {
                    cx.error(
                        "probe_address",
                        a.span(),
                        format!("{ip} is not a unicast address ({why})"),
                    );
                    None
                }
            },
            Err(_) => {
                cx.error(
                    "probe_address",
                    a.span(),
                    format!("not an IP address: {:?}", a.get_ref()),
                );
                None
            }
        });

    // A mistyped value is unknown, not its default: no follow-on
    // "timeout must be less than interval".
    let interval = seconds(
        &mut cx,
        "interval",
        interval,
        INTERVAL_SECS,
        DEFAULT_INTERVAL,
    )
    .filter(|_| !bad.has("interval"));
    let timeout = seconds(&mut cx, "timeout", timeout, TIMEOUT_SECS, DEFAULT_TIMEOUT)
        .filter(|_| !bad.has("timeout"));
    // The defaults (5 s, 2 s) agree, so one of the two is written.
    let written = spec
        .timeout
        .as_ref()
        .or(spec.interval.as_ref())
        .map(|t| t.span());
    if let (Some(iv), Some(to), Some(span)) = (interval, timeout, written)
        && to >= iv
    {
        // Point at whichever of the two the file sets; timeout first.
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
        Some(s) => cx.check(
            "initial_state",
            s.span(),
            one_of("initial state", &Status::WORDS, s.get_ref()),
        ),
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
            cx.http_only("load_header", load_header);
            cx.http_only("load_json_pointer", load_json_pointer);
            cx.http_only("load_body", load_body);
            cx.http_only("load_kind", load_kind);
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
fn validate_http(cx: &mut Ctx<'_, '_>, spec: &CheckSpec, https: bool) -> Option<HttpCheck> {
    let mut ok = true;

    let method = match &spec.method {
        None => HttpMethod::Get,
        // Any case: HTTP methods are case-sensitive on the wire, but nobody
        // means "get" as anything but GET.
        Some(m) => HttpMethod::WORDS
            .parse(&m.get_ref().to_ascii_uppercase())
            .unwrap_or_else(|| {
                let msg = one_of("method", &HttpMethod::WORDS, m.get_ref()).err();
                cx.error("method", m.span(), msg.unwrap_or_default());
                ok = false;
                HttpMethod::Get
            }),
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
                } else if !is_host_name(v) {
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
                .filter(|h| h.parse::<IpAddr>().is_err() && is_host_name(h))
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
            for (i, entry) in list.get_ref().iter().enumerate() {
                // A mistyped item: already reported.
                let Some(entry) = entry else { continue };
                match status_range(entry.get_ref()) {
                    Ok(r) => ranges.push(r),
                    Err(msg) => {
                        cx.error(&format!("expect_status[{i}]"), entry.span(), msg);
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
                    out_of_range(1..=MAX_TEXT, " bytes long", v.len()),
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

    let load = load_feedback(cx, spec, method);
    ok.then_some(HttpCheck {
        tls,
        method,
        path,
        host,
        expect_status,
        body_contains,
        headers,
        user_agent,
        load: load.ok()?.map(Box::new),
    })
}

/// `load_header`, `load_json_pointer`, `load_body` (at most one) and
/// `load_kind`. `Err` after reporting.
fn load_feedback(
    cx: &mut Ctx<'_, '_>,
    spec: &CheckSpec,
    method: HttpMethod,
) -> Result<Option<LoadFeedback>, ()> {
    let mut ok = true;
    let mut sources = Vec::new();
    if let Some(h) = &spec.load_header {
        match HeaderName::from_bytes(h.get_ref().as_bytes()) {
            Ok(n) => sources.push((
                "load_header",
                h.span(),
                LoadSource::Header(n.as_str().into()),
            )),
            Err(_) => {
                cx.error(
                    "load_header",
                    h.span(),
                    format!("not a header name: {:?}", h.get_ref()),
                );
                ok = false;
            }
        }
    }
    if let Some(p) = &spec.load_json_pointer {
        let v = p.get_ref();
        if v.starts_with('/') && v.len() <= MAX_TEXT && !has_bad_escape(v) {
            sources.push((
                "load_json_pointer",
                p.span(),
                LoadSource::JsonPointer(v.clone()),
            ));
        } else {
            cx.error(
                "load_json_pointer",
                p.span(),
                format!(
                    "not a JSON pointer (RFC 6901: \"/key/0/inner\", ~0 for ~ and ~1 for /), got {v:?}"
                ),
            );
            ok = false;
        }
    }
    if let Some(b) = &spec.load_body
        && *b.get_ref()
    {
        sources.push(("load_body", b.span(), LoadSource::Body));
    }
    if sources.len() > 1 {
        let names: Vec<&str> = sources.iter().map(|s| s.0).collect();
        let (key, span) = (sources[1].0, sources[1].1.clone());
        cx.error(
            key,
            span,
            format!(
                "give one of load_header, load_json_pointer, load_body, not {}",
                names.join(" and ")
            ),
        );
        ok = false;
    }
    if let Some((key, span, LoadSource::Body | LoadSource::JsonPointer(_))) = sources.first()
        && method == HttpMethod::Head
    {
        cx.error(
            key,
            span.clone(),
            "a HEAD response has no body to read a load figure from; use method \"GET\"",
        );
        ok = false;
    }
    let kind = match &spec.load_kind {
        None => LoadKind::Connections,
        Some(k) => {
            if sources.is_empty() && ok {
                cx.error(
                    "load_kind",
                    k.span(),
                    "only with load_header, load_json_pointer or load_body",
                );
                ok = false;
            }
            match one_of("load kind", &LoadKind::WORDS, k.get_ref()) {
                Ok(k) => k,
                Err(m) => {
                    cx.error("load_kind", k.span(), m);
                    ok = false;
                    LoadKind::Connections
                }
            }
        }
    };
    if !ok {
        return Err(());
    }
    Ok(sources
        .into_iter()
        .next()
        .map(|(_, _, source)| LoadFeedback { source, kind }))
}

/// `~` not followed by `0` or `1` (RFC 6901 §3).
fn has_bad_escape(p: &str) -> bool {
    let b = p.as_bytes();
    b.iter()
        .enumerate()
        .any(|(i, &c)| c == b'~' && !matches!(b.get(i + 1), Some(b'0' | b'1')))
}

/// A duration key in seconds: default when absent, `None` after an error.
fn seconds(
    cx: &mut Ctx<'_, '_>,
    key: &str,
    v: &Option<Spanned<f64>>,
    range: RangeInclusive<f64>,
    default: Duration,
) -> Option<Duration> {
    let Some(v) = v else { return Some(default) };
    // `contains` is false for NaN, and the range bounds exclude infinities.
    cx.check(key, v.span(), float_in(*v.get_ref(), range, " seconds"))
        .map(Duration::from_secs_f64)
}

fn threshold(
    cx: &mut Ctx<'_, '_>,
    key: &str,
    v: &Option<Spanned<i64>>,
    default: u32,
) -> Option<u32> {
    let Some(v) = v else { return Some(default) };
    cx.check(key, v.span(), int_in(*v.get_ref(), THRESHOLD))
        .map(|n| n as u32)
}

/// One `expect_status` entry as an inclusive range of valid codes.
fn status_range(s: &StatusSpec) -> Result<(u16, u16), String> {
    let code = |n: i64| u16::try_from(n).ok().filter(|c| (100..=599).contains(c));
    match s {
        StatusSpec::Code(n) => code(*n)
            .map(|c| (c, c))
            .ok_or_else(|| format!("status {}", out_of_range(100..=599, "", n))),
        // "200" alone is one code, as operators write it in lists of strings.
        StatusSpec::Range(r) if !r.contains('-') => r
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(code)
            .map(|c| (c, c))
            .ok_or_else(|| {
                format!("not a status code or range like \"200-299\" between 100 and 599: {r:?}")
            }),
        StatusSpec::Range(r) => {
            let parsed = r.split_once('-').and_then(|(lo, hi)| {
                let lo = code(lo.trim().parse().ok()?)?;
                let hi = code(hi.trim().parse().ok()?)?;
                (lo <= hi).then_some((lo, hi))
            });
            parsed.ok_or_else(|| {
                format!("not a status code or range like \"200-299\" between 100 and 599: {r:?}")
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
    port.is_none_or(port_ok) && (h.parse::<std::net::Ipv4Addr>().is_ok() || is_host_name(h))
}

fn header_value_ok(v: &str) -> bool {
    v.len() <= MAX_TEXT && HeaderValue::from_str(v).is_ok()
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
