//! `[cookies]` in `dnslb.toml`: DNS Cookies (RFC 7873) with RFC 9018
//! server cookies. On by default, as in BIND, Knot and NSD.

use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::fields::{Cx, Fields};
use super::rrl::ErrFn;
use crate::diag::Diagnostics;

/// File format: the `[cookies]` table, read key by key
/// ([`super::fields`]).
#[derive(Debug, Default)]
pub struct CookiesSpec {
    pub enabled: Option<Spanned<bool>>,
    pub require: Option<Spanned<bool>>,
    pub secrets: Option<Spanned<Vec<Spanned<String>>>>,
    pub secret_file: Option<Spanned<String>>,
    pub secret_rotation: Option<Spanned<i64>>,
}

impl CookiesSpec {
    /// Read `[cookies]`; bad values and unknown keys are reported into
    /// `cx` and read as absent.
    pub(crate) fn read(cx: &mut Cx<'_>, mut f: Fields<'_>) -> Self {
        let spec = Self {
            enabled: f.opt(cx, "enabled"),
            require: f.opt(cx, "require"),
            secrets: f.opt(cx, "secrets"),
            secret_file: f.opt(cx, "secret_file"),
            secret_rotation: f.opt(cx, "secret_rotation"),
        };
        f.finish(cx);
        spec
    }
}

/// A 16-byte server secret.
pub type CookieSecret = [u8; 16];

/// Validated `[cookies]`.
#[derive(Clone, PartialEq, Eq)]
pub struct CookieSettings {
    /// Answer COOKIE options; false ignores them (as before RFC 7873).
    pub enabled: bool,
    /// BADCOOKIE over UDP for cookie-aware clients without a valid server
    /// cookie (BIND's `require-server-cookie`).
    pub require: bool,
    /// Configured secrets, the first makes cookies, the second is still
    /// accepted; empty: a random secret per start, rotated.
    pub secrets: Vec<CookieSecret>,
    /// How often the random secret is replaced (the previous one stays
    /// accepted for one more period).
    pub secret_rotation: Duration,
}

impl std::fmt::Debug for CookieSettings {
    // Never print secrets (logs, panics).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieSettings")
            .field("enabled", &self.enabled)
            .field("require", &self.require)
            .field("secrets", &self.secrets.len())
            .field("secret_rotation", &self.secret_rotation)
            .finish()
    }
}

impl Default for CookieSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            require: false,
            secrets: Vec::new(),
            secret_rotation: Duration::from_secs(86400),
        }
    }
}

/// Parse a secret written as 32 hex digits (BIND's `cookie-secret` form
/// for SipHash-2-4).
pub fn parse_secret(hex: &str) -> Option<CookieSecret> {
    let hex = hex.trim();
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut s = [0u8; 16];
    for (i, b) in s.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(s)
}

const BAD_SECRET: &str = "must be 32 hex digits (a 128-bit SipHash key)";

/// Validate `[cookies]` except `secret_file`, which is returned for
/// [`parse_secret_file`] (it reports into the secret file itself).
pub fn validate(
    spec: CookiesSpec,
    err: &mut ErrFn<'_>,
) -> (CookieSettings, Option<Spanned<String>>) {
    let CookiesSpec {
        enabled,
        require,
        secrets,
        secret_file,
        secret_rotation,
    } = spec;
    let mut c = CookieSettings::default();
    if let Some(b) = enabled {
        c.enabled = *b.get_ref();
    }
    if let Some(b) = require {
        c.require = *b.get_ref();
    }
    if let Some(list) = secrets {
        let span = list.span();
        let list = list.into_inner();
        if list.is_empty() || list.len() > 2 {
            err(
                span.clone(),
                "cookies.secrets",
                format!(
                    "must list 1 or 2 secrets (current, then previous), got {}",
                    list.len()
                ),
            );
        }
        for s in list.iter().take(2) {
            match parse_secret(s.get_ref()) {
                Some(k) => c.secrets.push(k),
                None => err(s.span(), "cookies.secrets", BAD_SECRET.into()),
            }
        }
        if secret_file.is_some() {
            err(
                span,
                "cookies.secrets",
                "give secrets or secret_file, not both".into(),
            );
        }
    }
    if let Some(r) = super::rrl::int_in(
        &secret_rotation,
        "cookies.secret_rotation",
        3600,
        31_536_000,
        err,
    ) {
        c.secret_rotation = Duration::from_secs(r as u64);
    }
    (c, secret_file)
}

/// The secrets of the secret file `file` (`secret_file`), whose text is
/// `text`: one or two lines of 32 hex digits, current first; `#` comments
/// and blank lines are skipped. Errors name the secret file's line, never
/// its content. (Reading it is the settings' job: an unreadable file is
/// reported at the `secret_file` key.)
pub fn parse_secret_file(file: &Path, text: &str, diags: &mut Diagnostics) -> Vec<CookieSecret> {
    let before = diags.len();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match parse_secret(line) {
            Some(s) if out.len() < 2 => out.push(s),
            Some(_) => diags.error(
                file,
                Some(i as u32 + 1),
                None,
                "",
                "at most 2 secrets (current, then previous)",
            ),
            None => diags.error(
                file,
                Some(i as u32 + 1),
                None,
                "",
                format!("secret {BAD_SECRET}"),
            ),
        }
    }
    if out.is_empty() && diags.len() == before {
        diags.error(file, None, None, "", "no secret in the cookie secret file");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::settings::parse_settings;

    #[test]
    fn secrets_parse_from_hex() {
        assert_eq!(
            parse_secret("e5e973e5a6b2a43f48e7dc849e37bfcf").unwrap()[0],
            0xe5
        );
        assert_eq!(
            parse_secret(" 000102030405060708090a0b0c0d0e0f\n").unwrap()[15],
            15
        );
        for bad in ["", "e5e9", &"zz".repeat(16), &"0".repeat(33)] {
            assert_eq!(parse_secret(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bad_secrets_name_the_line_never_the_value() {
        let mut d = Diagnostics::new();
        let text = "[cookies]\nsecrets = [\"00\", \"0123456789abcdef0123456789abcdef\", \"0123456789abcdef0123456789abcdef\"]\nsecret_rotation = 60\n";
        assert!(parse_settings(Path::new("s.toml"), text, &mut d).is_none());
        let s = d.to_string();
        assert!(
            s.contains("s.toml:2:11: cookies.secrets: must list 1 or 2"),
            "{s}"
        );
        assert!(
            s.contains("s.toml:2:12: cookies.secrets: must be 32 hex digits"),
            "{s}"
        );
        assert!(
            s.contains("s.toml:3:19: cookies.secret_rotation: must be between 3600"),
            "{s}"
        );
        assert!(!s.contains("\"00\""), "{s}");
    }

    #[test]
    fn unknown_keys_in_cookies_are_rejected() {
        let mut d = Diagnostics::new();
        let text = "[cookies]\nsecret = \"x\"\n";
        assert!(parse_settings(Path::new("s.toml"), text, &mut d).is_none());
        assert!(d.to_string().contains("s.toml:2:1: "), "{d}");
        assert!(d.to_string().contains("unknown field `secret`"), "{d}");
    }

    #[test]
    fn secret_file_is_read_relative_to_the_config() {
        let dir = std::env::temp_dir().join(format!("dnslb-cookie-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("secret"),
            "# current\n0123456789abcdef0123456789abcdef\n\nnot-a-secret\n",
        )
        .unwrap();
        let cfg = dir.join("dnslb.toml");
        let mut d = Diagnostics::new();
        let text = "[cookies]\nsecret_file = \"secret\"\n";
        assert!(parse_settings(&cfg, text, &mut d).is_none());
        let s = d.to_string();
        assert!(s.contains("secret:4: secret must be 32 hex digits"), "{s}");
        std::fs::write(dir.join("secret"), "0123456789abcdef0123456789abcdef\n").unwrap();
        let mut d = Diagnostics::new();
        let c = parse_settings(&cfg, text, &mut d).unwrap_or_else(|| panic!("{d}"));
        assert_eq!(c.cookies.secrets.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
