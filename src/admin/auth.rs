//! Who may use the admin API, and protection of the page's buttons.
//!
//! - With a token (`admin_token`, `admin_token_file` or
//!   `DNSLB_ADMIN_TOKEN`): every route except `/healthz`, `/readyz` and the
//!   page shell `/` needs `Authorization: Bearer TOKEN` (compared in
//!   constant time); otherwise 401 with `WWW-Authenticate: Bearer`.
//! - Without a token, which is only allowed on a loopback listener
//!   ([`super::check_listen`]): open to local users, but the `Host` header
//!   must name a loopback address or `localhost`, so a web page whose name
//!   an attacker re-points at 127.0.0.1 (DNS rebinding) gets 403.
//! - Every request that changes something (any method but GET/HEAD) must
//!   carry `Content-Type: application/json` (415 otherwise: an HTML form
//!   cannot send it cross-site without a CORS preflight, which we never
//!   grant), and is refused (403) when the browser says it comes from
//!   another origin (`Origin` not this host, or `Sec-Fetch-Site` neither
//!   `same-origin` nor `none`).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq as _;

use super::{Shared, error};
use crate::config::AdminToken;

/// Routes anyone may read: liveness, readiness, and the page shell (it
/// holds no data; its script fetches `/status` with the token).
fn is_open(path: &str) -> bool {
    matches!(path, "/" | "/healthz" | "/readyz")
}

/// The access rules, as axum middleware.
pub(super) async fn guard(State(s): State<Shared>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if !is_open(req.uri().path()) {
        match s.token.load().as_deref() {
            Some(t) => {
                if !bearer_ok(headers, t) {
                    let mut r = error(
                        StatusCode::UNAUTHORIZED,
                        "missing or wrong token: send Authorization: Bearer TOKEN",
                    );
                    r.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        header::HeaderValue::from_static("Bearer realm=\"dnslb\""),
                    );
                    return r;
                }
            }
            None => {
                if !host_is_loopback(headers) {
                    return error(
                        StatusCode::FORBIDDEN,
                        "without an admin token only loopback host names (127.0.0.1, [::1], localhost) are served",
                    );
                }
            }
        }
    }
    if req.method() != Method::GET
        && req.method() != Method::HEAD
        && let Some(resp) = refuse_forged(headers)
    {
        return resp;
    }
    next.run(req).await
}

/// `Authorization: Bearer TOKEN` with the right token.
pub fn bearer_ok(headers: &HeaderMap, token: &AdminToken) -> bool {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let Some(given) = v.as_bytes().strip_prefix(b"Bearer ") else {
        return false;
    };
    given.trim_ascii().ct_eq(token.as_str().as_bytes()).into()
}

/// The host part of a `Host` header value (`[::1]:8053` → `::1`).
fn host_part(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

fn host_is_loopback(headers: &HeaderMap) -> bool {
    let Some(h) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        // HTTP/1.0 without Host: not a browser page.
        return true;
    };
    let h = host_part(h);
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Why a state-changing request is refused, if it is.
fn refuse_forged(headers: &HeaderMap) -> Option<Response> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
    if !json {
        return Some(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as Content-Type: application/json",
        ));
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN) {
        let same = match (origin.to_str(), host) {
            (Ok(o), Some(h)) => o == format!("http://{h}") || o == format!("https://{h}"),
            _ => false,
        };
        if !same {
            return Some(error(StatusCode::FORBIDDEN, "cross-origin request refused"));
        }
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
        && site != "same-origin"
        && site != "none"
    {
        return Some(error(StatusCode::FORBIDDEN, "cross-site request refused"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn bearer_tokens() {
        let t = AdminToken::new("0123456789abcdef").unwrap();
        assert!(bearer_ok(
            &h(&[("authorization", "Bearer 0123456789abcdef")]),
            &t
        ));
        assert!(!bearer_ok(
            &h(&[("authorization", "Bearer 0123456789abcdeg")]),
            &t
        ));
        assert!(!bearer_ok(
            &h(&[("authorization", "Basic 0123456789abcdef")]),
            &t
        ));
        assert!(!bearer_ok(&h(&[]), &t));
    }

    #[test]
    fn loopback_hosts() {
        for ok in [
            "127.0.0.1:8053",
            "localhost:1",
            "LOCALHOST",
            "[::1]:8053",
            "127.1.2.3",
        ] {
            assert!(host_is_loopback(&h(&[("host", ok)])), "{ok}");
        }
        for bad in [
            "evil.example:8053",
            "192.0.2.1:8053",
            "[2001:db8::1]:80",
            "localhost.evil",
        ] {
            assert!(!host_is_loopback(&h(&[("host", bad)])), "{bad}");
        }
    }

    #[test]
    fn forged_posts() {
        let json = ("content-type", "application/json; charset=utf-8");
        let host = ("host", "127.0.0.1:8053");
        assert!(refuse_forged(&h(&[json, host])).is_none());
        assert!(
            refuse_forged(&h(&[
                json,
                host,
                ("origin", "http://127.0.0.1:8053"),
                ("sec-fetch-site", "same-origin")
            ]))
            .is_none()
        );
        let code = |hs: &[(&'static str, &str)]| refuse_forged(&h(hs)).map(|r| r.status().as_u16());
        assert_eq!(
            code(&[host, ("content-type", "application/x-www-form-urlencoded")]),
            Some(415)
        );
        assert_eq!(
            code(&[json, host, ("origin", "http://evil.example")]),
            Some(403)
        );
        assert_eq!(code(&[json, host, ("origin", "null")]), Some(403));
        assert_eq!(
            code(&[json, host, ("sec-fetch-site", "cross-site")]),
            Some(403)
        );
    }
}
