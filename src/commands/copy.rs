//! `pg2dolt copy`: snapshot → catalogs → plan (checked on a scratch
//! database) → fresh database → schema → copy → fix-ups → verify → Dolt
//! commit; the target database is settled however it ends. With
//! `--no-target` the rows go into the archive only. On Dolt, with
//! `--keep-failed` or `--resume`, a failed copy keeps what it finished and
//! `--resume` continues it (`nightly::kept_copy`).

use anyhow::Context as _;
use tracing::warn;

use crate::archive::writer::ArchiveRun;
use crate::cli::{CopyArgs, LoggingArgs};
use crate::copy::phase::{complete, dump_plan, open_archive, start_archive, write_manifest};
use crate::fill::{CommitMessage, Fill};
use crate::mysql::fresh::{FreshDatabase, TargetOutcome};
use crate::mysql::run_lock::RunLock;
use crate::mysql::{TargetKind, TargetServer};
use crate::nightly::kept_copy::{self, Kept};
use crate::nightly::load::load_night;
use crate::nightly::progress;
use crate::nightly::progress::Progress;
use crate::preflight::{self, Planned, SourceSide, exists_without_replace, plan_checked};
use crate::report::CommandKind;
use crate::run::{Outcome, Run, RunState, Untouched};
use crate::settings::{Destination, History, Settings};
use crate::signal::Stop;

/// Runs `pg2dolt copy`; returns the exit code.
pub async fn run(arguments: &CopyArgs, logging: &LoggingArgs) -> u8 {
    let run = Run::start(CommandKind::Copy, logging.log_format, None);
    Box::pin(run.execute(
        || Settings::resolve(arguments),
        async |settings, stop| Box::pin(copy(settings, stop)).await,
    ))
    .await
}

/// The copy's phases, each recorded as it returns.
async fn copy(settings: &Settings, stop: &Stop) -> Outcome {
    let untouched = match settings.destination {
        Destination::Database => Untouched::NotCreated(settings.database.clone()),
        Destination::ArchiveOnly => Untouched::Because("no target database (dump only)"),
    };
    let mut state = RunState::new(untouched);
    let result = async {
        let archive_store = open_archive(settings).await?;
        let source = stop.run(preflight::open_source(settings)).await?;
        state.snapshot = Some(source.snapshot.clone());
        let mut target = stop
            .run(preflight::open_target(&settings.target, &settings.database))
            .await?;
        state.server = Some(target.server.clone());
        let into_database = settings.destination == Destination::Database;
        // One run per database at a time: a second copy, --replace or
        // --resume of it stops here (exit 8), before it looks or drops.
        let lock = if into_database {
            let taken = RunLock::take(&settings.target, &settings.database, "copy");
            Some(stop.run(taken).await?)
        } else {
            None
        };
        let resume = settings.target_database.resume;
        let kept = if target.exists && into_database && resume {
            Some(stop.run(kept_copy::kept(settings, &target)).await?)
        } else {
            None
        };
        if target.exists && !settings.target_database.replace && into_database && kept.is_none() {
            return Err(exists_without_replace(&settings.database));
        }
        if settings.target_database.replace && into_database {
            let discard = settings.target_database.history == History::Discard;
            let guard = preflight::history_guard(&mut target, &settings.database, discard);
            stop.run(guard).await?;
        }
        let planned = stop
            .run(plan_checked(settings, &source, &mut target, None))
            .await?;
        state.record_plan(&planned.plan);
        preflight::refuse_problems(&planned.plan.problems)?;
        let archive = stop
            .run(start_archive(settings, &source, archive_store))
            .await?;
        if !into_database {
            let archive = archive.context("--no-target needs --archive")?;
            let dumped = async {
                let plans = planned.plan.tables;
                let loaded = dump_plan(settings, plans, planned.readers, &archive).await?;
                state.tables.clone_from(&loaded.tables);
                state.archive = Some(write_manifest(settings, &source, &archive, &loaded).await?);
                anyhow::Ok(())
            };
            return stop.run(dumped).await;
        }
        let server = target.server.clone();
        let (address, database) = (&settings.target, settings.database.as_str());
        let (fresh, kept) = match kept {
            Some(Kept::Resume(progress)) => {
                let _ = target.admin.disconnect().await;
                (FreshDatabase::adopt(address, database), Some(progress))
            }
            Some(Kept::Again) | None => (
                state.created(target.create_fresh(address, database).await)?,
                None,
            ),
        };
        let keep_failed = settings.target_database.keep_failed;
        // On Dolt a copy that may be continued records what it finished.
        let records = server.kind == TargetKind::Dolt && (keep_failed || resume);
        let copied = Copied {
            source: &source,
            planned,
            archive: archive.as_ref(),
            server: &server,
        };
        let filled = stop
            .run(Box::pin(fill_copy(
                settings,
                copied,
                (kept, records),
                &mut state,
            )))
            .await;
        let outcome = settle(settings, fresh, &filled, records).await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        state.target = Some(outcome);
        filled
    }
    .await;
    state.ended(result)
}

/// What a copy loads into its database: the snapshot, the plan, the
/// archive it also writes, the server.
struct Copied<'a> {
    source: &'a SourceSide,
    planned: Planned,
    archive: Option<&'a ArchiveRun>,
    server: &'a TargetServer,
}

/// The schema files (none on a kept copy: it has them), the load (the kept
/// copy's finished tables by delta, when `kept`; the progress recorded when
/// `records`), fix-ups and verification, the Dolt commit.
async fn fill_copy(
    settings: &Settings,
    copied: Copied<'_>,
    (kept, records): (Option<Progress>, bool),
    state: &mut RunState,
) -> anyhow::Result<()> {
    let Copied {
        source,
        planned,
        archive,
        server,
    } = copied;
    let (address, database) = (&settings.target, settings.database.as_str());
    let load = settings.target_database.load_method;
    let files = if kept.is_some() {
        &[][..]
    } else {
        &settings.schema_files[..]
    };
    let mut fill = Fill::open(address, database, files, load, server).await?;
    state.load_method = Some(fill.route.method);
    let plans = planned.plan.tables.clone();
    let how = (kept.as_ref(), records, archive.is_some());
    let decision = kept_copy::decide(settings, source, &plans, &mut fill.conn, how).await?;
    let mut loaded = load_night(settings, source, planned, archive, &mut fill, &decision).await?;
    if kept.is_none() {
        // Every table was copied: a copy's report says no more.
        for table in &mut loaded.tables {
            table.night = None;
        }
    }
    state.tables.clone_from(&loaded.tables);
    let completed = complete(settings, source, archive, &mut fill, &loaded).await?;
    state.record_completed(completed);
    if decision.progress.is_some() {
        progress::finish(&mut fill.conn).await?;
    }
    let message = CommitMessage::of_run(settings, "copy", &source.snapshot);
    state.commit = fill.commit(&message).await?;
    fill.close().await;
    Ok(())
}

/// The copy's database as the fill ended: complete; kept for `--resume`
/// when a copy that `records` its progress failed after it finished some
/// tables; else dropped unless `--keep-failed`.
async fn settle(
    settings: &Settings,
    fresh: FreshDatabase,
    filled: &anyhow::Result<()>,
    records: bool,
) -> TargetOutcome {
    let keep_failed = settings.target_database.keep_failed;
    let (address, database) = (&settings.target, settings.database.as_str());
    let kept = match filled {
        Err(error) if records && !keep_failed => {
            kept_copy::kept_after(address, database, error).await
        }
        _ => None,
    };
    let Some(progress) = kept else {
        return fresh.settle(filled, keep_failed).await;
    };
    let tables = progress.state.tables.len();
    warn!(
        database,
        tables,
        "the copy failed after it finished loading some tables: the database is kept for --resume"
    );
    fresh.keep(format!(
        "the target database {database} holds a partial copy; the {tables} table(s) it finished are kept: run again with --resume to continue it"
    ))
}
