//! `pg2dolt restore`: an archived copy into a fresh target database, with
//! no Postgres at all. The archive's schema files (checked against the
//! manifest) are applied, every data file is loaded as it streams and
//! checked against the manifest (`archive::load`), then the same fix-ups,
//! verification and Dolt commit as a copy.

use std::time::Instant;

use anyhow::Context as _;
use tracing::info;

use crate::archive::load::{LoadTarget, Loaded, load_files};
use crate::archive::store::{MIN_PART_SIZE, Store};
use crate::archive::{FORMAT, MANIFEST, Manifest, sha256_hex};
use crate::cli::{LoggingArgs, RestoreArgs};
use crate::error::{FailureKind, failure};
use crate::fill::{CommitMessage, Fill};
use crate::mysql::load::LoadMethod;
use crate::mysql::schema::{ParsedSchemaFile, SchemaFile, parse_files};
use crate::plan::MatchRule;
use crate::preflight::{exists_without_replace, history_guard, open_target};
use crate::report::{CommandKind, TableReport};
use crate::run::{Outcome, Run, RunState, Untouched};
use crate::settings::{History, RestoreSettings, check_database_name};
use crate::signal::Stop;

/// Runs `pg2dolt restore`; returns the exit code.
pub async fn run(arguments: &RestoreArgs, logging: &LoggingArgs) -> u8 {
    let run = Run::start(CommandKind::Restore, logging.log_format, None);
    Box::pin(run.execute(
        || RestoreSettings::resolve(arguments),
        async |settings, stop| restore(settings, stop).await,
    ))
    .await
}

/// The archive read, then the target server, the fresh database, the
/// fill and the settling (a signal stops the phases, never the settling).
async fn restore(settings: &RestoreSettings, stop: &Stop) -> Outcome {
    let mut state = RunState::default();
    let result = async {
        if settings.target_database.resume {
            return Err(failure(
                FailureKind::Usage,
                "--resume continues a copy; a restore starts again (--replace drops what a failed one kept)",
            ));
        }
        let archive = stop.run(open_archive(settings)).await?;
        let database = &archive.database;
        state.database = Some(database.clone());
        state.source = Some(archive.manifest.source.clone());
        state.snapshot = Some(archive.manifest.snapshot.clone());
        state.untouched = Untouched::NotCreated(database.clone());
        let mut target = stop.run(open_target(&settings.target, database)).await?;
        state.server = Some(target.server.clone());
        if target.exists && !settings.target_database.replace {
            return Err(exists_without_replace(database));
        }
        let discard = settings.target_database.history == History::Discard;
        stop.run(history_guard(&mut target, database, discard)).await?;
        let server = target.server.clone();
        let fresh = state.created(target.create_fresh(&settings.target, database).await)?;
        let keep_failed = settings.target_database.keep_failed;
        let (outcome, filled) = fresh
            .fill(
                stop,
                keep_failed,
                Box::pin(async {
                    let load = settings.target_database.load_method;
                    let files = &archive.schema_files;
                    let mut fill =
                        Fill::open(&settings.target, database, files, load, &server).await?;
                    state.load_method = Some(fill.route.method);
                    state.tables = load_archive(settings, &archive, &fill).await?;
                    state.completed = Some(fill.complete(&state.tables).await?);
                    let message = commit_message(settings, &archive.manifest);
                    state.commit = fill.commit(&message).await?;
                    fill.close().await;
                    anyhow::Ok(())
                }),
            )
            .await;
        state.target = Some(outcome);
        filled
    }
    .await;
    state.ended(result)
}

/// The commit message of a restore: `--commit-message`, else the archived
/// copy's key and snapshot.
fn commit_message(settings: &RestoreSettings, manifest: &Manifest) -> CommitMessage {
    let options = &settings.target_database;
    let what = format!("restore of archived copy {}", manifest.key);
    let given = options.commit_message.as_deref();
    CommitMessage::new(given, &options.author, &what, &manifest.snapshot, None)
}

/// Every data file of the archive into `fill`'s database, each checked
/// against the manifest as it streams; returns the report's tables.
async fn load_archive(
    settings: &RestoreSettings,
    archive: &Archive,
    fill: &Fill,
) -> anyhow::Result<Vec<TableReport>> {
    let started = Instant::now();
    let target = LoadTarget {
        target: &settings.target,
        database: &fill.database,
        route: fill.route,
        kind: fill.server.kind,
        jobs: settings.target_database.jobs,
    };
    let manifest = &archive.manifest;
    let loaded = load_files(&archive.store, manifest, &target).await?;
    info!(
        files = loaded.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "archive loaded"
    );
    Ok(table_reports(manifest, &loaded, fill.route.method))
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
