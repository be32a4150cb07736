//! `$INCLUDE` limits and scoping.

use super::*;
use crate::diag::Diagnostics;
use crate::zone::load::load_zone_file;
use hickory_proto::rr::Name;

const HEAD: &str =
    "$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 60\n  IN NS ns1\nns1 IN A 192.0.2.53\n";

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
fn scratch(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("dnslb-records-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

fn load_in(dir: &Path, text: &str, limits: Limits) -> (bool, Diagnostics) {
    let (z, d) = load_zone_in(dir, text, limits);
    (z.is_some(), d)
}

fn load_zone_in(
    dir: &Path,
    text: &str,
    limits: Limits,
) -> (Option<crate::zone::Zone>, Diagnostics) {
    let opts = LoadOptions {
        include_root: Some(dir.to_path_buf()),
        limits,
        cancel: None,
    };
    let mut d = Diagnostics::new();
    let z = load_zone_file(
        &dir.join("example.test.zone"),
        text,
        &Name::from_ascii("example.test.").unwrap(),
        &opts,
        &mut d,
    );
    (z, d)
}

/// The sample: a file that includes itself six times per level.
/// Each include is a loop, refused at once: six errors, no recursion.
#[test]
fn self_include_fan_out_is_a_loop_refused_at_once() {
    let dir = scratch("selfinc");
    let body = format!("{HEAD}{}", "$INCLUDE example.test.zone\n".repeat(6));
    std::fs::write(dir.0.join("example.test.zone"), &body).unwrap();
    let started = Instant::now();
    let (ok, d) = load_in(&dir.0, &body, Limits::default());
    assert!(!ok);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(d.len(), 6, "{d}");
    assert!(d.iter().all(|e| e.message.contains("include loop")), "{d}");
}

/// Fan-out without a loop: a.inc includes b.inc six times, b.inc
/// includes c.inc six times, ... The include count stops it with one
/// error, not millions.
#[test]
fn include_fan_out_is_capped() {
    let dir = scratch("fanout");
    let names = ["a", "b", "c", "d", "e", "f", "g"];
    for w in names.windows(2) {
        let t = format!("$INCLUDE {}.inc\n", w[1]).repeat(6);
        std::fs::write(dir.0.join(format!("{}.inc", w[0])), t).unwrap();
    }
    std::fs::write(dir.0.join("g.inc"), "x IN TXT \"leaf\"\n").unwrap();
    let started = Instant::now();
    let (ok, d) = load_in(
        &dir.0,
        &format!("{HEAD}$INCLUDE a.inc\n"),
        Limits::default(),
    );
    assert!(!ok);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(d.len(), 1, "{d}");
    assert!(d.to_string().contains("more than 1000 includes"), "{d}");
}

#[test]
fn include_depth_bytes_and_time_are_bounded() {
    let dir = scratch("bounds");
    for i in 0..12 {
        std::fs::write(
            dir.0.join(format!("n{i}.inc")),
            format!("$INCLUDE n{}.inc\n", i + 1),
        )
        .unwrap();
    }
    std::fs::write(dir.0.join("n12.inc"), "x IN TXT \"deep\"\n").unwrap();
    let (ok, d) = load_in(
        &dir.0,
        &format!("{HEAD}$INCLUDE n0.inc\n"),
        Limits::default(),
    );
    assert!(!ok);
    assert!(d.to_string().contains("nested more than 8 deep"), "{d}");

    std::fs::write(dir.0.join("big.inc"), "y IN TXT \"x\"\n".repeat(100)).unwrap();
    let limits = Limits {
        max_bytes: 1000,
        ..Limits::default()
    };
    let (ok, d) = load_in(&dir.0, &format!("{HEAD}$INCLUDE big.inc\n"), limits);
    assert!(!ok);
    assert!(d.to_string().contains("bytes a zone may read"), "{d}");

    let limits = Limits {
        max_time: Duration::ZERO,
        ..Limits::default()
    };
    let (ok, d) = load_in(&dir.0, &format!("{HEAD}$INCLUDE big.inc\n"), limits);
    assert!(!ok);
    assert!(d.to_string().contains("took longer than 0 s"), "{d}");
}

/// A FIFO as $INCLUDE target is refused without blocking on open.
#[test]
fn fifo_include_is_refused_without_blocking() {
    let dir = scratch("fifo");
    let fifo = dir.0.join("pipe.inc");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let started = Instant::now();
    let (ok, d) = load_in(
        &dir.0,
        &format!("{HEAD}$INCLUDE pipe.inc\n"),
        Limits::default(),
    );
    assert!(!ok);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        d.to_string()
            .contains("$INCLUDE \"pipe.inc\": not a regular file"),
        "{d}"
    );
    assert!(read_regular_file(&fifo, 100).is_err());
}

#[test]
fn include_origin_and_ttl_scoping() {
    let dir = scratch("scope");
    std::fs::write(
        dir.0.join("a.inc"),
        "$TTL 77\ninc A 192.0.2.1\n$ORIGIN deeper.example.test.\nd TXT x\n",
    )
    .unwrap();
    let (z, d) = load_zone_in(
        &dir.0,
        &format!("{HEAD}$INCLUDE a.inc sub\nafter A 192.0.2.2\n"),
        Limits::default(),
    );
    let z = z.unwrap_or_else(|| panic!("{d}"));
    let ttl = |w: &[u8], t| z.node(w).and_then(|n| n.rrset(t)).map(|r| r.ttl());
    // The include's origin applies inside it only; its $TTL carries on.
    assert_eq!(
        ttl(b"\x03inc\x03sub\x07example\x04test\x00", rtype::A),
        Some(77)
    );
    assert_eq!(
        ttl(b"\x01d\x06deeper\x07example\x04test\x00", rtype::TXT),
        Some(77)
    );
    assert_eq!(ttl(b"\x05after\x07example\x04test\x00", rtype::A), Some(77));
}

/// A `$GENERATE` over two billion values is refused at once.
#[test]
fn generate_is_bounded() {
    let dir = scratch("generate");
    let started = Instant::now();
    let (ok, d) = load_in(
        &dir.0,
        &format!("{HEAD}$GENERATE 0-2147483647 h$ A 192.0.2.1\n"),
        Limits::default(),
    );
    assert!(!ok);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        d.to_string().contains("more than 65536 per directive"),
        "{d}"
    );
}

#[test]
fn generate_substitutions() {
    let mut o = Vec::new();
    generate_text(b"a$-${1,3,d}-${-1,2,X}-${0,3,n}-$$-\\$", 0, &mut o).unwrap();
    assert_eq!(o, b"a0-001-FFFFFFFF-0.0-$-\\$");
    assert_eq!(nibbles(0x1a, 0, false).as_deref(), Some("a.1"));
    assert_eq!(nibbles(0, 2, true).as_deref(), Some("0."));
    assert_eq!(generate_range(b"1-10/4"), Some((1, 10, 4)));
    assert_eq!(generate_range(b"3-1"), None);
    assert_eq!(generate_range(b"1-2/0"), None);
}

/// A load whose cancel flag is set stops at once, as if out of time, and
/// says why.
#[test]
fn a_cancelled_load_stops() {
    let dir = scratch("cancel");
    let opts = LoadOptions {
        include_root: Some(dir.0.clone()),
        limits: Limits::default(),
        cancel: Some(Arc::new(AtomicBool::new(true))),
    };
    let mut d = Diagnostics::new();
    // The flag is looked at every 1,024 entries.
    let text = format!("{HEAD}{}", "www IN A 192.0.2.1\n".repeat(3000));
    let z = load_zone_file(
        &dir.0.join("example.test.zone"),
        text,
        &Name::from_ascii("example.test.").unwrap(),
        &opts,
        &mut d,
    );
    assert!(z.is_none());
    assert!(
        d.to_string()
            .contains("loading this zone was cancelled (the reload was stopped); stopped"),
        "{d}"
    );
}
