//! `[cluster]` in `dnslb.toml`: cluster mode, in which several dnslb
//! instances share health observations and operator overrides through
//! etcd and decide each target's state by quorum (docs/OPERATIONS.md,
//! "A fleet of instances"). Off unless the table is present. Every key
//! needs a restart to change.

use std::time::Duration;

use toml::Spanned;

use super::fields::{Cx, Fields};
use super::rrl::ErrFn;
use super::values::{float_in, int_in};
use crate::health::Quorum;
use crate::health::quorum::MAX_HEALTHY_ABOVE;

/// File format: the `[cluster]` table, read key by key.
#[derive(Debug, Default)]
pub struct ClusterSpec {
    /// Where the table starts (for errors about the table as a whole).
    pub at: usize,
    pub endpoints: Option<Spanned<Vec<Spanned<String>>>>,
    pub name: Option<Spanned<String>>,
    pub node: Option<Spanned<String>>,
    pub healthy_above: Option<Spanned<f64>>,
    pub lease_ttl: Option<Spanned<i64>>,
    pub refresh_interval: Option<Spanned<f64>>,
    pub timeout: Option<Spanned<f64>>,
}

impl ClusterSpec {
    /// Read `[cluster]`; bad values and unknown keys are reported into
    /// `cx` and read as absent.
    pub(crate) fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let spec = Self {
            at: f.at(),
            endpoints: f.opt(cx, "endpoints"),
            name: f.opt(cx, "name"),
            node: f.opt(cx, "node"),
            healthy_above: f.opt(cx, "healthy_above"),
            lease_ttl: f.opt(cx, "lease_ttl"),
            refresh_interval: f.opt(cx, "refresh_interval"),
            timeout: f.opt(cx, "timeout"),
        };
        f.finish(cx);
        spec
    }
}

/// Validated `[cluster]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSettings {
    /// etcd client URLs, `http://HOST:PORT`.
    pub endpoints: Vec<String>,
    /// Cluster name: keys live under `/dnslb/NAME/`. Default `default`.
    pub name: String,
    /// This instance's name, unique in the cluster. Default: the host name.
    pub node: String,
    /// The decision rule (`healthy_above`, default 0.5).
    pub quorum: Quorum,
    /// Lifetime of this instance's observations without a keep-alive
    /// (whole seconds, default 10).
    pub lease_ttl: Duration,
    /// Every observation is written again this often, so RTTs and probe
    /// times stay fresh (default 60 s); state changes go out at once.
    pub refresh_interval: Duration,
    /// Bound of every store request, connecting included (default 2 s).
    pub timeout: Duration,
}

impl ClusterSettings {
    /// The defaults, for `node` and `endpoints`.
    pub fn new(node: String, endpoints: Vec<String>) -> Self {
        Self {
            endpoints,
            name: "default".into(),
            node,
            quorum: Quorum::default(),
            lease_ttl: Duration::from_secs(10),
            refresh_interval: Duration::from_secs(60),
            timeout: Duration::from_secs(2),
        }
    }

    /// The key prefix of this cluster: `/dnslb/NAME/`.
    pub fn prefix(&self) -> String {
        format!("/dnslb/{}/", self.name)
    }
}

/// A node or cluster name: 1-63 of `A-Z a-z 0-9 . _ -` (it becomes part of
/// store keys, so no `/`).
pub fn is_label(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// This host's name (Linux), for the default `node`.
fn host_name() -> Option<String> {
    let n = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let n = n.trim();
    (!n.is_empty()).then(|| n.to_string())
}

/// `http://HOST:PORT` or `HOST:PORT` → `http://HOST:PORT`.
fn endpoint_url(s: &str) -> Result<String, String> {
    if s.starts_with("https://") {
        return Err(format!(
            "{s:?}: TLS to etcd is not supported yet; use http:// on a private network"
        ));
    }
    let rest = s.strip_prefix("http://").unwrap_or(s);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let bad = || format!("{s:?} is not an etcd client URL like http://127.0.0.1:2379");
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        host.parse::<std::net::Ipv4Addr>().is_ok() || super::values::is_host_name(host)
    };
    if !host_ok || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad());
    }
    Ok(format!("http://{rest}"))
}

/// Validate `[cluster]`; every problem goes to `err`. `None` when the
/// table cannot be used (no endpoints, or no node name).
pub fn validate(spec: ClusterSpec, err: &mut ErrFn<'_>) -> Option<ClusterSettings> {
    let ClusterSpec {
        at,
        endpoints,
        name,
        node,
        healthy_above,
        lease_ttl,
        refresh_interval,
        timeout,
    } = spec;
    if !cfg!(feature = "cluster") {
        err(
            at..at,
            "cluster",
            "this dnslb was built without cluster mode; build it with \
             `cargo build --release --features cluster` (needs protoc)"
                .into(),
        );
    }
    let mut ok = true;
    let mut urls = Vec::new();
    match endpoints {
        None => {
            err(at..at, "cluster", "missing field `endpoints`".into());
            ok = false;
        }
        Some(list) => {
            if list.get_ref().is_empty() {
                err(
                    list.span(),
                    "cluster.endpoints",
                    "must name at least one etcd client URL".into(),
                );
                ok = false;
            }
            for e in list.into_inner() {
                match endpoint_url(e.get_ref()) {
                    Ok(u) => urls.push(u),
                    Err(m) => {
                        err(e.span(), "cluster.endpoints", m);
                        ok = false;
                    }
                }
            }
        }
    }
    let label = |v: &Spanned<String>, key: &str, err: &mut ErrFn<'_>| {
        if is_label(v.get_ref()) {
            Some(v.get_ref().clone())
        } else {
            err(
                v.span(),
                key,
                format!(
                    "{:?} must be 1 to 63 letters, digits, '.', '_' or '-'",
                    v.get_ref()
                ),
            );
            None
        }
    };
    let node = match &node {
        Some(n) => label(n, "cluster.node", err),
        None => match host_name() {
            Some(h) if is_label(&h) => Some(h),
            other => {
                err(
                    at..at,
                    "cluster",
                    format!(
                        "set `node`: the host name {} cannot be used as the node name",
                        other.map_or_else(|| "(unreadable)".into(), |h| format!("{h:?}"))
                    ),
                );
                None
            }
        },
    };
    let mut s = ClusterSettings::new(node.clone().unwrap_or_default(), urls);
    if let Some(n) = &name
        && let Some(v) = label(n, "cluster.name", err)
    {
        s.name = v;
    }
    if let Some(h) = &healthy_above {
        match float_in(*h.get_ref(), 0.0..=MAX_HEALTHY_ABOVE, "") {
            Ok(v) => s.quorum = Quorum::healthy_above(v),
            Err(m) => err(h.span(), "cluster.healthy_above", m),
        }
    }
    if let Some(t) = &lease_ttl {
        match int_in(*t.get_ref(), 2..=600) {
            Ok(v) => s.lease_ttl = Duration::from_secs(v as u64),
            Err(m) => err(t.span(), "cluster.lease_ttl", format!("{m} (seconds)")),
        }
    }
    if let Some(t) = &refresh_interval {
        match float_in(*t.get_ref(), 1.0..=3600.0, " seconds") {
            Ok(v) => s.refresh_interval = Duration::from_secs_f64(v),
            Err(m) => err(t.span(), "cluster.refresh_interval", m),
        }
    }
    if let Some(t) = &timeout {
        match float_in(*t.get_ref(), 0.1..=60.0, " seconds") {
            Ok(v) => s.timeout = Duration::from_secs_f64(v),
            Err(m) => err(t.span(), "cluster.timeout", m),
        }
    }
    // A keep-alive is sent every third of the lease; a request that may
    // take longer than the lease would let it lapse unnoticed.
    if s.timeout >= s.lease_ttl {
        let (span, key) = match (&timeout, &lease_ttl) {
            (Some(t), _) => (t.span(), "cluster.timeout"),
            (None, Some(l)) => (l.span(), "cluster.lease_ttl"),
            (None, None) => (at..at, "cluster"),
        };
        err(
            span,
            key,
            format!(
                "timeout ({} s) must be less than lease_ttl ({} s)",
                s.timeout.as_secs_f64(),
                s.lease_ttl.as_secs()
            ),
        );
    }
    (ok && node.is_some()).then_some(s)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::settings::parse_settings_partial;
    use crate::diag::Diagnostics;

    fn parse(text: &str) -> (Option<super::ClusterSettings>, Vec<String>) {
        let mut d = Diagnostics::new();
        let s = parse_settings_partial(Path::new("s.toml"), text, &mut d);
        let errs: Vec<String> = d
            .iter()
            .map(|d| d.to_string())
            // The build without the feature adds its own error.
            .filter(|e| !e.contains("built without cluster mode"))
            .collect();
        (s.and_then(|s| s.cluster), errs)
    }

    #[test]
    fn defaults_and_values() {
        let (c, e) = parse("[cluster]\nendpoints = [\"127.0.0.1:2379\"]\nnode = \"a\"\n");
        assert!(e.is_empty(), "{e:?}");
        let c = c.unwrap();
        assert_eq!(c.endpoints, ["http://127.0.0.1:2379"]);
        assert_eq!((c.name.as_str(), c.node.as_str()), ("default", "a"));
        assert_eq!(c.quorum.fraction(), 0.5);
        assert_eq!(c.lease_ttl.as_secs(), 10);
        assert_eq!(c.refresh_interval.as_secs(), 60);
        assert_eq!(c.timeout.as_secs(), 2);
        assert_eq!(c.prefix(), "/dnslb/default/");
        let (c, e) = parse(
            "[cluster]\nendpoints = [\"http://[::1]:2379/\", \"http://etcd-1.internal:2379\"]\n\
             node = \"ns1.example\"\nname = \"prod\"\nhealthy_above = 0.18\nlease_ttl = 4\n\
             refresh_interval = 30.0\ntimeout = 1.5\n",
        );
        assert!(e.is_empty(), "{e:?}");
        let c = c.unwrap();
        assert_eq!(
            c.endpoints,
            ["http://[::1]:2379", "http://etcd-1.internal:2379"]
        );
        assert_eq!(c.quorum.fraction(), 0.18);
        assert_eq!(c.lease_ttl.as_secs(), 4);
    }

    #[test]
    fn errors_name_the_line_and_key() {
        let text = "[cluster]\nendpoints = [\"https://e:2379\", \"nope\"]\nnode = \"a/b\"\n\
                    name = \"\"\nhealthy_above = 1.0\nlease_ttl = 1\ntimeout = 0.01\nbogus = 1\n";
        let (c, e) = parse(text);
        assert!(c.is_none());
        let want = [
            "s.toml:2:14: cluster.endpoints: \"https://e:2379\": TLS to etcd is not supported yet",
            "s.toml:2:32: cluster.endpoints: \"nope\" is not an etcd client URL",
            "s.toml:3:8: cluster.node: \"a/b\" must be 1 to 63 letters",
            "s.toml:4:8: cluster.name: \"\" must be 1 to 63",
            "s.toml:5:17: cluster.healthy_above: must be between 0 and 0.99, got 1",
            "s.toml:6:13: cluster.lease_ttl: must be between 2 and 600, got 1 (seconds)",
            "s.toml:7:11: cluster.timeout: must be between 0.1 and 60 seconds, got 0.01",
            "s.toml:8:1: cluster: unknown field `bogus`",
        ];
        assert_eq!(e.len(), want.len(), "{e:#?}");
        for (got, want) in e.iter().zip(want) {
            assert!(got.starts_with(want), "{got}\n  want {want}");
        }
        let (c, e) = parse("[cluster]\nnode = \"a\"\n");
        assert!(c.is_none());
        assert!(
            e[0].contains("s.toml:1:1: cluster: missing field `endpoints`"),
            "{e:?}"
        );
        let (_, e) = parse(
            "[cluster]\nendpoints = [\"127.0.0.1:2379\"]\nnode = \"a\"\nlease_ttl = 3\ntimeout = 3.0\n",
        );
        assert!(
            e.iter().any(|m| m.contains(
                "s.toml:5:11: cluster.timeout: timeout (3 s) must be less than lease_ttl (3 s)"
            )),
            "{e:?}"
        );
    }

    /// The commented-out `[cluster]` of the shipped dnslb.toml, uncommented,
    /// is valid and shows the defaults.
    #[test]
    fn shipped_example_is_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dnslb.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let start = text.find("# [cluster]").expect("the example has [cluster]");
        let mut example = String::new();
        for line in text[start..].lines() {
            let rest = line.trim_start_matches("# ");
            if rest.starts_with('[')
                || rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| !k.contains(' '))
            {
                example.push_str(rest);
                example.push('\n');
            }
        }
        let (c, e) = parse(&example);
        assert!(e.is_empty(), "{example}\n{e:?}");
        let c = c.unwrap();
        let mut want =
            super::ClusterSettings::new("ns1".into(), vec!["http://127.0.0.1:2379".into()]);
        want.node = c.node.clone();
        assert_eq!(c, want);
    }

    #[test]
    fn without_the_feature_the_table_is_an_error() {
        let mut d = Diagnostics::new();
        let text = "[cluster]\nendpoints = [\"127.0.0.1:2379\"]\nnode = \"a\"\n";
        parse_settings_partial(Path::new("s.toml"), text, &mut d);
        let built_without = d
            .iter()
            .any(|e| e.to_string().contains("built without cluster mode"));
        assert_eq!(built_without, !cfg!(feature = "cluster"), "{d}");
    }
}
