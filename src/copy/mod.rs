//! The copy phase: workers, each with one reader inside the shared snapshot
//! and one target connection, take chunks (whole tables, or key ranges of
//! large ones) largest first and stream each one: COPY out → convert →
//! load, through a bounded channel, so a slow target slows the reader
//! instead of filling memory. Each chunk commits on its own. `phase` is
//! the copy as commands call it.

mod budget;
mod chunk;
pub mod phase;
mod pump;
mod queue;
mod sinks;
mod table;

pub use budget::{MEMORY_BUDGET, MemoryBudget};

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow};
use tokio::task::JoinSet;
use tracing::info;

pub use crate::archive::writer::ArchiveJob;
use crate::archive::{ArchivedColumn, ArchivedTable};
use crate::mysql::load::{LoadMethod, Route};
use crate::mysql::{TargetAddress, TargetKind};
use crate::plan::TablePlan;
use crate::postgres::ranges::{RowRange, SplitTable, split_table};
use crate::postgres::reader::Reader;
use crate::postgres::sql::table_reference;
use crate::progress::{Counters, Ticker};

use self::queue::ChunkQueue;
use self::table::TableStream;

/// Everything the workers share.
pub struct CopyJob {
    /// where the rows go
    pub destination: Destination,
    /// rows per chunk of a split table (and per load transaction)
    pub chunk_rows: u64,
    /// the tables
    pub plans: Vec<TablePlan>,
    /// where each chunk's data is archived too
    pub archive: Option<ArchiveJob>,
    /// bytes of converted rows in memory at once, across all workers
    pub budget: MemoryBudget,
    /// per plan, a filter on the rows read (a refresh's delta: the row
    /// versions written since the last published night), whose rows are
    /// upserted, not inserted; empty: none
    pub filters: Vec<Option<String>>,
    /// a refresh night marks each table it has loaded in full on its work
    /// branch (`nightly::progress`), so a rerun after a kill keeps it
    pub marks: Option<Arc<crate::nightly::progress::Marks>>,
}

impl CopyJob {
    /// The filter on the rows of plan `index`, if any.
    fn filter(&self, index: usize) -> Option<&str> {
        self.filters.get(index).and_then(Option::as_deref)
    }
}

/// Where the copy's rows go, besides the archive.
pub enum Destination {
    /// into a target database
    Database(DatabaseLoad),
    /// only into the archive (`copy --no-target`)
    ArchiveOnly,
}

/// The target database being filled.
pub struct DatabaseLoad {
    /// target connection settings
    pub target: TargetAddress,
    /// target database
    pub database: String,
    /// how rows are loaded
    pub route: Route,
    /// the server kind: Dolt needs some rows loaded another way
    pub kind: TargetKind,
}

impl DatabaseLoad {
    /// Tables with binary columns go through INSERT on Dolt: its LOAD DATA
    /// maps fields read into user variables correctly only since
    /// dolthub/go-mysql-server#3349, and `UNHEX(@v)` needs them.
    fn binary_tables_by_insert(&self) -> bool {
        self.kind == TargetKind::Dolt
    }

    /// Dolt's LOAD DATA stores a field reading `NULL` as SQL NULL
    /// (go-mysql-server, sql/rowexec/ddl_iters.go parseFields): chunks
    /// holding such a text value are loaded again with INSERT.
    fn text_null_is_null(&self) -> bool {
        self.kind == TargetKind::Dolt
    }
}

/// One unit of work: a whole table, or one range of a split table.
#[derive(Debug, Clone)]
struct Chunk {
    /// index into the job's plans
    table: usize,
    /// which range of the table (0 for a whole table)
    part: usize,
    /// how many ranges the table was split into
    parts: usize,
    /// the rows of this chunk (`None`: the whole table)
    range: Option<RowRange>,
    /// estimated bytes, for largest-first scheduling
    estimated_bytes: i64,
}

/// What one chunk's copy did.
#[derive(Debug, Clone)]
struct ChunkCopied {
    table: usize,
    part: usize,
    rows: u64,
    bytes: u64,
    started: Instant,
    finished: Instant,
    method: LoadMethod,
    /// the archived data file: path and what was stored
    archived: Option<(String, crate::archive::data::WrittenFile)>,
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
    /// its archived data files, in range order
    pub archived: Vec<crate::archive::DataFile>,
}

/// Copies every table with one worker per reader (readers inside the
/// snapshot, opened by the plan's checks); returns per-table results in
/// plan order.
pub async fn copy_tables(
    job: Arc<CopyJob>,
    readers: Vec<Reader>,
) -> anyhow::Result<Vec<TableCopied>> {
    let first = readers.first().context("no reader inside the snapshot")?;
    let mut chunks = split_tables(&job, first).await?;
    // Largest first; a split table's chunks stay together.
    chunks.sort_by_key(|chunk| std::cmp::Reverse(chunk.estimated_bytes));
    if let Some(marks) = &job.marks {
        for index in 0..job.plans.len() {
            marks.expect(
                index,
                chunks.iter().filter(|chunk| chunk.table == index).count(),
            );
        }
    }
    let total_chunks = chunks.len();
    let one_range_per_table = match &job.destination {
        Destination::Database(load) => load.kind.one_range_per_table(),
        Destination::ArchiveOnly => false,
    };
    let queue = Arc::new(ChunkQueue::new(chunks, one_range_per_table));
    // Per-table work (converters, statements, load columns) is done once.
    let streams: Arc<Vec<TableStream>> = Arc::new(
        job.plans
            .iter()
            .enumerate()
            .map(|(index, plan)| TableStream::prepare(plan, &job.destination, job.filter(index)))
            .collect(),
    );
    let progress = Arc::new(Counters::new(crate::progress::tables(&job.plans)));
    // Stopped however this function ends, also when a signal drops it.
    let _ticker = Ticker::start(Arc::clone(&progress));

    let mut workers = JoinSet::new();
    for reader in readers.into_iter().take(total_chunks.max(1)) {
        workers.spawn(run_worker(
            reader,
            Arc::clone(&job),
            Arc::clone(&streams),
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

/// Sums the chunks of each table.
fn per_table(job: &CopyJob, copied: &[ChunkCopied]) -> Vec<TableCopied> {
    (0..job.plans.len())
        .filter_map(|table| {
            let mut chunks: Vec<&ChunkCopied> =
                copied.iter().filter(|chunk| chunk.table == table).collect();
            chunks.sort_by_key(|chunk| chunk.part);
            let started = chunks.iter().map(|chunk| chunk.started).min()?;
            let finished = chunks.iter().map(|chunk| chunk.finished).max()?;
            Some(TableCopied {
                index: table,
                rows: chunks.iter().map(|chunk| chunk.rows).sum(),
                bytes: chunks.iter().map(|chunk| chunk.bytes).sum(),
                seconds: finished.duration_since(started).as_secs_f64(),
                method: chunks[0].method,
                chunks: chunks.len(),
                archived: chunks
                    .iter()
                    .filter_map(|chunk| {
                        let (path, file) = chunk.archived.as_ref()?;
                        Some(crate::archive::DataFile {
                            path: path.clone(),
                            rows: chunk.rows,
                            bytes: file.bytes,
                            stored_bytes: file.stored_bytes,
                            sha256: file.sha256.clone(),
                        })
                    })
                    .collect(),
            })
        })
        .collect()
}

/// The manifest's entries for the tables copied.
#[must_use]
pub fn archived_tables(plans: &[TablePlan], copied: &[TableCopied]) -> Vec<ArchivedTable> {
    copied
        .iter()
        .map(|table| {
            let plan = &plans[table.index];
            ArchivedTable {
                source: plan.source_name.clone(),
                target: plan.target.name.clone(),
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
        .collect()
}

/// Splits every large table into ranges, on a reader inside the snapshot
/// (the key bounds must be those of the rows being copied).
async fn split_tables(job: &CopyJob, reader: &Reader) -> anyhow::Result<Vec<Chunk>> {
    let version: i32 = reader
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(|error| crate::postgres::pg_error(&error))
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
        // A delta reads one filtered scan of the table.
        let ranges = if job.filter(index).is_some() {
            vec![None]
        } else {
            split_table(reader, &table, job.chunk_rows, version).await?
        };
        if ranges.len() > 1 {
            info!(table = %plan.source_name, chunks = ranges.len(), "table split into ranges");
        }
        let parts = ranges.len();
        for (part, range) in ranges.into_iter().enumerate() {
            chunks.push(Chunk {
                table: index,
                part,
                parts,
                range,
                estimated_bytes: plan.source.estimated_bytes / i64::try_from(parts).unwrap_or(1),
            });
        }
    }
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
    reader: Reader,
    job: Arc<CopyJob>,
    streams: Arc<Vec<TableStream>>,
    queue: Arc<ChunkQueue>,
    progress: Arc<Counters>,
) -> anyhow::Result<Vec<ChunkCopied>> {
    let mut conn = match &job.destination {
        Destination::Database(load) => {
            Some(crate::mysql::connect_loader(&load.target, Some(&load.database)).await?)
        }
        Destination::ArchiveOnly => None,
    };
    let mut copied = Vec::new();
    loop {
        let Some(chunk) = queue.next().await? else {
            break;
        };
        let stream = &streams[chunk.table];
        let result =
            chunk::copy_chunk(&reader, conn.as_mut(), &job, stream, &chunk, &progress).await;
        queue.finish(chunk.table);
        let result = result?;
        if let (Some(marks), Some(conn)) = (&job.marks, conn.as_mut()) {
            marks.chunk_done(conn, chunk.table, result.rows).await?;
        }
        copied.push(result);
    }
    // Best effort: the readers only read; ending their transactions is tidy.
    let _ = reader.batch_execute("COMMIT").await;
    if let Some(conn) = conn {
        let _ = conn.disconnect().await;
    }
    Ok(copied)
}
