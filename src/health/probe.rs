//! One probe of one target: an HTTP(S) request with reqwest or a TCP connect.
//!
//! The scheduler ([`super::prober`]) only sees the [`Probe`] trait, so tests
//! can swap in scripted probes; [`NetProbe`] is the real one. A probe never
//! panics on a bad answer and never applies its own timeout: the scheduler
//! bounds every probe with the check's `timeout` and treats a panic as a
//! failed probe of that target only.
//!
//! Clients: one shared `reqwest::Client` for plain HTTP, one for HTTPS with
//! certificate verification and one without, all built on first use. An HTTPS
//! check with a TLS server name gets a client of its own, because reqwest maps
//! that name to this target's address with `resolve()`, which is per client
//! (a custom resolver cannot tell which endpoint a name was meant for: every
//! endpoint of a pool usually shares the name). Connection reuse is off: each
//! probe opens a fresh connection, which is what a new client would see, so a
//! target that stopped accepting connections fails even if an old keep-alive
//! connection still answers.
//!
//! Source address ([`ProbeSource`], `probe_source_ipv4` / `probe_source_ipv6`
//! in `dnslb.toml`): probes leave from that address of this host instead of
//! the one the routing table picks, so a multi-homed instance probes over
//! the path its answers describe (HAProxy's `source`, nginx's
//! `proxy_bind`). The shared clients are kept per family, since a client
//! bound to an IPv4 source cannot reach an IPv6 target.

use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use reqwest::header::{HOST, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::{Client, ClientBuilder, Method, Url};

use super::check::{Check, CheckKind, HttpCheck, HttpMethod, LoadSource, StatusSet};

/// Bytes of body read while looking for `body_contains`; a substring past
/// this point counts as missing.
pub const BODY_LIMIT: usize = 256 * 1024;

/// What one probe returns.
pub type ProbeFuture = Pin<Box<dyn Future<Output = Result<Success, ProbeError>> + Send + 'static>>;

/// A passed probe, for the log line of a state change, with the load
/// figure when the check reads one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Success {
    /// HTTP status code that was accepted (the check reads no load).
    Status(u16),
    /// Accepted status, and the load figure the response gave.
    Load(u16, f32),
    /// Accepted status, but the check's load figure was not there.
    NoLoad(u16, LoadMiss),
    /// TCP handshake completed.
    Connected,
}

impl Success {
    /// The load figure read, if any.
    pub fn load(&self) -> Option<f32> {
        match self {
            Success::Load(_, v) => Some(*v),
            _ => None,
        }
    }
}

impl fmt::Display for Success {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Success::Status(c) => write!(f, "status {c}"),
            Success::Load(c, v) => write!(f, "status {c}, load {v}"),
            Success::NoLoad(c, why) => write!(f, "status {c}, no load figure ({why})"),
            Success::Connected => f.write_str("connected"),
        }
    }
}

/// Why a successful response carried no load figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadMiss {
    /// The load header is absent (or not text).
    NoHeader,
    /// The JSON pointer names nothing in the body.
    NoJsonValue,
    /// The body is not JSON.
    NotJson,
    /// The value is not a non-negative decimal number.
    NotANumber,
    /// The body could not be read, or is larger than [`BODY_LIMIT`].
    Body,
}

impl fmt::Display for LoadMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LoadMiss::NoHeader => "header missing",
            LoadMiss::NoJsonValue => "nothing at the JSON pointer",
            LoadMiss::NotJson => "body is not JSON",
            LoadMiss::NotANumber => "not a non-negative number",
            LoadMiss::Body => "body unreadable or over 256 KiB",
        })
    }
}

/// Why a probe failed. Kept per target as its last error, for logs and the
/// admin view, so it is cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("timeout after {} s", .0.as_secs_f64())]
    Timeout(std::time::Duration),
    #[error("connection refused")]
    Refused,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("tls error: {0}")]
    Tls(String),
    #[error("unexpected status {0}")]
    Status(u16),
    #[error("body does not contain {0:?}")]
    BodyMismatch(String),
    #[error("http error: {0}")]
    Http(String),
    #[error("probe setup failed: {0}")]
    Setup(String),
    #[error("probe panicked: {0}")]
    Panicked(String),
}

/// Builds per-target probes. Implemented by [`NetProbe`]; tests script it.
pub trait Probe: Send + Sync + 'static {
    /// Prepare probing `check` at `addr` (URL, headers, client). Called once
    /// each time a target's task starts, so it may allocate.
    fn prepare(&self, check: &Arc<Check>, addr: SocketAddr) -> Box<dyn TargetProbe>;
}

/// A prepared probe of one target.
pub trait TargetProbe: Send + Sync {
    /// Start one probe. The future must not block the thread.
    fn probe(&self) -> ProbeFuture;
}

/// Where probes leave from: one local address per family, or the one the
/// routing table picks (`None`, the default). `probe_source_ipv4` and
/// `probe_source_ipv6` in `dnslb.toml`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProbeSource {
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
}

impl ProbeSource {
    /// The source for a probe to `to`: the address of its family, if set.
    pub fn for_target(&self, to: IpAddr) -> Option<IpAddr> {
        match to {
            IpAddr::V4(_) => self.ipv4.map(IpAddr::V4),
            IpAddr::V6(_) => self.ipv6.map(IpAddr::V6),
        }
    }
}

/// The shared clients of one address family: plain HTTP, HTTPS verified,
/// HTTPS unverified.
#[derive(Default)]
struct Clients {
    plain: OnceLock<Result<Client, ProbeError>>,
    verified: OnceLock<Result<Client, ProbeError>>,
    unverified: OnceLock<Result<Client, ProbeError>>,
}

/// The real prober: reqwest for HTTP(S), tokio for TCP.
#[derive(Default)]
pub struct NetProbe {
    source: ProbeSource,
    /// IPv4 targets, IPv6 targets.
    clients: [Clients; 2],
}

impl fmt::Debug for NetProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetProbe")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl NetProbe {
    /// Probes from the address the routing table picks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Probes from `source` (per family; an unset family is the routing
    /// table's choice).
    pub fn with_source(source: ProbeSource) -> Self {
        Self {
            source,
            clients: Default::default(),
        }
    }

    fn shared(&self, tls: Option<bool>, to: IpAddr) -> Result<Client, ProbeError> {
        let clients = &self.clients[usize::from(to.is_ipv6())];
        let (cell, verify) = match tls {
            None => (&clients.plain, false),
            Some(true) => (&clients.verified, true),
            Some(false) => (&clients.unverified, false),
        };
        let local = self.source.for_target(to);
        cell.get_or_init(|| build(client_builder(tls.is_some(), verify, local)))
            .clone()
    }
}

impl Probe for NetProbe {
    fn prepare(&self, check: &Arc<Check>, addr: SocketAddr) -> Box<dyn TargetProbe> {
        match &check.kind {
            CheckKind::Tcp => Box::new(TcpTarget {
                addr,
                source: self.source.for_target(addr.ip()),
            }),
            CheckKind::Http(http) => Box::new(HttpTarget {
                inner: Arc::new(self.prepare_http(http, addr)),
            }),
        }
    }
}

impl NetProbe {
    fn prepare_http(&self, http: &HttpCheck, addr: SocketAddr) -> HttpInner {
        let server_name = http.tls.as_ref().and_then(|t| t.server_name.as_deref());
        let client = match (&http.tls, server_name) {
            (None, _) => self.shared(None, addr.ip()),
            (Some(t), None) => self.shared(Some(t.verify), addr.ip()),
            // Connect to `addr`, but send SNI and verify the certificate for
            // the name: the URL names the host, `resolve` pins its address.
            (Some(t), Some(name)) => build(
                client_builder(true, t.verify, self.source.for_target(addr.ip()))
                    .resolve(name, addr),
            ),
        };
        let scheme = if http.tls.is_some() { "https" } else { "http" };
        let host = match (server_name, addr.ip()) {
            (Some(name), _) => name.to_string(),
            (None, IpAddr::V4(ip)) => ip.to_string(),
            (None, IpAddr::V6(ip)) => format!("[{ip}]"),
        };
        let url = format!("{scheme}://{host}:{}{}", addr.port(), http.path);
        let prepared = Url::parse(&url)
            .map_err(|e| ProbeError::Setup(format!("bad url {url:?}: {e}")))
            .and_then(|url| Ok((url, headers(http)?)));
        let (client, url, headers) = match (client, prepared) {
            (Ok(c), Ok((u, h))) => (Ok(c), Some(u), h),
            (Err(e), _) | (_, Err(e)) => (Err(e), None, HeaderMap::new()),
        };
        HttpInner {
            client,
            url,
            method: match http.method {
                HttpMethod::Get => Method::GET,
                HttpMethod::Head => Method::HEAD,
            },
            headers,
            expect: http.expect_status.clone(),
            body_contains: http.body_contains.clone(),
            load: http.load.as_ref().map(|l| l.source.clone()),
            tls: http.tls.is_some(),
        }
    }
}

fn client_builder(tls: bool, verify: bool, local: Option<IpAddr>) -> ClientBuilder {
    Client::builder()
        // `probe_source_ipv4` / `probe_source_ipv6`, when set.
        .local_address(local)
        // Probes go straight to the target, never through HTTP(S)_PROXY.
        .no_proxy()
        // A redirect is the answer being judged (3xx is in the default
        // 200-399), not something to follow to another host.
        .redirect(reqwest::redirect::Policy::none())
        // Fresh connection per probe; see the module comment.
        .pool_max_idle_per_host(0)
        // A probe's connection lives for one request: keep-alive timers
        // would only cost four `setsockopt` calls per probe.
        .tcp_keepalive(None)
        .tcp_keepalive_interval(None)
        .tcp_keepalive_retries(None)
        // Every probe has an address; a name must never reach real DNS.
        .dns_resolver(Arc::new(NoDns))
        // Loading the system roots costs time; only verifying clients need them.
        .tls_built_in_root_certs(tls && verify)
        .danger_accept_invalid_certs(tls && !verify)
}

fn build(b: ClientBuilder) -> Result<Client, ProbeError> {
    b.build()
        .map_err(|e| ProbeError::Setup(format!("http client: {}", chain(&e))))
}

fn headers(http: &HttpCheck) -> Result<HeaderMap, ProbeError> {
    let bad = |what: &str| ProbeError::Setup(format!("bad header {what}"));
    let value = |v: &str| HeaderValue::from_str(v).map_err(|_| bad(v));
    let mut map = HeaderMap::new();
    map.insert(USER_AGENT, value(&http.user_agent)?);
    if let Some(h) = &http.host {
        // hyper adds Host from the URL only when it is absent.
        map.insert(HOST, value(h)?);
    }
    for (name, v) in &http.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad(name))?;
        map.append(name, value(v)?);
    }
    Ok(map)
}

/// Refuses every name lookup (see [`client_builder`]).
struct NoDns;

impl reqwest::dns::Resolve for NoDns {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let msg = format!("name lookup of {:?} is disabled for probes", name.as_str());
        Box::pin(async move { Err(msg.into()) })
    }
}

struct HttpInner {
    client: Result<Client, ProbeError>,
    url: Option<Url>,
    method: Method,
    headers: HeaderMap,
    expect: StatusSet,
    body_contains: Option<String>,
    load: Option<LoadSource>,
    tls: bool,
}

struct HttpTarget {
    inner: Arc<HttpInner>,
}

impl TargetProbe for HttpTarget {
    fn probe(&self) -> ProbeFuture {
        let inner = self.inner.clone();
        Box::pin(async move {
            let client = inner.client.as_ref().map_err(Clone::clone)?;
            let url = inner
                .url
                .clone()
                .ok_or_else(|| ProbeError::Setup("no url".into()))?;
            let mut resp = client
                .request(inner.method.clone(), url)
                .headers(inner.headers.clone())
                .send()
                .await
                .map_err(|e| classify(&e, inner.tls))?;
            let code = resp.status().as_u16();
            if !inner.expect.contains(code) {
                return Err(ProbeError::Status(code));
            }
            let header = match &inner.load {
                Some(LoadSource::Header(name)) => Some(
                    resp.headers()
                        .get(name.as_str())
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                ),
                _ => None,
            };
            let needs_body = matches!(
                inner.load,
                Some(LoadSource::Body | LoadSource::JsonPointer(_))
            );
            let body = if inner.body_contains.is_some() || needs_body {
                Some(read_body(&mut resp).await)
            } else {
                None
            };
            if let Some(needle) = &inner.body_contains {
                match &body {
                    Some(Ok(b)) if contains(b, needle.as_bytes()) => {}
                    Some(Err(e)) => return Err(e.clone()),
                    _ => return Err(ProbeError::BodyMismatch(needle.clone())),
                }
            }
            Ok(match &inner.load {
                None => Success::Status(code),
                Some(source) => {
                    let body = body.as_ref().and_then(|b| b.as_ref().ok());
                    match load_figure(source, header.flatten().as_deref(), body) {
                        Ok(v) => Success::Load(code, v),
                        Err(miss) => Success::NoLoad(code, miss),
                    }
                }
            })
        })
    }
}

/// The body, or its first [`BODY_LIMIT`] bytes: `body_contains` looks
/// there, and a load figure past it is not read. Err when reading fails
/// (the probe fails, as a server that breaks off its reply should).
async fn read_body(resp: &mut reqwest::Response) -> Result<Body, ProbeError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut complete = true;
    loop {
        let chunk = resp
            .chunk()
            .await
            .map_err(|e| ProbeError::Http(format!("reading body: {}", chain(&e))))?;
        let Some(chunk) = chunk else { break };
        let take = chunk.len().min(BODY_LIMIT - buf.len());
        buf.extend_from_slice(&chunk[..take]);
        if buf.len() >= BODY_LIMIT {
            complete = false;
            break;
        }
    }
    Ok(Body {
        bytes: buf,
        complete,
    })
}

/// The part of a response body a probe reads.
struct Body {
    bytes: Vec<u8>,
    /// False when the body went on past [`BODY_LIMIT`].
    complete: bool,
}

fn contains(body: &Body, needle: &[u8]) -> bool {
    needle.is_empty() || body.bytes.windows(needle.len()).any(|w| w == needle)
}

/// The load figure of one response: from `header` (the value of the load
/// header, when that is the source) or the `body`.
fn load_figure(
    source: &LoadSource,
    header: Option<&str>,
    body: Option<&Body>,
) -> Result<f32, LoadMiss> {
    match source {
        LoadSource::Header(_) => parse_load(header.ok_or(LoadMiss::NoHeader)?),
        LoadSource::Body => {
            let b = body.filter(|b| b.complete).ok_or(LoadMiss::Body)?;
            parse_load(std::str::from_utf8(&b.bytes).map_err(|_| LoadMiss::NotANumber)?)
        }
        LoadSource::JsonPointer(ptr) => {
            let b = body.filter(|b| b.complete).ok_or(LoadMiss::Body)?;
            let v: serde_json::Value =
                serde_json::from_slice(&b.bytes).map_err(|_| LoadMiss::NotJson)?;
            match v.pointer(ptr).ok_or(LoadMiss::NoJsonValue)? {
                serde_json::Value::Number(n) => {
                    let x = n.as_f64().ok_or(LoadMiss::NotANumber)?;
                    finite_load(x)
                }
                serde_json::Value::String(s) => parse_load(s),
                _ => Err(LoadMiss::NotANumber),
            }
        }
    }
}

/// A non-negative decimal number, surrounding white space allowed.
pub fn parse_load(text: &str) -> Result<f32, LoadMiss> {
    let t = text.trim();
    // Rust's float grammar also takes "inf", "NaN" and a leading '+';
    // only plain decimals (with an exponent) are figures.
    let plain = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && t.as_bytes()[0].is_ascii_digit();
    if !plain {
        return Err(LoadMiss::NotANumber);
    }
    finite_load(t.parse::<f64>().map_err(|_| LoadMiss::NotANumber)?)
}

fn finite_load(x: f64) -> Result<f32, LoadMiss> {
    let v = x as f32;
    if x >= 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(LoadMiss::NotANumber)
    }
}

/// Sort a reqwest error into the reasons an operator acts on.
fn classify(e: &reqwest::Error, tls: bool) -> ProbeError {
    let detail = chain(e);
    let mut src = e.source();
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return ProbeError::Refused;
        }
        src = s.source();
    }
    if e.is_connect() {
        // hyper-util labels failures of the TCP step "tcp connect error";
        // over https anything else in connecting is the TLS handshake.
        if tls && !detail.contains("tcp connect error") {
            return ProbeError::Tls(detail);
        }
        return ProbeError::Connect(detail);
    }
    ProbeError::Http(detail)
}

/// `error: source: source…`, the whole chain on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        // Some layers repeat their source in their own message.
        if !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}

struct TcpTarget {
    addr: SocketAddr,
    source: Option<IpAddr>,
}

/// Connect to `addr`, from `source` when given.
async fn connect_from(
    source: Option<IpAddr>,
    addr: SocketAddr,
) -> std::io::Result<tokio::net::TcpStream> {
    let Some(src) = source else {
        return tokio::net::TcpStream::connect(addr).await;
    };
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.bind(SocketAddr::new(src, 0)).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot bind probe source {src}: {e}"))
    })?;
    sock.connect(addr).await
}

impl TargetProbe for TcpTarget {
    fn probe(&self) -> ProbeFuture {
        let (addr, source) = (self.addr, self.source);
        Box::pin(async move {
            match connect_from(source, addr).await {
                // The handshake was the test. Close with a reset, as
                // HAProxy's checks do: no FIN exchange and no TIME_WAIT
                // socket left per probe, which at thousands of probes a
                // second is most of the kernel's work and of its ports.
                Ok(stream) => {
                    let _ = stream.set_zero_linger();
                    Ok(Success::Connected)
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    Err(ProbeError::Refused)
                }
                Err(e) => Err(ProbeError::Connect(e.to_string())),
            }
        })
    }
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
