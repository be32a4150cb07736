//! File format of a health check (`[checks.NAME]` in a zone's policy file).
//!
//! Only the serde shape lives here; validation into a runtime check (ranges,
//! timeout < interval, status lists) belongs to the health module.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// `[checks.NAME]`: how to probe the endpoints that reference this check.
/// Defaults are documented in `zones/example.test.toml`; the rules are
/// applied by [`crate::health::validate_check`].
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// `http`, `https` or `tcp`.
    pub kind: Spanned<String>,
    /// Port to probe, 1..=65535; default 80 (http), 443 (https); required for tcp.
    pub port: Option<Spanned<i64>>,
    /// Probe this IP address instead of the endpoint's own (management address).
    pub probe_address: Option<Spanned<String>>,
    /// Seconds between probe starts, 0.05..=3600 (float allowed); default 5.
    pub interval: Option<Spanned<f64>>,
    /// Seconds before a probe counts as failed, 0.01..=3600; default 2; must be < interval.
    pub timeout: Option<Spanned<f64>>,
    /// Consecutive successes to become up, 1..=100; default 2.
    pub rise: Option<Spanned<i64>>,
    /// Consecutive failures to become down, 1..=100; default 3.
    pub fall: Option<Spanned<i64>>,
    /// State before the first result: `up` (default) or `down`.
    pub initial_state: Option<Spanned<String>>,
    /// HTTP method: `GET` (default) or `HEAD` (any case). http/https only.
    pub method: Option<Spanned<String>>,
    /// HTTP path and query, starting with `/`; default `/`.
    pub path: Option<Spanned<String>>,
    /// Host header (`name` or `name:port`); default the TLS server name for
    /// https when there is one, else the probed address.
    pub host: Option<Spanned<String>>,
    /// TLS server name (SNI and certificate name), a DNS name; https only.
    /// Default: `host` without its port, when that is a DNS name; else none,
    /// and the certificate must name the IP address.
    pub tls_server_name: Option<Spanned<String>>,
    /// Verify the TLS certificate; default true. https only.
    pub tls_verify: Option<Spanned<bool>>,
    /// Accepted status codes: list of codes (100..=599) or "200-399" ranges;
    /// default ["200-399"]. Redirects are not followed.
    pub expect_status: Option<Spanned<Vec<Spanned<StatusSpec>>>>,
    /// The response body (first 256 KiB) must contain this substring; not with HEAD.
    pub body_contains: Option<Spanned<String>>,
    /// Extra request headers; not `Host` or `User-Agent` (own keys) nor
    /// framing headers.
    pub headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    /// User-Agent header; default `dnslb-health/VERSION`.
    pub user_agent: Option<Spanned<String>>,
}

/// One entry of `expect_status`: a code (`204`) or a range (`"200-299"`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum StatusSpec {
    Code(i64),
    Range(String),
}
