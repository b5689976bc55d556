//! One run, phase by phase: snapshot → catalog → target → plan → copy →
//! fix-ups → verify → commit. Each phase is a short function and logs its
//! duration; the report is filled in as the run goes, so a failed run still
//! reports how far it got.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use tracing::{error, info, warn};

use crate::cli::LoadMethodArg;
use crate::copy::{CopyJob, copy_tables};
use crate::error::{FailureKind, failure};
use crate::plan::{TablePlan, build_plan};
use crate::report::{Report, TableReport};
use crate::settings::Settings;
use crate::source::catalog::{SourceTable, read_catalog};
use crate::source::snapshot::{Snapshot, export_snapshot};
use crate::target::catalog::TargetTable;
use crate::target::load::LoadMethod;
use crate::target::{TargetKind, TargetServer, dolt, fixup, schema};

/// Runs one copy. The report is updated as phases complete.
pub async fn run(settings: &Settings, report: &mut Report) -> anyhow::Result<()> {
    report.source.clone_from(&settings.source_display);
    report.target.clone_from(&settings.target_display);
    report.database.clone_from(&settings.database);
    report.schema.clone_from(&settings.schema_origin);

    // The coordinator holds the snapshot open until the copy is done.
    let coordinator = crate::source::connect(&settings.source, "coordinator").await?;
    let started = Instant::now();
    let snapshot = export_snapshot(&coordinator).await?;
    info!(snapshot = %snapshot.id, time = %snapshot.time, wal_lsn = ?snapshot.wal_lsn, elapsed_ms = started.elapsed().as_millis() as u64, "snapshot exported");
    report.snapshot = Some(snapshot.clone());

    let started = Instant::now();
    let tables = read_catalog(&coordinator, &settings.source_schemas).await?;
    info!(
        tables = tables.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "source catalog read"
    );
    if tables.is_empty() {
        return Err(failure(
            FailureKind::Plan,
            format!(
                "the source has no tables in schema {}",
                settings.source_schemas.join(", ")
            ),
        ));
    }

    let mut admin = crate::target::connect(&settings.target, None).await?;
    let server = crate::target::detect_server(&mut admin).await?;
    info!(kind = ?server.kind, version = %server.describe(), "target server");
    report.target_kind = Some(server.kind);
    report.target_version = Some(server.describe());
    let exists = crate::target::database_exists(&mut admin, &settings.database).await?;
    if exists && !settings.replace {
        return Err(failure(
            FailureKind::Usage,
            format!(
                "target database {} already exists; pass --replace to drop and recreate it (it was left untouched)",
                settings.database
            ),
        ));
    }

    check_plan_on_scratch(&mut admin, &server, settings, &tables).await?;

    if exists {
        warn!(database = %settings.database, "dropping the existing target database (--replace)");
        crate::target::drop_database(&mut admin, &settings.database).await?;
    }
    crate::target::create_database(&mut admin, &settings.database, server.kind).await?;
    info!(database = %settings.database, "target database created");
    let filled = fill_database(settings, &server, &snapshot, &tables, report).await;
    drop(coordinator);
    if let Err(error) = filled {
        if settings.keep_failed {
            warn!(database = %settings.database, "the run failed; the target database is kept (--keep-failed)");
        } else if crate::target::drop_database(&mut admin, &settings.database)
            .await
            .is_ok()
        {
            report.target_dropped = true;
        }
        return Err(error);
    }
    let _ = admin.disconnect().await;
    Ok(())
}

/// Applies the schema files to a scratch database and plans against it, so
/// bad schema SQL or a mismatch stops the run before any existing database
/// is touched and before any data moves.
async fn check_plan_on_scratch(
    admin: &mut Conn,
    server: &TargetServer,
    settings: &Settings,
    tables: &[SourceTable],
) -> anyhow::Result<()> {
    let started = Instant::now();
    // Unique across concurrent runs, also in containers where every job is
    // process 1: the wall clock's nanoseconds tell them apart.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let scratch = format!("pg2dolt_plan_{}_{nanos}", std::process::id());
    crate::target::create_database(admin, &scratch, server.kind).await?;
    let checked = async {
        let mut conn = crate::target::connect(&settings.target, Some(&scratch)).await?;
        schema::apply_schema_files(&mut conn, &settings.schema_files).await?;
        let targets = crate::target::catalog::read_catalog(&mut conn, &scratch).await?;
        let _ = conn.disconnect().await;
        plan_tables(settings, tables, &targets).map(|_| ())
    }
    .await;
    crate::target::drop_database(admin, &scratch)
        .await
        .context("dropping the scratch database")?;
    checked?;
    info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "plan checked on a scratch database"
    );
    Ok(())
}

/// Builds the plan, logging every pair and every mismatch.
fn plan_tables(
    settings: &Settings,
    tables: &[SourceTable],
    targets: &[TargetTable],
) -> anyhow::Result<Vec<TablePlan>> {
    match build_plan(tables, targets, &settings.mappings) {
        Ok(plans) => Ok(plans),
        Err(problems) => {
            for problem in &problems {
                error!(problem = %problem, "plan mismatch");
            }
            Err(failure(
                FailureKind::Plan,
                format!(
                    "the plan found {} mismatch(es): {}",
                    problems.len(),
                    problems.join("; ")
                ),
            ))
        }
    }
}

fn log_plan(plans: &[TablePlan]) {
    for plan in plans {
        info!(source = %plan.source_name, target = %plan.target, rule = %plan.rule, "plan: table");
        for column in &plan.columns {
            info!(
                table = %plan.target,
                source = %column.source, source_type = %column.source_type,
                target = %column.target, target_type = %column.target_type,
                rule = %column.rule, "plan: column"
            );
        }
        for generated in &plan.skipped_generated {
            info!(table = %plan.target, column = %generated, "plan: generated column skipped (the target computes it)");
        }
    }
}

/// Everything after the fresh database exists: schema, copy, fix-ups,
/// verify, commit.
async fn fill_database(
    settings: &Settings,
    server: &TargetServer,
    snapshot: &Snapshot,
    tables: &[SourceTable],
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut conn = crate::target::connect(&settings.target, Some(&settings.database)).await?;
    let started = Instant::now();
    let statements = schema::apply_schema_files(&mut conn, &settings.schema_files).await?;
    info!(
        statements,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "schema applied"
    );
    let targets = crate::target::catalog::read_catalog(&mut conn, &settings.database).await?;
    let plans = plan_tables(settings, tables, &targets)?;
    log_plan(&plans);

    let method = choose_load_method(&mut conn, settings.load_method).await;
    report.load_method = Some(method);
    let insert_chunk = insert_chunk_size(&mut conn).await;
    let job = Arc::new(CopyJob {
        source: settings.source.clone(),
        snapshot_id: snapshot.id.clone(),
        target: settings.target.clone(),
        database: settings.database.clone(),
        method,
        binary_tables_by_insert: server.kind == TargetKind::Dolt,
        load_data_chunk: LOAD_DATA_CHUNK,
        insert_chunk,
        plans,
    });
    let started = Instant::now();
    let copied = copy_tables(Arc::clone(&job), settings.jobs).await?;
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
            columns: plan.columns.clone(),
            skipped_generated: plan.skipped_generated.clone(),
        });
    }
    report
        .tables
        .sort_by(|left, right| left.source.cmp(&right.source));

    let fixups = foreign_key_tables(&targets);
    fixup::resolve_foreign_keys(&mut conn, &fixups).await?;
    report.foreign_key_fixups = fixups.into_iter().map(|(table, _)| table).collect();

    verify_counts(&mut conn, &job.plans, &copied).await?;
    if server.kind == TargetKind::Dolt {
        dolt::verify_constraints(&mut conn).await?;
    }
    report.verified = true;

    if server.kind == TargetKind::Dolt {
        let message = settings
            .commit_message
            .clone()
            .unwrap_or_else(|| default_commit_message(snapshot));
        // Dolt's --date takes RFC 3339 without fractional seconds.
        let seconds = snapshot.time.split('.').next().unwrap_or(&snapshot.time);
        let date = format!("{}Z", seconds.trim_end_matches('Z'));
        let hash = dolt::commit(&mut conn, &message, &settings.author, &date).await?;
        info!(hash = %hash, "dolt commit made");
        report.dolt_commit = Some(hash);
    }
    let _ = conn.disconnect().await;
    Ok(())
}

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

/// Every target table that has or is referenced by a foreign key, with the
/// column its no-op delete compares (the first key column, else the first).
fn foreign_key_tables(targets: &[TargetTable]) -> Vec<(String, String)> {
    let mut involved = BTreeSet::new();
    for table in targets {
        if !table.references.is_empty() {
            involved.insert(table.name.clone());
            involved.extend(table.references.iter().cloned());
        }
    }
    targets
        .iter()
        .filter(|table| involved.contains(&table.name))
        .filter_map(|table| {
            let column = table
                .primary_key
                .first()
                .or_else(|| table.columns.first().map(|column| &column.name))?;
            Some((table.name.clone(), column.clone()))
        })
        .collect()
}

/// Rows read = rows stored (checked per load) = `COUNT(*)` on the target.
async fn verify_counts(
    conn: &mut Conn,
    plans: &[TablePlan],
    copied: &[crate::copy::TableCopied],
) -> anyhow::Result<()> {
    for table in copied {
        let plan = &plans[table.index];
        // language=MySQL
        let statement = format!(
            "SELECT COUNT(*) FROM {}",
            crate::convert::mysql_text::quote_identifier(&plan.target)
        );
        let count: Option<u64> = conn
            .query_first(statement)
            .await
            .with_context(|| format!("counting rows of {}", plan.target))?;
        if count != Some(table.rows) {
            return Err(failure(
                FailureKind::Verify,
                format!(
                    "{}: the snapshot had {} rows, the target table {} has {}",
                    plan.source_name,
                    table.rows,
                    plan.target,
                    count.unwrap_or(0)
                ),
            ));
        }
    }
    Ok(())
}

/// `auto` uses LOAD DATA unless the server has `local_infile` off.
async fn choose_load_method(conn: &mut Conn, requested: LoadMethodArg) -> LoadMethod {
    match requested {
        LoadMethodArg::LoadData => LoadMethod::LoadData,
        LoadMethodArg::Insert => LoadMethod::Insert,
        LoadMethodArg::Auto => {
            let enabled: Option<String> = conn
                .query_first("SELECT @@GLOBAL.local_infile")
                .await
                .ok()
                .flatten();
            match enabled.as_deref() {
                Some("0" | "OFF" | "off") => {
                    warn!(
                        "the target has local_infile off: loading with INSERT statements (slower); enable local_infile for LOAD DATA"
                    );
                    LoadMethod::Insert
                }
                _ => LoadMethod::LoadData,
            }
        }
    }
}

/// LOAD DATA streams chunks of this size.
const LOAD_DATA_CHUNK: usize = 256 * 1024;

/// An INSERT statement of at most 1 MiB, and at most a quarter of
/// `max_allowed_packet`.
async fn insert_chunk_size(conn: &mut Conn) -> usize {
    const INSERT_CHUNK: usize = 1024 * 1024;
    let packet: Option<u64> = conn
        .query_first("SELECT @@max_allowed_packet")
        .await
        .ok()
        .flatten();
    let limit = packet.map_or(INSERT_CHUNK, |packet| {
        usize::try_from(packet / 4).unwrap_or(INSERT_CHUNK)
    });
    INSERT_CHUNK.min(limit).max(16 * 1024)
}
