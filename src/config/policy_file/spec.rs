//! The policy file's format: `[checks.NAME]`, `[pools.NAME]`,
//! `[names.OWNER]` (with `[names.OWNER.geo]`), `[geo]` (and the nets
//! file `[geo]` may name) and `[latency]` (the latency table's format is
//! `config::latency_table`), every value `Spanned` so an error can point
//! at it.
//!
//! Each table is read field by field ([`crate::config::fields`]): every
//! value is deserialized on its own (serde), so a bad value, a missing
//! required key (fields documented as required are `Option` here, `None`
//! after the error) and an unknown key beside it are all reported, and a
//! bad value reads as absent. `bad` lists the keys whose values were bad,
//! so the rules that depend on them stay quiet.
//!
//! Only the shape lives here; the rules (ranges, references, cross-field
//! checks) are in `checks`, `pools`, `names` and `geo`, and the runtime types they build live with their users (`health::Check`,
//! `policy::Pool`, `policy::BalancedName`).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

use crate::config::fields::{BadKeys, Cx, Fields, key_path, named_entries, value_of};

/// `[checks.NAME]`: how to probe the endpoints that reference this check.
/// Defaults are documented in `zones/example.test.toml`; the rules are
/// applied by [`super::checks::validate_check`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// `http`, `https` or `tcp`; required.
    pub kind: Option<Spanned<String>>,
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
    /// An item of the wrong type is `None` (already reported), so the
    /// others keep their index for their own errors.
    pub expect_status: Option<Spanned<Vec<Option<Spanned<StatusSpec>>>>>,
    /// The response body (first 256 KiB) must contain this substring; not with HEAD.
    pub body_contains: Option<Spanned<String>>,
    /// Extra request headers; not `Host` or `User-Agent` (own keys) nor
    /// framing headers.
    pub headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    /// User-Agent header; default `dnslb-health/VERSION`.
    pub user_agent: Option<Spanned<String>>,
    /// Read a load figure from this response header. At most one of
    /// `load_header`, `load_json_pointer`, `load_body`; http/https only.
    pub load_header: Option<Spanned<String>>,
    /// Read a load figure at this RFC 6901 pointer of a JSON body.
    pub load_json_pointer: Option<Spanned<String>>,
    /// `true`: the whole body is the load figure; default false.
    pub load_body: Option<Spanned<bool>>,
    /// What the figure means: `connections` (default) or `weight`; only
    /// with one of the three above.
    pub load_kind: Option<Spanned<String>>,
    /// Keys written with a value of the wrong type (already reported).
    pub bad: BadKeys,
}

impl ReadSpec for CheckSpec {
    fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let mut spec = Self {
            kind: f.req(cx, "kind"),
            port: f.opt(cx, "port"),
            probe_address: f.opt(cx, "probe_address"),
            interval: f.opt(cx, "interval"),
            timeout: f.opt(cx, "timeout"),
            rise: f.opt(cx, "rise"),
            fall: f.opt(cx, "fall"),
            initial_state: f.opt(cx, "initial_state"),
            method: f.opt(cx, "method"),
            path: f.opt(cx, "path"),
            host: f.opt(cx, "host"),
            tls_server_name: f.opt(cx, "tls_server_name"),
            tls_verify: f.opt(cx, "tls_verify"),
            expect_status: status_list(cx, &mut f),
            body_contains: f.opt(cx, "body_contains"),
            headers: f.opt(cx, "headers"),
            user_agent: f.opt(cx, "user_agent"),
            load_header: f.opt(cx, "load_header"),
            load_json_pointer: f.opt(cx, "load_json_pointer"),
            load_body: f.opt(cx, "load_body"),
            load_kind: f.opt(cx, "load_kind"),
            bad: BadKeys::default(),
        };
        spec.bad = f.finish(cx);
        spec
    }
}

/// `expect_status`, each item read on its own so every bad one is
/// reported (`checks.web.expect_status[3]`); a bad item is `None` and the
/// key marked bad.
fn status_list(
    cx: &mut Cx<'_>,
    f: &mut Fields<'_>,
) -> Option<Spanned<Vec<Option<Spanned<StatusSpec>>>>> {
    let list = f.list(cx, "expect_status", false)?;
    let span = list.span();
    let key = f.child("expect_status");
    let mut bad = false;
    let items = list
        .into_inner()
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let item = value_of(cx, format!("{key}[{i}]"), v);
            bad |= item.is_none();
            item
        })
        .collect();
    if bad {
        f.mark_bad("expect_status");
    }
    Some(Spanned::new(span, items))
}

/// One entry of `expect_status`: a code (`204`) or a range (`"200-299"`).
#[derive(Debug, Clone, PartialEq)]
pub enum StatusSpec {
    Code(i64),
    Range(String),
}

/// By hand rather than `#[serde(untagged)]`, whose only message is "data
/// did not match any variant": a float or a boolean is named as such, at
/// its own item of the list.
impl<'de> Deserialize<'de> for StatusSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = StatusSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a status code like 204, or a range in quotes like \"200-299\"")
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<StatusSpec, E> {
                Ok(StatusSpec::Code(n))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<StatusSpec, E> {
                Ok(StatusSpec::Code(i64::try_from(n).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<StatusSpec, E> {
                Ok(StatusSpec::Range(s.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[pools.NAME]`: a named set of endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    /// The endpoints; required, at least one. IPv4 and IPv6 may be mixed.
    /// An entry that is not a table is `None` (already reported), so the
    /// others keep their index.
    pub members: Option<Spanned<Vec<Option<MemberSpec>>>>,
    /// Where the pool runs, degrees, -90..=90 (latency and closest names);
    /// requires `lon`.
    pub lat: Option<Spanned<f64>>,
    /// -180..=180; requires `lat`.
    pub lon: Option<Spanned<f64>>,
    /// Share among pools within a latency name's tolerance, 1..=1000;
    /// default 1.
    pub weight: Option<Spanned<i64>>,
    /// Milliseconds added to the pool's latency estimates,
    /// -10000..=10000; default 0.
    pub bias_ms: Option<Spanned<f64>>,
    /// Closest names' geoproximity bias, -99..=99; default 0.
    pub bias: Option<Spanned<i64>>,
    /// Keys written with a value of the wrong type (already reported).
    pub bad: BadKeys,
}

impl ReadSpec for PoolSpec {
    fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let members = f.list(cx, "members", true).map(|list| {
            let span = list.span();
            let key = f.child("members");
            let members = list
                .into_inner()
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    let m = Fields::new(cx, format!("{key}[{i}]"), v)?;
                    Some(MemberSpec::read(cx, m))
                })
                .collect();
            Spanned::new(span, members)
        });
        let mut spec = Self {
            members,
            lat: f.opt(cx, "lat"),
            lon: f.opt(cx, "lon"),
            weight: f.opt(cx, "weight"),
            bias_ms: f.opt(cx, "bias_ms"),
            bias: f.opt(cx, "bias"),
            bad: BadKeys::default(),
        };
        spec.bad = f.finish(cx);
        spec
    }
}

/// One endpoint of a pool (an inline table in `members`).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberSpec {
    /// IPv4 or IPv6 address answered in A or AAAA records; required.
    pub address: Option<Spanned<String>>,
    /// The same endpoint's IPv6 address (with an IPv4 `address`): one
    /// dual-stack endpoint, one health state.
    pub address6: Option<Spanned<String>>,
    /// Dual-stack only: probe over `v4` (default), `v6` or `both`.
    pub check_family: Option<Spanned<String>>,
    /// 0..=1000; default 1. 0 = standby: answered only when no member with
    /// weight > 0 is available.
    pub weight: Option<Spanned<i64>>,
    /// The operator's label for the endpoint (logs, explain).
    pub name: Option<Spanned<String>>,
    /// Free-form region, for geo policies.
    pub region: Option<Spanned<String>>,
    /// Latitude in degrees, -90..=90; requires `lon`.
    pub lat: Option<Spanned<f64>>,
    /// Longitude in degrees, -180..=180; requires `lat`.
    pub lon: Option<Spanned<f64>>,
    /// Name of a `[checks.NAME]` table; default: no probe (counts as up).
    pub check: Option<Spanned<String>>,
    /// `auto` (default), `up`, `down` or `drain`.
    pub state: Option<Spanned<String>>,
    /// Keys written with a value of the wrong type (already reported).
    pub bad: BadKeys,
}

impl MemberSpec {
    fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let mut spec = Self {
            address: f.req(cx, "address"),
            address6: f.opt(cx, "address6"),
            weight: f.opt(cx, "weight"),
            name: f.opt(cx, "name"),
            region: f.opt(cx, "region"),
            lat: f.opt(cx, "lat"),
            lon: f.opt(cx, "lon"),
            check: f.opt(cx, "check"),
            check_family: f.opt(cx, "check_family"),
            state: f.opt(cx, "state"),
            bad: BadKeys::default(),
        };
        spec.bad = f.finish(cx);
        spec
    }
}

/// `[names.OWNER]`: a load-balanced name.
#[derive(Debug, Clone, PartialEq)]
pub struct NameSpec {
    /// `weighted`, `round_robin`, `multivalue`, `failover`, `sticky` or
    /// `geo`; required.
    pub policy: Option<Spanned<String>>,
    /// The pool to answer from; every policy but failover and geo.
    pub pool: Option<Spanned<String>>,
    /// Failover only: pools in priority order.
    pub groups: Option<Spanned<Vec<Spanned<String>>>>,
    /// Failover and geo only: `weighted` (default), `round_robin` or
    /// `multivalue`.
    pub group_policy: Option<Spanned<String>>,
    /// TTL of the answers, 1..=86400; default 30.
    pub ttl: Option<Spanned<i64>>,
    /// TTL while a member's health check is failing or down, 0..=ttl;
    /// default: unset (the TTL never shortens).
    pub ttl_while_failing: Option<Spanned<i64>>,
    /// Addresses per answer: 1..=64 or `"all"`; default 1.
    pub answers: Option<Spanned<AnswersSpec>>,
    /// `all` (default), `empty`, `servfail` or `fallback`.
    pub on_all_down: Option<Spanned<String>>,
    /// The pool answering when everything is down; iff `on_all_down = "fallback"`.
    pub fallback_pool: Option<Spanned<String>>,
    /// Sticky only: client IPv4 network length, 0..=32; default 24.
    pub sticky_v4_prefix: Option<Spanned<i64>>,
    /// Sticky only: client IPv6 network length, 0..=128; default 56.
    pub sticky_v6_prefix: Option<Spanned<i64>>,
    /// Latency only: pools within this many milliseconds of the best
    /// estimate are as good, 0..=10000; default 5.
    pub tolerance_ms: Option<Spanned<f64>>,
    /// Latency only: ... or within this percentage, 0..=1000; default 10.
    pub tolerance_pct: Option<Spanned<f64>>,
    /// Least response time only: members within this many milliseconds
    /// of the fastest are as fast, 0..=10000; default 1.
    pub rtt_tolerance_ms: Option<Spanned<f64>>,
    /// Least response time only: ... or within this percentage, 0..=1000;
    /// default 20.
    pub rtt_tolerance_pct: Option<Spanned<f64>>,
    /// Geo only (required then): the rules, `[names.OWNER.geo]`.
    pub geo: Option<GeoRulesSpec>,
    /// Keys written with a value of the wrong type (already reported).
    pub bad: BadKeys,
}

impl ReadSpec for NameSpec {
    fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let mut spec = Self {
            policy: f.req(cx, "policy"),
            pool: f.opt(cx, "pool"),
            groups: f.opt(cx, "groups"),
            group_policy: f.opt(cx, "group_policy"),
            ttl: f.opt(cx, "ttl"),
            ttl_while_failing: f.opt(cx, "ttl_while_failing"),
            answers: f.opt(cx, "answers"),
            on_all_down: f.opt(cx, "on_all_down"),
            fallback_pool: f.opt(cx, "fallback_pool"),
            sticky_v4_prefix: f.opt(cx, "sticky_v4_prefix"),
            sticky_v6_prefix: f.opt(cx, "sticky_v6_prefix"),
            tolerance_ms: f.opt(cx, "tolerance_ms"),
            tolerance_pct: f.opt(cx, "tolerance_pct"),
            rtt_tolerance_ms: f.opt(cx, "rtt_tolerance_ms"),
            rtt_tolerance_pct: f.opt(cx, "rtt_tolerance_pct"),
            geo: f.table(cx, "geo").map(|g| GeoRulesSpec::read(cx, g)),
            bad: BadKeys::default(),
        };
        spec.bad = f.finish(cx);
        spec
    }
}

/// A spec type read from one table (`[checks.X]`, `[pools.X]`,
/// `[names.X]`, `[geo]`), field by field (see the module doc).
pub(crate) trait ReadSpec: Sized {
    fn read(cx: &mut Cx<'_>, f: Fields<'_>) -> Self;
}

/// A list of pool names, best first.
pub type PoolList = Spanned<Vec<Spanned<String>>>;

/// The rules of one level: code or region name → pools, in file order. A
/// rule whose pool list is not a list of strings is `None` (already
/// reported).
pub type RuleTable = Vec<(Spanned<String>, Option<PoolList>)>;

/// `[names.OWNER.geo]`: where clients go, by where they are. The most
/// specific matching rule wins: region, subdivision, country, continent,
/// default. Rules are applied by `super::geo`.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoRulesSpec {
    /// Byte offset of the table (its `[names.OWNER.geo]` header), for
    /// errors about the table as a whole.
    pub at: usize,
    /// Custom region (declared by `region` in the custom networks) → pools.
    pub regions: Option<RuleTable>,
    /// ISO 3166-2 code in full (`US-CA`) → pools.
    pub subdivisions: Option<RuleTable>,
    /// ISO 3166-1 alpha-2 code (`US`) → pools.
    pub countries: Option<RuleTable>,
    /// Continent code (`AF AN AS EU NA OC SA`) → pools.
    pub continents: Option<RuleTable>,
    /// Every other client, unknown ones included; also tried after a rule's
    /// own pools. Default: none (then NODATA, and `check` warns).
    pub default: Option<PoolList>,
    /// Keys with a bad value, or a rule table with a bad rule (already
    /// reported).
    pub bad: BadKeys,
}

impl GeoRulesSpec {
    fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let mut spec = Self {
            at: f.at(),
            regions: rule_table(cx, &mut f, "regions"),
            subdivisions: rule_table(cx, &mut f, "subdivisions"),
            countries: rule_table(cx, &mut f, "countries"),
            continents: rule_table(cx, &mut f, "continents"),
            default: f.opt(cx, "default"),
            bad: BadKeys::default(),
        };
        spec.bad = f.finish(cx);
        spec
    }
}

/// One level of rules (`countries = { US = ["us"] }`), each rule's pool
/// list read on its own; the level is marked bad when any rule is.
fn rule_table(cx: &mut Cx<'_>, f: &mut Fields<'_>, level: &'static str) -> Option<RuleTable> {
    let v = f.take(level)?;
    let key = f.child(level);
    let Some(entries) = named_entries(cx, &key, v) else {
        f.mark_bad(level);
        return None;
    };
    let mut bad = false;
    let rules = entries
        .into_iter()
        .map(|(k, v)| {
            let list = value_of::<Vec<Spanned<String>>>(cx, key_path(&key, k.get_ref()), v);
            bad |= list.is_none();
            (k, list)
        })
        .collect();
    if bad {
        f.mark_bad(level);
    }
    Some(rules)
}

/// `[geo]`: where clients are, for the geo names of this file: the
/// operator's own networks, which override the GeoIP database.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoSpec {
    /// Custom networks, inline. An entry that is not a table is `None`
    /// (already reported), so the others keep their index.
    pub nets: Option<NetList>,
    /// A file of custom networks (`nets = [...]`, the same entries),
    /// relative to this file; may be shared by several zones.
    pub nets_file: Option<Spanned<String>>,
    /// Keys written with a value of the wrong type (already reported).
    pub bad: BadKeys,
}

/// A `nets` list: each entry read on its own.
pub type NetList = Spanned<Vec<Option<NetSpec>>>;

impl ReadSpec for GeoSpec {
    fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let mut spec = Self {
            nets: net_list(cx, &mut f, false),
            nets_file: f.opt(cx, "nets_file"),
            bad: BadKeys::default(),
        };
        spec.bad = f.finish(cx);
        spec
    }
}

/// The whole of a `nets_file`: `nets`, required.
#[derive(Debug, Clone, PartialEq)]
pub struct NetsFileSpec {
    pub nets: Option<NetList>,
    /// Keys written with a value of the wrong type (already reported).
    pub bad: BadKeys,
}

impl ReadSpec for NetsFileSpec {
    fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let mut spec = Self {
            nets: net_list(cx, &mut f, true),
            bad: BadKeys::default(),
        };
        spec.bad = f.finish(cx);
        spec
    }
}

/// `nets = [...]`, each entry read with its own [`Fields`]; the list is
/// marked bad when an entry is not a table.
fn net_list(cx: &mut Cx<'_>, f: &mut Fields<'_>, required: bool) -> Option<NetList> {
    let list = f.list(cx, "nets", required)?;
    let span = list.span();
    let key = f.child("nets");
    let nets: Vec<Option<NetSpec>> = list
        .into_inner()
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let n = Fields::new(cx, format!("{key}[{i}]"), v)?;
            Some(NetSpec::read(cx, n))
        })
        .collect();
    if nets.iter().any(Option::is_none) {
        f.mark_bad("nets");
    }
    Some(Spanned::new(span, nets))
}

/// One custom network: CIDR → region and/or place.
#[derive(Debug, Clone, PartialEq)]
pub struct NetSpec {
    /// Byte offset of the entry, for errors about it as a whole.
    pub at: usize,
    /// CIDR (`10.20.0.0/16`, `2001:db8:1::/48`), no host bits; required.
    pub net: Option<Spanned<String>>,
    /// Custom region name: letters, digits, `-`, `_`, `.`.
    pub region: Option<Spanned<String>>,
    /// Continent code; default: the country's.
    pub continent: Option<Spanned<String>>,
    /// ISO 3166-1 alpha-2; default: the subdivision's.
    pub country: Option<Spanned<String>>,
    /// ISO 3166-2 in full.
    pub subdivision: Option<Spanned<String>>,
    /// Latitude in degrees, -90..=90; requires `lon`.
    pub lat: Option<Spanned<f64>>,
    /// Longitude in degrees, -180..=180; requires `lat`.
    pub lon: Option<Spanned<f64>>,
    /// Keys written with a value of the wrong type (already reported).
    pub bad: BadKeys,
}

impl NetSpec {
    fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let mut spec = Self {
            at: f.at(),
            net: f.req(cx, "net"),
            region: f.opt(cx, "region"),
            continent: f.opt(cx, "continent"),
            country: f.opt(cx, "country"),
            subdivision: f.opt(cx, "subdivision"),
            lat: f.opt(cx, "lat"),
            lon: f.opt(cx, "lon"),
            bad: BadKeys::default(),
        };
        spec.bad = f.finish(cx);
        spec
    }
}

/// `[latency]`: what the latency names of this file estimate with.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySpec {
    /// Byte offset of the table, for errors about it as a whole.
    pub at: usize,
    /// A latency table file, relative to this file.
    pub table: Option<Spanned<String>>,
    /// The distance model's path factor, 1..=5; default 1.5.
    pub path_factor: Option<Spanned<f64>>,
    /// Keys written with a value of the wrong type (already reported).
    pub bad: BadKeys,
}

impl ReadSpec for LatencySpec {
    fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let mut spec = Self {
            at: f.at(),
            table: f.opt(cx, "table"),
            path_factor: f.opt(cx, "path_factor"),
            bad: BadKeys::default(),
        };
        spec.bad = f.finish(cx);
        spec
    }
}

/// `answers`: an integer or the word `all`.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswersSpec {
    Count(i64),
    Word(String),
}

impl<'de> Deserialize<'de> for AnswersSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AnswersSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or \"all\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AnswersSpec, E> {
                Ok(AnswersSpec::Count(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AnswersSpec, E> {
                Ok(AnswersSpec::Count(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AnswersSpec, E> {
                Ok(AnswersSpec::Word(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}
