//! `pg2dolt restore`: an archived copy into a fresh target database, with
//! no Postgres at all. The archive's schema files (checked against the
//! manifest) are applied, every data file is loaded as it streams and
//! checked against the manifest's SHA-256, size and row count (a mismatch
//! rolls its load back and fails the run), then the same fix-ups,
//! verification and Dolt commit as a copy.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::StreamExt as _;
use mysql_async::Conn;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::archive::data::read_data_file;
use crate::archive::store::{MIN_PART_SIZE, Store};
use crate::archive::{ArchivedTable, DataFile, FORMAT, MANIFEST, Manifest, sha256_hex};
use crate::convert::mysql_text::{Format, Value, decode_load_data};
use crate::convert::value::decode_hex;
use crate::error::{FailureKind, failure};
use crate::plan::MatchRule;
use crate::report::{Report, TableReport};
use crate::settings::{RestoreSettings, check_database_name};
use crate::mysql::finish::{apply_schema, commit_if_dolt, finish};
use crate::mysql::load::choose_route;
use crate::mysql::load::{LoadColumn, LoadMethod, load_table};
use crate::mysql::schema::{SchemaFile, parse_files};
use crate::mysql::{TargetKind, TargetServer};

/// Runs one restore; the report is filled in as it goes.
pub async fn run(settings: &RestoreSettings, report: &mut Report) -> anyhow::Result<()> {
    report.target.clone_from(&settings.target_display);
    report.schema = format!("archive {}", settings.from);
    let store = Store::open(&settings.from, settings.path_style, MIN_PART_SIZE)
        .await
        .with_context(|| format!("archive {}", settings.from))?;
    let manifest = read_manifest(&store, settings).await?;
    let database = settings
        .database
        .clone()
        .unwrap_or_else(|| manifest.snapshot.database.clone());
    check_database_name(&database)?;
    report.database.clone_from(&database);
    report.source.clone_from(&manifest.source);
    report.snapshot = Some(manifest.snapshot.clone());
    let schema_files = parse_files(&read_schema_files(&store, &manifest).await?)?;
    info!(key = %manifest.key, tables = manifest.tables.len(), rows = manifest.rows_total, snapshot = %manifest.snapshot.time, "archive read");

    let mut admin = crate::mysql::connect(&settings.target, None).await?;
    let server = crate::mysql::detect_server(&mut admin).await?;
    report.target_kind = Some(server.kind);
    report.target_version = Some(server.describe());
    if crate::mysql::database_exists(&mut admin, &database).await? {
        if !settings.replace {
            return Err(failure(
                FailureKind::Usage,
                format!(
                    "target database {database} already exists; pass --replace to drop and recreate it (it was left untouched)"
                ),
            ));
        }
        warn!(database = %database, "dropping the existing target database (--replace)");
        crate::mysql::drop_database(&mut admin, &database).await?;
        report.steps.existing_dropped = true;
    }
    crate::mysql::create_database(&mut admin, &database, server.kind).await?;
    report.steps.created = true;
    let restored = fill(
        settings,
        &store,
        &manifest,
        &schema_files,
        &server,
        &database,
        report,
    )
    .await;
    // A failure is settled by the caller, on a connection of its own.
    let _ = admin.disconnect().await;
    restored
}

/// After a failure or SIGTERM/SIGINT: the same settling as a copy's.
pub async fn abandon_target(
    settings: &RestoreSettings,
    report: &mut Report,
    limit: std::time::Duration,
) -> String {
    let database = report.database.clone();
    if database.is_empty() {
        return "the target was not touched".to_string();
    }
    report
        .abandon_target(&settings.target, &database, settings.keep_failed, limit)
        .await
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

/// Schema, data, fix-ups, verification, commit.
async fn fill(
    settings: &RestoreSettings,
    store: &Store,
    manifest: &Manifest,
    schema_files: &[crate::mysql::schema::ParsedSchemaFile],
    server: &TargetServer,
    database: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut conn = crate::mysql::connect(&settings.target, Some(database)).await?;
    let targets = apply_schema(&mut conn, database, schema_files).await?;
    let (method, insert_chunk) =
        choose_route(&mut conn, settings.load_method, server.kind, &targets).await?;
    report.load_method = Some(method);
    let started = Instant::now();
    let loaded = load_files(&LoadContext {
        settings,
        store,
        manifest,
        method,
        server,
        insert_chunk,
        database,
    })
    .await?;
    info!(
        files = loaded.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "archive loaded"
    );
    for (index, table) in manifest.tables.iter().enumerate() {
        let files: Vec<&Loaded> = loaded.iter().filter(|file| file.table == index).collect();
        report.rows_total += table.rows;
        let bytes: u64 = table.files.iter().map(|file| file.bytes).sum();
        report.bytes_total += bytes;
        report.tables.push(TableReport {
            source: table.source.clone(),
            target: table.target.clone(),
            rule: MatchRule::Exact,
            rows: table.rows,
            bytes,
            seconds: files.iter().map(|file| file.seconds).sum(),
            load_method: files.first().map_or(method, |file| file.method),
            chunks: table.files.len(),
            columns: Vec::new(),
            skipped_generated: Vec::new(),
        });
    }
    let expected: Vec<(String, String, u64)> = manifest
        .tables
        .iter()
        .map(|table| (table.source.clone(), table.target.clone(), table.rows))
        .collect();
    report.record_finish(finish(&mut conn, server, &targets, &expected).await?);
    let snapshot = &manifest.snapshot;
    let message = settings.commit_message.clone().unwrap_or_else(|| {
        format!(
            "pg2dolt: restore of archived copy {} of Postgres database {} as of {} (snapshot {}{})",
            manifest.key,
            snapshot.database,
            snapshot.time,
            snapshot.id,
            snapshot
                .wal_lsn
                .as_deref()
                .map_or_else(String::new, |lsn| format!(", WAL {lsn}"))
        )
    });
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

/// One loaded data file.
struct Loaded {
    table: usize,
    seconds: f64,
    method: LoadMethod,
}

/// What every loading worker shares.
struct LoadContext<'a> {
    settings: &'a RestoreSettings,
    store: &'a Store,
    manifest: &'a Manifest,
    method: LoadMethod,
    server: &'a TargetServer,
    insert_chunk: usize,
    database: &'a str,
}

/// Loads every data file, `--jobs` at a time, each worker with a target
/// connection of its own; largest files first.
async fn load_files(context: &LoadContext<'_>) -> anyhow::Result<Vec<Loaded>> {
    let mut work: Vec<(usize, &DataFile)> = context
        .manifest
        .tables
        .iter()
        .enumerate()
        .flat_map(|(index, table)| table.files.iter().map(move |file| (index, file)))
        .collect();
    work.sort_by_key(|(_, file)| std::cmp::Reverse(file.stored_bytes));
    let workers = context.settings.jobs.clamp(1, work.len().max(1));
    let queue: WorkQueue<'_> = Arc::new(Mutex::new(work.into_iter().collect()));
    // The first failure ends the restore, as it ends a copy: the other
    // workers are dropped, and their loads roll back with their sessions.
    let mut running: futures_util::stream::FuturesUnordered<_> = (0..workers)
        .map(|_| load_worker(context, Arc::clone(&queue)))
        .collect();
    let mut loaded = Vec::new();
    while let Some(result) = running.next().await {
        loaded.extend(result?);
    }
    Ok(loaded)
}

async fn load_worker(
    context: &LoadContext<'_>,
    queue: WorkQueue<'_>,
) -> anyhow::Result<Vec<Loaded>> {
    let mut conn = crate::mysql::connect(&context.settings.target, Some(context.database)).await?;
    let mut loaded = Vec::new();
    loop {
        let next = queue
            .lock()
            .map_err(|_| anyhow::anyhow!("file queue poisoned"))?
            .pop_front();
        let Some((index, file)) = next else { break };
        let table = &context.manifest.tables[index];
        // Everything loads through INSERT on Dolt: its LOAD DATA stores a
        // field reading `NULL` as SQL NULL (go-mysql-server,
        // sql/rowexec/ddl_iters.go parseFields), which archived text may
        // hold, and maps user variables (binary columns) only lately.
        let method = if context.server.kind == TargetKind::Dolt {
            LoadMethod::Insert
        } else {
            context.method
        };
        let started = Instant::now();
        load_file(
            context.store,
            &mut conn,
            table,
            file,
            method,
            context.insert_chunk,
        )
        .await?;
        info!(table = %table.source, target_table = %table.target, file = %file.path, rows = file.rows, "data file loaded");
        loaded.push(Loaded {
            table: index,
            seconds: started.elapsed().as_secs_f64(),
            method,
        });
    }
    let _ = conn.disconnect().await;
    Ok(loaded)
}

type WorkQueue<'a> = Arc<Mutex<VecDeque<(usize, &'a DataFile)>>>;

/// One data file into its table, in one transaction: streamed, checked
/// against the manifest as it ends (a mismatch rolls the load back).
async fn load_file(
    store: &Store,
    conn: &mut Conn,
    table: &ArchivedTable,
    file: &DataFile,
    method: LoadMethod,
    insert_chunk: usize,
) -> anyhow::Result<()> {
    let columns: Vec<LoadColumn> = table
        .columns
        .iter()
        .map(|column| LoadColumn {
            name: column.name.clone(),
            binary: column.binary,
        })
        .collect();
    let (text_sender, text_receiver) = mpsc::channel(8);
    let read = async {
        let read = read_data_file(store, &file.path, file, &text_sender).await;
        drop(text_sender);
        read
    };
    let stored = match method {
        LoadMethod::LoadData => {
            let load = load_table(conn, method, &table.target, &columns, text_receiver);
            let (read, loaded) = tokio::join!(read, load);
            read?;
            loaded?
        }
        LoadMethod::Insert => {
            let (insert_sender, insert_receiver) = mpsc::channel(8);
            let binary: Vec<bool> = table.columns.iter().map(|column| column.binary).collect();
            let rewrite = to_insert_tuples(text_receiver, insert_sender, binary, insert_chunk);
            let load = load_table(conn, method, &table.target, &columns, insert_receiver);
            let (read, rewritten, loaded) = tokio::join!(read, rewrite, load);
            read?;
            rewritten?;
            loaded?
        }
    };
    if stored != file.rows {
        return Err(failure(
            FailureKind::Verify,
            format!(
                "{}: the target stored {stored} rows of {}, the manifest says {}",
                table.target, file.path, file.rows
            ),
        ));
    }
    Ok(())
}

/// Rewrites LOAD DATA text (as archived) into INSERT tuples, for targets
/// that take no LOAD DATA: whole rows only, binary columns from hex.
async fn to_insert_tuples(
    mut text: mpsc::Receiver<io::Result<Bytes>>,
    tuples: mpsc::Sender<io::Result<Bytes>>,
    binary: Vec<bool>,
    chunk_bytes: usize,
) -> anyhow::Result<()> {
    let mut pending: Vec<u8> = Vec::new();
    let mut out: Vec<u8> = Vec::new();
    while let Some(chunk) = text.recv().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                let message = error.to_string();
                let _ = tuples.send(Err(error)).await;
                anyhow::bail!(message);
            }
        };
        pending.extend_from_slice(&chunk);
        let Some(end) = memchr::memrchr(b'\n', &pending) else {
            continue;
        };
        let complete: Vec<u8> = pending.drain(..=end).collect();
        for row in decode_load_data(&complete) {
            write_tuple(&mut out, &row, &binary)?;
            if out.len() >= chunk_bytes {
                let full = std::mem::take(&mut out);
                tuples
                    .send(Ok(Bytes::from(full)))
                    .await
                    .map_err(|_| anyhow::anyhow!("the target stopped reading"))?;
            }
        }
    }
    anyhow::ensure!(
        pending.is_empty(),
        "an archived data file ends in the middle of a row"
    );
    if !out.is_empty() {
        tuples
            .send(Ok(Bytes::from(out)))
            .await
            .map_err(|_| anyhow::anyhow!("the target stopped reading"))?;
    }
    Ok(())
}

fn write_tuple(out: &mut Vec<u8>, row: &[Option<Vec<u8>>], binary: &[bool]) -> anyhow::Result<()> {
    let format = Format::Insert;
    format.start_row(out);
    for (index, field) in row.iter().enumerate() {
        if index > 0 {
            format.separate(out);
        }
        let value = match field {
            None => Value::Null,
            Some(bytes) if binary.get(index).copied().unwrap_or(false) => Value::Binary(
                std::borrow::Cow::Owned(decode_hex(bytes).context("a binary value is not hex")?),
            ),
            Some(bytes) => Value::Text(std::borrow::Cow::Borrowed(bytes)),
        };
        format.write_value(out, &value);
    }
    format.end_row(out);
    Ok(())
}
