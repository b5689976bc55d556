//! The copy phase as commands use it: the planned tables read inside the
//! snapshot and written into a `Fill` (or only into the archive), each
//! returning what it copied. Shared by copy, a refresh night and verify's
//! scratch load; the night's own steps (counting, deletes) are
//! `crate::nightly::load`'s.

use std::sync::Arc;
use std::time::Instant;

use tracing::info;

use super::{
    CopyJob, DatabaseLoad, Destination, MEMORY_BUDGET, MemoryBudget, TableCopied, archived_tables,
    copy_tables,
};
use crate::archive::store::{Location, Store};
use crate::archive::writer::{self, ArchiveReport, ArchiveRun};
use crate::fill::Fill;
use crate::mysql::TargetKind;
use crate::mysql::completion::Completion;
use crate::plan::TablePlan;
use crate::postgres::reader::Reader;
use crate::preflight::SourceSide;
use crate::report::TableReport;
use crate::settings::Settings;

/// What a copy phase copied.
pub struct Loaded {
    /// the job, with its plans
    pub job: Arc<CopyJob>,
    /// every chunk copied
    pub copied: Vec<TableCopied>,
    /// the report's tables, by source name
    pub tables: Vec<TableReport>,
    /// per target table, its rows per key range (a refresh night's, for
    /// the next night: `nightly::deletes::ranges`)
    pub key_ranges: std::collections::BTreeMap<String, crate::nightly::deletes::ranges::KeyRanges>,
}

impl Loaded {
    /// Rows sent per plan of the job.
    #[must_use]
    pub fn rows_sent(&self) -> Vec<u64> {
        (0..self.job.plans.len())
            .map(|index| {
                self.copied
                    .iter()
                    .filter(|table| table.index == index)
                    .map(|table| table.rows)
                    .sum()
            })
            .collect()
    }
}

/// A refresh night's part in a load: a filter per plan (the rows a delta
/// reads; none: all) and the marks of the tables loaded in full.
#[derive(Default)]
pub struct NightLoad {
    /// per plan; empty: none
    pub filters: Vec<Option<String>>,
    /// `nightly::progress`
    pub marks: Option<Arc<crate::nightly::progress::Marks>>,
}

/// `plans` into `fill` on `readers` (`night`: a refresh night's filters
/// and marks), then, on Dolt, the constraint violations Dolt recorded
/// while side-by-side loads committed cleared before anything else writes
/// there (see `mysql::connect_loader`).
pub async fn load_plan(
    settings: &Settings,
    plans: Vec<TablePlan>,
    readers: Vec<Reader>,
    archive: Option<&ArchiveRun>,
    fill: &mut Fill,
    night: NightLoad,
) -> anyhow::Result<Loaded> {
    let destination = Destination::Database(DatabaseLoad {
        target: settings.target.clone(),
        database: fill.database.clone(),
        route: fill.route,
        kind: fill.server.kind,
    });
    let job = copy_job(settings, destination, plans, archive, night);
    let loaded = copy_rows(job, readers).await?;
    if fill.server.kind == TargetKind::Dolt {
        crate::mysql::dolt::clear_sequencing_violations(&mut fill.conn).await?;
    }
    Ok(loaded)
}

/// What completing a fill did: the fix-ups and checks, and the archive's
/// manifest when there is an archive.
pub struct Completed {
    /// fix-ups, counters, counts and constraints
    pub completion: Completion,
    /// the archive written (`--archive`)
    pub archive: Option<ArchiveReport>,
}

/// After the copy phase into `fill`: the load completed (each of the
/// `loaded` tables holding its rows), the masking baseline recorded, the
/// archive's manifest written.
pub async fn complete(
    settings: &Settings,
    source: &SourceSide,
    archive: Option<&ArchiveRun>,
    fill: &mut Fill,
    loaded: &Loaded,
) -> anyhow::Result<Completed> {
    let completion = fill.complete(&loaded.tables).await?;
    record_mask_baseline(settings, fill, loaded).await?;
    let archive = match archive {
        Some(archive) => Some(write_manifest(settings, source, archive, loaded).await?),
        None => None,
    };
    Ok(Completed {
        completion,
        archive,
    })
}

/// The masking baseline recorded in the filled database (`--mask-rules`):
/// which columns each rule masked, so a later night sees new ones.
async fn record_mask_baseline(
    settings: &Settings,
    fill: &mut Fill,
    loaded: &Loaded,
) -> anyhow::Result<()> {
    let Some(masking) = &settings.masking else {
        if settings.unmask {
            // Masking is off for good: no baseline to hold later runs to.
            return crate::mysql::records::mask_baseline::forget(&mut fill.conn).await;
        }
        return Ok(());
    };
    let baseline = crate::plan::masking::baseline_of(&loaded.job.plans, &masking.rules);
    crate::mysql::records::mask_baseline::record(&mut fill.conn, &fill.database, &baseline).await
}

/// `copy --no-target`: `plans` into the archive only.
pub async fn dump_plan(
    settings: &Settings,
    plans: Vec<TablePlan>,
    readers: Vec<Reader>,
    archive: &ArchiveRun,
) -> anyhow::Result<Loaded> {
    let job = copy_job(
        settings,
        Destination::ArchiveOnly,
        plans,
        Some(archive),
        NightLoad::default(),
    );
    copy_rows(job, readers).await
}

/// The `--archive` location, checked before anything else happens (a
/// missing bucket or bad credentials stop the run at once).
pub async fn open_archive(settings: &Settings) -> anyhow::Result<Option<(Location, Store)>> {
    let Some(location) = &settings.archive else {
        return Ok(None);
    };
    let storage = &settings.storage;
    let store = writer::open(location, storage.path_style, storage.part_size).await?;
    Ok(Some((location.clone(), store)))
}

/// The archive started in the opened store (copy and refresh).
pub async fn start_archive(
    settings: &Settings,
    source: &SourceSide,
    store: Option<(Location, Store)>,
) -> anyhow::Result<Option<ArchiveRun>> {
    let Some((location, store)) = store else {
        return Ok(None);
    };
    let started = writer::start(location, store, &settings.schema_files, &source.snapshot).await?;
    Ok(Some(started))
}

/// The archive's manifest, written once every table is in it.
pub async fn write_manifest(
    settings: &Settings,
    source: &SourceSide,
    archive: &ArchiveRun,
    loaded: &Loaded,
) -> anyhow::Result<ArchiveReport> {
    let tables = archived_tables(&loaded.job.plans, &loaded.copied);
    archive
        .finish(&settings.source_display, &source.snapshot, tables)
        .await
}

fn copy_job(
    settings: &Settings,
    destination: Destination,
    plans: Vec<TablePlan>,
    archive: Option<&ArchiveRun>,
    night: NightLoad,
) -> Arc<CopyJob> {
    Arc::new(CopyJob {
        destination,
        chunk_rows: settings.chunk_rows,
        archive: archive.map(ArchiveRun::job),
        plans,
        budget: MemoryBudget::new(MEMORY_BUDGET),
        filters: night.filters,
        marks: night.marks,
    })
}

/// Every table of `job`, on `readers`.
async fn copy_rows(job: Arc<CopyJob>, readers: Vec<Reader>) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let copied = copy_tables(Arc::clone(&job), readers).await?;
    info!(
        tables = copied.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "copy done"
    );
    let tables = table_reports(&job, &copied);
    Ok(Loaded {
        job,
        copied,
        tables,
        key_ranges: std::collections::BTreeMap::new(),
    })
}

/// The report's tables, by source name.
fn table_reports(job: &CopyJob, copied: &[TableCopied]) -> Vec<TableReport> {
    let mut tables: Vec<TableReport> = copied
        .iter()
        .map(|table| {
            let plan = &job.plans[table.index];
            TableReport {
                source: plan.source_name.clone(),
                target: plan.target.name.clone(),
                rule: plan.rule,
                rows: table.rows,
                bytes: table.bytes,
                seconds: table.seconds,
                load_method: table.method,
                chunks: table.chunks,
                columns: plan.columns.clone(),
                skipped_generated: plan.skipped_generated.clone(),
                night: None,
            }
        })
        .collect();
    tables.sort_by(|left, right| left.source.cmp(&right.source));
    tables
}
