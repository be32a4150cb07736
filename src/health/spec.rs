//! File format of a health check (`[checks.NAME]` in a zone's policy file).
//!
//! Only the serde shape lives here; validation into a runtime check (ranges,
//! timeout < interval, status lists) belongs to the health module.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// `[checks.NAME]`: how to probe the endpoints that reference this check.
/// Defaults are documented in `zones/example.test.toml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// `http`, `https` or `tcp`.
    pub kind: Spanned<String>,
    /// Port to probe; default 80 (http), 443 (https); required for tcp.
    pub port: Option<Spanned<i64>>,
    /// Probe this address instead of the endpoint's own (management address).
    pub probe_address: Option<Spanned<String>>,
    /// Seconds between probes (float allowed); default 5.
    pub interval: Option<Spanned<f64>>,
    /// Seconds before a probe counts as failed; default 2; must be < interval.
    pub timeout: Option<Spanned<f64>>,
    /// Consecutive successes to become up; default 2.
    pub rise: Option<Spanned<i64>>,
    /// Consecutive failures to become down; default 3.
    pub fall: Option<Spanned<i64>>,
    /// State before the first result: `up` (default) or `down`.
    pub initial_state: Option<Spanned<String>>,
    /// HTTP method: `GET` (default) or `HEAD`.
    pub method: Option<Spanned<String>>,
    /// HTTP path; default `/`.
    pub path: Option<Spanned<String>>,
    /// Host header; default the probed address.
    pub host: Option<Spanned<String>>,
    /// TLS server name (SNI and certificate name); default `host`.
    pub tls_server_name: Option<Spanned<String>>,
    /// Verify the TLS certificate; default true.
    pub tls_verify: Option<Spanned<bool>>,
    /// Accepted status codes: list of codes or "200-399" ranges; default ["200-399"].
    pub expect_status: Option<Spanned<Vec<Spanned<StatusSpec>>>>,
    /// The response body must contain this substring.
    pub body_contains: Option<Spanned<String>>,
    /// Extra request headers.
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
