//! The per-zone policy file (`zones/ZONE.toml`): health checks, pools of
//! endpoints and the load-balanced names that use them.
//!
//! Two layers, as STYLE.md asks: the `*Spec` types ([`spec`]) are the file
//! format (every value `Spanned` so errors can point at it), and
//! [`load_policy_file`] validates them into the runtime
//! types of [`crate::health`] (checks) and [`crate::policy`] (pools, names):
//! `checks`, `pools` and `names` hold the rules of each section. Validation reports every problem it finds, each as
//! `FILE:LINE:COL: key.path: message`, and never clamps a value.
//!
//! The document is parsed once into toml's spanned tree, then each entry
//! (`checks.X`, `pools.X`, `names.X`) is read field by field
//! ([`crate::config::fields`]), each member of a pool on its own. Parsing
//! the whole file, or one entry, into a serde struct was rejected: serde
//! stops at the first error of a struct, so one typo or one `weight = 1.5`
//! would hide every other error beside it.
//!
//! Owners are parsed by the zone files' own rule (`zone::name::parse_owner`)
//! and returned as names. Cross-checks against the zone's data (a name
//! outside the zone or below a delegation, an A, AAAA or CNAME beside a
//! load-balanced name) are the zone's rules (`zone::Zone::attach_balanced`),
//! applied by the snapshot builder, which gets each name and its line.

mod checks;
mod geo;
mod latency;
#[cfg(test)]
mod latency_tests;
mod names;
mod parse;
mod pools;
pub mod spec;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use hickory_proto::rr::Name;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Diagnostics;
use crate::health::TargetRegistry;
use crate::policy::{BalancedName, Pool};

use checks::validate_check;
pub use checks::{
    DEFAULT_FALL, DEFAULT_INTERVAL, DEFAULT_RISE, DEFAULT_TIMEOUT, INTERVAL_SECS, THRESHOLD,
    TIMEOUT_SECS,
};
pub use names::{DEFAULT_TTL, MAX_TTL};
use names::{compile_name, owner_name};
use parse::{Cx, key_path, parse};
use pools::{Checks, compile_pool};
pub use pools::{DEFAULT_WEIGHT, MAX_WEIGHT};

/// A validated policy file.
#[derive(Debug)]
pub struct PolicyFile {
    /// Load-balanced names in file order.
    pub names: Vec<NameEntry>,
    /// Names whose owner is good but whose entry has errors (already
    /// reported): not served, but still checked against the zone file, so
    /// a clash with its records shows in the same run.
    pub failed: Vec<NameAt>,
    /// How many `[names.X]` tables the file has, good or bad (none: the
    /// snapshot builder refuses the file, see `attach_policy`).
    pub declared: usize,
}

/// A name of the policy file and where it was declared.
#[derive(Debug, Clone)]
pub struct NameAt {
    /// The owner as written (see [`NameEntry::owner`]).
    pub owner: String,
    /// The owner as an absolute name.
    pub name: Name,
    /// 1-based line and column of the `X` of its `[names.X]`.
    pub line: u32,
    pub col: u32,
}

/// One load-balanced name and where it was declared.
#[derive(Debug)]
pub struct NameEntry {
    /// The owner as written: relative to the zone origin, `@` for the apex,
    /// or absolute with a trailing dot.
    pub owner: String,
    /// The owner as a name (absolute; the caller checks it is in the zone,
    /// see `zone::Zone::attach_balanced`).
    pub name: Name,
    /// 1-based line and column of its `[names.X]` table (of the `X`), for
    /// the caller's cross-checks against the zone file.
    pub line: u32,
    pub col: u32,
    pub lb: BalancedName,
}

/// Load the policy file `path` of the zone `origin` (relative owners are
/// in that zone). Every problem goes to `diags`. The result holds
/// the names that compiled, even when others did not, so the caller can
/// still cross-check them against the zone and report everything at once;
/// a file that added any diagnostic must not be served. `None` only when
/// the file is not valid TOML.
///
/// Members are interned in `targets` as they validate, so a file that is
/// then rejected leaves ids behind: the registry belongs to the snapshot
/// being built, which is dropped with the file.
pub fn load_policy_file(
    path: &Path,
    text: &str,
    origin: &Name,
    targets: &mut TargetRegistry,
    diags: &mut Diagnostics,
) -> Option<PolicyFile> {
    load_policy_file_reading(path, text, origin, targets, diags).0
}

/// [`load_policy_file`], also returning the other files the policy file
/// named (its `[geo]` nets file and `[latency]` table, read or not), for
/// the reload's list of files to watch.
pub fn load_policy_file_reading(
    path: &Path,
    text: &str,
    origin: &Name,
    targets: &mut TargetRegistry,
    diags: &mut Diagnostics,
) -> (Option<PolicyFile>, Vec<PathBuf>) {
    // Capped: a file with a million bad lines reports the first thousand.
    let mut local = Diagnostics::capped(crate::diag::MAX_ERRORS_PER_FILE);
    let mut cx = Cx::new(path, text, &mut local);
    let mut named = Vec::new();
    let file = compile(&mut cx, origin, targets, &mut named);
    // Report in file order, whatever order the checks ran in: this file
    // first, then its nets file.
    let (mut found, mut warnings) = local.into_parts();
    let order = |d: &crate::diag::Diagnostic| (d.file != path, d.line, d.col);
    found.sort_by_key(order);
    warnings.sort_by_key(order);
    for d in found {
        diags.push(d);
    }
    for d in warnings {
        diags.push_warning(d);
    }
    (file, named)
}

/// Validate the file; `named` gets the other files it names.
fn compile(
    cx: &mut Cx<'_>,
    origin: &Name,
    targets: &mut TargetRegistry,
    named: &mut Vec<PathBuf>,
) -> Option<PolicyFile> {
    let file = parse(cx)?;

    let mut checks: Checks<'_> = HashMap::new();
    for e in &file.checks {
        let check = e
            .spec
            .as_ref()
            .and_then(|s| validate_check(cx, e.name.get_ref(), s))
            .map(Arc::new);
        checks.insert(e.name.get_ref(), check);
    }
    let mut pools: HashMap<&str, Option<Arc<Pool>>> = HashMap::new();
    for e in &file.pools {
        let pool = e
            .spec
            .as_ref()
            .and_then(|s| compile_pool(cx, e.name.get_ref(), s, &checks, targets));
        pools.insert(e.name.get_ref(), pool.map(Arc::new));
    }
    let nets = geo::compile_nets(cx, file.geo.as_ref().map(Option::as_ref), named);
    let pool_names: Vec<&str> = file
        .pools
        .iter()
        .map(|e| e.name.get_ref().as_str())
        .collect();
    let latency = latency::compile_section(
        cx,
        file.latency.as_ref().map(Option::as_ref),
        &pool_names,
        nets.as_deref(),
        named,
    );
    let mut names = Vec::with_capacity(file.names.len());
    let mut failed = Vec::new();
    let mut seen = HashMap::new();
    for e in &file.names {
        let owner = e.name.get_ref();
        let path = key_path("names", owner);
        let name = owner_name(cx, &e.name, &path, origin, &mut seen);
        // Compiled even under a bad owner, so its own errors show too.
        let display = name.as_ref().map_or_else(|| owner.clone(), Name::to_ascii);
        let lb = e.spec.as_ref().and_then(|s| {
            let files = names::FileCx {
                pools: &pools,
                nets: nets.as_ref(),
                latency: latency.as_ref(),
            };
            compile_name(cx, &display, &path, s, &e.name, &files)
        });
        let (line, col) = cx.line_col(e.name.span().start);
        match (name, lb) {
            (Some(name), Some(lb)) => names.push(NameEntry {
                owner: owner.clone(),
                name,
                line,
                col,
                lb,
            }),
            (Some(name), None) => failed.push(NameAt {
                owner: owner.clone(),
                name,
                line,
                col,
            }),
            (None, _) => {}
        }
    }
    Some(PolicyFile {
        names,
        failed,
        declared: file.names.len(),
    })
}
