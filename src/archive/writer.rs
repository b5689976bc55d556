//! `copy --archive`: the archive of this run, from its schema files (at
//! the start) to its manifest (at the end, once the data verified). The
//! data files themselves are written by each chunk's stream (copy/chunk.rs)
//! through an [`ArchiveJob`].

use anyhow::Context as _;
use serde::Serialize;
use tracing::info;

use super::store::{Location, Store};
use super::{ArchivedFile, ArchivedTable, FORMAT, MANIFEST, Manifest, new_key, sha256_hex};
use crate::mysql::schema::ParsedSchemaFile;
use crate::postgres::snapshot::Snapshot;

/// The archive a run is writing.
pub struct ArchiveRun {
    /// where
    pub store: Store,
    /// the location as given
    pub location: Location,
    /// this copy's directory
    pub key: String,
    /// the schema files, as archived
    pub schema_files: Vec<ArchivedFile>,
}

/// What a copy's chunks need to write their data files.
pub struct ArchiveJob {
    /// the store
    pub store: Store,
    /// the archive's key (its directory)
    pub key: String,
}

/// What the report says of the archive.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ArchiveReport {
    /// the archive location and key: what `restore --from` takes
    pub location: String,
    /// the copy's directory under the location
    pub key: String,
    /// data files written
    pub files: usize,
    /// bytes stored (compressed data and schema files)
    pub stored_bytes: u64,
    /// the manifest was written (the archive is complete)
    pub complete: bool,
}

/// Opens the archive location given with `--archive`, checking it before
/// anything else happens (a missing bucket or bad credentials stop the run
/// at once).
pub async fn open(
    location: &Location,
    path_style: bool,
    part_size: usize,
) -> anyhow::Result<Store> {
    let store = Store::open(location, path_style, part_size)
        .await
        .with_context(|| format!("archive {location}"))?;
    info!(archive = %location, "archive location checked");
    Ok(store)
}

/// Starts the archive: a new key for this snapshot, and the schema files.
pub async fn start(
    location: Location,
    store: Store,
    schema_files: &[ParsedSchemaFile],
    snapshot: &Snapshot,
) -> anyhow::Result<ArchiveRun> {
    let key = new_key(&snapshot.time);
    let mut archived = Vec::new();
    for file in schema_files {
        let path = format!("schema/{}", file.name);
        store
            .put(&format!("{key}/{path}"), file.sql.clone().into_bytes())
            .await
            .with_context(|| format!("archiving schema file {}", file.name))?;
        archived.push(ArchivedFile {
            path,
            bytes: file.sql.len() as u64,
            sha256: sha256_hex(file.sql.as_bytes()),
        });
    }
    info!(archive = %location, key = %key, "archive started");
    Ok(ArchiveRun {
        store,
        location,
        key,
        schema_files: archived,
    })
}

impl ArchiveRun {
    /// What the copy's chunks need to write their data files.
    #[must_use]
    pub fn job(&self) -> ArchiveJob {
        ArchiveJob {
            store: self.store.clone(),
            key: self.key.clone(),
        }
    }

    /// Writes the manifest of `tables` copied from `source` (redacted) in
    /// `snapshot`: the archive is complete. Returns the report.
    pub async fn finish(
        &self,
        source: &str,
        snapshot: &Snapshot,
        tables: Vec<ArchivedTable>,
    ) -> anyhow::Result<ArchiveReport> {
        let data_bytes: u64 = tables
            .iter()
            .flat_map(|table| &table.files)
            .map(|file| file.stored_bytes)
            .sum();
        let schema_bytes: u64 = self.schema_files.iter().map(|file| file.bytes).sum();
        let manifest = Manifest {
            format: FORMAT.to_string(),
            pg2dolt_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: crate::clock::utc_now(),
            key: self.key.clone(),
            snapshot: snapshot.clone(),
            source: source.to_string(),
            schema_files: self.schema_files.clone(),
            rows_total: tables.iter().map(|table| table.rows).sum(),
            bytes_total: data_bytes + schema_bytes,
            tables,
        };
        let json = serde_json::to_vec_pretty(&manifest).context("encoding the manifest")?;
        self.store
            .put(&format!("{}/{MANIFEST}", self.key), json)
            .await
            .context("writing the archive manifest")?;
        info!(archive = %self.location, key = %self.key, tables = manifest.tables.len(), rows = manifest.rows_total, bytes = manifest.bytes_total, "archive complete");
        Ok(ArchiveReport {
            location: format!("{}{}/", self.location, self.key),
            key: self.key.clone(),
            files: manifest.tables.iter().map(|table| table.files.len()).sum(),
            stored_bytes: manifest.bytes_total,
            complete: true,
        })
    }
}
