//! Operator overrides: an endpoint forced `up`, `down` or `drain` through
//! the admin API, without editing a policy file.
//!
//! An override names an endpoint by address (every pool member with that
//! address, whatever its check) or by pool member (`ZONE/POOL/MEMBER`, the
//! member's `name` in the policy file). It is written into the
//! [`HealthTable`]'s forced bits of the matching targets ([`apply`]), so it
//! changes answers at once and policies read it with the probed status in
//! one load. A forced state beats the policy file's `state`; a member
//! override beats an address override on the same target. Forcing is per
//! target (address and check), so two pool members that share an address
//! and a check share a forced state, as they share health.
//!
//! Overrides are kept by what they name, not by target id, so they survive
//! reloads (re-applied to each new table before it is swapped in) and
//! restarts (kept in the state file, gdnsd's `admin_state` idea). An
//! override whose endpoint is gone stays listed and applies again if it
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

use super::{HealthTable, TargetId};

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

    pub(super) fn encode(f: Option<Forced>) -> u8 {
        match f {
            None => 0,
            Some(Forced::Up) => 1,
            Some(Forced::Down) => 2,
            Some(Forced::Drain) => 3,
        }
    }

    #[inline]
    pub(super) fn decode(v: u8) -> Option<Forced> {
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

/// A pool member as overrides see it: enough to match both selector kinds.
#[derive(Clone, Copy, Debug)]
pub struct MemberRef<'a> {
    pub target: TargetId,
    pub addr: IpAddr,
    /// Zone origin without the final dot, lowercase.
    pub zone: &'a str,
    pub pool: &'a str,
    /// The member's `name`, if it has one.
    pub member: Option<&'a str>,
}

impl MemberRef<'_> {
    /// Does `sel` name this member?
    pub fn matches(&self, sel: &Selector) -> bool {
        match sel {
            Selector::Addr(a) => *a == self.addr,
            Selector::Member { zone, pool, member } => {
                self.member == Some(member.as_str()) && self.pool == pool && self.zone == zone
            }
        }
    }
}

/// Write the forced bits of every target of `table`: the state of the
/// override naming one of its members (a member override beats an address
/// override), or none. Targets no member uses are cleared too.
pub fn apply<'a>(
    list: &[Override],
    table: &HealthTable,
    members: impl IntoIterator<Item = MemberRef<'a>>,
) {
    // Rank 2: member override, 1: address override.
    let mut want: Vec<(u8, Option<Forced>)> = vec![(0, None); table.len()];
    for m in members {
        for o in list {
            if !m.matches(&o.endpoint) {
                continue;
            }
            let rank = match o.endpoint {
                Selector::Member { .. } => 2,
                Selector::Addr(_) => 1,
            };
            if let Some(w) = want.get_mut(m.target.0 as usize)
                && rank > w.0
            {
                *w = (rank, Some(o.state));
            }
        }
    }
    for (i, (_, f)) in want.into_iter().enumerate() {
        let id = TargetId(i as u32);
        if table.forced(id) != f {
            table.set_forced(id, f);
        }
    }
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
        for e in errors {
            err(e.span().map_or(0, |s| s.start), "", e.message().to_owned());
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
    use crate::health::Status;

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

    fn cell(t: &HealthTable, id: u32) -> (Status, Option<Forced>) {
        let c = t.cell(TargetId(id));
        (c.status(), c.forced())
    }

    #[test]
    fn forced_bits_keep_the_probed_status() {
        let t = HealthTable::new(2, Status::Up);
        t.set_forced(TargetId(0), Some(Forced::Drain));
        t.set_status(TargetId(0), Status::Down);
        assert_eq!(cell(&t, 0), (Status::Down, Some(Forced::Drain)));
        t.set_forced(TargetId(0), None);
        assert_eq!(cell(&t, 0), (Status::Down, None));
        t.set_status(TargetId(0), Status::Up);
        t.set_forced(TargetId(0), Some(Forced::Down));
        assert_eq!(cell(&t, 0), (Status::Up, Some(Forced::Down)));
        assert_eq!(cell(&t, 1), (Status::Up, None));
        assert_eq!(cell(&t, 9), (Status::Up, None));
    }

    #[test]
    fn apply_prefers_member_overrides_and_clears_the_rest() {
        let t = HealthTable::new(3, Status::Up);
        t.set_forced(TargetId(2), Some(Forced::Up));
        let list = vec![
            Override {
                endpoint: addr("192.0.2.1"),
                state: Forced::Down,
                since: 0,
            },
            Override {
                endpoint: Selector::parse("t/p/a").unwrap(),
                state: Forced::Drain,
                since: 0,
            },
        ];
        let m = |id, a: &str, name| MemberRef {
            target: TargetId(id),
            addr: a.parse().unwrap(),
            zone: "t",
            pool: "p",
            member: name,
        };
        apply(
            &list,
            &t,
            [
                m(0, "192.0.2.1", Some("a")),
                m(1, "192.0.2.1", None),
                m(2, "192.0.2.2", Some("b")),
            ],
        );
        assert_eq!(t.forced(TargetId(0)), Some(Forced::Drain));
        assert_eq!(t.forced(TargetId(1)), Some(Forced::Down));
        assert_eq!(t.forced(TargetId(2)), None);
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
            ("this is not toml\n", "1:"),
        ];
        for (text, want) in cases {
            let e = parse_state(Path::new("st"), text).unwrap_err().to_string();
            assert!(e.starts_with("st:"), "{e}");
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
