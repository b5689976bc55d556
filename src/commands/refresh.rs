//! `pg2dolt refresh`: one long-lived Dolt database, a commit per night.
//! The first night is a copy, published on `--branch` and tagged. A later
//! night is loaded on a work branch made from the last published commit
//! (each table by delta or in full, `nightly::decision`), committed when
//! something changed, diffed, guarded and published in one ref update
//! (`nightly::conclude`). Anything before the publish that fails or is
//! interrupted leaves the published branch as it was.

use anyhow::Context as _;
use tracing::warn;

use crate::cli::{LoggingArgs, RefreshArgs};
use crate::copy::phase::{complete, open_archive, start_archive};
use crate::fill::Fill;
use crate::mysql::TargetServer;
use crate::mysql::fresh::{TargetOutcome, TargetState};
use crate::mysql::records::schema_files;
use crate::mysql::run_lock::RunLock;
use crate::mysql::schema::ParsedSchemaFile;
use crate::nightly::conclude::{Sessions, publish_first};
use crate::nightly::decision::{self, Decision};
use crate::nightly::deletes::Sides;
use crate::nightly::first_night;
use crate::nightly::load::load_night;
use crate::nightly::night::{Night, NightCommit, NightFailed, prepare_tables};
use crate::nightly::progress::{self, Progress};
use crate::nightly::verify::{Compared, differ_error, verify_branch};
use crate::nightly::work_branch::{self, WorkBranch};
use crate::preflight::{self, Planned, TargetSide, open_dolt_target, plan_checked};
use crate::report::{CommandKind, RefreshReport, VerifyReport};
use crate::run::{Outcome, Run, RunState, Untouched};
use crate::settings::{RefreshSettings, Settings};
use crate::signal::Stop;

/// Runs `pg2dolt refresh`; returns the exit code.
pub async fn run(arguments: &RefreshArgs, logging: &LoggingArgs) -> u8 {
    let run = Run::start(CommandKind::Refresh, logging.log_format, None);
    let resolve = || {
        let options = RefreshSettings::resolve(arguments)?;
        Ok((Settings::resolve(&arguments.copy)?, options))
    };
    Box::pin(run.execute(resolve, async |(settings, options), stop| {
        Box::pin(refresh(settings, options, stop)).await
    }))
    .await
}

/// The night, holding the database's lock (one run per database at a
/// time: a second one stops at once, exit 8).
async fn refresh(settings: &Settings, options: &RefreshSettings, stop: &Stop) -> Outcome {
    let lock = stop.run(RunLock::take(
        &settings.target,
        &settings.database,
        "refresh",
    ));
    let lock = match lock.await {
        Ok(lock) => lock,
        Err(error) => {
            let state = RunState::new(Untouched::Because("the target database was not touched"));
            return state.ended(Err(error));
        }
    };
    let outcome = Box::pin(locked_refresh(settings, options, stop)).await;
    lock.release().await;
    outcome
}

/// The night's preflight, then the first night or a later one.
async fn locked_refresh(settings: &Settings, options: &RefreshSettings, stop: &Stop) -> Outcome {
    let mut state = RunState::new(Untouched::Because("the target database was not touched"));
    state.refresh = Some(RefreshReport::new(
        &options.branch.name,
        options.on_diverged,
    ));
    let prepared = async {
        let archive_store = open_archive(settings).await?;
        let refusal = |server: &str| {
            format!(
                "refresh needs Dolt's branches and commits; the target is {server} (use copy --replace there)"
            )
        };
        let mut target = stop.run(open_dolt_target(settings, refusal)).await?;
        state.server = Some(target.server.clone());
        let source = stop.run(preflight::open_source(settings)).await?;
        state.snapshot = Some(source.snapshot.clone());
        // New columns of masked tables are those the published branch's
        // baseline does not know.
        let branch = Some(options.branch.name.as_str());
        let planned = stop.run(plan_checked(settings, &source, &mut target, branch)).await?;
        state.record_plan(&planned.plan);
        preflight::refuse_problems(&planned.plan.problems)?;
        let archive = stop.run(start_archive(settings, &source, archive_store)).await?;
        anyhow::Ok((source, target, planned, archive))
    }
    .await;
    let (source, target, planned, archive) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return state.ended(Err(error)),
    };
    let night = Night {
        settings,
        options,
        source: &source,
        archive: archive.as_ref(),
    };
    if !target.exists {
        return Box::pin(first_night(&night, planned, target, stop, state)).await;
    }
    let targets: Vec<&str> = planned
        .plan
        .tables
        .iter()
        .map(|plan| plan.target.name.as_str())
        .collect();
    let (address, database) = (&settings.target, settings.database.as_str());
    match stop
        .run(first_night::abandoned(address, database, &targets))
        .await
    {
        Ok(None) => Box::pin(later_night(&night, planned, target, stop, state)).await,
        Ok(Some(why)) => {
            // A first night killed after it loaded some tables: those are
            // kept (caught up by delta), the others load.
            let files: Vec<&ParsedSchemaFile> = settings.schema_files.iter().collect();
            let files = progress::file_ids(&files);
            match stop.run(first_night::resumable(address, database)).await {
                Ok(Some(stopped)) if stopped.1.schema_files == files => {
                    warn!(
                        database,
                        branch = %stopped.0,
                        tables = stopped.1.state.tables.len(),
                        "the database is a first night that never published: it was stopped, the tables it loaded are kept, the others load"
                    );
                    return Box::pin(resumed_first_night(
                        &night, planned, target, stop, state, stopped,
                    ))
                    .await;
                }
                Ok(_) => {}
                Err(error) => return state.ended(Err(error)),
            }
            // Said once; the first night drops it and loads it again.
            warn!(
                database,
                why,
                "the database is a first night that never published: it is loaded again from scratch"
            );
            Box::pin(first_night(&night, planned, target, stop, state)).await
        }
        Err(error) => state.ended(Err(error)),
    }
}

/// The database does not exist yet: a copy, every schema file recorded,
/// the commit tagged and published on `--branch`.
async fn first_night(
    night: &Night<'_>,
    planned: Planned,
    target: TargetSide,
    stop: &Stop,
    mut state: RunState,
) -> Outcome {
    let settings = night.settings;
    if let Some(refresh) = state.refresh.as_mut() {
        refresh.first_night = true;
    }
    let result = async {
        let (address, database) = (&settings.target, settings.database.as_str());
        let server = target.server.clone();
        let fresh = state.created(target.create_fresh(address, database).await)?;
        let keep_failed = settings.target_database.keep_failed;
        let filled = stop
            .run(Box::pin(async {
                let load = settings.target_database.load_method;
                let files = &settings.schema_files;
                let time = &night.source.snapshot.time;
                let (on_default, work) = first_night::open(address, database, time).await?;
                let revision = work.revision();
                let fill = Fill::open(address, &revision, files, load, &server).await?;
                state.load_method = Some(fill.route.method);
                let plans = planned.plan.tables.clone();
                let identities =
                    decision::read_identities(&night.source.coordinator, &plans).await?;
                let mut decision = Decision::all_full(&plans, "the first night", identities);
                decision.progress = decision::header(&night.source.snapshot);
                let all: Vec<&ParsedSchemaFile> = files.iter().collect();
                decision.applied_files = progress::file_ids(&all);
                let first = FirstNight {
                    planned,
                    fill,
                    decision,
                    on_default,
                    work,
                };
                load_and_publish_first(night, first, &mut state).await
            }))
            .await;
        // A first night that failed after it finished loading some tables
        // keeps them for the next one (issue 26): its database, which holds
        // no published night, is not dropped.
        let kept = match &filled {
            Err(error) if !keep_failed => {
                let read = first_night::resumable(address, database);
                progress::kept_for_rerun(error, read).await
            }
            _ => None,
        };
        let outcome = match kept {
            Some((branch, progress)) => {
                let said = kept_first_night(database, &branch, &progress);
                if let Some(refresh) = state.refresh.as_mut() {
                    refresh.work_branch = Some(branch);
                }
                fresh.keep(said)
            }
            None => fresh.settle(&filled, keep_failed).await,
        };
        state.target = Some(outcome);
        filled
    }
    .await;
    state.ended(result)
}

/// What a first night that failed keeps for the next, for people (logged).
fn kept_first_night(database: &str, branch: &str, progress: &Progress) -> String {
    let tables = progress.state.tables.len();
    warn!(
        database,
        branch,
        tables,
        "the first night failed after it finished loading some tables: they are kept for the next refresh"
    );
    format!(
        "the database {database} holds no published night; its work branch {branch} keeps the {tables} table(s) the night finished loading: the next refresh continues from it"
    )
}

/// A first night, ready to load: its plan, the fill on its work branch,
/// how each table loads, a session on the new database's default branch.
struct FirstNight {
    planned: Planned,
    fill: Fill,
    decision: Decision,
    on_default: mysql_async::Conn,
    work: WorkBranch,
}

/// A first night's load, every schema file recorded, its commit, and the
/// publish (the default branch fast-forwarded to it).
async fn load_and_publish_first(
    night: &Night<'_>,
    first: FirstNight,
    state: &mut RunState,
) -> anyhow::Result<()> {
    let FirstNight {
        planned,
        mut fill,
        decision,
        mut on_default,
        work,
    } = first;
    let (settings, source, archive) = (night.settings, night.source, night.archive);
    let plans = planned.plan.tables.clone();
    let loaded = load_night(settings, source, planned, archive, &mut fill, &decision).await?;
    state.tables.clone_from(&loaded.tables);
    let completed = complete(settings, source, archive, &mut fill, &loaded).await?;
    state.record_completed(completed);
    let files = &settings.schema_files;
    let all: Vec<&ParsedSchemaFile> = files.iter().collect();
    schema_files::record(&mut fill.conn, &all, &source.snapshot.time).await?;
    if let Some(refresh) = state.refresh.as_mut() {
        refresh.schema_files_applied = files.iter().map(|file| file.name.clone()).collect();
    }
    let recorded = (state.tables.as_slice(), &loaded.key_ranges);
    let commit = night.commit(&mut fill, &plans, &decision, recorded).await?;
    let commit = commit.context("the first night's commit")?;
    state.commit = Some(commit.hash.clone());
    fill.close().await;
    let tables = &state.tables;
    let end = publish_first(&mut on_default, night, &commit, tables, work).await?;
    state.record_night(end);
    let _ = on_default.disconnect().await;
    Ok(())
}

/// A first night that was killed after it loaded some tables, run again on
/// its work branch (`stopped`: the branch and what it recorded): the tables
/// it loaded are kept and caught up by delta from its snapshot, the others
/// are emptied and loaded; then published as a first night is. The schema
/// files were applied on the branch by the stopped night. If this run
/// fails too, the branch stays for the next one.
async fn resumed_first_night(
    night: &Night<'_>,
    planned: Planned,
    target: TargetSide,
    stop: &Stop,
    mut state: RunState,
    (branch, progress): (String, Progress),
) -> Outcome {
    let settings = night.settings;
    if let Some(refresh) = state.refresh.as_mut() {
        refresh.first_night = true;
    }
    let TargetSide { admin, server, .. } = target;
    let _ = admin.disconnect().await;
    let (address, database) = (&settings.target, settings.database.as_str());
    let result = stop
        .run(async {
            let on_default = crate::mysql::connect(address, Some(database)).await?;
            let work = WorkBranch::adopt(address, database, &branch);
            let revision = work.revision();
            let load = settings.target_database.load_method;
            let mut fill = Fill::open(address, &revision, &[], load, &server).await?;
            state.load_method = Some(fill.route.method);
            let plans = planned.plan.tables.clone();
            let source = night.source;
            let identities = decision::read_identities(&source.coordinator, &plans).await?;
            let mut decision = Decision::all_full(&plans, "the first night", identities);
            decision.progress = decision::header(&source.snapshot);
            decision.applied_files = progress.schema_files.clone();
            let snapshot = (&source.snapshot, night.options.trust_source_history);
            let stopped = (&progress, branch.as_str());
            let conn = &mut fill.conn;
            decision::continue_stopped(conn, &plans, &mut decision, Some(stopped), snapshot)
                .await?;
            let sides = Sides::of(settings, source, &revision);
            prepare_tables(&mut fill.conn, &sides, &plans, &mut decision).await?;
            let first = FirstNight {
                planned,
                fill,
                decision,
                on_default,
                work,
            };
            load_and_publish_first(night, first, &mut state).await
        })
        .await;
    if result.is_err() {
        if let Some(refresh) = state.refresh.as_mut() {
            refresh.work_branch = Some(branch.clone());
        }
        state.target = Some(TargetOutcome {
            state: TargetState::Partial,
            detail: format!(
                "the database {database} still holds no published night; the work branch {branch} keeps what was loaded for the next run"
            ),
            show_summary: true,
        });
    }
    state.ended(result)
}

/// A later night: loaded on a work branch, then published (or held back).
async fn later_night(
    night: &Night<'_>,
    planned: Planned,
    target: TargetSide,
    stop: &Stop,
    mut state: RunState,
) -> Outcome {
    let settings = night.settings;
    let TargetSide { admin, server, .. } = target;
    let _ = admin.disconnect().await;
    let opened = async {
        let mut sessions = Sessions::open(night).await?;
        state.record_branch(&sessions.state);
        let base = &sessions.state.base;
        let time = &night.source.snapshot.time;
        let (address, database) = (&settings.target, &settings.database);
        // A night killed after it loaded some tables, from this same base:
        // its branch is taken over (the tables it loaded are kept).
        let stopped = work_branch::stopped(&mut sessions.conn, address, database, base).await?;
        let taken = stopped.as_ref().map(|(name, _)| name.as_str());
        work_branch::remove_dead(&mut sessions.conn, database, base, taken).await?;
        let (work, stopped) = if let Some((name, progress)) = stopped {
            warn!(branch = %name, tables = progress.state.tables.len(),
                "a night was stopped after it loaded some tables: its work branch is taken over, the tables it loaded are kept");
            (WorkBranch::adopt(address, database, &name), Some(progress))
        } else {
            let work =
                WorkBranch::create(&mut sessions.conn, address, database, base, time).await?;
            (work, None)
        };
        anyhow::Ok((sessions, work, stopped))
    }
    .await;
    let (sessions, work, stopped) = match opened {
        Ok(opened) => opened,
        Err(error) => return state.ended(Err(error)),
    };
    let base = sessions.state.base.clone();
    let filled = stop
        .run(fill_work(
            night,
            planned,
            (&work, &base, stopped),
            &server,
            &mut state,
        ))
        .await;
    match sessions.conclude(night, work, filled, &state.tables).await {
        Ok(end) => {
            state.record_night(end);
            Ok(state)
        }
        Err(NightFailed { error, end }) => {
            state.record_night(end);
            state.ended(Err(error))
        }
    }
}

/// On the work branch (made at `base`): the schema files added since the
/// last refresh, each table loaded as the night decides, fix-ups and
/// verification, the record of schema files, `--verify`, and the night's
/// commit (none when nothing changed). `state` records each step.
async fn fill_work(
    night: &Night<'_>,
    planned: Planned,
    (work, base, stopped): (&WorkBranch, &str, Option<Progress>),
    server: &TargetServer,
    state: &mut RunState,
) -> anyhow::Result<Option<NightCommit>> {
    let settings = night.settings;
    let revision = work.revision();
    let pending = night.schema_to_apply(&revision).await?;
    let load = settings.target_database.load_method;
    let files = pending.as_deref().unwrap_or_default();
    let file_ids = progress::file_ids(&files.iter().collect::<Vec<_>>());
    let plans = planned.plan.tables.clone();
    let targets: Vec<&str> = plans.iter().map(|plan| plan.target.name.as_str()).collect();
    let archived = night.archive.is_some();
    let (apply, kept) = match stopped {
        Some(progress) => {
            let mut conn = crate::mysql::connect(&settings.target, Some(&revision)).await?;
            let taken =
                progress::take_over(&mut conn, progress, (&file_ids, archived), &targets).await;
            let _ = conn.disconnect().await;
            taken?
        }
        None => (true, None),
    };
    let applied: &[ParsedSchemaFile] = if apply { files } else { &[] };
    let mut fill = Fill::open(&settings.target, &revision, applied, load, server).await?;
    state.load_method = Some(fill.route.method);
    // `--verify` loads the snapshot a second time: the plan is kept.
    let again = night.options.verify.then(|| planned.without_readers());
    let mut decision = night
        .decide(&mut fill.conn, &plans, base, !files.is_empty())
        .await?;
    decision.applied_files = file_ids;
    if let Some(progress) = &kept {
        let snapshot = (&night.source.snapshot, night.options.trust_source_history);
        let stopped = (progress, work.name.as_str());
        decision::resume(&mut fill.conn, &plans, &mut decision, stopped, snapshot).await?;
    }
    if let Some(refresh) = state.refresh.as_mut() {
        refresh.source_history.clone_from(&decision.source_history);
    }
    let sides = Sides::of(settings, night.source, &revision);
    prepare_tables(&mut fill.conn, &sides, &plans, &mut decision).await?;
    let (source, archive) = (night.source, night.archive);
    let loaded = load_night(settings, source, planned, archive, &mut fill, &decision).await?;
    state.tables.clone_from(&loaded.tables);
    state.record_completed(complete(settings, source, archive, &mut fill, &loaded).await?);
    // A database made by `copy` (nothing recorded): its schema matched the
    // files (the catalog check), which are recorded from now on.
    let recorded: Vec<&ParsedSchemaFile> = pending
        .as_ref()
        .unwrap_or(&settings.schema_files)
        .iter()
        .collect();
    schema_files::record(&mut fill.conn, &recorded, &source.snapshot.time).await?;
    if let Some(refresh) = state.refresh.as_mut() {
        refresh.schema_files_applied = files.iter().map(|file| file.name.clone()).collect();
    }
    if let Some(planned) = again {
        let verified = verify_night(night, planned, work, server).await?;
        let differs = differ_error(&verified);
        state.verify = Some(verified);
        if let Some(error) = differs {
            return Err(error);
        }
    }
    let recorded = (state.tables.as_slice(), &loaded.key_ranges);
    let commit = night.commit(&mut fill, &plans, &decision, recorded).await?;
    state.commit = commit.as_ref().map(|commit| commit.hash.clone());
    fill.close().await;
    Ok(commit)
}

/// `--verify`: every row of the work branch compared with the snapshot
/// (loaded again, in full, on a scratch branch); a difference is exit 4
/// and nothing is published.
async fn verify_night(
    night: &Night<'_>,
    mut planned: Planned,
    work: &WorkBranch,
    server: &TargetServer,
) -> anyhow::Result<VerifyReport> {
    let (settings, source) = (night.settings, night.source);
    let tables = &planned.plan.tables;
    planned.readers = preflight::open_readers(settings, source, tables, server.kind).await?;
    let revision = work.revision();
    let branch = Compared {
        name: &work.name,
        revision: &revision,
        head: &work.name,
    };
    verify_branch(settings, source, planned, &branch, server, None).await
}
