//! The data model in etcd: keys and JSON values, encoded and decoded here
//! and nowhere else. Pure (no I/O), so it is tested without a store.
//!
//! Under the cluster's prefix `/dnslb/NAME/`:
//!
//! | key | value | lease |
//! | --- | --- | --- |
//! | `nodes/NODE` | `{"node", "version", "started"}` | the node's |
//! | `obs/NODE/ADDR/HASH` | `{"state", "failing", "rtt_ms", "last_probe", "check"}` | the node's |
//! | `overrides/ENDPOINT` | `{"state", "since", "by"}` | none |
//! | `meta` | `{"created", "by"}` | none |
//!
//! `ADDR/HASH` is [`crate::health::fleet_key`]; `ENDPOINT` is an override
//! selector's canonical form (an address or `ZONE/POOL/MEMBER`). Times are
//! Unix seconds, RTTs milliseconds. A node's keys live on its lease, so
//! they vanish `lease_ttl` after the node stops renewing it (it died, or
//! lost the store); overrides are kept until an operator removes them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::health::fleet::View;
use crate::health::overrides::{Forced, Override, Selector};
use crate::health::{Observation, Status};

/// What a key under the prefix is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Node(String),
    Obs {
        node: String,
        target: String,
    },
    Override(Selector),
    /// Something else (another version's keys): ignored.
    Other,
}

/// Written once, by the first instance that finds the cluster's prefix
/// empty: from then on the store's override list is the truth. Its
/// absence means a new (or wiped) store, which the connecting instance
/// seeds with its own overrides so a store loss does not undo drains.
pub fn meta_key(prefix: &str) -> String {
    format!("{prefix}meta")
}

/// The value of [`meta_key`].
pub fn meta_value(node: &str, at: SystemTime) -> String {
    serde_json::json!({ "created": unix(at), "by": node }).to_string()
}

/// The key of `node`'s registration.
pub fn node_key(prefix: &str, node: &str) -> String {
    format!("{prefix}nodes/{node}")
}

/// Where `node`'s observations live (with the final `/`).
pub fn obs_prefix(prefix: &str, node: &str) -> String {
    format!("{prefix}obs/{node}/")
}

/// The key of `node`'s observation of fleet target `target`.
pub fn obs_key(prefix: &str, node: &str, target: &str) -> String {
    format!("{prefix}obs/{node}/{target}")
}

/// The key of the override of `endpoint`.
pub fn override_key(prefix: &str, endpoint: &Selector) -> String {
    format!("{prefix}overrides/{endpoint}")
}

/// Classify `key` (the whole key, prefix included).
pub fn parse_key(prefix: &str, key: &str) -> Entry {
    let Some(rest) = key.strip_prefix(prefix) else {
        return Entry::Other;
    };
    if let Some(n) = rest.strip_prefix("nodes/") {
        return if n.is_empty() || n.contains('/') {
            Entry::Other
        } else {
            Entry::Node(n.to_string())
        };
    }
    if let Some(r) = rest.strip_prefix("obs/") {
        return match r.split_once('/') {
            Some((node, target)) if !node.is_empty() && !target.is_empty() => Entry::Obs {
                node: node.to_string(),
                target: target.to_string(),
            },
            _ => Entry::Other,
        };
    }
    if let Some(e) = rest.strip_prefix("overrides/") {
        return Selector::parse(e).map_or(Entry::Other, Entry::Override);
    }
    Entry::Other
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn from_unix(s: f64) -> Option<SystemTime> {
    (s.is_finite() && s >= 0.0)
        .then(|| SystemTime::UNIX_EPOCH.checked_add(Duration::try_from_secs_f64(s).ok()?))
        .flatten()
}

#[derive(Serialize, Deserialize)]
struct NodeValue {
    node: String,
    version: String,
    started: f64,
}

/// `node`'s registration value.
pub fn node_value(node: &str, started: SystemTime) -> String {
    serde_json::to_string(&NodeValue {
        node: node.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        started: unix(started),
    })
    .unwrap_or_default()
}

#[derive(Serialize, Deserialize)]
struct ObsValue {
    state: String,
    failing: bool,
    rtt_ms: Option<f64>,
    last_probe: Option<f64>,
    check: String,
}

/// A view as stored.
pub fn obs_value(v: &View) -> String {
    serde_json::to_string(&ObsValue {
        state: v.obs.status.to_string(),
        failing: v.obs.failing,
        rtt_ms: v.rtt_us.map(|us| f64::from(us) / 1000.0),
        last_probe: v.last_probe.map(unix),
        check: v.check.to_string(),
    })
    .unwrap_or_default()
}

/// A stored view; an error message for a value this version cannot read.
pub fn parse_obs(value: &[u8]) -> Result<View, String> {
    let v: ObsValue = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    let status = Status::WORDS
        .parse(&v.state)
        .ok_or_else(|| format!("state {:?} is neither up nor down", v.state))?;
    Ok(View {
        obs: Observation {
            status,
            failing: v.failing && status == Status::Up,
        },
        rtt_us: v
            .rtt_ms
            .filter(|r| r.is_finite() && *r >= 0.0)
            .map(|r| (r * 1000.0).round().min(f64::from(u32::MAX)) as u32),
        last_probe: v.last_probe.and_then(from_unix),
        check: Arc::from(v.check),
    })
}

#[derive(Serialize, Deserialize)]
struct OverrideValue {
    state: String,
    since: u64,
    by: String,
}

/// An override as stored; `by` is the node whose admin API set it.
pub fn override_value(state: Forced, since: u64, by: &str) -> String {
    serde_json::to_string(&OverrideValue {
        state: state.as_str().to_string(),
        since,
        by: by.to_string(),
    })
    .unwrap_or_default()
}

/// A stored override of `endpoint`.
pub fn parse_override(endpoint: Selector, value: &[u8]) -> Result<Override, String> {
    let v: OverrideValue = serde_json::from_slice(value).map_err(|e| e.to_string())?;
    match Forced::parse(&v.state)? {
        Some(state) => Ok(Override {
            endpoint,
            state,
            since: v.since,
        }),
        None => Err("state \"auto\" is no override".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "/dnslb/prod/";

    #[test]
    fn keys_round_trip() {
        let sel = Selector::parse("example.test/web/web-a").unwrap();
        let cases = [
            (node_key(P, "ns1"), Entry::Node("ns1".into())),
            (
                obs_key(P, "ns1", "2001:db8::1/00ff00ff00ff00ff"),
                Entry::Obs {
                    node: "ns1".into(),
                    target: "2001:db8::1/00ff00ff00ff00ff".into(),
                },
            ),
            (override_key(P, &sel), Entry::Override(sel.clone())),
            (
                override_key(P, &Selector::parse("192.0.2.1").unwrap()),
                Entry::Override(Selector::parse("192.0.2.1").unwrap()),
            ),
            ("/dnslb/other/nodes/x".into(), Entry::Other),
            (format!("{P}nodes/a/b"), Entry::Other),
            (format!("{P}obs/ns1/"), Entry::Other),
            (format!("{P}overrides/not an endpoint"), Entry::Other),
            (format!("{P}future/thing"), Entry::Other),
        ];
        for (key, want) in cases {
            assert_eq!(parse_key(P, &key), want, "{key}");
        }
        assert!(obs_key(P, "a", "t").starts_with(&obs_prefix(P, "a")));
        assert_eq!(parse_key(P, &meta_key(P)), Entry::Other);
    }

    #[test]
    fn values_round_trip_and_bad_ones_are_refused() {
        let v = View {
            obs: Observation {
                status: Status::Up,
                failing: true,
            },
            rtt_us: Some(1234),
            last_probe: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_763_712_345_500)),
            check: "web".into(),
        };
        let text = obs_value(&v);
        assert!(
            text.contains("\"state\":\"up\"") && text.contains("\"rtt_ms\":1.234"),
            "{text}"
        );
        assert_eq!(parse_obs(text.as_bytes()).unwrap(), v);
        assert!(parse_obs(br#"{"state":"sideways","failing":false,"rtt_ms":null,"last_probe":null,"check":"c"}"#)
            .unwrap_err()
            .contains("sideways"));
        assert!(parse_obs(b"not json").is_err());
        // A down view is never "failing"; nonsense times are dropped.
        let odd = parse_obs(
            br#"{"state":"down","failing":true,"rtt_ms":-1,"last_probe":-5,"check":"c"}"#,
        )
        .unwrap();
        assert_eq!(
            (odd.obs, odd.rtt_us, odd.last_probe),
            (Observation::DOWN, None, None)
        );

        let sel = Selector::parse("192.0.2.1").unwrap();
        let o = parse_override(
            sel.clone(),
            override_value(Forced::Drain, 17, "ns1").as_bytes(),
        )
        .unwrap();
        assert_eq!((o.state, o.since), (Forced::Drain, 17));
        assert!(parse_override(sel.clone(), br#"{"state":"auto","since":1,"by":"x"}"#).is_err());
        assert!(parse_override(sel, b"{}").is_err());
        assert!(node_value("ns1", SystemTime::now()).contains("\"node\":\"ns1\""));
    }
}
