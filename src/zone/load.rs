//! Zone loading: every `NAME.zone` in the zones directory is the zone
//! `NAME.`, read as BIND 9 reads master files (see `lexer`, `records`,
//! `rdata`, `assemble`). Every error names its file and line; all errors of
//! a file are collected before the zone is rejected.

use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;

use super::Zone;
use super::assemble::assemble;
use super::name::{display, lower, parse_name_text, to_wire};
pub use super::records::{LoadOptions, read_regular_file};
use super::records::{ReadError, Reader};
use crate::diag::{Diagnostic, Diagnostics};

/// One `NAME.zone` file of the zones directory and what became of it.
#[derive(Debug)]
pub struct ZoneFile {
    pub path: PathBuf,
    /// The zone the file name names (`NAME.`).
    pub origin: Name,
    /// The loaded zone; `None` when the file had errors (reported).
    pub zone: Option<Zone>,
    /// Every file the zone was read from: the zone file and each file an
    /// `$INCLUDE` named (read or not).
    pub files: Vec<PathBuf>,
    /// This file's errors (also reported to the caller's diagnostics).
    pub errors: Vec<Diagnostic>,
}

/// Load every `NAME.zone` among `files` (the zones directory `dir`,
/// listed once by the caller; other entries are skipped) as the zone
/// `NAME.` (`\DDD` escapes allowed in NAME, e.g.
/// `0\04726.2.0.192.in-addr.arpa.zone` for an RFC 2317 zone). Errors go to
/// `diags`; a file with errors comes back with `zone: None`, so its policy
/// file can still be checked. Two files naming the same zone (names differ
/// only in case) are both reported and neither is loaded; a file name that
/// is not a zone name is reported and left out.
pub fn load_zone_files(
    dir: &Path,
    files: &[PathBuf],
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> Vec<ZoneFile> {
    let mut files: Vec<&PathBuf> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x == "zone"))
        .collect();
    files.sort();
    let mut named: Vec<(Box<[u8]>, &PathBuf)> = Vec::new();
    for path in files {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // `example.test..zone`: the zone's name with its trailing dot. The
        // policy file beside it would then have to be `example.test..toml`
        // (an `example.test.toml` would be an orphan): refused, clearly.
        // (`..zone` alone is the root zone.)
        if stem.len() > 1 && stem.ends_with('.') && !stem.ends_with("\\.") {
            let bare = stem.trim_end_matches('.');
            diags.error(
                path,
                None,
                None,
                "",
                format!(
                    "file name {stem:?} ends in a dot: name the zone file {bare}.zone (and its \
                     policy file {bare}.toml), without the zone name's trailing dot"
                ),
            );
            continue;
        }
        let text = format!("{}.", stem.trim_end_matches('.'));
        match parse_name_text(text.as_bytes(), b"\0") {
            Ok(w) => named.push((lower(&w), path)),
            Err(e) => diags.error(
                path,
                None,
                None,
                "",
                format!("file name {stem:?} is not a valid zone name: {e}"),
            ),
        }
    }
    let mut out = Vec::new();
    for (i, (origin, path)) in named.iter().enumerate() {
        let Ok(name) = super::name::from_wire(origin) else {
            continue;
        };
        let mut file = ZoneFile {
            path: path.to_path_buf(),
            origin: name,
            zone: None,
            files: vec![path.to_path_buf()],
            errors: Vec::new(),
        };
        let mut zd = Diagnostics::new();
        let twins: Vec<&PathBuf> = named
            .iter()
            .enumerate()
            .filter(|(j, (o, _))| *j != i && o == origin)
            .map(|(_, (_, p))| *p)
            .collect();
        if !twins.is_empty() {
            let others: Vec<String> = twins.iter().map(|p| p.display().to_string()).collect();
            zd.error(
                path,
                None,
                None,
                "",
                format!(
                    "zone {} is also defined by {} (zone names ignore case); rename or remove one",
                    display(origin),
                    others.join(", ")
                ),
            );
        } else {
            match read_regular_file(path, opts.limits.max_bytes) {
                Ok(text) => {
                    let (zone, included) =
                        load_zone_file_reading(path, text, &file.origin, opts, &mut zd);
                    file.zone = zone;
                    file.files.extend(included);
                }
                Err(e) => zd.error(path, None, None, "", format!("cannot read zone file: {e}")),
            }
        }
        let (errors, warnings) = zd.into_parts();
        file.errors = errors.clone();
        for d in errors {
            diags.push(d);
        }
        for w in warnings {
            diags.push_warning(w);
        }
        out.push(file);
    }
    if out.is_empty() && diags.is_empty() {
        diags.error(dir, None, None, "", "no *.zone files found");
    }
    out
}

/// Parse one zone from `text` (read from `path`). Returns `None` and reports
/// into `diags` when the zone has any error; warnings (out-of-zone data
/// dropped, as BIND does, and the like) go to `diags` as warnings
/// (`FILE:LINE: warning: message`) either way.
pub fn load_zone_file(
    path: &Path,
    text: impl AsRef<[u8]>,
    origin: &Name,
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> Option<Zone> {
    load_zone_file_reading(path, text, origin, opts, diags).0
}

/// [`load_zone_file`], also returning every file an `$INCLUDE` named (read
/// or not).
fn load_zone_file_reading(
    path: &Path,
    text: impl AsRef<[u8]>,
    origin: &Name,
    opts: &LoadOptions,
    diags: &mut Diagnostics,
) -> (Option<Zone>, Vec<PathBuf>) {
    let origin_wire = to_wire(origin);
    let mut reader = Reader::new(opts, &origin_wire);
    reader.read_top(path, text.as_ref());
    // Building the zone needs only the records: free the text first (an
    // owned text given by value goes now, not after the build).
    drop(text);
    let Reader {
        files,
        records,
        mut errors,
        mut warnings,
        included,
        ..
    } = reader;
    let zone = if errors
        .iter()
        .any(|e| e.message.contains("; stopped") || e.message.starts_with("stopped after"))
    {
        None
    } else {
        assemble(
            &origin_wire,
            path.to_path_buf(),
            records,
            &mut errors,
            &mut warnings,
        )
    };
    let report = |e: &ReadError| {
        (
            files
                .get(e.file as usize)
                .cloned()
                .unwrap_or_else(|| path.to_path_buf()),
            e.line,
            e.message.clone(),
        )
    };
    for e in &errors {
        let (f, l, m) = report(e);
        diags.error(&f, l, None, "", m);
    }
    for w in &warnings {
        let (f, l, m) = report(w);
        diags.warn(&f, l, None, "", m);
    }
    if errors.is_empty() {
        (zone, included)
    } else {
        (None, included)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::rtype;

    fn load(text: &str) -> (Option<Zone>, Diagnostics) {
        let mut d = Diagnostics::new();
        let z = load_zone_file(
            Path::new("t.zone"),
            text,
            &Name::from_ascii("example.test.").unwrap(),
            &LoadOptions::default(),
            &mut d,
        );
        (z, d)
    }

    const HEAD: &str = "$TTL 300\n@ IN SOA ns1 hostmaster ( 1 7200 3600 1209600 60 )\n  IN NS ns1\nns1 IN A 192.0.2.53\n";

    #[test]
    fn loads_a_simple_zone_with_ents() {
        let (z, d) = load(&format!("{HEAD}a.b.c 60 IN TXT \"hi there\"\n"));
        assert!(d.is_empty(), "{d}");
        let z = z.unwrap();
        assert_eq!(z.neg_ttl, 60);
        assert!(
            z.node(b"\x01b\x01c\x07example\x04test\x00")
                .unwrap()
                .is_empty()
        );
        let n = z.node(b"\x01a\x01b\x01c\x07example\x04test\x00").unwrap();
        assert_eq!(n.rrset(rtype::TXT).unwrap().ttl(), 60);
    }

    #[test]
    fn errors_carry_lines() {
        let text = format!(
            "{HEAD}www IN CNAME x\nwww IN A 192.0.2.1\nout.example.org. IN A 192.0.2.2\nbad IN A 999.1.1.1\n"
        );
        let (z, d) = load(&text);
        assert!(z.is_none());
        let s = d.to_string();
        assert!(
            s.contains("t.zone:6: www.example.test. has a CNAME beside other data (A)"),
            "{s}"
        );
        // Out-of-zone data is dropped with a warning, as BIND does.
        assert!(!s.contains("t.zone:7:"), "{s}");
        let w: Vec<String> = d.warnings().map(|w| w.as_warning().to_string()).collect();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("t.zone:7: warning: ignoring out-of-zone data"),
            "{w:?}"
        );
        assert!(s.contains("t.zone:8: A record:"), "{s}");
    }

    #[test]
    fn missing_soa_is_an_error() {
        let (z, d) = load("$TTL 1\n@ IN NS ns1\n");
        assert!(z.is_none());
        assert!(d.to_string().contains("no SOA"), "{d}");
    }

    #[test]
    fn blank_owner_and_multiline_records() {
        let (z, d) = load(&format!(
            "{HEAD}mx IN MX 10 mail ; comment\n   IN TXT ( \"a;b\"\n  \"c\" )\n"
        ));
        assert!(d.is_empty(), "{d}");
        let z = z.unwrap();
        let n = z.node(b"\x02mx\x07example\x04test\x00").unwrap();
        assert!(n.rrset(rtype::MX).is_some());
        assert_eq!(
            n.rrset(rtype::TXT).unwrap().rdatas().next().unwrap().wire,
            b"\x03a;b\x01c"
        );
    }

    #[test]
    fn underscores_anywhere_in_labels_like_bind() {
        let (z, d) = load(&format!(
            "{HEAD}my_host IN A 192.0.2.7\nalias IN CNAME my_host\n_sip._udp IN SRV 0 0 5060 my_host\n"
        ));
        assert!(d.is_empty(), "{d}");
        let z = z.unwrap();
        assert!(z.node(b"\x07my_host\x07example\x04test\x00").is_some());
        let alias = z.node(b"\x05alias\x07example\x04test\x00").unwrap();
        let cname = alias.rrset(rtype::CNAME).unwrap();
        assert_eq!(
            cname.first_target().unwrap(),
            b"\x07my_host\x07example\x04test\x00"
        );
    }

    #[test]
    fn include_is_confined_to_the_zones_directory() {
        let root = std::env::temp_dir().join(format!("dnslb-inc-{}", std::process::id()));
        let zones = root.join("zones");
        std::fs::create_dir_all(&zones).unwrap();
        std::fs::write(zones.join("extra.inc"), "extra IN A 192.0.2.9\n").unwrap();
        std::fs::write(root.join("secret.inc"), "x IN A 192.0.2.10\n").unwrap();
        let path = zones.join("example.test.zone");
        let opts = LoadOptions {
            include_root: Some(zones.clone()),
            ..LoadOptions::default()
        };
        let origin = Name::from_ascii("example.test.").unwrap();

        let mut d = Diagnostics::new();
        let z = load_zone_file(
            &path,
            format!("{HEAD}$INCLUDE extra.inc\n"),
            &origin,
            &opts,
            &mut d,
        );
        assert!(d.is_empty(), "{d}");
        assert!(
            z.unwrap()
                .node(b"\x05extra\x07example\x04test\x00")
                .is_some()
        );

        let mut d = Diagnostics::new();
        let z = load_zone_file(
            &path,
            format!("{HEAD}$INCLUDE ../secret.inc\n"),
            &origin,
            &opts,
            &mut d,
        );
        assert!(z.is_none());
        assert!(
            d.to_string().contains(
                "example.test.zone:5: $INCLUDE \"../secret.inc\" is outside the zones directory"
            ),
            "{d}"
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn include_refused_without_root() {
        let (z, d) = load(&format!("{HEAD}$INCLUDE other.inc\n"));
        assert!(z.is_none());
        assert!(
            d.to_string().contains("t.zone:5: $INCLUDE is disabled"),
            "{d}"
        );
    }
}
