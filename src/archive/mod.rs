//! Archives: each copy's converted data, kept in a local directory or on
//! S3 so it can be restored later without Postgres, or loaded into several
//! targets.
//!
//! Layout under the archive location, one directory per copy, named by
//! the snapshot time and a random suffix (`20261121T020000Z-3f9a1c7e/`):
//! `schema/<file>` (the schema files that were applied), `data/<table>.tsv.zst`
//! (one per table, or `<table>.<part>.tsv.zst` per range of a table copied
//! in ranges: zstd-compressed LOAD DATA text, binary columns in hex), and
//! `manifest.json`, written last: an archive without it is incomplete.

pub mod data;
pub mod load;
pub mod store;
pub mod writer;

use crate::clock::SnapshotTime;
use serde::{Deserialize, Serialize};

use crate::postgres::snapshot::Snapshot;

/// The manifest's name in an archive.
pub const MANIFEST: &str = "manifest.json";

/// The archive format this version writes and reads.
pub const FORMAT: &str = "pg2dolt-archive/1";

/// What an archive holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`]
    pub format: String,
    /// the pg2dolt version that wrote it
    pub pg2dolt_version: String,
    /// when the copy ran, UTC
    pub created_at: String,
    /// the archive's key (its directory name)
    pub key: String,
    /// the source snapshot the data is from
    pub snapshot: Snapshot,
    /// the source URL, password redacted
    pub source: String,
    /// the schema files applied, in order
    pub schema_files: Vec<ArchivedFile>,
    /// every table, in plan order
    pub tables: Vec<ArchivedTable>,
    /// total rows
    pub rows_total: u64,
    /// total bytes of stored (compressed) files
    pub bytes_total: u64,
}

/// One archived table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedTable {
    /// `schema.table` in the source
    pub source: String,
    /// the target table
    pub target: String,
    /// rows in all its files
    pub rows: u64,
    /// the target columns of each data row, in order
    pub columns: Vec<ArchivedColumn>,
    /// its data files (one, or one per range)
    pub files: Vec<DataFile>,
}

/// One target column of the data rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedColumn {
    /// column name
    pub name: String,
    /// the value is hex: load it through `UNHEX`
    pub binary: bool,
}

/// One data file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataFile {
    /// path within the archive
    pub path: String,
    /// rows it holds
    pub rows: u64,
    /// bytes of LOAD DATA text (uncompressed)
    pub bytes: u64,
    /// bytes stored (compressed)
    pub stored_bytes: u64,
    /// SHA-256 (hex) of the stored bytes
    pub sha256: String,
}

/// A schema file as archived.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchivedFile {
    /// path within the archive
    pub path: String,
    /// its bytes
    pub bytes: u64,
    /// SHA-256 (hex) of its bytes
    pub sha256: String,
}

/// A new archive key: the snapshot time (`20261121T020000Z`) and 8 random
/// hex digits, so two copies of one instant never collide.
#[must_use]
pub fn new_key(snapshot_time: &SnapshotTime) -> String {
    let mut random = [0_u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random);
    format!("{}-{}", snapshot_time.compact_seconds(), hex(&random))
}

/// The data file path for a table (or one of its ranges).
#[must_use]
pub fn data_path(table: &str, part: usize, parts: usize) -> String {
    let name: String = table
        .chars()
        .map(|character| {
            if character == '/' || character == '\\' {
                '_'
            } else {
                character
            }
        })
        .collect();
    if parts > 1 {
        format!("data/{name}.{part:04}.tsv.zst")
    } else {
        format!("data/{name}.tsv.zst")
    }
}

pub use crate::digest::{hex, sha256_hex};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_snapshot_time() {
        let key = new_key(&"2026-11-21T02:00:00.123456Z".parse().unwrap());
        assert!(key.starts_with("20261121T020000Z-"), "{key}");
        assert_eq!(key.len(), "20261121T020000Z-".len() + 8);
        assert_ne!(
            key,
            new_key(&"2026-11-21T02:00:00.123456Z".parse().unwrap())
        );
    }

    #[test]
    fn data_paths() {
        assert_eq!(data_path("users", 0, 1), "data/users.tsv.zst");
        assert_eq!(data_path("events", 3, 12), "data/events.0003.tsv.zst");
        assert_eq!(sha256_hex(b"abc").len(), 64);
    }
}
