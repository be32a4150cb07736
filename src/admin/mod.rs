//! The admin HTTP API and status page: the only place an HTTP server crate
//! (axum) appears.
//!
//! Routes:
//!
//! | route | what |
//! | --- | --- |
//! | `GET /healthz` | 200 while the process runs (liveness) |
//! | `GET /readyz` | 200 when zones are loaded and served, else 503 |
//! | `GET /metrics` | Prometheus text ([`prom`]) |
//! | `GET /status` | JSON: names → pools → endpoints ([`status`]) |
//! | `GET /overrides` | JSON: the overrides in force |
//! | `POST /overrides` | `{"endpoint": E, "state": "up"\|"down"\|"drain"\|"auto"}` |
//! | `POST /reload` | ask for a reload (as SIGHUP) |
//! | `GET /explain?name=N&qtype=T&client=IP&ecs=P` | `dnslb explain` on the live snapshot and health |
//! | `GET /` | the status page for people (`page.rs`), with `/page.js` and `/page.css` |
//!
//! Access ([`auth`]): with a token configured, every route but `/healthz`,
//! `/readyz` and the page shell needs `Authorization: Bearer TOKEN`.
//! Without one (allowed only on a loopback listener) the API is open to
//! local users, with the `Host` header limited to loopback names against
//! DNS rebinding. A POST must be JSON (`/reload`: or have no body and no
//! type) and, when a browser sends `Origin`, same-origin: a page elsewhere
//! cannot make a visitor's browser drain an endpoint. Every error is JSON
//! `{"error": ...}`; a method a route does not take is 405 with `Allow`.
//!
//! Bounds ([`limits`], applied before authentication): 64 connections at
//! once and 16 per client, a newcomer closing the longest-idle one rather
//! than waiting; the request head within 5 s; every request answered
//! within 10 s; a connection without progress for 30 s closed.
//!
//! Shape follows hickory-dns `bin/src/prometheus_server.rs`: the wiring
//! layer binds the listener and hands it over with a child cancellation
//! token; [`serve`] returns when the token fires.

pub mod auth;
pub mod client;
pub mod endpoints;
mod limits;
mod page;
pub mod prom;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::config::AdminToken;
use crate::health::overrides::{Forced, OverrideStore, Overrides};
use crate::health::{Fleet, Prober, TargetReport};
use crate::metrics::Metrics;
use crate::snapshot::SharedSnapshot;

/// Environment variable that overrides `admin_token` / `admin_token_file`.
pub const TOKEN_ENV: &str = "DNSLB_ADMIN_TOKEN";

/// Errors that keep the admin API from starting.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "admin_listen {0} is not a loopback address, and no admin token is set: \
         set admin_token_file (or admin_token, or {TOKEN_ENV}), or listen on 127.0.0.1"
    )]
    TokenRequired(SocketAddr),
    #[error("{TOKEN_ENV}: {0}")]
    BadEnvToken(String),
}

/// The token in force: `DNSLB_ADMIN_TOKEN` when set, else the config's.
pub fn effective_token(config: Option<AdminToken>) -> Result<Option<AdminToken>, AdminError> {
    match std::env::var(TOKEN_ENV) {
        Ok(v) => AdminToken::new(&v)
            .map(Some)
            .map_err(AdminError::BadEnvToken),
        Err(_) => Ok(config),
    }
}

/// Refuse a listener anyone else can reach unless a token guards it.
pub fn check_listen(addr: SocketAddr, token: Option<&AdminToken>) -> Result<(), AdminError> {
    if addr.ip().is_loopback() || token.is_some() {
        Ok(())
    } else {
        Err(AdminError::TokenRequired(addr))
    }
}

/// A `GET /explain` request: what `dnslb explain --live` sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// The name asked about (absolute).
    pub name: String,
    /// Query type; default `A`.
    pub qtype: Option<String>,
    /// The resolver address the query would come from.
    pub client: std::net::IpAddr,
    /// An EDNS Client Subnet, e.g. `198.51.100.0/24`.
    pub ecs: Option<ipnet::IpNet>,
}

/// Runs `dnslb explain` on a snapshot (the wiring layer provides it: the
/// engine on a synthetic packet plus the name's description).
pub type Explainer = Arc<
    dyn Fn(&crate::snapshot::Snapshot, &ExplainRequest) -> Result<String, String> + Send + Sync,
>;

/// The admin token in force, shared with the reloader, which replaces it
/// when `admin_token` or `admin_token_file` changes.
pub type TokenCell = Arc<arc_swap::ArcSwapOption<AdminToken>>;

/// What the admin server reads and changes.
pub struct AdminState {
    pub snapshot: SharedSnapshot,
    pub prober: Arc<Prober>,
    pub overrides: Arc<Overrides>,
    pub metrics: Arc<Metrics>,
    /// Set once every DNS listener is bound and serving.
    pub ready: Arc<AtomicBool>,
    /// The bearer token in force; a reload of the settings may replace it.
    pub token: TokenCell,
    /// Asks the reloader for a reload (`POST /reload`).
    pub reload: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Runs `dnslb explain` on the snapshot in service (`GET /explain`).
    pub explain: Option<Explainer>,
    /// Cluster mode: the fleet's observations and the store's state.
    pub fleet: Option<Arc<Fleet>>,
    /// Cluster mode: where overrides are written first, for every instance.
    pub store: Option<Arc<dyn OverrideStore>>,
    shares: status::Shares,
    cancel: CancellationToken,
    loopback: bool,
}

impl AdminState {
    pub fn new(
        snapshot: SharedSnapshot,
        prober: Arc<Prober>,
        overrides: Arc<Overrides>,
        metrics: Arc<Metrics>,
        ready: Arc<AtomicBool>,
        token: TokenCell,
    ) -> Self {
        Self {
            snapshot,
            prober,
            overrides,
            metrics,
            ready,
            token,
            reload: None,
            explain: None,
            fleet: None,
            store: None,
            shares: status::Shares::new(Duration::from_secs(60)),
            cancel: CancellationToken::new(),
            loopback: true,
        }
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
            && !self.cancel.is_cancelled()
            && !self.snapshot.load().zones.is_empty()
    }

    async fn reports(&self) -> Vec<TargetReport> {
        // A stopped prober (shutting down) reports nothing rather than fail
        // the whole page.
        self.prober.report().await.unwrap_or_default()
    }
}

type Shared = Arc<AdminState>;

/// Serve the admin API on `listener` until `cancel` fires. Samples answer
/// shares every 10 s meanwhile.
pub async fn serve(
    listener: tokio::net::TcpListener,
    mut state: AdminState,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    check_listen(local, state.token.load().as_deref())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::PermissionDenied, e))?;
    state.loopback = local.ip().is_loopback();
    state.cancel = cancel.clone();
    let state = Arc::new(state);
    let sampler = {
        let (state, cancel) = (state.clone(), cancel.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => state.shares.sample(&state.snapshot.load()),
                }
            }
        })
    };
    let app = router(state);
    limits::serve(listener, app, limits::Limits::DEFAULT, cancel).await;
    sampler.abort();
    Ok(())
}

/// Largest request body taken (an override is a few dozen bytes).
const MAX_BODY: usize = 64 * 1024;

fn router(state: Shared) -> Router {
    use axum::middleware::{from_fn, from_fn_with_state};
    let changes = from_fn(auth::forgery);
    Router::new()
        .route("/", get(page::page))
        .route("/page.js", get(page::script))
        .route("/page.css", get(page::style))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status_json))
        .route(
            "/overrides",
            get(list_overrides)
                .post(set_override)
                .route_layer(changes.clone()),
        )
        .route(
            "/reload",
            axum::routing::post(reload).route_layer(from_fn(auth::forgery_bodyless)),
        )
        .route("/explain", get(explain))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(from_fn_with_state(state.clone(), auth::guard))
        .layer(from_fn(limits::deadline))
        .layer(from_fn(json_errors))
        .with_state(state)
}

/// Longest error message sent; longer ones (a parser quoting a huge
/// input, say) are cut.
const MAX_MESSAGE: usize = 1024;

/// At most `max` bytes of `s` (on a character boundary), with "…" when cut.
pub(crate) fn clip(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len()).into()
}

/// An operator's input quoted in an error message: at most 100 bytes of
/// it, so a huge value is not echoed back whole.
pub(crate) fn quote(input: &str) -> String {
    format!("{:?}", clip(input, 100))
}

/// A JSON error body: `{"error": MESSAGE}` plus extra fields.
fn error(code: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    let message = clip(&message, MAX_MESSAGE);
    (code, axum::Json(json!({ "error": message }))).into_response()
}

/// Every error response as JSON `{"error": MESSAGE}`: the ones axum makes
/// itself (405, whose `Allow` header axum adds afterwards; 413 for a body
/// over the limit; rejections in plain text) are rewritten, with their
/// headers kept.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let method = req.method().clone();
    let path = clip(req.uri().path(), 100).into_owned();
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, MAX_MESSAGE)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let message = if status == StatusCode::METHOD_NOT_ALLOWED {
        // axum adds `Allow` outside the layers, after this runs.
        format!("method {method} is not allowed on {path}; the Allow header lists those that are")
    } else if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    let body = json!({ "error": clip(&message, MAX_MESSAGE) }).to_string();
    Response::from_parts(parts, axum::body::Body::from(body))
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such route")
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<Shared>) -> Response {
    if s.is_ready() {
        "ready\n".into_response()
    } else {
        let why = if s.cancel.is_cancelled() {
            "shutting down"
        } else {
            "not serving yet"
        };
        error(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}"))
    }
}

async fn metrics(State(s): State<Shared>) -> Response {
    let reports = s.reports().await;
    let snap = s.snapshot.load_full();
    let inputs = prom::ScrapeInputs {
        reports: &reports,
        reloads: s.metrics.reloads.get(),
        reload_errors: s.metrics.reloads.errors(),
        overrides: s.overrides.list().len(),
        ready: s.is_ready(),
        fleet: s.fleet.as_deref(),
    };
    match prom::scrape(&snap, &inputs).render() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "metrics encoding failed"),
    }
}

async fn status_json(State(s): State<Shared>) -> Response {
    let reports = s.reports().await;
    let snap = s.snapshot.load_full();
    let list = s.overrides.list();
    let inputs = status::Inputs {
        reports: &reports,
        overrides: &list,
        state_file: s.overrides.file().map(|p| p.display().to_string()),
        ready: s.is_ready(),
        shares: &s.shares,
        reloads: s.metrics.reloads.get(),
        last: s.metrics.reloads.last(),
        fleet: s.fleet.as_deref(),
    };
    axum::Json(status::build(&snap, &inputs)).into_response()
}

/// `POST /reload`: ask for a reload, as SIGHUP does. The outcome shows in
/// `/status` (`reloads.last`) and the log once it is done.
async fn reload(State(s): State<Shared>) -> Response {
    match &s.reload {
        Some(ask) => {
            ask();
            (
                StatusCode::ACCEPTED,
                axum::Json(json!({ "requested": true })),
            )
                .into_response()
        }
        None => error(StatusCode::SERVICE_UNAVAILABLE, "reloads are not available"),
    }
}

/// `GET /explain`: what the running server would answer and why, with the
/// health and overrides it acts on now: `{"text": ...}`.
async fn explain(
    State(s): State<Shared>,
    q: Result<axum::extract::Query<ExplainRequest>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match q {
        Ok(q) => q.0,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("query string must be name=N&client=IP[&qtype=T][&ecs=PREFIX]: {e}"),
            );
        }
    };
    let Some(f) = &s.explain else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "explain is not available");
    };
    match f(&s.snapshot.load(), &q) {
        Ok(text) => axum::Json(json!({ "text": text })).into_response(),
        // The message may quote the name: at most 100 bytes of it.
        Err(m) if q.name.len() > 100 => {
            let cut = clip(&q.name, 100);
            error(StatusCode::BAD_REQUEST, m.replace(q.name.as_str(), &cut))
        }
        Err(m) => error(StatusCode::BAD_REQUEST, m),
    }
}

async fn list_overrides(State(s): State<Shared>) -> Response {
    let list: Vec<_> = s
        .overrides
        .list()
        .into_iter()
        .map(|o| json!({"endpoint": o.endpoint.to_string(), "state": o.state.as_str(), "since": o.since}))
        .collect();
    axum::Json(json!({ "overrides": list })).into_response()
}

/// Body of `POST /overrides`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// An address, `MEMBER`, `POOL/MEMBER` or `ZONE/POOL/MEMBER`.
    pub endpoint: String,
    /// `up`, `down`, `drain` or `auto` (remove the override).
    pub state: String,
}

async fn set_override(
    State(s): State<Shared>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), e.body_text()),
    };
    let req: OverrideRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("body must be {{\"endpoint\": ..., \"state\": ...}}: {e}"),
            );
        }
    };
    let state = match Forced::parse(&req.state) {
        Ok(f) => f,
        // The word quoted cut short: it came from the request.
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "state: expected one of up, down, drain, auto; got {}",
                    quote(&req.state)
                ),
            );
        }
    };
    let snap = s.snapshot.load_full();
    let eps = endpoints::catalogue(&snap);
    let sel = match endpoints::resolve(&req.endpoint, &eps, &s.overrides.list()) {
        Ok(sel) => sel,
        Err(endpoints::ResolveError::NotFound(m)) => return error(StatusCode::NOT_FOUND, m),
        Err(endpoints::ResolveError::Ambiguous(c)) => {
            return (
                StatusCode::CONFLICT,
                axum::Json(json!({
                    "error": format!("{} names several pool members; give one of the candidates", quote(&req.endpoint)),
                    "candidates": c,
                })),
            )
                .into_response();
        }
    };
    // Cluster mode: the store first, so the override reaches every
    // instance or none; this one applies it at once below (and again,
    // unchanged, when the store reports it).
    if let Some(store) = &s.store
        && let Err(m) = store.put(&sel, state).await
    {
        return error(StatusCode::SERVICE_UNAVAILABLE, m);
    }
    let shared = s.snapshot.clone();
    let res = tokio::task::spawn_blocking({
        let (overrides, sel) = (s.overrides.clone(), sel.clone());
        move || {
            overrides.set(sel, state, |list| {
                // Under the overrides lock: the snapshot in service now is
                // the one a concurrent reload could not have replaced
                // without applying this list too.
                endpoints::apply_overrides(list, &shared.load());
            })
        }
    })
    .await;
    let change = match res {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    // What it applies to now: for `auto`, the members it named.
    let matches = if change.current.is_some() {
        endpoints::applies_to(&sel, &s.overrides.list(), &eps)
    } else {
        eps.iter().filter(|e| e.member_ref().matches(&sel)).count()
    };
    let word = |f: Option<Forced>| f.map_or("auto", Forced::as_str);
    axum::Json(json!({
        "endpoint": sel.to_string(),
        "state": word(change.current),
        "previous": word(change.previous),
        "changed": change.previous != change.current,
        "matches": matches,
        "persisted": s.overrides.file().is_some(),
        "shared": s.store.is_some(),
    }))
    .into_response()
}
