//! Master-file entries → records: `$ORIGIN`, `$TTL`, `$INCLUDE` (with every
//! limit), BIND's `$GENERATE`, and `[owner] [ttl] [class] type rdata`
//! lines, with BIND 9's TTL rules.
//!
//! TTLs, as `named-compilezone` 9.18 applies them: an explicit TTL wins;
//! else `$TTL`; else (no `$TTL` yet) the last explicit TTL (RFC 1035
//! semantics); else, for the SOA, its MINIMUM, which then serves as the
//! default. TTLs above 2^31-1 become 0 (RFC 2181 §8), with a warning.
//! Records of one RRset must share a TTL (RFC 2181 §5.2). BIND settles it
//! per "run" (the records it adds to its database in one go): inside a run
//! the first TTL of a type holds, and a run added later replaces an earlier
//! run's TTL. A run is the records written in a row under one owner
//! (compared with case), except that the records of an NS target right
//! after its NS records are "glue": a run of their own, after which the NS
//! owner's run goes on. dnslb follows the same rule (see [`Run`]).
//!
//! `$INCLUDE FILE [ORIGIN]` reads FILE relative to the include root (the
//! zones directory, as BIND reads it relative to its working directory).
//! The origin given, or any `$ORIGIN` inside, applies to the included file
//! only; a `$TTL` inside carries on after it, as in BIND. Hostile includes
//! are bounded: loops are refused, depth, the number of includes and the
//! bytes read per zone are capped, only regular files are opened (opened
//! non-blocking, so a FIFO cannot stall a load), and a load past its time
//! budget stops.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::lexer::{Entry, Lexer, Tok};
use super::name::{display, parse_name_text};
use super::rdata::{Encoded, parse_period, parse_rdata, type_from_text};
use super::rtype;

/// Bounds on one zone's load, `$INCLUDE`s included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nested `$INCLUDE` depth (the zone file itself is depth 0).
    pub max_include_depth: usize,
    /// `$INCLUDE` directives followed per zone.
    pub max_includes: usize,
    /// Bytes read per zone, every file counted.
    pub max_bytes: u64,
    /// Wall-clock time one zone's load may take.
    pub max_time: Duration,
    /// Errors reported per zone before the load stops.
    pub max_errors: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_include_depth: 8,
            max_includes: 1000,
            max_bytes: 1 << 30,
            max_time: Duration::from_secs(120),
            max_errors: 1000,
        }
    }
}

/// How zone files are loaded.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `$INCLUDE` names files relative to this directory and only inside
    /// it (canonicalized). `None` refuses `$INCLUDE` altogether.
    pub include_root: Option<PathBuf>,
    pub limits: Limits,
    /// Set by someone else to stop the load early, as if its time were up
    /// (a reload past its own time limit, or a shutdown).
    pub cancel: Option<Arc<AtomicBool>>,
}

/// A record as read, before it is grouped into RRsets: fixed-size, its
/// owner, name positions and wire RDATA in [`RecordList`]'s byte arena.
#[derive(Debug, Clone, Copy)]
pub struct Rec {
    /// Index into [`Reader::files`].
    pub file: u32,
    pub line: u32,
    pub ttl: u32,
    /// When its run ended, in order (see [`Run`]): the TTL of the RRset's
    /// last-ended run is served.
    pub run: u32,
    owner_at: u32,
    data_at: u32,
    pub rtype: u16,
    wire_len: u16,
    owner_len: u8,
    nnames: u8,
}

/// Every record of a zone as read, held compactly: a 32-byte [`Rec`] each,
/// and one byte arena for the owners (lowercased wire, RFC 4343; a record
/// under the owner of the one before shares its bytes), the compressible
/// name positions (`start`, `len`, u16 LE each) and the wire RDATA. As a
/// `Vec` of structs with a boxed owner, wire, name list and target each,
/// 1,000,000 records took about 200 bytes apiece while loading, and glibc
/// kept the freed small blocks afterwards (docs/PERFORMANCE.md).
#[derive(Debug, Default)]
pub struct RecordList {
    bytes: Vec<u8>,
    pub recs: Vec<Rec>,
}

impl RecordList {
    /// Append a record. `owner` is lowercase wire; `None` when the arena
    /// would pass 4 GiB.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        file: u32,
        line: u32,
        owner: &[u8],
        rtype: u16,
        ttl: u32,
        run: u32,
        rdata: &Encoded,
    ) -> Option<()> {
        let owner_at = match self.recs.last() {
            Some(r) if self.owner(r) == owner => r.owner_at,
            _ => {
                let at = self.bytes.len();
                self.bytes.extend_from_slice(owner);
                at as u32
            }
        };
        let data_at = self.bytes.len();
        for &(s, l) in &rdata.names {
            self.bytes.extend_from_slice(&s.to_le_bytes());
            self.bytes.extend_from_slice(&l.to_le_bytes());
        }
        self.bytes.extend_from_slice(&rdata.wire);
        if self.bytes.len() > u32::MAX as usize {
            return None;
        }
        self.recs.push(Rec {
            file,
            line,
            ttl,
            run,
            owner_at,
            data_at: data_at as u32,
            rtype,
            wire_len: rdata.wire.len() as u16,
            owner_len: owner.len() as u8,
            nnames: rdata.names.len() as u8,
        });
        Some(())
    }

    /// The owner of `r`, lowercase wire.
    pub fn owner(&self, r: &Rec) -> &[u8] {
        &self.bytes[r.owner_at as usize..r.owner_at as usize + r.owner_len as usize]
    }

    /// The compressible name positions of `r`: 4 bytes each (start, len;
    /// u16 LE), as the zone's store keeps them.
    pub fn names(&self, r: &Rec) -> &[u8] {
        &self.bytes[r.data_at as usize..r.data_at as usize + 4 * r.nnames as usize]
    }

    /// The wire RDATA of `r`.
    pub fn wire(&self, r: &Rec) -> &[u8] {
        let at = r.data_at as usize + 4 * r.nnames as usize;
        &self.bytes[at..at + r.wire_len as usize]
    }

    /// Keep only the records `keep` says yes to.
    pub fn retain(&mut self, mut keep: impl FnMut(&Self, &Rec) -> bool) {
        let recs = std::mem::take(&mut self.recs);
        self.recs = recs.into_iter().filter(|r| keep(self, r)).collect();
    }

    /// Group by owner, then type; file order kept inside a group.
    pub fn sort(&mut self) {
        let mut recs = std::mem::take(&mut self.recs);
        recs.sort_by(|a, b| (self.owner(a), a.rtype).cmp(&(self.owner(b), b.rtype)));
        self.recs = recs;
    }
}

/// A problem found while reading: file index, line, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub file: u32,
    pub line: Option<u32>,
    pub message: String,
}

/// Reads one zone: its file and everything it includes.
pub struct Reader<'o> {
    opts: &'o LoadOptions,
    /// Every file read, in order; records point here by index.
    pub files: Vec<PathBuf>,
    pub records: RecordList,
    pub errors: Vec<ReadError>,
    /// Warnings that do not stop the load (file index, line, message).
    pub warnings: Vec<ReadError>,
    /// Every file an `$INCLUDE` named, read or not (a missing one may
    /// appear later): what a reload watches.
    pub included: Vec<PathBuf>,
    origin: Vec<u8>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<Box<[u8]>>,
    /// The current run and, inside it, a run of glue (see [`Run`]).
    current: Option<Run>,
    glue: Option<Run>,
    /// Run id → the order in which it ended (u32::MAX while open).
    run_ends: Vec<u32>,
    ended: u32,
    includes: usize,
    bytes: u64,
    deadline: Instant,
    /// Canonical paths of the files being read, outermost first.
    stack: Vec<PathBuf>,
    /// Set when a limit was hit: nothing more is read.
    stopped: bool,
}

/// The bytes of the zone file or `$INCLUDE` `path`, read as every input
/// file is ([`crate::files::read`]): only a regular file (a FIFO or device
/// is refused, not waited on), at most `budget` bytes (more is an error).
pub fn read_regular_file(path: &Path, budget: u64) -> Result<Vec<u8>, String> {
    use crate::files::{FileKind, ReadError, read};
    read(path, FileKind::zone(budget)).map_err(|e| match e {
        ReadError::TooLarge { .. } => format!("more than the {budget} bytes a zone may read"),
        e => e.to_string(),
    })
}

impl<'o> Reader<'o> {
    /// A reader for the zone `origin` (wire form).
    pub fn new(opts: &'o LoadOptions, origin: &[u8]) -> Self {
        Self {
            opts,
            files: Vec::new(),
            records: RecordList::default(),
            errors: Vec::new(),
            warnings: Vec::new(),
            included: Vec::new(),
            origin: origin.to_vec(),
            default_ttl: None,
            last_ttl: None,
            last_owner: None,
            current: None,
            glue: None,
            run_ends: Vec::new(),
            ended: 0,
            includes: 0,
            bytes: 0,
            deadline: Instant::now() + opts.limits.max_time,
            stack: Vec::new(),
            stopped: false,
        }
    }

    fn error(&mut self, file: u32, line: Option<u32>, message: impl Into<String>) {
        if self.stopped {
            return;
        }
        self.errors.push(ReadError {
            file,
            line,
            message: message.into(),
        });
        if self.errors.len() >= self.opts.limits.max_errors {
            self.errors.push(ReadError {
                file,
                line,
                message: format!(
                    "stopped after {} errors in this zone",
                    self.opts.limits.max_errors
                ),
            });
            self.stopped = true;
        }
    }

    fn warn(&mut self, file: u32, line: u32, message: impl Into<String>) {
        if self.warnings.len() < self.opts.limits.max_errors {
            self.warnings.push(ReadError {
                file,
                line: Some(line),
                message: message.into(),
            });
        }
    }

    /// Read the zone file `path` whose text is `text`.
    pub fn read_top(&mut self, path: &Path, text: &[u8]) {
        self.bytes = text.len() as u64;
        let canon = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        self.stack.push(canon);
        self.files.push(path.to_path_buf());
        self.read_text(0, text);
        self.stack.pop();
        self.end_runs();
        for r in &mut self.records.recs {
            r.run = self.run_ends[r.run as usize];
        }
    }

    fn read_text(&mut self, file: u32, text: &[u8]) {
        let mut lx = Lexer::new(text);
        let mut e = Entry::default();
        let mut n = 0u32;
        while let Some(r) = lx.next_entry(&mut e) {
            if self.stopped {
                return;
            }
            n = n.wrapping_add(1);
            if n.is_multiple_of(1024) && self.out_of_time() {
                self.time_out(file, e.line);
                return;
            }
            if let Err(le) = r {
                self.error(file, Some(le.line), le.message);
                continue;
            }
            let first = e.toks[0];
            // BIND takes a `$` token as a directive even when quoted.
            if !e.blank_owner && first.raw(text).starts_with(b"$") {
                self.directive(file, text, &e);
            } else {
                self.record(file, text, &e);
            }
        }
    }

    /// Past the zone's time budget, or asked to stop.
    fn out_of_time(&self) -> bool {
        Instant::now() > self.deadline || self.cancelled()
    }

    fn cancelled(&self) -> bool {
        self.opts
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    fn time_out(&mut self, file: u32, line: u32) {
        let message = if self.cancelled() {
            "loading this zone was cancelled (the reload was stopped); stopped".to_owned()
        } else {
            let secs = self.opts.limits.max_time.as_secs();
            format!("loading this zone took longer than {secs} s; stopped")
        };
        self.error(file, Some(line), message);
        self.stopped = true;
    }

    fn directive(&mut self, file: u32, text: &[u8], e: &Entry) {
        let line = Some(e.line);
        let word = e.toks[0].raw(text).to_ascii_uppercase();
        let args = &e.toks[1..];
        match word.as_slice() {
            b"$ORIGIN" if args.len() == 1 => {
                match parse_name_text(args[0].raw(text), &self.origin) {
                    Ok(n) => self.origin = n,
                    Err(m) => self.error(file, line, format!("bad $ORIGIN: {m}")),
                }
            }
            b"$TTL" if args.len() == 1 => match parse_period(args[0].raw(text)) {
                Some(t) => self.default_ttl = Some(self.clamp_ttl(file, e.line, t)),
                None => self.error(
                    file,
                    line,
                    format!("bad $TTL {:?}", String::from_utf8_lossy(args[0].raw(text))),
                ),
            },
            b"$INCLUDE" if !args.is_empty() && args.len() <= 2 => {
                self.include(file, e.line, text, args);
            }
            b"$GENERATE" => self.generate(file, text, e),
            _ => self.error(
                file,
                line,
                format!(
                    "unknown or malformed directive {:?}",
                    String::from_utf8_lossy(e.toks[0].raw(text))
                ),
            ),
        }
    }

    /// BIND's `$GENERATE RANGE LHS [TTL] [CLASS] TYPE RHS`: for each value
    /// of `start-stop[/step]`, `$` in LHS and RHS becomes the value,
    /// `${offset[,width[,base]]}` formats it (base d, o, x, X, or n/N for
    /// reversed nibbles), `$$` is a literal `$`; the record is then read as
    /// if written out, RHS lexed again (so a quoted RHS may hold several
    /// fields). At most [`MAX_GENERATE`] records per directive.
    fn generate(&mut self, file: u32, text: &[u8], e: &Entry) {
        let line = e.line;
        let l = Some(line);
        let args = &e.toks[1..];
        if args.len() < 4 {
            self.error(file, l, "$GENERATE needs RANGE LHS [TTL] [CLASS] TYPE RHS");
            return;
        }
        let range = args[0].raw(text);
        let Some((start, stop, step)) = generate_range(range) else {
            self.error(
                file,
                l,
                format!(
                    "$GENERATE: invalid range {:?}",
                    String::from_utf8_lossy(range)
                ),
            );
            return;
        };
        let count = (stop - start) / step + 1;
        if count > MAX_GENERATE {
            self.error(
                file,
                l,
                format!("$GENERATE: {count} records is more than {MAX_GENERATE} per directive"),
            );
            return;
        }
        let lhs = args[1].raw(text);
        // [TTL] [CLASS] TYPE, then exactly one RHS token (as BIND).
        let mut k = 2;
        while k < args.len() - 1 {
            let w = args[k].raw(text);
            let is_ttl = w.first().is_some_and(u8::is_ascii_digit);
            if !is_ttl && class_from_text(w).is_none() {
                break;
            }
            k += 1;
        }
        let middle: Vec<&[u8]> = args[2..=k].iter().map(|t| t.raw(text)).collect();
        let Some(rhs) = args.get(k + 1).map(|t| t.raw(text)) else {
            self.error(file, l, "$GENERATE: missing RHS");
            return;
        };
        if let Some(extra) = args.get(k + 2) {
            self.error(
                file,
                Some(extra.line),
                format!(
                    "$GENERATE: extra text {:?} after the RHS (quote an RHS of several fields)",
                    String::from_utf8_lossy(extra.raw(text))
                ),
            );
            return;
        }
        let mut buf = Vec::new();
        let mut entry = Entry::default();
        let mut v = start;
        while v <= stop {
            if self.stopped {
                return;
            }
            buf.clear();
            let ok = generate_text(lhs, v, &mut buf).is_ok();
            for m in &middle {
                buf.push(b' ');
                buf.extend_from_slice(m);
            }
            buf.push(b' ');
            if !ok || generate_text(rhs, v, &mut buf).is_err() {
                self.error(file, l, "$GENERATE: bad ${...} modifier");
                return;
            }
            buf.push(b'\n');
            let mut lx = Lexer::new(&buf);
            match lx.next_entry(&mut entry) {
                Some(Ok(())) => {
                    entry.line = line;
                    entry.blank_owner = false;
                    for t in &mut entry.toks {
                        t.line = line;
                    }
                    let before = self.errors.len();
                    self.record(file, &buf, &entry);
                    if self.errors.len() > before {
                        // One error per directive, not one per value.
                        return;
                    }
                }
                _ => {
                    self.error(file, l, "$GENERATE: the generated record does not parse");
                    return;
                }
            }
            if self.out_of_time() {
                self.time_out(file, line);
                return;
            }
            v += step;
        }
    }

    /// Find or open the run a record of `owner` (wire, case kept) joins,
    /// as BIND's loader groups records before adding them.
    fn enter_run(&mut self, owner: &[u8]) {
        if self.glue.as_ref().is_some_and(|g| *g.owner != *owner) {
            let g = self.glue.take();
            self.end_run(g);
        }
        if self.glue.is_some() || self.current.as_ref().is_some_and(|c| *c.owner == *owner) {
            return;
        }
        let lower = super::name::lower(owner);
        let is_glue = self
            .current
            .as_ref()
            .is_some_and(|c| c.ns_targets.contains(&lower));
        let id = self.run_ends.len() as u32;
        self.run_ends.push(u32::MAX);
        let run = Run {
            owner: owner.into(),
            id,
            ttls: Vec::new(),
            ns_targets: Vec::new(),
        };
        if is_glue {
            self.glue = Some(run);
        } else {
            let c = self.current.take();
            self.end_run(c);
            self.current = Some(run);
        }
    }

    fn end_run(&mut self, run: Option<Run>) {
        if let Some(r) = run {
            self.run_ends[r.id as usize] = self.ended;
            self.ended += 1;
        }
    }

    /// End every open run (at `$INCLUDE` and at the end of the zone).
    fn end_runs(&mut self) {
        let c = self.current.take();
        self.end_run(c);
        let g = self.glue.take();
        self.end_run(g);
    }

    /// TTLs above 2^31-1 are taken as 0 (RFC 2181 §8), as BIND does.
    fn clamp_ttl(&mut self, file: u32, line: u32, t: u64) -> u32 {
        if t > i32::MAX as u64 {
            self.warn(
                file,
                line,
                format!("TTL {t} is above 2147483647 (RFC 2181 §8); using 0"),
            );
            0
        } else {
            t as u32
        }
    }

    fn include(&mut self, file: u32, line: u32, text: &[u8], args: &[Tok]) {
        let l = Some(line);
        let mut arg = Vec::new();
        if let Err(m) = super::lexer::decode_string(args[0].raw(text), &mut arg) {
            self.error(file, l, format!("bad $INCLUDE file name: {m}"));
            return;
        }
        let shown = String::from_utf8_lossy(&arg).into_owned();
        let Some(root) = self.opts.include_root.clone() else {
            self.error(file, l, "$INCLUDE is disabled");
            return;
        };
        if self.stack.len() > self.opts.limits.max_include_depth {
            self.error(
                file,
                l,
                format!(
                    "$INCLUDE {shown:?}: nested more than {} deep",
                    self.opts.limits.max_include_depth
                ),
            );
            return;
        }
        if self.includes >= self.opts.limits.max_includes {
            self.error(
                file,
                l,
                format!(
                    "$INCLUDE {shown:?}: more than {} includes in one zone; stopped",
                    self.opts.limits.max_includes
                ),
            );
            self.stopped = true;
            return;
        }
        self.includes += 1;
        #[cfg(unix)]
        let target = {
            use std::os::unix::ffi::OsStrExt;
            root.join(std::ffi::OsStr::from_bytes(&arg))
        };
        #[cfg(not(unix))]
        let target = root.join(&shown);
        self.included.push(target.clone());
        let (canon, root_canon) = match (target.canonicalize(), root.canonicalize()) {
            (Ok(c), Ok(r)) => (c, r),
            (Err(err), _) | (_, Err(err)) => {
                self.error(file, l, format!("$INCLUDE {shown:?}: {err}"));
                return;
            }
        };
        if !canon.starts_with(&root_canon) {
            self.error(
                file,
                l,
                format!(
                    "$INCLUDE {shown:?} is outside the zones directory {}",
                    root.display()
                ),
            );
            return;
        }
        if self.stack.contains(&canon) {
            self.error(
                file,
                l,
                format!("$INCLUDE {shown:?} includes itself (an include loop)"),
            );
            return;
        }
        if self.out_of_time() {
            self.time_out(file, line);
            return;
        }
        let budget = self.opts.limits.max_bytes.saturating_sub(self.bytes);
        let data = match read_regular_file(&canon, budget) {
            Ok(d) => d,
            Err(m) => {
                self.error(file, l, format!("$INCLUDE {shown:?}: {m}"));
                if m.contains("bytes a zone may read") {
                    self.stopped = true;
                }
                return;
            }
        };
        self.bytes += data.len() as u64;
        // RFC 1035 §5.1: the origin given applies inside the included
        // file only, and so does any $ORIGIN there.
        let saved_origin = self.origin.clone();
        let saved_owner = self.last_owner.take();
        if let Some(o) = args.get(1) {
            match parse_name_text(o.raw(text), &self.origin) {
                Ok(n) => self.origin = n,
                Err(m) => {
                    self.error(file, l, format!("bad $INCLUDE origin: {m}"));
                    self.last_owner = saved_owner;
                    return;
                }
            }
        }
        // BIND adds what it has read before it opens the included file.
        self.end_runs();
        let idx = self.files.len() as u32;
        self.files.push(target);
        self.stack.push(canon);
        self.read_text(idx, &data);
        self.stack.pop();
        self.origin = saved_origin;
        self.last_owner = saved_owner;
    }

    fn record(&mut self, file: u32, text: &[u8], e: &Entry) {
        let line = e.line;
        let l = Some(line);
        let mut toks = e.toks.as_slice();
        let owner: Box<[u8]> = if e.blank_owner {
            match &self.last_owner {
                Some(o) => o.clone(),
                None => {
                    self.error(file, l, "record has no owner name and none precedes it");
                    return;
                }
            }
        } else {
            let t = toks[0];
            toks = &toks[1..];
            match parse_name_text(t.raw(text), &self.origin) {
                Ok(n) => n.into_boxed_slice(),
                Err(m) => {
                    self.error(
                        file,
                        Some(t.line),
                        format!(
                            "bad owner name {:?}: {m}",
                            String::from_utf8_lossy(t.raw(text))
                        ),
                    );
                    return;
                }
            }
        };
        self.last_owner = Some(owner.clone());
        // [ttl] [class] in either order, then the type (RFC 1035 §5.1).
        let mut ttl: Option<u64> = None;
        let mut class_seen = false;
        let mut rt: Option<u16> = None;
        while let Some((&t, rest)) = toks.split_first() {
            toks = rest;
            let w = t.raw(text);
            if t.quoted {
                self.error(
                    file,
                    Some(t.line),
                    "expected a TTL, class or type, got a quoted string",
                );
                return;
            }
            if ttl.is_none() && w.first().is_some_and(u8::is_ascii_digit) {
                match parse_period(w) {
                    Some(v) => {
                        ttl = Some(v);
                        continue;
                    }
                    None => {
                        self.error(
                            file,
                            Some(t.line),
                            format!("bad TTL {:?}", String::from_utf8_lossy(w)),
                        );
                        return;
                    }
                }
            }
            if !class_seen && let Some(c) = class_from_text(w) {
                if c != 1 {
                    self.error(
                        file,
                        Some(t.line),
                        format!(
                            "class {} is not IN; dnslb serves class IN zones only",
                            String::from_utf8_lossy(w)
                        ),
                    );
                    return;
                }
                class_seen = true;
                continue;
            }
            match type_from_text(w) {
                Some(v) => {
                    rt = Some(v);
                    break;
                }
                None => {
                    self.error(
                        file,
                        Some(t.line),
                        format!("unknown RR type {:?}", String::from_utf8_lossy(w)),
                    );
                    return;
                }
            }
        }
        let Some(rt) = rt else {
            self.error(file, l, "record has no type");
            return;
        };
        let rdata = match parse_rdata(rt, text, toks, &self.origin, line) {
            Ok(r) => r,
            Err(err) => {
                let name =
                    super::rdata::type_name(rt).map_or_else(|| format!("TYPE{rt}"), str::to_string);
                self.error(
                    file,
                    Some(err.line),
                    format!("{name} record: {}", err.message),
                );
                return;
            }
        };
        let ttl = match ttl {
            Some(v) => {
                let v = self.clamp_ttl(file, line, v);
                self.last_ttl = Some(v);
                v
            }
            None => match (self.default_ttl, self.last_ttl) {
                (Some(d), _) => d,
                (None, Some(last)) => last,
                (None, None) if rt == rtype::SOA => {
                    let min = u32::from_be_bytes(
                        rdata.wire[rdata.wire.len() - 4..]
                            .try_into()
                            .unwrap_or([0; 4]),
                    );
                    self.default_ttl = Some(min);
                    min
                }
                (None, None) => {
                    self.error(
                        file,
                        l,
                        format!(
                            "{}: no TTL given and no $TTL before this record",
                            display(&owner)
                        ),
                    );
                    return;
                }
            },
        };
        self.enter_run(&owner);
        let covers = if rt == rtype::RRSIG || rt == 24 {
            u16::from_be_bytes([rdata.wire[0], rdata.wire[1]])
        } else {
            0
        };
        let in_glue = self.glue.is_some();
        let run = self
            .glue
            .as_mut()
            .or(self.current.as_mut())
            .expect("enter_run opened a run");
        let run_id = run.id;
        if rt == rtype::NS
            && !in_glue
            && let Some(t) = super::present::target_of(rt, &rdata.wire)
        {
            run.ns_targets.push(t);
        }
        let prior = run
            .ttls
            .iter()
            .find(|r| r.0 == rt && r.1 == covers)
            .map(|r| r.2);
        if prior.is_none() {
            run.ttls.push((rt, covers, ttl));
        }
        let ttl = match prior {
            Some(prior) if prior != ttl => {
                self.warn(
                    file,
                    line,
                    format!("TTL {ttl} set to the prior TTL {prior} of this RRset (RFC 2181 §5.2)"),
                );
                self.last_ttl = Some(prior);
                prior
            }
            _ => ttl,
        };
        let owner = super::name::lower(&owner);
        if self
            .records
            .push(file, line, &owner, rt, ttl, run_id, &rdata)
            .is_none()
        {
            self.error(file, l, "the zone is larger than 4 GiB; stopped");
            self.stopped = true;
        }
    }
}

/// Records BIND's loader adds to its database in one go: a run of records
/// written in a row under one owner (compared with case), or, inside it,
/// the glue run of an NS target named by the run's NS records. Inside a run
/// the first TTL of a type (and covered type, for RRSIG) holds; across runs
/// the TTL of the run that ended last holds.
struct Run {
    owner: Box<[u8]>,
    id: u32,
    /// (type, covered type for RRSIG/SIG, TTL) of this run.
    ttls: Vec<(u16, u16, u32)>,
    /// Lowercased targets of this run's NS records.
    ns_targets: Vec<Box<[u8]>>,
}

/// Records one `$GENERATE` may produce (a /16 of PTRs fits).
pub const MAX_GENERATE: u64 = 65_536;

/// `start-stop[/step]`, non-negative, start <= stop, step > 0.
fn generate_range(s: &[u8]) -> Option<(u64, u64, u64)> {
    let s = std::str::from_utf8(s).ok()?;
    let (range, step) = match s.split_once('/') {
        Some((r, st)) => (r, st.parse::<u64>().ok()?),
        None => (s, 1),
    };
    let (a, b) = range.split_once('-')?;
    let (a, b) = (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?);
    (a <= b && step > 0 && b <= i32::MAX as u64).then_some((a, b, step))
}

/// Substitute the iterator `v` into a `$GENERATE` LHS or RHS (BIND's
/// `genname`): `$`, `$$`, `${offset[,width[,base]]}`; a backslash and the
/// byte after it are copied as they are.
fn generate_text(src: &[u8], v: u64, out: &mut Vec<u8>) -> Result<(), ()> {
    let mut i = 0;
    while i < src.len() {
        match src[i] {
            b'\\' => {
                out.push(b'\\');
                if let Some(&c) = src.get(i + 1) {
                    out.push(c);
                }
                i += 2;
            }
            b'$' if src.get(i + 1) == Some(&b'$') => {
                out.push(b'$');
                i += 2;
            }
            b'$' => {
                i += 1;
                let (mut offset, mut width, mut base) = (0i64, 0usize, b'd');
                if src.get(i) == Some(&b'{') {
                    let end = src[i..].iter().position(|&c| c == b'}').ok_or(())? + i;
                    let spec = std::str::from_utf8(&src[i + 1..end]).map_err(|_| ())?;
                    let mut parts = spec.split(',');
                    offset = parts.next().ok_or(())?.trim().parse().map_err(|_| ())?;
                    if let Some(w) = parts.next() {
                        width = w.trim().parse().map_err(|_| ())?;
                    }
                    if let Some(b) = parts.next() {
                        let b = b.trim().as_bytes();
                        if b.len() != 1 || !b"doxXnN".contains(&b[0]) {
                            return Err(());
                        }
                        base = b[0];
                    }
                    if parts.next().is_some() {
                        return Err(());
                    }
                    i = end + 1;
                }
                let n = v as i64 + offset;
                // C's printf of an int: negative values in o/x/X wrap to u32.
                let text = match base {
                    b'd' => format!("{n:0width$}"),
                    b'o' => format!("{:0width$o}", n as i32 as u32),
                    b'x' => format!("{:0width$x}", n as i32 as u32),
                    b'X' => format!("{:0width$X}", n as i32 as u32),
                    _ => nibbles(n, width, base == b'N').ok_or(())?,
                };
                out.extend_from_slice(text.as_bytes());
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(())
}

/// Reversed hex nibbles joined by dots, padded to `width` characters
/// (dots counted), as BIND's `nibbles`.
fn nibbles(value: i64, mut width: usize, upper: bool) -> Option<String> {
    if value < 0 {
        return None;
    }
    let digits = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut v = value as u64;
    let mut s = String::new();
    loop {
        s.push(digits[(v & 15) as usize] as char);
        v >>= 4;
        width = width.saturating_sub(1);
        if width > 0 || v != 0 {
            s.push('.');
            width = width.saturating_sub(1);
        }
        if v == 0 && width == 0 {
            return Some(s);
        }
    }
}

/// A class mnemonic or `CLASSnnn` (RFC 3597 §5), case-insensitive.
pub fn class_from_text(s: &[u8]) -> Option<u16> {
    let names: [(&[u8], u16); 5] = [
        (b"IN", 1),
        (b"CH", 3),
        (b"HS", 4),
        (b"NONE", 254),
        (b"ANY", 255),
    ];
    if let Some(&(_, c)) = names.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Some(c);
    }
    if s.len() > 5 && s[..5].eq_ignore_ascii_case(b"CLASS") && s[5..].iter().all(u8::is_ascii_digit)
    {
        return std::str::from_utf8(&s[5..]).ok()?.parse().ok();
    }
    None
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
