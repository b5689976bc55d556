//! `pg2dolt restore`: an archived copy into a fresh target database, with
//! no Postgres at all. The archive's schema files (checked against the
//! manifest) are applied, every data file is loaded as it streams and
//! checked against the manifest (`archive::load`), then the same fix-ups,
//! verification and Dolt commit as a copy.

use std::time::Instant;

use anyhow::Context as _;
use tracing::info;

use super::{RunState, Untouched, commit, in_fresh_database, prepare_fill, start_run, verify};
use crate::archive::load::{LoadTarget, Loaded, load_files};
use crate::archive::store::{MIN_PART_SIZE, Store};
use crate::archive::{FORMAT, MANIFEST, Manifest, sha256_hex};
use crate::cli::RestoreArgs;
use crate::error::{FailureKind, failure};
use crate::mysql::TargetServer;
use crate::mysql::load::LoadMethod;
use crate::mysql::schema::{ParsedSchemaFile, SchemaFile, parse_files};
use crate::output::Output;
use crate::plan::MatchRule;
use crate::preflight::open_target;
use crate::report::{CommandKind, Report, TableReport};
use crate::settings::{RestoreSettings, check_database_name};
use crate::signal::Stop;

/// Runs `pg2dolt restore`; returns the exit code.
pub async fn run(arguments: &RestoreArgs) -> u8 {
    let mut output = Output::new(arguments.logging.log_format, None);
    let mut report = Report::start(CommandKind::Restore);
    let stop = Stop::listen();
    let mut settings = match RestoreSettings::resolve(arguments) {
        Ok(settings) => settings,
        Err(error) => return output.error(&error),
    };
    report.target.clone_from(&settings.target_display);
    report.schema = format!("archive {}", settings.from);
    let mut progress = RunState::default();
    let mut database = String::new();
    let (report_to, path_style) = (settings.target_database.report.clone(), settings.path_style);
    let result = match start_run(&mut output, report_to, path_style, &mut settings.target).await {
        Ok(local) => {
            info!(from = %settings.from, target = %settings.target_display, database = ?settings.database,
                replace = settings.target_database.replace, jobs = settings.target_database.jobs, "pg2dolt restore starting");
            let restored = Box::pin(async {
                let archive = stop.run(open_archive(&settings)).await?;
                database.clone_from(&archive.database);
                report.source.clone_from(&archive.manifest.source);
                progress.snapshot = Some(archive.manifest.snapshot.clone());
                restore(&settings, &stop, &archive, &mut progress).await
            })
            .await;
            local.stop().await;
            restored
        }
        Err(error) => Err(error),
    };
    report.database.clone_from(&database);
    let Err(error) = result else {
        return output.succeed(progress.into_report(report)).await;
    };
    let untouched = if database.is_empty() {
        Untouched::Said("the target was not touched")
    } else {
        Untouched::NotCreated(&database)
    };
    Box::pin(progress.fail(&output, report, &error, untouched)).await
}

/// The archive, read and checked.
struct Archive {
    store: Store,
    manifest: Manifest,
    schema_files: Vec<ParsedSchemaFile>,
    /// the target database: --database, else the source database's name
    database: String,
}

async fn open_archive(settings: &RestoreSettings) -> anyhow::Result<Archive> {
    let store = Store::open(&settings.from, settings.path_style, MIN_PART_SIZE)
        .await
        .with_context(|| format!("archive {}", settings.from))?;
    let manifest = read_manifest(&store, settings).await?;
    let database = settings
        .database
        .clone()
        .unwrap_or_else(|| manifest.snapshot.database.clone());
    check_database_name(&database)?;
    let schema_files = parse_files(&read_schema_files(&store, &manifest).await?)?;
    info!(key = %manifest.key, tables = manifest.tables.len(), rows = manifest.rows_total, snapshot = %manifest.snapshot.time, "archive read");
    Ok(Archive {
        store,
        manifest,
        schema_files,
        database,
    })
}

/// Target server, fresh database, fill, settle (a signal stops the
/// phases, never the settling).
async fn restore(
    settings: &RestoreSettings,
    stop: &Stop,
    archive: &Archive,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let database = &archive.database;
    let target = stop.run(open_target(&settings.target, database)).await?;
    progress.server = Some(target.server.clone());
    if target.exists && !settings.target_database.replace {
        return Err(super::exists_without_replace(database));
    }
    let server = target.server.clone();
    let keep_failed = settings.target_database.keep_failed;
    in_fresh_database(
        target,
        &settings.target,
        database,
        keep_failed,
        stop,
        progress,
        async |progress| fill(settings, archive, &server, progress).await,
    )
    .await
}

/// Schema, data, fix-ups, verification, commit.
async fn fill(
    settings: &RestoreSettings,
    archive: &Archive,
    server: &TargetServer,
    progress: &mut RunState,
) -> anyhow::Result<()> {
    let manifest = &archive.manifest;
    let database = archive.database.as_str();
    let (mut conn, targets, route) = prepare_fill(
        &settings.target,
        database,
        &archive.schema_files,
        settings.target_database.load_method,
        server,
        progress,
    )
    .await?;
    let started = Instant::now();
    let target = LoadTarget {
        target: &settings.target,
        database,
        route,
        kind: server.kind,
        jobs: settings.target_database.jobs,
    };
    let loaded = load_files(&archive.store, manifest, &target).await?;
    info!(
        files = loaded.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "archive loaded"
    );
    progress.tables = table_reports(manifest, &loaded, route.method);
    verify(&mut conn, server, &targets, progress).await?;
    let what = format!("restore of archived copy {}", manifest.key);
    let options = &settings.target_database;
    commit(
        &mut conn,
        server,
        options,
        &what,
        &manifest.snapshot,
        progress,
    )
    .await?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// The report's tables: every archived table, with its files' load times.
fn table_reports(manifest: &Manifest, loaded: &[Loaded], method: LoadMethod) -> Vec<TableReport> {
    manifest
        .tables
        .iter()
        .enumerate()
        .map(|(index, table)| {
            let files: Vec<&Loaded> = loaded.iter().filter(|file| file.table == index).collect();
            TableReport {
                source: table.source.clone(),
                target: table.target.clone(),
                rule: MatchRule::Exact,
                rows: table.rows,
                bytes: table.files.iter().map(|file| file.bytes).sum(),
                seconds: files.iter().map(|file| file.seconds).sum(),
                load_method: files.first().map_or(method, |file| file.method),
                chunks: table.files.len(),
                columns: Vec::new(),
                skipped_generated: Vec::new(),
                night: None,
            }
        })
        .collect()
}

async fn read_manifest(store: &Store, settings: &RestoreSettings) -> anyhow::Result<Manifest> {
    let bytes = store.get(MANIFEST).await.map_err(|error| {
        failure(
            FailureKind::Usage,
            format!(
                "{} holds no complete archive (no {MANIFEST}): {}",
                settings.from,
                crate::error::one_line(&error)
            ),
        )
    })?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("reading {}{MANIFEST}", settings.from))?;
    if manifest.format != FORMAT {
        return Err(failure(
            FailureKind::Usage,
            format!(
                "{} is archive format {}; this pg2dolt reads {FORMAT}",
                settings.from, manifest.format
            ),
        ));
    }
    Ok(manifest)
}

/// The archived schema files, each checked against the manifest.
async fn read_schema_files(store: &Store, manifest: &Manifest) -> anyhow::Result<Vec<SchemaFile>> {
    let mut files = Vec::new();
    for file in &manifest.schema_files {
        let bytes = store.get(&file.path).await?;
        let sha256 = sha256_hex(&bytes);
        if sha256 != file.sha256 {
            return Err(failure(
                FailureKind::Verify,
                format!(
                    "archived schema file {} is damaged: SHA-256 {sha256}, the manifest says {}",
                    file.path, file.sha256
                ),
            ));
        }
        files.push(SchemaFile {
            name: file.path.trim_start_matches("schema/").to_string(),
            sql: String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", file.path))?,
        });
    }
    Ok(files)
}
