//! `copy --archive`: the archive of this run, from its schema files (at
//! the start) to its manifest (at the end, once the data verified). The
//! data files themselves are written by each chunk's stream (copy/chunk.rs).

use anyhow::Context as _;
use tracing::info;

use crate::archive::store::{Location, Store};
use crate::archive::{
    ArchivedColumn, ArchivedFile, ArchivedTable, FORMAT, MANIFEST, Manifest, new_key, sha256_hex,
};
use crate::copy::{ArchiveJob, TableCopied};
use crate::plan::TablePlan;
use crate::report::ArchiveReport;
use crate::settings::Settings;
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

/// Opens the archive location given with `--archive`, checking it before
/// anything else happens (a missing bucket or bad credentials stop the run
/// at once).
pub async fn open(settings: &Settings) -> anyhow::Result<Option<(Location, Store)>> {
    let Some(location) = &settings.archive else {
        return Ok(None);
    };
    let store = Store::open(
        location,
        settings.storage.path_style,
        settings.storage.part_size,
    )
    .await
    .with_context(|| format!("archive {location}"))?;
    info!(archive = %location, "archive location checked");
    Ok(Some((location.clone(), store)))
}

/// Starts the archive: a new key for this snapshot, and the schema files.
pub async fn start(
    location: Location,
    store: Store,
    settings: &Settings,
    snapshot: &Snapshot,
) -> anyhow::Result<ArchiveRun> {
    let key = new_key(&snapshot.time);
    let mut schema_files = Vec::new();
    for file in &settings.schema_files {
        let path = format!("schema/{}", file.name);
        store
            .put(&format!("{key}/{path}"), file.sql.clone().into_bytes())
            .await
            .with_context(|| format!("archiving schema file {}", file.name))?;
        schema_files.push(ArchivedFile {
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
        schema_files,
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

    /// Writes the manifest: the archive is complete. Returns the report.
    pub async fn finish(
        &self,
        settings: &Settings,
        snapshot: &Snapshot,
        plans: &[TablePlan],
        copied: &[TableCopied],
    ) -> anyhow::Result<ArchiveReport> {
        let tables: Vec<ArchivedTable> = copied
            .iter()
            .map(|table| {
                let plan = &plans[table.index];
                ArchivedTable {
                    source: plan.source_name.clone(),
                    target: plan.target.clone(),
                    rows: table.rows,
                    columns: plan
                        .columns
                        .iter()
                        .map(|column| ArchivedColumn {
                            name: column.target.clone(),
                            binary: column.converter.is_binary(),
                        })
                        .collect(),
                    files: table.archived.clone(),
                }
            })
            .collect();
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
            source: settings.source_display.clone(),
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
