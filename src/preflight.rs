//! Everything copy and plan do before any data moves, each phase returning
//! what it learned: the snapshot and the source catalog, the target
//! server, and the plan — made once, on a scratch database the schema
//! files are applied to, with the source data checked against it on the
//! snapshot's readers (opened here once, then handed to the copy).

use std::time::Instant;

use anyhow::Context as _;
use mysql_async::Conn;
use tracing::{debug, error, info, warn};

use crate::checks::run_checks;
use crate::error::{FailureKind, failure};
use crate::mask::Baseline;
use crate::mysql::catalog::TargetTable;
use crate::mysql::load::LoadRequest;
use crate::mysql::{TargetAddress, TargetKind, TargetServer, schema};
use crate::plan::masking::{Masking, apply_masks};
use crate::plan::{Plan, Problem, ProblemKind, TablePlan, build_plan};
use crate::postgres::catalog::{SourceTable, read_catalog};
use crate::postgres::reader::Reader;
use crate::postgres::snapshot::{Snapshot, export_snapshot, open_reader};
use crate::settings::Settings;

/// The source side: the snapshot and the tables in it.
pub struct SourceSide {
    /// holds the snapshot open until the copy is done
    pub coordinator: tokio_postgres::Client,
    /// the snapshot every reader imports
    pub snapshot: Snapshot,
    /// the source tables to copy
    pub tables: Vec<SourceTable>,
    /// source tables left out by --include/--exclude
    pub excluded: Vec<SourceTable>,
}

/// The target side: the server, before its database is touched.
pub struct TargetSide {
    /// a connection with no database selected
    pub admin: Conn,
    /// what the server is
    pub server: TargetServer,
    /// the target database exists already
    pub exists: bool,
}

/// The plan, made and checked once.
pub struct Planned {
    /// the table pairs, problems and warnings
    pub plan: Plan,
    /// the catalog the schema files make (on the scratch database)
    pub catalog: Vec<TargetTable>,
    /// readers inside the snapshot, one per worker, for the copy
    pub readers: Vec<Reader>,
}

/// Exports the snapshot and reads the source catalog inside it.
pub async fn open_source(settings: &Settings) -> anyhow::Result<SourceSide> {
    let coordinator = crate::postgres::connect(&settings.source, "coordinator").await?;
    let started = Instant::now();
    let snapshot = export_snapshot(&coordinator).await?;
    info!(snapshot = %snapshot.id, time = %snapshot.time, wal_lsn = ?snapshot.wal_lsn, elapsed_ms = started.elapsed().as_millis() as u64, "snapshot exported");

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
        let all = if excluded.is_empty() {
            ""
        } else {
            " (all are excluded)"
        };
        return Err(failure(
            FailureKind::Plan,
            format!(
                "no source table to copy in schema {}{all}",
                settings.source_schemas.join(", ")
            ),
        ));
    }
    Ok(SourceSide {
        coordinator,
        snapshot,
        tables,
        excluded,
    })
}

/// Connects to the target server and asks whether `database` exists
/// (copy, plan and restore).
pub async fn open_target(target: &TargetAddress, database: &str) -> anyhow::Result<TargetSide> {
    let mut admin = crate::mysql::connect(target, None).await?;
    let server = crate::mysql::detect_server(&mut admin).await?;
    info!(kind = ?server.kind, version = %server.describe(), "target server");
    let exists = crate::mysql::database_exists(&mut admin, database).await?;
    Ok(TargetSide {
        admin,
        server,
        exists,
    })
}

/// Applies the schema files to a scratch database, plans against it and
/// checks the source data, so bad schema SQL, a mismatch or a value that
/// does not fit stops the run before any existing database is touched and
/// before any data moves.
pub async fn plan(
    settings: &Settings,
    source: &SourceSide,
    target: &mut TargetSide,
) -> anyhow::Result<Planned> {
    let started = Instant::now();
    let (catalog, local_infile) = read_scratch_catalog(settings, target).await?;
    let mut plan = build_plan(
        &source.tables,
        &source.excluded,
        &catalog,
        &settings.mappings,
    );
    if let Some(masking) = &settings.masking {
        let known = known_baseline(settings, masking, target).await?;
        let problems = apply_masks(&mut plan, masking, known.as_ref());
        plan.problems.extend(problems);
    }
    info!(
        tables = plan.tables.len(),
        problems = plan.problems.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "plan checked on a scratch database"
    );
    let started = Instant::now();
    let count = reader_count(settings, &plan.tables, target.server.kind);
    let mut readers = Vec::with_capacity(count);
    for index in 1..=count {
        let role = format!("reader {index}");
        readers.push(open_reader(&settings.source, &source.snapshot.id, &role).await?);
    }
    let found = run_checks(&readers, &plan.tables).await?;
    info!(
        problems = found.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "source data checked"
    );
    plan.problems.extend(found);
    plan.warnings.extend(collation_warnings(&plan.tables));
    if !local_infile {
        plan.warnings.push(local_infile_refused(
            target.server.kind,
            settings.target_database.load_method,
        ));
    }
    Ok(Planned {
        plan,
        catalog,
        readers,
    })
}

/// The masking baseline the target database recorded (on the published
/// branch for a refresh), when it exists.
async fn known_baseline(
    settings: &Settings,
    masking: &Masking,
    target: &mut TargetSide,
) -> anyhow::Result<Option<Baseline>> {
    if !target.exists {
        return Ok(None);
    }
    let database = match &masking.branch {
        Some(branch) => format!("{}/{branch}", settings.database),
        None => settings.database.clone(),
    };
    crate::mysql::mask_baseline::read(&mut target.admin, &database).await
}

/// The scratch database's catalog after the schema files, and whether it
/// takes LOAD DATA LOCAL (not asked when INSERT was asked for). The
/// scratch database is dropped however this ends.
async fn read_scratch_catalog(
    settings: &Settings,
    target: &mut TargetSide,
) -> anyhow::Result<(Vec<TargetTable>, bool)> {
    // Unique across concurrent runs, also in containers where every job is
    // process 1: the wall clock's nanoseconds tell them apart.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let scratch = format!("pg2dolt_plan_{}_{nanos}", std::process::id());
    crate::mysql::create_database(&mut target.admin, &scratch, target.server.kind).await?;
    let read = async {
        let mut conn = crate::mysql::connect(&settings.target, Some(&scratch)).await?;
        schema::apply_schema_files(&mut conn, &settings.schema_files).await?;
        let catalog = crate::mysql::catalog::read_catalog(&mut conn, &scratch).await?;
        let local = match (settings.target_database.load_method, catalog.first()) {
            (LoadRequest::Insert, _) | (_, None) => true,
            (_, Some(table)) => {
                crate::mysql::load::accepts_local_infile(&mut conn, &table.name).await?
            }
        };
        let _ = conn.disconnect().await;
        anyhow::Ok((catalog, local))
    }
    .await;
    crate::mysql::drop_database(&mut target.admin, &scratch)
        .await
        .context("dropping the scratch database")?;
    read
}

/// One reader per worker: `--jobs`, but no more than there is work for
/// (a table, or each range of a large table; one range at a time per
/// table where the target loads them so, as the copy's queue does).
/// Opens more readers inside the snapshot (the plan's went to a copy):
/// as many as the plan opened for `tables`.
pub async fn open_readers(
    settings: &Settings,
    source: &SourceSide,
    tables: &[TablePlan],
    kind: TargetKind,
) -> anyhow::Result<Vec<Reader>> {
    let count = reader_count(settings, tables, kind);
    let mut readers = Vec::with_capacity(count);
    for index in 1..=count {
        let role = format!("reader {index}");
        readers.push(open_reader(&settings.source, &source.snapshot.id, &role).await?);
    }
    Ok(readers)
}

fn reader_count(settings: &Settings, tables: &[TablePlan], kind: TargetKind) -> usize {
    let one_range = kind.one_range_per_table() && !settings.storage.dump_only;
    let work: u64 = tables
        .iter()
        .map(|table| {
            let rows = u64::try_from(table.source.estimated_rows).unwrap_or(0);
            if one_range {
                1
            } else {
                rows.div_ceil(settings.chunk_rows.max(1)).max(1)
            }
        })
        .sum();
    let work = usize::try_from(work).unwrap_or(usize::MAX);
    settings.target_database.jobs.min(work).max(1)
}

/// A refused copy's plan problems, one log line each (`plan` shows them
/// as a table), and the warnings.
pub fn log_findings(plan: &Plan, problems: bool) {
    for warning in &plan.warnings {
        warn!("{warning}");
    }
    if problems {
        for problem in &plan.problems {
            let table = problem
                .source_table
                .as_deref()
                .or(problem.target_table.as_deref())
                .unwrap_or("-");
            error!(kind = ?problem.kind, table, "plan: {problem}");
        }
    }
}

/// The plan, column by column, at `-v` (the report has it too).
pub fn log_plan(plans: &[TablePlan]) {
    for plan in plans {
        debug!(table = %plan.source_name, target = %plan.target.name, rule = %plan.rule, "plan: table");
        for column in &plan.columns {
            debug!(
                table = %plan.source_name, target_table = %plan.target.name,
                source = %column.source, source_type = %column.source_type,
                target = %column.target, target_type = %column.target_type,
                rule = %column.rule, "plan: column"
            );
        }
        for generated in &plan.skipped_generated {
            debug!(table = %plan.source_name, target_table = %plan.target.name, column = %generated, "plan: generated column skipped (the target computes it)");
        }
    }
}

/// How many problems the one-line error of a refused copy names; the log
/// and the report list them all.
const LISTED: usize = 10;

/// Stops a copy that would fail: exit code 6 when only data is at fault
/// (the schema is right, some values do not fit), else 3.
pub fn refuse_problems(problems: &[Problem]) -> anyhow::Result<()> {
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

/// The problem `plan` lists when the database exists without --replace.
#[must_use]
pub fn target_exists(database: &str) -> Problem {
    Problem::new(
        ProblemKind::TargetExists,
        format!("database {database} exists; copy would refuse it without --replace"),
    )
}

/// What the plan says once when the target refuses LOAD DATA LOCAL, with
/// the setting that enables it.
fn local_infile_refused(kind: TargetKind, requested: LoadRequest) -> String {
    let fix = match kind {
        TargetKind::Dolt => {
            "in the sql-server's config.yaml: `system_variables: {local_infile: 1}` (or SET GLOBAL local_infile = 1)"
        }
        TargetKind::Mysql => {
            "SET GLOBAL local_infile = 1 (or local_infile=1 in the server's config)"
        }
    };
    let consequence = match (requested, kind) {
        (LoadRequest::LoadData, _) => "copy --load-method load-data stops (exit 2)",
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
        for key in &plan.target.unique_keys {
            let folding: Vec<String> = key
                .iter()
                .filter_map(|name| plan.target.columns.iter().find(|c| &c.name == name))
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
                    plan.target.name,
                    folding.join(", ")
                ));
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_value_problems_refuse_with_the_data_exit_code() {
        assert!(refuse_problems(&[]).is_ok());
        let value = Problem::new(ProblemKind::Value, "too long");
        let error = refuse_problems(std::slice::from_ref(&value)).unwrap_err();
        assert_eq!(crate::error::exit_code(&error), 6);
        let missing = Problem::new(ProblemKind::TargetExists, "exists");
        let error = refuse_problems(&[value, missing]).unwrap_err();
        assert_eq!(crate::error::exit_code(&error), 3);
    }

    #[test]
    fn a_refusal_names_ten_problems_and_counts_the_rest() {
        let problems: Vec<Problem> = (0..12)
            .map(|index| Problem::new(ProblemKind::Value, format!("problem {index}")))
            .collect();
        let line = refuse_problems(&problems).unwrap_err().to_string();
        assert!(line.contains("12 problem(s)"), "{line}");
        assert!(
            line.contains("problem 9") && !line.contains("problem 10;"),
            "{line}"
        );
        assert!(line.contains("and 2 more"), "{line}");
    }
}
