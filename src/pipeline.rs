//! One run, phase by phase: snapshot → catalog → target → plan → copy →
//! fix-ups → verify → commit. Each phase is a short function and logs its
//! duration; the report is filled in as the run goes, so a failed run still
//! reports how far it got.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mysql_async::Conn;
use tracing::{debug, error, info, warn};

use crate::archiving::ArchiveRun;
use crate::checks::run_checks;
use crate::cli::LoadMethodArg;
use crate::copy::{CopyJob, MEMORY_BUDGET, MemoryBudget, copy_tables};
use crate::error::{FailureKind, failure};
use crate::plan::{Plan, Problem, ProblemKind, TablePlan, build_plan};
use crate::report::{PlannedTable, Report, TableReport};
use crate::settings::Settings;
use crate::postgres::catalog::{SourceTable, read_catalog};
use crate::postgres::snapshot::{Snapshot, export_snapshot, open_reader};
use crate::mysql::catalog::TargetTable;
use crate::mysql::finish::{apply_schema, commit_if_dolt, finish};
use crate::mysql::load::LoadMethod;
use crate::mysql::load::choose_route;
use crate::mysql::{TargetKind, TargetServer, schema};

/// What the phases before the copy learned.
struct Prepared {
    /// holds the snapshot open until the copy is done
    coordinator: tokio_postgres::Client,
    snapshot: Snapshot,
    /// the source tables to copy
    tables: Vec<SourceTable>,
    /// source tables left out by --include/--exclude
    excluded: Vec<SourceTable>,
    /// a connection to the target server, no database selected
    admin: Conn,
    server: TargetServer,
    /// the target database exists already
    exists: bool,
}

/// Snapshot, source catalog, target server: everything both commands need
/// before planning.
async fn prepare(settings: &Settings, report: &mut Report) -> anyhow::Result<Prepared> {
    report.source.clone_from(&settings.source_display);
    report.target.clone_from(&settings.target_display);
    report.database.clone_from(&settings.database);
    report.schema.clone_from(&settings.schema_origin);

    let coordinator = crate::postgres::connect(&settings.source, "coordinator").await?;
    let started = Instant::now();
    let snapshot = export_snapshot(&coordinator).await?;
    info!(snapshot = %snapshot.id, time = %snapshot.time, wal_lsn = ?snapshot.wal_lsn, elapsed_ms = started.elapsed().as_millis() as u64, "snapshot exported");
    report.snapshot = Some(snapshot.clone());

    let started = Instant::now();
    let catalog = read_catalog(
        &coordinator,
        &settings.source_schemas,
        settings.partitions_as_tables,
    )
    .await?;
    for pattern in settings.selection.unmatched_includes(&catalog) {
        warn!(pattern = %pattern, "--include matches no source table");
    }
    let (tables, excluded) = settings.selection.split(catalog);
    info!(
        tables = tables.len(),
        excluded = excluded.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "source catalog read"
    );
    if tables.is_empty() {
        return Err(failure(
            FailureKind::Plan,
            format!(
                "no source table to copy in schema {}{}",
                settings.source_schemas.join(", "),
                if excluded.is_empty() {
                    ""
                } else {
                    " (all are excluded)"
                }
            ),
        ));
    }

    let mut admin = crate::mysql::connect(&settings.target, None).await?;
    let server = crate::mysql::detect_server(&mut admin).await?;
    info!(kind = ?server.kind, version = %server.describe(), "target server");
    report.target_kind = Some(server.kind);
    report.target_version = Some(server.describe());
    let exists = crate::mysql::database_exists(&mut admin, &settings.database).await?;
    Ok(Prepared {
        coordinator,
        snapshot,
        tables,
        excluded,
        admin,
        server,
        exists,
    })
}

/// Runs `pg2dolt plan`: every problem a copy would meet, without moving
/// data. The report carries the plan and the problems.
pub async fn run_plan(settings: &Settings, report: &mut Report) -> anyhow::Result<()> {
    let mut prepared = prepare(settings, report).await?;
    let mut plan = check_plan_on_scratch(settings, &mut prepared).await?;
    if prepared.exists && !settings.replace {
        plan.problems.push(Problem::new(
            ProblemKind::TargetExists,
            format!(
                "database {} exists; copy would refuse it without --replace",
                settings.database
            ),
        ));
    }
    record_plan(report, &plan);
    let _ = prepared.admin.disconnect().await;
    Ok(())
}

/// Runs one copy. The report is updated as phases complete.
pub async fn run(settings: &Settings, report: &mut Report) -> anyhow::Result<()> {
    let archive_store = crate::archiving::open(settings).await?;
    let mut prepared = prepare(settings, report).await?;
    if prepared.exists && !settings.replace && !settings.storage.dump_only {
        return Err(failure(
            FailureKind::Usage,
            format!(
                "target database {} already exists; pass --replace to drop and recreate it (it was left untouched)",
                settings.database
            ),
        ));
    }
    let plan = check_plan_on_scratch(settings, &mut prepared).await?;
    record_plan(report, &plan);
    refuse_problems(&plan.problems)?;

    let archive = match archive_store {
        Some((location, store)) => {
            Some(crate::archiving::start(location, store, settings, &prepared.snapshot).await?)
        }
        None => None,
    };
    let Prepared {
        coordinator,
        snapshot,
        tables,
        excluded,
        mut admin,
        server,
        exists,
    } = prepared;
    if let (true, Some(archive)) = (settings.storage.dump_only, &archive) {
        let dumped = dump_only(settings, &snapshot, plan.tables, archive, report).await;
        drop(coordinator);
        let _ = admin.disconnect().await;
        return dumped;
    }
    if exists {
        warn!(database = %settings.database, "dropping the existing target database (--replace)");
        crate::mysql::drop_database(&mut admin, &settings.database).await?;
        report.steps.existing_dropped = true;
    }
    crate::mysql::create_database(&mut admin, &settings.database, server.kind).await?;
    report.steps.created = true;
    info!(database = %settings.database, "target database created");
    let sources = Sources {
        tables: &tables,
        excluded: &excluded,
    };
    let filled = fill_database(
        settings,
        &server,
        &snapshot,
        sources,
        archive.as_ref(),
        report,
    )
    .await;
    drop(coordinator);
    // A failure is settled by the caller, on a connection of its own.
    let _ = admin.disconnect().await;
    filled
}

/// After a failed or interrupted copy: drops the incomplete database this
/// run created (unless --keep-failed) and records what state the target
/// was left in; returns that state for people.
pub async fn abandon_target(settings: &Settings, report: &mut Report, limit: Duration) -> String {
    if settings.storage.dump_only {
        return "no target database (dump only)".to_string();
    }
    report
        .abandon_target(
            &settings.target,
            &settings.database,
            settings.keep_failed,
            limit,
        )
        .await
}

/// The plan's problems and warnings, in the log and the report.
fn record_plan(report: &mut Report, plan: &Plan) {
    for warning in &plan.warnings {
        warn!("{warning}");
    }
    // `plan` shows its problems as a table; a copy logs them.
    if report.command == "copy" {
        for problem in &plan.problems {
            let table = problem
                .source_table
                .as_deref()
                .or(problem.target_table.as_deref())
                .unwrap_or("-");
            error!(kind = ?problem.kind, table, "plan: {problem}");
        }
    }
    report.planned = plan.tables.iter().map(PlannedTable::from).collect();
    report.problems.clone_from(&plan.problems);
    report.warnings.clone_from(&plan.warnings);
}

/// How many problems the one-line error of a refused copy names; the log
/// and the report list them all.
const LISTED: usize = 10;

/// Stops a copy that would fail: exit code 6 when only data is at fault
/// (the schema is right, some values do not fit), else 3.
fn refuse_problems(problems: &[Problem]) -> anyhow::Result<()> {
    if problems.is_empty() {
        return Ok(());
    }
    let data_only = problems
        .iter()
        .all(|problem| matches!(problem.kind, ProblemKind::Value | ProblemKind::Collision));
    let kind = if data_only {
        FailureKind::Data
    } else {
        FailureKind::Plan
    };
    let mut listed: Vec<String> = problems
        .iter()
        .take(LISTED)
        .map(ToString::to_string)
        .collect();
    if problems.len() > LISTED {
        listed.push(format!(
            "and {} more (all are in the log and the report; `pg2dolt plan` shows them as a table)",
            problems.len() - LISTED
        ));
    }
    Err(failure(
        kind,
        format!(
            "the plan found {} problem(s); nothing was copied: {}",
            problems.len(),
            listed.join("; ")
        ),
    ))
}

/// Applies the schema files to a scratch database, plans against it and
/// checks the source data, so bad schema SQL, a mismatch or a value that
/// does not fit stops the run before any existing database is touched and
/// before any data moves.
async fn check_plan_on_scratch(
    settings: &Settings,
    prepared: &mut Prepared,
) -> anyhow::Result<Plan> {
    let started = Instant::now();
    // Unique across concurrent runs, also in containers where every job is
    // process 1: the wall clock's nanoseconds tell them apart.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let scratch = format!("pg2dolt_plan_{}_{nanos}", std::process::id());
    crate::mysql::create_database(&mut prepared.admin, &scratch, prepared.server.kind).await?;
    let targets = async {
        let mut conn = crate::mysql::connect(&settings.target, Some(&scratch)).await?;
        schema::apply_schema_files(&mut conn, &settings.schema_files).await?;
        let targets = crate::mysql::catalog::read_catalog(&mut conn, &scratch).await?;
        let local = match (settings.load_method, targets.first()) {
            (LoadMethodArg::Insert, _) | (_, None) => true,
            (_, Some(table)) => {
                crate::mysql::load::accepts_local_infile(&mut conn, &table.name).await?
            }
        };
        let _ = conn.disconnect().await;
        anyhow::Ok((targets, local))
    }
    .await;
    crate::mysql::drop_database(&mut prepared.admin, &scratch)
        .await
        .context("dropping the scratch database")?;
    let (targets, local_infile) = targets?;
    let mut plan = build_plan(
        &prepared.tables,
        &prepared.excluded,
        &targets,
        &settings.mappings,
    );
    info!(
        tables = plan.tables.len(),
        problems = plan.problems.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "plan checked on a scratch database"
    );
    let started = Instant::now();
    let readers = settings.jobs.min(plan.tables.len()).max(1);
    let mut clients = Vec::with_capacity(readers);
    for index in 0..readers {
        clients.push(
            open_reader(
                &settings.source,
                &prepared.snapshot.id,
                &format!("checker {index}"),
            )
            .await?
            .client,
        );
    }
    let found = run_checks(&clients, &plan.tables).await?;
    info!(
        problems = found.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "source data checked"
    );
    plan.problems.extend(found);
    plan.warnings.extend(collation_warnings(&plan.tables));
    if !local_infile {
        plan.warnings.push(local_infile_refused(
            prepared.server.kind,
            settings.load_method,
        ));
    }
    Ok(plan)
}

/// What the plan says once when the target refuses LOAD DATA LOCAL, with
/// the setting that enables it.
fn local_infile_refused(kind: TargetKind, requested: LoadMethodArg) -> String {
    let fix = match kind {
        TargetKind::Dolt => {
            "in the sql-server's config.yaml: `system_variables: {local_infile: 1}` (or SET GLOBAL local_infile = 1)"
        }
        TargetKind::Mysql => {
            "SET GLOBAL local_infile = 1 (or local_infile=1 in the server's config)"
        }
    };
    let consequence = match (requested, kind) {
        (LoadMethodArg::LoadData, _) => "copy --load-method load-data stops (exit 2)",
        (_, TargetKind::Dolt) => {
            "rows are loaded with INSERT statements, pg2dolt's default on Dolt anyway (faster there); --load-method load-data needs it"
        }
        (_, TargetKind::Mysql) => "rows are loaded with INSERT statements (slower)",
    };
    format!("the target refuses LOAD DATA LOCAL INFILE: {consequence}; to enable it, {fix}")
}

/// A unique key that ignores case may turn distinct Postgres values into
/// duplicates; the check folds case with lower(), which approximates the
/// collation (accent-insensitive ones fold more).
fn collation_warnings(plans: &[TablePlan]) -> Vec<String> {
    let mut warnings = Vec::new();
    for plan in plans {
        for key in &plan.target_table.unique_keys {
            let folding: Vec<String> = key
                .iter()
                .filter_map(|name| plan.target_table.columns.iter().find(|c| &c.name == name))
                .filter(|column| column.ignores_case())
                .map(|column| {
                    format!(
                        "{} ({})",
                        column.name,
                        column.collation.as_deref().unwrap_or_default()
                    )
                })
                .collect();
            if !folding.is_empty() {
                warnings.push(format!(
                    "target table {}: a unique key compares {} ignoring case; pg2dolt checked the source for values equal after lower(), but the collation may also fold accents",
                    plan.target,
                    folding.join(", ")
                ));
            }
        }
    }
    warnings
}

/// The source tables copied and those left out.
#[derive(Clone, Copy)]
struct Sources<'a> {
    tables: &'a [SourceTable],
    excluded: &'a [SourceTable],
}

/// Builds the plan on the new database; it matches the scratch plan, which
/// had no problems.
fn plan_tables(
    settings: &Settings,
    sources: Sources<'_>,
    targets: &[TargetTable],
) -> anyhow::Result<Vec<TablePlan>> {
    let plan = build_plan(
        sources.tables,
        sources.excluded,
        targets,
        &settings.mappings,
    );
    refuse_problems(&plan.problems)?;
    Ok(plan.tables)
}

/// The plan, column by column, at `-v` (the report has it too).
fn log_plan(plans: &[TablePlan]) {
    for plan in plans {
        debug!(table = %plan.source_name, target = %plan.target, rule = %plan.rule, "plan: table");
        for column in &plan.columns {
            debug!(
                table = %plan.source_name, target_table = %plan.target,
                source = %column.source, source_type = %column.source_type,
                target = %column.target, target_type = %column.target_type,
                rule = %column.rule, "plan: column"
            );
        }
        for generated in &plan.skipped_generated {
            debug!(table = %plan.source_name, target_table = %plan.target, column = %generated, "plan: generated column skipped (the target computes it)");
        }
    }
}

/// Everything after the fresh database exists: schema, copy, fix-ups,
/// verify, commit.
async fn fill_database(
    settings: &Settings,
    server: &TargetServer,
    snapshot: &Snapshot,
    sources: Sources<'_>,
    archive: Option<&ArchiveRun>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut conn = crate::mysql::connect(&settings.target, Some(&settings.database)).await?;
    let targets = apply_schema(&mut conn, &settings.database, &settings.schema_files).await?;
    let plans = plan_tables(settings, sources, &targets)?;
    log_plan(&plans);

    let (method, insert_chunk) =
        choose_route(&mut conn, settings.load_method, server.kind, &targets).await?;
    report.load_method = Some(method);
    let job = Arc::new(CopyJob {
        source: settings.source.clone(),
        snapshot_id: snapshot.id.clone(),
        target: Some(settings.target.clone()),
        database: settings.database.clone(),
        method,
        binary_tables_by_insert: server.kind == TargetKind::Dolt,
        text_null_is_null: server.kind == TargetKind::Dolt,
        one_range_per_table: server.kind == TargetKind::Dolt,
        load_data_chunk: LOAD_DATA_CHUNK,
        insert_chunk,
        chunk_rows: settings.chunk_rows,
        archive: archive.map(ArchiveRun::job),
        plans,
        budget: MemoryBudget::new(MEMORY_BUDGET),
    });
    let copied = run_copy(settings, &job, report).await?;
    let expected: Vec<(String, String, u64)> = copied
        .iter()
        .map(|table| {
            let plan = &job.plans[table.index];
            (plan.source_name.clone(), plan.target.clone(), table.rows)
        })
        .collect();
    report.record_finish(finish(&mut conn, server, &targets, &expected).await?);
    if let Some(archive) = archive {
        report.archive = Some(
            archive
                .finish(settings, snapshot, &job.plans, &copied)
                .await?,
        );
    }
    let message = settings
        .commit_message
        .clone()
        .unwrap_or_else(|| default_commit_message(snapshot));
    report.dolt_commit = commit_if_dolt(
        &mut conn,
        server,
        &message,
        &settings.author,
        &snapshot.time,
    )
    .await?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// `copy --no-target`: the data goes into the archive only. The plan was
/// made on the scratch database.
async fn dump_only(
    settings: &Settings,
    snapshot: &Snapshot,
    plans: Vec<TablePlan>,
    archive: &ArchiveRun,
    report: &mut Report,
) -> anyhow::Result<()> {
    log_plan(&plans);
    let job = Arc::new(CopyJob {
        source: settings.source.clone(),
        snapshot_id: snapshot.id.clone(),
        target: None,
        database: settings.database.clone(),
        method: LoadMethod::LoadData,
        binary_tables_by_insert: false,
        text_null_is_null: false,
        one_range_per_table: false,
        load_data_chunk: LOAD_DATA_CHUNK,
        insert_chunk: LOAD_DATA_CHUNK,
        chunk_rows: settings.chunk_rows,
        archive: Some(archive.job()),
        plans,
        budget: MemoryBudget::new(MEMORY_BUDGET),
    });
    let copied = run_copy(settings, &job, report).await?;
    report.archive = Some(
        archive
            .finish(settings, snapshot, &job.plans, &copied)
            .await?,
    );
    Ok(())
}

/// Runs the copy and records every table in the report.
async fn run_copy(
    settings: &Settings,
    job: &Arc<CopyJob>,
    report: &mut Report,
) -> anyhow::Result<Vec<crate::copy::TableCopied>> {
    let started = Instant::now();
    let copied = copy_tables(Arc::clone(job), settings.jobs).await?;
    info!(
        tables = copied.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "copy done"
    );
    for table in &copied {
        let plan = &job.plans[table.index];
        report.rows_total += table.rows;
        report.bytes_total += table.bytes;
        report.tables.push(TableReport {
            source: plan.source_name.clone(),
            target: plan.target.clone(),
            rule: plan.rule,
            rows: table.rows,
            bytes: table.bytes,
            seconds: table.seconds,
            load_method: table.method,
            chunks: table.chunks,
            columns: plan.columns.clone(),
            skipped_generated: plan.skipped_generated.clone(),
        });
    }
    report
        .tables
        .sort_by(|left, right| left.source.cmp(&right.source));
    Ok(copied)
}

/// LOAD DATA streams chunks of this size.
const LOAD_DATA_CHUNK: usize = 256 * 1024;

fn default_commit_message(snapshot: &Snapshot) -> String {
    let lsn = snapshot
        .wal_lsn
        .as_deref()
        .map_or_else(String::new, |lsn| format!(", WAL {lsn}"));
    format!(
        "pg2dolt: copy of Postgres database {} as of {} (snapshot {}{lsn})",
        snapshot.database, snapshot.time, snapshot.id
    )
}
