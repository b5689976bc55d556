//! Everything copy, plan, refresh and verify do before any data moves,
//! each phase returning what it learned: the snapshot and the source
//! catalog, the target server, and the plan — made once, on a scratch
//! database the schema files are applied to, with the source data checked
//! against it on the snapshot's readers (opened here once, then handed to
//! the copy).

use std::time::Instant;

use anyhow::Context as _;
use mysql_async::Conn;
use tracing::{info, warn};

mod findings;

pub use findings::{log_findings, log_plan, refuse_problems, target_exists};

use crate::checks::run_checks;
use crate::error::{FailureKind, failure};
use crate::mask::Baseline;
use crate::mysql::catalog::TargetTable;
use crate::mysql::fresh::{FreshDatabase, TargetOutcome};
use crate::mysql::load::LoadRequest;
use crate::mysql::{TargetAddress, TargetKind, TargetServer, schema};
use crate::plan::masking::apply_masks;
use crate::plan::{Plan, TablePlan, build_plan};
use crate::postgres::catalog::{SourceTable, read_catalog};
use crate::postgres::reader::Reader;
use crate::postgres::snapshot::{Snapshot, export_snapshot, open_reader};
use crate::settings::Settings;

impl TargetSide {
    /// Creates the fresh `database` at `address` (an existing one dropped
    /// first: `--replace`); the admin session is closed (a failure is
    /// settled on a connection of its own).
    pub async fn create_fresh(
        self,
        address: &TargetAddress,
        database: &str,
    ) -> Result<FreshDatabase, (anyhow::Error, TargetOutcome)> {
        let TargetSide {
            mut admin,
            server,
            exists,
        } = self;
        let created =
            FreshDatabase::create(&mut admin, address, database, server.kind, exists).await;
        let _ = admin.disconnect().await;
        created
    }
}

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

impl Planned {
    /// The plan and catalog, for a second load (the readers stay here).
    #[must_use]
    pub fn without_readers(&self) -> Planned {
        Planned {
            plan: self.plan.clone(),
            catalog: self.catalog.clone(),
            readers: Vec::new(),
        }
    }
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
/// `baseline_branch`: the branch whose masking baseline counts (a
/// refresh's published branch; none: the database's default).
pub async fn plan_and_check(
    settings: &Settings,
    source: &SourceSide,
    target: &mut TargetSide,
    baseline_branch: Option<&str>,
) -> anyhow::Result<Planned> {
    let started = Instant::now();
    let (catalog, local_infile) = read_scratch_catalog(settings, target).await?;
    let mut plan = build_plan(
        &source.tables,
        &source.excluded,
        &catalog,
        &settings.mappings,
    );
    let known = known_baseline(settings, target, baseline_branch).await?;
    match (&settings.masking, known) {
        (Some(masking), known) => {
            let problems = apply_masks(&mut plan, masking, known.as_ref());
            plan.problems.extend(problems);
        }
        (None, Some(baseline)) if !settings.unmask => {
            return Err(masked_without_rules(&settings.database, &baseline));
        }
        (None, Some(baseline)) => {
            let tables: Vec<&String> = baseline.columns.keys().collect();
            warn!(database = %settings.database, ?tables,
                "--unmask: the database was masked; masking is turned off for good, the masked tables load in clear and the commit says so");
        }
        (None, None) => {}
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

/// A run without masking rules on a database that was masked: refused
/// (exit 3) before any data moves, naming the masked tables and the flags.
fn masked_without_rules(database: &str, baseline: &Baseline) -> anyhow::Error {
    let tables: Vec<&str> = baseline.columns.keys().map(String::as_str).collect();
    let sha = &baseline.rules_sha256[..12.min(baseline.rules_sha256.len())];
    failure(
        FailureKind::Plan,
        format!(
            "the database {database} is masked (rules SHA-256 {sha}…, tables {}) and this run has no --mask-rules: it would load their columns in clear; pass --mask-rules and --mask-key-file (PG2DOLT_MASK_RULES, PG2DOLT_MASK_KEY_FILE), or --unmask to turn masking off for good; nothing was done",
            tables.join(", ")
        ),
    )
}

/// The masking baseline the target database recorded (on the published
/// branch for a refresh), when it exists.
async fn known_baseline(
    settings: &Settings,
    target: &mut TargetSide,
    branch: Option<&str>,
) -> anyhow::Result<Option<Baseline>> {
    if !target.exists {
        return Ok(None);
    }
    let database = match branch {
        Some(branch) => crate::dolt::refs::revision(&settings.database, branch),
        None => settings.database.clone(),
    };
    crate::mysql::records::mask_baseline::read(&mut target.admin, &database).await
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
                crate::mysql::route::accepts_local_infile(&mut conn, &table.name).await?
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
    let one_range = kind.one_range_per_table()
        && settings.destination == crate::settings::Destination::Database;
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

/// The plan of a run that loads rows (copy, refresh, verify): made and
/// checked, its warnings and problems logged, and the tables at `-v`
/// when it may run. Its problems are refused by [`refuse_problems`].
pub async fn plan_checked(
    settings: &Settings,
    source: &SourceSide,
    target: &mut TargetSide,
    baseline_branch: Option<&str>,
) -> anyhow::Result<Planned> {
    let planned = plan_and_check(settings, source, target, baseline_branch).await?;
    log_findings(&planned.plan, true);
    if planned.plan.problems.is_empty() {
        log_plan(&planned.plan.tables);
    }
    Ok(planned)
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

/// The refusal of an existing database without `--replace`.
#[must_use]
pub fn exists_without_replace(database: &str) -> anyhow::Error {
    failure(
        FailureKind::Usage,
        format!(
            "target database {database} already exists; pass --replace to drop and recreate it (it was left untouched)"
        ),
    )
}

/// Before `--replace` drops the existing Dolt `database` (`target`):
/// refused (exit 3), untouched, when it holds history (tags: a refresh's
/// nights; or more commits than Dolt's first and one copy's), unless
/// `--discard-history`.
pub async fn history_guard(
    target: &mut TargetSide,
    database: &str,
    discard: bool,
) -> anyhow::Result<()> {
    use mysql_async::prelude::Queryable as _;
    if !target.exists || target.server.kind != TargetKind::Dolt || discard {
        return Ok(());
    }
    let quoted = crate::mysql::sql::quote_identifier(database);
    let read = async {
        // language=MySQL
        let commits: Option<u64> = target
            .admin
            .query_first(format!("SELECT COUNT(*) FROM {quoted}.dolt_log"))
            .await?;
        // language=MySQL
        let tags: Vec<String> = target
            .admin
            .query(format!(
                "SELECT CAST(date AS CHAR) FROM {quoted}.dolt_tags ORDER BY date"
            ))
            .await?;
        anyhow::Ok((commits.unwrap_or(0), tags))
    };
    let (commits, tags) = read
        .await
        .with_context(|| format!("looking at the history of {database}"))?;
    let held = match tags.first() {
        Some(first) => format!(
            "{} night(s) or other tags, published since {first}, and {commits} commits",
            tags.len()
        ),
        None if commits > 2 => format!("{commits} commits of history"),
        None => return Ok(()),
    };
    Err(failure(
        FailureKind::Plan,
        format!(
            "the database {database} holds {held}: --replace would drop them; pass --discard-history with --replace to drop them (PG2DOLT_DISCARD_HISTORY); nothing was done"
        ),
    ))
}

/// Opens the target of a command that needs Dolt's version control; any
/// other server is refused with exit 2 and `refusal`, given the server's
/// description.
pub async fn open_dolt_target(
    settings: &Settings,
    refusal: impl FnOnce(&str) -> String,
) -> anyhow::Result<TargetSide> {
    let target = open_target(&settings.target, &settings.database).await?;
    if target.server.kind != TargetKind::Dolt {
        return Err(failure(
            FailureKind::Usage,
            refusal(&target.server.describe()),
        ));
    }
    Ok(target)
}
