//! The copy phase: workers, each with one reader inside the shared snapshot
//! and one target connection, take chunks (whole tables, or key ranges of
//! large ones) largest first and stream each one: COPY out → convert →
//! load, through a bounded channel, so a slow target slows the reader
//! instead of filling memory. Each chunk commits on its own.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use futures_util::StreamExt as _;
use mysql_async::Conn;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{info, instrument};

use crate::convert::mysql_text::Format;
use crate::convert::row::{RowConverter, RowError, describe_key};
use crate::error::{FailureKind, failure};
use crate::plan::TablePlan;
use crate::source::copy::{copy_statement, table_reference};
use crate::source::snapshot::open_reader;
use crate::source::split::{RowRange, SplitTable, split_table};
use crate::target::load::{LoadColumn, LoadMethod, load_table};
use crate::types::SourceExpression;

/// Chunks in flight between a reader and its loader, per table.
const CHANNEL_CAPACITY: usize = 8;

/// Everything the workers share.
pub struct CopyJob {
    /// source connection settings
    pub source: crate::source::SourceAddress,
    /// the exported snapshot every reader imports
    pub snapshot_id: String,
    /// target connection settings
    pub target: crate::target::TargetAddress,
    /// target database
    pub database: String,
    /// how rows are loaded
    pub method: LoadMethod,
    /// load tables with binary columns through INSERT (Dolt: its LOAD DATA
    /// maps fields read into user variables correctly only since
    /// dolthub/go-mysql-server#3349, and `UNHEX(@v)` needs them)
    pub binary_tables_by_insert: bool,
    /// bytes per LOAD DATA chunk
    pub load_data_chunk: usize,
    /// bytes per INSERT statement (well under `max_allowed_packet`)
    pub insert_chunk: usize,
    /// rows per chunk of a split table (and per load transaction)
    pub chunk_rows: u64,
    /// the tables
    pub plans: Vec<TablePlan>,
}

/// One unit of work: a whole table, or one range of a split table.
#[derive(Debug, Clone)]
struct Chunk {
    /// index into the job's plans
    table: usize,
    /// the rows of this chunk (`None`: the whole table)
    range: Option<RowRange>,
    /// estimated bytes, for largest-first scheduling
    estimated_bytes: i64,
}

/// What one chunk's copy did.
#[derive(Debug, Clone)]
struct ChunkCopied {
    table: usize,
    rows: u64,
    bytes: u64,
    started: Instant,
    finished: Instant,
    method: LoadMethod,
}

/// What one table's copy did.
#[derive(Debug, Clone)]
pub struct TableCopied {
    /// index into the job's plans
    pub index: usize,
    /// rows read from the snapshot (= rows the target stored)
    pub rows: u64,
    /// bytes sent to the target
    pub bytes: u64,
    /// seconds spent
    pub seconds: f64,
    /// how the rows were loaded
    pub method: LoadMethod,
    /// how many chunks (load transactions) it was copied in
    pub chunks: usize,
}

/// The target stopped reading: its own error explains why.
#[derive(Debug)]
struct TargetStoppedReading;

impl std::fmt::Display for TargetStoppedReading {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("the target stopped reading")
    }
}

impl std::error::Error for TargetStoppedReading {}

/// Copies every table with `jobs` workers; returns per-table results in
/// plan order.
pub async fn copy_tables(job: Arc<CopyJob>, jobs: usize) -> anyhow::Result<Vec<TableCopied>> {
    let mut chunks = split_tables(&job).await?;
    // Largest first; a split table's chunks stay together.
    chunks.sort_by_key(|chunk| std::cmp::Reverse(chunk.estimated_bytes));
    let total_chunks = chunks.len();
    let queue = Arc::new(Mutex::new(chunks.into_iter().collect::<VecDeque<_>>()));
    let progress: Arc<Vec<AtomicU64>> =
        Arc::new(job.plans.iter().map(|_| AtomicU64::new(0)).collect());
    // Stopped (and the display cleared) however this function ends, also
    // when a signal drops it mid-copy.
    let _ticker = ProgressTicker(tokio::spawn(report_progress(
        Arc::clone(&job),
        Arc::clone(&progress),
    )));

    let mut workers = JoinSet::new();
    for worker in 0..jobs.clamp(1, total_chunks.max(1)) {
        workers.spawn(run_worker(
            worker,
            Arc::clone(&job),
            Arc::clone(&queue),
            Arc::clone(&progress),
        ));
    }
    let mut copied = Vec::new();
    let mut failure = None;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(mut chunks)) => copied.append(&mut chunks),
            Ok(Err(error)) => {
                failure.get_or_insert(error);
                workers.abort_all();
            }
            Err(join_error) if join_error.is_cancelled() => {}
            Err(join_error) => {
                failure.get_or_insert(anyhow!("a copy worker crashed: {join_error}"));
                workers.abort_all();
            }
        }
    }
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(per_table(&job, &copied))
}

/// The progress task, stopped with its display cleared when dropped.
struct ProgressTicker(tokio::task::JoinHandle<()>);

impl Drop for ProgressTicker {
    fn drop(&mut self) {
        self.0.abort();
        crate::logging::show_progress(Vec::new());
    }
}

/// Sums the chunks of each table.
fn per_table(job: &CopyJob, copied: &[ChunkCopied]) -> Vec<TableCopied> {
    (0..job.plans.len())
        .filter_map(|table| {
            let chunks: Vec<&ChunkCopied> =
                copied.iter().filter(|chunk| chunk.table == table).collect();
            let started = chunks.iter().map(|chunk| chunk.started).min()?;
            let finished = chunks.iter().map(|chunk| chunk.finished).max()?;
            Some(TableCopied {
                index: table,
                rows: chunks.iter().map(|chunk| chunk.rows).sum(),
                bytes: chunks.iter().map(|chunk| chunk.bytes).sum(),
                seconds: finished.duration_since(started).as_secs_f64(),
                method: chunks[0].method,
                chunks: chunks.len(),
            })
        })
        .collect()
}

/// Splits every large table into ranges, on a reader of its own inside the
/// snapshot (the key bounds must be those of the rows being copied).
async fn split_tables(job: &CopyJob) -> anyhow::Result<Vec<Chunk>> {
    let reader = open_reader(&job.source, &job.snapshot_id, "splitter").await?;
    let version: i32 = reader
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(|error| crate::source::pg_error(&error))
        .context("reading the source server version")?
        .get(0);
    let mut chunks = Vec::new();
    for (index, plan) in job.plans.iter().enumerate() {
        let reference = source_reference(plan);
        let key = match plan.source.primary_key.as_slice() {
            [only] => plan
                .columns
                .iter()
                .find(|column| &column.source == only)
                .map(|column| (only.as_str(), &column.source_kind)),
            _ => None,
        };
        let table = SplitTable {
            reference: &reference,
            name: &plan.source_name,
            key,
            partitioned: plan.source.partitioned,
            estimated_rows: u64::try_from(plan.source.estimated_rows).unwrap_or(0),
            estimated_bytes: u64::try_from(plan.source.estimated_bytes).unwrap_or(0),
        };
        let ranges = split_table(&reader, &table, job.chunk_rows, version).await?;
        if ranges.len() > 1 {
            info!(table = %plan.source_name, chunks = ranges.len(), "table split into ranges");
        }
        let parts = i64::try_from(ranges.len()).unwrap_or(1);
        for range in ranges {
            chunks.push(Chunk {
                table: index,
                range,
                estimated_bytes: plan.source.estimated_bytes / parts,
            });
        }
    }
    let _ = reader.batch_execute("COMMIT").await;
    Ok(chunks)
}

fn source_reference(plan: &TablePlan) -> String {
    table_reference(
        &plan.source.schema,
        &plan.source.name,
        plan.source.partitioned,
    )
}

async fn run_worker(
    worker: usize,
    job: Arc<CopyJob>,
    queue: Arc<Mutex<VecDeque<Chunk>>>,
    progress: Arc<Vec<AtomicU64>>,
) -> anyhow::Result<Vec<ChunkCopied>> {
    let role = format!("reader {}", worker + 1);
    let reader = open_reader(&job.source, &job.snapshot_id, &role).await?;
    let mut conn = crate::target::connect(&job.target, Some(&job.database)).await?;
    let mut copied = Vec::new();
    loop {
        let next = queue
            .lock()
            .map_err(|_| anyhow!("chunk queue poisoned"))?
            .pop_front();
        let Some(chunk) = next else { break };
        let result = copy_chunk(&reader, &mut conn, &job, &chunk, &progress[chunk.table]).await?;
        copied.push(result);
    }
    // Best effort: the readers only read; ending their transactions is tidy.
    let _ = reader.batch_execute("COMMIT").await;
    let _ = conn.disconnect().await;
    Ok(copied)
}

#[instrument(skip_all, fields(table = %job.plans[chunk.table].source_name))]
async fn copy_chunk(
    reader: &tokio_postgres::Client,
    conn: &mut Conn,
    job: &CopyJob,
    chunk: &Chunk,
    rows_done: &AtomicU64,
) -> anyhow::Result<ChunkCopied> {
    let plan = &job.plans[chunk.table];
    let started = Instant::now();
    let has_binary = plan
        .columns
        .iter()
        .any(|column| column.converter.is_binary());
    let method = if has_binary && job.binary_tables_by_insert {
        LoadMethod::Insert
    } else {
        job.method
    };
    let (format, chunk_bytes) = match method {
        LoadMethod::LoadData => (Format::LoadData, job.load_data_chunk),
        LoadMethod::Insert => (Format::Insert, job.insert_chunk),
    };
    let converter = RowConverter::new(
        format,
        plan.columns
            .iter()
            .map(|column| column.converter.clone())
            .collect(),
    );
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

    let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
    let produce = produce_rows(
        reader,
        &statement,
        &converter,
        plan,
        chunk_bytes,
        sender,
        rows_done,
    );
    let load = load_table(conn, method, &plan.target, &load_columns, receiver);
    let (produced, loaded) = tokio::join!(produce, load);
    let (rows, bytes) = match (produced, loaded) {
        (Ok(counts), Ok(stored)) => {
            if stored != counts.0 {
                return Err(failure(
                    FailureKind::Verify,
                    format!(
                        "{} → {}: read {} rows but the target stored {stored}",
                        plan.source_name, plan.target, counts.0
                    ),
                ));
            }
            counts
        }
        (Err(error), _) if !error.is::<TargetStoppedReading>() => return Err(error),
        (_, Err(error)) | (Err(error), Ok(_)) => {
            return Err(error.context(format!("loading {} into {}", plan.source_name, plan.target)));
        }
    };
    match &condition {
        Some(condition) => {
            info!(table = %plan.source_name, target_table = %plan.target, range = %condition, rows, bytes, elapsed_ms = started.elapsed().as_millis() as u64, "chunk copied");
        }
        None => {
            info!(table = %plan.source_name, target_table = %plan.target, rows, bytes, elapsed_ms = started.elapsed().as_millis() as u64, "table copied");
        }
    }
    Ok(ChunkCopied {
        table: chunk.table,
        rows,
        bytes,
        started,
        finished: Instant::now(),
        method,
    })
}

/// Streams the table out of Postgres, converts every row, and sends whole
/// rows in chunks. Returns (rows, bytes sent).
async fn produce_rows(
    reader: &tokio_postgres::Client,
    statement: &str,
    converter: &RowConverter,
    plan: &TablePlan,
    chunk_bytes: usize,
    sender: mpsc::Sender<io::Result<Bytes>>,
    rows_done: &AtomicU64,
) -> anyhow::Result<(u64, u64)> {
    let result = stream_rows(
        reader,
        statement,
        converter,
        plan,
        chunk_bytes,
        &sender,
        rows_done,
    )
    .await;
    if let Err(error) = &result {
        // Make the load stop and roll back (it may already be gone).
        let _ = sender.send(Err(io::Error::other(error.to_string()))).await;
    }
    result
}

async fn stream_rows(
    reader: &tokio_postgres::Client,
    statement: &str,
    converter: &RowConverter,
    plan: &TablePlan,
    chunk_bytes: usize,
    sender: &mpsc::Sender<io::Result<Bytes>>,
    rows_done: &AtomicU64,
) -> anyhow::Result<(u64, u64)> {
    let stream = reader
        .copy_out(statement)
        .await
        .map_err(|error| crate::source::pg_error(&error))
        .with_context(|| format!("COPY out of {}", plan.source_name))?;
    futures_util::pin_mut!(stream);
    let key_columns = plan.key_columns();
    let mut rows = 0_u64;
    let mut reported = 0_u64;
    let mut bytes = 0_u64;
    let mut pending: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::with_capacity(chunk_bytes + 64 * 1024);
    let convert = |line: &[u8], out: &mut Vec<u8>, rows: &mut u64| -> anyhow::Result<()> {
        *rows += 1;
        converter
            .convert_row(line, out)
            .map_err(|error| describe_row_error(plan, &key_columns, line, *rows, error))
    };
    while let Some(data) = stream.next().await {
        let data = data
            .map_err(|error| crate::source::pg_error(&error))
            .with_context(|| format!("reading COPY data of {}", plan.source_name))?;
        let mut rest: &[u8] = &data;
        // A row split across messages is completed first.
        if !pending.is_empty() {
            let Some(end) = memchr::memchr(b'\n', rest) else {
                pending.extend_from_slice(rest);
                continue;
            };
            pending.extend_from_slice(&rest[..end]);
            convert(&pending, &mut out, &mut rows)?;
            pending.clear();
            rest = &rest[end + 1..];
        }
        while let Some(end) = memchr::memchr(b'\n', rest) {
            convert(&rest[..end], &mut out, &mut rows)?;
            rest = &rest[end + 1..];
        }
        pending.extend_from_slice(rest);
        if out.len() >= chunk_bytes {
            bytes += out.len() as u64;
            let chunk = std::mem::replace(&mut out, Vec::with_capacity(chunk_bytes + 64 * 1024));
            sender
                .send(Ok(Bytes::from(chunk)))
                .await
                .map_err(|_| TargetStoppedReading)?;
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
        sender
            .send(Ok(Bytes::from(out)))
            .await
            .map_err(|_| TargetStoppedReading)?;
    }
    rows_done.fetch_add(rows - reported, Ordering::Relaxed);
    Ok((rows, bytes))
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
        RowError::FieldCount { expected, found } => {
            anyhow!(
                "table {}, row {key}: COPY sent {found} fields, expected {expected}",
                plan.source_name
            )
        }
    }
}

/// Shows progress: on a terminal a live block (one line per table being
/// copied, redrawn every second); otherwise one log line per table every
/// 10 seconds (a Job's log has no terminal).
async fn report_progress(job: Arc<CopyJob>, progress: Arc<Vec<AtomicU64>>) {
    let live = crate::logging::live_progress();
    let period = Duration::from_secs(if live { 1 } else { 10 });
    let started = Instant::now();
    let mut interval = tokio::time::interval(period);
    interval.tick().await;
    let mut last: Vec<u64> = vec![0; progress.len()];
    loop {
        interval.tick().await;
        let mut lines = Vec::new();
        for (index, rows) in progress.iter().enumerate() {
            let rows = rows.load(Ordering::Relaxed);
            if rows == last[index] {
                continue;
            }
            let plan = &job.plans[index];
            let estimate = u64::try_from(plan.source.estimated_rows).unwrap_or(0);
            let percent = rows
                .saturating_mul(100)
                .checked_div(estimate)
                .unwrap_or(0)
                .min(100);
            let rate = (rows - last[index]) / period.as_secs().max(1);
            if live {
                lines.push(format!(
                    "  {:<40} {rows:>12} rows {rate:>10} rows/s {percent:>4}%",
                    format!("{} → {}", plan.source_name, plan.target)
                ));
            } else {
                info!(table = %plan.source_name, rows, rows_per_second = rate, percent_of_estimate = percent, elapsed_s = started.elapsed().as_secs(), "copying");
            }
            last[index] = rows;
        }
        if live {
            lines.insert(0, format!("copying, {} s:", started.elapsed().as_secs()));
            crate::logging::show_progress(lines);
        }
    }
}
