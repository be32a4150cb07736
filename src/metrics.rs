//! Counters the query path bumps and `/metrics` reads: plain atomics, no
//! strings, no allocation and no lock per query.
//!
//! Every counter exists before the first query: the global ones when the
//! process starts, the per-zone and per-name ones when a snapshot is built
//! ([`SnapshotCounters::new`]). The query path only indexes fixed arrays
//! (rcode, qtype bucket, transport, zone index, name index) and does a
//! relaxed `fetch_add`. Rendering (names, labels, the Prometheus text) is
//! the admin server's job, at scrape time (hickory-dns:
//! `crates/server/src/zone_handler/metrics.rs` pre-registers its counters
//! the same way).
//!
//! Counters are split into [`SHARDS`] cache-line-aligned copies; each
//! query worker writes its own ([`next_shard`]), so two UDP threads never
//! bounce one cache line between cores; a scrape sums the shards. gdnsd
//! keeps per-thread stats for the same reason.
//!
//! Across reloads, [`Metrics::adopt`] hands the new snapshot the counters
//! of zones and names that survive (by name), so a reload does not reset
//! them; removed zones and names disappear from `/metrics`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Copies of each counter; a worker writes one, a scrape sums all. A power
/// of two, so `shard & (SHARDS - 1)` indexes without a bounds check.
pub const SHARDS: usize = 4;
const _: () = assert!(SHARDS.is_power_of_two());

/// The shard for the next query worker (round robin over [`SHARDS`]).
pub fn next_shard() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed) & (SHARDS - 1)
}

/// Response codes counted, by bucket index ([`rcode_bucket`]).
pub const RCODES: [&str; 8] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "BADVERS", "other",
];

/// Bucket of every rcode below 32 (the engine answers with at most
/// BADVERS, 16).
const RCODE_LUT: [u8; 32] = {
    let mut t = [7u8; 32];
    let mut i = 0;
    while i < 6 {
        t[i] = i as u8;
        i += 1;
    }
    t[16] = 6;
    t
};

/// The [`RCODES`] bucket of a response code below 32 (every code the
/// engine answers with; larger ones would land in a wrong bucket).
#[inline]
pub fn rcode_bucket(rcode: u16) -> usize {
    RCODE_LUT[rcode as usize & 31] as usize
}

/// Query types counted on their own, by bucket index ([`qtype_bucket`]);
/// everything else is "other".
pub const QTYPES: [&str; 18] = [
    "A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SRV", "DS", "DNSKEY", "SVCB", "HTTPS",
    "CAA", "ANY", "AXFR", "IXFR", "other",
];

/// Codes of the [`QTYPES`] buckets, in order (the last, "other", has none).
const QTYPE_CODES: [u16; 17] = [
    1, 2, 5, 6, 12, 15, 16, 28, 33, 43, 48, 64, 65, 257, 255, 252, 251,
];

/// Bucket of every qtype below 256: one load on the query path.
const QTYPE_LUT: [u8; 256] = {
    let mut t = [(QTYPES.len() - 1) as u8; 256];
    let mut i = 0;
    while i < QTYPE_CODES.len() {
        if QTYPE_CODES[i] < 256 {
            t[QTYPE_CODES[i] as usize] = i as u8;
        }
        i += 1;
    }
    t
};

/// The [`QTYPES`] bucket of a query type code.
#[inline]
pub fn qtype_bucket(qtype: u16) -> usize {
    match QTYPE_LUT.get(qtype as usize) {
        Some(&b) => b as usize,
        None if qtype == 257 => 13,
        None => QTYPES.len() - 1,
    }
}

/// Transports, by index: the engine passes 0 for UDP and 1 for TCP.
pub const TRANSPORTS: [&str; 2] = ["udp", "tcp"];

/// Cells of a shard: ECS (2) × transport (2) × qtype bucket (padded to
/// 32) × rcode bucket (8), so every index is masks and shifts, one
/// increment counts everything about a query, and a shard is exactly
/// 8 KiB (shards are found by a shift too).
const CELLS: usize = 2 * 2 * 32 * 8;
const _: () = assert!(QTYPES.len() < 32 && RCODES.len() == 8);

#[inline]
fn cell(ecs: bool, transport: usize, qtype_bucket: usize, rcode_bucket: usize) -> usize {
    (usize::from(ecs) << 9)
        | ((transport & 1) << 8)
        | ((qtype_bucket & 31) << 3)
        | (rcode_bucket & 7)
}

#[repr(align(64))]
struct QueryShard {
    /// By [`cell`].
    by: [AtomicU64; CELLS],
}

impl Default for QueryShard {
    fn default() -> Self {
        Self {
            by: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Queries answered, by transport, qtype bucket and rcode bucket, plus
/// ECS queries. Zone-independent: one for the process.
pub struct QueryCounters {
    shards: [QueryShard; SHARDS],
}

impl Default for QueryCounters {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| QueryShard::default()),
        }
    }
}

impl std::fmt::Debug for QueryCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryCounters").finish_non_exhaustive()
    }
}

impl QueryCounters {
    #[inline]
    fn count(&self, shard: usize, cell: usize) {
        self.shards[shard & (SHARDS - 1)].by[cell & (CELLS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    fn sum(&self, cell: usize) -> u64 {
        self.shards
            .iter()
            .map(|s| s.by[cell].load(Ordering::Relaxed))
            .sum()
    }

    /// Queries with this transport, qtype bucket and rcode bucket (indexes
    /// into [`TRANSPORTS`], [`QTYPES`], [`RCODES`]).
    pub fn get(&self, transport: usize, qtype: usize, rcode: usize) -> u64 {
        self.sum(cell(false, transport, qtype, rcode))
            + self.sum(cell(true, transport, qtype, rcode))
    }

    /// Queries that carried an ECS option.
    pub fn ecs(&self) -> u64 {
        (0..CELLS / 2).map(|c| self.sum(CELLS / 2 + c)).sum()
    }
}

#[repr(align(64))]
#[derive(Default)]
struct ZoneShard([AtomicU64; RCODES.len()]);

/// Queries that landed in one zone, by rcode bucket.
pub struct ZoneCounters {
    /// The zone's origin, as displayed ("example.test.").
    pub zone: Box<str>,
    shards: [ZoneShard; SHARDS],
}

impl std::fmt::Debug for ZoneCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneCounters")
            .field("zone", &self.zone)
            .finish_non_exhaustive()
    }
}

impl ZoneCounters {
    fn new(zone: &str) -> Self {
        Self {
            zone: zone.into(),
            shards: std::array::from_fn(|_| ZoneShard::default()),
        }
    }

    /// Queries by [`RCODES`] bucket.
    pub fn by_rcode(&self) -> [u64; RCODES.len()] {
        std::array::from_fn(|r| {
            self.shards
                .iter()
                .map(|s| s.0[r].load(Ordering::Relaxed))
                .sum()
        })
    }
}

/// Per load-balanced name: how often each address was in a sampled answer
/// (the engine samples about one answer in 16.5, at random gaps, so the
/// ratios are the answer shares; see `dns::engine`).
///
/// The addresses are every member address the name can answer with (its
/// pools and fallback pool), sorted per family as plain integers, so the
/// query path finds one by a binary search of integer compares. Each
/// shard's row is padded to a cache line.
pub struct AnswerCounters {
    /// The name, as displayed ("www.example.test.").
    pub name: Box<str>,
    v4: Box<[u32]>,
    v6: Box<[u128]>,
    stride: usize,
    /// Row per shard: the v4 addresses' counts, then the v6 ones'.
    counts: Box<[AtomicU64]>,
    /// Sampled answers, per shard.
    samples: [AtomicU64; SHARDS],
    /// Answers by decision kind (`policy::DecisionKind` as index), one
    /// cache line per shard; carried over reloads by name even when the
    /// address set changes.
    decisions: Arc<[DecisionShard; SHARDS]>,
}

/// Kinds of decision counted per name (`policy::DecisionKind` has 7).
pub const DECISION_KINDS: usize = 8;

#[repr(align(64))]
#[derive(Default)]
struct DecisionShard([AtomicU64; DECISION_KINDS]);

impl std::fmt::Debug for AnswerCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCounters")
            .field("name", &self.name)
            .field("v4", &self.v4.len())
            .field("v6", &self.v6.len())
            .finish_non_exhaustive()
    }
}

impl AnswerCounters {
    fn new(name: &str, addrs: Vec<IpAddr>) -> Self {
        let mut v4: Vec<u32> = Vec::new();
        let mut v6: Vec<u128> = Vec::new();
        for a in addrs {
            match a {
                IpAddr::V4(a) => v4.push(a.into()),
                IpAddr::V6(a) => v6.push(a.into()),
            }
        }
        v4.sort_unstable();
        v4.dedup();
        v6.sort_unstable();
        v6.dedup();
        let stride = (v4.len() + v6.len()).div_ceil(8).max(1) * 8;
        Self {
            name: name.into(),
            v4: v4.into(),
            v6: v6.into(),
            stride,
            counts: (0..stride * SHARDS).map(|_| AtomicU64::new(0)).collect(),
            samples: std::array::from_fn(|_| AtomicU64::new(0)),
            decisions: Arc::new(std::array::from_fn(|_| DecisionShard::default())),
        }
    }

    /// Answers of the name by decision kind index.
    pub fn by_decision(&self) -> [u64; DECISION_KINDS] {
        std::array::from_fn(|k| {
            self.decisions
                .iter()
                .map(|s| s.0[k].load(Ordering::Relaxed))
                .sum()
        })
    }

    /// Answers counted (sampled answers of the name).
    pub fn samples(&self) -> u64 {
        self.samples.iter().map(|s| s.load(Ordering::Relaxed)).sum()
    }

    /// The same address set (address counts carried over a reload only then).
    fn same_addrs(&self, other: &Self) -> bool {
        self.v4 == other.v4 && self.v6 == other.v6
    }

    #[inline]
    fn count(&self, shard: usize, answered: &[IpAddr]) {
        let shard = shard & (SHARDS - 1);
        self.samples[shard].fetch_add(1, Ordering::Relaxed);
        let row = shard * self.stride;
        for a in answered {
            let i = match a {
                IpAddr::V4(a) => find(&self.v4, u32::from(*a)),
                IpAddr::V6(a) => find(&self.v6, u128::from(*a)).map(|i| i + self.v4.len()),
            };
            if let Some(i) = i
                && let Some(c) = self.counts.get(row + i)
            {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Every address of the name (IPv4 first, each family sorted) with the
    /// answers it was in.
    pub fn per_addr(&self) -> Vec<(IpAddr, u64)> {
        let addrs = (self
            .v4
            .iter()
            .map(|&a| IpAddr::from(std::net::Ipv4Addr::from(a))))
        .chain(
            self.v6
                .iter()
                .map(|&a| IpAddr::from(std::net::Ipv6Addr::from(a))),
        );
        addrs
            .enumerate()
            .map(|(i, a)| {
                let n = (0..SHARDS)
                    .map(|s| self.counts[s * self.stride + i].load(Ordering::Relaxed))
                    .sum();
                (a, n)
            })
            .collect()
    }
}

/// Position of `x` in the sorted `keys`: a linear scan for the few members
/// most names have (cheaper than bisecting), binary search beyond.
#[inline]
fn find<T: Ord + Copy>(keys: &[T], x: T) -> Option<usize> {
    if keys.len() <= 8 {
        keys.iter().position(|&k| k == x)
    } else {
        keys.binary_search(&x).ok()
    }
}

/// The counters one snapshot's query path writes: shared global counters,
/// and per-zone and per-name counters indexed like the snapshot's zones and
/// load-balanced names.
#[derive(Debug, Default)]
pub struct SnapshotCounters {
    pub queries: Arc<QueryCounters>,
    /// By zone index (`ZoneSet::zones()` order).
    pub zones: Box<[Arc<ZoneCounters>]>,
    /// By load-balanced name index (`Snapshot::lb` order).
    pub answers: Box<[Arc<AnswerCounters>]>,
}

/// Zone index meaning "the query landed in no zone of ours".
pub const NO_ZONE: u32 = u32::MAX;

impl SnapshotCounters {
    /// Fresh counters for `zones` (display names, in zone index order) and
    /// `names` (display name and every member address, in name index
    /// order). [`Metrics::adopt`] later swaps in surviving ones.
    pub fn new<'a>(
        zones: impl IntoIterator<Item = String>,
        names: impl IntoIterator<Item = (&'a str, Vec<IpAddr>)>,
    ) -> Self {
        Self {
            queries: Arc::default(),
            zones: zones
                .into_iter()
                .map(|z| Arc::new(ZoneCounters::new(&z)))
                .collect(),
            answers: names
                .into_iter()
                .map(|(n, a)| Arc::new(AnswerCounters::new(n, a)))
                .collect(),
        }
    }

    /// Count one answered query. `zone` is the index of the zone it landed
    /// in, or [`NO_ZONE`]; `transport` 0 = UDP, 1 = TCP. Out of line: one
    /// call at the end of a query keeps the engine's registers for the
    /// answer (measured: cheaper than inlining it).
    #[inline(never)]
    pub fn query(
        &self,
        shard: usize,
        zone: u32,
        transport: usize,
        qtype: u16,
        rcode: u16,
        ecs: bool,
    ) {
        let r = rcode_bucket(rcode);
        self.queries
            .count(shard, cell(ecs, transport, qtype_bucket(qtype), r));
        if let Some(z) = self.zones.get(zone as usize) {
            z.shards[shard & (SHARDS - 1)].0[r & 7].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Count one policy answer of name index `lb` under its decision kind
    /// (`policy::DecisionKind as usize`).
    #[inline]
    pub fn decided(&self, shard: usize, lb: u32, kind: usize) {
        if let Some(c) = self.answers.get(lb as usize) {
            c.decisions[shard & (SHARDS - 1)].0[kind & (DECISION_KINDS - 1)]
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Count the addresses of one (sampled) policy answer for name index `lb`.
    #[inline]
    pub fn answered(&self, shard: usize, lb: u32, addrs: &[IpAddr]) {
        if let Some(c) = self.answers.get(lb as usize) {
            c.count(shard, addrs);
        }
    }
}

/// Reload outcomes.
#[derive(Debug, Default)]
pub struct ReloadCounters {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Problems found by loads and reloads, summed.
    errors: AtomicU64,
    /// Unix time of the last successful load (start-up counts), ms; 0 = never.
    last_success_ms: AtomicU64,
    last: Mutex<Option<LastReload>>,
}

/// What the last load or reload found, for `/status`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastReload {
    /// Unix seconds when it finished.
    pub at: f64,
    /// What asked for it: "start-up", "SIGHUP", "file change", "admin API"
    /// (several joined by "+").
    pub cause: String,
    /// "ok" (everything loaded), "partial" (the snapshot was replaced but
    /// some files had errors: their zones keep their previous version, or
    /// the settings file its previous values), "failed" (nothing changed).
    pub outcome: &'static str,
    /// Every problem, as `FILE:LINE:COL: key: message`.
    pub errors: Vec<String>,
    /// Settings changed in the file that take effect only after a restart.
    pub restart_needed: Vec<String>,
}

impl ReloadCounters {
    /// Record a load or reload that replaced the snapshot, now.
    pub fn success(&self) {
        self.ok.fetch_add(1, Ordering::Relaxed);
        self.last_success_ms.store(unix_ms_now(), Ordering::Relaxed);
    }

    /// Record a reload that kept the previous configuration.
    pub fn failure(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }

    /// Record what the last load found (and count its errors).
    pub fn report(&self, last: LastReload) {
        self.errors
            .fetch_add(last.errors.len() as u64, Ordering::Relaxed);
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(last);
    }

    /// The last load's report, if any.
    pub fn last(&self) -> Option<LastReload> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Problems found by every load so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// (successful reloads, failed reloads, unix seconds of the last success).
    pub fn get(&self) -> (u64, u64, Option<f64>) {
        let ms = self.last_success_ms.load(Ordering::Relaxed);
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            (ms > 0).then(|| ms as f64 / 1000.0),
        )
    }
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> f64 {
    unix_ms_now() as f64 / 1000.0
}

fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Every counter of the running server, for `/metrics`: the global query
/// counters, the per-zone and per-name counters of the current snapshot
/// (carried over reloads by name) and the reload counters.
#[derive(Debug, Default)]
pub struct Metrics {
    queries: Arc<QueryCounters>,
    carried: Mutex<Carried>,
    pub reloads: ReloadCounters,
}

#[derive(Debug, Default)]
struct Carried {
    zones: HashMap<Box<str>, Arc<ZoneCounters>>,
    answers: HashMap<Box<str>, Arc<AnswerCounters>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Point `counters` (of a snapshot about to be served) at this
    /// process's counters: the global ones, and those of every zone and
    /// name that existed before (a name keeps its counters while its
    /// address set is unchanged). Counters of zones and names the snapshot
    /// no longer has are forgotten. Call once per snapshot, before it is
    /// swapped in.
    pub fn adopt(&self, counters: &mut SnapshotCounters) {
        counters.queries = self.queries.clone();
        let mut carried = self.carried.lock().unwrap_or_else(|e| e.into_inner());
        let mut zones = HashMap::with_capacity(counters.zones.len());
        for z in counters.zones.iter_mut() {
            if let Some(old) = carried.zones.get(&z.zone) {
                *z = old.clone();
            }
            zones.insert(z.zone.clone(), z.clone());
        }
        let mut answers = HashMap::with_capacity(counters.answers.len());
        for a in counters.answers.iter_mut() {
            if let Some(old) = carried.answers.get(&a.name) {
                if old.same_addrs(a) {
                    *a = old.clone();
                } else if let Some(fresh) = Arc::get_mut(a) {
                    fresh.decisions = old.decisions.clone();
                }
            }
            answers.insert(a.name.clone(), a.clone());
        }
        *carried = Carried { zones, answers };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn buckets_cover_every_code() {
        assert_eq!(RCODES[rcode_bucket(3)], "NXDOMAIN");
        assert_eq!(RCODES[rcode_bucket(16)], "BADVERS");
        assert_eq!(RCODES[rcode_bucket(9)], "other");
        assert_eq!(QTYPES[qtype_bucket(28)], "AAAA");
        assert_eq!(QTYPES[qtype_bucket(65)], "HTTPS");
        assert_eq!(QTYPES[qtype_bucket(99)], "other");
        assert_eq!(QTYPES[qtype_bucket(257)], "CAA");
        for (i, &code) in QTYPE_CODES.iter().enumerate() {
            assert_eq!(qtype_bucket(code), i, "{}", QTYPES[i]);
        }
        for t in 0..=u16::MAX {
            assert!(qtype_bucket(t) < QTYPES.len());
        }
        for r in 0..32 {
            assert!(rcode_bucket(r) < RCODES.len());
        }
    }

    #[test]
    fn shards_sum_and_zones_count_by_rcode() {
        let c = SnapshotCounters::new(["a.test.".to_string()], []);
        for shard in 0..SHARDS + 2 {
            c.query(shard, 0, 0, 1, 0, false);
        }
        c.query(1, 0, 1, 28, 3, true);
        c.query(2, NO_ZONE, 0, 1, 5, false);
        c.query(2, 7, 0, 1, 5, false); // out of range: global only
        c.query(3, 0, 0, 1, 0, true);
        c.query(3, 0, 0, 1, 9, false); // NOTAUTH: "other"
        assert_eq!(c.queries.get(0, qtype_bucket(1), 7), 1);
        let q = &c.queries;
        assert_eq!(q.get(0, qtype_bucket(1), 0), (SHARDS + 3) as u64);
        assert_eq!(q.get(1, qtype_bucket(28), rcode_bucket(3)), 1);
        assert_eq!(q.get(0, qtype_bucket(1), rcode_bucket(5)), 2);
        assert_eq!(q.ecs(), 2);
        let z = c.zones[0].by_rcode();
        assert_eq!((z[0], z[3], z[5]), ((SHARDS + 3) as u64, 1, 0));
    }

    #[test]
    fn answers_count_known_addresses_only() {
        let c = SnapshotCounters::new([], [("www.t.", vec![ip("192.0.2.2"), ip("192.0.2.1")])]);
        c.answered(0, 0, &[ip("192.0.2.1")]);
        c.answered(3, 0, &[ip("192.0.2.1"), ip("192.0.2.2")]);
        c.answered(1, 0, &[ip("198.51.100.1")]);
        c.answered(1, 5, &[ip("192.0.2.1")]);
        assert_eq!(
            c.answers[0].per_addr(),
            vec![(ip("192.0.2.1"), 2), (ip("192.0.2.2"), 1)]
        );
        assert_eq!(c.answers[0].samples(), 3);
    }

    #[test]
    fn adopt_carries_counters_by_name() {
        let m = Metrics::new();
        let mut first = SnapshotCounters::new(
            ["a.".to_string(), "b.".to_string()],
            [
                ("w.a.", vec![ip("192.0.2.1")]),
                ("x.a.", vec![ip("192.0.2.1")]),
            ],
        );
        m.adopt(&mut first);
        first.query(0, 0, 0, 1, 0, false);
        first.answered(0, 0, &[ip("192.0.2.1")]);
        first.answered(0, 1, &[ip("192.0.2.1")]);
        first.decided(2, 1, 3);
        // Reload: zone b. goes, w.a. keeps its addresses, x.a. changes them.
        let mut second = SnapshotCounters::new(
            ["c.".to_string(), "a.".to_string()],
            [
                ("x.a.", vec![ip("192.0.2.9")]),
                ("w.a.", vec![ip("192.0.2.1")]),
            ],
        );
        m.adopt(&mut second);
        assert!(Arc::ptr_eq(&first.queries, &second.queries));
        assert_eq!(second.zones[1].by_rcode()[0], 1);
        assert_eq!(second.zones[0].by_rcode()[0], 0);
        assert_eq!(second.answers[1].per_addr(), vec![(ip("192.0.2.1"), 1)]);
        assert_eq!(second.answers[0].per_addr(), vec![(ip("192.0.2.9"), 0)]);
        // Decisions follow the name even when its addresses changed.
        assert_eq!(second.answers[0].by_decision()[3], 1);
        assert!(!m.carried.lock().unwrap().zones.contains_key("b."));
    }
}
