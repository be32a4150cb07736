//! Who may use the admin API, and protection of the page's buttons.
//!
//! - With a token (`admin_token`, `admin_token_file` or
//!   `DNSLB_ADMIN_TOKEN`): every route except `/healthz`, `/readyz` and the
//!   page shell (`/`, `/page.js`, `/page.css`) needs `Authorization:
//!   Bearer TOKEN` (compared in constant time); otherwise 401 with
//!   `WWW-Authenticate: Bearer`.
//! - Without a token, which is only allowed on a loopback listener
//!   ([`super::check_listen`]): open to local users, but the `Host` header
//!   must name a loopback address or `localhost`, so a web page whose name
//!   an attacker re-points at 127.0.0.1 (DNS rebinding) gets 403.
//! - Every request that changes something (a `POST` to a route that takes
//!   it; [`forgery`], after the method is known to be allowed, so another
//!   method gets `405`) must carry `Content-Type: application/json` (415
//!   otherwise: an HTML form cannot send it cross-site without a CORS
//!   preflight, which we never grant). `POST /reload`, which takes no body,
//!   may instead come with no `Content-Type` and no body
//!   ([`forgery_bodyless`], so `curl -X POST` works); a form's types
//!   (`application/x-www-form-urlencoded`, `multipart/form-data`,
//!   `text/plain`) and any body without a type are still 415. Either way
//!   the request is refused (403) when the browser says it comes from
//!   another origin (`Origin` not this host, or `Sec-Fetch-Site` neither
//!   `same-origin` nor `none`), which covers a cross-site `fetch` that
//!   sends no body.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq as _;

use super::{Shared, error};
use crate::config::AdminToken;

/// Routes anyone may read: liveness, readiness, and the page shell with
/// its script and style (they hold no data; the script fetches `/status`
/// with the token).
fn is_open(path: &str) -> bool {
    matches!(
        path,
        "/" | "/page.js" | "/page.css" | "/healthz" | "/readyz"
    )
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
    next.run(req).await
}

/// The browser rules for the routes that change something, as a route
/// layer: it runs only for a method the route takes, so a method it does
/// not take is `405` before any body rule.
pub(super) async fn forgery(req: Request, next: Next) -> Response {
    if req.method() != Method::GET
        && req.method() != Method::HEAD
        && let Some(resp) = refuse_forged(req.headers(), Body::Json)
    {
        return resp;
    }
    next.run(req).await
}

/// [`forgery`] for a route that takes no body (`POST /reload`): no
/// `Content-Type` at all is also accepted when no body comes with it.
pub(super) async fn forgery_bodyless(req: Request, next: Next) -> Response {
    if req.method() != Method::GET
        && req.method() != Method::HEAD
        && let Some(resp) = refuse_forged(req.headers(), Body::JsonOrNone)
    {
        return resp;
    }
    next.run(req).await
}

/// What a state-changing route accepts as its body.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Body {
    /// `Content-Type: application/json` only.
    Json,
    /// That, or no `Content-Type` and no body (`Content-Length` absent or 0,
    /// no `Transfer-Encoding`).
    JsonOrNone,
}

/// `Authorization: Bearer TOKEN` with the right token. The scheme is
/// case-insensitive (RFC 9110 §11.1) and followed by one or more spaces.
pub fn bearer_ok(headers: &HeaderMap, token: &AdminToken) -> bool {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let v = v.as_bytes();
    let Some((scheme, given)) = v.split_at_checked(6) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(b"Bearer") || !given.starts_with(b" ") {
        return false;
    }
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
fn refuse_forged(headers: &HeaderMap, body: Body) -> Option<Response> {
    let ct = headers.get(header::CONTENT_TYPE);
    let json = ct.and_then(|v| v.to_str().ok()).is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
    });
    let bodyless = || {
        !headers.contains_key(header::TRANSFER_ENCODING)
            && headers
                .get(header::CONTENT_LENGTH)
                .is_none_or(|v| v.as_bytes() == b"0")
    };
    let ok = json || (body == Body::JsonOrNone && ct.is_none() && bodyless());
    if !ok {
        return Some(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            match body {
                Body::Json => "send the body as Content-Type: application/json",
                Body::JsonOrNone => {
                    "send no body and no Content-Type, or Content-Type: application/json"
                }
            },
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
        for ok in [
            "Bearer 0123456789abcdef",
            "bearer 0123456789abcdef",
            "BEARER  0123456789abcdef",
        ] {
            assert!(bearer_ok(&h(&[("authorization", ok)]), &t), "{ok}");
        }
        for bad in ["Bearer0123456789abcdef", "Bearer", "Bear 0123456789abcdef"] {
            assert!(!bearer_ok(&h(&[("authorization", bad)]), &t), "{bad}");
        }
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
        assert!(refuse_forged(&h(&[json, host]), Body::Json).is_none());
        assert!(
            refuse_forged(
                &h(&[
                    json,
                    host,
                    ("origin", "http://127.0.0.1:8053"),
                    ("sec-fetch-site", "same-origin")
                ]),
                Body::Json
            )
            .is_none()
        );
        let code = |hs: &[(&'static str, &str)]| {
            refuse_forged(&h(hs), Body::Json).map(|r| r.status().as_u16())
        };
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
        // No type: refused where a body is wanted.
        assert_eq!(code(&[host]), Some(415));
    }

    /// `POST /reload` takes no body: no type and no body is fine, a form's
    /// types and an untyped body are not, and a cross-site request without
    /// a body is still refused.
    #[test]
    fn bodyless_posts() {
        let host = ("host", "127.0.0.1:8053");
        let code = |hs: &[(&'static str, &str)]| {
            refuse_forged(&h(hs), Body::JsonOrNone).map(|r| r.status().as_u16())
        };
        assert_eq!(code(&[host]), None);
        assert_eq!(code(&[host, ("content-length", "0")]), None);
        assert_eq!(code(&[host, ("content-type", "application/json")]), None);
        for form in [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/plain",
        ] {
            assert_eq!(code(&[host, ("content-type", form)]), Some(415), "{form}");
        }
        assert_eq!(code(&[host, ("content-length", "3")]), Some(415));
        assert_eq!(code(&[host, ("transfer-encoding", "chunked")]), Some(415));
        assert_eq!(code(&[host, ("origin", "http://evil.example")]), Some(403));
        assert_eq!(code(&[host, ("sec-fetch-site", "cross-site")]), Some(403));
    }
}
