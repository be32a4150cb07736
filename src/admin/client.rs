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

/// One endpoint's columns in `dnslb status`.
fn endpoint_row(e: &Value, now: f64) -> Vec<String> {
    let rtt = e["rtt_ms"]
        .as_f64()
        .map_or("-".into(), |r| format!("{r:.1}ms"));
    let share = e["answer_share"]
        .as_f64()
        .map_or("-".into(), |s| format!("{:.1}%", s * 100.0));
    let mut row = vec![
        e["address"].as_str().unwrap_or("").to_string(),
        e["name"].as_str().unwrap_or("-").to_string(),
        e["availability"].as_str().unwrap_or("").to_string(),
        format!("health {}", e["health"].as_str().unwrap_or("")),
        format!("rtt {rtt}"),
        format!("answers {share}"),
        format!("changed {}", ago(now, e["last_change"].as_f64())),
    ];
    if let Some(l) = e["load"].as_f64() {
        row.push(format!("load {l}"));
    }
    if let Some(f) = e["forced"].as_str() {
        row.push(format!("forced {f}"));
    }
    row
}

/// Per column, the width of its longest value (in characters).
fn widths(rows: &[Vec<String>]) -> Vec<usize> {
    let mut w = Vec::new();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            let n = c.chars().count();
            if i == w.len() {
                w.push(n);
            } else {
                w[i] = w[i].max(n);
            }
        }
    }
    w
}

/// `row`'s columns, each padded to its width and one space apart; the
/// last one unpadded, so lines carry no trailing spaces.
fn push_row(out: &mut String, row: &[String], widths: &[usize]) {
    for (i, c) in row.iter().enumerate() {
        if i + 1 == row.len() {
            out.push_str(c);
        } else {
            let _ = write!(out, "{c:<w$} ", w = widths.get(i).copied().unwrap_or(0));
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
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|o| {
                vec![
                    o["endpoint"].as_str().unwrap_or("").to_string(),
                    o["state"].as_str().unwrap_or("").to_string(),
                    format!("since {}", ago(now, o["since"].as_f64())),
                    format!("({} member(s))", o["matches"].as_u64().unwrap_or(0)),
                ]
            })
            .collect();
        let widths = widths(&rows);
        for r in &rows {
            out.push_str("  ");
            push_row(&mut out, r, &widths);
            out.push('\n');
        }
        if v["state_file"].is_null() {
            let _ = writeln!(out, "  (not persisted: admin_state_file is not set)");
        }
    }
    // One set of column widths for every endpoint row, from the longest
    // value of each column.
    let rows: Vec<Vec<String>> = v["names"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|n| n["pools"].as_array().into_iter().flatten())
        .flat_map(|p| p["endpoints"].as_array().into_iter().flatten())
        .map(|e| endpoint_row(e, now))
        .collect();
    let widths = widths(&rows);
    let mut rows = rows.iter();
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
                out.push_str("    ");
                if let Some(row) = rows.next() {
                    push_row(&mut out, row, &widths);
                }
                if let Some(a6) = e["address6"].as_str() {
                    let _ = write!(out, "\n      and {a6} (dual-stack, one health state)");
                }
                if let Some(err) = e["last_error"].as_str() {
                    // Kept after the endpoint recovers: say so.
                    let resolved = e["health"].as_str() == Some("up")
                        && e["consecutive_failures"].as_u64().unwrap_or(0) == 0;
                    let what = if resolved {
                        "last error (resolved)"
                    } else {
                        "last error"
                    };
                    let _ = write!(out, "\n      {what}: {err}");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(addr: &str, name: Option<&str>, health: &str, extra: Value) -> Value {
        let mut e = json!({
            "address": addr, "name": name, "availability": "available",
            "health": health, "rtt_ms": null, "answer_share": null,
            "last_change": null, "forced": null, "last_error": null,
            "consecutive_failures": 0,
        });
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        e
    }

    /// Columns are as wide as their longest value, whatever it is (a long
    /// IPv6 address, a long member name, an override of a long endpoint),
    /// so every row's columns start at the same place; no trailing spaces.
    #[test]
    fn columns_fit_the_longest_value() {
        let long_name = "a-member-name-far-longer-than-twelve";
        let v = json!({
            "version": "0", "now": 100.0, "ready": true, "share_window_seconds": 60.0,
            "reloads": {"last": null}, "zones": [], "cluster": null, "state_file": null,
            "overrides": [
                {"endpoint": "x.test/pool/a-very-long-member-name-of-more-than-forty-chars",
                 "state": "drain", "since": 90, "matches": 1},
                {"endpoint": "192.0.2.1", "state": "up", "since": 40, "matches": 12},
            ],
            "names": [
                {"name": "a.x.test.", "policy": "weighted", "ttl": 30, "answers": "1",
                 "on_all_down": "all", "pools": [{"pool": "p", "role": "pool", "endpoints": [
                    ep("192.0.2.1", Some("s"), "up", json!({"forced": "up", "rtt_ms": 1234.5})),
                    ep("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", Some(long_name), "unchecked", json!({})),
                 ]}]},
                {"name": "b.x.test.", "policy": "weighted", "ttl": 30, "answers": "1",
                 "on_all_down": "all", "pools": [{"pool": "q", "role": "pool", "endpoints": [
                    ep("192.0.2.9", None, "up", json!({"last_error": "timed out", "answer_share": 0.5})),
                 ]}]},
            ],
        });
        let text = render_status(&v);
        assert!(text.lines().all(|l| !l.ends_with(' ')), "{text}");
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("    "))
            .filter(|l| !l.starts_with("      "))
            .collect();
        assert_eq!(rows.len(), 3, "{text}");
        for col in ["health ", "rtt ", "answers ", "changed "] {
            let at: Vec<usize> = rows.iter().map(|r| r.find(col).unwrap()).collect();
            assert!(
                at.windows(2).all(|w| w[0] == w[1]),
                "{col:?} at {at:?}:\n{text}"
            );
        }
        // The name column holds the long name whole, one space after it.
        assert!(
            rows[1].contains(&format!("{long_name} available")),
            "{text}"
        );
        assert!(rows[0].ends_with("forced up"), "{text}");
        assert!(
            text.contains("      last error (resolved): timed out"),
            "{text}"
        );
        let ov: Vec<&str> = text.lines().filter(|l| l.contains(" since ")).collect();
        assert_eq!(ov[0].find(" since "), ov[1].find(" since "), "{text}");
        assert!(ov[0].contains("forty-chars drain since"), "{text}");
    }
}
