//! Reading the files dnslb is given: the one way every input file is
//! opened and read (settings, zone files and their `$INCLUDE`s, policy and
//! nets files, the GeoIP database and its build source, the admin token
//! and state files, the cookie secret file).
//!
//! At the bottom of the layers, beside `diag`: it knows no file format.
//! [`read`] opens only regular files, and the open itself does not block
//! (`O_NONBLOCK`), so a FIFO (or a device) named where a file is expected
//! is refused at once instead of waiting forever for a writer: a reload,
//! `check` or start-up never hangs on one. It reads at most the size limit
//! of the file's [`FileKind`], so `/dev/zero` behind a symbolic link, or a
//! file that grows while it is read, cannot use up memory. The errors say
//! what is wrong without the path (the caller knows how to name the file:
//! by its path, or by the settings key that named it).

use std::fmt;
use std::io::Read;
use std::path::Path;

/// What a file is, for messages, and how large it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKind {
    /// What the file is, in messages: "policy file".
    pub what: &'static str,
    /// Bytes read at most; a larger file is an error, not truncated.
    pub max_bytes: u64,
}

impl FileKind {
    /// `dnslb.toml` (the shipped, fully commented one is about 10 KiB).
    pub const SETTINGS: FileKind = FileKind {
        what: "config file",
        max_bytes: 1 << 20,
    };
    /// A zone's policy file (10,000 names and 50,000 endpoints are about
    /// 3 MiB).
    pub const POLICY: FileKind = FileKind {
        what: "policy file",
        max_bytes: 64 << 20,
    };
    /// A policy file's `[geo] nets_file`.
    pub const NETS: FileKind = FileKind {
        what: "nets file",
        max_bytes: 64 << 20,
    };
    /// The GeoIP database (GeoLite2-City is about 60 MiB, DB-IP's city
    /// database about 130 MiB).
    pub const GEOIP: FileKind = FileKind {
        what: "GeoIP database",
        max_bytes: 1 << 30,
    };
    /// The source `dnslb geoip build` reads.
    pub const GEOIP_SOURCE: FileKind = FileKind {
        what: "GeoIP source file",
        max_bytes: 1 << 30,
    };
    /// `admin_token_file` (one token).
    pub const ADMIN_TOKEN: FileKind = FileKind {
        what: "admin token file",
        max_bytes: 64 << 10,
    };
    /// `admin_state_file` (one short table per override).
    pub const ADMIN_STATE: FileKind = FileKind {
        what: "admin state file",
        max_bytes: 16 << 20,
    };
    /// `[cookies] secret_file` (two lines of hex).
    pub const COOKIE_SECRET: FileKind = FileKind {
        what: "cookie secret file",
        max_bytes: 64 << 10,
    };

    /// A zone file or `$INCLUDE`, which may read what is left of its
    /// zone's byte budget.
    pub const fn zone(budget: u64) -> FileKind {
        FileKind {
            what: "zone",
            max_bytes: budget,
        }
    }
}

/// Why a file could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed (missing, no permission, ...).
    Io(std::io::Error),
    /// Not a regular file: what it is instead ("a FIFO", "a directory").
    NotRegular(&'static str),
    /// More than the kind's limit.
    TooLarge { what: &'static str, max_bytes: u64 },
    /// The text is not UTF-8 ([`read_text`]): where the first bad byte is,
    /// 1-based.
    NotUtf8 { line: u32, col: u32 },
}

impl ReadError {
    /// The file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }

    /// This error as a diagnostic of the file itself, which is `what` ("policy
    /// file"): its line and column when it has one (a bad byte), and the
    /// message. `(None, None, "cannot read policy file: not a regular file
    /// (a FIFO)")`, or `(Some(3), Some(9), "policy file is not UTF-8: ...")`.
    pub fn in_file(&self, what: &str) -> (Option<u32>, Option<u32>, String) {
        match self {
            ReadError::NotUtf8 { line, col } => (
                Some(*line),
                Some(*col),
                format!("{what} is not UTF-8: the first invalid byte is here"),
            ),
            e => (None, None, format!("cannot read {what}: {e}")),
        }
    }
}

/// The message alone (the caller names the file). The I/O error is part
/// of it rather than a `source()`, so an error chain printed with `{:#}`
/// does not say it twice.
impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotRegular(what) => write!(f, "not a regular file ({what})"),
            ReadError::TooLarge { what, max_bytes } => {
                write!(f, "larger than {max_bytes} bytes, the most a {what} may be")
            }
            ReadError::NotUtf8 { line, col } => {
                write!(f, "not UTF-8: invalid byte at line {line}, column {col}")
            }
        }
    }
}

impl std::error::Error for ReadError {}

/// The bytes of `path` if it is a regular file of at most
/// `kind.max_bytes`. Symbolic links are followed; the open does not block.
pub fn read(path: &Path, kind: FileKind) -> Result<Vec<u8>, ReadError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: opening a FIFO does not wait for a writer (and a
        // device does not wait for carrier); O_NOCTTY: a terminal never
        // becomes ours.
        opts.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let f = opts.open(path).map_err(ReadError::Io)?;
    let meta = f.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::NotRegular(file_type(&meta)));
    }
    let too_large = ReadError::TooLarge {
        what: kind.what,
        max_bytes: kind.max_bytes,
    };
    if meta.len() > kind.max_bytes {
        return Err(too_large);
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    // One byte more than allowed: a file that grew past the limit since
    // the size was read is still caught.
    f.take(kind.max_bytes.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(ReadError::Io)?;
    if buf.len() as u64 > kind.max_bytes {
        return Err(too_large);
    }
    Ok(buf)
}

/// [`read`], as UTF-8 text; a bad byte is reported with its line and
/// column.
pub fn read_text(path: &Path, kind: FileKind) -> Result<String, ReadError> {
    let bytes = read(path, kind)?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let (line, col) = utf8_position(good);
        ReadError::NotUtf8 { line, col }
    })
}

/// 1-based line and column (in characters) just past `good`, valid UTF-8.
fn utf8_position(good: &[u8]) -> (u32, u32) {
    let text = std::str::from_utf8(good).unwrap_or_default();
    let line = text.bytes().filter(|&b| b == b'\n').count() as u32 + 1;
    let start = text.rfind('\n').map_or(0, |i| i + 1);
    let col = text[start..].chars().count() as u32 + 1;
    (line, col)
}

/// What a file that is not regular is, in words.
fn file_type(meta: &std::fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "dnslb-files-{}-{tag}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// `read` on another thread, failing the test (instead of hanging it)
    /// when it does not return within 5 s.
    fn read_bounded(path: PathBuf, kind: FileKind) -> Result<Vec<u8>, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read(&path, kind).map_err(|e| e.to_string()));
        });
        rx.recv_timeout(Duration::from_secs(5))
            .expect("read blocked for 5 s")
    }

    #[test]
    fn a_fifo_is_refused_at_once_for_every_kind() {
        let d = scratch("fifo");
        let fifo = d.join("pipe");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        for kind in [
            FileKind::SETTINGS,
            FileKind::POLICY,
            FileKind::NETS,
            FileKind::GEOIP,
            FileKind::GEOIP_SOURCE,
            FileKind::ADMIN_TOKEN,
            FileKind::ADMIN_STATE,
            FileKind::COOKIE_SECRET,
            FileKind::zone(1 << 20),
        ] {
            let started = Instant::now();
            let e = read_bounded(fifo.clone(), kind).unwrap_err();
            assert_eq!(e, "not a regular file (a FIFO)", "{kind:?}");
            assert!(started.elapsed() < Duration::from_secs(5));
        }
        let e = read_bounded(d.clone(), FileKind::POLICY).unwrap_err();
        assert_eq!(e, "not a regular file (a directory)");
        let _ = std::fs::remove_dir_all(d);
    }

    /// A device is refused, not read until memory runs out.
    #[test]
    fn dev_zero_is_refused_even_through_a_symbolic_link() {
        let e = read_bounded("/dev/zero".into(), FileKind::POLICY).unwrap_err();
        assert_eq!(e, "not a regular file (a character device)");
        let d = scratch("zero");
        let link = d.join("example.test.toml");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let e = read_bounded(link, FileKind::SETTINGS).unwrap_err();
        assert_eq!(e, "not a regular file (a character device)");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn size_limits_are_errors_not_truncation() {
        let d = scratch("size");
        let f = d.join("f");
        std::fs::write(&f, "x".repeat(100)).unwrap();
        let small = FileKind {
            what: "test file",
            max_bytes: 99,
        };
        assert_eq!(
            read(&f, small).unwrap_err().to_string(),
            "larger than 99 bytes, the most a test file may be"
        );
        let exact = FileKind {
            max_bytes: 100,
            ..small
        };
        assert_eq!(read(&f, exact).unwrap().len(), 100);
        let e = read(&d.join("missing"), exact).unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(e.to_string(), "No such file or directory (os error 2)");
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn bad_utf8_names_its_line_and_column() {
        let d = scratch("utf8");
        let f = d.join("f");
        std::fs::write(&f, b"a = 1\n[t]\nname = \"\xe9t\xc3\xa9\"\n".as_slice()).unwrap();
        let e = read_text(&f, FileKind::POLICY).unwrap_err();
        assert_eq!(e.to_string(), "not UTF-8: invalid byte at line 3, column 9");
        std::fs::write(&f, "é\nok\n").unwrap();
        assert_eq!(read_text(&f, FileKind::POLICY).unwrap(), "é\nok\n");
        let _ = std::fs::remove_dir_all(d);
    }
}
