//! GeoIP database access for the geolocation policy.
//!
//! The database named by `geoip_database` is read into memory when the
//! snapshot is built (so a reload picks up a replaced file) and checked to
//! be a MaxMind DB; lookups happen in the server before a policy runs.

use std::path::Path;

use crate::diag::Diagnostics;

/// An opened MaxMind DB.
pub struct GeoDb {
    pub reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let m = self.reader.metadata();
        f.debug_struct("GeoDb")
            .field("database_type", &m.database_type)
            .field("build_epoch", &m.build_epoch)
            .finish()
    }
}

/// Open `path`, reporting a failure (missing file, not a MaxMind DB) into
/// `diags` against the config's `geoip_database` key.
pub fn open(
    path: &Path,
    cfg: &crate::config::ServerConfig,
    diags: &mut Diagnostics,
) -> Option<GeoDb> {
    match maxminddb::Reader::open_readfile(path) {
        Ok(reader) => Some(GeoDb { reader }),
        Err(e) => {
            cfg.error_at_key(
                diags,
                "geoip_database",
                path,
                format!("cannot open {}: {e}", path.display()),
            );
            None
        }
    }
}
