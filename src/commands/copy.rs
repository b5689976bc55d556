//! `pg2dolt copy`: snapshot → catalogs → plan (checked on a scratch
//! database) → fresh database → schema → copy → fix-ups → verify → Dolt
//! commit; the target database is settled however it ends. With
//! `--no-target` the rows go into the archive only.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use tracing::info;

use super::{
    RunState, Untouched, commit, in_fresh_database, prepare_fill, resolve_copy_flags, run_started,
    verify,
};
use crate::archive::store::{Location, Store};
use crate::archive::writer::{self, ArchiveRun};
use crate::cli::CopyArgs;
use crate::copy::{
    CopyJob, DatabaseLoad, Destination, MEMORY_BUDGET, MemoryBudget, TableCopied, archived_tables,
    copy_tables,
};
use crate::error::{FailureKind, failure};
use crate::nightly::night::Decision;
use crate::output::Output;
use crate::plan::TablePlan;
use crate::plan::masking::baseline_of;
use crate::preflight::{self, Planned, SourceSide};
use crate::report::{CommandKind, TableReport};
use crate::settings::Settings;
use crate::signal::Stop;

/// Runs `pg2dolt copy`; returns the exit code.
pub async fn run(arguments: &CopyArgs) -> u8 {
    let mut output = Output::new(arguments.logging.log_format, None);
    let stop = Stop::listen();
    let (mut settings, report) = match resolve_copy_flags(arguments, CommandKind::Copy, &output) {
        Ok(resolved) => resolved,
        Err(code) => return code,
    };
    let mut progress = RunState::default();
    let result = run_started(&mut output, &mut settings, async |settings| {
        Box::pin(copy(settings, &stop, &mut progress)).await
    })
    .await;
    let Err(error) = result else {
        return output.succeed(progress.into_report(report)).await;
    };
    let untouched = if settings.storage.dump_only {
        Untouched::Said("no target database (dump only)")
    } else {
        Untouched::NotCreated(&settings.database)
    };
    Box::pin(progress.fail(&output, report, &error, untouched)).await
}

/// The copy's phases; `progress` gets what each returns.
async fn copy(settings: &Settings, stop: &Stop, progress: &mut RunState) -> anyhow::Result<()> {
    let archive_store = open_archive(settings).await?;
    let source = stop.run(preflight::open_source(settings)).await?;
    progress.snapshot = Some(source.snapshot.clone());
    let mut target = stop
        .run(preflight::open_target(&settings.target, &settings.database))
        .await?;
    progress.server = Some(target.server.clone());
    if target.exists && !settings.target_database.replace && !settings.storage.dump_only {
        return Err(super::exists_without_replace(&settings.database));
    }
    let (planned, archive) = plan_and_archive(
        settings,
        stop,
        &source,
        &mut target,
        archive_store,
        progress,
    )
    .await?;
    if settings.storage.dump_only {
        let archive = archive.context("--no-target needs --archive")?;
        return stop
            .run(dump_only(settings, &source, planned, &archive, progress))
            .await;
    }
    let server = target.server.clone();
    let (address, database) = (&settings.target, settings.database.as_str());
    in_fresh_database(
        target,
        address,
        database,
        settings.target_database.keep_failed,
        stop,
        progress,
        async |progress| {
            fill(
                settings,
                &source,
                planned,
                archive.as_ref(),
                &server,
                progress,
            )
            .await
        },
    )
    .await
}

/// The plan, made and checked (its problems refuse the run), then the
/// archive started when one was asked for (copy and refresh).
pub(super) async fn plan_and_archive(
    settings: &Settings,
    stop: &Stop,
    source: &SourceSide,
    target: &mut crate::preflight::TargetSide,
    archive_store: Option<(Location, Store)>,
    progress: &mut RunState,
) -> anyhow::Result<(Planned, Option<ArchiveRun>)> {
    let planned = stop.run(preflight::plan(settings, source, target)).await?;
    preflight::log_findings(&planned.plan, true);
    progress.record_plan(&planned.plan);
    preflight::refuse_problems(&planned.plan.problems)?;
    preflight::log_plan(&planned.plan.tables);
    let archive = match archive_store {
        Some((location, store)) => Some(
            stop.run(writer::start(
                location,
                store,
                &settings.schema_files,
                &source.snapshot,
            ))
            .await?,
        ),
        None => None,
    };
    Ok((planned, archive))
}

/// The `--archive` location, checked before anything else happens (a
/// missing bucket or bad credentials stop the run at once).
pub(super) async fn open_archive(settings: &Settings) -> anyhow::Result<Option<(Location, Store)>> {
    let Some(location) = &settings.archive else {
        return Ok(None);
    };
    let storage = &settings.storage;
    let store = writer::open(location, storage.path_style, storage.part_size).await?;
    Ok(Some((location.clone(), store)))
}

/// `copy --no-target`: the rows go into the archive only; the plan was
/// made on the scratch database.
async fn dump_only(
    settings: &Settings,
    source: &SourceSide,
    planned: Planned,
    archive: &ArchiveRun,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let job = copy_job(
        settings,
        Destination::ArchiveOnly,
        planned.plan.tables,
        Some(archive),
        Vec::new(),
    );
    let (job, copied) = copy_rows(job, planned.readers).await?;
    progress.tables = table_reports(&job, &copied);
    finish_archive(settings, source, archive, &job, &copied, progress).await
}

/// The archive's manifest, written once every table is in it.
async fn finish_archive(
    settings: &Settings,
    source: &SourceSide,
    archive: &ArchiveRun,
    job: &CopyJob,
    copied: &[TableCopied],
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let tables = archived_tables(&job.plans, copied);
    progress.archive = Some(
        archive
            .finish(&settings.source_display, &source.snapshot, tables)
            .await?,
    );
    Ok(())
}

/// Everything after the fresh database exists: schema, copy, fix-ups,
/// verify, archive manifest, commit.
async fn fill(
    settings: &Settings,
    source: &SourceSide,
    planned: Planned,
    archive: Option<&ArchiveRun>,
    server: &crate::mysql::TargetServer,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let (mut conn, targets, route) = prepare_fill(
        &settings.target,
        &settings.database,
        &settings.schema_files,
        settings.target_database.load_method,
        server,
        progress,
    )
    .await?;
    let into = Filling {
        database: &settings.database,
        conn: &mut conn,
        targets: &targets,
        route,
        server,
    };
    load_planned(settings, source, planned, archive, into, None, progress).await?;
    let options = &settings.target_database;
    commit(
        &mut conn,
        server,
        options,
        "copy",
        &source.snapshot,
        progress,
    )
    .await?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// The database being filled: its name (`database/branch` on a branch),
/// a connection to it, its catalog after the schema files, the load route.
pub(super) struct Filling<'a> {
    pub database: &'a str,
    pub conn: &'a mut mysql_async::Conn,
    pub targets: &'a [crate::mysql::catalog::TargetTable],
    pub route: crate::mysql::load::Route,
    pub server: &'a crate::mysql::TargetServer,
}

/// The planned tables into a database whose schema is in place: its
/// catalog checked against the plan's, every table copied, fix-ups and
/// verification, the masking baseline, the archive's manifest (copy and
/// refresh).
pub(super) async fn load_planned(
    settings: &Settings,
    source: &SourceSide,
    planned: Planned,
    archive: Option<&ArchiveRun>,
    into: Filling<'_>,
    night: Option<&Decision>,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    // The plan was made on a scratch database from the same files.
    if into.targets != planned.catalog {
        return Err(failure(
            FailureKind::Plan,
            format!(
                "the schema files made other tables in {} than in the scratch database the plan was checked on (do they depend on the server's state, or was the database changed by hand?)",
                into.database
            ),
        ));
    }
    let destination = Destination::Database(DatabaseLoad {
        target: settings.target.clone(),
        database: into.database.to_string(),
        route: into.route,
        kind: into.server.kind,
    });
    let filters = night.map(Decision::filters).unwrap_or_default();
    let plans = planned.plan.tables;
    // A night counts its delta tables' source rows while the copy runs.
    let counting = async {
        match night {
            Some(decision) => {
                let coordinator = &source.coordinator;
                crate::nightly::night::count_delta_tables(coordinator, &plans, &decision.methods)
                    .await
            }
            None => Ok(Vec::new()),
        }
    };
    let job = copy_job(settings, destination, plans.clone(), archive, filters);
    let (copied, counted) = tokio::join!(copy_rows(job, planned.readers), counting);
    let (job, copied) = copied?;
    let counted = counted?;
    progress.tables = table_reports(&job, &copied);
    if into.server.kind == crate::mysql::TargetKind::Dolt {
        // Before anything else writes on this branch (see `connect_loader`).
        crate::mysql::dolt::clear_sequencing_violations(into.conn).await?;
    }
    if let Some(decision) = night {
        let sides = crate::nightly::deletes::Sides::of(settings, source, into.database);
        let redo = settle_night(
            into.conn,
            &sides,
            decision,
            (&job, &copied, &counted),
            progress,
        )
        .await?;
        if !redo.is_empty() {
            reload_in_full(settings, source, &into, &job, &redo, progress).await?;
        }
    }
    verify(into.conn, into.server, into.targets, progress).await?;
    if let Some(masking) = &settings.masking {
        let baseline = baseline_of(&job.plans, &masking.rules);
        crate::mysql::mask_baseline::record(into.conn, into.database, &baseline).await?;
    }
    if let Some(archive) = archive {
        finish_archive(settings, source, archive, &job, &copied, progress).await?;
    }
    Ok(())
}

/// A refresh night's tables after their copy: the deltas' deleted rows
/// deleted, and each table's report told how it was loaded and how many
/// rows it must now hold.
async fn settle_night(
    conn: &mut mysql_async::Conn,
    sides: &crate::nightly::deletes::Sides<'_>,
    decision: &Decision,
    (job, copied, counted): (&CopyJob, &[TableCopied], &[Option<u64>]),
    progress: &mut RunState,
) -> anyhow::Result<Vec<usize>> {
    let sent: Vec<u64> = (0..job.plans.len())
        .map(|index| {
            copied
                .iter()
                .filter(|table| table.index == index)
                .map(|table| table.rows)
                .sum()
        })
        .collect();
    let settled =
        crate::nightly::night::settle_tables(conn, sides, &job.plans, decision, (&sent, counted))
            .await?;
    let mut redo = Vec::new();
    for (index, (plan, settled)) in job.plans.iter().zip(settled).enumerate() {
        let Some((night, rows)) = settled else {
            redo.push(index);
            continue;
        };
        if let Some(table) = progress
            .tables
            .iter_mut()
            .find(|table| table.source == plan.source_name && table.target == plan.target.name)
        {
            table.rows = rows;
            table.night = Some(night);
        }
    }
    Ok(redo)
}

/// The tables of `job` at `redo` (deltas that did not add up) emptied and
/// copied again in full, on new readers inside the snapshot.
async fn reload_in_full(
    settings: &Settings,
    source: &SourceSide,
    into: &Filling<'_>,
    job: &CopyJob,
    redo: &[usize],
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let plans: Vec<TablePlan> = redo.iter().map(|&index| job.plans[index].clone()).collect();
    let names: Vec<&str> = plans.iter().map(|plan| plan.target.name.as_str()).collect();
    let mut conn = crate::mysql::connect(&settings.target, Some(into.database)).await?;
    crate::mysql::empty_tables(&mut conn, &names).await?;
    let readers = preflight::open_readers(settings, source, &plans, into.server.kind).await?;
    let destination = Destination::Database(DatabaseLoad {
        target: settings.target.clone(),
        database: into.database.to_string(),
        route: into.route,
        kind: into.server.kind,
    });
    let again = copy_job(settings, destination, plans, None, Vec::new());
    let (again, copied) = copy_rows(again, readers).await?;
    if into.server.kind == crate::mysql::TargetKind::Dolt {
        crate::mysql::dolt::clear_sequencing_violations(&mut conn).await?;
    }
    let _ = conn.disconnect().await;
    for mut reloaded in table_reports(&again, &copied) {
        reloaded.night = Some(crate::nightly::night::reloaded(reloaded.rows));
        if let Some(table) = progress
            .tables
            .iter_mut()
            .find(|table| table.source == reloaded.source && table.target == reloaded.target)
        {
            *table = reloaded;
        }
    }
    Ok(())
}

fn copy_job(
    settings: &Settings,
    destination: Destination,
    plans: Vec<TablePlan>,
    archive: Option<&ArchiveRun>,
    filters: Vec<Option<String>>,
) -> Arc<CopyJob> {
    Arc::new(CopyJob {
        destination,
        chunk_rows: settings.chunk_rows,
        archive: archive.map(ArchiveRun::job),
        plans,
        budget: MemoryBudget::new(MEMORY_BUDGET),
        filters,
    })
}

/// The copy phase: every table, on the plan's readers.
async fn copy_rows(
    job: Arc<CopyJob>,
    readers: Vec<crate::postgres::reader::Reader>,
) -> anyhow::Result<(Arc<CopyJob>, Vec<TableCopied>)> {
    let started = Instant::now();
    let copied = copy_tables(Arc::clone(&job), readers).await?;
    info!(
        tables = copied.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "copy done"
    );
    Ok((job, copied))
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
