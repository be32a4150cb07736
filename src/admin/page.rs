//! `GET /`: the status page for people. An HTML shell (`page.html`) with
//! its style (`/page.css`) and script (`/page.js`) served beside it, all
//! compiled in (no external assets: it works offline and behind any
//! firewall), so the Content-Security-Policy can forbid every inline
//! script and style. The script reads `/status` every 3 s and draws names,
//! pools and endpoints with their state in colour, the zones with errors
//! (with their error text) and the settings waiting for a restart, and
//! posts drain / restore to `/overrides`. When the server has a token the
//! page asks for it once and keeps it in the tab's session storage.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Shared;

const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");

/// Browsers may run only our own served script and style (no inline
/// script, style or event handler: an injected one does not run), talk
/// only to us, and never frame the page (clickjacking on the drain
/// buttons) or submit a form anywhere.
pub(super) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       connect-src 'self'; img-src 'self'; base-uri 'none'; \
                       frame-ancestors 'none'; form-action 'none'";

/// Headers every part of the page is served with.
fn served(content_type: &'static str, cache: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the HTML shell.
pub(super) async fn page(State(s): State<Shared>) -> Response {
    let auth = if s.token.load().is_some() {
        "token"
    } else {
        "open"
    };
    served(
        "text/html; charset=utf-8",
        "no-store",
        PAGE.replace("{{AUTH}}", auth),
    )
}

/// `GET /page.js`: the page's script.
pub(super) async fn script() -> Response {
    served(
        "text/javascript; charset=utf-8",
        "no-cache",
        SCRIPT.to_string(),
    )
}

/// `GET /page.css`: the page's style.
pub(super) async fn style() -> Response {
    served("text/css; charset=utf-8", "no-cache", STYLE.to_string())
}
