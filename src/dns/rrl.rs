//! Response rate limiting (RRL) for UDP, as BIND, Knot and NSD do it: a
//! server that answers spoofed queries at full speed is an amplifier aimed
//! at the spoofed address, so identical responses to one client network are
//! limited to a rate, and every `slip`-th limited response still goes out
//! truncated (TC=1) so a real client behind that network retries over TCP,
//! which cannot be spoofed.
//!
//! A bucket is keyed by the client network (the source address truncated
//! to `ipv4_prefix_length` / `ipv6_prefix_length`), the response kind
//! ([`Kind`]) and a name: the question (name and type) for answers, the
//! zone (the SOA owner) for NXDOMAIN and NODATA so that random names cannot
//! dodge the limit, the delegation for referrals, and none for errors.
//! This is BIND's keying. Each bucket holds a credit balance: `rate` per
//! second, at most `rate` in hand, one spent per response; below zero the
//! response is limited, and the debt may reach `window × rate`, so a flood
//! keeps being limited for up to `window` seconds after it slows.
//!
//! The limiter is pure: [`Rrl::decide`] takes the time as an argument, and
//! [`classify`] and [`slip`] read and rewrite reply bytes only. It runs
//! after the engine, on the reply (the kind is only known then), in the UDP
//! listener; TCP is never limited.
//!
//! # State and concurrency
//!
//! The table is a fixed array of `AtomicU64`, 4-way set associative: a key
//! hashes to a set of 4 slots, a 16-bit tag tells its slot, and a key not
//! found takes a slot of its set that is not limiting anyone (the oldest
//! such), see `evict_rank`. Memory is fixed at start (8 bytes per slot)
//! whatever a spoofed-source flood sends; a flood of fresh keys, each in
//! credit, evicts other fresh keys and leaves the buckets in debt alone. A slot is updated with one compare-and-swap, so the UDP worker
//! threads share it without a lock. Per-thread tables were rejected: the
//! kernel spreads one client's queries over the SO_REUSEPORT sockets by
//! source port, so each thread would see a fraction of a client's rate and
//! the limit would multiply by the number of workers.
//!
//! The table lives outside the snapshot, owned by the listeners, so a
//! reload keeps it.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What a response is, for rate limiting (BIND's classes).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A positive answer (or a truncated one).
    Answer,
    /// NOERROR with no answer, authoritative.
    NoData,
    NxDomain,
    /// A delegation: no answer, NS in authority, AA clear.
    Referral,
    /// Any other RCODE (REFUSED, FORMERR, SERVFAIL, NOTIMP, BADVERS...).
    Error,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Answer,
        Kind::NoData,
        Kind::NxDomain,
        Kind::Referral,
        Kind::Error,
    ];

    fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Answer => "answer",
            Kind::NoData => "nodata",
            Kind::NxDomain => "nxdomain",
            Kind::Referral => "referral",
            Kind::Error => "error",
        }
    }
}

/// What to do with a response.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Within the rate: send it as it is.
    Send,
    /// Limited, but send it truncated ([`slip`]) so a real client retries.
    Slip,
    /// Limited: send nothing.
    Drop,
}

/// The limiter's settings (`[rrl]` in `dnslb.toml`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Responses per second per bucket, by [`Kind`] (indexed in
    /// [`Kind::ALL`] order); 0 leaves that kind unlimited. At most 1000.
    pub rates: [u32; 5],
    /// Seconds of debt a bucket may run up, 1..=3600.
    pub window: u32,
    /// Every `slip`-th limited response is sent truncated; 0 drops all,
    /// 1 truncates all. 0..=10.
    pub slip: u32,
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
    /// Buckets kept (rounded up to a multiple of 4); 8 bytes each.
    pub table_size: usize,
}

impl Params {
    /// Whether any kind is limited at all.
    pub fn enabled(&self) -> bool {
        self.rates.iter().any(|&r| r > 0)
    }
}

/// Counters of limited responses, readable at any time (for logs and the
/// coming metrics endpoint). Relaxed atomics, bumped only for responses
/// that are limited or exempted, never for the ones within the rate.
#[derive(Debug, Default)]
pub struct Stats {
    /// Limited responses dropped, by kind.
    pub dropped: [AtomicU64; 5],
    /// Limited responses sent truncated (or as BADCOOKIE), by kind.
    pub slipped: [AtomicU64; 5],
    /// Responses not limited because the query carried a valid server
    /// cookie (RFC 7873: the source is not spoofed). Bumped per response
    /// for cookie-using resolvers, so sharded per thread.
    pub cookie_exempt: ShardedCounter,
    /// Buckets pushed out of the table by new keys (table pressure).
    pub evicted: AtomicU64,
}

/// Counter shards: one cache line each, so UDP threads bumping the same
/// counter do not bounce a line between cores.
const SHARDS: usize = 16;

#[derive(Debug, Default)]
#[repr(align(64))]
struct Shard(AtomicU64);

/// A counter bumped on a hot path by many threads: each thread adds to its
/// own cache line (threads get shards round-robin on first use) and a
/// reader sums them.
#[derive(Debug, Default)]
pub struct ShardedCounter([Shard; SHARDS]);

impl ShardedCounter {
    #[inline]
    pub fn add_one(&self) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
        }
        let i = MINE.with(|i| *i);
        self.0[i].0.fetch_add(1, Ordering::Relaxed);
    }

    /// The total (a sum of relaxed loads: exact once writers are quiet).
    pub fn sum(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// A plain copy of [`Stats`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub dropped: [u64; 5],
    pub slipped: [u64; 5],
    pub cookie_exempt: u64,
    pub evicted: u64,
}

impl Stats {
    pub fn counts(&self) -> Counts {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counts {
            dropped: self.dropped.each_ref().map(r),
            slipped: self.slipped.each_ref().map(r),
            cookie_exempt: self.cookie_exempt.sum(),
            evicted: r(&self.evicted),
        }
    }
}

const WAYS: usize = 4;
const TIME_BITS: u32 = 20;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;
const BAL_BITS: u32 = 24;
const BAL_MASK: u64 = (1 << BAL_BITS) - 1;

/// One slot, packed into a u64: tag (16 bits; 0 = empty), last update in
/// seconds (20 bits, wrapping every 12 days), balance (24-bit signed: the
/// debt floor `window × rate` is at most 3.6 million), and the slip counter
/// (4 bits).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
struct Slot {
    tag: u16,
    time: u32,
    balance: i32,
    slips: u8,
}

impl Slot {
    fn unpack(v: u64) -> Self {
        let bal = ((v >> 36) & BAL_MASK) as u32;
        // Sign-extend 24 bits.
        let balance = ((bal << 8) as i32) >> 8;
        Self {
            tag: v as u16,
            time: ((v >> 16) & TIME_MASK) as u32,
            balance,
            slips: (v >> 60) as u8,
        }
    }

    fn pack(self) -> u64 {
        u64::from(self.tag)
            | (u64::from(self.time) & TIME_MASK) << 16
            | (u64::from(self.balance as u32) & BAL_MASK) << 36
            | u64::from(self.slips & 0xF) << 60
    }

    /// Seconds since the last update, on the wrapping clock.
    fn age(self, now: u32) -> u32 {
        (now.wrapping_sub(self.time) as u64 & TIME_MASK) as u32
    }
}

/// The limiter: settings, the bucket table, and counters.
pub struct Rrl {
    params: Params,
    epoch: std::time::Instant,
    sets: usize,
    slots: Box<[AtomicU64]>,
    seed: u64,
    pub stats: Stats,
}

impl std::fmt::Debug for Rrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rrl")
            .field("params", &self.params)
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl Rrl {
    /// A limiter with an empty table. `seed` keys the bucket hash, so that
    /// nobody outside can aim keys at one set (pass a random value).
    pub fn new(params: Params, seed: u64) -> Self {
        let sets = params.table_size.div_ceil(WAYS).max(1);
        let slots = (0..sets * WAYS).map(|_| AtomicU64::new(0)).collect();
        Self {
            params,
            epoch: std::time::Instant::now(),
            sets,
            slots,
            seed,
            stats: Stats::default(),
        }
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Whole seconds since the limiter was made: the clock the listeners
    /// pass to [`Self::decide`], shared by every thread.
    pub fn now(&self) -> u32 {
        self.epoch.elapsed().as_secs() as u32
    }

    /// The RRL step of a UDP listener, after the engine: decide on `reply`
    /// to `client` and apply it. Returns false when the reply must not be
    /// sent. `cookie_ok`: the query carried a valid server cookie, so its
    /// source is proven and it is not limited (RFC 7873 §1).
    pub fn apply(&self, client: IpAddr, reply: &mut Vec<u8>, cookie_ok: bool, now: u32) -> bool {
        let Some((kind, name)) = classify(reply) else {
            return true;
        };
        if self.params.rates[kind.index()] == 0 {
            return true;
        }
        if cookie_ok {
            self.stats.cookie_exempt.add_one();
            return true;
        }
        match self.decide(client, kind, name, now) {
            Action::Send => true,
            Action::Slip => {
                slip(reply);
                true
            }
            Action::Drop => false,
        }
    }

    /// The client network of `addr`: its address truncated to the prefix
    /// length of its family, with the family, as two words to hash.
    fn network(&self, addr: IpAddr) -> (u64, u64) {
        match addr.to_canonical() {
            IpAddr::V4(v4) => {
                let p = u32::from(self.params.ipv4_prefix.min(32));
                let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
                (4, u64::from(u32::from(v4) & mask))
            }
            IpAddr::V6(v6) => {
                let p = u32::from(self.params.ipv6_prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
                let bits = u128::from(v6) & mask;
                (6 ^ (bits >> 64) as u64, bits as u64)
            }
        }
    }

    /// Decide for one response of `kind` to `client`, keyed also by
    /// `name` (a hash from [`classify`]), at `now` seconds (any monotonic
    /// clock in whole seconds).
    pub fn decide(&self, client: IpAddr, kind: Kind, name: u64, now: u32) -> Action {
        let rate = self.params.rates[kind.index()];
        if rate == 0 {
            return Action::Send;
        }
        let (hi, lo) = self.network(client);
        let h = mix(mix(mix(self.seed, hi), lo ^ kind as u64), name);
        let set = ((u128::from(h) * self.sets as u128) >> 64) as usize * WAYS;
        let tag = ((h >> 48) as u16).max(1);
        let slots = &self.slots[set..set + WAYS];
        let rate = rate as i32;
        let floor = -((self.params.window as i32).saturating_mul(rate));
        // A lost race means another thread updated this set at the same
        // moment: load again. Lock-free, not wait-free: every retry means
        // another thread's update went through.
        loop {
            let mut found = None;
            let mut victim = (0, 0);
            let mut victim_rank = (false, 0, i32::MIN);
            for (i, s) in slots.iter().enumerate() {
                let v = s.load(Ordering::Relaxed);
                let slot = Slot::unpack(v);
                if slot.tag == tag {
                    found = Some((i, v, slot));
                    break;
                }
                let rank = evict_rank(slot, now, self.params.window);
                if rank > victim_rank {
                    victim = (i, v);
                    victim_rank = rank;
                }
            }
            let (i, old, mut slot) = match found {
                Some(f) => f,
                None => {
                    // The value seen by the scan: if the slot changed since
                    // (another thread may have just inserted this very key),
                    // the swap fails and the scan runs again.
                    let fresh = Slot {
                        tag,
                        time: now,
                        balance: rate,
                        slips: 0,
                    };
                    (victim.0, victim.1, fresh)
                }
            };
            // Credit for the seconds since the last update, at most `rate`.
            let age = slot.age(now) as i64;
            let credit = (i64::from(slot.balance) + age * i64::from(rate)).min(i64::from(rate));
            let mut balance = credit as i32 - 1;
            let action = if balance >= 0 {
                Action::Send
            } else {
                balance = balance.max(floor);
                let slip = self.params.slip;
                if slip == 0 {
                    Action::Drop
                } else {
                    slot.slips = ((u32::from(slot.slips) + 1) % slip) as u8;
                    if slot.slips == 0 {
                        Action::Slip
                    } else {
                        Action::Drop
                    }
                }
            };
            slot.time = now & TIME_MASK as u32;
            slot.balance = balance;
            if slots[i]
                .compare_exchange(old, slot.pack(), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                if found.is_none() && Slot::unpack(old).tag != 0 {
                    self.stats.evicted.fetch_add(1, Ordering::Relaxed);
                }
                return self.count(kind, action);
            }
        }
    }

    fn count(&self, kind: Kind, action: Action) -> Action {
        match action {
            Action::Send => {}
            Action::Slip => {
                self.stats.slipped[kind.index()].fetch_add(1, Ordering::Relaxed);
            }
            Action::Drop => {
                self.stats.dropped[kind.index()].fetch_add(1, Ordering::Relaxed);
            }
        }
        action
    }
}

/// How willing we are to evict `slot` (higher: sooner). Empty slots
/// first; then slots that carry no limit (not in debt, or in debt longer
/// ago than the window, which has refilled it), before any slot that is
/// limiting someone now; within each, the oldest, then the richest. So a
/// flood of fresh keys, each seen once and in credit, churns among
/// itself and leaves the buckets that are limiting a victim alone, even
/// when every slot of a set was touched this very second.
fn evict_rank(slot: Slot, now: u32, window: u32) -> (bool, u32, i32) {
    if slot.tag == 0 {
        return (true, u32::MAX, i32::MAX);
    }
    let age = slot.age(now);
    let limiting = slot.balance < 0 && age <= window;
    (!limiting, age, slot.balance)
}

#[inline]
fn mix(a: u64, b: u64) -> u64 {
    // splitmix64's finaliser over a combination of both words.
    let mut z = a ^ b.rotate_left(29).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn u16_at(p: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(i)?, *p.get(i + 1)?]))
}

/// Hash a (possibly compressed) name at `off` of `msg`, ignoring ASCII
/// case; returns the hash and the offset after the name.
///
/// Hashed 8 bytes at a time with a branch-free lowercase, straight from the
/// message when the name is contiguous (always for the question), else
/// gathered on the stack first: byte-at-a-time hashing cost more than the
/// rest of the limiter put together.
fn hash_name(msg: &[u8], start: usize) -> Option<(u64, usize)> {
    // Walk the labels; the common case has no pointer.
    let mut off = start;
    loop {
        let len = usize::from(*msg.get(off)?);
        if len & 0xC0 != 0 {
            break;
        }
        if off + 1 + len - start > 255 || off + 1 + len > msg.len() {
            return None;
        }
        off += 1 + len;
        if len == 0 {
            return Some((hash_wire(&msg[start..off]), off));
        }
    }
    let mut buf = [0u8; 256];
    let mut n = 0;
    let mut end = None;
    let mut off = start;
    loop {
        let len = *msg.get(off)?;
        if len & 0xC0 == 0xC0 {
            let ptr = (usize::from(len & 0x3F) << 8) | usize::from(*msg.get(off + 1)?);
            end.get_or_insert(off + 2);
            if ptr >= off {
                return None; // only backward pointers: no loops
            }
            off = ptr;
            continue;
        }
        let len = usize::from(len);
        if len & 0xC0 != 0 || n + 1 + len > 255 {
            return None;
        }
        buf[n..n + 1 + len].copy_from_slice(msg.get(off..off + 1 + len)?);
        n += 1 + len;
        off += 1 + len;
        if len == 0 {
            break;
        }
    }
    Some((hash_wire(&buf[..n]), end.unwrap_or(off)))
}

/// Hash an uncompressed wire name, ignoring ASCII case.
#[inline]
fn hash_wire(name: &[u8]) -> u64 {
    let mut h = name.len() as u64;
    let mut chunks = name.chunks_exact(8);
    for c in &mut chunks {
        let w = lower8(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        h = (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        let w = lower8(u64::from_le_bytes(last));
        h = (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    h
}

/// ASCII-lowercase the 8 bytes of `w` at once (label length octets are
/// below 0x40, so untouched; bytes ≥ 0x80 too).
#[inline]
fn lower8(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let h = w & LOW7;
    let ge_a = h.wrapping_add(0x3f3f_3f3f_3f3f_3f3f); // bit 7 set from 'A' (0x41) up
    let gt_z = h.wrapping_add(0x2525_2525_2525_2525); // bit 7 set above 'Z' (0x5a)
    let upper = ge_a & !gt_z & !w & HIGH;
    w | (upper >> 2)
}

/// Skip one resource record at `off`; the offset after it.
fn skip_rr(msg: &[u8], off: usize) -> Option<usize> {
    let (_, after) = hash_name(msg, off)?;
    let rdlen = usize::from(u16_at(msg, after + 8)?);
    let end = after + 10 + rdlen;
    (end <= msg.len()).then_some(end)
}

/// The kind of a reply and the hash of the name its bucket is keyed by:
/// the question (name and type) for answers, the first authority owner
/// (the zone's SOA, the delegation's NS) for NODATA, NXDOMAIN and
/// referrals, nothing (0) for errors. `None` for bytes too short or
/// malformed to be one of our replies.
pub fn classify(reply: &[u8]) -> Option<(Kind, u64)> {
    let flags = u16_at(reply, 2)?;
    let [qd, an, ns] = [u16_at(reply, 4)?, u16_at(reply, 6)?, u16_at(reply, 8)?];
    let rcode = flags & 0xF;
    let aa = flags & 0x0400 != 0;
    let tc = flags & 0x0200 != 0;
    if qd != 1 {
        return Some((Kind::Error, 0));
    }
    let (qh, qend) = hash_name(reply, 12)?;
    let qtype = u16_at(reply, qend)?;
    let question = mix(qh, u64::from(qtype));
    // The owner of the first authority record: the SOA (negative answers)
    // or the NS set (referrals).
    let authority_owner = || -> Option<u64> {
        let mut off = qend + 4;
        for _ in 0..an {
            off = skip_rr(reply, off)?;
        }
        Some(hash_name(reply, off)?.0)
    };
    Some(match rcode {
        0 if tc || an > 0 => (Kind::Answer, question),
        0 if aa => (Kind::NoData, authority_owner().unwrap_or(question)),
        0 if ns > 0 => (Kind::Referral, authority_owner().unwrap_or(question)),
        3 => (Kind::NxDomain, authority_owner().unwrap_or(question)),
        _ => (Kind::Error, 0),
    })
}

/// Rewrite a limited reply into its slip form, in place: header, question
/// and the OPT record only. If the OPT carries a COOKIE option (the client
/// sent a client cookie and got a server cookie back), the reply becomes
/// BADCOOKIE, so the client retries over UDP with the cookie, which
/// exempts it (RFC 7873 §5.2.3 lets rate limiting choose this); otherwise
/// it gets TC=1 and retries over TCP.
pub fn slip(reply: &mut Vec<u8>) {
    let Some(cut) = slip_layout(reply) else {
        // Not our shape: a bare truncated header is still a valid slip.
        reply.truncate(12.min(reply.len()));
        if reply.len() == 12 {
            reply[2] |= 0x02;
            reply[4..12].fill(0);
        }
        return;
    };
    let (qend, opt) = cut;
    let mut has_cookie = false;
    if let Some((start, end)) = opt {
        has_cookie = opt_has_cookie(&reply[start..end]);
        reply.copy_within(start..end, qend);
        reply.truncate(qend + (end - start));
    } else {
        reply.truncate(qend);
    }
    // Counts: the question, and the OPT if kept.
    reply[6..12].fill(0);
    reply[11] = u8::from(opt.is_some());
    reply[2] &= !0x04; // AA: nothing authoritative is left
    if has_cookie {
        // BADCOOKIE = 23: 7 in the header, 1 in the OPT's extended RCODE.
        reply[3] = (reply[3] & 0xF0) | 7;
        let ext = qend + 1 + 2 + 2; // OPT: root name, type, class, then TTL
        reply[ext] = 1;
    } else {
        reply[2] |= 0x02; // TC
    }
}

/// Where the question ends and where the reply's OPT record is.
fn slip_layout(reply: &[u8]) -> Option<(usize, Option<(usize, usize)>)> {
    let qd = u16_at(reply, 4)?;
    let total = usize::from(u16_at(reply, 6)?)
        + usize::from(u16_at(reply, 8)?)
        + usize::from(u16_at(reply, 10)?);
    let mut off = 12;
    for _ in 0..qd {
        off = hash_name(reply, off)?.1 + 4;
    }
    let qend = off;
    if qend > reply.len() {
        return None;
    }
    let mut opt = None;
    for _ in 0..total {
        let start = off;
        let end = skip_rr(reply, off)?;
        if reply.get(start) == Some(&0) && u16_at(reply, start + 1) == Some(41) {
            opt = Some((start, end));
        }
        off = end;
    }
    Some((qend, opt))
}

/// Whether an OPT record (whole RR) carries a COOKIE option (code 10).
fn opt_has_cookie(rr: &[u8]) -> bool {
    let mut i = 11;
    while let (Some(code), Some(len)) = (u16_at(rr, i), u16_at(rr, i + 2)) {
        if code == 10 {
            return true;
        }
        i += 4 + usize::from(len);
    }
    false
}

#[cfg(test)]
mod tests;
