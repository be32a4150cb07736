//! `GET /`: the status page for people. One HTML file with its CSS and
//! script inline (no external assets: it works offline and behind any
//! firewall); the script reads `/status` every 3 s and draws names, pools
//! and endpoints with their state in colour, and posts drain / restore to
//! `/overrides`. When the server has a token the page asks for it once
//! and keeps it in the tab's session storage.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Shared;

const PAGE: &str = include_str!("page.html");

/// Browsers may run only our inline script and style, talk only to us,
/// and never frame the page (clickjacking on the drain buttons).
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                   connect-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'none'";

pub(super) async fn page(State(s): State<Shared>) -> Response {
    let auth = if s.token.load().is_some() {
        "token"
    } else {
        "open"
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE.replace("{{AUTH}}", auth),
    )
        .into_response()
}
