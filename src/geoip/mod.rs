//! GeoIP database access for the geolocation policy.
//!
//! The database named by `geoip_database` is read into memory when the
//! snapshot is built (so a reload picks up a replaced file) and checked to
//! be a MaxMind DB; lookups happen in the server before a policy runs.

use std::path::Path;

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

/// Why a GeoIP database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// Missing, unreadable, or not a MaxMind DB.
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: maxminddb::MaxMindDbError,
    },
}

impl GeoDb {
    /// Read `path` into memory and check it is a MaxMind DB.
    pub fn open(path: &Path) -> Result<GeoDb, GeoError> {
        maxminddb::Reader::open_readfile(path)
            .map(|reader| GeoDb { reader })
            .map_err(|source| GeoError::Open {
                path: path.display().to_string(),
                source,
            })
    }
}
