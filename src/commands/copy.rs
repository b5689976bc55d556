//! `pg2dolt copy`: snapshot → catalogs → plan (checked on a scratch
//! database) → fresh database → schema → copy → fix-ups → verify → Dolt
//! commit; the target database is settled however it ends. With
//! `--no-target` the rows go into the archive only.

use anyhow::Context as _;

use crate::cli::{CopyArgs, LoggingArgs};
use crate::copy::phase::{
    NightLoad, complete, dump_plan, load_plan, open_archive, start_archive, write_manifest,
};
use crate::fill::{CommitMessage, Fill};
use crate::preflight::{self, exists_without_replace, plan_checked};
use crate::report::CommandKind;
use crate::run::{Outcome, Run, RunState, Untouched};
use crate::settings::{Destination, Settings};
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
        if target.exists && !settings.target_database.replace && into_database {
            return Err(exists_without_replace(&settings.database));
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
        let created = target
            .create_fresh(&settings.target, &settings.database)
            .await;
        let fresh = state.created(created)?;
        let keep_failed = settings.target_database.keep_failed;
        let (outcome, filled) = fresh
            .fill(
                stop,
                keep_failed,
                Box::pin(async {
                    let load = settings.target_database.load_method;
                    let files = &settings.schema_files;
                    let mut fill =
                        Fill::open(&settings.target, &settings.database, files, load, &server)
                            .await?;
                    state.load_method = Some(fill.route.method);
                    fill.check_catalog(&planned.catalog)?;
                    let (plans, readers) = (planned.plan.tables, planned.readers);
                    let archive = archive.as_ref();
                    let loaded = load_plan(
                        settings,
                        plans,
                        readers,
                        archive,
                        &mut fill,
                        NightLoad::default(),
                    )
                    .await?;
                    state.tables.clone_from(&loaded.tables);
                    let completed =
                        complete(settings, &source, archive, &mut fill, &loaded).await?;
                    state.record_completed(completed);
                    let message = CommitMessage::of_run(settings, "copy", &source.snapshot);
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
