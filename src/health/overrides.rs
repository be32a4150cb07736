//! Operator overrides: an endpoint forced `up`, `down` or `drain` through
//! the admin API, without editing a policy file.
//!
//! An override names either one pool member (`ZONE/POOL/MEMBER`, the
//! member's `name` in the policy file) or an address (every pool member
//! with that address, in every zone and pool, whatever its check). What a
//! member's state is, in order (gdnsd's `admin_state` idea, per member):
//!
//! 1. an override naming the member itself;
//! 2. else an override of its address, unless the policy file says the
//!    member is `down`: `down` in the file takes a member out of service,
//!    and an override made for an address (the host, wherever it is used)
//!    never puts it back; only an override naming the member can;
//! 3. else its `state` in the policy file.
//!
//! The result is written into each member's own [`ForcedCell`] ([`apply`]),
//! not into the health cell its address and check share with other pools'
//! members: draining one member leaves the others alone. Policies read the
//! cell with one relaxed load beside the member's weight and file state,
//! so the query path stays lock-free and allocation-free.
//!
//! Overrides are kept by what they name, not by member or target, so they
//! survive reloads (re-applied to each new snapshot before it is swapped
//! in) and restarts (kept in the state file, gdnsd's `admin_state` idea).
//! An override whose endpoint is gone stays listed and applies again if it
//! comes back.
//!
//! In cluster mode the list is the cluster store's: an override set on any
//! instance is written to the store first ([`OverrideStore`]), and every
//! instance replaces its list with the store's ([`Overrides::replace_all`])
//! whenever the store reports a change. The state file, if set, then keeps
//! the last list seen, used at start-up until the store answers.
//!
//! State file: TOML, rewritten whole on every change (temporary file,
//! fsync, rename), so a crash leaves the old or the new file, never half:
//!
//! ```toml
//! [[override]]
//! endpoint = "192.0.2.10"
//! state = "drain"
//! since = 1763712345
//! ```

use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

/// A state an operator forces an endpoint into (`auto` is "no override").
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Forced {
    /// Answered whatever its health checks say.
    Up,
    /// Never answered, not even when failing open.
    Down,
    /// No new answers unless nothing else is available.
    Drain,
}

impl Forced {
    /// The words the API, the CLI and the state file use.
    pub const WORDS: [(&'static str, Option<Forced>); 4] = [
        ("up", Some(Forced::Up)),
        ("down", Some(Forced::Down)),
        ("drain", Some(Forced::Drain)),
        ("auto", None),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Forced::Up => "up",
            Forced::Down => "down",
            Forced::Drain => "drain",
        }
    }

    /// Parse `up`, `down`, `drain` or `auto` (→ `Ok(None)`).
    pub fn parse(word: &str) -> Result<Option<Forced>, String> {
        Self::WORDS
            .iter()
            .find(|(w, _)| *w == word)
            .map(|(_, f)| *f)
            .ok_or_else(|| format!("expected one of up, down, drain, auto; got {word:?}"))
    }

    fn encode(f: Option<Forced>) -> u8 {
        match f {
            None => 0,
            Some(Forced::Up) => 1,
            Some(Forced::Down) => 2,
            Some(Forced::Drain) => 3,
        }
    }

    #[inline]
    fn decode(v: u8) -> Option<Forced> {
        match v & 3 {
            1 => Some(Forced::Up),
            2 => Some(Forced::Down),
            3 => Some(Forced::Drain),
            _ => None,
        }
    }
}

impl fmt::Display for Forced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What an override names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// Every pool member with this address.
    Addr(IpAddr),
    /// One named pool member: zone origin without the final dot
    /// (lowercase), pool name, member name.
    Member {
        zone: String,
        pool: String,
        member: String,
    },
}

impl Selector {
    /// Parse the canonical form: an IP address or `ZONE/POOL/MEMBER`.
    pub fn parse(s: &str) -> Result<Selector, String> {
        if let Ok(a) = s.parse::<IpAddr>() {
            return Ok(Selector::Addr(a));
        }
        let parts: Vec<&str> = s.split('/').collect();
        match parts[..] {
            [zone, pool, member] if !zone.is_empty() && !pool.is_empty() && !member.is_empty() => {
                Ok(Selector::Member {
                    zone: zone.trim_end_matches('.').to_ascii_lowercase(),
                    pool: pool.to_string(),
                    member: member.to_string(),
                })
            }
            _ => Err(format!(
                "{s:?} is neither an IP address nor ZONE/POOL/MEMBER"
            )),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Addr(a) => write!(f, "{a}"),
            Selector::Member { zone, pool, member } => write!(f, "{zone}/{pool}/{member}"),
        }
    }
}

/// One override in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    pub endpoint: Selector,
    pub state: Forced,
    /// When it was set, Unix seconds.
    pub since: u64,
}

/// Errors reading or writing the state file.
#[derive(Debug, thiserror::Error)]
pub enum OverrideError {
    #[error("{}: cannot read the admin state file: {cause}", file.display())]
    Read {
        file: PathBuf,
        cause: crate::files::ReadError,
    },
    /// Every problem of the file, each `FILE:LINE:COL: key: message`, one
    /// per line.
    #[error("{0}")]
    Invalid(crate::diag::Diagnostics),
    /// The cause is in the message, not a `source()`, so a printed error
    /// chain says it once.
    #[error("{}: cannot write the admin state file: {cause}", file.display())]
    Write {
        file: PathBuf,
        cause: std::io::Error,
    },
}

/// The overrides in force, and where they are kept.
#[derive(Debug)]
pub struct Overrides {
    file: Option<PathBuf>,
    list: Mutex<Vec<Override>>,
}

/// What [`Overrides::set`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub previous: Option<Forced>,
    pub current: Option<Forced>,
}

impl Overrides {
    /// No overrides, kept in memory only (lost on restart).
    pub fn in_memory() -> Self {
        Self {
            file: None,
            list: Mutex::new(Vec::new()),
        }
    }

    /// Overrides kept in `file`; loads it when it exists (a missing file
    /// is an empty list). A file that does not parse is an error naming
    /// its line, never silently dropped: an endpoint forced down must not
    /// come back into service because of a bad edit.
    pub fn load(file: &Path) -> Result<Self, OverrideError> {
        // A FIFO or a device is refused at once, not waited on.
        let list = match crate::files::read_text(file, crate::files::FileKind::ADMIN_STATE) {
            Ok(text) => parse_state(file, &text)?,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(cause) => {
                return Err(OverrideError::Read {
                    file: file.to_path_buf(),
                    cause,
                });
            }
        };
        Ok(Self {
            file: Some(file.to_path_buf()),
            list: Mutex::new(list),
        })
    }

    /// Where overrides are kept, if anywhere.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Override>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The overrides in force, sorted by endpoint.
    pub fn list(&self) -> Vec<Override> {
        self.lock().clone()
    }

    /// Run `f` on the list while no change can happen: a reload applies
    /// the list to its new table and swaps it in inside `f`, so a change
    /// made meanwhile is not lost.
    pub fn with_list<R>(&self, f: impl FnOnce(&[Override]) -> R) -> R {
        f(&self.lock())
    }

    /// Force `endpoint` into `state` (`None`: back to auto). The state file
    /// is written first: if that fails nothing changes. Then `publish` runs
    /// with the new list, still under the lock, to apply it to the table in
    /// service. An actual change is logged once; setting the state an
    /// endpoint already has changes nothing and logs nothing.
    pub fn set(
        &self,
        endpoint: Selector,
        state: Option<Forced>,
        publish: impl FnOnce(&[Override]),
    ) -> Result<Change, OverrideError> {
        let mut list = self.lock();
        let pos = list.iter().position(|o| o.endpoint == endpoint);
        let previous = pos.map(|i| list[i].state);
        if previous == state {
            return Ok(Change {
                previous,
                current: state,
            });
        }
        let mut next = list.clone();
        match (pos, state) {
            (Some(i), None) => {
                next.remove(i);
            }
            (Some(i), Some(s)) => {
                next[i].state = s;
                next[i].since = unix_now();
            }
            (None, Some(s)) => {
                next.push(Override {
                    endpoint: endpoint.clone(),
                    state: s,
                    since: unix_now(),
                });
                next.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
            }
            (None, None) => {}
        }
        if let Some(file) = &self.file {
            write_state(file, &next)?;
        }
        *list = next;
        publish(&list);
        let word = |f: Option<Forced>| f.map_or("auto", Forced::as_str);
        tracing::warn!(
            %endpoint,
            from = word(previous),
            to = word(state),
            persisted = self.file.is_some(),
            "operator override: {endpoint} {} -> {}",
            word(previous),
            word(state)
        );
        Ok(Change {
            previous,
            current: state,
        })
    }
}

impl Overrides {
    /// Make `list` the overrides in force (cluster mode: the store's list,
    /// the truth for every instance). Each difference is logged, saying it
    /// came from `source`; the state file (a cache here) is rewritten when
    /// the list changed, and `publish` applies it to the table in service,
    /// under the lock. A state file that cannot be written is logged, not
    /// fatal: the store still has the list.
    pub fn replace_all(
        &self,
        mut list: Vec<Override>,
        source: &str,
        publish: impl FnOnce(&[Override]),
    ) {
        list.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        list.dedup_by(|a, b| a.endpoint == b.endpoint);
        let mut cur = self.lock();
        if *cur == list {
            return;
        }
        let word = |f: Option<Forced>| f.map_or("auto", Forced::as_str);
        let state_in =
            |l: &[Override], e: &Selector| l.iter().find(|o| &o.endpoint == e).map(|o| o.state);
        let mut names: Vec<&Selector> =
            cur.iter().chain(list.iter()).map(|o| &o.endpoint).collect();
        names.sort();
        names.dedup();
        for e in names {
            let (from, to) = (state_in(&cur, e), state_in(&list, e));
            if from != to {
                tracing::warn!(
                    endpoint = %e,
                    from = word(from),
                    to = word(to),
                    source,
                    "operator override from {source}: {e} {} -> {}",
                    word(from),
                    word(to)
                );
            }
        }
        if let Some(file) = &self.file
            && let Err(e) = write_state(file, &list)
        {
            tracing::error!(error = %e, "the overrides from {source} apply, but the state file keeps the old list");
        }
        *cur = list;
        publish(&cur);
    }
}

/// Where overrides are shared in cluster mode. [`OverrideStore::put`]
/// writes one override (`None`: remove it) for every instance; the caller
/// applies it locally only once the store has it, so an override never
/// reaches some instances and not others. Errors are messages for the
/// operator (the store unreachable, a timeout).
pub trait OverrideStore: Send + Sync {
    fn put<'a>(
        &'a self,
        endpoint: &'a Selector,
        state: Option<Forced>,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// Which kind of override put a member in its forced state.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ForcedBy {
    /// An override naming the member (`ZONE/POOL/MEMBER`).
    Member,
    /// An override of the member's address.
    Address,
}

impl ForcedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ForcedBy::Member => "member",
            ForcedBy::Address => "address",
        }
    }
}

/// One pool member's forced state, written by [`apply`] and read by the
/// policies on the query path (one relaxed load). Bits 0-1: none, up,
/// down, drain (the order of `policy::OperatorState`); bit 2: set by an
/// address override rather than one naming the member.
///
/// `Clone` copies the state in force, `PartialEq` compares it: a cloned
/// member (a zone carried over by a reload) starts as its original, and
/// [`apply`] runs on every snapshot before it serves anyway.
#[derive(Default)]
pub struct ForcedCell(AtomicU8);

impl ForcedCell {
    /// The forced state as the code policies index their tier table with:
    /// 0 none, 1 up, 2 down, 3 drain.
    #[inline]
    pub fn code(&self) -> u8 {
        self.0.load(Ordering::Relaxed) & 3
    }

    /// The forced state, if any.
    #[inline]
    pub fn forced(&self) -> Option<Forced> {
        Forced::decode(self.code())
    }

    /// The forced state and what forced it.
    pub fn get(&self) -> Option<(Forced, ForcedBy)> {
        let v = self.0.load(Ordering::Relaxed);
        let by = if v & 4 != 0 {
            ForcedBy::Address
        } else {
            ForcedBy::Member
        };
        Forced::decode(v & 3).map(|f| (f, by))
    }

    /// Force the member (`None`: follow its policy file).
    pub fn set(&self, v: Option<(Forced, ForcedBy)>) {
        let bits = match v {
            None => 0,
            Some((f, ForcedBy::Member)) => Forced::encode(Some(f)),
            Some((f, ForcedBy::Address)) => Forced::encode(Some(f)) | 4,
        };
        self.0.store(bits, Ordering::Relaxed);
    }
}

impl Clone for ForcedCell {
    fn clone(&self) -> Self {
        Self(AtomicU8::new(self.0.load(Ordering::Relaxed)))
    }
}

impl PartialEq for ForcedCell {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl fmt::Debug for ForcedCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            None => f.write_str("ForcedCell(none)"),
            Some((s, by)) => write!(f, "ForcedCell({s} by {})", by.as_str()),
        }
    }
}

/// A pool member as overrides see it: enough to match both selector kinds
/// and to write its [`ForcedCell`].
#[derive(Clone, Copy, Debug)]
pub struct MemberRef<'a> {
    pub addr: IpAddr,
    /// A dual-stack endpoint's second address: an override by either
    /// address names it.
    pub other: Option<IpAddr>,
    /// Zone origin without the final dot, lowercase.
    pub zone: &'a str,
    pub pool: &'a str,
    /// The member's `name`, if it has one.
    pub member: Option<&'a str>,
    /// The policy file says `state = "down"`: address overrides pass it by.
    pub file_down: bool,
    pub cell: &'a ForcedCell,
    /// A dual-stack endpoint's other family entry's cell: written the same.
    pub twin_cell: Option<&'a ForcedCell>,
}

impl MemberRef<'_> {
    /// Does `sel` name this member (directly, or by its address)?
    pub fn matches(&self, sel: &Selector) -> bool {
        match sel {
            Selector::Addr(a) => *a == self.addr || Some(*a) == self.other,
            Selector::Member { zone, pool, member } => {
                self.member == Some(member.as_str()) && self.pool == pool && self.zone == zone
            }
        }
    }

    /// The override of `list` in force for this member, and its kind: one
    /// naming the member, else one of its address unless the file says
    /// `down` (see the module doc).
    pub fn effective<'l>(&self, list: &'l [Override]) -> Option<(&'l Override, ForcedBy)> {
        let named = list
            .iter()
            .find(|o| matches!(o.endpoint, Selector::Member { .. }) && self.matches(&o.endpoint));
        if let Some(o) = named {
            return Some((o, ForcedBy::Member));
        }
        if self.file_down {
            return None;
        }
        list.iter()
            .find(|o| matches!(o.endpoint, Selector::Addr(_)) && self.matches(&o.endpoint))
            .map(|o| (o, ForcedBy::Address))
    }
}

/// Write every member's [`ForcedCell`] from `list` (see the module doc for
/// the order); members no override reaches are cleared.
pub fn apply<'a>(list: &[Override], members: impl IntoIterator<Item = MemberRef<'a>>) {
    for m in members {
        let want = m.effective(list).map(|(o, by)| (o.state, by));
        for cell in std::iter::once(m.cell).chain(m.twin_cell) {
            if cell.get() != want {
                cell.set(want);
            }
        }
    }
}

/// How many of `members` `sel`'s override is in force for now, with
/// `list` in force ([`MemberRef::effective`]): what `matches` reports.
pub fn applies_to<'a>(
    sel: &Selector,
    list: &[Override],
    members: impl IntoIterator<Item = MemberRef<'a>>,
) -> usize {
    members
        .into_iter()
        .filter(|m| m.effective(list).is_some_and(|(o, _)| &o.endpoint == sel))
        .count()
}

/// Now, in Unix seconds (an override's `since`).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The overrides of the state file `file` whose text is `text`. Every
/// problem is reported (not only the first), each with its line, column
/// and key (`override[2].state`); the file is read as a TOML tree, one
/// value at a time, since serde's derived reader stops at the first.
fn parse_state(file: &Path, text: &str) -> Result<Vec<Override>, OverrideError> {
    use toml::de::{DeTable, DeValue};
    let lines = crate::diag::LineIndex::new(text);
    let mut diags = crate::diag::Diagnostics::capped(crate::diag::MAX_ERRORS_PER_FILE);
    let mut err = |offset: usize, key: &str, message: String| {
        let (line, col) = lines.line_col(offset);
        diags.error(file, Some(line), Some(col), key, message);
    };
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        let keys = crate::diag::TomlKeys::of(doc.get_ref());
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            match keys.duplicate(text, span.clone()) {
                Some((path, first)) if e.message() == "duplicate key" => {
                    let (line, _) = lines.line_col(first);
                    let m = format!("duplicate key: first set on line {line}");
                    err(span.start, &path, m);
                }
                _ => err(span.start, "", e.message().to_owned()),
            }
        }
        return Err(OverrideError::Invalid(diags));
    }
    let mut out: Vec<Override> = Vec::new();
    let mut seen: Vec<Selector> = Vec::new();
    let mut entries: Vec<_> = doc.into_inner().into_iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    for (k, v) in entries {
        if k.get_ref() != "override" {
            err(
                k.span().start,
                k.get_ref(),
                "unknown key, expected `override` (a list of [[override]] tables)".into(),
            );
            continue;
        }
        let DeValue::Array(list) = v.get_ref() else {
            err(
                v.span().start,
                "override",
                "must be a list of [[override]] tables".into(),
            );
            continue;
        };
        for (i, item) in list.iter().enumerate() {
            let key = format!("override[{i}]");
            let DeValue::Table(t) = item.get_ref() else {
                err(item.span().start, &key, "must be a table".into());
                continue;
            };
            let (mut endpoint, mut state, mut since) = (None, None, 0);
            let mut ok = true;
            let mut fields: Vec<_> = t.iter().collect();
            fields.sort_by_key(|(k, _)| k.span().start);
            for (k, v) in fields {
                let at = v.span().start;
                let field = format!("{key}.{}", k.get_ref());
                match k.get_ref().as_ref() {
                    "endpoint" => match value::<String>(v).map(|s| Selector::parse(&s)) {
                        Ok(Ok(e)) => endpoint = Some((e, at)),
                        Ok(Err(m)) | Err(m) => {
                            err(at, &field, m);
                            ok = false;
                        }
                    },
                    "state" => match value::<String>(v).map(|s| Forced::parse(&s)) {
                        Ok(Ok(Some(f))) => state = Some(f),
                        Ok(Ok(None)) => {
                            err(
                                at,
                                &field,
                                "\"auto\" is no override: remove the entry instead".into(),
                            );
                            ok = false;
                        }
                        Ok(Err(m)) | Err(m) => {
                            err(at, &field, m);
                            ok = false;
                        }
                    },
                    "since" => match value::<u64>(v) {
                        Ok(n) => since = n,
                        Err(m) => {
                            err(at, &field, m);
                            ok = false;
                        }
                    },
                    _ => {
                        err(
                            k.span().start,
                            &field,
                            "unknown key, expected one of `endpoint`, `state`, `since`".into(),
                        );
                        ok = false;
                    }
                }
            }
            for (name, missing) in [("endpoint", endpoint.is_none()), ("state", state.is_none())] {
                if missing && !t.iter().any(|(k, _)| k.get_ref() == name) {
                    err(item.span().start, &key, format!("missing key `{name}`"));
                    ok = false;
                }
            }
            // Twice is an error whatever else is wrong with either entry.
            if let Some((e, at)) = &endpoint {
                if seen.contains(e) {
                    err(
                        *at,
                        &format!("{key}.endpoint"),
                        format!("{e} is overridden twice"),
                    );
                    ok = false;
                }
                seen.push(e.clone());
            }
            let (Some((endpoint, _)), Some(state), true) = (endpoint, state, ok) else {
                continue;
            };
            out.push(Override {
                endpoint,
                state,
                since,
            });
        }
    }
    if !diags.is_empty() {
        return Err(OverrideError::Invalid(diags));
    }
    out.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
    Ok(out)
}

/// One value of the state file as `T`, or serde's message.
fn value<T: serde::de::DeserializeOwned>(
    v: &toml::Spanned<toml::de::DeValue<'_>>,
) -> Result<T, String> {
    T::deserialize(toml::de::ValueDeserializer::from(v.clone())).map_err(|e| e.message().to_owned())
}

fn render_state(list: &[Override]) -> String {
    use std::fmt::Write as _;
    let mut s = String::from(
        "# dnslb admin state: endpoint overrides set through the admin API\n\
         # (dnslb drain | undrain | force). Written by dnslb on every change;\n\
         # edit it only while dnslb is stopped.\n",
    );
    for o in list {
        let _ = write!(
            s,
            "\n[[override]]\nendpoint = {}\nstate = \"{}\"\nsince = {}\n",
            toml_string(&o.endpoint.to_string()),
            o.state,
            o.since
        );
    }
    s
}

/// `v` as a TOML basic string.
fn toml_string(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if c.is_control() => s.push_str(&format!("\\u{:04X}", c as u32)),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Replace `file` with `list`: write a temporary file beside it, flush it
/// to disk, rename it over the old one.
fn write_state(file: &Path, list: &[Override]) -> Result<(), OverrideError> {
    let werr = |cause| OverrideError::Write {
        file: file.to_path_buf(),
        cause,
    };
    let name = file.file_name().map_or_else(
        || "admin_state".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = file.with_file_name(format!(".{name}.tmp"));
    let text = render_state(list);
    let mut f = std::fs::File::create(&tmp).map_err(werr)?;
    f.write_all(text.as_bytes()).map_err(werr)?;
    f.sync_all().map_err(werr)?;
    drop(f);
    std::fs::rename(&tmp, file).map_err(werr)?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "dnslb-overrides-{}-{tag}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d.join("admin_state")
    }

    fn addr(s: &str) -> Selector {
        Selector::Addr(s.parse().unwrap())
    }

    #[test]
    fn selector_forms() {
        assert_eq!(
            Selector::parse("2001:db8::1").unwrap().to_string(),
            "2001:db8::1"
        );
        let m = Selector::parse("Example.Test./web/web-a").unwrap();
        assert_eq!(m.to_string(), "example.test/web/web-a");
        assert!(Selector::parse("web/web-a").is_err());
        assert!(Selector::parse("a//b").is_err());
        assert_eq!(Forced::parse("auto"), Ok(None));
        assert!(Forced::parse("off").unwrap_err().contains("\"off\""));
    }

    fn over(endpoint: &str, state: Forced) -> Override {
        Override {
            endpoint: Selector::parse(endpoint).unwrap(),
            state,
            since: 0,
        }
    }

    /// Three pools share 192.0.2.1 (one address, one health cell): an
    /// override by member name reaches that member only; one by address
    /// reaches the others, except the member its file keeps `down`; a
    /// member override beats an address override; the rest is cleared.
    #[test]
    fn apply_is_per_member() {
        let cells: Vec<ForcedCell> = (0..5).map(|_| ForcedCell::default()).collect();
        cells[4].set(Some((Forced::Up, ForcedBy::Member)));
        let m = |i: usize, a: &'static str, pool: &'static str, name, file_down| MemberRef {
            addr: a.parse().unwrap(),
            other: None,
            zone: "t",
            pool,
            member: name,
            file_down,
            cell: &cells[i],
            twin_cell: None,
        };
        let members = || {
            [
                m(0, "192.0.2.1", "p1", Some("a"), false),
                m(1, "192.0.2.1", "p2", Some("a"), false),
                m(2, "192.0.2.1", "p3", None, true),
                m(3, "192.0.2.1", "p4", None, false),
                m(4, "192.0.2.2", "p1", Some("b"), false),
            ]
        };
        let list = vec![over("t/p1/a", Forced::Drain)];
        apply(&list, members());
        let got = || cells.iter().map(ForcedCell::get).collect::<Vec<_>>();
        let member = |f| Some((f, ForcedBy::Member));
        let address = |f| Some((f, ForcedBy::Address));
        assert_eq!(got(), [member(Forced::Drain), None, None, None, None]);
        let sel = |s: &str| Selector::parse(s).unwrap();
        assert_eq!(applies_to(&sel("t/p1/a"), &list, members()), 1);

        let list = vec![over("192.0.2.1", Forced::Up), over("t/p1/a", Forced::Drain)];
        apply(&list, members());
        assert_eq!(
            got(),
            [
                member(Forced::Drain),
                address(Forced::Up),
                None,
                address(Forced::Up),
                None
            ]
        );
        assert_eq!(applies_to(&sel("192.0.2.1"), &list, members()), 2);
        assert_eq!(applies_to(&sel("t/p1/a"), &list, members()), 1);
        assert_eq!(applies_to(&sel("t/p9/x"), &list, members()), 0);

        // Named, a file-down member does follow its override.
        let list = vec![over("t/p3/x", Forced::Up), over("192.0.2.1", Forced::Down)];
        let named_down = MemberRef {
            member: Some("x"),
            ..members()[2]
        };
        apply(&list, [named_down]);
        assert_eq!(cells[2].get(), member(Forced::Up));
        apply(&[], members());
        assert!(got().iter().all(Option::is_none));
    }

    #[test]
    fn forced_cells_copy_and_compare_their_state() {
        let c = ForcedCell::default();
        assert_eq!((c.code(), c.forced()), (0, None));
        c.set(Some((Forced::Drain, ForcedBy::Address)));
        assert_eq!((c.code(), c.forced()), (3, Some(Forced::Drain)));
        let d = c.clone();
        assert_eq!(d, c);
        assert_eq!(d.get(), Some((Forced::Drain, ForcedBy::Address)));
        d.set(Some((Forced::Drain, ForcedBy::Member)));
        assert_ne!(d, c);
        assert_eq!(format!("{d:?}"), "ForcedCell(drain by member)");
    }

    /// A dual-stack endpoint is named by either of its addresses.
    #[test]
    fn an_address_override_names_a_dual_stack_endpoint_by_either_address() {
        let (cell, twin) = (ForcedCell::default(), ForcedCell::default());
        let dual = MemberRef {
            addr: "192.0.2.1".parse().unwrap(),
            other: Some("2001:db8::1".parse().unwrap()),
            zone: "t",
            pool: "p",
            member: None,
            file_down: false,
            cell: &cell,
            twin_cell: Some(&twin),
        };
        for a in ["192.0.2.1", "2001:db8::1"] {
            let list = vec![Override {
                endpoint: addr(a),
                state: Forced::Drain,
                since: 0,
            }];
            assert!(dual.matches(&list[0].endpoint));
            apply(&list, [dual]);
            let want = Some((Forced::Drain, ForcedBy::Address));
            assert_eq!((cell.get(), twin.get()), (want, want), "{a}");
            assert_eq!(applies_to(&list[0].endpoint, &list, [dual]), 1);
            apply(&[], [dual]);
            assert_eq!((cell.get(), twin.get()), (None, None));
        }
        assert!(!dual.matches(&addr("2001:db8::2")));
    }

    #[test]
    fn set_persists_and_reloads() {
        let file = tmp("persist");
        let o = Overrides::load(&file).unwrap();
        assert!(o.list().is_empty());
        let mut published = 0;
        let c = o
            .set(addr("192.0.2.1"), Some(Forced::Drain), |l| {
                published = l.len()
            })
            .unwrap();
        assert_eq!(
            (c.previous, c.current, published),
            (None, Some(Forced::Drain), 1)
        );
        o.set(
            Selector::parse("t/p/a").unwrap(),
            Some(Forced::Down),
            |_| {},
        )
        .unwrap();
        // Same state again: nothing to do, publish not called.
        let same = o
            .set(addr("192.0.2.1"), Some(Forced::Drain), |_| {
                panic!("no change")
            })
            .unwrap();
        assert_eq!(same.previous, same.current);
        let again = Overrides::load(&file).unwrap().list();
        assert_eq!(again, o.list());
        assert_eq!(again.len(), 2);
        o.set(addr("192.0.2.1"), None, |_| {}).unwrap();
        assert_eq!(Overrides::load(&file).unwrap().list().len(), 1);
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
    }

    /// Cluster mode: the store's list replaces the local one, the state
    /// file follows, and an unchanged list publishes nothing.
    #[test]
    fn replace_all_takes_the_store_list() {
        let file = tmp("replace");
        let o = Overrides::load(&file).unwrap();
        o.set(addr("192.0.2.1"), Some(Forced::Down), |_| {})
            .unwrap();
        let store = vec![
            Override {
                endpoint: addr("192.0.2.9"),
                state: Forced::Drain,
                since: 5,
            },
            Override {
                endpoint: addr("192.0.2.2"),
                state: Forced::Up,
                since: 6,
            },
        ];
        let mut published = 0;
        o.replace_all(store.clone(), "the cluster store", |l| published = l.len());
        assert_eq!(published, 2);
        let got: Vec<String> = o.list().iter().map(|x| x.endpoint.to_string()).collect();
        assert_eq!(got, ["192.0.2.2", "192.0.2.9"], "sorted by endpoint");
        assert_eq!(Overrides::load(&file).unwrap().list(), o.list());
        o.replace_all(store, "the cluster store", |_| panic!("no change"));
        o.replace_all(Vec::new(), "the cluster store", |l| assert!(l.is_empty()));
        assert!(Overrides::load(&file).unwrap().list().is_empty());
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
    }

    #[test]
    fn odd_member_names_round_trip() {
        let file = tmp("odd");
        let o = Overrides::load(&file).unwrap();
        let sel = Selector::Member {
            zone: "t".into(),
            pool: "p".into(),
            member: "a\"b\\c\u{7}".into(),
        };
        o.set(sel.clone(), Some(Forced::Up), |_| {}).unwrap();
        assert_eq!(Overrides::load(&file).unwrap().list()[0].endpoint, sel);
        let _ = std::fs::remove_dir_all(file.parent().unwrap());
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = tmp("nowrite");
        // The state file's directory does not exist: the write fails.
        let file = dir.parent().unwrap().join("missing").join("admin_state");
        let o = Overrides::load(&file).unwrap();
        let e = o
            .set(addr("192.0.2.1"), Some(Forced::Down), |_| {
                panic!("not published")
            })
            .unwrap_err();
        assert!(
            e.to_string().contains("cannot write the admin state file"),
            "{e}"
        );
        assert!(o.list().is_empty());
        let _ = std::fs::remove_dir_all(dir.parent().unwrap());
    }

    /// Every problem of a state file at once, each with its key; a
    /// duplicate is found even when the first entry has other errors.
    #[test]
    fn every_state_file_error_is_reported_at_once() {
        let text = "[[override]]\nendpoint = \"192.0.2.1\"\nstate = \"sideways\"\nsince = \"yesterday\"\n\
                    [[override]]\nendpoint = \"web\"\nextra = 1\n\
                    [[override]]\nendpoint = \"192.0.2.1\"\nstate = \"auto\"\n";
        let Err(OverrideError::Invalid(d)) = parse_state(Path::new("st"), text) else {
            panic!("not invalid");
        };
        let got: Vec<String> = d.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "st:3:9: override[0].state: expected one of up, down, drain, auto; got \"sideways\"",
                "st:4:9: override[0].since: invalid type: string \"yesterday\", expected u64",
                "st:6:12: override[1].endpoint: \"web\" is neither an IP address nor ZONE/POOL/MEMBER",
                "st:7:1: override[1].extra: unknown key, expected one of `endpoint`, `state`, `since`",
                "st:5:1: override[1]: missing key `state`",
                "st:10:9: override[2].state: \"auto\" is no override: remove the entry instead",
                "st:9:12: override[2].endpoint: 192.0.2.1 is overridden twice",
            ]
        );
    }

    #[test]
    fn corrupt_files_name_the_line() {
        let cases = [
            (
                "[[override]]\nendpoint = \"192.0.2.1\"\nstate = \"sideways\"\n",
                "3:9: override[0].state: expected one of",
            ),
            (
                "[[override]]\nendpoint = \"web\"\nstate = \"down\"\n",
                "2:12: override[0].endpoint: \"web\" is neither",
            ),
            (
                "[[override]]\nendpoint = \"192.0.2.1\"\nstate = \"auto\"\n",
                "3:9: override[0].state: \"auto\" is no override",
            ),
            (
                "[[override]]\nendpoint = \"192.0.2.1\"\nstate = \"up\"\n[[override]]\nendpoint = \"192.0.2.1\"\nstate = \"down\"\n",
                "5:12: override[1].endpoint: 192.0.2.1 is overridden twice",
            ),
            (
                "[[override]]\nendpont = \"x\"\n",
                "2:1: override[0].endpont: unknown key, expected one of `endpoint`, `state`, `since`",
            ),
            (
                "state = \"drain\"\n",
                "1:1: state: unknown key, expected `override`",
            ),
            (
                "[[override]]\nendpoint = \"192.0.2.1\"\nstate = \"down\"\nstate = \"up\"\n",
                "4:1: override[0].state: duplicate key: first set on line 3",
            ),
            ("this is not toml\n", "1:"),
        ];
        for (text, want) in cases {
            let e = parse_state(Path::new("st"), text).unwrap_err().to_string();
            assert!(e.starts_with("st:"), "{e}");
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
