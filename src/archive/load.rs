//! Loads an archive's data files into a target database, `--jobs` at a
//! time, each with a target connection of its own; largest files first. Each file is one load transaction, streamed as it is read and
//! checked against the manifest's SHA-256, size and row count (a mismatch
//! rolls its load back). The first failure ends the load, as in a copy.

use std::time::Instant;

use mysql_async::Conn;
use tracing::info;

use super::data::read_data_file;
use super::store::Store;
use super::{ArchivedTable, DataFile, Manifest};
use crate::error::{FailureKind, failure};
use crate::mysql::load::{LoadColumn, LoadMethod, Route, chunk_channel, load_table};
use crate::mysql::{TargetAddress, TargetKind};

/// One loaded data file.
pub struct Loaded {
    /// index into the manifest's tables
    pub table: usize,
    /// seconds its load took
    pub seconds: f64,
    /// how it was loaded
    pub method: LoadMethod,
}

/// Where the files go.
pub struct LoadTarget<'a> {
    /// target connection settings
    pub target: &'a TargetAddress,
    /// the database being filled
    pub database: &'a str,
    /// how rows are loaded
    pub route: Route,
    /// the server kind
    pub kind: TargetKind,
    /// files loaded at once
    pub jobs: usize,
}

/// Loads every data file of `manifest` from `store`, `--jobs` at a time,
/// largest first; the first failure ends the restore, as it ends a copy
/// (the other loads roll back with their sessions).
pub async fn load_files(
    store: &Store,
    manifest: &Manifest,
    target: &LoadTarget<'_>,
) -> anyhow::Result<Vec<Loaded>> {
    let mut work: Vec<(usize, &DataFile)> = manifest
        .tables
        .iter()
        .enumerate()
        .flat_map(|(index, table)| table.files.iter().map(move |file| (index, file)))
        .collect();
    work.sort_by_key(|(_, file)| std::cmp::Reverse(file.stored_bytes));
    let mut connections = Vec::new();
    for _ in 0..target.jobs.clamp(1, work.len().max(1)) {
        connections.push(crate::mysql::connect(target.target, Some(target.database)).await?);
    }
    // Everything loads through INSERT on Dolt: its LOAD DATA stores a
    // field reading `NULL` as SQL NULL (go-mysql-server,
    // sql/rowexec/ddl_iters.go parseFields), which archived text may
    // hold, and maps user variables (binary columns) only lately.
    let route = if target.kind == TargetKind::Dolt {
        target.route.with(LoadMethod::Insert)
    } else {
        target.route
    };
    crate::pool::drain(connections, work, async |conn: &mut Conn, (index, file)| {
        let table = &manifest.tables[index];
        let started = Instant::now();
        load_file(store, conn, table, file, route).await?;
        info!(table = %table.source, target_table = %table.target, file = %file.path, rows = file.rows, "data file loaded");
        Ok(Loaded {
            table: index,
            seconds: started.elapsed().as_secs_f64(),
            method: route.method,
        })
    })
    .await
}

/// One data file into its table, in one transaction: streamed, checked
/// against the manifest as it ends (a mismatch rolls the load back).
async fn load_file(
    store: &Store,
    conn: &mut Conn,
    table: &ArchivedTable,
    file: &DataFile,
    route: Route,
) -> anyhow::Result<()> {
    let columns: Vec<LoadColumn> = table
        .columns
        .iter()
        .map(|column| LoadColumn {
            name: column.name.clone(),
            binary: column.binary,
        })
        .collect();
    let (sender, receiver) = chunk_channel();
    let read = async {
        let read = read_data_file(store, &file.path, file, &sender).await;
        drop(sender);
        read
    };
    let load = load_table(conn, route, &table.target, &columns, receiver);
    let (read, loaded) = tokio::join!(read, load);
    read?;
    let stored = loaded?;
    if stored != file.rows {
        return Err(failure(
            FailureKind::Verify,
            format!(
                "{}: the target stored {stored} rows of {}, the manifest says {}",
                table.target, file.path, file.rows
            ),
        ));
    }
    Ok(())
}
