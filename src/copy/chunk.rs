//! One chunk's copy: COPY out of the snapshot → convert → the sinks, all
//! at once through bounded channels: the target's load (unless the run is
//! dump-only) and the archive's data file (with `--archive`). The slowest
//! sink sets the pace; nothing waits in memory beyond the channels.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use futures_util::StreamExt as _;
use mysql_async::Conn;
use tokio::sync::mpsc;
use tracing::{info, instrument};

use super::budget::{self, Held, MemoryBudget};
use super::{Chunk, ChunkCopied, CopyJob, source_reference};
use crate::archive::data::{WrittenFile, write_data_file};
use crate::convert::mysql_text::Format;
use crate::convert::row::{RowConverter, RowError, describe_key};
use crate::error::{FailureKind, failure};
use crate::plan::TablePlan;
use crate::postgres::copy::copy_statement;
use crate::postgres::reader::{Reader, copy_rows};
use crate::postgres::split::RowRange;
use crate::mysql::load::{LoadColumn, LoadMethod, load_table};
use crate::types::SourceExpression;

/// Chunks in flight between the reader and each sink.
const CHANNEL_CAPACITY: usize = 8;

/// A text value reads `NULL` and the load is Dolt's LOAD DATA, which would
/// store SQL NULL: the chunk is loaded again with INSERT.
#[derive(Debug)]
struct TextReadAsNull(String);

impl std::fmt::Display for TextReadAsNull {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: a text value reads NULL", self.0)
    }
}

impl std::error::Error for TextReadAsNull {}

/// A sink stopped reading: its own error explains why.
#[derive(Debug)]
struct SinkStopped;

impl std::fmt::Display for SinkStopped {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("the target or the archive stopped reading")
    }
}

impl std::error::Error for SinkStopped {}

/// Where converted chunks go.
struct Sinks {
    /// the target's load, in the load format
    load: Option<mpsc::Sender<io::Result<Bytes>>>,
    /// the archive's data file, always LOAD DATA text
    archive: Option<mpsc::Sender<io::Result<Bytes>>>,
    /// a second converter when the load format is not LOAD DATA text
    archive_converter: Option<RowConverter>,
}

impl Sinks {
    /// Sends one chunk to every sink (waiting for room: backpressure).
    async fn send(&self, load: Bytes, archive: Option<Bytes>) -> Result<(), SinkStopped> {
        if let Some(sender) = &self.archive {
            let chunk = archive.unwrap_or_else(|| load.clone());
            sender.send(Ok(chunk)).await.map_err(|_| SinkStopped)?;
        }
        if let Some(sender) = &self.load {
            sender.send(Ok(load)).await.map_err(|_| SinkStopped)?;
        }
        Ok(())
    }

    /// Tells every sink the stream failed: loads roll back, archive files
    /// are dropped (either may be gone already).
    async fn fail(&self, error: &anyhow::Error) {
        for sender in [&self.load, &self.archive].into_iter().flatten() {
            let _ = sender.send(Err(io::Error::other(error.to_string()))).await;
        }
    }
}

/// Copies one chunk with the table's load method; a chunk holding a text
/// `NULL` that Dolt's LOAD DATA would turn into SQL NULL is rolled back and
/// loaded again with INSERT (only such chunks pay for it).
#[instrument(skip_all, fields(table = %job.plans[chunk.table].source_name))]
pub(super) async fn copy_chunk(
    reader: &Reader,
    mut conn: Option<&mut Conn>,
    job: &CopyJob,
    chunk: &Chunk,
    rows_done: &AtomicU64,
) -> anyhow::Result<ChunkCopied> {
    let method = load_method(job, &job.plans[chunk.table]);
    let copied = copy_chunk_as(reader, conn.as_deref_mut(), job, chunk, rows_done, method).await;
    match copied {
        Err(error) if error.is::<TextReadAsNull>() => {
            info!(table = %job.plans[chunk.table].source_name, reason = %error,
                "loading the chunk again with INSERT");
            // The driver closes a connection whose LOAD DATA stream failed.
            if let (Some(conn), Some(target)) = (conn.as_deref_mut(), &job.target) {
                *conn = crate::mysql::connect(target, Some(&job.database)).await?;
            }
            copy_chunk_as(reader, conn, job, chunk, rows_done, LoadMethod::Insert).await
        }
        other => other,
    }
}

async fn copy_chunk_as(
    reader: &Reader,
    conn: Option<&mut Conn>,
    job: &CopyJob,
    chunk: &Chunk,
    rows_done: &AtomicU64,
    method: LoadMethod,
) -> anyhow::Result<ChunkCopied> {
    let plan = &job.plans[chunk.table];
    let started = Instant::now();
    let (format, chunk_bytes) = match (conn.is_some(), method) {
        (true, LoadMethod::Insert) => (Format::Insert, job.insert_chunk),
        _ => (Format::LoadData, job.load_data_chunk),
    };
    let converters: Vec<_> = plan
        .columns
        .iter()
        .map(|column| column.converter.clone())
        .collect();
    let mut converter = RowConverter::new(format, converters.clone());
    if job.text_null_is_null && format == Format::LoadData && conn.is_some() {
        converter = converter.refusing_text_null();
    }
    let source_columns: Vec<(&str, SourceExpression)> = plan
        .columns
        .iter()
        .map(|column| (column.source.as_str(), column.expression))
        .collect();
    let condition = chunk.range.as_ref().map(RowRange::condition);
    let statement = copy_statement(
        &source_reference(plan),
        &source_columns,
        condition.as_deref(),
    );
    let load_columns: Vec<LoadColumn> = plan
        .columns
        .iter()
        .map(|column| LoadColumn {
            name: column.target.clone(),
            binary: column.converter.is_binary(),
        })
        .collect();

    let (load_sender, load_receiver) = channel(conn.is_some());
    let (archive_sender, archive_receiver) = channel(job.archive.is_some());
    let sinks = Sinks {
        load: load_sender,
        archive: archive_sender,
        archive_converter: (job.archive.is_some() && format != Format::LoadData)
            .then(|| RowConverter::new(Format::LoadData, converters)),
    };
    let archive_path = crate::archive::data_path(&plan.target, chunk.part, chunk.parts);
    let rows = Rows {
        reader,
        statement: &statement,
        converter: &converter,
        plan,
        chunk_bytes,
    };
    let produce = produce_rows(&rows, sinks, &job.budget, rows_done);
    let load = async {
        match (conn, load_receiver) {
            (Some(conn), Some(receiver)) => {
                load_table(conn, method, &plan.target, &load_columns, receiver)
                    .await
                    .map(Some)
            }
            _ => Ok(None),
        }
    };
    let archive = async {
        match (&job.archive, archive_receiver) {
            (Some(archive), Some(receiver)) => write_data_file(
                &archive.store,
                &format!("{}/{archive_path}", archive.key),
                receiver,
            )
            .await
            .map(Some),
            _ => Ok(None),
        }
    };
    let (produced, loaded, archived) = tokio::join!(produce, load, archive);
    let (rows, bytes, archived) = settle(plan, produced, loaded, archived)?;
    let range = condition.as_deref().unwrap_or("all rows");
    info!(table = %plan.source_name, target_table = %plan.target, range, rows, bytes, elapsed_ms = started.elapsed().as_millis() as u64,
        "{}", if chunk.parts > 1 { "chunk copied" } else { "table copied" });
    Ok(ChunkCopied {
        table: chunk.table,
        part: chunk.part,
        rows,
        bytes,
        started,
        finished: Instant::now(),
        method,
        archived: archived.map(|file| (archive_path, file)),
    })
}

/// Tables with binary columns go through INSERT on Dolt (its LOAD DATA
/// maps fields read into user variables correctly only since
/// dolthub/go-mysql-server#3349, and `UNHEX(@v)` needs them).
fn load_method(job: &CopyJob, plan: &TablePlan) -> LoadMethod {
    let has_binary = plan
        .columns
        .iter()
        .any(|column| column.converter.is_binary());
    if has_binary && job.binary_tables_by_insert {
        LoadMethod::Insert
    } else {
        job.method
    }
}

type Channel = (
    Option<mpsc::Sender<io::Result<Bytes>>>,
    Option<mpsc::Receiver<io::Result<Bytes>>>,
);

fn channel(wanted: bool) -> Channel {
    if wanted {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        (Some(sender), Some(receiver))
    } else {
        (None, None)
    }
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
    let place = format!("{} → {}", plan.source_name, plan.target);
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
    rows_done: &AtomicU64,
) -> anyhow::Result<(u64, u64)> {
    let result = stream_rows(rows, &sinks, budget, rows_done).await;
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
    plan: &'a TablePlan,
    /// converted bytes sent to the sinks at a time
    chunk_bytes: usize,
}

async fn stream_rows(
    source: &Rows<'_>,
    sinks: &Sinks,
    budget: &MemoryBudget,
    rows_done: &AtomicU64,
) -> anyhow::Result<(u64, u64)> {
    let Rows {
        reader,
        statement,
        converter,
        plan,
        chunk_bytes,
    } = *source;
    let stream = copy_rows(reader, statement)
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
        .with_context(|| format!("COPY out of {}", plan.source_name))?;
    futures_util::pin_mut!(stream);
    let key_columns = plan.key_columns();
    let mut rows = 0_u64;
    let mut reported = 0_u64;
    let mut bytes = 0_u64;
    let mut held = Held::default();
    let mut pending: Vec<u8> = Vec::new();
    let fresh = || Vec::with_capacity(chunk_bytes + 64 * 1024);
    let mut out: Vec<u8> = fresh();
    let mut archive_out: Vec<u8> = Vec::new();
    let convert = |line: &[u8],
                   out: &mut Vec<u8>,
                   archive_out: &mut Vec<u8>,
                   rows: &mut u64|
     -> anyhow::Result<()> {
        *rows += 1;
        let row = *rows;
        let described = |error| describe_row_error(plan, &key_columns, line, row, error);
        converter.convert_row(line, out).map_err(described)?;
        if let Some(archive) = &sinks.archive_converter {
            archive.convert_row(line, archive_out).map_err(described)?;
        }
        Ok(())
    };
    while let Some(data) = stream.next().await {
        let data = data
            .map_err(|error| crate::postgres::pg_error(&error))
            .with_context(|| format!("reading COPY data of {}", plan.source_name))?;
        // Converted text is about as long as COPY text: cover it before
        // converting, sending what is converted first when the budget
        // must be waited for.
        let wanted = out.len() + pending.len() + data.len();
        if !budget.try_cover(&mut held, wanted, chunk_bytes) {
            if !out.is_empty() {
                bytes += out.len() as u64;
                let archive = take_archive(sinks, &mut archive_out);
                let full = std::mem::replace(&mut out, fresh());
                sinks.send(budget::chunk(full, &mut held), archive).await?;
            }
            budget
                .cover(&mut held, pending.len() + data.len(), chunk_bytes)
                .await;
        }
        out.reserve(data.len());
        let mut rest: &[u8] = &data;
        // A row split across messages is completed first.
        if !pending.is_empty() {
            let Some(end) = memchr::memchr(b'\n', rest) else {
                pending.extend_from_slice(rest);
                continue;
            };
            pending.extend_from_slice(&rest[..end]);
            convert(&pending, &mut out, &mut archive_out, &mut rows)?;
            pending.clear();
            rest = &rest[end + 1..];
        }
        while let Some(end) = memchr::memchr(b'\n', rest) {
            convert(&rest[..end], &mut out, &mut archive_out, &mut rows)?;
            rest = &rest[end + 1..];
        }
        pending.extend_from_slice(rest);
        // The COPY text is converted: free it before waiting on a sink.
        drop(data);
        if out.len() >= chunk_bytes {
            // Escapes may have made the text a little longer: take what
            // is free, never wait while holding unsent rows.
            budget.try_cover(&mut held, out.len(), 0);
            bytes += out.len() as u64;
            let archive = take_archive(sinks, &mut archive_out);
            let full = std::mem::replace(&mut out, fresh());
            sinks.send(budget::chunk(full, &mut held), archive).await?;
        }
        // Several chunks of a table may run at once: add, do not store.
        rows_done.fetch_add(rows - reported, Ordering::Relaxed);
        reported = rows;
    }
    anyhow::ensure!(
        pending.is_empty(),
        "COPY data of {} ended in the middle of a row",
        plan.source_name
    );
    if !out.is_empty() {
        bytes += out.len() as u64;
        let archive = take_archive(sinks, &mut archive_out);
        sinks.send(budget::chunk(out, &mut held), archive).await?;
    }
    rows_done.fetch_add(rows - reported, Ordering::Relaxed);
    Ok((rows, bytes))
}

/// The archive's own text when it differs from the load's.
fn take_archive(sinks: &Sinks, archive_out: &mut Vec<u8>) -> Option<Bytes> {
    sinks
        .archive_converter
        .as_ref()
        .map(|_| Bytes::from(std::mem::take(archive_out)))
}

/// A value error names table, column, the row's key, the value and the
/// target type.
fn describe_row_error(
    plan: &TablePlan,
    key_columns: &[(usize, String)],
    line: &[u8],
    row: u64,
    error: RowError,
) -> anyhow::Error {
    let key = if key_columns.is_empty() {
        format!("row #{row} (no primary key)")
    } else {
        describe_key(line, key_columns)
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
                    plan.source_name, plan.target, column.source, column.target, column.target_type
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
