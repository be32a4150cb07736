//! The command-line side of the admin API: `dnslb status`, `dnslb drain`,
//! `dnslb undrain` and `dnslb force` talk to a running server over HTTP,
//! as `gdnsdctl` talks to gdnsd.
//!
//! Where to connect: `--admin URL`, else `DNSLB_ADMIN_URL`, else the
//! `admin_listen` of `--config FILE`, else `http://127.0.0.1:8053`. The
//! token: `--token`, `--token-file`, `DNSLB_ADMIN_TOKEN`, or the config's.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::config::settings::DEFAULT_ADMIN_LISTEN;

/// How to reach the admin API.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// `http://HOST:PORT`, no trailing slash.
    pub base: String,
    pub token: Option<String>,
}

/// Command-line choices, before defaults.
#[derive(Debug, Clone, Default)]
pub struct Choices {
    pub admin: Option<String>,
    pub token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

/// The URL for a listen address: wildcard addresses are reached on loopback.
fn url_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v) if v.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v) if v.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

impl Endpoint {
    /// Apply the precedence rules above.
    pub fn resolve(c: &Choices) -> anyhow::Result<Self> {
        let cfg = match &c.config {
            Some(p) => {
                let mut d = crate::diag::Diagnostics::new();
                match crate::config::load_settings(p, &mut d) {
                    Some(cfg) => Some(cfg),
                    None => bail!("{d}"),
                }
            }
            None => None,
        };
        let base = if let Some(a) = &c.admin {
            a.clone()
        } else if let Ok(a) = std::env::var("DNSLB_ADMIN_URL") {
            a
        } else if let Some(cfg) = &cfg {
            match cfg.admin_listen {
                Some(a) => url_for(a),
                None => bail!(
                    "{}: admin_listen is off, so there is no admin API to talk to",
                    c.config
                        .as_ref()
                        .map_or(String::new(), |p| p.display().to_string())
                ),
            }
        } else {
            url_for(DEFAULT_ADMIN_LISTEN.parse().expect("valid default"))
        };
        let base = if base.contains("://") {
            base
        } else {
            format!("http://{base}")
        };
        let token = if let Some(t) = &c.token {
            Some(t.clone())
        } else if let Some(f) = &c.token_file {
            let t = crate::files::read_text(f, crate::files::FileKind::ADMIN_TOKEN)
                .map_err(|e| anyhow::anyhow!("cannot read the token file {}: {e}", f.display()))?;
            Some(t.trim().to_string())
        } else if let Ok(t) = std::env::var(super::TOKEN_ENV) {
            Some(t.trim().to_string())
        } else {
            cfg.and_then(|c| c.admin_token)
                .map(|t| t.as_str().to_string())
        };
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            token,
        })
    }

    fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        Self::runtime()?.block_on(async {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .context("building the HTTP client")?;
            let mut req = client.request(method, &url);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(b.to_string());
            }
            let resp = req.send().await.with_context(|| {
                format!("cannot reach the dnslb admin API at {url} (is dnslb running, and is admin_listen set?)")
            })?;
            let code = resp.status();
            let bytes = resp.bytes().await.context("reading the response")?;
            let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                json!({ "error": String::from_utf8_lossy(&bytes).trim().to_string() })
            });
            if !code.is_success() {
                let mut msg = format!(
                    "{url}: {code}: {}",
                    v.get("error").and_then(Value::as_str).unwrap_or("")
                );
                if let Some(c) = v.get("candidates").and_then(Value::as_array) {
                    msg.push_str("\ncandidates:");
                    for x in c {
                        let _ = write!(msg, "\n  {}", x.as_str().unwrap_or_default());
                    }
                }
                bail!(msg);
            }
            Ok(v)
        })
    }

    /// `GET /status`, as JSON.
    pub fn status(&self) -> anyhow::Result<Value> {
        self.request(reqwest::Method::GET, "/status", None)
    }

    /// `GET /explain`: the running server's `dnslb explain` text.
    pub fn explain(
        &self,
        name: &str,
        qtype: &str,
        client: std::net::IpAddr,
        ecs: Option<ipnet::IpNet>,
    ) -> anyhow::Result<String> {
        let mut path = format!(
            "/explain?name={}&qtype={}&client={}",
            percent(name),
            percent(qtype),
            percent(&client.to_string())
        );
        if let Some(e) = ecs {
            let _ = write!(path, "&ecs={}", percent(&e.to_string()));
        }
        let v = self.request(reqwest::Method::GET, &path, None)?;
        Ok(v["text"].as_str().unwrap_or_default().to_string())
    }

    /// `POST /overrides`: force `endpoint` into `state` (`auto` clears).
    pub fn force(&self, endpoint: &str, state: &str) -> anyhow::Result<Value> {
        let body = json!({ "endpoint": endpoint, "state": state });
        self.request(reqwest::Method::POST, "/overrides", Some(body))
    }
}

/// `s` for a URL query string: every byte but unreserved ones (RFC 3986
/// §2.3) percent-encoded.
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// One line saying what `force` did.
pub fn describe_change(v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
    let matches = v.get("matches").and_then(Value::as_u64).unwrap_or(0);
    let mut line = if v.get("changed").and_then(Value::as_bool) == Some(true) {
        format!("{}: {} -> {}", s("endpoint"), s("previous"), s("state"))
    } else {
        format!("{}: already {}", s("endpoint"), s("state"))
    };
    let _ = write!(line, " ({matches} pool member(s))");
    if v.get("persisted").and_then(Value::as_bool) == Some(false) {
        line.push_str("; not persisted: admin_state_file is not set");
    }
    line
}

fn ago(now: f64, t: Option<f64>) -> String {
    match t {
        None => "-".into(),
        Some(t) => {
            let s = (now - t).max(0.0).round() as u64;
            match s {
                0..120 => format!("{s}s ago"),
                120..7200 => format!("{}m ago", s / 60),
                _ => format!("{}h ago", s / 3600),
            }
        }
    }
}

/// `/status` as text for a terminal.
pub fn render_status(v: &Value) -> String {
    let mut out = String::new();
    let now = v.get("now").and_then(Value::as_f64).unwrap_or(0.0);
    let ready = v.get("ready").and_then(Value::as_bool) == Some(true);
    let _ = writeln!(
        out,
        "dnslb {} {}; answer shares over the last {:.0} s",
        v["version"].as_str().unwrap_or("?"),
        if ready { "ready" } else { "NOT READY" },
        v["share_window_seconds"].as_f64().unwrap_or(0.0)
    );
    let last = &v["reloads"]["last"];
    if let Some(outcome) = last["outcome"].as_str().filter(|o| *o != "ok") {
        let _ = writeln!(
            out,
            "\nlast reload ({}, {}): {outcome}",
            last["cause"].as_str().unwrap_or(""),
            ago(now, last["at"].as_f64())
        );
        for e in last["errors"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  {}", e.as_str().unwrap_or(""));
        }
    }
    for r in last["restart_needed"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "restart needed: {}", r.as_str().unwrap_or(""));
    }
    for z in v["zones"].as_array().into_iter().flatten() {
        let state = z["state"].as_str().unwrap_or("");
        if state != "loaded" {
            let what = if state == "previous" {
                "has errors; the previous version is served"
            } else {
                "has errors; not served"
            };
            let _ = writeln!(
                out,
                "zone {} ({}) {what}",
                z["zone"].as_str().unwrap_or(""),
                z["file"].as_str().unwrap_or("")
            );
        }
    }
    let c = &v["cluster"];
    if c.is_object() {
        let nodes: Vec<&str> = c["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if c["connected"].as_bool() == Some(true) {
            let _ = writeln!(
                out,
                "cluster: node {}, connected {}, {} instance(s): {}; {}",
                c["node"].as_str().unwrap_or(""),
                ago(now, c["since"].as_f64()),
                nodes.len(),
                nodes.join(", "),
                c["rule"].as_str().unwrap_or("")
            );
        } else {
            let _ = writeln!(
                out,
                "cluster: node {}, STORE UNREACHABLE {}: deciding alone ({})",
                c["node"].as_str().unwrap_or(""),
                ago(now, c["since"].as_f64()),
                c["last_error"].as_str().unwrap_or("")
            );
        }
    }
    if let Some(list) = v["overrides"].as_array().filter(|l| !l.is_empty()) {
        let _ = writeln!(out, "\noverrides:");
        for o in list {
            let _ = writeln!(
                out,
                "  {:<40} {:<5} since {}  ({} member(s))",
                o["endpoint"].as_str().unwrap_or(""),
                o["state"].as_str().unwrap_or(""),
                ago(now, o["since"].as_f64()),
                o["matches"].as_u64().unwrap_or(0)
            );
        }
        if v["state_file"].is_null() {
            let _ = writeln!(out, "  (not persisted: admin_state_file is not set)");
        }
    }
    for n in v["names"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "\n{}  policy {}, ttl {}, answers {}, all down: {}",
            n["name"].as_str().unwrap_or(""),
            n["policy"].as_str().unwrap_or(""),
            n["ttl"],
            n["answers"].as_str().unwrap_or(""),
            n["on_all_down"].as_str().unwrap_or("")
        );
        for p in n["pools"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "  pool {} ({})",
                p["pool"].as_str().unwrap_or(""),
                p["role"].as_str().unwrap_or("")
            );
            for e in p["endpoints"].as_array().into_iter().flatten() {
                let forced = e["forced"]
                    .as_str()
                    .map_or(String::new(), |f| format!(" forced {f}"));
                let rtt = e["rtt_ms"]
                    .as_f64()
                    .map_or("-".into(), |r| format!("{r:.1}ms"));
                let share = e["answer_share"]
                    .as_f64()
                    .map_or("-".into(), |s| format!("{:.1}%", s * 100.0));
                let _ = write!(
                    out,
                    "    {:<39} {:<12} {:<9} health {:<9} rtt {:<8} answers {:<6} changed {}{}",
                    e["address"].as_str().unwrap_or(""),
                    e["name"].as_str().unwrap_or("-"),
                    e["availability"].as_str().unwrap_or(""),
                    e["health"].as_str().unwrap_or(""),
                    rtt,
                    share,
                    ago(now, e["last_change"].as_f64()),
                    forced
                );
                if let Some(err) = e["last_error"].as_str() {
                    let _ = write!(out, "\n      last error: {err}");
                }
                let f = &e["fleet"];
                if f.is_object() {
                    let views: Vec<String> = f["views"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|w| {
                            format!(
                                "{}{} {}",
                                w["node"].as_str().unwrap_or(""),
                                if w["self"].as_bool() == Some(true) {
                                    "*"
                                } else {
                                    ""
                                },
                                w["health"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    let _ = write!(
                        out,
                        "\n      fleet: {} of {} see it up (needs {}): {}",
                        f["up"],
                        f["observers"],
                        f["needed"],
                        views.join(", ")
                    );
                }
                out.push('\n');
            }
        }
    }
    out
}
