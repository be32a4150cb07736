//! Runtime health checks: what a probe does, shared by every endpoint
//! that references the check. Built from the policy file by
//! `config::policy_file::checks`; this module knows no file format.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::time::Duration;

use super::Status;
use crate::words::Words;

/// Sent as `User-Agent` unless the check's `user_agent` says otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("dnslb-health/", env!("CARGO_PKG_VERSION"));

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
    /// Where each response says how loaded the endpoint is, if anywhere
    /// (`load_header`, `load_json_pointer`, `load_body`).
    pub load: Option<Box<LoadFeedback>>,
}

/// A load figure read from every successful HTTP probe (PowerDNS
/// `pickselfweighted` reads a weight from a URL the same way; NS1 sheds
/// load on reported connection counts). The prober parses it off the query
/// path and keeps it in the health table next to the RTT
/// ([`HealthTable::load`](super::HealthTable::load)); the
/// `least_connections` pick reads it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LoadFeedback {
    pub source: LoadSource,
    pub kind: LoadKind,
}

/// Where in the response the figure is: a non-negative decimal number
/// (`12`, `0.75`, `3e2`); anything else is "no figure" for that probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LoadSource {
    /// A response header (name lowercased); its value is the number.
    Header(String),
    /// An RFC 6901 JSON pointer (`/connections`) into a JSON body; the
    /// value there is a number, or a string holding one.
    JsonPointer(String),
    /// The whole body, surrounding white space aside, is the number.
    Body,
}

/// What the figure means (`load_kind`).
#[derive(Debug, Copy, Clone, PartialEq, Eq, Hash)]
pub enum LoadKind {
    /// Work in progress (active connections, requests in flight): the
    /// `least_connections` pick prefers members with less of it per unit
    /// of configured weight.
    Connections,
    /// A weight the endpoint gives itself; it replaces the configured one.
    Weight,
}

impl LoadKind {
    /// `load_kind` in the file.
    pub const WORDS: Words<LoadKind> = Words(&[
        ("connections", LoadKind::Connections),
        ("weight", LoadKind::Weight),
    ]);

    pub fn as_str(self) -> &'static str {
        Self::WORDS.word(self)
    }
}

impl Check {
    /// The load feedback of an HTTP check, if it reads one.
    pub fn load(&self) -> Option<&LoadFeedback> {
        match &self.kind {
            CheckKind::Http(h) => h.load.as_deref(),
            CheckKind::Tcp => None,
        }
    }
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
    /// The methods a check may use; `method` in the file, in any case.
    pub const WORDS: Words<HttpMethod> =
        Words(&[("GET", HttpMethod::Get), ("HEAD", HttpMethod::Head)]);

    pub fn as_str(self) -> &'static str {
        Self::WORDS.word(self)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_words() {
        for m in [HttpMethod::Get, HttpMethod::Head] {
            assert_eq!(HttpMethod::WORDS.parse(m.as_str()), Some(m));
        }
    }
}
