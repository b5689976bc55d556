//! One chunk's copy: COPY out of the snapshot → convert to LOAD DATA text
//! (once: both sinks take the same bytes) → the sinks, all at once through
//! bounded channels: the target's load (unless the run is dump-only) and
//! the archive's data file (with `--archive`). The slowest sink sets the
//! pace; nothing waits in memory beyond the channels.

use std::time::Instant;

use anyhow::{Context as _, anyhow};
use futures_util::StreamExt as _;
use mysql_async::Conn;
use tracing::{info, instrument};

use super::budget::MemoryBudget;
use super::pump::pump_rows;
use super::sinks::{SinkStopped, Sinks, channel};
use super::table::TableStream;
use super::{Chunk, ChunkCopied, CopyJob, Destination};
use crate::archive::data::{WrittenFile, write_data_file};
use crate::archive::writer::ArchiveJob;
use crate::convert::row::{RowConverter, RowError};
use crate::error::{FailureKind, failure};
use crate::mysql::load::{Chunks, LoadMethod, Route, load_table};
use crate::plan::TablePlan;
use crate::postgres::reader::{Reader, copy_rows};
use crate::progress::Counters;

/// A text value reads `NULL` and the load is Dolt's LOAD DATA, which would
/// store SQL NULL: the chunk is loaded again with INSERT.
#[derive(Debug, thiserror::Error)]
#[error("{0}: a text value reads NULL")]
struct TextReadAsNull(String);

/// Copies one chunk with the table's route; a chunk holding a text `NULL`
/// that Dolt's LOAD DATA would turn into SQL NULL is rolled back and loaded
/// again with INSERT (only such chunks pay for it).
#[instrument(skip_all, fields(table = %job.plans[chunk.table].source_name, indicatif.pb_show = tracing::field::Empty))]
pub(super) async fn copy_chunk(
    reader: &Reader,
    mut conn: Option<&mut Conn>,
    job: &CopyJob,
    stream: &TableStream,
    chunk: &Chunk,
    progress: &Counters,
) -> anyhow::Result<ChunkCopied> {
    let copied = copy_chunk_as(
        reader,
        conn.as_deref_mut(),
        job,
        stream,
        chunk,
        progress,
        stream.route,
    )
    .await;
    match copied {
        Err(error) if error.is::<TextReadAsNull>() => {
            info!(table = %job.plans[chunk.table].source_name, reason = %error,
                "loading the chunk again with INSERT");
            // The driver closes a connection whose LOAD DATA stream failed.
            if let (Some(conn), Destination::Database(load)) =
                (conn.as_deref_mut(), &job.destination)
            {
                *conn = crate::mysql::connect_loader(&load.target, Some(&load.database)).await?;
            }
            let route = stream.route.map(|route| route.with(LoadMethod::Insert));
            copy_chunk_as(reader, conn, job, stream, chunk, progress, route).await
        }
        other => other,
    }
}

async fn copy_chunk_as(
    reader: &Reader,
    conn: Option<&mut Conn>,
    job: &CopyJob,
    stream: &TableStream,
    chunk: &Chunk,
    progress: &Counters,
    route: Option<Route>,
) -> anyhow::Result<ChunkCopied> {
    let plan = &job.plans[chunk.table];
    let started = Instant::now();
    let (statement, condition) = stream.statement(chunk.range.as_ref());
    let (load_sender, load_receiver) = channel(conn.is_some());
    let (archive_sender, archive_receiver) = channel(job.archive.is_some());
    let sinks = Sinks {
        load: load_sender,
        archive: archive_sender,
    };
    let archive_path = crate::archive::data_path(&plan.target.name, chunk.part, chunk.parts);
    let rows = Rows {
        reader,
        statement: &statement,
        converter: stream.converter_for(route),
        key_columns: &stream.key_columns,
        plan,
    };
    let estimate = u64::try_from(plan.source.estimated_rows).unwrap_or(0) / chunk.parts as u64;
    crate::progress::start_bar(&plan.label(), estimate);
    let produce = produce_rows(&rows, sinks, &job.budget, (progress, chunk.table));
    let load = async {
        match (conn, route, load_receiver) {
            (Some(conn), Some(route), Some(receiver)) => {
                let columns = &stream.load_columns;
                let stored = load_table(conn, route, &plan.target.name, columns, receiver).await?;
                Ok(Some(stored))
            }
            _ => Ok(None),
        }
    };
    let archive = archive_chunk(job.archive.as_ref(), &archive_path, archive_receiver);
    let (produced, loaded, archived) = tokio::join!(produce, load, archive);
    let (rows, bytes, archived) = settle(plan, produced, loaded, archived)?;
    let range = condition.as_deref().unwrap_or("all rows");
    info!(table = %plan.source_name, target_table = %plan.target.name, range, rows, bytes, elapsed_ms = started.elapsed().as_millis() as u64,
        "{}", if chunk.parts > 1 { "chunk copied" } else { "table copied" });
    Ok(ChunkCopied {
        table: chunk.table,
        part: chunk.part,
        rows,
        bytes,
        started,
        finished: Instant::now(),
        method: route.map_or(LoadMethod::LoadData, |route| route.method),
        archived: archived.map(|file| (archive_path, file)),
    })
}

/// The chunk's data file in the archive, when the run writes one.
async fn archive_chunk(
    archive: Option<&ArchiveJob>,
    path: &str,
    receiver: Option<Chunks>,
) -> anyhow::Result<Option<WrittenFile>> {
    let (Some(archive), Some(receiver)) = (archive, receiver) else {
        return Ok(None);
    };
    let key = format!("{}/{path}", archive.key);
    write_data_file(&archive.store, &key, receiver)
        .await
        .map(Some)
}

/// The chunk's outcome: the reader's own error first (a sink that stopped
/// reading has its own), then the load's, then the archive's; the target
/// must have stored every row read.
fn settle(
    plan: &TablePlan,
    produced: anyhow::Result<(u64, u64)>,
    loaded: anyhow::Result<Option<u64>>,
    archived: anyhow::Result<Option<WrittenFile>>,
) -> anyhow::Result<(u64, u64, Option<WrittenFile>)> {
    let place = plan.label();
    let (rows, bytes) = match produced {
        Ok(counts) => counts,
        Err(error) if !error.is::<SinkStopped>() => return Err(error),
        Err(stopped) => {
            loaded.map_err(|error| error.context(format!("loading {place}")))?;
            archived.map_err(|error| error.context(format!("archiving {place}")))?;
            return Err(stopped);
        }
    };
    let stored = loaded.map_err(|error| error.context(format!("loading {place}")))?;
    let archived = archived.map_err(|error| error.context(format!("archiving {place}")))?;
    if let Some(stored) = stored
        && stored != rows
    {
        return Err(failure(
            FailureKind::Verify,
            format!("{place}: read {rows} rows but the target stored {stored}"),
        ));
    }
    Ok((rows, bytes, archived))
}

/// Streams the chunk out of Postgres, converts every row, and sends whole
/// rows in chunks to the sinks. Returns (rows, bytes of load data).
async fn produce_rows(
    rows: &Rows<'_>,
    sinks: Sinks,
    budget: &MemoryBudget,
    progress: (&Counters, usize),
) -> anyhow::Result<(u64, u64)> {
    let result = stream_rows(rows, &sinks, budget, progress).await;
    if let Err(error) = &result {
        sinks.fail(error).await;
    }
    result
}

/// Where one chunk's rows come from and how they are converted.
struct Rows<'a> {
    reader: &'a Reader,
    /// the COPY statement
    statement: &'a str,
    converter: &'a RowConverter,
    /// the primary key's columns, to name a row in an error
    key_columns: &'a [(usize, String)],
    plan: &'a TablePlan,
}

async fn stream_rows(
    source: &Rows<'_>,
    sinks: &Sinks,
    budget: &MemoryBudget,
    (progress, table): (&Counters, usize),
) -> anyhow::Result<(u64, u64)> {
    let Rows {
        reader,
        statement,
        converter,
        key_columns,
        plan,
    } = *source;
    let name = &plan.source_name;
    let stream = copy_rows(reader, statement)
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .with_context(|| format!("COPY out of {name}"))?;
    let stream = stream.map(|data| {
        data.map_err(|error| crate::postgres::pg_error(&error))
            .with_context(|| format!("reading COPY data of {name}"))
    });
    let convert = |line: &[u8], row: u64, out: &mut Vec<u8>| {
        converter
            .convert_row(line, out)
            .map_err(|error| describe_row_error(plan, converter, key_columns, line, row, error))
    };
    // Several chunks of a table may run at once: add, do not store.
    let mut reported = 0;
    let counted = |rows: u64| {
        progress.add(table, rows - reported);
        reported = rows;
    };
    pump_rows(stream, sinks, budget, convert, counted, name).await
}

/// A value error names table, column, the row's key, the value and the
/// target type.
fn describe_row_error(
    plan: &TablePlan,
    converter: &RowConverter,
    key_columns: &[(usize, String)],
    line: &[u8],
    row: u64,
    error: RowError,
) -> anyhow::Error {
    let key = if key_columns.is_empty() {
        format!("row #{row} (no primary key)")
    } else {
        converter.describe_key(line, key_columns)
    };
    match error {
        RowError::Value {
            column,
            value,
            reason,
        } => {
            let column = &plan.columns[column];
            failure(
                FailureKind::Data,
                format!(
                    "table {} → {}, column {} → {} ({}), row {key}: value {value} cannot be stored: {reason}",
                    plan.source_name,
                    plan.target.name,
                    column.source,
                    column.target,
                    column.target_type
                ),
            )
        }
        RowError::TextReadAsNull { column } => anyhow::Error::new(TextReadAsNull(format!(
            "table {}, column {}, row {key}",
            plan.source_name, plan.columns[column].source
        ))),
        RowError::FieldCount { expected, found } => {
            anyhow!(
                "table {}, row {key}: COPY sent {found} fields, expected {expected}",
                plan.source_name
            )
        }
    }
}
